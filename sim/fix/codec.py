"""FIX framing, decoding and encoding: the hot path of every FIX hop.

Three pieces, no I/O:

* :class:`FrameReader` cuts a byte stream into frames with QuickFIX's rule (conformance
  item 30): a frame starts at ``8=FIX``, BodyLength bytes are skipped after the ``9=``
  field, and the frame ends at the end of the first ``<SOH>10=...<SOH>`` from there.  An
  oversized BodyLength therefore swallows the start of the next message (lost with the
  bad one).  Garbage before ``8=FIX`` is skipped and counted.  The buffer is bounded: a
  BodyLength above ``max_body_length`` (or a frame that never ends) is garbage and the
  reader resynchronises at the next ``8=FIX``; it never raises.
* :func:`decode` turns one frame into a :class:`FixMessage` or raises
  :class:`GarbledFrame` (item 29: the session discards it silently, the sequence number is
  not consumed): checksum wrong or not three digits, BodyLength wrong, first three tags
  not 8, 9, 35, a tag that is not an integer, a field without ``=``.  Integer tags the
  dictionary does not know (0, negative, 5000+) are *not* garbling: validation rejects
  them.  Tag syntax is QuickFIX's IntConvertor: optional ``-``, digits, fits in int32.
* :func:`encode` builds a frame from header+body fields, computing BodyLength and CheckSum.

Values stay ``bytes`` exactly as received (``38=002000.00`` is echoed byte-identical).

Speed (figures from ``bench/bench_codec.py`` on the 2-core dev box, see
``bench/results/codec.md``):

* Checksum.  Options measured on a 160-byte NewOrderSingle body (ns per call):
  ``sum(bytes)`` ~1100, ``sum(memoryview)`` ~1400, numpy ``frombuffer().sum()`` ~2500
  (call overhead), a "spread bytes into 16/24-bit slots and take int % (2**k-1)" big-int
  trick ~1400-1700, and ``zlib.adler32(data, 0) & 0xFFFF`` ~150.  We use Adler-32: its
  low half is the plain byte sum modulo 65521, which *is* the exact byte sum while the
  chunk is at most 256 bytes (256*255 < 65521); longer bodies are summed in 256-byte
  chunks.  Exact, C speed, no dependency.
* Fields.  A per-field ``partition`` loop costs ~200 ns per field on this machine.  The
  fast path instead (1) checks the separator skeleton in C -- ``translate`` deletes every
  byte except ``=`` and SOH, and the result must be exactly ``=<SOH>`` repeated, i.e.
  every field has exactly one ``=`` -- then (2) ``replace(SOH, "=").split("=")`` gives
  tags and values alternately, (3) tags map to ints through a dict cache of known-good
  tag spellings (``map(dict.__getitem__)``, C loop), (4) ``zip`` pairs them.  Anything
  unusual -- a value containing ``=``, an uncached tag spelling, a data field (RawData
  etc.) whose value may contain SOH -- falls back to the exact slow path, which is also
  the reference the fuzz tests compare against.
* Framing works on one immutable ``bytes`` buffer with a read offset (the consumed
  prefix is dropped on the next ``feed``), using ``bytes.find``/``startswith``; a frame
  is one slice.  No per-byte Python loops, no re-slicing of the whole buffer per message
  (stock simplefix does both).

* Encode builds the field list in one comprehension with exact-type checks (``type(v) is
  bytes/str/int`` before the isinstance chain that keeps bool/subclass behaviour): ExecutionReport
  ~7.1 -> ~4.7-5.8 us (``bench/bench_fix_path.py``, baseline vs current in the same run).
* ``FixMessage.get`` was a linear scan (100-450 ns by position; a session calls it 11-19 times per
  message); it now builds a first-occurrence dict once (~0.9 us) and answers in ~75 ns.  Net gain
  measured on decode + 15 gets: ~0.4 us of ~10 us, within the VM's noise.

* The C accelerator (``sim/fix/_ccodec.c``, built by ``pip install -e .``) runs framing, the
  decode of a well-formed frame and the encode of the common case in one pass over the bytes.
  It returns None for anything unusual (data fields, ``=`` in a value, odd tag spellings,
  garbled frames, bool or big-int values), and the Python code below decides: that code is the
  reference and the fallback (no compiler, or ``MARKETDRILL_PURE_PYTHON=1``), and
  ``tests/sim/fix/test_ccodec.py`` checks both agree on generated and mutated input.

Result on the (shared, noisy) 2-core VM, ``bench/results/codec.md``: parse NewOrderSingle
~540k msgs/s with the accelerator (~125k on the pure-Python path, ~5.6k for simplefix's
FixParser, ~260k for QuickFIX's ``Message`` through its SWIG binding, same run); encode
ExecutionReport ~490k msgs/s (~220k pure Python).
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Iterable

SOH = b"\x01"

__all__ = ["SOH", "FixMessage", "GarbledFrame", "FrameReader", "decode", "encode", "checksum",
           "DATA_FIELDS"]

#: Data fields (type DATA) of FIX 4.2/4.4 -> their length field.  Their values may contain
#: SOH, so they are cut by length, as QuickFIX does.
DATA_FIELDS: dict[int, int] = {89: 93, 91: 90, 96: 95, 213: 212, 349: 348, 351: 350, 353: 352, 355: 354,
                               357: 356, 359: 358, 361: 360, 363: 362, 365: 364, 446: 445, 619: 618, 622: 621}
_DATA_LENGTH_TAGS = frozenset(DATA_FIELDS.values())

_INT32_MAX = 2**31 - 1
_MAX_TAG_CACHE = 20000
#: tag spelling -> int; only canonical spellings of 1..9999 are preloaded, others are added
#: by the slow path once validated.
_TAG_CACHE: dict[bytes, int] = {str(i).encode(): i for i in range(1, 10000)}
_KEEP_SEPARATORS = bytes(b for b in range(256) if b not in (0x01, 0x3D))
_SKELETON = [(b"=\x01" * k)[:-1] for k in range(513)]  # separators of k fields, no final SOH


class GarbledFrame(Exception):
    """The frame is garbled: discard it silently (conformance item 29)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _to_bytes(value: bytes | str | int | bool) -> bytes:
    # Exact types first (bytes, str, int: what sessions and the venue pass); bool, subclasses
    # and buffers fall through to the general checks below, which decide exactly as before.
    tv = type(value)
    if tv is bytes:
        return value
    if tv is str:
        return value.encode("latin-1")
    if tv is int:
        return b"%d" % value
    if isinstance(value, bool):
        return b"Y" if value else b"N"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        return value.encode("latin-1")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"FIX value must be bytes, str or int, not {type(value).__name__}")


