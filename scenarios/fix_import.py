"""``marketdrill import-fix``: turn real FIX message logs into a scenario that replays their order flow.

``import-fix LOG... --out SCENARIO.toml`` reads the logs with :mod:`scenarios.fix_logs` (QuickFIX,
QuickFIX/J, raw SOH streams, ``|``-delimited text; FIX 4.2 and 4.4; several files merged by
SendingTime, duplicates dropped) and writes a scenario:

* each NewOrderSingle(D) becomes a ``fat_finger`` inject (an order typed into the firm's order
  engine, the only order-carrying inject kind) at its time relative to the first message in the
  window, gaps divided by ``--speed``.  Limit and market orders only: ``fat_finger`` has no time
  in force, stop price or ClOrdID, so other order types are skipped and counted;
* cancels (F) and replaces (G) cannot be expressed by today's inject kinds: they are written as
  comments at their times.  ``--with-order-injects`` writes them as ``order``/``cancel``/``replace``
  injects instead (the spec's ``order``/``cancel``/``replace`` kinds, :data:`PROPOSED_INJECTS`); it
  refuses to run if :data:`scenarios.spec.INJECTS` lacks them, because a scenario that does not load is useless;
* one ``[[instrument]]`` per symbol: tick size = the largest decimal step dividing every price
  seen (orders and fills; the gcd, so the prices themselves are on the grid, which
  ``Instrument.to_ticks`` requires) unless ``--tick SYM=0.01``; reference price = the median price;
* one ``[[firm]]`` per SenderCompID of orders (``--firm ID`` keeps only that one), with
  ``--risk NAME=VALUE`` limits, or a commented ``[firm.risk]`` template sized from the log;
* the venue's answers (ExecutionReports, OrderCancelRejects) are the recorded outcome, kept as
  comments and as each inject's ``note``: the replay is judged by the simulator, not by the log;
* expectations to start from: ``nothing_else_pages``, and ``caught_by layer = "engine"`` after
  every order that looks like a fat finger (quantity >= 10x the symbol's median, or a limit price
  10% or more away from the median price).

The scenario is checked with :func:`scenarios.spec.parse_scenario` before it is written; one that
fails is a bug here (RuntimeError), not the user's problem.  Lines that do not parse are listed
with file, line and reason and the import goes on; a summary of messages read, used and skipped
(and why) ends the run.  No orders at all is an error (exit 2), never an empty scenario.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from math import gcd
from pathlib import Path
from statistics import median_low
from typing import Any

from scenarios.fix_logs import LogMessage, LogSet, read_logs
from scenarios.spec import INJECTS, ScenarioError, parse_scenario
from sim.fix.timestamps import format_utc_timestamp, parse_utc_timestamp

__all__ = ["ImportFailure", "PROPOSED_INJECTS", "import_fix", "import_main"]

QTY_FACTOR = 10  # an order this many times the median size is worth an expectation
PRICE_DEVIATION = Decimal("0.10")  # a limit this far from the median price, likewise
TAIL_NS = 10_000_000_000  # run on after the last order so acks, fills and monitors settle
MAX_LISTED_ISSUES = 20
ADMIN = {"0": "Heartbeat", "1": "TestRequest", "2": "ResendRequest", "3": "Reject", "4": "SequenceReset",
         "5": "Logout", "A": "Logon"}
SIDES = {"1": "buy", "2": "sell", "5": "sell", "6": "sell"}  # sell short (exempt) sells too
ORD_TYPES = {"1": "market", "2": "limit"}

#: The inject kinds ``--with-order-injects`` writes, proposed for scenarios/spec.py's INJECTS (same
#: (type, required) shape).  ``ref`` names the order for later cancels/replaces (the log's
#: ClOrdID; a replace keeps its order's ref, as OrderEngine.replace keeps the handle).
PROPOSED_INJECTS = {
    "order": {"firm": ("text", True), "symbol": ("text", True), "side": ("text", True),
              "qty": ("positive integer", True), "price": ("decimal price", False), "ord_type": ("text", False),
              "time_in_force": ("text", False), "ref": ("text", False), "strategy": ("text", False),
              "note": ("text", False)},
    "cancel": {"firm": ("text", True), "ref": ("text", True), "note": ("text", False)},
    "replace": {"firm": ("text", True), "ref": ("text", True), "qty": ("positive integer", False),
                "price": ("decimal price", False), "note": ("text", False)},
}


class ImportFailure(ValueError):
    """Nothing sensible to write (no orders, bad options): the CLI prints it and exits 2."""


@dataclass
class Order:
    """One NewOrderSingle and what the venue answered."""

    firm: str
    venue: str
    cl_ord_id: str
    symbol: str
    side: str
    qty: int
    price: Decimal | None
    time_ns: int
    where: str
    fills: int = 0
    filled_qty: int = 0
    rejects: int = 0
    acked: bool = False
    canceled: bool = False
    text: str = ""
    suspect: str = ""

    def outcome(self) -> str:
        """The recorded outcome in a few words."""
        parts = ["acked"] if self.acked else []
        if self.fills:
            parts.append(f"{self.fills} fill(s), {self.filled_qty:,} filled")
        if self.rejects:
            parts.append(f"rejected{f' ({self.text})' if self.text else ''}")
        if self.canceled:
            parts.append("canceled")
        return ", ".join(parts) or "no answer in the log"


@dataclass
class Amend:
    """A cancel (F) or replace (G) request and its target."""

    kind: str  # cancel | replace
    firm: str
    ref: str  # the root order's ClOrdID
    cl_ord_id: str
    time_ns: int
    qty: int | None = None
    price: Decimal | None = None
    rejected: str = ""


@dataclass
class Flow:
    """The order flow found in a log set, plus counts for the summary."""

    orders: list[Order] = field(default_factory=list)
    amends: list[Amend] = field(default_factory=list)
    fill_prices: dict[str, list[Decimal]] = field(default_factory=dict)
    used: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    start_ns: int = 0


def import_main(argv: list[str]) -> int:
    """``marketdrill import-fix``: parse arguments, import, print the summary; 0, or 2 on a user error."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed why
        return int(exc.code or 0)
    try:
        text, report = import_fix(args.logs, out=args.out, firm=args.firm, symbols=args.symbols,
                                  start=getattr(args, "from"), end=args.to, speed=args.speed,
                                  ticks=_pairs(args.tick, "--tick"), risk=_pairs(args.risk, "--risk"),
                                  with_order_injects=args.with_order_injects, name=args.name)
    except ImportFailure as exc:
        print(f"marketdrill import-fix: {exc}", file=sys.stderr)
        return 2
    print(report, file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="marketdrill import-fix", description="Import real FIX message logs as a "
                                "scenario's order flow (QuickFIX, QuickFIX/J, raw SOH or '|' text; FIX 4.2/4.4).")
    p.add_argument("logs", nargs="+", metavar="LOG", help="message log files, or FileLogPath directories")
    p.add_argument("--out", required=True, metavar="SCENARIO.toml")
    p.add_argument("--firm", help="import only this SenderCompID's orders")
    p.add_argument("--symbols", nargs="+", metavar="SYM", help="import only these symbols")
    p.add_argument("--from", metavar="T", help="start of the window: YYYYMMDD-HH:MM:SS[.fff] or HH:MM:SS[.fff]")
    p.add_argument("--to", metavar="T", help="end of the window (same forms)")
    p.add_argument("--speed", type=float, default=1.0, help="divide every gap by this (default 1)")
    p.add_argument("--tick", nargs="+", action="append", default=[], metavar="SYM=TICK", help="tick sizes")
    p.add_argument("--risk", nargs="+", action="append", default=[], metavar="LIMIT=VALUE",
                   help="engine limits for every firm, e.g. max_order_qty=1000 (docs/scenarios.md [firm.risk])")
    p.add_argument("--with-order-injects", action="store_true",
                   help="replay cancels and replaces too: write orders, cancels and replaces as order/cancel/replace injects (default: orders only, cancels and replaces as comments)")
    p.add_argument("--name", help="the scenario's name (default: the output file's stem)")
    return p


