"""The venue target: generated and mutated order entry through a Venue in virtual time."""

from __future__ import annotations

import gc
import random
import traceback
from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bench.fuzz.frames import T0, Fields, assemble
from bench.fuzz.messages import MessageFactory, mutate_fields
from bench.fuzz.results import CampaignLog, Progress, TargetResult, exception_site
from sim.fix.codec import (
    FixMessage,
    GarbledFrame,
    decode,
)
from sim.fix.dictionary import Dictionary
from sim.fix.session import Send, Session
from sim.fix.timestamps import format_utc_timestamp
from sim.fix.validation import validate
from sim.venue import Venue
from sim.venue_config import load_venue_config

VENUE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "venue-probe.toml"


class VenueClient:
    """A firm's raw FIX connection to one venue session (no sockets: bytes in, decoded replies out)."""

    def __init__(self, session: Session, comp_id: bytes, venue_comp_id: bytes, clock: Callable[[], int]) -> None:
        self.session = session
        self.comp_id = comp_id
        self.venue_comp_id = venue_comp_id
        self.clock = clock
        self.cl_ord_ids: deque[bytes] = deque(maxlen=64)
        self.order_ids: deque[bytes] = deque(maxlen=64)

    def frame(self, msg_type: bytes, body: Fields) -> bytes:
        """The next message with a correct header."""
        return assemble(b"FIX.4.4", [(b"35", msg_type), (b"49", self.comp_id), (b"56", self.venue_comp_id),
                                     (b"34", b"%d" % self.session.next_target_seq),
                                     (b"52", format_utc_timestamp(self.clock())), *body])


class VenueRig:
    """A Venue from examples/venue-probe.toml with firms A and B logged on, rebuilt every trading day."""

    def __init__(self, result: TargetResult) -> None:
        self.config = load_venue_config(VENUE_CONFIG)
        self.result = result
        self.dd = Dictionary.for_begin_string("FIX.4.4")
        self.factory = MessageFactory(self.dd)
        self.now = T0
        self.logs: list[CampaignLog] = []
        self.new_day()

    def _clock(self) -> int:
        return self.now

    def new_day(self) -> None:
        """A fresh venue (empty books, new sessions) with firms A and B logged on."""
        for log in self.logs:
            self._collect_app_errors(log)
        self.logs = []
        # The old venue is a web of reference cycles (sessions <-> gateway <-> exchange) that only the
        # cycle collector frees, whenever its generation-2 pass happens to run; collecting here makes
        # the memory samples measure the venue's own use, not the collector's timing.
        self.venue = None
        gc.collect()

        def make_log(_sid) -> CampaignLog:
            """A bounded log per venue session, kept so its application errors can be counted."""
            log = CampaignLog()
            self.logs.append(log)
            return log

        self.venue = Venue(self.config, now_ns=self._clock, log_factory=make_log)
        venue_id = self.config.comp_id.encode()
        self.clients = []
        for firm in (b"A", b"B"):
            session = next(s for s in self.venue.sessions if s.session_id.target_comp_id == firm.decode())
            client = VenueClient(session, firm, venue_id, self._clock)
            self._drain(session)
            session.connected()
            replies = self.feed(client, client.frame(b"A", [(b"98", b"0"), (b"108", b"30"), (b"141", b"Y")]))
            if not session.logged_on or [m.msg_type() for m in replies][:1] != [b"A"]:
                self.result.record("not-serving", "venue Logon not answered", repr([m.fields for m in replies]))
            self.clients.append(client)

    def _collect_app_errors(self, log: CampaignLog) -> None:
        texts = log.app_errors or ["(text not kept)"]
        for k in range(log.app_error_count):
            text_ = texts[min(k, len(texts) - 1)]
            self.result.record("app-error", "Application error " + text_.split(": ", 1)[-1][:140], text_)
        log.app_errors.clear()
        log.app_error_count = 0

    def feed(self, client: VenueClient, raw: bytes) -> list[FixMessage]:
        """Feed one message; returns what the sender got (other sessions' output is drained and checked)."""
        replies = self._decode_all(client.session.receive_bytes(raw))
        for other in self.clients:
            if other is not client:
                self._decode_all(other.session.take_actions())
        return replies

    def _drain(self, session: Session) -> None:
        session.take_actions()

    def _decode_all(self, actions) -> list[FixMessage]:
        out = []
        for action in actions:
            if type(action) is Send:
                message = decode(action.data)
                out.append(message)
                violation = validate(message, self.dd)
                if violation is not None:
                    self.result.record("invalid-reply", f"venue 35={message.msg_type().decode()} fails FIX.4.4: "
                                       f"reason {violation.reason} tag {violation.ref_tag}", repr(message))
        return out

    def finish(self) -> None:
        """Count the application errors of the last day."""
        for log in self.logs:
            self._collect_app_errors(log)


