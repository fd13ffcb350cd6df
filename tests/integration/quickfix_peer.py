"""The QuickFIX side of the interop tests: a recording/echoing application and an engine wrapper.

QuickFIX (the C++ engine through its Python binding) is the independent implementation our FIX
session is checked against.  It runs on its own native threads (``ThreadedSocketAcceptor`` /
``SocketInitiator``), calls back into :class:`RecordingApplication` from those threads, and is
driven here only through its public API plus a settings file written at test time.

* :class:`RecordingApplication` records every callback (admin and application messages in both
  directions, logons, logouts) with a monotonic timestamp, under a lock, and optionally echoes
  NewOrderSingle back to the sender like QuickFIX's own acceptance-test application (``at``):
  the same message, header restamped by the session, PossDupFlag/PossResend/OrigSendingTime
  dropped because the echo is a new message.
* :class:`QuickFixPeer` writes the settings file (FileStorePath/FileLogPath under the test's
  tmp_path, 127.0.0.1 only, ResetOnLogon=Y, the shipped data dictionary when present), starts and
  stops the engine, sends messages and reads the engine's event log for assertions and failure
  reports.  Stopping runs on a helper thread (:class:`Stopping`) with a deadline: QuickFIX's
  ``stop`` blocks while it joins its threads, and our asyncio side must keep running meanwhile.

Two QuickFIX 1.16 behaviours the tests work around (neither is ours):

* ``SocketAcceptor::stop()`` races with its own acceptor thread over the ``SocketServer`` (a
  use-after-free; it segfaulted about one stop in ten here), so the acceptor is the
  ``ThreadedSocketAcceptor``;
* a ``SocketInitiator`` disconnected before its first timer tick reconnects at once, ignoring
  ReconnectInterval (``m_lastConnect`` is still 0), so a test may see a second connection.
"""
from __future__ import annotations

import importlib.metadata
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# `make test` runs --doctest-modules over tests/, which imports this helper too: skip it, like the
# test module, when the binding is not installed.
fix = pytest.importorskip("quickfix", reason="the quickfix binding is not installed (pip install -e '.[interop]')")

SOH = "\x01"
#: CompID QuickFIX uses in every test (ours is unique per test; see the test module).
QF_COMP_ID = "QF"


def spec_xml(begin_string: str) -> Path | None:
    """The data dictionary the quickfix package ships for ``begin_string`` (None if not shipped).

    pip installs them as data files under ``<prefix>/share/quickfix/`` (both from the wheel and
    when compiled from the sdist); we find them through the distribution's file list, so a venv
    anywhere works.
    """
    name = begin_string.replace(".", "") + ".xml"  # FIX.4.4 -> FIX44.xml
    try:
        files = importlib.metadata.files("quickfix") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == name:
            path = Path(entry.locate()).resolve()
            if path.is_file():
                return path
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it back, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fields(raw: str) -> dict[int, str]:
    """First value of every tag of a raw FIX string (for compact asserts)."""
    out: dict[int, str] = {}
    for item in raw.split(SOH):
        if "=" in item:
            tag, _, value = item.partition("=")
            if tag.isdigit():
                out.setdefault(int(tag), value)
    return out


def show(raw: str | bytes) -> str:
    """A FIX message with SOH shown as '|' (for failure messages)."""
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    return raw.replace(SOH, "|")


@dataclass(frozen=True, slots=True)
class Record:
    """One QuickFIX callback: when (time.monotonic), which callback, the raw message if any."""

    t: float
    kind: str  # toAdmin fromAdmin toApp fromApp logon logout create
    raw: str = ""

    @property
    def msg_type(self) -> str:
        return fields(self.raw).get(35, "")

    @property
    def tags(self) -> dict[int, str]:
        return fields(self.raw)


