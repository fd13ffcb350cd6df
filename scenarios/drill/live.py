"""A drill: a scenario run paced to the wall clock, with trainee actions applied between ticks.

The simulation runs on the virtual clock in its own thread, exactly as ``marketdrill run`` does,
and after each 100 ms tick of simulated time it (1) releases hints that are due, (2) applies the
actions queued since the last tick, stamping each with the tick's instant, (3) publishes a
snapshot for the dashboard, and (4) waits until the wall clock catches up (``speed`` simulated
seconds per wall second; a pause simply keeps waiting).  Because the world only ever changes on
the virtual clock and actions land on tick instants, the same seed plus the recorded actions
replays the drill exactly: :func:`replay_drill` does that with no waiting, and gives the same
journal hash and the same score.

The dashboard's HTTP threads never touch the simulation: they queue actions (checked at once so
a mistake is answered at once) and read the latest published snapshot.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engines.alerts import Notification
from engines.metrics import TradingMetrics
from scenarios.drill.actions import Action, ActionError, check_action, check_gm, parse_inject
from scenarios.drill.plan import DrillPlan, Hint, drill_plan
from scenarios.runner import RunRecord, ScenarioRun, TimelineEntry
from scenarios.spec import Scenario, Step
from sim.clock import NS_PER_S, VirtualClock, format_utc, run_virtual
from sim.journal import JournalEvent

HISTORY_EVERY_NS = NS_PER_S  # one price-chart point per simulated second
HISTORY_POINTS = 1800
JOURNAL_KEEP = 20_000  # lines kept for the live log; the full journal goes to the run directory
PUBLISH_EVERY_S = 0.25  # wall seconds between dashboard snapshots
_BEHIND_S = 1.0  # further behind the wall clock than this, stop trying to catch up


class Drill:
    """One drill run: the scenario, its pacing, the action queue and the published state."""

    def __init__(self, scenario: Scenario, *, seed: int | None = None, speed: float = 1.0,
                 replay: list[Action] | None = None, latency_ns: int = 50_000,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.plan: DrillPlan = drill_plan(scenario)
        self.speed = speed
        self.latency_ns = latency_ns
        self.paced = replay is None
        self._replay = deque(sorted(replay or [], key=lambda a: (a.t_ns or 0, a.id)))
        self._wall = wall
        self._cond = threading.Condition()
        self._queue: list[Action] = []
        self._next_id = 1 + max((a.id for a in replay or []), default=0)
        self.actions: list[Action] = []
        self.paused = False
        self.ended = False
        self.finished = threading.Event()
        self.error: str | None = None
        self.version = 0
        self.state: dict[str, Any] = {}
        self.metrics_text = ""
        self.journal_lines: deque[dict[str, Any]] = deque(maxlen=JOURNAL_KEEP)
        self.acks: dict[str, tuple[str, int]] = {}
        self.hints: list[tuple[Hint, int, str]] = []  # (hint, t_ns, released by)
        self.notes: list[tuple[int, str, str]] = []
        self.history: dict[str, deque[tuple[int, int | None, int | None]]] = {}
        self.last_trade: dict[str, int] = {}
        self.feed: dict[str, tuple[int, int | None, int | None]] = {}  # what the firms' feed shows
        self.record: RunRecord | None = None
        self.run_: ScenarioRun | None = None
        self.score: dict[str, Any] | None = None
        self.counterfactual: Any = None
        self.t_ns = 0
        self._published_at = -1e9
        self._anchor: tuple[float, int] | None = None
        self._next_history = 0
        self.metrics = TradingMetrics()  # GET /metrics: orders, fills, positions, states and alerts
        from scenarios.drill.snapshot import initial_snapshot

        self.state = initial_snapshot(self)

    # -- FROM THE DASHBOARD (HTTP threads) --------------------------------------------------------

    def submit(self, body: Any) -> Action:
        """Check and queue a trainee action (ActionError names what is wrong)."""
        with self._cond:
            if self.ended:
                raise ActionError("the drill is over")
            page_ids = {p["id"] for p in self.state.get("pages", [])}
            trainee, action, params = check_action(body, self.scenario, page_ids)
            if action == "hint" and self._hints_left() == 0:
                raise ActionError("there are no more hints")
            return self._enqueue(Action(self._next_id, trainee, action, params))

    def command(self, body: Any) -> Action:
        """A game-master command: pause/resume/speed act at once; end, hint and inject are queued."""
        command, params = check_gm(body)
        with self._cond:
            if self.ended:
                raise ActionError("the drill is over")
            action = Action(self._next_id, "game master", command, params, source="gm")
            if command in ("pause", "resume", "speed"):
                # pacing only: the simulation does not see these, so a replay needs none of them
                self._next_id += 1
                if command == "speed":
                    self.speed = params["speed"]
                    self._anchor = None
                else:
                    self.paused = command == "pause"
                    self._anchor = None
                action.ok, action.result, action.t_ns = True, f"{command} {params.get('speed', '')}".strip(), self.t_ns
                self.actions.append(action)
                self.version += 1
                self._cond.notify_all()
                return action
            if command == "hint" and self._hints_left() == 0:
                raise ActionError("there are no more hints")
            if command == "inject":
                step = parse_inject(self.scenario, params["toml"])
                action.params = {"toml": params["toml"], "kind": step.kind}
            return self._enqueue(action)

    def _enqueue(self, action: Action) -> Action:
        self._next_id += 1
        self._queue.append(action)
        self._cond.notify_all()
        return action

    def wait_for_change(self, version: int, timeout: float) -> int:
        """Block until the published state is newer than ``version`` (or timeout); returns the version."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != version or self.finished.is_set(), timeout)
            return self.version

    def journal_since(self, seq: int) -> list[dict[str, Any]]:
        """Journal lines with a sequence number above ``seq``."""
        with self._cond:
            return [line for line in self.journal_lines if line["seq"] > seq]

    def snapshot(self) -> dict[str, Any]:
        """The latest published state (a copy the caller may keep)."""
        with self._cond:
            return self.state

    # -- THE SIMULATION THREAD --------------------------------------------------------------------

    def run(self) -> RunRecord:
        """Run the drill to its end on this thread (blocking); the dashboard reads it meanwhile."""
        try:
            self.record = run_virtual(self._main(), clock=VirtualClock())
            from scenarios.drill.score import score_drill

            self.score = score_drill(self)
        except Exception as exc:  # noqa: BLE001 - shown on the dashboard and by the CLI, not lost in a thread
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self._cond:
                self.ended = True
                if self.run_ is not None and hasattr(self.run_, "start_ns"):
                    self._publish(force=True)
                self.finished.set()
                self._cond.notify_all()
        assert self.record is not None
        return self.record

    async def _main(self) -> RunRecord:
        run = self.run_ = ScenarioRun(self.scenario, self.seed, latency_ns=self.latency_ns)
        await run.start()
        run.end_ns = run.start_ns + self.plan.allowed_ns
        for firm, engine in run.record.engines.items():
            self.metrics.watch(engine, firm)
        run.router.add_sink(self.metrics.alerts)
        run.journal.subscribe(self._on_journal)
        self._watch_trades(run)
        self._watch_feed(run)
        self._sample(run, run.start_ns)
        with self._cond:
            self._publish(force=True)
        await run.run(on_tick=self._on_tick)
        return run.finish()

    def _on_tick(self, now_ns: int) -> None:
        run = self.run_
        assert run is not None
        t = self.t_ns = now_ns - run.start_ns
        for hint in self.plan.timed_hints:
            if hint.at_ns is not None and hint.at_ns <= t and hint not in [h for h, _, _ in self.hints]:
                self._release_hint(hint, t, "schedule")
        if now_ns >= self._next_history:
            self._sample(run, now_ns)
        if not self.paced:
            while self._replay and (self._replay[0].t_ns or 0) <= t:
                self._apply(self._replay.popleft(), t)
            return
        with self._cond:
            self._apply_queued(t)
            self._publish()
            while not self.ended and run.end_ns > now_ns:
                if self.paused:
                    self._cond.wait(0.5)
                    self._apply_queued(t)
                    self._publish()
                    continue
                wall = self._wall()
                if self._anchor is None:
                    self._anchor = (wall, now_ns)
                target = self._anchor[0] + (now_ns - self._anchor[1]) / NS_PER_S / self.speed
                if wall >= target:
                    if wall - target > _BEHIND_S:
                        self._anchor = None
                    break
                self._cond.wait(min(target - wall, 0.5))
                if self._queue:
                    self._apply_queued(t)
                    self._publish(force=True)

    def _apply_queued(self, t: int) -> None:
        queued, self._queue = self._queue, []
        for action in queued:
            self._apply(action, t)
        if queued:
            self.version += 1

    def _apply(self, action: Action, t: int) -> None:
        from scenarios.drill.apply import apply_action

        action.t_ns = t
        try:
            action.result = apply_action(self, action)
            action.ok = True
        except (ActionError, KeyError, ValueError, TypeError, PermissionError) as exc:
            action.ok, action.result = False, str(exc).strip("'\"")
        self.actions.append(action)
        run = self.run_
        assert run is not None and run.journal is not None
        run.journal.record("drill.action", **{k: v for k, v in action.to_payload().items() if k != "params"},
                           params={k: str(v) for k, v in action.params.items()})
        run.record.note(TimelineEntry(run.now(), "trainee", f"{action.describe()} -> "
                                      f"{'ok' if action.ok else 'refused'}: {action.result}", "trainee",
                                      str(action.params.get("firm", ""))))

    def end(self, t: int) -> None:
        """End the run at this tick (the game master's "end", or the allowed time)."""
        assert self.run_ is not None
        self.run_.end_ns = self.run_.start_ns + t

    def _hints_left(self) -> int:
        released = {h.index for h, _, _ in self.hints}
        return len([h for h in self.plan.requested_hints if h.index not in released])

    def release_next_hint(self, t: int, by: str) -> Hint:
        """Release the next on-request hint."""
        released = {h.index for h, _, _ in self.hints}
        for hint in self.plan.requested_hints:
            if hint.index not in released:
                self._release_hint(hint, t, by)
                return hint
        raise ActionError("there are no more hints")

    def _release_hint(self, hint: Hint, t: int, by: str) -> None:
        self.hints.append((hint, t, by))
        assert self.run_ is not None
        self.run_.journal.record("drill.hint", index=hint.index, by=by, text=hint.text)

    def inject(self, action: Action) -> Step:
        """Apply a game-master injection now."""
        assert self.run_ is not None
        step = parse_inject(self.scenario, action.params["toml"])
        self.run_.injector.apply_or_raise(step)
        return step

    # -- OBSERVING --------------------------------------------------------------------------------

    def _on_journal(self, event: JournalEvent) -> None:
        assert self.run_ is not None
        line = {"seq": event.seq, "t": (event.time_ns - self.run_.start_ns) / NS_PER_S, "kind": event.kind,
                "text": journal_text(event)}
        with self._cond:  # the dashboard's threads read the deque under the same (re-entrant) lock
            self.journal_lines.append(line)

    def _watch_trades(self, run: ScenarioRun) -> None:
        """Remember the last trade price per symbol (for the market view and the chart)."""
        from sim.venue_events import ExecReport

        gateway = run.world.venue.gateway
        original = gateway.dispatch
        last = self.last_trade

        def dispatch(events: list) -> None:
            original(events)
            for event in events:
                if type(event) is ExecReport and event.last_qty:
                    last[event.symbol] = event.last_px

        gateway.dispatch = dispatch  # type: ignore[method-assign]

    def _watch_feed(self, run: ScenarioRun) -> None:
        """Remember the top of book and its time as the firms' market data shows it (faults included)."""
        monitors = run.monitors
        original = monitors.on_market_data
        feed = self.feed

        def on_market_data(symbol: str, time_ns: int, bid: int | None, ask: int | None) -> None:
            feed[symbol] = (time_ns, bid, ask)
            original(symbol, time_ns, bid, ask)

        monitors.on_market_data = on_market_data  # type: ignore[method-assign]

    def _sample(self, run: ScenarioRun, now_ns: int) -> None:
        self._next_history = now_ns + HISTORY_EVERY_NS
        for symbol in run.world.venue.exchange.instruments.symbols:
            fair = run.market.fair(symbol) if run.market is not None else None
            points = self.history.setdefault(symbol, deque(maxlen=HISTORY_POINTS))
            points.append((now_ns - run.start_ns, fair, self.last_trade.get(symbol)))

    def _publish(self, force: bool = False) -> None:
        """Build the dashboard snapshot (called with the condition held, on the simulation thread)."""
        wall = self._wall()
        if not force and wall - self._published_at < PUBLISH_EVERY_S:
            return
        from scenarios.drill.snapshot import build_snapshot

        self._published_at = wall
        self.state = build_snapshot(self)
        self.metrics_text = self.metrics.render().decode()  # here: the gauges read the engines on this thread
        self.version += 1
        self._cond.notify_all()

    def pages(self) -> list[tuple[str, Notification]]:
        """Every page so far with its id (``p1``, ``p2`` ... in the order they fired)."""
        assert self.run_ is not None
        out = []
        for notification in self.run_.sink.notifications:
            if notification.is_page:
                out.append((f"p{len(out) + 1}", notification))
        return out

    def state_json(self) -> str:
        """The latest snapshot as JSON text."""
        with self._cond:
            return json.dumps(self.state, separators=(",", ":"))


