"""Alerts, modelled as Prometheus Alertmanager models them, and a router with its semantics.

An :class:`Alert` names a *symptom* a trader and an engineer both understand ("strategy MM1
cannot trade ESZ6"), carries the technical facts behind it as cause metadata ("feed ESZ6 stale
since 09:31:02.120") and the What Changed events near it (:mod:`engines.changes`), and is
identified by its labels alone, as in Alertmanager: same labels, same alert.  The router turns a
stream of alerts into few notifications: one root cause -> one page.

Pipeline (Alertmanager's order)
-------------------------------
``receive`` routes an alert down the route tree (matchers; first matching child wins unless it
says ``continue``) into one aggregation group per matching route, keyed by its ``group_by``
labels.  A group first flushes ``group_wait`` after it was created (at once if its first alert
started more than ``group_wait`` ago), then every ``group_interval``.  Each flush runs
*inhibit -> silence -> dedup*: muted alerts are dropped from the batch, then the notification log
decides whether the receiver needs to hear about it (first notification, new alerts, newly
resolved alerts if ``send_resolved``, all resolved, or ``repeat_interval`` elapsed - Alertmanager's
``DedupStage.needsUpdate``).  Resolved alerts leave the group after a flush; an empty group dies
and the next alert with its labels opens a new one (and waits ``group_wait`` again).

Inhibition: an alert matching a rule's target matchers is muted while some *other* firing alert
matches the source matchers and has equal values (a missing label counts as "") for every
``equal`` label; if the target matches the source side too, sources that also match the target
side are ignored, so an alert never inhibits itself and two alerts cannot inhibit each other.

Time
----
The router never reads wall time: ``now_ns`` is an injected integer-ns clock.  Timers are a
heap of (due, sequence) owned by the router.  Either the runner calls :meth:`AlertRouter.tick`
(``now``) - every due flush runs, in (due, creation) order - or it passes ``schedule(at_ns,
callback)`` (e.g. ``VirtualClock.call_at``) and the router arms a wake-up for each flush itself.
Group timers advance from their due instant (missed ticks are skipped, not replayed), so flush
instants do not depend on how coarsely ``tick`` is called.  Iteration that reaches the output is
sorted (alerts by start then labels, sources by fingerprint), never dict order.

Where we deviate from Alertmanager, and why
-------------------------------------------
* ``repeat_interval``: Alertmanager repeats when ``last < now - repeat`` with ``last`` the wall
  time the send *finished*, so a repeat lands one ``group_interval`` late in practice.  In virtual
  time both instants are exact, so we repeat at the first flush with ``now - last >= repeat``:
  exactly ``repeat_interval`` later when it is a multiple of ``group_interval``.
* Silences are active on ``[starts_at, ends_at)`` (Alertmanager: both ends included) so a silence
  "expires at" its end and back-to-back silences do not overlap.
* The notification log entry of a group is dropped when the group dies (Alertmanager keeps it for
  2 x repeat_interval, which can swallow the first notification of a re-fired alert whose
  resolution happened while muted).
* Inhibition considers every firing source, not one indexed source per ``equal`` value.
* :meth:`AlertRouter.pages` counts *incidents*: the first firing notification of a group to a
  receiver with ``severity="page"``; later notifications for the same open group update it (as a
  pager keyed by group key does), so "exactly one page" means one incident, however it grows.
* Severity is a label (``page``/``ticket``/``info``) and required, as is ``alertname``.

The configuration (route tree, receivers, inhibition rules, silences, ``default_config()``) lives
in :mod:`engines.alert_config` and is re-exported here; sinks live in :mod:`engines.alert_sinks`.
A group with firing alerts keeps a timer every ``group_interval`` (as Alertmanager), so a runner
should stop virtual time at the scenario's end rather than "when no timer is left".
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engines.alert_config import (
    SEVERITIES,
    Matcher,
    Receiver,
    RouterConfig,
    Silence,
    compile_routes,
    default_config,
    parse_duration,
)
from engines.changes import ChangeEvent, ChangeLog

__all__ = ["SEVERITIES", "LENSES", "Alert", "Notification", "Sink", "AlertRouter", "fingerprint",
           "Matcher", "Receiver", "RouterConfig", "Silence", "default_config", "parse_duration",
           "REASON_FIRST", "REASON_NEW_ALERTS", "REASON_NEW_RESOLVED", "REASON_ALL_RESOLVED", "REASON_REPEAT"]

log = logging.getLogger(__name__)

LENSES = ("technical", "trading")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Alertmanager's NotifyReason strings
REASON_FIRST = "first notification"
REASON_NEW_ALERTS = "new alerts added"
REASON_NEW_RESOLVED = "some alerts resolved"
REASON_ALL_RESOLVED = "all alerts resolved"
REASON_REPEAT = "repeat interval elapsed"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return Prometheus' label-set fingerprint (FNV-1a 64 over sorted name/value pairs) as 16 hex digits.

    The same number Alertmanager reports for an alert, so ours and its can be compared.

    >>> fingerprint({})
    'cbf29ce484222325'
    """
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ 0xFF) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


