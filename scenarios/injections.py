"""Faults and events a scenario injects into a running world, one method per ``[[inject]]`` kind.

Each injection goes through the same public APIs a real actor would use: a fat finger is an order
submitted to the firm's order engine, a deploy is a What Changed event (and may wake a dormant
strategy, as Knight's deploy woke Power Peg), a feed fault is switched on in the venue's
market-data publisher, an operator action calls the engine or venue admin API.  Every injection
is journaled and put on the run's timeline.

Conditions (``when = "fills(KNIGHT) >= 100"``) are polled every runner tick; the grammar is
``METRIC(ARGS) OP NUMBER`` with metrics ``fills(firm)``, ``orders(firm)`` (orders sent),
``position(firm,symbol)`` (absolute) and ``refusals(firm)``.
"""

from __future__ import annotations

import operator
import re
from decimal import Decimal
from typing import Any

from engines.changes import ChangeLog
from engines.risk import TradingState
from scenarios.runner import RunRecord, TimelineEntry
from scenarios.spec import Scenario, Step
from scenarios.world import World

_CONDITION = re.compile(r"^\s*(fills|orders|position|refusals)\(([^)]*)\)\s*(>=|<=|>|<|==)\s*(-?\d+)\s*$")
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}


class InjectionError(ValueError):
    """An injection that cannot be applied in this world (names the step)."""


