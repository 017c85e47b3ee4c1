"""The benchmark commands the docs give run as written (at a small size: the real runs take minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the benchmarks time Linux processes")


def _run(args: list[str], out: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_cold_ci_benchmark_runs_and_judges_its_targets(tmp_path: Path) -> None:
    # docs/benchmarks.md: python benchmarks/run.py --sizes 100000 --only ci --repeat 5
    done = _run(
        ["benchmarks/run.py", "--sizes", "1000", "--only", "ci,diff,startup", "--repeat", "1"], tmp_path
    )
    results = json.loads((tmp_path / "results.json").read_text())
    keys = {row["key"] for row in results["rows"]}
    assert {"gate_fresh_clone", "gate_warm", "gate_holdout_cold", "validate_cli_cold", "ci_diff_cli"} <= keys
    assert "`canonry gate` of the 150-entry change, fresh clone, index fetched, cold" in done.stdout


def test_the_million_entry_benchmark_runs_at_a_small_size(tmp_path: Path) -> None:
    # docs/benchmarks.md: python benchmarks/million.py
    done = _run(["benchmarks/million.py", "--entries", "2000"], tmp_path)
    result = json.loads((tmp_path / "million.json").read_text())
    assert result["format"] == "canonry.benchmarks.million/v1" and result["entries"] == 2000
    assert "canonry gate (150 entries), fresh clone, index fetched, cold" in done.stdout
