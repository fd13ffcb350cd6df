"""Alert routing configuration: matchers, the route tree, receivers, inhibition rules and silences.

Shaped like Alertmanager's ``alertmanager.yml`` so that people who know it can read ours, and so a
TOML table or a dict converts one to one (:meth:`RouterConfig.from_dict`)::

    {"route": {"receiver": "log", "group_by": ["alertname"], "group_wait": "30s",
               "group_interval": "5m", "repeat_interval": "4h",
               "routes": [{"matchers": ['severity="page"'], "receiver": "pager",
                           "group_by": ["venue", "symbol"], "continue": False}]},
     "receivers": [{"name": "pager", "severity": "page"}, {"name": "log", "send_resolved": False}],
     "inhibit_rules": [{"source_matchers": ['alertname="VenueHalt"'],
                        "target_matchers": ['alertname="StrategyCannotTrade"'], "equal": ["venue"]}],
     "cause_window": "10m"}

Durations are Alertmanager strings ("500ms", "30s", "1h30m", "1d") or integer nanoseconds.
Matchers are strings (``name="v"``, ``!=``, ``=~``, ``!~``; regexes are anchored, and a missing
label matches as "") or ``Matcher`` objects; the deprecated ``match``/``match_re`` and
``source_match``/``target_match`` tables are accepted too.  Unknown keys raise, naming the path,
because a misspelt ``group_wiat`` silently falling back to a default is how pages go missing.
Children inherit receiver, group_by and the three intervals from their parent, as in Alertmanager;
defaults are Alertmanager's (30 s, 5 min, 4 h).  Extra: each receiver has a ``severity``
(page / ticket / info) so expectations can count pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Matcher", "Route", "Receiver", "InhibitRule", "RouterConfig", "Silence", "parse_duration",
           "compile_routes", "default_config"]

# Alertmanager's units plus us/ns: market time is finer than alerting time.
_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
       "d": 86_400_000_000_000, "w": 604_800_000_000_000, "y": 365 * 86_400_000_000_000}
_DURATION = re.compile(r"(\d+)(ns|us|ms|y|w|d|h|m|s)")
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')
SEVERITIES = ("page", "ticket", "info")


class ConfigError(ValueError):
    """A routing configuration that cannot be used; the message names the field."""


def parse_duration(value: int | str, where: str = "duration") -> int:
    """Return a duration in integer ns from ns or an Alertmanager string.

    >>> parse_duration("1h30m") == 90 * 60 * 10**9
    True
    >>> parse_duration(1500)
    1500
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"{where}: negative duration {value}")
        return value
    if not isinstance(value, str) or not value or _DURATION.sub("", value) != "":
        raise ConfigError(f"{where}: {value!r} is not a duration like '30s', '5m', '1h30m' or integer ns")
    return sum(int(n) * _NS[unit] for n, unit in _DURATION.findall(value))


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label condition: ``name`` ``op`` ``value`` with op in =, !=, =~, !~ (regex fully anchored)."""

    name: str
    op: str
    value: str
    _regex: re.Pattern | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.op not in ("=", "!=", "=~", "!~"):
            raise ConfigError(f"matcher {self.name}: unknown operator {self.op!r}")
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_regex", re.compile(f"(?:{self.value})"))
            except re.error as exc:
                raise ConfigError(f"matcher {self.name}{self.op}{self.value!r}: bad regex: {exc}") from None

    @classmethod
    def parse(cls, text: str | Matcher) -> Matcher:
        """Parse ``name="value"`` (or ``!=``, ``=~``, ``!~``; quotes optional).

        >>> Matcher.parse('symbol=~"ES.*"').matches({"symbol": "ESZ6"})
        True
        """
        if isinstance(text, Matcher):
            return text
        found = _MATCHER.match(text)
        if not found:
            raise ConfigError(f"matcher {text!r}: expected name=\"value\", name!=..., name=~... or name!~...")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value[1:-1])
        return cls(name, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return True if ``labels`` satisfy this matcher (a missing label is the empty string)."""
        value = labels.get(self.name, "")
        if self._regex is None:
            return (value == self.value) == (self.op == "=")
        return bool(self._regex.fullmatch(value)) == (self.op == "=~")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def _matchers(spec: Any, where: str) -> tuple[Matcher, ...]:
    if spec is None:
        return ()
    if isinstance(spec, Mapping):  # {name: value} shorthand = equality matchers, sorted for determinism
        return tuple(Matcher(k, "=", str(v)) for k, v in sorted(spec.items()))
    if isinstance(spec, str):
        spec = [spec]
    try:
        return tuple(Matcher.parse(m) for m in spec)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def _check_keys(spec: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


@dataclass(frozen=True, slots=True)
class Route:
    """A node of the route tree; ``None`` options inherit from the parent."""

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None  # ("...",) groups by every label
    group_wait_ns: int | None = None
    group_interval_ns: int | None = None
    repeat_interval_ns: int | None = None
    continue_: bool = False
    routes: tuple[Route, ...] = ()

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], where: str = "route") -> Route:
        """Build a route (and its children) from an alertmanager.yml-shaped mapping."""
        _check_keys(spec, {"receiver", "matchers", "match", "match_re", "group_by", "group_wait",
                           "group_interval", "repeat_interval", "continue", "routes"}, where)
        matchers = _matchers(spec.get("matchers"), f"{where}.matchers") + _matchers(spec.get("match"), where)
        matchers += tuple(Matcher(k, "=~", str(v)) for k, v in sorted((spec.get("match_re") or {}).items()))

        def duration(key: str) -> int | None:
            return None if key not in spec else parse_duration(spec[key], f"{where}.{key}")

        group_by = spec.get("group_by")
        return cls(receiver=spec.get("receiver"), matchers=matchers,
                   group_by=None if group_by is None else tuple(group_by),
                   group_wait_ns=duration("group_wait"), group_interval_ns=duration("group_interval"),
                   repeat_interval_ns=duration("repeat_interval"), continue_=bool(spec.get("continue", False)),
                   routes=tuple(cls.from_dict(child, f"{where}.routes[{i}]")
                                for i, child in enumerate(spec.get("routes", ()))))