@dataclass(frozen=True, slots=True)
class Alert:
    """A symptom: identity = labels; annotations say it for people; causes and changes say why."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at_ns: int
    ends_at_ns: int | None = None
    reason: str = ""  # machine-readable reason code, e.g. "stale_feed"
    causes: tuple[str, ...] = ()  # technical facts: "feed ESZ6 stale since 09:31:02.120"
    changes: tuple[ChangeEvent, ...] = ()  # What Changed near it, attached by the router
    fingerprint: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        for name, value in self.labels.items():
            if not (isinstance(name, str) and _LABEL_NAME.match(name) and isinstance(value, str)):
                raise ValueError(f"alert label {name!r}={value!r}: names [a-zA-Z_][a-zA-Z0-9_]*, values str")
        if not self.labels.get("alertname"):
            raise ValueError(f"alert {dict(self.labels)} has no alertname label")
        if self.labels.get("severity") not in SEVERITIES:
            raise ValueError(f"alert {self.labels['alertname']}: severity must be one of {SEVERITIES}")
        if "lens" in self.labels and self.labels["lens"] not in LENSES:
            raise ValueError(f"alert {self.labels['alertname']}: lens must be one of {LENSES}")
        if self.ends_at_ns is not None and self.ends_at_ns < self.starts_at_ns:
            raise ValueError(f"alert {self.labels['alertname']} ends before it starts")
        # sorted copies: equality, payloads and output never depend on the caller's dict order
        object.__setattr__(self, "labels", dict(sorted(self.labels.items())))
        object.__setattr__(self, "annotations", dict(sorted(self.annotations.items())))
        object.__setattr__(self, "causes", tuple(self.causes))
        object.__setattr__(self, "changes", tuple(self.changes))
        object.__setattr__(self, "fingerprint", fingerprint(self.labels))

    def __hash__(self) -> int:
        return hash((self.fingerprint, self.starts_at_ns, self.ends_at_ns))

    @classmethod
    def create(cls, alertname: str, severity: str, symptom: str, *, starts_at_ns: int, lens: str = "trading",
               labels: Mapping[str, str] | None = None, summary: str = "", description: str = "",
               causes: Iterable[str] = (), reason: str = "") -> Alert:
        """Build an alert from its symptom sentence and labels (firm, strategy, symbol, venue ...)."""
        all_labels = {**(labels or {}), "alertname": alertname, "severity": severity, "lens": lens}
        annotations = {"symptom": symptom, "summary": summary or symptom}
        if description:
            annotations["description"] = description
        return cls(all_labels, annotations, starts_at_ns, None, reason, tuple(causes))

    @property
    def name(self) -> str:
        """Return the alertname label."""
        return self.labels["alertname"]

    @property
    def severity(self) -> str:
        """Return the severity label: page, ticket or info."""
        return self.labels["severity"]

    @property
    def lens(self) -> str:
        """Return the lens label (technical or trading), or "" if unset."""
        return self.labels.get("lens", "")

    @property
    def symptom(self) -> str:
        """Return the symptom sentence (falls back to the summary, then the alertname)."""
        return self.annotations.get("symptom") or self.annotations.get("summary") or self.name

    def resolved_at(self, now_ns: int) -> bool:
        """Return True if the alert has ended at ``now_ns`` (``ends_at_ns <= now_ns``)."""
        return self.ends_at_ns is not None and self.ends_at_ns <= now_ns

    def resolve(self, at_ns: int) -> Alert:
        """Return a copy that ended at ``at_ns``."""
        return dataclasses.replace(self, ends_at_ns=at_ns)

    def am_annotations(self, now_ns: int | None = None) -> dict[str, str]:
        """Return annotations for Alertmanager (str -> str), with causes, changes and reason folded in."""
        out = dict(self.annotations)
        if self.causes:
            out["causes"] = "\n".join(self.causes)
        if self.changes:
            out["changes"] = "\n".join(change.describe(now_ns) for change in self.changes)
        if self.reason:
            out["reason"] = self.reason
        return out

    def to_payload(self) -> dict[str, Any]:
        """Return a journal payload (no floats)."""
        return {"labels": dict(self.labels), "annotations": dict(self.annotations),
                "starts_at_ns": self.starts_at_ns, "ends_at_ns": self.ends_at_ns, "reason": self.reason,
                "causes": list(self.causes), "changes": [c.to_payload() for c in self.changes]}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Alert:
        """Rebuild an alert from :meth:`to_payload` output."""
        return cls(payload["labels"], payload.get("annotations", {}), payload["starts_at_ns"],
                   payload.get("ends_at_ns"), payload.get("reason", ""), tuple(payload.get("causes", ())),
                   tuple(ChangeEvent.from_payload(c) for c in payload.get("changes", ())))


@dataclass(frozen=True, slots=True)
class Notification:
    """What a receiver is told at one flush: a group's alerts (firing and resolved) and why."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]
    status: str  # "firing" if any alert fires, else "resolved"
    time_ns: int
    reason: str = REASON_FIRST
    severity: str = "info"  # the receiver's severity

    @property
    def firing(self) -> tuple[Alert, ...]:
        """Return the alerts still firing."""
        return tuple(a for a in self.alerts if not a.resolved_at(self.time_ns))

    @property
    def resolved(self) -> tuple[Alert, ...]:
        """Return the alerts resolved in this notification."""
        return tuple(a for a in self.alerts if a.resolved_at(self.time_ns))

    @property
    def is_page(self) -> bool:
        """Return True if this notification opens an incident on a paging receiver."""
        return self.severity == "page" and self.reason == REASON_FIRST and self.status == "firing"

    def to_payload(self) -> dict[str, Any]:
        """Return a journal payload (no floats)."""
        return {"receiver": self.receiver, "group_key": self.group_key, "group_labels": dict(self.group_labels),
                "alerts": [a.to_payload() for a in self.alerts], "status": self.status,
                "time_ns": self.time_ns, "reason": self.reason, "severity": self.severity}


