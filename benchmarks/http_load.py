#!/usr/bin/env python3
"""A bounded HTTP load on `canonry serve`: 64 concurrent keep-alive clients, 127.0.0.1 only.

    PYTHONPATH=tooling python benchmarks/http_load.py --entries 10000 --requests 20000 --clients 64

Serves a repository generate.py builds (mapping/v1 and mapping/v2; reused from
benchmarks/out/repo-N), then for each server in turn, (a) the server as this
work tree has it with --workers 1 and (b) with --workers 2, and (c) with
--old REV the server as commit REV had it (`git archive REV tooling`, run
from a temporary folder; nothing in the repository changes), sends
--requests requests (at most --seconds seconds) from --clients asyncio
clients in this process, each on its own keep-alive connection, over:

- one entry by id at v1 or v2 (40%), a version document (10%), a page of 50
  entries after a random id (15%), the v1 -> v2 diff (10%), /libraries (5%);
- UI pages (20%): a version's entry list, an entry with its history, the diff
  page (a server without a UI gets them as JSON requests instead).

Prints a Markdown table: server, requests, errors (any status but 200, any
broken connection), requests/s, p50, p99 (milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def start(tooling: Path, repo: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    args = [sys.executable, "-m", "canonry", "serve", "--repo", repo, "--port", "0", "--quiet"]
    if workers > 1:
        args += ["--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(tooling))
    err = open(log, "wb")  # noqa: SIM115 - the server's stderr for its lifetime
    proc = subprocess.Popen(args, stderr=err, stdout=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text(errors="replace"))
        if found:
            port = int(found[1])
            for _ in range(200):  # the old server prints its address before it listens
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/libraries", timeout=30).read()
                    return proc, port
                except OSError:
                    time.sleep(0.1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"the server did not start: {log.read_text(errors='replace')[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def paths(port: int, ui: bool, count: int, seed: int = 1) -> list[str]:
    both = []
    for v in ("v1", "v2"):
        url = f"http://127.0.0.1:{port}/libraries/mapping/versions/{v}/entries?limit=10000"
        with urllib.request.urlopen(url, timeout=120) as r:
            both.append({e["id"] for e in json.load(r)["entries"]})
    ids = sorted(both[0] & both[1])  # at both versions: every request is answered 200
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        x, i = rng.random(), rng.choice(ids)
        v = rng.choice(("v1", "v2"))
        if x < 0.40:
            out.append(f"/libraries/mapping/versions/{v}/entries/{i}")
        elif x < 0.50:
            out.append(f"/libraries/mapping/versions/{v}")
        elif x < 0.65:
            out.append(f"/libraries/mapping/versions/v2/entries?limit=50&after={i}")
        elif x < 0.75:
            out.append("/diff?from=mapping@v1&to=mapping@v2")
        elif x < 0.80:
            out.append("/libraries")
        elif not ui:
            out.append(f"/libraries/mapping/versions/v2/entries/{i}")
        elif x < 0.88:
            out.append(f"/ui/libraries/mapping/versions/v2?after={i}")
        elif x < 0.95:
            out.append(f"/ui/libraries/mapping/versions/v2/entries/{i}")
        else:
            out.append("/ui/diff?from=mapping@v1&to=mapping@v2")
    return out


async def client(
    port: int, queue: list[str], latencies: list[float], errors: list[str], until: float
) -> None:
    reader = writer = None
    while queue and time.monotonic() < until:
        path = queue.pop()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            status = int(head.split(b" ", 2)[1])
            length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)[1])  # type: ignore[index]
            await asyncio.wait_for(reader.readexactly(length), 60)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors.append(f"{status} {path}")
            if re.search(rb"(?i)\r\nconnection: *close", head):
                writer.close()
                reader = writer = None
        except (TimeoutError, OSError, asyncio.IncompleteReadError, TypeError, ValueError) as exc:
            errors.append(f"{type(exc).__name__} {path}")
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def load(
    port: int, work: list[str], clients: int, seconds: float
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    queue = list(reversed(work))
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(client(port, queue, latencies, errors, until) for _ in range(clients)))
    return latencies, errors, time.monotonic() - started


def row(label: str, latencies: list[float], errors: list[str], wall: float) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")
    p50 = statistics.median(ordered) if ordered else float("nan")
    rate = len(latencies) / wall if wall else 0.0
    return f"| {label} | {len(latencies):,} | {len(errors)} | {rate:,.0f} | {p50:.1f} | {p99:.1f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repo", help="a repository generate.py built (default: from --entries)")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=300.0, help="time bound per server")
    parser.add_argument("--old", default=None, help="also measure the server of this git revision")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure (comma-separated)")
    parser.add_argument("--no-ui", action="store_true", help="the API mix only (what the old server serves)")
    args = parser.parse_args()
    import generate

    work = Path(tempfile.mkdtemp(prefix="canonry-http-load-"))
    repo = args.repo or str(ROOT / "benchmarks" / "out" / f"repo-{args.entries}")
    runs: list[tuple[str, Path, int, bool]] = [
        (f"uvicorn, {w} worker{'s' if w > 1 else ''}", ROOT / "tooling", w, not args.no_ui)
        for w in (int(x) for x in args.workers.split(","))
    ]
    if args.old:
        # The old revision's code, and a repository its own generator builds (its schemas), which
        # both servers then serve: the old code may not read what today's generator writes.
        old = work / "old"
        old.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.old, "tooling", "benchmarks", "schemas"],
            capture_output=True,
        )
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        if not args.repo:
            repo = str(work / "repo")
            env = dict(os.environ, PYTHONPATH=str(old / "tooling"))
            generator = [
                sys.executable,
                str(old / "benchmarks" / "generate.py"),
                "--entries",
                str(args.entries),
            ]
            subprocess.run([*generator, "--out", repo, "--bare"], env=env, check=True, capture_output=True)
        runs.insert(0, (f"old ThreadingHTTPServer ({args.old[:12]})", old / "tooling", 1, False))
    elif not args.repo:
        generate.ensure(repo, args.entries, worktree=False)
    print("| server | requests | errors | requests/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, tooling, workers, ui in runs:
        proc, port = start(tooling, repo, workers, work / f"{workers}-{ui}.log")
        try:
            mix = paths(port, ui, args.requests)
            for path in mix[:200:20]:  # warm the caches a client would share
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120).read()
            latencies, errors, wall = asyncio.run(load(port, mix, args.clients, args.seconds))
        finally:
            stop(proc)
        print(row(label, latencies, errors, wall), flush=True)
        for e in sorted(set(errors))[:5]:
            sys.stderr.write(f"  {label}: {e}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
