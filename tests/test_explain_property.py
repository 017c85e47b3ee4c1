"""`explain` agrees with `diff` (issue 9, item 6), over generated histories with merges and resolved conflicts.

For every field `diff A B` reports for an entry, `explain ENTRY --from A --to
B` lists it in `fields` with the same old and new values and names a commit
that holds the final value while none of its parents does: the commit that
gave the field its final value, a merge that resolved a conflict included.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from canonry.compare.diff import diff
from canonry.publication import explain as explaining
from canonry.store.repo import Identity, Repository
from canonry.store.yamlio import dump_yaml, load_mapping
from conftest import run
from flow_helpers import make_flow_repo, mpath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WHO = Identity("Test Steward", "steward@example.org")
PATH = mpath("m0")
VALUES = {"confidence": [0.5, 0.6, 0.7, 0.8, 0.9], "sector_code": ["C23", "C24", "C25"]}

_edit = st.tuples(st.sampled_from(["main", "side"]), st.sampled_from(sorted(VALUES)), st.integers(0, 4))
_merge = st.tuples(st.sampled_from(["merge", "sync"]), st.sampled_from(["ours", "theirs", "new"]), st.just(0))
_ops = st.lists(st.one_of(_edit, _merge), min_size=2, max_size=10)


class History:
    """A mapping entry m0 edited on main and on a side branch, merged both ways with chosen resolutions."""

    def __init__(self, path: Path) -> None:
        make_flow_repo(path)
        self.repo = Repository(path)
        self.tips = {"main": self.repo.resolve_commit("main")}
        self.tips["side"] = self.tips["main"]
        self.main_history = [self.tips["main"]]
        self.n = 0

    def entry(self, commit: str) -> dict[str, Any]:
        item = self.repo.entry_at(self.repo.tree_of(commit), PATH)
        assert item is not None
        return dict(load_mapping(self.repo.read_blob(item.oid), PATH))

    def commit(self, branch: str, entry: dict[str, Any], parents: list[str], what: str) -> None:
        self.n += 1
        tree = self.repo.write_tree(self.repo.tree_of(parents[0]), {PATH: dump_yaml(entry).encode("utf-8")})
        oid = self.repo.create_commit(tree, parents, f"{what} {self.n}\n", WHO, when=1_790_000_000 + self.n)
        self.tips[branch] = oid
        if branch == "main":
            self.main_history.append(oid)

    def edit(self, branch: str, field: str, index: int) -> None:
        entry = self.entry(self.tips[branch])
        entry[field] = VALUES[field][index % len(VALUES[field])]
        self.commit(branch, entry, [self.tips[branch]], f"{branch} sets {field}")

    def merge(self, into: str, resolution: str) -> None:
        other = "side" if into == "main" else "main"
        ours, theirs = self.tips[into], self.tips[other]
        if self.repo.is_ancestor(theirs, ours):
            return
        base = self.repo.merge_base(ours, theirs)
        assert base is not None
        b, o, t = self.entry(base), self.entry(ours), self.entry(theirs)
        merged = dict(o)
        for field in VALUES:
            if o[field] == b[field]:
                merged[field] = t[field]
            elif t[field] != b[field] and o[field] != t[field]:  # changed two ways: a steward resolves it
                choice = {
                    "ours": o[field],
                    "theirs": t[field],
                    "new": VALUES[field][-1 if field == "sector_code" else 1],
                }
                merged[field] = choice[resolution]
        self.commit(into, merged, [ours, theirs], f"merge {other} into {into} ({resolution})")


def check_agreement(h: History, start: str, end: str) -> None:
    doc = diff(h.repo, start, end)
    rows = [
        r for r in (doc["libraries"].get("mapping") or {}).get("changed_entries", []) if r["entry_id"] == "m0"
    ]
    told = explaining.explain(h.repo, "m0", start, end)["fields"]
    assert [(r["path"], r["old"], r["new"]) for r in rows] == [(r["path"], r["old"], r["new"]) for r in told]
    for row in told:
        field = row["path"][1:]
        final = h.entry(end)[field]
        assert h.entry(row["commit"])[field] == final, row
        parents = h.repo.commit(row["commit"]).parents
        assert all(h.entry(p)[field] != final for p in parents), row


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=_ops, start_at=st.integers(0, 5))
def test_explain_names_the_commit_of_every_field_diff_reports(ops: list[Any], start_at: int) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        h = History(folder / "flow")
        h.edit("main", "confidence", 4)  # an entry exists at every start
        for kind, a, b in ops:
            if kind in ("main", "side"):
                h.edit(kind, a, b)
            else:
                h.merge("main" if kind == "merge" else "side", a)
        h.merge("main", "new")
        start = h.main_history[min(1 + start_at, len(h.main_history) - 1)]
        check_agreement(h, start, h.tips["main"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_resolved_conflict_is_explained_as_diff_says(tmp_path: Path) -> None:
    """The issue's case: diff says 0.9 -> 0.6; explain says the same and names the resolving merge."""
    h = History(tmp_path / "flow")
    h.edit("main", "confidence", 4)  # 0.9
    start = h.tips["main"]
    h.tips["side"] = start
    h.edit("main", "confidence", 3)  # 0.8 on main
    h.edit("side", "confidence", 2)  # 0.7 on the side
    h.merge("main", "new")  # resolved as 0.6
    merge = h.tips["main"]
    check_agreement(h, start, merge)
    told = explaining.explain(h.repo, "m0", start, merge)["fields"]
    assert [(r["old"], r["new"], r["commit"]) for r in told] == [(0.9, 0.6, merge)]
    text = run(["explain", "--repo", str(h.repo.workdir), "m0", "--from", start, "--to", merge])
    assert "confidence: 0.9 -> 0.6" in text.stdout and merge[:12] in text.stdout
