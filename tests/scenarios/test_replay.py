"""Replay: a recorded journal re-runs bit for bit; a behaviour change is reported at its first event."""

from __future__ import annotations

import pytest

import scenarios.runner as runner
from engines.monitors import MonitorConfig
from scenarios.replay import describe, replay
from scenarios.runner import run_scenario
from scenarios.spec import ScenarioError, load_scenario
from scenarios.suite import LIBRARY


def _record(tmp_path, name="goldman-options-2013-all-off"):
    record = run_scenario(load_scenario(LIBRARY / f"{name}.toml"))
    path = tmp_path / "run.journal.jsonl"
    record.journal.write(path)
    return path, record


def test_replaying_with_the_same_code_gives_no_difference_and_the_same_hash(tmp_path):
    path, record = _record(tmp_path)
    result = replay(path)
    assert result.identical and result.replayed_hash == record.journal_hash
    assert "no differences" in describe(result)


def test_a_changed_monitor_threshold_is_reported_at_the_first_differing_event(tmp_path, monkeypatch):
    path, _ = _record(tmp_path)
    monkeypatch.setattr(runner, "MonitorConfig", lambda: MonitorConfig(fill_too_good_ticks=None))
    result = replay(path)
    assert not result.identical and result.differences > 0
    index, recorded, today = result.first_difference
    assert "FillTooGood" in str(recorded.data) or "page" in recorded.kind or "alert" in str(recorded.data)
    assert "first difference at event" in describe(result)


def test_a_file_that_is_not_a_run_journal_is_refused(tmp_path):
    from sim.journal import Journal

    journal = Journal()
    journal.record("something")
    journal.write(tmp_path / "other.jsonl")
    with pytest.raises(ScenarioError, match="not a scenario run journal"):
        replay(tmp_path / "other.jsonl")


def test_replaying_with_a_tighter_limit_lists_the_orders_that_would_now_be_refused(tmp_path):
    path, _ = _record(tmp_path, "goldman-options-2013")
    result = replay(path, ["GS.risk.max_order_qty=50"])
    assert not result.identical
    assert result.newly_refused == () or all("GS/" in text for text in result.newly_refused)
    loose = replay(path, ["GS.risk.price_collar_bps=none"])
    assert not loose.identical  # the $1 orders now reach the venue instead of being refused


def test_a_bad_set_names_what_was_wrong(tmp_path):
    path, _ = _record(tmp_path, "goldman-options-2013")
    with pytest.raises(ScenarioError, match="unknown risk limit 'max_ordr'"):
        replay(path, ["GS.risk.max_ordr=5"])
    with pytest.raises(ScenarioError, match="no firm 'NOPE'"):
        replay(path, ["NOPE.risk.max_order_qty=5"])
    with pytest.raises(ScenarioError, match="FIRM.risk.LIMIT=VALUE"):
        replay(path, ["max_order_qty=5"])


def test_replaying_through_another_engine_runs_it_and_compares(tmp_path):
    path, _ = _record(tmp_path, "goldman-options-2013")
    result = replay(path, engines=["GS=python:examples.minimal_engine:MinimalEngine"])
    # The minimal engine refuses the same orders with the same codes; its ClOrdIDs may differ.
    assert result.recorded_events > 0 and result.replayed_events > 0
    with pytest.raises(ScenarioError, match="FIRM=]python:module:Class"):
        replay(path, engines=["GS=minimal"])
