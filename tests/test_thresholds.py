"""The confidence gate's index counts exactly what judging every entry counts, at any moment."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from canonry.gates import confidence, content, derived
from canonry.gates.engine import run_gates
from canonry.gates.thresholds import Thresholds, blocked_from, is_blocked
from canonry.store import entries
from canonry.store.registry import ConfidencePolicy
from canonry.store.repo import Repository
from canonry.store.states import TreeState
from conftest import git
from helpers import forget_caches, mapping_entry, write_entry

POLICIES = [
    ConfidencePolicy(decay_rate=0.0005, source_weights={"ai": 0.85, "user": 0.95}, caution=0.6),
    ConfidencePolicy(decay_rate=0.0, caution=0.6),
    ConfidencePolicy(decay_rate=0.01, caution=0.0),
    ConfidencePolicy(decay_rate=0.002, caution=1.0, source_weights={"admin": 1.2}),
]


def _entry(rng: random.Random, i: int) -> dict[str, object]:
    doc: dict[str, object] = {"id": f"e{i:04d}"}
    doc["confidence"] = rng.choice([None, 0.0, 0.3, 0.59, 0.6, 0.600001, 0.75, 0.9, 1.0, "x", rng.random()])
    doc["source"] = rng.choice(["ai", "user", "admin", "import", None])
    day = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(0, 700 * 86400))
    doc["updated_at"] = rng.choice([day.strftime("%Y-%m-%dT%H:%M:%SZ"), "not a date", None, 7])
    return {k: v for k, v in doc.items() if v is not None}


@pytest.mark.parametrize("policy", POLICIES)
def test_the_count_at_any_moment_is_the_brute_force_count(policy: ConfidencePolicy) -> None:
    rng = random.Random(11)
    docs = {f"e{i:04d}": _entry(rng, i) for i in range(600)}
    index = Thresholds(Thresholds.build(docs, policy, "confidence"))
    moments = [dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, tzinfo=dt.UTC)]
    for doc in list(docs.values())[:60]:  # right at, just before and just after entries' crossings
        t = blocked_from(doc, policy, "confidence")
        if t == t and abs(t) != float("inf"):
            for delta in (-1.0, 0.0, 1e-3, 1.0, 90.0):
                moments.append(dt.datetime.fromtimestamp(t + delta, tz=dt.UTC))
    for at in moments:
        brute = {i for i, d in docs.items() if is_blocked(d, policy, at, "confidence")}
        count, _ = index.blocked(at, docs.get)
        assert count == len(brute), at
        assert {i for i, d in docs.items() if index.is_blocked_at(i, at, d)} == brute


_forget = forget_caches


def test_the_gate_counts_others_as_judging_every_entry_would(
    small_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    for i in range(40):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(0, 600))
        doc = mapping_entry(f"c{i:02d}", f"pattern {i}", "C24")
        doc.update(confidence=rng.choice([0.5, 0.7, 0.9]), updated_at=f"{day}T10:00:00Z")
        write_entry(small_repo, "mapping", doc)
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "forty entries of various ages")
    r = Repository(small_repo)
    derived.build(r, TreeState(r, r.resolve_commit("main")))
    git(small_repo, "tag", "-a", "mapping/v1", "-m", "v1")
    for i in range(5):  # main moves on: the published tree becomes a nearby one
        write_entry(
            small_repo, "mapping", {**mapping_entry(f"c{i:02d}", f"pattern {i}", "C24"), "confidence": 0.2}
        )
    git(small_repo, "commit", "-q", "-am", "main lowers five")
    git(small_repo, "checkout", "-q", "-b", "draft/x")
    for i in range(10, 16):
        doc = mapping_entry(f"c{i:02d}", f"pattern {i}", "C24")
        write_entry(small_repo, "mapping", {**doc, "confidence": 0.95, "updated_at": "2026-10-30T10:00:00Z"})
    (small_repo / "knowledge/mapping/c20.yaml").unlink()
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "draft")
    for ref in ("mapping/v1", "main"):
        _forget(small_repo)
        with monkeypatch.context() as m:  # from the shipped index and a tree diff, not every entry
            for module, name in (
                (content, "source_of"),
                (derived, "source_of"),
                (confidence, "_blocked_ids"),
            ):
                m.setattr(module, name, _refuse)
            result = run_gates(Repository(small_repo), ref, "draft/x", gates=["confidence"], merge=False)
        head = TreeState(r, r.resolve_commit("draft/x"))
        spec = result_spec(small_repo)
        changed = {f"c{i:02d}" for i in range(10, 16)} | (
            set() if ref == "main" else {f"c{i:02d}" for i in range(5)}
        )
        library = entries.Library(head, spec)
        at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        policy = load_policy(small_repo)
        brute = len(confidence._blocked_ids(library, policy, at) - changed)
        assert brute > 0
        said = [f.message for f in result.findings if "other entries" in f.message]
        assert said == (
            [f"{brute} other entries are in the blocked band by now (see `canonry confidence mapping@main`)"]
            if brute
            else []
        )


def _refuse(*_args: object) -> None:
    raise AssertionError("judged every entry")


def result_spec(repo: Path):  # type: ignore[no-untyped-def]
    from canonry.store.rules import load_rules

    r = Repository(repo)
    return load_rules(TreeState(r, r.resolve_commit("main"))).require_registry().library("mapping")


def load_policy(repo: Path) -> ConfidencePolicy:
    from canonry.store.rules import load_rules

    r = Repository(repo)
    return load_rules(TreeState(r, r.resolve_commit("main"))).require_registry().policy.confidence
