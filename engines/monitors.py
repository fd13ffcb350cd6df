"""Symptom detectors: small named rules fed by the event stream, raising and resolving alerts.

Each rule states its symptom in words a trader and an engineer both understand, its severity
(page, ticket, info) and its lens (technical or trading health), and attaches the technical facts
behind it as *causes*; the router (engines.alerts) groups, inhibits and dedups, so one fault gives
one page.  Rules fire on what users feel ("MM1 cannot trade PRB", "fills too good on PRB"), and
cause-level rules (a stale feed, a session down) are tickets or info that symptom pages carry as
metadata, not pages of their own.

Inputs, all pushed by the runner (no polling of other objects, no wall clock):

* ``on_order_update(engine, update)`` - every OrderUpdate of every order engine;
* ``on_market_data(symbol, time_ns, bid, ask)`` - the feed as the firm sees it (ticks, None = empty);
* ``on_session(name, up, time_ns)`` - order-entry session up/down;
* ``tick(now_ns)`` - time-based rules (staleness, unacked ages, windows) run here.

Thresholds live in :class:`MonitorConfig`; every rule can be switched off with ``None``.

Self-trade: a firm's own reports carry no contra firm, so a trade with itself is recognised by its
two sides, a buy and a sell fill of the same firm, symbol, price and quantity that arrive together
(the venue reports both sides of one match at once; ``self_trade_pair_ns`` allows for a real
transport).  When the venue's self-trade prevention stops the match instead, the order engine
reports the cancel or restatement with the code ``self_trade_prevention`` (the venue says so in
Text(58)); that is the same symptom, prevented.  Overridden risk warnings (engines.risk: a soft
check an order explicitly overrode) are counted per firm and strategy in a sliding window.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice

from engines.alerts import SEVERITIES, Alert
from engines.order_engine import STP_CODE, Fill, OrderEngine, OrderUpdate
from engines.risk import TradingState
from sim.clock import format_utc

S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Thresholds of every rule (None switches a rule off)."""

    fill_too_good_ticks: int | None = 4           # a fill this far from fair value, in ticks ...
    fill_too_good_bps: int = 15                   # ... or in basis points of fair value, whichever is larger
    stale_feed_ns: int | None = 5 * S             # no market data update for this long
    unacked_ns: int | None = 2 * S                # an order unacknowledged this long
    reject_storm: tuple[int, int] | None = (20, 10 * S)       # N rejects/denials within a window
    order_rate: tuple[int, int] | None = (500, 1 * S)        # N orders sent within a window
    repeated_executions: tuple[int, int] | None = (200, 10 * S)  # N fills within a window
    position_warn_pct: int | None = 80            # |position| over this % of max_position
    loss_page: int | None = None                  # realised+unrealised P&L below -this (currency units)
    crossed_grace_ns: int = 0                     # a crossed/locked feed must persist this long
    quiet_resolve_ns: int = 60 * S                # event-driven alerts resolve after this long without a repeat
    session_down_grace_ns: int = 1 * S            # an order-entry session down this long raises SessionDown
    self_trade: str | None = "ticket"             # severity of SelfTrade (the firm on both sides, or STP acting)
    self_trade_pair_ns: int = 1_000_000           # a firm's buy and sell fill this close, same price and qty, = one trade
    warnings_overridden: tuple[int, int] | None = (5, 60 * S)  # N overridden risk warnings within a window: ticket
    warnings_overridden_page: int | None = None   # this many within the same window also pages (None: never)

    def __post_init__(self) -> None:
        if self.self_trade is not None and self.self_trade not in SEVERITIES:
            raise ValueError(f"self_trade must be one of {SEVERITIES} or None, got {self.self_trade!r}")


_EVENT_DRIVEN = frozenset({"FillTooGood", "RepeatedExecutions", "StrategyCannotTrade", "OrderRateSpike", "SelfTrade",
                           "WarningsOverridden"})


