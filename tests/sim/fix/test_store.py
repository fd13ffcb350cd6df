"""Tests for sim.fix.store: both stores against one contract, then FileStore restart and recovery."""

from __future__ import annotations

import itertools
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.fix.store import (
    FileStore,
    MemoryStore,
    MessageStore,
    SessionID,
    StoreCorruptError,
    StoreError,
    open_store,
)

SID = SessionID("FIX.4.4", "ISLD", "TW")
FILE_HEADER = 20
RECORD_HEADER = 13


def msg(seq: int) -> bytes:
    return f"8=FIX.4.4\x019=5\x0135=D\x0134={seq}\x0111=ord{seq}\x0110=000\x01".encode()


class FakeClock:
    def __init__(self) -> None:
        self.now = itertools.count(1_000, 1_000)

    def __call__(self) -> int:
        return next(self.now)


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path):
    s = MemoryStore(SID, now_ns=FakeClock()) if request.param == "memory" else FileStore(
        tmp_path, SID, now_ns=FakeClock())
    yield s
    s.close()


def state(s) -> tuple:
    return s.next_sender_seq, s.next_target_seq, s.get_range(1, 10**9)


# -- SESSION ID --

def test_session_id_string_form_is_quickfix_style():
    assert str(SID) == "FIX.4.4:ISLD->TW"
    assert str(SessionID("FIX.4.2", "A", "B", "q1")) == "FIX.4.2:A->B:q1"


def test_session_id_file_prefix_is_filename_safe():
    assert SID.file_prefix == "FIX.4.4-ISLD-TW"
    assert SessionID("FIX.4.2", "A", "B", "q1").file_prefix == "FIX.4.2-A-B-q1"
    assert SessionID("FIX.4.4", "../x", "a-b").file_prefix == "FIX.4.4-.._x-a_b"


def test_session_id_parse_inverts_str_and_rejects_garbage():
    for sid in (SID, SessionID("FIX.4.2", "A", "B", "q1")):
        assert SessionID.parse(str(sid)) == sid
    with pytest.raises(ValueError, match="not a session id"):
        SessionID.parse("ISLD->TW")


def test_session_id_reversed_swaps_comp_ids():
    assert SID.reversed() == SessionID("FIX.4.4", "TW", "ISLD")


# -- THE CONTRACT, BOTH STORES --

def test_new_store_starts_at_one_and_one_and_is_a_message_store(store):
    assert (store.next_sender_seq, store.next_target_seq) == (1, 1)
    assert store.get_range(1, 100) == []
    assert isinstance(store, MessageStore)


def test_set_and_get_range_round_trip_bytes_exactly(store):
    for seq in (1, 2, 3):
        store.set(seq, msg(seq))
    store.set(5, b"\x00\x01binary\xff")
    assert store.get_range(1, 5) == [(1, msg(1)), (2, msg(2)), (3, msg(3)), (5, b"\x00\x01binary\xff")]


def test_get_range_is_inclusive_and_skips_gaps(store):
    for seq in (2, 4, 6):
        store.set(seq, msg(seq))
    assert store.get_range(2, 2) == [(2, msg(2))]
    assert store.get_range(3, 3) == []
    assert store.get_range(3, 6) == [(4, msg(4)), (6, msg(6))]
    assert store.get_range(1, 10**12) == [(2, msg(2)), (4, msg(4)), (6, msg(6))]
    assert store.get_range(7, 100) == []


def test_get_range_with_end_before_begin_is_empty(store):
    store.set(1, msg(1))
    assert store.get_range(2, 1) == []


def test_set_for_a_stored_seq_replaces_the_message(store):
    store.set(1, b"old")
    store.set(1, b"new")
    assert store.get_range(1, 1) == [(1, b"new")]


