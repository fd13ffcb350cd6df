"""A simulated world: one venue and the firms' order engines, joined by in-memory FIX.

This is how scenarios (and engine tests) run the real pieces together on the virtual clock: the
:class:`~sim.venue.Venue` and each :class:`~engines.order_engine.OrderEngine` talk FIX through
their own sessions over :func:`sim.fix.transport.memory_pipe` links with a configurable latency,
exactly the code paths a TCP deployment uses, minus the sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engines.order_engine import OrderEngine
from engines.risk import RiskEngine
from sim.fix.session import Session, SessionConfig
from sim.fix.store import SessionID
from sim.fix.transport import SessionDriver, memory_pipe
from sim.instruments import InstrumentTable
from sim.venue import Venue
from sim.venue_config import VenueConfig


class World:
    """A venue plus order engines connected over in-memory FIX sessions on the running loop."""

    def __init__(self, config: VenueConfig, *, now_ns: Callable[[], int], latency_ns: int = 50_000,
                 keep_logs: bool = True) -> None:
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
        self.drivers[name] = memory_pipe(session, self.venue_session(comp_id, begin), now_ns=self.now_ns,
                                         latency_ns=self.latency_ns)
        self.engines[name] = engine
        return engine

    async def logged_on(self, timeout_s: float = 10.0) -> None:
        """Wait until every engine's session is logged on."""
        async def wait() -> None:
            while not all(e.session is not None and e.session.logged_on for e in self.engines.values()):
                await asyncio.sleep(0.001)

        await asyncio.wait_for(wait(), timeout_s)

    def disconnect(self, name: str) -> None:
        """Drop an engine's connection (a session drop: the venue applies cancel-on-disconnect)."""
        initiator, _ = self.drivers[name]
        initiator._disconnect_now("session drop injected")
