"""`canonry gate` judges what publish will merge (issue 9, item 4), over generated histories.

Two drafts leave main at the same commit; the first is published; then, for
the second, whatever `publish` refuses for a content reason (a gate error, a
merge conflict) `gate --base main --head draft/b` refuses too, and whenever
`gate` passes and the approvals are valid, `publish` succeeds.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from canonry.errors import ConflictError, GatesFailedError
from canonry.gates.engine import run_gates
from canonry.publication import publish, review
from canonry.store.repo import Repository
from canonry.store.yamlio import dump_yaml
from conftest import git, run
from flow_helpers import MAPPER, PUBLISHER, draft_commit, make_flow_repo, mpath
from helpers import mapping_entry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PATTERNS = ["steel rebar", "rebar", "hospital", "glass furnace", "seaport"]
CODES = ["C24", "C23", "Q86"]
HOLDOUT = """cases:
- {id: h1, language: en, sector_code: C24, text: Steel rebar mill}
- {id: h2, language: en, sector_code: Q86, text: Hospital wing}
"""


def holdout_repo(path: Path) -> Path:
    """The flow repository with a holdout set on mapping; m0 and m1 both classify the first case.

    So a draft deleting m0 and another deleting m1 each keep the accuracy, and
    both merged lose it: a regression only the merged content shows.
    """
    make_flow_repo(path)
    registry = path / "schemas" / "libraries.yaml"
    text = registry.read_text(encoding="utf-8")
    text = text.replace(
        "    conflicts: {key: [pattern, language], values: [sector_code]}\n",
        "    conflicts: {key: [pattern, language], values: [sector_code]}\n"
        "    holdout:\n      data: knowledge/holdout/mapping.yaml\n"
        '      evaluator: "canonry.evaluators:mapping_accuracy"\n      min_delta: 0.0\n',
        1,
    )
    registry.write_text(text, encoding="utf-8")
    (path / "knowledge" / "holdout").mkdir(parents=True, exist_ok=True)
    (path / "knowledge" / "holdout" / "mapping.yaml").write_text(HOLDOUT, encoding="utf-8")
    (path / mpath("m1")).write_text(dump_yaml(mapping_entry("m1", "rebar", "C24")), encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "holdout set")
    return path


_op = st.sampled_from(
    [
        ("set", 0, "confidence", 0),
        ("set", 0, "confidence", 1),
        ("set", 0, "sector_code", 1),
        ("set", 1, "sector_code", 1),
        ("delete", 0, "", 0),
        ("delete", 1, "", 0),
        ("delete", 2, "", 0),
        ("add", 3, "steel rebar", 0),
        ("add", 4, "glass furnace", 1),
        ("add", 4, "glass furnace", 0),
    ]
)


def changes(ops: list[tuple[str, int, str, int]], tag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, i, what, v in ops:
        entry_id = f"m{i}"
        if kind == "delete":
            out[mpath(entry_id)] = None
        elif kind == "add":
            out[mpath(f"{entry_id}{tag}")] = mapping_entry(f"{entry_id}{tag}", what, CODES[v])
        else:
            base = mapping_entry(entry_id, PATTERNS[i] if i < 3 else "x", "C24")
            base[what] = CODES[v] if what == "sector_code" else [0.5, 0.6, 0.7][v]
            out[mpath(entry_id)] = base
    return out


def content_refusal(repo: Repository, name: str) -> str | None:
    """Why publish refuses the draft for its content (None: it published)."""
    try:
        publish.publish(repo, name, by=PUBLISHER)
    except ConflictError as exc:
        return str(exc)
    except GatesFailedError as exc:
        errors = [f for f in exc.result.errors if f.gate != "review"]
        assert errors, f"publish refused for review only: {exc}"
        return str(exc)
    return None


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    a=st.lists(_op, min_size=1, max_size=2),
    b=st.lists(_op, min_size=1, max_size=2),
    same_ids=st.booleans(),
)
def test_gate_refuses_whatever_publish_refuses(a: list[Any], b: list[Any], same_ids: bool) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        path = holdout_repo(folder / "flow")
        repo = Repository(path)
        draft_commit(path, "a", changes(a, "a"), message="draft a")
        draft_commit(path, "b", changes(b, "a" if same_ids else "b"), message="draft b")
        review.approve(repo, "a", MAPPER)
        review.approve(repo, "b", MAPPER)
        content_refusal(repo, "a")  # a published or not: either way main is what b meets
        main_before = git(path, "rev-parse", "main")
        gate = run_gates(repo, "main", "draft/b")
        cli = run(["gate", "--repo", str(path), "--base", "main", "--head", "draft/b"])
        assert (cli.exit_code == 0) == gate.ok
        refused = content_refusal(repo, "b")
        if refused is not None:
            assert not gate.ok, f"publish refused ({refused}) but gate passed"
            assert git(path, "rev-parse", "main") == main_before
        if gate.ok:
            assert refused is None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_two_drafts_that_collide_only_once_merged(tmp_path: Path) -> None:
    """Each draft passes alone; once a is published, b (the same pattern, another id) fails the gate."""
    path = make_flow_repo(tmp_path / "flow")
    repo = Repository(path)
    draft_commit(path, "a", {mpath("m7"): mapping_entry("m7", "glass furnace", "C23")})
    draft_commit(path, "b", {mpath("m8"): mapping_entry("m8", "glass furnace", "C24")})
    assert run_gates(repo, "main", "draft/b").ok
    review.approve(repo, "a", MAPPER)
    publish.publish(repo, "a", by=PUBLISHER)
    result = run(["gate", "--repo", str(path), "--base", "main", "--head", "draft/b"])
    assert result.exit_code == 1
    assert "m8" in result.stdout


def test_two_deletions_that_regress_the_holdout_only_together(tmp_path: Path) -> None:
    path = holdout_repo(tmp_path / "flow")
    repo = Repository(path)
    draft_commit(path, "a", {mpath("m0"): None})
    draft_commit(path, "b", {mpath("m1"): None})
    assert run_gates(repo, "main", "draft/a").ok and run_gates(repo, "main", "draft/b").ok
    review.approve(repo, "a", MAPPER)
    review.approve(repo, "b", MAPPER)
    publish.publish(repo, "a", by=PUBLISHER)
    assert run_gates(repo, "main", "draft/b", merge=False).ok  # the draft alone still passes
    result = run(["gate", "--repo", str(path), "--base", "main", "--head", "draft/b"])
    assert result.exit_code == 1 and "[holdout]" in result.stdout
    assert content_refusal(repo, "b") is not None


def test_a_merge_conflict_is_a_gate_finding(tmp_path: Path) -> None:
    path = make_flow_repo(tmp_path / "flow")
    repo = Repository(path)
    draft_commit(path, "a", {mpath("m0"): mapping_entry("m0", "steel rebar", "C24", confidence=0.5)})
    draft_commit(path, "b", {mpath("m0"): mapping_entry("m0", "steel rebar", "C24", confidence=0.6)})
    review.approve(repo, "a", MAPPER)
    publish.publish(repo, "a", by=PUBLISHER)
    result = run(["gate", "--repo", str(path), "--base", "main", "--head", "draft/b", "--format", "json"])
    assert result.exit_code == 1
    text = run(["gate", "--repo", str(path), "--head", "draft/b"]).stdout
    # the conflicts gate names it, so the merge does not say it a second time
    assert text.count("field confidence changed two ways") == 1
    assert "field confidence changed two ways" in result.stdout
    only_holdout = run_gates(repo, "main", "draft/b", gates=["holdout"])
    assert [f.gate for f in only_holdout.findings if f.severity == "error"] == ["merge"]


def test_gate_works_on_a_detached_pull_request_head(tmp_path: Path) -> None:
    """The pull-request workflow checks out the PR head detached and names the base as origin/main."""
    origin = make_flow_repo(tmp_path / "origin")
    draft_commit(origin, "b", {mpath("m8"): mapping_entry("m8", "glass furnace", "C24")})
    draft_commit(origin, "a", {mpath("m7"): mapping_entry("m7", "glass furnace", "C23")})
    review.approve(Repository(origin), "a", MAPPER)
    publish.publish(Repository(origin), "a", by=PUBLISHER)
    clone = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "checkout", "-q", "--detach", git(origin, "rev-parse", "draft/b"))
    result = run(["gate", "--repo", str(clone), "--base", "origin/main", "--head", "HEAD"])
    assert result.exit_code == 1 and "m8" in result.stdout
    assert git(clone, "status", "--porcelain") == ""
