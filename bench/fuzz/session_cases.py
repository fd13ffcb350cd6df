"""The classified session cases: each returns (bytes, Expect, chunks or None)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.fuzz.frames import NS, SOH, Fields, assemble, chunks, fence, garbage, random_bytes
from bench.fuzz.messages import NO_EQUALS, assemble_mutated, mutate_bytes, mutate_fields

if TYPE_CHECKING:  # the rig imports the case table: only the annotation needs the class
    from bench.fuzz.session_target import SessionRig

from sim.fix.codec import (
    _DATA_LENGTH_TAGS,
    DATA_FIELDS,
    FrameReader,
    GarbledFrame,
    decode,
)
from sim.fix.dictionary import Dictionary
from sim.fix.validation import validate

# -- the classified session cases: each returns (bytes, Expect, chunks or None) ------------------------


@dataclass
class Expect:
    """The answer the session layer prescribes for one input."""

    kind: str  # silent, reject, reject_logout, logout, too_low, resend, heartbeat, bmr, echo, two_heartbeats, ref
    consumed: bool = True           # does the input use up the expected MsgSeqNum?
    reason: int | None = None       # SessionRejectReason(373)
    ref_tag: int | None = None      # RefTagID(371); None = absent
    ref_seq: bytes | None = None    # RefSeqNum(45); None = absent
    ref_type: bytes | None = None   # RefMsgType(372)
    text: str | None = None         # a Logout's Text(58)
    ids: tuple[bytes, ...] = ()     # TestReqID(s) a Heartbeat must echo, or the ClOrdID an echo carries
    then: bytes | None = None       # sent after the input (a gap fill), answered with a Heartbeat of ids[0]


def _base(rng: random.Random, rig: SessionRig) -> tuple[bytes, Fields]:
    """A good TestRequest or NewOrderSingle body, for the cases that plant one defect in it."""
    if rng.random() < 0.5:
        return b"1", [(b"112", b"T%d" % rng.randint(1, 10**6))]
    return b"D", [(b"11", b"C%d" % rng.randint(1, 10**9))] + [
        (b"%d" % t, rig.factory.value(rng, t)) for t in sorted(rig.dd.messages[b"D"].required) if t != 11]


def _reject(rig: SessionRig, fields: Fields, reason: int, ref_tag: int | None, *, consumed: bool = True,
            seq: bytes | None = None, begin: bytes | None = None) -> tuple[bytes, Expect, None]:
    """A frame of ``fields`` that must get Reject(3) ``reason``/``ref_tag``."""
    seq_raw = dict(fields).get(b"34") if seq is None else seq
    msg_type = fields[0][1] if fields[0][0] == b"35" else None
    e = Expect("reject", consumed, reason, ref_tag, seq_raw or None, msg_type or None)
    return assemble(begin or rig.begin, fields), e, None


def case_garbled(rng: random.Random, rig: SessionRig) -> tuple[bytes, Expect, None]:
    """A frame the codec must call garbled: no answer, MsgSeqNum not consumed (FIX item 29)."""
    msg_type, body = _base(rng, rig)
    fields = rig.fields(msg_type, body)
    good = assemble(rig.begin, fields)
    op = rng.choice(("checksum", "checksum_alpha", "body_shorter", "body_longer", "body_nondigit", "truncate",
                     "soh_removed", "bad_tag", "no_equals", "third_not_35", "data_length", "tag_out_of_range",
                     "bitflip", "trailer_missing"))
    if op == "checksum":
        cs = int(good[-4:-1])
        raw = good[:-4] + b"%03d" % ((cs + rng.randint(1, 255)) % 256) + SOH
    elif op == "checksum_alpha":
        raw = good[:-4] + rng.choice((b"1a3", b"12", b"1234", b"")) + SOH
    elif op == "body_shorter":
        raw = assemble(rig.begin, fields, body_length=b"%d" % (len(good) - rng.randint(30, 40)))
    elif op == "body_longer":
        raw = assemble(rig.begin, fields, body_length=b"%d" % (len(good) + rng.randint(1, 300)))
    elif op == "body_nondigit":
        raw = assemble(rig.begin, fields, body_length=rng.choice((b"", b"x", b"-5", b"1e2")))
    elif op == "truncate":
        raw = good[:rng.randrange(1, len(good) - 1)]
    elif op == "soh_removed":
        positions = [i for i in range(good.find(b"\x0135=") + 1, len(good) - 8) if good[i] == 1]
        i = rng.choice(positions)
        raw = good[:i] + good[i + 1:]
    elif op == "bad_tag":
        raw = assemble(rig.begin, fields + [(rng.choice((b"ab", b"", b"1a", b"+5", b" 12", b"\xe9")), b"x")])
    elif op == "no_equals":
        raw = assemble_mutated(rig.begin, fields + [(NO_EQUALS, b"")])
    elif op == "third_not_35":
        raw = assemble(rig.begin, [fields[1], fields[0], *fields[2:]])
    elif op == "data_length":
        raw = assemble(rig.begin, fields[:5] + [(b"90", b"%d" % rng.choice((5, 6))), (b"91", b"ab\x01c")]
                       + fields[5:])
    elif op == "tag_out_of_range":
        raw = assemble(rig.begin, fields + [(b"%d" % rng.choice((2**31, 2**40, -(2**31) - 1)), b"x")])
    elif op == "bitflip":  # one flip changes the byte sum by +-2**k: the CheckSum can never match
        i = rng.randrange(len(good))
        raw = good[:i] + bytes([good[i] ^ (1 << rng.randrange(8))]) + good[i + 1:]
    else:
        raw = good[:good.rfind(b"\x0110=") + 1]
    return raw, Expect("silent", consumed=False), None


def case_unknown_tag(rng: random.Random, rig: SessionRig):
    """An undefined tag (0, negative, user range) at the end of the body: Reject 0 with its number."""
    msg_type, body = _base(rng, rig)
    tag = rng.choice(rig.factory.unknown_tags)
    return _reject(rig, rig.fields(msg_type, body + [(b"%d" % tag, b"x")]), 0, tag)


def case_not_in_message(rng: random.Random, rig: SessionRig):
    """A defined tag this message type does not have (valid value): Reject 2."""
    msg_type, body = _base(rng, rig)
    mdef = rig.dd.messages[msg_type]
    choices = _foreign_tags(rig.dd, msg_type, mdef)
    tag = rng.choice(choices)
    return _reject(rig, rig.fields(msg_type, body + [(b"%d" % tag, rig.factory.value(rng, tag))]), 2, tag)


_FOREIGN: dict[tuple[str, bytes], list[int]] = {}


def _foreign_tags(dd: Dictionary, msg_type: bytes, mdef) -> list[int]:
    key = (dd.begin_string, msg_type)
    if key not in _FOREIGN:
        members = set()
        for g in mdef.groups.values():
            stack = [g]
            while stack:
                x = stack.pop()
                members |= x.members
                stack += x.groups.values()
        _FOREIGN[key] = sorted(t for t in dd.fields if 0 < t < 1000 and t not in mdef.fields and t not in members
                               and t not in dd.header_tags and t not in dd.trailer_tags
                               and t not in DATA_FIELDS and t not in _DATA_LENGTH_TAGS
                               and dd.types.get(t) != "NUMINGROUP")
    return _FOREIGN[key]


def case_empty_value(rng: random.Random, rig: SessionRig):
    """A field without a value (header or body): Reject 4; an empty MsgSeqNum is not consumed."""
    msg_type, body = _base(rng, rig)
    fields = rig.fields(msg_type, body)
    i = rng.randrange(1, len(fields))
    tag = fields[i][0]
    fields[i] = (tag, b"")
    return _reject(rig, fields, 4, int(tag), consumed=tag != b"34")


def case_bad_format(rng: random.Random, rig: SessionRig):
    """A value of the wrong type (MsgSeqNum, SendingTime, OrderQty, TransactTime, Side): Reject 6."""
    msg_type, body = _base(rng, rig)
    fields = rig.fields(msg_type, body)
    targets = [b"34", b"52"] + ([b"38", b"60", b"54"] if msg_type == b"D" else [])
    tag = rng.choice(targets)
    # MsgSeqNum values are bad both as INT (FIX 4.2) and as SEQNUM (FIX 4.4).
    bad = {b"34": (b"abc", b"1.0", b"9" * 25, b"2x", b"+1"), b"52": (b"2026-01-02", b"20261301-09:30:00", b"yesterday"),
           b"38": (b"abc", b"1e5", b"+10", b"1.5.5", b" 10"), b"60": (b"20260102 09:30:00", b"20260102-25:00:00"),
           b"54": (b"12", b"11")}[tag]
    value = rng.choice(bad)
    k = next(k for k, (t, _) in enumerate(fields) if t == tag) if any(t == tag for t, _ in fields) else None
    if k is None:
        fields.append((tag, value))
    else:
        fields[k] = (tag, value)
    return _reject(rig, fields, 6, int(tag), consumed=tag != b"34")


def case_bad_enum(rng: random.Random, rig: SessionRig):
    """A value outside the field's enumeration (Side, OrdType, HandlInst): Reject 5."""
    fields = rig.fields(b"D", _base_d(rng, rig))
    tag = rng.choice((b"54", b"40") + ((b"21",) if any(t == b"21" for t, _ in fields) else ()))
    allowed = rig.dd.enum_sets[int(tag)]
    value = rng.choice([v for v in (b"Z", b"Q", b"0", b"9", b"?", b"z") if v not in allowed])
    k = next(k for k, (t, _) in enumerate(fields) if t == tag)
    fields[k] = (tag, value)
    return _reject(rig, fields, 5, int(tag))


