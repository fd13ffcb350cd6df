"""The drill over real HTTP on 127.0.0.1: pages, state, SSE, actions, game master, debrief, replay."""

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scenarios.drill.debrief import format_text, load_run, verify_run, write_run
from scenarios.drill.live import Drill
from scenarios.drill.server import DrillServer
from scenarios.spec import load_scenario

SCENARIO = load_scenario(Path(__file__).parent / "stale_drill.toml")


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post(url: str, body, content_type: str = "application/json") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_until(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def served():
    drill = Drill(SCENARIO, speed=10.0)
    server = DrillServer(drill, port=0).start()
    runner = threading.Thread(target=drill.run, daemon=True)
    runner.start()
    yield drill, server.url
    drill.finished.wait(120)
    server.stop()


def state(url: str) -> dict:
    return json.loads(get(url + "api/state")[1])


def test_a_drill_over_http(served, tmp_path):
    drill, url = served
    assert get(url)[0] == 200 and b"<html" in get(url)[1].lower()
    assert get(url + "gm")[0] == 200
    assert get(url + "static/dashboard.js")[0] == 200
    assert get(url + "static/..%2Fcli.py")[0] == 404 and get(url + "nowhere")[0] == 404
    page = wait_until(lambda: state(url)["pages"], what="the first page")[0]
    assert page["name"] == "FillTooGood" and page["labels"]["strategy"] == "MM1" and page["status"] == "firing"

    assert post(url + "api/gm", {"command": "pause"})[0] == 200
    paused_at = wait_until(lambda: state(url)["clock"]["paused"] and state(url)["clock"]["t"], what="the pause")
    time.sleep(0.5)
    assert state(url)["clock"]["t"] == paused_at  # simulated time stands still while paused

    assert post(url + "api/action", b"ack", content_type="text/plain")[0] == 415
    assert post(url + "api/action", b"{not json")[0] == 400
    code, reply = post(url + "api/action", {"trainee": "alice", "action": "halt_engine", "firm": "NOPE"})
    assert code == 400 and "unknown firm 'NOPE'" in reply["error"]
    code, reply = post(url + "api/action", {"trainee": "alice", "action": "ack", "page_id": "p7"})
    assert code == 400 and "no page 'p7'" in reply["error"]
    assert post(url + "api/action", {"trainee": "alice", "action": "ack", "page_id": page["id"]})[0] == 200
    code, reply = post(url + "api/action", {"trainee": "alice", "action": "halt_strategy", "firm": "MMFIRM",
                                            "strategy": "MM1"})
    assert code == 200 and reply["ok"]
    acted = wait_until(lambda: [a for a in state(url)["actions"] if a["action"] == "halt_strategy"],
                       what="the halt to be applied while paused")
    assert acted[0]["ok"] and acted[0]["t"] == paused_at
    assert state(url)["firms"][0]["strategies"][0]["state"] == "HALTED"
    assert post(url + "api/gm", {"command": "resume"})[0] == 200

    with urllib.request.urlopen(url + "api/events", timeout=10) as stream:
        head = b""
        while b"event: state" not in head or b"event: journal" not in head:
            head += stream.read1(65536)
    assert b"\ndata: {" in head

    drill.finished.wait(120)
    final = state(url)
    assert final["clock"]["ended"] and final["score"]["mitigation"] == "alice: halt_strategy MMFIRM/MM1"
    assert final["score"]["time_to_ack_s"] is not None
    code, reply = post(url + "api/action", {"trainee": "alice", "action": "note", "text": "late"})
    assert code == 400 and "over" in reply["error"]
    assert b"marketdrill_alert_pages_total" in get(url + "metrics")[1]

    run_dir = write_run(drill, tmp_path / "run")
    meta, data = load_run(run_dir)
    assert meta["journal_hash"] == drill.record.journal_hash
    assert "halt_strategy MMFIRM/MM1" in format_text(data)
    html = (run_dir / "debrief.html").read_text()
    assert "<svg" in html and "Time to mitigation" in html
    same, text = verify_run(run_dir)
    assert same, text
