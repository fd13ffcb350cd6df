"""A whole venue: the Exchange core, its FIX gateway, market data and sessions, on one clock.

:class:`Venue` wires the pieces for a :class:`~sim.venue_config.VenueConfig`.  The same object
serves real TCP (``marketdrill exchange``) or in-memory pipes in virtual time (scenarios): it
owns no transport, only sessions.

Venue controls are always wired (:class:`~sim.protections.Protections` as the exchange's guard,
:class:`~sim.phases.Phases` for trading phases) but everything is off unless ``[protections]`` or
``[phases]`` turn it on, so a config without them behaves as before: continuously open, no limits.

The admin API (:meth:`Venue.halt`, :meth:`Venue.resume`, :meth:`Venue.kill_switch`,
:meth:`Venue.release_kill_switch`, :meth:`Venue.change_instrument`, :meth:`Venue.add_instrument`,
:meth:`Venue.remove_instrument`) is what exchange operations staff do.  Each action sends its
consequences to the sessions at once (SecurityStatus, cancel reports) and is recorded as a
:class:`Change` in ``Venue.changes``, the exchange side of a What Changed timeline, so a journal
can write it down.  A tick or lot size change cancels the instrument's resting orders first (with
a Text saying why), as venues do on a tick regime change: prices held in ticks of the old grid
would mean something else on the new one.

With ``[venue] state_dir`` the venue is restartable: the gateway writes every order state to the
order log (:mod:`sim.order_log`) before it sends the report, and a Venue built on the same
directory rebuilds books, ID counters and kill switches from it before any session logs on (a
symbol whose orders were waiting in an auction call comes back halted, orders held).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sim.admin_server import start_admin
from sim.book import OrderBook
from sim.clock import Clock, RealClock
from sim.exchange import Exchange
from sim.fix.log import FileLog, NullLog
from sim.fix.session import MemoryLog, Session, SessionConfig, SessionLog
from sim.fix.store import SessionID, open_store
from sim.fix.transport import FixAcceptor, run_realtime
from sim.instruments import Instrument, InstrumentError
from sim.marketdata import MarketDataPublisher
from sim.order_log import OrderLog, order_log_path
from sim.phases import Phases
from sim.protections import Protections
from sim.venue_config import VenueConfig, VenueConfigError, load_venue_config
from sim.venue_events import RejectReason, StatusChange, VenueEvent
from sim.venue_gateway import VenueGateway

if TYPE_CHECKING:
    from sim.agents import Market


@dataclass(frozen=True, slots=True)
class Change:
    """One exchange-driven change (an admin action), as the journal and What Changed record it."""

    time_ns: int
    actor: str
    what: str       # halt, resume, kill_switch, release_kill_switch, tick_size, lot_size, add/remove_instrument,
    #                 change_dropped (a scheduled change that could not apply)
    target: str     # the symbol, firm or session it applies to
    old: str
    new: str
    reason: str


class Venue:
    """An exchange simulator: matching core, FIX gateway, market data and one session per firm CompID."""

    def __init__(self, config: VenueConfig, *, now_ns: Callable[[], int],
                 schedule: Callable[[int, Callable[[], None]], object] | None = None,
                 log_factory: Callable[[SessionID], SessionLog] | None = None, keep_logs: bool = False) -> None:
        self.config = config
        self.now_ns = now_ns
        self._schedule = schedule
        self.exchange = Exchange(config.instruments, now_ns=now_ns)
        self.phases = Phases(self.exchange, config.phase_config, now_ns=now_ns, schedule=schedule)
        self.protections = Protections(config.protection_config, self.phases, now_ns=now_ns, logout=self._logout)
        self.exchange.guard = self.protections
        self.changes: list[Change] = []
        self.order_log: OrderLog | None = None
        held: list[str] = []
        if config.state_dir is not None:
            # Rebuild before the gateway exists and the phase timers run: the books, ID counters and
            # kill switches are back before any session can log on again.
            self.order_log = OrderLog(order_log_path(config.state_dir, config.comp_id), sync=config.state_sync,
                                      now_ns=now_ns)
            held = self.order_log.rebuild(self.exchange)
            if self.order_log.kill is not None:
                self.protections.killed_firms = set(self.order_log.kill[0])
                self.protections.killed_owners = set(self.order_log.kill[1])
            self.order_log.kill_switches = lambda: (self.protections.killed_firms, self.protections.killed_owners)
        self.market: Market | None = None  # the background market, when one is attached (start_agents)
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
                                    cancel_on_disconnect=cancel_on_disconnect, passwords=passwords,
                                    phase_of=lambda: self.phases.phases)
        # Late-bound: whoever wraps gateway.dispatch (the background market's watch, a journal) also
        # sees timer-driven phase changes (a pause's re-opening, the scheduled open and close).
        self.phases.emit = lambda events: self.gateway.dispatch(events)
        self.gateway.order_log = self.order_log
        for symbol in held:
            if self.phases.phase(symbol) == "continuous":
                # Its orders were in an auction call when the venue stopped and may cross: hold them
                # until an operator resumes (the re-opening auction), rather than trade unseen.
                self._record(self.phases.halt(symbol, "restart_held", f"{symbol} halted after a venue restart: "
                                              "orders held for the re-opening auction"),
                             "venue", "halt", symbol, "continuous", "halted", "restart with orders held in a call")
        self.phases.start()
        self.sessions: list[Session] = []
        for sid, _firm in specs:
            sync = {"sync": 1} if config.state_sync == "fsync" else {}  # fsync every record, as the order log
            store = open_store(sid, config.store_path, now_ns=now_ns, **sync) if config.store_path else None
            log = log_factory(sid) if log_factory else (
                FileLog(config.log_path, sid, now_ns) if config.log_path else (MemoryLog() if keep_logs else NullLog()))
            session_config = SessionConfig(sid, reset_on_logon=config.reset_on_logon)
            self.sessions.append(Session(session_config, now_ns=now_ns, store=store, application=self.gateway,
                                         log=log))

    # -- ADMIN API -------------------------------------------------------------------------------

    def halt(self, symbol: str, reason: str = "", actor: str = "admin") -> list[VenueEvent]:
        """Halt a symbol (SecurityStatus to every session); orders held or rejected per ``[phases]``."""
        old = self.phases.phase(symbol)
        events = self.phases.halt(symbol, "admin_halt", f"{symbol} halted by the exchange"
                                                        f"{': ' + reason if reason else ''}")
        return self._record(events, actor, "halt", symbol, old, self.phases.phase(symbol), reason)

    def resume(self, symbol: str, reason: str = "", actor: str = "admin") -> list[VenueEvent]:
        """Re-open a halted or paused symbol by auction, then continuous trading."""
        old = self.phases.phase(symbol)
        events = self.phases.resume(symbol, "admin_resume", f"{symbol} re-opening auction"
                                                            f"{': ' + reason if reason else ''}")
        return self._record(events, actor, "resume", symbol, old, self.phases.phase(symbol), reason)

    def kill_switch(self, *, firm: str | None = None, session: str | None = None, reason: str = "",
                    actor: str = "admin") -> list[VenueEvent]:
        """Cancel every open order of a firm (or one session) and refuse its new orders until released."""
        if (firm is None) == (session is None):
            raise ValueError("kill_switch needs exactly one of firm= or session=")
        events = self.protections.kill(self.exchange, firm=firm, owner=session, reason=reason)
        return self._record(events, actor, "kill_switch", firm or session, "off", "on", reason)

    def release_kill_switch(self, *, firm: str | None = None, session: str | None = None, reason: str = "",
                            actor: str = "admin") -> list[VenueEvent]:
        """Let a firm (or session) trade again; also lifts a firm's repeated-execution blocks."""
        if (firm is None) == (session is None):
            raise ValueError("release_kill_switch needs exactly one of firm= or session=")
        self.protections.release(firm=firm, owner=session)
        return self._record([], actor, "release_kill_switch", firm or session, "on", "off", reason)

    def change_instrument(self, symbol: str, *, tick_size: str | None = None, lot_size: int | None = None,
                          at_ns: int | None = None, reason: str = "", actor: str = "exchange") -> list[VenueEvent]:
        """Change a symbol's tick and/or lot size now or at ``at_ns``; resting orders are cancelled first."""
        if at_ns is not None and at_ns > self.now_ns():
            if self._schedule is None:
                raise ValueError("a timed instrument change needs a venue with a scheduler")
            self._schedule(at_ns - self.now_ns(), lambda: self._timed_change(
                symbol, tick_size=tick_size, lot_size=lot_size, reason=reason, actor=actor))
            return []
        table = self.exchange.instruments
        old = table.get(symbol)
        changes: dict[str, object] = {}
        if tick_size is not None:
            tick = Decimal(tick_size)
            if not tick.is_finite() or tick <= 0:
                raise InstrumentError(f"{symbol}: tick_size must be positive, got {tick_size!r}")
            changes["tick_size"] = tick
            reference = old.to_decimal(self.phases.reference[symbol])
            changes["reference_ticks"] = max(1, int((reference / tick).to_integral_value(ROUND_HALF_UP)))
        if lot_size is not None:
            changes["lot_size"] = lot_size
        new = old.with_changes(**changes)  # validates before anything is cancelled
        why = RejectReason("instrument_change", 0, f"{symbol} changes (tick {old.tick_size} -> {new.tick_size}, "
                                                   f"lot {old.lot_size} -> {new.lot_size}); resting orders cancelled")
        events: list[VenueEvent] = []
        for firm in list(self.exchange.open_orders):
            events += self.exchange.mass_cancel(firm=firm, symbol=symbol, reason=why)
        self.gateway.dispatch(events)  # rendered with the old tick, while it still applies
        table.replace(new)
        self.phases.reference[symbol] = new.reference_ticks
        for what, before, after in (("tick_size", old.tick_size, new.tick_size),
                                    ("lot_size", old.lot_size, new.lot_size)):
            if before != after:
                self.changes.append(Change(self.now_ns(), actor, what, symbol, str(before), str(after), reason))
        return events

    def _timed_change(self, symbol: str, **change: object) -> None:
        """A scheduled change, due now: it cannot raise into the event loop, so a refusal is recorded."""
        try:
            if symbol not in self.exchange.instruments:
                raise InstrumentError(f"{symbol} is no longer listed")
            self.change_instrument(symbol, **change)  # type: ignore[arg-type]
        except (InstrumentError, ValueError) as exc:
            self.changes.append(Change(self.now_ns(), str(change.get("actor", "exchange")), "change_dropped", symbol,
                                       "", "", f"the scheduled change was not applied: {exc}"))

    def add_instrument(self, instrument: Instrument, reason: str = "", actor: str = "exchange") -> list[VenueEvent]:
        """List a new instrument (empty book, in the phase the schedule says)."""
        self.exchange.instruments.add(instrument)
        self.exchange.books[instrument.symbol] = OrderBook()
        events = self.phases.add(instrument.symbol, instrument.reference_ticks)
        return self._record(events, actor, "add_instrument", instrument.symbol, "", repr(instrument), reason)

    def remove_instrument(self, symbol: str, reason: str = "", actor: str = "exchange") -> list[VenueEvent]:
        """Delist a symbol: cancel its orders, tell every session it is closed, forget it."""
        old = self.exchange.instruments.get(symbol)
        why = RejectReason("delisted", 0, f"{symbol} is delisted{': ' + reason if reason else ''}")
        events: list[VenueEvent] = []
        for firm in list(self.exchange.open_orders):
            events += self.exchange.mass_cancel(firm=firm, symbol=symbol, reason=why)
        events.append(StatusChange(symbol, "closed", why.code, why.text))
        self.gateway.dispatch(events)
        self.exchange.calls.pop(symbol, None)
        self.exchange.books.pop(symbol, None)
        self.exchange.instruments.remove(symbol)
        self.phases.remove(symbol)
        self.protections.limit_states.pop(symbol, None)  # its expiry timer then finds nothing to do
        self.changes.append(Change(self.now_ns(), actor, "remove_instrument", symbol, repr(old), "", reason))
        return events

    def _record(self, events: list[VenueEvent], actor: str, what: str, target: str, old: object, new: object,
                reason: str) -> list[VenueEvent]:
        self.gateway.dispatch(events)
        self.changes.append(Change(self.now_ns(), actor, what, target, str(old), str(new), reason))
        return events

    def _logout(self, owner: str, text: str) -> None:
        """Log a session out (message throttle); runs from a timer, its driver sends the Logout (over TCP, on the loop's next pass)."""
        session = self.gateway.sessions.get(owner)
        if session is not None:
            session.logout(text)

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
        line = (f"sessions {logged_on}/{len(self.sessions)} logged on | orders {orders} ({open_orders} open) | "
                f"messages in {self.gateway.messages_in} | {first} {top}")
        if self.market is not None:
            state = "running" if self.market.running else "stopped"
            line += f" | agents {state}: {self.market.commands} commands"
        return line


