"""An outside order engine for a scenario: QuickFIX (C++, through its Python binding) over TCP.

A scenario firm with ``engine = "fix"`` is traded by a program the venue knows only as a FIX
counterparty.  This one logs on, sends the orders given with ``--order`` (one NewOrderSingle each,
``SIDE:QTY@PRICE`` on ``--symbol``), prints every execution report it receives, and stays logged on
until it is terminated (the scenario runner stops it at the end of the run)::

    [[firm]]
    id = "EXTFIRM"
    engine = "fix"
    command = "{python} examples/external_engine_quickfix.py --host {host} --port {port} \
               --sender {sender} --target {target} --symbol JCOM --order buy:10@610000 --order sell:610000@1"

Needs the ``quickfix`` package (``pip install -e '.[interop]'``).  Any FIX initiator would do: the
venue does not care who is on the other side.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path


def parse_order(text: str) -> tuple[str, str, str]:
    """``buy:10@100.25`` -> ("1", "10", "100.25")."""
    try:
        side, rest = text.split(":", 1)
        qty, price = rest.split("@", 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an order is SIDE:QTY@PRICE, e.g. buy:10@100.25; got {text!r}") from None
    if side not in ("buy", "sell") or not qty.isdigit():
        raise argparse.ArgumentTypeError(f"an order is SIDE:QTY@PRICE with SIDE buy or sell; got {text!r}")
    return ("1" if side == "buy" else "2"), qty, price


def main(argv: list[str] | None = None) -> int:
    """Run the engine until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sender", required=True, help="our CompID (the scenario firm's)")
    parser.add_argument("--target", required=True, help="the venue's CompID")
    parser.add_argument("--begin", default="FIX.4.4")
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--order", action="append", type=parse_order, default=[], metavar="SIDE:QTY@PRICE")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between orders")
    args = parser.parse_args(argv)
    try:
        import quickfix as fix
    except ImportError:
        print("external engine: the quickfix package is not installed (pip install -e '.[interop]')",
              file=sys.stderr)
        return 2

    logged_on = threading.Event()
    stop = threading.Event()

    class Engine(fix.Application):
        """Prints what the venue says; the orders go out from the main thread once logged on."""

        def onCreate(self, session_id):  # noqa: N802 - QuickFIX's names
            self.session_id = session_id

        def onLogon(self, session_id):  # noqa: N802
            print(f"logged on as {args.sender} to {args.host}:{args.port}", flush=True)
            logged_on.set()

        def onLogout(self, session_id):  # noqa: N802
            print("logged out", flush=True)

        def toAdmin(self, message, session_id):  # noqa: N802
            pass

        def fromAdmin(self, message, session_id):  # noqa: N802
            pass

        def toApp(self, message, session_id):  # noqa: N802
            pass

        def fromApp(self, message, session_id):  # noqa: N802
            print("received " + message.toString().replace("\x01", "|"), flush=True)

    work = Path(tempfile.mkdtemp(prefix="marketdrill-qf-"))
    settings_text = "\n".join([
        "[DEFAULT]", "ConnectionType=initiator", f"FileStorePath={work / 'store'}", f"FileLogPath={work / 'log'}",
        "StartTime=00:00:00", "EndTime=00:00:00", "HeartBtInt=30", "ReconnectInterval=1", "ResetOnLogon=Y",
        "UseDataDictionary=N", "", "[SESSION]", f"BeginString={args.begin}", f"SenderCompID={args.sender}",
        f"TargetCompID={args.target}", f"SocketConnectHost={args.host}", f"SocketConnectPort={args.port}", ""])
    (work / "settings.cfg").write_text(settings_text)
    application = Engine()
    settings = fix.SessionSettings(str(work / "settings.cfg"))
    initiator = fix.SocketInitiator(application, fix.FileStoreFactory(settings), settings,
                                    fix.FileLogFactory(settings))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    initiator.start()
    try:
        if not logged_on.wait(30):
            print("external engine: no logon within 30 s", file=sys.stderr, flush=True)
            return 1
        for number, (side, qty, price) in enumerate(args.order, start=1):
            if stop.wait(args.every):
                break
            order = fix.Message()
            order.getHeader().setField(fix.MsgType("D"))
            for tag, value in ((11, f"EXT{number}"), (21, "1"), (55, args.symbol), (54, side), (38, qty),
                               (40, "2"), (44, price), (59, "0"), (60, time.strftime("%Y%m%d-%H:%M:%S",
                                                                                 time.gmtime()))):
                order.setField(tag, value)
            fix.Session.sendToTarget(order, application.session_id)
            print(f"sent order EXT{number}: side {side} qty {qty} @ {price}", flush=True)
        stop.wait()
    finally:
        initiator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