class Injector:
    """Applies a scenario's ``[[inject]]`` steps to a running world."""

    def __init__(self, scenario: Scenario, world: World, record: RunRecord, changes: ChangeLog, market: Any,
                 strategies: list[Any]) -> None:
        self.scenario = scenario
        self.world = world
        self.record = record
        self.changes = changes
        self.market = market
        self.strategies = {getattr(s, "id", getattr(s, "name", str(i))): s for i, s in enumerate(strategies)}
        self.pending = [step for step in scenario.injects if step.when is not None]
        self.refs: dict[tuple[str, str], Any] = {}  # (firm, ref) -> order handle, for cancel/replace
        self.fills: dict[str, int] = {}
        for name, engine in world.engines.items():
            engine.subscribe(lambda update, n=name: self._count(n, update))

    def _count(self, firm: str, update) -> None:
        if update.kind == "fill":
            self.fills[firm] = self.fills.get(firm, 0) + 1

    # -- SCHEDULING ------------------------------------------------------------------------------

    def poll_conditions(self) -> None:
        """Apply every ``when`` step whose condition now holds (each fires once)."""
        for step in list(self.pending):
            if self._holds(step):
                self.pending.remove(step)
                self.apply(step)

    def _holds(self, step: Step) -> bool:
        match = _CONDITION.match(step.when or "")
        if match is None:
            raise InjectionError(f"inject {step.describe()}: cannot read condition {step.when!r} "
                                 f"(expected e.g. 'fills(FIRM) >= 100')")
        metric, args, op, number = match.groups()
        parts = [a.strip() for a in args.split(",") if a.strip()]
        engine = self.world.engines.get(parts[0]) if parts else None
        if engine is None:
            raise InjectionError(f"inject {step.describe()}: unknown firm in {step.when!r}")
        if metric == "fills":
            value = self.fills.get(parts[0], 0)
        elif metric == "orders":
            value = engine.sent
        elif metric == "refusals":
            value = len([r for r in self.record.refusals if r.firm == parts[0]])
        else:
            value = abs(engine.position(parts[1])) if len(parts) > 1 else 0
        return _OPS[op](value, int(number))

    def apply(self, step: Step) -> None:
        """Apply one step now; a failure is kept on the record (the run ends as a harness error)."""
        try:
            self._apply(step)
        except Exception as exc:  # noqa: BLE001 - reported as the run's error, not lost in the loop
            self.record.errors.append(f"inject {step.describe()} failed: {type(exc).__name__}: {exc}")

    def apply_or_raise(self, step: Step) -> None:
        """Apply one step now and let a failure raise (a drill reports it to the trainee)."""
        self._apply(step)

    def _apply(self, step: Step) -> None:
        now = self.world.now_ns()
        self.record.inject_times[step.index] = now
        assert self.record.journal is not None
        self.record.journal.record("inject", index=step.index, kind=step.kind,
                                   fields={k: v for k, v in step.fields.items() if not isinstance(v, dict)})
        getattr(self, f"_{step.kind}")(step, step.fields)

    def _note(self, text: str, kind: str = "inject", firm: str = "") -> None:
        self.record.note(TimelineEntry(self.world.now_ns(), kind, text, firm=firm))

    def _later(self, delay_ns: int, callback) -> None:
        if delay_ns:
            self.world.schedule(delay_ns, callback)

    # -- ORDERS ----------------------------------------------------------------------------------

    def _fat_finger(self, step: Step, f: dict[str, Any]) -> None:
        engine = self.world.engines[f["firm"]]
        instrument = self.world.config.instruments.get(f["symbol"])
        ord_type = f.get("ord_type", "limit")
        price = instrument.to_ticks(f["price"]) if ord_type == "limit" else None
        side = 1 if f["side"] == "buy" else 2
        note = f" ({f['note']})" if "note" in f else ""
        self._note(f"fault injected: {f['firm']} {f['side']} {f['qty']:,} {f['symbol']}"
                   f"{' @ ' + f['price'] if price is not None else ' at market'}{note}", firm=f["firm"])
        engine.submit(f.get("strategy", "manual"), f["symbol"], side, f["qty"], price, ord_type=ord_type)

    def _order(self, step: Step, f: dict[str, Any]) -> None:
        engine = self.world.engines[f["firm"]]
        instrument = engine.instruments.get(f["symbol"])
        ord_type = f.get("ord_type", "limit")
        price = instrument.to_ticks(f["price"]) if ord_type == "limit" else None
        handle = engine.submit(f.get("strategy", "replay"), f["symbol"], 1 if f["side"] == "buy" else 2, f["qty"],
                               price, ord_type=ord_type, time_in_force=f.get("time_in_force", "day"))
        if f.get("ref"):
            self.refs[(f["firm"], f["ref"])] = handle

    def _referenced(self, step: Step, f: dict[str, Any]) -> Any:
        handle = self.refs.get((f["firm"], f["ref"]))
        if handle is None:
            raise InjectionError(f"inject {step.describe()}: no earlier order with ref {f['ref']!r} for {f['firm']}")
        return handle

    def _cancel(self, step: Step, f: dict[str, Any]) -> None:
        self.world.engines[f["firm"]].cancel(self._referenced(step, f))

    def _replace(self, step: Step, f: dict[str, Any]) -> None:
        handle = self._referenced(step, f)
        engine = self.world.engines[f["firm"]]
        price = engine.instruments.get(handle.symbol).to_ticks(f["price"]) if "price" in f else None
        engine.replace(handle, qty=f.get("qty"), price=price)

    # -- MARKET DATA -----------------------------------------------------------------------------

    def _feed(self, step: Step, f: dict[str, Any], on: dict[str, Any], off: dict[str, Any], text: str) -> None:
        publisher = self.world.venue.publisher
        publisher.set_fault(f["symbol"], **on)
        self._note(f"fault injected: {text}")
        duration = f.get("duration", 0)
        if duration:
            def lift() -> None:
                publisher.set_fault(f["symbol"], **off)
                self._note(f"fault lifted: {text}")
            self._later(duration, lift)

    def _feed_freeze(self, step: Step, f: dict[str, Any]) -> None:
        self._feed(step, f, {"frozen": True}, {"frozen": False}, f"market data for {f['symbol']} frozen")

    def _feed_delay(self, step: Step, f: dict[str, Any]) -> None:
        self._feed(step, f, {"delay_ns": f["delay"]}, {"delay_ns": 0},
                   f"market data for {f['symbol']} delayed by {f['delay'] / 1e9:g}s")

    def _feed_gap(self, step: Step, f: dict[str, Any]) -> None:
        self._feed(step, f, {"drop_every": f["drop_every"]}, {"drop_every": 0},
                   f"market data for {f['symbol']} drops every {f['drop_every']}th update")

    def _feed_corrupt(self, step: Step, f: dict[str, Any]) -> None:
        self._feed(step, f, {"corrupt_ticks": f["ticks"]}, {"corrupt_ticks": 0},
                   f"market data for {f['symbol']} prices off by {f['ticks']} ticks")

    def _feed_crossed(self, step: Step, f: dict[str, Any]) -> None:
        self._feed(step, f, {"crossed_ticks": f["ticks"]}, {"crossed_ticks": 0},
                   f"market data for {f['symbol']} published crossed by {f['ticks']} ticks")

    def _fundamental_shift(self, step: Step, f: dict[str, Any]) -> None:
        if self.market is None:
            raise InjectionError(f"inject {step.describe()}: needs [agents] (the background market)")
        self.market.shift_fundamental(f["symbol"], f["ticks"])
        self._note(f"market moved: {f['symbol']} fair value shifted by {f['ticks']} ticks")

    # -- CHANGES ---------------------------------------------------------------------------------

    def _deploy(self, step: Step, f: dict[str, Any]) -> None:
        self.changes.record("deploy", f["firm"], f"deploy {f['version']}", new=f["version"],
                            reason=f.get("note", ""), labels={"firm": f["firm"]})
        self._note(f"change: {f['firm']} deployed {f['version']}", kind="change", firm=f["firm"])
        self._activate(step, f.get("activates"))

    def _config_change(self, step: Step, f: dict[str, Any]) -> None:
        self.changes.record("deploy", f["firm"], f"config {f['what']}", old=f.get("old"), new=f["new"],
                            labels={"firm": f["firm"]})
        self._note(f"change: {f['firm']} config {f['what']} = {f['new']}", kind="change", firm=f["firm"])
        self._activate(step, f.get("activates"))

    def _activate(self, step: Step, strategy_id: str | None) -> None:
        if not strategy_id:
            return
        strategy = self.strategies.get(strategy_id)
        if strategy is None:
            raise InjectionError(f"inject {step.describe()}: no strategy {strategy_id!r}")
        for name in ("activate", "set_active"):
            if hasattr(strategy, name):
                getattr(strategy, name)(True) if name == "set_active" else getattr(strategy, name)()
                return
        strategy.start()

    def _limit_change(self, step: Step, f: dict[str, Any]) -> None:
        engine = self.world.engines[f["firm"]]
        engine.risk.set_limit(f["limit"], f["value"], who=f.get("who", "operator"), reason="scenario limit change")
        self._note(f"change: {f['firm']} risk limit {f['limit']} = {f['value']}", kind="change", firm=f["firm"])

    def _tick_size_change(self, step: Step, f: dict[str, Any]) -> None:
        venue = self.world.venue
        effective = self.world.now_ns() + f.get("announced", 0)
        self.changes.record("instrument", venue.config.comp_id, f"tick size of {f['symbol']}",
                            old=str(venue.exchange.instruments.get(f["symbol"]).tick_size), new=f["tick_size"],
                            reason="exchange-driven change", labels={"symbol": f["symbol"]})
        old_tick = venue.exchange.instruments.get(f["symbol"]).tick_size
        venue.change_instrument(f["symbol"], tick_size=f["tick_size"], at_ns=effective if f.get("announced") else None,
                                reason="exchange-driven tick size change")
        self._note(f"change: {f['symbol']} tick size -> {f['tick_size']} "
                   f"(effective in {f.get('announced', 0) / 1e9:g}s)", kind="change")

        def rescale_market() -> None:
            # The background market thinks in ticks too: move its fair value onto the new grid.
            if self.market is None:
                return
            fair = self.market.fair(f["symbol"])
            new_fair = int((fair * old_tick / Decimal(f["tick_size"])).to_integral_value())
            self.market.shift_fundamental(f["symbol"], new_fair - fair)

        if f.get("announced"):
            self._later(f["announced"], rescale_market)
        else:
            rescale_market()

    # -- CONNECTIVITY ----------------------------------------------------------------------------

    def _session_drop(self, step: Step, f: dict[str, Any]) -> None:
        firm = f["firm"]
        self.world.disconnect(firm)
        self._note(f"fault injected: {firm} order-entry session dropped", firm=firm)
        if f.get("reconnect_after"):
            def reconnect() -> None:
                self.world.connect(firm)
                self._note(f"{firm} reconnecting", firm=firm)
            self._later(f["reconnect_after"], reconnect)

    def _latency_spike(self, step: Step, f: dict[str, Any]) -> None:
        if self.world.transport != "memory":
            raise InjectionError(f"inject {step.describe()}: latency_spike changes the in-memory link's latency; "
                                 "over TCP the kernel decides (run it with --transport memory)")
        links = [driver._write.__self__ for driver in self.world.drivers[f["firm"]]]
        before = [link.latency_ns for link in links]
        for link in links:
            link.latency_ns = f["latency"]
        self._note(f"fault injected: {f['firm']} link latency {f['latency'] / 1e6:g} ms", firm=f["firm"])
        if f.get("duration"):
            def restore() -> None:
                for link, latency in zip(links, before, strict=True):
                    link.latency_ns = latency
                self._note(f"fault lifted: {f['firm']} link latency back to normal", firm=f["firm"])
            self._later(f["duration"], restore)

    # -- STRATEGIES, VENUE, OPERATORS --------------------------------------------------------------

    def _runaway_switch(self, step: Step, f: dict[str, Any]) -> None:
        strategy = self.strategies.get(f["strategy"])
        if strategy is None or not hasattr(strategy, "set_runaway"):
            raise InjectionError(f"inject {step.describe()}: strategy {f['strategy']!r} has no runaway switch")
        strategy.set_runaway(f.get("on", True))
        self._note(f"fault injected: {f['strategy']} runaway {'on' if f.get('on', True) else 'off'}")

    def _venue_halt(self, step: Step, f: dict[str, Any]) -> None:
        venue = self.world.venue
        venue.halt(f["symbol"], reason=f.get("reason", "scenario halt"), actor="exchange")
        self._note(f"venue halted {f['symbol']}: {f.get('reason', 'scenario halt')}", kind="venue")
        if f.get("duration"):
            def resume() -> None:
                venue.resume(f["symbol"], reason="halt over", actor="exchange")
                self._note(f"venue resumed {f['symbol']}", kind="venue")
            self._later(f["duration"], resume)

    def _operator_action(self, step: Step, f: dict[str, Any]) -> None:
        action = f["action"]
        who = f.get("who", "operator")
        firm = f.get("firm")
        engine = self.world.engines.get(firm) if firm else None
        if action not in ("kill_switch", "release_kill_switch") and engine is None:
            raise InjectionError(f"inject {step.describe()}: operator action {action} needs a firm")
        strategy = f.get("strategy")
        if action == "halt_engine":
            engine.halt(who=who, reason="operator halt")
        elif action == "resume_engine":
            engine.resume(who=who)
        elif action == "halt_strategy":
            engine.halt(strategy=strategy, who=who, reason="operator halt")
        elif action == "resume_strategy":
            engine.resume(strategy=strategy, who=who)
        elif action == "reducing":
            engine.risk.set_state(TradingState.REDUCING, strategy=strategy, who=who, reason_code="manual",
                                  text="operator set reducing")
        elif action == "cancel_all":
            engine.cancel_all(strategy=strategy)
        elif action == "flatten":
            engine.flatten(strategy or "manual", f.get("symbol", self.world.config.instruments.symbols[0]))
        elif action == "kill_switch":
            self.world.venue.kill_switch(firm=firm, reason="operator kill switch", actor=who)
        elif action == "release_kill_switch":
            self.world.venue.release_kill_switch(firm=firm, reason="operator release", actor=who)
        self.changes.record("operator", who, f"{action}{' ' + firm if firm else ''}", labels={"firm": firm or ""})
        self._note(f"operator {who}: {action} {firm or ''} {strategy or ''}".rstrip(), kind="operator", firm=firm or "")

