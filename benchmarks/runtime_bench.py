#!/usr/bin/env python3
"""Runtime figures: open a pinned version and read one entry, load a version, serve, export a bundle.

    PYTHONPATH=tooling python benchmarks/runtime_bench.py --entries 100000 [--layout flat|sharded]
    PYTHONPATH=tooling python benchmarks/runtime_bench.py --repo benchmarks/out/repo-100000

--entries reuses benchmarks/out/repo-N (repo-N-sharded for --layout sharded)
when benchmarks/generate.py built it with that size and layout, else generates
it there. The repository is then cloned (`git clone --no-local --no-checkout`)
into the work folder, so emptying its cache never touches the original. It
measures, with `mapping@v2` pinned in a lock file:

1. `canonry.open(repo, lock=..., fetch=False).library("mapping")[id]` in a
   fresh process, import excluded (target < 50 ms), and the same through a
   file:// mirror;
2. `.library("mapping").load()` of the whole pinned version in a fresh
   process with the caches warm (target < 1 s);
3. serve latency p50/p99: `canonry serve` on 127.0.0.1, a bounded load
   (--requests requests, at most --seconds seconds, 1 and --clients keep-alive
   clients) from a second process;
4. export bundle of the whole version written and verified with
   canonry.load_bundle, cold and warm (target < 5 s, written + verified).

Prints the details on stderr and a Markdown table (operation, figure, target,
met) on stdout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
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

OPEN_TARGET_MS, LOAD_TARGET_S, EXPORT_TARGET_S = 50.0, 1.0, 5.0
LIBRARY, PINNED = "mapping", "mapping@v2"

OPEN_SNIPPET = r"""
import sys, time, json
t0 = time.perf_counter()
import canonry
t1 = time.perf_counter()
canon = canonry.open(sys.argv[1], lock=sys.argv[2], fetch=False)
entry = canon.library("mapping")[sys.argv[3]]
t2 = time.perf_counter()
canon2 = canonry.open(sys.argv[1], lock=sys.argv[2], fetch=False)
entry2 = canon2.library("mapping")[sys.argv[4]]
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "open_and_read_ms": (t2 - t1) * 1000, "again_ms": (t3 - t2) * 1000}))
"""

LOAD_SNIPPET = r"""
import sys, time, json
import canonry
t0 = time.perf_counter()
entries = canonry.open(sys.argv[1], lock=sys.argv[2], fetch=False).library("mapping").load()
t1 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "entries": len(entries)}))
"""

EXPORT_SNIPPET = r"""
import sys, time, json
import canonry
from canonry.runtime.api import Canon
from canonry.store.repo import Repository
from canonry.runtime.bundle import write_bundle
t = time.perf_counter()
c = Canon(Repository(sys.argv[1]), "x")
with open(sys.argv[2], "w") as f:
    write_bundle(c, "mapping@v2", f)
t1 = time.perf_counter()
b = canonry.load_bundle(sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"write_s": t1 - t, "verify_s": t2 - t1, "entries": len(b)}))
"""

CLIENT_SNIPPET = r"""
import http.client, json, sys, threading, time
port, clients, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
paths = json.loads(sys.stdin.read())
deadline = time.monotonic() + seconds
lat, lock = [], threading.Lock()
def worker(mine):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for p in mine:
        if time.monotonic() > deadline:
            break
        t = time.perf_counter()
        c.request("GET", p)
        r = c.getresponse(); r.read()
        assert r.status == 200, (p, r.status)
        out.append(time.perf_counter() - t)
    with lock:
        lat.extend(out)
