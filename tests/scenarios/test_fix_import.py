"""import-fix: real FIX logs (QuickFIX-written, and handwritten in every layout) become scenarios that load and run.

The interop test has two real QuickFIX engines (a firm initiator and a venue acceptor) trade on
127.0.0.1 with FileLogPath under tmp_path, then imports what QuickFIX wrote.  The other tests write
small logs by hand with our encoder, so every layout and every kind of bad line is covered exactly.
"""

from __future__ import annotations

import threading
import time

import pytest

from scenarios import fix_import
from scenarios.fix_import import PROPOSED_INJECTS, import_main
from scenarios.fix_logs import read_logs
from scenarios.spec import INJECTS, load_scenario
from scenarios.suite import run_file
from sim.fix.codec import SOH, encode

T0 = "20260102-09:30:00"


# -- HANDWRITTEN LOGS ----------------------------------------------------------------------------


def frame(msg_type: str, seq: int, sent: str, fields: list[tuple[int, object]], *, sender: str = "FIRM1",
          target: str = "VENUE", begin: str = "FIX.4.4", header: list[tuple[int, object]] = ()) -> bytes:
    """One valid frame from SENDER to TARGET."""
    return encode(begin, msg_type, [(34, seq), (49, sender), (52, sent), (56, target), *header, *fields])


def nos(seq: int, cl_ord_id: str, qty: int, price: str | None, sent: str, *, side: str = "1", symbol: str = "PRB",
        **kw) -> bytes:
    """A NewOrderSingle (limit, or market when price is None)."""
    fields = [(11, cl_ord_id), (21, "1"), (38, qty), (40, "2" if price else "1")]
    fields += [(44, price)] if price else []
    return frame("D", seq, sent, fields + [(54, side), (55, symbol), (60, sent)], **kw)


def er(seq: int, cl_ord_id: str, exec_type: str, sent: str, *, last_qty: int = 0, text: str = "", **kw) -> bytes:
    """An ExecutionReport from the venue to FIRM1."""
    status = {"0": "0", "F": "2", "2": "2", "8": "8", "4": "4"}[exec_type]
    fields = [(11, cl_ord_id), (17, f"E{seq}"), (37, f"O{cl_ord_id}"), (39, status), (150, exec_type)]
    fields += [(31, "10.25"), (32, last_qty)] if last_qty else []
    fields += [(58, text)] if text else []
    kw.setdefault("sender", "VENUE")
    kw.setdefault("target", "FIRM1")
    return frame("8", seq, sent, fields, **kw)


def qf_line(raw: bytes, stamp: str = T0 + ".000000") -> bytes:
    """A line as QuickFIX C++ writes it."""
    return stamp.encode() + b" : " + raw + b"\n"


def write(path, *chunks: bytes):
    path.write_bytes(b"".join(chunks))
    return path


def run_import(tmp_path, *logs, extra=(), out="s.toml"):
    target = tmp_path / out
    code = import_main([*(str(p) for p in logs), "--out", str(target), *extra])
    return code, target


def test_a_quickfix_log_with_fills_and_a_reject_becomes_a_scenario_that_loads_with_the_recorded_outcome(tmp_path, capsys):
    log = write(tmp_path / "FIX.4.4-FIRM1-VENUE.messages.current.log",
                qf_line(frame("A", 1, T0 + ".000", [(98, 0), (108, 30)])),
                qf_line(nos(2, "C1", 100, "10.25", T0 + ".100")),
                qf_line(er(2, "C1", "0", T0 + ".101")),
                qf_line(er(3, "C1", "F", T0 + ".102", last_qty=100)),
                qf_line(nos(3, "C2", 200, "10.30", T0 + ".600")),
                qf_line(nos(4, "C3", 610000, "1", T0 + ".900")),
                qf_line(er(4, "C3", "8", T0 + ".901", text="too big")))
    code, out = run_import(tmp_path, log)
    assert code == 0
    scenario = load_scenario(out)
    injects = [(s.kind, s.at_ns, s.fields["qty"], s.fields["price"]) for s in scenario.injects]
    assert injects == [("fat_finger", 100_000_000, 100, "10.25"), ("fat_finger", 600_000_000, 200, "10.3"),
                       ("fat_finger", 900_000_000, 610000, "1")]
    text = out.read_text()
    assert "FIRM1 C1: buy 100 PRB @ 10.25: acked, 1 fill(s), 100 filled" in text
    assert "FIRM1 C3: buy 610,000 PRB @ 1: rejected (too big)" in text
    assert "3 orders, 1 filled, 1 rejected" in text
    caught = [s for s in scenario.expects if s.kind == "caught_by"]
    assert [(s.fields["layer"], s.fields["after"]) for s in caught] == [("engine", 3)]
    assert scenario.expects[-1].kind == "nothing_else_pages"
    assert "# [firm.risk]" in text and "# max_order_qty = 2000" in text  # a template sized from the log
    report = capsys.readouterr().err
    assert "messages read: 7; used: 6; skipped: 1" in report and "session-level (Logon)" in report


