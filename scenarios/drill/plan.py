"""The optional ``[drill]`` table of a scenario: briefing, hints, expected mitigation, allowed time.

Any library scenario can be drilled as it is; ``[drill]`` only adds what a trainer wants::

    [drill]
    briefing = "You are on call for MMFIRM's market making on CME. Markets open normally."
    allowed_time = "3m"
    hints = [
      { at = "90s", text = "Look at the age of the ESZ6 feed in the market view." },
      { text = "Which strategy is filled far away from the market?" },   # released on request
    ]
    expected_mitigation = [
      { action = "halt_strategy", firm = "MMFIRM", strategy = "MM1" },
      { action = "halt_engine", firm = "MMFIRM" },
    ]

A hint with ``at`` is released at that time; the rest are released one by one when the trainee asks
(or the game master releases one).  ``expected_mitigation`` lists actions any one of which stops
the damage: the first such action scores the mitigation time.  Mistakes are refused before the
drill starts with the file, line and field, as for the rest of the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.alert_config import ConfigError, parse_duration
from scenarios.spec import Scenario, ScenarioError
from scenarios.toml_lines import line_of, locate_keys

MITIGATION_ACTIONS = ("halt_engine", "halt_strategy", "reducing_engine", "reducing_strategy", "cancel_all",
                      "flatten", "kill_switch", "set_limit")


@dataclass(frozen=True, slots=True)
class Hint:
    """One hint: released at ``at_ns`` after the start, or on request when ``at_ns`` is None."""

    index: int
    text: str
    at_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Mitigation:
    """An action that counts as stopping the damage (firm/strategy empty: any)."""

    action: str
    firm: str = ""
    strategy: str = ""

    def matches(self, action: str, params: dict) -> bool:
        """True when a trainee action is this mitigation."""
        return (action == self.action and (not self.firm or params.get("firm") == self.firm)
                and (not self.strategy or params.get("strategy") == self.strategy))

    def describe(self) -> str:
        """``halt_strategy MMFIRM/MM1``."""
        target = "/".join(p for p in (self.firm, self.strategy) if p)
        return f"{self.action} {target}".strip()


@dataclass(frozen=True, slots=True)
class DrillPlan:
    """What a drill adds to a scenario (everything optional)."""

    briefing: str
    hints: tuple[Hint, ...]
    mitigations: tuple[Mitigation, ...]
    allowed_ns: int

    @property
    def timed_hints(self) -> tuple[Hint, ...]:
        """Hints released at a time, in time order."""
        return tuple(sorted((h for h in self.hints if h.at_ns is not None), key=lambda h: (h.at_ns, h.index)))

    @property
    def requested_hints(self) -> tuple[Hint, ...]:
        """Hints released on request, in the order written."""
        return tuple(h for h in self.hints if h.at_ns is None)


def drill_plan(scenario: Scenario) -> DrillPlan:
    """Check the scenario's ``[drill]`` table (ScenarioError names file, line and field)."""
    raw = scenario.drill
    lines = locate_keys(scenario.text) if scenario.text else {}

    def fail(path: tuple, message: str) -> ScenarioError:
        line = line_of(lines, ("drill",) + path) or line_of(lines, ("drill",))
        where = f"{scenario.source}:{line}" if line else scenario.source
        return ScenarioError(f"{where}: [drill] {message}")

    allowed_keys = ("briefing", "hints", "expected_mitigation", "allowed_time")
    for key in raw:
        if key not in allowed_keys:
            raise fail((key,), f"unknown field {key!r} (fields: {', '.join(allowed_keys)})")
    briefing = raw.get("briefing", "")
    if not isinstance(briefing, str):
        raise fail(("briefing",), f"briefing must be text, got {briefing!r}")
    allowed_ns = scenario.duration_ns
    if "allowed_time" in raw:
        value = raw["allowed_time"]
        try:
            allowed_ns = parse_duration(value, "allowed_time") if isinstance(value, str) else -1
        except ConfigError:
            allowed_ns = -1
        if allowed_ns <= 0:
            raise fail(("allowed_time",), f"allowed_time must be a duration such as \"3m\", got {value!r}")
        allowed_ns = min(allowed_ns, scenario.duration_ns)
    hints = []
    raw_hints = raw.get("hints", [])
    if not isinstance(raw_hints, list):
        raise fail(("hints",), "hints must be a list of { text = \"...\", at = \"90s\" } tables")
    for index, hint in enumerate(raw_hints):
        if not isinstance(hint, dict) or not isinstance(hint.get("text"), str) or not hint["text"]:
            raise fail(("hints",), f"hint #{index + 1} needs text, got {hint!r}")
        unknown = set(hint) - {"text", "at"}
        if unknown:
            raise fail(("hints",), f"hint #{index + 1}: unknown field {sorted(unknown)[0]!r} (fields: text, at)")
        at_ns = None
        if "at" in hint:
            try:
                at_ns = parse_duration(hint["at"], "at") if isinstance(hint["at"], str) else -1
            except ConfigError:
                at_ns = -1
            if at_ns < 0 or at_ns > scenario.duration_ns:
                raise fail(("hints",), f"hint #{index + 1}: at must be a duration within the scenario, "
                           f"got {hint['at']!r}")
        hints.append(Hint(index, hint["text"], at_ns))
    mitigations = []
    raw_mitigations = raw.get("expected_mitigation", [])
    if not isinstance(raw_mitigations, list):
        raise fail(("expected_mitigation",), "expected_mitigation must be a list of { action = ..., firm = ... }")
    firms = {f.id for f in scenario.firms}
    strategies = {s.id: s.firm for s in scenario.strategies}
    for index, entry in enumerate(raw_mitigations):
        label = f"expected_mitigation #{index + 1}"
        if not isinstance(entry, dict):
            raise fail(("expected_mitigation",), f"{label} must be a table, got {entry!r}")
        unknown = set(entry) - {"action", "firm", "strategy"}
        if unknown:
            raise fail(("expected_mitigation",), f"{label}: unknown field {sorted(unknown)[0]!r} "
                       "(fields: action, firm, strategy)")
        action = entry.get("action")
        if action not in MITIGATION_ACTIONS:
            raise fail(("expected_mitigation",), f"{label}: action must be one of "
                       f"{', '.join(MITIGATION_ACTIONS)}; got {action!r}")
        firm, strategy = entry.get("firm", ""), entry.get("strategy", "")
        if firm and firm not in firms:
            raise fail(("expected_mitigation",), f"{label}: unknown firm {firm!r} (firms: {', '.join(sorted(firms))})")
        if strategy and strategy not in strategies:
            raise fail(("expected_mitigation",), f"{label}: unknown strategy {strategy!r} "
                       f"(strategies: {', '.join(sorted(strategies))})")
        mitigations.append(Mitigation(action, firm or strategies.get(strategy, ""), strategy))
    return DrillPlan(briefing, tuple(hints), tuple(mitigations), allowed_ns)
