"""Where notifications go: console, JSON-lines file, memory, Prometheus metrics, a real Alertmanager.

Every sink has one method, ``send(notification)`` (the :class:`engines.alerts.Sink` protocol), and
none raises into the simulation: a sink that cannot deliver logs why and counts the failure.  The
router guards sink calls as well, but a sink that talks to the outside world must not rely on it.

* :class:`MemorySink` keeps notifications for tests and scenario expectations (``pages()``).
* :class:`ConsoleSink` prints plain text; with ``rich`` installed (not a dependency) it colours by
  severity.  Plain text is the default when the stream is not a terminal, so logs stay greppable.
* :class:`JsonLinesSink` appends one canonical JSON object per notification (sorted keys, integer
  ns: the same bytes on every machine, like the journal).
* :class:`PrometheusMetricsSink` counts notifications and tracks firing alerts as a
  ``prometheus_client`` collector.  The library owns the exposition format, label escaping and
  counter/gauge semantics; the sink never touches the library's global default registry (several
  runs in one process would collide there): it renders itself, or joins a run's own
  :class:`prometheus_client.CollectorRegistry` (:class:`engines.metrics.TradingMetrics` puts it
  next to the order metrics so one scrape shows everything).
* :class:`AlertmanagerSender` POSTs the notification's alerts to ``/api/v2/alerts`` with stdlib
  ``urllib`` and a bounded timeout.  It sends our *virtual* timestamps as RFC 3339; Alertmanager
  sets ``endsAt = now + resolve_timeout`` on firing alerts sent without one, so a receiving
  Alertmanager should have a ``resolve_timeout`` longer than the router's ``repeat_interval`` (or
  firing alerts resolve there between our repeats).  The POST blocks the caller for at most
  ``timeout_s``: use it in drills and integration runs, not in tight virtual-time sweeps.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from prometheus_client import Counter, Gauge, generate_latest, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric

from engines.alerts import Alert, Notification
from sim.clock import format_utc
from sim.prometheus import without_created

__all__ = ["MemorySink", "ConsoleSink", "JsonLinesSink", "PrometheusMetricsSink", "AlertmanagerSender",
           "rfc3339", "format_notification", "alertmanager_payload"]

log = logging.getLogger(__name__)


def rfc3339(ns: int) -> str:
    """Render integer ns since the epoch as RFC 3339 UTC with nanoseconds, as Go parses it.

    >>> rfc3339(1767346200123456789)
    '2026-01-02T09:30:00.123456789Z'
    """
    text = format_utc(ns, 9)  # YYYYMMDD-HH:MM:SS.fffffffff, integer-only
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]}T{text[9:]}Z"


class MemorySink:
    """Keep every notification in a list, for tests and scenario expectations."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []

    def send(self, notification: Notification) -> None:
        """Append the notification."""
        self.notifications.append(notification)

    def pages(self) -> list[Notification]:
        """Return the notifications that opened an incident on a paging receiver."""
        return [n for n in self.notifications if n.is_page]

    def alerts(self, status: str | None = None) -> list[Alert]:
        """Return every alert notified (optionally only those firing or resolved at their notification)."""
        out = []
        for n in self.notifications:
            chosen = n.alerts if status is None else n.firing if status == "firing" else n.resolved
            out.extend(chosen)
        return out

    def clear(self) -> None:
        """Forget everything received."""
        self.notifications.clear()


def format_notification(n: Notification) -> str:
    """Render a notification as plain text: a header line, then one line per alert with its causes."""
    tag = "PAGE" if n.is_page else n.severity.upper()
    group = ", ".join(f"{k}={v}" for k, v in n.group_labels.items()) or "-"
    lines = [f"{format_utc(n.time_ns, 3)} {tag} [{n.receiver}] {n.status.upper()} {group}: "
             f"{len(n.firing)} firing, {len(n.resolved)} resolved ({n.reason})"]
    for alert in n.alerts:
        mark = "RESOLVED" if alert.resolved_at(n.time_ns) else alert.severity
        lines.append(f"  {mark:<8} {alert.name}: {alert.symptom}")
        lines.extend(f"      cause: {cause}" for cause in alert.causes)
        lines.extend(f"      changed: {change.describe(n.time_ns)}" for change in alert.changes)
    return "\n".join(lines)


class ConsoleSink:
    """Print notifications as text; coloured with rich when installed and writing to a terminal."""

    _STYLE = {"page": "bold red", "ticket": "yellow", "info": "dim"}

    def __init__(self, stream: TextIO | None = None, *, use_rich: bool | None = None) -> None:
        self._stream = stream
        self._console: Any = None
        target = stream or sys.stdout
        if use_rich is None:
            use_rich = bool(getattr(target, "isatty", lambda: False)())
        if use_rich:
            try:
                from rich.console import Console  # optional: never a dependency
            except ImportError:
                pass
            else:
                self._console = Console(file=target, highlight=False)

    def send(self, notification: Notification) -> None:
        """Print the notification (never raises)."""
        text = format_notification(notification)
        try:
            if self._console is not None:
                from rich.markup import escape

                self._console.print(f"[{self._STYLE.get(notification.severity, '')}]{escape(text)}[/]")
            else:
                print(text, file=self._stream or sys.stdout, flush=True)
        except Exception:  # a closed stdout must not stop a run
            log.exception("console sink failed")


class JsonLinesSink:
    """Append each notification as one canonical JSON line (sorted keys, integer ns)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.errors = 0

    def send(self, notification: Notification) -> None:
        """Append one line (never raises; counts failures in ``errors``)."""
        line = json.dumps(notification.to_payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError:
            self.errors += 1
            log.exception("cannot append alert notification to %s", self.path)

    def read(self) -> list[dict[str, Any]]:
        """Return the payloads written so far."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]


