"""Drop copy: every ExecutionReport of a firm reaches its drop-copy session, and nobody else's does.

Two firms, each with order-entry sessions and a drop-copy session (VenueConfig ``drop_copy``), all
logged on in-process (:mod:`tests.sim.venue_wire`).  Completeness: the drop copy receives every
ExecutionReport its firm's order-entry sessions receive (same ExecID, same business fields, in
the order the venue produced them).  Isolation: no report of the other firm reaches it.  A drop
copy in another FIX version than the order-entry session gets the report rendered in *its*
version (FIX 4.2: ExecTransType(20), ExecType 1/2 for trades).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.clock import VirtualClock
from sim.venue import Venue
from sim.venue_config import venue_config_from_dict
from tests.sim.venue_wire import OrderFlow, T, Wire, body, check_valid, f

SYMBOL = "PRB"
# Fields a drop copy repeats whatever its FIX version (ExecType differs between 4.2 and 4.4).
SAME_IN_EVERY_VERSION = (6, 11, 14, 17, 31, 32, 37, 38, 39, 41, 44, 54, 55, 151)


def make_venue(dc_begin: str = "FIX.4.4"):
    clock = VirtualClock()
    config = venue_config_from_dict({
        "venue": {"begin_strings": ["FIX.4.4", "FIX.4.2"]},
        "instrument": [{"symbol": SYMBOL, "tick_size": "0.01", "reference_price": "100.00"}],
        "firm": [{"id": "A", "comp_ids": ["A1", "A2"], "drop_copy": ["A-DC"]},
                 {"id": "B", "comp_ids": ["B1"], "drop_copy": ["B-DC"]}]})
    venue = Venue(config, now_ns=clock.now_ns, schedule=lambda delay, fn: clock.call_later(delay, fn))
    wires = {"A1": Wire(venue, "A1"), "A2": Wire(venue, "A2"), "B1": Wire(venue, "B1"),
             "A-DC": Wire(venue, "A-DC", dc_begin), "B-DC": Wire(venue, "B-DC", dc_begin)}
    for wire in wires.values():
        wire.connect_and_logon()
    return venue, wires


def check_drop_copies(wires: dict[str, Wire], dc_begin: str) -> int:
    """Completeness and isolation for both firms; returns how many reports were checked."""
    checked = 0
    for dc, entry in (("A-DC", ("A1", "A2")), ("B-DC", ("B1",))):
        reports = [m for name in entry for m in wires[name].of_type("8")]
        copies = wires[dc].of_type("8")
        by_exec_id = {f(m, 17): m for m in reports}
        assert len(by_exec_id) == len(reports), "ExecIDs are unique"
        # Isolation and completeness: exactly the firm's reports, each once.
        assert sorted(f(m, 17) for m in copies) == sorted(by_exec_id), dc
        # Same order as each order-entry session saw them.
        for name in entry:
            own = [f(m, 17) for m in wires[name].of_type("8")]
            assert [f(m, 17) for m in copies if f(m, 17) in set(own)] == own, (dc, name)
        for copy in copies:
            original = by_exec_id[f(copy, 17)]
            if dc_begin == "FIX.4.4":
                assert body(copy) == body(original)
            else:
                assert [(t, copy.get(t)) for t in SAME_IN_EVERY_VERSION] == \
                    [(t, original.get(t)) for t in SAME_IN_EVERY_VERSION]
            checked += 1
        assert not wires[dc].of_type("9") and not wires[dc].of_type("X"), "a drop copy gets execution reports only"
        check_valid(wires[dc].inbox, dc_begin)
    for name in ("A1", "A2", "B1"):
        check_valid(wires[name].inbox, "FIX.4.4")
    return checked


@pytest.mark.parametrize("dc_begin", ["FIX.4.4", "FIX.4.2"])
def test_a_drop_copy_gets_every_report_of_its_firm_and_none_of_the_other_firms(dc_begin):
    venue, w = make_venue(dc_begin)
    flow = OrderFlow({k: v for k, v in w.items() if not k.endswith("DC")}, SYMBOL)
    for command in [
        ("new", "A1", 2, "day", 10, 5),        # A rests an offer at 100.05
        ("new", "B1", 1, "ioc", 4, 5),         # B trades 4 of it: both sides get a trade report
        ("new", "A2", 1, "day", 7, -2),        # A's second session rests a bid
        ("replace", "A2", 0, 9, -1),           # replaced
        ("new", "B1", 2, "market", 3, 0),      # B sells into A2's bid at market
        ("cancel", "A1", 0),                   # A cancels the rest of its offer
        ("cancel", "A1", 0),                   # ... again: a cancel reject, not a report
        ("new", "B1", 1, "fok", 50, 9),        # FOK that cannot fill: cancelled at once
        ("new", "A1", 1, "day", 5, 1),
    ]:
        flow.run(command)
        for name, wire in flow.wires.items():
            for message in wire.unread():
                flow.observe(name, message)
    w["A1"].send("D", [(11, "bad"), (21, 1), (55, SYMBOL), (54, 1), (60, T), (38, 5), (40, 2), (44, "100.005"),
                       (59, 0)])                 # off the tick grid: a rejected report
    w["A1"].send("H", [(11, "A1-1"), (55, SYMBOL), (54, 2)])  # an order status report
    w["B1"].send("q", [(11, "mc"), (530, 7), (60, T)])        # mass cancel: reports for B only
    venue.kill_switch(firm="A", reason="drill")               # admin cancels reach the drop copy too
    exec_types = {f(m, 150) for name in ("A1", "A2") for m in w[name].of_type("8")}
    assert {"0", "F", "5", "4", "8", "I"} <= exec_types
    assert w["A1"].of_type("9")  # the second cancel was refused ...
    assert check_drop_copies(w, dc_begin) == len(w["A1"].of_type("8")) + len(w["A2"].of_type("8")) + \
        len(w["B1"].of_type("8"))
    a_ids = {f(m, 17) for m in w["A-DC"].of_type("8")}
    assert a_ids and not a_ids & {f(m, 17) for m in w["B-DC"].of_type("8")}


def test_a_fix42_drop_copy_of_a_fix44_firm_gets_fix42_reports():
    _venue, w = make_venue("FIX.4.2")
    flow = OrderFlow({"A1": w["A1"], "B1": w["B1"]}, SYMBOL)
    flow.run(("new", "A1", 2, "day", 10, 0))
    flow.run(("new", "B1", 1, "day", 10, 0))
    trade = [m for m in w["A-DC"].of_type("8") if f(m, 32)]
    assert [(f(m, 20), f(m, 150), f(m, 39)) for m in trade] == [("0", "2", "2")]
    assert f([m for m in w["A1"].of_type("8") if f(m, 32)][0], 150) == "F"
    check_valid(w["A-DC"].inbox, "FIX.4.2")


def test_a_drop_copy_that_is_not_logged_on_does_not_stop_the_reports_to_the_firm():
    clock = VirtualClock()
    config = venue_config_from_dict({
        "instrument": [{"symbol": SYMBOL, "tick_size": "0.01", "reference_price": "100.00"}],
        "firm": [{"id": "A", "drop_copy": ["A-DC"]}, {"id": "B"}]})
    venue = Venue(config, now_ns=clock.now_ns)
    a = Wire(venue, "A")
    a.connect_and_logon()
    OrderFlow({"A": a}, SYMBOL).run(("new", "A", 1, "day", 1, 0))
    assert [f(m, 150) for m in a.of_type("8")] == ["0"]


command = st.one_of(
    st.tuples(st.just("new"), st.sampled_from(["A1", "A2", "B1"]), st.sampled_from([1, 2]),
              st.sampled_from(["day", "day", "ioc", "fok", "market"]), st.integers(1, 20), st.integers(-3, 3)),
    st.tuples(st.just("cancel"), st.sampled_from(["A1", "A2", "B1"]), st.integers(0, 30)),
    st.tuples(st.just("replace"), st.sampled_from(["A1", "A2", "B1"]), st.integers(0, 30), st.integers(1, 20),
              st.integers(-3, 3)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=st.lists(command, min_size=5, max_size=50), dc_begin=st.sampled_from(["FIX.4.4", "FIX.4.2"]))
def test_drop_copies_are_complete_and_isolated_for_any_order_flow(commands, dc_begin):
    _venue, w = make_venue(dc_begin)
    flow = OrderFlow({k: v for k, v in w.items() if not k.endswith("DC")}, SYMBOL)
    for cmd in commands:
        flow.run(cmd)
        for name, wire in flow.wires.items():
            for message in wire.unread():
                flow.observe(name, message)
    check_drop_copies(w, dc_begin)


def test_a_fix42_firm_and_its_drop_copy_get_reject_reasons_that_fix42_knows():
    clock = VirtualClock()
    config = venue_config_from_dict({
        "venue": {"begin_strings": ["FIX.4.2"]},
        "instrument": [{"symbol": SYMBOL, "tick_size": "0.01", "reference_price": "100.00"}],
        "firm": [{"id": "A", "drop_copy": ["A-DC"]}]})
    venue = Venue(config, now_ns=clock.now_ns)
    a, dc = Wire(venue, "A", "FIX.4.2"), Wire(venue, "A-DC", "FIX.4.2")
    a.connect_and_logon()
    dc.connect_and_logon()
    a.send("D", [(11, "q"), (21, 1), (55, SYMBOL), (54, 1), (60, T), (38, "1.5"), (40, 2), (44, "100.00")])
    a.send("D", [(11, "p"), (21, 1), (55, SYMBOL), (54, 1), (60, T), (38, 1), (40, 2), (44, "100.005")])
    a.send("D", [(11, "ok"), (21, 1), (55, SYMBOL), (54, 1), (60, T), (38, 1), (40, 2), (44, "100.00")])
    a.send("D", [(11, "ok"), (21, 1), (55, SYMBOL), (54, 1), (60, T), (38, 1), (40, 2), (44, "100.00")])
    a.send("F", [(41, "ok"), (11, "ok"), (55, SYMBOL), (54, 1), (60, T), (38, 1)])  # duplicate ClOrdID
    a.send("F", [(41, "nope"), (11, "c2"), (55, SYMBOL), (54, 1), (60, T), (38, 1)])
    # FIX 4.4 would say 13 (quantity), 99 (other), 6 (duplicate); FIX 4.2 has none of them.
    assert [f(m, 103) for m in a.of_type("8") if f(m, 150) == "8"] == ["0", "0", "6"]
    assert [f(m, 102) for m in a.of_type("9")] == ["2", "1"]
    check_valid(a.inbox, "FIX.4.2")
    check_valid(dc.inbox, "FIX.4.2")
