"""Sans-I/O FIX 4.2/4.4 session layer: bytes and clock ticks in, bytes and actions out.

A :class:`Session` never touches a socket or reads the wall clock.  The transport shell feeds it
``receive_bytes(data)``, ``connected()``, ``disconnected()`` and ``on_timer()`` (the clock is
injected as a ``now_ns`` callable), and after every call drains ``take_actions()``: a list of
:class:`Send` (bytes to write) and :class:`Disconnect` (close the connection) actions.  The same
object therefore runs over real TCP, over an in-memory pipe in virtual time, and in unit tests.

The behaviour follows QuickFIX's ``Session.cpp`` (and QuickFIX/J where the two differ), because
that is what real counterparties and the conformance suite expect:

* every message is validated against the data dictionary first; a violation is answered with a
  session Reject(3) (or BusinessMessageReject(j)) and still consumes its MsgSeqNum when it was the
  expected one;
* then ``verify``: SendingTime accuracy (reason 10 + Logout), CompIDs (reason 9 + Logout),
  MsgSeqNum too high (queue it, one ResendRequest ``7=expected 16=0``), too low without PossDup
  (Logout "MsgSeqNum too low, expecting X but received Y" and disconnect), too low with PossDup
  (ignore, or Reject when OrigSendingTime is missing or later than SendingTime);
* ResendRequests are served at once from the message store: application messages are resent with
  PossDupFlag=Y and OrigSendingTime, runs of admin messages become one SequenceReset-GapFill;
* heartbeats after HeartBtInt of silence on our side, a TestRequest after 1.2 x HeartBtInt of
  silence on theirs, disconnect after 2.4 x HeartBtInt.

State is kept as QuickFIX keeps it (a few flags: logon sent/received, logout sent, reset sent/
received, the resend range) rather than as one enum, because the protocol's states overlap: a
session can be logged on *and* awaiting a resend *and* have sent a Logout.  :attr:`state` derives
a readable summary for logs and dashboards.

The application plugs in through :class:`Application` and is called synchronously while a message
is processed, so everything it sends because of a message goes out before the next message is
handled (the ordering real venues guarantee).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from sim.fix.application import Application, BusinessReject, NullApplication, RejectLogon
from sim.fix.codec import FixMessage, FrameReader, GarbledFrame, decode, encode
from sim.fix.dictionary import Dictionary
from sim.fix.log import MemoryLog, SessionLog
from sim.fix.resend import ADMIN_TYPES, retransmit
from sim.fix.store import MemoryStore, MessageStore, SessionID
from sim.fix.timestamps import format_utc_timestamp, parse_utc_timestamp
from sim.fix.validation import BUSINESS_REJECT_TEXT, SESSION_REJECT_TEXT, validate

NS = 1_000_000_000

# Header tags in the ascending order we emit them in (the strictest conformance level wants it).
_ROUTING_SWAP = ((115, 128), (116, 129), (144, 145), (128, 115), (129, 116), (145, 144))

REJECT_TEXT = SESSION_REJECT_TEXT  # one table, shared with validation


# -- ACTIONS ------------------------------------------------------------------------------


# Not frozen (treated as immutable by convention): a frozen dataclass builds through
# object.__setattr__, 300 ns against 157 ns, and one Send is built per outgoing message.
@dataclass(slots=True)
class Send:
    """Write these bytes to the counterparty."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection; ``reason`` says why (also written to the event log)."""

    reason: str