def run_venue(count: int, seed: int, shard: int = 0, *, every_s: float = 5.0, window: int = 5_000,
              quiet: bool = False, day: int = 5_000) -> TargetResult:
    """Generated and mutated order entry through a Venue (see the module docstring)."""
    rng = random.Random(f"{seed}:venue:{shard}")
    result = TargetResult("venue")
    progress = Progress(result, count, f"venue {shard}", every_s, window, quiet)
    rig = VenueRig(result)
    while result.inputs < count:
        rig.now += rng.randint(1, 5_000_000)
        client = rig.clients[rng.getrandbits(1)]
        msg_type, body = venue_message(rng, client, rig)
        mutation = "none"
        if rng.random() < 0.3:
            mutation, fields = mutate_fields(rng, [(b"35", msg_type), *body], rig.factory)
            if mutation in ("msg_type", "seq", "bad_tag", "no_equals", "soh_in_value", "data_length") or \
                    not fields or fields[0][0] != b"35":
                mutation, fields = "none", [(b"35", msg_type), *body]  # header/framing: the session target's job
            body = fields[1:]
        raw = client.frame(msg_type, body)
        result.cases[f"{msg_type.decode()}:{mutation}"] += 1
        result.inputs += 1
        example = f"venue {msg_type.decode()} {mutation} #{result.inputs}: {raw!r}"
        try:
            _venue_one(rig, client, raw, msg_type, example)
        except Exception as exc:  # noqa: BLE001 - the property under test: nothing escapes the venue
            result.record("escape", f"{msg_type.decode()}: {exception_site(exc)}",
                          example + "\n" + traceback.format_exc(limit=-3))
            rig.new_day()
        if result.inputs % day == 0:
            rig.new_day()
        progress.tick()
    rig.finish()
    progress.finish()
    return result


def _venue_one(rig: VenueRig, client: VenueClient, raw: bytes, msg_type: bytes, example: str) -> None:
    """Feed one order-entry message and check it was answered as prescribed."""
    session = client.session
    seq = session.next_target_seq
    errors_before = sum(log.app_error_count for log in rig.logs)
    try:
        msg = decode(raw)
    except GarbledFrame:  # e.g. a tag beyond int32: silently discarded, MsgSeqNum not consumed
        msg = None
    violation = validate(msg, rig.dd) if msg is not None else None
    replies = rig.feed(client, raw)
    answers = [m for m in replies if m.msg_type() != b"X"]  # incremental market data may interleave
    types = [m.msg_type() for m in answers]
    problem = None
    if msg is None:
        if replies or session.next_target_seq != seq:
            problem = "a garbled frame was answered or consumed a MsgSeqNum"
        seq -= 1  # nothing consumed
    elif violation is not None:
        if types != [b"3"] or answers[0].get(373) != b"%d" % violation.reason:
            problem = f"dictionary violation {violation.reason}/{violation.ref_tag}: expected a Reject"
    elif sum(log.app_error_count for log in rig.logs) > errors_before:
        problem = None  # reported as an app-error finding (with the exception) when the day ends
    elif not types:
        if not (msg_type == b"V" and msg.get(263) == b"2"):  # an unsubscribe has no answer in FIX
            problem = "no answer"
    else:
        allowed = _VENUE_ANSWERS[msg_type]
        if types[0] not in allowed or (msg_type == b"q" and types[-1] != b"r"):
            problem = f"answer {[t.decode() for t in types]} is not one of {sorted(a.decode() for a in allowed)}"
        elif msg_type in (b"D", b"F", b"G") and answers[0].get(11) != (msg.get(11) or b""):
            # (an OrderStatusRequest naming the order by OrderID gets the order's own ClOrdID back)
            problem = "the answer does not carry the request's ClOrdID"
        elif msg_type in (b"D", b"G") and answers[0].get(150) in (b"0", b"5") and \
                not _same_number(answers[0].get(44), msg.get(44)):
            problem = f"the order was booked at {answers[0].get(44)!r}, not at the Price sent {msg.get(44)!r}"
    if session.next_target_seq != seq + 1:
        problem = problem or f"MsgSeqNum not consumed ({seq} -> {session.next_target_seq})"
    if not session.logged_on:
        problem = problem or "the venue session is no longer logged on"
    if problem is not None:
        rig.result.record("mismatch", f"{msg_type.decode()}: {problem.split(':')[0]}",
                          f"{example}\n  {problem}\n  replies: {[m.fields for m in replies]!r}")
        rig.new_day()
        return
    for m in replies:
        if m.msg_type() == b"8":
            if m.get(37) and m.get(37) != b"NONE":
                client.order_ids.append(m.get(37))


