"""Sinks: memory, console, JSON lines, Prometheus exposition (prometheus_client), and the Alertmanager sender's failure path."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import time

from prometheus_client.parser import text_string_to_metric_families

from engines.alert_sinks import (
    AlertmanagerSender,
    ConsoleSink,
    JsonLinesSink,
    MemorySink,
    PrometheusMetricsSink,
    alertmanager_payload,
    rfc3339,
)
from engines.alerts import REASON_ALL_RESOLVED, REASON_FIRST, Alert, Notification
from engines.changes import ChangeEvent
from sim.clock import DEFAULT_START_NS, minutes, seconds

T0 = DEFAULT_START_NS


def alert(strategy="MM1", ends=None) -> Alert:
    a = Alert.create("StrategyCannotTrade", "page", f"strategy {strategy} cannot trade ESZ6", starts_at_ns=T0,
                     labels={"strategy": strategy, "symbol": "ESZ6", "venue": "CME"},
                     causes=["feed ESZ6 stale since 09:31:02.120"], reason="stale_feed")
    change = ChangeEvent(T0 - minutes(3), "deploy", "ci", {"strategy": strategy}, "version", "1.0", "1.1")
    return Alert(a.labels, a.annotations, a.starts_at_ns, ends, a.reason, a.causes, (change,))


AT = T0 + seconds(30)


def notification(*alerts, reason=REASON_FIRST, at=AT, severity="page") -> Notification:
    status = "firing" if any(not a.resolved_at(at) for a in alerts) else "resolved"
    return Notification("pager", '{}:{symbol="ESZ6"}', {"symbol": "ESZ6"}, alerts, status, at, reason, severity)


def test_memory_sink_keeps_notifications_and_counts_pages():
    sink = MemorySink()
    sink.send(notification(alert("MM1"), alert("MM2")))
    sink.send(notification(alert("MM1", ends=T0 + 1), reason=REASON_ALL_RESOLVED))
    assert len(sink.pages()) == 1
    assert [a.labels["strategy"] for a in sink.alerts("firing")] == ["MM1", "MM2"]
    assert len(sink.alerts("resolved")) == 1
    sink.clear()
    assert sink.notifications == []


def test_console_sink_prints_the_symptom_its_causes_and_what_changed_in_plain_text():
    out = io.StringIO()
    ConsoleSink(out).send(notification(alert()))
    text = out.getvalue()
    assert text.startswith("20260102-09:30:30.000 PAGE [pager] FIRING symbol=ESZ6: 1 firing, 0 resolved")
    assert "strategy MM1 cannot trade ESZ6" in text
    assert "cause: feed ESZ6 stale since 09:31:02.120" in text
    assert "changed: 09:27:00.000 deploy version 1.0 -> 1.1 by ci [strategy=MM1] (3m30s ago)" in text


def test_json_lines_sink_writes_one_canonical_line_per_notification(tmp_path):
    sink = JsonLinesSink(tmp_path / "alerts.jsonl")
    sink.send(notification(alert()))
    sink.send(notification(alert(ends=T0 + 5), reason=REASON_ALL_RESOLVED))
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 2 and lines[0] == json.dumps(json.loads(lines[0]), sort_keys=True, separators=(",", ":"))
    assert [p["status"] for p in sink.read()] == ["firing", "resolved"]


def test_json_lines_sink_that_cannot_write_counts_the_error_instead_of_raising(tmp_path):
    sink = JsonLinesSink(tmp_path / "missing-dir" / "alerts.jsonl")
    sink.send(notification(alert()))
    assert sink.errors == 1


def test_prometheus_sink_renders_sorted_valid_text_exposition():
    sink = PrometheusMetricsSink()
    sink.send(notification(alert("MM1"), alert("MM2")))
    sink.send(notification(alert('quote"d'), reason="new alerts added", at=T0 + minutes(5)))
    text = sink.render()
    assert 'marketdrill_alert_notifications_total{receiver="pager",severity="page",status="firing"} 2' in text
    assert 'marketdrill_alert_pages_total{receiver="pager"} 1' in text
    assert 'marketdrill_alerts_firing{alertname="StrategyCannotTrade",lens="trading",severity="page"} 1' in text
    # prometheus_client writes floats as Go does (1.7673465e+09): compare the parsed value.
    [last] = [s for family in text_string_to_metric_families(text) for s in family.samples
              if s.name == "marketdrill_alert_last_notification_timestamp_seconds"]
    assert (last.labels, last.value) == ({"receiver": "pager"}, 1767346500.0)
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? \S+$')
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    assert text == sink.render()


def test_alertmanager_payload_uses_rfc3339_and_folds_causes_and_changes_into_annotations():
    [item] = alertmanager_payload([alert(ends=T0 + seconds(90))], now_ns=T0)
    assert item["startsAt"] == "2026-01-02T09:30:00.000000000Z" and item["endsAt"] == "2026-01-02T09:31:30.000000000Z"
    assert item["annotations"]["causes"] == "feed ESZ6 stale since 09:31:02.120"
    assert item["annotations"]["reason"] == "stale_feed" and "version 1.0 -> 1.1" in item["annotations"]["changes"]
    assert rfc3339(0) == "1970-01-01T00:00:00.000000000Z"


def test_alertmanager_sender_to_a_closed_port_logs_and_returns_quickly_without_raising(caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = AlertmanagerSender(f"http://127.0.0.1:{port}", timeout_s=0.5)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        sender.send(notification(alert()))
    assert time.monotonic() - started < 2
    assert (sender.sent, sender.errors) == (0, 1) and "could not post 1 alert" in caplog.text


def test_alertmanager_sender_that_gets_no_answer_gives_up_after_its_timeout():
    with socket.socket() as server:  # accepts the connection, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        sender = AlertmanagerSender(f"http://127.0.0.1:{server.getsockname()[1]}", timeout_s=0.3)
        started = time.monotonic()
        assert sender.post([alert()]) is False
        assert time.monotonic() - started < 2 and sender.errors == 1
