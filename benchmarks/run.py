#!/usr/bin/env python3
"""Reproducible performance runs: load, validate and diff on generated repositories.

    python benchmarks/run.py [--sizes 10000,100000] [--repeat 3]

For each size it generates (or reuses) benchmarks/out/repo-<N> with
benchmarks/generate.py, then times each operation in a fresh Python process
(imports done before the clock starts). "Cold" means no in-process memory and
no on-disk cache: <git dir>/canonry/ is deleted before the process starts.
"Nothing changed" means a second run over the cache the first one left.
The operating system's page cache is not dropped: every row reads an already
read pack, so rows compare like with like.

It prints a Markdown table (median seconds of --repeat runs, the ratio each
target is about, whether the target is met) and writes every sample to
benchmarks/out/results.json. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOOLING = ROOT / "tooling"
DEFAULT_OUT = HERE / "out"
V1, V2 = "mapping/v1", "mapping/v2"
LIBRARY = "mapping"


def _env() -> dict[str, str]:
    """Workers import canonry from this checkout and see no user or system git config.

    Canonry runs as an installed package does: from compiled bytecode (pip writes it
    on install; `compile_bytecode` writes it for this checkout), whatever
    PYTHONDONTWRITEBYTECODE the shell has.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TOOLING), env.get("PYTHONPATH", "")) if p)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    env.pop("CANONRY_DEBUG", None)
    return env


# --- workers: each runs in its own process and prints one JSON object ---------------------


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (git status, for one)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _worker_baseline(repo_path: str, _args: argparse.Namespace) -> dict[str, Any]:
    """Read every blob of the library at mapping/v2 and parse it with plain libyaml."""
    import pygit2
    import yaml

    loader = yaml.CSafeLoader
    t0, c0 = time.perf_counter(), _cpu()
    repo = pygit2.Repository(repo_path)
    commit = repo.revparse_single(V2).peel(pygit2.Commit)
    tree = commit.tree / "knowledge" / LIBRARY
    blobs = [bytes(repo[e.id].data) for e in _walk(repo, tree)]
    t1 = time.perf_counter()
    # str input: PyYAML parses str about 1.5x faster than the same bytes (the stricter baseline)
    entries = [yaml.load(b.decode("utf-8"), Loader=loader) for b in blobs]
    t2 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "cpu_seconds": _cpu() - c0,
        "read_seconds": t1 - t0,
        "parse_seconds": t2 - t1,
        "entries": len(entries),
    }


def _walk(repo: Any, tree: Any) -> Any:
    import pygit2

    for item in tree:
        if item.filemode == pygit2.enums.FileMode.TREE:
            yield from _walk(repo, repo[item.id])
        else:
            yield item


def _worker_load(repo_path: str, args: argparse.Namespace) -> dict[str, Any]:
    """canonry.open(repo).library("mapping", "v2").load(); then again in the same process."""
    import canonry

    t0, c0 = time.perf_counter(), _cpu()
    entries = canonry.open(repo_path).library(LIBRARY, "v2").load()
    t1, c1 = time.perf_counter(), _cpu()
    out: dict[str, Any] = {"seconds": t1 - t0, "cpu_seconds": c1 - c0, "entries": len(entries)}
    if args.again:
        # a new Canon and Library: nothing memoized but the process's parse store
        t2, c2 = time.perf_counter(), _cpu()
        again = canonry.open(repo_path).library(LIBRARY, "v2").load()
        out["in_process_seconds"] = time.perf_counter() - t2
        out["in_process_cpu_seconds"] = _cpu() - c2
        assert len(again) == len(entries)
    return out


def _worker_validate(repo_path: str, args: argparse.Namespace) -> dict[str, Any]:
    """canonry.gates.engine.validate at mapping/v2 (or the work tree): yaml, schema, identity, checks."""
    from canonry.gates.engine import validate
    from canonry.store.repo import Repository

    t0, c0 = time.perf_counter(), _cpu()
    result = validate(Repository(repo_path), ref=None if args.worktree else V2)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    errors = [f for f in result.findings if f.severity == "error"]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "findings": len(result.findings),
        "errors": len(errors),
        "entries": result.metrics.get("entries"),
        "seconds_per_gate": result.metrics.get("seconds_per_gate"),
        "first_findings": [f.as_tuple() for f in result.findings[:3]],
    }


