#!/usr/bin/env python3
"""Gate and publish a 100-entry draft on the 100,000-entry generated repository.

    PYTHONPATH=tooling python benchmarks/publication_bench.py [--repo benchmarks/out/repo-100000]

The repository (built by benchmarks/generate.py when --repo does not exist) is
cloned with `git clone --no-local --no-checkout` into a temporary folder; the
original is never written. In the clone:

1. `draft/bench` is branched from main with 100 changed entries (only
   `confidence` changes, on entries whose evidence kind is classification or
   steward and whose reuse_scope is WORKSPACE_ONLY with a workspace_id, so the
   evidence and scope gates have nothing to say about the draft), committed
   with canonry.store.commits.commit_to_branch, and approved by the mapping steward
   (canonry.publication.review.approve; the author is someone else).
2. `run_gates(repo, "main", "draft/bench", gates=<all, review included>)` runs
   in a fresh process with no cache (cold), then in another fresh process with
   the caches the first one left (warm); seconds_per_gate gives the split.
3. The duplicates gate alone on drafts of 10, 100 and 1,000 changed entries
   (fresh process each, caches warm): it should grow with the draft.
4. `canonry.publication.publish.publish(repo, "draft/bench", by=...)` in a fresh process.

Prints the findings of the first gate run (what fails on the generated data)
and a Markdown table (operation, seconds, target, met) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "tooling", ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

AUTHOR = "bench-author@example.org"
REVIEWER = "mapping-steward@example.org"  # a steward of mapping in schemas/libraries.yaml
PUBLISHER = "policy-owner@example.org"
SIZES = (10, 100, 1000)
DRAFT = "draft/bench"
GATE_TARGET, PUBLISH_TARGET = 2.0, 3.0


# --- the measured work, each in a fresh process ------------------------------------------------


def _phase_gate(repo_path: str, base: str, head: str, gates: list[str]) -> dict[str, Any]:
    import canonry.gates.engine as engine
    from canonry.store.repo import Repository

    t0 = time.perf_counter()
    repo = Repository(repo_path)
    result = engine.run_gates(repo, base, head, gates=gates)
    seconds = time.perf_counter() - t0
    findings = [f.to_dict() if hasattr(f, "to_dict") else str(f) for f in result.findings]
    return {
        "seconds": seconds,
        "seconds_per_gate": result.metrics.get("seconds_per_gate", {}),
        "findings": len(findings),
        "first_findings": findings[:12],
        "by_gate": _count_by_gate(result.findings),
    }


def _count_by_gate(findings: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        key = f"{f.gate} {f.severity}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def _phase_publish(repo_path: str) -> dict[str, Any]:
    from canonry.publication.publish import publish
    from canonry.store.repo import Repository

    t0 = time.perf_counter()
    pub = publish(Repository(repo_path), DRAFT, by=PUBLISHER)
    seconds = time.perf_counter() - t0
    d = pub.to_dict()
    return {
        "seconds": seconds,
        "action": d.get("action"),
        "versions": d.get("versions"),
        "messages": d.get("messages"),
    }


def _child(args: list[str]) -> dict[str, Any]:
    """Run one phase of this script in a fresh Python process; its JSON answer."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tooling"))
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--phase", *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"phase {args} failed:\n{out.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(out.stdout)
    answer["process_seconds"] = time.perf_counter() - t0
    return answer


# --- setting up the clone ----------------------------------------------------------------------


def _pick_entries(repo_path: str, count: int) -> list[tuple[str, dict[str, Any]]]:
    """Entries whose confidence can change without any gate objecting (sorted by id)."""
    import canonry

    lib = canonry.open(repo_path).library("mapping", "main")
    picked: list[tuple[str, dict[str, Any]]] = []
    for entry_id in sorted(lib.index):
        doc = lib[entry_id].to_dict()
        evidence = doc.get("evidence") or {}
        if evidence.get("kind") not in ("classification", "steward"):
            continue
        if doc.get("reuse_scope") != "WORKSPACE_ONLY" or not doc.get("workspace_id"):
            continue
        if not isinstance(doc.get("confidence"), int | float):
            continue
        picked.append((entry_id, doc))
        if len(picked) == count:
            break
    if len(picked) < count:
        raise SystemExit(f"only {len(picked)} entries fit the draft; wanted {count}")
    return picked


def _make_draft(repo_path: str, branch: str, picked: list[tuple[str, dict[str, Any]]]) -> str:
    from canonry.store.commits import Provenance, commit_to_branch
    from canonry.store.registry import parse_registry
    from canonry.store.repo import Repository
    from canonry.store.yamlio import dump_yaml

    repo = Repository(repo_path)
    main = repo.resolve_commit("main")
    registry = parse_registry(repo.read_blob(repo.entry_at(repo.tree_of(main), "schemas/libraries.yaml").oid))
    spec = registry.libraries["mapping"]
    changes: dict[str, bytes | None] = {}
    for entry_id, doc in picked:
        doc = dict(doc)
        old = float(doc["confidence"])
        doc["confidence"] = round(old - 0.01, 2) if old >= 0.06 else round(old + 0.01, 2)
        text = dump_yaml(doc)
        changes[spec.entry_path(entry_id)] = text.encode() if isinstance(text, str) else text
    prov = Provenance("user", AUTHOR, f"benchmark: recalibrate {len(picked)} confidences")
    return commit_to_branch(
        repo, branch, changes, f"mapping: recalibrate {len(picked)} confidences", prov, start_from=main
    )


def _approve(repo_path: str, branch: str) -> None:
    from canonry.publication.review import approve
    from canonry.store.repo import Repository

    approve(Repository(repo_path), branch, REVIEWER, "benchmark approval")


def _clone(source: Path, dest: Path) -> None:
    subprocess.run(["git", "clone", "-q", "--no-local", "--no-checkout", str(source), str(dest)], check=True)
    # main as a local branch (the clone has it as HEAD's branch already when the source's HEAD is main)
    subprocess.run(["git", "-C", str(dest), "branch", "-f", "main", "origin/main"], capture_output=True)
    for key, value in (("user.name", "Benchmark"), ("user.email", AUTHOR)):
        subprocess.run(["git", "-C", str(dest), "config", key, value], check=True)


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", default=str(ROOT / "benchmarks" / "out" / "repo-100000"))
    parser.add_argument("--entries", type=int, default=100_000, help="when --repo must be generated")
    parser.add_argument("--work", help="folder for the clone (default: a new temporary folder, removed)")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        kind, *rest = args.phase
        if kind == "gate":
            answer = _phase_gate(rest[0], rest[1], rest[2], rest[3].split(","))
        elif kind == "publish":
            answer = _phase_publish(rest[0])
        else:
            raise SystemExit(f"unknown phase {kind}")
        print(json.dumps(answer, default=str))
        return

    source = Path(args.repo)
    if not source.exists():
        import generate

        generate.ensure(source, args.entries, layout="flat", worktree=False)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="canonry-pubbench-"))
    clone = work / "repo"
    if clone.exists():
        shutil.rmtree(clone)
    try:
        run(clone, source)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def run(clone: Path, source: Path) -> None:
    import canonry.gates.engine as engine

    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    t = time.perf_counter()
    _clone(source, clone)
    say(f"cloned {source} in {time.perf_counter() - t:.1f} s")
    repo = str(clone)
    t = time.perf_counter()
    picked = _pick_entries(repo, max(SIZES))
    say(f"picked {len(picked)} entries in {time.perf_counter() - t:.1f} s")
    _make_draft(repo, DRAFT, picked[:100])
    for size in SIZES:
        _make_draft(repo, f"draft/bench-{size}", picked[:size])
    _approve(repo, DRAFT)
    # every gate's cache under .git/canonry/ starts empty: the clone has none
    all_gates = ",".join(engine.GATES)

    cold = _child(["gate", repo, "main", DRAFT, all_gates])
    say(f"gate (cold): {cold['seconds']:.2f} s, findings by gate: {cold['by_gate']}")
    for f in cold["first_findings"]:
        say(f"  {f}")
    warm = _child(["gate", repo, "main", DRAFT, all_gates])
    say(f"gate (warm): {warm['seconds']:.2f} s, findings by gate: {warm['by_gate']}")

    # What the generated data fails, draft aside: the generator's own change (mapping/v1 -> v2:
    # 100 changed, 50 added, 50 removed entries), every gate but review (v2 is a tag, not a draft).
    base_v1 = _child(["gate", repo, "mapping/v1", "mapping/v2", all_gates.replace(",review", "")])
    say(f"gate mapping/v1 -> mapping/v2: findings by gate: {base_v1['by_gate']}")

    dups: dict[int, dict[str, Any]] = {}
    for size in SIZES:
        _child(["gate", repo, "main", f"draft/bench-{size}", "duplicates"])  # warm the caches for this draft
        dups[size] = _child(["gate", repo, "main", f"draft/bench-{size}", "duplicates"])
        say(f"duplicates gate, {size} changed entries: {dups[size]['seconds']:.3f} s")

    pub = _child(["publish", repo])
    say(f"publish: {pub['seconds']:.2f} s: {pub['action']} {pub['versions']} {pub['messages']}")

    report(cold, warm, base_v1, dups, pub)


