"""Scenario files: the TOML schema, loaded and checked before anything runs.

A scenario reads like an incident write-up (see docs/scenarios.md for every field)::

    [scenario]          name, summary, references, seed, duration, clock, tags
    [venue]             comp_id, protections (table), phases (table)
    [[instrument]]      symbol, tick_size, reference_price, ... (as sim/instruments.py)
    [[firm]]            id, comp_id, cancel_on_disconnect, layers, [firm.risk] (RiskLimits)
    [[strategy]]        id, firm, kind, symbol, params (table), sanity (bool)
    [agents]            the background market (sim/agents)
    [[inject]]          at (or when), kind, and the kind's fields
    [[expect]]          kind, and the kind's fields

Every mistake is refused before the run with the file, the line, the field and what was expected:
``mizuho.toml:41: [[inject]] #3 (fat_finger): qty must be a positive integer, got -5``.
Durations are strings such as ``"250ms"``, ``"30s"``, ``"5m"``, ``"1h30m"``; prices are decimal
strings (``"100.05"``) so they stay exact.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engines.alert_config import ConfigError, parse_duration
from engines.risk import RiskLimits
from scenarios.toml_lines import Path as KeyPath
from scenarios.toml_lines import line_of, locate_keys
from sim.tomlfile import parse_toml, read_toml_text
from sim.venue_config import VenueConfig, VenueConfigError, venue_config_from_dict


class ScenarioError(ValueError):
    """A scenario file that cannot run: names the file, line, field and what was expected."""


LAYERS = ("strategy", "engine", "venue")
STRATEGY_KINDS = ("market_maker", "taker", "twap", "hedger", "idle", "fat_finger", "runaway", "feedback_hedger",
                  "participation_no_limit", "stale_quoter", "retry_storm", "cancel_storm")

# Field types used by the inject/expect tables below.
STR, INT, POS_INT, BOOL, DURATION, PRICE, DECIMAL, TABLE, STRS = (
    "text", "integer", "positive integer", "true/false", "duration", "decimal price", "decimal", "table",
    "list of text")

INJECTS: dict[str, dict[str, tuple[str, bool]]] = {
    # kind: {field: (type, required)}
    "fat_finger": {"firm": (STR, True), "strategy": (STR, False), "symbol": (STR, True), "side": (STR, True),
                   "qty": (POS_INT, True), "price": (PRICE, False), "ord_type": (STR, False), "note": (STR, False)},
    "feed_freeze": {"symbol": (STR, True), "duration": (DURATION, False)},
    "feed_delay": {"symbol": (STR, True), "delay": (DURATION, True), "duration": (DURATION, False)},
    "feed_gap": {"symbol": (STR, True), "drop_every": (POS_INT, True), "duration": (DURATION, False)},
    "feed_corrupt": {"symbol": (STR, True), "ticks": (INT, True), "duration": (DURATION, False)},
    "feed_crossed": {"symbol": (STR, True), "ticks": (POS_INT, True), "duration": (DURATION, False)},
    "deploy": {"firm": (STR, True), "version": (STR, True), "activates": (STR, False), "note": (STR, False)},
    "config_change": {"firm": (STR, True), "what": (STR, True), "old": (STR, False), "new": (STR, True),
                      "activates": (STR, False)},
    "limit_change": {"firm": (STR, True), "limit": (STR, True), "value": (STR, True), "who": (STR, False)},
    "tick_size_change": {"symbol": (STR, True), "tick_size": (PRICE, True), "announced": (DURATION, False)},
    "session_drop": {"firm": (STR, True), "reconnect_after": (DURATION, False)},
    "latency_spike": {"firm": (STR, True), "latency": (DURATION, True), "duration": (DURATION, False)},
    "runaway_switch": {"strategy": (STR, True), "on": (BOOL, False)},
    "venue_halt": {"symbol": (STR, True), "duration": (DURATION, False), "reason": (STR, False)},
    "operator_action": {"action": (STR, True), "firm": (STR, False), "strategy": (STR, False),
                        "symbol": (STR, False), "who": (STR, False)},
    "fundamental_shift": {"symbol": (STR, True), "ticks": (INT, True)},
    # An ordinary order, and cancels/replaces of it by ``ref`` (marketdrill import-fix writes these).
    "order": {"firm": (STR, True), "symbol": (STR, True), "side": (STR, True), "qty": (POS_INT, True),
              "price": (PRICE, False), "ord_type": (STR, False), "time_in_force": (STR, False),
              "ref": (STR, False), "strategy": (STR, False), "note": (STR, False)},
    "cancel": {"firm": (STR, True), "ref": (STR, True), "note": (STR, False)},
    "replace": {"firm": (STR, True), "ref": (STR, True), "qty": (POS_INT, False), "price": (PRICE, False),
                "note": (STR, False)},
}
OPERATOR_ACTIONS = ("halt_engine", "resume_engine", "halt_strategy", "resume_strategy", "cancel_all", "flatten",
                    "kill_switch", "release_kill_switch", "reducing")

EXPECTS: dict[str, dict[str, tuple[str, bool]]] = {
    "alert": {"alertname": (STR, True), "within": (DURATION, False), "after": (INT, False), "labels": (TABLE, False),
              "exactly_once": (BOOL, False), "max_pages": (INT, False), "severity": (STR, False)},
    "no_alert": {"alertname": (STR, True), "labels": (TABLE, False)},
    "halt": {"scope": (STR, True), "firm": (STR, False), "strategy": (STR, False), "symbol": (STR, False),
             "within": (DURATION, False), "after": (INT, False), "within_orders": (POS_INT, False)},
    "caught_by": {"layer": (STR, True), "firm": (STR, False), "within": (DURATION, False), "after": (INT, False)},
    "no_order_reaches_venue": {"firm": (STR, False), "where": (STR, True)},
    "position_within": {"firm": (STR, True), "symbol": (STR, True), "max": (INT, True), "strategy": (STR, False)},
    "loss_within": {"firm": (STR, True), "max": (DECIMAL, True)},
    "nothing_else_pages": {},
    "journal_hash": {"value": (STR, True)},
}
HALT_SCOPES = ("engine", "strategy", "venue")


@dataclass(frozen=True, slots=True)
class FirmSpec:
    """A trading firm: its engine's CompID, which defence layers are on, and its risk limits."""

    id: str
    comp_id: str
    layers: dict[str, bool]
    risk: RiskLimits
    line: int | None = None
    engine: str = ""  # "" = the built-in OrderEngine; "python:module:Class" = a plug-in; "fix" = external
    command: str = ""  # for engine = "fix": the program the runner starts ({python} {host} {port} ...)


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A strategy: built-in, faulty on purpose, or a user's class (``python:module:Class``)."""

    id: str
    firm: str
    kind: str
    symbol: str
    params: dict[str, Any]
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One ``[[inject]]`` or ``[[expect]]`` entry: its kind, checked fields and where it was written."""

    index: int
    kind: str
    fields: dict[str, Any]
    at_ns: int | None = None
    when: str | None = None
    line: int | None = None

    def describe(self) -> str:
        """A short human label, e.g. ``#2 fat_finger``."""
        return f"#{self.index + 1} {self.kind}"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario, checked and ready to run."""

    name: str
    summary: str
    seed: int
    duration_ns: int
    clock: str
    venue: VenueConfig
    firms: tuple[FirmSpec, ...]
    strategies: tuple[StrategySpec, ...]
    injects: tuple[Step, ...]
    expects: tuple[Step, ...]
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    drill: dict[str, Any] = field(default_factory=dict)
    source: str = "<scenario>"
    text: str = field(default="", repr=False)  # the TOML as written: journaled so a run can be replayed


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; ScenarioError names the file, line and field."""
    text = read_toml_text(path, ScenarioError, "scenario")
    return parse_scenario(text, source=str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Check scenario TOML text (see the module docstring)."""
    data = parse_toml(text, source, ScenarioError)
    return dataclasses.replace(_Checker(data, source, locate_keys(text)).scenario(), text=text)


class _Checker:
    """Walks a parsed scenario, raising ScenarioError at the first problem with its line."""

    TOP = ("scenario", "venue", "instrument", "firm", "strategy", "agents", "inject", "expect", "drill")

    def __init__(self, data: dict[str, Any], source: str, lines: dict[KeyPath, int]) -> None:
        self.data, self.source, self.lines = data, source, lines

    def fail(self, path: KeyPath, message: str) -> ScenarioError:
        line = line_of(self.lines, path)
        where = f"{self.source}:{line}" if line else self.source
        return ScenarioError(f"{where}: {message}")

    def scenario(self) -> Scenario:
        for key in self.data:
            if key not in self.TOP:
                raise self.fail((key,), f"unknown table [{key}]{_hint(key, self.TOP)}")
        meta = self.table(("scenario",), required=True)
        self.keys(("scenario",), meta, ("name", "summary", "references", "seed", "duration", "clock", "tags"))
        name = self.text(("scenario", "name"), meta.get("name"), required=True)
        seed = meta.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise self.fail(("scenario", "seed"), f"[scenario] seed must be a non-negative integer, got {seed!r}")
        duration = self.duration(("scenario", "duration"), meta.get("duration"), "[scenario] duration", required=True)
        clock = meta.get("clock", "virtual")
        if clock not in ("virtual", "real"):
            raise self.fail(("scenario", "clock"), f"[scenario] clock must be \"virtual\" or \"real\", got {clock!r}")
        venue = self.venue()
        firms = self.firms(venue)
        strategies = self.strategies(venue, firms)
        injects = self.steps("inject", INJECTS, venue, firms, strategies, duration)
        expects = self.steps("expect", EXPECTS, venue, firms, strategies, duration)
        return Scenario(name=name, summary=str(meta.get("summary", "")), seed=seed, duration_ns=duration, clock=clock,
                        venue=venue, firms=firms, strategies=strategies, injects=injects, expects=expects,
                        references=tuple(meta.get("references", ())), tags=tuple(meta.get("tags", ())),
                        drill=dict(self.data.get("drill", {})), source=self.source)

    # -- sections --------------------------------------------------------------------------------

    def venue(self) -> VenueConfig:
        venue = dict(self.table(("venue",)))
        firms = self.data.get("firm", [])
        if not isinstance(firms, list) or not firms:
            raise self.fail(("firm",), "expected at least one [[firm]] table")
        venue_firms = []
        for index, firm in enumerate(firms):
            if not isinstance(firm, dict) or not isinstance(firm.get("id"), str) or not firm.get("id"):
                raise self.fail(("firm", index), f"[[firm]] #{index + 1}: required key 'id' (text) is missing")
            entry = {"id": firm["id"], "comp_ids": [firm.get("comp_id", firm["id"])]}
            if "cancel_on_disconnect" in firm:
                entry["cancel_on_disconnect"] = firm["cancel_on_disconnect"]
            venue_firms.append(entry)
        protections = venue.pop("protections", {})
        phases = venue.pop("phases", {})
        doc: dict[str, Any] = {"venue": venue, "instrument": self.data.get("instrument", []), "firm": venue_firms}
        if protections:
            doc["protections"] = protections
        if phases:
            doc["phases"] = phases
        if "agents" in self.data:
            doc["agents"] = self.data["agents"]
        try:
            return venue_config_from_dict(doc, source=self.source)
        except VenueConfigError as exc:
            message = str(exc).removeprefix(f"{self.source}: ")
            path: KeyPath = ("instrument",) if "[[instrument]]" in message else ("venue",)
            raise self.fail(path, message) from None

    def firms(self, venue: VenueConfig) -> tuple[FirmSpec, ...]:
        out = []
        seen = set()
        for index, raw in enumerate(self.data["firm"]):
            path = ("firm", index)
            label = f"[[firm]] #{index + 1} ({raw['id']})"
            self.keys(path, raw, ("id", "comp_id", "cancel_on_disconnect", "layers", "risk", "engine", "command"),
                      label)
            engine_kind = raw.get("engine", "")
            if engine_kind and engine_kind != "fix" and (not isinstance(engine_kind, str)
                                                         or not engine_kind.startswith("python:")
                                                         or engine_kind.count(":") != 2):
                raise self.fail(path + ("engine",), f"{label}: engine must be \"python:module:Class\" (your "
                                f"class) or \"fix\" (an external engine over FIX), got {engine_kind!r}")
            command = raw.get("command", "")
            if command and (engine_kind != "fix" or not isinstance(command, str)):
                raise self.fail(path + ("command",), f"{label}: command (text) starts an external engine and "
                                "needs engine = \"fix\"")
            if raw["id"] in seen:
                raise self.fail(path + ("id",), f"{label}: firm id {raw['id']!r} is defined twice")
            seen.add(raw["id"])
            layers = {layer: True for layer in LAYERS}
            given = raw.get("layers", {})
            if not isinstance(given, dict):
                raise self.fail(path + ("layers",), f"{label}: layers must be a table like {{ engine = false }}")
            for layer, value in given.items():
                if layer not in LAYERS:
                    raise self.fail(path + ("layers",), f"{label}: unknown layer {layer!r} (layers: {', '.join(LAYERS)})")
                if not isinstance(value, bool):
                    raise self.fail(path + ("layers",), f"{label}: layers.{layer} must be true or false, got {value!r}")
                layers[layer] = value
            risk_raw = raw.get("risk", {})
            if not isinstance(risk_raw, dict):
                raise self.fail(path + ("risk",), f"{label}: [firm.risk] must be a table of RiskLimits")
            for key in risk_raw:
                if key not in RiskLimits.names():
                    raise self.fail(path + ("risk", key), f"{label}: unknown risk limit {key!r}"
                                    f"{_hint(key, RiskLimits.names())}")
            try:
                risk = RiskLimits(**{k: _risk_value(k, v) for k, v in risk_raw.items()})
            except (TypeError, ValueError) as exc:
                key = next((k for k in risk_raw if k in str(exc)), None)
                raise self.fail(path + (("risk", key) if key else ("risk",)), f"{label}: [firm.risk] {exc}") from None
            out.append(FirmSpec(raw["id"], raw.get("comp_id", raw["id"]), layers, risk, line_of(self.lines, path),
                                engine_kind, command))
        return tuple(out)

    def strategies(self, venue: VenueConfig, firms: tuple[FirmSpec, ...]) -> tuple[StrategySpec, ...]:
        out = []
        firm_ids = {f.id for f in firms}
        raw_list = self.data.get("strategy", [])
        if not isinstance(raw_list, list):
            raise self.fail(("strategy",), "[[strategy]] must be an array of tables")
        for index, raw in enumerate(raw_list):
            path = ("strategy", index)
            label = f"[[strategy]] #{index + 1}"
            self.keys(path, raw, ("id", "firm", "kind", "symbol", "params"), label)
            sid = self.text(path + ("id",), raw.get("id"), required=True, what=f"{label} id")
            label = f"[[strategy]] #{index + 1} ({sid})"
            firm = self.text(path + ("firm",), raw.get("firm"), required=True, what=f"{label} firm")
            if firm not in firm_ids:
                raise self.fail(path + ("firm",), f"{label}: unknown firm {firm!r} (firms: {', '.join(sorted(firm_ids))})")
            if next(f for f in firms if f.id == firm).engine == "fix":
                raise self.fail(path + ("firm",), f"{label}: firm {firm}'s engine is external (engine = \"fix\"): "
                                "it runs its own strategies")
            kind = self.text(path + ("kind",), raw.get("kind"), required=True, what=f"{label} kind")
            if kind not in STRATEGY_KINDS and not kind.startswith("python:"):
                raise self.fail(path + ("kind",), f"{label}: unknown kind {kind!r}{_hint(kind, STRATEGY_KINDS)} "
                                f"(or python:module:Class for your own)")
            symbol = self.symbol(path + ("symbol",), raw.get("symbol"), venue, label)
            params = raw.get("params", {})
            if not isinstance(params, dict):
                raise self.fail(path + ("params",), f"{label}: params must be a table")
            out.append(StrategySpec(sid, firm, kind, symbol, dict(params), line_of(self.lines, path)))
        return tuple(out)

    def steps(self, section: str, schema: dict[str, dict[str, tuple[str, bool]]], venue: VenueConfig,
              firms: tuple[FirmSpec, ...], strategies: tuple[StrategySpec, ...], duration: int) -> tuple[Step, ...]:
        raw_list = self.data.get(section, [])
        if not isinstance(raw_list, list):
            raise self.fail((section,), f"[[{section}]] must be an array of tables")
        firm_ids = {f.id for f in firms}
        strategy_ids = {s.id for s in strategies}
        out = []
        for index, raw in enumerate(raw_list):
            path = (section, index)
            label = f"[[{section}]] #{index + 1}"
            kind = raw.get("kind")
            if kind not in schema:
                raise self.fail(path + ("kind",), f"{label}: kind must be one of {', '.join(schema)}; got {kind!r}"
                                f"{_hint(str(kind), schema)}")
            label = f"{label} ({kind})"
            allowed = schema[kind]
            extra = ("kind", "at", "when") if section == "inject" else ("kind",)
            self.keys(path, raw, tuple(allowed) + extra, label)
            at_ns = when = None
            if section == "inject":
                if "at" in raw and "when" in raw:
                    raise self.fail(path + ("when",), f"{label}: give either at or when, not both")
                if "when" in raw:
                    when = self.text(path + ("when",), raw["when"], required=True, what=f"{label} when")
                else:
                    at_ns = self.duration(path + ("at",), raw.get("at"), f"{label} at", required=True)
                    if at_ns > duration:
                        raise self.fail(path + ("at",), f"{label}: at {raw['at']} is after the end of the scenario")
            values: dict[str, Any] = {}
            for name, (kind_of, required) in allowed.items():
                value = raw.get(name)
                if value is None:
                    if required:
                        raise self.fail(path, f"{label}: required field {name!r} ({kind_of}) is missing")
                    continue
                values[name] = self.value(path + (name,), value, kind_of, f"{label} {name}")
                if name == "firm" and value not in firm_ids:
                    raise self.fail(path + (name,), f"{label}: unknown firm {value!r} (firms: {', '.join(sorted(firm_ids))})")
                if name == "strategy" and section == "inject" and kind != "fat_finger" and value not in strategy_ids:
                    raise self.fail(path + (name,), f"{label}: unknown strategy {value!r}")
                if name == "symbol":
                    self.symbol(path + (name,), value, venue, label)
            self.kind_rules(path, label, kind, values)
            out.append(Step(index, kind, values, at_ns, when, line_of(self.lines, path)))
        return tuple(out)

    def kind_rules(self, path: KeyPath, label: str, kind: str, values: dict[str, Any]) -> None:
        if kind in ("order",) and values.get("time_in_force", "day") not in ("day", "gtc", "ioc", "fok"):
            raise self.fail(path + ("time_in_force",), f"{label}: time_in_force must be day, gtc, ioc or fok")
        if kind in ("fat_finger", "order"):
            if values["side"] not in ("buy", "sell"):
                raise self.fail(path + ("side",), f"{label}: side must be \"buy\" or \"sell\", got {values['side']!r}")
            if values.get("ord_type", "limit") not in ("limit", "market"):
                raise self.fail(path + ("ord_type",), f"{label}: ord_type must be \"limit\" or \"market\"")
            if values.get("ord_type", "limit") == "limit" and "price" not in values:
                raise self.fail(path, f"{label}: a limit order needs a price")
        if kind == "operator_action" and values["action"] not in OPERATOR_ACTIONS:
            raise self.fail(path + ("action",), f"{label}: action must be one of {', '.join(OPERATOR_ACTIONS)}"
                            f"{_hint(values['action'], OPERATOR_ACTIONS)}")
        if kind == "halt" and values["scope"] not in HALT_SCOPES:
            raise self.fail(path + ("scope",), f"{label}: scope must be one of {', '.join(HALT_SCOPES)}")
        if kind == "caught_by" and values["layer"] not in LAYERS + ("none",):
            raise self.fail(path + ("layer",), f"{label}: layer must be one of {', '.join(LAYERS)} or none")
        if kind == "limit_change" and values["limit"] not in RiskLimits.names():
            raise self.fail(path + ("limit",), f"{label}: unknown risk limit {values['limit']!r}"
                            f"{_hint(values['limit'], RiskLimits.names())}")
        if kind == "position_within" and values["max"] < 0:
            raise self.fail(path + ("max",), f"{label}: max must be 0 or more, got {values['max']}")
        if kind == "no_order_reaches_venue":
            from scenarios.predicate import PredicateError, parse_predicate

            try:
                parse_predicate(values["where"])
            except PredicateError as exc:
                raise self.fail(path + ("where",), f"{label}: where: {exc}") from None

    # -- values ----------------------------------------------------------------------------------

    def table(self, path: KeyPath, required: bool = False) -> dict[str, Any]:
        value = self.data.get(path[0])
        if value is None:
            if required:
                raise self.fail(path, f"required table [{path[0]}] is missing")
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"[{path[0]}] must be a table")
        return value

    def keys(self, path: KeyPath, table: dict[str, Any], allowed: tuple[str, ...], label: str | None = None) -> None:
        label = label or f"[{path[0]}]"
        for key in table:
            if key not in allowed:
                raise self.fail(path + (key,), f"{label}: unknown field {key!r}{_hint(key, allowed)}")

    def text(self, path: KeyPath, value: Any, *, required: bool = False, what: str | None = None) -> str:
        what = what or "/".join(str(p) for p in path)
        if value is None and required:
            raise self.fail(path[:-1], f"{what} is required")
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"{what} must be non-empty text, got {value!r}")
        return value

    def duration(self, path: KeyPath, value: Any, what: str, required: bool = False) -> int:
        if value is None:
            if required:
                raise self.fail(path[:-1], f"{what} is required (a duration such as \"30s\" or \"5m\")")
            return 0
        if not isinstance(value, str):
            raise self.fail(path, f"{what} must be a duration string such as \"30s\", \"5m\" or \"250ms\", got {value!r}")
        try:
            return parse_duration(value, what)
        except ConfigError:
            raise self.fail(path, f"{what} must be a duration such as \"30s\", \"5m\" or \"1h30m\", got {value!r}") from None

    def symbol(self, path: KeyPath, value: Any, venue: VenueConfig, label: str) -> str:
        if not isinstance(value, str) or value not in venue.instruments:
            raise self.fail(path, f"{label}: unknown symbol {value!r} (instruments: "
                            f"{', '.join(venue.instruments.symbols)})")
        return value

    def value(self, path: KeyPath, value: Any, kind: str, what: str) -> Any:
        if kind == STR:
            return self.text(path, value, what=what)
        if kind in (INT, POS_INT):
            if isinstance(value, bool) or not isinstance(value, int) or (kind == POS_INT and value <= 0):
                raise self.fail(path, f"{what} must be a {kind}, got {value!r}")
            return value
        if kind == BOOL:
            if not isinstance(value, bool):
                raise self.fail(path, f"{what} must be true or false, got {value!r}")
            return value
        if kind == DURATION:
            return self.duration(path, value, what)
        if kind in (PRICE, DECIMAL):
            if not isinstance(value, str):
                raise self.fail(path, f"{what} must be a decimal string such as \"100.05\", got {value!r}")
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise self.fail(path, f"{what} is not a decimal number: {value!r}") from None
            if kind == PRICE and number <= 0:
                raise self.fail(path, f"{what} must be positive, got {value}")
            return value
        if kind == TABLE:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise self.fail(path, f"{what} must be a table of text values")
            return dict(value)
        raise AssertionError(kind)


def _risk_value(name: str, value: Any) -> Any:
    """TOML gives floats for 1e6; risk limits want exact text or integers; ``*_ns`` take "5s" too."""
    if isinstance(value, float):
        raise ValueError(f"write decimal limits as strings (\"1000000\"), got the float {value!r}")
    if name.endswith("_ns") and isinstance(value, str):
        try:
            return parse_duration(value, name)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return value


def _hint(key: str, choices) -> str:
    match = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""
