"""Faults and races: parallel publishers, drafts that try to cheat, tags and main tampered with.

Crashes between publication steps are in test_publish (a real process killed
through CANONRY_TEST_CRASH_AFTER).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from canonry.publication import publish
from canonry.store.repo import Repository
from conftest import ROOT, git, run
from flow_helpers import (
    ECONOMIST,
    MAPPER,
    OWNER,
    PUBLISHER,
    WORDS,
    approve,
    cpath,
    draft_commit,
    fsck,
    make_flow_repo,
    mpath,
    note_entry,
    ref,
    tags,
)
from helpers import mapping_entry

N = 20
CODES = "ABCDEFGHIJKLMNOPQRSTU"


def twenty_drafts(repo: Path) -> dict[str, str]:
    """draft/d0..d19, each adding one distinct entry, all approved: {draft: head}."""
    heads = {}
    for i in range(N):
        entry = mapping_entry(f"e{i}", f"{WORDS[i]} works", f"{CODES[i]}{10 + i}")
        heads[f"draft/d{i}"] = draft_commit(repo, f"d{i}", {mpath(f"e{i}"): entry})
        approve(repo, f"d{i}")
    return heads


def start(args: list[str], cwd: Path, pycache: Path) -> subprocess.Popen[str]:
    """The CLI in a process of its own; compiled modules cached under pycache (outside the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tooling"), "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from canonry.cli.main import main; main()", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warm bytecode cache, so twenty processes do not each compile Canonry."""
    folder = tmp_path_factory.mktemp("pycache")
    warm = start(["--help"], ROOT, folder)
    warm.communicate(timeout=60)
    modules = "import canonry.publication.publish, canonry.gates.engine as e, importlib; [importlib.import_module(m) for m in e.GATES.values()]"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tooling"), "PYTHONPYCACHEPREFIX": str(folder)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", modules], env=env, check=True, timeout=60)
    return folder


def finish(procs: dict[str, subprocess.Popen[str]]) -> dict[str, tuple[int, str]]:
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        out[name] = (proc.returncode, stdout + stderr)
    return out


def check_published_once(repo: Path, heads: dict[str, str], main: str = "main") -> None:
    """Versions mapping/v1..vN gapless and unique; each draft merged by exactly one commit of main."""
    names = tags(repo)
    assert names == sorted(f"mapping/v{n}" for n in range(1, N + 1)), names
    drafts_of_versions = sorted(
        json.loads(run(["versions", "--repo", str(repo), "mapping", "--format", "json"]).stdout)["versions"],
        key=lambda v: v["version"],
    )
    assert sorted(v["metadata"]["draft"] for v in drafts_of_versions) == sorted(heads)
    merges = git(repo, "log", "--first-parent", "--merges", "--format=%P", main).splitlines()
    second_parents = [line.split()[1] for line in merges]
    for head in heads.values():
        assert second_parents.count(head) == 1
    commits = {v["commit"] for v in drafts_of_versions}
    assert len(commits) == N


def test_twenty_publishers_on_one_repository(flow: Path, pycache: Path) -> None:
    heads = twenty_drafts(flow)
    git(flow, "checkout", "-q", "--detach")  # publishers move main; nobody's work tree is on it
    procs = {d: start(["publish", d, "--by", PUBLISHER], flow, pycache) for d in heads}
    results = finish(procs)
    for code, output in results.values():
        assert code in (0, 1), output
        if code == 1:
            assert "another publisher got there first" in output, output
    losers = [d for d, (code, _o) in results.items() if code == 1]
    for draft in losers:  # nothing lost: a loser that runs again gets through
        assert run(["publish", "--repo", str(flow), draft, "--by", PUBLISHER]).exit_code == 0
    check_published_once(flow, heads)
    fsck(flow)


def test_twenty_publishers_against_one_remote(
    flow: Path, flow_daemon: tuple[Path, str], tmp_path: Path, pycache: Path
) -> None:
    served, url = flow_daemon
    heads = twenty_drafts(flow)
    bare = served / "remote.git"
    git(flow, "clone", "-q", "--mirror", str(flow), str(bare))  # drafts and approval notes included
    clones = []
    for i in range(N):  # one publisher per machine: a clone of its own
        clone = tmp_path / f"clone{i}"
        git(tmp_path, "clone", "-q", "--mirror", str(bare), str(clone))
        git(clone, "config", "--unset", "remote.origin.mirror")
        git(clone, "remote", "set-url", "origin", url + "remote.git")
        clones.append(clone)
    procs = {
        d: start(["publish", d, "--by", PUBLISHER, "--push", "origin"], clones[i], pycache)
        for i, d in enumerate(heads)
    }
    results = finish(procs)
    for code, output in results.values():
        assert code in (0, 1), output
        if code == 1:
            assert "got there first" in output, output
    for i, draft in enumerate(heads):
        if results[draft][0] == 1:
            assert run(["publish", "--repo", str(clones[i]), draft, "--push", "origin"]).exit_code == 0
    check_published_once(bare, heads)
    fsck(bare)
    # every publisher's own refs follow what it published
    for i, draft in enumerate(heads):
        assert git(clones[i], "merge-base", "--is-ancestor", heads[draft], "main", check=False) == ""


# --- drafts that try to get past the gates ----------------------------------------------------------


def published_note(flow: Path, status: str = "REVIEWED") -> None:
    draft_commit(flow, "note", {cpath("n1"): note_entry("n1", status)})
    approve(flow, "note", ECONOMIST)
    publish.publish(Repository(flow), "note", by=PUBLISHER)


