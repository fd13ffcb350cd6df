"""The real-time venue's Prometheus endpoint (``[venue] metrics_port``): what the exchange sees.

``marketdrill exchange`` has no order engines of ours, only FIX sessions, so these are venue-side
counts, taken from the events the gateway dispatches (every path goes through ``dispatch``: order
entry, cancel-on-disconnect, mass cancels, admin actions, phase timers, the background market)::

    marketdrill_venue_orders_received_total{firm}        new orders (each is acknowledged or rejected once)
    marketdrill_venue_order_rejects_total{firm,request,code}
        request "new" or "replace" (an ExecutionReport rejecting it) or "cancel"/"replace" (an
        OrderCancelReject); code is the venue's reason code (e.g. max_order_qty, unknown_symbol)
    marketdrill_venue_trades_total{symbol}               trades printed (continuous and auctions)
    marketdrill_venue_traded_quantity_total{symbol}
    marketdrill_venue_open_orders{firm}                  orders resting or held in a call
    marketdrill_venue_sessions_logged_on{firm}           FIX sessions logged on (drop copies included)
    marketdrill_venue_messages_received_total            application messages from all sessions

``firm`` is a configured ``[[firm]]`` id or a background-market firm (``AGENTS-LP`` ...), and
reject codes are the venue's fixed set, so the label sets are bounded by the config.

``prometheus-client`` renders the format and serves it (:func:`prometheus_client.start_http_server`,
a WSGI server in a daemon thread) from a registry of this venue's own, bound to 127.0.0.1 only and
without authentication: it is read-only and says nothing the venue's sessions do not already
see.  Counters and gauges are updated on the venue's event loop and are thread-safe; the scrape
thread reads only those and plain integers and flags (never the venue's dictionaries).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from sim.prometheus import without_created
from sim.venue_config import VenueConfigError
from sim.venue_events import BookChange, CancelReject, ExecReport, ExecType

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from sim.venue import Venue

HOST = "127.0.0.1"

__all__ = ["VenueMetrics"]


class VenueMetrics:
    """Count what a venue's gateway dispatches and serve it as Prometheus metrics on 127.0.0.1."""

    def __init__(self, venue: Venue, prefix: str = "marketdrill_venue") -> None:
        self.venue = venue
        self.prefix = prefix
        self.registry = CollectorRegistry()
        p = prefix
        # registry=None: served through _Collector, which drops the wall-clock *_created samples.
        self._received = Counter(f"{p}_orders_received_total", "New orders received (acknowledged or rejected).",
                                 ["firm"], registry=None)
        self._rejects = Counter(f"{p}_order_rejects_total", "Orders, cancels and replaces the venue refused, by "
                                "reason code.", ["firm", "request", "code"], registry=None)
        self._trades = Counter(f"{p}_trades_total", "Trades printed.", ["symbol"], registry=None)
        self._traded = Counter(f"{p}_traded_quantity_total", "Quantity traded.", ["symbol"], registry=None)
        self._open = Gauge(f"{p}_open_orders", "Orders open at the venue.", ["firm"], registry=None)
        gateway = venue.gateway
        # Each FIX session's firm, drop copies included (the gateway maps only order-entry sessions).
        firm_of_copy = {sid: firm for firm, sids in gateway.drop_copy_of.items() for sid in sids}
        self._session_firms = [(session, gateway.firm_of.get(str(session.session_id))
                                or firm_of_copy.get(str(session.session_id), "unknown")) for session in venue.sessions]
        for firm in {f.id for f in venue.config.firms} | set(venue.exchange.open_orders):
            self._set_open(firm)  # every firm from the start, and the orders a restarted venue rebuilt
        self.registry.register(_Collector(self))
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        original = gateway.dispatch

        def dispatch(events: list) -> None:
            original(events)
            self._observe(events)

        gateway.dispatch = dispatch  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        """Where the endpoint serves (after :meth:`serve`)."""
        return f"http://{HOST}:{self.port}/metrics"

    @property
    def banner(self) -> list[str]:
        """The line ``marketdrill exchange`` prints about the endpoint."""
        return [f"  metrics endpoint {self.url}"] if self.port is not None else []

    def serve(self, port: int) -> int:
        """Start serving on 127.0.0.1:``port`` (0 picks a free one) in a daemon thread; returns the port."""
        try:
            self._server, self._thread = start_http_server(port, addr=HOST, registry=self.registry)
        except OSError as exc:
            raise VenueConfigError(f"{self.venue.config.source}: [venue] metrics_port: cannot listen on "
                                   f"{HOST}:{port}: {exc.strerror or exc}") from None
        self.port = self._server.server_port
        return self.port

    def stop(self) -> None:
        """Stop serving and close the socket (blocks up to the server's 0.5 s poll; safe to call twice)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _observe(self, events: list) -> None:
        """Count one dispatched batch (on the venue's event loop)."""
        firms: set[str] = set()
        for event in events:
            cls = type(event)
            if cls is ExecReport:
                exec_type = event.exec_type
                if exec_type == ExecType.NEW:
                    self._received.labels(event.firm).inc()
                elif exec_type == ExecType.REJECTED:
                    # A rejected new order has no OrigClOrdID; a replace the book refused keeps its chain.
                    request = "replace" if event.orig_cl_ord_id else "new"
                    if request == "new":
                        self._received.labels(event.firm).inc()
                    code = event.reject.code if event.reject is not None else "unknown"
                    self._rejects.labels(event.firm, request, code).inc()
                firms.add(event.firm)
            elif cls is CancelReject:
                request = "cancel" if event.response_to == 1 else "replace"
                self._rejects.labels(event.firm, request, event.reason.code).inc()
            elif cls is BookChange:
                for _price, qty in event.trades:
                    self._trades.labels(event.symbol).inc()
                    self._traded.labels(event.symbol).inc(qty)
        for firm in firms:
            self._set_open(firm)

    def _set_open(self, firm: str) -> None:
        self._open.labels(firm).set(len(self.venue.exchange.open_orders.get(firm, ())))


class _Collector:
    """The registry's view of a VenueMetrics: counters, open orders, sessions and messages."""

    def __init__(self, metrics: VenueMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Yield the families (on the scrape thread: reads counters, plain ints and flags only)."""
        m = self._metrics
        for counter in (m._received, m._rejects, m._trades, m._traded):
            yield from without_created(counter.collect())
        yield from m._open.collect()
        sessions = GaugeMetricFamily(f"{m.prefix}_sessions_logged_on", "FIX sessions logged on.", labels=["firm"])
        per_firm: dict[str, int] = {}
        for session, firm in m._session_firms:  # a fixed list: the venue's sessions exist from the start
            per_firm[firm] = per_firm.get(firm, 0) + (1 if session.logged_on else 0)
        for firm in sorted(per_firm):
            sessions.add_metric([firm], per_firm[firm])
        yield sessions
        yield CounterMetricFamily(f"{m.prefix}_messages_received_total", "Application messages received from "
                                  "all sessions.", value=m.venue.gateway.messages_in)

    def describe(self) -> Iterator[Metric]:
        """Yield the families without samples, so the registry refuses a clashing name."""
        m = self._metrics
        for metric in (m._received, m._rejects, m._trades, m._traded, m._open):
            yield from metric.describe()
        yield GaugeMetricFamily(f"{m.prefix}_sessions_logged_on", "", labels=["firm"])
        yield CounterMetricFamily(f"{m.prefix}_messages_received_total", "")
