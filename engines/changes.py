"""What Changed: one timeline of every change to the system, to answer "what changed just before this?".

Most incidents follow a change (a deploy, a limit edited, a tick size the venue moved), and the
first question on call is "what changed?".  So every component records its changes here as
:class:`ChangeEvent` rows, and the alert router asks :meth:`ChangeLog.recent_for` for the changes
near an alert and attaches them to it as cause metadata ("config change 3 min ago").

Design, and why
---------------
* **One timeline, not one per component**: deploys, risk-limit changes, instrument metadata,
  venue-announced changes (EDCs), feed and session configuration and operator actions (halt,
  resume, kill switch, silence) sit in one list ordered by (time, insertion), so the story reads
  top to bottom.  ``kind`` is one of :data:`KINDS`; a typo raises rather than hiding a change.
* **Labels, as alerts have them** (venue, symbol, strategy, engine, session, firm ...).  A change
  *touches* a label set when no label they share disagrees and, unless the change is global (no
  labels at all), at least one shared label agrees.  Alert-only labels (alertname, severity, lens)
  are ignored: they describe the alert, not the part of the system it is about.
* **Journal-ready**: :meth:`ChangeEvent.to_payload` gives integers, strings, lists and dicts only
  (the journal refuses floats so that a run's hash is the same on every machine); ``old``/``new``
  are checked the same way when the event is made.  A log given a ``journal`` records every
  change as a ``change`` event (payload ``{"change": to_payload()}``), and :meth:`ChangeLog.from_journal` rebuilds it for
  ``marketdrill changes JOURNAL``, which prints :func:`format_timeline`.
* Time is whatever integer-ns clock the caller passes (``now_ns``); nothing here reads wall time.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sim.clock import NS_PER_MIN, format_utc
from sim.journal import JournalError, check_payload

__all__ = ["KINDS", "JOURNAL_KIND", "ALERT_ONLY_LABELS", "ChangeEvent", "ChangeLog", "labels_touch",
           "change_from_risk", "format_timeline"]

KINDS: dict[str, str] = {
    "deploy": "engine or strategy version / config hash deployed",
    "risk_limit": "a pre-trade risk limit or the risk layer switched",
    "instrument": "instrument metadata: tick size, lot size, symbol added or removed",
    "venue": "exchange-driven change announced by the venue (EDC)",
    "feed": "market-data feed configuration",
    "session": "FIX session configuration",
    "operator": "operator action: halt, resume, kill switch, cancel all, silence",
}
"""The kinds of change, and what each covers."""

JOURNAL_KIND = "change"
"""Journal event kind under which a :class:`ChangeLog` records its events."""

ALERT_ONLY_LABELS = frozenset({"alertname", "severity", "lens"})
"""Labels that describe an alert rather than a part of the system; never compared with changes."""


class ChangeError(ValueError):
    """A change that cannot be recorded (unknown kind, or a value the journal would refuse)."""


def _check_value(value: Any, path: str) -> None:
    """The journal's payload rule, applied when the change is made, so the error names its author."""
    try:
        check_payload(value, path)
    except JournalError as exc:
        raise ChangeError(str(exc)) from None


def _plain(value: Any) -> Any:
    """Tuples to lists, so a payload compares equal to its JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change: when, what kind, who did it, what it touches, the old and new value, and why."""

    time_ns: int
    kind: str
    actor: str
    labels: Mapping[str, str]
    what: str
    old: Any = None
    new: Any = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ChangeError(f"unknown change kind {self.kind!r}; one of {', '.join(KINDS)}")
        if not isinstance(self.time_ns, int) or isinstance(self.time_ns, bool):
            raise ChangeError(f"time_ns must be integer nanoseconds, not {self.time_ns!r}")
        for name, value in self.labels.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ChangeError(f"label {name!r}={value!r}: labels are str -> str")
        _check_value(self.old, f"change {self.what!r} old")
        _check_value(self.new, f"change {self.what!r} new")
        # a sorted private copy: equality, payloads and display never depend on insertion order
        object.__setattr__(self, "labels", dict(sorted(self.labels.items())))
        object.__setattr__(self, "old", _plain(self.old))
        object.__setattr__(self, "new", _plain(self.new))

    def touches(self, labels: Mapping[str, str]) -> bool:
        """Return True if this change concerns the part of the system ``labels`` names."""
        return labels_touch(self.labels, labels)

    def describe(self, now_ns: int | None = None) -> str:
        """One line for people: ``09:28:41.000 deploy MM1 version 1.4.2 -> 1.4.3 by ci (3m19s ago)``."""
        value = f" {_show(self.old)} -> {_show(self.new)}" if (self.old, self.new) != (None, None) else ""
        scope = " ".join(f"{k}={v}" for k, v in self.labels.items())
        text = f"{format_utc(self.time_ns, 3)[9:]} {self.kind} {self.what}{value} by {self.actor}"
        if scope:
            text += f" [{scope}]"
        if self.reason:
            text += f": {self.reason}"
        if now_ns is not None and now_ns >= self.time_ns:
            text += f" ({_ago(now_ns - self.time_ns)} ago)"
        return text

    def to_payload(self) -> dict[str, Any]:
        """Return a journal payload: integers, strings, lists and dicts only."""
        return {"time_ns": self.time_ns, "kind": self.kind, "actor": self.actor, "labels": dict(self.labels),
                "what": self.what, "old": self.old, "new": self.new, "reason": self.reason}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ChangeEvent:
        """Rebuild an event from :meth:`to_payload` output."""
        return cls(time_ns=payload["time_ns"], kind=payload["kind"], actor=payload["actor"],
                   labels=payload.get("labels", {}), what=payload["what"], old=payload.get("old"),
                   new=payload.get("new"), reason=payload.get("reason", ""))


