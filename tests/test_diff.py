"""`canonry diff` and canonry.compare.diff: the canonry.diff/v1 contract, specs, errors, cost, apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from canonry.compare.diff import apply_diff, diff, field_changes, pointer, pointer_parts
from canonry.store import entry_cache as entries_module
from canonry.store.entries import Library
from canonry.store.registry import parse_registry
from canonry.store.repo import Identity, RefUpdate, Repository
from canonry.store.states import TreeState
from canonry.store.yamlio import dump_yaml
from conftest import git, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# A registry of our own, so these tests do not move when the reference schemas do.
REGISTRY = """\
format: canonry.libraries/v1
policy:
  owners: [owner@example.org]
libraries:
  mapping:
    title: "{pattern} -> {sector_code}"
    path: knowledge/mapping
    schema: schemas/mapping.schema.json
    lifecycle: versioned
  assumptions:
    title: "{assumption_type} {sector_code}"
    path: knowledge/assumptions
    schema: schemas/assumptions.schema.json
    lifecycle: versioned
"""
TAGGER = Identity("Test Steward", "steward@example.org")
WHEN = 1768471200  # 2026-01-15T10:00:00Z


def entry(entry_id: str, pattern: str, code: str, confidence: float = 0.8, **extra: Any) -> dict[str, Any]:
    return {
        "id": entry_id,
        "pattern": pattern,
        "sector_code": code,
        "confidence": confidence,
        "source_engagement_id": None,
        "evidence": {"kind": "steward", "override_ids": []},
        **extra,
    }


def put(repo: Path, library: str, doc: dict[str, Any] | str) -> None:
    path = repo / "knowledge" / library / f"{doc['id'] if isinstance(doc, dict) else 'broken'}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_yaml(doc) if isinstance(doc, dict) else doc, encoding="utf-8")


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def tag(repo: Path, name: str, ref: str = "HEAD") -> None:
    r = Repository(repo)
    obj = r.create_tag_object(name, r.resolve_commit(ref), f"{name}\n", TAGGER, when=WHEN)
    r.update_refs([RefUpdate(f"refs/tags/{name}", obj, None)], f"tag {name}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """mapping m0..m2 and one assumption, tagged mapping/v1."""
    path = tmp_path / "kr"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "schemas").mkdir()
    (path / "schemas" / "libraries.yaml").write_text(REGISTRY)
    put(path, "mapping", entry("m0", "steel rebar", "C24", 0.7))
    put(path, "mapping", entry("m1", "cement plant", "C23", language="en"))
    put(path, "mapping", entry("m2", "hospital", "Q86"))
    put(
        path,
        "assumptions",
        {"id": "a0", "assumption_type": "IMPORT_SHARE", "sector_code": "C24", "default": 0.4},
    )
    commit_all(path, "v1 content")
    tag(path, "mapping/v1")
    return path


def change_mapping(repo: Path) -> None:
    """Every kind of change: scalar, nested, list, escaped key, add/remove field, null, entries."""
    m0 = entry("m0", "steel rebar", "C24", 0.8)
    m0["evidence"] = {"kind": "overrides", "override_ids": ["o1", "o2"], "a/b~c": None}
    put(repo, "mapping", m0)
    m1 = entry("m1", "cement plant", "C23", source_engagement_id="eng-1", tags=["kiln"])
    put(repo, "mapping", m1)  # language removed, tags added, null -> value
    (repo / "knowledge/mapping/m2.yaml").unlink()
    put(repo, "mapping", entry("m3", "rebar mill", "C24"))


def test_contract_pins_the_exact_json(repo: Path) -> None:
    change_mapping(repo)
    commit_all(repo, "v2 content")
    tag(repo, "mapping/v2")
    result = run(["diff", "mapping@v1", "mapping@v2", "--repo", str(repo), "--format", "json"])
    assert result.exit_code == 0
    expected = {
        "format": "canonry.diff/v1",
        "from": {"ref": "mapping/v1", "commit": git(repo, "rev-parse", "mapping/v1^{commit}")},
        "to": {"ref": "mapping/v2", "commit": git(repo, "rev-parse", "mapping/v2^{commit}")},
        "libraries": {
            "mapping": {
                "added_entry_ids": ["m3"],
                "removed_entry_ids": ["m2"],
                "changed_entries": [
                    {"entry_id": "m0", "field": "confidence", "path": "/confidence", "op": "replace",
                     "old": 0.7, "new": 0.8},
                    {"entry_id": "m0", "field": "evidence", "path": "/evidence/a~1b~0c", "op": "add",
                     "old": None, "new": None},
                    {"entry_id": "m0", "field": "evidence", "path": "/evidence/kind", "op": "replace",
                     "old": "steward", "new": "overrides"},
                    {"entry_id": "m0", "field": "evidence", "path": "/evidence/override_ids", "op": "replace",
                     "old": [], "new": ["o1", "o2"]},
                    {"entry_id": "m1", "field": "language", "path": "/language", "op": "remove",
                     "old": "en", "new": None},
                    {"entry_id": "m1", "field": "source_engagement_id", "path": "/source_engagement_id",
                     "op": "replace", "old": None, "new": "eng-1"},
                    {"entry_id": "m1", "field": "tags", "path": "/tags", "op": "add",
                     "old": None, "new": ["kiln"]},
                ],
                "changes_from_parent": [
                    "added: rebar mill -> C24",
                    "removed: hospital -> Q86",
                    "cement plant -> C23: language removed (was en)",
                    "cement plant -> C23: source_engagement_id null -> eng-1",
                    "cement plant -> C23: tags added: [\"kiln\"]",
                    "steel rebar -> C24: confidence 0.7 -> 0.8",
                    "steel rebar -> C24: evidence/a~1b~0c added: null",
                    "steel rebar -> C24: evidence/kind steward -> overrides",
                    "steel rebar -> C24: evidence/override_ids [] -> [\"o1\", \"o2\"]",
                ],
                "problems": [],
            }
        },
    }  # fmt: skip
    assert result.stdout == json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    as_yaml = run(["diff", "mapping@v1", "mapping@v2", "--repo", str(repo), "--format", "yaml"])
    assert yaml.safe_load(as_yaml.stdout) == expected


def test_text_and_markdown_render_each_change(repo: Path) -> None:
    change_mapping(repo)
    commit_all(repo, "v2 content")
    text = run(["diff", "mapping@v1", "main", "--repo", str(repo)])
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert lines[0].startswith("mapping/v1 (") and " -> main (" in lines[0]
    assert lines[1] == "mapping: 1 added, 1 removed, 2 changed"
    assert "  steel rebar -> C24: confidence 0.7 -> 0.8" in lines
    assert "  added: rebar mill -> C24" in lines
    md = run(["diff", "mapping@v1", "main", "--repo", str(repo), "--format", "markdown"])
    assert "### mapping" in md.stdout
    assert "| changed | `m0` | `/confidence` | `0.7` | `0.8` |" in md.stdout
    assert '| changed | `m1` | `/tags` |  | `["kiln"]` |' in md.stdout  # empty cell: absent before
    assert "| removed | `m2` | | | |" in md.stdout


def test_no_differences_and_the_asked_library_is_always_listed(repo: Path) -> None:
    doc = diff(Repository(repo), "main", "main")
    assert doc["libraries"] == {}
    assert run(["diff", "main", "main", "--repo", str(repo)]).stdout.endswith("no differences\n")
    asked = diff(Repository(repo), "mapping@v1", "main")
    assert asked["libraries"] == {
        "mapping": {
            "added_entry_ids": [],
            "removed_entry_ids": [],
            "changed_entries": [],
            "changes_from_parent": [],
            "problems": [],
        }
    }


def test_ordering_is_deterministic(repo: Path) -> None:
    ids = ["z9", "a1", "m5", "b0", "k3", "c7"]
    for i, entry_id in enumerate(ids):
        put(repo, "mapping", entry(entry_id, f"pattern {i}", "C24"))
    put(repo, "mapping", {**entry("m0", "steel rebar", "C25", 0.9), "zeta": 1, "alpha": {"y": 1, "b": 2}})
    commit_all(repo, "many")
    first = run(["diff", "mapping@v1", "main", "--repo", str(repo), "--format", "json"]).stdout
    assert run(["diff", "mapping@v1", "main", "--repo", str(repo), "--format", "json"]).stdout == first
    lib = json.loads(first)["libraries"]["mapping"]
    assert lib["added_entry_ids"] == sorted(ids)
    paths = [r["path"] for r in lib["changed_entries"]]
    assert paths == ["/alpha", "/confidence", "/sector_code", "/zeta"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "main"], "canonry: error: unknown ref: nope"),
        (["main", "mapping@main~7"], "canonry: error: unknown ref: main~7"),
        (["mapping@v9", "main"], "canonry: error: unknown version: mapping@v9"),
        (["main", "main", "--library", "nope"], "canonry: error: unknown library: nope (known: assumptions"),
        (["mapping@v1", "assumptions@main"], "name different libraries; pass --library"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(repo: Path, args: list[str], message: str) -> None:
    result = run(["diff", *args, "--repo", str(repo)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_library_version_specs_resolve_and_limit_the_diff(repo: Path) -> None:
    put(repo, "mapping", entry("m0", "steel rebar", "C24", 0.9))
    put(
        repo,
        "assumptions",
        {"id": "a0", "assumption_type": "IMPORT_SHARE", "sector_code": "C24", "default": 0.5},
    )
    commit_all(repo, "v2 content")
    tag(repo, "mapping/v2")
    r = Repository(repo)
    v1 = r.resolve_commit("mapping/v1")
    for a, b in [("mapping@v1", "mapping@v2"), ("mapping@1", "mapping@2"), ("mapping@v1", "mapping@latest")]:
        doc = diff(r, a, b)
        assert doc["from"] == {"ref": "mapping/v1", "commit": v1}
        assert doc["to"]["ref"] == "mapping/v2"
        assert list(doc["libraries"]) == ["mapping"]  # assumptions changed too, but was not asked for
    both = diff(r, "mapping/v1", "main")
    assert both["from"]["ref"] == "mapping/v1" and sorted(both["libraries"]) == ["assumptions", "mapping"]
    explicit = diff(r, "mapping@v1", "mapping@v2", library="assumptions")
    assert list(explicit["libraries"]) == ["assumptions"]
    assert explicit["libraries"]["assumptions"]["changes_from_parent"] == [
        "IMPORT_SHARE C24: default 0.4 -> 0.5"
    ]
    at_ref = diff(r, "mapping@v1", "mapping@main")
    assert at_ref["to"] == {"ref": "main", "commit": r.resolve_commit("main")}
    assert list(at_ref["libraries"]) == ["mapping"]


def test_only_changed_blobs_are_parsed(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An unchanged entry that does not even parse: a diff that read it would report it.
    put(repo, "mapping", {"id": "m8"})
    (repo / "knowledge/mapping/m8.yaml").write_text("id: m8\nid: m8\n")
    commit_all(repo, "a broken entry nobody touches")
    tag(repo, "mapping/v2")
    put(repo, "mapping", entry("m0", "steel rebar", "C24", 0.95))
    commit_all(repo, "one change")
    parsed: list[str | None] = []
    real = entries_module.load_mapping

    def counting(text: bytes | str, source: str | None = None) -> dict[str, Any]:
        parsed.append(source)
        return real(text, source)

    monkeypatch.setattr(entries_module, "load_mapping", counting)
    doc = diff(Repository(repo), "mapping@v2", "main")
    lib = doc["libraries"]["mapping"]
    assert lib["problems"] == []
    assert [(r["entry_id"], r["path"]) for r in lib["changed_entries"]] == [("m0", "/confidence")]
    assert sorted(parsed) == ["knowledge/mapping/m0.yaml", "knowledge/mapping/m0.yaml"]  # old and new blob


def test_a_changed_entry_that_does_not_parse_is_a_problem_not_a_crash(repo: Path) -> None:
    (repo / "knowledge/mapping/m1.yaml").write_text("id: m1\npattern: [unclosed\n")
    put(repo, "mapping", entry("m0", "steel rebar", "C24", 0.9))
    commit_all(repo, "break m1")
    result = run(["diff", "mapping@v1", "main", "--repo", str(repo), "--format", "json"])
    assert result.exit_code == 0
    lib = json.loads(result.stdout)["libraries"]["mapping"]
    [problem] = lib["problems"]
    assert problem["entry_id"] == "m1" and problem["side"] == "to"
    assert problem["path"] == "knowledge/mapping/m1.yaml" and problem["line"] == 3
    assert problem["message"].startswith("knowledge/mapping/m1.yaml:3:")
    assert [r["entry_id"] for r in lib["changed_entries"]] == ["m0"]
    assert "cannot read (to side): knowledge/mapping/m1.yaml:3:" in result.stderr


def test_a_layout_change_moves_files_without_changing_entries(repo: Path) -> None:
    registry = repo / "schemas/libraries.yaml"
    registry.write_text(
        REGISTRY.replace(
            "    path: knowledge/mapping\n", "    path: knowledge/mapping\n    layout: sharded\n"
        )
    )
    spec = parse_registry(registry.read_bytes()).library("mapping")
    for entry_id in ("m0", "m1", "m2"):
        target = repo / spec.entry_path(entry_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        (repo / f"knowledge/mapping/{entry_id}.yaml").rename(target)
    put_path = repo / spec.entry_path("m0")
    put_path.write_text(dump_yaml(entry("m0", "steel rebar", "C24", 0.75)))
    commit_all(repo, "shard mapping")
    lib = diff(Repository(repo), "mapping@v1", "main")["libraries"]["mapping"]
    assert lib["added_entry_ids"] == [] and lib["removed_entry_ids"] == []
    assert [(r["entry_id"], r["new"]) for r in lib["changed_entries"]] == [("m0", 0.75)]


def test_field_changes_for_explain() -> None:
    assert field_changes(None, {"id": "x", "a": 1}) == [
        {"entry_id": "x", "field": "a", "path": "/a", "op": "add", "old": None, "new": 1},
        {"entry_id": "x", "field": "id", "path": "/id", "op": "add", "old": None, "new": "x"},
    ]
    assert [r["op"] for r in field_changes({"id": "x"}, None)] == ["remove"]
    # Strict as data: true is not 1, 1.0 is not 1, and a key holding null is not an absent key.
    rows = field_changes({"id": "x", "a": 1, "b": 1, "c": None}, {"id": "x", "a": True, "b": 1.0})
    assert [(r["path"], r["op"]) for r in rows] == [("/a", "replace"), ("/b", "replace"), ("/c", "remove")]
    assert field_changes({"id": "x", "l": [1, {"k": 1}]}, {"id": "x", "l": [1, {"k": 2}]})[0]["path"] == "/l"
    assert pointer(["a/b", "~c", ""]) == "/a~1b/~0c/"
    assert pointer_parts("/a~1b/~0c/") == ["a/b", "~c", ""]
    assert pointer_parts("/~01") == ["~1"]


def test_apply_diff_refuses_what_does_not_apply() -> None:
    lib = {
        "added_entry_ids": [],
        "removed_entry_ids": [],
        "changed_entries": field_changes({"id": "x", "a": 1}, {"id": "x", "a": 2}),
    }
    assert apply_diff({"x": {"id": "x", "a": 1}}, lib) == {"x": {"id": "x", "a": 2}}
    with pytest.raises(ValueError, match="not as the diff says"):
        apply_diff({"x": {"id": "x", "a": 5}}, lib)
    with pytest.raises(ValueError, match="full=True"):
        apply_diff({}, {**lib, "changed_entries": [], "added_entry_ids": ["y"]})


# --- apply(diff(A, B), A) == B on random entry sets committed to a real repository --------

POOL = [f"e{i}" for i in range(7)]
KEYS = st.text(alphabet="ab/~é", min_size=1, max_size=3)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="xy z", max_size=3)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)
FIELDS = st.dictionaries(KEYS, VALUES, max_size=4)


def _twin(value: Any) -> Any:
    """A value == to value in Python but different as data (1 and true, 0 and 0.0)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return float(value) if value not in (0, 1) else bool(value)
    if isinstance(value, float):
        return -value if value == 0 else value
    return value