def test_every_kind_of_bad_line_is_reported_with_file_line_and_reason_and_the_import_goes_on(tmp_path, capsys):
    good = nos(2, "C1", 100, "10.25", T0 + ".100")
    bad_checksum = good[:-4] + (b"000" if not good.endswith(b"=000\x01") else b"001") + SOH
    log = write(tmp_path / "mixed.log",
                b"\x00\xff\xfe binary junk \x07\n",                               # 1 garbage
                qf_line(bad_checksum),                                            # 2 bad checksum
                qf_line(good[:40]),                                               # 3 truncated
                b"2026-01-02 09:30:00 INFO order accepted id=42\n",               # 4 unknown format
                qf_line(good),                                                    # 5 fine
                qf_line(nos(3, "C2", 5, "10.5", T0 + ".2")[:-1].replace(b"9=", b"9=9", 1) + SOH))  # 6 BodyLength
    empty = write(tmp_path / "empty.log")
    code, out = run_import(tmp_path, log, empty)
    assert code == 0 and len(load_scenario(out).injects) == 1
    report = capsys.readouterr().err
    assert f"{log}:1: not a FIX message (unknown format)" in report
    assert f"{log}:2: bad checksum: CheckSum(10)=" in report
    assert f"{log}:3: truncated message: no CheckSum(10) field" in report
    assert f"{log}:4: not a FIX message (unknown format): '2026-01-02 09:30:00 INFO" in report
    assert f"{log}:6: bad or truncated message: BodyLength(9)=" in report
    assert f"{empty}: empty file" in report
    assert "not used (6 lines or files)" in report and "messages read: 1; used: 1; skipped: 0" in report


def test_pipe_delimited_text_with_or_without_the_last_bar_is_read_like_soh(tmp_path):
    first = nos(2, "C1", 100, "10.25", T0 + ".100").replace(SOH, b"|")
    second = nos(3, "C2", 300, "10.20", T0 + ".200").replace(SOH, b"|").rstrip(b"|")
    logset = read_logs([write(tmp_path / "ticket.txt", first + b"\n", second + b"\r\n")])
    assert [m.text(11) for m in logset.messages] == ["C1", "C2"] and not logset.issues
    assert "'|'-delimited" in logset.formats[str(tmp_path / "ticket.txt")]


def test_a_raw_soh_stream_of_back_to_back_frames_is_cut_into_messages(tmp_path):
    stream = b"".join(nos(i + 2, f"C{i}", 100 + i, "10.25", f"{T0}.{i:03d}") for i in range(5))
    broken = nos(9, "CX", 1, "10.25", T0 + ".500")[:-4] + b"999" + SOH  # a bad checksum mid-stream
    logset = read_logs([write(tmp_path / "capture.bin", stream + broken + nos(10, "C9", 9, "10.25", T0 + ".600"))])
    assert [m.text(11) for m in logset.messages] == ["C0", "C1", "C2", "C3", "C4", "C9"]
    [issue] = logset.issues
    assert issue.line == 1 and "bad checksum" in issue.reason and "(message 6 of 7 on this line)" in issue.reason


