"""Run one scenario deterministically: build the world, inject the faults, record, judge.

:func:`run_scenario` runs on the virtual clock (an hour of market in seconds of wall time);
the same scenario and seed give the same journal hash on any machine.  With
``transport="tcp"`` (or ``[scenario] clock = "real"``) the same run goes over real TCP on
127.0.0.1 (or in-memory links) on the wall clock, ``speed`` times faster: the sessions, venue and
engines are the same code, but timing is the machine's, so the journal hash is not reproducible.  Everything a run does
goes through the real pieces: the venue and the firms' order engines talk FIX through their
sessions over in-memory pipes, strategies trade through the engines, monitors watch the event
stream and raise alerts, and the router turns alerts into pages.

A run records a :class:`~sim.journal.Journal` (every order update, every order that reached the
venue, every alert and notification, every injection and change) and a human timeline of the
key events; :mod:`scenarios.expect` judges the expectations from that record, and
:mod:`scenarios.report` prints it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from engines.alert_sinks import MemorySink
from engines.alerts import AlertRouter, Notification
from engines.changes import ChangeLog, change_from_risk
from engines.monitors import MonitorConfig, Monitors
from engines.order_engine import OrderEngine, OrderUpdate
from engines.risk import RiskEngine
from scenarios.spec import Scenario, Step
from scenarios.world import World
from sim.clock import RealClock, VirtualClock, current_clock, run_real, run_virtual
from sim.journal import Journal

TICK_NS = 100_000_000  # monitors and references refresh every 100 ms of virtual time
TRANSPORTS = ("memory", "tcp")


@dataclass(slots=True)
class TimelineEntry:
    """One key event of a run, for the report: when, what kind, and a sentence."""

    time_ns: int
    kind: str
    text: str
    layer: str = ""
    firm: str = ""


@dataclass(slots=True)
class VenueArrival:
    """An order that reached the venue's matching core."""

    time_ns: int
    firm: str
    symbol: str
    side: str
    qty: int
    price: Decimal | None
    ord_type: str
    notional: Decimal


@dataclass
class RunRecord:
    """Everything a run produced that expectations and reports read."""

    scenario: Scenario
    seed: int
    start_ns: int
    end_ns: int = 0
    journal: Journal | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    arrivals: list[VenueArrival] = field(default_factory=list)
    refusals: list[TimelineEntry] = field(default_factory=list)
    halts: list[TimelineEntry] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    inject_times: dict[int, int] = field(default_factory=dict)
    max_position: dict[tuple[str, str], int] = field(default_factory=dict)
    sent_by_firm: dict[str, list[int]] = field(default_factory=dict)
    engines: dict[str, OrderEngine] = field(default_factory=dict)
    world: World | None = None
    alerts_fired: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    transport: str = "memory"
    speed: float | None = None  # the wall clock's speed-up when the run was not on the virtual clock

    @property
    def reproducible(self) -> bool:
        """True for a run on the virtual clock (its journal hash is the same on every machine)."""
        return self.speed is None

    @property
    def journal_hash(self) -> str:
        """The run's fingerprint."""
        return self.journal.hash if self.journal is not None else ""

    def pages(self) -> list[Notification]:
        """Notifications that opened an incident on a paging receiver."""
        return [n for n in self.notifications if n.is_page]

    def note(self, entry: TimelineEntry) -> None:
        """Add a timeline entry and journal it."""
        self.timeline.append(entry)
        if self.journal is not None:
            self.journal.record("timeline", kind=entry.kind, text=entry.text, layer=entry.layer, firm=entry.firm)