class PrometheusMetricsSink:
    """Count notifications and track firing alerts: a ``prometheus_client`` collector.

    Metrics: ``marketdrill_alert_notifications_total{receiver,severity,status}``,
    ``marketdrill_alert_pages_total{receiver}``, ``marketdrill_alerts_firing{alertname,severity,lens}``
    (alerts firing in the latest notification of each group) and
    ``marketdrill_alert_last_notification_timestamp_seconds{receiver}`` (simulated time).
    Register it in a :class:`prometheus_client.CollectorRegistry` to scrape it with other
    metrics, or call :meth:`render` for its own families alone.
    """

    def __init__(self, prefix: str = "marketdrill") -> None:
        self.prefix = prefix
        # registry=None: the metrics live in this collector, never in the library's global registry.
        self._notifications = Counter(f"{prefix}_alert_notifications_total", "Notifications sent, by receiver and status.",
                                      ["receiver", "severity", "status"], registry=None)
        self._pages = Counter(f"{prefix}_alert_pages_total", "Incidents opened on paging receivers.",
                              ["receiver"], registry=None)
        self._last = Gauge(f"{prefix}_alert_last_notification_timestamp_seconds",
                           "Simulated time of the last notification per receiver.", ["receiver"], registry=None)
        # send() runs on the simulation thread, collect() may run on a scraping thread.
        self._lock = threading.Lock()
        self._group_firing: dict[str, tuple[Alert, ...]] = {}

    def send(self, notification: Notification) -> None:
        """Update the metrics from one notification."""
        self._notifications.labels(notification.receiver, notification.severity, notification.status).inc()
        if notification.is_page:
            self._pages.labels(notification.receiver).inc()
        self._last.labels(notification.receiver).set(notification.time_ns / 1e9)
        with self._lock:
            self._group_firing[f"{notification.receiver}|{notification.group_key}"] = notification.firing

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families (the prometheus_client Collector protocol)."""
        with self._lock:
            groups = list(self._group_firing.values())
        firing: dict[tuple[str, str, str], int] = {}
        for alerts in groups:
            for alert in alerts:
                key = (alert.name, alert.severity, alert.lens)
                firing[key] = firing.get(key, 0) + 1
        yield from without_created(self._notifications.collect())
        yield from without_created(self._pages.collect())
        family = GaugeMetricFamily(f"{self.prefix}_alerts_firing", "Alerts firing in the latest notification of "
                                   "each group.", labels=["alertname", "severity", "lens"])
        for key in sorted(firing):  # sorted: the same notifications render the same text
            family.add_metric(list(key), firing[key])
        yield family
        yield from self._last.collect()

    def describe(self) -> Iterator[Metric]:
        """Yield the families without samples, so a registry can refuse a clashing name."""
        yield from self._notifications.describe()
        yield from self._pages.describe()
        yield GaugeMetricFamily(f"{self.prefix}_alerts_firing", "", labels=["alertname", "severity", "lens"])
        yield from self._last.describe()

    def render(self) -> str:
        """Return this sink's families in the Prometheus text exposition format."""
        return generate_latest(self).decode()  # generate_latest takes any collector, not only a registry

    def write(self, path: str | Path) -> None:
        """Write the exposition to ``path`` atomically (e.g. for node_exporter's textfile collector)."""
        write_to_textfile(str(path), self)


def alertmanager_payload(alerts: Iterable[Alert], now_ns: int | None = None,
                         generator_url: str = "") -> list[dict[str, Any]]:
    """Return the JSON body of ``POST /api/v2/alerts`` for ``alerts``."""
    body = []
    for alert in alerts:
        item: dict[str, Any] = {"labels": dict(alert.labels), "annotations": alert.am_annotations(now_ns),
                                "startsAt": rfc3339(alert.starts_at_ns)}
        if alert.ends_at_ns is not None:
            item["endsAt"] = rfc3339(alert.ends_at_ns)
        if generator_url:
            item["generatorURL"] = generator_url
        body.append(item)
    return body


class AlertmanagerSender:
    """POST alerts to an Alertmanager's ``/api/v2/alerts``; bounded timeout, failures logged, never raised."""

    def __init__(self, url: str, *, timeout_s: float = 2.0, generator_url: str = "") -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.timeout_s = timeout_s
        self.generator_url = generator_url
        self.sent = 0
        self.errors = 0
        self.last_error: str | None = None

    def send(self, notification: Notification) -> None:
        """Post the notification's alerts."""
        self.post(notification.alerts, notification.time_ns)

    def post(self, alerts: Iterable[Alert], now_ns: int | None = None) -> bool:
        """Post ``alerts``; return True on HTTP 2xx, else log, count and return False."""
        payload = alertmanager_payload(alerts, now_ns, self.generator_url)
        body = json.dumps(payload).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
                ok = 200 <= response.status < 300
                if not ok:
                    raise urllib.error.HTTPError(self.url, response.status, "unexpected status", response.headers, None)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.errors += 1
            self.last_error = f"{exc} {_error_body(exc)}".strip()
            log.warning("alertmanager %s: could not post %d alert(s): %s", self.url, len(payload), self.last_error)
            return False
        self.sent += 1
        return True


def _error_body(exc: Exception) -> str:
    """The start of an HTTP error's body (Alertmanager explains rejections there), or ""."""
    if not isinstance(exc, urllib.error.HTTPError):
        return ""
    try:
        return exc.read().decode(errors="replace")[:200]
    except Exception:
        return ""
