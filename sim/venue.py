"""A whole venue: the Exchange core, its FIX gateway, market data and sessions, on one clock.

:class:`Venue` wires the pieces for a :class:`~sim.venue_config.VenueConfig`.  The same object
serves real TCP (``marketdrill exchange``) or in-memory pipes in virtual time (scenarios): it
owns no transport, only sessions.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable

from sim.exchange import Exchange
from sim.fix.log import FileLog
from sim.fix.session import MemoryLog, Session, SessionConfig, SessionLog
from sim.fix.store import SessionID, open_store
from sim.fix.transport import FixAcceptor, run_realtime
from sim.marketdata import MarketDataPublisher
from sim.venue_config import VenueConfig, load_venue_config
from sim.venue_gateway import VenueGateway


class Venue:
    """An exchange simulator: matching core, FIX gateway, market data and one session per firm CompID."""

    def __init__(self, config: VenueConfig, *, now_ns: Callable[[], int],
                 schedule: Callable[[int, Callable[[], None]], object] | None = None,
                 log_factory: Callable[[SessionID], SessionLog] | None = None) -> None:
        self.config = config
        self.now_ns = now_ns
        self.exchange = Exchange(config.instruments, now_ns=now_ns)
        self.publisher = MarketDataPublisher(config.instruments, self.exchange.levels, schedule=schedule)
        firm_of: dict[str, str] = {}
        drop_copy_of: dict[str, list[str]] = {}
        cancel_on_disconnect: set[str] = set()
        passwords: dict[str, str] = {}
        specs: list[tuple[SessionID, str]] = []
        for firm in config.firms:
            for begin in config.begin_strings:
                for comp_id in firm.comp_ids:
                    sid = SessionID(begin, config.comp_id, comp_id)
                    firm_of[str(sid)] = firm.id
                    if firm.cancel_on_disconnect:
                        cancel_on_disconnect.add(str(sid))
                    specs.append((sid, firm.id))
                    if firm.password:
                        passwords[str(sid)] = firm.password
                for comp_id in firm.drop_copy:
                    sid = SessionID(begin, config.comp_id, comp_id)
                    drop_copy_of.setdefault(firm.id, []).append(str(sid))
                    specs.append((sid, firm.id))
                    if firm.password:
                        passwords[str(sid)] = firm.password
        self.gateway = VenueGateway(self.exchange, self.publisher, firm_of=firm_of, drop_copy_of=drop_copy_of,
                                    cancel_on_disconnect=cancel_on_disconnect, passwords=passwords)
        self.sessions: list[Session] = []
        for sid, _firm in specs:
            store = open_store(sid, config.store_path, now_ns=now_ns) if config.store_path else None
            log = log_factory(sid) if log_factory else (
                FileLog(config.log_path, sid, now_ns) if config.log_path else MemoryLog())
            session_config = SessionConfig(sid, reset_on_logon=config.reset_on_logon)
            self.sessions.append(Session(session_config, now_ns=now_ns, store=store, application=self.gateway,
                                         log=log))

    def status_line(self) -> str:
        """A one-line summary: sessions logged on, orders, trades, top of book of the first symbol."""
        logged_on = sum(1 for s in self.sessions if s.logged_on)
        orders = len(self.exchange.orders)
        open_orders = sum(len(v) for v in self.exchange.open_orders.values())
        first = self.config.instruments.symbols[0]
        book = self.exchange.books[first]
        bid, ask = book.best_bid(), book.best_ask()
        instrument = self.config.instruments.get(first)
        top = (f"{instrument.to_price(bid.price) if bid else '-'} / {instrument.to_price(ask.price) if ask else '-'}")
        return (f"sessions {logged_on}/{len(self.sessions)} logged on | orders {orders} ({open_orders} open) | "
                f"messages in {self.gateway.messages_in} | {first} {top}")


async def serve_venue(config: VenueConfig, *, quiet: bool = False, ready: Callable[[int], None] | None = None) -> None:
    """Run the venue on TCP in real time until SIGINT/SIGTERM."""
    def echo(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    loop = asyncio.get_running_loop()
    venue = Venue(config, now_ns=time.time_ns,
                  schedule=lambda delay_ns, fn: loop.call_later(delay_ns / 1e9, fn))
    acceptor = FixAcceptor(venue.sessions, now_ns=time.time_ns, on_event=echo)
    port = await acceptor.start(config.host, config.port)
    print(f"marketdrill exchange {config.comp_id} listening on {config.host}:{port}", flush=True)
    for session in venue.sessions:
        sid = session.session_id
        print(f"  session {sid.begin_string} {sid.target_comp_id} -> {sid.sender_comp_id} "
              f"(firm {venue.gateway.firm_of.get(str(sid), 'drop copy')})", flush=True)
    print(f"  instruments: {', '.join(config.instruments.symbols)}", flush=True)
    if ready is not None:
        ready(port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    tty = sys.stdout.isatty()
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0 if tty else 10.0)
            except asyncio.TimeoutError:
                line = venue.status_line()
                if not quiet:
                    print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
    finally:
        print("\nmarketdrill exchange stopping", flush=True)
        await acceptor.stop()
        for session in venue.sessions:
            session.store.close()


def main(config_path: str, port: int | None, quiet: bool = False) -> int:
    """CLI entry: load the venue config (errors are the caller's to print) and serve."""
    config = load_venue_config(config_path, port=port)
    try:
        run_realtime(serve_venue(config, quiet=quiet))
    except KeyboardInterrupt:
        pass
    return 0