def test_quickfix_j_lines_with_millisecond_timestamps_and_without_timestamps_are_read(tmp_path):
    # QuickFIX/J FileLog: "YYYYMMDD-HH:MM:SS.SSS: " when FileIncludeTimeStampForMessages=Y, else nothing.
    stamped = write(tmp_path / "FIX.4.4-FIRM1-VENUE.messages.log",
                    T0.encode() + b".100: " + nos(2, "C1", 100, "10.25", T0 + ".100") + b"\n")
    bare = write(tmp_path / "FIX.4.4-FIRM2-VENUE.messages.log",
                 nos(2, "D1", 50, "10.30", T0 + ".050", sender="FIRM2") + b"\n")
    logset = read_logs([stamped, bare])
    assert [m.text(11) for m in logset.messages] == ["D1", "C1"]
    assert "QuickFIX/J timestamped lines" in logset.formats[str(stamped)]
    assert "no timestamps" in logset.formats[str(bare)]
    code, out = run_import(tmp_path, stamped, bare)
    assert code == 0 and [f.id for f in load_scenario(out).firms] == ["FIRM1", "FIRM2"]


def test_fix_42_and_fix_44_orders_both_become_injections(tmp_path):
    log = write(tmp_path / "two.log",
                qf_line(nos(2, "A1", 100, "10.25", T0 + ".100", begin="FIX.4.2")),
                qf_line(er(2, "A1", "2", T0 + ".110", last_qty=100, begin="FIX.4.2")),  # 4.2: ExecType 2 = fill
                qf_line(nos(3, "A2", 100, "10.25", T0 + ".200", side="2")))
    code, out = run_import(tmp_path, log)
    scenario = load_scenario(out)
    assert code == 0 and [s.fields["side"] for s in scenario.injects] == ["buy", "sell"]
    assert "FIRM1 A1: buy 100 PRB @ 10.25: 1 fill(s), 100 filled" in out.read_text()


def test_possdup_resends_and_the_copy_logged_by_the_other_end_are_dropped(tmp_path, capsys):
    original = nos(2, "C1", 100, "10.25", T0 + ".100")
    resend = nos(2, "C1", 100, "10.25", T0 + ".900", header=[(43, "Y"), (122, T0 + ".100")])
    app_resend = nos(7, "C1", 100, "10.25", T0 + ".950", header=[(97, "Y")])
    later_day = nos(2, "C9", 100, "10.25", "20260105-09:30:00.100")  # same MsgSeqNum after ResetOnLogon: kept
    firm_side = write(tmp_path / "FIX.4.4-FIRM1-VENUE.messages.current.log", qf_line(original), qf_line(resend),
                      qf_line(later_day))
    venue_side = write(tmp_path / "FIX.4.4-VENUE-FIRM1.messages.current.log", qf_line(original),
                       qf_line(app_resend))
    logset = read_logs([firm_side, venue_side])
    assert [m.text(11) for m in logset.messages] == ["C1", "C9"]
    assert sum(logset.duplicates.values()) == 3
    code, _ = run_import(tmp_path, firm_side, venue_side)
    report = capsys.readouterr().err
    assert code == 0 and "PossDupFlag=Y resend" in report and "logged by both ends" in report


def test_two_files_merge_into_one_timeline_by_sending_time_not_by_file_order(tmp_path):
    a = write(tmp_path / "a.log", qf_line(nos(2, "A1", 100, "10.25", T0 + ".100")),
              qf_line(nos(3, "A2", 100, "10.25", T0 + ".400")))
    b = write(tmp_path / "b.log", qf_line(nos(2, "B1", 100, "10.25", T0 + ".050", sender="FIRM2")),
              qf_line(nos(3, "B2", 100, "10.25", T0 + ".300", sender="FIRM2")))
    code, out = run_import(tmp_path, a, b)
    scenario = load_scenario(out)
    assert code == 0
    assert [(s.fields["note"].split(";")[0], s.at_ns) for s in scenario.injects] == [
        ("ClOrdID B1", 0), ("ClOrdID A1", 50_000_000), ("ClOrdID B2", 250_000_000), ("ClOrdID A2", 350_000_000)]


def test_a_log_without_orders_is_an_error_not_an_empty_scenario(tmp_path, capsys):
    log = write(tmp_path / "admin.log", qf_line(frame("A", 1, T0 + ".000", [(98, 0), (108, 30)])),
                qf_line(frame("0", 2, T0 + ".500", [])))
    code, out = run_import(tmp_path, log)
    assert code == 2 and not out.exists()
    assert "no orders (NewOrderSingle) to import in these logs" in capsys.readouterr().err
    code, _ = run_import(tmp_path, write(tmp_path / "empty.log"))
    assert code == 2
    (tmp_path / "nologs").mkdir()
    code, _ = run_import(tmp_path, tmp_path / "nologs", tmp_path / "missing.log")
    err = capsys.readouterr().err
    assert code == 2 and "a directory without *messages*.log files" in err and "missing.log: cannot read" in err


