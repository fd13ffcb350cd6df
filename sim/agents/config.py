"""Configuration of the background market: one frozen dataclass per agent type, checked on load.

The ``[agents]`` table of a venue TOML is *flat*: each key is the agent type's prefix plus the
field name (``noise_rate_per_s`` is :attr:`NoiseConfig.rate_per_s`, ``lp_count`` is
:attr:`LiquidityConfig.count`).  A sub-table with the prefix as its name is accepted too and means
the same (``[agents.noise] rate_per_s = 5``).  Flat keys keep the common case one line per knob;
the sub-tables are there for people who group things.

Units (why these): rates are per virtual second; times are integer milliseconds or microseconds
(the clock is integer ns, so no float seconds reach it); distances from the fundamental are basis
points so one config fits instruments at 1.00 and at 5000.00, converted to whole ticks once per
decision (at least one tick); sizes are lots of the instrument.  Floats appear only as rates,
probabilities, weights and bps, never as a price or a quantity.

Every bad value raises :class:`AgentsConfigError` naming the source, the key and the reason, and
an unknown key suggests the nearest known one.

Stress (liquidity withdrawal) is measured as ``stress = realised volatility now / its baseline``
(short and long EWMAs of sampled mid returns, the baseline floored at ``volatility_bps``; see
:mod:`sim.agents.market` for why): 1.0 is a market moving as it usually does.  Above 1, liquidity providers widen their
half spread by ``lp_widen_per_stress`` x (stress - 1) and divide their size by
1 + ``lp_shrink_per_stress`` x (stress - 1); LP number i of n pulls both quotes entirely when
stress exceeds its own threshold, spread evenly from ``lp_pull_stress_min`` (first LP) to
``lp_pull_stress_max`` (last LP), and comes back below ``lp_return_fraction`` x that threshold.
"""

from __future__ import annotations

import difflib
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

__all__ = [
    "AgentsConfigError", "FundamentalConfig", "StressConfig", "NoiseConfig", "LiquidityConfig",
    "MomentumConfig", "ArbitrageConfig", "AgentsConfig", "agents_config_from_dict",
]


class AgentsConfigError(ValueError):
    """A bad ``[agents]`` value: the message names the source, the key and the reason."""


