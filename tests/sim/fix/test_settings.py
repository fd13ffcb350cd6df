"""Tests for sim.fix.settings: defaults, overrides, every refusal, and the shipped example."""

from __future__ import annotations

import dataclasses
import re
from datetime import time
from pathlib import Path

import pytest

from sim.fix.settings import KEYS, SessionSettings, Settings, SettingsError, load_settings, settings_from_dict
from sim.fix.store import SessionID

EXAMPLE = Path(__file__).parents[3] / "examples" / "fix-acceptor-conformance.toml"

ACCEPTOR = """\
[default]
ConnectionType = "acceptor"
SenderCompID = "ISLD"
SocketAcceptPort = 9878

[[session]]
BeginString = "FIX.4.2"
TargetCompID = "TW42"

[[session]]
BeginString = "FIX.4.4"
TargetCompID = "TW"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fix.toml"
    path.write_text(text)
    return path


def refused(tmp_path: Path, text: str, **kw) -> str:
    with pytest.raises(SettingsError) as err:
        load_settings(write(tmp_path, text), **kw)
    return str(err.value)


def acceptor(**session) -> dict:
    return {"default": {"ConnectionType": "acceptor", "SenderCompID": "ISLD", "SocketAcceptPort": 9878},
            "session": [{"BeginString": "FIX.4.4", "TargetCompID": "TW", **session}]}


def refused_dict(data: dict, **kw) -> str:
    with pytest.raises(SettingsError) as err:
        settings_from_dict(data, **kw)
    return str(err.value)


# -- LOADING AND DEFAULTS --

def test_load_settings_merges_default_into_each_session_in_file_order(tmp_path):
    settings = load_settings(write(tmp_path, ACCEPTOR))
    assert settings.session_ids == (SessionID("FIX.4.2", "ISLD", "TW42"), SessionID("FIX.4.4", "ISLD", "TW"))
    assert [s.index for s in settings.sessions] == [1, 2]
    assert all(s.is_acceptor and s.socket_accept_port == 9878 for s in settings.sessions)
    assert settings.source == str(tmp_path / "fix.toml")


def test_defaults_match_quickfix_defaults():
    s = settings_from_dict(acceptor()).sessions[0]
    assert (s.check_latency, s.max_latency, s.check_comp_id) == (True, 120, True)
    assert (s.logon_timeout, s.logout_timeout, s.reconnect_interval) == (10, 2, 30)
    assert not (s.reset_on_logon or s.reset_on_logout or s.reset_on_disconnect or s.refresh_on_logon)
    assert not (s.send_redundant_resend_requests or s.send_reset_seq_num_flag or s.allow_unknown_msg_fields)
    assert s.use_data_dictionary and s.data_dictionary is None
    assert s.validate_fields_out_of_order and s.validate_fields_have_values
    assert s.validate_user_defined_fields and s.validate_length_and_checksum
    assert s.persist_messages and s.milliseconds_in_timestamp and s.socket_nodelay
    assert s.heart_bt_int is None and s.file_store_path is None and s.time_zone == "UTC"
    assert s.always_open and not s.cancel_on_disconnect and s.password is None and s.firm is None


def test_key_table_and_session_settings_fields_agree():
    by_attr = {f.name: f for f in dataclasses.fields(SessionSettings)}
    assert set(by_attr) - {"index"} == {k.attr for k in KEYS}
    for key in KEYS:
        if by_attr[key.attr].default is not dataclasses.MISSING:
            assert by_attr[key.attr].default == key.default, key.name


def test_session_keys_override_default_keys():
    data = acceptor(HeartBtInt=5, ResetOnLogon="Y", MaxLatency=30, Firm="ACME", Password="s3cret")
    data["default"]["ResetOnLogon"] = "N"
    s = settings_from_dict(data).sessions[0]
    assert (s.heart_bt_int, s.reset_on_logon, s.max_latency, s.firm, s.password) == (5, True, 30, "ACME", "s3cret")
    assert "s3cret" not in repr(s)


def test_booleans_accept_quickfix_y_n_and_toml_true_false():
    s = settings_from_dict(acceptor(ResetOnLogon=True, CheckLatency="N", CancelOnDisconnect="Y")).sessions[0]
    assert (s.reset_on_logon, s.check_latency, s.cancel_on_disconnect) == (True, False, True)


def test_initiator_settings_with_schedule_load(tmp_path):
    text = """\
