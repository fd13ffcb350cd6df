"""FIX message stores: sequence numbers and sent messages, in memory or in an append-only file.

A session needs three things to survive a reconnect or a restart: the next MsgSeqNum it
will send, the next one it expects, and the raw bytes of what it sent (to answer a
ResendRequest).  The semantics follow QuickFIX's ``MessageStore`` (C++ and Java):

* ``set(seq, raw)`` stores an outgoing message; storing a seq again replaces it.
* ``get_range(begin, end)`` is inclusive at both ends and returns only the numbers that
  are stored, ascending (gaps are the session's business: it gap-fills them).  The
  caller maps ``EndSeqNo=0`` ("everything") to ``next_sender_seq - 1``.
* ``reset()`` puts both sequence numbers back to 1, forgets every message and stamps a
  new creation time (used by ResetOnLogon/Logout/Disconnect and by a daily reset).
* ``refresh()`` re-reads persistent state (QuickFIX's RefreshOnLogon); ``close()`` ends.

On-disk format of ``FileStore`` (one file, ``<dir>/FIX.4.4-ISLD-TW.store``)
-------------------------------------------------------------------------------
::

    file header (20 bytes):  b"MDFIXST1" | creation_time_ns u64 | crc32(first 16 bytes) u32
    record (13-byte header + payload), repeated:
        type u8 | payload_len u32 | crc32(payload) u32 | crc32(first 9 header bytes) u32
        payload:  type 1 MSG     seq u64 | raw message bytes
                  type 2 SENDER  next sender seq u64
                  type 3 TARGET  next target seq u64

All integers little-endian.  The current state is the fold of the records in file order:
the last SENDER/TARGET record wins, the last MSG record for a seq wins.

Why one journal rather than QuickFIX's four files (body, header index, seqnums, session):
QuickFIX rewrites its seqnums file in place on every increment and appends body and index
separately, so a crash can leave them disagreeing (an index entry pointing past the body,
a seqnum that counts a message whose body is missing).  A single append-only file has one
order of events, so any prefix of it is a consistent state; and a seqnum change is a
21-byte append instead of a rewrite.  Rewriting a seqnums file atomically
(write temp + ``os.replace``) per increment costs four syscalls plus a directory update and
would cap the store far below 100k msgs/s.  The price is growth: every increment adds a
record, so ``compact()`` rewrites the file to its live state (done automatically on open
when more than 4096 superseded records outnumber the live ones), and ``reset()`` starts a
new file.  Both write a temp file, fsync it and ``os.replace`` it over the old one, so
they are atomic.

Two checksums per record so that damage is classified, not guessed at: the header
checksum makes ``payload_len`` trustworthy, so a record running past end-of-file really is
a torn append, not a corrupt length swallowing the rest of the file.

Recovery on open
----------------
* Torn tail (process killed mid-append: incomplete header or payload at end of file, a
  bad payload checksum on the very last record, or a zero-filled tail left by a power
  loss): the file is truncated to the end of the last complete record, and
  ``FileStore.recovery`` says how many bytes were dropped and why (also logged).
* Anything else that does not verify (a bad header checksum followed by non-zero data,
  a bad payload checksum with records after it, an unknown record type, a bad file
  header) raises ``StoreCorruptError`` naming the file and the byte offset.  A damaged
  record in the middle is never skipped: the records after it may depend on it.

Durability (``sync`` option)
----------------------------
* ``"flush"`` (default): every operation is handed to the kernel (one ``write``) before it
  returns.  Survives the process being killed at any instant; an OS crash or power loss
  can lose what the kernel had not yet written back.
* ``N`` (int >= 1): as ``"flush"``, plus ``fsync`` every N records (and on close).  A power
  loss loses at most the last N-1 records; ``1`` is fully durable and slowest
  (an fsync is 0.1-10 ms depending on the disk).
* ``"none"``: records collect in a 64 KiB user-space buffer, written when it fills, on
  ``get_range``, ``sync()`` and ``close()``.  Fastest; a process kill loses the buffered
  tail (repaired as a torn write on the next open) - only for simulations where the
  store need not outlive the process.

One writer per file: the journal is ``flock``-ed while open, so a second FileStore on
the same session (in this process or another) gets ``StoreError`` instead of
interleaving records.  Messages are read back with ``pread`` from the offsets in an in-memory index (seq ->
offset, length), so the index costs ~100 bytes per stored message, not the message.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "FileStore",
    "MemoryStore",
    "MessageStore",
    "RecoveryReport",
    "SessionID",
    "StoreCorruptError",
    "StoreError",
    "open_store",
]

log = logging.getLogger(__name__)

_FILE_MAGIC = b"MDFIXST1"
_FILE_HDR = struct.Struct("<8sQI")
_REC_HDR = struct.Struct("<BIII")
_REC_PRE = struct.Struct("<BII")  # the checksummed first 9 bytes of a record header
_U64 = struct.Struct("<Q")
_MSG, _SENDER, _TARGET = 1, 2, 3
_BUFFER_LIMIT = 64 * 1024
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._]")


@dataclass(frozen=True, slots=True)
class SessionID:
    """Identity of a FIX session, seen from our side: BeginString, our CompID, theirs."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    qualifier: str = ""

    def __str__(self) -> str:
        text = f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"
        return f"{text}:{self.qualifier}" if self.qualifier else text

    @property
    def file_prefix(self) -> str:
        """Filename-safe form as QuickFIX names its files, e.g. ``FIX.4.4-ISLD-TW``."""
        parts = [self.begin_string, self.sender_comp_id, self.target_comp_id]
        if self.qualifier:
            parts.append(self.qualifier)
        # '/' or '-' inside a CompID would change the path or make the name ambiguous.
        return "-".join(_UNSAFE_FILENAME_CHARS.sub("_", p) for p in parts)

    def reversed(self) -> SessionID:
        """The same session as the counterparty sees it (sender and target swapped)."""
        return SessionID(self.begin_string, self.target_comp_id, self.sender_comp_id, self.qualifier)

    @classmethod
    def parse(cls, text: str) -> SessionID:
        """Inverse of ``str()``: ``FIX.4.4:ISLD->TW`` or ``FIX.4.4:ISLD->TW:qualifier``."""
        m = re.fullmatch(r"(FIX[T]?\.\d\.\d):([^:>]+)->([^:]+)(?::(.+))?", text)
        if not m:
            raise ValueError(f"not a session id (want BEGIN:SENDER->TARGET[:QUALIFIER]): {text!r}")
        return cls(m[1], m[2], m[3], m[4] or "")