def replay_drill(scenario: Scenario, seed: int, actions: list[Action]) -> Drill:
    """Re-run a drill on the virtual clock with its recorded actions, at full speed."""
    drill = Drill(scenario, seed=seed, replay=[a for a in actions if a.action not in ("pause", "resume", "speed")])
    drill.run()
    return drill


def journal_text(event: JournalEvent) -> str:
    """One readable line for a journal event (the dashboard's searchable log)."""
    data = event.data
    kind = event.kind
    if kind == "timeline":
        return str(data.get("text", ""))
    if kind == "order":
        text = f"{data.get('firm')}/{data.get('strategy')} {data.get('kind')} {data.get('symbol')} " \
               f"{'buy' if data.get('side') == 1 else 'sell'} {data.get('qty')} @ {data.get('price')} " \
               f"-> {data.get('state')}"
        if data.get("fill_qty"):
            text += f" (filled {data['fill_qty']} @ {data.get('fill_px')})"
        if data.get("code"):
            text += f" [{data['code']}]"
        return text
    if kind == "venue.order":
        return f"venue received {data.get('firm')} {data.get('side')} {data.get('qty')} {data.get('symbol')} " \
               f"@ {data.get('price')}"
    if kind == "change":
        change = data.get("change", {})
        return f"change {change.get('kind')}: {change.get('what')} {change.get('old')} -> {change.get('new')} " \
               f"by {change.get('actor')}"
    if kind == "run.start":
        return f"run start: {data.get('scenario')} seed {data.get('seed')}"
    compact = {k: v for k, v in data.items() if k not in ("scenario_toml",)}
    text = json.dumps(compact, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= 400 else text[:397] + "..."


def decimal_float(value: Decimal | int | None) -> float | None:
    """A price or P&L for display (the dashboard shows it; nothing decides on it)."""
    return None if value is None else float(value)


def utc(ns: int) -> str:
    """ISO-8601 UTC with milliseconds."""
    text = format_utc(ns, 3)
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]}T{text[9:]}Z"
