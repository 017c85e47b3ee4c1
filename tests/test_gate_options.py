"""Gate options are a typed object: a misspelt option is an error, never silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from canonry.errors import UsageError
from canonry.gates.context import GateOptions
from canonry.gates.engine import run_gates
from canonry.store.repo import Repository
from canonry.store.states import TreeState


def test_an_unknown_option_name_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        GateOptions(review_drft="draft/x")  # type: ignore[call-arg]


def test_options_are_frozen() -> None:
    options = GateOptions(review_draft="draft/x")
    with pytest.raises(AttributeError):
        options.review_draft = "draft/y"  # type: ignore[misc]


def test_a_dict_of_known_names_converts_and_an_unknown_name_is_refused() -> None:
    converted = GateOptions.coerce({"review_notes": ["refs/notes/a"], "review_draft": "draft/x"})
    assert converted == GateOptions(review_notes=("refs/notes/a",), review_draft="draft/x")
    assert GateOptions.coerce(None) == GateOptions()
    assert GateOptions.coerce({"review_notes": "refs/notes/a"}).review_notes == ("refs/notes/a",)
    with pytest.raises(UsageError, match="review_drft"):
        GateOptions.coerce({"review_drft": "draft/x"})


def test_run_gates_refuses_a_misspelt_dict_option_before_checking_anything(small_repo: Path) -> None:
    repo = Repository(small_repo)
    with pytest.raises(UsageError, match="unknown gate option.*base_tipp"):
        run_gates(repo, "main", "main", gates=["yaml"], options={"base_tipp": None})


def test_run_gates_takes_typed_options_and_a_dict_alike(small_repo: Path) -> None:
    repo = Repository(small_repo)
    typed = run_gates(repo, "main", "main", gates=["confidence"], options=GateOptions(at="2026-11-01"))
    loose = run_gates(repo, "main", "main", gates=["confidence"], options={"at": "2026-11-01"})
    assert typed.ok and loose.ok
    assert typed.findings == loose.findings


def test_an_explicit_base_tip_is_kept_and_a_missing_one_is_filled_in(small_repo: Path) -> None:
    repo = Repository(small_repo)
    tip = TreeState(repo, repo.resolve_commit("main"), "main")
    other = TreeState(repo, repo.resolve_commit("main"), "other")
    assert GateOptions().with_base_tip(tip).base_tip is tip
    assert GateOptions(base_tip=other).with_base_tip(tip).base_tip is other