def test_an_output_path_that_cannot_be_written_is_a_usage_error(tmp_path, capsys):
    log = write(tmp_path / "o.log", qf_line(nos(2, "C1", 100, "10.25", T0 + ".000")))
    assert run_import(tmp_path, log, out="no/such/dir/s.toml")[0] == 2
    assert "cannot write" in capsys.readouterr().err


def test_tick_size_is_the_largest_step_dividing_every_price_unless_given(tmp_path):
    log = write(tmp_path / "t.log", qf_line(nos(2, "C1", 100, "10.25", T0 + ".1")),
                qf_line(nos(3, "C2", 100, "10.75", T0 + ".2")), qf_line(nos(4, "C3", 100, "11.00", T0 + ".3")))
    _, out = run_import(tmp_path, log)
    assert str(load_scenario(out).venue.instruments.get("PRB").tick_size) == "0.25"
    _, out = run_import(tmp_path, log, extra=["--tick", "PRB=0.01"], out="given.toml")
    assert str(load_scenario(out).venue.instruments.get("PRB").tick_size) == "0.01"
    code, _ = run_import(tmp_path, log, extra=["--tick", "PRB=0.1"], out="off.toml")  # 10.25 is off that grid
    assert code == 2


def test_speed_divides_the_gaps_and_the_window_and_filters_select_the_orders(tmp_path):
    log = write(tmp_path / "w.log", qf_line(nos(2, "C1", 100, "10.25", T0 + ".000")),
                qf_line(nos(3, "C2", 100, "10.25", "20260102-09:30:02.000", symbol="XYZ")),
                qf_line(nos(4, "C3", 100, "10.25", "20260102-09:30:04.000")),
                qf_line(nos(2, "D1", 100, "10.25", "20260102-09:30:05.000", sender="FIRM2")))
    _, out = run_import(tmp_path, log, extra=["--speed", "2"])
    assert [s.at_ns for s in load_scenario(out).injects] == [0, 1_000_000_000, 2_000_000_000, 2_500_000_000]
    _, out = run_import(tmp_path, log, extra=["--from", "09:30:01", "--to", "20260102-09:30:04.5",
                                              "--symbols", "PRB", "--firm", "FIRM1"], out="w2.toml")
    scenario = load_scenario(out)
    assert [(s.fields["note"][:10], s.at_ns) for s in scenario.injects] == [("ClOrdID C3", 2_000_000_000)]
    assert run_import(tmp_path, log, extra=["--firm", "NOBODY"], out="w3.toml")[0] == 2


def test_cancels_and_replaces_are_comments_unless_order_injects_are_asked_for(tmp_path, monkeypatch, capsys):
    log = write(tmp_path / "cr.log", qf_line(nos(2, "C1", 100, "10.25", T0 + ".000")),
                qf_line(frame("G", 3, T0 + ".500", [(11, "C2"), (41, "C1"), (21, "1"), (38, 50), (40, "2"),
                                                    (44, "10.30"), (54, "1"), (55, "PRB"), (60, T0)])),
                qf_line(frame("F", 4, T0 + ".700", [(11, "C3"), (41, "C2"), (54, "1"), (55, "PRB"), (60, T0)])))
    code, out = run_import(tmp_path, log)
    text = out.read_text()
    assert code == 0 and len(load_scenario(out).injects) == 1
    assert "no inject kind can express them yet" in text
    assert "# at 500ms: FIRM1 replace of order C1 to qty 50 price 10.30 (ClOrdID C2): not replayed" in text
    assert "# at 700ms: FIRM1 cancel of order C1 (ClOrdID C3)" in text
    # With the order/cancel/replace inject kinds the same log replays cancels and replaces too.
    assert set(PROPOSED_INJECTS) <= set(INJECTS)
    code, out = run_import(tmp_path, log, extra=["--with-order-injects"], out="o.toml")
    steps = load_scenario(out).injects
    assert code == 0 and [(s.kind, s.fields.get("ref")) for s in steps] == [
        ("order", "C1"), ("replace", "C1"), ("cancel", "C1")]
    assert steps[1].fields["qty"] == 50 and steps[1].fields["price"] == "10.3"