def _edit(draw: Any, value: Any, depth: int = 0) -> Any:
    """A near copy of value: some keys kept, some edited (recursively), dropped or added."""
    if not isinstance(value, dict) or depth > 2:
        return _twin(value) if draw(st.booleans()) else draw(VALUES)
    out = {}
    for key, inner in value.items():
        choice = draw(st.sampled_from(["keep", "edit", "drop"]))
        if choice == "keep":
            out[key] = inner
        elif choice == "edit":
            out[key] = _edit(draw, inner, depth + 1)
    for key, inner in draw(st.dictionaries(KEYS, VALUES, max_size=2)).items():
        out.setdefault(key, inner)
    return out


@st.composite
def entry_sets(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    a = {
        eid: {"id": eid, **fields}
        for eid, fields in draw(st.dictionaries(st.sampled_from(POOL), FIELDS)).items()
    }
    b: dict[str, Any] = {}
    for eid in POOL:
        choice = draw(st.sampled_from(["keep", "edit", "new", "drop"]))
        if eid in a and choice == "keep":
            b[eid] = a[eid]
        elif eid in a and choice == "edit":
            b[eid] = {**_edit(draw, a[eid]), "id": eid}
        elif choice == "new":
            b[eid] = {"id": eid, **draw(FIELDS)}
    return a, b


@pytest.fixture(scope="module")
def prop_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repository, str, str]:
    path = tmp_path_factory.mktemp("prop")
    git(path, "init", "-q", "-b", "main")
    (path / "schemas").mkdir()
    (path / "schemas" / "libraries.yaml").write_text(REGISTRY)
    base = commit_all(path, "registry only")
    r = Repository(path)
    return r, base, r.tree_of(base)


