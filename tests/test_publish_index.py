"""Publish and release build the derived index of each tagged library tree and push it with the tags."""

from __future__ import annotations

import json
from pathlib import Path

from canonry.publication import publish as publishing
from canonry.store import index as shipped
from canonry.store.repo import Repository
from conftest import git, run
from flow_helpers import (
    PUBLISHER,
    ready_draft,
    ref,
    serve,
    tags,
)
from helpers import mapping_entry


def _tree(repo: Path, rev: str, path: str = "knowledge/mapping") -> str:
    return git(repo, "rev-parse", f"{rev}^{{commit}}:{path}")


def _verified(repo: Path, tree: str) -> shipped.Shipped | None:
    shipped._MEMORY.clear()  # read what git holds, not this process's memory of it
    return shipped.read(Repository(repo), tree)


def _index_refs(repo: Path) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname)", "refs/canonry/index/")
    return sorted(out.split())


def test_publish_builds_the_index_of_the_tagged_library_tree(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    pub = publishing.publish(Repository(flow), "rebar", by=PUBLISHER)
    tree = _tree(flow, "mapping/v1")
    assert pub.indexes == [shipped.ref_name(tree)] == _index_refs(flow)
    sections = _verified(flow, tree)
    assert sections is not None  # key, version and manifest digest checked
    listing = next(n for n in sections.names() if n.startswith("listing/"))
    assert json.loads(sections.section(listing) or b"")["entries"] == 4  # m0..m2 and m9
    assert any(name.startswith("exact-keys/") for name in sections.names())


def test_a_dry_run_builds_no_index(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    pub = publishing.publish(Repository(flow), "rebar", by=PUBLISHER, dry_run=True)
    assert pub.action == "dry-run" and pub.indexes == [] and _index_refs(flow) == []
    assert run(["release", "--repo", str(flow), "--dry-run"]).exit_code == 0
    assert _index_refs(flow) == []


def test_nothing_new_builds_no_index(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    publishing.publish(Repository(flow), "rebar", by=PUBLISHER)
    before = _index_refs(flow)
    again = publishing.publish(Repository(flow), "rebar", by=PUBLISHER)
    assert again.action == "nothing" and again.indexes == [] and _index_refs(flow) == before


def test_publish_push_carries_the_index_ref(flow: Path, flow_daemon: tuple[Path, str]) -> None:
    bare = serve(flow, *flow_daemon)
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    result = run(["publish", "--repo", str(flow), "rebar", "--by", PUBLISHER, "--push", "origin"])
    assert result.exit_code == 0, result.stderr
    name = shipped.ref_name(_tree(flow, "mapping/v1"))
    assert _index_refs(bare) == [name]
    assert git(bare, "rev-parse", name) == git(flow, "rev-parse", name)
    assert _verified(bare, _tree(bare, "mapping/v1")) is not None


def test_release_builds_and_pushes_the_index(flow: Path, flow_daemon: tuple[Path, str]) -> None:
    bare = serve(flow, *flow_daemon)
    result = run(["release", "--repo", str(flow), "--by", PUBLISHER, "--push", "origin", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    name = shipped.ref_name(_tree(flow, "mapping/v1"))
    assert doc["indexes"] == [name] and _index_refs(flow) == [name] == _index_refs(bare)
    assert _verified(flow, _tree(flow, "mapping/v1")) is not None
    assert _verified(bare, _tree(bare, "mapping/v1")) is not None


def test_release_without_push_builds_the_index_locally(flow: Path) -> None:
    pub = publishing.release(Repository(flow), by=PUBLISHER)
    assert [v.tag for v in pub.versions] == ["mapping/v1"]
    assert pub.indexes == [shipped.ref_name(_tree(flow, "mapping/v1"))] == _index_refs(flow)


def test_a_refused_index_push_is_a_warning_and_the_publication_stands(
    flow: Path, flow_daemon: tuple[Path, str]
) -> None:
    bare = serve(flow, *flow_daemon)
    hook = bare / "hooks" / "update"
    hook.write_text('#!/bin/sh\ncase "$1" in refs/canonry/index/*) echo no >&2; exit 1;; esac\nexit 0\n')
    hook.chmod(0o755)
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    pub = publishing.publish(Repository(flow), "rebar", by=PUBLISHER, push="origin")
    assert pub.action == "published" and tags(flow) == ["mapping/v1"]
    assert git(bare, "rev-parse", "main") == ref(flow, "main")
    assert git(bare, "tag", "-l") == "mapping/v1"
    assert _index_refs(bare) == [] and _index_refs(flow) == pub.indexes != []
    assert any("derived index was not pushed to origin" in m for m in pub.messages), pub.messages


def test_index_false_builds_nothing(flow: Path) -> None:
    ready_draft(flow, "rebar", mapping_entry("m9", "rebar bending", "C24"))
    pub = publishing.publish(Repository(flow), "rebar", by=PUBLISHER, index=False)
    assert pub.action == "published" and pub.indexes == [] and _index_refs(flow) == []