def _worker_diff(repo_path: str, _args: argparse.Namespace) -> dict[str, Any]:
    """canonry.compare.diff.diff(repo, "mapping/v1", "mapping/v2"), opening the repository included."""
    from canonry.compare.diff import diff
    from canonry.store.repo import Repository

    t0, c0 = time.perf_counter(), _cpu()
    doc = diff(Repository(repo_path), V1, V2)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    lib = doc["libraries"].get(LIBRARY, {})
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "added": len(lib.get("added_entry_ids", [])),
        "removed": len(lib.get("removed_entry_ids", [])),
        "changed": len({c["entry_id"] for c in lib.get("changed_entries", [])}),
    }


def _worker_naive(repo_path: str, _args: argparse.Namespace) -> dict[str, Any]:
    """Load both tags whole (every blob parsed with libyaml) and compare them with DeepDiff."""
    import pygit2
    import yaml
    from deepdiff import DeepDiff

    t0, c0 = time.perf_counter(), _cpu()
    repo = pygit2.Repository(repo_path)
    sides = []
    for ref in (V1, V2):
        tree = repo.revparse_single(ref).peel(pygit2.Commit).tree / "knowledge" / LIBRARY
        blobs = (bytes(repo[e.id].data).decode("utf-8") for e in _walk(repo, tree))
        docs = (yaml.load(b, Loader=yaml.CSafeLoader) for b in blobs)
        sides.append({d["id"]: d for d in docs})
    t1 = time.perf_counter()
    delta = DeepDiff(sides[0], sides[1])
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    changed = {
        str(path).split("']")[0].removeprefix("root['")
        for kind in ("values_changed", "type_changes", "iterable_item_added", "iterable_item_removed")
        for path in delta.get(kind, {})
    }
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "load_seconds": t1 - t0,
        "deepdiff_seconds": seconds - (t1 - t0),
        "added": len(delta.get("dictionary_item_added", [])),
        "removed": len(delta.get("dictionary_item_removed", [])),
        "changed": len(changed),
    }


def _worker_import(_repo_path: str, _args: argparse.Namespace) -> dict[str, Any]:
    """Nothing: the parent times this process end to end (Python start + import canonry.cli)."""
    import canonry.cli.main  # noqa: F401

    return {"seconds": 0.0}


WORKERS: dict[str, Callable[[str, argparse.Namespace], dict[str, Any]]] = {
    "baseline": _worker_baseline,
    "load": _worker_load,
    "validate": _worker_validate,
    "diff": _worker_diff,
    "naive": _worker_naive,
    "import": _worker_import,
}


def worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py --worker")
    parser.add_argument("op", choices=sorted(WORKERS))
    parser.add_argument("repo")
    parser.add_argument("--again", action="store_true")
    parser.add_argument("--worktree", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(WORKERS[args.op](args.repo, args)))
    return 0


# --- the parent: schedule processes, collect samples, judge targets -----------------------


def git_dir_of(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").is_dir() else repo


def drop_cache(repo: Path) -> None:
    """Forget Canonry's on-disk cache (parsed entries and check results)."""
    shutil.rmtree(git_dir_of(repo) / "canonry", ignore_errors=True)


def run_worker(op: str, repo: Path, *flags: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", op, str(repo), *flags]
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"worker {op} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    sample: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    sample["process_seconds"] = wall
    sample["process_cpu_seconds"] = cpu
    sample["load_average"] = load
    return sample


def run_command(cmd: list[str]) -> dict[str, Any]:
    """Time a whole command (process start to exit), as a user or a script sees it."""
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, env=_env(), check=False)
    seconds, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr.decode()[-3000:]}")
    out = proc.stdout.decode(errors="replace")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "stdout_bytes": len(proc.stdout),
        "load_average": load,
        "stdout": out if len(out) < 4000 else "",
    }


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def compile_bytecode() -> None:
    """Write the bytecode of this checkout's Canonry, as installing it does (not timed)."""
    import compileall

    compileall.compile_dir(str(TOOLING / "canonry"), quiet=1)


