"""The cold-CI rows of run.py (section `ci`): a pull-request check in a fresh clone.

    python benchmarks/run.py --sizes 100000 --only ci

On the generated repository it builds the shipped index of mapping/v1's library
trees (`canonry index build`), serves the repository with `git daemon` on
127.0.0.1, clones it as a runner would (no checkout, no Canonry cache), fetches
the index refs (timed: the index's fetch time), then times whole commands side
by side with their peers: `canonry gate` of the 150-entry v1 -> v2 change cold
and warm (and cold without the index), `git diff --name-status`, check-jsonschema
on the 150 changed files, the gate again with this project's holdout set added
to both sides (cold and warm), `canonry validate` of the whole work tree cold,
check-jsonschema on a sample of the same files (extrapolated to all of them:
the row says so), `canonry --help` and `canonry diff ... --format json`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

V1, V2 = "mapping/v1", "mapping/v2"
CHECK_JSONSCHEMA_SAMPLE = 2_000  # files check-jsonschema validates for the whole-tree estimate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args[:3])} failed: {proc.stderr.strip()}")
    return proc.stdout


def _daemon(base: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={base}",
            str(base),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
        except OSError:
            time.sleep(0.05)
    return proc, f"git://127.0.0.1:{port}"


def _check_jsonschema() -> list[str] | None:
    found = shutil.which("check-jsonschema")
    return [found] if found else None


def _with_holdout(clone: Path) -> tuple[str, str]:
    """Commits on v1 and v2 that add this project's mapping holdout set (the mapping tree unchanged)."""
    holdout = Path(__file__).resolve().parent.parent / "knowledge" / "holdout" / "mapping.yaml"
    blob = _git("-C", str(clone), "hash-object", "-w", str(holdout)).strip()
    made: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        for tag in (V1, V2):
            git = ["git", "-C", str(clone)]
            for args in (
                ["read-tree", f"{tag}^{{commit}}"],
                ["update-index", "--add", "--cacheinfo", f"100644,{blob},knowledge/holdout/mapping.yaml"],
            ):
                subprocess.run([*git, *args], env=env, check=True, capture_output=True)
            tree = subprocess.run([*git, "write-tree"], env=env, check=True, capture_output=True, text=True)
            parents = ["-p", f"{tag}^{{commit}}", *(["-p", made[-1]] if made else [])]
            commit = _git(
                "-C", str(clone), "commit-tree", tree.stdout.strip(), *parents, "-m", f"{tag} + holdout"
            )
            made.append(commit.strip())
    return made[0], made[1]