def _pairs(groups: list[list[str]], option: str) -> dict[str, str]:
    out = {}
    for item in (x for group in groups for x in group):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ImportFailure(f"{option} takes NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def import_fix(logs: list[str], *, out: str | Path, firm: str | None = None, symbols: list[str] | None = None,
               start: str | None = None, end: str | None = None, speed: float = 1.0,
               ticks: dict[str, str] | None = None, risk: dict[str, str] | None = None,
               with_order_injects: bool = False, name: str | None = None) -> tuple[str, str]:
    """Import ``logs`` into the scenario file ``out``; returns (scenario text, summary report)."""
    if not speed > 0:
        raise ImportFailure(f"--speed must be positive, got {speed}")
    if with_order_injects and not set(PROPOSED_INJECTS) <= set(INJECTS):
        raise ImportFailure("--with-order-injects needs the inject kinds order/cancel/replace, which this "
                            "marketdrill does not have yet; import without it (cancels/replaces become comments)")
    tick_sizes = {sym: _decimal(value, f"--tick {sym}") for sym, value in (ticks or {}).items()}
    risk_values = _risk(risk or {})
    logset = read_logs(logs)
    if not logset.messages and not logset.issues:
        raise ImportFailure("no log files given")
    window = (_when(start, logset, "--from"), _when(end, logset, "--to"))
    flow = _collect(logset, firm, set(symbols or ()), window)
    if not flow.orders:
        raise ImportFailure(f"no orders (NewOrderSingle) to import{_why_none(firm, symbols, logset)}\n"
                            + _summary(logset, flow, None))
    instruments = _instruments(flow, tick_sizes)
    out = Path(out)
    text = _render(flow, instruments, logset, risk_values, speed, with_order_injects, name or out.stem, logs)
    try:
        parse_scenario(text, source=str(out))
    except ScenarioError as exc:  # everything above was meant to make this impossible
        raise RuntimeError(f"bug in import-fix: the generated scenario does not load: {exc}") from None
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ImportFailure(f"cannot write {out}: {exc.strerror or exc}") from None
    return text, _summary(logset, flow, out)


