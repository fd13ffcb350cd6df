"""The long fuzz campaign (``make fuzz``): generated and mutated FIX at the codec, the session and the venue.

Run: ``.venv/bin/python bench/fuzz_campaign.py [--seed N] [--count N] [--venue-count N] [--jobs N]
[--only codec session venue] [--out PATH]``.  Writes ``bench/results/fuzz.md`` (``--out``) unless
``--no-write``; exits 1 when anything escaped or a reply was not the prescribed one.

Three targets, each seeded (``random.Random`` per target and shard, so a run is reproducible):

* **codec** -- byte streams through :class:`~sim.fix.codec.FrameReader` and :func:`~sim.fix.codec.decode`:
  generated messages (random valid messages of every type of the FIX 4.2/4.4 dictionaries) and
  mutations of them (bit flips, truncation, garbage inside and between frames, wrong BodyLength and
  CheckSum, duplicated/dropped/reordered fields, huge and non-ASCII values, missing SOH, bad tags,
  group count and data-length mismatches...), fed in random chunks.  Properties: only
  ``GarbledFrame`` ever leaves ``decode``, the reader never raises, a good frame after any mutated
  one (and a fence that ends what the mutated one claimed) is recovered byte-identical, the fast
  decode path agrees with the exact slow path, and a generated frame round-trips through ``encode``.
* **session** -- a logged-on acceptor :class:`~sim.fix.session.Session` (FIX 4.2 and 4.4, echo
  application) fed classified defects, each with the answer the session layer prescribes: garbled
  frames are ignored without consuming the MsgSeqNum; dictionary violations get Reject(3) with the
  right 373/371/372/45; a wrong CompID or SendingTime gets Reject 9/10 and a Logout; a wrong
  BeginString a Logout; MsgSeqNum too low a Logout and a disconnect (PossDup: ignored, or Reject
  1/122, or Reject 10 + Logout); too high a ResendRequest, then the gap fill releases the queued
  message; a valid application message the echo application does not handle gets
  BusinessMessageReject 380=3.  Plus unclassified random mutations, judged against a reference
  verdict (garbled -> silence; dictionary violation -> that Reject).  After every input the next
  good message (a TestRequest) must be answered; a session that logged out is logged on again.
* **venue** -- generated and mutated order entry (D/F/G/H/q/V) through a
  :class:`~sim.venue.Venue` built from ``examples/venue-probe.toml``, fed directly to its sessions
  in virtual time.  Every message gets a reply (ExecutionReport, OrderCancelReject, Reject,
  OrderMassCancelReport, market data), never silence (except a MarketDataRequest unsubscribe, which
  FIX answers with nothing), never an exception -- including exceptions the session turns into
  BusinessMessageReject "Application error" -- and everything the venue sends validates against
  its own dictionary.

Memory is sampled (RSS and ``sys.getallocatedblocks``) after every window of inputs; the report
compares the first window with the last.  Session stores and venue order books are state, not
leaks: the session is logged on again with ResetSeqNumFlag=Y every few thousand inputs, and the
venue is rebuilt every few thousand inputs (a new trading day), so each window holds the same
amount of state.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import platform
import random
import re
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.fix.codec import (  # noqa: E402
    _DATA_LENGTH_TAGS,
    DATA_FIELDS,
    FixMessage,
    FrameReader,
    GarbledFrame,
    _split_slow,
    decode,
    encode,
)
from sim.fix.dictionary import ADMIN_MSG_TYPES, Dictionary, GroupDef  # noqa: E402
from sim.fix.echo import EchoApplication  # noqa: E402
from sim.fix.session import Disconnect, Send, Session, SessionConfig  # noqa: E402
from sim.fix.store import SessionID  # noqa: E402
from sim.fix.timestamps import format_utc_timestamp  # noqa: E402
from sim.fix.validation import validate  # noqa: E402
from sim.venue import Venue  # noqa: E402
from sim.venue_config import load_venue_config  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "fuzz.md"
VENUE_CONFIG = ROOT / "examples" / "venue-probe.toml"
DEFAULT_COUNT = 1_000_000        # codec and session, each
DEFAULT_VENUE_COUNT = 100_000
SOH = b"\x01"
NS = 1_000_000_000
T0 = 1_767_346_200_000_000_000   # 2026-01-02 09:30:00 UTC
ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CODEC_MAX_BODY = 8192            # the codec target's FrameReader limit (small, so resync paths run)
MAX_EXAMPLES = 3                 # examples kept per distinct finding

Fields = list[tuple[bytes, bytes]]  # (tag spelling, value) after BodyLength, MsgType first


# =========================================================================== FRAMES


def assemble(begin: bytes, fields: Fields, *, body_length: bytes | None = None,
             checksum: bytes | None = None) -> bytes:
    """A frame from byte fields (MsgType included), with BodyLength and CheckSum computed here.

    Independent of :func:`sim.fix.codec.encode` on purpose (plain ``sum``), so the campaign also
    cross-checks the encoder; tags are spellings, so non-integer or non-canonical tags can be sent.
    """
    body = b"".join([t + b"=" + v + SOH for t, v in fields])
    head = b"8=" + begin + SOH + b"9=" + (b"%d" % len(body) if body_length is None else body_length) + SOH + body
    return head + b"10=" + (b"%03d" % (sum(head) % 256) if checksum is None else checksum) + SOH


def claimed_lengths(raw: bytes, limit: int) -> int:
    """The largest BodyLength (up to ``limit``) that any ``8=FIX`` start in ``raw`` claims.

    Mirrors FrameReader's rule: the first SOH within 64 bytes of the start must be followed by
    ``9=``; the digits may run to the end of ``raw`` (the next SOH may come later).  Claims above
    ``limit`` are not waited for (the reader resynchronises), so they need no filler.
    """
    best = 0
    at = raw.find(b"8=FIX")
    while at >= 0:
        soh1 = raw.find(SOH, at, at + 64)
        if soh1 >= 0 and raw.startswith(b"9=", soh1 + 1):
            digits = _LEADING_DIGITS.match(raw, soh1 + 3, soh1 + 24).group()
            if digits and int(digits) <= limit:
                best = max(best, int(digits))
        at = raw.find(b"8=FIX", at + 1)
    return best


_LEADING_DIGITS = re.compile(rb"[0-9]*")


def fence(raw: bytes, limit: int) -> bytes:
    """Bytes that end any frame ``raw`` left open: filler as long as any BodyLength it claims, then a trailer.

    FIX framing (QuickFIX's rule) lets an oversized BodyLength swallow what follows; a counterparty
    that sent such a frame loses the next bytes too.  The campaign closes it off deliberately so
    the *next* good message is judged on its own.  The filler has no ``=``, so what it closes is
    always garbled.
    """
    return b"\x01" + b"x" * (claimed_lengths(raw, limit) + 64) + b"\x0110=000\x01"


def random_bytes(rng: random.Random, n: int) -> bytes:
    """``n`` random bytes."""
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def garbage(rng: random.Random, lo: int = 1, hi: int = 40) -> bytes:
    """Random bytes that cannot start a frame (no ``8=F``), as a broken line would deliver between messages."""
    data = random_bytes(rng, rng.randint(lo, hi))
    return data.replace(b"8=F", b"8-F")


def chunks(rng: random.Random, data: bytes, most: int = 4) -> list[bytes]:
    """``data`` cut at random points, as TCP may deliver it."""
    if len(data) < 2 or most < 2:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, most - 1))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# =========================================================================== GENERATED MESSAGES


class MessageFactory:
    """Random *valid* messages of one dictionary: the campaign's generated inputs."""

    def __init__(self, dd: Dictionary) -> None:
        self.dd = dd
        self.begin = dd.begin_string.encode()
        self.enums = {t: sorted(v) for t, v in dd.enum_sets.items()}
        self.all_types = sorted(dd.messages)
        self.app_types = [t for t in self.all_types if t not in ADMIN_MSG_TYPES]
        self.unknown_tags = [t for t in (0, -1, -7, 5001, 7777, 9999, 2**31 - 1) if t not in dd.fields]
        self.skip_in_groups = set(DATA_FIELDS) | _DATA_LENGTH_TAGS

    def value(self, rng: random.Random, tag: int) -> bytes:
        """A valid value for ``tag`` (its enumeration, else its type's format)."""
        enum = self.enums.get(tag)
        if enum:
            v = rng.choice(enum)
            if tag in self.dd.multi_value and len(enum) > 1 and rng.random() < 0.3:
                w = rng.choice(enum)
                if w != v:
                    v = v + b" " + w
            return v
        ty = self.dd.types.get(tag, "STRING")
        if ty in ("INT", "LENGTH", "NUMINGROUP", "TAGNUM"):
            return b"%d" % rng.randint(0, 10 ** rng.randint(1, 6))
        if ty == "SEQNUM":
            return b"%d" % rng.randint(1, 10**6)
        if ty in ("PRICE", "AMT", "QTY", "FLOAT", "PRICEOFFSET", "PERCENTAGE"):
            return b"%d.%02d" % (rng.randint(0, 99_999), rng.randint(0, 99)) if rng.random() < 0.7 \
                else b"%d" % rng.randint(0, 10**6)
        if ty == "CHAR":
            return bytes([rng.choice(ALNUM)])
        if ty == "BOOLEAN":
            return rng.choice((b"Y", b"N"))
        if ty in ("UTCTIMESTAMP", "TIME"):
            return b"20260102-09:%02d:%02d.%03d" % (rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999))
        if ty == "UTCTIMEONLY":
            return b"09:%02d:%02d" % (rng.randint(0, 59), rng.randint(0, 59))
        if ty in ("UTCDATE", "UTCDATEONLY", "LOCALMKTDATE"):
            return b"202601%02d" % rng.randint(1, 28)
        if ty == "MONTHYEAR":
            return b"2026%02d" % rng.randint(1, 12)
        return text(rng)

    def body(self, rng: random.Random, msg_type: bytes, optional: float = 0.05) -> Fields:
        """A body for ``msg_type``: every required field, some optional ones and groups, sorted by tag."""
        mdef = self.dd.messages[msg_type]
        required = set(mdef.required)
        items: list[tuple[int, Fields]] = []
        for tag in mdef.order:
            g = mdef.groups.get(tag)
            if g is not None:
                if tag in required or rng.random() < 0.2:
                    entries = self.group(rng, g, 0)
                    items.append((tag, [(b"%d" % tag, b"%d" % len(entries))] + [f for e in entries for f in e]))
                continue
            if tag in _DATA_LENGTH_TAGS:
                continue  # written together with its data field
            length_tag = DATA_FIELDS.get(tag)
            if length_tag is not None:
                if tag in required or length_tag in required or rng.random() < 0.05:
                    data = random_bytes(rng, rng.randint(1, 24))  # may contain SOH and '=': cut by length
                    items.append((length_tag, [(b"%d" % length_tag, b"%d" % len(data)), (b"%d" % tag, data)]))
                continue
            if tag in required or rng.random() < optional:
                items.append((tag, [(b"%d" % tag, self.value(rng, tag))]))
        items.sort(key=_first)
        return [f for _, fs in items for f in fs]

    def group(self, rng: random.Random, g: GroupDef, depth: int) -> list[Fields]:
        """1-3 entries of group ``g`` (delimiter first, members in the group's order)."""
        entries = []
        for _ in range(rng.randint(1, 3)):
            entry: Fields = []
            for tag in g.order:
                sub = g.groups.get(tag)
                if sub is not None:
                    if tag == g.delim or (depth < 2 and rng.random() < 0.25):
                        inner = self.group(rng, sub, depth + 1)
                        entry += [(b"%d" % tag, b"%d" % len(inner))] + [f for e in inner for f in e]
                    continue
                if tag in self.skip_in_groups:
                    continue
                if tag == g.delim or tag in g.required or rng.random() < 0.3:
                    entry.append((b"%d" % tag, self.value(rng, tag)))
            entries.append(entry)
        return entries


