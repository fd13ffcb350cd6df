"""FIX session settings from a TOML file shaped like QuickFIX's settings file.

QuickFIX users know its ``[DEFAULT]`` / ``[SESSION]`` ini file and its key names; we keep
the names (CamelCase, spelled exactly as QuickFIX spells them) and the defaults, and move
to TOML so values have types and syntax errors have line numbers::

    [default]                     # QuickFIX's [DEFAULT]: applies to every session
    ConnectionType = "acceptor"
    SenderCompID = "ISLD"
    SocketAcceptPort = 9878

    [[session]]                   # QuickFIX's [SESSION]; keys here override [default]
    BeginString = "FIX.4.4"
    TargetCompID = "TW"

Booleans may be written QuickFIX-style (``"Y"``/``"N"``) or as TOML ``true``/``false``;
integers must be TOML integers; StartTime/EndTime may be ``"HH:MM:SS"`` or a TOML local
time.  Relative paths (FileStorePath, FileLogPath, DataDictionary) are resolved against
the settings file's directory, so the same file works from any working directory
(QuickFIX resolves them against the process's working directory).

Deliberate differences from QuickFIX, each because the simulator needs it:

* StartTime/EndTime are optional: without them a session is always open (QuickFIX/J's
  ``NonStopSession=Y``, which is also accepted).  Simulated sessions rarely have hours.
* No FileStorePath means a memory store (QuickFIX picks the store in code, not config).
* No DataDictionary means the built-in dictionary for the BeginString.
* Only FIX.4.2 and FIX.4.4 are served.
* Our own keys: ``Password`` (expected in Logon tag 554 when set), ``CancelOnDisconnect``
  (venue cancels the session's orders when it drops), ``Firm`` (which firm the session
  belongs to, for venue-side limits and drop copy).

Every mistake is refused with a ``SettingsError`` that names the file, the section
(``[default]`` or ``[[session]] #N (FIX.4.4 ISLD->TW)``), the key and the reason, so a bad
config fails at start-up rather than as a confusing session behaviour later.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time as Time
from pathlib import Path
from typing import Any

from sim.fix.store import SessionID
from sim.tomlfile import read_toml

__all__ = ["KEYS", "Key", "SessionSettings", "Settings", "SettingsError", "load_settings", "settings_from_dict"]

BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class SettingsError(ValueError):
    """A settings file or dict that cannot configure sessions; the message says where and why."""


# -- VALUE PARSERS: each returns the typed value or raises ValueError(reason) --

def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _str(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {_show(value)}")
    return value


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("Y", "N"):
        return value == "Y"
    raise ValueError(f'must be "Y", "N", true or false, got {_show(value)}')


def _int(lo: int, hi: int | None = None, what: str = "") -> Callable[[object], int]:
    what = what or ("a positive integer" if lo == 1 and hi is None else f"an integer >= {lo}")

    def parse(value: object) -> int:
        if type(value) is not int or value < lo or (hi is not None and value > hi):
            raise ValueError(f"must be {what}, got {_show(value)}")
        return value

    return parse


_port = _int(0, 65535, "a port number 0-65535")


def _begin_string(value: object) -> str:
    if value not in BEGIN_STRINGS:
        raise ValueError(f"must be one of {', '.join(BEGIN_STRINGS)}, got {_show(value)}")
    return value  # type: ignore[return-value]


def _connection_type(value: object) -> str:
    if value not in ("acceptor", "initiator"):
        raise ValueError(f'must be "acceptor" or "initiator", got {_show(value)}')
    return value  # type: ignore[return-value]


def _time(value: object) -> Time:
    if isinstance(value, Time):
        if value.tzinfo is not None:
            raise ValueError("must be a local time; the zone comes from TimeZone")
        return value
    if isinstance(value, str) and re.fullmatch(r"\d\d:\d\d:\d\d", value):
        try:
            return Time.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f'must be a time "HH:MM:SS", got {_show(value)}')


def _day(value: object) -> str:
    if isinstance(value, str) and len(value) >= 2:
        matches = [d for d in _DAYS if d.startswith(value.lower())]
        if len(matches) == 1:
            return matches[0]
    raise ValueError(f"must be a day of the week (e.g. \"Sunday\" or \"su\"), got {_show(value)}")


def _timezone(value: object) -> str:
    from zoneinfo import ZoneInfo

    name = _str(value)
    if name != "UTC":
        try:
            ZoneInfo(name)
        except (ValueError, LookupError):
            raise ValueError(f"must be an IANA time zone name such as \"America/New_York\", got {_show(value)}") from None
    return name


@dataclass(frozen=True, slots=True)
class Key:
    """One settings key: its QuickFIX spelling, the attribute it fills, parser and default."""

    name: str
    attr: str
    parse: Callable[[object], Any]
    default: Any = None
    is_path: bool = False


KEYS: tuple[Key, ...] = (
    # identity
    Key("BeginString", "begin_string", _begin_string),
    Key("SenderCompID", "sender_comp_id", _str),
    Key("TargetCompID", "target_comp_id", _str),
    Key("SessionQualifier", "session_qualifier", _str, ""),
    Key("SenderSubID", "sender_sub_id", _str),
    Key("SenderLocationID", "sender_location_id", _str),
    Key("TargetSubID", "target_sub_id", _str),
    Key("TargetLocationID", "target_location_id", _str),
    Key("ConnectionType", "connection_type", _connection_type),
    # schedule
    Key("StartTime", "start_time", _time),
    Key("EndTime", "end_time", _time),
    Key("StartDay", "start_day", _day),
    Key("EndDay", "end_day", _day),
    Key("TimeZone", "time_zone", _timezone, "UTC"),
    Key("NonStopSession", "non_stop_session", _bool, False),
    # session protocol
    Key("HeartBtInt", "heart_bt_int", _int(1)),
    Key("CheckLatency", "check_latency", _bool, True),
    Key("MaxLatency", "max_latency", _int(1), 120),
    Key("CheckCompID", "check_comp_id", _bool, True),
    Key("LogonTimeout", "logon_timeout", _int(1), 10),
    Key("LogoutTimeout", "logout_timeout", _int(1), 2),
    Key("ReconnectInterval", "reconnect_interval", _int(1), 30),
    Key("ResetOnLogon", "reset_on_logon", _bool, False),
    Key("ResetOnLogout", "reset_on_logout", _bool, False),
    Key("ResetOnDisconnect", "reset_on_disconnect", _bool, False),
    Key("RefreshOnLogon", "refresh_on_logon", _bool, False),
    Key("SendResetSeqNumFlag", "send_reset_seq_num_flag", _bool, False),
    Key("SendRedundantResendRequests", "send_redundant_resend_requests", _bool, False),
    Key("ResendRequestChunkSize", "resend_request_chunk_size", _int(0), 0),
    Key("PersistMessages", "persist_messages", _bool, True),
    Key("MillisecondsInTimeStamp", "milliseconds_in_timestamp", _bool, True),
    Key("EnableLastMsgSeqNumProcessed", "enable_last_msg_seq_num_processed", _bool, False),
    # validation
    Key("UseDataDictionary", "use_data_dictionary", _bool, True),
    Key("DataDictionary", "data_dictionary", _str, None, is_path=True),
    Key("ValidateLengthAndChecksum", "validate_length_and_checksum", _bool, True),
    Key("ValidateFieldsOutOfOrder", "validate_fields_out_of_order", _bool, True),
    Key("ValidateFieldsHaveValues", "validate_fields_have_values", _bool, True),
    Key("ValidateUserDefinedFields", "validate_user_defined_fields", _bool, True),
    Key("AllowUnknownMsgFields", "allow_unknown_msg_fields", _bool, False),
    # transport
    Key("SocketAcceptPort", "socket_accept_port", _port),
    Key("SocketAcceptHost", "socket_accept_host", _str),
    Key("SocketConnectHost", "socket_connect_host", _str),
    Key("SocketConnectPort", "socket_connect_port", _int(1, 65535, "a port number 1-65535")),
    Key("SocketNodelay", "socket_nodelay", _bool, True),
    Key("SocketReuseAddress", "socket_reuse_address", _bool, True),
    # storage and logs
    Key("FileStorePath", "file_store_path", _str, None, is_path=True),
    Key("FileLogPath", "file_log_path", _str, None, is_path=True),
    # marketdrill's own
    Key("Password", "password", _str),
    Key("CancelOnDisconnect", "cancel_on_disconnect", _bool, False),
    Key("Firm", "firm", _str),
)
_BY_NAME = {k.name: k for k in KEYS}


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """The settings of one session: [default] merged with its [[session]] table, typed."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    connection_type: str
    session_qualifier: str = ""
    sender_sub_id: str | None = None
    sender_location_id: str | None = None
    target_sub_id: str | None = None
    target_location_id: str | None = None
    start_time: Time | None = None
    end_time: Time | None = None
    start_day: str | None = None
    end_day: str | None = None
    time_zone: str = "UTC"
    non_stop_session: bool = False
    heart_bt_int: int | None = None
    check_latency: bool = True
    max_latency: int = 120
    check_comp_id: bool = True
    logon_timeout: int = 10
    logout_timeout: int = 2
    reconnect_interval: int = 30
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    refresh_on_logon: bool = False
    send_reset_seq_num_flag: bool = False
    send_redundant_resend_requests: bool = False
    resend_request_chunk_size: int = 0
    persist_messages: bool = True
    milliseconds_in_timestamp: bool = True
    enable_last_msg_seq_num_processed: bool = False
    use_data_dictionary: bool = True
    data_dictionary: Path | None = None
    validate_length_and_checksum: bool = True
    validate_fields_out_of_order: bool = True
    validate_fields_have_values: bool = True
    validate_user_defined_fields: bool = True
    allow_unknown_msg_fields: bool = False
    socket_accept_port: int | None = None
    socket_accept_host: str | None = None
    socket_connect_host: str | None = None
    socket_connect_port: int | None = None
    socket_nodelay: bool = True
    socket_reuse_address: bool = True
    file_store_path: Path | None = None
    file_log_path: Path | None = None
    password: str | None = field(default=None, repr=False)
    cancel_on_disconnect: bool = False
    firm: str | None = None
    index: int = 0

    @property
    def session_id(self) -> SessionID:
        """This session's identity, from our side (sender = us)."""
        return SessionID(self.begin_string, self.sender_comp_id, self.target_comp_id, self.session_qualifier)

    @property
    def is_acceptor(self) -> bool:
        """True for ConnectionType = "acceptor"."""
        return self.connection_type == "acceptor"

    @property
    def always_open(self) -> bool:
        """True when the session has no schedule (no StartTime/EndTime, or NonStopSession)."""
        return self.non_stop_session or self.start_time is None