def test_seqnums_set_and_increment(store):
    store.next_sender_seq = 10
    store.next_target_seq = 20
    store.incr_next_sender_seq()
    store.incr_next_target_seq()
    store.incr_next_target_seq()
    assert (store.next_sender_seq, store.next_target_seq) == (11, 22)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "3"])
def test_invalid_seq_numbers_are_refused(store, bad):
    with pytest.raises(ValueError, match=">= 1"):
        store.set(bad, b"x")
    with pytest.raises(ValueError, match="next_sender_seq"):
        store.next_sender_seq = bad
    with pytest.raises(ValueError, match="next_target_seq"):
        store.next_target_seq = bad


def test_reset_returns_to_one_clears_messages_and_renews_creation_time(store):
    created = store.creation_time_ns
    store.set(1, msg(1))
    store.next_sender_seq, store.next_target_seq = 7, 9
    store.reset()
    assert state(store) == (1, 1, [])
    assert store.creation_time_ns > created


def test_open_store_picks_memory_without_path_and_file_with_one(tmp_path):
    assert isinstance(open_store(SID), MemoryStore)
    with open_store(SID, tmp_path, sync="none") as s:
        assert isinstance(s, FileStore)
        assert s.path == tmp_path / "FIX.4.4-ISLD-TW.store"


# -- FILESTORE: RESTART --

def fill(s: FileStore, n: int = 5) -> None:
    for seq in range(1, n + 1):
        s.set(seq, msg(seq))
        s.incr_next_sender_seq()
    s.next_target_seq = 42


@pytest.mark.parametrize("sync", ["flush", "none", 1, 3])
def test_file_store_survives_close_and_reopen_with_every_sync_policy(tmp_path, sync):
    with FileStore(tmp_path, SID, sync=sync) as s:
        fill(s)
        before, created = state(s), s.creation_time_ns
    with FileStore(tmp_path, SID) as s:
        assert state(s) == before
        assert s.creation_time_ns == created
        assert s.recovery is None


def test_file_store_killed_without_close_keeps_every_flushed_operation(tmp_path):
    s = FileStore(tmp_path / "a", SID)  # sync="flush": each op reaches the kernel at once
    fill(s)
    before = state(s)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # what a killed process leaves on disk
    with FileStore(tmp_path / "b", SID) as copy:
        assert state(copy) == before
    s.close()


def test_file_store_with_no_sync_loses_only_a_consistent_tail_when_killed(tmp_path):
    s = FileStore(tmp_path / "a", SID, sync="none")
    fill(s, 3)
    s.sync()
    synced = state(s)
    s.set(4, msg(4))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    with FileStore(tmp_path / "b", SID) as copy:
        assert state(copy) == synced
    s.close()


def test_file_store_after_reset_reopens_empty_with_the_new_creation_time(tmp_path):
    with FileStore(tmp_path, SID, now_ns=FakeClock()) as s:
        fill(s)
        s.reset()
        created = s.creation_time_ns
        s.set(1, b"after reset")
    with FileStore(tmp_path, SID) as s:
        assert state(s) == (1, 1, [(1, b"after reset")])
        assert s.creation_time_ns == created


def test_file_store_refresh_rereads_the_file(tmp_path):
    with FileStore(tmp_path, SID) as s:
        fill(s)
        before = state(s)
        s.refresh()
        assert state(s) == before
        s.set(6, msg(6))
        assert s.get_range(6, 6) == [(6, msg(6))]


def test_file_store_compact_shrinks_the_file_and_keeps_the_state(tmp_path):
    with FileStore(tmp_path, SID) as s:
        fill(s, 50)
        for _ in range(500):
            s.incr_next_target_seq()
        before, size = state(s), s.path.stat().st_size
        s.compact()
        assert state(s) == before
        assert s.path.stat().st_size < size / 2
    with FileStore(tmp_path, SID) as s:
        assert state(s) == before