def _same_number(a: bytes | None, b: bytes | None) -> bool:
    """Both absent, or the same decimal number (``100.0`` == ``100.00``), compared exactly."""
    if a is None or b is None:
        return a is b
    try:
        return Decimal(a.decode("ascii")) == Decimal(b.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        return False


_VENUE_ANSWERS = {b"D": {b"8"}, b"F": {b"8", b"9"}, b"G": {b"8", b"9"}, b"H": {b"8"}, b"q": {b"8", b"r"},
                  b"V": {b"W", b"Y"}}


def venue_message(rng: random.Random, client: VenueClient, rig: VenueRig) -> tuple[bytes, Fields]:
    """A generated order-entry message: mostly plausible, with hostile values drawn now and then."""
    msg_type = rng.choices((b"D", b"F", b"G", b"H", b"q", b"V"), (50, 15, 15, 8, 4, 8))[0]
    ts = b"20260102-09:30:00"

    def pick(common: list[bytes], odd: list[bytes], p_odd: float = 0.1) -> bytes:
        """A plausible value, or with probability ``p_odd`` a hostile one."""
        return rng.choice(odd) if rng.random() < p_odd else rng.choice(common)

    new_id = b"%s%d" % (client.comp_id, rng.getrandbits(40))
    cl = pick([new_id], [new_id + "é".encode(), b"X" * 200, client.cl_ord_ids[0] if client.cl_ord_ids else new_id])
    client.cl_ord_ids.append(cl)
    symbol = pick([b"PRB"], [b"XYZ", b"prb", b"PRB ", "PRBé".encode(), b"P" * 100], 0.05)
    side = pick([b"1", b"2"], [b"3", b"5", b"7", b"8"], 0.05)
    qty = pick([b"%d" % rng.randint(1, 100)],
               [b"0", b"100.0", b"1.5", b"0010", b"99999999999", b"9" * 30, b"9" * rng.randint(4300, 6000),
                b"1" + b"0" * rng.randint(20, 5000), b".5", b"5.", b"0.0000001"])
    price = pick([b"%d.%02d" % divmod(10_000 + rng.randint(-10, 10), 100)],
                 [b"100.005", b"0", b"0.00", b"100.", b".5", b"99999999.99", b"9" * 40,
                  b"1" + b"0" * rng.randint(20, 5000) + b".00", b"100.0000000000000000000001", b"00100.00",
                  b"100.00000000000000000000000001", b"99.999999999999999999999999999"])
    orig = rng.choice(client.cl_ord_ids) if client.cl_ord_ids and rng.random() < 0.85 else b"UNKNOWN%d" % rng.randint(1, 9)
    if msg_type == b"D":
        ord_type = pick([b"2", b"2", b"1"], [b"3", b"4", b"P", b"K"], 0.05)
        body: Fields = [(b"11", cl), (b"21", b"1"), (b"38", qty), (b"40", ord_type)]
        if ord_type != b"1" or rng.random() < 0.05:
            body.append((b"44", price))
        body += [(b"54", side), (b"55", symbol)]
        if rng.random() < 0.5:
            body.append((b"59", pick([b"0", b"1", b"3", b"4"], [b"2", b"6", b"5"], 0.1)))
        if rng.random() < 0.1:
            body.append((b"18", pick([b"6"], [b"6 1", b"1", b"G"], 0.3)))
        body.append((b"60", ts))
        return msg_type, sorted(body, key=lambda f: int(f[0]))
    if msg_type in (b"F", b"G"):
        body = [(b"11", cl), (b"41", orig), (b"54", side), (b"55", symbol), (b"60", ts), (b"38", qty)]
        if client.order_ids and rng.random() < 0.3:
            body.append((b"37", rng.choice(client.order_ids)))
        if msg_type == b"G":
            body += [(b"21", b"1"), (b"40", pick([b"2"], [b"1", b"3"], 0.05)), (b"44", price)]
        return msg_type, sorted(body, key=lambda f: int(f[0]))
    if msg_type == b"H":
        body = [(b"11", orig), (b"54", side), (b"55", symbol)]
        if client.order_ids and rng.random() < 0.3:
            body.append((b"37", rng.choice(client.order_ids)))
        return msg_type, sorted(body, key=lambda f: int(f[0]))
    if msg_type == b"q":
        scope = pick([b"7", b"1"], [b"2", b"3", b"4", b"5", b"6", b"8", b"9"], 0.2)
        body = [(b"11", cl), (b"530", scope), (b"60", ts)]
        if scope == b"1" or rng.random() < 0.1:
            body.append((b"55", symbol))
        return msg_type, sorted(body, key=lambda f: int(f[0]))
    types = rng.sample((b"0", b"1", b"2"), rng.randint(1, 3))
    symbols = [symbol] + ([b"PRB"] if rng.random() < 0.1 else [])
    body = [(b"262", b"MD%d" % rng.randint(1, 10**6)), (b"263", pick([b"0", b"1", b"2"], [b"3", b"9"], 0.05)),
            (b"264", pick([b"0", b"1", b"5"], [b"-1", b"999999999"], 0.05)), (b"265", b"1"),
            (b"267", b"%d" % len(types)), *[(b"269", t) for t in types],
            (b"146", b"%d" % len(symbols)), *[(b"55", s) for s in symbols]]
    return msg_type, body
