"""benchmarks/generate.py builds data the gates accept: its own v1 -> v2 change passes them."""

from __future__ import annotations

import sys
from pathlib import Path

from canonry.gates.engine import run_gates
from canonry.store.repo import Repository
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate  # noqa: E402


def test_the_generated_change_passes_the_evidence_and_scope_gates(tmp_path: Path):
    info = generate.generate(tmp_path / "repo", 300, worktree=False)
    assert (len(info.changed_ids), len(info.added_ids), len(info.removed_ids)) == (100, 50, 50)
    result = run_gates(
        Repository(info.path),
        "mapping/v1",
        "mapping/v2",
        gates=["yaml", "schema", "identity", "checks", "evidence", "scope", "duplicates", "conflicts"],
    )
    errors = [f for f in result.findings if f.severity == "error"]
    assert errors == [] and result.ok
    assert result.metrics["overrides_ingested"]["mapping"] > 0  # learned entries cite real overrides
