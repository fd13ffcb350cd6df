"""Expectations: judge a finished run's record against the scenario's ``[[expect]]`` steps.

Each kind returns a :class:`Verdict`: passed or not, and a sentence saying what was expected and
what happened, with the evidence (times are relative to the run start, or to the inject step the
expectation names with ``after``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engines.risk import TradingState
from scenarios.predicate import parse_predicate
from scenarios.runner import RunRecord, step_time
from scenarios.spec import Step


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one expectation."""

    step: Step
    passed: bool
    text: str

    @property
    def label(self) -> str:
        """Short name, e.g. ``#2 alert FillTooGood``."""
        extra = self.step.fields.get("alertname") or self.step.fields.get("layer") or self.step.fields.get("scope") or ""
        return f"{self.step.describe()}{' ' + extra if extra else ''}"


def judge(record: RunRecord) -> list[Verdict]:
    """Judge every expectation of the record's scenario."""
    return [_JUDGES[step.kind](record, step) for step in record.scenario.expects]


def _origin(record: RunRecord, step: Step) -> tuple[int, str]:
    after = step.fields.get("after")
    if after is None:
        return record.start_ns, "the start"
    injects = record.scenario.injects
    if not 1 <= after <= len(injects):
        return record.start_ns, f"inject #{after} (there is no such inject)"
    inject = injects[after - 1]
    if inject.index not in record.inject_times:
        return record.end_ns + 1, f"inject {inject.describe()} (which never happened)"
    return step_time(record, inject), f"inject {inject.describe()}"


def _secs(ns: int) -> str:
    return f"{ns / 1e9:.3f}s"


def _labels_match(alert_labels, wanted: dict[str, str]) -> bool:
    return all(alert_labels.get(k) == v for k, v in wanted.items())


def _alert(record: RunRecord, step: Step) -> Verdict:
    f = step.fields
    name = f["alertname"]
    origin, what = _origin(record, step)
    within = f.get("within")
    fired = [a for a in record.alerts_fired if a.name == name and _labels_match(a.labels, f.get("labels", {}))
             and a.starts_at_ns >= origin]
    if f.get("severity"):
        fired = [a for a in fired if a.severity == f["severity"]]
    if not fired:
        return Verdict(step, False, f"{name} never fired after {what}")
    first = fired[0]
    delay = first.starts_at_ns - origin
    if within is not None and delay > within:
        return Verdict(step, False, f"{name} fired {_secs(delay)} after {what}, later than {_secs(within)}")
    pages = [n for n in record.pages() if any(a.name == name for a in n.alerts)]
    if f.get("exactly_once") and len(pages) != 1:
        return Verdict(step, False, f"{name} fired but paged {len(pages)} times; expected exactly one page")
    if f.get("max_pages") is not None and len(pages) > f["max_pages"]:
        return Verdict(step, False, f"{name} paged {len(pages)} times; at most {f['max_pages']} allowed")
    causes = "; ".join(first.causes)
    return Verdict(step, True, f"{name} fired {_secs(delay)} after {what}: {first.symptom}"
                   + (f" (causes: {causes})" if causes else ""))


def _no_alert(record: RunRecord, step: Step) -> Verdict:
    name = step.fields["alertname"]
    fired = [a for a in record.alerts_fired if a.name == name and _labels_match(a.labels, step.fields.get("labels", {}))]
    if fired:
        return Verdict(step, False, f"{name} fired at {_secs(fired[0].starts_at_ns - record.start_ns)}: {fired[0].symptom}")
    return Verdict(step, True, f"{name} never fired")


def _halt(record: RunRecord, step: Step) -> Verdict:
    f = step.fields
    origin, what = _origin(record, step)
    scope = f["scope"]
    if scope == "venue":
        halts = [h for h in record.halts if h.time_ns >= origin and (not f.get("symbol") or h.firm == f["symbol"])]
        if not halts:
            return Verdict(step, False, f"the venue never halted or paused {f.get('symbol', '')} after {what}")
        first = halts[0]
        return _timed(step, first.time_ns - origin, what, f"the venue {first.kind} {first.firm} ({first.text})")
    firm = f.get("firm")
    engines = [record.engines[firm]] if firm else list(record.engines.values())
    found = None
    for engine in engines:
        for change in engine.risk.changes:
            new = getattr(change, "new", None)
            if getattr(change, "scope", None) is None or new != TradingState.HALTED or change.time_ns < origin:
                continue
            if scope == "engine" and change.scope != "engine":
                continue
            if scope == "strategy" and (change.scope == "engine" or (f.get("strategy") and change.scope != f["strategy"])):
                continue
            if found is None or change.time_ns < found[0]:
                found = (change.time_ns, engine.name, change)
    if found is None:
        return Verdict(step, False, f"no {scope} halt after {what}")
    at, name, change = found
    if f.get("within_orders") is not None:
        sent = [t for t in record.sent_by_firm.get(name, []) if origin <= t <= at]
        if len(sent) > f["within_orders"]:
            return Verdict(step, False, f"{scope} {name} halted only after {len(sent)} orders "
                                        f"(allowed {f['within_orders']})")
    return _timed(step, at - origin, what, f"{scope} halted ({change.reason_code}: {change.text})")