@dataclass(frozen=True, slots=True)
class Receiver:
    """A named destination; ``severity="page"`` makes its first notifications count as pages."""

    name: str
    severity: str = "info"
    send_resolved: bool = True

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ConfigError(f"receiver {self.name}: severity must be one of {SEVERITIES}")


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """Mute target alerts while a firing source alert has the same values of the ``equal`` labels."""

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    name: str = ""

    def source_matches(self, labels: Mapping[str, str]) -> bool:
        """Return True if ``labels`` can be a source of this rule."""
        return _all_match(self.source_matchers, labels)

    def target_matches(self, labels: Mapping[str, str]) -> bool:
        """Return True if ``labels`` can be a target of this rule."""
        return _all_match(self.target_matchers, labels)

    def equal_key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Return the values of the ``equal`` labels ("" when missing, as Alertmanager)."""
        return tuple(labels.get(name, "") for name in self.equal)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], where: str = "inhibit_rules") -> InhibitRule:
        """Build a rule from ``source_matchers``/``target_matchers``/``equal`` (or the old ``*_match`` tables)."""
        _check_keys(spec, {"source_matchers", "target_matchers", "source_match", "target_match",
                           "source_match_re", "target_match_re", "equal", "name"}, where)
        sides = []
        for side in ("source", "target"):
            ms = _matchers(spec.get(f"{side}_matchers"), f"{where}.{side}_matchers")
            ms += _matchers(spec.get(f"{side}_match"), where)
            ms += tuple(Matcher(k, "=~", str(v)) for k, v in sorted((spec.get(f"{side}_match_re") or {}).items()))
            if not ms:
                raise ConfigError(f"{where}: needs {side}_matchers (an empty side would match every alert)")
            sides.append(ms)
        return cls(sides[0], sides[1], tuple(spec.get("equal", ())), spec.get("name", ""))


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """The whole routing configuration: route tree, receivers, inhibition rules, cause window."""

    route: Route
    receivers: tuple[Receiver, ...]
    inhibit_rules: tuple[InhibitRule, ...] = ()
    cause_window_ns: int = 10 * 60_000_000_000  # What Changed this far back is attached to alerts

    def __post_init__(self) -> None:
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ConfigError(f"receivers: duplicate names in {names}")
        if not self.route.receiver:
            raise ConfigError("route: the root route needs a receiver")
        if self.route.matchers:
            raise ConfigError("route: the root route must not have matchers (it catches everything)")

        def check(route: Route, where: str) -> None:
            if route.receiver is not None and route.receiver not in names:
                raise ConfigError(f"{where}.receiver: unknown receiver {route.receiver!r}")
            if route.group_interval_ns == 0:
                raise ConfigError(f"{where}.group_interval: must be > 0")
            for i, child in enumerate(route.routes):
                check(child, f"{where}.routes[{i}]")

        check(self.route, "route")

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RouterConfig:
        """Build a configuration from a dict / TOML table shaped like alertmanager.yml."""
        _check_keys(spec, {"route", "receivers", "inhibit_rules", "cause_window"}, "config")
        receivers = []
        for i, r in enumerate(spec.get("receivers", ())):
            _check_keys(r, {"name", "severity", "send_resolved"}, f"receivers[{i}]")
            receivers.append(Receiver(r["name"], r.get("severity", "info"), bool(r.get("send_resolved", True))))
        window = parse_duration(spec.get("cause_window", "10m"), "cause_window")
        return cls(Route.from_dict(spec.get("route", {})), tuple(receivers),
                   tuple(InhibitRule.from_dict(r, f"inhibit_rules[{i}]")
                         for i, r in enumerate(spec.get("inhibit_rules", ()))), window)


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute alerts matching every matcher while ``starts_at_ns <= now < ends_at_ns``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at_ns: int
    ends_at_ns: int
    created_by: str
    comment: str

    @classmethod
    def build(cls, silence_id: str, matchers: Any, starts_at_ns: int, ends_at_ns: int, created_by: str,
              comment: str) -> Silence:
        """Validate and make a silence (matchers required; creator and comment required, as the API)."""
        parsed = _matchers(matchers, f"silence {silence_id}")
        if not parsed:
            raise ConfigError(f"silence {silence_id}: needs at least one matcher")
        if ends_at_ns <= starts_at_ns:
            raise ConfigError(f"silence {silence_id}: must end after it starts")
        if not created_by.strip() or not comment.strip():
            raise ConfigError(f"silence {silence_id}: created_by and comment are required")
        return cls(silence_id, parsed, starts_at_ns, ends_at_ns, created_by, comment)

    def active_at(self, now_ns: int) -> bool:
        """Return True if the silence mutes at ``now_ns``."""
        return self.starts_at_ns <= now_ns < self.ends_at_ns

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return True if ``labels`` satisfy every matcher."""
        return _all_match(self.matchers, labels)

    def describe(self) -> str:
        """Return ``{m1, m2} until <ns>`` for the What Changed timeline."""
        return "{" + ", ".join(map(str, self.matchers)) + f"}} until {self.ends_at_ns}"


