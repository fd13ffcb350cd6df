"""In-process FIX counterparties for a :class:`~sim.venue.Venue`: raw bytes in, decoded messages out.

No sockets and no asyncio: each :class:`Wire` is a hand-rolled FIX client (like
``tests/integration/rawfix.py``) talking to one of the venue's sans-I/O sessions directly.  It
encodes what a test sends with the next MsgSeqNum, feeds the bytes to the venue session and
collects every frame the session writes back (also frames queued by *another* session's message,
e.g. the fill of a resting order: :meth:`Wire.pump` picks those up).  Everything the venue sends
is decoded, so tests see exactly what a counterparty would read on the wire; :func:`check_valid`
validates it against our own data dictionary.
"""

from __future__ import annotations

from decimal import Decimal

from sim.fix.codec import FixMessage, decode, encode
from sim.fix.dictionary import Dictionary
from sim.fix.session import Send
from sim.fix.timestamps import format_utc_timestamp
from sim.fix.validation import validate
from sim.venue import Venue

T = "20260102-09:30:00"
HEADER_TAGS = frozenset({8, 9, 10, 34, 43, 49, 52, 56, 97, 122})


class Wire:
    """A raw FIX client of one venue session (CompID ``comp_id``, BeginString ``begin``)."""

    def __init__(self, venue: Venue, comp_id: str, begin: str = "FIX.4.4") -> None:
        self.venue = venue
        self.comp_id = comp_id
        self.begin = begin
        matches = [s for s in venue.sessions
                   if s.session_id.target_comp_id == comp_id and s.session_id.begin_string == begin]
        assert matches, f"the venue has no {begin} session for {comp_id}"
        self.session = matches[0]
        self.seq = 1
        self.inbox: list[FixMessage] = []   # every message received, in order (never cleared)
        self._read = 0

    def connect_and_logon(self, heartbeat: int = 30) -> FixMessage:
        """Connect and log on with ResetSeqNumFlag=Y; returns the venue's Logon."""
        self._collect(self.session.connected())
        self.send("A", [(98, 0), (108, heartbeat), (141, "Y")])
        logon = self.next("A")
        assert self.session.logged_on
        return logon

    def send(self, msg_type: str, body: list[tuple[int, object]] = ()) -> None:
        """Send one message to the venue and collect what comes back at once."""
        now = self.venue.now_ns()
        fields = [(34, self.seq), (49, self.comp_id), (52, format_utc_timestamp(now)),
                  (56, self.venue.config.comp_id)]
        self.seq += 1
        raw = encode(self.begin.encode(), msg_type.encode(), fields + list(body))
        self._collect(self.session.receive_bytes(raw))

    def pump(self) -> None:
        """Collect what the venue session queued because of other sessions' messages or timers."""
        self._collect(self.session.take_actions())

    def _collect(self, actions) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.inbox.append(decode(action.data))

    def unread(self) -> list[FixMessage]:
        """Messages received since the last call (after pumping)."""
        self.pump()
        out = self.inbox[self._read:]
        self._read = len(self.inbox)
        return out

    def next(self, msg_type: str) -> FixMessage:
        """The next unread message, which must be of ``msg_type`` (heartbeats are skipped)."""
        while True:
            self.pump()
            assert self._read < len(self.inbox), f"no 35={msg_type} received"
            message = self.inbox[self._read]
            self._read += 1
            kind = message.msg_type().decode()
            if kind == "0":
                continue
            assert kind == msg_type, f"expected 35={msg_type}, got {message.fields}"
            return message

    def of_type(self, msg_type: str) -> list[FixMessage]:
        """Every received message of one MsgType, in order."""
        self.pump()
        return [m for m in self.inbox if m.msg_type() == msg_type.encode()]


def f(message: FixMessage, tag: int) -> str | None:
    """One field as text (None when absent)."""
    value = message.get(tag)
    return value.decode("latin-1") if value is not None else None


def body(message: FixMessage) -> list[tuple[int, bytes]]:
    """The message without its header and trailer (what a drop copy must repeat)."""
    return [(tag, value) for tag, value in message.fields if tag not in HEADER_TAGS]


def check_valid(messages: list[FixMessage], begin: str) -> None:
    """Every message validates against our own data dictionary for ``begin``."""
    dictionary = Dictionary.for_begin_string(begin)
    for message in messages:
        violation = validate(message, dictionary)
        assert violation is None, f"{violation} in {message.fields}"


def market_data_request(md_req_id: str, symbols: list[str], *, trades: bool = False) -> list[tuple[int, object]]:
    """A MarketDataRequest body: snapshot + updates, full book, bids and offers (and trades)."""
    types = [0, 1, 2] if trades else [0, 1]
    group: list[tuple[int, object]] = [(267, len(types))] + [(269, t) for t in types]
    group += [(146, len(symbols))] + [(55, s) for s in symbols]
    return [(262, md_req_id), (263, 1), (264, 0), (265, 1), *group]


def price(ticks_from_centre: int, centre: str = "100.00", tick: str = "0.01") -> str:
    """A price ``ticks_from_centre`` ticks away from ``centre``."""
    return str(Decimal(centre) + Decimal(ticks_from_centre) * Decimal(tick))


class OrderFlow:
    """Turns drawn commands into order-entry FIX on named wires, naming orders as a firm would.

    Commands: ``("new", wire, side, "day"|"ioc"|"fok"|"market", qty, ticks)``,
    ``("cancel", wire, pick)``, ``("replace", wire, pick, qty, ticks)``; ``pick`` chooses one of the
    orders the wire sent (modulo), live or done.  A cancel or replace names the order by the
    ClOrdID of its last accepted request (learnt from Replaced reports, see :meth:`observe`).
    """

    def __init__(self, wires: dict[str, Wire], symbol: str) -> None:
        self.wires = wires
        self.symbol = symbol
        self.orders: dict[str, list[list]] = {name: [] for name in wires}  # [current ClOrdID, side]
        self.next_id = 0

    def run(self, command: tuple) -> None:
        kind, name = command[0], command[1]
        wire = self.wires[name]
        self.next_id += 1
        cl = f"{name}-{self.next_id}"
        symbol = self.symbol
        if kind == "new":
            _, _, side, tif, qty, px = command
            body = [(11, cl), (21, 1), (55, symbol), (54, side), (60, T), (38, qty)]
            if tif == "market":
                body += [(40, 1)]
            else:
                body += [(40, 2), (44, price(px)), (59, {"day": 0, "ioc": 3, "fok": 4}[tif])]
            wire.send("D", body)
            self.orders[name].append([cl, side])
        elif kind in ("cancel", "replace") and self.orders[name]:
            order = self.orders[name][command[2] % len(self.orders[name])]
            if kind == "cancel":
                wire.send("F", [(41, order[0]), (11, cl), (55, symbol), (54, order[1]), (60, T), (38, 1)])
            else:
                _, _, _, qty, px = command
                wire.send("G", [(41, order[0]), (11, cl), (21, 1), (55, symbol), (54, order[1]), (60, T),
                                (38, qty), (40, 2), (44, price(px)), (59, 0)])

    def observe(self, name: str, message: FixMessage) -> None:
        """Learn from a message ``name`` received: a Replaced report renames the order."""
        if message.msg_type() == b"8" and f(message, 150) == "5":
            for order in self.orders[name]:
                if order[0] == f(message, 41):
                    order[0] = f(message, 11)
