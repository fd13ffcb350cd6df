"""The event journal: an append-only record of every input and output of a run, with a running hash.

The running hash is the fingerprint of a run: the same scenario and seed must give the same hash
on any machine, so everything that feeds it is canonical: events are ordered by (virtual time,
sequence), payloads are serialised as JSON with sorted keys and no whitespace, and floats are
refused (a float's repr is exact in CPython, but prices and quantities are integers here and a float
in a payload is almost always a bug that would make two platforms disagree).

File format (one event per line, UTF-8)::

    {"marketdrill-journal":1}
    {"d":{...},"h":"<32 hex>","k":"order.new","s":0,"t":1767346200000000000}
    ...

``t`` is virtual time in integer nanoseconds, ``s`` the journal sequence, ``k`` the event kind,
``d`` the payload and ``h`` the running hash *after* this event: BLAKE2b-128 over the previous hash
and the canonical bytes of (t, s, k, d).  Chaining the hash into every line means a reader finds
the first line that was truncated, edited or reordered and reports it by line number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

FORMAT_HEADER = '{"marketdrill-journal":1}'
_GENESIS = bytes(16)


class JournalError(ValueError):
    """A journal that cannot be read or an event that cannot be recorded; names the line and why."""


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One recorded event: virtual time (ns), journal sequence, kind and a JSON-able payload."""

    time_ns: int
    seq: int
    kind: str
    data: dict[str, Any]


def check_payload(value: Any, path: str) -> None:
    """Refuse payload values whose serialisation could differ between runs or platforms (JournalError)."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        raise JournalError(f"payload field {path} is a float ({value!r}); record integers (ticks, ns) instead")
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_payload(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise JournalError(f"payload field {path} has a non-string key {key!r}")
            if type(item) not in _PLAIN:
                check_payload(item, f"{path}.{key}")
        return
    raise JournalError(f"payload field {path} has unsupported type {type(value).__name__}")


# Values of these exact types pass check_payload as they are: skipping the recursive call (and the
# path string it builds) for them took an order event's check from 7.1 us to 2.8 us.
_PLAIN = frozenset({str, int, bool, type(None)})

# One encoder for every event: json.dumps with non-default options builds a new JSONEncoder per
# call (8.7 us an order event against 7.2 us); the output is the same bytes.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(time_ns: int, seq: int, kind: str, data: dict[str, Any]) -> bytes:
    """The bytes the hash covers: canonical JSON of the event's fields."""
    return _ENCODER.encode([time_ns, seq, kind, data]).encode()


def _chain(previous: bytes, canonical: bytes) -> bytes:
    """Next running hash from the previous one and an event's canonical bytes."""
    return hashlib.blake2b(previous + canonical, digest_size=16).digest()


class Journal:
    """Append-only event journal with a running BLAKE2b hash; optionally streamed to a file."""

    def __init__(self, now_ns: Callable[[], int] | None = None, *, path: str | Path | None = None,
                 keep: bool = True, check_payloads: bool = True) -> None:
        self._now_ns = now_ns or (lambda: 0)
        self._hash = _GENESIS
        self._seq = 0
        self._keep = keep
        self._check = check_payloads
        self.events: list[JournalEvent] = []
        self._subscribers: list[Callable[[JournalEvent], None]] = []
        self._file: TextIO | None = None
        if path is not None:
            self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
            self._file.write(FORMAT_HEADER + "\n")

    # -- RECORDING ---------------------------------------------------------------------------

    def record(self, kind: str, /, **data: Any) -> JournalEvent:
        """Append an event stamped with the clock's current time; returns it.

        Runtime complexity: O(size of the payload).
        """
        return self.append(self._now_ns(), kind, data)

    def append(self, time_ns: int, kind: str, data: dict[str, Any]) -> JournalEvent:
        """Append an event with an explicit time (replay uses this); time never goes backwards."""
        if self._check:
            check_payload(data, kind)
        if self.events and time_ns < self.events[-1].time_ns:
            raise JournalError(f"event {kind!r} at t={time_ns} is earlier than the previous event")
        event = JournalEvent(time_ns, self._seq, kind, data)
        canonical = _canonical(time_ns, self._seq, kind, data)
        self._hash = _chain(self._hash, canonical)
        self._seq += 1
        if self._keep:
            self.events.append(event)
        if self._file is not None:
            self._file.write(_line(event, self._hash))
        for subscriber in self._subscribers:
            subscriber(event)
        return event

    def subscribe(self, callback: Callable[[JournalEvent], None]) -> None:
        """Call ``callback`` with every event appended from now on (monitors watch the stream this way)."""
        self._subscribers.append(callback)

    # -- READING -----------------------------------------------------------------------------

    @property
    def hash(self) -> str:
        """The running hash as hex: the fingerprint of the run so far."""
        return self._hash.hex()

    def __len__(self) -> int:
        return self._seq

    def of_kind(self, *kinds: str) -> Iterator[JournalEvent]:
        """Kept events whose kind is one of ``kinds`` (or starts with ``kind.`` for a family)."""
        prefixes = tuple(k + "." for k in kinds)
        for event in self.events:
            if event.kind in kinds or event.kind.startswith(prefixes):
                yield event

    def write(self, path: str | Path) -> None:
        """Write every kept event to a journal file (the streaming path writes as it goes)."""
        digest = _GENESIS
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(FORMAT_HEADER + "\n")
            for event in self.events:
                digest = _chain(digest, _canonical(event.time_ns, event.seq, event.kind, event.data))
                handle.write(_line(event, digest))

    def flush(self) -> None:
        """Flush the streamed file, if any."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Close the streamed file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _line(event: JournalEvent, digest: bytes) -> str:
    """One file line for an event and the running hash after it."""
    return _ENCODER.encode({"t": event.time_ns, "s": event.seq, "k": event.kind, "d": event.data,
                            "h": digest.hex()}) + "\n"


def read_journal(path: str | Path) -> tuple[list[JournalEvent], str]:
    """Read a journal file back, verifying every line's hash; returns (events, final hash).

    A truncated last line, an edited or reordered line, or a line that is not an event raises
    JournalError naming the file and line number.
    """
    path = Path(path)
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise JournalError(f"{path}: cannot open journal: {exc.strerror or exc}") from None
    with handle:
        return _read_lines(handle, str(path))


def _read_lines(lines: Iterable[str], source: str) -> tuple[list[JournalEvent], str]:
    """Parse and verify journal lines (see read_journal)."""
    events: list[JournalEvent] = []
    digest = _GENESIS
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None or first.rstrip("\n") != FORMAT_HEADER:
        raise JournalError(f"{source}:1: not a marketdrill journal (expected header {FORMAT_HEADER})")
    for number, raw in enumerate(iterator, start=2):
        if not raw.endswith("\n"):
            raise JournalError(f"{source}:{number}: truncated line (no newline): the journal was cut short")
        try:
            record = json.loads(raw)
            time_ns, seq, kind, data, line_hash = record["t"], record["s"], record["k"], record["d"], record["h"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise JournalError(f"{source}:{number}: corrupt line: {exc}") from None
        if seq != len(events):
            raise JournalError(f"{source}:{number}: sequence {seq} where {len(events)} was expected")
        if events and time_ns < events[-1].time_ns:
            raise JournalError(f"{source}:{number}: time goes backwards")
        digest = _chain(digest, _canonical(time_ns, seq, kind, data))
        if digest.hex() != line_hash:
            raise JournalError(f"{source}:{number}: hash mismatch: the line was altered or an earlier one removed")
        events.append(JournalEvent(time_ns, seq, kind, data))
    return events, digest.hex()