@dataclass(frozen=True, slots=True)
class Settings:
    """All sessions of one settings file, in file order."""

    sessions: tuple[SessionSettings, ...]
    source: str = "<dict>"

    def get(self, session_id: SessionID) -> SessionSettings | None:
        """The settings for ``session_id``, or None if no such session is configured."""
        for s in self.sessions:
            if s.session_id == session_id:
                return s
        return None

    def for_session(self, session_id: SessionID) -> SessionSettings:
        """The settings for ``session_id``; KeyError naming the configured ones if absent."""
        found = self.get(session_id)
        if found is None:
            known = ", ".join(str(s.session_id) for s in self.sessions)
            raise KeyError(f"no session {session_id} in {self.source} (configured: {known})")
        return found

    def __contains__(self, session_id: object) -> bool:
        return isinstance(session_id, SessionID) and self.get(session_id) is not None

    @property
    def session_ids(self) -> tuple[SessionID, ...]:
        """Identities of all sessions, in file order."""
        return tuple(s.session_id for s in self.sessions)


# -- LOADING --

def load_settings(path: str | Path, *, port: int | None = None) -> Settings:
    """Read and validate a TOML settings file; ``port`` replaces every acceptor's SocketAcceptPort."""
    path = Path(path)
    data = read_toml(path, SettingsError, "settings file")
    return settings_from_dict(data, source=str(path), base_dir=path.parent, port=port)


