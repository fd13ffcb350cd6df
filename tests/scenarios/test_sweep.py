"""Sweeps: parameter grids x seeds, deterministic tables, resume, error rows, Dask, the report.

The runs are the Mizuho fat finger shortened to 35 s (the fault is at 30 s), with the order
engine's layer on and off: one value where the engine catches it, one where it reaches the venue.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios.sweep as sweep_module
from scenarios.suite import LIBRARY, library_files
from scenarios.sweep import (
    SweepError,
    connect,
    load_runs,
    plan_sweep,
    run_sweep,
    spawn_seeds,
    sweep_main,
)
from scenarios.sweep_params import apply_params, dumps_toml, parse_values

MIZUHO = LIBRARY / "mizuho-2005.toml"
GRID = ["scenario.duration=35s", "firm.MIZUHO.layers.engine=true,false"]


def _sweep(seeds: int = 2, grid: list[str] = GRID):
    return plan_sweep(MIZUHO, grid, seeds)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[object, str]:
    """The reference sweep: 2 values x 2 seeds on a 2-process pool, and its results.csv."""
    out = tmp_path_factory.mktemp("baseline")
    result = run_sweep(_sweep(), out, workers=2)
    return result, (out / "results.csv").read_text()


# -- values and paths ----------------------------------------------------------------------------


def test_values_are_lists_ranges_and_log_grids():
    assert parse_values("1000,10000,100000") == [1000, 10000, 100000]
    assert parse_values("range(100,1000,100)") == list(range(100, 1000, 100))
    assert parse_values("range(0.5,2,0.5)") == [0.5, 1, 1.5]
    assert parse_values("logspace(1,4,4)") == [10, 100, 1000, 10000]
    assert parse_values("logrange(1,1000,4)") == [1, 10, 100, 1000]
    assert parse_values("linspace(0,1,3)") == [0, 0.5, 1]
    assert parse_values("range(10,40,10)s") == ["10s", "20s", "30s"]
    assert parse_values('true,false,"a,b",x') == [True, False, "a,b", "x"]


def test_a_decimal_value_stays_text_for_a_price_field_and_is_a_number_for_an_integer_field():
    sweep = plan_sweep(MIZUHO, ["inject.1.price=100.05,1", "inject.1.qty=1e3,2000"], 1)
    assert sweep.params[0].values == ("100.05", "1")
    assert sweep.params[1].values == (1000, 2000)


def test_paths_name_array_elements_by_one_based_index_or_by_id_and_create_missing_tables():
    doc = tomllib.loads(MIZUHO.read_text())
    changed = apply_params(doc, [("inject.1.qty", 5), ("firm.MIZUHO.risk.max_order_qty", 7),
                                 ("firm.STREET.risk.max_position", 9)])
    assert changed["inject"][0]["qty"] == 5
    assert changed["firm"][0]["risk"]["max_order_qty"] == 7
    assert changed["firm"][1]["risk"] == {"max_position": 9}
    assert doc["inject"][0]["qty"] == 610000  # the base document is not touched


def test_values_that_only_make_sense_together_are_accepted_when_given_together():
    sweep = plan_sweep(MIZUHO, ["scenario.duration=2s", "inject.1.at=1s"], 1)
    assert [p.values for p in sweep.params] == [("2s",), ("1s",)]
    with pytest.raises(SweepError, match="--param scenario.duration=2s: .*at 30s is after the end"):
        plan_sweep(MIZUHO, ["scenario.duration=2s"], 1)


def test_the_toml_writer_round_trips_every_library_scenario():
    for path in library_files():
        doc = tomllib.loads(path.read_text())
        assert tomllib.loads(dumps_toml(doc)) == doc, path.name


_keys = st.text(min_size=1, max_size=8)
_scalars = st.one_of(st.text(max_size=12), st.integers(-2**63, 2**63 - 1), st.booleans(),
                     st.floats(allow_nan=False))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
                       max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _values | st.lists(st.dictionaries(_keys, _values, max_size=3), min_size=1, max_size=2),
                       max_size=5))
def test_the_toml_writer_round_trips_any_document_tomllib_could_have_read(doc):
    assert tomllib.loads(dumps_toml(doc)) == doc


def test_more_seeds_later_keep_the_first_seeds_so_their_runs_are_reused():
    assert spawn_seeds(2005, 5)[:3] == spawn_seeds(2005, 3)
    assert len(set(spawn_seeds(2005, 50))) == 50


@pytest.mark.parametrize(("param", "message"), [
    ("inject.9.qty=5", "--param inject.9.qty: inject has 1 entries; index 9 is out of range"),
    ("inject.0.qty=5", "index 0 is out of range (indexes start at 1"),
    ("firm.NOPE.risk.max_order_qty=5", "no [[firm]] named 'NOPE' (ids: MIZUHO, STREET)"),
    ("scenario.nme=x", "--param scenario.nme=x: [scenario]: unknown field 'nme' (did you mean 'name'?)"),
    ("inject.1.qty=1000,-5", "--param inject.1.qty=-5: [[inject]] #1 (fat_finger) qty must be a positive integer, got -5"),
    ("inject.1.qty=abc", "--param inject.1.qty: expects a whole number, got 'abc'"),
    ("agents.lp_cuont=2", "--param agents.lp_cuont=2:"),
    ("firm.MIZUHO.risk=5", "--param firm.MIZUHO.risk: this is a table; sweep one of its fields"),
    ("inject.1.qty", "expected PATH=VALUES"),
    ("inject.1.qty=range(1,2,0)", "step != 0"),
])
def test_a_bad_param_is_refused_before_anything_runs_naming_the_path(param, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert sweep_main([str(MIZUHO), "--param", param, "--seeds", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not out.exists()


# -- running -------------------------------------------------------------------------------------


def test_a_small_sweep_gives_one_row_per_parameter_value_and_seed(baseline):
    result, _ = baseline
    rows = result.rows
    seeds = spawn_seeds(2005, 2)
    assert [(r["firm.MIZUHO.layers.engine"], r["seed"]) for r in rows] == [
        ("true", seeds[0]), ("true", seeds[1]), ("false", seeds[0]), ("false", seeds[1])]
    assert [r["passed"] for r in rows] == [True, True, False, False]
    assert not any(r["error"] for r in rows)
    on, off = rows[0], rows[2]
    assert on["first_stop_layer"] == "engine" and on["venue_orders_MIZUHO"] == 0
    assert on["expect1_caught_by"] == "pass" and off["expect2_no_order_reaches_venue"] == "fail"
    assert off["venue_orders_MIZUHO"] == 1 and off["first_stop_s"] is None
    assert on["fault_s"] == pytest.approx(30.001)


def test_the_same_sweep_run_again_in_one_process_gives_a_byte_identical_table(baseline, tmp_path):
    _, expected = baseline
    run_sweep(_sweep(), tmp_path, workers=0)
    assert (tmp_path / "results.csv").read_text() == expected


def test_a_row_is_reproduced_by_marketdrill_run_on_its_shown_variant_and_seed(baseline, tmp_path, capsys):
    from scenarios.suite import run_file

    result, _ = baseline
    row = result.rows[2]
    argv = [str(MIZUHO), *sum((["--param", p] for p in GRID), []), "--seeds", "2", "--show", str(row["run"])]
    assert sweep_main(argv) == 0
    variant = tmp_path / "variant.toml"
    variant.write_text(capsys.readouterr().out)
    outcome = run_file(variant, row["seed"])
    assert outcome.record.journal_hash == row["journal_hash"]
    assert outcome.passed == row["passed"]


def test_an_interrupted_sweep_resumes_without_redoing_finished_runs(baseline, tmp_path):
    _, expected = baseline

    def interrupt(done, total, errors, elapsed):
        raise KeyboardInterrupt  # as Ctrl-C after the first chunk came back

    first = run_sweep(_sweep(), tmp_path, workers=2, chunk=1, progress=interrupt)
    assert first.interrupted and first.ran == 1
    assert len(load_runs(tmp_path / "runs.jsonl")) == 1
    second = run_sweep(_sweep(), tmp_path, workers=2, chunk=1)
    assert not second.interrupted
    assert (second.skipped, second.ran) == (1, 3)
    keys = [json.loads(line)["key"] for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4  # no run done twice
    assert (tmp_path / "results.csv").read_text() == expected


def test_a_torn_last_line_is_dropped_on_resume_and_that_run_done_again(baseline, tmp_path):
    _, expected = baseline
    run_sweep(_sweep(), tmp_path, workers=0)
    journal = tmp_path / "runs.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])  # killed mid-write
    again = run_sweep(_sweep(), tmp_path, workers=0)
    assert (again.skipped, again.ran) == (3, 1)
    assert (tmp_path / "results.csv").read_text() == expected


def test_a_resume_into_a_directory_of_another_scenario_is_refused(tmp_path):
    run_sweep(plan_sweep(MIZUHO, ["scenario.duration=35s"], 1), tmp_path, workers=0)
    other = plan_sweep(MIZUHO, ["scenario.duration=35s"], 1, root_seed=7)
    with pytest.raises(SweepError, match="different scenario text or root seed"):
        run_sweep(other, tmp_path, workers=0)


def test_a_run_that_raises_is_an_error_row_and_the_sweep_goes_on(monkeypatch, tmp_path):
    bad_seed = spawn_seeds(2005, 2)[1]
    real = sweep_module.run_scenario

    def flaky(scenario, seed):
        if seed == bad_seed:
            raise RuntimeError("boom in the runner")
        return real(scenario, seed)

    monkeypatch.setattr(sweep_module, "run_scenario", flaky)
    result = run_sweep(_sweep(), tmp_path, workers=0)
    errors = [r for r in result.rows if r["error"]]
    assert len(result.rows) == 4 and len(errors) == 2
    assert all(r["seed"] == bad_seed and "RuntimeError: boom in the runner" in r["error"] for r in errors)
    assert all(not r["passed"] for r in errors)
    assert "error" in (tmp_path / "results.csv").read_text().splitlines()[0]


def test_a_combination_that_is_only_invalid_together_is_an_error_row(tmp_path):
    # each value is valid with the others at their first value (2m, 10s); 35s with 1m is not
    sweep = plan_sweep(MIZUHO, ["scenario.duration=2m,35s", "inject.1.at=10s,1m"], 1)
    result = run_sweep(sweep, tmp_path, workers=0)
    errors = {(r["scenario.duration"], r["inject.1.at"]): r["error"] for r in result.rows if r["error"]}
    assert list(errors) == [("35s", "1m")]
    assert "at 1m is after the end of the scenario" in errors[("35s", "1m")]
    assert sum(r["passed"] for r in result.rows) == 3


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                    reason="needs fork workers to inherit the monkeypatched runner")
def test_a_worker_process_that_dies_is_an_error_row_for_its_run_only(monkeypatch, tmp_path):
    doomed = spawn_seeds(2005, 2)[0]
    real = sweep_module.run_scenario

    def crash(scenario, seed):
        if seed == doomed and scenario.firms[0].layers["engine"]:
            os._exit(3)  # like a segfault: no exception, the process is gone
        return real(scenario, seed)

    monkeypatch.setattr(sweep_module, "run_scenario", crash)
    result = run_sweep(_sweep(), tmp_path, workers=2)
    errors = [r for r in result.rows if r["error"]]
    assert len(result.rows) == 4
    assert [(r["firm.MIZUHO.layers.engine"], r["seed"]) for r in errors] == [("true", doomed)]
    assert "worker process died" in errors[0]["error"]


# -- the command and the report ------------------------------------------------------------------


def test_the_command_writes_the_table_plots_and_one_html_page(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="plots need the sweep extra: pip install 'marketdrill[sweep]'")
    out = tmp_path / "out"
    argv = [str(MIZUHO), *sum((["--param", p] for p in GRID), []), "--seeds", "2", "--workers", "0", "--out", str(out)]
    assert sweep_main(argv) == 0
    printed = capsys.readouterr().out
    assert "firm.MIZUHO.layers.engine  true" in printed and "100%" in printed and "0%" in printed
    page = (out / "report.html").read_text()
    for name in ("pass_rate.png", "time_to_stop.png", "damage.png"):
        assert (out / name).stat().st_size > 1000
    assert page.count("data:image/png;base64,") == 3
    assert sweep_main(argv) == 0  # again: everything is already done
    assert "4 already done" in capsys.readouterr().out


def test_without_matplotlib_the_report_has_tables_and_says_how_to_get_plots(baseline, monkeypatch, tmp_path):
    from scenarios.sweep_plots import write_report

    result, _ = baseline
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    result.out = tmp_path
    files, note = write_report(result)
    assert files == [tmp_path / "report.html"]
    assert "pip install 'marketdrill[sweep]'" in note
    assert "<table>" in (tmp_path / "report.html").read_text()


def test_without_dask_the_cluster_option_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(SweepError, match=r"marketdrill\[cluster\]"):
        connect("tcp://127.0.0.1:8786")


# Last in the file: the cluster leaves threads behind, and the fork-based tests above prefer none.
def test_the_same_sweep_on_a_dask_cluster_gives_the_same_table(baseline, tmp_path):
    distributed = pytest.importorskip("dask.distributed",
                                      reason="dask.distributed is not installed (pip install 'marketdrill[cluster]')")
    _, expected = baseline
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = run_sweep(_sweep(), tmp_path, cluster=cluster.scheduler_address)
    assert result.ran == 4 and not result.errors
    assert (tmp_path / "results.csv").read_text() == expected


def test_a_cluster_address_nobody_listens_on_is_refused_clearly():
    pytest.importorskip("dask.distributed", reason="dask.distributed is not installed")
    with pytest.raises(SweepError, match="cannot reach the Dask scheduler"):
        connect("tcp://127.0.0.1:1", timeout="1s")