@dataclass(slots=True)
class _Node:
    """A route with every inherited option resolved, ready to match."""

    index: int
    key: str
    matchers: tuple[Matcher, ...]
    receiver: str
    group_by: tuple[str, ...]
    group_wait_ns: int
    group_interval_ns: int
    repeat_interval_ns: int
    continue_: bool
    children: list[_Node]

    def match(self, labels: Mapping[str, str]) -> list[_Node]:
        """Return the nodes an alert goes to: deepest matches; first child wins unless it continues."""
        if not _all_match(self.matchers, labels):
            return []
        found: list[_Node] = []
        for child in self.children:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """Return the alert's values of this route's group_by labels (missing labels are left out)."""
        if "..." in self.group_by:
            return dict(labels)
        return {name: labels[name] for name in sorted(self.group_by) if name in labels}


def compile_routes(config: RouterConfig) -> _Node:
    """Resolve inheritance and defaults (Alertmanager's 30 s / 5 min / 4 h) into a matchable tree."""
    counter = iter(range(1 << 30))

    def build(route: Route, parent: _Node | None) -> _Node:
        def pick(name: str, default: Any) -> Any:
            value = getattr(route, name)
            return value if value is not None else getattr(parent, name) if parent else default

        key = "{" + ",".join(map(str, route.matchers)) + "}"
        node = _Node(next(counter), key if parent is None else f"{parent.key}/{key}", route.matchers,
                     pick("receiver", None), pick("group_by", ()), pick("group_wait_ns", 30_000_000_000),
                     pick("group_interval_ns", 300_000_000_000), pick("repeat_interval_ns", 14_400_000_000_000),
                     route.continue_, [])
        node.children = [build(child, node) for child in route.routes]
        return node

    return build(config.route, None)