def settings_from_dict(
    data: Mapping[str, Any],
    *,
    source: str = "<dict>",
    base_dir: str | Path | None = None,
    port: int | None = None,
) -> Settings:
    """Validate settings given as ``{"default": {...}, "session": [{...}, ...]}`` (the TOML shape)."""
    if port is not None:
        try:
            _port(port)
        except ValueError as e:
            raise SettingsError(f"{source}: port override {e}") from None
    for name in data:
        if name not in ("default", "session"):
            raise SettingsError(f"{source}: unknown top-level entry {name!r}{_suggest(name, ('default', 'session'))}; "
                                "expected a [default] table and [[session]] tables")
    default = data.get("default", {})
    if not isinstance(default, Mapping):
        raise SettingsError(f"{source}: 'default' must be a table: write [default]")
    tables = data.get("session")
    if tables is None or (isinstance(tables, list) and not tables):
        raise SettingsError(f"{source}: no sessions: add at least one [[session]] table")
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise SettingsError(f"{source}: 'session' must be an array of tables: write [[session]], not [session]")

    base = Path(base_dir) if base_dir is not None else None
    defaults = _parse_table(default, f"{source}: [default]", base)
    sessions: list[SessionSettings] = []
    seen: dict[SessionID, int] = {}
    for i, table in enumerate(tables, start=1):
        merged_raw = {**default, **table}
        where = f"{source}: [[session]] #{i} ({_label(merged_raw)})"
        values = {**defaults, **_parse_table(table, where, base)}
        settings = _build(values, where, i, port)
        sid = settings.session_id
        if sid in seen:
            raise SettingsError(f"{where}: duplicate session {sid}, already defined by [[session]] #{seen[sid]}")
        seen[sid] = i
        sessions.append(settings)
    return Settings(tuple(sessions), source)


