"""The ``marketdrill`` command: one entry point, one subcommand per job.

Errors a user can cause (a bad config, a missing file, bad arguments) are printed as one clear
line naming the file/key and exit with status 2; a traceback means a bug in marketdrill.
"""

from __future__ import annotations

import argparse
import sys

from sim.fix.settings import SettingsError
from sim.instruments import InstrumentError
from sim.journal import JournalError
from sim.venue_config import VenueConfigError

USER_ERRORS = (SettingsError, InstrumentError, JournalError, VenueConfigError, FileNotFoundError)


def _cmd_demo(args: argparse.Namespace) -> int:
    from scenarios.demo import run_demo

    return run_demo(seed=args.seed, orders=args.orders)


def _cmd_fix_acceptor(args: argparse.Namespace) -> int:
    from sim.fix.standalone import main

    return main(args.config, args.port, host=args.host, quiet=args.quiet)


def _cmd_exchange(args: argparse.Namespace) -> int:
    from sim.venue import main

    return main(args.config, args.port, quiet=args.quiet)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="marketdrill",
        description="Deterministic market simulator and order-engine testbed.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser("demo", help="run the demo: a seeded order stream through the order book")
    demo.add_argument("--seed", type=int, default=7, help="random seed (same seed, same journal hash)")
    demo.add_argument("--orders", type=_positive_int, default=20_000, help="number of order events")
    demo.set_defaults(func=_cmd_demo)

    acceptor = sub.add_parser("fix-acceptor", help="run a standalone FIX acceptor that echoes orders back")
    acceptor.add_argument("--config", required=True, help="session settings (TOML, QuickFIX key names)")
    acceptor.add_argument("--port", type=_port, default=None, help="listen port (overrides SocketAcceptPort)")
    acceptor.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    acceptor.add_argument("--quiet", action="store_true", help="do not echo session events to the console")
    acceptor.set_defaults(func=_cmd_fix_acceptor)

    exchange = sub.add_parser("exchange", help="run the exchange simulator over FIX on 127.0.0.1")
    exchange.add_argument("--config", required=True, help="venue config (TOML): instruments, firms, sessions")
    exchange.add_argument("--port", type=_port, default=None, help="listen port (overrides [venue] port)")
    exchange.add_argument("--quiet", action="store_true", help="no session events or status line")
    exchange.set_defaults(func=_cmd_exchange)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"marketdrill {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
