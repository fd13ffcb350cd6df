"""The pre-trade checks of :class:`engines.risk.RiskEngine`, one ``_check_*`` method each.

Each check reads the intent, the :class:`~engines.risk_model.RiskContext` and the limits, and
returns ``None`` (pass) or the :class:`~engines.risk_model.Denial` made by the one
``_deny_order``; the first denial stops the pipeline.  Why each exists (the incident it stops) is in
:mod:`engines.risk`'s docstring; the pipeline order is ``RiskEngine._pipeline``.

All decisions are integer or ``Decimal`` comparisons (``qty * 100 > pct * shares``, ``|p - ref| *
10_000 > bps * ref``); the sentences render the same numbers with thousands separators.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal

from engines.risk_model import (
    SIDE_NAMES,
    Denial,
    OrderIntent,
    RiskCode,
    RiskContext,
    RiskLimits,
    StateChange,
    StateReason,
    TradingState,
)
from sim.instruments import Instrument

__all__ = ["PreTradeChecks", "Evaluation", "reduces", "protection_ticks", "valuation_ticks", "exposure"]

ORDER_TYPES = ("limit", "market")
TIMES_IN_FORCE = ("day", "ioc", "fok")


class Evaluation:
    """One intent under evaluation: the intent, the context, the time, and what checks worked out."""

    __slots__ = ("intent", "ctx", "now", "instrument", "reference", "price")

    def __init__(self, intent: OrderIntent, ctx: RiskContext, now: int) -> None:
        self.intent = intent
        self.ctx = ctx
        self.now = now
        self.instrument: Instrument | None = None           # set by _check_instrument
        self.reference: tuple[int, int] | None = None       # (ticks, as_of_ns) from ctx
        self.price: int | None = intent.price if intent.ord_type == "limit" else None  # effective price

    @property
    def mark(self) -> int:
        """Reference ticks for valuation: the independent reference, else the instrument's static one."""
        if self.reference is not None:
            return self.reference[0]
        assert self.instrument is not None
        return self.instrument.reference_ticks


def reduces(side: int, qty: int, position: int, working_same_side: int) -> bool:
    """True when an order reduces |position| without flipping it, counting same-side working orders.

    >>> reduces(2, 60, 100, 40), reduces(2, 61, 100, 40), reduces(1, 1, 0, 0)
    (True, False, False)
    """
    if side == 1:
        return position < 0 and position + working_same_side + qty <= 0
    if side == 2:
        return position > 0 and position - working_same_side - qty >= 0
    return False


