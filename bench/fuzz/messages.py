"""Generated messages of every FIX 4.2/4.4 type and the byte- and field-level mutations of them."""

from __future__ import annotations

import random

from bench.fuzz.frames import ALNUM, CODEC_MAX_BODY, SOH, Fields, assemble, random_bytes
from sim.fix.codec import (
    _DATA_LENGTH_TAGS,
    DATA_FIELDS,
)
from sim.fix.dictionary import ADMIN_MSG_TYPES, Dictionary, GroupDef


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