class FixMessage:
    """An ordered list of ``(tag, value)`` fields exactly as received / to be sent.

    Lookups by tag go through a first-occurrence index (``{tag: value}``) built lazily on the
    first :meth:`get` and dropped by :meth:`set`, :meth:`append` and :meth:`remove`.  The index
    also remembers which list object and length it was built from, so assigning a new list to
    ``fields`` or appending to it directly is noticed too; replacing an item of ``fields`` in
    place (same length) is not -- use :meth:`set` for that.

    >>> m = FixMessage([(8, b"FIX.4.4"), (35, b"D"), (11, b"A"), (11, b"B")])
    >>> m.get(11), m.get(99, b"?")
    (b'A', b'?')
    >>> m.set(11, "C"); m.get(11), m.get_all(11)
    (b'C', [b'C', b'B'])
    """

    __slots__ = ("fields", "_index", "_indexed", "_indexed_len")

    def __init__(self, fields: Iterable[tuple[int, bytes]] | None = None) -> None:
        self.fields: list[tuple[int, bytes]] = list(fields) if fields is not None else []
        self._index: dict[int, bytes] | None = None

    def _build_index(self) -> dict[int, bytes]:
        # dict() over the reversed list keeps the *first* occurrence of a repeated tag (later
        # pairs overwrite earlier ones).  C loop: ~0.7 us for a 17-field NewOrderSingle, the
        # cost of ~3 linear-scan gets; a session calls get 11-19 times per message.
        fields = self.fields
        index = dict(reversed(fields))
        self._index = index
        self._indexed = fields
        self._indexed_len = len(fields)
        return index

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """Value of the first occurrence of ``tag``, else ``default``.

        Runtime complexity: O(1) (O(n) once after a change, to rebuild the index)."""
        index = self._index
        if index is None or self._indexed is not self.fields or self._indexed_len != len(self.fields):
            index = self._build_index()
        return index.get(tag, default)

    def get_all(self, tag: int) -> list[bytes]:
        """Values of every occurrence of ``tag``, in order."""
        return [v for t, v in self.fields if t == tag]

    def __contains__(self, tag: int) -> bool:
        return self.get(tag, _MISSING) is not _MISSING

    def msg_type(self) -> bytes:
        """The MsgType (35) value (``b""`` if absent)."""
        return self.get(35, b"")

    def begin_string(self) -> bytes:
        """The BeginString (8) value (``b""`` if absent)."""
        return self.get(8, b"")

    def append(self, tag: int, value: bytes | str | int) -> None:
        """Append a field at the end."""
        self.fields.append((tag, _to_bytes(value)))
        self._index = None

    def set(self, tag: int, value: bytes | str | int) -> None:
        """Replace the first occurrence of ``tag`` in place, or append it."""
        value = _to_bytes(value)
        fields = self.fields
        self._index = None
        for i, (t, _) in enumerate(fields):
            if t == tag:
                fields[i] = (tag, value)
                return
        fields.append((tag, value))

    def remove(self, tag: int) -> None:
        """Remove every occurrence of ``tag``."""
        self.fields = [(t, v) for t, v in self.fields if t != tag]
        self._index = None

    def body_fields(self) -> list[tuple[int, bytes]]:
        """All fields except 8, 9, 35 and the final 10 (input for :func:`encode`)."""
        return [(t, v) for t, v in self.fields if t not in (8, 9, 35, 10)]

    def to_bytes(self) -> bytes:
        """Re-encode with fresh BodyLength and CheckSum."""
        return encode(self.begin_string(), self.msg_type(), self.body_fields())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixMessage) and other.fields == self.fields

    def __repr__(self) -> str:
        return "FixMessage(" + "|".join(f"{t}={v.decode('latin-1')}" for t, v in self.fields) + ")"


