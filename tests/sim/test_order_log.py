"""The venue's order log: write-ahead, restart rebuild, torn tails and corruption (no sockets)."""

from __future__ import annotations

import json

import pytest

import sim.order_log as order_log_module
from sim.fix.codec import FixMessage
from sim.order_log import OrderLog, OrderLogCorruptError, OrderLogError, order_log_path
from sim.venue import Venue
from sim.venue_config import VenueConfigError, venue_config_from_dict
from sim.venue_events import ExecReport, ExecType, OrdStatus, OrdType

A = "FIX.4.4:VENUE->A"
B = "FIX.4.4:VENUE->B"


def _config(state_dir, phases=None, **venue):
    return venue_config_from_dict({
        "venue": {"state_dir": str(state_dir), "reset_on_logon": False, **venue},
        "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
        "firm": [{"id": "A"}, {"id": "B"}],
        "phases": phases or {},
    })


class Clock:
    def __init__(self) -> None:
        self.t = 1_000

    def __call__(self) -> int:
        self.t += 1
        return self.t


def _open(config, clock=None) -> Venue:
    return Venue(config, now_ns=clock or Clock())


def _close(venue: Venue) -> None:
    """What a SIGKILL leaves behind, minus the lock: close the files without anything else."""
    venue.order_log.close()
    for session in venue.sessions:
        session.store.close()


def _new(venue, firm, owner, cl, side, qty, price, **kw):
    events = venue.exchange.new_order(firm=firm, owner=owner, cl_ord_id=cl, symbol="PRB", side=side, qty=qty,
                                      ord_type=OrdType.LIMIT if price is not None else OrdType.MARKET,
                                      price=price, **kw)
    venue.gateway.dispatch(events)
    return [e for e in events if type(e) is ExecReport]


def _snapshot(venue):
    return {o.order_id: (o.firm, o.owner, o.cl_ord_id, o.orig_cl_ord_id, tuple(o.cl_ord_ids), o.side, o.order_qty,
                         o.price, o.cum_qty, o.notional, o.leaves_qty, o.done, o.status, o.priority, o.post_only)
            for o in venue.exchange.orders.values()}


def test_a_restarted_venue_has_every_order_back_in_price_time_priority(tmp_path):
    config = _config(tmp_path)
    venue = _open(config)
    _new(venue, "A", A, "a1", 1, 10, 9_990)
    _new(venue, "A", A, "a2", 1, 5, 9_990)
    _new(venue, "B", B, "b1", 1, 7, 9_990)
    _new(venue, "A", A, "a3", 1, 4, 9_980, post_only=True)
    _new(venue, "B", B, "b2", 2, 3, 9_990)                 # fills 3 of a1
    venue.gateway.dispatch(venue.exchange.replace(firm="A", owner=A, cl_ord_id="a2r", orig_cl_ord_id="a2",
                                                  order_id="O2", symbol="PRB", side=1, qty=4, price=9_990))
    venue.gateway.dispatch(venue.exchange.cancel(firm="B", owner=B, cl_ord_id="b1c", orig_cl_ord_id="b1"))
    before, counters, levels = _snapshot(venue), venue.exchange.id_counters(), venue.exchange.levels("PRB")
    exec_ids = {e.exec_id for e in _new(venue, "B", B, "probe", 2, 1, 10_100)}  # rests far away
    _close(venue)

    again = _open(config)
    restored = _snapshot(again)
    restored.pop("O6")
    assert restored == before
    assert again.exchange.levels("PRB") == {**levels, (2, 10_100): 1}
    assert again.exchange.id_counters() >= counters
    assert again.exchange.books["PRB"].order(4).post_only
    # Price-time priority survived: a seller of 10 meets a1 (7 left), then a2 (4, priority kept on a reduction).
    reports = _new(again, "B", B, "b3", 2, 10, 9_990)
    fills = [(r.order_id, r.last_qty) for r in reports if r.exec_type == ExecType.TRADE and r.firm == "A"]
    assert fills == [("O1", 7), ("O2", 3)]
    assert reports[0].order_id == "O7" and not exec_ids & {r.exec_id for r in reports}
    # Status by any ClOrdID of the chain still answers with the same OrderID.
    status = again.exchange.status(firm="A", owner=A, cl_ord_id="a2r")[0]
    assert (status.order_id, status.ord_status, status.cum_qty) == ("O2", OrdStatus.PARTIALLY_FILLED, 3)
    _close(again)