def _base_d(rng: random.Random, rig: SessionRig) -> Fields:
    while True:
        msg_type, body = _base(rng, rig)
        if msg_type == b"D":
            return body


def case_duplicate(rng: random.Random, rig: SessionRig):
    """A field repeated right after itself: Reject 13 with its tag (the first copy's MsgSeqNum counts)."""
    msg_type, body = _base(rng, rig)
    fields = rig.fields(msg_type, body)
    i = rng.randrange(1, len(fields))
    fields.insert(i, fields[i])
    return _reject(rig, fields, 13, int(fields[i][0]))


def case_missing_required(rng: random.Random, rig: SessionRig):
    """A required field left out (header or body): Reject 1 with its tag; no MsgSeqNum, not consumed."""
    msg_type, body = _base(rng, rig)
    fields = rig.fields(msg_type, body)
    required = {b"49", b"56", b"34", b"52"} | {b"%d" % t for t in rig.dd.messages[msg_type].required}
    i = rng.choice([k for k, (t, _) in enumerate(fields) if t in required])
    tag = fields.pop(i)[0]
    return _reject(rig, fields, 1, int(tag), consumed=tag != b"34")


def case_header_after_body(rng: random.Random, rig: SessionRig):
    """A header field (MsgSeqNum or SendingTime) after the body: Reject 14."""
    msg_type, body = _base(rng, rig)
    fields = rig.fields(msg_type, body)
    i = rng.choice((3, 4))  # 34 or 52
    tag = fields[i][0]
    fields.append(fields.pop(i))
    return _reject(rig, fields, 14, int(tag))


