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
    return _INT.fullmatch(v) is not None and -(2**31) <= int(v) < 2**31


def _is_seqnum(v: bytes) -> bool:
    return _UINT.fullmatch(v) is not None and int(v) < 2**64


def _is_float(v: bytes) -> bool:
    return _FLOAT.fullmatch(v) is not None


def _is_char(v: bytes) -> bool:
    return len(v) == 1


def _is_bool(v: bytes) -> bool:
    return v == b"Y" or v == b"N"


def _is_timestamp(v: bytes) -> bool:
    m = _TS.fullmatch(v)
    if m is None:
        return False
    mo, d, h, mi, s = (int(x) for x in m.groups())
    return 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60


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


def _members_ok(dd: Dictionary, formats: dict, groups: dict[int, list[Entry]],
                defs: dict[int, GroupDef]) -> Violation | None:
    enum_sets, known = dd.enum_sets, dd.fields
    for gtag in sorted(groups):
        g = defs.get(gtag)
        if g is None:
            continue
        for fields, sub in groups[gtag]:
            for tag, val in fields:
                if not val:
                    return _v(4, tag)
                chk = formats.get(tag)
                if chk is not None and not chk(val):
                    return _v(6, tag)
                allowed = enum_sets.get(tag)
                if allowed is not None and not _enum_ok(dd, tag, val, allowed):
                    return _v(5, tag)
                if tag not in known:
                    return _v(0, tag)
                if tag in g.groups and _count(val) != len(sub.get(tag, ())):
                    return _v(16, tag)
            if sub and (v := _members_ok(dd, formats, sub, g.groups)) is not None:
                return v
    return None


def validate(msg: FixMessage, dd: Dictionary, *, strict: bool = False,
             check_group_members: bool = True) -> Violation | None:
    """First problem in ``msg`` by QuickFIX's order (see module docstring), or None."""
    fields = msg.fields
    v = check_comp_ids_present(msg)
    if v is not None:
        return v
    formats = _format_table(dd, strict)
    msg_type = fields[2][1] if len(fields) > 2 and fields[2][0] == 35 else msg.msg_type()
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
        return _v(14, out_of_order)

    # -- 3. message type -----------------------------------------------------------------
    if mdef is None:
        return _v(11, None)

    # -- 4. required fields --------------------------------------------------------------
    present = {t for t, _ in header}
    for t in dd.header_required:
        if t not in present:
            return _v(1, t)
    present = {t for t, _ in trailer}
    for t in dd.trailer_required:
        if t not in present:
            return _v(1, t)
    present = {t for t, _ in body}
    for t in mdef.required:
        if t not in present:
            return _v(1, t)
    for gtag in sorted(bgroups):
        g = body_group_defs[gtag]
        for e in bgroups[gtag]:
            if (v := _required_in(e, g)) is not None:
                return v

    # -- 5. field by field ---------------------------------------------------------------
    enum_sets, known = dd.enum_sets, dd.fields
    msg_fields = mdef.fields
    for items, is_body in ((sorted(header, key=_header_key), False), (sorted(trailer, key=_trailer_key), False),
                           (sorted(body, key=itemgetter(0)), True)):
        last = None
        for tag, val in items:
            if tag == last:
                return _v(13, tag)
            if not val:
                return _v(4, tag)
            chk = formats.get(tag)
            if chk is not None and not chk(val):
                return _v(6, tag)
            allowed = enum_sets.get(tag)
            if allowed is not None and not _enum_ok(dd, tag, val, allowed):
                return _v(5, tag)
            if tag not in known:
                return _v(0, tag)
            if is_body:
                if tag not in msg_fields:
                    return _v(2, tag)
                if tag in body_group_defs:
                    if _count(val) != len(bgroups.get(tag, ())):
                        return _v(16, tag)
            last = tag

    # -- 6. inside repeating groups (beyond QuickFIX) ------------------------------------
    if check_group_members:
        if hgroups and (v := _members_ok(dd, formats, hgroups, header_group_defs)) is not None:
            return v
        if bgroups and (v := _members_ok(dd, formats, bgroups, body_group_defs)) is not None:
            return v
    return None