[[session]]
ConnectionType = "initiator"
BeginString = "FIX.4.4"
SenderCompID = "TW"
TargetCompID = "ISLD"
HeartBtInt = 30
SocketConnectHost = "127.0.0.1"
SocketConnectPort = 9878
StartTime = 08:00:00
EndTime = "17:30:00"
StartDay = "mon"
EndDay = "Friday"
TimeZone = "UTC"
"""
    s = load_settings(write(tmp_path, text)).sessions[0]
    assert (s.start_time, s.end_time, s.start_day, s.end_day) == (time(8), time(17, 30), "monday", "friday")
    assert not s.always_open and not s.is_acceptor


def test_relative_paths_resolve_against_the_settings_file_directory(tmp_path):
    (tmp_path / "FIX44.json").write_text("{}")
    text = ACCEPTOR + 'FileStorePath = "store"\nFileLogPath = "/var/log/fix"\nDataDictionary = "FIX44.json"\n'
    s = load_settings(write(tmp_path, text)).sessions[1]
    assert s.file_store_path == tmp_path / "store"
    assert s.file_log_path == Path("/var/log/fix")
    assert s.data_dictionary == tmp_path / "FIX44.json"


def test_port_override_replaces_socket_accept_port_for_acceptors_only(tmp_path):
    text = ACCEPTOR + """
