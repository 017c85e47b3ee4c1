"""Generate the outcomes of a simulated canary, through the real router, for docs/runtime-guide.md.

    python docs/examples/canary_outcomes.py --runs 6000 --share 0.25 --output outcomes.jsonl

Each run key is routed by `canon.router("mapping", control="stable",
candidate="canary", ...)`; the run then "passes" with a probability that
depends on the version it was given (a seeded random number per key, so the
same command always writes the same file): the control passes 86% of runs,
the candidate 90%. The metric is a score around the pass rate.

With `--runs-folder DIR`, it also writes a run record (canonry.run/v1) for a
few runs on the control that read a handful of mapping entries, for
`canonry impact`.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import canonry
from canonry.runtime.reads import forget_reads, run_record

PASS_RATE = {"control": 0.86, "candidate": 0.90}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=".")
    parser.add_argument("--runs", type=int, default=6000)
    parser.add_argument("--share", type=float, default=0.25)
    parser.add_argument("--output", default="outcomes.jsonl")
    parser.add_argument("--runs-folder", default=None)
    args = parser.parse_args()
    Path(args.output).unlink(missing_ok=True)
    canon = canonry.open(args.repo)
    router = canon.router(
        "mapping", control="stable", candidate="canary", share=args.share, mode="canary", outcomes=args.output
    )
    for i in range(args.runs):
        key = f"engagement-{i:05d}"
        arm = router.arm(key)
        router.library(key)  # the version the run would use
        rng = random.Random(key)
        ok = rng.random() < PASS_RATE[arm]
        router.record(key, ok=ok, metric=round(rng.gauss(PASS_RATE[arm], 0.05), 4))
    tags = router.tags
    print(f"wrote {args.runs} outcomes to {args.output} ({tags['control']} vs {tags['candidate']})")
    if args.runs_folder:
        folder = Path(args.runs_folder)
        folder.mkdir(parents=True, exist_ok=True)
        forget_reads(canon)
        lib = canon.library("mapping", channel="stable")
        ids = list(lib)
        for n in range(3):
            for entry_id in ids[n * 5 : n * 5 + 5]:
                lib[entry_id]
            record = run_record(canon, run=f"engagement-run-{n}")
            (folder / f"run-{n}.json").write_text(json.dumps(record, indent=2) + "\n")
            forget_reads(canon)
        print(f"wrote 3 run records to {folder} (on {lib.tag})")


if __name__ == "__main__":
    main()