def _first(item: tuple) -> object:
    return item[0]


def text(rng: random.Random) -> bytes:
    """A string value: mostly alphanumeric, sometimes with '=', spaces or non-ASCII bytes (all legal)."""
    n = rng.randint(1, 12)
    v = bytes(rng.choice(ALNUM) for _ in range(n))
    r = rng.random()
    if r < 0.03:
        return v + b"=" + v
    if r < 0.06:
        return v + " é€".encode()
    if r < 0.08:
        return v + bytes(rng.randint(0x80, 0xFF) for _ in range(3))
    return v


# =========================================================================== MUTATIONS


def mutate_bytes(rng: random.Random, raw: bytes, others: list[bytes]) -> tuple[str, bytes]:
    """One byte-level mutation of a frame: (operator name, mutated bytes)."""
    op = rng.choice(_BYTE_OPS)
    n = len(raw)
    if op == "bitflip":
        out = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            out[rng.randrange(n)] ^= 1 << rng.randrange(8)
        return op, bytes(out)
    if op == "byte_set":
        i = rng.randrange(n)
        return op, raw[:i] + bytes([rng.randrange(256)]) + raw[i + 1:]
    if op == "truncate":
        return op, raw[:rng.randrange(1, n)]
    if op == "delete_range":
        i = rng.randrange(n)
        return op, raw[:i] + raw[i + rng.randint(1, 16):]
    if op == "duplicate_range":
        i = rng.randrange(n)
        j = min(n, i + rng.randint(1, 32))
        return op, raw[:j] + raw[i:j] + raw[j:]
    if op == "insert_garbage":
        i = rng.randrange(n)
        return op, raw[:i] + random_bytes(rng, rng.randint(1, 24)) + raw[i:]
    if op == "soh_removed":
        positions = [i for i in range(n) if raw[i] == 1]
        i = rng.choice(positions)
        return op, raw[:i] + raw[i + 1:]
    if op == "soh_replaced":
        positions = [i for i in range(n) if raw[i] == 1]
        i = rng.choice(positions)
        return op, raw[:i] + rng.choice((b"|", b"\x00", b"\x02", b" ")) + raw[i + 1:]
    if op == "checksum":
        cs = raw[-4:-1]
        new = rng.choice((b"%03d" % ((int(cs) + rng.randint(1, 255)) % 256) if cs.isdigit() else b"000",
                          b"1", b"12", b"1234", b"1a3", b"", b"-12", b" 12"))
        return op, raw[:-4] + new + SOH if raw[-8:-4] == b"\x0110=" else raw + b"10=" + new + SOH
    if op == "checksum_missing":
        t = raw.rfind(b"\x0110=")
        return op, raw[:t + 1] if t > 0 else raw[:-1]
    if op == "bodylength":
        p = raw.find(b"\x019=")
        q = raw.find(SOH, p + 3)
        if p < 0 or q < 0:
            return op, raw[:-1]
        bl = raw[p + 3:q]
        base = int(bl) if bl.isdigit() else 100
        new = rng.choice((b"%d" % max(0, base + rng.choice((-1, 1)) * rng.randint(1, 40)), b"", b"-5", b"+%d" % base,
                          b"1e3", b" %d" % base, b"%d" % (base * 1000), b"9" * rng.randint(9, 30), b"0%d" % base,
                          b"%d" % rng.randint(CODEC_MAX_BODY, 4 * CODEC_MAX_BODY)))
        return op, raw[:p + 3] + new + raw[q:]
    if op == "splice":
        other = rng.choice(others)
        return op, raw[:rng.randrange(1, n)] + other[rng.randrange(len(other)):]
    if op == "random":
        return op, random_bytes(rng, rng.randint(1, 300))
    if op == "random_after_header":
        return op, raw[:rng.randint(10, 30)] + random_bytes(rng, rng.randint(1, 200))
    raise AssertionError(op)


