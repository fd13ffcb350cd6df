"""The What Changed timeline: recording, queries by time and labels, journal round trip, rendering."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

import pytest

from engines.alerts import Alert
from engines.changes import (
    JOURNAL_KIND,
    ChangeError,
    ChangeEvent,
    ChangeLog,
    change_from_risk,
    format_timeline,
)
from sim.clock import DEFAULT_START_NS, minutes, seconds
from sim.journal import Journal, read_journal

T0 = DEFAULT_START_NS


def timeline() -> ChangeLog:
    log = ChangeLog()
    log.record("deploy", "ci", "MM1 version", old="1.4.2", new="1.4.3", labels={"strategy": "MM1", "engine": "OE1"},
               time_ns=T0 - minutes(20))
    log.record("venue", "CME", "ESZ6 tick size", old=25, new=50, labels={"venue": "CME", "symbol": "ESZ6"},
               reason="EDC 2025-117", time_ns=T0 - minutes(5))
    log.record("risk_limit", "alice", "max_order_qty", old=100, new=1000, labels={"strategy": "MM1"},
               time_ns=T0 - minutes(3))
    log.record("feed", "ops", "ESZ6 feed line", old="A", new="B", labels={"symbol": "ESZ6"}, time_ns=T0 - seconds(30))
    log.record("operator", "bob", "kill switch", new="on", time_ns=T0)
    return log


def test_since_and_window_return_changes_in_time_order_with_both_window_ends_included():
    log = timeline()
    assert [c.what for c in log.since(T0 - minutes(3))] == ["max_order_qty", "ESZ6 feed line", "kill switch"]
    assert [c.what for c in log.window(T0, 5)] == ["ESZ6 tick size", "max_order_qty", "ESZ6 feed line", "kill switch"]
    assert log.window(T0 - minutes(21), 1) == []


def test_changes_recorded_out_of_order_are_kept_in_time_order_and_equal_times_keep_insertion_order():
    log = ChangeLog()
    for what, at in (("b", 2), ("a", 1), ("c", 2)):
        log.record("deploy", "ci", what, time_ns=at)
    assert [c.what for c in log] == ["a", "b", "c"]


def test_matching_uses_shared_labels_and_global_changes_touch_everything():
    log = timeline()
    assert [c.what for c in log.matching({"alertname": "X", "strategy": "MM1", "symbol": "ESZ6"})] == [
        "MM1 version", "ESZ6 tick size", "max_order_qty", "ESZ6 feed line", "kill switch"]
    assert [c.what for c in log.matching({"symbol": "NQZ6", "venue": "CME"})] == ["kill switch"]


def test_recent_for_an_alert_returns_the_changes_touching_it_in_the_window_before_it_started():
    alert = Alert.create("StrategyCannotTrade", "page", "strategy MM2 cannot trade ESZ6", starts_at_ns=T0,
                         labels={"strategy": "MM2", "symbol": "ESZ6", "venue": "CME"})
    log = timeline()
    assert [c.what for c in log.recent_for(alert, minutes(10))] == ["ESZ6 tick size", "ESZ6 feed line", "kill switch"]
    later = log.record("operator", "bob", "halt MM2", labels={"strategy": "MM2"}, time_ns=T0 + minutes(1))
    assert later in log.recent_for(alert, minutes(10), now_ns=T0 + minutes(2))
    assert later not in log.recent_for(alert, minutes(10))


def test_payload_round_trips_through_json_and_refuses_floats_and_unknown_kinds():
    for change in timeline():
        payload = change.to_payload()
        assert ChangeEvent.from_payload(json.loads(json.dumps(payload))) == change
    with pytest.raises(ChangeError, match="float"):
        ChangeEvent(T0, "risk_limit", "alice", {}, "collar", old=0.5, new=1.0)
    with pytest.raises(ChangeError, match="unknown change kind"):
        ChangeEvent(T0, "deploymnet", "ci", {}, "x")


def test_a_log_with_a_journal_records_changes_that_rebuild_the_same_timeline(tmp_path):
    path = tmp_path / "run.journal"
    with Journal(lambda: T0, path=path) as journal:
        log = ChangeLog(now_ns=lambda: T0, journal=journal)
        for change in timeline():
            log.add(change)
        journal.record("order.new", id=1)
    events, _ = read_journal(path)
    assert [e.kind for e in events].count(JOURNAL_KIND) == 5
    assert list(ChangeLog.from_journal(events)) == list(timeline())


def test_risk_engine_limit_and_state_changes_become_timeline_events():
    class State(Enum):
        ACTIVE = 1
        HALTED = 3

    @dataclass
    class LimitChange:
        time_ns: int
        who: str
        what: str
        old: object
        new: object
        reason: str = ""

    @dataclass
    class StateChange:
        time_ns: int
        scope: str
        old: State
        new: State
        reason_code: str
        text: str
        who: str

    limit = change_from_risk(LimitChange(T0, "alice", "max_notional", 10, 2.5, "desk request"))
    assert (limit.kind, limit.what, limit.old, limit.new) == ("risk_limit", "risk limit max_notional", 10, "2.5")
    state = change_from_risk(StateChange(T0, "MM1", State.ACTIVE, State.HALTED, "loss_limit", "daily loss", "auto"))
    assert (state.kind, state.actor, state.labels, state.new) == ("operator", "auto", {"strategy": "MM1"}, "HALTED")


def test_format_timeline_filters_by_time_and_labels_and_says_how_long_ago():
    text = format_timeline(timeline(), since=T0 - minutes(10), labels={"symbol": "ESZ6"}, now_ns=T0 + minutes(1))
    lines = text.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "KIND", "ACTOR", "WHAT", "OLD", "NEW", "LABELS", "REASON"]
    assert len(lines) == 4 and "MM1 version" not in text
    assert "(-6m00s)" in lines[1] and "EDC 2025-117" in lines[1]
    assert format_timeline([]) == "no changes"


def test_describe_reads_as_one_line_for_people():
    change = timeline().matching({"strategy": "MM1"})[0]
    assert change.describe(T0) == ("09:10:00.000 deploy MM1 version 1.4.2 -> 1.4.3 by ci "
                                   "[engine=OE1 strategy=MM1] (20m00s ago)")