# -- READING THE FLOW -----------------------------------------------------------------------------


def _collect(logset: LogSet, firm: str | None, symbols: set[str], window: tuple[int | None, int | None]) -> Flow:
    flow = Flow()
    orders: dict[tuple[str, str], Order] = {}
    alias: dict[tuple[str, str], str] = {}  # (firm, ClOrdID) -> root ClOrdID, through replaces
    amends: dict[tuple[str, str], Amend] = {}
    if firm and not any(m.text(49) == firm for m in logset.messages if m.msg_type == "D"):
        senders = sorted({m.text(49) or "?" for m in logset.messages if m.msg_type == "D"})
        raise ImportFailure(f"--firm {firm}: no orders from that SenderCompID (senders of orders: "
                            f"{', '.join(senders) or 'none'})")
    for m in logset.messages:
        if (window[0] is not None and m.time_ns < window[0]) or (window[1] is not None and m.time_ns > window[1]):
            flow.skipped["outside --from/--to"] += 1
            continue
        flow.start_ns = flow.start_ns or m.time_ns  # timing is relative to the first message in the window
        kind, sender = m.msg_type, m.text(49) or "?"
        if kind in ADMIN:
            flow.skipped[f"session-level ({ADMIN[kind]})"] += 1
        elif kind in ("D", "F", "G") and firm and sender != firm:
            flow.skipped[f"another firm's order messages (--firm {firm})"] += 1
        elif kind in ("D", "F", "G") and symbols and m.text(55) not in symbols:
            flow.skipped["another symbol (--symbols)"] += 1
        elif kind == "D":
            order, why = _order(m)
            if order is None:
                flow.skipped[why] += 1
            else:
                orders[(order.firm, order.cl_ord_id)] = order
                alias[(order.firm, order.cl_ord_id)] = order.cl_ord_id
                flow.orders.append(order)
                flow.used["orders (NewOrderSingle)"] += 1
        elif kind in ("F", "G"):
            root = alias.get((sender, m.text(41) or ""))
            if root is None:
                flow.skipped["cancel/replace of an order not in the import"] += 1
                continue
            amend = Amend("cancel" if kind == "F" else "replace", sender, root, m.text(11) or "", m.time_ns)
            if kind == "G":
                amend.qty, amend.price = _int(m.text(38)), _decimal_or_none(m.text(44))
                alias[(sender, amend.cl_ord_id)] = root
            amends[(sender, amend.cl_ord_id)] = amend
            flow.amends.append(amend)
            flow.used[f"{amend.kind} requests"] += 1
        elif kind in ("8", "9"):
            target = m.text(56) or "?"
            key = next(((target, alias[k]) for k in ((target, m.text(11) or ""), (target, m.text(41) or ""))
                        if k in alias), None)
            if key is None:
                flow.skipped["answers to orders not in the import"] += 1
                continue
            flow.used["execution reports" if kind == "8" else "cancel rejects"] += 1
            if kind == "9" and (target, m.text(11) or "") in amends:
                amends[(target, m.text(11) or "")].rejected = m.text(58) or "rejected"
            elif kind == "8":
                _answer(orders[key], m, flow)
        else:
            flow.skipped[f"MsgType {kind} (not order flow)"] += 1
    return flow


