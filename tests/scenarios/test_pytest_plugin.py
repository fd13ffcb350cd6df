"""``pytest --marketdrill DIR``: each scenario file becomes a test; a failing one shows the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scenarios.suite import LIBRARY


def test_scenarios_run_as_pytest_items_and_failures_show_the_report(tmp_path):
    (tmp_path / "good.toml").write_text((LIBRARY / "mizuho-2005.toml").read_text())
    (tmp_path / "bad.toml").write_text((LIBRARY / "mizuho-2005.toml").read_text().replace(
        'layer = "engine"', 'layer = "venue"'))
    run = subprocess.run([sys.executable, "-m", "pytest", "--marketdrill", str(tmp_path), "-q", "-p",
                          "no:cacheprovider"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed" in run.stdout
    assert "caught by the engine, not the venue" in run.stdout
    assert "scenario[bad]" in run.stdout


def test_without_the_option_nothing_is_collected(tmp_path):
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "no tests ran" in run.stdout
    assert Path(tmp_path).exists()
