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
    return [build_strategy(spec, world, stream, scenario) for spec, stream in zip(scenario.strategies, streams)]


def build_strategy(spec: StrategySpec, world: World, rng: np.random.Generator, scenario: Scenario) -> Any:
    """Build one strategy from its spec."""
    if spec.kind == "idle":
        return Idle(spec)
    engine = world.engines[spec.firm]
    feed = world.feed_for(spec.firm)
    layers = next(f.layers for f in scenario.firms if f.id == spec.firm)
    params = dict(spec.params)
    if spec.kind.startswith("python:"):
        _, _, target = spec.kind.partition(":")
        module_name, _, class_name = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise StrategyBuildError(f"strategy {spec.id}: cannot load {target!r}: {exc}") from None
    else:
        from engines.strategies import registry

        cls = registry.get(spec.kind)
        if cls is None:
            raise StrategyBuildError(f"strategy {spec.id}: kind {spec.kind!r} is not available")
    try:
        strategy = cls(spec.id, engine, spec.symbol, feed=feed, rng=rng, **params)
    except TypeError as exc:
        raise StrategyBuildError(f"strategy {spec.id} ({spec.kind}): bad params: {exc}") from None
    if not layers["strategy"] and hasattr(strategy, "sanity_enabled"):
        strategy.sanity_enabled = False
    strategy.id = spec.id
    return strategy