[[session]]
ConnectionType = "initiator"
BeginString = "FIX.4.4"
TargetCompID = "OTHER"
HeartBtInt = 30
SocketConnectHost = "localhost"
SocketConnectPort = 7000
"""
    settings = load_settings(write(tmp_path, text), port=12345)
    assert [s.socket_accept_port for s in settings.sessions] == [12345, 12345, 9878]
    assert settings.sessions[2].socket_connect_port == 7000


def test_port_override_stands_in_for_a_missing_socket_accept_port():
    data = acceptor()
    del data["default"]["SocketAcceptPort"]
    assert settings_from_dict(data, port=0).sessions[0].socket_accept_port == 0


def test_for_session_finds_settings_by_session_id_and_names_the_known_ones_when_absent():
    settings = settings_from_dict(acceptor(), source="x.toml")
    sid = SessionID("FIX.4.4", "ISLD", "TW")
    assert settings.for_session(sid) is settings.sessions[0]
    assert sid in settings and settings.get(sid.reversed()) is None
    with pytest.raises(KeyError, match=re.escape("no session FIX.4.4:TW->ISLD in x.toml (configured: FIX.4.4:ISLD->TW)")):
        settings.for_session(sid.reversed())


def test_session_qualifier_distinguishes_otherwise_identical_sessions():
    data = acceptor()
    data["session"].append({"BeginString": "FIX.4.4", "TargetCompID": "TW", "SessionQualifier": "b"})
    settings = settings_from_dict(data)
    assert settings.session_ids[1] == SessionID("FIX.4.4", "ISLD", "TW", "b")


def test_settings_are_frozen():
    settings = settings_from_dict(acceptor())
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.sessions[0].heart_bt_int = 3  # type: ignore[misc]
    assert isinstance(settings, Settings)


# -- REFUSALS: EACH NAMES FILE, SECTION, KEY AND REASON --

def test_toml_syntax_error_is_reported_with_line_and_column(tmp_path):
    message = refused(tmp_path, ACCEPTOR + "HeartBtInt 30\n")
    assert message.startswith(f"{tmp_path / 'fix.toml'}: TOML syntax error: ")
    assert message.endswith("(at line 13, column 12)")


def test_unreadable_file_is_reported_with_its_path(tmp_path):
    with pytest.raises(SettingsError, match=re.escape(f"{tmp_path / 'nope.toml'}: cannot read settings file")):
        load_settings(tmp_path / "nope.toml")


def test_negative_heartbtint_is_refused_naming_file_session_key_and_value(tmp_path):
    message = refused(tmp_path, ACCEPTOR + "HeartBtInt = -5\n")
    assert message == (f"{tmp_path / 'fix.toml'}: [[session]] #2 (FIX.4.4 ISLD->TW): "
                       "HeartBtInt must be a positive integer, got -5")


def test_unknown_key_is_refused_with_a_did_you_mean_suggestion(tmp_path):
    message = refused(tmp_path, ACCEPTOR.replace("SocketAcceptPort", "SocketAcceptPrt"))
    assert message == f"{tmp_path / 'fix.toml'}: [default]: unknown key 'SocketAcceptPrt'; did you mean 'SocketAcceptPort'?"


def test_unknown_key_differing_only_in_case_suggests_the_quickfix_spelling():
    assert "did you mean 'HeartBtInt'?" in refused_dict(acceptor(heartbtint=30))


def test_unknown_key_with_nothing_close_gets_no_suggestion():
    assert refused_dict(acceptor(Frobnicate=1)).endswith("unknown key 'Frobnicate'")


def test_unknown_top_level_table_is_refused():
    data = acceptor()
    data["defaults"] = {}
    assert "unknown top-level entry 'defaults'; did you mean 'default'?" in refused_dict(data)


def test_single_session_table_instead_of_array_is_refused(tmp_path):
    text = '[session]\nBeginString = "FIX.4.4"\n'
    assert "write [[session]], not [session]" in refused(tmp_path, text)


def test_file_without_sessions_is_refused(tmp_path):
    assert "no sessions" in refused(tmp_path, '[default]\nConnectionType = "acceptor"\n')


@pytest.mark.parametrize("key, value, reason", [
    ("HeartBtInt", "30", "HeartBtInt must be a positive integer, got '30'"),
    ("HeartBtInt", True, "HeartBtInt must be a positive integer, got true"),
    ("MaxLatency", 0, "MaxLatency must be a positive integer, got 0"),
    ("ResetOnLogon", "yes", 'ResetOnLogon must be "Y", "N", true or false, got \'yes\''),
    ("ResetOnLogon", 1, 'ResetOnLogon must be "Y", "N", true or false, got 1'),
    ("SocketAcceptPort", 70000, "SocketAcceptPort must be a port number 0-65535, got 70000"),
    ("ResendRequestChunkSize", -1, "ResendRequestChunkSize must be an integer >= 0, got -1"),
    ("Firm", "", "Firm must be a non-empty string, got ''"),
    ("Password", 1234, "Password must be a non-empty string, got 1234"),
    ("StartTime", "9:30", 'StartTime must be a time "HH:MM:SS", got \'9:30\''),
    ("StartTime", "25:00:00", 'StartTime must be a time "HH:MM:SS", got \'25:00:00\''),
    ("StartDay", "x", "StartDay must be a day of the week"),
    ("TimeZone", "Mars/Olympus", "TimeZone must be an IANA time zone name"),
    ("ConnectionType", "server", 'ConnectionType must be "acceptor" or "initiator", got \'server\''),
])
def test_wrong_types_and_out_of_range_values_are_refused(key, value, reason):
    message = refused_dict(acceptor(**{key: value}), source="f.toml")
    assert message.startswith(f"f.toml: [[session]] #1 (FIX.4.4 ISLD->TW): {reason}")


def test_bad_value_in_default_is_reported_against_default():
    data = acceptor()
    data["default"]["MaxLatency"] = -1
    assert refused_dict(data, source="f.toml") == "f.toml: [default]: MaxLatency must be a positive integer, got -1"


@pytest.mark.parametrize("begin", ["FIX.4.3", "FIXT.1.1", "fix.4.4"])
def test_begin_string_other_than_fix42_or_fix44_is_refused(begin):
    message = refused_dict(acceptor(BeginString=begin))
    assert f"({begin} ISLD->TW): BeginString must be one of FIX.4.2, FIX.4.4, got {begin!r}" in message


def test_duplicate_sessions_are_refused_naming_both():
    data = acceptor()
    data["session"].append({"BeginString": "FIX.4.4", "TargetCompID": "TW"})
    assert refused_dict(data, source="f.toml") == (
        "f.toml: [[session]] #2 (FIX.4.4 ISLD->TW): duplicate session FIX.4.4:ISLD->TW, "
        "already defined by [[session]] #1")


@pytest.mark.parametrize("key", ["BeginString", "SenderCompID", "TargetCompID", "ConnectionType"])
def test_missing_identity_keys_are_refused(key):
    data = acceptor()
    data["default"].pop(key, None)
    data["session"][0].pop(key, None)
    assert f"missing required key {key}" in refused_dict(data)


def test_missing_comp_ids_show_as_question_marks_in_the_session_label():
    data = acceptor()
    del data["session"][0]["TargetCompID"]
    assert "[[session]] #1 (FIX.4.4 ISLD->?): missing required key TargetCompID" in refused_dict(data)


@pytest.mark.parametrize("key", ["HeartBtInt", "SocketConnectHost", "SocketConnectPort"])
def test_initiator_without_its_required_keys_is_refused(key):
    session = {"ConnectionType": "initiator", "HeartBtInt": 30, "SocketConnectHost": "h", "SocketConnectPort": 1}
    del session[key]
    assert f"missing required key {key} (required for an initiator)" in refused_dict(acceptor(**session))


def test_acceptor_without_socket_accept_port_and_no_override_is_refused():
    data = acceptor()
    del data["default"]["SocketAcceptPort"]
    assert "missing required key SocketAcceptPort (required for an acceptor unless a port is given" in refused_dict(data)


def test_invalid_port_override_is_refused():
    assert refused_dict(acceptor(), source="f.toml", port=-1) == (
        "f.toml: port override must be a port number 0-65535, got -1")


@pytest.mark.parametrize("session, reason", [
    ({"StartTime": "09:00:00"}, "StartTime is set but EndTime is missing"),
    ({"EndTime": "09:00:00"}, "EndTime is set but StartTime is missing"),
    ({"StartTime": "09:00:00", "EndTime": "17:00:00", "StartDay": "mon"}, "StartDay and EndDay must be given together"),
    ({"StartDay": "mon", "EndDay": "fri"}, "StartDay/EndDay need StartTime/EndTime"),
    ({"StartTime": "09:00:00", "EndTime": "17:00:00", "NonStopSession": "Y"}, "NonStopSession = Y conflicts"),
    ({"DataDictionary": "/no/such/FIX44.xml"}, "DataDictionary file not found: /no/such/FIX44.xml"),
])
def test_inconsistent_keys_are_refused(session, reason):
    assert reason in refused_dict(acceptor(**session))


# -- THE SHIPPED EXAMPLE --

def test_conformance_example_loads_with_the_four_required_sessions():
    settings = load_settings(EXAMPLE, port=5001)
    assert {(s.begin_string, s.target_comp_id) for s in settings.sessions} == {
        ("FIX.4.2", "TW42"), ("FIX.4.4", "TW44"), ("FIX.4.2", "TW"), ("FIX.4.4", "TW")}
    for s in settings.sessions:
        assert s.is_acceptor and s.sender_comp_id == "ISLD" and s.socket_accept_port == 5001
        assert s.reset_on_logon and s.file_store_path is None and s.always_open
        assert s.use_data_dictionary and s.validate_user_defined_fields and s.validate_fields_out_of_order
        assert s.check_latency and s.max_latency == 120 and s.socket_accept_host == "127.0.0.1"