@dataclass(slots=True)
class _Firing:
    alert: Alert
    last_seen_ns: int


@dataclass(slots=True)
class _Window:
    span_ns: int
    times: deque = field(default_factory=deque)

    def add(self, t: int) -> int:
        self.times.append(t)
        return self.count(t)

    def count(self, now: int) -> int:
        times = self.times
        while times and now - times[0] >= self.span_ns:
            times.popleft()
        return len(times)


@dataclass(slots=True)
class _OrderScopes:
    """The strategies and symbols an engine's orders have named so far, first seen first."""

    seen: int = 0                                               # entries of engine.orders read so far
    symbols: dict[str, None] = field(default_factory=dict)
    by_strategy: dict[str, dict[str, None]] = field(default_factory=dict)
    strategies: list[str] = field(default_factory=list)         # sorted

    def catch_up(self, orders: dict) -> None:
        """Read the handles added to ``orders`` since the last call (newest are at the end)."""
        new = len(orders) - self.seen
        if not new:
            return
        # reversed() starts at the end of the dict, so this costs O(new), not O(all orders ever)
        fresh = list(islice(reversed(orders.values()), new))
        added = False
        for handle in reversed(fresh):
            self.symbols[handle.symbol] = None
            symbols = self.by_strategy.get(handle.strategy)
            if symbols is None:
                symbols = self.by_strategy[handle.strategy] = {}
                added = True
            symbols[handle.symbol] = None
        if added:
            self.strategies = sorted(self.by_strategy)
        self.seen = len(orders)


