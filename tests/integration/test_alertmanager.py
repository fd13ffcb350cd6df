"""Our sender against a real Prometheus Alertmanager on 127.0.0.1: the alerts, labels and annotations arrive.

Needs the ``prometheus-alertmanager`` binary (Debian/Ubuntu package ``prometheus-alertmanager``);
the test skips, saying so, when it is missing.  The server runs with a temporary config and
storage, clustering off, on a free port, and is always stopped (bounded waits).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines.alert_sinks import AlertmanagerSender
from engines.alerts import Alert, AlertRouter
from engines.changes import ChangeLog
from sim.clock import DEFAULT_START_NS, minutes, seconds

pytestmark = pytest.mark.slow

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
# resolve_timeout far beyond our repeat interval: firing alerts we send carry no endsAt
CONFIG = """\
global:
  resolve_timeout: 24h
route:
  receiver: blackhole
receivers:
  - name: blackhole
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, response.read()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    if BINARY is None:
        pytest.skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    (tmp_path / "alertmanager.yml").write_text(CONFIG)
    port = _free_port()
    log = open(tmp_path / "alertmanager.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [BINARY, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**os.environ, "HOME": str(tmp_path)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                pytest.fail(f"alertmanager exited with {process.returncode}: {(tmp_path / 'alertmanager.log').read_text()}")
            try:
                if _get(url + "/-/ready")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("alertmanager did not become ready within 10 s")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def _alerts(url: str) -> list[dict]:
    status, body = _get(url + "/api/v2/alerts")
    assert status == 200
    return json.loads(body)


def _wait_for(url: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while True:
        found = _alerts(url)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_router_notifications_reach_a_real_alertmanager_with_labels_annotations_and_our_fingerprints(alertmanager):
    now = [time.time_ns() - minutes(1)]  # wall-ish time: Alertmanager validates startsAt against its clock
    changes = ChangeLog()
    changes.record("deploy", "ci", "MM1 version", old="1.4.2", new="1.4.3", labels={"strategy": "MM1"},
                   time_ns=now[0] - minutes(2))
    sender = AlertmanagerSender(alertmanager, timeout_s=2)
    router = AlertRouter(now_ns=lambda: now[0], changes=changes)
    router.add_sink(sender)
    sent = [Alert.create("StrategyCannotTrade", "page", f"strategy {s} cannot trade ESZ6", starts_at_ns=now[0],
                         labels={"strategy": s, "symbol": "ESZ6", "venue": "CME", "firm": "F1"},
                         causes=["feed ESZ6 stale since 09:31:02.120", "session CME-MD down"], reason="stale_feed")
            for s in ("MM1", "MM2")]
    for alert in sent:
        router.receive(alert)
    now[0] += seconds(30)
    [page] = router.tick()
    assert page.is_page and sender.errors == 0 and sender.sent == 1

    received = sorted(_wait_for(alertmanager, 2), key=lambda a: a["labels"]["strategy"])
    assert [a["labels"] for a in received] == [dict(a.labels) for a in sent]
    assert [a["fingerprint"] for a in received] == [a.fingerprint for a in sent]
    first = received[0]
    assert first["annotations"]["symptom"] == "strategy MM1 cannot trade ESZ6"
    assert first["annotations"]["causes"] == "feed ESZ6 stale since 09:31:02.120\nsession CME-MD down"
    assert first["annotations"]["reason"] == "stale_feed"
    assert "MM1 version 1.4.2 -> 1.4.3 by ci" in first["annotations"]["changes"]
    assert "changes" not in received[1]["annotations"]  # the deploy touched MM1 only
    assert first["status"]["state"] == "active"


def test_a_resolution_sent_to_a_real_alertmanager_ends_the_alert_there(alertmanager):
    now = time.time_ns() - minutes(1)
    sender = AlertmanagerSender(alertmanager, timeout_s=2)
    alert = Alert.create("FeedStale", "ticket", "feed ESZ6 stale", starts_at_ns=now, lens="technical",
                         labels={"symbol": "ESZ6", "venue": "CME"})
    assert sender.post([alert])
    assert len(_wait_for(alertmanager, 1)) == 1
    assert sender.post([alert.resolve(now + seconds(1))])
    deadline = time.monotonic() + 5
    while _alerts(alertmanager) and time.monotonic() < deadline:  # resolved alerts leave the default view
        time.sleep(0.05)
    assert _alerts(alertmanager) == []


def test_a_post_alertmanager_refuses_is_logged_and_counted_not_raised(alertmanager):
    sender = AlertmanagerSender(alertmanager + "/no-such-prefix", timeout_s=2)
    alert = Alert.create("X", "info", "x", starts_at_ns=time.time_ns(), labels={"symbol": "ESZ6"})
    assert sender.post([alert]) is False
    assert (sender.sent, sender.errors) == (0, 1) and "404" in (sender.last_error or "")


def test_virtual_time_stamps_from_a_simulated_morning_are_accepted(alertmanager):
    sender = AlertmanagerSender(alertmanager, timeout_s=2)
    alert = Alert.create("FillsTooGood", "page", "fills too good on ESZ6: +37 ticks vs model",
                         starts_at_ns=DEFAULT_START_NS, labels={"symbol": "ESZ6", "strategy": "MM1"})
    assert sender.post([alert])
    [got] = _wait_for(alertmanager, 1)
    assert got["startsAt"].startswith("2026-01-02T09:30:00")