def canonry_cli() -> list[str]:
    """The `canonry` command: the installed script, else this checkout's entry point."""
    found = shutil.which("canonry")
    if found and os.environ.get("CANONRY_BENCH_USE_CHECKOUT") != "1":
        return [found]
    return [sys.executable, "-c", "import sys; from canonry.cli.main import main; sys.exit(main())"]


@dataclass
class Row:
    key: str
    operation: str
    size: int
    samples: list[dict[str, Any]] = field(default_factory=list)
    ratio: float | None = None
    ratio_text: str = ""
    target: str = ""
    met: bool | None = None

    @property
    def median(self) -> float:
        return statistics.median(s["seconds"] for s in self.samples)

    @property
    def cpu_median(self) -> float | None:
        cpu = [s["cpu_seconds"] for s in self.samples if "cpu_seconds" in s]
        return statistics.median(cpu) if cpu else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "operation": self.operation,
            "size": self.size,
            "median_seconds": round(self.median, 4),
            "median_cpu_seconds": None if self.cpu_median is None else round(self.cpu_median, 4),
            "runs": len(self.samples),
            "ratio": None if self.ratio is None else round(self.ratio, 2),
            "ratio_text": self.ratio_text,
            "target": self.target,
            "target_met": self.met,
            "samples": self.samples,
        }


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


SECTIONS = ("load", "validate", "worktree", "diff", "naive", "startup", "ci")


