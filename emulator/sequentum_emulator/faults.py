"""Injected faults and the per-key sliding-window rate limit: the sandbox misbehaving on purpose."""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass

FAULT_KINDS = frozenset({"400", "403", "404", "429", "500", "502", "503", "reset", "truncate"})
# Over the limit, a request whose slot frees within this many seconds waits instead of a 429.
QUEUE_GRACE = 0.25


@dataclass
class Fault:
    """Misbehave as `kind` on the next `remaining` requests whose path matches (of `method`, if given)."""

    pattern: re.Pattern[str]
    kind: str
    remaining: int
    retry_after: float
    method: str | None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {self.kind!r}; use one of {sorted(FAULT_KINDS)}")
        if self.remaining < 1:
            raise ValueError("times must be at least 1")

    def matches(self, path: str, method: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None


class Faults:
    """Faults waiting for their next matching requests, on either host."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str, method: str, *, truncate: bool) -> Fault | None:
        """Spend the first live fault matching this request.

        Truncate faults are taken only when a file body is about to be sent (truncate=True), so a
        redirecting download does not use one up before the storage host streams the file.
        """
        with self._lock:
            for fault in self._faults:
                if (fault.kind == "truncate") == truncate and fault.matches(path, method):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int


class RateLimiter:
    """Sliding window per API key: at most `limit` accepted requests in any `window` seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def _live(self, key: str, window: float, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits

    def acquire(self, key: str, limit: int, window: float) -> Decision:
        """Count one request, waiting briefly if a slot frees within the queue grace."""
        while True:
            now = time.monotonic()
            with self._lock:
                hits = self._live(key, window, now)
                if len(hits) < limit:
                    hits.append(now)
                    return Decision(True, limit - len(hits), 0)
                # The slot frees when enough of the oldest hits leave the window to go below the limit.
                index = len(hits) - limit if limit > 0 else -1
                frees_at = hits[index] + window if hits and index >= 0 else now + window
            wait = frees_at - now
            if wait > min(QUEUE_GRACE, window / 4):
                return Decision(False, 0, max(1, math.ceil(wait)))
            # Sequentum queues a little: a paced client whose clock runs a hair ahead of ours
            # must not see a 429 for arriving a few milliseconds before its slot.
            time.sleep(wait)

    def remaining(self, key: str, limit: int, window: float, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            return max(0, limit - len(self._live(key, window, now)))