def _timed(step: Step, delay: int, what: str, text: str) -> Verdict:
    within = step.fields.get("within")
    if within is not None and delay > within:
        return Verdict(step, False, f"{text} {_secs(delay)} after {what}, later than {_secs(within)}")
    return Verdict(step, True, f"{text} {_secs(delay)} after {what}")


def _caught_by(record: RunRecord, step: Step) -> Verdict:
    f = step.fields
    origin, what = _origin(record, step)
    firm = f.get("firm")
    refusals = [r for r in record.refusals if r.time_ns >= origin and (not firm or r.firm == firm)]
    arrivals = [a for a in record.arrivals if a.time_ns >= origin and (not firm or a.firm == firm)]
    layer = f["layer"]
    if layer == "none":
        if refusals:
            return Verdict(step, False, f"expected no layer to catch it, but the {refusals[0].layer} did: "
                                        f"{refusals[0].text}")
        return Verdict(step, True, f"no layer caught it ({len(arrivals)} orders reached the venue)")
    if not refusals:
        return Verdict(step, False, f"nothing was refused after {what}; {len(arrivals)} orders reached the venue")
    first = refusals[0]
    if first.layer != layer:
        return Verdict(step, False, f"caught by the {first.layer}, not the {layer}: {first.text}")
    return _timed(step, first.time_ns - origin, what, f"caught by the {layer}: {first.text}")


def _no_order_reaches_venue(record: RunRecord, step: Step) -> Verdict:
    predicate = parse_predicate(step.fields["where"])
    firm = step.fields.get("firm")
    bad = []
    for arrival in record.arrivals:
        if firm and arrival.firm != firm:
            continue
        order = {"qty": arrival.qty, "price": arrival.price, "notional": arrival.notional, "side": arrival.side,
                 "symbol": arrival.symbol, "firm": arrival.firm, "ord_type": arrival.ord_type}
        if predicate(order):
            bad.append(arrival)
    if bad:
        first = bad[0]
        return Verdict(step, False, f"{len(bad)} orders matching '{predicate}' reached the venue, the first at "
                                    f"{_secs(first.time_ns - record.start_ns)}: {first.side} {first.qty:,} "
                                    f"{first.symbol} @ {first.price if first.price is not None else 'market'}")
    return Verdict(step, True, f"no order matching '{predicate}' reached the venue")


def _position_within(record: RunRecord, step: Step) -> Verdict:
    f = step.fields
    worst = record.max_position.get((f["firm"], f["symbol"]), 0)
    ok = worst <= f["max"]
    return Verdict(step, ok, f"largest |position| of {f['firm']} in {f['symbol']} was {worst:,} "
                             f"({'within' if ok else 'over'} {f['max']:,})")


def _loss_within(record: RunRecord, step: Step) -> Verdict:
    f = step.fields
    engine = record.engines[f["firm"]]
    pnl = engine.realized_pnl() + engine.unrealized_pnl()
    limit = Decimal(f["max"])
    ok = pnl >= -limit
    return Verdict(step, ok, f"P&L of {f['firm']} was {pnl:,.2f} ({'within' if ok else 'beyond'} a loss of {limit:,})")


def _nothing_else_pages(record: RunRecord, step: Step) -> Verdict:
    expected = {s.fields["alertname"] for s in record.scenario.expects if s.kind == "alert"}
    unexpected = []
    for page in record.pages():
        names = {a.name for a in page.alerts}
        if not names & expected:
            unexpected.append(page)
    if unexpected:
        first = unexpected[0].alerts[0]
        return Verdict(step, False, f"{len(unexpected)} unexpected page(s); the first: {first.name}: {first.symptom}")
    return Verdict(step, True, f"no other pages ({len(record.pages())} page(s) in all)")


def _journal_hash(record: RunRecord, step: Step) -> Verdict:
    want = step.fields["value"]
    ok = record.journal_hash == want
    return Verdict(step, ok, f"journal hash {record.journal_hash}" + ("" if ok else f", expected {want}"))


_JUDGES = {
    "alert": _alert, "no_alert": _no_alert, "halt": _halt, "caught_by": _caught_by,
    "no_order_reaches_venue": _no_order_reaches_venue, "position_within": _position_within,
    "loss_within": _loss_within, "nothing_else_pages": _nothing_else_pages, "journal_hash": _journal_hash,
}
