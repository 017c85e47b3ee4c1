"""One place for every notes and refs/canonry/ name: store/refnames.py, nowhere else in the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from canonry.store import refnames

PACKAGE = Path(__file__).resolve().parent.parent / "tooling" / "canonry"
NAMESPACES = ("refs/notes/", "refs/canonry/", "refs/canonry-incoming/")

# Modules that still spell a name themselves, to convert to canonry.store.refnames
# (they were being edited for other work when the module was introduced).
PENDING: set[str] = set()


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the constant nodes that are docstrings (they may name a ref to explain it)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def spelt_ref_names(path: Path) -> list[str]:
    """Strings in code that are (part of) a ref name; prose (help texts, messages) has spaces."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstrings(tree)
    return [
        f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and not any(c.isspace() for c in node.value)
        and any(ns in node.value for ns in NAMESPACES)
    ]


def test_no_module_spells_a_notes_or_canonry_ref_name() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "store/refnames.py" or rel in PENDING:
            continue
        found += spelt_ref_names(path)
    assert found == [], "use canonry.store.refnames instead:\n" + "\n".join(found)


def test_the_pending_list_only_shrinks() -> None:
    # a module converted (or removed) must leave the list, so that it cannot slip back
    stale = [p for p in sorted(PENDING) if not (PACKAGE / p).exists() or not spelt_ref_names(PACKAGE / p)]
    assert stale == [], f"convert done: remove from PENDING: {stale}"


def test_the_check_sees_a_spelt_name(tmp_path: Path) -> None:
    fake = PACKAGE / "store" / "refnames.py"
    assert spelt_ref_names(fake), "refnames.py itself spells the names, so the scan must find them"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (refnames.channel_ref("mapping", "stable"), "refs/canonry/channels/mapping/stable"),
        (refnames.index_ref("0" * 40), "refs/canonry/index/" + "0" * 40),
        (refnames.remote_tags_mirror("origin"), "refs/canonry/remotes/origin/tags/"),
        (refnames.remote_reviews_mirror("origin"), "refs/canonry/remotes/origin/notes/canonry-reviews"),
        (
            refnames.remote_notes_mirror("o", refnames.GATES_NOTES),
            "refs/canonry/remotes/o/notes/canonry-gates",
        ),
    ],
)
def test_helpers_spell_the_names_the_repository_holds(name: str, expected: str) -> None:
    assert name == expected


def test_each_notes_ref_is_its_own() -> None:
    # deprecations, review decisions and gate runs annotate different objects: one ref each
    assert len(set(refnames.NOTES_REFS)) == len(refnames.NOTES_REFS) == 3
    assert refnames.REVIEWS_NOTES == "refs/notes/canonry-reviews"
    assert refnames.DEPRECATIONS_NOTES == "refs/notes/canonry"
