"""The structured three-way merge: entries, files, trees, and the merge driver through real git."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from canonry.compare.merge import (
    ABSENT,
    DELETE,
    DELETE_ENTRY,
    FIELD,
    FILE,
    SYNTAX,
    TEXT,
    merge_entry,
    merge_trees,
    same,
)
from canonry.store.repo import EXEC_MODE, Repository
from canonry.store.yamlio import dump_yaml, load_mapping
from conftest import ROOT, git, run
from helpers import mapping_entry, write_entry, write_text
from hypothesis import given, settings
from hypothesis import strategies as st

M0 = "knowledge/mapping/m0.yaml"


# --- merge_entry -----------------------------------------------------------------------


def test_disjoint_changes_merge_field_by_field():
    base = {"id": "e", "a": 1, "b": {"x": 1, "y": 2}, "c": [1, 2]}
    ours = {"id": "e", "a": 2, "b": {"x": 1, "y": 2}, "c": [1, 2]}
    theirs = {"id": "e", "a": 1, "b": {"x": 1, "y": 3}, "c": [3], "d": "new"}
    merged, conflicts = merge_entry(base, ours, theirs)
    assert conflicts == []
    assert merged == {"id": "e", "a": 2, "b": {"x": 1, "y": 3}, "c": [3], "d": "new"}


def test_same_field_two_ways_is_a_conflict_naming_everything():
    base = {"id": "e", "confidence": 0.7, "evidence": {"kind": "steward"}}
    ours = {"id": "e", "confidence": 0.8, "evidence": {"kind": "steward"}}
    theirs = {"id": "e", "confidence": 0.9, "evidence": {"kind": "import"}}
    merged, [conflict] = merge_entry(base, ours, theirs)
    assert (conflict.entry_id, conflict.field, conflict.kind) == ("e", "confidence", FIELD)
    assert (conflict.base, conflict.ours, conflict.theirs) == (0.7, 0.8, 0.9)
    assert merged is not None and merged["evidence"] == {"kind": "import"} and merged["confidence"] == 0.8
    assert conflict.describe("main", "draft") == (
        "entry e: field confidence changed two ways: base 0.7, main 0.8, draft 0.9"
    )


def test_nested_field_deleted_on_one_side_changed_on_the_other():
    base = {"id": "e", "n": {"p": 1, "q": 2}}
    _, [conflict] = merge_entry(base, {"id": "e", "n": {"p": 1, "q": 3}}, {"id": "e", "n": {"p": 1}})
    assert (conflict.field, conflict.kind, conflict.ours, conflict.theirs) == ("n/q", DELETE, 3, ABSENT)
    assert conflict.to_dict()["absent"] == ["theirs"]


def test_entry_deleted_on_one_side_changed_on_the_other():
    base = {"id": "e", "a": 1, "b": 2}
    merged, conflicts = merge_entry(base, None, {"id": "e", "a": 5, "b": 2})
    assert merged is None
    [conflict] = conflicts
    assert (conflict.field, conflict.kind, conflict.base, conflict.ours, conflict.theirs) == (
        "a",
        DELETE_ENTRY,
        1,
        ABSENT,
        5,
    )
    assert "deleted by ours, but theirs changed field a" in conflict.describe()
    assert merge_entry(base, None, base) == (None, [])


def test_types_count_when_comparing_values():
    # 1 == True == 1.0 in Python; in YAML they are three different values.
    merged, conflicts = merge_entry({"a": 1}, {"a": True}, {"a": 1.0})
    assert [c.field for c in conflicts] == ["a"]
    assert merge_entry({"a": 1}, {"a": 1}, {"a": True}) == ({"a": True}, [])


def test_both_sides_adding_the_same_entry_differently():
    merged, conflicts = merge_entry(None, {"id": "e", "a": 1, "b": 1}, {"id": "e", "a": 1, "b": 2})
    assert [(c.field, c.base, c.kind) for c in conflicts] == [("b", ABSENT, FIELD)]
    assert merge_entry(None, {"id": "e"}, {"id": "e"}) == ({"id": "e"}, [])


# --- properties ------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "d"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([0.5, 1.0, "x", "y"]))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=6,
)
DOCS = st.dictionaries(KEYS, VALUES, max_size=4)


@st.composite
def edited(draw: Any, base: dict[str, Any]) -> dict[str, Any]:
    """base with some fields kept, some replaced, some removed, some added."""
    out: dict[str, Any] = {}
    for key, value in base.items():
        action = draw(st.sampled_from(["keep", "keep", "change", "drop"]))
        if action == "keep":
            out[key] = value
        elif action == "change":
            out[key] = draw(VALUES)
    out.update(draw(st.dictionaries(st.sampled_from(["d", "e"]), VALUES, max_size=1)))
    return out


@st.composite
def triples(draw: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    base = draw(DOCS)
    return base, draw(edited(base)), draw(edited(base))


def _mirror(conflicts: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        ((c.field, c.kind, repr(c.base), repr(c.theirs), repr(c.ours)) for c in conflicts), key=repr
    )


def _plain(conflicts: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        ((c.field, c.kind, repr(c.base), repr(c.ours), repr(c.theirs)) for c in conflicts), key=repr
    )


@settings(derandomize=True, max_examples=300, deadline=None)
@given(triples())
def test_merge_is_symmetric(triple: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]):
    base, ours, theirs = triple
    merged, conflicts = merge_entry(base, ours, theirs)
    swapped, swapped_conflicts = merge_entry(base, theirs, ours)
    assert _plain(conflicts) == _mirror(swapped_conflicts)
    if not conflicts:
        assert same(merged, swapped)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(triples())
def test_an_unchanged_side_gives_the_other(triple: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]):
    base, ours, _ = triple
    assert merge_entry(base, base, ours) == (ours, [])
    assert merge_entry(base, ours, base) == (ours, [])


@settings(derandomize=True, max_examples=200, deadline=None)
@given(triples())
def test_a_clean_merge_keeps_every_change(triple: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]):
    base, ours, theirs = triple
    merged, conflicts = merge_entry(base, ours, theirs)
    if conflicts:
        return
    assert merged is not None
    for side in (ours, theirs):
        for key in set(base) | set(side):
            if not same(base.get(key, ABSENT), side.get(key, ABSENT)) and not isinstance(side.get(key), dict):
                assert same(merged.get(key, ABSENT), side.get(key, ABSENT)), key


# --- trees -------------------------------------------------------------------------------


def _commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def _diverge(repo: Path, on_main: Any, on_draft: Any) -> tuple[str, str, str]:
    """Branch draft/x from main, apply on_draft there and on_main on main: (base, main, draft) commits."""
    base = git(repo, "rev-parse", "main")
    git(repo, "checkout", "-q", "-b", "draft/x")
    on_draft(repo)
    draft = _commit(repo, "draft")
    git(repo, "checkout", "-q", "main")
    on_main(repo)
    main = _commit(repo, "main")
    return base, main, draft


def _edit(path: str, **fields: Any) -> Any:
    def apply(repo: Path) -> None:
        doc = load_mapping((repo / path).read_bytes())
        for key, value in fields.items():
            if value is ABSENT:
                doc.pop(key, None)
            else:
                doc[key] = value
        (repo / path).write_text(dump_yaml(doc), encoding="utf-8")

    return apply


def _read(repo: Path, tree: str, path: str) -> bytes:
    r = Repository(repo)
    item = r.entry_at(tree, path)
    assert item is not None
    return r.read_blob(item.oid)


def test_trees_merge_non_overlapping_entry_changes(small_repo: Path):
    base, main, draft = _diverge(
        small_repo,
        _edit(M0, confidence=0.95),
        _edit(M0, pattern="steel rebar bars"),
    )
    repo = Repository(small_repo)
    result = merge_trees(repo, base, main, draft)
    assert result.clean and result.tree_id is not None
    assert result.merged_paths == (M0,)
    doc = load_mapping(_read(small_repo, result.tree_id, M0))
    assert (doc["confidence"], doc["pattern"]) == (0.95, "steel rebar bars")
    assert merge_trees(repo, base, main, draft) == result  # deterministic
    assert merge_trees(repo, base, draft, main).tree_id == result.tree_id


def test_trees_same_field_two_ways_is_a_conflict(small_repo: Path):
    base, main, draft = _diverge(small_repo, _edit(M0, confidence=0.6), _edit(M0, confidence=0.9))
    result = merge_trees(Repository(small_repo), base, main, draft)
    assert result.tree_id is None
    [c] = result.conflicts
    assert (c.library, c.entry_id, c.path, c.field, c.base, c.ours, c.theirs) == (
        "mapping",
        "m0",
        M0,
        "confidence",
        0.8,
        0.6,
        0.9,
    )


def test_a_clean_textual_merge_with_a_duplicate_key_is_caught(small_repo: Path):
    text = (small_repo / M0).read_text()

    def add_on_top(repo: Path) -> None:
        write_text(repo, M0, text.replace("id: m0\n", "id: m0\nnote: from the draft\n"))

    def add_at_end(repo: Path) -> None:
        write_text(repo, M0, text + "note: from main\n")

    base, main, draft = _diverge(small_repo, add_at_end, add_on_top)
    # plain git merges the text cleanly and yields a duplicate key ...
    git(small_repo, "merge", "-q", "--no-edit", "draft/x")
    merged_text = (small_repo / M0).read_text()
    assert merged_text.count("note:") == 2
    # ... the structured merge sees the same field added two ways
    result = merge_trees(Repository(small_repo), base, main, draft)
    [c] = result.conflicts
    assert (c.entry_id, c.field, c.kind, c.base, c.ours, c.theirs) == (
        "m0",
        "note",
        FIELD,
        ABSENT,
        "from main",
        "from the draft",
    )


def test_an_entry_merged_as_text_is_parsed_again(small_repo: Path):
    # The base does not parse (a duplicate key), so the entry falls back to a text
    # merge; the text merge is clean, and the strict loader refuses the result.
    text = (small_repo / M0).read_text()
    broken = text.replace("id: m0\n", "id: m0\nlanguage: en\n")
    write_text(small_repo, M0, broken)
    _commit(small_repo, "broken")
    base, main, draft = _diverge(
        small_repo,
        lambda r: write_text(r, M0, broken.replace("confidence: 0.8", "confidence: 0.6")),
        lambda r: write_text(r, M0, broken.replace("pattern: steel rebar", "pattern: steel rebars")),
    )
    result = merge_trees(Repository(small_repo), base, main, draft)
    [c] = result.conflicts
    assert (c.path, c.kind) == (M0, SYNTAX) and "duplicate key 'language'" in c.detail


def test_entry_deleted_on_main_and_changed_on_the_draft(small_repo: Path):
    base, main, draft = _diverge(
        small_repo, lambda r: (r / M0).unlink(), _edit(M0, confidence=0.9, sector_code="C25")
    )
    result = merge_trees(Repository(small_repo), base, main, draft)
    assert [(c.field, c.kind, c.ours, c.theirs) for c in result.conflicts] == [
        ("confidence", DELETE_ENTRY, ABSENT, 0.9),
        ("sector_code", DELETE_ENTRY, ABSENT, "C25"),
    ]


def test_other_files_merge_as_text_and_keep_modes(small_repo: Path):
    write_text(small_repo, "NOTES.md", "one\ntwo\nthree\nfour\nfive\n")
    _commit(small_repo, "notes")

    def on_draft(repo: Path) -> None:
        write_text(repo, "NOTES.md", "ONE\ntwo\nthree\nfour\nfive\n")
        script = write_text(repo, "tools/run.sh", "#!/bin/sh\necho hi\n")
        script.chmod(0o755)
        write_entry(repo, "mapping", mapping_entry("m7", "desalination plant", "E36"))

    base, main, draft = _diverge(
        small_repo, lambda r: write_text(r, "NOTES.md", "one\ntwo\nthree\nfour\nFIVE\n"), on_draft
    )
    repo = Repository(small_repo)
    result = merge_trees(repo, base, main, draft)
    assert result.clean and result.tree_id
    assert _read(small_repo, result.tree_id, "NOTES.md") == b"ONE\ntwo\nthree\nfour\nFIVE\n"
    item = repo.entry_at(result.tree_id, "tools/run.sh")
    assert item is not None and item.mode == EXEC_MODE
    assert repo.entry_at(result.tree_id, "knowledge/mapping/m7.yaml") is not None
    # The merge matches what git itself makes of the same three commits.
    assert result.tree_id == git(small_repo, "merge-tree", "--write-tree", main, draft)


def test_overlapping_text_and_a_file_against_a_folder_are_conflicts(small_repo: Path):
    write_text(small_repo, "NOTES.md", "one\n")
    _commit(small_repo, "notes")

    def on_draft(repo: Path) -> None:
        write_text(repo, "NOTES.md", "draft\n")
        write_text(repo, "extra/file.txt", "x\n")

    def on_main(repo: Path) -> None:
        write_text(repo, "NOTES.md", "main\n")
        write_text(repo, "extra", "a file\n")

    base, main, draft = _diverge(small_repo, on_main, on_draft)
    result = merge_trees(Repository(small_repo), base, main, draft)
    assert [(c.path, c.kind) for c in result.conflicts] == [("NOTES.md", TEXT), ("extra/file.txt", FILE)]


# --- the merge driver through git ----------------------------------------------------------


@pytest.fixture
def driver_repo(small_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tooling"))
    command = f"{sys.executable} -c 'from canonry.cli.main import main; main()' merge-driver %O %A %B %P"
    git(small_repo, "config", "merge.canonry.driver", command)
    write_text(small_repo, ".gitattributes", "knowledge/**/*.yaml merge=canonry\n")
    _commit(small_repo, "merge driver")
    return small_repo


def test_git_merge_with_the_driver_merges_fields(driver_repo: Path):
    # Adjacent lines: git's own text merge would conflict here.
    _diverge(
        driver_repo, _edit(M0, confidence=0.95), _edit(M0, evidence={"kind": "import", "reference": "x"})
    )
    git(driver_repo, "merge", "-q", "--no-edit", "draft/x")
    doc = load_mapping((driver_repo / M0).read_bytes())
    assert doc["confidence"] == 0.95 and doc["evidence"] == {"kind": "import", "reference": "x"}


def test_git_merge_with_the_driver_stops_on_a_field_conflict(driver_repo: Path):
    _diverge(
        driver_repo, _edit(M0, confidence=0.6, language="ar"), _edit(M0, confidence=0.9, pattern="rebar")
    )
    proc = git(driver_repo, "merge", "--no-edit", "draft/x", check=False)
    status = git(driver_repo, "status", "--porcelain")
    assert f"UU {M0}" in status, proc
    text = (driver_repo / M0).read_text()
    assert "<<<<<<< ours\nconfidence: 0.6\n=======\nconfidence: 0.9\n>>>>>>> theirs\n" in text
    assert "language: ar\n" in text and "pattern: rebar\n" in text  # the rest merged


def test_merge_driver_command_reports_conflicts(small_repo: Path, tmp_path: Path):
    entry = mapping_entry("m0", "steel rebar", "C24")
    files = {}
    for name, confidence in (("base", 0.8), ("ours", 0.6), ("theirs", 0.9)):
        files[name] = tmp_path / name
        files[name].write_text(dump_yaml({**entry, "confidence": confidence}))
    args = [
        "merge-driver",
        "--repo",
        str(small_repo),
        *(str(files[n]) for n in ("base", "ours", "theirs")),
        M0,
    ]
    result = run(args)
    assert result.exit_code == 1
    assert "entry m0: field confidence changed two ways: base 0.8, ours 0.6, theirs 0.9" in result.stderr
    assert "<<<<<<< ours\nconfidence: 0.6\n" in files["ours"].read_text()
    files["ours"].write_text(dump_yaml({**entry, "confidence": 0.6}))
    files["theirs"].write_text(dump_yaml({**entry, "confidence": 0.8, "sector_code": "C25"}))
    assert run(args).exit_code == 0
    assert load_mapping(files["ours"].read_bytes())["sector_code"] == "C25"


def test_one_side_turning_a_file_into_a_folder_merges(small_repo: Path):
    write_text(small_repo, "docs", "a file\n")
    write_text(small_repo, "guide/a.md", "a\n")
    _commit(small_repo, "docs and guide")

    def on_draft(repo: Path) -> None:
        (repo / "docs").unlink()
        write_text(repo, "docs/index.md", "now a folder\n")
        (repo / "guide/a.md").unlink()
        (repo / "guide").rmdir()
        write_text(repo, "guide", "now a file\n")

    base, main, draft = _diverge(small_repo, _edit(M0, confidence=0.9), on_draft)
    repo = Repository(small_repo)
    result = merge_trees(repo, base, main, draft)
    assert result.clean and result.tree_id
    assert _read(small_repo, result.tree_id, "docs/index.md") == b"now a folder\n"
    assert _read(small_repo, result.tree_id, "guide") == b"now a file\n"
    assert result.tree_id == git(small_repo, "merge-tree", "--write-tree", main, draft)