def case_invalid_msg_type(rng: random.Random, rig: SessionRig):
    """A MsgType the dictionary does not know (or empty): Reject 11, no RefTagID."""
    value = next(v for v in (rng.choice((b"ZZ", b"DD", b"", b"\xe9", b"QQ")), b"ZZ") if v not in rig.dd.messages)
    return _reject(rig, rig.fields(value, [(b"112", b"x")]), 11, None)


def case_group_count(rng: random.Random, rig: SessionRig):
    """A NumInGroup that does not match the entries that follow: Reject 16 with the count tag."""
    body = _base_d(rng, rig)
    if rig.begin == b"FIX.4.4":
        count_tag, entry = b"453", [(b"448", b"P%d" % rng.randint(1, 99)), (b"447", b"D"), (b"452", b"1")]
    else:
        count_tag, entry = b"78", [(b"79", b"ACC%d" % rng.randint(1, 99)), (b"80", b"%d" % rng.randint(1, 99))]
    entries = rng.randint(1, 3)
    declared = rng.choice([n for n in (0, 1, 2, 3, 4, 7) if n != entries])
    body = sorted(body + [(count_tag, b"%d" % declared)], key=lambda f: int(f[0]))
    k = body.index((count_tag, b"%d" % declared))
    body[k + 1:k + 1] = entry * entries
    return _reject(rig, rig.fields(b"D", body), 16, int(count_tag))


def case_comp_id(rng: random.Random, rig: SessionRig):
    """The wrong SenderCompID or TargetCompID: Reject 9, then Logout (QuickFIX's verify)."""
    msg_type, body = _base(rng, rig)
    fields = rig.fields(msg_type, body)
    i = rng.choice((1, 2))
    fields[i] = (fields[i][0], rng.choice((b"XX", b"ISLD2", b"tw", b"TW ")))
    raw = assemble(rig.begin, fields)
    return raw, Expect("reject_logout", True, 9, None, fields[3][1], msg_type), None