_MISSING = object()


# --------------------------------------------------------------------------- checksum


def checksum(data: bytes | bytearray | memoryview) -> int:
    """FIX CheckSum: sum of all bytes modulo 256 (exact, via Adler-32's byte-sum half)."""
    n = len(data)
    if n <= 256:
        return (zlib.adler32(data, 0) & 0xFFFF) & 0xFF
    mv = memoryview(data)
    total = 0
    for i in range(0, n, 256):
        total += zlib.adler32(mv[i:i + 256], 0) & 0xFFFF
    return total & 0xFF


# --------------------------------------------------------------------------- decode


def _tag(spelling: bytes) -> int:
    """Parse a tag like QuickFIX's IntConvertor (``-``? digits, int32) or raise GarbledFrame."""
    t = _TAG_CACHE.get(spelling)
    if t is not None:
        return t
    digits = spelling[1:] if spelling[:1] == b"-" else spelling
    if not digits or not digits.isdigit():
        raise GarbledFrame(f"tag is not an integer: {spelling[:20]!r}")
    t = int(spelling)
    if not -_INT32_MAX - 1 <= t <= _INT32_MAX:
        raise GarbledFrame(f"tag out of range: {spelling[:20]!r}")
    if len(_TAG_CACHE) < _MAX_TAG_CACHE:
        _TAG_CACHE[spelling] = t
    return t