_BYTE_OPS = ("bitflip", "bitflip", "byte_set", "truncate", "delete_range", "duplicate_range", "insert_garbage",
             "soh_removed", "soh_replaced", "checksum", "checksum_missing", "bodylength", "bodylength", "splice",
             "random", "random_after_header")


def mutate_fields(rng: random.Random, fields: Fields, factory: MessageFactory) -> tuple[str, Fields]:
    """One field-level mutation (the frame is then re-assembled with a correct BodyLength and CheckSum)."""
    fields = list(fields)
    op = rng.choice(_FIELD_OPS)
    i = rng.randrange(len(fields))
    tag, value = fields[i]
    if op == "drop":
        del fields[i]
    elif op == "duplicate":
        fields.insert(rng.randrange(len(fields) + 1), fields[i])
    elif op == "duplicate_adjacent":
        fields.insert(i, fields[i])
    elif op == "swap":
        j = rng.randrange(len(fields))
        fields[i], fields[j] = fields[j], fields[i]
    elif op == "move_to_end":
        fields.append(fields.pop(i))
    elif op == "empty_value":
        fields[i] = (tag, b"")
    elif op == "huge_value":
        n = rng.choice((20, 300, 4301, rng.randint(1, 20_000)))
        fields[i] = (tag, rng.choice((b"9", b"A", b"\xe9")) * n)
    elif op == "non_ascii":
        fields[i] = (tag, value + rng.choice(("é€".encode(), b"\xff\xfe", b"\x80", "日本".encode())))
    elif op == "equals_in_value":
        fields[i] = (tag, value + b"=" + value)
    elif op == "soh_in_value":
        fields[i] = (tag, value[:1] + SOH + value[1:])
    elif op == "unknown_tag":
        fields.insert(rng.randrange(1, len(fields) + 1), (b"%d" % rng.choice(
            factory.unknown_tags + [2**31, 2**40, -(2**31) - 1]), b"x"))
    elif op == "bad_tag":
        fields.insert(rng.randrange(1, len(fields) + 1), (rng.choice(
            (b"", b"ab", b"1a", b" 12", b"+5", b"0049", b"-0", b"12 ", b"\xe9", b"9" * 30)), b"x"))
    elif op == "no_equals":
        fields.insert(rng.randrange(1, len(fields) + 1), (NO_EQUALS, b""))  # see assemble_mutated
    elif op == "wrong_type":
        fields[i] = (tag, rng.choice((b"abc", b"1.5.5", b"-", b"1e5", b"+1", b" 1", b"Z", b"YY", b"2026-01-02")))
    elif op == "bad_enum":
        fields[i] = (tag, rng.choice((b"Z", b"9", b"99", b"?")))
    elif op == "count_mismatch":
        counts = [k for k, (t, _) in enumerate(fields) if t.isdigit() and factory.dd.types.get(int(t)) == "NUMINGROUP"]
        if counts:
            k = rng.choice(counts)
            v = fields[k][1]
            fields[k] = (fields[k][0], rng.choice((b"%d" % (int(v) + rng.choice((-1, 1, 5))) if v.isdigit() else b"2",
                                                   b"0", b"-1", b"x")))
        else:
            fields.append((b"453", b"2"))
            fields.append((b"448", b"P1"))
    elif op == "data_length":
        lengths = [k for k, (t, _) in enumerate(fields) if t.isdigit() and int(t) in _DATA_LENGTH_TAGS]
        k = rng.choice(lengths) if lengths else None
        if k is not None:
            fields[k] = (fields[k][0], rng.choice((b"0", b"1", b"999", b"-1", b"x", b"%d" % (len(fields[k][1]) + 1))))
        else:
            fields.insert(1, (b"90", b"%d" % rng.randint(0, 9)))
            fields.insert(2, (b"91", b"ab\x01cd"))
    elif op == "msg_type":
        fields[0] = (b"35", rng.choice((b"", b"ZZ", b"DD", b"A", b"5", b"0", b"1", b"4", b"2", b"3", b"j", b"D", b"\xe9")))
    elif op == "seq":
        k = next((k for k, (t, _) in enumerate(fields) if t == b"34"), None)
        if k is not None:
            fields[k] = (b"34", rng.choice((b"0", b"1", b"-1", b"99999999", b"9" * 25, b"abc", b"2.0", b"0002")))
    elif op == "generated_value":
        if tag.isdigit():
            fields[i] = (tag, factory.value(rng, int(tag)))
    return op, fields