def _commit_entries(r: Repository, base: str, tree: str, entries: dict[str, Any]) -> str:
    files: dict[str, bytes | None] = {
        f"knowledge/mapping/{e}.yaml": dump_yaml(v).encode() for e, v in entries.items()
    }
    return r.create_commit(r.write_tree(tree, files), [base], "entries", TAGGER, when=WHEN)


def same(x: Any, y: Any) -> bool:
    """Equal as JSON (an oracle independent of the code under test): 1, true and 1.0 differ."""
    return json.dumps(x, sort_keys=True) == json.dumps(y, sort_keys=True)


def _loaded(r: Repository, commit: str) -> dict[str, dict[str, Any]]:
    spec = parse_registry(REGISTRY.encode()).library("mapping")
    return {eid: e.to_dict() for eid, e in Library(TreeState(r, commit), spec).load().items()}


@settings(
    derandomize=True,
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entry_sets())
def test_apply_of_diff_gives_b(prop_repo: tuple[Repository, str, str], sets: tuple[dict, dict]) -> None:
    r, base, tree = prop_repo
    a, b = sets
    commit_a, commit_b = _commit_entries(r, base, tree, a), _commit_entries(r, base, tree, b)
    entries_a, entries_b = _loaded(r, commit_a), _loaded(r, commit_b)
    assert same(entries_a, a) and same(entries_b, b)  # the files hold what we meant
    forward = diff(r, commit_a, commit_b, library="mapping", full=True)["libraries"]["mapping"]
    assert same(apply_diff(entries_a, forward), entries_b)
    assert forward["added_entry_ids"] == sorted(b.keys() - a.keys())
    assert forward["removed_entry_ids"] == sorted(a.keys() - b.keys())
    changed = sorted(e for e in a.keys() & b.keys() if not same(a[e], b[e]))
    assert sorted({row["entry_id"] for row in forward["changed_entries"]}) == changed
    backward = diff(r, commit_b, commit_a, library="mapping", full=True)["libraries"]["mapping"]
    assert same(apply_diff(entries_b, backward), entries_a)
