"""The session target: a logged-on Session fed classified defects, each answer compared."""

from __future__ import annotations

import random
import traceback

from bench.fuzz.frames import T0, Fields, assemble, fence
from bench.fuzz.messages import MessageFactory
from bench.fuzz.results import CampaignLog, Progress, TargetResult, exception_site
from bench.fuzz.session_cases import SESSION_CASES, Expect
from sim.fix.codec import (
    FixMessage,
    decode,
)
from sim.fix.dictionary import Dictionary
from sim.fix.echo import EchoApplication
from sim.fix.session import Disconnect, Send, Session, SessionConfig
from sim.fix.store import SessionID
from sim.fix.timestamps import format_utc_timestamp
from sim.fix.validation import validate


class SessionRig:
    """One acceptor Session and the hand-played initiator that fuzzes it."""

    THEM, US = b"TW", b"ISLD"

    def __init__(self, begin: str, result: TargetResult) -> None:
        self.begin = begin.encode()
        self.result = result
        self.dd = Dictionary.for_begin_string(begin)
        self.factory = MessageFactory(self.dd)
        self.now = T0
        self.log = CampaignLog()
        self.session = Session(SessionConfig(SessionID(begin, "ISLD", "TW"), reset_on_logon=True),
                               now_ns=self._clock, application=EchoApplication(), log=self.log)
        self.max_frame = self.session.config.max_frame_bytes
        self.disconnected: str | None = None
        self.probe_id = 0
        self.logon()

    def _clock(self) -> int:
        return self.now

    def stamp(self, offset_ns: int = 0) -> bytes:
        """SendingTime ``offset_ns`` from now."""
        return format_utc_timestamp(self.now + offset_ns)

    def fields(self, msg_type: bytes, body: Fields = (), *, seq: int | None = None, header: Fields = ()) -> Fields:
        """A message as the initiator writes it (next expected MsgSeqNum unless ``seq``)."""
        s = self.session.next_target_seq if seq is None else seq
        return [(b"35", msg_type), (b"49", self.THEM), (b"56", self.US), (b"34", b"%d" % s), (b"52", self.stamp()),
                *header, *body]

    def frame(self, msg_type: bytes, body: Fields = (), **kw) -> bytes:
        """:meth:`fields`, assembled."""
        return assemble(self.begin, self.fields(msg_type, body, **kw))

    def feed(self, data: bytes, chunked: list[bytes] | None = None) -> list[FixMessage]:
        """Feed bytes; returns the decoded replies (a Disconnect is remembered in ``disconnected``)."""
        replies: list[FixMessage] = []
        for piece in chunked if chunked is not None else [data]:
            self._take(self.session.receive_bytes(piece), replies)
        if self.session._reader.buffered() and self.session.connected_now:
            # A frame is still open (truncated, or a BodyLength that claims more): close it off.
            self._take(self.session.receive_bytes(fence(data, self.max_frame)), replies)
        return replies

    def _take(self, actions, replies: list[FixMessage]) -> None:
        for action in actions:
            if type(action) is Send:
                message = decode(action.data)
                replies.append(message)
                violation = validate(message, self.dd)
                if violation is not None and message.msg_type() == b"3" and violation.ref_tag == 45:
                    # The rejected message had no usable MsgSeqNum, so RefSeqNum(45) is left out or
                    # copied as received: QuickFIX's generateReject does exactly this.  Known, kept.
                    self.result.record("note", f"Reject(3) to a message without a valid MsgSeqNum has "
                                       f"{'no' if message.get(45) is None else 'a malformed'} RefSeqNum(45) "
                                       f"(as QuickFIX)", repr(message))
                elif violation is not None:
                    self.result.record("invalid-reply", f"{self.begin.decode()} 35={message.msg_type().decode()} "
                                       f"fails its own dictionary: reason {violation.reason} tag {violation.ref_tag}",
                                       repr(message))
            elif type(action) is Disconnect:
                self.disconnected = action.reason

    def logon(self) -> None:
        """Connect (if needed) and log on with ResetSeqNumFlag=Y; both sides start again at 1."""
        if self.session.connected_now:
            self.session.disconnected("campaign: new connection")
        self.disconnected = None
        replies: list[FixMessage] = []
        self._take(self.session.connected(), replies)
        replies = self.feed(self.frame(b"A", [(b"98", b"0"), (b"108", b"30"), (b"141", b"Y")], seq=1))
        if [m.msg_type() for m in replies] != [b"A"] or not self.session.logged_on:
            self.result.record("not-serving", "Logon after a logout was not answered with a Logon",
                               repr([m.fields for m in replies]))
        self.result.relogons += 1

    def heal(self) -> None:
        """Bring the session back to logged on, nothing pending (after a fatal case or a random mutation)."""
        s = self.session
        if not s.connected_now or self.disconnected is not None:
            self.logon()
        elif s.sent_logout:
            replies = self.feed(self.frame(b"5", seq=s.next_target_seq))
            if self.disconnected is None and s.connected_now:
                self.result.record("mismatch", "a Logout answering the session's Logout did not end the session",
                                   repr([m.fields for m in replies]))
            self.logon()
        elif not s.logged_on or s.resend_range is not None or s._queue:
            self.logon()

    def probe(self, example: str) -> None:
        """The next good message: a TestRequest must be answered by exactly one Heartbeat echoing it."""
        self.probe_id += 1
        tid = b"P%d" % self.probe_id
        seq = self.session.next_target_seq
        replies = self.feed(self.frame(b"1", [(b"112", tid)]))
        self.result.probes += 1
        ok = [m.msg_type() for m in replies] == [b"0"] and replies[0].get(112) == tid
        if not ok or self.session.next_target_seq != seq + 1:
            self.result.record("not-serving", "the next good message after a bad one was not answered",
                               f"{example} -> probe replies {[m.fields for m in replies]!r}")
            self.logon()