_FIELD_OPS = ("drop", "duplicate", "duplicate_adjacent", "swap", "move_to_end", "empty_value", "huge_value",
              "non_ascii", "equals_in_value", "soh_in_value", "unknown_tag", "bad_tag", "no_equals", "wrong_type",
              "bad_enum", "count_mismatch", "data_length", "msg_type", "seq", "generated_value")


NO_EQUALS = b"no-equals-marker"


def assemble_mutated(begin: bytes, fields: Fields) -> bytes:
    """:func:`assemble`, except that a ``NO_EQUALS`` field is written as a bare word (a field without ``=``)."""
    if not any(t == NO_EQUALS for t, _ in fields):
        return assemble(begin, fields)
    body = b"".join([(b"garbage" if t == NO_EQUALS else t + b"=" + v) + SOH for t, v in fields])
    head = b"8=" + begin + SOH + b"9=%d" % len(body) + SOH + body
    return head + b"10=%03d" % (sum(head) % 256) + SOH


# =========================================================================== RESULTS


@dataclass
class Finding:
    """One kind of problem: how often, and the first few inputs that showed it."""

    target: str
    kind: str  # escape, app-error, mismatch, invalid-reply, not-serving, note (known and accepted)
    signature: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class TargetResult:
    """Counts, time, memory samples and findings of one target (one shard, or merged)."""

    target: str
    inputs: int = 0
    probes: int = 0
    seconds: float = 0.0
    escapes: int = 0
    app_errors: int = 0
    mismatches: int = 0
    invalid_replies: int = 0
    relogons: int = 0
    notes: int = 0
    cases: Counter = field(default_factory=Counter)
    memory: list[tuple[int, int, int]] = field(default_factory=list)  # (inputs, RSS KiB, allocated blocks)
    findings: dict[str, Finding] = field(default_factory=dict)
    shards: int = 1

    def record(self, kind: str, signature: str, example: str) -> None:
        """Count one problem under ``signature`` and keep its input when it is among the first few."""
        key = f"{kind}: {signature}"
        finding = self.findings.get(key)
        if finding is None:
            finding = self.findings[key] = Finding(self.target, kind, signature)
        finding.count += 1
        if len(finding.examples) < MAX_EXAMPLES:
            finding.examples.append(example[:600])
        if kind == "escape":
            self.escapes += 1
        elif kind == "app-error":
            self.app_errors += 1
        elif kind == "invalid-reply":
            self.invalid_replies += 1
        elif kind == "note":
            self.notes += 1
        else:
            self.mismatches += 1

    def merge(self, other: TargetResult) -> None:
        """Add another shard's result (memory samples stay per shard: the first shard's are kept)."""
        self.inputs += other.inputs
        self.probes += other.probes
        self.seconds = max(self.seconds, other.seconds)
        self.escapes += other.escapes
        self.app_errors += other.app_errors
        self.mismatches += other.mismatches
        self.invalid_replies += other.invalid_replies
        self.relogons += other.relogons
        self.notes += other.notes
        self.cases.update(other.cases)
        self.shards += other.shards
        for key, f in other.findings.items():
            mine = self.findings.setdefault(key, Finding(f.target, f.kind, f.signature))
            mine.count += f.count
            mine.examples += f.examples[:MAX_EXAMPLES - len(mine.examples)]

    @property
    def clean(self) -> bool:
        """Nothing escaped, nothing crashed inside the application, every reply as prescribed."""
        return not (self.escapes or self.app_errors or self.mismatches or self.invalid_replies)


