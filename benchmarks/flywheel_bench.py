#!/usr/bin/env python3
"""Flywheel performance: the holdout gate and `learn mapping` on a large generated repository.

    python benchmarks/flywheel_bench.py [--entries 100000] [--cases 10000] [--overrides 50000] [--repeat 3]

It builds (or reuses) benchmarks/out/flywheel-<N>: the mapping repository of
benchmarks/generate.py (N entries, tags mapping/v1 and v2) plus one commit on
main that adds a holdout set of --cases cases and --overrides overrides. Then,
each in a fresh Python process (imports done before the clock starts):

- `learn mapping`: read every override and the whole mapping library at main,
  propose patterns and confidence changes, write the draft branch;
- the holdout gate: evaluate main and that draft on every holdout case;
- both together, as `canonry learn mapping` runs them (draft, diff, holdout comparison).

"Cold" runs start with no on-disk cache (<git dir>/canonry/ deleted), so every
entry is parsed; "warm" runs reuse the cache the cold run left (parsed entries
by blob id, pattern rows by tree id), as on a steward's machine or a CI runner
with a cache. Targets (the flywheel issue): holdout gate under 5 s and learn
mapping under 10 s on a 2-core machine. Medians of --repeat runs are printed
as a Markdown table and written to benchmarks/out/flywheel-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tooling"))
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

MARKER = "canonry-flywheel-bench.json"
DATA_VERSION = 2
TARGETS: dict[str, float | None] = {
    "learn mapping": 10.0,
    "holdout gate": 5.0,
    "learn mapping + diff + holdout gate": None,  # what `canonry learn mapping` does; no target of its own
}
WHEN = generate.T2 + 86400


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "tooling"), env.get("PYTHONPATH", "")) if p)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    env.update(GIT_AUTHOR_NAME="Benchmark", GIT_AUTHOR_EMAIL="benchmark@example.org")
    return env


# --- data: a holdout set and overrides on top of the generated mapping library ---------------------------


def _rows(repo_path: Path) -> list[tuple[str, str, str, float, str]]:
    from canonry.learning.matching import pattern_rows
    from canonry.store.entries import Library
    from canonry.store.repo import Repository
    from canonry.store.rules import load_rules
    from canonry.store.states import TreeState

    repo = Repository(repo_path)
    state = TreeState(repo, repo.resolve_commit("main"))
    spec = load_rules(state).require_registry().library("mapping")
    return sorted(pattern_rows(Library(state, spec)).values())


def add_flywheel_data(repo_path: Path, cases: int, overrides: int) -> dict[str, Any]:
    """One commit on main with knowledge/holdout/mapping.yaml and knowledge/overrides/*.yaml."""
    from canonry.store.ids import deterministic_uuid7
    from canonry.store.yamlio import dump_yaml

    start = time.perf_counter()
    rows = _rows(repo_path)
    rng = random.Random(f"flywheel:{cases}:{overrides}")
    codes = generate.SECTOR_CODES
    lines = ["cases:"]
    for i in range(cases):
        _id, phrase, code, _conf, _lang = rng.choice(rows)
        expected = code if rng.random() < 0.85 else rng.choice(codes)
        lines.append(f"- expected: {expected}\n  text: '{phrase} project lot {i}'")
    holdout = ("\n".join(lines) + "\n").encode("utf-8")

    blobs = generate._Stream()
    holdout_blob = blobs.blob(holdout)
    words = generate.EN_WORDS
    phrases = [
        (f"{rng.choice(words)} {rng.choice(words)} scheme {j}", rng.choice(codes))
        for j in range(overrides // 10)  # about ten overrides per mis-mapped text
    ]
    files: dict[str, str] = {}
    for i in range(overrides):
        doc: dict[str, Any] = {
            "workspace_id": f"ws-eng-{i % 500}",
            "source_engagement_id": f"ENG-{i % 500}",
            "reuse_scope": "WORKSPACE_ONLY",
            "sanitized_for_promotion": False,
            "source": "user",
            "updated_at": "2026-01-03T00:00:00Z",
            "engagement_id": f"ENG-{i % 500}",
            "steward": generate.STEWARD,
            "overridden_at": "2026-01-03T00:00:00Z",
        }
        if rng.random() < 0.2:  # a verdict on a suggestion of an existing pattern
            entry_id, phrase, code, _conf, _lang = rng.choice(rows)
            final = code if rng.random() < 0.7 else rng.choice(codes)
            doc.update(
                text=f"{phrase} contract", suggested_code=code, final_code=final, suggested_entry_id=entry_id
            )
        else:  # a correction of a text the library does not know
            phrase, code = rng.choice(phrases)
            doc.update(
                text=phrase, suggested_code=None, final_code=code if rng.random() < 0.9 else rng.choice(codes)
            )
        doc["id"] = deterministic_uuid7(generate.ID_MILLIS, "override", str(i))
        files[f"{doc['id']}.yaml"] = blobs.blob(dump_yaml(doc).encode("utf-8"))
    blobs.line("done")
    generate._git(repo_path, "fast-import", "--quiet", "--done", input=blobs.bytes())
    tree = generate._mktree(repo_path, files)
    stream = generate._Stream()
    author = f"{generate.AUTHOR} {WHEN} +0000"
    stream.line(f"commit refs/heads/main\nauthor {author}\ncommitter {author}")
    stream.data(
        generate._trailers(f"Add {cases} holdout cases and {overrides} overrides", "flywheel benchmark")
    )
    stream.line("from refs/heads/main^0")
    stream.line(f"M 100644 {holdout_blob} knowledge/holdout/mapping.yaml")
    stream.line(f"M 040000 {tree} knowledge/overrides")
    stream.line("")
    stream.line("done")
    generate._git(repo_path, "fast-import", "--quiet", "--done", input=stream.bytes())
    return {"holdout_bytes": len(holdout), "seconds": round(time.perf_counter() - start, 2)}


def ensure_repo(entries: int, cases: int, overrides: int, layout: str) -> Path:
    out = HERE / "out" / f"flywheel-{entries}-{layout}"
    git_dir = out  # bare
    wanted = {
        "version": DATA_VERSION,
        "entries": entries,
        "cases": cases,
        "overrides": overrides,
        "layout": layout,
    }
    marker = git_dir / MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("params") == wanted:
        return out
    base = generate.existing(out)
    if base is not None and base.matches(entries, layout, False):
        generate._git(out, "update-ref", "refs/heads/main", base.v2_commit)  # drop the old data commit
    else:
        progress(f"generating {entries} mapping entries ({layout}) ...")
        generate.generate(out, entries, layout=layout, worktree=False, force=True)
    progress(f"adding {cases} holdout cases and {overrides} overrides ...")
    info = add_flywheel_data(out, cases, overrides)
    generate._git(out, "repack", "-adq")
    marker.write_text(json.dumps({"params": wanted, **info}, indent=1) + "\n")
    return out


# --- workers ----------------------------------------------------------------------------------------------


def worker(op: str, repo_path: str, draft: str) -> dict[str, Any]:
    from canonry.gates.engine import run_gates
    from canonry.learning.mapping import learn_mapping
    from canonry.store.repo import Repository

    repo = Repository(repo_path)
    start = time.perf_counter()
    if op in ("learn", "learn+compare"):
        learned = learn_mapping(
            repo,
            draft_name=draft,
            compare=op == "learn+compare",
            judge=(lambda b, h: run_gates(repo, b, h, gates=["holdout"])) if op == "learn+compare" else None,
        )
        seconds = time.perf_counter() - start
        return {
            "seconds": seconds,
            "added": len(learned.added),
            "changed": len(learned.changed),
            "overrides": learned.overrides_read,
        }
    result = run_gates(repo, "main", f"draft/{draft}", gates=["holdout"])
    seconds = time.perf_counter() - start
    holdout = result.metrics["holdout"]["mapping"]
    return {
        "seconds": seconds,
        "ok": result.ok,
        "cases": holdout["cases"],
        "baseline": holdout["baseline"],
        "value": holdout["value"],
        "flipped": [len(holdout["flipped_to_correct"]), len(holdout["flipped_to_wrong"])],
    }


def run_worker(op: str, repo: Path, draft: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", op, str(repo), draft],
        capture_output=True,
        text=True,
        env=_env(),
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker {op} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bench(repo: Path, repeat: int) -> dict[str, list[dict[str, Any]]]:
    samples: dict[str, list[dict[str, Any]]] = {}
    cache = repo / "canonry"
    for n in range(repeat):
        draft = f"bench-learn-{n}"
        subprocess.run(
            ["git", "-C", str(repo), "branch", "-D", f"draft/{draft}"], capture_output=True, env=_env()
        )
        shutil.rmtree(cache, ignore_errors=True)
        progress(f"run {n + 1}/{repeat}: learn mapping (cold) ...")
        samples.setdefault("learn mapping, cold", []).append(run_worker("learn", repo, draft))
        subprocess.run(
            ["git", "-C", str(repo), "branch", "-D", f"draft/{draft}"], capture_output=True, env=_env()
        )
        progress(f"run {n + 1}/{repeat}: learn mapping (warm) ...")
        samples.setdefault("learn mapping, warm", []).append(run_worker("learn", repo, draft))
        shutil.rmtree(cache, ignore_errors=True)
        progress(f"run {n + 1}/{repeat}: holdout gate (cold) ...")
        samples.setdefault("holdout gate, cold", []).append(run_worker("gate", repo, draft))
        progress(f"run {n + 1}/{repeat}: holdout gate (warm) ...")
        samples.setdefault("holdout gate, warm", []).append(run_worker("gate", repo, draft))
        subprocess.run(
            ["git", "-C", str(repo), "branch", "-D", f"draft/{draft}"], capture_output=True, env=_env()
        )
        progress(f"run {n + 1}/{repeat}: learn mapping with its diff and holdout comparison (warm) ...")
        samples.setdefault("learn mapping + diff + holdout gate, warm", []).append(
            run_worker("learn+compare", repo, draft)
        )
    return samples


def table(samples: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["| operation | median s | min s | target s | met | details |", "|---|---:|---:|---:|---|---|"]
    for name, runs in samples.items():
        seconds = [r["seconds"] for r in runs]
        target = TARGETS[name.split(",")[0]]
        details = {k: v for k, v in runs[0].items() if k != "seconds"}
        median = statistics.median(seconds)
        met = "-" if target is None else "yes" if median < target else "NO"
        goal = "-" if target is None else f"{target:g}"
        lines.append(
            f"| {name} | {median:.2f} | {min(seconds):.2f} | {goal} | {met} | {json.dumps(details)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--worker":
        print(json.dumps(worker(args[1], args[2], args[3])))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--overrides", type=int, default=50_000)
    parser.add_argument("--layout", choices=["flat", "sharded"], default="flat")
    parser.add_argument("--repeat", type=int, default=3)
    ns = parser.parse_args(args)
    repo = ensure_repo(ns.entries, ns.cases, ns.overrides, ns.layout)
    samples = bench(repo, ns.repeat)
    print(f"{ns.entries} mapping entries ({ns.layout}), {ns.cases} holdout cases, {ns.overrides} overrides;")
    cpu = platform.processor() or platform.machine()
    print(f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    print(table(samples))
    out = HERE / "out" / "flywheel-results.json"
    out.write_text(json.dumps({"params": vars(ns), "samples": samples}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
