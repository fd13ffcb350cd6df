"""The background market: fundamentals, agents, stress measurement and event routing on one clock.

:class:`Market` owns everything the agents share and is the only thing the venue talks to:

* **One Generator.**  The root ``numpy.random.Generator`` (``default_rng(config.seed)`` unless one is
  passed) is split with ``Generator.spawn`` into one child per component, in a fixed creation order
  (walk, then per symbol: noise, LPs, momentum).  A component's draws therefore do not depend on
  how many numbers another consumed, so adding momentum followers does not reshuffle the noise;
  and the same seed gives the same run on any machine (PCG64 is platform independent).
* **Virtual time only.**  Agents schedule themselves with ``clock.call_at`` (integer ns).  Nothing
  reads wall time; same-instant callbacks run in scheduling order (the clock's FIFO tie-break).
* **Commands.**  Agents call the Exchange's public ``new_order``/``cancel``/``replace`` directly
  (no FIX) and hand the resulting events to :meth:`_submitted`, which counts the command, folds it
  into a BLAKE2 digest of the run (:meth:`digest`: same seed -> same digest), routes the events and
  calls ``emit`` with what the outside world must see.
* **Routing.**  Agent owners are not FIX sessions, so their ExecReports/CancelRejects would go
  nowhere; they are kept out of ``emit`` (the gateway builds every report's FIX body before it
  looks for the session, so skipping them is most of the cost of dispatching agent traffic).  The
  reports of other firms (a FIX firm whose resting order an agent hit), BookChanges (market data)
  and StatusChanges are emitted.  ``forward_agent_reports = true`` emits everything (journals).
* **Watching.**  :meth:`watch` takes every event list the venue dispatches for *other* flow (FIX
  order entry).  From it the Market learns of fills of agents' resting orders, trades (momentum,
  last price), halts, and book changes on which the arbitrageur re-checks the top of the book.
  Events the Market emits itself are ignored if they come back through ``watch`` (a flag set
  while ``emit`` runs), so wiring ``watch`` into the gateway's dispatch cannot double count.
* **Stress.**  Every ``stress_sample_ms`` the mid (or last trade, or fundamental) of each symbol is
  sampled and its return over the last ``stress_horizon_ms`` taken (overlapping returns: a quick
  response, while bid/ask noise, which does not grow with the horizon, is diluted by real moves,
  which do).  Two EWMAs of squared returns give realised variance now (half-life
  ``stress_halflife_ms``) and its baseline (``stress_baseline_halflife_ms``, floored at the
  fundamental's own ``volatility_bps`` or a one-tick move, whichever is larger, each update capped at 4x the baseline so a crash does not
  become "usual" within seconds), and ``stress = sqrt(now / baseline)``: 1 = as usual.
  Why a ratio to the market's own baseline and not to ``volatility_bps``: sampled mids carry
  microstructure noise (spread changes, quotes inside the spread) that is several times the
  fundamental's move over 100 ms, so an absolute yardstick calls a calm book stressed and one
  tuned to that noise breaks when the spread or tick changes.  A long baseline lets a crash
  register within a second while a new normal is learned over minutes.  LPs read
  ``state.stress``.  Floats here are rates only; they move quote distances by whole ticks, never
  decide a match.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sim.agents.arbitrage import Arbitrageur
from sim.agents.base import Agent, SymbolState
from sim.agents.config import AgentsConfig, AgentsConfigError, agents_config_from_dict
from sim.agents.fundamental import FundamentalWalk
from sim.agents.liquidity import LiquidityProvider
from sim.agents.momentum import MomentumFollower
from sim.agents.noise import NoiseTrader
from sim.exchange import Exchange
from sim.venue_events import BookChange, CancelReject, ExecReport, ExecType, StatusChange, VenueEvent

__all__ = ["Market"]

_TRADE = ExecType.TRADE
_NS_PER_MS = 1_000_000


class Market:
    """The seeded background market of a venue: start it, stop it, let it watch the venue's events.

    ``config`` is an :class:`AgentsConfig` or the raw ``[agents]`` table; ``exchange`` the venue's
    core; ``clock`` anything with ``now_ns()`` and ``call_at(ns, callback)`` (``VirtualClock``, or
    ``RealClock`` inside a running loop for drills); ``rng`` the run's Generator (default
    ``default_rng(config.seed)``; when given, ``config.seed`` is not used); ``emit`` receives the
    event lists others must see (default: dropped); ``record`` keeps every command in ``log``.
    Halts: a ``StatusChange`` whose phase is not ``"continuous"`` pauses every agent of the symbol
    (timers keep running, nothing is sent) until a ``"continuous"`` one arrives.
    """

    def __init__(self, config: AgentsConfig | dict[str, Any], exchange: Exchange, clock: Any,
                 rng: np.random.Generator | None = None, emit: Callable[[list[VenueEvent]], None] | None = None,
                 *, record: bool = False) -> None:
        if isinstance(config, dict):
            config = agents_config_from_dict(config)
        self.config = config
        self.exchange = exchange
        self.clock = clock
        self._now = clock.now_ns
        self.emit = emit
        self.rng = rng if rng is not None else np.random.default_rng(config.seed)
        symbols = list(config.symbols) or list(exchange.instruments.symbols)
        for symbol in symbols:
            if symbol not in exchange.instruments:
                raise AgentsConfigError(f"[agents] symbols: {symbol!r} is not listed on the venue")
        self.symbols = symbols
        self.state: dict[str, SymbolState] = {}
        reference = {}
        for symbol in symbols:
            instrument = exchange.instruments.get(symbol)
            reference[symbol] = instrument.reference_ticks
            self.state[symbol] = SymbolState(symbol, exchange.books[symbol], instrument.lot_size,
                                             instrument.reference_ticks, config.momentum.lookback + 1,
                                             config.stress.horizon_ms // config.stress.sample_ms + 1)
        children = iter(self.rng.spawn(1 + len(symbols) * (1 + config.lp.count + config.momentum.count)))
        fc = config.fundamental
        self.walk = FundamentalWalk(reference, volatility_bps=fc.volatility_bps, step_ms=fc.fundamental_step_ms,
                                    rng=next(children))
        self.agents: list[Agent] = []
        for symbol in symbols:
            self.agents.append(NoiseTrader(self, f"{NoiseTrader.firm}:{symbol}", symbol, next(children)))
            n = config.lp.count
            for i in range(n):
                self.agents.append(LiquidityProvider(self, f"AGENTS-LP{i + 1}:{symbol}", symbol, next(children),
                                                     index=i, of=n))
            for i in range(config.momentum.count):
                self.agents.append(MomentumFollower(self, f"AGENTS-MOMENTUM{i + 1}:{symbol}", symbol,
                                                    next(children)))
            if config.arb.enabled:
                arb = Arbitrageur(self, f"{Arbitrageur.firm}:{symbol}", symbol, None)
                self.state[symbol].arb = arb
                self.agents.append(arb)
        self.by_owner: dict[str, Agent] = {a.owner: a for a in self.agents}
        self.firms = frozenset(a.firm for a in self.agents)
        self.commands = 0                          # orders, cancels and replaces the agents sent
        self.log: list[tuple] | None = [] if record else None
        self._hash = hashlib.blake2b(digest_size=16)
        self._chunk: list[tuple] = []
        self._emitting = False
        self._running = False
        self._timers: list[Any] = []
        sc = config.stress
        horizon_ms = (sc.horizon_ms // sc.sample_ms) * sc.sample_ms
        self._calm_var = max(fc.volatility_bps, 1e-6) ** 2 * 1e-8 * (horizon_ms / 1000.0)
        self._decay = 0.5 ** (sc.sample_ms / sc.halflife_ms)
        self._decay_base = 0.5 ** (sc.sample_ms / sc.baseline_halflife_ms)
        for st in self.state.values():
            # a one-tick move of the mid is never stress, however still the market was before
            st.floor = max(self._calm_var, 1.0 / (st.reference * st.reference))

    # -- LIFECYCLE ------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the fundamental walk, the stress sampler and every agent (no-op if disabled)."""
        if self._running or not self.config.enabled:
            return
        self._running = True
        now = self.clock.now_ns()
        self._timers = [
            self.clock.call_at(now + self.config.fundamental.fundamental_step_ms * _NS_PER_MS, self._step_walk),
            self.clock.call_at(now + self.config.stress.sample_ms * _NS_PER_MS, self._sample_stress),
        ]
        for agent in self.agents:
            agent.start()

    def stop(self, cancel_orders: bool = True) -> list[VenueEvent]:
        """Stop every timer; cancel the agents' resting orders unless told not to; return what it emitted."""
        self._running = False
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        for agent in self.agents:
            agent.stop()
        out: list[VenueEvent] = []
        if cancel_orders:
            for firm in sorted(self.firms):
                events = self.exchange.mass_cancel(firm=firm)
                if events:
                    out += self._route(events)
            self._emit(out)
        return out

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._running

    # -- QUERIES --------------------------------------------------------------------------------

    def fair(self, symbol: str) -> int:
        """The fundamental value of a symbol now, in ticks."""
        return self.walk.value[symbol]

    def stress(self, symbol: str) -> float:
        """Realised volatility of a symbol divided by its calm volatility (1.0 = calm)."""
        return self.state[symbol].stress

    def digest(self) -> str:
        """Hex BLAKE2 digest of every command the agents sent (time, owner, command, side, qty, price)."""
        self._flush_digest()
        return self._hash.hexdigest()

    @property
    def counts(self) -> dict[str, int]:
        """Commands sent per ``kind.command`` (N new, C cancel, R replace), e.g. ``{"noise.N": 12}``."""
        out: dict[str, int] = {}
        for agent in self.agents:
            for command, n in agent.sent.items():
                if n:
                    key = f"{agent.kind}.{command}"
                    out[key] = out.get(key, 0) + n
        return out

    # -- SCENARIO HOOKS -------------------------------------------------------------------------

    def shift_fundamental(self, symbol: str, ticks: int) -> int:
        """Jump a fundamental by ``ticks`` now (news); arbitrageurs re-check at once; return the new value."""
        value = self.walk.shift(symbol, ticks)
        arb = self.state[symbol].arb
        if arb is not None:
            arb.poke()
        return value

    # -- EVENTS IN ------------------------------------------------------------------------------

    def watch(self, events: list[VenueEvent]) -> None:
        """See an event list the venue dispatched for someone else's command (wire into the gateway)."""
        if self._emitting or not events:
            return
        self._route(events)

    # -- INTERNALS ------------------------------------------------------------------------------

    def _submitted(self, agent: Agent, command: str, side: int, qty: int, price: int | None,
                   events: list[VenueEvent]) -> None:
        """Count, log and route one agent command's events, then emit what others must see."""
        self.commands += 1
        agent.sent[command] += 1
        entry = (self._now(), agent.owner, command, side, qty, price)
        chunk = self._chunk
        chunk.append(entry)
        if len(chunk) >= 4096:
            self._flush_digest()
        if self.log is not None:
            self.log.append(entry)
        out = self._route(events)
        if out and self.emit is not None:  # _emit, inline: once per command
            self._emitting = True
            try:
                self.emit(out)
            finally:
                self._emitting = False

    def _flush_digest(self) -> None:
        # one repr + update per 4096 commands: ~10x cheaper than hashing each command's own string
        if self._chunk:
            self._hash.update(repr(self._chunk).encode())
            self._chunk = []

    def _emit(self, out: list[VenueEvent]) -> None:
        if self.emit is None or not out:
            return
        self._emitting = True
        try:
            self.emit(out)
        finally:
            self._emitting = False

    def _route(self, events: list[VenueEvent]) -> list[VenueEvent]:
        """Give agents their fills, update symbol state; return the events to emit."""
        forward_all = self.config.forward_agent_reports
        by_owner = self.by_owner
        out: list[VenueEvent] = []
        for ev in events:
            cls = type(ev)
            if cls is ExecReport:
                agent = by_owner.get(ev.owner)
                if agent is not None:
                    if ev.exec_type is _TRADE:
                        agent.on_fill(ev)
                    if not forward_all:
                        continue
            elif cls is BookChange:
                st = self.state.get(ev.symbol)
                if st is not None:
                    if ev.trades:
                        trades = st.trades
                        for price, _qty in ev.trades:
                            trades.append(price)
                        st.last_trade = trades[-1]
                    arb = st.arb
                    if arb is not None and arb._timer is None:  # poke_levels returns at once otherwise
                        arb.poke_levels(ev.levels)
            elif cls is CancelReject:
                if ev.owner in by_owner and not forward_all:
                    continue
            elif cls is StatusChange:
                st = self.state.get(ev.symbol)
                if st is not None:
                    st.halted = ev.phase != "continuous"
            out.append(ev)
        return out

    def _step_walk(self) -> None:
        """One step of every fundamental; arbitrageurs re-check, since resting orders may now be off."""
        if not self._running:
            return
        self.walk.step()
        for st in self.state.values():
            if st.arb is not None:
                st.arb.poke()
        self._timers[0] = self.clock.call_at(
            self.clock.now_ns() + self.config.fundamental.fundamental_step_ms * _NS_PER_MS, self._step_walk)

    def _sample_stress(self) -> None:
        """Sample each mid; update the short and baseline EWMAs of squared returns and the stress ratio."""
        if not self._running:
            return
        fast, slow = self._decay, self._decay_base
        value = self.walk.value
        for st in self.state.values():
            book = st.book
            bid, ask = book.best_bid(), book.best_ask()
            if bid is not None and ask is not None:
                mid2 = bid.price + ask.price
            elif st.last_trade is not None:
                mid2 = 2 * st.last_trade
            else:
                mid2 = 2 * value[st.symbol]
            mids = st.mids
            old = mids[0] if mids else mid2
            mids.append(mid2)
            r = (mid2 - old) / old
            r2 = r * r
            floor = st.floor
            # bias-corrected EWMAs (sum / weight, as Adam's moments): right from the first sample
            st.var = fast * st.var + r2
            st.var_w = fast * st.var_w + 1.0
            base = st.base / st.base_w if st.base_w else floor
            cap = 4.0 * (base if base > floor else floor)
            # winsorised at 4x the baseline: a crash must not become "usual" within seconds
            st.base = slow * st.base + (r2 if r2 < cap else cap)
            st.base_w = slow * st.base_w + 1.0
            base = st.base / st.base_w
            st.stress = math.sqrt((st.var / st.var_w) / (base if base > floor else floor))
        self._timers[1] = self.clock.call_at(
            self.clock.now_ns() + self.config.stress.sample_ms * _NS_PER_MS, self._sample_stress)
