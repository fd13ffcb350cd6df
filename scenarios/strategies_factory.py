"""Build the strategies a scenario names (``[[strategy]] kind = ...``) on a running world.

Built-in kinds map to the classes in :mod:`engines.strategies`; ``python:module:Class`` loads a
user's own strategy class, constructed as ``Class(id, engine, symbol, feed=feed, rng=rng, **params)``
and started with ``start()`` (the same protocol the built-ins follow).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from scenarios.spec import Scenario, StrategySpec
from scenarios.world import World


class StrategyBuildError(ValueError):
    """A strategy that cannot be built (bad params for its class, unknown import path)."""


class Idle:
    """A strategy that does nothing (a firm present only for injections and operator actions)."""

    def __init__(self, spec: StrategySpec) -> None:
        self.id = spec.id

    def start(self) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""


def build_strategies(scenario: Scenario, world: World, rng: np.random.Generator) -> list[Any]:
    """One strategy object per ``[[strategy]]``, each with its own child random stream."""
    streams = rng.spawn(len(scenario.strategies)) if scenario.strategies else []
    return [build_strategy(spec, world, stream, scenario) for spec, stream in zip(scenario.strategies, streams, strict=True)]


_CLASSES = {
    "market_maker": "MarketMaker", "taker": "Taker", "twap": "Twap", "hedger": "Hedger",
    "fat_finger": "FatFinger", "runaway": "RunawayChildren", "feedback_hedger": "FeedbackHedger",
    "participation_no_limit": "FeedbackParticipation", "stale_quoter": "StaleQuoter",
    "retry_storm": "RetryStorm", "cancel_storm": "CancelReplaceStorm",
}
_PRICE_PARAMS = ("price", "limit_price", "intended_price")


def build_strategy(spec: StrategySpec, world: World, rng: np.random.Generator, scenario: Scenario) -> Any:
    """Build one strategy from its spec (params converted: durations, decimal prices, sides)."""
    if spec.kind == "idle":
        return Idle(spec)
    import engines.strategies as builtins
    from engines.strategies import SanityLimits, feed_for

    engine = world.engines[spec.firm]
    params = _convert(spec, world)
    dormant = bool(params.pop("dormant", False))
    layers = next(f.layers for f in scenario.firms if f.id == spec.firm)
    sanity = params.pop("sanity", None)
    if isinstance(sanity, dict):
        params["sanity"] = SanityLimits(**sanity)
    if not layers["strategy"]:
        params["sanity"] = SanityLimits.off()
    symbols = [spec.symbol] + [params[k] for k in ("hedge_symbol",) if k in params]
    feed = feed_for(engine, symbols)
    if spec.kind.startswith("python:"):
        _, _, target = spec.kind.partition(":")
        module_name, _, class_name = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise StrategyBuildError(f"strategy {spec.id}: cannot load {target!r}: {exc}") from None
    else:
        cls = getattr(builtins, _CLASSES[spec.kind])
    try:
        strategy = cls(spec.id, engine, spec.symbol, feed=feed, rng=rng, **params)
    except (TypeError, ValueError) as exc:
        raise StrategyBuildError(f"strategy {spec.id} ({spec.kind}): bad params: {exc}") from None
    strategy.id = spec.id
    strategy.dormant = dormant  # started later by a deploy/config change that "activates" it (Knight)
    return strategy


def _convert(spec: StrategySpec, world: World) -> dict[str, Any]:
    """TOML-friendly params to what the classes take: "5s" -> ns, "100.05" -> ticks, "buy" -> 1."""
    from engines.alert_config import ConfigError, parse_duration

    instrument = world.config.instruments.get(spec.symbol)
    out: dict[str, Any] = {}
    for key, value in spec.params.items():
        if key.endswith("_ns") and isinstance(value, str):
            try:
                value = parse_duration(value, key)
            except ConfigError as exc:
                raise StrategyBuildError(f"strategy {spec.id}: {exc}") from None
        elif key in _PRICE_PARAMS and isinstance(value, str):
            value = instrument.to_ticks(value)
        elif key == "side" and isinstance(value, str):
            if value not in ("buy", "sell"):
                raise StrategyBuildError(f"strategy {spec.id}: side must be \"buy\" or \"sell\", got {value!r}")
            value = 1 if value == "buy" else 2
        out[key] = value
    return out