def run_scenario(scenario: Scenario, seed: int | None = None, *, latency_ns: int = 50_000,
                 transport: str = "memory", speed: float | None = None) -> RunRecord:
    """Run a scenario and return its record (expectations are judged separately).

    ``transport="memory"`` with the scenario's default virtual clock is deterministic; ``"tcp"``
    (or ``clock = "real"``) runs on the wall clock, ``speed`` (default 1.0) times faster.
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
    used_seed = scenario.seed if seed is None else seed
    started = time.perf_counter()
    if transport == "memory" and scenario.clock == "virtual":
        if speed is not None:
            raise ValueError("speed applies to runs on the wall clock (--transport tcp or [scenario] clock = "
                             "\"real\"); a virtual-clock run goes as fast as it can")
        record = run_virtual(_run(scenario, used_seed, latency_ns), clock=VirtualClock())
    else:
        wall_speed = 1.0 if speed is None else speed
        if not 0.05 <= wall_speed <= 1000:
            raise ValueError(f"speed must be between 0.05 and 1000, got {wall_speed:g}")
        external = [f.id for f in scenario.firms if f.engine == "fix"]
        if external and wall_speed != 1.0:
            raise ValueError(f"firm {external[0]}'s engine is external and keeps the wall clock's time (its "
                             "SendingTime would drift from the venue's): run it at --speed 1")
        record = run_real(_run(scenario, used_seed, latency_ns, transport), clock=RealClock(speed=wall_speed))
        record.speed = wall_speed
    assert record is not None
    record.wall_s = time.perf_counter() - started
    return record


async def _run(scenario: Scenario, seed: int, latency_ns: int, transport: str = "memory") -> RunRecord:
    run = ScenarioRun(scenario, seed, latency_ns=latency_ns, transport=transport)
    try:
        await run.start()
        await run.run()
        return run.finish()
    finally:
        if hasattr(run, "world"):
            await run.close()


class ScenarioRun:
    """One scenario run in three steps, so a drill can pace it and act between ticks.

    :func:`run_scenario` calls ``start()``, ``run()`` and ``finish()`` straight through; a drill
    (scenarios/drill) passes ``run(on_tick=...)`` a callback that applies the trainee's actions at
    tick boundaries and waits for the wall clock, which keeps a drill replayable from its actions.
    """

    def __init__(self, scenario: Scenario, seed: int, *, latency_ns: int = 50_000, transport: str = "memory") -> None:
        self.scenario, self.seed, self.latency_ns, self.transport = scenario, seed, latency_ns, transport
        self.end_ns = 0
        self.strategies: list[Any] = []
        self.processes: list[ExternalEngine] = []

    async def close(self) -> None:
        """Disconnect (over TCP) and stop the external engines the run started."""
        await self.world.close()
        for process in self.processes:
            process.stop()

    async def start(self) -> None:
        """Build the world, log everyone on, start strategies and schedule the timed injections."""
        scenario, seed = self.scenario, self.seed
        clock = current_clock()
        self.clock = clock
        now = self.now = clock.now_ns
        loop = asyncio.get_running_loop()
        journal = self.journal = Journal(now)
        record = self.record = RunRecord(scenario, seed, now(), journal=journal, transport=self.transport)
        if self.transport == "memory":
            journal.record("run.start", scenario=scenario.name, seed=seed, scenario_toml=scenario.text)
        else:
            journal.record("run.start", scenario=scenario.name, seed=seed, scenario_toml=scenario.text,
                           transport=self.transport)
        world = self.world = World(scenario.venue, now_ns=now, latency_ns=self.latency_ns, transport=self.transport)
        record.world = world
        await world.open()
        changes = self.changes = ChangeLog(now_ns=now)
        changes.subscribe(lambda change: journal.record("change", change=change.to_payload()))
        sink = self.sink = MemorySink()
        router = self.router = AlertRouter(None, now_ns=now, changes=changes, journal=journal)
        router.add_sink(sink)
        monitors = self.monitors = Monitors(MonitorConfig(), emit=router.receive, venue=scenario.venue.comp_id)
        seeds = np.random.SeedSequence(seed).spawn(2)

        _watch_venue(world, record)
        _venue_layer_off(world, {f.id for f in scenario.firms if not f.layers["venue"]})
        for firm in scenario.firms:
            if firm.engine == "fix":
                record.engines[firm.id] = world.add_external(  # type: ignore[assignment]
                    firm.id, firm.comp_id, on_fill=lambda symbol, size, f=firm.id: _note_size(record, f, symbol, size),
                    on_refusal=lambda report, f=firm.id: _external_refusal(record, f, report))
                continue
            risk = RiskEngine(firm.risk, enabled=firm.layers["engine"], clock=now,
                              on_change=lambda c, f=firm.id: changes.add(change_from_risk(c, {"firm": f})))
            engine = world.add_engine(firm.id, firm.comp_id, risk=risk, factory=_engine_factory(firm.engine))
            record.engines[firm.id] = engine
            monitors.watch(engine)
            engine.subscribe(lambda update, f=firm.id: _on_update(record, f, update))
        market = self.market = _start_agents(world, scenario, clock, np.random.default_rng(seeds[0]))
        _watch_feed(world, monitors, now)
        _watch_status(world, monitors, record, now)
        self.processes = [ExternalEngine(firm, world) for firm in scenario.firms if firm.command]
        try:
            await world.logged_on()
        except TimeoutError as exc:
            said = "".join(f"\n--- {p.firm} printed:\n{p.tail()}" for p in self.processes)
            raise TimeoutError(f"{exc}{said}") from None
        _refresh_references(world, market, record)

        from scenarios.strategies_factory import build_strategies

        strategies = self.strategies = build_strategies(scenario, world, np.random.default_rng(seeds[1]))
        for strategy in strategies:
            if not getattr(strategy, "dormant", False):
                strategy.start()

        from scenarios.injections import Injector

        self.injector = Injector(scenario, world, record, changes, market, strategies)
        start = self.start_ns = now()
        for step in scenario.injects:
            if step.at_ns is not None:
                loop.call_at_ns(start + step.at_ns, self.injector.apply, step)
        self.end_ns = start + scenario.duration_ns

    async def run(self, on_tick: Callable[[int], None] | None = None) -> None:
        """Advance in ticks to the end (``end_ns`` may be moved earlier by ``on_tick`` to end a drill)."""
        now, world, market, record = self.now, self.world, self.market, self.record
        while now() < self.end_ns:
            await asyncio.sleep(min(TICK_NS, self.end_ns - now()) / 1e9)
            _refresh_references(world, market, record)
            self.injector.poll_conditions()
            self.monitors.tick(now())
            self.router.tick(now())
            if on_tick is not None:
                on_tick(now())

    def finish(self) -> RunRecord:
        """Stop strategies and the market, collect notifications and pages, and close the journal."""
        now, record, journal, monitors = self.now, self.record, self.journal, self.monitors
        for strategy in self.strategies:
            if getattr(strategy, "state", None) != "running" and hasattr(strategy, "state"):
                continue
            strategy.stop()
        if self.market is not None:
            self.market.stop(cancel_orders=False)
        self.router.tick(now())
        record.notifications = list(self.sink.notifications)
        record.alerts_fired = list(monitors.fired)
        for notification in record.pages():
            record.note(page_entry(notification))
        record.end_ns = now()
        record.timeline.sort(key=lambda e: e.time_ns)
        journal.record("run.end", hash_before=journal.hash)
        return record


def page_entry(notification: Notification) -> TimelineEntry:
    """The timeline line for a page: the symptom, its causes, what changed and what it grouped."""
    alert = notification.firing[0] if notification.firing else notification.alerts[0]
    causes = "; ".join(alert.causes)
    changed = "; ".join(change.describe(notification.time_ns) for change in alert.changes)
    others = sorted({a.name for a in notification.alerts} - {alert.name})
    return TimelineEntry(notification.time_ns, "page", f"PAGE {alert.name}: {alert.symptom}"
                         + (f" (causes: {causes})" if causes else "")
                         + (f" (what changed: {changed})" if changed else "")
                         + (f" (grouped with: {', '.join(others)})" if others else ""),
                         firm=alert.labels.get("firm", ""))


def _engine_factory(kind: str) -> Callable[..., OrderEngine] | None:
    """The plug-in engine class named ``python:module:Class`` (None: the built-in engine)."""
    if not kind:
        return None
    import importlib

    _, module_name, class_name = kind.split(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"cannot load order engine {kind!r}: {exc}") from None


def _on_update(record: RunRecord, firm: str, update: OrderUpdate) -> None:
    handle = update.handle
    journal = record.journal
    assert journal is not None
    payload = {"firm": firm, "strategy": handle.strategy, "symbol": handle.symbol, "cl_ord_id": handle.cl_ord_ids[0],
               "kind": update.kind, "state": str(handle.state), "side": handle.side, "qty": handle.qty,
               "price": handle.price, "code": update.code}
    if update.fill is not None:
        payload["fill_qty"] = update.fill.qty
        payload["fill_px"] = update.fill.price
        engine = record.engines[firm]
        key = (firm, handle.symbol)
        record.max_position[key] = max(record.max_position.get(key, 0), abs(engine.position(handle.symbol)))
    journal.record("order", **payload)
    if update.kind == "sent":
        record.sent_by_firm.setdefault(firm, []).append(update.time_ns)
    elif update.kind in ("denied", "replace_denied"):
        layer = "strategy" if update.code.startswith("strategy") else "engine"
        entry = TimelineEntry(update.time_ns, "refused", f"{firm}/{handle.strategy}: order {handle.side_text()} "
                              f"{handle.qty:,} {handle.symbol} refused by the {layer}: {update.text}", layer, firm)
        record.refusals.append(entry)
        if len([r for r in record.refusals if r.firm == firm]) <= 3:
            record.note(entry)
    elif update.kind == "rejected":
        entry = TimelineEntry(update.time_ns, "refused", f"{firm}/{handle.strategy}: order {handle.side_text()} "
                              f"{handle.qty:,} {handle.symbol} rejected by the venue: {update.text}", "venue", firm)
        record.refusals.append(entry)
        if len([r for r in record.refusals if r.firm == firm]) <= 3:
            record.note(entry)


def _watch_venue(world: World, record: RunRecord) -> None:
    """Record every order that reaches the venue's matching core (the 'damage' that got through)."""
    exchange = world.venue.exchange
    original: Callable[..., list] = exchange.new_order
    instruments = world.config.instruments

    def new_order(**kwargs: Any) -> list:
        symbol = kwargs["symbol"]
        firm = kwargs["firm"]
        if not firm.startswith("AGENTS") and symbol in instruments:
            instrument = instruments.get(symbol)
            price = instrument.to_decimal(kwargs["price"]) if kwargs.get("price") is not None else None
            reference = instrument.to_decimal(instrument.reference_ticks)
            notional = kwargs["qty"] * (price if price is not None else reference)
            arrival = VenueArrival(world.now_ns(), firm, symbol, "buy" if kwargs["side"] == 1 else "sell",
                                   kwargs["qty"], price, str(kwargs["ord_type"].name).lower(), notional)
            record.arrivals.append(arrival)
            assert record.journal is not None
            record.journal.record("venue.order", firm=firm, symbol=symbol, side=arrival.side, qty=arrival.qty,
                                  price=str(price) if price is not None else None)
        return original(**kwargs)

    exchange.new_order = new_order  # type: ignore[method-assign]