class RecordingApplication(fix.Application):
    """Records every QuickFIX callback; with ``echo`` sends NewOrderSingle back like QuickFIX's ``at``."""

    def __init__(self, echo: bool = False) -> None:
        super().__init__()
        self.echo = echo
        self.records: list[Record] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def _add(self, kind: str, message: fix.Message | None = None) -> None:
        raw = message.toString() if message is not None else ""
        with self._lock:
            self.records.append(Record(time.monotonic(), kind, raw))

    # -- QuickFIX callbacks (called on QuickFIX's threads) --------------------------------------

    def onCreate(self, sessionID):  # noqa: N802 - QuickFIX's names
        self._add("create")

    def onLogon(self, sessionID):  # noqa: N802
        self._add("logon")

    def onLogout(self, sessionID):  # noqa: N802
        self._add("logout")

    def toAdmin(self, message, sessionID):  # noqa: N802
        self._add("toAdmin", message)

    def fromAdmin(self, message, sessionID):  # noqa: N802
        self._add("fromAdmin", message)

    def toApp(self, message, sessionID):  # noqa: N802
        self._add("toApp", message)

    def fromApp(self, message, sessionID):  # noqa: N802
        self._add("fromApp", message)
        if not self.echo:
            return
        try:
            msg_type = fix.MsgType()
            message.getHeader().getField(msg_type)
            if msg_type.getValue() != fix.MsgType_NewOrderSingle:
                return
            reply = fix.Message(message)
            header = reply.getHeader()
            for tag in (43, 97, 122):  # PossDupFlag, PossResend, OrigSendingTime: the echo is new
                header.removeField(tag)
            fix.Session.sendToTarget(reply, sessionID)
        except Exception as exc:  # never let an exception cross back into QuickFIX's thread
            with self._lock:
                self.errors.append(f"echo failed: {exc!r}")

    # -- reading the records (test thread) -------------------------------------------------------

    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self.records)

    def select(self, kind: str, msg_type: str | None = None) -> list[Record]:
        """Records of one callback kind, optionally only one MsgType."""
        return [r for r in self.snapshot() if r.kind == kind and (msg_type is None or r.msg_type == msg_type)]

    def count(self, kind: str, msg_type: str | None = None) -> int:
        return len(self.select(kind, msg_type))


