"""``marketdrill drill`` and ``marketdrill debrief``: their options and what they print."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from sim import argtypes


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``drill`` and ``debrief`` on the marketdrill command."""
    _port = argtypes.port
    drill = sub.add_parser("drill", help="run a scenario as an on-call drill with a web dashboard on 127.0.0.1")
    drill.add_argument("scenario", help="a scenario .toml file (any of the library; [drill] adds briefing and hints)")
    drill.add_argument("--speed", type=_speed, default=1.0, help="simulated seconds per wall second (default 1.0)")
    drill.add_argument("--port", type=_port, default=8080, help="dashboard port on 127.0.0.1 (0: any free port)")
    drill.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    drill.add_argument("--out", metavar="DIR", default=None,
                       help="run directory for the debrief (default: drills/NAME-seedN-YYYYmmdd-HHMMSS)")
    drill.add_argument("--wait-after", type=float, default=None, metavar="SECONDS",
                       help="keep the dashboard up this long after the end (default: until Ctrl-C on a "
                            "terminal, 0 otherwise)")
    drill.set_defaults(func=cmd_drill)

    debrief = sub.add_parser("debrief", help="reprint a drill's debrief (and --verify it by replaying its actions)")
    debrief.add_argument("run", help="a drill run directory (written by marketdrill drill)")
    debrief.add_argument("--verify", action="store_true",
                         help="replay the recorded actions on the virtual clock: same journal hash and score?")
    debrief.set_defaults(func=cmd_debrief)


def cmd_drill(args: argparse.Namespace) -> int:
    """Run a drill: serve the dashboard, run the scenario paced to the wall clock, write the debrief."""
    from scenarios.drill.debrief import debrief_data, format_text, render_html, write_run
    from scenarios.drill.live import Drill
    from scenarios.drill.server import DrillServer
    from scenarios.spec import load_scenario

    scenario = load_scenario(args.scenario)
    drill = Drill(scenario, seed=args.seed, speed=args.speed)
    out = Path(args.out) if args.out else Path("drills") / (
        f"{scenario.name}-seed{drill.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
    written: dict[str, str] = {}
    try:
        server = DrillServer(drill, port=args.port, debrief_html=lambda: written.get("html")).start()
    except OSError as exc:
        raise SystemExit(f"marketdrill drill: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc} "
                         "(try --port 0 for any free port)") from None
    print(f"marketdrill drill: {scenario.name} (seed {drill.seed}, speed {args.speed:g}x, "
          f"{drill.plan.allowed_ns / 1e9:.0f} s simulated)", flush=True)
    print(f"  dashboard:   {server.url}", flush=True)
    print(f"  game master: {server.url}gm", flush=True)
    if drill.plan.briefing:
        print(f"  briefing:    {drill.plan.briefing}", flush=True)
    runner = threading.Thread(target=_run_quietly, args=(drill,), name="drill-sim", daemon=True)
    runner.start()
    try:
        last = -1.0
        while not drill.finished.wait(1.0):
            t = drill.t_ns / 1e9
            if sys.stdout.isatty() and t != last:
                pages = len(drill.state.get("pages", []))
                print(f"\r  T+{t:6.1f}s  pages {pages}  actions {len(drill.actions)}"
                      f"{'  PAUSED' if drill.paused else ''}   ", end="", flush=True)
                last = t
    except KeyboardInterrupt:
        print("\nmarketdrill drill: interrupted; ending the drill", flush=True)
        try:
            drill.command({"command": "end"})
        except ValueError:
            pass
        drill.finished.wait(60)
    if drill.error:
        server.stop()
        print(f"\nmarketdrill drill: the simulation failed: {drill.error}", file=sys.stderr)
        return 1
    write_run(drill, out)
    written["html"] = render_html(debrief_data(drill))
    print("\n" + format_text(debrief_data(drill)), flush=True)
    print(f"\ndebrief written to {out}/ (debrief.html); reprint with: marketdrill debrief {out}", flush=True)
    wait = args.wait_after if args.wait_after is not None else (None if sys.stdin.isatty() else 0.0)
    if wait != 0.0:
        print(f"the dashboard stays up at {server.url} {'until Ctrl-C' if wait is None else f'for {wait:g} s'}",
              flush=True)
        try:
            if wait is None:
                signal.pause() if hasattr(signal, "pause") else threading.Event().wait()
            else:
                time.sleep(wait)
        except KeyboardInterrupt:
            pass
    server.stop()
    return 0


def _run_quietly(drill) -> None:
    try:
        drill.run()
    except Exception:  # noqa: BLE001 - kept in drill.error and reported by cmd_drill
        pass


def cmd_debrief(args: argparse.Namespace) -> int:
    """Reprint a debrief; with --verify, replay it and compare."""
    from scenarios.drill.debrief import format_text, load_run, verify_run

    _, data = load_run(args.run)
    print(format_text(data))
    if args.verify:
        print("\nverifying: replaying the recorded actions on the virtual clock ...", flush=True)
        same, text = verify_run(args.run)
        print(("OK: " if same else "DIFFERENT: ") + text)
        return 0 if same else 1
    return 0


_speed = argtypes.speed
