"""Reports a person wants to read: console text, JSON, and JUnit XML for CI.

Per scenario: a verdict per expectation, the timeline of key events (fault injected, first bad
order, which layer caught it, halts, pages with their causes, what changed), and the damage
(positions, P&L, orders that reached the venue).  JUnit XML has one testcase per
(scenario, seed) with the seed, git revision and simulated duration as properties; ``failure``
means an expectation did not hold, ``error`` means the harness broke.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenarios.expect import Verdict
from scenarios.runner import RunRecord


@dataclass
class Outcome:
    """A judged run (or a run that could not complete: ``error`` says why)."""

    name: str
    seed: int
    record: RunRecord | None
    verdicts: list[Verdict] = field(default_factory=list)
    error: str = ""
    source: str = ""

    @property
    def passed(self) -> bool:
        """True if the run completed and every expectation held."""
        return not self.error and all(v.passed for v in self.verdicts)


def _t(record: RunRecord, ns: int) -> str:
    delta = ns - record.start_ns
    minutes, rest = divmod(delta, 60_000_000_000)
    return f"{minutes:02d}:{rest / 1e9:06.3f}"


def damage(record: RunRecord) -> list[str]:
    """Lines describing positions, P&L and orders that reached the venue, per firm."""
    lines = []
    for name, engine in record.engines.items():
        symbols = sorted({h.symbol for h in engine.orders.values()})
        positions = ", ".join(f"{s} {engine.position(s):+,}" for s in symbols) or "flat"
        pnl = engine.realized_pnl() + engine.unrealized_pnl()
        arrived = sum(1 for a in record.arrivals if a.firm == name)
        refused = sum(1 for r in record.refusals if r.firm == name)
        lines.append(f"{name}: position {positions}; P&L {pnl:+,.2f}; {engine.sent:,} orders sent, "
                     f"{arrived:,} reached the venue, {refused:,} refused")
    return lines


def format_outcome(outcome: Outcome, *, timeline_limit: int = 25) -> str:
    """The console report of one scenario run."""
    status = "PASS" if outcome.passed else ("ERROR" if outcome.error else "FAIL")
    lines = [f"{status}  {outcome.name}  (seed {outcome.seed})"]
    record = outcome.record
    if record is not None:
        simulated = (record.end_ns - record.start_ns) / 1e9
        lines[0] += f"  {simulated:,.0f}s simulated in {record.wall_s:.2f}s"
        if record.scenario.summary:
            lines.append(f"  {record.scenario.summary}")
    if outcome.error:
        lines.append(f"  error: {outcome.error}")
    for verdict in outcome.verdicts:
        mark = "ok  " if verdict.passed else "FAIL"
        lines.append(f"  [{mark}] {verdict.label}: {verdict.text}")
    if record is not None:
        if record.timeline:
            lines.append("  timeline:")
            shown = record.timeline[:timeline_limit]
            for entry in shown:
                lines.append(f"    {_t(record, entry.time_ns)}  {entry.text}")
            if len(record.timeline) > len(shown):
                lines.append(f"    ... {len(record.timeline) - len(shown)} more events in the journal")
        lines.append("  damage:")
        lines.extend(f"    {line}" for line in damage(record))
        lines.append(f"  journal hash {record.journal_hash}")
    return "\n".join(lines)


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """A JSON-able dict of one run."""
    record = outcome.record
    data: dict[str, Any] = {"scenario": outcome.name, "seed": outcome.seed, "passed": outcome.passed,
                            "error": outcome.error or None, "source": outcome.source,
                            "expectations": [{"step": v.label, "passed": v.passed, "text": v.text}
                                             for v in outcome.verdicts]}
    if record is not None:
        data.update({
            "journal_hash": record.journal_hash,
            "simulated_ns": record.end_ns - record.start_ns,
            "wall_s": round(record.wall_s, 3),
            "timeline": [{"t_ns": e.time_ns - record.start_ns, "kind": e.kind, "text": e.text, "layer": e.layer,
                          "firm": e.firm} for e in record.timeline],
            "pages": [{"t_ns": n.time_ns - record.start_ns, "alerts": [a.name for a in n.alerts],
                       "symptom": n.alerts[0].symptom if n.alerts else "",
                       "causes": list(n.alerts[0].causes) if n.alerts else []} for n in record.pages()],
            "damage": damage(record),
            "orders_reached_venue": len(record.arrivals),
        })
    return data


def write_json(outcomes: list[Outcome], path: str | Path) -> None:
    """Write every outcome as one JSON document."""
    Path(path).write_text(json.dumps({"runs": [outcome_json(o) for o in outcomes]}, indent=2) + "\n",
                          encoding="utf-8")


def git_revision() -> str:
    """The current git revision (or "unknown" outside a checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def write_junit(outcomes: list[Outcome], path: str | Path, suite_name: str = "marketdrill") -> None:
    """JUnit XML: one testcase per (scenario, seed)."""
    revision = git_revision()
    failures = sum(1 for o in outcomes if not o.passed and not o.error)
    errors = sum(1 for o in outcomes if o.error)
    total_time = sum(o.record.wall_s for o in outcomes if o.record is not None)
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(outcomes)), failures=str(failures),
                       errors=str(errors), time=f"{total_time:.3f}")
    for outcome in outcomes:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{outcome.name}",
                             name=f"{outcome.name}[seed={outcome.seed}]",
                             time=f"{outcome.record.wall_s:.3f}" if outcome.record else "0")
        props = ET.SubElement(case, "properties")
        simulated = (outcome.record.end_ns - outcome.record.start_ns) if outcome.record else 0
        for key, value in (("seed", outcome.seed), ("git_revision", revision), ("simulated_ns", simulated),
                           ("journal_hash", outcome.record.journal_hash if outcome.record else "")):
            ET.SubElement(props, "property", name=key, value=str(value))
        if outcome.error:
            ET.SubElement(case, "error", message=outcome.error).text = outcome.error
        else:
            failed = [v for v in outcome.verdicts if not v.passed]
            if failed:
                ET.SubElement(case, "failure", message=failed[0].text).text = "\n".join(
                    f"{v.label}: {v.text}" for v in failed)
        ET.SubElement(case, "system-out").text = format_outcome(outcome)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