def _label(raw: Mapping[str, Any]) -> str:
    def part(key: str) -> str:
        value = raw.get(key)
        return value if isinstance(value, str) and value else "?"

    label = f"{part('BeginString')} {part('SenderCompID')}->{part('TargetCompID')}"
    qualifier = raw.get("SessionQualifier")
    return f"{label}:{qualifier}" if isinstance(qualifier, str) and qualifier else label


def _suggest(name: str, choices: tuple[str, ...] | list[str]) -> str:
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[close[0]]!r}?" if close else ""


def _parse_table(table: Mapping[str, Any], where: str, base: Path | None) -> dict[str, Any]:
    """Type-check every key of one table, keyed by attribute name."""
    out: dict[str, Any] = {}
    for name, value in table.items():
        key = _BY_NAME.get(name)
        if key is None:
            raise SettingsError(f"{where}: unknown key {name!r}{_suggest(name, list(_BY_NAME))}")
        try:
            parsed = key.parse(value)
        except ValueError as e:
            raise SettingsError(f"{where}: {name} {e}") from None
        if key.is_path:
            parsed = Path(parsed)
            if base is not None and not parsed.is_absolute():
                parsed = base / parsed
        out[key.attr] = parsed
    return out


def _build(values: dict[str, Any], where: str, index: int, port: int | None) -> SessionSettings:
    """Check the rules that span keys, then freeze one session."""
    def need(name: str, why: str = "") -> None:
        if values.get(_BY_NAME[name].attr) is None:
            raise SettingsError(f"{where}: missing required key {name}{why}")

    for name in ("BeginString", "SenderCompID", "TargetCompID", "ConnectionType"):
        need(name)
    if values["connection_type"] == "initiator":
        for name in ("HeartBtInt", "SocketConnectHost", "SocketConnectPort"):
            need(name, " (required for an initiator)")
    elif port is not None:
        values["socket_accept_port"] = port
    else:
        need("SocketAcceptPort", " (required for an acceptor unless a port is given, e.g. --port N)")

    if (values.get("start_time") is None) != (values.get("end_time") is None):
        have, missing = ("StartTime", "EndTime") if values.get("start_time") else ("EndTime", "StartTime")
        raise SettingsError(f"{where}: {have} is set but {missing} is missing; give both or neither")
    if (values.get("start_day") is None) != (values.get("end_day") is None):
        raise SettingsError(f"{where}: StartDay and EndDay must be given together")
    if values.get("start_day") is not None and values.get("start_time") is None:
        raise SettingsError(f"{where}: StartDay/EndDay need StartTime/EndTime")
    if values.get("non_stop_session") and values.get("start_time") is not None:
        raise SettingsError(f"{where}: NonStopSession = Y conflicts with StartTime/EndTime; remove one")
    if values.get("data_dictionary") is not None and not values["data_dictionary"].is_file():
        raise SettingsError(f"{where}: DataDictionary file not found: {values['data_dictionary']}")
    return SessionSettings(**values, index=index)

