"""Prometheus metrics of a run: orders, rejects, fills, positions, P&L, trading states and alerts.

:class:`TradingMetrics` watches order engines (:meth:`TradingMetrics.watch` subscribes to each
engine's :class:`~engines.order_engine.OrderUpdate` stream) and owns one
:class:`prometheus_client.CollectorRegistry`, never the library's global default one, so several
runs in one process (a sweep, a test session) keep separate counts.  ``prometheus-client`` does
what a hand-written renderer would get subtly wrong: the text exposition format, label escaping,
counter and gauge semantics, and an HTTP handler when one is wanted.

Counters (from the update stream)::

    marketdrill_orders_total{firm,strategy,symbol,side}             orders sent to the venue
    marketdrill_order_rejects_total{firm,strategy,symbol,layer,code}
        layer "engine" (or "strategy"): the engine's pre-trade risk denied a new order or a
        replace (code = the risk code, e.g. max_order_qty, trading_halted); layer "venue": the
        venue rejected the order (code venue_<OrdRejReason>, or reconcile_unknown_order)
    marketdrill_fills_total{firm,strategy,symbol,side}
    marketdrill_filled_quantity_total{firm,strategy,symbol,side}

Gauges (read from the engines when :meth:`TradingMetrics.render` or :meth:`refresh` runs)::

    marketdrill_position{firm,strategy,symbol}                      signed filled quantity
    marketdrill_open_orders{firm,strategy}
    marketdrill_unacked_orders{firm}                                sent, not yet acknowledged
    marketdrill_pnl{firm,kind="realized|unrealized"}                currency, summed over symbols
    marketdrill_trading_state{firm,strategy,state}                  1 for the current state, else 0
        (strategy "engine" is the engine-wide state, as in engines.risk)

plus the alert metrics of :class:`engines.alert_sinks.PrometheusMetricsSink` (``alerts``; add it
to the run's router), so one scrape shows everything.

Label cardinality is bounded by the run: firms x strategies x symbols (x 2 sides) for the order
series, reject codes are the fixed risk and venue code sets, states are three.  No order IDs,
prices or free text become labels.  Strategies and (strategy, symbol) pairs are learnt from the
updates, so a strategy appears with its first order.

Threads: updates arrive on the simulation thread and only touch prometheus_client counters, which
are thread-safe.  Gauges read engine state, which only the simulation thread may read, so they are
taken in :meth:`refresh` (which :meth:`render` calls) on that thread and served from that
snapshot: a scrape of :attr:`registry` from another thread sees the values as of the last refresh.
Drills render on the simulation thread and hand the text to their HTTP server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from engines.alert_sinks import PrometheusMetricsSink
from engines.order_engine import OrderUpdate
from engines.risk import TradingState
from sim.prometheus import without_created

__all__ = ["TradingMetrics"]

_STATES = tuple(state.value for state in TradingState)


@dataclass
class _Watched:
    """One watched engine and the label values learnt from its updates."""

    engine: Any  # OrderEngine or a plug-in engine (engines.protocol): only the protocol is read
    firm: str
    strategies: set[str] = field(default_factory=set)
    books: set[tuple[str, str]] = field(default_factory=set)  # (strategy, symbol) with a fill


class TradingMetrics:
    """Order, fill, position, P&L, trading-state and alert metrics of one run, in its own registry."""

    def __init__(self, prefix: str = "marketdrill") -> None:
        self.prefix = prefix
        self.registry = CollectorRegistry()
        p = prefix
        # registry=None: served through _Collector, which drops the wall-clock *_created samples.
        self._orders = Counter(f"{p}_orders_total", "Orders sent to the venue.",
                               ["firm", "strategy", "symbol", "side"], registry=None)
        self._rejects = Counter(f"{p}_order_rejects_total", "Orders (and replaces) refused: denied by the engine's "
                                "pre-trade risk or rejected by the venue.",
                                ["firm", "strategy", "symbol", "layer", "code"], registry=None)
        self._fills = Counter(f"{p}_fills_total", "Fills of our orders.", ["firm", "strategy", "symbol", "side"],
                              registry=None)
        self._filled = Counter(f"{p}_filled_quantity_total", "Quantity filled.",
                               ["firm", "strategy", "symbol", "side"], registry=None)
        self._watched: list[_Watched] = []
        self._gauges: list[Metric] = self._take_gauges()
        self.alerts = PrometheusMetricsSink(prefix)
        self.registry.register(_Collector(self))
        self.registry.register(self.alerts)

    def watch(self, engine: Any, firm: str | None = None) -> None:
        """Export ``engine``'s orders, fills and state under ``firm`` (default: its name), from its first order."""
        watched = _Watched(engine, firm if firm is not None else engine.name)
        self._watched.append(watched)
        # Catch up on what the engine did before it was watched (a drill watches after the run's
        # start, when strategies may already have sent): each handle keeps its updates.
        seen: set[int] = set()
        for handle in list(engine.orders.values()):
            if id(handle) not in seen:  # a replaced order is listed under each of its ClOrdIDs
                seen.add(id(handle))
                for update in handle.updates:
                    self._on_update(watched, update)
        engine.subscribe(lambda update: self._on_update(watched, update))

    def refresh(self) -> None:
        """Read the gauges from the engines now (on the simulation thread)."""
        self._gauges = self._take_gauges()

    def render(self) -> bytes:
        """Refresh the gauges and return the whole registry in the Prometheus text format."""
        self.refresh()
        return generate_latest(self.registry)

    # -- INTERNALS -------------------------------------------------------------------------------

    def _on_update(self, watched: _Watched, update: OrderUpdate) -> None:
        handle = update.handle
        firm, strategy, symbol = watched.firm, handle.strategy, handle.symbol
        watched.strategies.add(strategy)
        kind = update.kind
        if kind == "sent":
            self._orders.labels(firm, strategy, symbol, handle.side_text()).inc()
        elif kind in ("denied", "replace_denied"):
            # The same split as the run's timeline (scenarios.runner): strategy-layer codes say so.
            layer = "strategy" if update.code.startswith("strategy") else "engine"
            self._rejects.labels(firm, strategy, symbol, layer, update.code or "unknown").inc()
        elif kind == "rejected":
            self._rejects.labels(firm, strategy, symbol, "venue", update.code or "unknown").inc()
        elif kind == "fill" and update.fill is not None:
            side = handle.side_text()
            self._fills.labels(firm, strategy, symbol, side).inc()
            self._filled.labels(firm, strategy, symbol, side).inc(update.fill.qty)
            watched.books.add((strategy, symbol))

    def _take_gauges(self) -> list[Metric]:
        p = self.prefix
        position = GaugeMetricFamily(f"{p}_position", "Signed filled quantity per strategy and symbol.",
                                     labels=["firm", "strategy", "symbol"])
        open_orders = GaugeMetricFamily(f"{p}_open_orders", "Orders working at the venue.", labels=["firm", "strategy"])
        unacked = GaugeMetricFamily(f"{p}_unacked_orders", "Orders sent and not yet acknowledged by the venue.",
                                    labels=["firm"])
        pnl = GaugeMetricFamily(f"{p}_pnl", "P&L in the instruments' currency (realized, or unrealized against the "
                                "engine's reference prices), summed over symbols.", labels=["firm", "kind"])
        state = GaugeMetricFamily(f"{p}_trading_state", "1 for the current trading state of the engine (strategy "
                                  "\"engine\") and of each strategy, 0 for the others.",
                                  labels=["firm", "strategy", "state"])
        for watched in self._watched:
            engine, firm = watched.engine, watched.firm
            for strategy, symbol in sorted(watched.books):
                position.add_metric([firm, strategy, symbol], engine.position(symbol, strategy))
            for strategy in sorted(watched.strategies):
                open_orders.add_metric([firm, strategy], engine.open_order_count(strategy))
            unacked.add_metric([firm], len(engine.unacked()))
            pnl.add_metric([firm, "realized"], float(engine.realized_pnl()))
            pnl.add_metric([firm, "unrealized"], float(engine.unrealized_pnl()))
            for scope in ("engine", *sorted(watched.strategies)):
                current = engine.risk.state(None if scope == "engine" else scope)
                for name in _STATES:
                    state.add_metric([firm, scope, name], 1 if current == name else 0)
        return [position, open_orders, unacked, pnl, state]


class _Collector:
    """The registry's view of a TradingMetrics: its counters, then the last gauge snapshot."""

    def __init__(self, metrics: TradingMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Yield the counters and the gauges taken at the last refresh."""
        m = self._metrics
        for counter in (m._orders, m._rejects, m._fills, m._filled):
            yield from without_created(counter.collect())
        yield from m._gauges  # replaced whole by refresh(), so a scraping thread sees one snapshot

    def describe(self) -> Iterator[Metric]:
        """Yield the families without samples, so the registry refuses a clashing name."""
        m = self._metrics
        for counter in (m._orders, m._rejects, m._fills, m._filled):
            yield from counter.describe()
        yield from m._gauges  # only the names count here