def bench_size(
    size: int, repeat: int, slow_repeat: int, out: Path, layout: str, sections: tuple[str, ...] = SECTIONS
) -> list[Row]:
    sys.path.insert(0, str(HERE))
    import generate  # benchmarks/generate.py

    repo_path = out / (f"repo-{size}" if layout == "flat" else f"repo-{size}-{layout}")
    progress(f"[{size}] repository {repo_path} ...")
    info = generate.ensure(repo_path, size, layout=layout, worktree=True)
    repo = Path(info.path)
    rows: dict[str, Row] = {}

    def row(key: str, operation: str) -> Row:
        rows[key] = Row(key, operation, size)
        return rows[key]

    def sample(target: Row, op: str, *flags: str, cold: bool) -> dict[str, Any]:
        if cold:
            drop_cache(repo)
        got = run_worker(op, repo, *flags)
        target.samples.append(got)
        return got

    if "load" in sections:
        progress(f"[{size}] baseline: read blobs + libyaml")
        base = row("baseline", "baseline: read every blob at mapping/v2, parse with yaml.CSafeLoader")
        for _ in range(repeat):
            sample(base, "baseline", cold=True)
        progress(f"[{size}] load cold / warm")
        cold = row("load_cold", 'load cold: canonry.open(repo).library("mapping", "v2").load()')
        for _ in range(repeat):
            sample(cold, "load", cold=True)
        warm = row("load_warm", "load warm: new process, on-disk cache present")
        warm_mem = row(
            "load_warm_in_process", "load warm in-process: another canonry.open() in the same process"
        )
        for _ in range(repeat):
            got = sample(warm, "load", "--again", cold=False)
            warm_mem.samples.append(
                {
                    "seconds": got["in_process_seconds"],
                    "cpu_seconds": got["in_process_cpu_seconds"],
                    "load_average": got["load_average"],
                }
            )

    if "validate" in sections:
        progress(f"[{size}] validate --ref mapping/v2 cold / nothing changed")
        vcold = row("validate_ref_cold", "validate --ref mapping/v2, cold (validate(repo, ref=...))")
        for _ in range(slow_repeat):
            sample(vcold, "validate", cold=True)
        vwarm = row("validate_ref_warm", "validate --ref mapping/v2, nothing changed (second run)")
        for _ in range(repeat):
            sample(vwarm, "validate", cold=False)
        vcli = row("validate_ref_cli", "`canonry validate --ref mapping/v2`, nothing changed, whole command")
        for _ in range(repeat):
            vcli.samples.append(run_command([*canonry_cli(), "validate", "--repo", str(repo), "--ref", V2]))

    if "worktree" in sections:
        progress(f"[{size}] validate work tree cold / nothing changed")
        wcold = row("validate_worktree_cold", "validate the work tree (main checked out), cold")
        for _ in range(slow_repeat):
            sample(wcold, "validate", "--worktree", cold=True)
        wwarm = row("validate_worktree_warm", "validate the work tree, nothing changed (second run)")
        for _ in range(repeat):
            sample(wwarm, "validate", "--worktree", cold=False)

    if "diff" in sections or "naive" in sections:
        progress(f"[{size}] diff mapping/v1 mapping/v2")
        git = row("git_diff", "`git diff --name-status mapping/v1 mapping/v2`, whole command")
        for _ in range(repeat):
            git.samples.append(run_command(["git", "-C", str(repo), "diff", "--name-status", V1, V2]))
        dif = row("diff", "diff: canonry.compare.diff.diff(repo, mapping/v1, mapping/v2), cold")
        for _ in range(repeat):
            sample(dif, "diff", cold=True)
        dcli = row("diff_cli", "`canonry diff mapping/v1 mapping/v2 --format json`, cold, whole command")
        for _ in range(repeat):
            drop_cache(repo)
            cmd = [*canonry_cli(), "diff", "--repo", str(repo), V1, V2, "--format", "json"]
            dcli.samples.append(run_command(cmd))

    if "naive" in sections:
        progress(f"[{size}] naive diff: load both tags + DeepDiff ({slow_repeat} run(s))")
        naive = row("naive_diff", "naive diff: load both tags whole (libyaml) + deepdiff.DeepDiff")
        for _ in range(slow_repeat):
            sample(naive, "naive", cold=True)

    if "startup" in sections:
        startup = row("startup", "python + import canonry.cli (the floor of every CLI row)")
        for _ in range(repeat):
            got = run_worker("import", repo)
            startup.samples.append(
                {
                    "seconds": got["process_seconds"],
                    "cpu_seconds": got["process_cpu_seconds"],
                    "load_average": got["load_average"],
                }
            )

    if "ci" in sections:  # a pull-request check in a fresh clone, with peers (benchmarks/coldci.py)
        import coldci

        coldci.run_section(repo, info, size, repeat, slow_repeat, row, run_command, canonry_cli(), progress)
        coldci.judge(rows)

    judge(rows)
    check_correctness(rows, info)
    return list(rows.values())


def judge(rows: dict[str, Row]) -> None:
    """Ratios and targets (the targets are stated for 100,000 entries on 2 cores)."""

    def median(key: str) -> float | None:
        return rows[key].median if key in rows else None

    def ratio(key: str, value: float, text: str, target: str = "", met: bool | None = None) -> None:
        r = rows[key]
        r.ratio, r.ratio_text, r.target, r.met = value, text, target, met

    base, cold, warm, mem = (
        median(k) for k in ("baseline", "load_cold", "load_warm", "load_warm_in_process")
    )
    if base is not None and cold is not None and warm is not None and mem is not None:
        rows["baseline"].ratio_text = "1.00x (the baseline)"
        ratio(
            "load_cold", cold / base, f"{cold / base:.2f}x baseline", "<= 1.5x baseline", cold / base <= 1.5
        )
        ratio(
            "load_warm", cold / warm, f"cold/warm {cold / warm:.1f}x", "cold/warm >= 10x", cold / warm >= 10
        )
        ratio("load_warm_in_process", cold / mem, f"cold/warm {cold / mem:.1f}x")
    for key in ("validate_ref_warm", "validate_worktree_warm", "validate_ref_cli"):
        m = median(key)
        if m is not None:
            ratio(key, m, f"{m:.3f} s", "< 1 s", m < 1.0)
    for key in ("validate_ref_cold", "validate_worktree_cold"):
        m = median(key)
        if m is not None and base is not None:
            ratio(key, m / base, f"{m / base:.2f}x baseline")
    git, dif, dcli, naive = (median(k) for k in ("git_diff", "diff", "diff_cli", "naive_diff"))
    if git is not None and dif is not None and dcli is not None:
        rows["git_diff"].ratio_text = "1.00x (the diff baseline)"
        ratio("diff", dif / git, f"{dif / git:.1f}x git diff", "<= 5x git diff", dif / git <= 5)
        ratio("diff_cli", dcli / git, f"{dcli / git:.1f}x git diff")
    if naive is not None and dif is not None:
        ratio(
            "naive_diff",
            naive / dif,
            f"naive/diff {naive / dif:.0f}x",
            "naive/diff >= 50x",
            naive / dif >= 50,
        )