class QuickFixPeer:
    """One QuickFIX engine (acceptor or initiator) with one session to marketdrill."""

    def __init__(self, tmp_path: Path, *, role: str, begin_string: str, our_comp_id: str,
                 port: int, heartbeat_s: int = 30, echo: bool = False, reconnect_interval_s: int = 30,
                 use_data_dictionary: bool = True) -> None:
        assert role in ("acceptor", "initiator")
        self.role = role
        self.begin_string = begin_string
        self.port = port
        self.app = RecordingApplication(echo=echo)
        self.dir = tmp_path / f"quickfix-{role}-{begin_string}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dictionary = spec_xml(begin_string) if use_data_dictionary else None
        lines = [
            "[DEFAULT]",
            f"ConnectionType={role}",
            f"FileStorePath={self.dir / 'store'}",
            f"FileLogPath={self.dir / 'log'}",
            "StartTime=00:00:00",
            "EndTime=00:00:00",
            "ResetOnLogon=Y",
            f"ReconnectInterval={reconnect_interval_s}",
            "LogonTimeout=5",
            "LogoutTimeout=2",
            "SocketNodelay=Y",
            "SocketReuseAddress=Y",
        ]
        if self.dictionary is not None:
            lines += ["UseDataDictionary=Y", f"DataDictionary={self.dictionary}"]
        else:
            # The installed quickfix ships no spec XML: QuickFIX then checks framing, BodyLength,
            # CheckSum and the session rules only; our side still validates with its dictionary.
            lines += ["UseDataDictionary=N"]
        if role == "acceptor":
            lines += ["SocketAcceptHost=127.0.0.1", f"SocketAcceptPort={port}"]
        else:
            lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}", f"HeartBtInt={heartbeat_s}"]
        lines += ["", "[SESSION]", f"BeginString={begin_string}", f"SenderCompID={QF_COMP_ID}",
                  f"TargetCompID={our_comp_id}", ""]
        self.settings_path = self.dir / "quickfix.cfg"
        self.settings_path.write_text("\n".join(lines))
        self.session_id = fix.SessionID(begin_string, QF_COMP_ID, our_comp_id)
        settings = fix.SessionSettings(str(self.settings_path))
        self._store_factory = fix.FileStoreFactory(settings)
        self._log_factory = fix.FileLogFactory(settings)
        # ThreadedSocketAcceptor, not SocketAcceptor: QuickFIX 1.16's SocketAcceptor::stop() closes
        # its SocketServer on the calling thread while the acceptor thread, seeing the stop flag,
        # closes and deletes the same SocketServer (SocketAcceptor::onStart) -- a use-after-free
        # that segfaulted about one stop in ten here (std::_Rb_tree_increment in
        # SocketServer::close called from Acceptor::stop).  The threaded acceptor stops under its
        # mutex and joins its threads.
        engine_class = fix.ThreadedSocketAcceptor if role == "acceptor" else fix.SocketInitiator
        self.engine = engine_class(self.app, self._store_factory, settings, self._log_factory)
        self._settings = settings
        self.started = False

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self.engine.start()
        self.started = True

    def begin_stop(self) -> Stopping:
        """Start stopping the engine (force: no 10 s wait for logouts) on a helper thread.

        QuickFIX's ``stop`` joins its threads, which takes up to a second for an initiator (its
        thread polls once a second); the caller decides when to wait for it.
        """
        stopping = Stopping(self)
        if self.started:
            self.started = False
            stopping.thread.start()
        else:
            stopping.done.set()
        return stopping

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the engine and wait for it, with a deadline."""
        self.begin_stop().wait(timeout_s)

    # -- session API -----------------------------------------------------------------------------

    @property
    def session(self) -> fix.Session:
        session = fix.Session.lookupSession(self.session_id)
        if session is None:
            raise RuntimeError(f"QuickFIX has no session {self.session_id}")
        return session

    def logged_on(self) -> bool:
        session = fix.Session.lookupSession(self.session_id)
        return bool(session is not None and session.isLoggedOn())

    def send(self, message: fix.Message) -> bool:
        return fix.Session.sendToTarget(message, self.session_id)

    def logout(self, reason: str = "") -> None:
        """Ask QuickFIX to log out (it sends the Logout from its own thread within ~1 s)."""
        self.session.logout(reason)

    # -- logs ------------------------------------------------------------------------------------

    def event_log(self) -> str:
        """QuickFIX's own event log for this session (FileLogPath/<session>.event.current.log)."""
        texts = []
        for path in sorted((self.dir / "log").glob("*event*.log")):
            texts.append(path.read_text(errors="replace"))
        return "".join(texts)

    def messages_log(self) -> str:
        texts = []
        for path in sorted((self.dir / "log").glob("*messages*.log")):
            texts.append(path.read_text(errors="replace"))
        return show("".join(texts))

    def report(self) -> str:
        """Everything useful for a failure message."""
        return (f"--- QuickFIX {self.role} {self.begin_string} event log ---\n{self.event_log()}"
                f"--- QuickFIX messages log (tail) ---\n{self.messages_log()[-4000:]}"
                + (f"--- echo errors ---\n{self.app.errors}\n" if self.app.errors else ""))


class Stopping:
    """A QuickFIX engine being stopped on a helper (daemon) thread."""

    def __init__(self, peer: QuickFixPeer) -> None:
        self.peer = peer
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"quickfix-stop-{peer.role}", daemon=True)

    def _run(self) -> None:
        try:
            self.peer.engine.stop(True)
        except BaseException as exc:  # pragma: no cover - re-raised by wait()
            self.error = exc
        finally:
            self.done.set()

    def wait(self, timeout_s: float = 15.0) -> None:
        """Block until stopped; RuntimeError if that takes longer than ``timeout_s``."""
        if not self.done.wait(timeout_s):
            raise RuntimeError(f"QuickFIX {self.peer.role} {self.peer.begin_string} did not stop within {timeout_s} s")
        if self.error is not None:
            raise self.error


def new_order_single(begin_string: str, cl_ord_id: str, *, qty: int = 100, price: str = "10.25") -> fix.Message:
    """A NewOrderSingle valid for both FIX 4.2 and FIX 4.4 dictionaries."""
    message = fix.Message()
    header = message.getHeader()
    header.setField(fix.BeginString(begin_string))
    header.setField(fix.MsgType(fix.MsgType_NewOrderSingle))
    message.setField(fix.ClOrdID(cl_ord_id))
    message.setField(fix.HandlInst("1"))
    message.setField(fix.Symbol("PRB"))
    message.setField(fix.Side(fix.Side_BUY))
    message.setField(60, time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()) + ".000")  # TransactTime
    message.setField(fix.OrderQty(qty))
    message.setField(fix.OrdType(fix.OrdType_LIMIT))
    message.setField(44, price)  # Price
    return message
