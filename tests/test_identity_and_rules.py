"""Bad repositories, rules and invocations: each has a defined outcome and exit code."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pygit2
import pytest
from canonry.gates.engine import validate
from canonry.store.repo import Repository
from conftest import git, run
from helpers import mapping_entry, write_entry, write_text


def findings(result) -> list[dict]:
    return json.loads(result.stdout)["findings"]


def commit_all(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def test_id_must_equal_file_name(small_repo: Path) -> None:
    entry = mapping_entry("m1", "cement", "C23")
    entry["id"] = "../x"
    write_entry(small_repo, "mapping", {**entry, "id": "m1"})
    path = small_repo / "knowledge/mapping/m1.yaml"
    path.write_text(path.read_text().replace("id: m1", "id: ../x"))
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    messages = {(f["gate"], f["message"]) for f in findings(result)}
    assert ("identity", "id: '../x' differs from the file name 'm1'") in messages
    assert any(f["gate"] == "schema" and f["line"] == 1 for f in findings(result))


@pytest.mark.parametrize("name", ["A", "has_underscore", "-lead", "x" * 64])
def test_bad_file_names_are_identity_errors(small_repo: Path, name: str) -> None:
    write_text(small_repo, f"knowledge/mapping/{name}.yaml", f"id: {name}\n")
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    assert any(
        f["gate"] == "identity" and "is not a valid id" in f["message"] and f["path"].endswith(f"{name}.yaml")
        for f in findings(result)
    )


def test_symlink_submodule_executable_and_strays_are_refused(small_repo: Path) -> None:
    os.symlink("m0.yaml", small_repo / "knowledge/mapping/link.yaml")
    exe = write_entry(small_repo, "mapping", mapping_entry("exe", "exec", "C10"))
    exe.chmod(0o755)
    write_text(small_repo, "knowledge/notes.txt", "hello\n")
    write_text(small_repo, "knowledge/mapping/readme.md", "hello\n")
    commit_all(small_repo)
    head = git(small_repo, "rev-parse", "HEAD")
    git(small_repo, "update-index", "--add", "--cacheinfo", f"160000,{head},knowledge/mapping/sub")
    git(small_repo, "commit", "-q", "-m", "submodule")
    result = run(["validate", "--repo", str(small_repo), "--ref", "HEAD", "--format", "json"])
    assert result.exit_code == 1
    got = {(f["path"], f["message"]) for f in findings(result) if f["gate"] == "identity"}
    assert ("knowledge/mapping/link.yaml", "symbolic link: entries must be plain files") in got
    assert ("knowledge/mapping/exe.yaml", "executable file: entries must be plain files (chmod -x)") in got
    assert ("knowledge/mapping/sub", "submodule: entries must be plain files") in got
    assert any(p == "knowledge/notes.txt" and m.startswith("stray file") for p, m in got)
    assert any(p == "knowledge/mapping/readme.md" and m.startswith("stray file") for p, m in got)


def test_names_colliding_after_casefold_and_nfc(small_repo: Path) -> None:
    repo = pygit2.Repository(str(small_repo))
    head = repo.head.peel(pygit2.Commit)
    blob = repo.create_blob(b"id: x\n")
    knowledge = repo[head.tree["knowledge"].id]
    mapping = repo[knowledge["mapping"].id]
    tb = repo.TreeBuilder(mapping)
    tb.insert("Abc.yaml", blob, pygit2.enums.FileMode.BLOB)
    tb.insert("abc.yaml", repo.create_blob(b"id: abc\n"), pygit2.enums.FileMode.BLOB)
    kb = repo.TreeBuilder(knowledge)
    kb.insert("mapping", tb.write(), pygit2.enums.FileMode.TREE)
    rb = repo.TreeBuilder(head.tree)
    rb.insert("knowledge", kb.write(), pygit2.enums.FileMode.TREE)
    sig = pygit2.Signature("T", "t@example.org", 1_700_000_000, 0)
    repo.create_commit("refs/heads/collide", sig, sig, "collide", rb.write(), [head.id])
    result = validate(Repository(small_repo), ref="collide")
    assert any("collides with" in f.message for f in result.findings), result.findings


def test_remote_ref_in_schema_is_never_fetched(small_repo: Path) -> None:
    schema_path = small_repo / "schemas/mapping.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["pattern"] = {"$ref": "https://example.org/evil.schema.json"}
    schema_path.write_text(json.dumps(schema))
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    [finding] = [f for f in findings(result) if f["path"] == "schemas/mapping.schema.json"]
    assert "cannot be resolved from the repository's own schemas" in finding["message"]


def test_file_ref_in_schema_is_never_read(small_repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"type": "string"}')
    schema_path = small_repo / "schemas/mapping.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["pattern"] = {"$ref": secret.as_uri()}
    schema_path.write_text(json.dumps(schema))
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    assert any("cannot be resolved" in f["message"] for f in findings(result))


def test_typoed_dialect_is_reported(small_repo: Path) -> None:
    schema_path = small_repo / "schemas/mapping.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/shema"
    schema_path.write_text(json.dumps(schema))
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    assert any("$schema must be" in f["message"] for f in findings(result))


def test_unanchored_pattern_in_schema_is_reported(small_repo: Path) -> None:
    schema_path = small_repo / "schemas/mapping.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["pattern"] = {"type": "string", "pattern": "[a-z]+"}
    schema_path.write_text(json.dumps(schema))
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    assert any("must be anchored" in f["message"] for f in findings(result))


def test_trailing_newline_does_not_slip_past_a_dollar_anchor(small_repo: Path) -> None:
    path = small_repo / "knowledge/mapping/m0.yaml"
    path.write_text(path.read_text().replace("sector_code: C24", 'sector_code: "C24\\n"'))
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    assert any(f["gate"] == "schema" and f["message"].startswith("sector_code:") for f in findings(result))


def test_broken_libraries_yaml_is_a_finding_with_its_line(small_repo: Path) -> None:
    reg = small_repo / "schemas/libraries.yaml"
    reg.write_text(reg.read_text().replace("lifecycle: versioned", "lifecycle: sometimes", 1))
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    assert result.exit_code == 1
    [finding] = [f for f in findings(result) if f["path"] == "schemas/libraries.yaml"]
    line = reg.read_text().splitlines()[finding["line"] - 1]
    assert "sometimes" in line
    assert "lifecycle" in finding["message"]


def test_unparseable_libraries_yaml(small_repo: Path) -> None:
    (small_repo / "schemas/libraries.yaml").write_text("policy: [\n")
    result = run(["validate", "--repo", str(small_repo)])
    assert result.exit_code == 1
    assert "schemas/libraries.yaml:2:1: error: [schema] invalid YAML" in result.stdout


def test_unknown_library_ref_and_version_exit_2(small_repo: Path) -> None:
    for args, message in [
        (["validate", "--library", "nope"], "unknown library: nope"),
        (["gate", "--base", "nope"], "unknown ref: nope"),
        (["show", "mapping@v9"], "unknown version: mapping@v9"),
        (["show", "nope@main"], "unknown library: nope"),
    ]:
        result = run([*args, "--repo", str(small_repo)])
        assert result.exit_code == 2, args
        assert message in result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_not_a_repository_exit_2(tmp_path: Path) -> None:
    result = run(["validate", "--repo", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a git repository" in result.stderr


def test_shallow_clone_refused_by_gate(small_repo: Path, tmp_path: Path) -> None:
    write_entry(small_repo, "mapping", mapping_entry("m5", "bank", "K64"))
    commit_all(small_repo)
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", small_repo.as_uri(), str(clone)], check=True)
    result = run(["gate", "--repo", str(clone), "--base", "HEAD", "--head", "HEAD"])
    assert result.exit_code == 2
    assert "shallow clone" in result.stderr


def test_sha256_repository_refused(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", "--object-format=sha256", str(tmp_path / "r")], check=True)
    result = run(["validate", "--repo", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "SHA-256" in result.stderr


def test_validate_paths_limit_the_check(small_repo: Path) -> None:
    write_text(small_repo, "knowledge/mapping/broken.yaml", "id: [\n")
    ok = run(["validate", "--repo", str(small_repo), str(small_repo / "knowledge/mapping/m0.yaml")])
    assert ok.exit_code == 0
    bad = run(["validate", "--repo", str(small_repo), str(small_repo / "knowledge/mapping")])
    assert bad.exit_code == 1


def test_validate_sees_uncommitted_and_deleted_files(small_repo: Path) -> None:
    write_text(small_repo, "knowledge/mapping/new1.yaml", "id: new1\nnope: 1\n")
    (small_repo / "knowledge/mapping/m1.yaml").unlink()
    result = run(["validate", "--repo", str(small_repo), "--format", "json"])
    doc = json.loads(result.stdout)
    assert doc["metrics"]["libraries"]["mapping"] == 3  # m0, m2, new1
    assert any(f["path"] == "knowledge/mapping/new1.yaml" for f in doc["findings"])


def test_github_format_annotations_and_summary(small_repo: Path, tmp_path: Path, monkeypatch) -> None:
    write_text(small_repo, "knowledge/mapping/bad.yaml", "id: bad\nid: x\n")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(["validate", "--repo", str(small_repo), "--format", "github"])
    assert result.exit_code == 1
    assert (
        "::error file=knowledge/mapping/bad.yaml,line=2,col=1,title=canonry yaml::duplicate key 'id'"
        in result.stdout
    )
    assert "gates fail" in summary.read_text()
