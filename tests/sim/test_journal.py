"""Journal: running hash, file round trip, and precise detection of damage."""

import pytest

from sim.journal import Journal, JournalError, read_journal


def _sample(path=None):
    clock = iter(range(0, 10_000, 100))
    journal = Journal(lambda: next(clock), path=path)
    journal.record("order.new", order_id=1, px=10007, qty=5, side="buy")
    journal.record("trade", buy=1, sell=2, px=10007, qty=5)
    journal.record("alert.fire", labels={"symbol": "PRB", "alertname": "FillTooGood"})
    return journal


def test_same_events_give_the_same_hash():
    assert _sample().hash == _sample().hash


def test_a_different_payload_gives_a_different_hash():
    a, b = _sample(), _sample()
    b.record("x")
    a.record("y")
    assert a.hash != b.hash


def test_payload_key_order_does_not_change_the_hash():
    a, b = Journal(), Journal()
    a.append(0, "k", {"a": 1, "b": 2})
    b.append(0, "k", {"b": 2, "a": 1})
    assert a.hash == b.hash


def test_floats_in_payloads_are_refused_with_the_field_named():
    with pytest.raises(JournalError, match=r"order.new.px is a float"):
        Journal().record("order.new", px=100.07)


def test_time_never_goes_backwards():
    journal = Journal()
    journal.append(10, "a", {})
    with pytest.raises(JournalError, match="earlier than the previous"):
        journal.append(5, "b", {})


def test_file_round_trip_keeps_events_and_hash(tmp_path):
    journal = _sample()
    journal.write(tmp_path / "j.jsonl")
    events, digest = read_journal(tmp_path / "j.jsonl")
    assert events == journal.events
    assert digest == journal.hash


def test_streamed_file_equals_written_file(tmp_path):
    with _sample(tmp_path / "streamed.jsonl") as journal:
        pass
    journal.write(tmp_path / "written.jsonl")
    assert (tmp_path / "streamed.jsonl").read_text() == (tmp_path / "written.jsonl").read_text()


def test_a_truncated_journal_is_detected_with_the_line_number(tmp_path):
    path = tmp_path / "j.jsonl"
    _sample().write(path)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(JournalError, match=r"j.jsonl:4: truncated line"):
        read_journal(path)


def test_an_edited_line_is_detected_with_the_line_number(tmp_path):
    path = tmp_path / "j.jsonl"
    _sample().write(path)
    path.write_text(path.read_text().replace('"qty":5,"side"', '"qty":50,"side"'))
    with pytest.raises(JournalError, match=r"j.jsonl:2: hash mismatch"):
        read_journal(path)


def test_a_removed_line_is_detected(tmp_path):
    path = tmp_path / "j.jsonl"
    _sample().write(path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2] + lines[3:]))
    with pytest.raises(JournalError, match=r"j.jsonl:3: sequence 2 where 1"):
        read_journal(path)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text("hello\n")
    with pytest.raises(JournalError, match="not a marketdrill journal"):
        read_journal(path)


def test_subscribers_see_every_event():
    seen = []
    journal = Journal()
    journal.subscribe(seen.append)
    journal.record("a")
    journal.record("b", n=1)
    assert [e.kind for e in seen] == ["a", "b"]
    assert [e.kind for e in journal.of_kind("a")] == ["a"]