def _split_slow(region: bytes, data_fields: dict[int, int], length_tags: frozenset[int]) -> list[tuple[int, bytes]]:
    """Exact field splitter (values may contain '=' and, for data fields, SOH)."""
    fields: list[tuple[int, bytes]] = []
    pos, n = 0, len(region)
    lengths: dict[int, bytes] = {}
    while pos < n:
        eq = region.find(b"=", pos)
        soh = region.find(SOH, pos)
        if eq < 0 or (0 <= soh < eq):
            raise GarbledFrame("field without '='")
        tag = _tag(region[pos:eq])
        start = eq + 1
        length_tag = data_fields.get(tag)
        if length_tag is not None and length_tag in lengths:
            raw = lengths[length_tag]
            if not raw.isdigit() or len(raw) > 12:
                raise GarbledFrame(f"bad length {raw[:20]!r} for data field {tag}")
            end = start + int(raw)
            if end >= n or region[end:end + 1] != SOH:
                raise GarbledFrame(f"data field {tag} does not end where its length says")
        else:
            end = region.find(SOH, start)
            if end < 0:
                raise GarbledFrame("field not terminated by SOH")
        value = region[start:end]
        if tag in length_tags:
            lengths[tag] = value
        fields.append((tag, value))
        pos = end + 1
    return fields


def decode(frame: bytes, data_fields: dict[int, int] = DATA_FIELDS) -> FixMessage:
    """Decode one complete frame, verifying BodyLength and CheckSum; raise GarbledFrame."""
    if _c_decode_fields is not None and data_fields is DATA_FIELDS:
        fields = _c_decode_fields(frame)  # None: not the common case, the exact path decides
        if fields is not None:
            msg = _new_message(FixMessage)
            msg.fields = fields
            msg._index = None
            return msg
    return decode_python(frame, data_fields)


def decode_python(frame: bytes, data_fields: dict[int, int] = DATA_FIELDS) -> FixMessage:
    """:func:`decode` without the C accelerator: the reference the C path is tested against."""
    if type(frame) is not bytes:
        frame = bytes(frame)
    n = len(frame)
    # Trailer: the frame must end with exactly "<SOH>10=ddd<SOH>".
    if n < 20 or frame[-1] != 1 or frame[n - 8:n - 4] != b"\x0110=":
        raise GarbledFrame("CheckSum(10) missing, not last, or not three digits")
    cs = frame[n - 4:n - 1]
    if not cs.isdigit():
        raise GarbledFrame(f"CheckSum(10) not three digits: {cs!r}")
    if not frame.startswith(b"8="):
        raise GarbledFrame("first field is not BeginString(8)")
    p1 = frame.find(SOH)
    if not frame.startswith(b"9=", p1 + 1):
        raise GarbledFrame("second field is not BodyLength(9)")
    p2 = frame.find(SOH, p1 + 3)
    bl = frame[p1 + 3:p2]
    if not bl.isdigit() or int(bl) != n - 8 - p2:  # body = after 9=...<SOH> up to the SOH before 10=
        raise GarbledFrame(f"BodyLength(9)={bl[:20]!r} but the body has {n - 8 - p2} bytes")
    if not frame.startswith(b"35=", p2 + 1):
        raise GarbledFrame("third field is not MsgType(35)")
    if n <= 256:
        # Whole-frame byte sum (exact: <= 256*255 < 65521) minus the "10=ddd<SOH>" bytes.
        computed = (zlib.adler32(frame, 0) - _TRAILER_SUM - cs[0] - cs[1] - cs[2]) & 0xFF
    else:
        computed = checksum(memoryview(frame)[:n - 7])
    if cs != _CS3[computed]:
        raise GarbledFrame(f"CheckSum(10)={cs.decode()} but computed {computed:03d}")

    region = frame[:-1]
    seps = region.translate(None, _KEEP_SEPARATORS)
    k = (len(seps) + 1) >> 1
    if k < len(_SKELETON) and seps == _SKELETON[k]:
        # Fast path: every field has exactly one '=' (checked in C above).  The fast tag
        # cache has no data-length tags, so a message with a data field misses (KeyError)
        # and takes the exact path.
        parts = region.replace(SOH, b"=").split(b"=")
        try:
            tags = list(map(_FAST_TAGS.__getitem__, parts[0::2]))
        except KeyError:
            tags = None
        if tags is not None and (data_fields is DATA_FIELDS or not data_fields
                                 or frozenset(data_fields.values()).isdisjoint(tags)):
            msg = _new_message(FixMessage)
            msg.fields = list(zip(tags, parts[1::2]))  # noqa: B905 - equal lengths by construction
            msg._index = None
            return msg
    length_tags = _DATA_LENGTH_TAGS if data_fields is DATA_FIELDS else frozenset(data_fields.values())
    try:
        fields = _split_slow(frame, data_fields, length_tags)
    except GarbledFrame:
        raise
    except (ValueError, IndexError, OverflowError) as exc:  # defensive: never leak anything else
        raise GarbledFrame(f"unparseable: {exc}") from None
    if len(fields) < 4 or fields[0][0] != 8 or fields[1][0] != 9 or fields[2][0] != 35:
        raise GarbledFrame("first three fields are not 8, 9, 35")
    return FixMessage(fields)


