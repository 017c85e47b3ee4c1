#!/usr/bin/env python3
"""A million entries: diff, one entry by id, and a fresh-clone gate with the shipped index.

    python benchmarks/million.py [--entries 1000000] [--out benchmarks/out]

Generates (or reuses) a bare, sharded repository of N mapping entries with
benchmarks/generate.py (git fast-import; about 1 GB of pack at 1,000,000), then
times whole processes and records each one's peak memory (maximum resident set
size, from wait4):

- `git diff --name-status mapping/v1 mapping/v2` and `canonry diff` of the same
  200 changes (100 changed, 50 added, 50 removed), cold;
- reading one entry by id in a fresh process (`canonry.open(repo).library(
  "mapping", "v2")[id]`, the import included, and the same with the import of
  `canonry` and its lazily loaded runtime excluded);
- `canonry index build mapping/v1`, then a clone served by `git daemon`, the
  index refs fetched, and `canonry gate --base mapping/v1 --head mapping/v2`
  (150 entries added or changed) cold in that clone.

Prints a Markdown table and writes benchmarks/out/million.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import coldci  # noqa: E402
import generate  # noqa: E402
from run import _env, canonry_cli, compile_bytecode  # noqa: E402

V1, V2 = "mapping/v1", "mapping/v2"


def timed(cmd: list[str], cwd: Path | None = None) -> dict[str, Any]:
    """Run a whole command: wall seconds, the load average when it started, the end of its output."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return {"seconds": seconds, "load_average": load, "stdout": proc.stdout.decode(errors="replace")[-400:]}


def measure(cmd: list[str], cwd: Path | None = None) -> dict[str, Any]:
    """timed(), with CPU seconds and peak resident memory from GNU time when it is installed."""
    gnu = "/usr/bin/time"
    if Path(gnu).exists():
        fd, name = tempfile.mkstemp()
        os.close(fd)
        try:
            got = timed([gnu, "-o", name, "-f", "%M %U %S", *cmd], cwd)
            peak_kb, user, system = Path(name).read_text().split()[-3:]
        finally:
            os.unlink(name)
        got.update(peak_mb=round(int(peak_kb) / 1024), cpu_seconds=float(user) + float(system))
        return got
    return timed(cmd, cwd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--out", default=str(HERE / "out"))
    parser.add_argument("--skip-gate", action="store_true", help="leave out the index build and the gate")
    args = parser.parse_args(argv)
    out = Path(args.out)
    repo = out / f"repo-{args.entries}-sharded"
    started = time.perf_counter()
    info = generate.ensure(repo, args.entries, layout="sharded", worktree=False)
    compile_bytecode()
    canonry = canonry_cli()
    rows: list[tuple[str, dict[str, Any]]] = []

    def row(name: str, got: dict[str, Any]) -> None:
        rows.append((name, got))
        print(f"{name}: {got['seconds']:.3f} s, {got.get('peak_mb', '?')} MB", file=sys.stderr, flush=True)

    gitdiff = ["git", "-C", str(repo), "diff", "--name-status", V1, V2]
    row("git diff --name-status (200 changes)", measure(gitdiff))
    shutil.rmtree(repo / "canonry", ignore_errors=True)
    row(
        "canonry diff --format json (200 changes), cold",
        measure([*canonry, "diff", "--repo", str(repo), V1, V2, "--format", "json"]),
    )
    entry = info.changed_ids[0]
    # a WORKSPACE_ONLY entry exists only for its workspace's readers: open as that workspace
    path = generate.mapping_spec("sharded")[0].entry_path(entry)
    text = subprocess.run(
        ["git", "-C", str(repo), "show", f"{V2}:{path}"], capture_output=True, text=True, check=True
    ).stdout
    workspace = next(
        (line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("workspace_id: ")), None
    )
    workspace = None if workspace in (None, "null") else workspace.strip("'\"")
    read = (
        "import time, sys; t = time.perf_counter(); import canonry; canonry.open; t1 = time.perf_counter();"
        f" e = canonry.open({str(repo)!r}, workspace={workspace!r}).library('mapping', 'v2')[{entry!r}];"
        " t2 = time.perf_counter(); assert e['id'];"
        " print(f'import {t1 - t:.4f} read {t2 - t1:.4f}')"
    )
    for _ in range(3):
        got = measure([sys.executable, "-c", read])
        got["import_excluded_seconds"] = float(got["stdout"].split()[-1])
        row("read one entry by id, fresh process (import included)", got)
    if not args.skip_gate:
        row("canonry index build mapping/v1", measure([*canonry, "index", "build", "--repo", str(repo), V1]))
        daemon, url = coldci._daemon(repo.parent)
        scratch = Path(tempfile.mkdtemp(prefix="canonry-1m-"))
        try:
            clone = scratch / "runner"
            cloning = ["git", "clone", "-q", "--no-checkout", f"{url}/{repo.name}", str(clone)]
            row("git clone --no-checkout from git daemon", measure(cloning))
            row(
                "fetch the index refs from git daemon",
                measure(["git", "-C", str(clone), "fetch", "-q", "origin", "+refs/canonry/*:refs/canonry/*"]),
            )
            gate = [*canonry, "gate", "--repo", str(clone), "--base", V1, "--head", V2, "--format", "json"]
            row("canonry gate (150 entries), fresh clone, index fetched, cold", measure(gate))
            row("the same gate again (warm)", measure(gate))
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=10)
            shutil.rmtree(scratch, ignore_errors=True)
    lines = ["| operation | seconds | CPU s | peak MB | load |", "|---|---:|---:|---:|---:|"]
    for name, got in rows:
        extra = ""
        if "import_excluded_seconds" in got:
            extra = f" (import excluded: {got['import_excluded_seconds'] * 1000:.0f} ms)"
        cpu, peak = got.get("cpu_seconds", 0), got.get("peak_mb", "")
        lines.append(
            f"| {name}{extra} | {got['seconds']:.3f} | {cpu:.2f} | {peak} | {got['load_average']:.1f} |"
        )
    print("\n".join(lines))
    result = {
        "format": "canonry.benchmarks.million/v1",
        "entries": args.entries,
        "generation_seconds": info.seconds,
        "generation_phases": info.phases,
        "total_seconds": round(time.perf_counter() - started, 1),
        "rows": [{"operation": n, **g} for n, g in rows],
        "markdown": "\n".join(lines),
    }
    (out / "million.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
