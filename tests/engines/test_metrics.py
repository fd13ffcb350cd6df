"""TradingMetrics over real scenario runs: what a scrape says matches what the engines did."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engines.metrics import TradingMetrics
from scenarios.runner import ScenarioRun
from scenarios.spec import load_scenario
from sim.clock import VirtualClock, run_virtual

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios" / "library"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def run_watched(name: str) -> tuple[ScenarioRun, TradingMetrics]:
    """Run a library scenario on the virtual clock, watched as a drill watches it (after start())."""
    scenario = load_scenario(LIBRARY / f"{name}.toml")
    metrics = TradingMetrics()

    async def main() -> ScenarioRun:
        run = ScenarioRun(scenario, scenario.seed)
        await run.start()
        for firm, engine in run.record.engines.items():
            metrics.watch(engine, firm)
        run.router.add_sink(metrics.alerts)
        try:
            await run.run()
            run.finish()
        finally:
            await run.world.close()
        return run

    return run_virtual(main(), clock=VirtualClock()), metrics


@pytest.fixture(scope="module")
def knight() -> tuple[ScenarioRun, TradingMetrics]:
    return run_watched("knight-2012")


def parse(text: bytes) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((f"marketdrill_{name}", tuple(sorted(labels.items()))))


def test_a_runaway_that_gets_halted_shows_its_orders_fills_position_and_halted_state(knight):
    run, metrics = knight
    engine = run.record.engines["KNIGHT"]
    samples = parse(metrics.render())
    key = {"firm": "KNIGHT", "strategy": "SMARS", "symbol": "KCG"}
    assert engine.sent > 0 and value(samples, "orders_total", side="buy", **key) == engine.sent
    fills = [u for h in {id(h): h for h in engine.orders.values()}.values() for u in h.updates if u.kind == "fill"]
    assert value(samples, "fills_total", side="buy", **key) == len(fills) > 0
    assert value(samples, "filled_quantity_total", side="buy", **key) == sum(u.fill.qty for u in fills)
    assert value(samples, "position", **key) == engine.position("KCG", "SMARS") != 0
    halted = [d for d in engine.denials if d.code == "trading_halted"]
    assert halted and value(samples, "order_rejects_total", layer="engine", code="trading_halted",
                            **key) == len(halted)
    assert value(samples, "trading_state", firm="KNIGHT", strategy="SMARS", state="halted") == 1
    assert value(samples, "trading_state", firm="KNIGHT", strategy="SMARS", state="active") == 0
    assert value(samples, "trading_state", firm="KNIGHT", strategy="engine", state="active") == 1
    assert value(samples, "open_orders", firm="KNIGHT", strategy="SMARS") == engine.open_order_count("SMARS")
    assert value(samples, "unacked_orders", firm="KNIGHT") == len(engine.unacked())
    assert value(samples, "pnl", firm="KNIGHT", kind="unrealized") == float(engine.unrealized_pnl())
    assert value(samples, "pnl", firm="KNIGHT", kind="realized") == float(engine.realized_pnl())
    # The alert families are in the same registry: one scrape shows the page the halt raised.
    assert value(samples, "alert_pages_total", receiver="pager") == len(run.record.pages()) >= 1
    assert value(samples, "alerts_firing", alertname="TradingHalted", severity="page", lens="trading") == 1
    assert not [k for k in samples if k[0].endswith("_created")]  # wall-clock series mean nothing here


def test_a_fat_finger_denied_by_the_engine_is_a_reject_with_its_layer_and_code_and_no_order_sent():
    run, metrics = run_watched("mizuho-2005")
    mizuho = run.record.engines["MIZUHO"]
    samples = parse(metrics.render())
    [denial] = mizuho.denials
    assert value(samples, "order_rejects_total", firm="MIZUHO", strategy="trader-desk", symbol="JCOM",
                 layer="engine", code=denial.code) == 1
    assert denial.code == "max_order_qty" and mizuho.sent == 0
    assert not [k for k in samples if k[0] == "marketdrill_orders_total" and ("firm", "MIZUHO") in k[1]]
    assert value(samples, "trading_state", firm="STREET", strategy="engine", state="active") == 1


def test_runs_keep_their_own_registries_and_watching_late_catches_up_on_earlier_updates(knight):
    run, first = knight
    late = TradingMetrics()  # watches only after the run is over: the handles' updates are replayed
    for firm, engine in run.record.engines.items():
        late.watch(engine, firm)
    counters = ("marketdrill_orders_total", "marketdrill_fills_total", "marketdrill_order_rejects_total")
    ours, theirs = parse(first.render()), parse(late.render())
    assert {k: v for k, v in ours.items() if k[0] in counters} == {k: v for k, v in theirs.items() if k[0] in counters}
    assert first.registry is not late.registry
    assert b"marketdrill_" not in generate_latest(REGISTRY)  # the library's global registry stays untouched
