"""The venue's order log: a write-ahead, append-only record of every order state it reported.

Opt-in (``[venue] state_dir`` in the venue config; virtual-time scenarios never have one).  With
it, a venue killed at any instant (SIGKILL included) and restarted on the same directory has
every order it acknowledged back: same OrderID, ClOrdID chain, firm, session, quantities and
state, resting in its book in the same price-time priority, with the OrderID and ExecID counters
past everything it ever sent, and the kill switches as they were.

Write-ahead point
-----------------
:meth:`sim.venue_gateway.VenueGateway.dispatch` is the one place every ExecutionReport leaves the
venue through (order entry, cancel-on-disconnect, kill switches, auctions, timers).  It calls
:meth:`OrderLog.record` *first*, before any event is rendered into FIX and handed to a session;
only then does ``Session.send`` store the outgoing message in its FIX store
(:class:`sim.fix.store.FileStore`) and queue it for the socket.  So, in file order of events,
the order state is written before the message reporting it exists anywhere: a message in the
session store (or on the wire) whose order is missing from the order log cannot happen.  The
reverse can (killed after the log write, before the send): an order the venue has but never
acknowledged, which is harmless; the client learns it with an OrderStatusRequest, or its resent
NewOrderSingle (PossDupFlag=Y) is answered with the order's status.

Format
------
UTF-8 JSON lines.  The first is a header, ``{"marketdrill_order_log":1,"created_ns":N}``; then one
line per dispatched command::

    {"ids":[next_book_id,next_exec_id,next_priority],
     "orders":[{"book_id":7,"order_id":"O7","firm":"A","owner":"FIX.4.4:VENUE->A","cl_ord_id":"c2",
                "orig_cl_ord_id":"c1","symbol":"PRB","side":1,"ord_type":"2","time_in_force":"0",
                "order_qty":10,"price":10005,"cum_qty":4,"notional":40020,"done":false,"status":"1",
                "cl_ord_ids":["c1","c2"],"priority":9,"post_only":false,"tick":"0.01"}, ...],
     "kill":{"firms":["B"],"owners":[]}}

``orders`` holds the state, *after* the command, of every order the command reported on (the
last line naming an OrderID wins); ``kill`` appears when the kill switches changed; a command
that only consumed an ExecID (a status request, a reject before the book) writes just ``ids``.
Prices are integer ticks (``tick`` is the tick size they count in: a restart refuses to put an
order back on a grid that changed), quantities integers.  One line per command, not per order, so both
sides of a trade become durable together: a torn line loses the whole command, which nobody was
told about, because the send comes after the write returned.

Durability (``sync``)
---------------------
* ``"flush"`` (default): each line is one ``write(2)`` before anything is sent.  The kernel then
  has it, so it survives the process being killed at any instant (SIGKILL, OOM killer); an OS
  crash or power loss can lose what the kernel had not yet written back.
* ``"fsync"``: ``fsync`` after every line as well (and the venue's FIX file stores fsync every
  record).  Survives power loss: the order log is on disk before its message is even stored.
  Costs one fsync per command (0.1-10 ms depending on the disk).

Recovery on open
----------------
A torn last line (no trailing newline, or a last line that is not JSON: the process or the
machine died mid-write) is cut off and reported in :attr:`OrderLog.recovery` (and logged).  Any
other line that does not read (bad JSON before the end, a missing or mistyped field, a bad
header) raises :class:`OrderLogCorruptError` naming the file and the line: a damaged record in
the middle is never skipped, later ones may depend on it.  Orders of background agents (which
trade straight on the exchange and whose reports go nowhere) are not logged: a restarted venue's
agents start afresh.

A failed write (disk full) is fail-stop: :attr:`OrderLog.failed` is set and every later
:meth:`OrderLog.record` raises, so the venue sends no further ExecutionReport (the session answers
the command with BusinessMessageReject) until it is restarted on what is durable.

Compaction: when more than 4096 superseded order records outnumber the live ones, opening
rewrites the file to one record per order (temp file, fsync, rename), so the log stays
proportional to the orders of the day rather than to their changes.

One writer per file: the log is ``flock``-ed while open, so a second venue on the same state
directory gets :class:`OrderLogError` instead of interleaving lines.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.exchange import Order
from sim.venue_events import ExecReport, ExecType, OrdStatus, OrdType, TimeInForce, VenueEvent

if TYPE_CHECKING:
    from sim.exchange import Exchange

__all__ = ["OrderLog", "OrderLogCorruptError", "OrderLogError", "TornTail", "order_log_path"]

log = logging.getLogger(__name__)

_MAGIC = "marketdrill_order_log"
_VERSION = 1
_SYNCS = ("flush", "fsync")
_COMPACT_AFTER = 4096
_STATUS = ExecType.ORDER_STATUS
# Field -> accepted JSON types of one order record (bool is excluded from int where it matters below).
_FIELDS: dict[str, tuple[type, ...]] = {
    "book_id": (int,), "order_id": (str,), "firm": (str,), "owner": (str,), "cl_ord_id": (str,),
    "orig_cl_ord_id": (str, type(None)), "symbol": (str,), "side": (int,), "ord_type": (str,),
    "time_in_force": (str, type(None)), "order_qty": (int,), "price": (int, type(None)), "cum_qty": (int,),
    "notional": (int,), "done": (bool,), "status": (str,), "cl_ord_ids": (list,), "priority": (int,),
    "post_only": (bool,), "tick": (str,),
}


class OrderLogError(Exception):
    """The order log could not be opened, read or written."""


class OrderLogCorruptError(OrderLogError):
    """A line of the order log does not read, somewhere other than a torn last line."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: corrupt order log: {reason}")
        self.path, self.line, self.reason = path, line, reason


