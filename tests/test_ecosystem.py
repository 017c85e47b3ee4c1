"""Canonry fits the tools around it: lock files, yamllint, outside JSON Schema validators,
pre-commit, the import workflow's steps, and a clock moved years ahead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from canonry.store.yamlio import dump_yaml, load_yaml
from checkouts import checkout_copy, plain_env
from conftest import ROOT, copy_reference, git
from helpers import mapping_entry, write_entry
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    exe = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if exe is None:
        pytest.fail(
            f"{name} is not installed: pip install -e '.[test]' (or apt-get install, .ci/system-packages)"
        )
    return exe


# --- the lock files ----------------------------------------------------------------------


def locked(name: str) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) of a lock file."""
    text = (ROOT / name).read_text()
    out: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", block)
        if match:
            out[canonicalize_name(match.group(1))] = (Version(match.group(2)), block.count("--hash=sha256:"))
    return out


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    test = [Requirement(r) for r in project["optional-dependencies"]["test"]]
    return runtime, test


def test_the_locks_pin_every_declared_dependency_within_its_bounds() -> None:
    runtime, test = declared()
    full, run_only = locked("requirements-test.lock"), locked("requirements.lock")
    assert full and run_only
    problems = []
    for lock_name, lock, wanted in (
        ("requirements-test.lock", full, runtime + test),
        ("requirements.lock", run_only, runtime),
    ):
        for req in wanted:
            pin = lock.get(canonicalize_name(req.name))
            if pin is None:
                problems.append(f"{req.name} is in pyproject.toml but not in {lock_name}")
            elif not req.specifier.contains(pin[0], prereleases=True):
                problems.append(f"{lock_name} pins {req.name}=={pin[0]}, outside {req.specifier}")
    assert not problems, "; ".join(problems) + ": run .ci/lock"
    # one version of each package in both files, and every pin with its hashes
    assert {n: v for n, (v, _) in run_only.items()} == {n: full[n][0] for n in run_only}
    assert all(count >= 1 for _, count in [*full.values(), *run_only.values()])
    assert "--require-hashes -r requirements-test.lock" in (ROOT / ".ci/run").read_text()


def test_every_dependency_has_an_upper_bound_on_its_major_version() -> None:
    runtime, test = declared()
    unbounded = [
        str(r)
        for r in runtime + test
        if not any(s.operator in ("<", "<=", "==", "~=", "===") for s in r.specifier)
    ]
    assert not unbounded, f"add an upper bound (e.g. <NEXT_MAJOR) in pyproject.toml to: {unbounded}"


def test_the_lock_script_targets_one_platform_with_hashes() -> None:
    script = (ROOT / ".ci/lock").read_text()
    assert "--generate-hashes" in script
    assert "--python-version 3.11 --python-platform x86_64-unknown-linux-gnu" in script
    assert re.search(r"^UV_VERSION=\d+\.\d+\.\d+$", script, re.M)
    for name in ("lock", "run", "drift"):
        assert os.access(ROOT / ".ci" / name, os.X_OK), f".ci/{name} is not executable"
    drift = (ROOT / ".ci/drift").read_text()
    assert '--upgrade --upgrade-strategy eager -e ".[test]"' in drift
    assert "python -m pytest -q" in drift


# --- yamllint ------------------------------------------------------------------------------

TRICKY: dict[str, Any] = {
    "id": "0194c3c2-7f00-7a6b-8d3e-1c2b3a4d5e6f",
    "pattern": "steel: rebar # not a comment",
    "yes": "no",
    "octal": "012",
    "empty": "",
    "nothing": None,
    "numbers": [0.5, 1, -3, 1e-07],
    "nested": {"list": [{"a": 1, "b": [True, False]}, []], "map": {}, "deep": [[["x"]]]},
    "multi": "line one\nline two\n",
    "arabic": "مصنع الحديد",
    "long": "word " * 60,
}


