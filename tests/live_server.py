"""A live `canonry serve` in its own process, and a small published repository to serve.

Shared by the raw-socket, schemathesis, browser and scope tests (module-scoped
fixtures: one server per test module keeps them fast).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from canonry.store.repo import RefUpdate, Repository
from canonry.store.yamlio import dump_yaml, load_yaml
from conftest import copy_reference, git
from helpers import mapping_entry, write_entry
from runtime_helpers import TAGGER, WHEN, publish, tag_message

ROOT = Path(__file__).resolve().parent.parent
SECRET = "secret acme plant"  # the pattern of a WORKSPACE_ONLY entry of workspace acme


def published_repo(dest: Path) -> Path:
    """mapping/v1 (m0..m2) and mapping/v2 (m0 changed, m3 added, m4 WORKSPACE_ONLY of acme)."""
    repo = copy_reference(dest, with_knowledge=False)
    for i, (pattern, code) in enumerate(
        [("steel rebar", "C24"), ("cement plant", "C23"), ("hospital", "Q86")]
    ):
        write_entry(repo, "mapping", mapping_entry(f"m{i}", pattern, code))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "three mapping entries")
    publish(repo)
    write_entry(repo, "mapping", mapping_entry("m0", "steel rebar", "C24", confidence=0.95))
    write_entry(repo, "mapping", mapping_entry("m3", "desalination plant", "E36"))
    secret = mapping_entry(
        "m4", SECRET, "C20", reuse_scope="WORKSPACE_ONLY", workspace_id="acme", sanitized_for_promotion=False
    )
    write_entry(repo, "mapping", secret)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "m0 surer, m3 and a workspace-only m4")
    publish(repo)
    return repo


def _tag(repo: Path, library: str, **meta: object) -> None:
    r = Repository(repo)
    number = 1 + len(r.refs(f"refs/tags/{library}/v"))
    commit = r.resolve_commit("refs/heads/main")
    message = tag_message(r, library, number, commit, **meta).replace(
        "test publication", f"{library} release {number}"
    )
    oid = r.create_tag_object(f"{library}/v{number}", commit, message, TAGGER, when=WHEN + 86400 * number)
    r.update_refs([RefUpdate(f"refs/tags/{library}/v{number}", oid, None)], "test publish")


def _edit(repo: Path, library: str, index: int, **fields: object) -> str:
    """Change fields of the index-th entry (by file name) of a library; its id."""
    path = sorted((repo / "knowledge" / library).glob("*.yaml"))[index]
    data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    data.update(fields)
    path.write_text(dump_yaml(data), encoding="utf-8")
    return str(data["id"])


def rich_repo(dest: Path) -> Path:
    """The reference knowledge with three mapping versions, two workforce versions and an open draft."""
    repo = copy_reference(dest)
    _tag(repo, "mapping", holdout={"metric": "accuracy", "value": 0.82, "baseline": None, "cases": 40})
    _tag(repo, "nationality-classification")
    for i in range(3):
        _edit(repo, "mapping", i, confidence=0.97)
    _edit(repo, "mapping", 3, sector_code="C24", confidence=0.5)
    _edit(repo, "nationality-classification", 1, basis="calibrated")
    _edit(repo, "nationality-classification", 2, basis="calibrated")
    secret = mapping_entry(
        "m-secret",
        SECRET,
        "C20",
        reuse_scope="WORKSPACE_ONLY",
        workspace_id="acme",
        sanitized_for_promotion=False,
    )
    write_entry(repo, "mapping", secret)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "surer steel patterns; two workforce cells calibrated")
    _tag(repo, "mapping", holdout={"metric": "accuracy", "value": 0.85, "baseline": 0.82, "cases": 40})
    _tag(repo, "nationality-classification")
    _edit(repo, "mapping", 5, confidence=0.3)
    (sorted((repo / "knowledge" / "mapping").glob("*.yaml"))[6]).unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one pattern less sure, one removed")
    _tag(repo, "mapping", holdout={"metric": "accuracy", "value": 0.87, "baseline": 0.85, "cases": 40})
    git(repo, "checkout", "-q", "-b", "draft/steel-patterns")
    _edit(repo, "mapping", 7, confidence=0.99)
    git(repo, "commit", "-q", "-am", "steel: one pattern surer")
    git(repo, "checkout", "-q", "main")
    return repo


class LiveServer:
    """`python -m canonry serve ... --port 0` with stderr kept in a file (for tracebacks)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        environment = dict(os.environ, PYTHONPATH=str(ROOT / "tooling"), **(env or {}))
        self._stderr = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "canonry", "serve", "--port", "0", *args],
            stderr=self._stderr,
            stdout=subprocess.DEVNULL,
            env=environment,
            start_new_session=True,
        )
        self.port = self._wait_for_port()

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", self.stderr())
            if found:
                port = int(found[1])
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    return port
            if self.proc.poll() is not None:
                raise AssertionError(f"canonry serve exited: {self.stderr()}")
            time.sleep(0.05)
        raise AssertionError(f"canonry serve did not start: {self.stderr()}")

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self._stderr.close()


@contextmanager
def serving(base: Path, make_repo: Callable[[Path], Path]) -> Iterator[LiveServer]:
    """Run `canonry serve --quiet` on the repository make_repo builds under base; stop it on exit."""
    repo = make_repo(base / "repo")
    live = LiveServer(
        ["--repo", str(repo), "--quiet"], base / "serve.log", {"CANONRY_CACHE": str(base / "c")}
    )
    try:
        yield live
    finally:
        live.stop()


def raw_exchange(port: int, data: bytes, timeout: float = 5.0, quiet_for: float = 0.5) -> bytes:
    """Send bytes on a fresh connection; everything received until the peer closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks: list[bytes] = []
        s.settimeout(quiet_for)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                if chunks:
                    break
                continue
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_lines(reply: bytes) -> list[str]:
    return re.findall(r"HTTP/1\.[01] \d{3}[^\r\n]*", reply.decode("latin-1"))