t0 = time.perf_counter()
threads = [threading.Thread(target=worker, args=(paths[i::clients],)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"latencies": lat, "wall": time.perf_counter() - t0}))
"""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def child(env: dict[str, str], snippet: str, *args: str, stdin: str | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", snippet, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(out.stdout)
    return answer


def source_repo(args: argparse.Namespace) -> Path:
    """The generated repository to measure: --repo, else benchmarks/out/repo-N[-sharded]."""
    if args.repo:
        return Path(args.repo)
    import generate

    suffix = "-sharded" if args.layout == "sharded" else ""
    out = ROOT / "benchmarks" / "out" / f"repo-{args.entries}{suffix}"
    found = generate.existing(out)
    if found is not None and (found.entries, found.layout, found.generator_version) == (
        args.entries,
        args.layout,
        generate.GENERATOR_VERSION,
    ):
        return out
    t = time.perf_counter()
    generate.ensure(out, args.entries, layout=args.layout, worktree=False)
    say(f"generated {out} in {time.perf_counter() - t:.1f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", help="a repository generate.py built (default: from --entries)")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--layout", choices=("flat", "sharded"), default="flat")
    parser.add_argument("--work", help="work folder (default: a new temporary folder, removed)")
    parser.add_argument("--requests", type=int, default=4000, help="requests per serve run (bound)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time bound per serve run")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    source = source_repo(args)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="canonry-rtbench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(args, source, work)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, source: Path, work: Path) -> None:
    repo = str(work / "repo")
    if Path(repo).exists():
        shutil.rmtree(repo)
    subprocess.run(["git", "clone", "-q", "--no-local", "--no-checkout", str(source), repo], check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tooling"), CANONRY_CACHE=str(work / "cache"))
    os.environ["CANONRY_CACHE"] = env["CANONRY_CACHE"]
    say(f"repository: {source} (cloned to {repo})")

    import canonry
    from canonry.runtime.pins import pin, write_lock
    from canonry.store.repo import Repository

    r = Repository(repo)
    lock_path = work / "canonry.lock"
    lock, _ = pin(r, [PINNED], None, str(Path(repo).resolve()))
    write_lock(lock_path, lock)
    ids = sorted(canonry.open(repo, allow_downgrade=True).library(LIBRARY, "v2").index)
    rng = random.Random(7)
    rows: list[tuple[str, str, str, str]] = []

    def row(op: str, figure: str, target: str = "-", met: bool | None = None) -> None:
        rows.append((op, figure, target, "-" if met is None else ("yes" if met else "**no**")))

    # 1. open a pinned version and read one entry by id, each in a fresh process (cold cache first)
    shutil.rmtree(Path(r.cache_dir()), ignore_errors=True)
    runs = [
        child(env, OPEN_SNIPPET, repo, str(lock_path), rng.choice(ids), rng.choice(ids)) for _ in range(7)
    ]
    opened = [x["open_and_read_ms"] for x in runs]
    med = statistics.median(opened)
    say(
        f"open(lock=) + library() + lib[id], fresh process: median {med:.1f} ms, max {max(opened):.1f} ms;"
        f" again in-process {statistics.median(x['again_ms'] for x in runs):.2f} ms;"
        f" import canonry {statistics.median(x['import_s'] for x in runs):.2f} s"
    )
    row(
        "open pinned version + read one entry by id, fresh process (import excluded), median of 7",
        f"{med:.1f} ms (max {max(opened):.1f})",
        f"< {OPEN_TARGET_MS:g} ms",
        med < OPEN_TARGET_MS,
    )
    row(
        "  `import canonry` (not in the figure above)",
        f"{statistics.median(x['import_s'] for x in runs):.2f} s",
    )

    bare = work / "served" / "k.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--mirror", repo, str(bare)], check=True)
    url = bare.as_uri()
    canonry.open(url)  # first fetch into the mirror cache
    from canonry.runtime.mirror import Mirror

    mlock = work / "mirror.lock"
    write_lock(mlock, pin(Mirror(url).open(fetch=False), [PINNED], None, url)[0])
    mir = [
        child(env, OPEN_SNIPPET, url, str(mlock), rng.choice(ids), rng.choice(ids))["open_and_read_ms"]
        for _ in range(5)
    ]
    row("the same through a file:// mirror (fetch=False), median of 5", f"{statistics.median(mir):.1f} ms")

    # 2. load the whole pinned version in a fresh process, caches warm
    child(env, LOAD_SNIPPET, repo, str(lock_path))  # fills the caches
    loads = [child(env, LOAD_SNIPPET, repo, str(lock_path)) for _ in range(3)]
    load_s = statistics.median(x["load_s"] for x in loads)
    say(f"load whole version warm: {[round(x['load_s'], 2) for x in loads]} s, {loads[0]['entries']} entries")
    row(
        f"load the whole pinned version ({loads[0]['entries']:,} entries), warm, fresh process, median of 3",
        f"{load_s:.2f} s",
        f"< {LOAD_TARGET_S:g} s",
        load_s < LOAD_TARGET_S,
    )

    # 3. export bundle written and verified, cold then warm
    bundle = work / "bundle.json"
    for label in ("cold", "warm"):
        if label == "cold":
            shutil.rmtree(Path(r.cache_dir()), ignore_errors=True)
        got = child(env, EXPORT_SNIPPET, repo, str(bundle))
        total = got["write_s"] + got["verify_s"]
        size = bundle.stat().st_size / 1e6
        say(f"export ({label}): write {got['write_s']:.2f} s, verify {got['verify_s']:.2f} s, {size:.0f} MB")
        row(
            f"export bundle {got['entries']:,} entries ({size:.0f} MB), {label}: written + verified",
            f"{total:.2f} s ({got['write_s']:.2f} + {got['verify_s']:.2f})",
            f"< {EXPORT_TARGET_S:g} s" if label == "warm" else "-",
            total < EXPORT_TARGET_S if label == "warm" else None,
        )

    # 4. serve latency under a bounded load from a second process
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "canonry", "serve", "--repo", repo, "--port", str(port), "--quiet"],
        env=env,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port)
        n = args.requests
        paths = (
            [f"/libraries/mapping/versions/v2/entries/{rng.choice(ids)}" for _ in range(n // 2)]
            + [f"/libraries/mapping/versions/latest/entries/{rng.choice(ids)}" for _ in range(n // 4)]
            + ["/libraries/mapping/versions/v2"] * (n // 8)
            + ["/libraries"] * (n - n // 2 - n // 4 - n // 8)
        )
        rng.shuffle(paths)
        for p in paths[:200]:  # warm-up: the first touches parse entries
            get(port, p)
        for clients in (1, args.clients):
            got = child(
                env, CLIENT_SNIPPET, str(port), str(clients), str(args.seconds), stdin=json.dumps(paths)
            )
            lat = sorted(got["latencies"])
            p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
            say(
                f"serve, {clients} client(s): {len(lat)} requests in {got['wall']:.1f} s, p50 {p50:.2f} ms,"
                f" p99 {p99:.2f} ms, max {lat[-1] * 1000:.1f} ms"
            )
            row(
                f"serve, {len(lat):,} requests, {clients} keep-alive client(s) in a second process",
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(lat) / got['wall']:.0f} req/s)",
            )
    finally:
        os.killpg(server.pid, 9)
        server.wait()

    print("| operation | figure | target | met |")
    print("|---|---|---|---|")
    for op, figure, target, met in rows:
        print(f"| {op} | {figure} | {target} | {met} |")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("canonry serve did not start within 60 s")


def get(port: int, path: str) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


if __name__ == "__main__":
    main()