def test_the_order_is_on_disk_before_its_ack_reaches_the_session(tmp_path):
    venue = _open(_config(tmp_path))
    seen: list[bool] = []
    path = venue.order_log.path
    original = venue.gateway._send_report

    def send_report(report):
        records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
        # The line holds each order as the command left it: at least as far along as any report of it.
        seen.append(any(o["order_id"] == report.order_id and o["cum_qty"] >= report.cum_qty
                        for line in records for o in line.get("orders", [])))
        original(report)

    venue.gateway._send_report = send_report
    _new(venue, "A", A, "a1", 1, 10, 9_990)
    _new(venue, "B", B, "b1", 2, 4, 9_990)
    assert seen == [True] * 4  # a1's ack, b1's ack, b1's fill, a1's fill
    _close(venue)


def test_a_torn_last_line_is_cut_off_and_reported(tmp_path):
    config = _config(tmp_path)
    venue = _open(config)
    _new(venue, "A", A, "a1", 1, 10, 9_990)
    _close(venue)
    path = order_log_path(tmp_path, "VENUE")
    good = path.read_bytes()
    path.write_bytes(good + b'{"ids":[3,3,3],"orders":[{"book_id":2,"ord')  # killed mid-write
    again = _open(config)
    assert again.order_log.recovery is not None and again.order_log.recovery.line == 3
    assert again.order_log.recovery.dropped_bytes == 42
    assert path.read_bytes() == good and list(_snapshot(again)) == ["O1"]
    _new(again, "A", A, "a2", 1, 1, 9_990)
    _close(again)
    third = _open(config)
    assert third.order_log.recovery is None and list(_snapshot(third)) == ["O1", "O2"]
    _close(third)


def test_a_last_complete_line_that_is_not_json_counts_as_torn(tmp_path):
    config = _config(tmp_path)
    _close(_open(config))
    path = order_log_path(tmp_path, "VENUE")
    path.write_bytes(path.read_bytes() + b"\x00" * 10 + b"\n")
    venue = _open(config)
    assert "not JSON" in venue.order_log.recovery.reason
    _close(venue)


def test_a_corrupt_line_before_the_end_names_the_file_and_line(tmp_path):
    config = _config(tmp_path)
    venue = _open(config)
    _new(venue, "A", A, "a1", 1, 10, 9_990)
    _new(venue, "A", A, "a2", 1, 10, 9_990)
    _close(venue)
    path = order_log_path(tmp_path, "VENUE")
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"order_qty":10', b'"order_qty":"10"')
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(OrderLogCorruptError, match=rf"{path}:2: .*order_qty must be int"):
        _open(config)
    lines[1] = lines[1][:30]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(OrderLogCorruptError, match=rf"{path}:2: corrupt order log: not JSON"):
        _open(config)


