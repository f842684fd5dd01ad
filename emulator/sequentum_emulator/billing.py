"""What runs cost and the organisation's credit history, derived from the dataset (pure functions).

A finished run costs 0.0025 credits per page plus 0.01 per started minute of run time, to 4 decimal
places, so a run's cost never changes once it is final and runs started through the API are billed
as soon as they finish. The credit history is the seeded transactions (grants, purchases, proxy
usage...) plus one "Debit" per billed run, whose id is RUN_DEBIT_BASE + the run id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sequentum_emulator.dataset import FINISHED, Agent, Credit, Dataset, Run, iso, parse_time, runtime

PER_PAGE = Decimal("0.0025")
PER_MINUTE = Decimal("0.0100")
PLACES = Decimal("0.0001")
BILLING_TYPE = "RunUsage"
RUN_DEBIT_BASE = 1_000_000


def billed(run: Run) -> bool:
    """Only final runs are billed: a failure waiting to retry is not, yet."""
    return run.status in FINISHED and not run.active and run.end_time is not None


def run_cost(run: Run) -> Decimal:
    pages = run.counts.get("pageCount") or 0
    minutes = math.ceil((runtime(run) or 0) / 60)
    return (PER_PAGE * pages + PER_MINUTE * minutes).quantize(PLACES)


def number(value: Decimal) -> float:
    """A 4-place decimal as a JSON number (a float whose shortest repr is those digits)."""
    return float(value.quantize(PLACES))


def parse_bound(value: str | None, *, end: bool) -> tuple[datetime, bool] | None:
    """A startDate/endDate bound as (instant, inclusive); a bare end date covers its whole day."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                return parse_time(datetime.combine(day + timedelta(days=1), time())), False
            return parse_time(datetime.combine(day, time())), True
        return parse_time(text), True
    except ValueError:
        name = "endDate" if end else "startDate"
        raise ValueError(f"{name} is not an ISO date or date-time: {text!r}.") from None


def run_costs(agent: Agent, start: str | None = None, end: str | None = None) -> list[dict[str, Any]]:
    """Every billed run of the agent whose date (its end) lies in [start, end], oldest first."""
    low, high = parse_bound(start, end=False), parse_bound(end, end=True)
    entries = []
    for run in sorted(agent.runs.values(), key=lambda r: (r.end_time or r.created, r.id)):
        if not billed(run):
            continue
        assert run.end_time is not None
        when = run.end_time
        if low is not None and when < low[0]:
            continue
        if high is not None and (when > high[0] or (when == high[0] and not high[1])):
            continue
        entries.append(
            {
                "runId": run.id,
                "date": iso(when),
                "startTime": iso(run.start_time),
                "endTime": iso(run.end_time),
                "cost": run_cost(run),
                "billingType": BILLING_TYPE,
            }
        )
    return entries


def _debits(ds: Dataset) -> Iterable[Credit]:
    for run in ds.runs.values():
        if billed(run):
            assert run.end_time is not None
            name = ds.agents[run.agent_id].name
            yield Credit(
                id=RUN_DEBIT_BASE + run.id,
                transaction_type="Debit",
                amount=-run_cost(run),
                created=run.end_time,
                message=f'Run {run.id} of agent "{name}"',
            )


def credit_history(ds: Dataset) -> list[dict[str, Any]]:
    """Every transaction with the balance after it, newest first (ties: highest id first)."""
    ledger = sorted([*ds.credits, *_debits(ds)], key=lambda c: (c.created, c.id))
    balance = Decimal(0)
    rows = []
    for credit in ledger:
        balance += credit.amount
        rows.append(
            {
                "id": credit.id,
                "transactionType": credit.transaction_type,
                "amount": number(credit.amount),
                "balance": number(balance),
                "created": iso(credit.created),
                "expiresAt": iso(credit.expires_at),
                "message": credit.message,
            }
        )
    rows.reverse()
    return rows