def _venue_layer_off(world: World, firms: set[str]) -> None:
    """Switch the venue's order checks off for these firms (the "venue layer off" variants)."""
    if not firms:
        return
    guard = world.venue.exchange.guard
    check_new, check_replace = guard.check_new, guard.check_replace

    def new(exchange, order, instrument):
        return None if order.firm in firms else check_new(exchange, order, instrument)

    def replace(exchange, order, instrument, qty, price):
        return None if order.firm in firms else check_replace(exchange, order, instrument, qty, price)

    guard.check_new, guard.check_replace = new, replace  # type: ignore[method-assign]


def _start_agents(world: World, scenario: Scenario, clock, rng) -> Any:
    """The background market, seeded from the scenario seed (None when [agents] is absent or off)."""
    if not scenario.venue.agents or not scenario.venue.agents.get("enabled", True):
        return None
    from sim.agents import Market, agents_config_from_dict

    config = agents_config_from_dict(scenario.venue.agents, source=scenario.source)
    if not config.enabled:
        return None
    gateway = world.venue.gateway
    original = gateway.dispatch
    market = Market(config, world.venue.exchange, clock, rng=rng, emit=original)

    def dispatch(events: list) -> None:
        original(events)
        market.watch(events)

    gateway.dispatch = dispatch  # type: ignore[method-assign]
    world.venue.market = market  # as start_agents does: the venue's status and counters see it
    market.start()
    return market