class Monitors:
    """All symptom rules for one simulated firm-side world; emits alerts through ``emit``."""

    def __init__(self, config: MonitorConfig, *, emit: Callable[[Alert], object], venue: str = "venue") -> None:
        self.config = config
        self._emit = emit
        self.venue = venue
        self.engines: dict[str, OrderEngine] = {}
        self.firing: dict[tuple, _Firing] = {}
        self.fired: list[Alert] = []
        self._feed: dict[str, tuple[int, int | None, int | None]] = {}   # symbol -> (time, bid, ask)
        self._feed_seen: dict[str, int] = {}                             # symbol -> first seen
        self._crossed_since: dict[str, int] = {}
        self._windows: dict[tuple, _Window] = {}
        self._sessions: dict[str, tuple[bool, int]] = {}
        self._unpaired: dict[tuple[str, str], deque[Fill]] = {}              # (firm, symbol) -> recent fills
        self._overrides: dict[tuple[str, str], deque[tuple[int, str, str]]] = {}  # (firm, strategy) -> (t, symbol, code)
        # Per engine, the strategies and symbols of its orders, kept up to date as orders are added:
        # rebuilding both sets from every order ever sent, every tick, grew with the session (2.5 ms
        # a tick at the 20,000 orders the trading-day bench's market maker reaches in 30 minutes).
        self._scopes: dict[str, _OrderScopes] = {}

    def watch(self, engine: OrderEngine) -> None:
        """Monitor an order engine's orders (subscribes to its updates)."""
        self.engines[engine.name] = engine
        engine.subscribe(lambda update, name=engine.name: self.on_order_update(name, update))

    # -- INPUTS ----------------------------------------------------------------------------------

    def on_order_update(self, engine: str, update: OrderUpdate) -> None:
        """Order events: fills (fill too good, repeated executions), rejects, sends."""
        cfg = self.config
        handle = update.handle
        labels = {"firm": engine, "strategy": handle.strategy, "symbol": handle.symbol}
        now = update.time_ns
        if update.kind == "fill" and update.fill is not None:
            self._check_fill(engine, update, labels)
            self._check_self_trade(engine, update.fill)
            if cfg.repeated_executions is not None:
                limit, span = cfg.repeated_executions
                if self._window(("fills", engine, handle.strategy), span).add(now) >= limit:
                    self.fire("RepeatedExecutions", "page", "trading", labels, now,
                              f"{handle.strategy} executed {limit}+ times in {span // S}s on {handle.symbol}",
                              reason="repeated_executions",
                              causes=[f"{limit} fills within {span // S}s; last fill {update.fill.qty} @ "
                                      f"{self._px(engine, handle.symbol, update.fill.price)}"])
        elif update.kind in ("denied", "rejected", "cancel_rejected", "replace_denied"):
            if cfg.reject_storm is not None:
                limit, span = cfg.reject_storm
                count = self._window(("rejects", engine, handle.strategy), span).add(now)
                if count >= limit:
                    self.fire("StrategyCannotTrade", "page", "trading", labels, now,
                              f"strategy {handle.strategy} cannot trade {handle.symbol}: {count} orders refused "
                              f"in {span // S}s", reason="reject_storm",
                              causes=[f"last refusal: {update.code} {update.text}"])
        elif update.kind in ("canceled", "restated") and update.code == STP_CODE and cfg.self_trade is not None:
            verb = "cancelled" if update.kind == "canceled" else "reduced"
            self.fire("SelfTrade", cfg.self_trade, "trading", labels, now,
                      f"{engine}/{handle.strategy} would have traded with itself on {handle.symbol}: the venue's "
                      f"self-trade prevention {verb} its order (wash trade risk)", reason="self_trade_prevented",
                      causes=[f"order {handle.cl_ord_id} {handle.side_text()} {handle.qty:,} @ "
                              f"{'market' if handle.price is None else self._px(engine, handle.symbol, handle.price)}: "
                              f"{update.text}"])
        elif update.kind == "warning_overridden" and cfg.warnings_overridden is not None:
            self._check_overrides(engine, update)
        elif update.kind == "sent" and cfg.order_rate is not None:
            limit, span = cfg.order_rate
            count = self._window(("sent", engine), span).add(now)
            if count >= limit:
                self.fire("OrderRateSpike", "page", "trading", {"firm": engine}, now,
                          f"{engine} is sending orders at {count} per {span // S}s", reason="order_rate",
                          causes=[f"latest order from {handle.strategy} on {handle.symbol}"])

    def on_market_data(self, symbol: str, time_ns: int, bid: int | None, ask: int | None) -> None:
        """A market-data update as the firm sees it."""
        self._feed[symbol] = (time_ns, bid, ask)
        self._feed_seen.setdefault(symbol, time_ns)
        key = ("StaleMarketData", symbol)
        if key in self.firing:
            self.resolve(key, time_ns)
        if bid is not None and ask is not None and bid >= ask:
            self._crossed_since.setdefault(symbol, time_ns)
        else:
            self._crossed_since.pop(symbol, None)
            if ("CrossedMarket", symbol) in self.firing:
                self.resolve(("CrossedMarket", symbol), time_ns)

    def on_venue_status(self, symbol: str, phase: str, text: str, time_ns: int) -> None:
        """The venue changed a symbol's phase: a halt or pause is a symptom every trader feels."""
        key = ("VenueHalt", symbol)
        if phase in ("halted", "paused"):
            self.fire("VenueHalt", "page", "trading", {"symbol": symbol}, time_ns,
                      f"{symbol} is {phase} at {self.venue}: nobody can trade it", reason=f"venue_{phase}",
                      causes=[text], key=key)
        elif phase == "continuous" and key in self.firing:
            self.resolve(key, time_ns)

    def on_session(self, name: str, up: bool, time_ns: int) -> None:
        """An order-entry session went up or down."""
        self._sessions[name] = (up, time_ns)
        key = ("SessionDown", name)
        if up and key in self.firing:
            self.resolve(key, time_ns)
        elif not up:
            self.fire("SessionDown", "ticket", "technical", {"firm": name}, time_ns,
                      f"order entry session of {name} is down", reason="session_down",
                      causes=[f"session down since {format_utc(time_ns)}"], key=key)

    def tick(self, now_ns: int) -> None:
        """Run the time-based rules."""
        cfg = self.config
        for key, current in list(self.firing.items()):
            if current.alert.name in _EVENT_DRIVEN and now_ns - current.last_seen_ns >= cfg.quiet_resolve_ns:
                self.resolve(key, now_ns)
        if cfg.stale_feed_ns is not None:
            for symbol, (last, _bid, _ask) in self._feed.items():
                age = now_ns - last
                if age >= cfg.stale_feed_ns:
                    self.fire("StaleMarketData", "ticket", "technical", {"symbol": symbol}, now_ns,
                              f"market data for {symbol} is stale: no update for {age // S}s",
                              reason="stale_feed", causes=[f"feed {symbol} stale since {format_utc(last)}"],
                              key=("StaleMarketData", symbol))
        for symbol, since in self._crossed_since.items():
            if now_ns - since >= cfg.crossed_grace_ns:
                _t, bid, ask = self._feed[symbol]
                self.fire("CrossedMarket", "ticket", "technical", {"symbol": symbol}, now_ns,
                          f"market data for {symbol} is crossed: bid {bid} >= ask {ask} (ticks)",
                          reason="crossed_feed", causes=[f"crossed since {format_utc(since)}"],
                          key=("CrossedMarket", symbol))
        for name, engine in self.engines.items():
            session = getattr(engine, "session", None)
            if session is not None:
                # The transport is the engine's own session: watch it directly (a dropped order-entry
                # session is a technical fact, a ticket; its trading symptoms page on their own).
                down_since = self._sessions.get(name)
                if not session.logged_on:
                    if down_since is None or down_since[0]:
                        self._sessions[name] = (False, now_ns)
                    elif now_ns - down_since[1] >= cfg.session_down_grace_ns:
                        self.on_session(name, False, down_since[1])
                elif down_since is not None and not down_since[0]:
                    self.on_session(name, True, now_ns)
            if cfg.unacked_ns is not None:
                late = engine.unacked(cfg.unacked_ns)
                key = ("UnackedOrders", name)
                if late:
                    oldest = min(h.sent_ns for h in late if h.sent_ns is not None)
                    self.fire("UnackedOrders", "page", "trading", {"firm": name}, now_ns,
                              f"{len(late)} orders of {name} unacknowledged by the venue for over "
                              f"{cfg.unacked_ns // S}s", reason="unacked_orders",
                              causes=[f"oldest sent at {format_utc(oldest)}"], key=key)
                elif key in self.firing:
                    self.resolve(key, now_ns)
            self._check_states(name, engine, now_ns)
            self._check_exposure(name, engine, now_ns)

    # -- RULE HELPERS ----------------------------------------------------------------------------

    def _check_fill(self, engine: str, update: OrderUpdate, labels: dict[str, str]) -> None:
        """A fill far from fair value on either side means a broken world model somewhere.

        Through fair value (we bought far above it, sold far below) the fill was too good for the
        counterparty: our view of the market is wrong (stale feed, bad reference, fat finger) and
        someone is picking us off.  Far on our side of it, the fill is too good to be true for us:
        the counterparty's model is broken, or ours is and the "fair value" is wrong.
        """
        cfg = self.config
        fill = update.fill
        if cfg.fill_too_good_ticks is None or fill is None:
            return
        reference = self.engines[engine].reference_price(fill.symbol) if engine in self.engines else None
        if reference is None:
            return
        fair = reference[0]
        edge = (fair - fill.price) if fill.side == 1 else (fill.price - fair)
        threshold = max(cfg.fill_too_good_ticks, fair * cfg.fill_too_good_bps // 10_000)
        if abs(edge) < threshold:
            return
        verb = "bought" if fill.side == 1 else "sold"
        how = "through fair value: too good for the counterparty" if edge < 0 else "too good to be true"
        self.fire("FillTooGood", "page", "trading", labels, update.time_ns,
                  f"fills too good on {fill.symbol}: {edge:+,} ticks vs model for {fill.strategy}",
                  reason="fill_too_good",
                  causes=[f"{verb} {fill.qty:,} @ {self._px(engine, fill.symbol, fill.price)} vs fair "
                          f"{self._px(engine, fill.symbol, fair)} ({how}); the world model may be broken "
                          f"(stale feed, wrong reference, mispriced order)"] + self._feed_facts(fill.symbol))

    def _check_self_trade(self, engine: str, fill: Fill) -> None:
        """A buy and a sell fill of one firm, same symbol, price and quantity, together: both sides of one trade."""
        cfg = self.config
        if cfg.self_trade is None:
            return
        recent = self._unpaired.setdefault((engine, fill.symbol), deque())
        while recent and fill.time_ns - recent[0].time_ns > cfg.self_trade_pair_ns:
            recent.popleft()
        other = next((f for f in recent if f.side != fill.side and f.price == fill.price and f.qty == fill.qty), None)
        if other is None:
            recent.append(fill)
            return
        recent.remove(other)
        # The venue reports the aggressor's side first: ``other`` is the order that crossed its own.
        who = f"{engine}/{other.strategy}"
        symptom = (f"{who} traded with itself on {fill.symbol} (wash trade risk)" if other.strategy == fill.strategy
                   else f"{who} traded with {engine}/{fill.strategy} on {fill.symbol} (wash trade risk)")
        buy, sell = (other, fill) if other.side == 1 else (fill, other)
        self.fire("SelfTrade", cfg.self_trade, "trading",
                  {"firm": engine, "strategy": other.strategy, "symbol": fill.symbol}, fill.time_ns, symptom,
                  reason="self_trade",
                  causes=[f"{engine} bought and sold {fill.qty:,} {fill.symbol} @ "
                          f"{self._px(engine, fill.symbol, fill.price)} in one match (buy {buy.cl_ord_id} "
                          f"{buy.exec_id}, sell {sell.cl_ord_id} {sell.exec_id}); no self-trade prevention stopped it"])

    def _check_overrides(self, engine: str, update: OrderUpdate) -> None:
        """Overridden risk warnings per firm and strategy in a sliding window: a ticket at N, a page if configured."""
        cfg = self.config
        assert cfg.warnings_overridden is not None
        limit, span = cfg.warnings_overridden
        handle, now = update.handle, update.time_ns
        recent = self._overrides.setdefault((engine, handle.strategy), deque())
        recent.append((now, handle.symbol, update.code))
        while recent and now - recent[0][0] >= span:
            recent.popleft()
        count = len(recent)
        if count < limit:
            return
        symbols = sorted({symbol for _t, symbol, _code in recent})
        labels = {"firm": engine, "strategy": handle.strategy}
        if len(symbols) == 1:
            labels["symbol"] = symbols[0]  # one instrument: group with that instrument's other symptoms
        codes = Counter(code for _t, _symbol, code in recent)
        symptom = f"{handle.strategy} overrode {count} risk warnings in {span // S}s on {', '.join(symbols)}"
        causes = [f"overridden: {', '.join(f'{code} x{n}' for code, n in sorted(codes.items()))}",
                  f"last: {update.text}"]
        severities = ["ticket"]
        if cfg.warnings_overridden_page is not None and count >= cfg.warnings_overridden_page:
            severities.append("page")
        for severity in severities:
            self.fire("WarningsOverridden", severity, "trading", labels, now, symptom, reason="warnings_overridden",
                      causes=causes, key=("WarningsOverridden", engine, handle.strategy, severity))

    def _order_scopes(self, name: str, engine: OrderEngine) -> _OrderScopes:
        """The strategies and symbols of ``engine``'s orders (engines only ever add orders to ``orders``)."""
        scopes = self._scopes.get(name)
        if scopes is None or len(engine.orders) < scopes.seen:
            scopes = self._scopes[name] = _OrderScopes()
        scopes.catch_up(engine.orders)
        return scopes

    def _check_states(self, name: str, engine: OrderEngine, now: int) -> None:
        scopes = self._order_scopes(name, engine)
        for scope in [None, *scopes.strategies]:
            state = engine.risk.state(scope)
            key = ("Halted", name, scope or "")
            if state == TradingState.HALTED:
                why = engine.risk.why(scope)
                text = why.text if why is not None else "halted"
                labels = {"firm": name} if scope is None else {"firm": name, "strategy": scope}
                symbols = scopes.symbols if scope is None else scopes.by_strategy[scope]
                if len(symbols) == 1:
                    # one symbol: group with that symbol's other symptoms (one fault, one page)
                    labels["symbol"] = next(iter(symbols))
                who = f"{'engine ' + name if scope is None else 'strategy ' + scope}"
                self.fire("TradingHalted", "page", "trading", labels, now, f"{who} is halted and cannot trade",
                          reason=why.reason_code if why is not None else "halted", causes=[text], key=key)
            elif key in self.firing:
                self.resolve(key, now)

    def _check_exposure(self, name: str, engine: OrderEngine, now: int) -> None:
        cfg = self.config
        limits = engine.risk.limits
        if cfg.position_warn_pct is not None and limits.max_position:
            for symbol in self._order_scopes(name, engine).symbols:
                position = engine.position(symbol)
                key = ("PositionNearLimit", name, symbol)
                if abs(position) * 100 >= cfg.position_warn_pct * limits.max_position:
                    self.fire("PositionNearLimit", "ticket", "trading", {"firm": name, "symbol": symbol}, now,
                              f"{name} position in {symbol} is {position}, near the limit {limits.max_position}",
                              reason="position_near_limit", key=key)
                elif key in self.firing:
                    self.resolve(key, now)
        if cfg.loss_page is not None:
            pnl = engine.realized_pnl() + engine.unrealized_pnl()
            key = ("LossLimit", name)
            if pnl <= -cfg.loss_page:
                self.fire("TradingLoss", "page", "trading", {"firm": name}, now,
                          f"{name} is losing money: P&L {pnl}", reason="pnl_drawdown", key=key)

    def _feed_facts(self, symbol: str) -> list[str]:
        last = self._feed.get(symbol)
        if last is None:
            return [f"no market data seen for {symbol}"]
        return [f"last market data for {symbol} at {format_utc(last[0])}"]

    def _px(self, engine: str, symbol: str, ticks: int) -> str:
        owner = self.engines.get(engine)
        return owner.instruments.get(symbol).to_price(ticks) if owner is not None else str(ticks)

    def _window(self, key: tuple, span: int) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(span)
        return window

    # -- FIRE / RESOLVE --------------------------------------------------------------------------

    def fire(self, alertname: str, severity: str, lens: str, labels: dict[str, str], now: int, symptom: str, *,
             reason: str, causes: list[str] | None = None, key: tuple | None = None) -> None:
        """Raise (or keep raising) an alert; a rule already firing for the same key is not repeated."""
        key = key or (alertname, *sorted(labels.items()))
        current = self.firing.get(key)
        if current is not None:
            current.last_seen_ns = now
            return
        alert = Alert.create(alertname, severity, symptom, starts_at_ns=now, lens=lens,
                             labels={**labels, "venue": self.venue}, causes=causes or (), reason=reason)
        self.firing[key] = _Firing(alert, now)
        self.fired.append(alert)
        self._emit(alert)

    def resolve(self, key: tuple, now: int) -> None:
        """End a firing alert."""
        current = self.firing.pop(key, None)
        if current is not None:
            self._emit(current.alert.resolve(now))