def report(
    cold: dict[str, Any],
    warm: dict[str, Any],
    base_v1: dict[str, Any],
    dups: dict[int, dict[str, Any]],
    pub: dict[str, Any],
) -> None:
    def row(op: str, seconds: float, target: float | None) -> str:
        met = "-" if target is None else ("yes" if seconds < target else "**no**")
        tgt = "-" if target is None else f"< {target:g} s"
        return f"| {op} | {seconds:.3f} | {tgt} | {met} |"

    lines = [
        "| operation | seconds | target | met |",
        "|---|---:|---|---|",
        row(
            "`run_gates` all 12 gates, 100-entry draft, cold (fresh process, no cache)", cold["seconds"], None
        ),
        row("`run_gates` all 12 gates, 100-entry draft, warm (fresh process)", warm["seconds"], GATE_TARGET),
        row("`publish` 100-entry draft, warm (fresh process)", pub["seconds"], PUBLISH_TARGET),
    ]
    for size, d in dups.items():
        lines.append(row(f"duplicates gate alone, {size:,}-entry draft, warm", d["seconds"], None))
    print("\n".join(lines))
    print()
    print("| gate | cold s | warm s |")
    print("|---|---:|---:|")
    for name in warm["seconds_per_gate"]:
        c = cold["seconds_per_gate"].get(name, 0.0)
        print(f"| {name} | {c:.3f} | {warm['seconds_per_gate'][name]:.3f} |")
    print()
    print(f"findings on the draft: cold {cold['by_gate'] or 'none'}, warm {warm['by_gate'] or 'none'}")
    print(
        f"findings of mapping/v1 -> mapping/v2 (the generator's own change): {base_v1['by_gate'] or 'none'}"
    )
    for f in base_v1["first_findings"][:5]:
        print(f"  {f}")
    print(f"publish: {pub['action']}, versions {pub['versions']}")


if __name__ == "__main__":
    main()