def restart_report(venue: Venue) -> list[str]:
    """What a persistent venue found in its order log on start (for the console)."""
    order_log = venue.order_log
    if order_log is None:
        return []
    exchange = venue.exchange
    open_orders = sum(len(v) for v in exchange.open_orders.values())
    lines = [f"  order log: {order_log.path} ({len(exchange.orders)} orders restored, {open_orders} open; "
             f"sync {order_log.sync})"]
    if order_log.recovery is not None:
        torn = order_log.recovery
        lines.append(f"  order log: torn last line {torn.line} dropped ({torn.dropped_bytes} bytes: {torn.reason})")
    for change in venue.changes:
        if change.actor == "venue" and change.what == "halt":
            lines.append(f"  {change.target} halted: {change.reason}")
    return lines


def check_agents(config: VenueConfig) -> None:
    """Check the ``[agents]`` table before anything starts (VenueConfigError naming the key)."""
    if not config.agents:
        return
    from sim.agents import AgentsConfigError, agents_config_from_dict

    try:
        agents = agents_config_from_dict(config.agents, source=config.source)
    except AgentsConfigError as exc:
        raise VenueConfigError(str(exc)) from None
    for symbol in agents.symbols:
        if symbol not in config.instruments:
            raise VenueConfigError(f"{config.source}: [agents] symbols: {symbol!r} is not an [[instrument]]")