_new_message = object.__new__
_TRAILER_SUM = sum(b"10=\x01")
_CS3 = [b"%03d" % i for i in range(256)]
#: the fast path's tag table: canonical spellings without the data-length tags
_FAST_TAGS = {k: v for k, v in _TAG_CACHE.items() if v not in _DATA_LENGTH_TAGS}


# --------------------------------------------------------------------------- encode

_PREFIX: dict[int, bytes] = {i: b"%d=" % i for i in range(1, 10000)}


def encode(begin_string: bytes | str, msg_type: bytes | str,
           fields: Iterable[tuple[int, bytes | str | int]]) -> bytes:
    """Build a frame: 8, 9, 35, then ``fields`` in the given order, then 10.

    >>> encode(b"FIX.4.4", b"0", [(34, 2), (49, "A"), (56, b"B")]).replace(SOH, b"|")
    b'8=FIX.4.4|9=20|35=0|34=2|49=A|56=B|10=126|'
    """
    # One list comprehension with the tag prefixes from a dict (a KeyError -- tag 0, negative
    # or 10000+ -- takes the general loop): ~25% cheaper than the append loop it replaced.
    if type(fields) is not list and type(fields) is not tuple:
        fields = list(fields)  # the fallback below may have to iterate a second time
    if _c_encode_fields is not None:
        frame = _c_encode_fields(begin_string, msg_type, fields)  # None: not the common case
        if frame is not None:
            return frame
    return encode_python(begin_string, msg_type, fields)


def encode_python(begin_string: bytes | str, msg_type: bytes | str,
                  fields: Iterable[tuple[int, bytes | str | int]]) -> bytes:
    """:func:`encode` without the C accelerator: the reference the C path is tested against."""
    to_bytes = _to_bytes
    if type(fields) is not list and type(fields) is not tuple:
        fields = list(fields)  # the fallback below may have to iterate a second time
    try:
        parts = [_PREFIX[tag] + (value if type(value) is bytes else to_bytes(value)) for tag, value in fields]
    except KeyError:
        parts = [(_PREFIX.get(tag) or b"%d=" % tag) + to_bytes(value) for tag, value in fields]
    body = b"35=" + (msg_type if type(msg_type) is bytes else to_bytes(msg_type)) + SOH + SOH.join(parts) + SOH \
        if parts else b"35=" + (msg_type if type(msg_type) is bytes else to_bytes(msg_type)) + SOH
    head = b"8=%s\x019=%d\x01%s" % (begin_string if type(begin_string) is bytes else to_bytes(begin_string),
                                      len(body), body)
    n = len(head)
    cs = (zlib.adler32(head, 0) & 0xFF) if n <= 256 else checksum(head)
    return head + _CHECKSUM_FIELD[cs]


_CHECKSUM_FIELD = [b"10=%03d\x01" % i for i in range(256)]


# --------------------------------------------------------------------------- C accelerator


def _load_accelerator():
    """The C hot loops (sim/fix/_ccodec.c), unless not built or MARKETDRILL_PURE_PYTHON is set."""
    if os.environ.get("MARKETDRILL_PURE_PYTHON"):
        return None
    try:
        from sim.fix import _ccodec
    except ImportError:
        return None
    _ccodec.set_length_tags(sorted(_DATA_LENGTH_TAGS))
    return _ccodec