class Sink(Protocol):
    """Anything that receives notifications (see :mod:`engines.alert_sinks`)."""

    def send(self, notification: Notification) -> None:
        """Deliver one notification; must not raise into the simulation (the router guards anyway)."""


@dataclass(slots=True)
class _Group:
    """One aggregation group: a route node and the values of its group_by labels."""

    gid: tuple[int, tuple[tuple[str, str], ...]]
    node: Any
    key: str
    labels: dict[str, str]
    alerts: dict[str, Alert] = field(default_factory=dict)
    seq: int = -1  # sequence of the live heap entry; older entries are stale


class AlertRouter:
    """Alertmanager's dispatcher on an injected integer-ns clock: route, group, inhibit, silence, dedup."""

    def __init__(self, config: RouterConfig | Mapping[str, Any] | None = None, *, now_ns: Callable[[], int],
                 schedule: Callable[[int, Callable[[], None]], object] | None = None,
                 changes: ChangeLog | None = None, sinks: Mapping[str, Sequence[Sink]] | None = None,
                 journal: Any = None) -> None:
        if config is None:
            config = default_config()
        elif not isinstance(config, RouterConfig):
            config = RouterConfig.from_dict(config)
        self.config = config
        self._now = now_ns
        self._schedule = schedule
        self._changes = changes
        self._journal = journal
        self._receivers = {r.name: r for r in config.receivers}
        self._root = compile_routes(config)
        self._sinks: dict[str | None, list[Sink]] = {k: list(v) for k, v in (sinks or {}).items()}
        self._alerts: dict[str, Alert] = {}
        self._holders: dict[str, set] = {}
        self._sources: list[dict[tuple[str, ...], set[str]]] = [{} for _ in config.inhibit_rules]
        self._groups: dict[tuple, _Group] = {}
        self._heap: list[tuple[int, int, tuple]] = []
        self._seq = itertools.count()
        self._nflog: dict[tuple, tuple[int, frozenset[str], frozenset[str]]] = {}
        self._silences: dict[str, Silence] = {}
        self._silence_ids = itertools.count(1)
        self.notifications: list[Notification] = []

    # -- INPUT --

    def add_sink(self, sink: Sink, receiver: str | None = None) -> None:
        """Deliver notifications for ``receiver`` (None: every receiver) to ``sink``."""
        if receiver is not None and receiver not in self._receivers:
            raise KeyError(f"unknown receiver {receiver!r}")
        self._sinks.setdefault(receiver, []).append(sink)

    def receive(self, alert: Alert) -> Alert | None:
        """Take a new or updated alert (same labels = same alert); return the stored version.

        A firing update keeps the earliest start; an alert with ``ends_at_ns`` resolves the stored
        one; a resolved alert the router never saw firing is ignored (returns None).
        """
        now = self._now()
        fp = alert.fingerprint
        old = self._alerts.get(fp)
        if old is not None and not old.resolved_at(now):
            alert = dataclasses.replace(alert, starts_at_ns=min(old.starts_at_ns, alert.starts_at_ns))
        elif alert.resolved_at(now):
            return None
        self._alerts[fp] = alert
        for index, rule in enumerate(self.config.inhibit_rules):
            if rule.source_matches(alert.labels):
                self._sources[index].setdefault(rule.equal_key(alert.labels), set()).add(fp)
        for node in self._root.match(alert.labels):
            group_labels = node.group_labels(alert.labels)
            gid = (node.index, tuple(sorted(group_labels.items())))
            group = self._groups.get(gid)
            if group is None:
                key = node.key + ":{" + ", ".join(f'{k}="{v}"' for k, v in gid[1]) + "}"
                group = self._groups[gid] = _Group(gid, node, key, group_labels)
                # Alertmanager: an alert already older than group_wait is flushed at once
                old_enough = alert.starts_at_ns + node.group_wait_ns < now
                self._arm(group, now if old_enough else now + node.group_wait_ns)
            group.alerts[fp] = alert
            self._holders.setdefault(fp, set()).add(gid)
        return alert

    def resolve(self, target: Alert | Mapping[str, str] | str, at_ns: int | None = None) -> Alert | None:
        """Resolve the firing alert named by an Alert, its labels or its fingerprint; None if not firing."""
        fp = target.fingerprint if isinstance(target, Alert) else target if isinstance(target, str) \
            else fingerprint(target)
        now = self._now()
        old = self._alerts.get(fp)
        if old is None or old.resolved_at(now):
            return None
        return self.receive(old.resolve(now if at_ns is None else at_ns))

    # -- SILENCES --

    def add_silence(self, matchers: Iterable[Matcher | str] | Mapping[str, str], *, created_by: str, comment: str,
                    ends_at_ns: int | None = None, duration_ns: int | None = None,
                    starts_at_ns: int | None = None) -> Silence:
        """Silence alerts matching every matcher from ``starts_at_ns`` (default now) until ``ends_at_ns``."""
        now = self._now()
        start = now if starts_at_ns is None else starts_at_ns
        if (ends_at_ns is None) == (duration_ns is None):
            raise ValueError("give exactly one of ends_at_ns= or duration_ns=")
        end = start + duration_ns if duration_ns is not None else ends_at_ns
        silence = Silence.build(f"silence-{next(self._silence_ids)}", matchers, start, end, created_by, comment)
        self._silences[silence.id] = silence
        if self._changes is not None:
            self._changes.record("operator", created_by, f"silence {silence.id}", new=silence.describe(),
                                 reason=comment, time_ns=now)
        return silence

    def expire_silence(self, silence_id: str) -> Silence:
        """End a silence now (it stops muting at once); returns the updated silence."""
        now = self._now()
        silence = self._silences[silence_id]
        if silence.ends_at_ns > now:
            silence = dataclasses.replace(silence, ends_at_ns=max(now, silence.starts_at_ns))
            self._silences[silence_id] = silence
        return silence

    def silences(self) -> list[Silence]:
        """Return every silence (pending, active and expired) in creation order."""
        return list(self._silences.values())

    # -- TIME --

    def next_due_ns(self) -> int | None:
        """Return the instant of the next group flush, or None if no group is waiting."""
        while self._heap and self._stale(self._heap[0]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def tick(self, now_ns: int | None = None) -> list[Notification]:
        """Run every group flush due at or before ``now_ns`` (default: the clock); return what was sent."""
        now = self._now() if now_ns is None else now_ns
        sent: list[Notification] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if self._stale(entry):
                continue
            due, _, gid = entry
            group = self._groups[gid]
            interval = group.node.group_interval_ns
            missed = max(0, (now - due) // interval)  # skip ticks a coarse caller missed
            self._arm(group, due + (missed + 1) * interval)
            sent.extend(self._flush(group, now))
        return sent

    def _stale(self, entry: tuple[int, int, tuple]) -> bool:
        group = self._groups.get(entry[2])
        return group is None or group.seq != entry[1]

    def _arm(self, group: _Group, due: int) -> None:
        group.seq = next(self._seq)
        heapq.heappush(self._heap, (due, group.seq, group.gid))
        if self._schedule is not None:
            self._schedule(due, self._wake)

    def _wake(self) -> None:
        self.tick(self._now())

    # -- FLUSH: inhibit -> silence -> dedup -> send --

    def _flush(self, group: _Group, now: int) -> list[Notification]:
        batch: list[Alert] = []
        resolved: list[str] = []
        for alert in sorted(group.alerts.values(), key=lambda a: (a.starts_at_ns, tuple(a.labels.items()))):
            if alert.resolved_at(now):
                resolved.append(alert.fingerprint)
            elif alert.ends_at_ns is not None:
                alert = dataclasses.replace(alert, ends_at_ns=None)  # not over yet: do not report an end
            batch.append(alert)
        visible = [a for a in batch if not self._inhibitor(a, now) and not self._silencer(a, now)]
        sent = self._dedup_and_send(group, visible, now) if visible else []
        for fp in resolved:  # Alertmanager deletes resolved alerts once the flush succeeded
            del group.alerts[fp]
            self._release(fp, group.gid)
        if not group.alerts:
            del self._groups[group.gid]
            self._nflog.pop(group.gid, None)
        return sent

    def _dedup_and_send(self, group: _Group, visible: list[Alert], now: int) -> list[Notification]:
        receiver: Receiver = self._receivers[group.node.receiver]
        firing = frozenset(a.fingerprint for a in visible if not a.resolved_at(now))
        resolved = frozenset(a.fingerprint for a in visible if a.resolved_at(now))
        reason = _needs_update(self._nflog.get(group.gid), firing, resolved, receiver.send_resolved,
                               group.node.repeat_interval_ns, now)
        if reason is None:
            return []
        self._nflog[group.gid] = (now, firing, resolved)
        alerts = visible if receiver.send_resolved else [a for a in visible if not a.resolved_at(now)]
        if not alerts:  # resolved-only and send_resolved=False: logged, not sent (as Alertmanager)
            return []
        if self._changes is not None:
            window = self.config.cause_window_ns
            alerts = [dataclasses.replace(a, changes=tuple(self._changes.recent_for(a, window, now)))
                      for a in alerts]
        notification = Notification(receiver.name, group.key, dict(group.labels), tuple(alerts),
                                    "firing" if firing else "resolved", now, reason, receiver.severity)
        self._deliver(notification)
        return [notification]

    def _deliver(self, notification: Notification) -> None:
        self.notifications.append(notification)
        if self._journal is not None:
            self._journal.record("alert.notification", **notification.to_payload())
        for sink in self._sinks.get(notification.receiver, []) + self._sinks.get(None, []):
            try:
                sink.send(notification)
            except Exception:  # a broken sink must never stop the simulation
                log.exception("alert sink %r failed on %s", sink, notification.group_key)

    def _inhibitor(self, alert: Alert, now: int) -> str | None:
        """Return the fingerprint of a firing alert that inhibits ``alert``, or None."""
        for index, rule in enumerate(self.config.inhibit_rules):
            if not rule.target_matches(alert.labels):
                continue
            two_sided = rule.source_matches(alert.labels)
            for fp in sorted(self._sources[index].get(rule.equal_key(alert.labels), ())):
                source = self._alerts.get(fp)
                if fp == alert.fingerprint or source is None or source.resolved_at(now):
                    continue
                if two_sided and rule.target_matches(source.labels):
                    continue
                return fp
        return None

    def _silencer(self, alert: Alert, now: int) -> str | None:
        """Return the id of an active silence matching ``alert``, or None."""
        for silence in self._silences.values():
            if silence.active_at(now) and silence.matches(alert.labels):
                return silence.id
        return None

    def _release(self, fp: str, gid: tuple) -> None:
        holders = self._holders.get(fp, set())
        holders.discard(gid)
        if not holders:
            self._holders.pop(fp, None)
            alert = self._alerts.pop(fp, None)
            if alert is not None:
                for index, rule in enumerate(self.config.inhibit_rules):
                    self._sources[index].get(rule.equal_key(alert.labels), set()).discard(fp)

    # -- QUERIES --

    def alerts(self) -> list[Alert]:
        """Return the alerts the router holds (firing, or resolved and not yet notified), by start then labels."""
        return sorted(self._alerts.values(), key=lambda a: (a.starts_at_ns, tuple(a.labels.items())))

    def muted_by(self, target: Alert | str, now_ns: int | None = None) -> tuple[str, ...]:
        """Return why an alert is muted now: ``("inhibited by <fp>", "silenced by <id>")``, or ()."""
        fp = target.fingerprint if isinstance(target, Alert) else target
        alert = self._alerts.get(fp)
        if alert is None:
            return ()
        now = self._now() if now_ns is None else now_ns
        reasons = []
        if (source := self._inhibitor(alert, now)) is not None:
            reasons.append(f"inhibited by {source}")
        if (silence := self._silencer(alert, now)) is not None:
            reasons.append(f"silenced by {silence}")
        return tuple(reasons)

    def pages(self, receiver: str | None = None) -> list[Notification]:
        """Return the pages sent: first firing notifications of groups on paging receivers."""
        return [n for n in self.notifications if n.is_page and (receiver is None or n.receiver == receiver)]


def _needs_update(entry: tuple[int, frozenset[str], frozenset[str]] | None, firing: frozenset[str],
                  resolved: frozenset[str], send_resolved: bool, repeat_ns: int, now: int) -> str | None:
    """Alertmanager's DedupStage.needsUpdate: the reason to notify, or None to stay quiet."""
    if entry is None:
        return REASON_FIRST if firing else None
    last_ns, last_firing, last_resolved = entry
    if not firing <= last_firing:
        return REASON_FIRST if not last_firing else REASON_NEW_ALERTS
    if not firing:
        # sent even without send_resolved, to clear the log; nothing if the receiver never heard
        return REASON_ALL_RESOLVED if last_firing else None
    if send_resolved and not resolved <= last_resolved:
        return REASON_NEW_RESOLVED
    if now - last_ns >= repeat_ns:
        return REASON_REPEAT
    return None
