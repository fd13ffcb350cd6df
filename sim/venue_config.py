"""Venue configuration (``marketdrill exchange --config venue.toml``), checked before anything starts.

::

    [venue]
    comp_id = "VENUE"            # SenderCompID on everything the venue sends
    host = "127.0.0.1"
    port = 9880                  # --port replaces it
    begin_strings = ["FIX.4.4"]  # a session per firm CompID and BeginString
    reset_on_logon = true        # ResetSeqNumFlag semantics as QuickFIX's ResetOnLogon
    store_path = ""              # "" = memory stores; a directory = file stores that survive restarts
    log_path = ""                # "" = no FIX log files; a directory = QuickFIX-style logs
    state_dir = ""               # "" = orders live in memory; a directory = crash-safe order log (below)
    state_sync = "flush"         # "flush" survives a process kill; "fsync" also a power loss (slower)
    metrics_port = 9891          # absent = none; Prometheus GET /metrics on 127.0.0.1 (sim/venue_metrics.py)

    [[instrument]]               # as in sim/instruments.py
    symbol = "PRB"
    tick_size = "0.01"
    reference_price = "100.00"

    [[firm]]
    id = "A"
    comp_ids = ["A"]             # order-entry sessions (default: [id])
    drop_copy = ["A-DC"]         # drop-copy sessions: every execution report of the firm
    cancel_on_disconnect = false
    password = ""                # if set, Logon must carry Password(554) with this value

    [protections]                # venue controls; every key is documented in sim/protections.py
    max_order_qty = 1000

    [phases]                     # trading phases; keys documented in sim/phases.py
    always_open = true           # the default: continuous from the start, as before

    [admin]                      # the local admin endpoint; keys documented in sim/admin_server.py
    port = 9890                  # HTTP/JSON on 127.0.0.1, behind its own token

``state_dir`` makes the venue restartable without losing an acknowledged order: every order
state is appended to ``<state_dir>/<comp_id>.orders.jsonl`` before its ExecutionReport is sent
(:mod:`sim.order_log`), and a venue started on the same directory rebuilds its books, OrderID and
ExecID counters and kill switches from it.  ``store_path`` defaults to ``state_dir`` then, so the
FIX sessions resume their sequence numbers and answer ResendRequests from their file stores; set
``reset_on_logon = false`` so a reconnecting client's Logon does not reset them.
``state_sync = "fsync"`` fsyncs the order log after every command and the FIX stores after every
record (survives power loss; the default survives the process being killed).

Every mistake is refused with the file, the table and key, and the reason.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.instruments import InstrumentError, InstrumentTable
from sim.phases import PhaseConfig, PhaseError
from sim.protections import ProtectionsConfig, ProtectionsError
from sim.tomlfile import read_toml

if TYPE_CHECKING:
    from sim.admin_server import AdminConfig


class VenueConfigError(ValueError):
    """A bad venue configuration: the message names the file, the table, the key and the reason."""


@dataclass(frozen=True, slots=True)
class FirmConfig:
    """One member firm: its order-entry and drop-copy sessions."""

    id: str
    comp_ids: tuple[str, ...]
    drop_copy: tuple[str, ...] = ()
    cancel_on_disconnect: bool = False
    password: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """A whole venue: identity, listening address, instruments and firms."""

    comp_id: str
    host: str
    port: int
    begin_strings: tuple[str, ...]
    instruments: InstrumentTable
    firms: tuple[FirmConfig, ...]
    reset_on_logon: bool = True
    store_path: Path | None = None
    log_path: Path | None = None
    state_dir: Path | None = None
    state_sync: str = "flush"
    heartbeat_check: bool = True
    agents: dict[str, Any] = field(default_factory=dict)
    protections: dict[str, Any] = field(default_factory=dict)
    source: str = "<dict>"
    protection_config: ProtectionsConfig = field(default_factory=ProtectionsConfig)
    phase_config: PhaseConfig = field(default_factory=PhaseConfig)
    admin: AdminConfig | None = None  # [admin]: None = no admin endpoint (the in-process API only)
    metrics_port: int | None = None  # [venue] metrics_port: None = no Prometheus endpoint; 0 = a free port


_VENUE_KEYS = {"comp_id": str, "host": str, "port": int, "begin_strings": list, "reset_on_logon": bool,
               "store_path": str, "log_path": str, "state_dir": str, "state_sync": str, "metrics_port": int}
_FIRM_KEYS = {"id": str, "comp_ids": list, "drop_copy": list, "cancel_on_disconnect": bool, "password": str}
_TOP = ("venue", "instrument", "firm", "agents", "protections", "phases", "admin")


def load_venue_config(path: str | Path, *, port: int | None = None) -> VenueConfig:
    """Read and check a venue TOML file; ``port`` overrides ``[venue] port``."""
    path = Path(path)
    data = read_toml(path, VenueConfigError, "venue config")
    return venue_config_from_dict(data, source=str(path), base=path.parent, port=port)


def venue_config_from_dict(data: dict[str, Any], *, source: str = "<dict>", base: Path | None = None,
                           port: int | None = None) -> VenueConfig:
    """Check a parsed venue config (see the module docstring for the shape)."""
    for key in data:
        if key not in _TOP:
            raise VenueConfigError(f"{source}: unknown table [{key}]{_hint(key, _TOP)}")
    venue = data.get("venue", {})
    if not isinstance(venue, dict):
        raise VenueConfigError(f"{source}: [venue] must be a table")
    _check_keys(venue, _VENUE_KEYS, f"{source}: [venue]")
    begin_strings = tuple(venue.get("begin_strings", ["FIX.4.4"]))
    for bs in begin_strings:
        if bs not in ("FIX.4.2", "FIX.4.4"):
            raise VenueConfigError(f"{source}: [venue] begin_strings: {bs!r} is not served (FIX.4.2, FIX.4.4)")
    listen_port = port if port is not None else venue.get("port", 9880)
    if not 0 <= listen_port <= 65535:
        raise VenueConfigError(f"{source}: [venue] port must be 0..65535, got {listen_port}")
    metrics_port = venue.get("metrics_port")
    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        raise VenueConfigError(f"{source}: [venue] metrics_port must be 0..65535 (0 = any free port), got {metrics_port}")
    try:
        instruments = InstrumentTable.from_dicts(data.get("instrument", []), source=source)
    except InstrumentError as exc:
        raise VenueConfigError(str(exc)) from None
    firms_raw = data.get("firm", [])
    if not isinstance(firms_raw, list) or not firms_raw:
        raise VenueConfigError(f"{source}: expected at least one [[firm]] table")
    firms = []
    seen_comp_ids: dict[str, str] = {}
    for index, raw in enumerate(firms_raw, start=1):
        where = f"{source}: [[firm]] #{index}"
        if not isinstance(raw, dict):
            raise VenueConfigError(f"{where}: expected a table")
        _check_keys(raw, _FIRM_KEYS, where)
        if "id" not in raw or not raw["id"]:
            raise VenueConfigError(f"{where}: required key 'id' is missing")
        firm = FirmConfig(
            id=raw["id"], comp_ids=tuple(raw.get("comp_ids", [raw["id"]])), drop_copy=tuple(raw.get("drop_copy", [])),
            cancel_on_disconnect=raw.get("cancel_on_disconnect", False), password=raw.get("password", ""))
        for comp_id in firm.comp_ids + firm.drop_copy:
            if not isinstance(comp_id, str) or not comp_id:
                raise VenueConfigError(f"{where} ({firm.id}): CompIDs must be non-empty strings, got {comp_id!r}")
            if comp_id in seen_comp_ids:
                raise VenueConfigError(f"{where} ({firm.id}): CompID {comp_id!r} is already used by firm "
                                       f"{seen_comp_ids[comp_id]!r}")
            if comp_id == venue.get("comp_id", "VENUE"):
                raise VenueConfigError(f"{where} ({firm.id}): CompID {comp_id!r} is the venue's own CompID")
            seen_comp_ids[comp_id] = firm.id
        firms.append(firm)
    base = base or Path(".")
    store = venue.get("store_path", "")
    logs = venue.get("log_path", "")
    state = venue.get("state_dir", "")
    state_sync = venue.get("state_sync", "flush")
    if state_sync not in ("flush", "fsync"):
        raise VenueConfigError(f"{source}: [venue] state_sync must be \"flush\" or \"fsync\", got {state_sync!r}")
    if not store and state:
        store = state  # an order log without file stores could not resume sessions or serve resends
    for name in ("agents", "protections", "phases"):
        if name in data and not isinstance(data[name], dict):
            raise VenueConfigError(f"{source}: [{name}] must be a table")
    protection_config, phase_config = _controls(data, source, instruments, [f.id for f in firms])
    admin = None
    if "admin" in data:
        from sim.admin_server import admin_config  # here, not at the top: admin_server imports this module

        admin = admin_config(data["admin"], source=source, base=base, log_path=(base / logs) if logs else None)
    return VenueConfig(
        comp_id=venue.get("comp_id", "VENUE"), host=venue.get("host", "127.0.0.1"), port=listen_port,
        begin_strings=begin_strings, instruments=instruments, firms=tuple(firms),
        reset_on_logon=venue.get("reset_on_logon", True),
        store_path=(base / store) if store else None, log_path=(base / logs) if logs else None,
        state_dir=(base / state) if state else None, state_sync=state_sync,
        agents=dict(data.get("agents", {})), protections=dict(data.get("protections", {})), source=source,
        protection_config=protection_config, phase_config=phase_config, admin=admin, metrics_port=metrics_port)


def _controls(data: dict[str, Any], source: str, instruments: InstrumentTable,
              firms: list[str]) -> tuple[ProtectionsConfig, PhaseConfig]:
    """Check ``[protections]`` and ``[phases]``, and that the firms and symbols they name exist."""
    try:
        protections = ProtectionsConfig.from_table(data.get("protections", {}))
    except ProtectionsError as exc:
        raise VenueConfigError(f"{source}: [protections] {exc}") from None
    try:
        phases = PhaseConfig.from_table(data.get("phases", {}))
    except PhaseError as exc:
        raise VenueConfigError(f"{source}: [phases] {exc}") from None
    named = [("kill_switch_firms", f) for f in protections.kill_switch_firms]
    named += [(f"stp_firms.{f}", f) for f in protections.stp_firms]
    for key, firm in named:
        if firm not in firms:
            raise VenueConfigError(f"{source}: [protections] {key}: no [[firm]] with id {firm!r}{_hint(firm, firms)}")
    for symbol in protections.instrument_limits:
        if symbol not in instruments:
            raise VenueConfigError(f"{source}: [protections.instrument.{symbol}]: no [[instrument]] with symbol "
                                   f"{symbol!r}{_hint(symbol, instruments.symbols)}")
    return protections, phases


def _check_keys(table: dict[str, Any], spec: dict[str, type], where: str) -> None:
    for key, value in table.items():
        if key not in spec:
            raise VenueConfigError(f"{where}: unknown key {key!r}{_hint(key, list(spec))}")
        kind = spec[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise VenueConfigError(f"{where}: {key} must be an integer, got {value!r}")
        if kind is not int and not isinstance(value, kind):
            raise VenueConfigError(f"{where}: {key} must be a {kind.__name__}, got {value!r}")


def _hint(key: str, choices) -> str:
    match = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""