def yamllint(*paths: str | Path, config: str | None = None) -> subprocess.CompletedProcess[str]:
    conf = ["-d", config] if config is not None else ["-c", str(ROOT / ".yamllint")]
    return subprocess.run(
        [tool("yamllint"), "-s", "-f", "parsable", *conf, *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_the_canonical_dump_passes_the_shipped_yamllint_config(tmp_path: Path) -> None:
    path = tmp_path / "tricky.yaml"
    path.write_text(dump_yaml(TRICKY), encoding="utf-8")
    assert load_yaml(path.read_bytes(), str(path)) == TRICKY
    proc = yamllint(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and yamllint's defaults would not: the config is what makes it pass
    assert yamllint(path, config="extends: default").returncode != 0


def test_the_reference_knowledge_and_schemas_pass_yamllint() -> None:
    proc = yamllint("knowledge", "schemas", ".github", "tooling/canonry/templates", ".pre-commit-hooks.yaml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr


def test_the_yamllint_config_still_catches_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\npattern: a\npattern: b\nlist:\n- a\n-   b\nend: yes \n", encoding="utf-8")
    proc = yamllint(path)
    assert proc.returncode != 0
    assert "duplication of key" in proc.stdout
    assert "trailing spaces" in proc.stdout
    assert "truthy value" in proc.stdout


# --- the schemas with an outside validator ------------------------------------------------


def check_jsonschema(schema: str, *instances: Path) -> subprocess.CompletedProcess[str]:
    # every $id names https://schemas.canonry.dev/..., which does not exist: --base-uri makes
    # the relative $refs (common.schema.json#/$defs/...) resolve to the files beside the schema
    return subprocess.run(
        [
            tool("check-jsonschema"),
            "--base-uri",
            (ROOT / "schemas").as_uri() + "/",
            "--schemafile",
            str(ROOT / "schemas" / schema),
            *map(str, instances),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_jsonschema_validates_entries_with_base_uri() -> None:
    for library in ("mapping", "assumptions", "overrides", "scenario-patterns"):
        entries = sorted((ROOT / "knowledge" / library).glob("*.yaml"))[:40]
        assert entries, library
        proc = check_jsonschema(f"{library}.schema.json", *entries)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_jsonschema_rejects_what_canonry_rejects(tmp_path: Path) -> None:
    entry = mapping_entry("0194c3c2-7f00-7a6b-8d3e-1c2b3a4d5e6f", "steel rebar", "C24")
    entry["sector_code"] = "Z999"
    entry["updated_at"] = "yesterday"
    path = tmp_path / "bad.yaml"
    path.write_text(dump_yaml(entry), encoding="utf-8")
    proc = check_jsonschema("mapping.schema.json", path)
    assert proc.returncode == 1
    assert "$.sector_code" in proc.stdout


def test_the_docs_show_the_outside_validator_command() -> None:
    guide = (ROOT / "docs" / "init-and-ci.md").read_text(encoding="utf-8")
    assert 'check-jsonschema --base-uri "file://$PWD/schemas/"' in guide


# --- pre-commit -------------------------------------------------------------------------------


def test_the_pre_commit_hook_is_declared() -> None:
    hooks = load_yaml((ROOT / ".pre-commit-hooks.yaml").read_bytes(), ".pre-commit-hooks.yaml")
    assert isinstance(hooks, list)
    (hook,) = [h for h in hooks if h["id"] == "canonry-validate"]
    assert hook["entry"] == "canonry validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert re.match(hook["files"], "knowledge/mapping/x.yaml")
    assert re.match(hook["files"], "schemas/mapping.schema.json")
    assert not re.match(hook["files"], "README.md")


@pytest.mark.slow
def test_pre_commit_try_repo_runs_canonry_validate(tmp_path: Path) -> None:
    # pre-commit installs this checkout (a committed copy) into its own environment, as a
    # knowledge repository's .pre-commit-config.yaml would have it do
    hooks = checkout_copy(tmp_path / "canonry")
    kb = copy_reference(tmp_path / "kb", with_knowledge=False)
    write_entry(kb, "mapping", mapping_entry("m1", "steel rebar", "C24"))
    git(kb, "add", "-A")
    env = {**plain_env(), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}
    pre_commit = tool("pre-commit")

    def try_repo(*extra: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [pre_commit, "try-repo", str(hooks), "canonry-validate", *extra],
            cwd=kb,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        print(proc.stdout[-4000:], proc.stderr[-4000:])
        return proc

    good = try_repo("--all-files")
    assert good.returncode == 0
    assert re.search(r"canonry validate\.+Passed", good.stdout)

    bad = mapping_entry("m2", "cement plant", "C23")
    bad["confidence"] = 7
    write_entry(kb, "mapping", bad)
    git(kb, "add", "-A")
    failed = try_repo()
    assert failed.returncode == 1
    assert re.search(r"canonry validate\.+Failed", failed.stdout)
    assert "knowledge/mapping/m2.yaml" in failed.stdout
    assert "[schema]" in failed.stdout


# --- the import workflow, step by step ----------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*steps\.(\w+)\.outputs\.(\w+)\s*\}\}")


def import_steps() -> tuple[dict[str, str], list[dict[str, Any]]]:
    doc = load_yaml((ROOT / ".github/workflows/import.yml").read_bytes(), "import.yml")
    assert isinstance(doc, dict)
    job = doc["jobs"]["import"]
    literal_env = {k: str(v) for k, v in job["env"].items() if "${{" not in str(v)}
    return literal_env, [s for s in job["steps"] if "run" in s and s.get("name") != "Install Canonry"]


def run_import_workflow(tmp_path: Path, source_url: str, input_format: str) -> dict[str, Any]:
    """Run the workflow's shell steps the way the runner does, against a real origin."""
    kb = copy_reference(tmp_path / "kb")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(kb), str(origin)], check=True)
    git(kb, "remote", "add", "origin", str(origin))
    git(kb, "fetch", "-q", "origin")
    stub = tmp_path / "bin"
    stub.mkdir()
    calls = tmp_path / "gh-calls"
    # the forge's CLI is the only stand-in: it records what it was asked to do
    (stub / "gh").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (stub / "gh").chmod(0o755)
    summary = tmp_path / "summary.md"
    summary.write_text("")
    literal_env, steps = import_steps()
    env = {
        **os.environ,
        **literal_env,
        "PATH": f"{stub}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        "LIBRARY": "overrides",
        "SOURCE_URL": source_url,
        "INPUT_FORMAT": input_format,
        "GH_TOKEN": "not-a-token",
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SERVER_URL": "https://forge.example.org",
        "GITHUB_REPOSITORY": "org/kb",
        "GITHUB_RUN_ID": "1",
        "PYTHONPATH": str(ROOT / "tooling"),
    }
    (tmp_path / "runner-temp").mkdir()
    outputs: dict[str, dict[str, str]] = {}
    result: dict[str, Any] = {"kb": kb, "origin": origin, "calls": calls, "summary": summary, "ran": []}
    for step in steps:
        condition = step.get("if")
        if condition is not None:
            match = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+) != ''", condition)
            assert match, f"the test does not know how to evaluate `if: {condition}`"
            if not outputs.get(match.group(1), {}).get(match.group(2)):
                continue
        step_env = dict(env)
        for key, value in step.get("env", {}).items():
            step_env[key] = EXPRESSION.sub(lambda m: outputs.get(m.group(1), {}).get(m.group(2), ""), value)
            assert "${{" not in step_env[key], f"unknown expression in {key}: {value}"
        output = tmp_path / f"output-{len(result['ran'])}"
        output.write_text("")
        step_env["GITHUB_OUTPUT"] = str(output)
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=kb,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        print(f"--- {step.get('name')}\n{proc.stdout}\n{proc.stderr}")
        result["ran"].append((step.get("name"), proc.returncode, proc.stdout + proc.stderr))
        if proc.returncode != 0:
            return result
        if "id" in step:
            outputs[step["id"]] = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
            )
    result["outputs"] = outputs
    return result


def test_the_import_workflow_opens_a_pull_request_for_a_new_draft(tmp_path: Path) -> None:
    source = ROOT / "docs" / "examples" / "overrides-2026-03.jsonl"
    result = run_import_workflow(tmp_path, source.as_uri(), "auto")
    assert [code for _, code, _ in result["ran"]] == [0, 0, 0], result["ran"]
    outputs = result["outputs"]
    assert outputs["source"]["format"] == "jsonl"
    assert outputs["source"]["file"].endswith("/import/source.jsonl")
    assert re.fullmatch(re.escape(source.as_uri()) + r"#sha256=[0-9a-f]{64}", outputs["source"]["ref"])
    branch = outputs["import"]["branch"]
    assert branch.startswith("draft/import-overrides-")
    # the draft is on the origin, and a pull request was asked for
    assert git(result["origin"], "rev-parse", f"refs/heads/{branch}") == git(
        result["kb"], "rev-parse", branch
    )
    calls = result["calls"].read_text()
    assert f"pr create --base main --head {branch}" in calls
    assert "Import into overrides" in calls


def test_the_import_workflow_needs_a_format_for_an_address_without_extension(tmp_path: Path) -> None:
    export = tmp_path / "data" / "export"
    export.parent.mkdir()
    shutil.copy2(ROOT / "docs" / "examples" / "overrides-2026-03.jsonl", export)
    refused = run_import_workflow(tmp_path / "auto", export.as_uri(), "auto")
    name, code, output = refused["ran"][-1]
    assert (name, code) == ("Fetch the source file", 2)
    assert "::error::cannot tell the format of" in output
    assert "input_format" in output and "CANONRY_IMPORT_FORMAT" in output

    given = run_import_workflow(tmp_path / "given", export.as_uri(), "jsonl")
    assert [code for _, code, _ in given["ran"]] == [0, 0, 0], given["ran"]
    assert given["outputs"]["source"]["file"].endswith("/import/source.jsonl")


def test_import_names_input_format_when_it_cannot_tell(tmp_path: Path) -> None:
    kb = copy_reference(tmp_path / "kb")
    export = tmp_path / "export"
    shutil.copy2(ROOT / "docs" / "examples" / "overrides-2026-03.jsonl", export)
    proc = subprocess.run(
        [str(BIN / "canonry"), "import", "overrides", "--from", str(export), "--source-ref", "x"],
        cwd=kb,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tooling")},
        timeout=120,
    )
    assert proc.returncode == 2
    assert "pass --input-format csv|json|jsonl" in proc.stderr


# --- a clock years ahead -------------------------------------------------------------------


@pytest.mark.parametrize("shift", ["+365 days", "+5 years"])
def test_answers_do_not_depend_on_the_system_clock(tmp_path: Path, shift: str) -> None:
    # CANONRY_NOW (set for the whole suite) is the only clock: faketime moving the system
    # clock changes nothing Canonry prints
    faketime = tool("faketime")
    kb = copy_reference(tmp_path / "kb")
    # the real clock for the baseline, even when this suite itself runs under faketime
    real = {k: v for k, v in os.environ.items() if k not in {"LD_PRELOAD", "FAKETIME"}}
    env = {**real, "PYTHONPATH": str(ROOT / "tooling")}
    command = [str(BIN / "canonry"), "confidence", "assumptions", "--format", "json"]
    now = subprocess.run(command, cwd=kb, env=env, capture_output=True, text=True, timeout=120)
    later = subprocess.run(
        [faketime, shift, *command], cwd=kb, env=env, capture_output=True, text=True, timeout=120
    )
    assert now.returncode == later.returncode == 0, now.stderr + later.stderr
    assert json.loads(now.stdout) == json.loads(later.stdout)
    # faketime does move the clock of the process it runs
    year = subprocess.run(
        [faketime, shift, "date", "+%Y"], env=env, capture_output=True, text=True, check=True
    )
    this_year = subprocess.run(["date", "+%Y"], env=env, capture_output=True, text=True, check=True)
    assert int(year.stdout) > int(this_year.stdout)