def run_section(
    repo: Path,
    info: Any,
    size: int,
    repeat: int,
    slow_repeat: int,
    row: Callable[[str, str], Any],
    run_command: Callable[[list[str]], dict[str, Any]],
    canonry: list[str],
    progress: Callable[[str], None],
) -> None:
    """Add the cold-CI rows (see the module's docstring)."""
    git_dir = repo / ".git"
    progress(f"[{size}] ci: canonry index build {V1}")
    build = row("index_build", f"`canonry index build {V1}` (every library tree at v1), whole command")
    build.samples.append(run_command([*canonry, "index", "build", "--repo", str(repo), V1]))
    tree = _git("-C", str(repo), "rev-parse", f"{V1}:knowledge/mapping").strip()
    blob = _git("-C", str(repo), "rev-parse", f"refs/canonry/index/{tree}:canonry-index").strip()
    index_bytes = int(_git("-C", str(repo), "cat-file", "-s", blob).strip())

    daemon, url = _daemon(repo.parent)
    scratch = Path(tempfile.mkdtemp(prefix="canonry-ci-"))
    try:
        clone = scratch / "runner"
        progress(f"[{size}] ci: fresh clone from git daemon")
        _git("clone", "-q", "--no-checkout", f"{url}/{repo.name}", str(clone))
        what = f"fetch the index refs from a git daemon remote ({index_bytes / 1e6:.1f} MB object)"
        fetch = row("index_fetch", what)
        for i in range(repeat):
            if i:
                refs = _git("-C", str(clone), "for-each-ref", "--format=%(refname)", "refs/canonry/")
                for name in refs.split():
                    _git("-C", str(clone), "update-ref", "-d", name)
                _git("-C", str(clone), "-c", "gc.auto=0", "prune", "--expire=now")
            refspec = "+refs/canonry/*:refs/canonry/*"
            fetch.samples.append(run_command(["git", "-C", str(clone), "fetch", "-q", "origin", refspec]))
        fetch.samples[-1]["index_bytes"] = index_bytes

        def gate_of(base: str, head: str) -> list[str]:
            return [
                *canonry,
                "gate",
                "--repo",
                str(clone),
                "--base",
                base,
                "--head",
                head,
                "--format",
                "json",
            ]

        def cold_and_warm(
            cmd: list[str], cold_key: str, cold_what: str, warm_key: str, warm_what: str
        ) -> None:
            """Each run after removing the local cache (cold), then again (warm)."""
            cold, warm = row(cold_key, cold_what), row(warm_key, warm_what)
            for _ in range(repeat):
                shutil.rmtree(clone / ".git" / "canonry", ignore_errors=True)
                cold.samples.append(run_command(cmd))
                warm.samples.append(run_command(cmd))

        gate = gate_of(V1, V2)
        gitdiff = row("ci_git_diff", f"`git diff --name-status {V1} {V2}` in the clone, whole command")
        for _ in range(repeat):
            gitdiff.samples.append(run_command(["git", "-C", str(clone), "diff", "--name-status", V1, V2]))
        progress(f"[{size}] ci: canonry gate, fresh clone with the index, cold / warm")
        what = "`canonry gate` of the 150-entry change, fresh clone, index fetched, cold"
        cold_and_warm(gate, "gate_fresh_clone", what, "gate_warm", "the same gate again (cache warm)")
        progress(f"[{size}] ci: canonry gate with a holdout set, fresh clone with the index, cold / warm")
        what = "the same change with this project's holdout set (712 cases) on both sides, cold"
        again = "the same gate with the holdout set again (cache warm)"
        cold_and_warm(gate_of(*_with_holdout(clone)), "gate_holdout_cold", what, "gate_holdout_warm", again)
        progress(f"[{size}] ci: canonry gate without the index ({slow_repeat} run(s))")
        noindex = row("gate_no_index", "`canonry gate`, fresh clone without the index, cold")
        hidden = scratch / "refs-canonry"
        shutil.move(str(clone / ".git" / "refs" / "canonry"), hidden)
        try:
            for _ in range(slow_repeat):
                shutil.rmtree(clone / ".git" / "canonry", ignore_errors=True)
                noindex.samples.append(run_command(gate))
        finally:
            shutil.move(str(hidden), clone / ".git" / "refs" / "canonry")

        changed = sorted(info.changed_ids + info.added_ids)
        files = [str(repo / "knowledge" / "mapping" / f"{i}.yaml") for i in changed]
        peer = _check_jsonschema()
        schema = repo / "schemas" / "mapping.schema.json"
        cj = [*(peer or []), "--base-uri", schema.as_uri(), "--schemafile", str(schema)]
        if peer:
            progress(f"[{size}] ci: check-jsonschema on the {len(files)} changed files")
            r = row("cj_changed", f"check-jsonschema on the {len(files)} changed files, whole command")
            for _ in range(repeat):
                r.samples.append(run_command([*cj, *files]))
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)

    progress(f"[{size}] ci: canonry validate, whole work tree, cold ({slow_repeat} run(s))")
    vcold = row("validate_cli_cold", "`canonry validate` of the whole work tree, cold, whole command")
    for _ in range(slow_repeat):
        shutil.rmtree(git_dir / "canonry", ignore_errors=True)
        vcold.samples.append(run_command([*canonry, "validate", "--repo", str(repo)]))
    peer = _check_jsonschema()
    if peer:
        every = sorted((repo / "knowledge" / "mapping").iterdir())
        sample = random.Random(1).sample(every, min(CHECK_JSONSCHEMA_SAMPLE, len(every)))
        scale = len(every) / len(sample)
        progress(f"[{size}] ci: check-jsonschema on {len(sample)} of {len(every)} files (extrapolated)")
        r = row(
            "cj_all",
            f"check-jsonschema on all {len(every):,} files: {len(sample):,} measured,"
            f" x{scale:.0f} (extrapolated)",
        )
        schema = repo / "schemas" / "mapping.schema.json"
        cmd = [*peer, "--base-uri", schema.as_uri(), "--schemafile", str(schema), *map(str, sample)]
        got = run_command(cmd)
        got["measured_seconds"], got["measured_files"] = got["seconds"], len(sample)
        got["seconds"] *= scale
        got["cpu_seconds"] *= scale
        r.samples.append(got)

    progress(f"[{size}] ci: jsonschema, fastjsonschema, jsonschema-rs per entry (benchmarks/validators.py)")
    here = Path(__file__).resolve().parent
    got = run_command([sys.executable, str(here / "validators.py"), str(repo)])
    engines = json.loads(got["stdout"])
    for name, micros in engines["us_per_entry"].items():
        compile_ms = engines["compile_ms"].get(name, 0.0)
        r = row(
            f"validator_{name}",
            f"{name}: validate {size:,} valid entries ({micros:.1f} µs each,"
            f" compiled in {compile_ms:.1f} ms)",
        )
        r.samples.append({"seconds": micros * size / 1e6, "load_average": got["load_average"], **engines})

    progress(f"[{size}] ci: canonry --help, canonry diff")
    helprow = row("help_cli", "`canonry --help`, whole command")
    for _ in range(repeat):
        helprow.samples.append(run_command([*canonry, "--help"]))
    # the diff's peer runs on the same repository (the same loose or packed trees), interleaved with it
    gitsame = row(
        "ci_git_diff_same", f"`git diff --name-status {V1} {V2}` in the same repository as the diff"
    )
    dcli = row("ci_diff_cli", f"`canonry diff {V1} {V2} --format json` (300 changes), cold, whole command")
    for _ in range(repeat):
        gitsame.samples.append(run_command(["git", "-C", str(repo), "diff", "--name-status", V1, V2]))
        shutil.rmtree(git_dir / "canonry", ignore_errors=True)
        dcli.samples.append(run_command([*canonry, "diff", "--repo", str(repo), V1, V2, "--format", "json"]))


