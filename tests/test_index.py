"""Derived indexes shipped in git (refs/canonry/index/<tree>): used, verified, never trusted blindly."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from canonry.gates import content, derived
from canonry.gates.engine import run_gates
from canonry.store import index as shipped
from canonry.store.repo import Repository
from canonry.store.rules import load_rules
from canonry.store.states import TreeState
from canonry.store.validation import FORMATS, is_date_time, is_uri, is_uuid
from conftest import git, run
from helpers import forget_caches, mapping_entry, write_entry
from runtime_helpers import Daemon, bare_copy

_forget = forget_caches


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

    monkeypatch.setattr(derived, "source_of", refuse)
    monkeypatch.setattr(content, "source_of", refuse)


def _rewrite(repo: Path, tree: str, change: Any, *, redigest: bool) -> None:
    """Point the index ref of tree at an altered object (re-signed with a fresh digest when redigest)."""
    r = Repository(repo)
    data = shipped._object_bytes(r, r.ref_target(shipped.ref_name(tree)))
    header, _, body = data.partition(b"\n\n")
    if redigest:
        sections = _sections(data, tree)
        change(sections)
        new = shipped.encode(tree, sections)
    else:
        new = header + b"\n\n" + change(body)
    blob = r.write_blob(new)
    holder = r.update_tree(None, {shipped.FILE_NAME: (blob, 0o100644)})
    commit = r.create_commit(holder, [], "forged", shipped.AUTHOR, when=1)
    git(repo, "update-ref", shipped.ref_name(tree), commit)


def _sections(data: bytes, tree: str) -> dict[str, bytes]:
    opened = shipped.decode(data, tree)
    return {name: opened.section(name) or b"" for name in opened.names()}


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


def test_the_object_is_keyed_by_its_tree_and_deterministic(small_repo: Path):
    r = Repository(small_repo)
    built = derived.build(r, TreeState(r, r.resolve_commit("main")))
    tree = built["mapping"]
    assert tree == _mapping_tree(small_repo)
    assert shipped.refs_for(r, [tree, None, "0" * 40]) == [shipped.ref_name(tree)]
    data = shipped._object_bytes(r, r.ref_target(shipped.ref_name(tree)))
    assert data.startswith(b"canonry-index/2\ntree " + tree.encode())
    sections = _sections(data, tree)
    kinds = {name.split("/")[0] for name in sections}
    assert kinds == {
        "listing",
        "cited-tally",
        "exact-keys",
        "near-trigrams",
        "conflict-keys",
        "confidence-thresholds",
        "pattern-rows",
    }
    with pytest.raises(shipped.IndexProblem, match="made for tree"):
        shipped.decode(data, "1" * 40)
    assert shipped.encode(tree, sections) == data  # deterministic: the same tree gives the same object


def _flip_in_section(kind: str) -> Any:
    def change(data: bytes) -> bytes:
        header, _, rest = data.partition(b"\n\n")
        size = int(dict(line.split(" ", 1) for line in header.decode().split("\n")[1:])["manifest"])
        manifest = json.loads(rest[:size])
        name, offset, length, *_ = next(row for row in manifest["sections"] if row[0].startswith(kind))
        at = len(header) + 2 + size + offset + length // 2
        return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]

    return change


@pytest.mark.parametrize(
    ("how", "warning"),
    [
        ("flip a byte of the manifest", "digest mismatch"),
        ("flip a byte of a section", "section 'exact-keys"),
        ("another format version", "this Canonry reads"),
        ("the object of another tree", "made for tree"),
        ("a forged key, digest recomputed", "is not what its blob says"),
        ("an entry dropped from the near index, digest recomputed", "near-trigrams"),
        ("a forged confidence moment, digest recomputed", "confidence-thresholds"),
        ("a section that is not what it claims, digest recomputed", "exact-keys"),
        ("a listing whose count is not a number, digest recomputed", "listing: not a listing"),
        ("thresholds made for another policy, digest recomputed", "another policy"),
    ],
)
def test_a_tampered_index_is_detected_and_ignored(
    small_repo: Path, capsys: pytest.CaptureFixture[str], how: str, warning: str
):
    from canonry.gates.thresholds import Thresholds
    from canonry.store.packed import KeyedTable, pack_fields, unpack_fields

    r = Repository(small_repo)
    derived.build(r, TreeState(r, r.resolve_commit("main")))
    tree = _mapping_tree(small_repo)
    _draft(small_repo, "m9", "Steel  Rebar", "C25")
    _forget(small_repo)
    expected = _duplicates(small_repo)
    assert expected

    def named(sections: dict[str, bytes], kind: str) -> str:
        return next(k for k in sections if k.startswith(kind + "/"))

    def exact_key(sections: dict[str, bytes]) -> None:
        key = named(sections, "exact-keys")
        rows = KeyedTable(sections[key]).rows()
        sections[key] = KeyedTable.encode({k.replace("steel", "steal"): v for k, v in rows})

    def near(sections: dict[str, bytes]) -> None:
        key = named(sections, "near-trigrams")
        texts = {i: t for i, t in zip(*_near_items(sections[key]), strict=True) if i != "m0"}
        sections[key] = derived.NearIndex.build(texts)

    def moment(sections: dict[str, bytes]) -> None:
        key = named(sections, "confidence-thresholds")
        fields = {k: bytes(v) for k, v in unpack_fields(sections[key]).items()}
        by_id = Thresholds(sections[key]).by_id
        by_id[0] += 86400.0 * 365
        fields["by_id"] = by_id.tobytes()
        sections[key] = pack_fields(fields)

    def garbage(sections: dict[str, bytes]) -> None:
        sections[named(sections, "exact-keys")] = b"CPF1 not a table"

    def bad_listing(sections: dict[str, bytes]) -> None:
        key = named(sections, "listing")
        sections[key] = json.dumps({**json.loads(sections[key]), "entries": "many"}).encode()

    def other_policy(sections: dict[str, bytes]) -> None:
        key = named(sections, "confidence-thresholds")
        fields = {k: bytes(v) for k, v in unpack_fields(sections[key]).items()}
        params = json.loads(fields["params"])
        fields["params"] = json.dumps({**params, "decay_rate": 0.0}).encode()
        sections[key] = pack_fields(fields)

    if how == "flip a byte of the manifest":
        _rewrite(small_repo, tree, lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:], redigest=False)
    elif how == "flip a byte of a section":
        data = shipped._object_bytes(r, r.ref_target(shipped.ref_name(tree)))
        _rewrite_raw(small_repo, tree, _flip_in_section("exact-keys")(data))
    elif how == "another format version":
        data = shipped._object_bytes(r, r.ref_target(shipped.ref_name(tree)))
        _rewrite_raw(small_repo, tree, data.replace(b"canonry-index/2", b"canonry-index/9", 1))
    elif how == "the object of another tree":
        data = shipped._object_bytes(r, r.ref_target(shipped.ref_name(tree)))
        other = shipped.encode("1" * 40, _sections(data, tree))
        _rewrite_raw(small_repo, tree, other)
    elif how == "a forged key, digest recomputed":
        _rewrite(small_repo, tree, exact_key, redigest=True)
    elif how == "a forged confidence moment, digest recomputed":
        _rewrite(small_repo, tree, moment, redigest=True)
    elif how == "a section that is not what it claims, digest recomputed":
        _rewrite(small_repo, tree, garbage, redigest=True)
    elif how == "a listing whose count is not a number, digest recomputed":
        _rewrite(small_repo, tree, bad_listing, redigest=True)
    elif how == "thresholds made for another policy, digest recomputed":
        _rewrite(small_repo, tree, other_policy, redigest=True)
    else:
        _rewrite(small_repo, tree, near, redigest=True)
    _forget(small_repo)
    gates = ["duplicates", "conflicts", "confidence"]
    result = run_gates(Repository(small_repo), "main", "draft/x", gates=gates)
    got = sorted(f"{f.gate}:{f.entry_id}:{f.message.split(' (')[0]}" for f in result.findings)
    assert [f for f in got if not f.startswith("confidence")] == expected  # built from the entries instead
    err = capsys.readouterr().err
    assert "refs/canonry/index/" in err and "ignored" in err and warning in err


def _near_items(data: bytes) -> tuple[list[str], list[str]]:
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
    manifest = b'{"sections":[["x",0,10,99999999999,"0"]]}'
    header = f"canonry-index/2\ntree {tree}\nmanifest {len(manifest)}\nsha256 {shipped._digest(tree, manifest)}\n\n"
    with pytest.raises(shipped.IndexProblem, match="claims"):
        shipped.decode(header.encode() + manifest + b"0" * 10, tree)
    header = f"canonry-index/2\ntree {tree}\nmanifest 999999999\nsha256 0\n\n"
    with pytest.raises(shipped.IndexProblem, match="claims"):
        shipped.decode(header.encode() + manifest, tree)
    bomb = zlib.compress(b"\0" * 1_000_000)
    data = shipped.encode(tree, {"x": b"small"})
    opened = shipped.decode(data, tree)
    assert opened.section("x") == b"small" and opened.section("missing") is None
    digest = __import__("hashlib").sha256(bomb).hexdigest()
    manifest = json.dumps({"sections": [["x", 0, len(bomb), 10, digest]]}).encode()
    header = f"canonry-index/2\ntree {tree}\nmanifest {len(manifest)}\nsha256 {shipped._digest(tree, manifest)}\n\n"
    opened = shipped.decode(header.encode() + manifest + bomb, tree)
    with pytest.raises(shipped.IndexProblem, match="size differs"):
        opened.section("x")  # inflating stops at the size the manifest gave


def test_packed_values_refuse_what_they_are_not():
    from canonry.store.packed import KeyedTable, PackedError, pack_fields, unpack_fields

    table = KeyedTable(KeyedTable.encode({"a": [1], "b": {"c": "d"}, "": None}))
    assert table["a"] == [1] and table.get("b") == {"c": "d"} and "" in table and "z" not in table
    assert sorted(table) == ["", "a", "b"] and len(table) == 3
    assert unpack_fields(pack_fields({"x": b"1", "y": b""})) == {"x": b"1", "y": b""}
    for bad in (
        b"",
        b"CPF1",
        pack_fields({"x": b"1"})[:-1],
        pack_fields({"x": b"1"}) + b"!",
        b"XXXX\0\0\0\0",
    ):
        with pytest.raises(PackedError):
            KeyedTable(bad)
    short = pack_fields(
        {"magic": b"CKT1", "hashes": b"\0" * 8, "offsets": b"\0" * 4 + b"\xff" * 4, "rows": b""}
    )
    with pytest.raises(PackedError):
        list(KeyedTable(short).rows())  # a row pointing outside the table


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
    _no_rebuild(monkeypatch)
    got = run_gates(Repository(small_repo), "main", "draft/x", gates=["duplicates", "evidence", "confidence"])
    assert got.findings == expected.findings and got.metrics.get("overrides_ingested") == {"mapping": 0}


def _commit_holdout(repo: Path, cases: list[tuple[str, str, str]]) -> None:
    """Commit knowledge/holdout/mapping.yaml with these (id, text, sector code) cases."""
    lines = ["cases:"]
    for case_id, text, code in cases:
        lines += [f"- id: {case_id}", "  language: en", f"  sector_code: {code}", f"  text: {text}"]
    (repo / "knowledge/holdout").mkdir(parents=True, exist_ok=True)
    (repo / "knowledge/holdout/mapping.yaml").write_text("\n".join(lines) + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a holdout set")


def test_the_holdout_gate_takes_the_pattern_table_from_the_index_and_derives_the_head(
    small_repo: Path, monkeypatch: pytest.MonkeyPatch
):
    from canonry.learning import matching

    cases = [
        ("h-1", "steel rebar mill", "C24"),
        ("h-2", "a cement plant", "C23"),
        ("h-3", "general hospital", "Q86"),
        ("h-4", "water desalination", "E36"),
    ]
    _commit_holdout(small_repo, cases)
    r = Repository(small_repo)
    derived.build(r, TreeState(r, r.resolve_commit("main")))
    _draft(small_repo, "m9", "water desalination", "E36")
    _forget(small_repo)
    matching._MEMORY.clear()
    matching._LAST_TREE.clear()
    expected = run_gates(Repository(small_repo), "main", "draft/x", gates=["holdout"])
    assert [c["text"] for c in expected.metrics["holdout"]["mapping"]["flipped_to_correct"]] == [
        "water desalination"
    ]
    _forget(small_repo)
    matching._MEMORY.clear()
    matching._LAST_TREE.clear()

    def whole_library(*_args: Any) -> Any:
        raise AssertionError("the pattern table was computed from every entry")

    monkeypatch.setattr(matching, "_compute", whole_library)
    got = run_gates(Repository(small_repo), "main", "draft/x", gates=["holdout"])
    assert got.findings == expected.findings and got.metrics["holdout"] == expected.metrics["holdout"]


def test_a_refused_nearby_index_gives_way_to_the_base_built_from_its_entries(
    small_repo: Path, capsys: pytest.CaptureFixture[str]
):
    from canonry.store.packed import KeyedTable

    r = Repository(small_repo)
    derived.build(r, TreeState(r, r.resolve_commit("main")))
    published = _mapping_tree(small_repo)
    git(small_repo, "tag", "-a", "mapping/v1", "-m", "mapping v1")
    write_entry(small_repo, "mapping", mapping_entry("m5", "desalination plant", "E36"))
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "main moves on")
    _draft(small_repo, "m9", "Desalination  Plant", "E37")
    _forget(small_repo)
    gates = ["duplicates", "conflicts", "confidence", "evidence", "identity"]
    expected = run_gates(Repository(small_repo), "main", "draft/x", gates=gates)

    def forged(sections: dict[str, bytes]) -> None:
        key = next(k for k in sections if k.startswith("exact-keys/"))
        rows = KeyedTable(sections[key]).rows()
        sections[key] = KeyedTable.encode({k.replace("steel", "steal"): v for k, v in rows})

    _rewrite(small_repo, published, forged, redigest=True)
    _forget(small_repo)
    got = run_gates(Repository(small_repo), "main", "draft/x", gates=gates)
    assert got.findings == expected.findings
    assert {k: v for k, v in got.metrics.items() if k != "seconds_per_gate"} == {
        k: v for k, v in expected.metrics.items() if k != "seconds_per_gate"
    }
    assert "is not what its blob says" in capsys.readouterr().err


def test_a_rerun_holdout_check_reads_its_verdicts_instead_of_building_the_matcher(
    small_repo: Path, monkeypatch: pytest.MonkeyPatch
):
    from canonry.learning import evaluators, matching

    _commit_holdout(small_repo, [("h-1", "water desalination", "E36")])
    _draft(small_repo, "m9", "water desalination", "E36")
    first = run_gates(Repository(small_repo), "main", "draft/x", gates=["holdout"])
    matching._MEMORY.clear()
    matching._LAST_TREE.clear()

    def refuse(*_args: Any) -> Any:
        raise AssertionError("the matcher was built again")

    monkeypatch.setattr(evaluators, "pattern_index", refuse)
    again = run_gates(Repository(small_repo), "main", "draft/x", gates=["holdout"])
    assert again.findings == first.findings and again.metrics["holdout"] == first.metrics["holdout"]
    _commit_holdout(small_repo, [("h-1", "water desalination", "C24")])  # another exam
    _draft(small_repo, "m9", "water desalination", "E36", name="draft/y")
    measured = run_gates(Repository(small_repo), "main", "draft/y", gates=["holdout"])
    assert any("built again" in f.message for f in measured.findings)  # another exam: measured anew