def check_correctness(rows: dict[str, Row], info: Any) -> None:
    """The timed operations must have done the work: right counts, no findings."""
    expected = (len(info.added_ids), len(info.removed_ids), len(info.changed_ids))
    for key in ("diff", "naive_diff"):
        for s in rows[key].samples if key in rows else []:
            got = (s["added"], s["removed"], s["changed"])
            if got != expected:
                raise SystemExit(f"{key}: added/removed/changed {got}, expected {expected}")
    entries = info.entries  # v2 has as many entries as v1 (50 added, 50 removed)
    for key in ("baseline", "load_cold", "load_warm"):
        for s in rows[key].samples if key in rows else []:
            if s["entries"] != entries:
                raise SystemExit(f"{key}: {s['entries']} entries, expected {entries}")
    for key in ("validate_ref_cold", "validate_ref_warm", "validate_worktree_cold", "validate_worktree_warm"):
        for s in rows[key].samples if key in rows else []:
            if s["findings"]:
                raise SystemExit(f"{key}: {s['findings']} findings on valid data: {s['first_findings']}")


def markdown(rows: list[Row]) -> str:
    lines = [
        "| operation | entries | median s | CPU s | runs | ratio | target | met |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        cpu = "" if r.cpu_median is None else f"{r.cpu_median:.3f}"
        lines.append(
            f"| {r.operation} | {r.size:,} | {r.median:.3f} | {cpu} | {len(r.samples)} | {r.ratio_text}"
            f" | {r.target} | {met} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import pygit2
    import yaml

    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pygit2": pygit2.__version__,
        "libgit2": pygit2.LIBGIT2_VERSION,
        "pyyaml": yaml.__version__,
        "libyaml": yaml.__with_libyaml__,
        "git": git,
        "load_average": list(os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        return worker_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated entry counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per operation (the median is reported)")
    parser.add_argument(
        "--slow-repeat",
        type=int,
        default=None,
        help="runs of the slow rows (cold validate, naive deepdiff diff);"
        " default: --repeat below 50,000 entries, else 1",
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where repositories and results.json go")
    parser.add_argument("--layout", choices=("flat", "sharded"), default="flat")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown} (known: {', '.join(SECTIONS)})")
    compile_bytecode()
    started = time.perf_counter()
    before = machine()
    rows: list[Row] = []
    for size in sizes:
        slow_repeat = args.slow_repeat or (args.repeat if size < 50_000 else 1)
        rows.extend(bench_size(size, args.repeat, slow_repeat, out, args.layout, sections))
    elapsed = time.perf_counter() - started
    table = markdown(rows)
    print(table)
    busiest = max((s.get("load_average", 0.0) for r in rows for s in r.samples), default=0.0)
    if busiest > (os.cpu_count() or 1):
        progress(
            f"warning: the load average reached {busiest:.1f} on {os.cpu_count()} cores during the run:"
            " other processes competed for the CPU, so the figures are slower than on a quiet machine"
        )
    results = {
        "format": "canonry.benchmarks/v1",
        "sizes": sizes,
        "repeat": args.repeat,
        "layout": args.layout,
        "sections": list(sections),
        "machine": before,
        "load_average_after": list(os.getloadavg()),
        "max_load_average": round(busiest, 2),
        "total_seconds": round(elapsed, 1),
        "rows": [r.to_dict() for r in rows],
        "markdown": table,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    progress(f"done in {elapsed:.0f} s; samples in {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