def test_risk_options_become_the_firm_limits_and_a_typo_is_a_usage_error(tmp_path):
    log = write(tmp_path / "r.log", qf_line(nos(2, "C1", 100, "10.25", T0 + ".000")))
    code, out = run_import(tmp_path, log, extra=["--risk", "max_order_qty=1000", "max_order_notional=50000"])
    assert code == 0 and load_scenario(out).firms[0].risk.max_order_qty == 1000
    assert run_import(tmp_path, log, extra=["--risk", "max_order_qtty=5"], out="bad.toml")[0] == 2
    assert run_import(tmp_path, log, extra=["--risk", "max_order_qty=-5"], out="bad.toml")[0] == 2


def test_a_generated_scenario_that_does_not_load_is_a_bug_not_a_user_error(tmp_path, monkeypatch):
    log = write(tmp_path / "b.log", qf_line(nos(2, "C1", 100, "10.25", T0 + ".000")))
    monkeypatch.setattr(fix_import, "_render", lambda *a, **k: "[scenario]\nname = 1\n")
    with pytest.raises(RuntimeError, match="bug in import-fix"):
        run_import(tmp_path, log)


# -- REAL QUICKFIX ----------------------------------------------------------------------------------


def _quickfix_engines(tmp_path, begin_string: str):
    """A QuickFIX venue (acceptor, fills or rejects orders) and firm (initiator), logging under tmp_path."""
    fix = pytest.importorskip("quickfix", reason="the quickfix binding is not installed (pip install -e '.[interop]')")
    from tests.integration.quickfix_peer import free_port, spec_xml

    class Side(fix.Application):
        def __init__(self, venue: bool) -> None:
            super().__init__()
            self.venue, self.up, self.received, self.errors = venue, threading.Event(), [], []
            self.ids = iter(range(1, 1000))

        def onCreate(self, sid): pass  # noqa: E704,N802 - QuickFIX's names
        def onLogon(self, sid): self.up.set()  # noqa: E704,N802
        def onLogout(self, sid): pass  # noqa: E704,N802
        def toAdmin(self, m, sid): pass  # noqa: E704,N802
        def fromAdmin(self, m, sid): pass  # noqa: E704,N802
        def toApp(self, m, sid): pass  # noqa: E704,N802

        def fromApp(self, message, sid):  # noqa: N802
            raw = message.toString()
            self.received.append(raw)
            if self.venue:
                try:  # never let an exception cross into QuickFIX's thread
                    self.answer(dict(f.split("=", 1) for f in raw.split(SOH.decode()) if "=" in f), sid)
                except Exception as exc:
                    self.errors.append(repr(exc))

        def answer(self, f: dict[str, str], sid) -> None:
            def report(exec_type, status, last=0, cum=0, text=""):
                m = fix.Message()
                m.getHeader().setField(fix.MsgType("8"))
                for tag, value in [(37, "O" + f["11"]), (17, f"E{next(self.ids)}"), (150, exec_type), (39, status),
                                   (55, f["55"]), (54, f["54"]), (151, int(f.get("38", 0)) - cum), (14, cum),
                                   (6, f.get("44", "0")), (11, f["11"])] + ([(20, "0")] if begin_string == "FIX.4.2" else []) \
                        + ([(32, last), (31, f["44"])] if last else []) + ([(58, text)] if text else []) \
                        + ([(41, f["41"])] if "41" in f else []):
                    m.setField(tag, str(value))
                fix.Session.sendToTarget(m, sid)
            if f["35"] == "F":
                report("4", "4", text="canceled")
            elif int(f["38"]) > 100_000:
                report("8", "8", text="order size over venue limit")
            elif f["11"] == "REST":
                report("0", "0")
            else:
                report("0", "0")
                report("2" if begin_string == "FIX.4.2" else "F", "2", last=int(f["38"]), cum=int(f["38"]))

    port = free_port()
    dictionary = spec_xml(begin_string)

    def engine(role, app, sender, target):
        d = tmp_path / role
        lines = ["[DEFAULT]", f"ConnectionType={role}", f"FileStorePath={d / 'store'}", f"FileLogPath={d / 'log'}",
                 "StartTime=00:00:00", "EndTime=00:00:00", "ResetOnLogon=Y", "ReconnectInterval=30",
                 "SocketNodelay=Y", "SocketReuseAddress=Y"]
        lines += [f"UseDataDictionary=Y\nDataDictionary={dictionary}"] if dictionary else ["UseDataDictionary=N"]
        lines += (["SocketAcceptHost=127.0.0.1", f"SocketAcceptPort={port}"] if role == "acceptor" else
                  ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}", "HeartBtInt=30"])
        lines += ["[SESSION]", f"BeginString={begin_string}", f"SenderCompID={sender}", f"TargetCompID={target}"]
        d.mkdir(parents=True)
        (d / "qf.cfg").write_text("\n".join(lines) + "\n")
        settings = fix.SessionSettings(str(d / "qf.cfg"))
        cls = fix.ThreadedSocketAcceptor if role == "acceptor" else fix.SocketInitiator  # see quickfix_peer.py
        return cls(app, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))

    venue_app, firm_app = Side(venue=True), Side(venue=False)
    venue = engine("acceptor", venue_app, "XVEN", "FIRM1")
    firm = engine("initiator", firm_app, "FIRM1", "XVEN")
    return fix, venue, firm, venue_app, firm_app