def run_session(count: int, seed: int, shard: int = 0, *, every_s: float = 5.0, window: int = 20_000,
                quiet: bool = False, relogon_every: int = 2_000) -> TargetResult:
    """Classified and random defects at logged-on acceptor sessions (see the module docstring)."""
    rng = random.Random(f"{seed}:session:{shard}")
    result = TargetResult("session")
    progress = Progress(result, count, f"session {shard}", every_s, window, quiet)
    rigs = [SessionRig("FIX.4.2", result), SessionRig("FIX.4.4", result)]
    cases = [(name, fn) for name, fn, weight in SESSION_CASES for _ in range(weight)]
    while result.inputs < count:
        rig = rigs[rng.getrandbits(1)]
        rig.now += 1_000_000  # 1 ms per input: timers never fire, SendingTime moves
        name, build = rng.choice(cases)
        example = f"{rig.begin.decode()} {name} #{result.inputs}"
        try:
            raw, expect, pieces = build(rng, rig)
            example += f": {raw!r}"
            if name == "random":  # how the reference judged it: silent (garbled), reject, or ref (unconstrained)
                result.cases[f"random->{expect.kind}"] += 1
            session_one(rig, raw, expect, pieces, name, example)
        except Exception as exc:  # noqa: BLE001 - the property under test: nothing escapes the session
            result.record("escape", f"{name}: {exception_site(exc)}", example + "\n" + traceback.format_exc(limit=-3))
            rigs[rigs.index(rig)] = SessionRig(rig.begin.decode(), result)
        result.cases[name] += 1
        result.inputs += 1
        if result.inputs % relogon_every == 0:
            for r in rigs:  # the message store grows with every message sent: a new day resets it
                r.logon()
        progress.tick()
    for rig in rigs:
        for k in range(rig.log.app_error_count):
            result.record("app-error", "the echo application raised",
                          rig.log.app_errors[k] if k < len(rig.log.app_errors) else "")
    progress.finish()
    return result


def session_one(rig: SessionRig, raw: bytes, expect: Expect, pieces: list[bytes] | None, name: str,
                 example: str) -> None:
    """Feed one input, compare the replies with ``expect``, then heal and probe."""
    s = rig.session
    seq_before = s.next_target_seq
    replies = rig.feed(raw, pieces)
    problems = _compare(rig, expect, replies, seq_before)
    if expect.then is not None and not problems:
        follow = rig.feed(expect.then)
        if [m.msg_type() for m in follow] != [b"0"] or follow[0].get(112) != expect.ids[0]:
            problems.append(f"after the gap fill the queued TestRequest was not answered: {[m.fields for m in follow]}")
    for problem in problems:
        rig.result.record("mismatch", f"{name}: {problem.split(':')[0]}",
                          f"{example}\n  {problem}\n  replies: {[m.fields for m in replies]!r}")
    rig.heal()
    rig.probe(example)