def _watch_feed(world: World, monitors: Monitors, now: Callable[[], int]) -> None:
    """Show monitors the market data subscribers see (after feed faults), as best bid/ask."""
    publisher = world.venue.publisher
    original = publisher._publish

    def publish(change) -> None:
        original(change)
        bid, ask = publisher.shown_top(change.symbol)
        monitors.on_market_data(change.symbol, now(), bid, ask)

    publisher._publish = publish  # type: ignore[method-assign]


def _watch_status(world: World, monitors: Monitors, record: RunRecord, now: Callable[[], int]) -> None:
    """Show monitors (and the timeline) the venue's phase changes: halts, pauses, re-opens."""
    from sim.venue_events import StatusChange

    for holder in (world.venue.gateway, world.venue.phases):
        attribute = "dispatch" if holder is world.venue.gateway else "emit"
        original = getattr(holder, attribute)

        def observed(events: list, original=original) -> None:
            original(events)
            for event in events:
                if type(event) is StatusChange:
                    monitors.on_venue_status(event.symbol, event.phase, event.text, now())
                    if event.phase in ("halted", "paused"):
                        record.halts.append(TimelineEntry(now(), event.phase, event.text, "venue", event.symbol))
                    record.note(TimelineEntry(now(), "venue", f"venue: {event.symbol} {event.phase} ({event.text})"))

        setattr(holder, attribute, observed)


