"""Damaged storage fails fast everywhere: a truncated loose object, a flipped pack byte, a deleted pack index.

libgit2 1.9.7 spins forever (holding the GIL) on a truncated loose object, so
every read here runs in a child process with a timeout: a hang fails the test
in seconds instead of stalling the suite. Each damage is made on a real
repository, then read through `canonry show`, `canonry verify`,
canonry.open(...).library(...) and `canonry serve` (where only the damaged
request fails). The answer must be CorruptObjectError naming the object, never
a hang, a raw GitError or "unknown ref".
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from canonry.store.repo import Repository

LIMIT = 20  # seconds; a bounded read takes well under one
ROOT = Path(__file__).parent.parent


def _canonry(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "canonry", *args],
            capture_output=True,
            text=True,
            timeout=LIMIT,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT / "tooling")},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"canonry {' '.join(args)} hung on a damaged repository")


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=LIMIT,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT / "tooling")},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("canonry.open(...).library(...) hung on a damaged repository")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _blob(repo: Path, rev: str, path: str) -> str:
    r = Repository(repo)
    item = r.entry_at(r.tree_of(r.resolve_commit(rev)), path)
    assert item is not None
    return item.oid


def _explode(repo: Path) -> None:
    """Every object loose (unpack the packs), so one can be truncated."""
    pack_dir = repo / ".git" / "objects" / "pack"
    for pack in list(pack_dir.glob("*.pack")):
        data = pack.read_bytes()
        pack.unlink()
        pack.with_suffix(".idx").unlink()
        subprocess.run(["git", "-C", str(repo), "unpack-objects", "-q"], input=data, check=True)


def _pack_everything(repo: Path) -> Path:
    _git(repo, "repack", "-adq")
    _git(repo, "prune-packed")
    [pack] = (repo / ".git" / "objects" / "pack").glob("*.pack")
    return pack


def _truncate_loose(repo: Path, oid: str) -> None:
    _explode(repo)
    loose = repo / ".git" / "objects" / oid[:2] / oid[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[:-8])


def _flip_pack_byte(repo: Path, oid: str) -> None:
    pack = _pack_everything(repo)
    listing = _git(repo, "verify-pack", "-v", str(pack.with_suffix(".idx")))
    row = next(line.split() for line in listing.splitlines() if line.startswith(oid))
    offset, stored = int(row[4]), int(row[3])  # object, type, size, size-in-pack, offset
    pack.chmod(0o644)
    data = bytearray(pack.read_bytes())
    spot = offset + stored // 2
    data[spot] ^= 0xFF
    pack.write_bytes(bytes(data))


def _delete_pack_index(repo: Path) -> Path:
    pack = _pack_everything(repo)
    pack.with_suffix(".idx").unlink()
    return pack


@pytest.fixture
def damaged(two_versions: Path, request: pytest.FixtureRequest) -> tuple[Path, str]:
    """two_versions with the blob of mapping/v2's m1 damaged as the test's parameter says."""
    blob = _blob(two_versions, "mapping/v2", "knowledge/mapping/m1.yaml")
    {"loose": _truncate_loose, "pack": _flip_pack_byte}[request.param](two_versions, blob)
    return two_versions, blob


def _assert_clean_refusal(proc: subprocess.CompletedProcess[str], oid: str) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert oid in output, output  # names the object
    for raw in ("Traceback", "GitError", "unknown ref", "internal error"):
        assert raw not in output, output


@pytest.mark.parametrize("damaged", ["loose", "pack"], indirect=True)
def test_show_fails_fast_naming_the_object(damaged: tuple[Path, str]) -> None:
    repo, blob = damaged
    start = time.monotonic()
    proc = _canonry("show", "mapping@v2", "m1", "--repo", str(repo), cwd=repo)
    _assert_clean_refusal(proc, blob)
    assert "cannot be read" in proc.stderr or "truncated" in proc.stderr
    assert time.monotonic() - start < LIMIT


@pytest.mark.parametrize("damaged", ["loose", "pack"], indirect=True)
def test_verify_fails_fast_naming_the_object(damaged: tuple[Path, str]) -> None:
    repo, blob = damaged
    proc = _canonry("verify", "--repo", str(repo), cwd=repo)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    for raw in ("Traceback", "GitError", "unknown ref", "internal error"):
        assert raw not in output, output


@pytest.mark.parametrize("damaged", ["loose", "pack"], indirect=True)
def test_runtime_library_raises_corrupt_object_error(damaged: tuple[Path, str]) -> None:
    repo, blob = damaged
    code = (
        "import canonry\n"
        f"canon = canonry.open({str(repo)!r})\n"
        "try:\n"
        "    lib = canon.library('mapping', 'v2')\n"
        "    [lib[i] for i in ('m0', 'm1', 'm2', 'm3')]\n"
        "except canonry.CorruptObjectError as exc:\n"
        "    print('CorruptObjectError:', exc)\n"
        "else:\n"
        "    print('read without error')\n"
    )
    proc = _python(code, repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("CorruptObjectError:") and blob in proc.stdout, proc.stdout


def test_deleted_pack_index_is_corruption_not_an_unknown_ref(two_versions: Path) -> None:
    repo = two_versions
    main = _git(repo, "rev-parse", "main").strip()
    pack = _delete_pack_index(repo)
    proc = _canonry("show", "mapping@v2", "m1", "--repo", str(repo), cwd=repo)
    _assert_clean_refusal(proc, main if main in proc.stderr else "")
    assert pack.name in proc.stderr and "has no index" in proc.stderr, proc.stderr
    verify = _canonry("verify", "--repo", str(repo), cwd=repo)
    assert verify.returncode != 0 and "Traceback" not in verify.stderr and "unknown ref" not in verify.stderr
    runtime = _python(
        "import canonry\ntry:\n"
        f"    canonry.open({str(repo)!r}).library('mapping', 'v2')['m1']\n"
        "except canonry.CorruptObjectError as exc:\n    print('CorruptObjectError:', exc)\n",
        repo,
    )
    assert runtime.stdout.startswith("CorruptObjectError:") and "has no index" in runtime.stdout, runtime


@pytest.mark.parametrize("damaged", ["loose", "pack"], indirect=True)
def test_serve_fails_that_request_only(damaged: tuple[Path, str]) -> None:
    repo, blob = damaged
    server = subprocess.Popen(
        [sys.executable, "-m", "canonry", "serve", "--repo", str(repo), "--port", "0", "--quiet"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tooling")},
        start_new_session=True,
    )
    try:
        assert server.stderr is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(server.stderr.readline()), daemon=True)
        reader.start()
        reader.join(LIMIT)
        assert lines and lines[0].startswith("canonry serve: http://127.0.0.1:"), lines
        port = int(lines[0].split("127.0.0.1:")[1].split("/")[0])

        def get(path: str) -> tuple[int, dict[str, str]]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=LIMIT)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                return response.status, json.loads(response.read() or b"{}")
            finally:
                conn.close()

        status, doc = get("/libraries/mapping/versions/v2/entries/m1")
        assert status >= 500 and blob in json.dumps(doc), doc
        assert "Traceback" not in json.dumps(doc)
        # the server lives on, and an undamaged entry still reads
        assert get("/libraries/mapping/versions/v2/entries/m0")[0] == 200
        assert get("/libraries")[0] == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=LIMIT)
        if server.stderr is not None:
            server.stderr.close()


def test_bounded_backend_reads_and_writes_like_git(two_versions: Path) -> None:
    """The loose objects Canonry writes are read by git, and git's are read by Canonry."""
    repo = Repository(two_versions)
    oid = repo.write_blob(b"written by canonry\n")
    assert _git(two_versions, "cat-file", "-p", oid) == "written by canonry\n"
    theirs = subprocess.run(
        ["git", "-C", str(two_versions), "hash-object", "-w", "--stdin"],
        input="written by git\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Repository(two_versions).read_blob(theirs) == b"written by git\n"
    assert Repository(two_versions).check_object_store() == []
