"""One reporting layer: renderers by format name, and one place that turns a result into an exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from canonry.compare.merge import FieldConflict, FileMerge
from canonry.errors import CheckFailed
from canonry.gates.findings import ERROR, WARNING, Finding, GateResult
from canonry.report import diff as diff_report
from canonry.report import gate as gate_report
from canonry.report.outcome import exit_code
from conftest import ROOT

HEAVY = ("yaml", "jsonschema", "pygit2", "deepdiff", "referencing")


def result(*severities: str) -> GateResult:
    found = [
        Finding(
            path=f"knowledge/mapping/m{i}.yaml", line=i + 1, gate="schema", severity=s, message=f"problem {i}"
        )
        for i, s in enumerate(severities)
    ]
    return GateResult(base=None, head={"ref": "HEAD", "commit": "0" * 40}, findings=found, gates=["schema"])


def test_a_result_with_errors_exits_1_and_warnings_alone_exit_0() -> None:
    assert exit_code(result()) == 0
    assert exit_code(result(WARNING)) == 0
    assert exit_code(result(WARNING, ERROR)) == 1 == CheckFailed.exit_code


def test_a_merge_exits_by_whether_it_is_clean() -> None:
    conflict = FieldConflict(None, "e", "p", "f", 1, 2, 3)
    assert exit_code(FileMerge(b"x")) == 0
    assert exit_code(FileMerge(b"x", (conflict,))) == 1


def test_channel_and_impact_documents_exit_through_the_outcome() -> None:
    from canonry.report.outcome import channels_verdict, impact_verdict

    good = {"channels": [{"current": None, "verified": False}, {"current": {"tag": "t"}, "verified": True}]}
    bad = {"channels": [{"current": {"tag": "t"}, "verified": False}]}
    assert exit_code(channels_verdict(good)) == 0
    assert exit_code(channels_verdict(bad)) == 1
    assert exit_code(impact_verdict({"summary": {"affected": 0}})) == 0
    assert exit_code(impact_verdict({"summary": {"affected": 2}})) == 1


def test_no_command_module_builds_its_own_exit_code() -> None:
    # results become exit codes in report.outcome only: a command passes one through, never a literal 1
    for path in (ROOT / "tooling" / "canonry" / "cli").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "SystemExit(1" not in text and "SystemExit(0" not in text, path.name


def test_every_gate_format_renders_and_json_is_the_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    r = result(ERROR)
    assert sorted(gate_report.REPORTER_BY_NAME) == ["github", "json", "markdown", "text"]
    for render in gate_report.REPORTER_BY_NAME.values():
        assert "m0.yaml" in render(r)
    assert json.loads(gate_report.render_json(r))["format"] == "canonry.gate/v1"
    (tmp_path / "summary.md").unlink()
    assert gate_report.render_github(r).startswith(
        "::error file=knowledge/mapping/m0.yaml,line=1,title=canonry schema::"
    )
    assert (tmp_path / "summary.md").read_text(encoding="utf-8") == gate_report.render_markdown(r)


def test_diff_formats_are_the_ones_the_cli_offers() -> None:
    from canonry.cli import diffs

    assert tuple(sorted(diff_report.RENDERERS)) == diffs.FORMATS


def test_renderer_modules_load_no_heavy_dependency() -> None:
    # the CLI names their formats in --help: importing them must stay cheap
    code = (
        "import sys, pkgutil, importlib, canonry.report as r;"
        "[importlib.import_module('canonry.report.' + m.name) for m in pkgutil.iter_modules(r.__path__)];"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tooling")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_yaml_diff_loads_yaml_when_asked() -> None:
    doc = {
        "format": "canonry.diff/v1",
        "from": {"ref": "a", "commit": "1" * 40},
        "to": {"ref": "b", "commit": "2" * 40},
        "libraries": {},
    }
    assert diff_report.render_yaml(doc).startswith("format: canonry.diff/v1\n")
    assert diff_report.render_text(doc).endswith("no differences\n")
