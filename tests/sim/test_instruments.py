"""Instruments: exact tick conversion and precise errors for bad files."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.instruments import Instrument, InstrumentError, InstrumentTable


def test_to_ticks_of_an_on_grid_price_is_exact():
    es = Instrument.create("ESZ6", "0.25", "5000.00")
    assert es.to_ticks("5000.25") == 20001
    assert es.to_ticks(b"5000.50") == 20002


def test_to_ticks_of_an_off_grid_price_is_refused_not_rounded():
    prb = Instrument.create("PRB", "0.01", "100.00")
    with pytest.raises(InstrumentError, match="not on the 0.01 tick grid"):
        prb.to_ticks("100.005")


def test_to_ticks_of_garbage_names_the_symbol():
    prb = Instrument.create("PRB", "0.01", "100.00")
    with pytest.raises(InstrumentError, match="PRB: price is not a decimal number"):
        prb.to_ticks("abc")


@given(st.integers(min_value=-10**12, max_value=10**12), st.sampled_from(["0.01", "0.25", "1", "0.0001", "5"]))
def test_price_and_ticks_round_trip_exactly(ticks, tick_size):
    instrument = Instrument.create("X", tick_size, tick_size)
    text = instrument.to_price(ticks)
    assert instrument.to_ticks(text) == ticks
    assert Decimal(text) == Decimal(tick_size) * ticks


def test_a_float_in_the_file_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "i.toml"
    path.write_text('[[instrument]]\nsymbol = "PRB"\ntick_size = 0.01\nreference_price = "100"\n')
    with pytest.raises(InstrumentError) as info:
        InstrumentTable.from_toml(path)
    message = str(info.value)
    assert str(path) in message and "#1 (PRB)" in message and "'tick_size' must be a string" in message
    assert "exact" in message


def test_an_unknown_field_gets_a_did_you_mean(tmp_path):
    path = tmp_path / "i.toml"
    path.write_text('[[instrument]]\nsymbol = "PRB"\ntick_size = "0.01"\nreference_price = "100"\nlot_sise = 5\n')
    with pytest.raises(InstrumentError, match="unknown field 'lot_sise' \\(did you mean 'lot_size'\\?\\)"):
        InstrumentTable.from_toml(path)


def test_a_missing_required_field_is_named(tmp_path):
    path = tmp_path / "i.toml"
    path.write_text('[[instrument]]\nsymbol = "PRB"\ntick_size = "0.01"\n')
    with pytest.raises(InstrumentError, match="required field 'reference_price' is missing"):
        InstrumentTable.from_toml(path)


def test_invalid_toml_reports_line_and_column(tmp_path):
    path = tmp_path / "i.toml"
    path.write_text('[[instrument]]\nsymbol = "PRB\n')
    with pytest.raises(InstrumentError, match=r"TOML syntax error: .*line 2"):
        InstrumentTable.from_toml(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InstrumentError, match="cannot read instrument file"):
        InstrumentTable.from_toml(tmp_path / "nope.toml")


def test_a_symbol_defined_twice_is_refused():
    entry = {"symbol": "PRB", "tick_size": "0.01", "reference_price": "100"}
    with pytest.raises(InstrumentError, match="defined twice"):
        InstrumentTable.from_dicts([entry, dict(entry)])


def test_negative_lot_and_bad_tier_are_refused():
    with pytest.raises(InstrumentError, match="lot_size must be a positive integer"):
        InstrumentTable.from_dicts([{"symbol": "A", "tick_size": "1", "reference_price": "5", "lot_size": -1}])
    with pytest.raises(InstrumentError, match="band_tier must be 1 or 2"):
        InstrumentTable.from_dicts([{"symbol": "A", "tick_size": "1", "reference_price": "5", "band_tier": 3}])


def test_unknown_symbol_lookup_lists_the_known_ones():
    table = InstrumentTable([Instrument.create("PRB", "0.01", "100")])
    with pytest.raises(InstrumentError, match="unknown symbol 'XYZ' \\(listed: PRB\\)"):
        table.get("XYZ")


def test_with_changes_gives_a_new_tick_size_for_an_exchange_driven_change():
    es = Instrument.create("ESZ6", "0.25", "5000.00")
    changed = es.with_changes(tick_size=Decimal("0.5"), reference_ticks=10000)
    assert changed.to_price(10001) == "5000.5"
    assert es.tick_size == Decimal("0.25")