def _order(m: LogMessage) -> tuple[Order | None, str]:
    """A NewOrderSingle as an Order, or why it cannot be replayed."""
    side, ord_type = SIDES.get(m.text(54) or ""), ORD_TYPES.get(m.text(40) or "")
    qty, symbol = _int(m.text(38)), m.text(55)
    if not symbol:
        return None, "orders without Symbol(55)"
    if side is None:
        return None, f"orders with Side(54)={m.text(54)} (only buy/sell replay)"
    if ord_type is None:
        return None, f"orders with OrdType(40)={m.text(40)} (fat_finger is limit or market only)"
    if qty is None or qty <= 0:
        return None, "orders without a positive whole OrderQty(38)"
    price = _decimal_or_none(m.text(44)) if ord_type == "limit" else None
    if ord_type == "limit" and (price is None or price <= 0):
        return None, "limit orders without a positive Price(44)"
    return Order(m.text(49) or "?", m.text(56) or "VENUE", m.text(11) or "?", symbol, side, qty, price,
                 m.time_ns, m.where), ""


def _answer(order: Order, m: LogMessage, flow: Flow) -> None:
    exec_type, status = m.text(150), m.text(39)
    if exec_type in ("1", "2", "F") or (exec_type is None and status in ("1", "2")):  # 4.2 1/2, 4.4 F
        order.fills += 1
        order.filled_qty += _int(m.text(32)) or 0
        price = _decimal_or_none(m.text(31))
        if price is not None and price > 0:
            flow.fill_prices.setdefault(order.symbol, []).append(price)
    elif exec_type == "8" or (exec_type is None and status == "8"):
        order.rejects += 1
        order.text = order.text or (m.text(58) or "")
    elif exec_type == "4":
        order.canceled = True
    if exec_type == "0" or status == "0":
        order.acked = True


# -- INSTRUMENTS AND SUSPECTS ---------------------------------------------------------------------


