"""Data dictionary: shipped JSON, XML conversion, spot checks against the FIX spec."""

from __future__ import annotations

import pytest

from sim.fix.dictionary import Dictionary, DictionaryError, dump_spec, spec_from_quickfix_xml


@pytest.fixture(scope="module")
def dd44() -> Dictionary:
    return Dictionary.for_begin_string("FIX.4.4")


@pytest.fixture(scope="module")
def dd42() -> Dictionary:
    return Dictionary.for_begin_string(b"FIX.4.2")


def test_standard_dictionaries_are_cached_per_begin_string(dd44):
    assert Dictionary.for_begin_string("FIX.4.4") is dd44
    assert dd44.begin_string == "FIX.4.4" and "QuickFIX" in dd44.source


def test_unknown_begin_string_is_refused_with_a_clear_error():
    with pytest.raises(DictionaryError, match="FIX.4.9"):
        Dictionary.for_begin_string("FIX.4.9")


def test_fix44_new_order_single_requires_clordid_side_transacttime_ordtype(dd44):
    nos = dd44.message(b"D")
    assert nos.name == "NewOrderSingle" and not dd44.is_admin(b"D")
    assert set(nos.required) == {11, 54, 60, 40}
    assert {55, 38, 44, 453, 78, 386} <= nos.fields


def test_fix42_new_order_single_requires_symbol_and_handlinst(dd42):
    assert set(dd42.message(b"D").required) == {11, 21, 55, 54, 60, 40}


def test_fix44_parties_group_is_nested_with_its_delimiter(dd44):
    g = dd44.message(b"D").groups[453]
    assert g.delim == 448 and {448, 447, 452, 802} <= g.members
    assert g.groups[802].delim == 523


def test_fix44_market_data_groups(dd44):
    assert dd44.message(b"W").groups[268].delim == 269
    assert 269 in dd44.message(b"W").groups[268].required
    assert dd44.message(b"V").groups[146].delim == 55
    assert dd44.message(b"V").groups[267].delim == 269


def test_fix42_market_data_request_groups(dd42):
    v = dd42.message(b"V")
    assert v.groups[146].delim == 55 and v.groups[267].delim == 269


def test_header_and_trailer_layouts(dd44, dd42):
    assert dd44.header_required == (8, 9, 34, 35, 49, 52, 56)
    assert dd44.trailer_required == (10,)
    assert 627 in dd44.header_groups and {115, 128, 43, 97, 122} <= dd44.header_tags
    assert dd42.header_required == (8, 9, 34, 35, 49, 52, 56)


def test_field_types_and_enums(dd44, dd42):
    assert dd44.field_type(38) == "QTY" and dd44.field_type(34) == "SEQNUM" and dd42.field_type(34) == "INT"
    assert dd44.field_name(35) == "MsgType" and dd44.field_name(99999) == "99999"
    assert b"1" in dd44.enum_sets[21] and b"4" not in dd44.enum_sets[21]
    assert 18 in dd44.multi_value  # ExecInst
    assert dd44.data_fields[96] == 95 and dd44.data_fields[89] == 93


def test_admin_message_types(dd44):
    assert all(dd44.is_admin(t) for t in (b"0", b"1", b"2", b"3", b"4", b"5", b"A"))
    assert not dd44.is_admin(b"8") and not dd44.is_msg_type(b"*")


MINI = """<fix type='FIX' major='4' minor='4'>
 <header><field name='BeginString' required='Y'/><field name='MsgType' required='Y'/></header>
 <trailer><field name='CheckSum' required='Y'/></trailer>
 <messages>
  <message name='Heartbeat' msgtype='0' msgcat='admin'><field name='TestReqID' required='N'/></message>
  <message name='Order' msgtype='D' msgcat='app'>
   <component name='Inst' required='Y'/>
   <group name='NoParties' required='Y'><field name='PartyID' required='Y'/><component name='Inst' required='Y'/></group>
  </message>
 </messages>
 <components><component name='Inst'><field name='Symbol' required='Y'/></component></components>
 <fields>
  <field number='8' name='BeginString' type='STRING'/><field number='35' name='MsgType' type='STRING'/>
  <field number='10' name='CheckSum' type='STRING'/><field number='112' name='TestReqID' type='STRING'/>
  <field number='55' name='Symbol' type='STRING'/><field number='448' name='PartyID' type='STRING'/>
  <field number='453' name='NoParties' type='NUMINGROUP'/>
  <field number='54' name='Side' type='CHAR'><value enum='1' description='BUY'/></field>
 </fields>
</fix>"""


def test_from_quickfix_xml_expands_components_and_nests_groups(tmp_path):
    p = tmp_path / "mini.xml"
    p.write_text(MINI)
    dd = Dictionary.from_quickfix_xml(p)
    d = dd.message(b"D")
    assert d.required == (55, 453)
    g = d.groups[453]
    # QuickFIX: fields of a component inside a group are never required
    assert g.delim == 448 and g.required == (448,) and g.members == {448, 55}
    assert dd.enum_sets[54] == {b"1"}


def test_shipped_json_matches_a_fresh_conversion_of_the_spec_text(tmp_path):
    p = tmp_path / "mini.xml"
    p.write_text(MINI)
    spec = spec_from_quickfix_xml(p)
    assert Dictionary(__import__("json").loads(dump_spec(spec))).messages.keys() == {b"0", b"D"}


@pytest.mark.parametrize(
    "text, match",
    [
        ("<fix major='4' minor='4'><fields>", "not well-formed XML"),
        ("<fox/>", "expected <fix>"),
        ("<fix major='4'/>", "major and minor"),
        (MINI.replace("<field name='Symbol' required='Y'/></component>", "<field name='Nope' required='Y'/></component>"),
         "field Nope used in .* not defined"),
        (MINI.replace("<component name='Inst' required='Y'/>\n", "<component name='Gone' required='Y'/>\n"),
         "component Gone"),
        (MINI.replace("number='55'", "number='x55'"), "non-integer number"),
    ],
)
def test_malformed_xml_is_refused_naming_the_file_and_the_problem(tmp_path, text, match):
    p = tmp_path / "bad.xml"
    p.write_text(text)
    with pytest.raises(DictionaryError, match=match) as info:
        Dictionary.from_quickfix_xml(p)
    assert "bad.xml" in str(info.value)


def test_missing_file_is_refused_clearly(tmp_path):
    with pytest.raises(DictionaryError, match="not found"):
        Dictionary.from_quickfix_xml(tmp_path / "nope.xml")


def test_canonical_body_order_sorts_tags_and_keeps_group_entries_after_their_count(dd44):
    body = [(60, b"T"), (11, b"ID"), (453, b"2"), (448, b"P1"), (452, b"1"), (447, b"D"), (448, b"P2"), (55, b"X"),
            (1, b"A")]
    assert dd44.canonical_body_order(b"D", body) == [
        (1, b"A"), (11, b"ID"), (55, b"X"), (60, b"T"), (453, b"2"), (448, b"P1"), (447, b"D"), (452, b"1"),
        (448, b"P2")]


def test_canonical_body_order_keeps_empty_groups_and_unknown_types_sorted(dd44):
    body = [(454, b"0"), (55, b"TBS"), (22, b"8")]
    assert dd44.canonical_body_order(b"d", body) == [(22, b"8"), (55, b"TBS"), (454, b"0")]
    assert dd44.canonical_body_order(b"*", [(2, b"b"), (1, b"a")]) == [(1, b"a"), (2, b"b")]
