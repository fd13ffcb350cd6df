"""Message validation against a data dictionary, in QuickFIX's exact order of checks.

The conformance harness is QuickFIX's own session-level acceptance suite, so *which*
problem is reported when a message has several is part of the contract.  The order below
is QuickFIX 1.16's (``Session::next`` -> ``DataDictionary::validate`` -> ``iterate``),
read from its C++ source; the reason codes and texts are its ``SessionRejectReason``
ones.

``validate(msg, dd)`` runs, first problem wins:

1. SenderCompID(49), then TargetCompID(56) present -> else reason 1 (``Session::next``
   checks these before anything else, so a missing one is never a CompID problem).
   The session then compares BeginString (a mismatch is a Logout, not a Reject) --
   call :func:`check_comp_ids_present` first if that ordering matters to you.
2. Structure: fields are classified header / body / trailer as they arrive (repeating
   groups are consumed with their count tag).  The first header tag after a body tag, or
   body/header tag after a trailer tag -> 14 "Tag specified out of required order".
3. MsgType unknown to the dictionary -> 11 (no RefTagID).
4. Required fields: header (ascending tag), trailer, body (ascending tag), then each group
   entry's required members (groups in ascending count-tag order) -> 1.
5. Field by field -- header sorted (8, 9, 35, then ascending tag), trailer, then body
   sorted by ascending tag (QuickFIX sorts its field maps; that is why a repeated tag is
   found as "same tag as the previous one") -- for each field in turn:
   repeated -> 13, empty -> 4, bad format -> 6, not in the enumeration -> 5, unknown
   tag (incl. 0, negative, 5000+) -> 0; and for body fields only: not defined for this
   message type -> 2, NumInGroup differs from the entries found -> 16.
6. (Beyond QuickFIX, which stops at 5: the members of each repeating group entry are
   checked for empty value 4, format 6, enumeration 5, unknown tag 0 and nested group
   counts 16.  Runs last, so it never changes what QuickFIX would report first.)

Not here, the session's job after ``validate`` passes (``Session::verify``):
SendingTime accuracy (10) *before* CompID (9), then sequence numbers.  Use
:func:`sending_time_problem` / :func:`comp_id_problem` to build those violations.

Format rules are QuickFIX's convertors: int (``-``? digits, int32), SeqNum (digits,
uint64), floats (``-``? then ``d+``, ``d+.``, ``d+.d+`` or ``.d+``; no ``+``, no
exponent, no spaces), char (exactly one byte), boolean (``Y``/``N``), UTCTimestamp
(``YYYYMMDD-HH:MM:SS`` with optional ``.`` and 0-9 fraction digits; month 1-12, day 1-31,
hour <= 23, minute <= 59, second <= 60), UTCTimeOnly, UTCDate (``YYYYMMDD``).  QuickFIX
does not check UTCDATEONLY, LOCALMKTDATE, MONTHYEAR or strings; ``strict=True`` also
checks those three date types.

Speed: everything except the value checks (empty 4, format 6, enumeration 5, NumInGroup
count 16) depends only on MsgType and the tag sequence, so validate compiles that part once per
``(MsgType, tags)`` into a plan kept on the Dictionary (bounded, cleared when full) and then
walks only the values: NewOrderSingle 20-33 us -> 6-10 us on the dev box
(``bench/bench_fix_path.py``).  The UTCTimestamp check caches the verdict of its fixed 17-byte
date-time head (regex + five int() calls, ~1.8 us -> ~0.6 us per value); int and float checks
try ``bytes.isdigit`` before their regexes.  A differential fuzz against the uncached
implementation (300k messages: structure, values, groups, strict, group members on/off) agreed
on every verdict.

Everything validate returns is session-level (``kind="session"``, Reject 35=3): QuickFIX's
dictionary never produces a BusinessMessageReject.  Those (380) come from the
application, e.g. :func:`unsupported_message_type`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import itemgetter
from typing import Literal

from .codec import FixMessage
from .dictionary import Dictionary, GroupDef, consume_group

__all__ = ["Violation", "validate", "check_comp_ids_present", "comp_id_problem", "sending_time_problem",
           "unsupported_message_type", "SESSION_REJECT_TEXT", "BUSINESS_REJECT_TEXT"]

SESSION_REJECT_TEXT = {
    0: "Invalid tag number",
    1: "Required tag missing",
    2: "Tag not defined for this message type",
    3: "Undefined Tag",
    4: "Tag specified without a value",
    5: "Value is incorrect (out of range) for this tag",
    6: "Incorrect data format for value",
    7: "Decryption problem",
    8: "Signature problem",
    9: "CompID problem",
    10: "SendingTime accuracy problem",
    11: "Invalid MsgType",
    13: "Tag appears more than once",
    14: "Tag specified out of required order",
    15: "Repeating group fields out of order",
    16: "Incorrect NumInGroup count for repeating group",
}
BUSINESS_REJECT_TEXT = {
    0: "Other",
    1: "Unknown ID",
    2: "Unknown Security",
    3: "Unsupported Message Type",
    4: "Application not available",
    5: "Conditionally Required Field Missing",
    6: "Not authorized",
    7: "DeliverTo firm not available at this time",
}


@dataclass(frozen=True, slots=True)
class Violation:
    """Why a message is rejected: Reject(3) fields, or BusinessMessageReject(j) fields."""

    kind: Literal["session", "business"]
    reason: int  # SessionRejectReason(373) or BusinessRejectReason(380)
    ref_tag: int | None  # RefTagID(371); None = omit (0 is a real tag for reason 0)
    text: str  # Text(58)


def _v(reason: int, tag: int | None) -> Violation:
    return Violation("session", reason, tag, SESSION_REJECT_TEXT[reason])


def comp_id_problem() -> Violation:
    """Reason 9: SenderCompID/TargetCompID do not match the session."""
    return _v(9, None)


def sending_time_problem() -> Violation:
    """Reason 10: SendingTime too far off, or OrigSendingTime later than SendingTime."""
    return _v(10, None)


def unsupported_message_type() -> Violation:
    """BusinessMessageReject 380=3 for a valid application message we do not handle."""
    return Violation("business", 3, None, BUSINESS_REJECT_TEXT[3])


def check_comp_ids_present(msg: FixMessage) -> Violation | None:
    """Reason 1 when SenderCompID(49), then TargetCompID(56), is absent (QuickFIX's first check)."""
    tags = {t for t, _ in msg.fields}
    if 49 not in tags:
        return _v(1, 49)
    if 56 not in tags:
        return _v(1, 56)
    return None


# --------------------------------------------------------------------------- formats

_INT = re.compile(rb"-?[0-9]+")
_UINT = re.compile(rb"[0-9]+")
_FLOAT = re.compile(rb"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_TS = re.compile(rb"[0-9]{4}([0-9]{2})([0-9]{2})-([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{0,9})?")
_TIME = re.compile(rb"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{0,9})?")
_DATE = re.compile(rb"[0-9]{4}([0-9]{2})([0-9]{2})")
_MONTHYEAR = re.compile(rb"[0-9]{4}(0[1-9]|1[0-2])(?:[0-3][0-9]|w[1-5])?")


def _is_int(v: bytes) -> bool:
    # Plain digits (the usual case) skip the regex; anything else takes the exact rule.  Lengths are
    # checked before int(): CPython refuses to convert more than 4,300 digits (a fuzzed 4,301-digit
    # value raised out of validation), and no 32-bit value needs more than 11 characters anyway.
    if v.isdigit():
        return len(v) < 10 or (len(v) <= 11 and int(v) < 2**31)
    return len(v) <= 12 and _INT.fullmatch(v) is not None and -(2**31) <= int(v) < 2**31


def _is_seqnum(v: bytes) -> bool:
    # bytes.isdigit is exactly the regex's [0-9]+ (ASCII, non-empty); up to 19 digits is always
    # below 2**64, so int() only runs for the 20-digit case.  MsgSeqNum on every message.
    return v.isdigit() and (len(v) < 20 or (len(v) == 20 and int(v) < 2**64))


def _is_float(v: bytes) -> bool:
    # Digits with at most one '.' somewhere (``2000``, ``101.25``, ``1.``, ``.5``) are exactly the
    # unsigned forms the regex accepts; bytes.isdigit is ASCII-only.  Signs etc. take the regex.
    return v.replace(b".", b"", 1).isdigit() or _FLOAT.fullmatch(v) is not None


def _is_char(v: bytes) -> bool:
    return len(v) == 1


def _is_bool(v: bytes) -> bool:
    return v == b"Y" or v == b"N"


def _timestamp_head_ok(head: bytes) -> bool:
    """``YYYYMMDD-HH:MM:SS`` (the first 17 bytes) by the exact regex and range rules."""
    m = _TS.fullmatch(head)
    if m is None:
        return False
    mo, d, h, mi, s = (int(x) for x in m.groups())
    return 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60


#: verdict of _timestamp_head_ok per 17-byte head; cleared when full (a flood of distinct
#: garbage only costs the regex again, it cannot grow memory)
_TS_HEADS: dict[bytes, bool] = {}
_TS_HEADS_MAX = 4096


def _is_timestamp(v: bytes) -> bool:
    # The regex + five int() calls cost ~2.5 us per UTCTimestamp (tags 52 and 60 on every
    # order).  The regex's date-time part has a fixed length of 17 bytes, so its verdict is
    # cached per head (one entry per second of SendingTime) and only the optional fraction
    # (``.`` and 0-9 ASCII digits) is checked per value: ~0.3 us.
    if len(v) < 17:
        return False
    head = v[:17]
    ok = _TS_HEADS.get(head)
    if ok is None:
        ok = _timestamp_head_ok(head)
        if len(_TS_HEADS) >= _TS_HEADS_MAX:
            _TS_HEADS.clear()
        _TS_HEADS[head] = ok
    if not ok:
        return False
    n = len(v)
    return n == 17 or (v[17] == 46 and n <= 27 and (n == 18 or v[18:].isdigit()))


def _is_timeonly(v: bytes) -> bool:
    m = _TIME.fullmatch(v)
    if m is None:
        return False
    h, mi, s = (int(x) for x in m.groups())
    return h <= 23 and mi <= 59 and s <= 60


def _is_date(v: bytes) -> bool:
    m = _DATE.fullmatch(v)
    return m is not None and 1 <= int(m.group(1)) <= 12 and 1 <= int(m.group(2)) <= 31


def _is_monthyear(v: bytes) -> bool:
    return _MONTHYEAR.fullmatch(v) is not None


_CHECKS = {
    "INT": _is_int, "LENGTH": _is_int, "NUMINGROUP": _is_int, "TAGNUM": _is_int,
    "SEQNUM": _is_seqnum,
    "PRICE": _is_float, "AMT": _is_float, "QTY": _is_float, "FLOAT": _is_float,
    "PRICEOFFSET": _is_float, "PERCENTAGE": _is_float,
    "CHAR": _is_char, "BOOLEAN": _is_bool,
    "UTCTIMESTAMP": _is_timestamp, "TIME": _is_timestamp,
    "UTCTIMEONLY": _is_timeonly, "UTCDATE": _is_date,
}
_STRICT_EXTRA = {"UTCDATEONLY": _is_date, "LOCALMKTDATE": _is_date, "MONTHYEAR": _is_monthyear}


def _format_table(dd: Dictionary, strict: bool) -> dict[int, object]:
    attr = "_format_checks_strict" if strict else "_format_checks"
    table = getattr(dd, attr, None)
    if table is None:
        checks = dict(_CHECKS, **_STRICT_EXTRA) if strict else _CHECKS
        old = dd.begin_string < "FIX.4.2"  # QuickFIX: CHAR is a plain string before 4.2
        table = {t: checks[ty] for t, ty in dd.types.items()
                 if ty in checks and not (old and ty == "CHAR")}
        setattr(dd, attr, table)
    return table


# --------------------------------------------------------------------------- structure

# An entry of a repeating group: [fields, {count_tag: [entries]}]
Entry = list


_consume = consume_group


def _header_key(f: tuple[int, bytes]) -> tuple[int, int]:
    t = f[0]
    return (0, 8) if t == 8 else (0, 9) if t == 9 else (0, 35) if t == 35 else (1, t)


def _trailer_key(f: tuple[int, bytes]) -> tuple[int, int]:
    t = f[0]
    return (0, 0) if t == 93 else (0, 1) if t == 89 else (2, 0) if t == 10 else (1, t)


def _enum_ok(dd: Dictionary, tag: int, value: bytes, allowed: frozenset[bytes]) -> bool:
    if value in allowed:
        return True
    if tag in dd.multi_value:
        return all(part in allowed for part in value.split(b" "))
    return False


def _count(val: bytes) -> int:
    try:
        return int(val)
    except ValueError:
        return -1


def _required_in(entry: Entry, g: GroupDef) -> Violation | None:
    present = {t for t, _ in entry[0]}
    for t in g.required:
        if t not in present:
            return _v(1, t)
    for gtag in sorted(entry[1]):
        sub = g.groups.get(gtag)
        if sub is not None:
            for e in entry[1][gtag]:
                if (v := _required_in(e, sub)) is not None:
                    return v
    return None


#: Plans kept per dictionary; cleared when full, so hostile traffic with ever-new tag
#: sequences costs a compile per message (the uncached cost) but cannot grow memory.
_PLAN_CACHE_MAX = 1024
_first = itemgetter(0)


def validate(msg: FixMessage, dd: Dictionary, *, strict: bool = False,
             check_group_members: bool = True) -> Violation | None:
    """First problem in ``msg`` by QuickFIX's order (see module docstring), or None.

    Every check except empty value (4), format (6), enumeration (5) and NumInGroup count (16)
    depends only on the MsgType and the sequence of tags, so that part is compiled once per
    ``(MsgType, tags)`` into a plan (:func:`_compile`): either the structural violation to
    report, or the list of fields in QuickFIX's checking order with their value checks and
    what follows them.  A NewOrderSingle went from ~25 us to ~6 us (see ``bench/bench_fix_path.py``).

    Runtime complexity: O(n) in the number of fields; O(n log n) the first time a tag sequence
    is seen.
    """
    fields = msg.fields
    msg_type = fields[2][1] if len(fields) > 2 and fields[2][0] == 35 else msg.msg_type()
    key = (strict, check_group_members, msg_type, tuple(map(_first, fields)))
    plans = dd.validation_plans
    plan = plans.get(key)
    if plan is None:
        plan = _compile(key[3], msg_type, dd, strict, check_group_members)
        if len(plans) >= _PLAN_CACHE_MAX:
            plans.clear()
        plans[key] = plan
    early, items, final, fast = plan
    if early is not None:
        return early
    if fast is not None:
        # The common case, a message that passes: only the checks that can fail, with no order
        # to respect (nothing fails).  Any failure falls through to the ordered walk below, which
        # finds the *first* problem as QuickFIX would.  NewOrderSingle: 37k -> 28k instructions
        # (cachegrind; the tag tuple and the plan's dict look-up are 7k of it).
        unchecked, checks, enums, counts = fast
        for i in unchecked:
            if not fields[i][1]:
                break
        else:
            for i, chk in checks:
                if not chk(fields[i][1]):
                    break
            else:
                for i, allowed in enums:
                    if fields[i][1] not in allowed:
                        break
                else:
                    for i, count in counts:
                        if _count(fields[i][1]) != count:
                            break
                    else:
                        return final
    for i, tag, chk, allowed, post in items:
        val = fields[i][1]
        if not val:
            return _v(4, tag)
        if chk is not None and not chk(val):
            return _v(6, tag)
        if allowed is not None and val not in allowed and not _enum_ok(dd, tag, val, allowed):
            return _v(5, tag)
        if post is not None:
            if type(post) is not int:
                return post  # unknown tag (0) / not in this message type (2): after the value checks
            if _count(val) != post:
                return _v(16, tag)
    return final


# A plan item: (index into msg.fields, tag, format check or None, enumeration or None, post)
# where post is None, a Violation to return once the value checks pass, or the number of group
# entries found (the NumInGroup value must equal it, else 16).
PlanItem = tuple


def _compile(tags: tuple[int, ...], msg_type: bytes, dd: Dictionary, strict: bool,
             check_group_members: bool) -> tuple:
    """:func:`_compile_items` plus the fast all-pass check of its items (:func:`_fast_checks`):
    ``(violation, None, None, None)`` or ``(None, items, final, fast)``."""
    early, items, final = _compile_items(tags, msg_type, dd, strict, check_group_members)
    if early is not None:
        return early, None, None, None
    return None, items, final, _fast_checks(items)


def _fast_checks(items: list[PlanItem]) -> tuple | None:
    """The value checks of a plan without their order: ``(positions checked only for emptiness,
    format checks, enumerations, NumInGroup counts)``.

    None when some item always fails (an unknown tag or one not in the message type), so the
    ordered walk must decide.  A value that has a format check or an enumeration is not checked
    for emptiness apart, when the empty value fails that check anyway; a format check is left out
    where the enumeration implies it (every allowed value passes it: CHAR enums such as Side); a
    multi-value field (MultipleValueString) fails over to the ordered walk unless its value is a
    single allowed one.
    """
    unchecked, checks, enums, counts = [], [], [], []
    for pos, _tag, chk, allowed, post in items:
        if post is not None:
            if type(post) is not int:
                return None
            counts.append((pos, post))
        if allowed is not None:
            enums.append((pos, allowed))
            if chk is not None and all(chk(a) for a in allowed):
                chk = None
        if chk is not None:
            checks.append((pos, chk))
        if not ((allowed is not None and b"" not in allowed) or (chk is not None and not chk(b""))):
            unchecked.append(pos)
    return tuple(unchecked), tuple(checks), tuple(enums), tuple(counts)


def _compile_items(tags: tuple[int, ...], msg_type: bytes, dd: Dictionary, strict: bool,
                   check_group_members: bool) -> tuple[Violation | None, list[PlanItem] | None, Violation | None]:
    """QuickFIX's checks on a tag sequence: ``(violation, None, None)`` when the structure alone
    decides (steps 1-4), else ``(None, items, final)`` -- the value checks of steps 5-6 in
    order, then ``final`` (a repeated tag's 13, or None).

    The algorithm is the one the uncached validate ran, applied to ``(tag, index)`` pairs in
    place of ``(tag, value)`` fields: group consumption and required-field checks read tags
    only, so the entries it builds carry positions instead of values.
    """
    fields = [(t, i) for i, t in enumerate(tags)]
    present_all = set(tags)
    if 49 not in present_all:
        return _v(1, 49), None, None
    if 56 not in present_all:
        return _v(1, 56), None, None
    formats = _format_table(dd, strict)
    mdef = dd.messages.get(msg_type)
    body_group_defs = mdef.groups if mdef is not None else {}
    header_group_defs = dd.header_groups
    htags, ttags = dd.header_tags, dd.trailer_tags

    # -- 2. structure --------------------------------------------------------------------
    header: list = []
    body: list = []
    trailer: list = []
    hgroups: dict[int, list[Entry]] = {}
    bgroups: dict[int, list[Entry]] = {}
    section = 0  # 0 header, 1 body, 2 trailer
    out_of_order = None
    i, n = 0, len(fields)
    while i < n:
        f = fields[i]
        tag = f[0]
        i += 1
        if tag in htags:
            if section and out_of_order is None:
                out_of_order = tag
            header.append(f)
            g = header_group_defs.get(tag)
            if g is not None:
                entries, i = _consume(fields, i, n, g)
                hgroups.setdefault(tag, []).extend(entries)
        elif tag in ttags:
            section = 2
            trailer.append(f)
        else:
            if section == 2 and out_of_order is None:
                out_of_order = tag
            section = 1
            body.append(f)
            g = body_group_defs.get(tag)
            if g is not None:
                entries, i = _consume(fields, i, n, g)
                bgroups.setdefault(tag, []).extend(entries)
    if out_of_order is not None:
        return _v(14, out_of_order), None, None

    # -- 3. message type -----------------------------------------------------------------
    if mdef is None:
        return _v(11, None), None, None

    # -- 4. required fields --------------------------------------------------------------
    present = {t for t, _ in header}
    for t in dd.header_required:
        if t not in present:
            return _v(1, t), None, None
    present = {t for t, _ in trailer}
    for t in dd.trailer_required:
        if t not in present:
            return _v(1, t), None, None
    present = {t for t, _ in body}
    for t in mdef.required:
        if t not in present:
            return _v(1, t), None, None
    for gtag in sorted(bgroups):
        g = body_group_defs[gtag]
        for e in bgroups[gtag]:
            if (v := _required_in(e, g)) is not None:
                return v, None, None

    # -- 5. field by field ---------------------------------------------------------------
    enum_sets, known = dd.enum_sets, dd.fields
    msg_fields = mdef.fields
    items: list[PlanItem] = []
    for section_fields, is_body in ((sorted(header, key=_header_key), False),
                                    (sorted(trailer, key=_trailer_key), False),
                                    (sorted(body, key=itemgetter(0)), True)):
        last = None
        for tag, pos in section_fields:
            if tag == last:
                return None, items, _v(13, tag)
            post: object = None
            if tag not in known:
                post = _v(0, tag)
            elif is_body:
                if tag not in msg_fields:
                    post = _v(2, tag)
                elif tag in body_group_defs:
                    post = len(bgroups.get(tag, ()))
            items.append((pos, tag, formats.get(tag), enum_sets.get(tag), post))
            last = tag

    # -- 6. inside repeating groups (beyond QuickFIX) ------------------------------------
    if check_group_members:
        _member_items(dd, formats, hgroups, header_group_defs, items)
        _member_items(dd, formats, bgroups, body_group_defs, items)
    return None, items, None


def _member_items(dd: Dictionary, formats: dict, groups: dict[int, list[Entry]],
                  defs: dict[int, GroupDef], items: list[PlanItem]) -> None:
    """Plan items for the members of each group entry, in the order _members_ok checks them."""
    enum_sets, known = dd.enum_sets, dd.fields
    for gtag in sorted(groups):
        g = defs.get(gtag)
        if g is None:
            continue
        for fields, sub in groups[gtag]:
            for tag, pos in fields:
                post: object = None
                if tag not in known:
                    post = _v(0, tag)
                elif tag in g.groups:
                    post = len(sub.get(tag, ()))
                items.append((pos, tag, formats.get(tag), enum_sets.get(tag), post))
            if sub:
                _member_items(dd, formats, sub, g.groups, items)
