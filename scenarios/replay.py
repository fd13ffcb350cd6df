"""Replay a recorded run: re-run the journaled scenario with its seed and diff event by event.

A journal written by ``marketdrill run --journal-dir DIR`` starts with the scenario exactly as it
was written and the seed.  Replaying runs that scenario through today's code: with the same code
the journals are identical and the hashes match; after a change (a new risk limit default, a
monitor threshold, a strategy fix) the first point where today's behaviour differs is reported
in detail - an order that is now refused, an alert that now fires or no longer fires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from scenarios.runner import run_scenario
from scenarios.spec import ScenarioError, parse_scenario
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

    @property
    def identical(self) -> bool:
        """True when today's code reproduced the recording bit for bit."""
        return self.first_difference is None and self.recorded_hash == self.replayed_hash


def replay(path: str | Path) -> ReplayResult:
    """Re-run the journal's scenario with its seed and compare every event."""
    recorded, recorded_hash = read_journal(path)
    if not recorded or recorded[0].kind != "run.start" or "scenario_toml" not in recorded[0].data:
        raise ScenarioError(f"{path}: not a scenario run journal (its first event must be run.start "
                            f"with the scenario; write one with marketdrill run --journal-dir)")
    start = recorded[0].data
    scenario = parse_scenario(start["scenario_toml"], source=f"{path} (recorded scenario)")
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
    return ReplayResult(scenario.name, start["seed"], recorded_hash, record.journal.hash, len(recorded),
                        len(replayed), first, differences)


def describe(result: ReplayResult) -> str:
    """A report of the replay for the console."""
    head = f"replay of {result.scenario} (seed {result.seed}): "
    if result.identical:
        return head + f"no differences; {result.replayed_events:,} events, journal hash {result.replayed_hash} matches"
    lines = [head + f"{result.differences:,} events differ (recorded {result.recorded_events:,}, "
                    f"replayed {result.replayed_events:,}); hashes {result.recorded_hash} vs {result.replayed_hash}"]
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