def _instruments(flow: Flow, ticks: dict[str, Decimal]) -> dict[str, tuple[Decimal, Decimal, str]]:
    """symbol -> (tick size, reference price, how the tick was chosen); marks suspects."""
    out = {}
    for symbol in sorted({o.symbol for o in flow.orders}):
        orders = [o for o in flow.orders if o.symbol == symbol]
        limits = [o.price for o in orders if o.price is not None]
        prices = limits + [a.price for a in flow.amends if a.price is not None and any(
            o.cl_ord_id == a.ref and o.symbol == symbol for o in orders)] + flow.fill_prices.get(symbol, [])
        if not prices:
            raise ImportFailure(f"{symbol}: only market orders and no fill prices: no price to set the "
                                f"instrument's reference from")
        tick, how = (ticks[symbol], "given by --tick") if symbol in ticks else _infer_tick(prices)
        off_grid = [p for p in prices if p % tick]
        if off_grid:
            raise ImportFailure(f"{symbol}: price {off_grid[0]} is not a multiple of the tick size {tick}")
        reference = median_low(limits or prices)
        qty_median = median_low([o.qty for o in orders])
        for o in orders:
            if o.qty >= QTY_FACTOR * qty_median and o.qty > qty_median:
                o.suspect = f"qty {o.qty:,} is {o.qty / qty_median:,.0f}x the median order size ({qty_median:,})"
            elif o.price is not None and abs(o.price - reference) >= PRICE_DEVIATION * reference:
                o.suspect = f"price {o.price} is {abs(o.price - reference) / reference:.0%} away from the median {reference}"
        out[symbol] = (tick, reference, how)
    return out


def _infer_tick(prices: list[Decimal]) -> tuple[Decimal, str]:
    """The largest decimal step dividing every price (so every difference too)."""
    places = max(-min(p.as_tuple().exponent, 0) for p in prices)
    scaled = {int(p.scaleb(places)) for p in prices}
    if len(scaled) < 2:  # one price says nothing about the grid: its last decimal place
        return Decimal(1).scaleb(-places), f"one price seen ({prices[0]}): its last decimal place"
    step = 0
    for value in scaled:
        step = gcd(step, value)
    return Decimal(step).scaleb(-places), f"the largest step dividing all {len(scaled)} distinct prices"


# -- WRITING THE SCENARIO -------------------------------------------------------------------------