def _where(exc: BaseException) -> str:
    """``Type at file:line in function`` of the innermost frame: the signature of a crash."""
    frames = traceback.extract_tb(exc.__traceback__)
    inner = frames[-1] if frames else None
    loc = f" at {Path(inner.filename).name}:{inner.lineno} in {inner.name}" if inner else ""
    return f"{type(exc).__name__}{loc}"


def rss_kib() -> int:
    """Resident set size of this process in KiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


class Progress:
    """Prints a progress line every ``every_s`` seconds and samples memory every ``window`` inputs."""

    def __init__(self, result: TargetResult, total: int, label: str, every_s: float, window: int,
                 quiet: bool) -> None:
        self.result = result
        self.total = total
        self.label = label
        self.every_s = every_s
        self.window = window
        self.quiet = quiet
        self.started = time.monotonic()
        self.last = self.started
        self.next_sample = window

    def tick(self) -> None:
        """Call after every input."""
        r = self.result
        if r.inputs >= self.next_sample:
            self.next_sample += self.window
            gc.collect()
            r.memory.append((r.inputs, rss_kib(), sys.getallocatedblocks()))
        if r.inputs & 255 == 0:
            now = time.monotonic()
            if now - self.last >= self.every_s:
                self.last = now
                self.report(now)

    def report(self, now: float | None = None) -> None:
        """One progress line."""
        if self.quiet:
            return
        r = self.result
        elapsed = (now or time.monotonic()) - self.started
        print(f"[{self.label}] {r.inputs:,}/{self.total:,} inputs, {r.inputs / max(elapsed, 1e-9):,.0f}/s, "
              f"escapes {r.escapes}, app errors {r.app_errors}, mismatches {r.mismatches}, "
              f"invalid replies {r.invalid_replies}, RSS {rss_kib() / 1024:.0f} MiB", flush=True)

    def finish(self) -> None:
        """Final memory sample and time."""
        r = self.result
        r.seconds = time.monotonic() - self.started
        gc.collect()
        if not r.memory or r.memory[-1][0] != r.inputs:
            r.memory.append((r.inputs, rss_kib(), sys.getallocatedblocks()))
        self.report()


# =========================================================================== TARGET: CODEC


def run_codec(count: int, seed: int, shard: int = 0, *, every_s: float = 5.0, window: int = 20_000,
              quiet: bool = False) -> TargetResult:
    """Generated and mutated byte streams through FrameReader and decode (see the module docstring)."""
    rng = random.Random(f"{seed}:codec:{shard}")
    result = TargetResult("codec")
    progress = Progress(result, count, f"codec {shard}", every_s, window, quiet)
    factories = [MessageFactory(Dictionary.for_begin_string(b)) for b in ("FIX.4.2", "FIX.4.4")]
    reader = FrameReader(max_body_length=CODEC_MAX_BODY)
    pool: deque[tuple[bytes, Fields, MessageFactory]] = deque(maxlen=64)
    sentinel_seq = 0
    while result.inputs < count:
        r = rng.random()
        if not pool or r < 0.15:
            pool.append(_generated(rng, rng.choice(factories)))
            base_raw, base_fields, factory = pool[-1]
        else:
            base_raw, base_fields, factory = rng.choice(pool)
        if r < 0.15:
            kind, raw, good = "generated", base_raw, True
        elif r < 0.55:
            op, fields = mutate_fields(rng, base_fields, factory)
            kind, raw, good = f"field:{op}", assemble_mutated(factory.begin, fields), False
            if rng.random() < 0.1:  # and a byte-level defect on top
                kind, raw = kind + "+bytes", mutate_bytes(rng, raw, [p[0] for p in pool])[1]
        else:
            op, raw = mutate_bytes(rng, base_raw, [p[0] for p in pool])
            kind, good = f"bytes:{op}", False
        result.cases[kind.split("+")[0]] += 1
        result.inputs += 1
        result.probes += 1  # the good frame framed after every input
        sentinel_seq += 1
        sentinel = encode(b"FIX.4.4", b"1", [(34, sentinel_seq), (49, b"S"), (52, b"20260102-09:30:00"),
                                             (56, b"T"), (112, b"SENTINEL")])
        try:
            _codec_one(rng, result, reader, raw, good, kind, base_fields, sentinel)
        except Exception as exc:  # noqa: BLE001 - whatever raised (a check of ours included) is reported, not fatal
            result.record("escape", f"{kind}: {_where(exc)}", f"{kind}: {raw!r}\n{traceback.format_exc(limit=-3)}")
            reader.__init__(max_body_length=CODEC_MAX_BODY)
        progress.tick()
    progress.finish()
    return result


def _generated(rng: random.Random, factory: MessageFactory) -> tuple[bytes, Fields, MessageFactory]:
    """A random valid message (header + body) of any type of the factory's dictionary."""
    msg_type = rng.choice(factory.all_types)
    fields: Fields = [(b"35", msg_type), (b"49", b"SNDR"), (b"56", b"TGT"), (b"34", b"%d" % rng.randint(1, 10**6)),
                      (b"52", b"20260102-09:30:00.000")]
    fields += factory.body(rng, msg_type)
    return assemble(factory.begin, fields), fields, factory


