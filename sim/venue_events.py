"""What the venue says: execution reports, cancel rejects and book changes, as plain data.

The :class:`~sim.exchange.Exchange` core returns these; the FIX gateway turns them into FIX
messages for the right session, the market-data publisher into snapshots and incremental
refreshes, and the journal records them.

The per-command events (ExecReport, CancelReject, BookChange) are slotted but not frozen, and are
treated as immutable by convention: a frozen 21-field dataclass took 11.9 us to build here against
1.0 us unfrozen (its __init__ goes through object.__setattr__ per field), and the venue builds
two or three of them per order.  Prices are integer ticks and quantities integers; the
gateway renders them with the instrument's tick size.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExecType(StrEnum):
    """ExecType(150) values the venue emits (FIX 4.4 codes; the gateway maps them for 4.2)."""

    NEW = "0"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_REPLACE = "E"
    TRADE = "F"
    EXPIRED = "C"
    RESTATED = "D"
    ORDER_STATUS = "I"


class OrdStatus(StrEnum):
    """OrdStatus(39) values."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"


class OrdType(StrEnum):
    """OrdType(40) values the venue accepts."""

    MARKET = "1"
    LIMIT = "2"


class TimeInForce(StrEnum):
    """TimeInForce(59) values the venue accepts."""

    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"


@dataclass(frozen=True, slots=True)
class RejectReason:
    """Why the venue refused something: a machine code, the FIX reason number and a sentence."""

    code: str
    fix_reason: int
    text: str


@dataclass(slots=True)
class ExecReport:
    """One ExecutionReport(8) to the firm that owns the order (and its drop copy)."""

    firm: str
    owner: str
    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    symbol: str
    side: int
    ord_type: OrdType
    time_in_force: TimeInForce | None
    order_qty: int
    price: int | None
    cum_qty: int
    leaves_qty: int
    notional: int  # sum of LastQty x LastPx in ticks; AvgPx = notional / cum_qty
    last_qty: int = 0
    last_px: int = 0
    reject: RejectReason | None = None
    transact_time_ns: int = 0


@dataclass(slots=True)
class CancelReject:
    """One OrderCancelReject(9): a cancel (response_to 1) or replace (2) that was refused."""

    firm: str
    owner: str
    order_id: str | None
    cl_ord_id: str
    orig_cl_ord_id: str
    ord_status: OrdStatus
    response_to: int
    reason: RejectReason


@dataclass(slots=True)
class BookChange:
    """New totals of the price levels one command touched, and the trades it printed."""

    symbol: str
    levels: tuple[tuple[int, int, int], ...]  # (side 1/2, price ticks, new total qty; 0 = gone)
    trades: tuple[tuple[int, int], ...]       # (price ticks, qty)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A trading phase or halt change of one symbol (SecurityStatus / TradingSessionStatus)."""

    symbol: str
    phase: str
    reason: str
    text: str


VenueEvent = ExecReport | CancelReject | BookChange | StatusChange
