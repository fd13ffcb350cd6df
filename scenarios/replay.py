"""Replay a recorded run: re-run the journaled scenario with its seed and diff event by event.

A journal written by ``marketdrill run --journal-dir DIR`` starts with the scenario exactly as it
was written and the seed.  Replaying runs that scenario through today's code: with the same code
the journals are identical and the hashes match; after a change (a new risk limit default, a
monitor threshold, a strategy fix) the first point where today's behaviour differs is reported
in detail - an order that is now refused, an alert that now fires or no longer fires.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from engines.risk import RiskLimits
from scenarios.runner import run_scenario
from scenarios.spec import Scenario, ScenarioError, parse_scenario
from sim.journal import JournalEvent, read_journal


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """How a replay compared with its recording."""

    scenario: str
    seed: int
    recorded_hash: str
    replayed_hash: str
    recorded_events: int
    replayed_events: int
    first_difference: tuple[int, JournalEvent | None, JournalEvent | None] | None
    differences: int
    newly_refused: tuple[str, ...] = ()   # orders today's code refuses that the recording let through

    @property
    def identical(self) -> bool:
        """True when today's code reproduced the recording bit for bit."""
        return self.first_difference is None and self.recorded_hash == self.replayed_hash


def apply_settings(scenario: Scenario, settings: list[str]) -> Scenario:
    """Apply ``FIRM.risk.LIMIT=VALUE`` overrides ("what would these limits have done?")."""
    firms = list(scenario.firms)
    for item in settings:
        target, sep, value = item.partition("=")
        parts = target.split(".")
        if not sep or len(parts) != 3 or parts[1] != "risk":
            raise ScenarioError(f"--set takes FIRM.risk.LIMIT=VALUE, got {item!r}")
        firm_id, _, limit = parts
        index = next((i for i, f in enumerate(firms) if f.id == firm_id), None)
        if index is None:
            raise ScenarioError(f"--set {item}: no firm {firm_id!r} (firms: {', '.join(f.id for f in firms)})")
        if limit not in RiskLimits.names():
            raise ScenarioError(f"--set {item}: unknown risk limit {limit!r}")
        parsed: object = None if value in ("", "none", "off") else (int(value) if value.lstrip("-").isdigit() else value)
        try:
            risk = dataclasses.replace(firms[index].risk, **{limit: parsed})
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"--set {item}: {exc}") from None
        firms[index] = dataclasses.replace(firms[index], risk=risk)
    return dataclasses.replace(scenario, firms=tuple(firms))


def apply_engines(scenario: Scenario, engines: list[str]) -> Scenario:
    """Apply ``[FIRM=]python:module:Class`` overrides: replay the run through another order engine."""
    firms = list(scenario.firms)
    for item in engines:
        firm_id, sep, kind = item.rpartition("=") if "=" in item else ("", "", item)
        if not kind.startswith("python:") or kind.count(":") != 2:
            raise ScenarioError(f"--engine takes [FIRM=]python:module:Class, got {item!r}")
        targets = [i for i, f in enumerate(firms) if not firm_id or f.id == firm_id]
        if not targets:
            raise ScenarioError(f"--engine {item}: no firm {firm_id!r} (firms: {', '.join(f.id for f in firms)})")
        for index in targets:
            firms[index] = dataclasses.replace(firms[index], engine=kind)
    return dataclasses.replace(scenario, firms=tuple(firms))


def replay(path: str | Path, settings: list[str] | None = None, engines: list[str] | None = None) -> ReplayResult:
    """Re-run the journal's scenario with its seed (and ``--set``/``--engine`` overrides); compare every event."""
    recorded, recorded_hash = read_journal(path)
    if not recorded or recorded[0].kind != "run.start" or "scenario_toml" not in recorded[0].data:
        raise ScenarioError(f"{path}: not a scenario run journal (its first event must be run.start "
                            f"with the scenario; write one with marketdrill run --journal-dir)")
    start = recorded[0].data
    scenario = parse_scenario(start["scenario_toml"], source=f"{path} (recorded scenario)")
    if settings:
        scenario = apply_settings(scenario, settings)
    if engines:
        scenario = apply_engines(scenario, engines)
    record = run_scenario(scenario, start["seed"])
    assert record.journal is not None
    replayed = record.journal.events
    first = None
    differences = 0
    for index in range(max(len(recorded), len(replayed))):
        a = recorded[index] if index < len(recorded) else None
        b = replayed[index] if index < len(replayed) else None
        if a is None or b is None or (a.time_ns, a.kind, a.data) != (b.time_ns, b.kind, b.data):
            differences += 1
            if first is None:
                first = (index, a, b)
    def refused(events: list[JournalEvent]) -> dict[str, str]:
        return {e.data["cl_ord_id"]: f"{e.data['firm']}/{e.data['strategy']} {e.data['symbol']} "
                f"qty {e.data['qty']}: {e.data.get('code', '')}"
                for e in events if e.kind == "order" and e.data.get("kind") in ("denied", "rejected")}

    before, after = refused(recorded), refused(replayed)
    newly = tuple(text for cl, text in after.items() if cl not in before)
    return ReplayResult(scenario.name, start["seed"], recorded_hash, record.journal.hash, len(recorded),
                        len(replayed), first, differences, newly)


def describe(result: ReplayResult) -> str:
    """A report of the replay for the console."""
    head = f"replay of {result.scenario} (seed {result.seed}): "
    if result.identical:
        return head + f"no differences; {result.replayed_events:,} events, journal hash {result.replayed_hash} matches"
    lines = [head + f"{result.differences:,} events differ (recorded {result.recorded_events:,}, "
                    f"replayed {result.replayed_events:,}); hashes {result.recorded_hash} vs {result.replayed_hash}"]
    if result.newly_refused:
        lines.append(f"{len(result.newly_refused)} orders would now be refused, e.g.:")
        lines.extend(f"  {text}" for text in result.newly_refused[:10])
    if result.first_difference is not None:
        index, recorded, replayed = result.first_difference
        lines.append(f"first difference at event #{index}:")
        lines.append(f"  recorded: {_show(recorded)}")
        lines.append(f"  today:    {_show(replayed)}")
    return "\n".join(lines)


def _show(event: JournalEvent | None) -> str:
    if event is None:
        return "(no event)"
    data = {k: v for k, v in event.data.items() if k != "scenario_toml"}
    return f"t={event.time_ns} {event.kind} {json.dumps(data, sort_keys=True)[:300]}"
