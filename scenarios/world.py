"""A simulated world: one venue and the firms' order engines, joined by FIX.

This is how scenarios (and engine tests) run the real pieces together: the
:class:`~sim.venue.Venue` and each :class:`~engines.order_engine.OrderEngine` talk FIX through
their own sessions, either over :func:`sim.fix.transport.memory_pipe` links with a configurable
latency (``transport="memory"``: the virtual clock, deterministic), or over real TCP on 127.0.0.1
(``transport="tcp"``: the venue's :class:`~sim.fix.transport.FixAcceptor` and one
:class:`~sim.fix.transport.FixInitiator` per engine, on a real-time loop).  The sessions and
everything above them are the same code either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engines.observed import ObservedFirm
from engines.order_engine import OrderEngine
from engines.risk import RiskEngine
from sim.fix.session import Session, SessionConfig
from sim.fix.store import SessionID
from sim.fix.transport import FixAcceptor, FixInitiator, SessionDriver, memory_pipe
from sim.instruments import InstrumentTable
from sim.venue import Venue
from sim.venue_config import VenueConfig
from sim.venue_events import ExecReport


class World:
    """A venue plus order engines connected over in-memory FIX sessions on the running loop."""

    def __init__(self, config: VenueConfig, *, now_ns: Callable[[], int], latency_ns: int = 50_000,
                 keep_logs: bool = True, transport: str = "memory") -> None:
        if transport not in ("memory", "tcp"):
            raise ValueError(f"transport must be 'memory' or 'tcp', got {transport!r}")
        loop = asyncio.get_running_loop()
        later_ns = getattr(loop, "call_later_ns", None)

        def schedule(delay_ns: int, callback: Callable[[], None]) -> object:
            if later_ns is not None:
                return later_ns(delay_ns, callback)
            return loop.call_later(delay_ns / 1e9, callback)

        self.config = config
        self.now_ns = now_ns
        self.latency_ns = latency_ns
        self.schedule = schedule
        self.venue = Venue(config, now_ns=now_ns, schedule=schedule, keep_logs=keep_logs)
        self.engines: dict[str, OrderEngine] = {}
        self.drivers: dict[str, tuple[SessionDriver, SessionDriver]] = {}
        self.transport = transport
        self.comp_ids: dict[str, str] = {}
        self.acceptor: FixAcceptor | None = None
        self.port: int | None = None
        self.initiators: dict[str, FixInitiator] = {}
        self.external: dict[str, ObservedFirm] = {}  # firms whose engine is an outside FIX program

    async def open(self) -> None:
        """Over TCP: start the venue's acceptor on 127.0.0.1 (a free port) before engines connect."""
        if self.transport == "tcp" and self.acceptor is None:
            self.acceptor = FixAcceptor(self.venue.sessions, now_ns=self.now_ns)
            self.port = await self.acceptor.start("127.0.0.1", 0)

    async def close(self) -> None:
        """Over TCP: disconnect the engines and stop the acceptor (nothing to do in memory)."""
        for initiator in self.initiators.values():
            await initiator.stop()
        self.initiators.clear()
        if self.acceptor is not None:
            await self.acceptor.stop()
            self.acceptor = None

    def venue_session(self, comp_id: str, begin_string: str | None = None) -> Session:
        """The venue's session for a counterparty CompID."""
        begin = begin_string or self.config.begin_strings[0]
        for session in self.venue.sessions:
            sid = session.session_id
            if sid.target_comp_id == comp_id and sid.begin_string == begin:
                return session
        known = sorted({s.session_id.target_comp_id for s in self.venue.sessions})
        raise KeyError(f"the venue has no session for CompID {comp_id!r} (configured: {', '.join(known)})")

    def add_engine(self, name: str, comp_id: str, *, risk: RiskEngine | None = None,
                   heartbeat_s: int = 30, factory: Callable[..., OrderEngine] | None = None) -> OrderEngine:
        """Create an order engine for a firm's CompID and connect it to the venue.

        ``factory(name, instruments, *, now_ns, risk)`` builds a plug-in engine (see
        engines/protocol.py); the default is the built-in OrderEngine.
        """
        begin = self.config.begin_strings[0]
        sid = SessionID(begin, comp_id, self.config.comp_id)
        # The firm's own copy of the reference data: an exchange-driven change at the venue does not
        # reach it until someone updates it (the shape of every tick-size incident).
        engine = (factory or OrderEngine)(name, InstrumentTable(list(self.config.instruments)), now_ns=self.now_ns,
                                          risk=risk)
        session = Session(SessionConfig(sid, initiator=True, heartbeat_s=heartbeat_s, reset_on_logon=True),
                          now_ns=self.now_ns, application=engine)
        engine.attach(session)
        self.engines[name] = engine
        self.comp_ids[name] = comp_id
        self.connect(name)
        return engine

    def connect(self, name: str) -> None:
        """Connect (or reconnect) an engine's session to the venue over this world's transport."""
        session = self.engines[name].session
        assert session is not None
        if self.transport == "tcp":
            if self.port is None:
                raise RuntimeError("World.open() must run before engines connect over TCP")
            initiator = FixInitiator(session, "127.0.0.1", self.port, now_ns=self.now_ns)
            self.initiators[name] = initiator
            initiator.start()
        else:
            self.drivers[name] = memory_pipe(session, self.venue_session(self.comp_ids[name]), now_ns=self.now_ns,
                                             latency_ns=self.latency_ns)

    def add_external(self, name: str, comp_id: str, **observers: Callable) -> ObservedFirm:
        """A firm whose order engine is an outside program that logs on over TCP with ``comp_id``.

        The venue's execution reports to that firm feed an :class:`~engines.observed.ObservedFirm`
        (``observers``: its ``on_fill`` and ``on_refusal`` callbacks).
        """
        if self.transport != "tcp":
            raise ValueError(f"firm {name}'s engine is external (engine = \"fix\"): it can only connect over "
                             "TCP (--transport tcp)")
        self.venue_session(comp_id)  # the venue must have a session for it (KeyError names the CompIDs)
        if not self.external:
            gateway = self.venue.gateway
            original = gateway.dispatch
            external = self.external

            def dispatch(events: list) -> None:
                original(events)
                for event in events:
                    if type(event) is ExecReport and event.firm in external:
                        external[event.firm].on_report(event)

            gateway.dispatch = dispatch  # type: ignore[method-assign]
        observed = ObservedFirm(name, InstrumentTable(list(self.config.instruments)), now_ns=self.now_ns, **observers)
        self.external[name] = observed
        self.comp_ids[name] = comp_id
        return observed

    async def logged_on(self, timeout_s: float = 10.0, external_timeout_s: float = 60.0) -> None:
        """Wait until every engine's session is logged on (and every external engine's, longer)."""
        async def wait() -> None:
            while not all(e.session is not None and e.session.logged_on for e in self.engines.values()):
                await asyncio.sleep(0.001)

        await asyncio.wait_for(wait(), timeout_s)
        sessions = {name: self.venue_session(self.comp_ids[name]) for name in self.external}

        async def wait_external() -> None:
            while not all(session.logged_on for session in sessions.values()):
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(wait_external(), external_timeout_s)
        except TimeoutError:
            missing = [f"{name} (CompID {self.comp_ids[name]})" for name, s in sessions.items() if not s.logged_on]
            raise TimeoutError(f"no external engine logged on for {', '.join(missing)} within "
                               f"{external_timeout_s:g} s: point it at 127.0.0.1:{self.port}, TargetCompID "
                               f"{self.config.comp_id}") from None

    def disconnect(self, name: str) -> None:
        """Drop an engine's connection (a session drop: the venue applies cancel-on-disconnect)."""
        if self.transport == "tcp":
            self.initiators.pop(name).close_now("session drop injected")
            return
        initiator, _ = self.drivers[name]
        initiator._disconnect_now("session drop injected")