_ccodec = _load_accelerator()
#: True when the C accelerator is in use (``marketdrill --version`` and the benchmarks say so).
ACCELERATED = _ccodec is not None
_c_decode_fields = _ccodec.decode_fields if _ccodec else None
_c_encode_fields = _ccodec.encode_fields if _ccodec else None
_c_scan_frame = _ccodec.scan_frame if _ccodec else None


# --------------------------------------------------------------------------- framing


class FrameReader:
    """Bytes stream -> frames (QuickFIX's framing rule), bounded, never raises."""

    def __init__(self, max_body_length: int = 1 << 20, max_buffer: int | None = None, *,
                 max_frame_bytes: int | None = None) -> None:
        if max_frame_bytes is not None:  # alias: a frame bigger than this is garbage
            max_body_length = max_frame_bytes
        # Beyond sys.maxsize no buffer can hold the body anyway; the C framing step takes a C size.
        self.max_body_length = min(max_body_length, sys.maxsize)
        self.max_buffer = max_buffer if max_buffer is not None else max_body_length + 4096
        # An immutable bytes buffer + read offset: slicing out a frame is one copy, and feed()
        # drops the consumed prefix (amortised: socket reads are large, leftovers small).
        self._buf = b""
        self._pos = 0
        self.skipped_bytes = 0  # garbage bytes discarded outside frames (incl. bad frame starts)
        self.garbled = 0  # frame starts discarded by the framing rule (bad/oversized BodyLength...)

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos:
            self._buf = self._buf[self._pos:] + bytes(data)
            self._pos = 0
        else:
            self._buf += bytes(data)

    def buffered(self) -> int:
        """Bytes held that are not yet returned as frames."""
        return len(self._buf) - self._pos

    def _resync(self, start: int) -> None:
        """Drop a bad frame start: the next search begins one byte later."""
        self.garbled += 1
        self.skipped_bytes += 1
        self._pos = start + 1

    def next_frame(self) -> bytes | None:
        """One complete frame's raw bytes, or None if more data is needed."""
        if _c_scan_frame is None:
            return self.next_frame_python()
        frame, self._pos, skipped, garbled = _c_scan_frame(self._buf, self._pos, self.max_body_length)
        if skipped:
            self.skipped_bytes += skipped
            self.garbled += garbled
        return frame

    def next_frame_python(self) -> bytes | None:
        """:meth:`next_frame` without the C accelerator: the reference the C path is tested against."""
        buf = self._buf
        end = len(buf)
        while True:
            start = self._pos
            if not buf.startswith(b"8=FIX", start):
                found = buf.find(b"8=FIX", start)
                if found < 0:
                    keep = max(start, end - 4)  # a partial "8=FI" may complete later
                    self.skipped_bytes += keep - start
                    self._pos = keep
                    return None
                self.skipped_bytes += found - start
                self._pos = start = found
            soh1 = buf.find(SOH, start, start + 64)
            if soh1 < 0:
                if end - start >= 64:
                    self._resync(start)
                    continue
                return None
            if end < soh1 + 3:
                return None
            if not buf.startswith(b"9=", soh1 + 1):
                self._resync(start)
                continue
            soh2 = buf.find(SOH, soh1 + 3, soh1 + 24)
            if soh2 < 0:
                if end - soh1 >= 24:
                    self._resync(start)
                    continue
                return None
            raw = buf[soh1 + 3:soh2]
            if not raw.isdigit() or int(raw) > self.max_body_length:
                self._resync(start)
                continue
            body_end = soh2 + 1 + int(raw)
            if end < body_end:
                return None
            t = buf.find(b"\x0110=", body_end - 1)
            if t < 0:
                if end - body_end > self.max_body_length:
                    self._resync(start)
                    continue
                return None
            e = buf.find(SOH, t + 4)
            if e < 0:
                if end - t > 64:
                    self._resync(start)
                    continue
                return None
            self._pos = e + 1
            return buf[start:e + 1]

    def __iter__(self):
        """Yield every complete frame currently buffered."""
        while (f := self.next_frame()) is not None:
            yield f
