"""Pre-trade risk: the order engine's layer of defence in depth, and its trading state.

Layer 2 of three (strategy sanity, **order-engine pre-trade risk**, venue protections): firm limits
an order must pass before it may leave the engine, checked against an *independent* reference
price the context supplies, so a strategy that is wrong about the market cannot also fool the check.

Design, after NautilusTrader's ``RiskEngine``
---------------------------------------------
* :meth:`RiskEngine.evaluate` runs a fixed pipeline of ``_check_*`` methods (in
  :mod:`engines.risk_checks`); each returns ``None`` or a :class:`Denial` made by the one
  ``_deny_order``.  The first denial wins.  A check that raises denies too (``risk_check_error``):
  risk fails closed.
* Limits are one frozen :class:`RiskLimits`; ``None`` turns a control off.  :meth:`set_limit`
  swaps in a validated copy and records a :class:`LimitChange` (who, old, new) for the What
  Changed timeline; every :class:`StateChange` is recorded the same way in :attr:`changes`.
* :class:`TradingState` per scope, engine and strategy; the *effective* state of an order is the
  stricter of the two.  ACTIVE: all pass.  REDUCING: only orders that reduce |net position| of each
  restricting scope (engine = firm-wide, strategy = its own), counting working orders on the same
  side, without flipping it.  HALTED: every new order is denied with the halt's reason, except
  ``flatten=True`` intents that reduce the position (cancels never come through here).  A flatten
  that would not reduce is always denied: the flag is not a way round a halt.
* Automatic halts (``who="auto"``): the repeated-execution throttle and the daily loss limits.
  Only an operator may loosen a state someone else set, change a limit or switch the layer.  Give
  ``operators=`` (the staff names) to make that exact; without it an operator is anyone who is not
  ``"auto"``, not ``"strategy:..."`` and not a strategy id the engine has already seen (an id it has
  never seen can pass for an operator, so production wiring should pass ``operators``).  A strategy
  may lift a halt it set on itself.  :meth:`reset_throttle` is the operator's re-enable after a throttle halt
  (MiFID II RTS 6 Art. 15: only staff re-enable) and restores the state from before the halt.
* ``enabled=False`` is the "layer off" of scenarios: every check and every automatic halt is off,
  but the trading-state gate stays, so an operator's halt or kill still stops orders; counters
  (submissions, fills) keep running so switching the layer back on sees the true recent rate.
* Time is the context's integer-nanosecond clock.  Calls without a context (``set_state``,
  ``set_limit``) stamp changes with ``clock()`` if one was given, else the last context time seen.
  Rates use sliding windows: an event counts while its age is < the window.  History is kept for
  at least 60 s (or the longest configured window), so a window widened at run time beyond that
  sees only the history kept.

The checks, in pipeline order, and what each stops (see /work/shared/INCIDENTS.md)
------------------------------------------------------------------------------------
=====================  ==========================================================  ===================
check                  rule                                                         stops
=====================  ==========================================================  ===================
intent                 side 1/2, qty > 0 integer, limit has a price, market none    malformed orders
daily_loss             firm / strategy realized+unrealized < -limit -> HALTED       15c3-5 capital limit
trading_state          ACTIVE / REDUCING / HALTED as above                          Knight (no halt)
instrument             symbol known, qty a whole number of lots                     edc-tick-change
market_order           policy ban, or protect: price = reference +/- protection     Everbright, flash crash
reference_age          reference missing or older than max_reference_age_ns        stale-feed
order_qty              qty > max; qty > % of shares outstanding; qty > % of ADV     Mizuho (42x the float)
order_notional         qty x max(price, ref) x tick_size > max                      Citi 2022, Mizuho
price_collar           |price - ref| > ticks, or > bps of ref                       Mizuho at 1 yen, Goldman
position               |pos +/- same-side working + qty| > max (unless shrinking)  Knight ($3.5bn long)
gross_notional         sum of worst-case exposure x mark > max (and growing)        Knight
open_orders            open orders + 1 > max                                        cancel-storm, Knight
order_rate             N submissions in any sliding window                          Everbright, Knight
duplicate              same strategy/symbol/side/qty/price/type within window       retry loops
repeated executions    (on_fill) > N fills per window -> strategy HALTED            Knight, RTS 6 Art. 15
=====================  ==========================================================  ===================

Choices worth knowing: an order is valued at the larger of its price and the reference (a sell at
1 yen trades near the market, not at 1 yen); shares outstanding / ADV of 0 mean unknown and skip
that percentage; the collar is symmetric; a market order with no protection price cannot pass a
collar; gross notional adds currencies as they come (no FX); position and gross limits let an
order through that shrinks an already over-limit exposure (a position toward flat without
crossing it).

Warnings and overrides: ``RiskLimits.soft_checks`` names checks (from ``SOFT_CHECKS``) whose
refusal is a *warning*: without an override the order is still denied (its text says the limit is
soft), but an intent with ``override="who"`` (the strategy or an operator, explicitly, per order)
passes that check and the pipeline goes on; the approved order's overridden warnings come back to
the caller and are counted in ``override_counts``.  The order engine reports each one as a
``warning_overridden`` update, which the monitors count (a desk that overrides every warning has
no limits).  The trading state, the intent, the instrument and the market-order policy are never
soft, and a check that fails with an error denies even when soft (risk fails closed).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections import Counter, deque
from collections.abc import Callable, Collection

from engines.risk_checks import Evaluation, PreTradeChecks, duplicate_key, protection_ticks
from engines.risk_model import (
    Denial,
    LimitChange,
    OrderIntent,
    OverriddenWarning,
    Rate,
    RiskCode,
    RiskContext,
    RiskLimits,
    StateChange,
    StateReason,
    TradingState,
    parse_rate,
)

__all__ = [
    "RiskEngine", "TradingState", "OrderIntent", "Denial", "OverriddenWarning", "RiskContext", "RiskLimits",
    "LimitChange", "StateChange", "RiskCode", "StateReason", "Rate", "parse_rate",
]

_MIN_RETENTION_NS = 60_000_000_000
AUTO = "auto"


class RiskEngine(PreTradeChecks):
    """Pre-trade checks, trading states and automatic halts for one order engine."""

    def __init__(self, limits: RiskLimits | None = None, *, enabled: bool = True,
                 clock: Callable[[], int] | None = None,
                 on_change: Callable[[LimitChange | StateChange], None] | None = None,
                 operators: Collection[str] | None = None) -> None:
        self._limits = limits if limits is not None else RiskLimits()
        self._enabled = bool(enabled)
        self._clock = clock
        self._on_change = on_change
        self._operators = None if operators is None else frozenset(operators) - {AUTO}
        self.changes: list[LimitChange | StateChange] = []
        self.denial_counts: Counter[str] = Counter()
        self.override_counts: Counter[str] = Counter()   # soft-check warnings overridden, by code
        self._submits: deque[int] = deque()
        self._recent: dict[tuple, int] = {}
        self._recent_high = 1024
        self._fills: dict[str, deque[int]] = {}
        self._symbols: set[str] = set()
        self._strategies: set[str] = set()
        self._scope_states: dict[str | None, StateChange] = {}
        self._before_throttle: dict[str, TradingState] = {}
        self._last_ns = 0
        self._pipeline = (
            self._check_intent, self._check_daily_loss, self._check_trading_state, self._check_instrument,
            self._check_market_order, self._check_reference_age, self._check_order_qty,
            self._check_order_notional, self._check_price_collar, self._check_position,
            self._check_gross_notional, self._check_open_orders, self._check_order_rate, self._check_duplicate,
        )
        self._layer_off = (self._check_trading_state,)

    @property
    def limits(self) -> RiskLimits:
        """The limits in force."""
        return self._limits

    @property
    def enabled(self) -> bool:
        """False when the layer is switched off (only the trading-state gate still applies)."""
        return self._enabled

    # -- PRE-TRADE -------------------------------------------------------------------------------

    def evaluate(self, intent: OrderIntent, ctx: RiskContext, *,
                 overridden: list[OverriddenWarning] | None = None) -> Denial | None:
        """Run the pre-trade pipeline: ``None`` = approved, else the first check's denial.

        A soft check's refusal (``limits.soft_checks``) is only a warning when the intent carries an
        explicit ``override``: the pipeline goes on, and if the intent is approved the warnings it
        overrode are appended to ``overridden`` (for the order engine to report) and counted.
        """
        now = ctx.now_ns()
        self._last_ns = now
        self._strategies.add(intent.strategy)
        o = Evaluation(intent, ctx, now)
        soft = self._limits.soft_checks or ()
        warnings: list[OverriddenWarning] = []
        for check in (self._pipeline if self._enabled else self._layer_off):
            try:
                denial = check(o)
            except Exception as exc:  # fail closed: a check that cannot decide denies
                denial = self._deny_order(o, check.__name__.removeprefix("_check_"), RiskCode.CHECK_ERROR,
                                          f"risk check {check.__name__} failed: {type(exc).__name__}: {exc}")
            if denial is not None and denial.check in soft and denial.code != RiskCode.CHECK_ERROR:
                if intent.override:
                    warnings.append(OverriddenWarning(denial.check, denial.code, denial.text, denial.strategy,
                                                      denial.symbol, intent.override, denial.cl_ord_id))
                    continue
                denial = dataclasses.replace(denial, text=f"{denial.text} (a soft limit: an explicit override "
                                                          f"may send it)")
            if denial is not None:
                self.denial_counts[denial.code] += 1
                return denial
        for warning in warnings:
            self.override_counts[warning.code] += 1
        if overridden is not None:
            overridden.extend(warnings)
        return None

    def protection_price(self, intent: OrderIntent, ctx: RiskContext) -> int | None:
        """The limit price (ticks) to send a market intent with: reference +/- protection, or None."""
        if intent.ord_type != "market":
            return intent.price
        ref = ctx.reference_price(intent.symbol)
        protection = None if ref is None else protection_ticks(self._limits, ref[0])
        if protection is None:
            return None
        return ref[0] + protection if intent.side == 1 else max(1, ref[0] - protection)

    def on_submitted(self, intent: OrderIntent, ctx: RiskContext) -> None:
        """Count an order that was sent (order rate, duplicates)."""
        now = ctx.now_ns()
        self._last_ns = now
        self._strategies.add(intent.strategy)
        self._symbols.add(intent.symbol)
        self._submits.append(now)
        self._recent[duplicate_key(intent)] = now
        self._prune(now)

    def on_fill(self, strategy: str, symbol: str, side: int, qty: int, price: int,
                ctx: RiskContext) -> list[StateChange]:
        """Count a fill; returns the automatic halts it caused (repeated executions, loss limits)."""
        now = ctx.now_ns()
        self._last_ns = now
        self._strategies.add(strategy)
        self._symbols.add(symbol)
        fills = self._fills.setdefault(strategy, deque())
        fills.append(now)
        self._prune(now)
        if not self._enabled:
            return []
        changes: list[StateChange] = []
        rate = self._limits.rate("max_fill_rate")
        if rate is not None:
            count = sum(1 for t in fills if t > now - rate.window_ns)
            if count > rate.count:
                change = self._auto_halt(strategy, StateReason.REPEATED_EXECUTION_THROTTLE, now,
                                         f"{count:,} fills within {rate.window_ns:,} ns exceed max_fill_rate "
                                         f"{self._limits.max_fill_rate}; an operator must re-enable")
                if change is not None:
                    changes.append(change)
        changes += self._check_losses(ctx, now, (strategy,))
        return changes

    def check_loss(self, ctx: RiskContext) -> list[StateChange]:
        """Mark to market: halt the engine / strategies whose P&L broke a loss limit (call on price moves)."""
        now = ctx.now_ns()
        self._last_ns = now
        return self._check_losses(ctx, now, sorted(self._strategies)) if self._enabled else []

    # -- TRADING STATE ---------------------------------------------------------------------------

    def state(self, strategy: str | None = None) -> TradingState:
        """The engine's state, or a strategy's effective state (the stricter of engine and strategy)."""
        engine = self._state_of(None)
        if strategy is None:
            return engine
        own = self._state_of(strategy)
        return own if own.strictness > engine.strictness else engine

    def why(self, strategy: str | None = None) -> StateChange | None:
        """The change that set the engine's (or one strategy's own) current state, if any."""
        return self._scope_states.get(strategy)

    def set_state(self, state: TradingState | str, *, strategy: str | None = None, who: str = "operator",
                  reason_code: str = StateReason.MANUAL, text: str = "", time_ns: int | None = None) -> StateChange:
        """Change the engine's or a strategy's state; loosening one someone else set needs an operator."""
        new = TradingState(state)
        if strategy == "engine":
            raise ValueError("'engine' is the engine scope's name; pass strategy=None for the engine")
        self._check_who(who)
        if who == AUTO:
            raise PermissionError("who='auto' is reserved for the risk engine's own automatic halts")
        current = self._scope_states.get(strategy)
        old = self._state_of(strategy)
        if new.strictness < old.strictness and not self._may_loosen(who, current):
            raise PermissionError(
                f"{who!r} may not move {self._scope_words(strategy)} from {old.value.upper()} to "
                f"{new.value.upper()}: it was set by {current.who if current else '?'} "
                f"({current.reason_code if current else '?'}); only an operator may loosen it")
        if strategy is not None:
            self._strategies.add(strategy)
        return self._set(strategy, new, who, str(reason_code), text, self._now(time_ns))

    def reset_throttle(self, *, who: str, strategy: str | None = None, time_ns: int | None = None) -> StateChange:
        """Operator re-enable after a repeated-execution halt (RTS 6 Art. 15); restores the prior state."""
        self._check_who(who)
        if not self._is_operator(who):
            raise PermissionError(f"{who!r} may not reset the repeated-execution throttle; only an operator may")
        throttled = sorted(s for s, c in self._scope_states.items() if s is not None
                           and c.new is TradingState.HALTED and c.reason_code == StateReason.REPEATED_EXECUTION_THROTTLE)
        if strategy is None:
            if len(throttled) != 1:
                raise ValueError(f"name the strategy to re-enable; throttle-halted: {throttled or 'none'}")
            strategy = throttled[0]
        elif strategy not in throttled:
            raise ValueError(f"strategy {strategy} is not halted by the repeated-execution throttle "
                             f"(throttle-halted: {throttled or 'none'})")
        self._fills.pop(strategy, None)
        restore = self._before_throttle.pop(strategy, TradingState.ACTIVE)
        return self._set(strategy, restore, who, StateReason.THROTTLE_RESET,
                         f"repeated-execution throttle reset by {who}", self._now(time_ns))

    # -- LIMITS ----------------------------------------------------------------------------------

    def set_limit(self, name: str, value, *, who: str, reason: str = "", time_ns: int | None = None) -> LimitChange:
        """Change one limit at run time (validated; ``None`` = off); only an operator may."""
        if name not in RiskLimits.names():
            hint = difflib.get_close_matches(name, RiskLimits.names(), n=1)
            raise KeyError(f"unknown risk limit {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        self._require_operator(who, f"change {name}")
        limits = dataclasses.replace(self._limits, **{name: value})
        old, new = getattr(self._limits, name), getattr(limits, name)
        self._limits = limits
        change = LimitChange(self._now(time_ns), who, name, old, new, reason)
        self._record(change)
        return change

    def set_enabled(self, enabled: bool, *, who: str, reason: str = "", time_ns: int | None = None) -> LimitChange:
        """Switch the whole layer on or off (recorded as a change of ``enabled``); only an operator may."""
        self._require_operator(who, "switch the risk layer " + ("on" if enabled else "off"))
        change = LimitChange(self._now(time_ns), who, "enabled", self._enabled, bool(enabled), reason)
        self._enabled = bool(enabled)
        self._record(change)
        return change

    # -- INTERNALS -------------------------------------------------------------------------------

    def _state_of(self, scope: str | None) -> TradingState:
        change = self._scope_states.get(scope)
        return TradingState.ACTIVE if change is None else change.new

    def _set(self, scope: str | None, new: TradingState, who: str, reason_code: str, text: str,
             now: int) -> StateChange:
        change = StateChange(now, "engine" if scope is None else scope, self._state_of(scope), new,
                             reason_code, text, who)
        self._scope_states[scope] = change
        self._record(change)
        return change

    def _auto_halt(self, scope: str | None, reason: StateReason, now: int, text: str) -> StateChange | None:
        """HALT a scope automatically (who="auto"); nothing if it is already halted."""
        old = self._state_of(scope)
        if old is TradingState.HALTED:
            return None
        if scope is not None and reason is StateReason.REPEATED_EXECUTION_THROTTLE:
            self._before_throttle[scope] = old
        return self._set(scope, TradingState.HALTED, AUTO, str(reason), text, now)

    def _record(self, change: LimitChange | StateChange) -> None:
        self.changes.append(change)
        if self._on_change is not None:
            self._on_change(change)

    def _now(self, time_ns: int | None = None) -> int:
        if time_ns is not None:
            return time_ns
        return self._clock() if self._clock is not None else self._last_ns

    @staticmethod
    def _check_who(who: str) -> None:
        if not isinstance(who, str) or not who.strip():
            raise ValueError(f"who must name a person or component, got {who!r}")

    def _is_operator(self, who: str) -> bool:
        """Staff, not a machine: one of ``operators`` if given, else not "auto", "strategy:..." or a known strategy."""
        if self._operators is not None:
            return who in self._operators
        return who != AUTO and not who.startswith("strategy:") and who not in self._strategies

    def _require_operator(self, who: str, what: str) -> None:
        self._check_who(who)
        if not self._is_operator(who):
            raise PermissionError(f"{who!r} may not {what}; only an operator may")

    def _may_loosen(self, who: str, current: StateChange | None) -> bool:
        if self._is_operator(who):
            return True
        return current is not None and who != AUTO and who == current.who

    def _prune(self, now: int) -> None:
        """Forget history older than every window (and at least 60 s)."""
        limits = self._limits
        retention = _MIN_RETENTION_NS
        for rate in (limits.rate("max_order_submit_rate"), limits.rate("max_fill_rate")):
            if rate is not None:
                retention = max(retention, rate.window_ns)
        if limits.duplicate_window_ns is not None:
            retention = max(retention, limits.duplicate_window_ns)
        cutoff = now - retention
        submits = self._submits
        while submits and submits[0] <= cutoff:
            submits.popleft()
        for fills in self._fills.values():
            while fills and fills[0] <= cutoff:
                fills.popleft()
        if len(self._recent) > self._recent_high:
            self._recent = {key: t for key, t in self._recent.items() if t > cutoff}
            self._recent_high = max(1024, 2 * len(self._recent))