def default_config() -> RouterConfig:
    """Return the symptom-first policy: pages grouped per venue and symbol, causes inhibited under them.

    * ``severity="page"`` -> receiver ``pager``, grouped by (venue, symbol): one fault on one
      instrument is one page however many strategies feel it; group_wait 2 s (RTS 6: within 5 s).
    * ``severity="ticket"`` -> ``tickets``; everything else -> ``log`` (info).  ``SelfTrade`` and
      ``WarningsOverridden`` tickets are a firm's compliance matter: grouped per firm as well.
    * A page inhibits ticket/info alerts on the same venue and symbol (the symptom explains them;
      they stay as cause metadata), except ``SelfTrade``: a wash trade is a fact of its own that no
      other symptom explains away.  A venue-wide ``VenueHalt`` (no symbol label) inhibits every
      ``StrategyCannotTrade`` on that venue; a per-symbol halt only those on its symbol.
    * A ``WarningsOverridden`` page (over its page threshold) mutes the same strategy's ticket by the
      first rule: both carry the same venue and symbol labels.
    """
    return RouterConfig.from_dict({
        "route": {"receiver": "log", "group_by": ["alertname", "venue"], "group_wait": "30s",
                  "group_interval": "5m", "repeat_interval": "4h",
                  "routes": [{"matchers": ['severity="page"'], "receiver": "pager", "group_by": ["venue", "symbol"],
                              # MiFID II RTS 6 Art. 16 wants alerts within 5 s; 2 s still gathers the
                              # near-simultaneous cascade of one fault into its first notification.
                              "group_wait": "2s", "group_interval": "30s"},
                             {"matchers": ['severity="ticket"', 'alertname=~"SelfTrade|WarningsOverridden"'],
                              "receiver": "tickets", "group_by": ["alertname", "venue", "firm"]},
                             {"matchers": ['severity="ticket"'], "receiver": "tickets"}]},
        "receivers": [{"name": "pager", "severity": "page"}, {"name": "tickets", "severity": "ticket"},
                      {"name": "log", "severity": "info", "send_resolved": False}],
        "inhibit_rules": [
            {"name": "symptom explains causes", "source_matchers": ['severity="page"'],
             "target_matchers": ['severity=~"ticket|info"', 'alertname!="SelfTrade"'], "equal": ["venue", "symbol"]},
            {"name": "venue-wide halt", "source_matchers": ['alertname="VenueHalt"', 'symbol=""'],
             "target_matchers": ['alertname="StrategyCannotTrade"'], "equal": ["venue"]},
            {"name": "symbol halt", "source_matchers": ['alertname="VenueHalt"', 'symbol!=""'],
             "target_matchers": ['alertname="StrategyCannotTrade"'], "equal": ["venue", "symbol"]},
        ],
    })
