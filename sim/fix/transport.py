"""Thin asyncio shells around sans-I/O sessions: TCP acceptor and initiator, and an in-memory pipe.

All protocol decisions live in :class:`sim.fix.session.Session`; this module only moves bytes and
arms timers.  :class:`SessionDriver` is the one piece of glue both transports share: it feeds a
session, applies its actions (write bytes, close) and re-arms a single timer at the session's
next deadline, so idle sessions cost nothing and virtual time jumps straight to the next
heartbeat.

* :class:`FixAcceptor` serves many sessions on one port, routed by BeginString + CompIDs from the
  first frame (which must be a Logon).  An unknown session, a non-Logon first frame or a second
  connection for a session that is already connected is refused by closing that connection; the
  first connection is not disturbed.  Connections take turns: each gets at most
  ``frames_per_turn`` messages processed per event-loop pass, its reading paused until its
  backlog is worked off, so a client that floods cannot hold the loop while the others wait.
* :class:`FixInitiator` connects out and reconnects with exponential backoff.
* :func:`memory_pipe` joins two sessions through an in-memory link with a configurable latency,
  scheduled on the running loop, so under the virtual-time loop the same sessions run
  deterministically.

Over TCP the driver coalesces: the frames one batch of input produces go out in one write, and
output another session's message caused (a maker's fill) is held until the loop's next pass, so a
burst of it is one write too.  The in-memory pipe writes each frame at once, as it always did: the
order of its deliveries fixes a scenario's event order and journal.

The read side is bounded by the session's frame reader (a frame larger than its limit is treated
as garbage); the write side by ``max_outbound_bytes``: a counterparty that stops reading is
logged out and disconnected instead of growing our memory without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from sim.fix.codec import FrameReader, GarbledFrame, decode
from sim.fix.session import Disconnect, Send, Session

NS = 1_000_000_000


class SessionDriver:
    """Glue between one Session and one connection: feeds bytes, applies actions, arms the timer."""

    def __init__(self, session: Session, write: Callable[[bytes], None], close: Callable[[], None],
                 *, now_ns: Callable[[], int], loop: asyncio.AbstractEventLoop | None = None,
                 outbound_size: Callable[[], int] | None = None, max_outbound_bytes: int = 8 << 20,
                 on_closed: Callable[[SessionDriver], None] | None = None, coalesce: bool = False) -> None:
        self.session = session
        self._write = write
        self._close = close
        self._now = now_ns
        self._loop = loop or asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._outbound_size = outbound_size
        self._max_outbound = max_outbound_bytes
        self._on_closed = on_closed
        self.closed = False
        self._busy = False
        self.dropped_after_logout = 0  # application frames skipped after our Logout (feed_frames)
        self._fired_at: int | None = None
        self._timer_at = 0  # when the pending timer fires (now_ns clock), valid while _timer is set
        # Virtual-time loops schedule on integer ns (looked up once, not per message).
        self._later_ns: Callable[..., asyncio.TimerHandle] | None = getattr(self._loop, "call_later_ns", None)
        # TCP (coalesce=True): the frames of one batch go out in one write, and output produced by
        # another session's message (a maker's fill) is held until the loop's next pass, so a burst
        # of them is one write too.  A write is a send() system call on uvloop: ~6-10 us each on
        # the dev box, against ~1 us to join a batch.  The in-memory pipe keeps one delivery per
        # frame, sent at once: its event order (and the journal) is fixed by it.
        self._coalesce = coalesce
        self._held: list[Send | Disconnect] = []
        self._flush_pending = False
        session.wakeup = self._wakeup

    def start(self, initial: bytes = b"") -> None:
        """The connection is up: tell the session, then feed any bytes already read."""
        self._busy = True
        try:
            actions = self.session.connected()
        finally:
            self._busy = False
        self._apply(actions)
        if initial and not self.closed:
            self.feed(initial)

    def feed(self, data: bytes) -> None:
        """Bytes arrived from the counterparty."""
        if self.closed:
            return
        self._busy = True
        try:
            actions = self.session.receive_bytes(data)
        finally:
            self._busy = False
        self._apply(actions)

    def feed_frames(self, frames: list[bytes]) -> None:
        """Complete frames, already framed by the transport, arrived from the counterparty."""
        if self.closed:
            return
        session = self.session
        self._busy = True
        try:
            for frame in frames:
                if not session.connected_now:
                    break  # as receive_bytes: nothing after a disconnect is processed
                if session.sent_logout and _application_frame(frame):
                    # We logged this session out (a flooder the throttle stopped, say): its application
                    # messages would not be served (see VenueGateway.from_app), so skip even decoding
                    # them; session-level replies (Logout, ResendRequest, SequenceReset) still count.
                    self.dropped_after_logout += 1
                    continue
                session.receive_frame(frame)
            actions = session.take_actions()
        finally:
            self._busy = False
        self._apply(actions)

    def _wakeup(self) -> None:
        """Output produced outside our own processing (another session's message caused it): send it."""
        if self._busy or self.closed:
            return
        if not self._coalesce:
            self._apply(self.session.take_actions())
            return
        # Taken now (a caller that drops the actions a session method returns still gets them
        # sent), written on the loop's next pass together with whatever else comes by then.
        self._held += self.session.take_actions()
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if not self.closed:
            self._apply(())

    def lost(self, reason: str) -> None:
        """The connection went away underneath us."""
        if self.closed:
            return
        self._finish()
        self._apply_quietly(self.session.disconnected(reason))

    def _on_timer(self) -> None:
        self._timer = None
        self._fired_at = self._now()
        if self.closed:
            return
        self._busy = True
        try:
            actions = self.session.on_timer()
        finally:
            self._busy = False
        self._apply(actions)

    def _apply(self, actions: Iterable[Send | Disconnect]) -> None:
        if self._held:
            held, self._held = self._held, []
            held.extend(actions)
            actions = held
        if self._coalesce:
            self._apply_coalesced(actions)
        else:
            for action in actions:
                if self.closed:
                    break
                if type(action) is Send:
                    self._write(action.data)
                    if self._over_limit():
                        return
                else:
                    self._disconnect_now(action.reason)
        if not self.closed:
            self._arm_timer()

    def _apply_coalesced(self, actions: Iterable[Send | Disconnect]) -> None:
        """As _apply, with each run of Sends joined into one write."""
        if self.closed:
            return
        run: list[bytes] = []
        for action in actions:
            if type(action) is Send:
                run.append(action.data)
                continue
            if run:
                self._write(run[0] if len(run) == 1 else b"".join(run))
                run = []
                if self._over_limit():
                    return
            if self.closed:
                return
            self._disconnect_now(action.reason)
        if run and not self.closed:
            self._write(run[0] if len(run) == 1 else b"".join(run))
            self._over_limit()

    def _over_limit(self) -> bool:
        """After a write: a counterparty that does not read is logged out and dropped (True)."""
        if self._outbound_size is not None and self._outbound_size() > self._max_outbound:
            self.session.log.on_event(
                f"Outbound queue over {self._max_outbound} bytes: counterparty is not reading")
            self._apply(self.session.logout("Slow consumer: outbound queue full"))
            self._disconnect_now("slow consumer")
            return True
        return False

    def _apply_quietly(self, actions: Iterable[Send | Disconnect]) -> None:
        """Actions after the connection is gone have nowhere to go; they are dropped."""
        for _ in actions:
            pass

    def _disconnect_now(self, reason: str) -> None:
        if self.closed:
            return
        self._finish()
        if self.session.connected_now:
            self._apply_quietly(self.session.disconnected(reason))
        self._close()

    def _finish(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._on_closed is not None:
            self._on_closed(self)

    def _arm_timer(self) -> None:
        deadline = self.session.next_timer_ns()
        timer = self._timer
        if deadline is None:
            if timer is not None:
                timer.cancel()
                self._timer = None
            return
        now = self._now()
        delay_ns = deadline - now
        if delay_ns <= 0:
            delay_ns = 0
            if self._fired_at == now:
                # The timer already ran at this instant and the session still says "now": never
                # re-arm at the same virtual instant (that would spin the loop without time passing).
                delay_ns = 1_000_000
        later_ns = self._later_ns
        if later_ns is None and delay_ns < 1_000_000:
            # Real time: a timer may fire a hair early against the wall clock; a 1 ms floor
            # keeps a due-but-not-quite deadline from spinning the loop.
            delay_ns = 1_000_000
        fire_at = now + delay_ns
        if timer is not None:
            if self._timer_at <= fire_at:
                # Keep the pending timer: it fires no later than needed.  Every processed message
                # pushes the session's deadline later, and cancel + re-create cost ~2-4 us per
                # message; an early fire is harmless (on_timer does nothing before the deadline
                # and re-arms from there).
                return
            timer.cancel()
        self._timer_at = fire_at
        if later_ns is not None:
            # Virtual time: schedule on the exact integer instant, so the session's threshold
            # check at that instant cannot miss by a float rounding and spin.
            self._timer = later_ns(delay_ns, self._on_timer)
        else:
            self._timer = self._loop.call_later(delay_ns / NS, self._on_timer)


# -- TCP ACCEPTOR ---------------------------------------------------------------------------------


SessionKey = tuple[bytes, bytes, bytes]  # (BeginString, our CompID, their CompID)
_ADMIN_TYPES = frozenset((b"0", b"1", b"2", b"3", b"4", b"5", b"A"))


def _application_frame(frame: bytes) -> bool:
    """True when a framed message's MsgType(35), the third field, is not a session-level type."""
    start = frame.find(b"\x0135=", 0, 48)
    if start < 0:
        return False  # not where a valid frame has it: let the session judge it
    end = frame.find(b"\x01", start + 4, start + 12)
    return end > 0 and frame[start + 4:end] not in _ADMIN_TYPES
# uvloop reads up to 256 KiB at a time and libuv reads a busy socket again before it polls the
# others: processed whole, a flooding client's reads (about 1,700 orders each) held the loop for
# seconds while every other session waited.  A few messages per turn bound that wait to about a
# millisecond; the cost of a turn (one call_soon) is small next to a message's.
FRAMES_PER_TURN = 8


class FixAcceptor:
    """Serves several sessions on one TCP port, routed by BeginString and CompIDs."""

    def __init__(self, sessions: Iterable[Session], *, now_ns: Callable[[], int],
                 on_event: Callable[[str], None] | None = None, max_outbound_bytes: int = 8 << 20,
                 max_first_frame_bytes: int = 64 * 1024, frames_per_turn: int = FRAMES_PER_TURN) -> None:
        self.sessions: dict[SessionKey, Session] = {}
        for session in sessions:
            sid = session.session_id
            key = (sid.begin_string.encode(), sid.sender_comp_id.encode(), sid.target_comp_id.encode())
            if key in self.sessions:
                raise ValueError(f"session {sid} is configured twice")
            self.sessions[key] = session
        self._now = now_ns
        self._on_event = on_event or (lambda text: None)
        self._max_outbound = max_outbound_bytes
        self._max_first = max_first_frame_bytes
        self._frames_per_turn = frames_per_turn
        self.active: dict[SessionKey, SessionDriver] = {}
        self.server: asyncio.AbstractServer | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 picks a free port); returns the port."""
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _AcceptorConnection(self), host, port)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        for driver in list(self.active.values()):
            driver._disconnect_now("acceptor stopping")
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def route(self, frame: bytes) -> tuple[Session | None, str]:
        """Find the configured session for a first frame; returns (session, reason if none)."""
        try:
            message = decode(frame)
        except GarbledFrame as exc:
            return None, f"garbled first message: {exc.reason}"
        if message.get(35) != b"A":
            return None, f"first message is not a Logon (MsgType {message.get(35)!r})"
        key = (message.get(8) or b"", message.get(56) or b"", message.get(49) or b"")
        session = self.sessions.get(key)
        if session is None:
            return None, (f"no session configured for {key[0].decode('latin-1')} "
                          f"{key[2].decode('latin-1')}->{key[1].decode('latin-1')}")
        if key in self.active:
            return None, f"session {session.session_id} is already connected"
        return session, ""

    def bind(self, session: Session, driver: SessionDriver) -> None:
        """Mark a session as connected through ``driver``."""
        sid = session.session_id
        self.active[(sid.begin_string.encode(), sid.sender_comp_id.encode(), sid.target_comp_id.encode())] = driver

    def unbind(self, driver: SessionDriver) -> None:
        """Forget a closed connection's session binding."""
        for key, active in list(self.active.items()):
            if active is driver:
                del self.active[key]

    def event(self, text: str) -> None:
        """Report an acceptor-level event (refused connections and the like)."""
        self._on_event(text)


class _AcceptorConnection(asyncio.Protocol):
    """One accepted TCP connection: unbound until its first frame names a session."""

    def __init__(self, acceptor: FixAcceptor) -> None:
        self.acceptor = acceptor
        self.transport: asyncio.Transport | None = None
        self.driver: SessionDriver | None = None
        self._pending = bytearray()
        self._peer = "?"
        self._frames: FrameReader | None = None  # frames the bound session has still to process
        self._paused = False  # reading paused while a backlog is worked off, one turn per loop pass

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if peer else "?"

    def data_received(self, data: bytes) -> None:
        if self.driver is not None:
            assert self._frames is not None
            self._frames.feed(data)
            if not self._paused:
                self._turn()
            return
        self._pending += data
        reader = FrameReader(max_frame_bytes=self.acceptor._max_first)
        reader.feed(bytes(self._pending))
        frame = reader.next_frame()
        if frame is None:
            if len(self._pending) > self.acceptor._max_first:
                self._refuse("no Logon within the first 64 KiB")
            return
        session, reason = self.acceptor.route(frame)
        if session is None:
            self._refuse(reason)
            return
        transport = self.transport
        assert transport is not None
        driver = SessionDriver(
            session, transport.write, transport.close, now_ns=self.acceptor._now,
            outbound_size=transport.get_write_buffer_size, max_outbound_bytes=self.acceptor._max_outbound,
            on_closed=self.acceptor.unbind, coalesce=True)
        self.driver = driver
        self.acceptor.bind(session, driver)
        session.log.on_event(f"Accepted connection from {self._peer}")
        self._frames = FrameReader(max_frame_bytes=session.config.max_frame_bytes)
        self._frames.feed(bytes(self._pending))
        self._pending.clear()
        driver.start()
        self._turn()

    def _turn(self) -> None:
        """Process up to ``frames_per_turn`` frames; if that used the turn up, pause reading and go on next pass."""
        driver, reader, transport = self.driver, self._frames, self.transport
        assert driver is not None and reader is not None and transport is not None
        budget = self.acceptor._frames_per_turn
        frames = []
        while len(frames) < budget and (frame := reader.next_frame()) is not None:
            frames.append(frame)
        if frames:
            driver.feed_frames(frames)
        if len(frames) == budget and not driver.closed:
            if not self._paused:
                self._paused = True
                transport.pause_reading()
            asyncio.get_running_loop().call_soon(self._turn)
        elif self._paused:
            self._paused = False
            if not driver.closed and not transport.is_closing():
                transport.resume_reading()

    def _refuse(self, reason: str) -> None:
        self.acceptor.event(f"Refused connection from {self._peer}: {reason}")
        self._pending.clear()
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.driver is not None:
            if self._frames is not None:
                # What arrived before the close is still processed, in order (a pending turn then finds nothing).
                self.driver.feed_frames(list(self._frames))
            self.driver.lost("connection closed by peer" if exc is None else f"connection lost: {exc}")


# -- TCP INITIATOR --------------------------------------------------------------------------------


class FixInitiator:
    """Connects a session to host:port and keeps reconnecting with exponential backoff."""

    def __init__(self, session: Session, host: str, port: int, *, now_ns: Callable[[], int],
                 reconnect_interval_s: float = 1.0, max_backoff_s: float = 30.0,
                 max_outbound_bytes: int = 8 << 20) -> None:
        self.session = session
        self.host = host
        self.port = port
        self._now = now_ns
        self._interval = reconnect_interval_s
        self._max_backoff = max_backoff_s
        self._max_outbound = max_outbound_bytes
        self._task: asyncio.Task | None = None
        self.driver: SessionDriver | None = None
        self.connects = 0

    def start(self) -> None:
        """Begin connecting (in a background task)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop reconnecting and drop the connection."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self.driver is not None:
            self.driver._disconnect_now("initiator stopping")

    def close_now(self, reason: str) -> None:
        """Stop reconnecting and drop the connection at once (a session drop, from synchronous code)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.driver is not None:
            self.driver._disconnect_now(reason)

    async def _run(self) -> None:
        backoff = self._interval
        loop = asyncio.get_running_loop()
        while True:
            closed = loop.create_future()
            try:
                transport, _ = await loop.create_connection(
                    lambda closed=closed: _InitiatorConnection(self, closed), self.host, self.port)
            except OSError as exc:
                self.session.log.on_event(f"Connection to {self.host}:{self.port} failed: {exc.strerror or exc}")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = self._interval
            self.connects += 1
            try:
                await closed
            finally:
                if not closed.done():
                    transport.close()
            await asyncio.sleep(self._interval)


class _InitiatorConnection(asyncio.Protocol):
    """The initiator's TCP connection: bound to its session from the start."""

    def __init__(self, owner: FixInitiator, closed: asyncio.Future) -> None:
        self.owner = owner
        self.closed = closed
        self.driver: SessionDriver | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        owner = self.owner
        self.driver = SessionDriver(
            owner.session, transport.write, transport.close, now_ns=owner._now,  # type: ignore[attr-defined]
            outbound_size=transport.get_write_buffer_size,  # type: ignore[attr-defined]
            max_outbound_bytes=owner._max_outbound, coalesce=True)
        owner.driver = self.driver
        owner.session.log.on_event(f"Connected to {owner.host}:{owner.port}")
        self.driver.start()

    def data_received(self, data: bytes) -> None:
        if self.driver is not None:
            self.driver.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.driver is not None:
            self.driver.lost("connection closed by peer" if exc is None else f"connection lost: {exc}")
        if not self.closed.done():
            self.closed.set_result(None)


# -- IN-MEMORY PIPE -------------------------------------------------------------------------------


class MemoryLink:
    """One direction-pair of an in-memory connection, delivering bytes after a latency."""

    def __init__(self, loop: asyncio.AbstractEventLoop, latency_ns: int) -> None:
        self._loop = loop
        self.latency_ns = latency_ns
        self.peer: MemoryLink | None = None
        self.driver: SessionDriver | None = None
        self.open = True
        self.bytes_sent = 0

    def write(self, data: bytes) -> None:
        """Deliver ``data`` to the other end after the link's latency."""
        if not self.open or self.peer is None:
            return
        self.bytes_sent += len(data)
        self._later(self.peer._deliver, data)

    def _later(self, callback, *args) -> None:
        later_ns = getattr(self._loop, "call_later_ns", None)
        if later_ns is not None:
            later_ns(self.latency_ns, callback, *args)
        else:
            self._loop.call_later(self.latency_ns / NS, callback, *args)

    def _deliver(self, data: bytes) -> None:
        if self.open and self.driver is not None:
            self.driver.feed(data)

    def close(self) -> None:
        """Close both ends; the other end notices after the latency (as a FIN would arrive)."""
        if not self.open:
            return
        self.open = False
        peer = self.peer
        if peer is not None and peer.open:
            self._later(peer._closed_by_peer)

    def _closed_by_peer(self) -> None:
        if not self.open:
            return
        self.open = False
        if self.driver is not None:
            self.driver.lost("connection closed by peer")


def memory_pipe(initiator: Session, acceptor: Session, *, now_ns: Callable[[], int],
                latency_ns: int = 0) -> tuple[SessionDriver, SessionDriver]:
    """Connect two sessions through an in-memory link on the running loop; returns both drivers."""
    loop = asyncio.get_running_loop()
    a, b = MemoryLink(loop, latency_ns), MemoryLink(loop, latency_ns)
    a.peer, b.peer = b, a
    acceptor_driver = SessionDriver(acceptor, b.write, b.close, now_ns=now_ns, loop=loop)
    initiator_driver = SessionDriver(initiator, a.write, a.close, now_ns=now_ns, loop=loop)
    a.driver, b.driver = initiator_driver, acceptor_driver
    acceptor_driver.start()
    initiator_driver.start()
    return initiator_driver, acceptor_driver


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A real-time event loop: uvloop when installed (it is ~2x faster on socket work), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows or a minimal install
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_realtime(coro) -> object:
    """Run a coroutine on a fresh real-time loop (uvloop when available) until it completes."""
    loop = new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
