#!/usr/bin/env python3
"""`canonry impact` on folders of run records: the cost follows the change, not the number of runs.

    python benchmarks/impact_bench.py [--entries 100000] [--reads 50] [--runs 1,100,1000,10000]

It reuses (or builds) the repository of benchmarks/generate.py (mapping/v1 ->
mapping/v2 changes 100 entries, adds 50, removes 50), writes for each run count
a folder of canonry.run/v1 records pinned to mapping/v1, each reading --reads
random entries (ids and blob ids from v1's tree), and times `impact(...)
--to mapping@v2` over the folder in a fresh Python process (imports done
before the clock starts). Prints a Markdown table and writes
benchmarks/out/impact-results.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tooling"))
sys.path.insert(0, str(HERE))

TIMED = """
import sys, time
sys.path.insert(0, {tooling!r})
from canonry.runtime.impact import impact
from canonry.store.repo import Repository
start = time.perf_counter()
doc = impact(Repository({repo!r}), [{folder!r}], ["mapping@v2"])
print(time.perf_counter() - start, doc["summary"]["affected"], doc["summary"]["diffs"])
"""


def write_runs(repo: Path, folder: Path, runs: int, reads: int) -> None:
    from canonry.store.repo import Repository
    from canonry.store.versions import resolve_version

    r = Repository(repo)
    v1 = resolve_version(r, "mapping", "v1")
    tree = r.subtree(r.tree_of(v1.commit), "knowledge/mapping")
    blobs = {path.rsplit("/", 1)[-1][: -len(".yaml")]: item.oid for path, item in r.walk_tree(tree or "")}
    ids = sorted(blobs)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(runs):
        rng = random.Random(n)
        chosen = sorted(rng.sample(ids, min(reads, len(ids))))
        snapshot = {
            "mapping": {
                "tag": v1.tag,
                "version": 1,
                "tag_object": v1.target,
                "commit": v1.commit,
                "tree": tree,
                "reads": {"all": False, "entries": {i: blobs[i] for i in chosen}},
            }
        }
        record = {"format": "canonry.run/v1", "run": f"run-{n}", "libraries": snapshot}
        (folder / f"run-{n:05d}.json").write_text(json.dumps(record))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--runs", default="1,100,1000,10000")
    args = parser.parse_args()
    from generate import ensure

    repo = Path(ensure(HERE / "out" / f"repo-{args.entries}", args.entries).path)
    rows = []
    for runs in (int(x) for x in args.runs.split(",")):
        folder = HERE / "out" / f"impact-runs-{args.entries}-{runs}-{args.reads}"
        if not folder.is_dir():
            write_runs(repo, folder, runs, args.reads)
        script = TIMED.format(tooling=str(ROOT / "tooling"), repo=str(repo), folder=str(folder))
        wall = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        seconds, affected, diffs = out.stdout.split()
        rows.append(
            {
                "entries": args.entries,
                "runs": runs,
                "reads_per_run": args.reads,
                "impact_seconds": round(float(seconds), 3),
                "process_seconds": round(time.perf_counter() - wall, 3),
                "affected": int(affected),
                "diffs": int(diffs),
            }
        )
    print("| runs | reads/run | impact (s) | process (s) | affected | diffs |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['runs']} | {r['reads_per_run']} | {r['impact_seconds']} | {r['process_seconds']}"
            f" | {r['affected']} | {r['diffs']} |"
        )
    (HERE / "out" / "impact-results.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
