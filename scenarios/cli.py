"""The ``marketdrill`` command: one entry point, one subcommand per job.

Errors a user can cause (a bad config, a missing file, bad arguments) are printed as one clear
line naming the file/key and exit with status 2; a traceback means a bug in marketdrill.
"""

from __future__ import annotations

import argparse
import os
import sys

from sim import argtypes
from sim.fix.settings import SettingsError
from sim.instruments import InstrumentError
from sim.journal import JournalError
from sim.venue_config import VenueConfigError


def _user_errors() -> tuple[type[Exception], ...]:
    from scenarios.drill.debrief import DebriefError
    from scenarios.spec import ScenarioError

    return (SettingsError, InstrumentError, JournalError, VenueConfigError, ScenarioError, FileNotFoundError,
            DebriefError)


def _cmd_demo(args: argparse.Namespace) -> int:
    from scenarios.report import format_outcome
    from scenarios.suite import console_progress, library_files, run_files

    files = library_files()
    print(f"marketdrill demo: running the incident library ({len(files)} scenarios) in virtual time\n", flush=True)
    outcomes = run_files(files, None, console_progress)
    for outcome in outcomes:
        print(format_outcome(outcome, timeline_limit=8))
        print()
    passed = sum(o.passed for o in outcomes)
    print(f"{passed} passed, {len(outcomes) - passed} failed")
    return 0 if passed == len(outcomes) else 1


def _cmd_fix_acceptor(args: argparse.Namespace) -> int:
    from sim.fix.standalone import main

    return main(args.config, args.port, host=args.host, quiet=args.quiet)


def _cmd_exchange(args: argparse.Namespace) -> int:
    from sim.venue import main

    return main(args.config, args.port, quiet=args.quiet)


def _cmd_run(args: argparse.Namespace) -> int:
    from scenarios.report import print_outcome, use_rich, write_json, write_junit
    from scenarios.suite import run_suite, scenario_files

    paths = scenario_files(args.target)
    styled = use_rich(plain=args.plain)
    if args.speed is not None and args.transport == "memory":
        from scenarios.spec import load_scenario

        if any(load_scenario(path).clock == "virtual" for path in paths):
            raise SystemExit(f"marketdrill {args.command}: --speed applies to --transport tcp (or scenarios with "
                             "clock = \"real\"); the virtual clock runs as fast as it can")
    outcomes = run_suite(paths, args.seed, styled=styled, transport=args.transport, speed=args.speed)
    for outcome in outcomes:
        print_outcome(outcome, styled=styled)
    if len(outcomes) > 1:
        passed = sum(o.passed for o in outcomes)
        print(f"{passed} passed, {len(outcomes) - passed} failed")
    if args.journal_dir:
        from pathlib import Path

        directory = Path(args.journal_dir)
        directory.mkdir(parents=True, exist_ok=True)
        for outcome in outcomes:
            if outcome.record is not None and outcome.record.journal is not None:
                target = directory / f"{outcome.name}-seed{outcome.seed}.journal.jsonl"
                outcome.record.journal.write(target)
                print(f"journal written to {target}")
    if args.junit:
        write_junit(outcomes, args.junit)
    if args.json:
        write_json(outcomes, args.json)
    return 0 if all(o.passed for o in outcomes) else 1


def _cmd_sweep(args: argparse.Namespace) -> int:
    from scenarios.sweep import sweep_main

    return sweep_main(args.sweep_args)