def test_a_file_that_is_not_an_order_log_is_refused(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(OrderLogCorruptError, match=r"x.jsonl:1: .*not a marketdrill order log"):
        OrderLog(path)
    path.write_text("hello")
    with pytest.raises(OrderLogCorruptError, match="not a marketdrill order log"):
        OrderLog(path)


def test_a_second_venue_on_the_same_state_dir_is_refused(tmp_path):
    config = _config(tmp_path)
    venue = _open(config)
    with pytest.raises(OrderLogError, match="already open"):
        OrderLog(venue.order_log.path)
    _close(venue)


def test_kill_switches_survive_a_restart_and_so_does_their_release(tmp_path):
    config = _config(tmp_path)
    venue = _open(config)
    _new(venue, "A", A, "a1", 1, 10, 9_990)
    venue.kill_switch(firm="A", reason="drill")
    venue.kill_switch(session=B, reason="drill")
    venue.release_kill_switch(session=B)
    _close(venue)
    again = _open(config)
    assert again.protections.killed_firms == {"A"} and again.protections.killed_owners == set()
    assert again.exchange.orders[1].status == OrdStatus.CANCELED and not again.exchange.open_orders.get("A")
    assert _new(again, "A", A, "a2", 1, 1, 9_990)[0].exec_type == ExecType.REJECTED
    again.release_kill_switch(firm="A")
    _close(again)
    third = _open(config)
    assert third.protections.killed_firms == set()
    _close(third)


def test_opening_compacts_a_log_of_mostly_superseded_records(tmp_path, monkeypatch):
    monkeypatch.setattr(order_log_module, "_COMPACT_AFTER", 10)
    config = _config(tmp_path)
    venue = _open(config)
    _new(venue, "A", A, "a0", 1, 100, 9_000)
    for i in range(30):
        venue.gateway.dispatch(venue.exchange.replace(firm="A", owner=A, cl_ord_id=f"r{i + 1}",
                                                      orig_cl_ord_id=f"r{i}" if i else "a0", order_id="O1",
                                                      symbol="PRB", side=1, qty=100, price=9_000 + i % 2))
    before = _snapshot(venue)
    _close(venue)
    path = order_log_path(tmp_path, "VENUE")
    assert len(path.read_text().splitlines()) == 32
    again = _open(config)
    assert len(path.read_text().splitlines()) == 2 and _snapshot(again) == before
    _new(again, "A", A, "a1", 1, 1, 8_000)
    _close(again)
    assert list(_snapshot(_reopen_closed(config))) == ["O1", "O2"]


def _reopen_closed(config):
    venue = _open(config)
    _close(venue)
    return venue


def test_orders_waiting_in_an_auction_call_are_held_after_a_restart(tmp_path):
    config = _config(tmp_path, phases={"halted_orders": "hold"})
    venue = _open(config)
    venue.halt("PRB")
    _new(venue, "A", A, "a1", 1, 10, 10_010)
    _new(venue, "B", B, "b1", 2, 10, 9_990)   # crosses a1: fine in a call
    _close(venue)
    again = _open(config)
    assert again.phases.phase("PRB") == "halted" and "PRB" in again.exchange.calls
    assert [c.what for c in again.changes] == ["halt"]
    again.resume("PRB")                      # the re-opening auction trades them
    assert again.exchange.orders[1].status == OrdStatus.FILLED
    _close(again)


def test_a_resent_order_the_venue_already_has_gets_its_status_not_a_reject(tmp_path):
    venue = _open(_config(tmp_path))
    session = next(s for s in venue.sessions if str(s.session_id) == A)
    reports: list = []
    dispatch = venue.gateway.dispatch
    venue.gateway.dispatch = lambda events: (reports.extend(events), dispatch(events))
    body = [(11, b"a1"), (38, b"10"), (40, b"2"), (44, b"99.90"), (54, b"1"), (55, b"PRB")]
    venue.gateway._new_order(session, FixMessage([(35, b"D"), *body]))
    venue.gateway._new_order(session, FixMessage([(35, b"D"), (43, b"Y"), *body]))
    venue.gateway._new_order(session, FixMessage([(35, b"D"), *body]))
    kinds = [(r.exec_type, r.order_id) for r in reports if type(r) is ExecReport]
    assert kinds == [(ExecType.NEW, "O1"), (ExecType.ORDER_STATUS, "O1"), (ExecType.REJECTED, "O2")]
    _close(venue)


def test_state_dir_brings_file_stores_and_state_sync_is_checked(tmp_path):
    config = _config(tmp_path)
    assert config.store_path == tmp_path and config.state_sync == "flush"
    assert _config(tmp_path, store_path=str(tmp_path / "fix")).store_path == tmp_path / "fix"
    with pytest.raises(VenueConfigError, match="state_sync"):
        _config(tmp_path, state_sync="always")
    venue = _open(_config(tmp_path, state_sync="fsync"))
    assert venue.order_log.sync == "fsync" and venue.sessions[0].store._sync == 1
    _close(venue)


def test_a_venue_without_state_dir_keeps_everything_in_memory(tmp_path):
    config = venue_config_from_dict({
        "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}], "firm": [{"id": "A"}]})
    venue = Venue(config, now_ns=Clock())
    assert venue.order_log is None and venue.gateway.order_log is None
    assert config.state_dir is None and config.store_path is None


def test_an_open_order_priced_on_a_tick_the_config_no_longer_has_is_refused(tmp_path):
    config = _config(tmp_path)
    venue = _open(config)
    venue.change_instrument("PRB", tick_size="0.05")   # admin API: not in the config
    _new(venue, "A", A, "a1", 1, 10, 1_998)            # 99.90 in ticks of 0.05
    _close(venue)
    with pytest.raises(OrderLogError, match=r"open order O1 on PRB is priced in ticks of 0.05, the venue config "
                                            r"says 0.01"):
        _open(_config(tmp_path))  # a restart reads the file again (the venue changed its table in place)


def test_a_failed_write_stops_every_later_report(tmp_path):
    venue = _open(_config(tmp_path))
    sent: list = []
    venue.gateway._send_report = sent.append
    _new(venue, "A", A, "a1", 1, 10, 9_990)
    real_fd = venue.order_log._fd
    venue.order_log._fd = 10_000  # not an open descriptor: os.write raises EBADF, as a full disk raises ENOSPC
    with pytest.raises(OrderLogError, match="order log write failed: OSError"):
        _new(venue, "A", A, "a2", 1, 10, 9_990)
    venue.order_log._fd = real_fd
    with pytest.raises(OrderLogError, match="failed earlier"):
        _new(venue, "B", B, "b1", 2, 1, 9_990)
    assert [r.cl_ord_id for r in sent] == ["a1"]
    _close(venue)