def protection_ticks(limits: RiskLimits, reference: int) -> int | None:
    """How far from the reference a protected market order may trade (the tighter of ticks and bps)."""
    candidates = []
    if limits.market_protection_ticks is not None:
        candidates.append(limits.market_protection_ticks)
    if limits.market_protection_bps is not None:
        candidates.append(reference * limits.market_protection_bps // 10_000)
    return min(candidates) if candidates else None


def valuation_ticks(price: int | None, mark: int) -> int:
    """Price an order is valued at: the larger of its price and the reference (a sell at 1 trades near the mark)."""
    return mark if price is None else max(price, mark)


def exposure(position: int, working_buy: int, working_sell: int) -> int:
    """Worst-case |position| of one symbol if every working order on one side fills."""
    return max(abs(position + working_buy), abs(position - working_sell))


def _n(value: int | Decimal) -> str:
    """A number with thousands separators, as people write them in incident reports."""
    return f"{value:,}"


def _px(instrument: Instrument | None, ticks: int) -> str:
    """A price as ``"100.07 (10,007 ticks)"``."""
    if instrument is None:
        return f"{ticks:,} ticks"
    return f"{instrument.to_price(ticks)} ({ticks:,} ticks)"


def _pct(numerator: int, denominator: int) -> str:
    """An exact ratio rendered as a percentage with one decimal (display only)."""
    return f"{(Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal('0.1')):,}%"


class PreTradeChecks:
    """The ``_check_*`` methods; :class:`engines.risk.RiskEngine` supplies the state they read."""

    _limits: RiskLimits
    _enabled: bool
    _submits: deque[int]
    _recent: dict[tuple, int]
    _symbols: set[str]
    _scope_states: dict[str | None, StateChange]
    _auto_halt: Callable[..., StateChange | None]

    # -- DENY ------------------------------------------------------------------------------------

    def _deny_order(self, o: Evaluation, check: str, code: RiskCode, text: str, cause: str = "") -> Denial:
        """The one place a denial is made."""
        i = o.intent
        return Denial(check, str(code), text, i.strategy, i.symbol, i.cl_ord_id, cause)

    # -- WELL-FORMED -----------------------------------------------------------------------------

    def _check_intent(self, o: Evaluation) -> Denial | None:
        """The intent must be expressible: side, positive integer qty, a price exactly when limit."""
        i = o.intent
        problem = None
        if i.side not in SIDE_NAMES:
            problem = f"side must be 1 (buy) or 2 (sell), got {i.side!r}"
        elif type(i.qty) is not int or i.qty <= 0:
            problem = f"qty must be a positive integer, got {i.qty!r}"
        elif i.ord_type not in ORDER_TYPES:
            problem = f"ord_type must be 'limit' or 'market', got {i.ord_type!r}"
        elif i.time_in_force not in TIMES_IN_FORCE:
            problem = f"time_in_force must be day, ioc or fok, got {i.time_in_force!r}"
        elif i.ord_type == "limit" and (type(i.price) is not int or i.price <= 0):
            problem = f"a limit order needs a positive integer price in ticks, got {i.price!r}"
        elif i.ord_type == "market" and i.price is not None:
            problem = f"a market order carries no price, got {i.price!r} (send a limit order instead)"
        if problem is None:
            return None
        return self._deny_order(o, "intent", RiskCode.INVALID_INTENT, problem)

    def _check_instrument(self, o: Evaluation) -> Denial | None:
        """The symbol must be known and the qty a whole number of lots; caches instrument and reference."""
        i = o.intent
        try:
            o.instrument = o.ctx.instrument(i.symbol)
        except (KeyError, ValueError) as exc:
            return self._deny_order(o, "instrument", RiskCode.UNKNOWN_INSTRUMENT,
                                    f"unknown instrument {i.symbol!r}: {exc}")
        if i.qty % o.instrument.lot_size:
            return self._deny_order(o, "instrument", RiskCode.INVALID_LOT,
                                    f"order qty {_n(i.qty)} is not a multiple of lot size {_n(o.instrument.lot_size)}")
        o.reference = o.ctx.reference_price(i.symbol)
        return None

    # -- TRADING STATE ---------------------------------------------------------------------------

    def _check_trading_state(self, o: Evaluation) -> Denial | None:
        """HALTED: only flatten intents pass; REDUCING: only orders reducing each restricting scope's position.

        A flatten must always reduce the strategy's own position (and, under a restriction, that
        scope's too): the flag closes a position, it is not a way round a halt.
        """
        i = o.intent
        restricting = [(scope, change) for scope, change in ((None, self._scope_states.get(None)),
                                                             (i.strategy, self._scope_states.get(i.strategy)))
                       if change is not None and change.new is not TradingState.ACTIVE]
        halted = [(scope, c) for scope, c in restricting if c.new is TradingState.HALTED]
        if halted and not i.flatten:
            scope, change = halted[0]
            return self._deny_order(o, "trading_state", RiskCode.TRADING_HALTED,
                                    f"{self._scope_words(scope)} is HALTED ({change.reason_code} by {change.who}"
                                    f"{': ' + change.text if change.text else ''}); only cancels and flatten "
                                    f"orders pass", change.reason_code)
        if i.flatten and (self._enabled or restricting) and not self._reduces_in(o, i.strategy):
            cause = restricting[0][1].reason_code if restricting else ""
            return self._deny_order(o, "trading_state", RiskCode.FLATTEN_NOT_REDUCING,
                                    f"flatten {self._order_words(o)} would not reduce strategy {i.strategy} net "
                                    f"position {_n(o.ctx.position(i.symbol, i.strategy))} in {i.symbol} "
                                    f"(working {SIDE_NAMES[i.side]} {_n(o.ctx.working_qty(i.symbol, i.side, i.strategy))})",
                                    cause)
        for scope, change in restricting:
            if not self._reduces_in(o, scope):
                words = f"{self._scope_words(scope)} net position {_n(o.ctx.position(i.symbol, scope))} in {i.symbol}"
                if i.flatten:
                    return self._deny_order(o, "trading_state", RiskCode.FLATTEN_NOT_REDUCING,
                                            f"flatten {self._order_words(o)} would not reduce {words} "
                                            f"({change.new.value.upper()}: {change.reason_code})", change.reason_code)
                return self._deny_order(o, "trading_state", RiskCode.TRADING_REDUCING,
                                        f"{self._scope_words(scope)} is REDUCING ({change.reason_code} by "
                                        f"{change.who}); {self._order_words(o)} would not reduce {words}",
                                        change.reason_code)
        return None

    def _reduces_in(self, o: Evaluation, scope: str | None) -> bool:
        """Does the intent reduce the position of a scope (None = firm-wide, else one strategy)?"""
        i = o.intent
        return reduces(i.side, i.qty, o.ctx.position(i.symbol, scope), o.ctx.working_qty(i.symbol, i.side, scope))

    # -- LOSS ------------------------------------------------------------------------------------

    def _check_daily_loss(self, o: Evaluation) -> Denial | None:
        """Realized+unrealized below -limit halts (engine or strategy); the state check then denies."""
        self._check_losses(o.ctx, o.now, (o.intent.strategy,))
        return None

    def _check_losses(self, ctx: RiskContext, now: int, strategies) -> list[StateChange]:
        """Halt the engine / strategies whose day's P&L is below their loss limit; returns the changes."""
        limits, changes = self._limits, []
        if limits.max_daily_loss is not None:
            pnl = ctx.realized_pnl(None) + ctx.unrealized_pnl(None)
            if pnl < -limits.max_daily_loss:
                change = self._auto_halt(None, StateReason.DAILY_LOSS, now,
                                         f"firm P&L {_n(pnl)} is below -max_daily_loss {_n(-limits.max_daily_loss)}")
                changes += [change] if change else []
        if limits.max_daily_loss_per_strategy is not None:
            for strategy in strategies:
                pnl = ctx.realized_pnl(strategy) + ctx.unrealized_pnl(strategy)
                if pnl < -limits.max_daily_loss_per_strategy:
                    change = self._auto_halt(strategy, StateReason.STRATEGY_DAILY_LOSS, now,
                                             f"strategy {strategy} P&L {_n(pnl)} is below -max_daily_loss_per_strategy "
                                             f"{_n(-limits.max_daily_loss_per_strategy)}")
                    changes += [change] if change else []
        return changes

    # -- PRICE -----------------------------------------------------------------------------------

    def _check_market_order(self, o: Evaluation) -> Denial | None:
        """Market orders: banned, or given a protection price (reference +/- protection) by policy."""
        i, limits = o.intent, self._limits
        if i.ord_type != "market":
            return None
        if limits.market_order_policy == "ban":
            return self._deny_order(o, "market_order", RiskCode.MARKET_ORDER_BANNED,
                                    "market orders are banned (market_order_policy 'ban'); send a limit order")
        protection = None if o.reference is None else protection_ticks(limits, o.reference[0])
        if limits.market_order_policy == "protect":
            if limits.market_protection_ticks is None and limits.market_protection_bps is None:
                return self._deny_order(o, "market_order", RiskCode.MARKET_ORDER_UNPROTECTED,
                                        "market_order_policy 'protect' needs market_protection_ticks or "
                                        "market_protection_bps; none is set")
            if o.reference is None:
                return self._deny_order(o, "market_order", RiskCode.MARKET_ORDER_NO_REFERENCE,
                                        f"no reference price for {i.symbol} to protect a market order against")
        if protection is not None:
            assert o.reference is not None
            ref = o.reference[0]
            o.price = ref + protection if i.side == 1 else max(1, ref - protection)
        return None

    def _check_reference_age(self, o: Evaluation) -> Denial | None:
        """Stale guard: no new orders when the independent reference is missing or older than the limit."""
        limit = self._limits.max_reference_age_ns
        if limit is None:
            return None
        if o.reference is None:
            return self._deny_order(o, "reference_age", RiskCode.REFERENCE_MISSING,
                                    f"no reference price for {o.intent.symbol}; max_reference_age_ns {_n(limit)} "
                                    f"requires a fresh one")
        age = o.now - o.reference[1]
        if age > limit:
            return self._deny_order(o, "reference_age", RiskCode.REFERENCE_STALE,
                                    f"reference price for {o.intent.symbol} is {_n(age)} ns old, older than "
                                    f"max_reference_age_ns {_n(limit)}")
        return None

    def _check_price_collar(self, o: Evaluation) -> Denial | None:
        """The (effective) price must lie within the collar around the reference, in ticks and in bps."""
        limits = self._limits
        if limits.price_collar_ticks is None and limits.price_collar_bps is None:
            return None
        if o.price is None:
            return self._deny_order(o, "price_collar", RiskCode.COLLAR_UNBOUNDED,
                                    "a market order without a protection price cannot be collared; configure "
                                    "market_protection_ticks/bps or send a limit order")
        if o.reference is None:
            return self._deny_order(o, "price_collar", RiskCode.COLLAR_NO_REFERENCE,
                                    f"no reference price for {o.intent.symbol} to collar {_px(o.instrument, o.price)}")
        ref = o.reference[0]
        distance = abs(o.price - ref)
        if limits.price_collar_ticks is not None and distance > limits.price_collar_ticks:
            return self._deny_order(o, "price_collar", RiskCode.PRICE_COLLAR_TICKS,
                                    f"price {_px(o.instrument, o.price)} is {_n(distance)} ticks from reference "
                                    f"{_px(o.instrument, ref)}, beyond price_collar_ticks {_n(limits.price_collar_ticks)}")
        if limits.price_collar_bps is not None and distance * 10_000 > limits.price_collar_bps * ref:
            bps = (Decimal(distance) * 10_000 / ref).quantize(Decimal("0.1"))
            return self._deny_order(o, "price_collar", RiskCode.PRICE_COLLAR_BPS,
                                    f"price {_px(o.instrument, o.price)} is {_n(bps)} bps from reference "
                                    f"{_px(o.instrument, ref)}, beyond price_collar_bps {_n(limits.price_collar_bps)}")
        return None

    # -- SIZE ------------------------------------------------------------------------------------

    def _check_order_qty(self, o: Evaluation) -> Denial | None:
        """Order qty: absolute, and as a percentage of shares outstanding and of ADV (0 = unknown: skipped)."""
        i, limits, inst = o.intent, self._limits, o.instrument
        assert inst is not None
        if limits.max_order_qty is not None and i.qty > limits.max_order_qty:
            return self._deny_order(o, "order_qty", RiskCode.MAX_ORDER_QTY,
                                    f"order qty {_n(i.qty)} exceeds max_order_qty {_n(limits.max_order_qty)}")
        pct = limits.max_order_pct_shares_outstanding
        if pct is not None and inst.shares_outstanding > 0 and i.qty * 100 > pct * inst.shares_outstanding:
            return self._deny_order(o, "order_qty", RiskCode.MAX_ORDER_PCT_SHARES_OUTSTANDING,
                                    f"order qty {_n(i.qty)} is {_pct(i.qty, inst.shares_outstanding)} of "
                                    f"{_n(inst.shares_outstanding)} shares outstanding, above "
                                    f"max_order_pct_shares_outstanding {pct}%")
        pct = limits.max_order_pct_adv
        if pct is not None and inst.average_daily_volume > 0 and i.qty * 100 > pct * inst.average_daily_volume:
            return self._deny_order(o, "order_qty", RiskCode.MAX_ORDER_PCT_ADV,
                                    f"order qty {_n(i.qty)} is {_pct(i.qty, inst.average_daily_volume)} of average "
                                    f"daily volume {_n(inst.average_daily_volume)}, above max_order_pct_adv {pct}%")
        return None

    def _check_order_notional(self, o: Evaluation) -> Denial | None:
        """qty x max(price, reference) x tick_size must not exceed max_order_notional (exact Decimal)."""
        limit = self._limits.max_order_notional
        if limit is None:
            return None
        assert o.instrument is not None
        ticks = valuation_ticks(o.price, o.mark)
        notional = o.intent.qty * ticks * o.instrument.tick_size
        if notional > limit:
            return self._deny_order(o, "order_notional", RiskCode.MAX_ORDER_NOTIONAL,
                                    f"order notional {_n(notional)} {o.instrument.currency} ({_n(o.intent.qty)} x "
                                    f"{_px(o.instrument, ticks)}) exceeds max_order_notional {_n(limit)}")
        return None

    # -- EXPOSURE --------------------------------------------------------------------------------

    def _check_position(self, o: Evaluation) -> Denial | None:
        """If it and every same-side working order filled, |net position| must stay within max_position
        (an order that shrinks an over-limit position toward flat, without crossing it, passes)."""
        limit = self._limits.max_position
        if limit is None:
            return None
        i, ctx = o.intent, o.ctx
        position = ctx.position(i.symbol)
        working = ctx.working_qty(i.symbol, i.side)
        before = position + working if i.side == 1 else position - working
        after = before + i.qty if i.side == 1 else before - i.qty
        shrinks = (before > 0 and 0 <= after < before) or (before < 0 and before < after <= 0)
        if abs(after) > limit and not shrinks:
            return self._deny_order(o, "position", RiskCode.MAX_POSITION,
                                    f"{self._order_words(o)} would take the {i.symbol} net position to {_n(after)} "
                                    f"(filled {_n(position)}, working {SIDE_NAMES[i.side]} {_n(working)}), "
                                    f"beyond max_position {_n(limit)}")
        return None

    def _check_gross_notional(self, o: Evaluation) -> Denial | None:
        """Sum over symbols of worst-case exposure x mark must stay within max_gross_notional (or not grow)."""
        limit = self._limits.max_gross_notional
        if limit is None:
            return None
        i, ctx = o.intent, o.ctx
        assert o.instrument is not None
        symbols = set(self._symbols)
        extra = getattr(ctx, "symbols", None)
        if callable(extra):
            symbols.update(extra())
        symbols.discard(i.symbol)
        others = Decimal(0)
        for symbol in sorted(symbols):
            try:
                instrument = ctx.instrument(symbol)
            except (KeyError, ValueError):
                continue  # delisted: nothing to value it with
            ref = ctx.reference_price(symbol)
            mark = ref[0] if ref is not None else instrument.reference_ticks
            size = exposure(ctx.position(symbol), ctx.working_qty(symbol, 1), ctx.working_qty(symbol, 2))
            others += size * mark * instrument.tick_size
        position, buy, sell = ctx.position(i.symbol), ctx.working_qty(i.symbol, 1), ctx.working_qty(i.symbol, 2)
        price = valuation_ticks(o.price, o.mark) * o.instrument.tick_size
        before = others + exposure(position, buy, sell) * price
        if i.side == 1:
            buy += i.qty
        else:
            sell += i.qty
        after = others + exposure(position, buy, sell) * price
        if after > limit and after > before:
            return self._deny_order(o, "gross_notional", RiskCode.MAX_GROSS_NOTIONAL,
                                    f"{self._order_words(o)} would take gross notional to {_n(after)} (from "
                                    f"{_n(before)}), beyond max_gross_notional {_n(limit)}")
        return None

    def _check_open_orders(self, o: Evaluation) -> Denial | None:
        """Firm-wide open orders must stay within max_open_orders."""
        limit = self._limits.max_open_orders
        if limit is None:
            return None
        count = o.ctx.open_order_count(None)
        if count + 1 > limit:
            return self._deny_order(o, "open_orders", RiskCode.MAX_OPEN_ORDERS,
                                    f"{_n(count)} orders already open; one more exceeds max_open_orders {_n(limit)}")
        return None

    # -- FLOW ------------------------------------------------------------------------------------

    def _check_order_rate(self, o: Evaluation) -> Denial | None:
        """At most N submissions in any sliding window (age < window) on the context clock."""
        rate = self._limits.rate("max_order_submit_rate")
        if rate is None:
            return None
        cutoff = o.now - rate.window_ns
        recent = self._submits
        count = 0
        for t in reversed(recent):   # newest first; stop at the first one outside the window
            if t <= cutoff:
                break
            count += 1
            if count >= rate.count:
                return self._deny_order(o, "order_rate", RiskCode.ORDER_RATE,
                                        f"{_n(count)} orders sent in the last {_n(rate.window_ns)} ns; one more "
                                        f"exceeds max_order_submit_rate {self._limits.max_order_submit_rate}")
        return None

    def _check_duplicate(self, o: Evaluation) -> Denial | None:
        """The same strategy/symbol/side/qty/price/type sent less than duplicate_window_ns ago is a duplicate."""
        window = self._limits.duplicate_window_ns
        if window is None:
            return None
        last = self._recent.get(duplicate_key(o.intent))
        if last is not None and o.now - last < window:
            return self._deny_order(o, "duplicate", RiskCode.DUPLICATE_ORDER,
                                    f"the same {self._order_words(o)} was sent {_n(o.now - last)} ns ago, within "
                                    f"duplicate_window_ns {_n(window)}")
        return None

    # -- WORDS -----------------------------------------------------------------------------------

    def _order_words(self, o: Evaluation) -> str:
        """``"sell 610,000 JCOM @ 1 (1 ticks)"`` for sentences."""
        i = o.intent
        where = "market" if i.price is None else f"@ {_px(o.instrument, i.price)}"
        return f"{SIDE_NAMES.get(i.side, i.side)} {_n(i.qty)} {i.symbol} {where}"

    @staticmethod
    def _scope_words(scope: str | None) -> str:
        return "engine" if scope is None else f"strategy {scope}"


def duplicate_key(intent: OrderIntent) -> tuple:
    """What makes two intents duplicates of each other."""
    return (intent.strategy, intent.symbol, intent.side, intent.qty, intent.price, intent.ord_type)