def case_sending_time(rng: random.Random, rig: SessionRig):
    """A SendingTime more than 120 s off: Reject 10, then Logout."""
    msg_type, body = _base(rng, rig)
    fields = rig.fields(msg_type, body)
    fields[4] = (b"52", rig.stamp(rng.choice((-1, 1)) * rng.randint(121, 86_400) * NS))
    return assemble(rig.begin, fields), Expect("reject_logout", True, 10, None, fields[3][1], msg_type), None


def case_begin_string(rng: random.Random, rig: SessionRig):
    """Another BeginString: Logout "Incorrect BeginString" (the MsgSeqNum is consumed)."""
    msg_type, body = _base(rng, rig)
    other = rng.choice([b for b in (b"FIX.4.2", b"FIX.4.4", b"FIX.4.3", b"FIXT.1.1", b"FIX.4.4 ") if b != rig.begin])
    raw = assemble(other, rig.fields(msg_type, body))
    return raw, Expect("logout", True, text="Incorrect BeginString"), None


def case_seq_too_low(rng: random.Random, rig: SessionRig):
    """MsgSeqNum lower than expected, no PossDupFlag: Logout saying so, and disconnect."""
    expected = rig.session.next_target_seq
    seq = rng.randint(1, expected - 1)
    raw = rig.frame(b"1", [(b"112", b"LOW")], seq=seq)
    return raw, Expect("too_low", False, text=f"MsgSeqNum too low, expecting {expected} but received {seq}"), None


def case_possdup(rng: random.Random, rig: SessionRig):
    """MsgSeqNum too low with PossDupFlag=Y: ignored; or Reject 1/122 without OrigSendingTime; or Reject 10 + Logout."""
    expected = rig.session.next_target_seq
    seq = rng.randint(1, expected - 1)
    variant = rng.choice(("ok", "no_orig", "orig_later"))
    header: Fields = [(b"43", b"Y")]
    if variant == "ok":
        header.append((b"122", rig.stamp(-NS)))
    elif variant == "orig_later":
        header.append((b"122", rig.stamp(5 * NS)))
    raw = rig.frame(b"1", [(b"112", b"DUP")], seq=seq, header=header)
    if variant == "ok":
        return raw, Expect("silent", consumed=False), None
    if variant == "no_orig":
        return raw, Expect("reject", False, 1, 122, b"%d" % seq, b"1"), None
    return raw, Expect("reject_logout", False, 10, None, b"%d" % seq, b"1"), None


def case_seq_too_high(rng: random.Random, rig: SessionRig):
    """MsgSeqNum higher than expected: ResendRequest 7=expected 16=0; a gap fill then releases the queued one."""
    expected = rig.session.next_target_seq
    seq = expected + rng.randint(1, 500)
    tid = b"HIGH%d" % seq
    raw = rig.frame(b"1", [(b"112", tid)], seq=seq)
    gap_fill = rig.frame(b"4", [(b"36", b"%d" % seq), (b"123", b"Y")], seq=expected,
                         header=[(b"43", b"Y"), (b"122", rig.stamp(-NS))])
    return raw, Expect("resend", consumed=False, ids=(tid,), then=gap_fill), None


def case_generated_app(rng: random.Random, rig: SessionRig):
    """A generated valid application message: echoed (D, d) or BusinessMessageReject 380=3."""
    for _ in range(10):
        msg_type = rng.choice(rig.factory.app_types)
        fields = rig.fields(msg_type, rig.factory.body(rng, msg_type))
        raw = assemble(rig.begin, fields)
        if validate(decode(raw), rig.dd) is None:
            break
    else:
        return raw, Expect("ref"), None
    if msg_type in (b"D", b"d"):
        cl = dict(fields).get(b"11")
        return raw, Expect("echo", ref_type=msg_type, ids=(cl,) if cl is not None else ()), None
    return raw, Expect("bmr", ref_seq=fields[3][1], ref_type=msg_type), None


def case_weird_valid(rng: random.Random, rig: SessionRig):
    """A legal but unusual TestRequest (non-ASCII, '=', long, SecureData with SOH): answered normally."""
    tid = rng.choice((b"T=1=2", "é€日本".encode(), b"\xff\xfe\x80", b" spaced ", b"A" * rng.randint(100, 60_000),
                      b"9" * 5000, b"x"))
    header: Fields = []
    if rng.random() < 0.3:
        data = b"se" + SOH + b"c=" + random_bytes(rng, 5).replace(SOH, b"")
        header = [(b"90", b"%d" % len(data)), (b"91", data)]
    raw = rig.frame(b"1", [(b"112", tid)], header=header)
    return raw, Expect("heartbeat", ids=(tid,)), None