def _num(default: float | int, lo: float | None = 0, hi: float | None = None, *, above: bool = False,
         doc: str = "") -> Any:
    """A numeric field with bounds: ``lo`` inclusive (exclusive if ``above``), ``hi`` inclusive."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "above": above, "doc": doc})


@dataclass(frozen=True, slots=True)
class FundamentalConfig:
    """The fundamental value: an integer-tick random walk per symbol, starting at the reference price."""

    volatility_bps: float = _num(2.0, doc="standard deviation of the fundamental over one second, in bps")
    fundamental_step_ms: int = _num(100, above=True, doc="time between two steps of the walk")


@dataclass(frozen=True, slots=True)
class StressConfig:
    """How realised volatility is measured (it drives liquidity withdrawal)."""

    sample_ms: int = _num(100, above=True, doc="the mid price is sampled this often")
    horizon_ms: int = _num(1000, above=True, doc="returns are taken over this span (>= sample_ms)")
    halflife_ms: int = _num(1000, above=True, doc="half-life of the EWMA of squared sampled returns (now)")
    baseline_halflife_ms: int = _num(60_000, above=True, doc="half-life of the baseline EWMA (as usual)")


@dataclass(frozen=True, slots=True)
class NoiseConfig:
    """Noise traders: Poisson arrivals of limit, marketable and cancel requests around the fundamental."""

    rate_per_s: float = _num(20.0, doc="requests per second per symbol (0 = no noise traders)")
    offset_bps: float = _num(5.0, doc="mean distance of a passive limit order from the fundamental")
    size_lots: int = _num(5, above=True, doc="mean order size in lots (geometric)")
    marketable_share: float = _num(0.25, 0, 1, doc="share of requests that are marketable orders")
    market_order_share: float = _num(0.1, 0, 1, doc="share of marketable orders sent as market orders")
    cancel_share: float = _num(0.3, 0, 1, doc="share of requests that cancel the oldest resting order")
    take_bps: float = _num(10.0, doc="a marketable IOC is priced this far through the fundamental")
    max_resting: int = _num(50, above=True, doc="resting orders per symbol before the oldest is cancelled")


@dataclass(frozen=True, slots=True)
class LiquidityConfig:
    """Liquidity providers: two-sided quotes around a fair price, inventory-aware, withdrawing under stress."""

    count: int = _num(4, doc="liquidity providers per symbol")
    size: int = _num(20, above=True, doc="quoted size per side in lots (calm market)")
    half_spread_bps: float = _num(3.0, above=True, doc="half spread of the first LP in a calm market")
    layer_bps: float = _num(2.0, doc="each further LP quotes this much wider (depth)")
    refresh_ms: int = _num(100, above=True, doc="mean time between two quote refreshes of one LP")
    max_inventory: int = _num(200, above=True, doc="lots; past it the LP stops quoting the side that adds")
    skew_bps_per_lot: float = _num(0.05, doc="quotes shift against the inventory by this much per lot held")
    market_weight: float = _num(0.5, 0, 1, doc="fair price = this weight on the last trade, rest on fundamental")
    widen_per_stress: float = _num(1.0, doc="half spread multiplier slope per unit of stress above 1")
    shrink_per_stress: float = _num(0.5, doc="size divisor slope per unit of stress above 1")
    pull_stress_min: float = _num(4.0, above=True, doc="stress at which the first LP pulls its quotes")
    pull_stress_max: float = _num(8.0, above=True, doc="stress at which the last LP pulls its quotes")
    return_fraction: float = _num(0.5, 0, 1, above=True, doc="an LP returns below this share of its threshold")


@dataclass(frozen=True, slots=True)
class MomentumConfig:
    """Momentum followers: trade in the direction of recent trade prices."""

    count: int = _num(2, doc="momentum followers per symbol")
    rate_per_s: float = _num(2.0, doc="decisions per second of one follower")
    lookback: int = _num(20, 2, doc="trades compared: the last against the one this many trades back")
    trigger_bps: float = _num(5.0, doc="price move over the lookback that triggers a trade")
    size: int = _num(5, above=True, doc="lots per trade")
    max_position: int = _num(50, doc="lots; no trade that grows the position past this")
    slip_bps: float = _num(5.0, doc="a follower's IOC is priced this far through the touch")


@dataclass(frozen=True, slots=True)
class ArbitrageConfig:
    """Arbitrageurs: take any order mispriced against the fundamental by more than a threshold."""

    enabled: bool = True
    threshold_bps: float = _num(50.0, doc="mispricing (bps of the fundamental) that triggers a take")
    threshold_ticks: int = _num(1, doc="floor of the threshold in ticks (the larger of the two applies)")
    latency_us: int = _num(0, doc="reaction latency; 0 = the same virtual instant (after the causing event)")
    max_qty: int = _num(1000, above=True, doc="lots per take")
    max_position: int = _num(100_000, doc="lots; an arbitrageur stops adding past this")


@dataclass(frozen=True, slots=True)
class AgentsConfig:
    """The whole background market: switches, seed and one config per agent type."""

    enabled: bool = True
    seed: int = 0
    symbols: tuple[str, ...] = ()  # () = every listed symbol
    forward_agent_reports: bool = False  # emit agents' own reports too (they reach no session)
    fundamental: FundamentalConfig = field(default_factory=FundamentalConfig)
    stress: StressConfig = field(default_factory=StressConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    lp: LiquidityConfig = field(default_factory=LiquidityConfig)
    momentum: MomentumConfig = field(default_factory=MomentumConfig)
    arb: ArbitrageConfig = field(default_factory=ArbitrageConfig)

    def __post_init__(self) -> None:
        _check_sections(self, "<AgentsConfig>")


# prefix of the flat keys -> (attribute of AgentsConfig, dataclass)
_SECTIONS: dict[str, tuple[str, type]] = {
    "": ("fundamental", FundamentalConfig),
    "stress_": ("stress", StressConfig),
    "noise_": ("noise", NoiseConfig),
    "lp_": ("lp", LiquidityConfig),
    "momentum_": ("momentum", MomentumConfig),
    "arb_": ("arb", ArbitrageConfig),
}
_TOP_KEYS = {"enabled": bool, "seed": int, "symbols": list, "forward_agent_reports": bool}


def _flat_keys() -> dict[str, tuple[str, str, type, Any]]:
    """Every flat key -> (section attribute, field name, dataclass, field)."""
    out = {}
    for prefix, (attr, cls) in _SECTIONS.items():
        for f in fields(cls):
            out[prefix + f.name] = (attr, f.name, cls, f)
    return out


_FLAT = _flat_keys()


def _check_value(key: str, f: Any, value: Any, where: str) -> Any:
    """Type- and bound-check one field value; return it normalised (int -> float for float fields)."""
    kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "bool": bool}[f.type]
    if kind is bool:
        if not isinstance(value, bool):
            raise AgentsConfigError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        what = "an integer" if kind is int else "a number"
        raise AgentsConfigError(f"{where}: {key} must be {what}, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise AgentsConfigError(f"{where}: {key} must be finite, got {value!r}")
    lo, hi, above = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("above")
    if lo is not None and (value <= lo if above else value < lo):
        raise AgentsConfigError(f"{where}: {key} must be {'>' if above else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise AgentsConfigError(f"{where}: {key} must be <= {hi}, got {value!r}")
    return float(value) if kind is float else value


def _check_sections(config: AgentsConfig, where: str) -> None:
    """Check every field of every section and the rules that span fields."""
    for prefix, (attr, cls) in _SECTIONS.items():
        section = getattr(config, attr)
        if not isinstance(section, cls):
            raise AgentsConfigError(f"{where}: {attr} must be a {cls.__name__}, got {section!r}")
        for f in fields(cls):
            _check_value(prefix + f.name, f, getattr(section, f.name), where)
    lp, noise = config.lp, config.noise
    if lp.pull_stress_max < lp.pull_stress_min:
        raise AgentsConfigError(f"{where}: lp_pull_stress_max ({lp.pull_stress_max}) must be >= "
                                f"lp_pull_stress_min ({lp.pull_stress_min})")
    if config.stress.horizon_ms < config.stress.sample_ms:
        raise AgentsConfigError(f"{where}: stress_horizon_ms ({config.stress.horizon_ms}) must be >= "
                                f"stress_sample_ms ({config.stress.sample_ms})")
    if noise.marketable_share + noise.cancel_share > 1:
        raise AgentsConfigError(f"{where}: noise_marketable_share + noise_cancel_share must be <= 1, got "
                                f"{noise.marketable_share} + {noise.cancel_share}")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int) or config.seed < 0:
        raise AgentsConfigError(f"{where}: seed must be a non-negative integer, got {config.seed!r}")


def agents_config_from_dict(table: dict[str, Any] | None, *, source: str = "<agents>") -> AgentsConfig:
    """Build an :class:`AgentsConfig` from the ``[agents]`` table (flat keys or prefix sub-tables).

    >>> agents_config_from_dict({"noise_rate_per_s": 5, "lp_count": 2}).noise.rate_per_s
    5.0
    >>> agents_config_from_dict({"lp_cuont": 2})
    Traceback (most recent call last):
    ...
    sim.agents.config.AgentsConfigError: <agents>: [agents] unknown key 'lp_cuont' (did you mean 'lp_count'?)
    """
    where = f"{source}: [agents]"
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise AgentsConfigError(f"{where} must be a table, got {type(table).__name__}")
    flat: dict[str, Any] = {}
    for key, value in table.items():
        prefix = key + "_"
        if isinstance(value, dict) and prefix in _SECTIONS:
            for sub, subvalue in value.items():
                if prefix + sub in flat:
                    raise AgentsConfigError(f"{where} {prefix + sub} is given twice (flat and in [agents.{key}])")
                flat[prefix + sub] = subvalue
        else:
            if key in flat:
                raise AgentsConfigError(f"{where} {key} is given twice (flat and in a sub-table)")
            flat[key] = value
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {attr: {} for attr, _ in _SECTIONS.values()}
    for key, value in flat.items():
        if key in _TOP_KEYS:
            kind = _TOP_KEYS[key]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise AgentsConfigError(f"{where} {key} must be an integer, got {value!r}")
            if not isinstance(value, kind):
                raise AgentsConfigError(f"{where} {key} must be a {kind.__name__}, got {value!r}")
            if key == "symbols":
                if not all(isinstance(s, str) and s for s in value):
                    raise AgentsConfigError(f"{where} symbols must be a list of symbol strings, got {value!r}")
                value = tuple(value)
            top[key] = value
            continue
        spec = _FLAT.get(key)
        if spec is None:
            match = difflib.get_close_matches(key, [*_FLAT, *_TOP_KEYS], n=1)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            raise AgentsConfigError(f"{where} unknown key {key!r}{hint}")
        attr, name, _cls, f = spec
        sections[attr][name] = _check_value(key, f, value, where)
    built = {attr: cls(**sections[attr]) for attr, cls in _SECTIONS.values()}
    try:
        return AgentsConfig(**top, **built)
    except AgentsConfigError as exc:
        raise AgentsConfigError(str(exc).replace("<AgentsConfig>", where, 1)) from None


def describe() -> list[tuple[str, Any, str]]:
    """Every flat key with its default and meaning, for documentation pages."""
    out = []
    for key, (_attr, _name, _cls, f) in _FLAT.items():
        default = f.default if f.default is not MISSING else None
        out.append((key, default, f.metadata.get("doc", "")))
    return out