def _render(flow: Flow, instruments: dict[str, tuple[Decimal, Decimal, str]], logset: LogSet,
            risk: dict[str, Any], speed: float, order_injects: bool, name: str, logs: list[str]) -> str:
    """The scenario TOML: a commented header with the recorded outcome, the market, the steps."""
    at = {id(x): round((x.time_ns - flow.start_ns) / speed) for x in [*flow.orders, *flow.amends]}
    duration = (max(at.values()) + TAIL_NS + 999_999_999) // 1_000_000_000 * 1_000_000_000
    lines = _header(flow, speed, order_injects, len(logs))
    firms = sorted({o.firm for o in flow.orders})
    summary = f"Order flow of {len(flow.orders)} orders by {', '.join(firms)} imported from FIX logs"
    lines += ["[scenario]", f"name = {_q(name)}", f"summary = {_q(summary)}",
              f"references = [{', '.join(_q(str(p)) for p in logs)}]", "seed = 0",
              f"duration = {_q(_duration(duration))}", 'tags = ["imported", "fix-log"]', "",
              "[venue]", f"comp_id = {_q(Counter(o.venue for o in flow.orders).most_common(1)[0][0])}", ""]
    for symbol, (tick, reference, how) in instruments.items():
        lines += ["[[instrument]]", f"symbol = {_q(symbol)}", f"tick_size = {_q(_num(tick))}  # {how}",
                  f"reference_price = {_q(_num(reference))}  # the median limit price in the log", ""]
    for firm in firms:
        lines += ["[[firm]]", f"id = {_q(firm)}", f"comp_id = {_q(firm)}"]
        if risk:
            lines += ["[firm.risk]"] + [f"{k} = {v if isinstance(v, int) else _q(v)}" for k, v in risk.items()]
        else:  # a template, not limits: the user decides what their engine would have had
            size = QTY_FACTOR * median_low([o.qty for o in flow.orders if o.firm == firm])
            lines += ["# No --risk limits given, so the engine checks nothing; uncomment to try some (sized from",
                      "# the log), or re-import with --risk max_order_qty=N:", "# [firm.risk]",
                      f"# max_order_qty = {size}  # {QTY_FACTOR}x the median order size",
                      f"# price_collar_bps = {int(PRICE_DEVIATION * 10_000)}  # {PRICE_DEVIATION:.0%} from the reference"]
        lines.append("")
    lines += ["# [agents]", "# enabled = true  # a background market to trade against", ""]
    index, expects = 0, []
    for step in sorted([*flow.orders, *flow.amends], key=lambda x: x.time_ns):
        when = _q(_duration(at[id(step)]))
        if isinstance(step, Order):
            index += 1
            lines += [f"# {step.where}", "[[inject]]", f"at = {when}",
                      f"kind = {_q('order' if order_injects else 'fat_finger')}", f"firm = {_q(step.firm)}",
                      f"symbol = {_q(step.symbol)}", f"side = {_q(step.side)}", f"qty = {step.qty}",
                      f"price = {_q(_num(step.price))}" if step.price is not None else 'ord_type = "market"']
            lines += [f"ref = {_q(step.cl_ord_id)}"] if order_injects else []
            lines += [f"note = {_q(f'ClOrdID {step.cl_ord_id}; recorded: {step.outcome()}')}", ""]
            if step.suspect:
                expects.append((index, step))
            continue
        change = "".join([f" qty {step.qty}" if step.qty else "", f" price {step.price}" if step.price else ""])
        recorded = f"; recorded: rejected ({step.rejected})" if step.rejected else ""
        if order_injects:
            index += 1
            lines += ["[[inject]]", f"at = {when}", f"kind = {_q(step.kind)}", f"firm = {_q(step.firm)}",
                      f"ref = {_q(step.ref)}"]
            lines += [f"qty = {step.qty}"] if step.qty else []
            lines += [f"price = {_q(_num(step.price))}"] if step.price else []
            lines += [f"note = {_q(f'ClOrdID {step.cl_ord_id}{recorded}')}", ""]
        else:
            lines += [f"# at {when[1:-1]}: {step.firm} {step.kind} of order {step.ref}{' to' + change if change else ''}"
                      f" (ClOrdID {step.cl_ord_id}{recorded}): not replayed", ""]
    for position, order in expects:
        lines += [f"# {order.cl_ord_id} looks like a fat finger: {order.suspect}. Which layer stops it?",
                  "[[expect]]", 'kind = "caught_by"', 'layer = "engine"', f"firm = {_q(order.firm)}",
                  f"after = {position}", ""]
    lines += ["[[expect]]", 'kind = "nothing_else_pages"', ""]
    return "\n".join(lines) + "\n"


def _header(flow: Flow, speed: float, order_injects: bool, paths: int) -> list[str]:
    """Comments: where the flow came from, what is and is not replayed, what the venue answered."""
    stamp = format_utc_timestamp(flow.start_ns).decode()
    scaled = f", gaps divided by {speed:g}" if speed != 1 else ""
    lines = [f"# Imported by `marketdrill import-fix` from {paths} FIX log path(s); timeline starts at {stamp}",
             f"# (SendingTime, UTC), times below are relative to it{scaled}.", "#",
             "# Each NewOrderSingle is an order typed into its firm's engine at its recorded time"
             + (" (proposed `order` inject)." if order_injects else " (`fat_finger` inject)."),
             "# The market is empty unless you uncomment [agents]: the log's orders only meet each other."]
    if flow.amends and not order_injects:
        lines += ["# Cancels and replaces are NOT replayed: no inject kind can express them yet (proposed:",
                  "# `cancel` {firm, ref} and `replace` {firm, ref, qty, price}; see --with-order-injects).",
                  "# They are listed as comments where they happened."]
    lines += ["#", "# Recorded outcome (the venue's answers in the log):"]
    lines += [f"#   {o.firm} {o.cl_ord_id}: {o.side} {o.qty:,} {o.symbol} @ {o.price or 'market'}: {o.outcome()}"
              for o in flow.orders]
    filled, rejected = sum(o.fills > 0 for o in flow.orders), sum(o.rejects > 0 for o in flow.orders)
    lines += [f"#   in all: {len(flow.orders)} orders, {filled} filled, {rejected} rejected, "
              f"{sum(o.fills for o in flow.orders)} fills; {len(flow.amends)} cancel/replace requests", ""]
    return lines