def _codec_one(rng: random.Random, result: TargetResult, reader: FrameReader, raw: bytes, good: bool, kind: str,
               base_fields: Fields, sentinel: bytes) -> None:
    """Decode ``raw`` alone, then frame [garbage] raw [fence] sentinel in random chunks; check the properties."""
    example = f"{kind}: {raw!r}"
    try:
        msg = decode(raw)
    except GarbledFrame:
        msg = None
        if good:
            result.record("mismatch", "a generated (valid) frame was judged garbled", example)
    except Exception as exc:  # noqa: BLE001 - the property under test: nothing but GarbledFrame leaves decode
        result.record("escape", f"decode raised {_where(exc)}", example)
        msg = None
    if msg is not None:
        _check_decoded(result, raw, msg, good, base_fields, example)
    stream = (garbage(rng) if rng.random() < 0.3 else b"") + raw
    if not good:
        stream += fence(raw, CODEC_MAX_BODY)
    stream += (garbage(rng) if rng.random() < 0.3 else b"") + sentinel
    frames: list[bytes] = []
    try:
        for piece in chunks(rng, stream):
            reader.feed(piece)
            frames.extend(reader)
    except Exception as exc:  # noqa: BLE001 - the FrameReader must never raise
        result.record("escape", f"FrameReader raised {_where(exc)}", example)
        reader.__init__(max_body_length=CODEC_MAX_BODY)
        return
    for frame in frames:
        if frame is sentinel or frame == sentinel or (good and frame == raw):
            continue
        try:
            other = decode(frame)
        except GarbledFrame:
            continue
        except Exception as exc:  # noqa: BLE001 - as above
            result.record("escape", f"decode raised {_where(exc)}", f"{kind}: frame {frame!r}")
            continue
        _check_decoded(result, frame, other, False, base_fields, f"{kind}: frame {frame!r}")
    if not frames or frames[-1] != sentinel:
        result.record("mismatch", "the good frame after a mutated one was not recovered", example)
    elif good and raw not in frames:
        result.record("mismatch", "a generated frame was not framed", example)
    if reader.buffered():
        result.record("mismatch", "bytes left in the reader after a complete frame", example)
        reader.__init__(max_body_length=CODEC_MAX_BODY)


def _check_decoded(result: TargetResult, raw: bytes, msg: FixMessage, good: bool, base_fields: Fields,
                   example: str) -> None:
    """A decoded frame: fast path == exact slow path; re-encoding is idempotent; a generated one round-trips."""
    try:
        slow = _split_slow(raw, DATA_FIELDS, _DATA_LENGTH_TAGS)  # the exact reference the fast path must match
    except GarbledFrame:
        result.record("mismatch", "decode accepted a frame the exact splitter calls garbled", example)
        return
    if slow != msg.fields:
        result.record("mismatch", "decode's fast path disagrees with the exact splitter", example)
        return
    again = encode(msg.fields[0][1], msg.fields[2][1], msg.fields[3:-1])
    try:
        redecoded = decode(again).fields
    except GarbledFrame as exc:
        result.record("mismatch", f"encode(decode(frame)) is garbled: {exc.reason[:40]}", example)
        return
    if redecoded[2:-1] != msg.fields[2:-1]:
        result.record("mismatch", "decode(encode(decode(frame))) differs from decode(frame)", example)
    if good:
        if again != raw:
            result.record("mismatch", "encode differs from the independent assembler", example)
        if [(b"%d" % t, v) for t, v in msg.fields[2:-1]] != base_fields:
            result.record("mismatch", "decoded fields differ from the generated ones", example)


# =========================================================================== TARGET: SESSION


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


class CampaignLog:
    """A session log that keeps nothing but a count of swallowed application errors (bounded memory)."""

    def __init__(self) -> None:
        self.app_errors: list[str] = []  # the first few texts
        self.app_error_count = 0

    def on_incoming(self, raw: bytes) -> None:
        """Not kept."""

    def on_outgoing(self, raw: bytes) -> None:
        """Not kept."""

    def on_event(self, text: str) -> None:
        """Keep application errors (the session turned an exception into BusinessMessageReject)."""
        if text.startswith("Application error"):
            self.app_error_count += 1
            if len(self.app_errors) < MAX_EXAMPLES:
                self.app_errors.append(text)


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
            _session_one(rig, raw, expect, pieces, name, example)
        except Exception as exc:  # noqa: BLE001 - the property under test: nothing escapes the session
            result.record("escape", f"{name}: {_where(exc)}", example + "\n" + traceback.format_exc(limit=-3))
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


def _session_one(rig: SessionRig, raw: bytes, expect: Expect, pieces: list[bytes] | None, name: str,
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


# -- the classified session cases: each returns (bytes, Expect, chunks or None) ------------------------


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


# =========================================================================== TARGET: VENUE


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
            result.record("escape", f"{msg_type.decode()}: {_where(exc)}",
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


# =========================================================================== RUNNING AND REPORTING


_RUNNERS: dict[str, Callable[..., TargetResult]] = {"codec": run_codec, "session": run_session, "venue": run_venue}


def _shard(args: tuple[str, int, int, int, float]) -> TargetResult:
    target, count, seed, shard, every_s = args
    return _RUNNERS[target](count, seed, shard, every_s=every_s)


def run_target(target: str, count: int, seed: int, jobs: int, every_s: float = 5.0) -> TargetResult:
    """Run one target over ``jobs`` processes (shards with their own seeds) and merge the results."""
    jobs = max(1, min(jobs, count))
    shares = [count // jobs + (1 if i < count % jobs else 0) for i in range(jobs)]
    work = [(target, n, seed, i, every_s) for i, n in enumerate(shares)]
    started = time.monotonic()
    if jobs == 1:
        results = [_shard(work[0])]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_shard, work))
    merged = results[0]
    for other in results[1:]:
        merged.merge(other)
    merged.seconds = time.monotonic() - started
    return merged


def _printable(text_: str) -> str:
    """ASCII only, control characters escaped: examples hold arbitrary bytes decoded as latin-1."""
    out = text_.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if 32 <= ord(c) < 127 else f"\\x{ord(c):02x}" for c in out).replace("`", "'")


def memory_summary(r: TargetResult) -> tuple[str, str, float]:
    """(first window, last window, RSS growth MiB) of the first shard's samples."""
    if not r.memory:
        return "-", "-", 0.0
    (i0, rss0, b0), (i1, rss1, b1) = r.memory[0], r.memory[-1]
    return (f"{rss0 / 1024:.1f} MiB RSS, {b0:,} blocks after {i0:,} inputs",
            f"{rss1 / 1024:.1f} MiB RSS, {b1:,} blocks after {i1:,} inputs", (rss1 - rss0) / 1024)