def _compare(rig: SessionRig, e: Expect, replies: list[FixMessage], seq_before: int) -> list[str]:
    """Differences between the replies (and the session's state) and what ``e`` prescribes."""
    s = rig.session
    types = [m.msg_type() for m in replies]
    problems: list[str] = []
    if e.kind == "ref":
        return problems  # unclassified: no prescription beyond "nothing escapes" and the probe after it
    want = {"silent": [], "reject": [b"3"], "reject_logout": [b"3", b"5"], "logout": [b"5"], "too_low": [b"5"],
            "resend": [b"2"], "heartbeat": [b"0"], "two_heartbeats": [b"0", b"0"], "bmr": [b"j"],
            "echo": [e.ref_type]}[e.kind]
    if types != want:
        return [f"expected {[t.decode() for t in want]}, got {[t.decode() for t in types]}"]
    advanced = s.next_target_seq - seq_before
    want_advance = 2 if e.kind == "two_heartbeats" else int(e.consumed)
    if e.kind not in ("too_low", "resend") and advanced != want_advance:
        problems.append(f"MsgSeqNum consumption: expected +{want_advance}, advanced +{advanced}")
    first = replies[0] if replies else None
    if e.kind in ("reject", "reject_logout"):
        fix42 = rig.begin == b"FIX.4.2"
        if e.reason is not None and (not fix42 or e.reason <= 11) and first.get(373) != b"%d" % e.reason:
            problems.append(f"373: expected {e.reason}, got {first.get(373)!r}")
        if e.ref_tag is not None and first.get(371) != b"%d" % e.ref_tag:
            problems.append(f"371: expected {e.ref_tag}, got {first.get(371)!r}")
        if e.ref_tag is None and first.get(371) is not None:
            problems.append(f"371: expected none, got {first.get(371)!r}")
        if first.get(45) != e.ref_seq:
            problems.append(f"45: expected {e.ref_seq!r}, got {first.get(45)!r}")
        if first.get(372) != e.ref_type:
            problems.append(f"372: expected {e.ref_type!r}, got {first.get(372)!r}")
    if e.kind in ("reject_logout", "logout") and not (s.sent_logout and s.connected_now):
        problems.append("state: the session should have sent a Logout and wait for the answer")
    if e.kind in ("logout", "too_low") and e.text is not None and replies[-1].get(58) != e.text.encode():
        problems.append(f"58: expected {e.text!r}, got {replies[-1].get(58)!r}")
    if e.kind == "too_low" and (rig.disconnected is None or s.connected_now):
        problems.append("state: MsgSeqNum too low must disconnect")
    if e.kind in ("silent", "reject", "heartbeat", "two_heartbeats", "bmr", "echo") and \
            (rig.disconnected is not None or not s.logged_on):
        problems.append("state: the session should still be logged on")
    if e.kind == "resend" and (first.get(7) != b"%d" % seq_before or first.get(16) != b"0"):
        problems.append(f"ResendRequest: expected 7={seq_before} 16=0, got {first.fields!r}")
    if e.kind in ("heartbeat", "two_heartbeats") and tuple(m.get(112) for m in replies) != e.ids:
        problems.append(f"112: expected {e.ids!r}, got {[m.get(112) for m in replies]!r}")
    if e.kind == "bmr" and (first.get(380) != b"3" or first.get(45) != e.ref_seq or first.get(372) != e.ref_type):
        problems.append(f"BusinessMessageReject: expected 380=3 45={e.ref_seq!r} 372={e.ref_type!r}")
    if e.kind == "echo" and first.get(11) != (e.ids[0] if e.ids else None):
        problems.append(f"echo: ClOrdID expected {e.ids!r}, got {first.get(11)!r}")
    return problems