def start_agents(venue: Venue, clock: Clock) -> Market | None:
    """Start the background market of ``venue.config``'s ``[agents]`` table on ``clock``; None if off.

    A config without an ``[agents]`` table has no agents (so the probe and test configs stay quiet);
    a table means agents on unless it says ``enabled = false`` (the AgentsConfig default is on).
    A bad table raises :class:`~sim.agents.AgentsConfigError` naming the key.
    """
    from sim.agents import agents_config_from_dict, attach_to_venue  # numpy only when agents are used

    if not venue.config.agents:
        return None
    config = agents_config_from_dict(venue.config.agents, source=venue.config.source)
    venue.market = attach_to_venue(venue, clock, config)
    return venue.market


async def serve_venue(config: VenueConfig, *, quiet: bool = False, ready: Callable[[int], None] | None = None,
                      stop: asyncio.Event | None = None, status_every_s: float | None = None) -> None:
    """Run the venue on TCP in real time until SIGINT/SIGTERM (or until ``stop`` is set).

    The background market (``[agents]``) runs on a :class:`~sim.clock.RealClock` on this loop:
    agents schedule themselves in integer ns (``call_at``), which the RealClock turns into loop
    timers, and their market data goes out through the same gateway as everyone's.  The status
    line (every ``status_every_s``: 1 s on a terminal, 10 s otherwise) shows their activity.
    """
    def echo(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    loop = asyncio.get_running_loop()
    clock = RealClock()
    venue = Venue(config, now_ns=time.time_ns,
                  schedule=lambda delay_ns, fn: loop.call_later(delay_ns / 1e9, fn))
    metrics = None
    if config.metrics_port is not None:  # before the agents: they emit through the dispatch they find
        from sim.venue_metrics import VenueMetrics  # prometheus_client only when an endpoint is asked for

        metrics = VenueMetrics(venue)
    market = start_agents(venue, clock)
    acceptor = FixAcceptor(venue.sessions, now_ns=time.time_ns, on_event=echo)
    try:
        port = await acceptor.start(config.host, config.port)
        if metrics is not None:
            metrics.serve(config.metrics_port)
        admin = await start_admin(venue, config.admin, on_event=echo) if config.admin is not None else None
    except BaseException:
        if metrics is not None:
            metrics.stop()
        if market is not None:
            market.stop(cancel_orders=False)
        await acceptor.stop()  # the admin endpoint may have failed after the FIX port opened
        raise
    print(f"marketdrill exchange {config.comp_id} listening on {config.host}:{port}", flush=True)
    for session in venue.sessions:
        sid = session.session_id
        print(f"  session {sid.begin_string} {sid.target_comp_id} -> {sid.sender_comp_id} "
              f"(firm {venue.gateway.firm_of.get(str(sid), 'drop copy')})", flush=True)
    print(f"  instruments: {', '.join(config.instruments.symbols)}", flush=True)
    if venue.order_log is not None:
        for line in restart_report(venue):
            print(line, flush=True)
    if market is not None:
        print(f"  background market: {len(market.agents)} agents on {', '.join(market.symbols)} "
              f"(seed {market.config.seed})", flush=True)
    for line in (admin.banner if admin is not None else []) + (metrics.banner if metrics is not None else []):
        print(line, flush=True)
    if ready is not None:
        ready(port)
    if stop is None:
        stop = asyncio.Event()
    handled: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - not the main thread
            pass
    tty = sys.stdout.isatty()
    every = status_every_s if status_every_s is not None else (1.0 if tty else 10.0)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except TimeoutError:
                line = venue.status_line()
                for session in venue.sessions:  # FileLog buffers: put the last interval's lines on disk
                    flush = getattr(session.log, "flush", None)
                    if flush is not None:
                        flush()
                if not quiet:
                    print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
    finally:
        print("\nmarketdrill exchange stopping", flush=True)
        for sig in handled:
            loop.remove_signal_handler(sig)
        if admin is not None:
            await admin.stop()
        if metrics is not None:
            await asyncio.to_thread(metrics.stop)  # shutdown() waits for the server thread's poll
        if market is not None:
            market.stop(cancel_orders=False)
        await acceptor.stop()
        for session in venue.sessions:
            session.store.close()
        if venue.order_log is not None:
            venue.order_log.close()
            close = getattr(session.log, "close", None)
            if close is not None:
                close()  # FileLog: flush what the message and event logs still buffer


def main(config_path: str, port: int | None, quiet: bool = False) -> int:
    """CLI entry: load the venue config (errors are the caller's to print) and serve."""
    config = load_venue_config(config_path, port=port)
    check_agents(config)
    try:
        run_realtime(serve_venue(config, quiet=quiet))
    except KeyboardInterrupt:
        pass
    return 0