def steady_growth(r: TargetResult) -> float:
    """RSS growth (MiB) from the sample halfway through the run to the last one.

    The first window includes warm-up: caches filling, and for the venue a fresh venue (config,
    books, sessions) every simulated day, whose allocations the C allocator keeps for reuse.  A
    leak keeps growing after that; the second half of the run shows whether it does.
    """
    if len(r.memory) < 2:
        return 0.0
    middle = r.memory[len(r.memory) // 2]
    return (r.memory[-1][1] - middle[1]) / 1024


#: What the campaign found and is now fixed, each with its regression test (the report lists them: a
#: clean run no longer shows them).
FIXED = [
    "venue: a D (or G) with a 4,301+-digit OrderQty was booked, then its ExecutionReport failed to encode "
    "(`ValueError: Exceeds the limit (4300 digits) for integer string conversion` in `codec._to_bytes`); the "
    "session answered BusinessMessageReject \"Application error\" while the order lived in the book.  A 40-digit "
    "Price was rounded to 1E+40 by Decimal's 28-digit context, booked, and the fill's AvgPx raised "
    "`decimal.InvalidOperation` in `VenueGateway._exec_report_body`.  Fix: `sim/venue_gateway.py` rejects a "
    "quantity, or a price in ticks, above 2**63-1 (`MAX_WIRE_INT`) with a rejected ExecutionReport "
    "(OrdRejReason 13 / 99).  Tests: `tests/sim/fix/test_fuzz_regressions.py`.",
    "venue (not a crash): an unsupported OrdType was rejected with OrdRejReason 24, which FIX 4.4 does not "
    "define, so a validating counterparty would reject the ExecutionReport (2,049 of 100,000 venue inputs).  "
    "Fixed in `VenueGateway._new_order` (OrdRejReason 11, \"Unsupported order characteristic\"); test "
    "`test_an_unsupported_order_type_is_rejected_with_a_fix44_reason`.",
]

#: Open findings (not crashes), matched by a piece of their signature: what is wrong and where.
KNOWN = {
    "without a valid MsgSeqNum": "the rejected message's own MsgSeqNum(34) was missing or malformed, so there is "
    "no RefSeqNum to give; QuickFIX's `Session::generateReject` does the same (45 omitted, or copied as "
    "received).  Kept on purpose; not counted as a failure.",
    "reason 16 tag": "the echo application re-orders bodies with `Dictionary.canonical_body_order`, whose "
    "`_ordered` (sim/fix/dictionary.py) re-reads each group entry's own fields but not the nested groups that "
    "`consume_group` put in the entry's second element, so nested group entries are dropped (`802=2` goes out "
    "without its two entries): the echo fails our own dictionary (NumInGroup 16).  Open.",
    "reason 4 tag 55": "an order without Symbol(55) (optional in a FIX 4.4 D) is rejected with an "
    "ExecutionReport carrying an empty `55=`, which is malformed FIX (a validating counterparty answers Reject "
    "373=4); `Exchange.status` already writes `?` for the same reason.  Open.",
    "not at the Price sent": "`sim/instruments.py` `_ticks_of` divides in Decimal's default 28-digit context, so "
    "a price with more significant digits is rounded before the on-grid check: 99.999999999999999999999999999 "
    "is booked (and can trade) at 100.00, above the buyer's limit.  Fix: trap `decimal.Inexact` (or use a "
    "context with enough precision) in `_ticks_of`.  Open.",
}

MEMORY_FLAT_MIB = 16.0  # allowed RSS growth first -> last window (allocator noise and bounded caches)


def write_report(path: Path, results: list[TargetResult], argv: list[str], seed: int, jobs: int,
                 total_s: float) -> None:
    """bench/results/fuzz.md: machine, command, counts, time, memory, findings and the targets table."""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.lower().startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    by = {r.target: r for r in results}
    lines = [
        "# Fuzz campaign",
        "",
        f"- date: {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {platform.machine()}, nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}",
        f"- command: `make fuzz` (= `.venv/bin/python bench/fuzz_campaign.py{' ' + ' '.join(argv) if argv else ''}`)",
        f"- seed {seed}, {jobs} worker process(es) per target; total {total_s:.0f} s",
        "- method: see the docstring of `bench/fuzz_campaign.py` (what each target throws, and the answer each "
        "input must get).  *escapes* are exceptions out of the code under test; *app errors* are exceptions the "
        "session caught from its application (BusinessMessageReject \"Application error\"); *mismatches* are "
        "answers other than the prescribed one (or a good message not served after a bad one); *invalid replies* "
        "are messages we sent that fail our own dictionary.  *good message after each*: the codec frames a good "
        "frame after every input, the session answers a TestRequest after every input; every venue order message "
        "must itself be answered.",
        "",
        "| target | inputs | good message after each | seconds | inputs/s | escapes | app errors | mismatches "
        "| invalid replies | re-logons | memory, first window | memory, last window |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        first, last, _ = memory_summary(r)
        lines.append(f"| {r.target} | {r.inputs:,} | {f'{r.probes:,}' if r.probes else 'n/a'} | {r.seconds:.0f} | "
                     f"{r.inputs / max(r.seconds, 1e-9):,.0f} | {r.escapes} | {r.app_errors} | {r.mismatches} | "
                     f"{r.invalid_replies} | {r.relogons:,} | {first} | {last} |")
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    cs = [by[t] for t in ("codec", "session") if t in by]
    if cs:
        n = sum(r.inputs for r in cs)
        esc = sum(r.escapes + r.app_errors for r in cs)
        lines.append(f"| fuzz: codec+session inputs >= 1,000,000, zero escapes | {n:,} inputs, {esc} escapes | "
                     f"{'yes' if n >= 1_000_000 and esc == 0 else 'no'} |")
        for r in cs:
            lines.append(f"| fuzz: {r.target} inputs >= 1,000,000, zero escapes | {r.inputs:,} inputs, "
                         f"{r.escapes + r.app_errors} escapes | "
                         f"{'yes' if r.inputs >= 1_000_000 and not r.escapes + r.app_errors else 'no'} |")
        wrong = sum(r.mismatches for r in cs)
        lines.append(f"| fuzz: every bad message gets the prescribed answer, the next good one is served | "
                     f"{wrong} mismatches | {'yes' if wrong == 0 else 'no'} |")
        invalid = sum(r.invalid_replies for r in cs)
        lines.append(f"| fuzz: every message the session sends passes its own dictionary | {invalid} invalid | "
                     f"{'yes' if invalid == 0 else 'no'} |")
    if "venue" in by:
        r = by["venue"]
        esc = r.escapes + r.app_errors
        silent = sum(f.count for f in r.findings.values() if "no answer" in f.signature)
        lines.append(f"| fuzz: venue order entry inputs >= 100,000, zero escapes | {r.inputs:,} inputs, {esc} escapes "
                     f"| {'yes' if r.inputs >= 100_000 and esc == 0 else 'no'} |")
        lines.append(f"| fuzz: every venue order message answered, never silence | {silent} unanswered | "
                     f"{'yes' if silent == 0 else 'no'} |")
        lines.append(f"| fuzz: every venue answer is the prescribed one (kind, ClOrdID, price as sent) | "
                     f"{r.mismatches} wrong | {'yes' if r.mismatches == 0 else 'no'} |")
        lines.append(f"| fuzz: every venue message passes FIX 4.4 | {r.invalid_replies} invalid | "
                     f"{'yes' if r.invalid_replies == 0 else 'no'} |")
    for r in results:
        _, _, growth = memory_summary(r)
        steady = steady_growth(r)
        lines.append(f"| fuzz: {r.target} memory flat, RSS growth over the second half of the run <= "
                     f"{MEMORY_FLAT_MIB:.0f} MiB (first -> last window: {growth:+.1f} MiB, warm-up included) | "
                     f"{steady:+.1f} MiB | {'yes' if steady <= MEMORY_FLAT_MIB else 'no'} |")
    lines += ["", "## Inputs per case", ""]
    for r in results:
        top = ", ".join(f"{k} {v:,}" for k, v in sorted(r.cases.items(), key=lambda kv: -kv[1])[:40])
        lines.append(f"- **{r.target}**: {top}")
    lines += ["", "## Memory samples (first shard)", ""]
    for r in results:
        samples = r.memory
        if len(samples) > 12:
            step = len(samples) / 12
            samples = [samples[int(k * step)] for k in range(12)] + [r.memory[-1]]
        lines.append(f"- **{r.target}** (inputs: RSS MiB / allocated blocks): "
                     + ", ".join(f"{i:,}: {rss / 1024:.1f} / {b:,}" for i, rss, b in samples))
    lines += ["", "## Findings", ""]
    findings = [f for r in results for f in r.findings.values()]
    if not findings:
        lines.append("None in this run.")
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in findings:  # one bullet per diagnosis (many signatures can share one cause)
        key = next((k for k in KNOWN if k in f.signature), f.signature)
        groups.setdefault((f.target, f.kind, key), []).append(f)
    for (target, kind, key), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                             -sum(f.count for f in kv[1]))):
        group.sort(key=lambda f: -f.count)
        lines.append(f"- **{target} / {kind}** ({sum(f.count for f in group):,}x): "
                     + "; ".join(f"{f.signature} ({f.count:,}x)" for f in group[:8])
                     + ("; ..." if len(group) > 8 else ""))
        if key in KNOWN:
            lines.append(f"  - *diagnosis:* {KNOWN[key]}")
        for f in group[:2]:
            lines.append("  - e.g. `" + _printable(f.examples[0])[:300] + "`")
    lines += ["", "## Found by this campaign and fixed", ""]
    lines += [f"- {text_}" for text_ in FIXED]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the campaign, print a summary, write the results file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20260102)
    ap.add_argument("--count", type=int, default=DEFAULT_COUNT, help="inputs for the codec and for the session")
    ap.add_argument("--venue-count", type=int, default=None,
                    help=f"inputs for the venue (default {DEFAULT_VENUE_COUNT:,}, or --count/10 when --count is given)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes per target")
    ap.add_argument("--only", nargs="+", choices=list(_RUNNERS), help="run only these targets")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    ap.add_argument("--progress-s", type=float, default=5.0)
    args = ap.parse_args(argv)
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    venue_count = args.venue_count if args.venue_count is not None else (
        DEFAULT_VENUE_COUNT if args.count == DEFAULT_COUNT else max(1, args.count // 10))
    counts = {"codec": args.count, "session": args.count, "venue": venue_count}
    started = time.monotonic()
    results = []
    for target in args.only or list(_RUNNERS):
        print(f"== {target}: {counts[target]:,} inputs, seed {args.seed}, {args.jobs} process(es)", flush=True)
        r = run_target(target, counts[target], args.seed, args.jobs, args.progress_s)
        first, last, _ = memory_summary(r)
        print(f"== {target}: {r.inputs:,} inputs in {r.seconds:.0f} s ({r.inputs / max(r.seconds, 1e-9):,.0f}/s), "
              f"escapes {r.escapes}, app errors {r.app_errors}, mismatches {r.mismatches}, invalid replies "
              f"{r.invalid_replies}; memory {first} -> {last}", flush=True)
        for f in sorted(r.findings.values(), key=lambda f: -f.count):
            print(f"   {f.kind} ({f.count}x): {f.signature}\n      e.g. {f.examples[0][:300]!r}", flush=True)
        results.append(r)
    total = time.monotonic() - started
    if not args.no_write:
        write_report(args.out, results, raw_argv, args.seed, args.jobs, total)
        print(f"wrote {args.out}", flush=True)
    return 0 if all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