def _summary(logset: LogSet, flow: Flow, out: Path | None) -> str:
    lines = ["files:"] + [f"  {path}: {layout}" for path, layout in logset.formats.items()]
    if logset.issues:
        lines.append(f"not used ({len(logset.issues)} lines or files):")
        lines += [f"  {issue}" for issue in logset.issues[:MAX_LISTED_ISSUES]]
        if len(logset.issues) > MAX_LISTED_ISSUES:
            lines.append(f"  ... and {len(logset.issues) - MAX_LISTED_ISSUES} more")
    skipped = flow.skipped + Counter({f"duplicates: {k}": v for k, v in logset.duplicates.items()})
    lines.append(f"messages read: {logset.read}; used: {sum(flow.used.values())}; skipped: {sum(skipped.values())}")
    lines += [f"  used   {n:6d} {why}" for why, n in flow.used.most_common()]
    lines += [f"  skipped {n:5d} {why}" for why, n in skipped.most_common()]
    if out is not None:
        suspects = [o for o in flow.orders if o.suspect]
        lines.append(f"wrote {out}: {len(flow.orders)} orders, {len(flow.amends)} cancels/replaces, "
                     f"{len(suspects)} possible fat finger(s){': ' if suspects else ''}"
                     + "; ".join(f"{o.cl_ord_id} ({o.suspect})" for o in suspects))
    return "\n".join(lines)


def _why_none(firm: str | None, symbols: list[str] | None, logset: LogSet) -> str:
    if not logset.messages:
        return ": no message in the logs could be read"
    return " in the window/filters given" if firm or symbols else " in these logs"


def _when(text: str | None, logset: LogSet, option: str) -> int | None:
    """--from/--to: a full UTCTimestamp, or a time of day on the first message's date."""
    if text is None:
        return None
    value = parse_utc_timestamp(text.encode())
    if value is None and logset.messages:
        day = format_utc_timestamp(logset.messages[0].time_ns, millis=False)[:9]
        value = parse_utc_timestamp(day + text.encode())
    if value is None:
        raise ImportFailure(f"{option} {text!r}: expected YYYYMMDD-HH:MM:SS[.fff] or HH:MM:SS[.fff]")
    return value


def _risk(raw: dict[str, str]) -> dict[str, Any]:
    """--risk values, checked against RiskLimits now so a typo is a usage error, not a bug."""
    from engines.alert_config import ConfigError, parse_duration
    from engines.risk import RiskLimits

    values: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in RiskLimits.names():
            raise ImportFailure(f"--risk {key}: unknown limit (limits: {', '.join(RiskLimits.names())})")
        values[key] = int(text) if text.lstrip("-").isdigit() else text
    try:
        RiskLimits(**{k: (parse_duration(v, k) if k.endswith("_ns") and isinstance(v, str) else v)
                      for k, v in values.items()})
    except (TypeError, ValueError, ConfigError) as exc:
        raise ImportFailure(f"--risk: {exc}") from None
    return values


def _duration(ns: int) -> str:
    """Integer ns as the scenario's duration text, exactly: ``1s250ms``."""
    parts = []
    for unit, size in (("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000),
                       ("ms", 1_000_000), ("us", 1_000), ("ns", 1)):
        count, ns = divmod(ns, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _int(text: str | None) -> int | None:
    value = _decimal_or_none(text)
    return int(value) if value is not None and value == value.to_integral_value() else None


def _decimal_or_none(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _decimal(text: str, what: str) -> Decimal:
    value = _decimal_or_none(text)
    if value is None or value <= 0:
        raise ImportFailure(f"{what}: expected a positive decimal like 0.01, got {text!r}")
    return value
