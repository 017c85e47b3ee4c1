"""Helpers the runtime tests share: published versions, a git daemon, an HTTP client, signing keys.

Fixtures built on them (two_versions, private_cache, daemon) live in conftest.py.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canonry.store.repo import Identity, RefUpdate, Repository
from canonry.store.yamlio import dump_yaml
from conftest import git
from helpers import write_entry

TAGGER = Identity("Release Bot", "release@example.org")
WHEN = 1768471200  # 2026-01-15T10:00:00Z


def tag_message(repo: Repository, library: str, number: int, commit: str, **extra: object) -> str:
    tree = repo.subtree(repo.tree_of(commit), f"knowledge/{library}")
    meta = {
        "library": library,
        "version": number,
        "parent": f"{library}/v{number - 1}" if number > 1 else None,
        "published_at": "2026-01-15T10:00:00Z",
        "published_by": TAGGER.email,
        "tree": tree,
        **extra,
    }
    return f"{library}/v{number}: test publication\n\n{dump_yaml(meta)}"


def publish(
    path: Path, library: str = "mapping", number: int | None = None, ref: str = "refs/heads/main"
) -> str:
    """Tag `ref` as the next version of library (annotated, metadata in the message); the tag object id."""
    repo = Repository(path)
    if number is None:
        number = 1 + len(repo.refs(f"refs/tags/{library}/v"))
    commit = repo.resolve_commit(ref)
    oid = repo.create_tag_object(
        f"{library}/v{number}", commit, tag_message(repo, library, number, commit), TAGGER, when=WHEN
    )
    repo.update_refs([RefUpdate(f"refs/tags/{library}/v{number}", oid, None)], "test publish")
    return oid


def commit_entries(path: Path, *entries: dict[str, object], message: str = "change") -> None:
    for entry in entries:
        write_entry(path, "mapping", entry)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Daemon:
    base: Path
    port: int
    proc: subprocess.Popen[bytes] | None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc is not None:
            # the daemon runs in a session of its own: end it and its per-connection children
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None


def bare_copy(source: Path, dest: Path) -> Path:
    """A bare repository with every ref of source (branches, tags, notes)."""
    git(dest.parent, "init", "-q", "--bare", dest.name)
    git(source, "push", "-q", "--mirror", str(dest))
    return dest


# --- an HTTP client for `canonry serve` -------------------------------------------------


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)  # the path goes out as typed
            for key, value in (headers or {}).items():
                conn.putheader(key, value)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> tuple[int, http.client.HTTPMessage, Any]:
        status, headers, body = self.request(path, **kwargs)
        return status, headers, json.loads(body) if body else None


# --- signing keys and the allowed-signers policy ----------------------------------------

STEWARD = "mapping-steward@example.org"
OTHER = "economics-steward@example.org"  # an allowed signer, but not a steward of mapping


def make_key(folder: Path, email: str) -> tuple[Path, str]:
    key = folder / email.split("@")[0]
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(key)], check=True)
    return key, f"{email} {key.with_suffix('.pub').read_text().strip()}\n"


def add_signers(path: Path, keys_folder: Path, emails: list[str]) -> dict[str, Path]:
    """Commit schemas/allowed_signers with a key per e-mail and name it in the policy, on main."""
    keys_folder.mkdir(exist_ok=True)
    keys, lines = {}, ""
    for email in emails:
        keys[email], line = make_key(keys_folder, email)
        lines += line
    (path / "schemas" / "allowed_signers").write_text(lines)
    set_signers_policy(path, "schemas/allowed_signers")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "allowed signers")
    return keys


def set_signers_policy(path: Path, value: str) -> None:
    registry = path / "schemas" / "libraries.yaml"
    text, n = re.subn(r"(?m)^  allowed_signers: .*$", f"  allowed_signers: {value}", registry.read_text())
    assert n == 1
    registry.write_text(text)