@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How one session behaves; built from a settings file or in code."""

    session_id: SessionID
    initiator: bool = False
    heartbeat_s: int = 30
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    check_latency: bool = True
    max_latency_s: int = 120
    validate: bool = True
    logon_timeout_s: int = 10
    logout_timeout_s: int = 2
    send_redundant_resend_requests: bool = False
    persist_messages: bool = True
    millisecond_timestamps: bool = True
    max_frame_bytes: int = 1 << 20
    dictionary: Dictionary | None = field(default=None, compare=False)


# -- THE SESSION ------------------------------------------------------------------------------


class Session:
    """One FIX session (one BeginString and CompID pair), sans-I/O."""

    def __init__(self, config: SessionConfig, *, now_ns: Callable[[], int], store: MessageStore | None = None,
                 application: Application | None = None, log: SessionLog | None = None) -> None:
        self.config = config
        self.session_id = config.session_id
        self._now = now_ns
        self.store: MessageStore = store if store is not None else MemoryStore(config.session_id, now_ns=now_ns)
        self.app: Application = application if application is not None else NullApplication()
        self.log: SessionLog = log if log is not None else MemoryLog()
        self.dictionary = config.dictionary or Dictionary.for_begin_string(config.session_id.begin_string)
        self._begin = config.session_id.begin_string.encode()
        self._sender = config.session_id.sender_comp_id.encode()
        self._target = config.session_id.target_comp_id.encode()
        self._fix42_or_later = config.session_id.begin_string >= "FIX.4.2"
        self._reader = FrameReader(max_frame_bytes=config.max_frame_bytes)
        self._actions: list[Send | Disconnect] = []
        # Called after a message is queued for sending, so a transport can flush output that
        # another session's processing produced (a fill reported to the resting order's owner).
        self.wakeup: Callable[[], None] | None = None
        self._queue: dict[int, FixMessage] = {}
        self._validate = config.validate
        self._check_latency = config.check_latency
        self._max_latency_ns = config.max_latency_s * NS
        self._sent_raw: bytes | None = None  # last SendingTime checked, and its ns (None: not valid)
        self._sent_ns: int | None = None
        # SendingTime of the last millisecond stamped: a busy session sends many messages per ms
        # (a trade's reports, a burst of echoes), and the cache costs one comparison.
        self._stamp_ms = -1
        self._stamp = b""
        self.heartbeat_ns = config.heartbeat_s * NS
        self.connected_now = False
        self._reset_flags()
        self.last_sent_ns = self.last_received_ns = now_ns()

    def _reset_flags(self) -> None:
        self.sent_logon = False
        self.received_logon = False
        self.sent_logout = False
        self.logout_sent_ns = 0
        self.sent_reset = False
        self.received_reset = False
        self.test_requests = 0
        self.resend_range: tuple[int, int] | None = None
        self._queue.clear()

    # -- PUBLIC STATE --------------------------------------------------------------------------

    @property
    def logged_on(self) -> bool:
        """True once both Logons have been exchanged."""
        return self.sent_logon and self.received_logon

    @property
    def state(self) -> str:
        """A readable summary of the session's state for logs and dashboards."""
        if not self.connected_now:
            return "disconnected"
        if self.sent_logout:
            return "logout-sent"
        if self.logged_on:
            return "resending" if self.resend_range else "active"
        if self.sent_logon:
            return "logon-sent"
        return "awaiting-logon"

    @property
    def next_sender_seq(self) -> int:
        """MsgSeqNum of the next message we send."""
        return self.store.next_sender_seq

    @property
    def next_target_seq(self) -> int:
        """MsgSeqNum we expect next from the counterparty."""
        return self.store.next_target_seq

    def take_actions(self) -> list[Send | Disconnect]:
        """Return and clear what the transport must do (send bytes, disconnect)."""
        actions, self._actions = self._actions, []
        return actions

    # -- TRANSPORT EVENTS ----------------------------------------------------------------------

    def connected(self) -> list[Send | Disconnect]:
        """The transport is up; an initiator sends its Logon."""
        self.connected_now = True
        now = self._now()
        self.last_received_ns = self.last_sent_ns = now
        self._reader = FrameReader(max_frame_bytes=self.config.max_frame_bytes)
        if self.config.initiator:
            self._send_logon()
        return self.take_actions()

    def disconnected(self, reason: str = "connection closed") -> list[Send | Disconnect]:
        """The transport went down (either side closed it)."""
        if self.connected_now:
            self.log.on_event(f"Disconnected: {reason}")
        self._teardown()
        return self.take_actions()

    def receive_bytes(self, data: bytes) -> list[Send | Disconnect]:
        """Feed bytes read from the connection; returns the resulting actions."""
        reader = self._reader
        reader.feed(data)
        while self.connected_now:
            frame = reader.next_frame()
            if frame is None:
                break
            self.receive_frame(frame)
        return self.take_actions()

    def receive_frame(self, raw: bytes) -> None:
        """Process one complete frame (actions accumulate until take_actions)."""
        self.log.on_incoming(raw)
        try:
            message = decode(raw)
        except GarbledFrame as exc:
            self.log.on_event(f"Garbled message discarded: {exc.reason}")
            if not self.received_logon:
                self._disconnect(f"garbled frame before logon: {exc.reason}")
            return
        self._next(message, queued=False)

    def on_timer(self) -> list[Send | Disconnect]:
        """Clock tick: heartbeats, test requests, logon/logout/heartbeat timeouts."""
        self._check_timers()
        return self.take_actions()

    def _check_timers(self) -> None:
        """QuickFIX's Session::next(now): runs on every tick and after every processed message."""
        if not self.connected_now:
            return
        now = self._now()
        if not self.received_logon:
            if self.sent_logon and now - self.last_received_ns >= self.config.logon_timeout_s * NS:
                self._disconnect("Timed out waiting for logon response")
            return
        hb = self.heartbeat_ns
        if hb == 0:
            return
        # Deviation from QuickFIX and QuickFIX/J, which time the wait from the last message sent: a
        # counterparty that keeps writing after our Logout (a flooder the throttle logged out) would
        # keep its session open for ever, since every reject we send restarts the wait.  We time it
        # from the Logout itself.
        if self.sent_logout and now - self.logout_sent_ns >= self.config.logout_timeout_s * NS:
            self._disconnect("Timed out waiting for logout response")
            return
        since_received = now - self.last_received_ns
        since_sent = now - self.last_sent_ns
        if since_sent < hb and since_received < hb:
            return
        # Integer arithmetic for QuickFIX's 1.2 x and 2.4 x HeartBtInt thresholds.
        if since_received * 10 >= 24 * hb:
            self._disconnect("Timed out waiting for heartbeat")
        elif since_received * 10 >= 12 * (self.test_requests + 1) * hb:
            self._send_admin(b"1", [(112, b"TEST")])
            self.test_requests += 1
            self.log.on_event("Sent test request TEST")
        elif since_sent >= hb and not self.test_requests:
            self._send_admin(b"0", [])

    def next_timer_ns(self) -> int | None:
        """The virtual time at which on_timer next has something to do (None: nothing pending)."""
        if not self.connected_now:
            return None
        if not self.received_logon:
            return self.last_received_ns + self.config.logon_timeout_s * NS if self.sent_logon else None
        hb = self.heartbeat_ns
        if hb == 0:
            return None
        # The earliest of the candidate deadlines, without building a list (called after every
        # processed message by the transport).
        last_received = self.last_received_ns
        deadline = last_received + (12 * (self.test_requests + 1) * hb) // 10
        candidate = last_received + (24 * hb) // 10
        if candidate < deadline:
            deadline = candidate
        if not self.test_requests:
            # QuickFIX sends no heartbeat while a TestRequest is outstanding; a deadline for it
            # would fire, do nothing and re-arm at the same instant forever.
            candidate = self.last_sent_ns + hb
            if candidate < deadline:
                deadline = candidate
        if self.sent_logout:
            candidate = self.logout_sent_ns + self.config.logout_timeout_s * NS
            if candidate < deadline:
                deadline = candidate
        now = self._now()
        return deadline if deadline > now else now

    # -- SENDING (APPLICATION API) ---------------------------------------------------------------

    def send(self, msg_type: bytes, body: list[tuple[int, bytes | str | int]],
             header: list[tuple[int, bytes | str | int]] = ()) -> bool:
        """Send an application message; it is stored for resend even when not logged on."""
        if not (self.sent_logon and self.received_logon) and self._should_send_reset():
            return False
        # _send_raw, inline: one call level less on every application message sent
        store = self.store
        self._emit(msg_type, store.next_sender_seq, header, body, store=self.config.persist_messages)
        store.incr_next_sender_seq()
        return True

    def logout(self, text: str = "") -> list[Send | Disconnect]:
        """Start a Logout handshake (disconnect follows the reply or the logout timeout)."""
        if self.connected_now and not self.sent_logout:
            self._send_logout(text)
        return self.take_actions()

    def reset(self) -> None:
        """Reset both sequence numbers to 1 and forget stored messages (ResetOnLogon and friends)."""
        self.store.reset()
        self.log.on_event("Session state reset: sequence numbers 1/1")

    # -- INBOUND PROCESSING (QuickFIX Session::next) ---------------------------------------------

    def _next(self, msg: FixMessage, queued: bool) -> None:
        get = msg.get
        msg_type = get(35)
        begin = get(8)
        # Order as QuickFIX and the conformance suite expect: dictionary violations (unknown tag,
        # empty value, ...) first, then the routing fields, then the BeginString.
        validated = self._validate and begin == self._begin
        if validated:
            violation = validate(msg, self.dictionary)
            if violation is not None:
                if violation.kind == "business" and msg_type not in ADMIN_TYPES:
                    self._business_reject(msg, violation.reason, violation.ref_tag, violation.text)
                else:
                    self._reject(msg, violation.reason, violation.ref_tag)
                    if msg_type == b"A":
                        self._disconnect(f"invalid logon: {violation.text}")
                self._after_next(queued)
                return
        # A validated message has both (validate's first check); the look-ups are for the rest.
        if not validated and (get(49) is None or get(56) is None):
            self._reject(msg, 1, 49 if get(49) is None else 56)
            self._after_next(queued)
            return
        if begin != self._begin:
            if msg_type == b"5":
                self._next_logout(msg)
            else:
                self._send_logout("Incorrect BeginString")
                self._incr_target()
            self._after_next(queued)
            return
        handler = _HANDLERS.get(msg_type)
        try:
            if handler is not None:
                handler(self, msg)
            elif self._verify(msg, msg_type=msg_type):
                self._deliver_app(msg)
        except _MissingField as exc:
            self._reject(msg, 1, exc.tag)
        self._after_next(queued)

    def _after_next(self, queued: bool) -> None:
        if not queued and self._queue:
            self._process_queue()
        if self.sent_logon and self.received_logon:
            self._check_timers()

    def _deliver_app(self, msg: FixMessage) -> None:
        try:
            self.app.from_app(self, msg)
        except BusinessReject as exc:
            self._business_reject(msg, exc.reason, exc.ref_tag, exc.text)
            return
        except Exception as exc:  # noqa: BLE001 - an application bug must not stall the session
            # Not consuming the sequence number would make the counterparty resend the same message
            # forever; answer it (BusinessMessageReject "Other") and log the bug instead.
            frames = traceback.extract_tb(exc.__traceback__)
            where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
            self.log.on_event(f"Application error on MsgSeqNum {msg.get(34)!r}: {type(exc).__name__}: {exc}{where}")
            self._business_reject(msg, 0, None, f"Application error: {type(exc).__name__}")
            return
        self._incr_target()

    def _verify(self, msg: FixMessage, check_too_high: bool = True, check_too_low: bool = True,
                msg_type: bytes | None = None) -> bool:
        """QuickFIX's Session::verify: logon state, SendingTime, CompIDs, sequence number."""
        get = msg.get
        if msg_type is None:
            msg_type = get(35)
        sending_time = get(52)
        if sending_time is None:
            raise _MissingField(52)
        seq = _seq_int(get(34))
        if (check_too_high or check_too_low) and seq is None:
            raise _MissingField(34)
        # An application message on a logged-on session is always in a valid state (the second
        # rule of _valid_logon_state); the full rules run for everything else.
        if not (self.received_logon and msg_type != b"A") and not self._valid_logon_state(msg_type):
            self._disconnect("Logon state is not valid for message")
            return False
        now = self._now()
        if self._check_latency:
            # The last SendingTime parsed, kept: consecutive messages often carry the same one (a
            # burst within a millisecond), and the compare costs less than the parse call.
            if sending_time != self._sent_raw:
                self._sent_raw, self._sent_ns = sending_time, parse_utc_timestamp(sending_time)
            stamp = self._sent_ns
            if stamp is None or abs(now - stamp) > self._max_latency_ns:
                self._reject(msg, 10)
                self._send_logout()
                return False
        if get(49) != self._target or get(56) != self._sender:
            self._reject(msg, 9)
            self._send_logout()
            return False
        expected = self.store.next_target_seq
        if check_too_high and seq > expected:
            self._target_too_high(msg, seq)
            return False
        if check_too_low and seq < expected:
            self._target_too_low(msg, seq)
            return False
        if (check_too_high or check_too_low) and self.resend_range is not None and seq >= self.resend_range[1]:
            self.log.on_event(f"ResendRequest for messages FROM: {self.resend_range[0]} TO: "
                              f"{self.resend_range[1]} has been satisfied.")
            self.resend_range = None
        # The clock read for the SendingTime check (the same instant in virtual time; a few us
        # earlier in real time, which no heartbeat threshold can notice).
        self.last_received_ns = now
        self.test_requests = 0
        return True

    def _valid_logon_state(self, msg_type: bytes | None) -> bool:
        if (msg_type == b"A" and self.sent_reset) or self.received_reset:
            return True
        if (msg_type == b"A" and not self.received_logon) or (msg_type != b"A" and self.received_logon):
            return True
        if msg_type == b"5" and self.sent_logon:
            return True
        if msg_type != b"5" and self.sent_logout:
            return True
        return msg_type in (b"4", b"3")

    def _target_too_high(self, msg: FixMessage, seq: int) -> None:
        expected = self.store.next_target_seq
        self.log.on_event(f"MsgSeqNum too high, expecting {expected} but received {seq}")
        self._queue[seq] = msg
        if self.resend_range is not None and not self.config.send_redundant_resend_requests \
                and seq >= self.resend_range[0]:
            self.log.on_event(f"Already sent ResendRequest FROM: {self.resend_range[0]} TO: "
                              f"{self.resend_range[1]}.  Not sending another.")
            return
        self._send_resend_request(seq)

    def _target_too_low(self, msg: FixMessage, seq: int) -> None:
        expected = self.store.next_target_seq
        if msg.get(43) != b"Y":
            text = f"MsgSeqNum too low, expecting {expected} but received {seq}"
            self._send_logout(text)
            self._disconnect(text)
            return
        if msg.get(35) == b"4":
            return
        orig = msg.get(122)
        if orig is None:
            self._reject(msg, 1, 122)
            return
        orig_ns = parse_utc_timestamp(orig)
        sent_ns = parse_utc_timestamp(msg.get(52) or b"")
        if orig_ns is not None and sent_ns is not None and orig_ns > sent_ns:
            self._reject(msg, 10)
            self._send_logout()

    def _process_queue(self) -> None:
        while self.connected_now:
            expected = self.store.next_target_seq
            msg = self._queue.pop(expected, None)
            if msg is None:
                return
            self.log.on_event(f"Processing QUEUED message: {expected}")
            if msg.get(35) in (b"A", b"2"):
                self._incr_target()
            else:
                self._next(msg, queued=True)

    def _incr_target(self) -> None:
        self.store.incr_next_target_seq()

    # -- ADMIN MESSAGE HANDLERS ------------------------------------------------------------------

    def _next_logon(self, msg: FixMessage) -> None:
        reset_flag = msg.get(141) == b"Y"
        self.received_reset = reset_flag
        if reset_flag:
            self.log.on_event("Logon contains ResetSeqNumFlag=Y, resetting sequence numbers to 1")
            if not self.sent_reset:
                self.reset()
        if self.config.initiator and not self.sent_logon and not reset_flag:
            self._disconnect("Received logon response before sending request")
            return
        if not self.config.initiator and self.config.reset_on_logon and not reset_flag:
            self.reset()  # a ResetSeqNumFlag=Y logon has just reset the state already
        hb = msg.get(108)
        if hb is None:
            raise _MissingField(108)
        if not self._verify(msg, check_too_high=False, check_too_low=True):
            return
        if not self.config.initiator or (self.received_reset and not self.sent_reset):
            try:
                self.app.on_logon_request(self, msg)
            except RejectLogon as exc:
                self.log.on_event(f"Logon refused: {exc}")
                self._send_logout(str(exc))
                self._disconnect(f"logon refused: {exc}")
                return
        self.received_logon = True
        if not self.config.initiator or (self.received_reset and not self.sent_reset):
            self.heartbeat_ns = (_seq_int(hb) or 0) * NS
            self.log.on_event("Received logon request")
            body: list[tuple[int, bytes | str | int]] = [(98, b"0"), (108, hb)]
            if self.received_reset:
                body.append((141, b"Y"))
            self._send_admin(b"A", body)
            self.sent_logon = True
            self.log.on_event("Responding to logon request")
        else:
            self.log.on_event("Received logon response")
        self.sent_reset = False
        self.received_reset = False
        seq = _seq_of(msg)
        if seq > self.store.next_target_seq and not reset_flag:
            self._target_too_high(msg, seq)
        else:
            self._incr_target()
            self._process_queue()
        if self.logged_on:
            self.app.on_logon(self)

    def _next_heartbeat(self, msg: FixMessage) -> None:
        if self._verify(msg):
            self._incr_target()

    def _next_test_request(self, msg: FixMessage) -> None:
        if not self._verify(msg):
            return
        test_req_id = msg.get(112)
        self._send_admin(b"0", [(112, test_req_id)] if test_req_id is not None else [])
        self._incr_target()

    def _next_logout(self, msg: FixMessage) -> None:
        if not self._verify(msg, check_too_high=False, check_too_low=False):
            return
        if not self.sent_logout:
            self.log.on_event("Received logout request")
            self._send_logout()
            self.log.on_event("Sending logout response")
        else:
            self.log.on_event("Received logout response")
        self._incr_target()
        if self.config.reset_on_logout:
            self.reset()
        self._disconnect("logout")

    def _next_reject(self, msg: FixMessage) -> None:
        if self._verify(msg, check_too_high=False, check_too_low=True):
            self._incr_target()

    def _next_sequence_reset(self, msg: FixMessage) -> None:
        gap_fill = msg.get(123) == b"Y"
        if not self._verify(msg, check_too_high=gap_fill, check_too_low=gap_fill):
            return
        new_seq = msg.get(36)
        if new_seq is None:
            raise _MissingField(36)
        new = _seq_int(new_seq)
        if new is None:
            raise _MissingField(36)
        expected = self.store.next_target_seq
        self.log.on_event(f"Received SequenceReset FROM: {expected} TO: {new}")
        if new > expected:
            self.store.next_target_seq = new
        elif new < expected:
            self._reject(msg, 5)

    def _next_resend_request(self, msg: FixMessage) -> None:
        if not self._verify(msg, check_too_high=False, check_too_low=False):
            return
        begin_raw, end_raw = msg.get(7), msg.get(16)
        if begin_raw is None or end_raw is None:
            raise _MissingField(7 if begin_raw is None else 16)
        begin, end = _seq_int(begin_raw), _seq_int(end_raw)
        if begin is None or end is None:
            raise _MissingField(7 if begin is None else 16)
        self.log.on_event(f"Received ResendRequest FROM: {begin} TO: {end}")
        next_sender = self.store.next_sender_seq
        if (self._fix42_or_later and end == 0) or end == 999999 or end >= next_sender:
            end = next_sender - 1
        if not self.config.persist_messages:
            self._send_gap_fill(begin, min(end + 1, next_sender))
        else:
            retransmit(self, begin, end)
        seq = _seq_of(msg)
        if seq == self.store.next_target_seq:
            self._incr_target()

    # -- OUTBOUND --------------------------------------------------------------------------------

    def _send_gap_fill(self, begin: int, new_seq: int) -> None:
        now = self._timestamp()
        self._emit(b"4", begin, [(43, b"Y"), (122, now)], [(36, new_seq), (123, b"Y")], store=False, stamp=now)
        self.log.on_event(f"Sent SequenceReset TO: {new_seq}")

    def _send_logon(self) -> None:
        if self.config.reset_on_logon:
            self.reset()
        body: list[tuple[int, bytes | str | int]] = [(98, b"0"), (108, self.config.heartbeat_s)]
        if self._should_send_reset():
            body.append((141, b"Y"))
            self.sent_reset = True
        self.last_received_ns = self._now()
        self.test_requests = 0
        self._send_admin(b"A", body)
        self.sent_logon = True
        self.log.on_event("Initiated logon request")

    def _should_send_reset(self) -> bool:
        cfg = self.config
        return (cfg.reset_on_logon or cfg.reset_on_logout or cfg.reset_on_disconnect) and \
            self.store.next_sender_seq == 1 and self.store.next_target_seq == 1

    def _send_logout(self, text: str = "") -> None:
        self._send_admin(b"5", [(58, text)] if text else [])
        self.sent_logout = True
        self.logout_sent_ns = self.last_sent_ns

    def _send_resend_request(self, received_seq: int) -> None:
        begin = self.store.next_target_seq
        end = 0 if self._fix42_or_later else 999999
        self._send_admin(b"2", [(7, begin), (16, end)])
        self.log.on_event(f"Sent ResendRequest FROM: {begin} TO: {end}")
        self.resend_range = (begin, received_seq - 1)

    def _reject(self, msg: FixMessage, reason: int, ref_tag: int | None = None) -> None:
        """Session-level Reject(3) for ``msg``; consumes its MsgSeqNum when it was the expected one."""
        header = _reverse_route(msg)
        body: list[tuple[int, bytes | str | int]] = []
        seq_raw = msg.get(34)
        if seq_raw:
            body.append((45, seq_raw))
        msg_type = msg.get(35) or b""
        text = REJECT_TEXT.get(reason, "")
        if ref_tag is not None and (ref_tag or reason == 0) and self._fix42_or_later:
            body.append((371, ref_tag))
        elif ref_tag and not self._fix42_or_later:
            text = f"{text} ({ref_tag})"
        if self._fix42_or_later:
            if msg_type:
                body.append((372, msg_type))
            if reason <= 11 or self.session_id.begin_string > "FIX.4.2":
                body.append((373, reason))
        if text:
            body.append((58, text))
        seq = _seq_int(seq_raw)
        if msg_type not in (b"A", b"4") and seq == self.store.next_target_seq:
            self._incr_target()
        self.log.on_event(f"Message {seq_raw.decode('ascii', 'replace') if seq_raw else '?'} Rejected: {text}"
                          + (f":{ref_tag}" if ref_tag is not None else ""))
        if not self.received_logon:
            self._disconnect("Tried to send a reject while not logged on")
            return
        self._send_admin(b"3", sorted(body, key=_tag_key), header)

    def _business_reject(self, msg: FixMessage, reason: int, ref_tag: int | None, text: str | None) -> None:
        seq_raw = msg.get(34) or b"0"
        text = text or BUSINESS_REJECT_TEXT.get(reason, "Other")
        body: list[tuple[int, bytes | str | int]] = [(45, seq_raw), (372, msg.get(35) or b"")]
        body.append((380, reason))
        if ref_tag:
            text = f"{text} ({ref_tag})"
        body.append((58, text))
        self._incr_target()
        self.log.on_event(f"Message {seq_raw.decode('ascii', 'replace')} Rejected: {text}")
        self._send_raw(b"j", sorted(body, key=_tag_key), (), store=self.config.persist_messages)

    def _send_admin(self, msg_type: bytes, body: list[tuple[int, bytes | str | int]],
                    header: list[tuple[int, bytes | str | int]] = ()) -> None:
        self._send_raw(msg_type, body, header, store=True)

    def _send_raw(self, msg_type: bytes, body, header, store: bool) -> None:
        seq = self.store.next_sender_seq
        self._emit(msg_type, seq, header, body, store=store)
        self.store.incr_next_sender_seq()

    def _emit(self, msg_type: bytes, seq: int, header, body, store: bool, stamp: bytes | None = None) -> None:
        """Encode with the standard header (ascending tag order) and queue it for sending."""
        # One clock read for SendingTime and last_sent_ns (equal in virtual time; in real time the
        # stamp was read a few us before last_sent_ns, which no heartbeat threshold can notice).
        now = self._now()
        if stamp is None:
            stamp = self._stamp if now // 1_000_000 == self._stamp_ms else self._timestamp(now)
        if header:
            fields = [(34, seq), (49, self._sender), (52, stamp), (56, self._target), *header]
            fields.sort(key=_tag_key)
            fields.extend(body)
        else:
            # The standard header is already in ascending tag order: no sort needed.
            fields = [(34, seq), (49, self._sender), (52, stamp), (56, self._target), *body]
        raw = encode(self._begin, msg_type, fields)
        if store:
            self.store.set(seq, raw)
        self.last_sent_ns = now
        self.log.on_outgoing(raw)
        if self.connected_now:
            self._actions.append(Send(raw))
            if self.wakeup is not None:
                self.wakeup()

    def _timestamp(self, now: int | None = None) -> bytes:
        if now is None:
            now = self._now()
        if not self.config.millisecond_timestamps or type(now) is not int:
            return format_utc_timestamp(now, self.config.millisecond_timestamps)
        ms = now // 1_000_000
        if ms != self._stamp_ms:
            self._stamp = format_utc_timestamp(now, True)
            self._stamp_ms = ms
        return self._stamp

    def _disconnect(self, reason: str) -> None:
        if not self.connected_now:
            return
        self.log.on_event(f"Disconnecting: {reason}")
        self._actions.append(Disconnect(reason))
        self._teardown()

    def _teardown(self) -> None:
        was_logged_on = self.received_logon or self.sent_logon
        self.connected_now = False
        self._reset_flags()
        if self.config.reset_on_disconnect:
            self.reset()
        if was_logged_on:
            self.app.on_logout(self)


class _MissingField(Exception):
    """A field the session layer itself needs is absent (answered with Reject reason 1)."""

    def __init__(self, tag: int) -> None:
        super().__init__(tag)
        self.tag = tag


def _seq_of(msg: FixMessage) -> int | None:
    return _seq_int(msg.get(34))


def _seq_int(raw: bytes | None) -> int | None:
    """A small non-negative integer field, or None (not digits, or too long to be a real value)."""
    if not raw or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def _tag_key(item: tuple[int, object]) -> int:
    return item[0]


def _reverse_route(msg: FixMessage) -> list[tuple[int, bytes]]:
    """OnBehalfOf* of a message become DeliverTo* on the reply and vice versa (empty ones dropped)."""
    routed = []
    for source, target in _ROUTING_SWAP:
        value = msg.get(source)
        if value:
            routed.append((target, value))
    return routed


_HANDLERS: dict[bytes, Callable[[Session, FixMessage], None]] = {
    b"A": Session._next_logon,
    b"0": Session._next_heartbeat,
    b"1": Session._next_test_request,
    b"4": Session._next_sequence_reset,
    b"5": Session._next_logout,
    b"2": Session._next_resend_request,
    b"3": Session._next_reject,
}
