"""``python -m bulk serve``: the built-in emulator of the API, with faults on demand."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from typing import Any

from .._shared.errors import UsageError
from ..emulator import Faults
from ..emulator._faults import PAGING
from .flags import EXIT_OK, from_args, switch

__all__ = ["serve_parser"]


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text}")
    return value


def serve_parser(commands: Any) -> None:
    p = commands.add_parser(
        "serve",
        help="run the built-in API emulator",
        description="Run the RunGen.AI API emulator, with faults on demand.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=_port, default=8080, help="port (0: any free one)")
    p.add_argument("--api-key", help="the key it accepts (default: a random one, printed)")
    p.add_argument("--rate-limit", type=float, default=0, help="requests/s per key, then 429")
    p.add_argument(
        "--burst",
        type=float,
        help="requests a full token bucket lets through at once (default: --rate-limit)",
    )
    p.add_argument(
        "--retry-after",
        choices=("seconds", "date", "none"),
        default="seconds",
        help="form of the Retry-After header on 429",
    )
    _share_flag(p, "--error-rate", "share of 500/502/503/504")
    _share_flag(p, "--drop-before", "share of connections dropped before the app is created")
    _share_flag(p, "--drop-after", "share of connections dropped after the app is created")
    p.add_argument("--latency", type=float, default=0, help="seconds added to each answer")
    switch(p, "--no-idempotency", "ignore Idempotency-Key headers, as some servers do")
    switch(p, "--envelope", 'answer {"data": {...}} as the live service does')
    p.add_argument("--seed", type=int, help="seed of the fault draws")
    p.add_argument(
        "--start-seconds",
        type=float,
        default=0,
        metavar="S",
        help="an app given active workers is INITIALIZING, then RUNNING S seconds later",
    )
    p.add_argument(
        "--never-start",
        action="append",
        default=[],
        metavar="NAME",
        help="the app of this name stays INITIALIZING (repeat for more apps)",
    )
    p.add_argument(
        "--fail-app",
        action="append",
        default=[],
        metavar="NAME",
        help="the app of this name ends FAILED once given workers (repeat for more)",
    )
    _listing_flags(p)
    p.set_defaults(func=_serve)


def _share_flag(p: argparse.ArgumentParser, flag: str, text: str) -> None:
    p.add_argument(flag, type=_share, default=0, help=text)


def _listing_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--page-size", type=int, default=0, help="apps per page of GET /app (0: no pages)"
    )
    p.add_argument(
        "--paging",
        choices=PAGING,
        default="cursor",
        help="how a page leads to the next: a next_cursor token, a next URL in the body, "
        "a Link header, or ?page=K with total_pages",
    )
    p.add_argument(
        "--list-lag", type=float, default=0, help="seconds before a new app shows in listings"
    )
    _share_flag(p, "--late-create", "share of valid POSTs answered 504, the app created later")
    p.add_argument(
        "--late-delay", type=float, default=0, help="seconds after such a 504 the app comes"
    )
    _share_flag(p, "--list-error-rate", "share of listings answered 503 with Retry-After")


def _serve(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import anyio  # loaded when the command runs, so that --help starts at once

    from ..emulator import serve

    try:
        faults = _faults(args)
    except ValueError as exc:
        raise UsageError(str(exc).replace("_", "-")) from None

    async def forever() -> None:
        async with serve(
            api_key=args.api_key, faults=faults, host=args.host, port=args.port
        ) as emulator:
            print(f"emulator: serving the RunGen.AI API at {emulator.url}", flush=True)
            if not args.api_key:
                print(f"emulator: API key {emulator.api_key}", flush=True)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    return

    anyio.run(forever)
    return EXIT_OK


def _faults(args: argparse.Namespace) -> Faults:
    return from_args(
        Faults,
        args,
        idempotency=not args.no_idempotency,
        never_start=tuple(args.never_start),
        fail=tuple(args.fail_app),
    )