class StoreError(Exception):
    """A message store could not be read or written."""


class StoreCorruptError(StoreError):
    """A store file holds a record that does not verify, somewhere other than its tail."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"{path}: corrupt store at byte offset {offset}: {reason}")
        self.path, self.offset, self.reason = path, offset, reason


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What opening a FileStore had to repair: a torn last write, truncated away."""

    path: Path
    offset: int
    dropped_bytes: int
    reason: str


@runtime_checkable
class MessageStore(Protocol):
    """What a FIX session needs from its store (QuickFIX's MessageStore, Pythonic names)."""

    next_sender_seq: int
    next_target_seq: int

    @property
    def creation_time_ns(self) -> int: ...
    def incr_next_sender_seq(self) -> None: ...
    def incr_next_target_seq(self) -> None: ...
    def set(self, seq: int, raw: bytes) -> None: ...
    def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]: ...
    def reset(self) -> None: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...


def _check_seq(value: object, what: str) -> int:
    if type(value) is not int or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def _seqs_in_range(keys: dict[int, object], begin: int, end: int) -> list[int]:
    """Stored seqs within [begin, end], ascending, without walking a huge empty range."""
    if end < begin:
        return []
    if end - begin < len(keys):
        return [s for s in range(begin, end + 1) if s in keys]
    return sorted(s for s in keys if begin <= s <= end)


