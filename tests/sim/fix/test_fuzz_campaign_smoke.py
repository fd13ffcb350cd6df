"""The long fuzz campaign (``bench/fuzz_campaign.py``, ``make fuzz``) at a few thousand inputs.

Not a substitute for the campaign: it keeps its code from rotting and checks that its oracle has
teeth.  Each target must run with no escape and no application error, every classified bad message
must get exactly the prescribed answer, the next good message must be served after each one, every
case must actually be drawn, and a deliberately broken session or venue must be caught.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load(name: str):
    # bench/ is a directory of scripts, not a package: load by path (registered, so dataclasses work).
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fc = _load("fuzz_campaign")  # puts the repository root on sys.path: its parts import as bench.fuzz.*
from bench.fuzz.results import TargetResult  # noqa: E402
from bench.fuzz.session_cases import SESSION_CASES, Expect  # noqa: E402
from bench.fuzz.session_target import SessionRig, session_one  # noqa: E402

#: Open findings (bench/results/fuzz.md): their signatures may show up; anything else fails the test.
#: Remove an entry when its bug is fixed.
OPEN = ("reason 16 tag", "reason 4 tag 55", "not at the Price sent")


def unexpected(result) -> list[str]:
    """Findings that are neither notes nor known open findings."""
    return [f"{f.kind}: {f.signature}: {f.examples[:1]}" for f in result.findings.values()
            if f.kind != "note" and not any(key in f.signature for key in OPEN)]


def test_codec_target_only_garbled_frame_leaves_decode_and_good_frames_survive_mutated_ones():
    r = fc.run_codec(2000, 7, quiet=True)
    assert r.inputs == 2000 and r.escapes == 0 and r.mismatches == 0, unexpected(r)
    kinds = {k.split(":")[0] for k in r.cases}
    assert kinds == {"generated", "field", "bytes"}
    assert len([k for k in r.cases if k.startswith("bytes:")]) >= 12  # most byte operators drawn
    assert r.memory and r.seconds > 0


def test_session_target_answers_every_bad_message_as_prescribed_and_keeps_serving():
    r = fc.run_session(2000, 7, quiet=True)
    assert r.inputs == 2000 and r.escapes == 0 and r.app_errors == 0
    assert r.mismatches == 0, unexpected(r)  # includes "the next good message was not answered"
    assert unexpected(r) == []
    assert r.probes == r.inputs  # a TestRequest after every input, each answered by exactly one Heartbeat
    assert {name for name, _, _ in SESSION_CASES} <= set(r.cases)
    assert r.cases["random->silent"] and r.cases["random->reject"]  # the reference verdict prescribed answers
    assert r.relogons > 20  # fatal cases (CompID, SendingTime, BeginString, too low) were logged on again


def test_venue_target_answers_every_order_message_and_never_crashes():
    r = fc.run_venue(1000, 7, quiet=True, day=400)
    assert r.inputs == 1000 and r.escapes == 0 and r.app_errors == 0
    assert unexpected(r) == []
    assert {k.split(":")[0] for k in r.cases} == {"D", "F", "G", "H", "q", "V"}


def test_the_session_oracle_catches_a_session_that_stops_answering(monkeypatch):
    from sim.fix import session as session_module

    def swallow(self, msg):
        """A broken session: consumes a TestRequest without answering it."""
        self._incr_target()

    monkeypatch.setitem(session_module._HANDLERS, b"1", swallow)
    r = fc.run_session(30, 7, quiet=True)
    assert any(f.kind == "not-serving" for f in r.findings.values())


def test_the_session_oracle_catches_a_wrong_answer():
    result = TargetResult("session")
    rig = SessionRig("FIX.4.4", result)
    raw = rig.frame(b"1", [(b"112", b"X")])[:-5] + b"000\x01"  # garbled: must be ignored, not rejected
    session_one(rig, raw, Expect("reject", True, 5, 112, b"2", b"1"), None, "meta", "meta")
    assert result.mismatches == 1 and "expected ['3'], got []" in next(iter(result.findings.values())).examples[0]


def test_the_venue_oracle_catches_a_silent_venue(monkeypatch):
    from sim import venue_gateway

    monkeypatch.setitem(venue_gateway._HANDLERS, b"D", lambda self, session, msg: None)
    r = fc.run_venue(60, 7, quiet=True)
    assert any(f.kind == "mismatch" and "no answer" in f.signature for f in r.findings.values())


@pytest.mark.parametrize("count, met", [(1_000_000, "met"), (10, "**not met**")])
def test_the_report_feeds_benchmarks_md(tmp_path, count, met):
    run_all = _load("run_all")
    results = [TargetResult(t, inputs=count // (10 if t == "venue" else 1), seconds=1.0,
                               memory=[(1, 1024, 10), (2, 1024, 10)]) for t in ("codec", "session", "venue")]
    out = tmp_path / "fuzz.md"
    fc.write_report(out, results, ["--count", str(count)], 1, 1, 3.0)
    rows = run_all.targets_of("fuzz", out.read_text())
    assert len(rows) >= 7
    assert rows[0][0] == "fuzz: codec+session inputs >= 1,000,000, zero escapes" and rows[0][2] == met
    assert all(r[2] == "met" for r in rows if "memory flat" in r[0] or "prescribed" in r[0])
