"""Trainee actions and game-master commands: checked when they arrive, applied at a tick boundary.

An action is checked at once against the scenario (unknown firm, strategy, limit or page: a 400
with a sentence naming the field) and queued; the drill applies it at the next 100 ms tick of
simulated time and records it with that instant.  Replaying the recorded actions at the same
instants on the virtual clock reproduces the run exactly, which is what makes a drill scoreable
and re-scoreable (``marketdrill debrief RUN --verify``).

Every action goes through the same engine and venue APIs a script uses (scenario
``operator_action`` injections, ``RiskEngine.set_limit``, ``AlertRouter.add_silence``), so it lands
in the journal and in What Changed with the trainee's name as the actor.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from engines.risk import RiskLimits
from scenarios.spec import Scenario, Step

# action -> its required parameters (besides "trainee")
TRAINEE_ACTIONS: dict[str, tuple[str, ...]] = {
    "ack": ("page_id",),
    "halt_engine": ("firm",), "resume_engine": ("firm",), "reducing_engine": ("firm",),
    "halt_strategy": ("firm", "strategy"), "resume_strategy": ("firm", "strategy"),
    "reducing_strategy": ("firm", "strategy"),
    "cancel_all": ("firm", "strategy"), "flatten": ("firm", "strategy"),
    "kill_switch": ("firm",), "release_kill_switch": ("firm",),
    "silence": ("alert", "minutes", "reason"),
    "set_limit": ("firm", "limit", "value"),
    "note": ("text",),
    "hint": (),
}
GM_COMMANDS = ("pause", "resume", "speed", "end", "hint", "inject")
# the actions that may stop damage or cause it: "harmful" is judged among these
INTERVENTIONS = ("halt_engine", "halt_strategy", "reducing_engine", "reducing_strategy", "cancel_all", "flatten",
                 "kill_switch")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,39}$")


class ActionError(ValueError):
    """An action that cannot be taken: the message says which field and why."""


@dataclass(slots=True)
class Action:
    """One trainee action or game-master command, as queued, applied and recorded."""

    id: int
    trainee: str
    action: str
    params: dict[str, Any]
    source: str = "trainee"  # or "gm"
    t_ns: int | None = None  # the simulated instant it was applied (relative to the drill start)
    ok: bool = False
    result: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The recorded form (what a replay needs, plus the outcome)."""
        return {"id": self.id, "source": self.source, "trainee": self.trainee, "action": self.action,
                "params": dict(self.params), "t_ns": self.t_ns, "ok": self.ok, "result": self.result}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Action:
        """Rebuild a recorded action (for replay)."""
        return cls(int(payload["id"]), str(payload["trainee"]), str(payload["action"]), dict(payload["params"]),
                   str(payload.get("source", "trainee")), payload.get("t_ns"))

    def describe(self) -> str:
        """``alice: halt_strategy MMFIRM/MM1``."""
        target = "/".join(str(self.params[k]) for k in ("firm", "strategy") if self.params.get(k))
        detail = {"silence": self.params.get("alert", ""), "set_limit": f"{self.params.get('limit', '')}="
                  f"{self.params.get('value', '')}", "note": repr(self.params.get("text", "")),
                  "ack": self.params.get("page_id", ""), "inject": self.params.get("kind", ""),
                  "speed": self.params.get("speed", "")}.get(self.action, "")
        return f"{self.trainee}: {self.action} {target} {detail}".rstrip()


def check_trainee(name: Any) -> str:
    """A trainee's name as it will appear in What Changed (letters, digits, ' ._@-', 1-40 characters)."""
    if not isinstance(name, str) or not _NAME.match(name.strip()):
        raise ActionError(f"trainee must be a name of 1-40 letters, digits, spaces or ._@- characters, got {name!r}")
    return name.strip()