class MemoryStore:
    """A MessageStore in a dict: for tests, simulations and ResetOnLogon sessions."""

    def __init__(self, session_id: SessionID | None = None, *, now_ns: Callable[[], int] = time.time_ns) -> None:
        self.session_id = session_id
        self._now_ns = now_ns
        self._messages: dict[int, bytes] = {}
        self._sender = 1
        self._target = 1
        self._created = now_ns()

    @property
    def next_sender_seq(self) -> int:
        """The MsgSeqNum of the next message we send."""
        return self._sender

    @next_sender_seq.setter
    def next_sender_seq(self, value: int) -> None:
        self._sender = _check_seq(value, "next_sender_seq")

    @property
    def next_target_seq(self) -> int:
        """The MsgSeqNum we expect on the next message received."""
        return self._target

    @next_target_seq.setter
    def next_target_seq(self, value: int) -> None:
        self._target = _check_seq(value, "next_target_seq")

    @property
    def creation_time_ns(self) -> int:
        """When the store was created or last reset (ns since the epoch, from ``now_ns``)."""
        return self._created

    def incr_next_sender_seq(self) -> None:
        """Add one to next_sender_seq."""
        self._sender += 1

    def incr_next_target_seq(self) -> None:
        """Add one to next_target_seq."""
        self._target += 1

    def set(self, seq: int, raw: bytes) -> None:
        """Store a sent message under its MsgSeqNum (replacing any earlier one)."""
        # The session's own call (an int seq, a bytes frame) skips the checking call and the copy
        # (once per message sent; ~120 ns left per call on the dev box).
        if type(seq) is int and seq >= 1 and type(raw) is bytes:
            self._messages[seq] = raw
        else:
            self._messages[_check_seq(seq, "seq")] = bytes(raw)

    def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored messages with begin <= seq <= end, ascending."""
        msgs = self._messages
        return [(s, msgs[s]) for s in _seqs_in_range(msgs, begin, end)]

    def reset(self) -> None:
        """Both seqnums to 1, no messages, new creation time."""
        self._messages.clear()
        self._sender = self._target = 1
        self._created = self._now_ns()

    def refresh(self) -> None:
        """Nothing to re-read: memory is the only copy."""

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(fd: int, path: Path) -> None:
    """Refuse a second writer: two stores appending to one journal would interleave records."""
    try:
        import fcntl
    except ImportError:  # not on Windows; the journal is still correct with one writer
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StoreError(f"{path}: store is already open (in this or another process)") from None


def _record(kind: int, payload: bytes) -> bytes:
    pre = _REC_PRE.pack(kind, len(payload), zlib.crc32(payload))
    return pre + zlib.crc32(pre).to_bytes(4, "little") + payload


def _file_header(created_ns: int) -> bytes:
    head = _FILE_MAGIC + _U64.pack(created_ns)
    return head + zlib.crc32(head).to_bytes(4, "little")


class FileStore:
    """A MessageStore in one append-only journal file that survives a process restart."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        session_id: SessionID,
        *,
        sync: str | int = "flush",
        now_ns: Callable[[], int] = time.time_ns,
        compact_on_open: bool = True,
    ) -> None:
        if sync not in ("flush", "none") and not (type(sync) is int and sync >= 1):
            raise ValueError(f"sync must be 'flush', 'none' or an integer >= 1, got {sync!r}")
        self.session_id = session_id
        self.directory = Path(directory)
        self.path = self.directory / f"{session_id.file_prefix}.store"
        self.recovery: RecoveryReport | None = None
        self._sync = sync
        self._now_ns = now_ns
        self._compact_on_open = compact_on_open
        self._fd = -1
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open()

    # -- OPEN / RECOVER --

    def _open(self) -> None:
        self.recovery = None
        self._index: dict[int, tuple[int, int]] = {}
        self._sender = self._target = 1
        self._buf = bytearray()
        self._unsynced = 0
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._replace_file(self._now_ns(), [])
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        try:
            _lock(fd, self.path)
            with open(fd, "rb", closefd=False) as f:
                data = f.read()
            superseded = self._scan(data, fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._size = os.fstat(fd).st_size
        if self._compact_on_open and superseded > 4096 and superseded > len(self._index) + 2:
            recovery = self.recovery
            self.compact()
            self.recovery = recovery

    def _scan(self, data: bytes, fd: int) -> int:
        """Fold the journal into the in-memory state; returns how many records were superseded."""
        path = self.path
        if len(data) < _FILE_HDR.size:
            raise StoreCorruptError(path, 0, f"file header truncated ({len(data)} of {_FILE_HDR.size} bytes)")
        magic, created, crc = _FILE_HDR.unpack_from(data, 0)
        if magic != _FILE_MAGIC:
            raise StoreCorruptError(path, 0, f"not a marketdrill FIX store (magic {magic!r})")
        if zlib.crc32(data[:16]) != crc:
            raise StoreCorruptError(path, 0, "file header checksum mismatch")
        self._created = created
        view = memoryview(data)
        crc32, unpack_hdr, u64 = zlib.crc32, _REC_HDR.unpack_from, _U64.unpack_from
        index, hsize, n = self._index, _REC_HDR.size, len(data)
        records = 0
        pos = _FILE_HDR.size
        torn: str | None = None
        while pos < n:
            if n - pos < hsize:
                torn = f"incomplete record header ({n - pos} of {hsize} bytes)"
                break
            kind, length, pcrc, hcrc = unpack_hdr(data, pos)
            if crc32(view[pos : pos + 9]) != hcrc:
                if view[pos:] == bytes(n - pos):
                    torn = "zero-filled tail"
                    break
                raise StoreCorruptError(path, pos, "record header checksum mismatch")
            start = pos + hsize
            end = start + length
            if end > n:
                torn = f"incomplete record ({n - start} of {length} payload bytes)"
                break
            if crc32(view[start:end]) != pcrc:
                if end == n:
                    torn = "payload checksum mismatch in the last record"
                    break
                raise StoreCorruptError(path, pos, "record payload checksum mismatch")
            if length < 8 or kind not in (_MSG, _SENDER, _TARGET):
                raise StoreCorruptError(path, pos, f"unknown record type {kind} with length {length}")
            value = u64(data, start)[0]
            if kind == _MSG:
                index[value] = (start + 8, length - 8)
            elif kind == _SENDER:
                self._sender = value
            else:
                self._target = value
            records += 1
            pos = end
        if torn is not None:
            self.recovery = RecoveryReport(path, pos, n - pos, torn)
            log.warning("%s: torn write at byte offset %d (%s): dropped %d bytes",
                        path, pos, torn, n - pos)
            os.ftruncate(fd, pos)
            os.fsync(fd)
        view.release()
        return records - len(index)

    def _replace_file(self, created_ns: int, body: list[bytes]) -> None:
        """Atomically make the store file hold ``header + body`` (temp, fsync, rename)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(_file_header(created_ns))
            f.writelines(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        # The rename itself is only durable once the directory entry is on disk.
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- WRITES --

    def _append(self, rec: bytes) -> int:
        """Queue one record; returns the file offset its payload will have."""
        if self._fd < 0:
            raise StoreError(f"{self.path}: store is closed")
        offset = self._size + len(self._buf) + _REC_HDR.size
        self._buf += rec
        if self._sync == "none":
            if len(self._buf) >= _BUFFER_LIMIT:
                self._write_out()
        else:
            self._write_out()
            if self._sync != "flush":
                self._unsynced += 1
                if self._unsynced >= self._sync:
                    os.fsync(self._fd)
                    self._unsynced = 0
        return offset

    def _write_out(self) -> None:
        buf = self._buf
        if not buf:
            return
        view = memoryview(buf)
        done = 0
        try:
            while done < len(buf):
                done += os.write(self._fd, view[done:])
        finally:
            view.release()
            self._size += done
            del buf[:done]

    @property
    def next_sender_seq(self) -> int:
        """The MsgSeqNum of the next message we send."""
        return self._sender

    @next_sender_seq.setter
    def next_sender_seq(self, value: int) -> None:
        _check_seq(value, "next_sender_seq")
        self._append(_record(_SENDER, _U64.pack(value)))
        self._sender = value

    @property
    def next_target_seq(self) -> int:
        """The MsgSeqNum we expect on the next message received."""
        return self._target

    @next_target_seq.setter
    def next_target_seq(self, value: int) -> None:
        _check_seq(value, "next_target_seq")
        self._append(_record(_TARGET, _U64.pack(value)))
        self._target = value

    @property
    def creation_time_ns(self) -> int:
        """When the store file was created or last reset (ns since the epoch)."""
        return self._created

    def incr_next_sender_seq(self) -> None:
        """Add one to next_sender_seq, persisted."""
        self.next_sender_seq = self._sender + 1

    def incr_next_target_seq(self) -> None:
        """Add one to next_target_seq, persisted."""
        self.next_target_seq = self._target + 1

    def set(self, seq: int, raw: bytes) -> None:
        """Append a sent message under its MsgSeqNum (a later set for the same seq wins)."""
        _check_seq(seq, "seq")
        offset = self._append(_record(_MSG, _U64.pack(seq) + raw))
        self._index[seq] = (offset + 8, len(raw))

    # -- READS --

    def get_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored messages with begin <= seq <= end, ascending, read back from the file."""
        if self._fd < 0:
            raise StoreError(f"{self.path}: store is closed")
        self._write_out()
        index, fd, out = self._index, self._fd, []
        for seq in _seqs_in_range(index, begin, end):
            offset, length = index[seq]
            raw = os.pread(fd, length, offset)
            if len(raw) != length:
                raise StoreCorruptError(self.path, offset, f"message {seq} truncated on disk")
            out.append((seq, raw))
        return out

    # -- LIFECYCLE --

    def sync(self) -> None:
        """Write out anything buffered and fsync: everything so far survives a power loss."""
        self._write_out()
        os.fsync(self._fd)
        self._unsynced = 0

    def compact(self) -> None:
        """Rewrite the file to its live state only (atomic); the journal stops growing."""
        self._write_out()
        body = [_record(_MSG, _U64.pack(seq) + raw) for seq, raw in self.get_range(1, 2**63)]
        body += [_record(_SENDER, _U64.pack(self._sender)), _record(_TARGET, _U64.pack(self._target))]
        self._close_fd()
        self._replace_file(self._created, body)
        self._open()

    def reset(self) -> None:
        """Both seqnums to 1, no messages, new creation time: a fresh file, atomically."""
        self._buf.clear()
        self._close_fd(flush=False)
        self._replace_file(self._now_ns(), [])
        self._open()

    def refresh(self) -> None:
        """Drop the in-memory state and re-read it from the file."""
        self._close_fd(flush=True)
        self._open()

    def _close_fd(self, flush: bool = True) -> None:
        if self._fd < 0:
            return
        try:
            if flush:
                self._write_out()
                if self._sync != "flush":
                    os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        """Write out buffered records (fsync unless sync='flush') and close the file."""
        self._close_fd()

    @property
    def closed(self) -> bool:
        """True once close() has been called."""
        return self._fd < 0

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    session_id: SessionID,
    file_store_path: str | os.PathLike[str] | None = None,
    **file_options: object,
) -> MemoryStore | FileStore:
    """A FileStore under ``file_store_path`` when given (QuickFIX's FileStorePath), else a MemoryStore."""
    if file_store_path is None:
        return MemoryStore(session_id)
    return FileStore(file_store_path, session_id, **file_options)  # type: ignore[arg-type]
