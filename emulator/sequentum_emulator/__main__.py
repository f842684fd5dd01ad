"""`python -m sequentum_emulator` / `sequentum-emulator`: serve the demo until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sequentum_emulator.api import DEFAULT_API_KEY, LISTING_ORDERS
from sequentum_emulator.app import Sandbox
from sequentum_emulator.dataset import DATE_FORMS


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sequentum-emulator",
        description="Serve a Sequentum-compatible API with demo data on this machine.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="API port; 0 picks a free one")
    parser.add_argument(
        "--storage-port", type=int, default=8766, help="signed-URL storage port; 0 picks a free one"
    )
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="accepted API key")
    parser.add_argument(
        "--redirect-downloads",
        action="store_true",
        help="answer downloads with a 302 to a signed storage URL",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to API answers")
    parser.add_argument("--rate-limit", type=int, default=1000, help="requests per window and key")
    parser.add_argument("--rate-window", type=float, default=60.0, help="window in seconds")
    parser.add_argument("--run-duration", type=float, default=2.0, help="seconds an API-started run takes")
    parser.add_argument("--no-demo", action="store_true", help="start with an empty dataset")
    parser.add_argument(
        "--realities",
        action="store_true",
        help="also serve the reality agents (two export tables, cp1252 ';' CSV, XML feed)",
    )
    parser.add_argument(
        "--no-list-hints",
        action="store_true",
        help="agent/all without lastActivity and status, as on the reference page",
    )
    parser.add_argument(
        "--date-form",
        choices=DATE_FORMS,
        default="z",
        help="how run and file timestamps are written (default %(default)s)",
    )
    parser.add_argument(
        "--listing-order",
        choices=LISTING_ORDERS,
        default="documented",
        help="the order of every listing: as Sequentum documents it (default), newest or oldest first, or "
        "shuffled across pages",
    )
    parser.add_argument(
        "--schedule-type-text",
        action="store_true",
        help="send a schedule's scheduleType as its name (RunOnce, RunEvery, CRON), as older Sequentum "
        "versions do, instead of its number",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line saying where the sandbox listens, then serve until SIGINT or SIGTERM."""
    args = parse_args(argv)
    sandbox = Sandbox(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        storage_port=args.storage_port,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        redirect_downloads=args.redirect_downloads,
        latency=args.latency,
        run_duration=args.run_duration,
        seed_demo=not args.no_demo,
        list_hints=not args.no_list_hints,
        realities=args.realities,
        date_form=args.date_form,
        listing_order=args.listing_order,
        schedule_type_text=args.schedule_type_text,
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        sandbox.start()
    except OSError as exc:
        sys.stderr.write(
            f"sequentum-emulator: cannot listen on {args.host} port {args.port} or {args.storage_port} "
            f"({exc.strerror or exc}): stop the other process, or choose other ports with --port and "
            "--storage-port (0 picks free ones).\n"
        )
        return 1
    try:
        print(
            f"Sequentum sandbox at {sandbox.base_url} (API key: {sandbox.api_key}); "
            f"storage at {sandbox.storage_url}",
            flush=True,
        )
        while not stopping.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