def check_action(body: Any, scenario: Scenario, page_ids: set[str]) -> tuple[str, str, dict[str, Any]]:
    """Check a trainee action request; returns (trainee, action, params) or raises ActionError."""
    if not isinstance(body, dict):
        raise ActionError("the request body must be a JSON object with trainee, action and its fields")
    trainee = check_trainee(body.get("trainee", "trainee"))
    action = body.get("action")
    if action not in TRAINEE_ACTIONS:
        raise ActionError(f"action must be one of {', '.join(TRAINEE_ACTIONS)}; got {action!r}")
    params: dict[str, Any] = {}
    for name in TRAINEE_ACTIONS[action]:
        value = body.get(name)
        if value is None or value == "":
            raise ActionError(f"{action} needs {name!r}")
        params[name] = value
    firms = {f.id for f in scenario.firms}
    strategies = {s.id: s.firm for s in scenario.strategies}
    if "firm" in params and params["firm"] not in firms:
        raise ActionError(f"firm: unknown firm {params['firm']!r} (firms: {', '.join(sorted(firms))})")
    if "strategy" in params:
        if params["strategy"] not in strategies:
            raise ActionError(f"strategy: unknown strategy {params['strategy']!r} "
                              f"(strategies: {', '.join(sorted(strategies)) or 'none'})")
        if strategies[params["strategy"]] != params["firm"]:
            raise ActionError(f"strategy: {params['strategy']} belongs to firm {strategies[params['strategy']]}, "
                              f"not {params['firm']}")
    if action == "ack" and params["page_id"] not in page_ids:
        raise ActionError(f"page_id: no page {params['page_id']!r} has fired")
    if action == "silence":
        minutes = params["minutes"]
        try:
            minutes = Decimal(str(minutes))
        except InvalidOperation:
            minutes = Decimal(-1)
        if not (0 < minutes <= 24 * 60):
            raise ActionError(f"minutes must be a number of minutes between 0 and 1440, got {params['minutes']!r}")
        params["minutes"] = str(minutes)
        params["alert"] = _text(params["alert"], "alert", 80)
        params["reason"] = _text(params["reason"], "reason", 300)
    if action == "set_limit":
        if params["limit"] not in RiskLimits.names():
            raise ActionError(f"limit: unknown risk limit {params['limit']!r} "
                              f"(limits: {', '.join(RiskLimits.names())})")
        params["value"] = _text(params["value"], "value", 40)
        firm = next(f for f in scenario.firms if f.id == params["firm"])
        try:
            dataclasses.replace(firm.risk, **{params["limit"]: limit_value(params["limit"], params["value"])})
        except (TypeError, ValueError) as exc:
            raise ActionError(f"value: {exc}") from None
    if action == "note":
        params["text"] = _text(params["text"], "text", 500)
    return trainee, action, params


def check_gm(body: Any) -> tuple[str, dict[str, Any]]:
    """Check a game-master command; returns (command, params) or raises ActionError."""
    if not isinstance(body, dict):
        raise ActionError("the request body must be a JSON object with a command")
    command = body.get("command")
    if command not in GM_COMMANDS:
        raise ActionError(f"command must be one of {', '.join(GM_COMMANDS)}; got {command!r}")
    params: dict[str, Any] = {}
    if command == "speed":
        try:
            speed = float(body.get("speed"))
        except (TypeError, ValueError):
            speed = 0.0
        if not (0.05 <= speed <= 1000):
            raise ActionError(f"speed must be a number between 0.05 and 1000, got {body.get('speed')!r}")
        params["speed"] = speed
    if command == "inject":
        params["toml"] = inject_toml(body)
    return command, params


def inject_toml(body: dict[str, Any]) -> str:
    """The ``[[inject]]`` body lines of a game-master injection (from ``toml`` text or an ``inject`` table)."""
    if isinstance(body.get("toml"), str) and body["toml"].strip():
        text = body["toml"].strip()
        if "[" in text.splitlines()[0]:
            raise ActionError("toml: give only the inject's key = value lines, without a [[inject]] header")
        return text
    table = body.get("inject")
    if not isinstance(table, dict) or not table.get("kind"):
        raise ActionError("inject needs either toml (key = value lines) or an inject object with a kind")
    lines = []
    for key, value in table.items():
        if key in ("at", "when"):
            continue
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(key)):
            raise ActionError(f"inject: {key!r} is not a field name")
        lines.append(f"{key} = {_toml_value(value, key)}")
    return "\n".join(lines)


def parse_inject(scenario: Scenario, toml_lines: str) -> Step:
    """Check an extra injection exactly as a scenario file's ``[[inject]]`` is checked."""
    from scenarios.spec import ScenarioError, parse_scenario

    text = f"{scenario.text.rstrip()}\n\n[[inject]]\nat = \"0s\"\n{toml_lines}\n"
    try:
        extended = parse_scenario(text, source="game-master inject")
    except ScenarioError as exc:
        message = str(exc).removeprefix("game-master inject")
        raise ActionError(f"inject{re.sub(r'^:[0-9]+:', ':', message)}") from None
    return extended.injects[-1]


def limit_value(name: str, text: str) -> object:
    """A limit value as a scenario file gives it: "off" or "none" lifts it, integers stay integers."""
    if text.lower() in ("off", "none"):
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    if name.endswith("_ns"):
        from engines.alert_config import ConfigError, parse_duration

        try:
            return parse_duration(text, name)
        except ConfigError as exc:
            raise ActionError(str(exc)) from None
    return text


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, (str, int)) or not str(value).strip():
        raise ActionError(f"{name} must be non-empty text")
    text = str(value).strip()
    if len(text) > limit:
        raise ActionError(f"{name} is {len(text)} characters; at most {limit}")
    return text


def _toml_value(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if any(c in value for c in '"\\\n'):
            raise ActionError(f"inject: {key} must not contain quotes, backslashes or newlines")
        return f'"{value}"'
    raise ActionError(f"inject: {key} must be text, an integer or true/false, got {value!r}")