def _cmd_validate(args: argparse.Namespace) -> int:
    from scenarios.drill.plan import drill_plan
    from scenarios.spec import load_scenario
    from scenarios.suite import scenario_files

    for path in scenario_files(args.target):
        scenario = load_scenario(path)
        plan = drill_plan(scenario)  # the optional [drill] table is checked too
        drill = f", drill: {len(plan.hints)} hints" if scenario.drill else ""
        print(f"{path}: ok ({scenario.name}: {len(scenario.injects)} injections, {len(scenario.expects)} expectations"
              f"{drill})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from scenarios.spec import load_scenario
    from scenarios.suite import library_files, scenario_files

    for path in scenario_files(args.target) if args.target else library_files():
        scenario = load_scenario(path)
        print(f"{scenario.name:28s} {scenario.summary}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from scenarios.replay import describe, replay

    result = replay(args.journal, args.set, args.engine)
    print(describe(result))
    return 0 if result.identical else 1


def _cmd_changes(args: argparse.Namespace) -> int:
    from engines.alert_config import ConfigError, parse_duration
    from engines.changes import ChangeLog, format_timeline
    from sim.journal import read_journal

    events, _ = read_journal(args.journal)
    log = ChangeLog.from_journal(events)
    labels = {}
    for item in args.label:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"marketdrill changes: --label takes KEY=VALUE, got {item!r}")
        labels[key] = value
    since = None
    if args.since:
        try:
            since = events[0].time_ns + parse_duration(args.since, "--since") if events else None
        except ConfigError as exc:
            raise SystemExit(f"marketdrill changes: {exc}") from None
    print(format_timeline(log.since(0), since=since, labels=labels or None))
    return 0


def _version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from sim.fix.codec import ACCELERATED

    try:
        release = version("marketdrill")
    except PackageNotFoundError:  # run from a source tree that was never installed
        release = "(not installed)"
    if ACCELERATED:
        codec = "C accelerator"
    elif os.environ.get("MARKETDRILL_PURE_PYTHON"):
        codec = "pure Python (MARKETDRILL_PURE_PYTHON is set)"
    else:
        codec = "pure Python (sim/fix/_ccodec.c is not built: `pip install -e .` needs a C compiler)"
    return f"marketdrill {release}; FIX codec: {codec}"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="marketdrill",
        description="Deterministic market simulator and order-engine testbed.")
    parser.add_argument("--version", action="version", version=_version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser("demo", help="run the whole incident library in virtual time and print the report")
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

    from sim import admin_cli  # own module (sim/admin_cli.py): its options and actions live there

    admin_cli.add_parser(sub)

    for name, help_text in (("run", "run a scenario file (or every file in a directory) and judge it"),
                            ("suite", "run every scenario in a directory, with a progress bar")):
        run = sub.add_parser(name, help=help_text)
        run.add_argument("target", help="a scenario .toml file or a directory of them")
        run.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
        run.add_argument("--transport", choices=("memory", "tcp"), default="memory",
                         help="memory: in-memory FIX on the virtual clock, deterministic (default); tcp: real FIX "
                              "over 127.0.0.1 on the wall clock (same code, timing is the machine's)")
        run.add_argument("--speed", type=_wall_speed, default=None, metavar="S",
                         help="wall-clock runs only: S simulated seconds per second (default 1)")
        run.add_argument("--junit", metavar="OUT.xml", help="write JUnit XML (one testcase per scenario and seed)")
        run.add_argument("--json", metavar="OUT.json", help="write the full report as JSON")
        run.add_argument("--journal-dir", metavar="DIR", help="write each run's event journal (for replay)")
        run.add_argument("--plain", action="store_true",
                         help="plain text report even on a terminal (as when NO_COLOR is set or output is piped)")
        run.set_defaults(func=_cmd_run)

    replay_cmd = sub.add_parser("replay", help="re-run a recorded journal's scenario and report any difference")
    replay_cmd.add_argument("journal", help="a journal written by marketdrill run --journal-dir")
    replay_cmd.add_argument("--set", action="append", default=[], metavar="FIRM.risk.LIMIT=VALUE",
                            help="replay with a changed risk limit (repeatable; VALUE 'none' switches it off)")
    replay_cmd.add_argument("--engine", action="append", default=[], metavar="[FIRM=]python:module:Class",
                            help="replay through another order engine (yours: see engines/protocol.py)")
    replay_cmd.set_defaults(func=_cmd_replay)

    changes = sub.add_parser("changes", help="print the What Changed timeline of a recorded run")
    changes.add_argument("journal", help="a journal written by marketdrill run --journal-dir")
    changes.add_argument("--since", help="only changes after this much run time, e.g. 2m")
    changes.add_argument("--label", action="append", default=[], help="only changes touching KEY=VALUE")
    changes.set_defaults(func=_cmd_changes)

    # Everything after "sweep" (its own options and --help included) goes to sweep_main's parser.
    sweep = sub.add_parser("sweep", help="run a scenario over a grid of parameter values x seeds (CSV, plots, HTML)",
                           add_help=False, prefix_chars="\0")
    sweep.add_argument("sweep_args", nargs=argparse.REMAINDER)
    sweep.set_defaults(func=_cmd_sweep)

    # Listed for --help only: main() hands import-fix its arguments before this parser runs.
    sub.add_parser("import-fix", help="turn real FIX message logs into a scenario's order flow "
                   "(marketdrill import-fix --help)")

    # drill and debrief: their options live in scenarios/drill/cli.py
    from scenarios.drill.cli import add_parsers as add_drill_parsers

    add_drill_parsers(sub)

    validate = sub.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("target", help="a scenario .toml file or a directory of them")
    validate.set_defaults(func=_cmd_validate)

    listing = sub.add_parser("list", help="list the scenarios of the built-in library (or of a directory)")
    listing.add_argument("target", nargs="?", default=None, help="a directory of scenarios (default: the library)")
    listing.set_defaults(func=_cmd_list)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


_port = argtypes.port
_wall_speed = argtypes.speed


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["import-fix"]:  # its own argparse and error handling (scenarios/fix_import.py)
        from scenarios.fix_import import import_main

        return import_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _user_errors() as exc:
        print(f"marketdrill {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