@dataclass(frozen=True, slots=True)
class TornTail:
    """What opening the log had to repair: a torn last line, cut off."""

    path: Path
    line: int
    dropped_bytes: int
    reason: str


def order_log_path(state_dir: str | os.PathLike[str], comp_id: str) -> Path:
    """Where a venue with CompID ``comp_id`` keeps its order log under ``state_dir``."""
    safe = "".join(c if c.isalnum() or c in "._" else "_" for c in comp_id)
    return Path(state_dir) / f"{safe}.orders.jsonl"


class OrderLog:
    """A venue's append-only order log: :meth:`record` before sending, :meth:`rebuild` on restart."""

    def __init__(self, path: str | os.PathLike[str], *, sync: str = "flush",
                 now_ns: Callable[[], int] = time.time_ns, compact_on_open: bool = True) -> None:
        if sync not in _SYNCS:
            raise ValueError(f"sync must be one of {', '.join(_SYNCS)}, got {sync!r}")
        self.path = Path(path)
        self.sync = sync
        self.recovery: TornTail | None = None
        self.failed: str | None = None  # why a write failed; then every later record() refuses
        # The replayed state: the last record of each order, the ID counters and the kill switches.
        self.orders: dict[str, dict[str, Any]] = {}
        self.counters = (1, 1, 1)
        self.kill: tuple[frozenset[str], frozenset[str]] | None = None
        # Where the kill switches live (the venue's Protections); read on each record.
        self.kill_switches: Callable[[], tuple[Iterable[str], Iterable[str]]] | None = None
        self._fd = -1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            _lock(fd, self.path)
            with open(fd, "rb", closefd=False) as f:
                data = f.read()
            self._created: int | None = None
            superseded = self._replay(data, fd) if data else 0
            if self._created is None:  # a new file, or one whose torn header was cut away
                self._created = now_ns()
                os.write(fd, _header(self._created))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if compact_on_open and superseded > _COMPACT_AFTER and superseded > len(self.orders):
            self.compact()

    # -- REPLAY --------------------------------------------------------------------------------

    def _replay(self, data: bytes, fd: int) -> int:
        """Fold the file into ``orders``/``counters``/``kill``; returns how many records were superseded."""
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        offset = 0
        records = 0
        for number, raw in enumerate(lines, start=1):
            last = number == len(lines) and not tail
            try:
                entry = json.loads(raw)
            except ValueError as exc:
                if last and (number > 1 or _torn_header(raw)):
                    self._cut(fd, offset, number, len(data) - offset, f"last line is not JSON ({exc})")
                    return records - len(self.orders)
                raise OrderLogCorruptError(self.path, number, f"not JSON ({exc})") from None
            if number == 1:
                self._created = _check_header(entry, self.path)
            else:
                records += self._apply(entry, number)
            offset += len(raw) + 1
        if not lines and not _torn_header(tail):
            raise OrderLogCorruptError(self.path, 1, "not a marketdrill order log (no header line)")
        if tail:
            self._cut(fd, offset, len(lines) + 1, len(tail), "last line has no newline (torn write)")
        return records - len(self.orders)

    def _apply(self, entry: Any, number: int) -> int:
        if not isinstance(entry, dict) or "ids" not in entry:
            raise OrderLogCorruptError(self.path, number, "expected an object with 'ids'")
        ids = entry["ids"]
        if not (isinstance(ids, list) and len(ids) == 3 and all(_is_int(i) and i >= 1 for i in ids)):
            raise OrderLogCorruptError(self.path, number, f"'ids' must be three integers >= 1, got {ids!r}")
        unknown = set(entry) - {"ids", "orders", "kill"}
        if unknown:
            raise OrderLogCorruptError(self.path, number, f"unknown keys {sorted(unknown)}")
        self.counters = (ids[0], ids[1], ids[2])
        orders = entry.get("orders", [])
        if not isinstance(orders, list):
            raise OrderLogCorruptError(self.path, number, "'orders' must be a list")
        for record in orders:
            problem = _check_order(record)
            if problem:
                raise OrderLogCorruptError(self.path, number, problem)
            self.orders[record["order_id"]] = record
        if "kill" in entry:
            kill = entry["kill"]
            if not (isinstance(kill, dict) and set(kill) == {"firms", "owners"}
                    and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in kill.values())):
                raise OrderLogCorruptError(self.path, number, f"'kill' must be {{firms: [..], owners: [..]}}, "
                                                              f"got {kill!r}")
            self.kill = (frozenset(kill["firms"]), frozenset(kill["owners"]))
        return len(orders)

    def _cut(self, fd: int, offset: int, line: int, dropped: int, reason: str) -> None:
        """Drop a torn tail so the next line starts clean, and say so."""
        self.recovery = TornTail(self.path, line, dropped, reason)
        log.warning("%s:%d: torn order log tail (%s): dropped %d bytes", self.path, line, reason, dropped)
        os.ftruncate(fd, offset)
        os.fsync(fd)

    # -- REBUILD -------------------------------------------------------------------------------

    def rebuild(self, exchange: Exchange) -> list[str]:
        """Put the replayed orders and ID counters into a fresh exchange; returns the held symbols.

        Held symbols had open orders that can only wait in an auction call (see
        :meth:`sim.exchange.Exchange.restore`).  The replayed records are released afterwards
        (the exchange holds the orders now).
        """
        for record in self.orders.values():
            symbol = record["symbol"]
            if not record["done"] and symbol in exchange.instruments:
                tick = exchange.instruments.get(symbol).tick_size
                if Decimal(record["tick"]) != tick:
                    raise OrderLogError(
                        f"{self.path}: cannot rebuild the venue: open order {record['order_id']} on {symbol} is priced "
                        f"in ticks of {record['tick']}, the venue config says {tick} (a tick change made through the "
                        f"admin API is not in the config: put it there, or cancel the order)")
        orders = [_order(record) for record in self.orders.values()]
        try:
            held = exchange.restore(orders, self.counters)
        except ValueError as exc:
            raise OrderLogError(f"{self.path}: cannot rebuild the venue: {exc}") from None
        self.orders = {}
        return held

    # -- RECORD --------------------------------------------------------------------------------

    def record(self, exchange: Exchange, events: list[VenueEvent]) -> None:
        """Write what ``events`` report (and changed kill switches) as one line, before any is sent.

        Order states are read from the exchange, so each line holds the orders as the command left
        them.  Nothing is written for an event list without an ExecutionReport and with the kill
        switches unchanged (market data, phase changes, cancel rejects).
        """
        reported = False
        changed: dict[int, Order] = {}
        for event in events:
            if type(event) is ExecReport:
                reported = True
                if event.exec_type is not _STATUS:  # a status report changes no order
                    order = exchange.order_by_id(event.firm, event.order_id)
                    if order is not None:
                        changed[order.book_id] = order
        kill = None
        if self.kill_switches is not None:
            firms, owners = self.kill_switches()
            now = (frozenset(firms), frozenset(owners))
            if now != (self.kill or (frozenset(), frozenset())):
                kill = now
        if not reported and kill is None:
            return
        line: dict[str, Any] = {"ids": list(exchange.id_counters())}
        if changed:
            instruments = exchange.instruments
            line["orders"] = [_record(order, str(instruments.get(order.symbol).tick_size))
                              for order in changed.values()]
        if kill is not None:
            line["kill"] = {"firms": sorted(kill[0]), "owners": sorted(kill[1])}
        self._write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
        if kill is not None:
            self.kill = kill

    def _write(self, data: bytes) -> None:
        if self.failed is not None:
            raise OrderLogError(f"{self.path}: order log failed earlier ({self.failed}); nothing more is reported")
        if self._fd < 0:
            raise OrderLogError(f"{self.path}: order log is closed")
        view = memoryview(data)
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, view[done:])
            if self.sync == "fsync":
                os.fsync(self._fd)
        except OSError as exc:
            # Fail-stop: from now on every command's reports are refused (the session answers
            # BusinessMessageReject), so nothing is acknowledged that a restart would not have.
            self.failed = f"{type(exc).__name__}: {exc}"
            log.critical("%s: order log write failed (%s): the venue stops acknowledging", self.path, self.failed)
            raise OrderLogError(f"{self.path}: order log write failed: {self.failed}") from None

    # -- LIFECYCLE -----------------------------------------------------------------------------

    def compact(self) -> None:
        """Rewrite the file to one record per replayed order (atomic: temp file, fsync, rename)."""
        body = [_header(self._created)]
        ids = list(self.counters)
        records = list(self.orders.values())
        for start in range(0, len(records), 256):
            body.append(json.dumps({"ids": ids, "orders": records[start:start + 256]},
                                   separators=(",", ":")).encode() + b"\n")
        if self.kill is not None:
            kill = {"firms": sorted(self.kill[0]), "owners": sorted(self.kill[1])}
            body.append(json.dumps({"ids": ids, "kill": kill}, separators=(",", ":")).encode() + b"\n")
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.writelines(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename is durable only once the directory entry is
        finally:
            os.close(dir_fd)
        if self._fd >= 0:
            os.close(self._fd)  # the old inode; its lock goes with it
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        _lock(self._fd, self.path)

    def close(self) -> None:
        """Close the file (fsync first when ``sync="fsync"``)."""
        if self._fd < 0:
            return
        try:
            if self.sync == "fsync":
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._fd < 0


def _lock(fd: int, path: Path) -> None:
    """Refuse a second writer: two venues appending to one log would interleave their lines."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows; still correct with one writer
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OrderLogError(f"{path}: order log is already open (in this or another process)") from None


def _header(created_ns: int) -> bytes:
    return json.dumps({_MAGIC: _VERSION, "created_ns": created_ns}, separators=(",", ":")).encode() + b"\n"


def _torn_header(tail: bytes) -> bool:
    """True if ``tail`` can be the start of a header line cut short (or a zero-filled block)."""
    prefix = b'{"' + _MAGIC.encode() + b'":'
    return tail == bytes(len(tail)) or prefix.startswith(tail) or tail.startswith(prefix)


def _check_header(entry: Any, path: Path) -> int:
    if not isinstance(entry, dict) or _MAGIC not in entry:
        raise OrderLogCorruptError(path, 1, "not a marketdrill order log (no header line)")
    if entry[_MAGIC] != _VERSION:
        raise OrderLogCorruptError(path, 1, f"order log version {entry[_MAGIC]!r}, this venue reads {_VERSION}")
    created = entry.get("created_ns")
    if not _is_int(created):
        raise OrderLogCorruptError(path, 1, f"created_ns must be an integer, got {created!r}")
    return created


def _is_int(value: object) -> bool:
    return type(value) is int


def _check_order(record: Any) -> str | None:
    """None if ``record`` is a well-formed order record, else what is wrong with it."""
    if not isinstance(record, dict):
        return f"an order record must be an object, got {record!r}"
    if set(record) != set(_FIELDS):
        missing, extra = set(_FIELDS) - set(record), set(record) - set(_FIELDS)
        return f"order record {record.get('order_id')!r}: missing {sorted(missing)}, unknown {sorted(extra)}"
    for key, kinds in _FIELDS.items():
        value = record[key]
        if type(value) not in kinds:
            return f"order {record['order_id']!r}: {key} must be {' or '.join(k.__name__ for k in kinds)}, " \
                   f"got {value!r}"
    try:
        OrdType(record["ord_type"])
        OrdStatus(record["status"])
        if record["time_in_force"] is not None:
            TimeInForce(record["time_in_force"])
        if not Decimal(record["tick"]) > 0:
            raise ValueError(f"tick {record['tick']!r} is not positive")
    except (ValueError, InvalidOperation) as exc:
        return f"order {record['order_id']!r}: {exc}"
    if record["side"] not in (1, 2) or record["order_qty"] <= 0 or record["cum_qty"] < 0:
        return f"order {record['order_id']!r}: side, order_qty or cum_qty out of range"
    if not record["done"] and record["cum_qty"] >= record["order_qty"]:
        return f"order {record['order_id']!r}: open with no leaves quantity"
    if not all(isinstance(c, str) for c in record["cl_ord_ids"]) or record["cl_ord_id"] not in record["cl_ord_ids"]:
        return f"order {record['order_id']!r}: cl_ord_ids must be strings including cl_ord_id"
    return None


def _record(order: Order, tick: str) -> dict[str, Any]:
    """One order as a JSON-ready record (the inverse of :func:`_order`); ``tick``: its symbol's tick size."""
    tif = order.time_in_force
    return {"book_id": order.book_id, "order_id": order.order_id, "firm": order.firm, "owner": order.owner,
            "cl_ord_id": order.cl_ord_id, "orig_cl_ord_id": order.orig_cl_ord_id, "symbol": order.symbol,
            "side": order.side, "ord_type": order.ord_type.value,
            "time_in_force": tif.value if tif is not None else None, "order_qty": order.order_qty,
            "price": order.price, "cum_qty": order.cum_qty, "notional": order.notional, "done": order.done,
            "status": order.status.value, "cl_ord_ids": list(order.cl_ord_ids), "priority": order.priority,
            "post_only": order.post_only, "tick": tick}


def _order(record: dict[str, Any]) -> Order:
    tif = record["time_in_force"]
    return Order(record["book_id"], record["order_id"], record["firm"], record["owner"], record["cl_ord_id"],
                 record["orig_cl_ord_id"], record["symbol"], record["side"], OrdType(record["ord_type"]),
                 TimeInForce(tif) if tif is not None else None, record["order_qty"], record["price"],
                 cum_qty=record["cum_qty"], notional=record["notional"], done=record["done"],
                 status=OrdStatus(record["status"]), cl_ord_ids=list(record["cl_ord_ids"]),
                 priority=record["priority"], post_only=record["post_only"])