def refused(flow: Path, draft: str, gate: str) -> str:
    approve(flow, draft, ECONOMIST)
    before = (ref(flow, "main"), tags(flow))
    result = run(["publish", "--repo", str(flow), draft, "--by", PUBLISHER])
    assert result.exit_code == 1, result.stdout + result.stderr
    assert f"[{gate}]" in result.stderr
    assert (ref(flow, "main"), tags(flow)) == before
    return result.stderr


def test_editing_an_append_only_entry_is_refused(flow: Path) -> None:
    published_note(flow)
    draft_commit(flow, "edit", {cpath("n1"): note_entry("n1", "REVIEWED", magnitude=0.5)})
    refused(flow, "edit", "append-only")


def test_deleting_an_append_only_entry_is_refused(flow: Path) -> None:
    published_note(flow)
    draft_commit(flow, "delete", {cpath("n1"): None})
    refused(flow, "delete", "append-only")


def test_renaming_an_append_only_entry_is_refused(flow: Path) -> None:
    published_note(flow)
    draft_commit(
        flow,
        "rename",
        {cpath("n1"): None, cpath("n2"): note_entry("n2", "REVIEWED", observation="observation n1")},
    )
    refused(flow, "rename", "append-only")


def test_moving_a_lifecycle_field_backwards_is_refused(flow: Path) -> None:
    published_note(flow, "REVIEWED")
    draft_commit(flow, "back", {cpath("n1"): note_entry("n1", "RAW")})
    refused(flow, "back", "append-only")
    draft_commit(flow, "forward", {cpath("n1"): note_entry("n1", "DISMISSED")})
    approve(flow, "forward", ECONOMIST)
    assert run(["publish", "--repo", str(flow), "forward", "--by", PUBLISHER]).exit_code == 0


def test_a_loosened_schema_does_not_let_an_entry_through(flow: Path) -> None:
    path = flow / "schemas/common.schema.json"
    loosened = path.read_text().replace('"pattern": "^[A-U][0-9]{2}$"', '"pattern": "^[A-Za-u][0-9]{2}$"')
    assert loosened != path.read_text()
    draft_commit(
        flow,
        "loose",
        {"schemas/common.schema.json": loosened, mpath("m9"): mapping_entry("m9", "rebar bending", "c24")},
    )
    approve(flow, "loose", MAPPER)
    approve(flow, "loose", OWNER)  # even with every approval, the base's rules still apply
    result = run(["publish", "--repo", str(flow), "loose", "--by", PUBLISHER])
    assert result.exit_code == 1 and "[schema]" in result.stderr and "m9.yaml" in result.stderr
    assert tags(flow) == []


def test_publishing_onto_a_rewound_main_is_refused(flow: Path) -> None:
    draft_commit(flow, "a", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    approve(flow, "a")
    old = ref(flow, "main")
    publish.publish(Repository(flow), "a", by=PUBLISHER)
    git(flow, "update-ref", "refs/heads/main", old)  # main force-moved back behind mapping/v1
    draft_commit(flow, "b", {mpath("m8"): mapping_entry("m8", "seaport", "H52")}, start=old)
    approve(flow, "b")
    result = run(["publish", "--repo", str(flow), "b", "--by", PUBLISHER])
    assert result.exit_code == 1 and "does not contain published version(s) mapping/v1" in result.stderr
    assert tags(flow) == ["mapping/v1"] and ref(flow, "main") == old


def test_pushing_onto_a_force_pushed_remote_is_refused(flow: Path, flow_daemon: tuple[Path, str]) -> None:
    served, url = flow_daemon
    bare = served / "remote.git"
    git(flow, "clone", "-q", "--bare", str(flow), str(bare))
    git(flow, "remote", "add", "origin", url + "remote.git")
    old = ref(flow, "main")
    draft_commit(flow, "a", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    approve(flow, "a")
    publish.publish(Repository(flow), "a", by=PUBLISHER, push="origin")
    git(bare, "update-ref", "refs/heads/main", old)  # someone force-pushed main back
    draft_commit(flow, "b", {mpath("m8"): mapping_entry("m8", "seaport", "H52")})
    approve(flow, "b")
    result = run(["publish", "--repo", str(flow), "b", "--by", PUBLISHER, "--push", "origin"])
    assert (
        result.exit_code == 1
        and "origin's main does not contain published version(s) mapping/v1" in result.stderr
    )
    assert git(bare, "rev-parse", "main") == old


def test_a_second_draft_touching_the_same_entry_after_publication_merges_or_conflicts(flow: Path) -> None:
    # the same draft published twice through different names is still merged once
    draft_commit(flow, "a", {mpath("m9"): mapping_entry("m9", "rebar bending", "C24")})
    approve(flow, "a")
    git(flow, "branch", "draft/a-again", "draft/a")
    assert run(["publish", "--repo", str(flow), "a", "--by", PUBLISHER]).exit_code == 0
    again = run(["publish", "--repo", str(flow), "a-again", "--by", PUBLISHER])
    assert again.exit_code == 0 and "nothing to publish" in again.stdout
    assert tags(flow) == ["mapping/v1"]


def test_flow_repo_builds(tmp_path: Path) -> None:
    repo = make_flow_repo(tmp_path / "x", entries=5)
    assert len(list((repo / "knowledge/mapping").iterdir())) == 5