def _refresh_references(world: World, market: Any, record: RunRecord) -> None:
    """Engines' independent reference price: the market's fair value (or the instrument's reference).

    The venue and each firm may disagree on the tick size after an exchange-driven change, so the
    reference travels as a price and is put on each engine's own grid.
    """
    venue_instruments = world.venue.exchange.instruments
    for symbol in venue_instruments.symbols:
        venue_instrument = venue_instruments.get(symbol)
        fair = market.fair(symbol) if market is not None else venue_instrument.reference_ticks
        price = venue_instrument.to_decimal(fair)
        for engine in (*world.engines.values(), *world.external.values()):
            if symbol not in engine.instruments:
                continue
            tick = engine.instruments.get(symbol).tick_size
            engine.set_reference(symbol, int((price / tick).to_integral_value()))


def _note_size(record: RunRecord, firm: str, symbol: str, size: int) -> None:
    key = (firm, symbol)
    record.max_position[key] = max(record.max_position.get(key, 0), size)


def _external_refusal(record: RunRecord, firm: str, report: Any) -> None:
    """A venue reject of an external engine's order, on the timeline as the venue layer's catch."""
    why = report.reject.text if report.reject is not None else "rejected"
    entry = TimelineEntry(record.world.now_ns() if record.world else 0, "refused",
                          f"{firm}: order {'buy' if report.side == 1 else 'sell'} {report.order_qty:,} {report.symbol} "
                          f"rejected by the venue: {why}", "venue", firm)
    record.refusals.append(entry)
    if len([r for r in record.refusals if r.firm == firm]) <= 3:
        record.note(entry)


class ExternalEngine:
    """An outside order engine the run starts (``[[firm]] command``) and stops at its end.

    The command's ``{python}``, ``{host}``, ``{port}``, ``{sender}`` (the firm's CompID),
    ``{target}`` (the venue's) and ``{begin}`` are filled in; its output goes to a temporary log,
    whose tail is shown if it never logs on.
    """

    def __init__(self, firm: Any, world: World) -> None:
        import shlex
        import subprocess
        import sys
        import tempfile

        values = {"python": sys.executable, "host": "127.0.0.1", "port": str(world.port), "sender": firm.comp_id,
                  "target": world.config.comp_id, "begin": world.config.begin_strings[0]}
        try:
            args = [part.format(**values) for part in shlex.split(firm.command)]
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(f"firm {firm.id}: command {firm.command!r}: {exc} (placeholders: "
                             f"{', '.join('{' + k + '}' for k in values)})") from None
        self.firm = firm.id
        self.log = tempfile.NamedTemporaryFile(prefix=f"marketdrill-{firm.id}-", suffix=".log", delete=False)  # noqa: SIM115
        try:
            self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise ValueError(f"firm {firm.id}: cannot start {args[0]!r}: {exc.strerror or exc}") from None

    def stop(self) -> None:
        """Terminate the engine (then kill it if it lingers) and close its log."""
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()

    def tail(self, lines: int = 15) -> str:
        """The last lines the engine printed."""
        with open(self.log.name, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])


def step_time(record: RunRecord, step: Step) -> int:
    """When an inject step happened (its scheduled time, or when its condition fired)."""
    return record.inject_times.get(step.index, record.start_ns + (step.at_ns or 0))
