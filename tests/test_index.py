"""Derived indexes shipped in git (refs/canonry/index/<tree>): used, verified, never trusted blindly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from canonry.gates import content, derived
from canonry.gates.engine import run_gates
from canonry.store import entries
from canonry.store import index as shipped
from canonry.store.repo import Repository
from canonry.store.rules import load_rules
from canonry.store.states import TreeState
from canonry.store.validation import FORMATS, is_date_time, is_uri, is_uuid
from conftest import git, run
from helpers import mapping_entry, write_entry
from runtime_helpers import Daemon, bare_copy


def _forget(repo: Path) -> None:
    """What a fresh clone has: no local cache, nothing in memory."""
    shutil.rmtree(repo / ".git" / "canonry", ignore_errors=True)
    content._MEMORY.clear()
    shipped._MEMORY.clear()
    shipped._WARNED.clear()
    entries._STORES.clear()
    entries._MEMO.clear()


def _draft(repo: Path, entry_id: str, pattern: str, code: str, name: str = "draft/x") -> None:
    git(repo, "checkout", "-q", "-b", name, "main")
    write_entry(repo, "mapping", mapping_entry(entry_id, pattern, code))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{name}: add {entry_id}")
    git(repo, "checkout", "-q", "main")


def _duplicates(repo: Path, head: str = "draft/x") -> list[str]:
    result = run_gates(Repository(repo), "main", head, gates=["duplicates", "conflicts"])
    return sorted(f"{f.gate}:{f.entry_id}:{f.message.split(' (')[0]}" for f in result.findings)


def _mapping_tree(repo: Path, ref: str = "main") -> str:
    return git(repo, "rev-parse", f"{ref}:knowledge/mapping").strip()


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any) -> Any:
        raise AssertionError("the index was built from the entries")

    monkeypatch.setattr(derived, "docs_of", refuse)
    monkeypatch.setattr(content, "docs_of", refuse)


def _rewrite(repo: Path, tree: str, change: Any, *, redigest: bool) -> None:
    """Point the index ref of tree at an altered object (re-signed with a fresh digest when redigest)."""
    r = Repository(repo)
    data = shipped._object_bytes(r, r.ref_target(shipped.ref_name(tree)))
    header, _, body = data.partition(b"\n\n")
    if redigest:
        sections = shipped.decode(data, tree)
        change(sections)
        new = shipped.encode(tree, sections)
    else:
        new = header + b"\n\n" + change(body)
    blob = r.write_blob(new)
    holder = r.update_tree(None, {shipped.FILE_NAME: (blob, 0o100644)})
    commit = r.create_commit(holder, [], "forged", shipped.AUTHOR, when=1)
    git(repo, "update-ref", shipped.ref_name(tree), commit)


def test_a_fresh_clone_gates_from_the_shipped_index(small_repo: Path, monkeypatch: pytest.MonkeyPatch):
    out = run(["index", "build", "main"], cwd=small_repo)
    assert out.exit_code == 0 and shipped.ref_name(_mapping_tree(small_repo)) in out.stdout
    _draft(small_repo, "m9", "Steel  Rebar", "C25")
    expected = _duplicates(small_repo)
    assert any(f.startswith("duplicates:m9:exact duplicate of m0") for f in expected)
    assert any(f.startswith("conflicts:m9:conflicts with m0") for f in expected)
    clone = small_repo.parent / "clone"
    git(small_repo.parent, "clone", "-q", "--no-local", str(small_repo), str(clone))
    git(clone, "fetch", "-q", "origin", "refs/canonry/*:refs/canonry/*", "draft/x:draft/x")
    _forget(clone)
    _no_rebuild(monkeypatch)
    assert _duplicates(clone) == expected


def test_the_object_is_keyed_by_its_tree_and_lists_it_exactly(small_repo: Path):
    r = Repository(small_repo)
    built = derived.build(r, TreeState(r, r.resolve_commit("main")))
    tree = built["mapping"]
    assert tree == _mapping_tree(small_repo)
    assert shipped.refs_for(r, [tree, None, "0" * 40]) == [shipped.ref_name(tree)]
    data = shipped._object_bytes(r, r.ref_target(shipped.ref_name(tree)))
    assert data.startswith(b"canonry-index/1\ntree " + tree.encode())
    sections = shipped.decode(data, tree)
    assert shipped.tree_id_of(sections[shipped.FILES]) == tree
    with pytest.raises(shipped.IndexProblem, match="made for tree"):
        shipped.decode(data, "1" * 40)
    assert shipped.encode(tree, sections) == data  # deterministic: the same tree gives the same object


@pytest.mark.parametrize(
    ("how", "warning"),
    [
        ("flip a byte of the body", "digest mismatch"),
        ("another format version", "this Canonry reads"),
        ("a file list of another tree", "does not hash to the tree"),
        ("a forged key, digest recomputed", "is not what its blob says"),
        ("an entry dropped from the near index, digest recomputed", "near-trigrams"),
    ],
)
def test_a_tampered_index_is_detected_and_ignored(
    small_repo: Path, capsys: pytest.CaptureFixture[str], how: str, warning: str
):
    r = Repository(small_repo)
    derived.build(r, TreeState(r, r.resolve_commit("main")))
    tree = _mapping_tree(small_repo)
    _draft(small_repo, "m9", "Steel  Rebar", "C25")
    _forget(small_repo)
    expected = _duplicates(small_repo)
    assert expected

    def exact_key(sections: dict[str, Any]) -> None:
        key = next(k for k in sections if k.startswith("exact-keys/"))
        sections[key] = {k.replace("steel", "steal"): v for k, v in sections[key].items()}

    def near(sections: dict[str, Any]) -> None:
        key = next(k for k in sections if k.startswith("near-trigrams/"))
        texts = {i: t for i, t in zip(*_near_items(sections[key]), strict=True) if i != "m0"}
        sections[key] = derived.NearIndex.build(texts)

    if how == "flip a byte of the body":
        _rewrite(small_repo, tree, lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:], redigest=False)
    elif how == "another format version":
        r = Repository(small_repo)
        data = shipped._object_bytes(r, r.ref_target(shipped.ref_name(tree)))
        _rewrite_raw(small_repo, tree, data.replace(b"canonry-index/1", b"canonry-index/9", 1))
    elif how == "a file list of another tree":
        _rewrite(small_repo, tree, lambda s: s[shipped.FILES].pop(), redigest=True)
    elif how == "a forged key, digest recomputed":
        _rewrite(small_repo, tree, exact_key, redigest=True)
    else:
        _rewrite(small_repo, tree, near, redigest=True)
    _forget(small_repo)
    assert _duplicates(small_repo) == expected  # built from the entries instead: same findings
    err = capsys.readouterr().err
    assert "refs/canonry/index/" in err and "ignored" in err and warning in err


def _near_items(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    index = derived.NearIndex(data)
    return [index.id(p) for p in range(len(index))], [index.text(p) for p in range(len(index))]


def _rewrite_raw(repo: Path, tree: str, data: bytes) -> None:
    r = Repository(repo)
    holder = r.update_tree(None, {shipped.FILE_NAME: (r.write_blob(data), 0o100644)})
    git(repo, "update-ref", shipped.ref_name(tree), r.create_commit(holder, [], "x", shipped.AUTHOR, when=1))


def test_garbage_and_bombs_are_refused():
    tree = "1" * 40
    with pytest.raises(shipped.IndexProblem):
        shipped.decode(b"not an index", tree)
    body = zlib.compress(b"[" * 100_000)
    header = f"canonry-index/1\ntree {tree}\nsize 100000\nsha256 {shipped._digest(tree, body)}\n\n"
    with pytest.raises(shipped.IndexProblem, match="unreadable|no file list"):
        shipped.decode(header.encode() + body, tree)
    header = f"canonry-index/1\ntree {tree}\nsize 999999999999\nsha256 {shipped._digest(tree, body)}\n\n"
    with pytest.raises(shipped.IndexProblem, match="claims"):
        shipped.decode(header.encode() + body, tree)


def test_a_nearby_published_tree_stands_in_through_a_tree_diff(
    small_repo: Path, monkeypatch: pytest.MonkeyPatch
):
    r = Repository(small_repo)
    derived.build(r, TreeState(r, r.resolve_commit("main")))  # published at this tree
    git(small_repo, "tag", "-a", "mapping/v1", "-m", "mapping v1")  # nearby trees are published ones
    write_entry(small_repo, "mapping", mapping_entry("m5", "desalination plant", "E36"))
    (small_repo / "knowledge/mapping/m1.yaml").unlink()  # main moves on: one added, one removed
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "main moves on")
    assert r.ref_target(shipped.ref_name(_mapping_tree(small_repo))) is None
    _draft(small_repo, "m9", "Desalination  Plant", "E37")
    _draft(small_repo, "m8", "cement plant", "C23", name="draft/y")
    _forget(small_repo)
    _no_rebuild(monkeypatch)
    found = _duplicates(small_repo)
    assert any(f.startswith("duplicates:m9:exact duplicate of m5") for f in found)  # added since
    assert any(f.startswith("conflicts:m9:conflicts with m5") for f in found)
    assert _duplicates(small_repo, head="draft/y") == []  # m1 (cement plant) was removed since


def test_formats_are_checked_without_a_format_package():
    assert set(FORMATS) == {"date-time", "date", "email", "uri", "uuid"}
    assert is_date_time("2026-02-28T10:00:00Z") and is_date_time("2026-02-28t10:00:00.5+03:00")
    assert not is_date_time("2026-02-30T10:00:00Z") and not is_date_time("2026-02-28T10:00:00Z\n")
    assert not is_date_time("2026-02-28 10:00:00Z") and not is_date_time("2026-02-28T24:00:00Z")
    assert is_uri("https://example.org/a?b=c#d") and not is_uri("no scheme") and not is_uri("a:b c")
    assert is_uuid("019bbef3-b000-701d-823a-44779f18ebda") and not is_uuid("019bbef3b000701d823a44779f18ebda")
    code = "import sys, canonry.store.rules, jsonschema; print('rfc3987_syntax' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_compiled_validator_decides_and_jsonschema_explains(small_repo: Path):
    r = Repository(small_repo)
    rules = load_rules(TreeState(r, r.resolve_commit("main")))
    validator = rules.validator(rules.require_registry().library("mapping"))
    assert validator.fast is not None  # jsonschema-rs compiled the reference schema
    good = mapping_entry("m7", "steel", "C24")
    assert validator.is_valid(good) and list(validator.iter_errors(good)) == []
    for bad in (
        {**good, "updated_at": "2026-02-30T10:00:00Z"},
        {**good, "updated_at": "2026-01-15T10:00:00Z\n"},
        {**good, "confidence": 1.5},
        {**good, "sector_code": "C24\n"},
        {**good, "extra": 1},
    ):
        assert not validator.is_valid(bad)
        fast = [(list(e.absolute_path), e.message) for e in validator.iter_errors(bad)]
        assert fast == [(list(e.absolute_path), e.message) for e in validator.detailed.iter_errors(bad)] != []
    write_entry(small_repo, "mapping", {**good, "updated_at": "2026-02-30T10:00:00Z"})
    out = run(["validate", "--format", "json"], cwd=small_repo)
    findings = [f for f in json.loads(out.stdout)["findings"] if f["gate"] == "schema"]
    assert [(f["path"], f["line"], f["column"]) for f in findings] == [("knowledge/mapping/m7.yaml", 14, 13)]
    assert "is not a 'date-time'" in findings[0]["message"]


def test_the_gates_workflow_fetches_the_indexes_a_runner_checkout_lacks(
    small_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import yaml
    from conftest import ROOT

    run(["index", "build", "main"], cwd=small_repo)
    _draft(small_repo, "m9", "Steel  Rebar", "C25")
    expected = _duplicates(small_repo)
    # what actions/checkout does with fetch-depth 0: branches as origin/*, the head detached
    runner = tmp_path / "runner"
    git(tmp_path, "init", "-q", str(runner))
    git(runner, "remote", "add", "origin", str(small_repo))
    git(runner, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
    git(runner, "checkout", "-q", "--detach", git(small_repo, "rev-parse", "draft/x").strip())
    assert not git(runner, "for-each-ref", "refs/canonry/").strip()
    workflow = yaml.safe_load((ROOT / ".github/workflows/gates.yml").read_text())
    step = next(s for s in workflow["jobs"]["gates"]["steps"] if s.get("id") == "base")
    output = tmp_path / "github-output"
    env = {"BASE_REF": "main", "GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"}
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=runner, env=env, check=True)
    assert output.read_text() == f"tree={git(small_repo, 'rev-parse', 'main^{tree}').strip()}\n"
    assert shipped.ref_name(_mapping_tree(small_repo)) in git(runner, "for-each-ref", "refs/canonry/")
    cache = next(s for s in workflow["jobs"]["gates"]["steps"] if "actions/cache" in s.get("uses", ""))
    assert cache["with"]["path"] == ".git/canonry" and "steps.base.outputs.tree" in cache["with"]["key"]
    _forget(runner)
    _no_rebuild(monkeypatch)
    result = run_gates(Repository(runner), "origin/main", "HEAD", gates=["duplicates", "conflicts"])
    assert sorted(f"{f.gate}:{f.entry_id}:{f.message.split(' (')[0]}" for f in result.findings) == expected


def test_canonry_open_on_a_remote_fetches_the_index_refs_with_the_tags(
    small_repo: Path, daemon: Daemon, private_cache: Path
):
    import canonry
    from canonry.runtime.mirror import Mirror

    run(["index", "build", "main"], cwd=small_repo)
    ref = shipped.ref_name(_mapping_tree(small_repo))
    bare_copy(small_repo, daemon.base / "knowledge.git")
    url = daemon.url("knowledge.git")
    canonry.open(url)
    mirrored = Repository(Mirror(url).path)
    assert mirrored.ref_target(ref) == Repository(small_repo).ref_target(ref)
    assert shipped.read(mirrored, _mapping_tree(small_repo)) is not None  # whole and verified


def test_evidence_and_confidence_derive_the_head_from_the_shipped_values(
    small_repo: Path, monkeypatch: pytest.MonkeyPatch
):
    from canonry.learning import matching

    r = Repository(small_repo)
    refs = derived.on_publish(r, r.resolve_commit("main"), ["mapping"])
    assert refs == [shipped.ref_name(_mapping_tree(small_repo))]
    _draft(small_repo, "m9", "water desalination", "E36")
    _forget(small_repo)
    expected = run_gates(
        Repository(small_repo), "main", "draft/x", gates=["duplicates", "evidence", "confidence"]
    )
    _forget(small_repo)
    matching._MEMORY.clear()
    matching._LAST_TREE.clear()

    def whole_library(*_args: Any) -> Any:
        raise AssertionError("a per-entry value was computed over the whole library")

    monkeypatch.setattr(matching, "_compute", whole_library)
    got = run_gates(Repository(small_repo), "main", "draft/x", gates=["duplicates", "evidence", "confidence"])
    assert got.findings == expected.findings and got.metrics.get("overrides_ingested") == {"mapping": 0}