def judge(rows: dict[str, Any]) -> None:
    """Ratios and targets of the cold-CI rows (stated for 100,000 entries, 2 cores)."""

    def m(key: str) -> float | None:
        return rows[key].median if key in rows else None

    def put(
        key: str, text: str, target: str = "", met: bool | None = None, value: float | None = None
    ) -> None:
        r = rows[key]
        r.ratio, r.ratio_text, r.target, r.met = value, text, target, met

    git = m("ci_git_diff")
    if git is not None:
        put("ci_git_diff", "1.00x (the baseline)")
    cold, warm, noindex = m("gate_fresh_clone"), m("gate_warm"), m("gate_no_index")
    if cold is not None and git is not None:
        ok = cold <= 3 and cold / git <= 60
        put("gate_fresh_clone", f"{cold / git:.0f}x git diff", "<= 3 s and <= 60x git diff", ok, cold / git)
    if warm is not None:
        put("gate_warm", f"{warm:.2f} s", "<= 1 s", warm <= 1, warm)
    hcold = m("gate_holdout_cold")
    if hcold is not None and cold is not None:
        put("gate_holdout_cold", f"{hcold / cold:.1f}x the gate without a holdout set", value=hcold / cold)
    if noindex is not None and cold is not None:
        put("gate_no_index", f"{noindex / cold:.1f}x the gate with the index", value=noindex / cold)
    v, cj = m("validate_cli_cold"), m("cj_all")
    if v is not None:
        ok = v <= 8 and (cj is None or cj / v >= 50)
        text = f"{cj / v:.0f}x faster than check-jsonschema" if cj else f"{v:.2f} s"
        put("validate_cli_cold", text, "<= 8 s, >= 50x check-jsonschema", ok)
    h = m("help_cli")
    if h is not None:
        put("help_cli", f"{h:.3f} s", "<= 0.15 s", h <= 0.15, h)
    d, same = m("ci_diff_cli"), m("ci_git_diff_same")
    if d is not None and same is not None:
        put("ci_git_diff_same", "1.00x (the diff's baseline)")
        put("ci_diff_cli", f"{d / same:.1f}x git diff", "<= 5x git diff", d / same <= 5, d / same)