def case_chunked(rng: random.Random, rig: SessionRig):
    """A good TestRequest delivered in random pieces (a byte at a time at worst): answered once."""
    tid = b"C%d" % rng.randint(1, 10**6)
    raw = rig.frame(b"1", [(b"112", tid)])
    return raw, Expect("heartbeat", ids=(tid,)), chunks(rng, raw, rng.choice((2, 5, len(raw))))


def case_garbage_between(rng: random.Random, rig: SessionRig):
    """Garbage before, between and after two good TestRequests in one read: both answered, in order."""
    seq = rig.session.next_target_seq
    a, b = b"G%d" % rng.randint(1, 10**6), b"H%d" % rng.randint(1, 10**6)
    raw = (garbage(rng) + rig.frame(b"1", [(b"112", a)], seq=seq) + garbage(rng)
           + rig.frame(b"1", [(b"112", b)], seq=seq + 1) + garbage(rng))
    e = Expect("two_heartbeats", ids=(a, b))
    return raw, e, None


def case_random(rng: random.Random, rig: SessionRig):
    """An unclassified mutation of any message type: judged by the reference verdict (decode, then validate)."""
    if rng.random() < 0.5:
        msg_type, body = _base(rng, rig)
    else:
        msg_type = rng.choice(rig.factory.all_types)
        body = rig.factory.body(rng, msg_type)
    fields = rig.fields(msg_type, body)
    if rng.random() < 0.5:
        _, fields = mutate_fields(rng, fields, rig.factory)
        raw = assemble_mutated(rig.begin, fields)
    else:
        _, raw = mutate_bytes(rng, assemble(rig.begin, fields), [assemble(rig.begin, rig.fields(b"0"))])
    return raw, reference_verdict(rig, raw), None


def reference_verdict(rig: SessionRig, raw: bytes) -> Expect:
    """What any input must get, from the codec and dictionary alone: garbled -> silence, a violation -> Reject.

    Only when the framing is unambiguous (the input is exactly one frame).  A valid message is left
    to the session's sequence and CompID rules (``ref``: no prescription beyond the probe after it).
    """
    reader = FrameReader(max_frame_bytes=rig.max_frame)
    reader.feed(raw + fence(raw, rig.max_frame))
    frames = list(reader)
    if not frames or frames[0] != raw or len(frames) > 2:
        return Expect("ref")
    try:
        msg = decode(raw)
    except GarbledFrame:
        return Expect("silent", consumed=False)
    if msg.get(8) != rig.begin or msg.msg_type() == b"A":
        return Expect("ref")
    violation = validate(msg, rig.dd)
    if violation is None:
        return Expect("ref")
    seq_raw = msg.get(34)
    consumed = bool(seq_raw) and seq_raw.isdigit() and len(seq_raw) <= 18 and \
        int(seq_raw) == rig.session.next_target_seq and msg.msg_type() not in (b"A", b"4")
    return Expect("reject", consumed, violation.reason, violation.ref_tag if (violation.ref_tag or violation.reason == 0)
                  else None, seq_raw or None, msg.msg_type() or None)


SESSION_CASES: list[tuple[str, Callable, int]] = [
    ("garbled", case_garbled, 6), ("unknown_tag", case_unknown_tag, 2), ("not_in_message", case_not_in_message, 2),
    ("empty_value", case_empty_value, 2), ("bad_format", case_bad_format, 2), ("bad_enum", case_bad_enum, 2),
    ("duplicate", case_duplicate, 2), ("missing_required", case_missing_required, 2),
    ("header_after_body", case_header_after_body, 1), ("invalid_msg_type", case_invalid_msg_type, 1),
    ("group_count", case_group_count, 2), ("comp_id", case_comp_id, 1), ("sending_time", case_sending_time, 1),
    ("begin_string", case_begin_string, 1), ("seq_too_low", case_seq_too_low, 1), ("possdup", case_possdup, 1),
    ("seq_too_high", case_seq_too_high, 1), ("generated_app", case_generated_app, 3),
    ("weird_valid", case_weird_valid, 1), ("chunked", case_chunked, 1), ("garbage_between", case_garbage_between, 1),
    ("random", case_random, 8),
]