def test_file_store_compacts_on_open_when_superseded_records_dominate(tmp_path):
    with FileStore(tmp_path, SID, sync="none") as s:
        for _ in range(5000):
            s.incr_next_sender_seq()
        size = s.path.stat().st_size
    with FileStore(tmp_path, SID) as s:
        assert s.next_sender_seq == 5001
        assert s.path.stat().st_size < size / 100


def test_closed_file_store_refuses_writes_and_reads(tmp_path):
    s = FileStore(tmp_path, SID)
    s.close()
    assert s.closed
    with pytest.raises(StoreError, match="closed"):
        s.set(1, b"x")
    with pytest.raises(StoreError, match="closed"):
        s.get_range(1, 1)


def test_second_file_store_on_the_same_session_is_refused_while_the_first_is_open(tmp_path):
    with FileStore(tmp_path, SID):
        with pytest.raises(StoreError, match="already open"):
            FileStore(tmp_path, SID)
    FileStore(tmp_path, SID).close()


def test_file_store_refuses_an_unknown_sync_policy(tmp_path):
    with pytest.raises(ValueError, match="sync must be"):
        FileStore(tmp_path, SID, sync="always")  # type: ignore[arg-type]


# -- FILESTORE: TORN WRITES --

def journal_with_last_op(tmp_path: Path, last_op) -> tuple[Path, int, tuple]:
    """A store file, the size before its last record, and the state before that record."""
    with FileStore(tmp_path, SID, compact_on_open=False) as s:
        fill(s, 3)
        before = state(s)
        prefix = s.path.stat().st_size
        last_op(s)
    return s.path, prefix, before


@pytest.mark.parametrize("last_op", [
    pytest.param(lambda s: s.set(4, msg(4)), id="message"),
    pytest.param(lambda s: s.incr_next_sender_seq(), id="sender-seq"),
    pytest.param(lambda s: s.incr_next_target_seq(), id="target-seq"),
])
def test_kill_at_every_byte_of_the_last_record_is_repaired_on_open(tmp_path, last_op):
    path, prefix, before = journal_with_last_op(tmp_path, last_op)
    full = path.read_bytes()
    for cut in range(prefix + 1, len(full)):
        path.write_bytes(full[:cut])
        with FileStore(tmp_path, SID, compact_on_open=False) as s:
            assert state(s) == before, cut
            assert s.recovery is not None
            assert (s.recovery.offset, s.recovery.dropped_bytes) == (prefix, cut - prefix)
            assert path.stat().st_size == prefix
            s.set(9, b"after repair")
        with FileStore(tmp_path, SID, compact_on_open=False) as s:
            assert s.recovery is None
            assert s.get_range(9, 9) == [(9, b"after repair")]


def test_bad_checksum_on_the_last_record_is_treated_as_a_torn_write(tmp_path):
    path, prefix, before = journal_with_last_op(tmp_path, lambda s: s.set(4, msg(4)))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with FileStore(tmp_path, SID) as s:
        assert state(s) == before
        assert "checksum" in s.recovery.reason


def test_zero_filled_tail_after_power_loss_is_truncated(tmp_path):
    path, prefix, before = journal_with_last_op(tmp_path, lambda s: None)
    with open(path, "ab") as f:
        f.write(bytes(4096))
    with FileStore(tmp_path, SID) as s:
        assert state(s) == before
        assert (s.recovery.dropped_bytes, s.recovery.reason) == (4096, "zero-filled tail")


# -- FILESTORE: CORRUPTION IN THE MIDDLE --

def record_offsets(path: Path) -> list[int]:
    data, pos, out = path.read_bytes(), FILE_HEADER, []
    while pos < len(data):
        out.append(pos)
        pos += RECORD_HEADER + struct.unpack_from("<I", data, pos + 1)[0]
    return out