def labels_touch(change_labels: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Return True if a change with ``change_labels`` concerns something labelled ``labels``.

    >>> labels_touch({"symbol": "ESZ6"}, {"alertname": "X", "symbol": "ESZ6", "strategy": "MM1"})
    True
    >>> labels_touch({"symbol": "NQZ6"}, {"symbol": "ESZ6"})
    False
    >>> labels_touch({}, {"symbol": "ESZ6"})          # a global change touches everything
    True
    >>> labels_touch({"session": "S1"}, {"symbol": "ESZ6"})   # nothing in common
    False
    """
    if not change_labels:
        return True
    shared = [name for name in change_labels if name in labels and name not in ALERT_ONLY_LABELS]
    return bool(shared) and all(change_labels[name] == labels[name] for name in shared)


def _show(value: Any) -> str:
    return "-" if value is None else str(value)


def _ago(delta_ns: int) -> str:
    seconds = delta_ns // 1_000_000_000
    if seconds < 60:
        return f"{seconds}s" if seconds else f"{delta_ns // 1_000_000}ms"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ChangeLog:
    """The What Changed timeline: append changes, query them by time and by labels.

    >>> log = ChangeLog(now_ns=lambda: 1_000)
    >>> log.record("deploy", "ci", "MM1 version", old="1.4.2", new="1.4.3", labels={"strategy": "MM1"}).kind
    'deploy'
    >>> [c.what for c in log.matching({"strategy": "MM1", "symbol": "ESZ6"})]
    ['MM1 version']
    """

    def __init__(self, now_ns: Callable[[], int] | None = None, *, journal: Any = None) -> None:
        self._now_ns = now_ns
        self._journal = journal
        self._events: list[ChangeEvent] = []
        self._times: list[int] = []  # parallel to _events, for bisect (Python 3.11 has no key=)
        self._listeners: list[Callable[[ChangeEvent], None]] = []

    # -- RECORDING --

    def add(self, event: ChangeEvent) -> ChangeEvent:
        """Append ``event`` (kept in time order; equal times keep insertion order); return it.

        Runtime complexity: O(log n) to find the place, O(1) amortised when events arrive in order.
        """
        index = bisect.bisect_right(self._times, event.time_ns)
        self._events.insert(index, event)
        self._times.insert(index, event.time_ns)
        if self._journal is not None:
            # nested: the payload's own "kind" would clash with the journal event's kind
            self._journal.record(JOURNAL_KIND, change=event.to_payload())
        for listener in self._listeners:
            listener(event)
        return event

    def record(self, kind: str, actor: str, what: str, *, old: Any = None, new: Any = None, reason: str = "",
               labels: Mapping[str, str] | None = None, time_ns: int | None = None) -> ChangeEvent:
        """Make and append a :class:`ChangeEvent` stamped with the clock (or ``time_ns``)."""
        if time_ns is None:
            if self._now_ns is None:
                raise ChangeError("this ChangeLog has no clock: pass time_ns= or now_ns= at construction")
            time_ns = self._now_ns()
        return self.add(ChangeEvent(time_ns, kind, actor, dict(labels or {}), what, old, new, reason))

    def subscribe(self, listener: Callable[[ChangeEvent], None]) -> None:
        """Call ``listener`` with every change added from now on."""
        self._listeners.append(listener)

    # -- QUERIES --

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[ChangeEvent]:
        return iter(list(self._events))

    def since(self, ns: int) -> list[ChangeEvent]:
        """Return the changes at or after instant ``ns``, oldest first.  Runtime complexity: O(log n + k)."""
        return self._events[bisect.bisect_left(self._times, ns):]

    def between(self, start_ns: int, end_ns: int) -> list[ChangeEvent]:
        """Return the changes with ``start_ns <= time_ns <= end_ns``, oldest first."""
        return self._events[bisect.bisect_left(self._times, start_ns):bisect.bisect_right(self._times, end_ns)]

    def window(self, now_ns: int, minutes: int) -> list[ChangeEvent]:
        """Return the changes in the last ``minutes`` minutes up to ``now_ns`` (both ends included)."""
        return self.between(now_ns - minutes * NS_PER_MIN, now_ns)

    def matching(self, labels: Mapping[str, str]) -> list[ChangeEvent]:
        """Return the changes that touch ``labels`` (see :func:`labels_touch`), oldest first."""
        return [event for event in self._events if event.touches(labels)]

    def recent_for(self, alert: Any, window_ns: int, now_ns: int | None = None) -> list[ChangeEvent]:
        """Return the changes touching ``alert``'s labels from ``window_ns`` before it started until now.

        The window opens ``window_ns`` before the earlier of the alert's start and ``now_ns`` (the
        change that caused an alert precedes it) and closes at ``now_ns`` (default: the alert's
        start), so an operator action taken after the alert fired shows up on its next update.
        """
        end = alert.starts_at_ns if now_ns is None else now_ns
        start = min(alert.starts_at_ns, end) - window_ns
        return [event for event in self.between(start, end) if event.touches(alert.labels)]

    # -- JOURNAL --

    @classmethod
    def from_journal(cls, events: Iterable[Any]) -> ChangeLog:
        """Rebuild a timeline from journal events (objects with ``kind`` and ``data``), ignoring other kinds."""
        log = cls()
        for event in events:
            if event.kind == JOURNAL_KIND:
                log.add(ChangeEvent.from_payload(event.data["change"]))
        return log


def change_from_risk(change: Any, labels: Mapping[str, str] | None = None, *, kind: str | None = None) -> ChangeEvent:
    """Turn an ``engines.risk`` ``LimitChange`` or ``StateChange`` (duck-typed) into a ChangeEvent.

    A limit change becomes ``risk_limit``; a trading-state change becomes ``operator`` (halt,
    resume, reduce) whoever made it, with ``actor="auto"`` for automatic halts.  Values that are
    not journal-safe (enums, floats) are recorded by name or text.
    """
    labels = dict(labels or {})
    if hasattr(change, "scope"):  # StateChange
        if change.scope != "engine":
            labels.setdefault("strategy", change.scope)
        what = f"trading state {getattr(change.new, 'name', change.new)}"
        return ChangeEvent(change.time_ns, kind or "operator", change.who, labels, what,
                           _safe(change.old), _safe(change.new), f"{change.reason_code}: {change.text}")
    return ChangeEvent(change.time_ns, kind or "risk_limit", change.who, labels, f"risk limit {change.what}",
                       _safe(change.old), _safe(change.new), change.reason)


def _safe(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    try:
        _check_value(value, "value")
    except ChangeError:
        return str(value)
    return value


def format_timeline(changes: Iterable[ChangeEvent], since: int | None = None,
                    labels: Mapping[str, str] | None = None, now_ns: int | None = None) -> str:
    """Render changes as the ``marketdrill changes`` table, oldest first, optionally filtered.

    >>> print(format_timeline([ChangeEvent(0, "venue", "CME", {"symbol": "ESZ6"}, "tick size", 25, 50,
    ...                                    "EDC 2025-117")]))
    TIME (UTC)             KIND   ACTOR  WHAT       OLD  NEW  LABELS       REASON
    19700101-00:00:00.000  venue  CME    tick size  25   50   symbol=ESZ6  EDC 2025-117
    """
    rows: list[list[str]] = []
    for event in sorted(changes, key=lambda c: c.time_ns):
        if since is not None and event.time_ns < since:
            continue
        if labels is not None and not event.touches(labels):
            continue
        when = format_utc(event.time_ns, 3)
        if now_ns is not None and now_ns >= event.time_ns:
            when += f" (-{_ago(now_ns - event.time_ns)})"
        rows.append([when, event.kind, event.actor, event.what, _show(event.old), _show(event.new),
                     ",".join(f"{k}={v}" for k, v in event.labels.items()), event.reason])
    if not rows:
        return "no changes"
    header = ["TIME (UTC)", "KIND", "ACTOR", "WHAT", "OLD", "NEW", "LABELS", "REASON"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)
