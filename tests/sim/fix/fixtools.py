"""Test helpers: a counterparty that writes raw FIX at a sans-I/O session and reads its answers."""

from __future__ import annotations

from sim.fix.codec import FixMessage, decode, encode
from sim.fix.echo import EchoApplication
from sim.fix.session import Disconnect, Send, Session, SessionConfig
from sim.fix.store import SessionID
from sim.fix.timestamps import format_utc_timestamp

T0 = 1_767_346_200_000_000_000  # 2026-01-02 09:30:00 UTC
NS = 1_000_000_000


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, start: int = T0) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS)


class Counterparty:
    """Plays the initiator side by hand against an acceptor Session (like a conformance script)."""

    def __init__(self, begin: str = "FIX.4.4", them: str = "TW", us: str = "ISLD", *, reset_on_logon: bool = True,
                 heartbeat_s: int = 30, app=None, **config) -> None:
        self.clock = ManualClock()
        self.begin = begin
        self.them, self.us = them, us
        self.session = Session(
            SessionConfig(SessionID(begin, us, them), reset_on_logon=reset_on_logon, **config),
            now_ns=self.clock, application=app if app is not None else EchoApplication())
        self.seq = 1
        self.received: list[FixMessage] = []
        self.disconnected: str | None = None
        self._take(self.session.connected())

    def raw(self, msg_type: str, body: list[tuple[int, object]] = (), *, seq: int | None = None,
            header: list[tuple[int, object]] = (), sending_time: bytes | None = None,
            sender: str | None = None, target: str | None = None, begin: str | None = None) -> bytes:
        """Encode one message from the counterparty (seq defaults to the next one)."""
        if seq is None:
            seq = self.seq
            self.seq += 1
        fields: list[tuple[int, object]] = []
        if sender is not False:
            fields.append((49, sender if sender is not None else self.them))
        if target is not False:
            fields.append((56, target if target is not None else self.us))
        fields.append((34, seq))
        fields.append((52, sending_time or format_utc_timestamp(self.clock())))
        fields.extend(header)
        fields.extend(body)
        return encode((begin or self.begin).encode(), msg_type.encode(), fields)

    def send(self, msg_type: str, body: list[tuple[int, object]] = (), **kwargs) -> list[FixMessage]:
        """Send one message and return what the session answered."""
        return self.feed(self.raw(msg_type, body, **kwargs))

    def feed(self, data: bytes) -> list[FixMessage]:
        """Feed raw bytes and return what the session answered."""
        return self._take(self.session.receive_bytes(data))

    def tick(self, seconds: float) -> list[FixMessage]:
        """Let time pass and run the session's timer."""
        self.clock.advance(seconds)
        return self._take(self.session.on_timer())

    def logon(self, heartbeat: int = 30, reset: bool = True, **kwargs) -> list[FixMessage]:
        """Log on (with ResetSeqNumFlag=Y by default)."""
        body = [(98, 0), (108, heartbeat)] + ([(141, "Y")] if reset else [])
        return self.send("A", body, **kwargs)

    def _take(self, actions) -> list[FixMessage]:
        out = []
        for action in actions:
            if isinstance(action, Send):
                message = decode(action.data)
                out.append(message)
                self.received.append(message)
            elif isinstance(action, Disconnect):
                self.disconnected = action.reason
        return out


def nos(cl_ord_id: str = "ORD1", qty: str = "002000.00") -> list[tuple[int, object]]:
    """A FIX 4.4 NewOrderSingle body with a non-canonical quantity (echo must keep it byte-identical)."""
    return [(11, cl_ord_id), (21, "1"), (38, qty), (40, "1"), (54, "1"), (55, "PRB"), (60, "20260102-09:30:00")]


def fields_of(message: FixMessage) -> dict[int, bytes]:
    """First value of every tag (for compact asserts)."""
    out: dict[int, bytes] = {}
    for tag, value in message.fields:
        out.setdefault(tag, value)
    return out


class AcceptAll:
    """A session application that accepts every logon and ignores application messages."""

    def on_logon_request(self, session, logon) -> None:
        pass

    def on_logon(self, session) -> None:
        pass

    def on_logout(self, session) -> None:
        pass

    def from_app(self, session, message) -> None:
        pass