@pytest.mark.parametrize("where, reason", [
    (0, "record header checksum mismatch"),           # the type byte
    (2, "record header checksum mismatch"),           # the length
    (RECORD_HEADER + 10, "record payload checksum mismatch"),
])
def test_corrupt_record_in_the_middle_is_reported_with_file_and_offset(tmp_path, where, reason):
    path, _, _ = journal_with_last_op(tmp_path, lambda s: s.set(4, msg(4)))
    victim = record_offsets(path)[2]
    data = bytearray(path.read_bytes())
    data[victim + where] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError) as err:
        FileStore(tmp_path, SID)
    assert (err.value.path, err.value.offset, err.value.reason) == (path, victim, reason)
    assert str(path) in str(err.value) and f"byte offset {victim}" in str(err.value)
    assert path.read_bytes() == bytes(data)  # reported, not repaired


def test_unknown_record_type_with_valid_checksums_is_corruption(tmp_path):
    path, _, _ = journal_with_last_op(tmp_path, lambda s: s.set(4, msg(4)))
    payload = b"\x00" * 8
    pre = struct.pack("<BII", 9, len(payload), zlib.crc32(payload))
    bogus = pre + zlib.crc32(pre).to_bytes(4, "little") + payload
    data = path.read_bytes()
    path.write_bytes(data[:FILE_HEADER] + bogus + data[FILE_HEADER:])
    with pytest.raises(StoreCorruptError, match=f"offset {FILE_HEADER}: unknown record type 9"):
        FileStore(tmp_path, SID)


@pytest.mark.parametrize("content, reason", [
    (b"MDFIX", "file header truncated"),
    (b"NOTASTORE" + bytes(30), "not a marketdrill FIX store"),
])
def test_bad_file_header_is_reported_at_offset_zero(tmp_path, content, reason):
    (tmp_path / "FIX.4.4-ISLD-TW.store").write_bytes(content)
    with pytest.raises(StoreCorruptError, match=f"offset 0: {reason}"):
        FileStore(tmp_path, SID)


def test_file_header_checksum_mismatch_is_reported(tmp_path):
    FileStore(tmp_path, SID).close()
    path = tmp_path / "FIX.4.4-ISLD-TW.store"
    data = bytearray(path.read_bytes())
    data[10] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match="file header checksum mismatch"):
        FileStore(tmp_path, SID)


# -- PROPERTY: FILESTORE BEHAVES LIKE MEMORYSTORE, ACROSS REOPENS --

seqs = st.integers(min_value=1, max_value=40)
ops = st.one_of(
    st.tuples(st.just("set"), seqs, st.binary(max_size=40)),
    st.tuples(st.just("sender"), seqs),
    st.tuples(st.just("target"), seqs),
    st.tuples(st.sampled_from(["incr_sender", "incr_target", "reset", "reopen", "refresh", "compact"])),
    st.tuples(st.just("range"), seqs, seqs),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(ops, max_size=30), st.sampled_from(["flush", "none", 2]))
def test_file_store_matches_memory_store_for_any_sequence_of_operations(operations, sync):
    with tempfile.TemporaryDirectory() as d:
        model, real = MemoryStore(), FileStore(d, SID, sync=sync)
        for op in operations:
            name = op[0]
            for s in (model, real):
                if name == "set":
                    s.set(op[1], op[2])
                elif name == "sender":
                    s.next_sender_seq = op[1]
                elif name == "target":
                    s.next_target_seq = op[1]
                elif name == "incr_sender":
                    s.incr_next_sender_seq()
                elif name == "incr_target":
                    s.incr_next_target_seq()
                elif name == "reset":
                    s.reset()
                elif name == "refresh":
                    s.refresh()
            if name == "reopen":
                real.close()
                real = FileStore(d, SID)
            elif name == "compact":
                real.compact()
            elif name == "range":
                assert real.get_range(op[1], op[2]) == model.get_range(op[1], op[2])
            assert state(real) == state(model)
        real.close()
        assert not os.path.exists(os.path.join(d, "FIX.4.4-ISLD-TW.store.tmp"))