def _send_order(fix, begin_string, cl_ord_id, qty, price, side="1", cancel_of=None):
    m = fix.Message()
    m.getHeader().setField(fix.MsgType("F" if cancel_of else "D"))
    fields = [(11, cl_ord_id), (55, "PRB"), (54, side), (60, time.strftime("%Y%m%d-%H:%M:%S.000", time.gmtime())),
              (38, str(qty))]
    fields += [(41, cancel_of)] if cancel_of else [(21, "1"), (40, "2"), (44, price)]
    for tag, value in fields:
        m.setField(tag, value)
    assert fix.Session.sendToTarget(m, fix.SessionID(begin_string, "FIRM1", "XVEN"))


@pytest.mark.interop
@pytest.mark.parametrize("begin_string", ["FIX.4.2", "FIX.4.4"])
def test_quickfix_logs_of_a_trading_session_replay_and_show_which_layer_caught_the_fat_finger(tmp_path, begin_string):
    fix, venue, firm, venue_app, firm_app = _quickfix_engines(tmp_path, begin_string)
    venue.start()
    firm.start()
    try:
        assert firm_app.up.wait(10), "QuickFIX initiator did not log on"
        orders = [("N1", 100, "10.25"), ("N2", 200, "10.30"), ("REST", 150, "10.20"), ("N3", 100, "10.25"),
                  ("FAT", 610000, "1")]
        for cl_ord_id, qty, price in orders:
            _send_order(fix, begin_string, cl_ord_id, qty, price)
            time.sleep(0.02)  # distinct SendingTimes, so the replay keeps the order of the log
        _send_order(fix, begin_string, "X1", 150, None, cancel_of="REST")
        deadline = time.monotonic() + 10
        while len(firm_app.received) < 9 and time.monotonic() < deadline:  # 4 acks, 3 fills, 1 reject, 1 cancel
            time.sleep(0.02)
        assert not venue_app.errors and len(firm_app.received) >= 9, (venue_app.errors, firm_app.received)
    finally:
        firm.stop(True)
        venue.stop(True)

    out = tmp_path / "incident.toml"
    code = import_main([str(tmp_path / "acceptor" / "log"), str(tmp_path / "initiator" / "log"), "--out", str(out),
                        "--risk", "max_order_qty=1000"])
    assert code == 0
    text = out.read_text()
    assert "FIRM1 FAT: buy 610,000 PRB @ 1: rejected (order size over venue limit)" in text
    assert "FIRM1 N1: buy 100 PRB @ 10.25: acked, 1 fill(s), 100 filled" in text
    assert "cancel of order REST" in text
    outcome = run_file(out)
    assert outcome.passed, [(v.label, v.text) for v in outcome.verdicts] or outcome.error
    [caught] = [v for v in outcome.verdicts if v.step.kind == "caught_by"]
    assert caught.text.startswith("caught by the engine")
    arrived = [a.qty for a in outcome.record.arrivals]
    assert sorted(arrived) == [100, 100, 150, 200]  # the fat finger never reached the venue
