"""Commands for runtime services: pin, verify, export, serve."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import CheckFailed
from ..report.outcome import exit_code
from ..report.verify import render_text
from ..runtime.api import Canon
from ..runtime.bundle import load_bundle, write_bundle
from ..runtime.files import atomic_write
from ..runtime.mirror import Mirror, is_remote, redact
from ..runtime.pins import DEFAULT_LOCK, Lock, deprecation, pin, read_lock, write_lock
from ..runtime.verify import VerifyReport, verify
from ..store.versions import resolve_version
from .common import emit, emit_json, open_repo, repo_option, say

F = TypeVar("F", bound=Callable[..., Any])


def source_option(func: F) -> F:
    return click.option(
        "--source",
        default=None,
        metavar="URL|PATH",
        help="Read from this source instead of --repo: a path, or a file://, git://, http(s):// URL"
        " (kept as a bare mirror under $CANONRY_CACHE). Default: the lock's source, else --repo.",
    )(func)


def fetch_option(func: F) -> F:
    return click.option(
        "--fetch/--no-fetch", default=True, show_default=True, help="Fetch a remote source first."
    )(func)


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                say(f"canonry: warning: {w.message}")


def workspace_option(func: F) -> F:
    return click.option(
        "--workspace",
        default=None,
        metavar="ID",
        help="Also hand out this workspace's WORKSPACE_ONLY entries (without it: none are).",
    )(func)


def _canon(
    repo_path: str | None,
    source: str | None,
    lock: Lock | None,
    fetch: bool = True,
    workspace: str | None = None,
) -> Canon:
    """A Canon for a command: no downgrade watermark (a command is not a consumer)."""
    chosen = source or (None if repo_path else lock.source if lock else None)
    if chosen and is_remote(chosen):
        mirror = Mirror(chosen)
        return Canon(mirror.open(fetch=fetch), redact(chosen), lock=lock, mirror=mirror, workspace=workspace)
    repo = open_repo(chosen or repo_path, allow_shallow=True)
    return Canon(repo, str(repo.workdir or repo.git_dir).rstrip("/"), lock=lock, workspace=workspace)


def _lock_if_any(path: str | None) -> Lock | None:
    return read_lock(path) if path is not None else None


@click.command("pin")
@repo_option
@source_option
@fetch_option
@click.argument("specs", nargs=-1, required=True, metavar="LIBRARY@VERSION...")
@click.option("--lock", "lock_path", default=DEFAULT_LOCK, show_default=True, help="The lock file to write.")
@click.option("--allow-downgrade", is_flag=True, help="Allow pinning below the version the lock pins now.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def pin_cmd(
    repo_path: str | None,
    source: str | None,
    fetch: bool,
    specs: tuple[str, ...],
    lock_path: str,
    allow_downgrade: bool,
    fmt: str,
) -> None:
    """Pin library versions in a lock file (canonry.lock/v1).

    Each pin records the version's tag object, commit and library tree, so
    that `canonry verify --lock` and canonry.open(..., lock=...) refuse a tag
    that moved. LIBRARY@latest pins the latest version now. Pinning below what
    the lock already pins needs --allow-downgrade; pinning a deprecated version
    warns. Other pins in the lock are kept.

    \b
    Example:
      canonry pin mapping@v4 assumptions@latest
      canonry pin mapping@latest --source git://example.org/knowledge.git --lock services/canonry.lock
    """
    old = read_lock(lock_path) if Path(lock_path).exists() else None
    with _warnings_to_stderr():
        canon = _canon(repo_path, source, old, fetch)
        new, changes = pin(canon.repo, specs, old, canon.source, allow_downgrade)
        new = Lock(new.source, new.pins, lock_path)
        write_lock(lock_path, new)
    for before, after in changes:
        reason = deprecation(canon.repo, resolve_version(canon.repo, after.library, after.version))
        if reason is not None:
            say(f"canonry: warning: {after.tag} is deprecated: {reason}")
        if fmt == "text":
            was = f" (was {before.tag})" if before and before.tag != after.tag else ""
            emit(f"pinned {after.tag} {after.commit[:12]}{was} in {lock_path}")
    if fmt == "json":
        emit_json(new.to_dict())


@click.command("verify")
@repo_option
@source_option
@fetch_option
@click.option("--lock", "lock_path", default=None, help="Also check this lock file's pins.")
@click.option(
    "--bundle", "bundles", multiple=True, help="Verify an export bundle instead (repeatable; no git)."
)
@click.option("--allowed-signers", default=None, help="SSH allowed-signers file for signature checks.")
@click.option("--require-signed", is_flag=True, default=None, help="Check every version's signature.")
@click.option("--content/--no-content", default=True, show_default=True, help="Re-check published content.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def verify_cmd(
    repo_path: str | None,
    source: str | None,
    fetch: bool,
    lock_path: str | None,
    bundles: tuple[str, ...],
    allowed_signers: str | None,
    require_signed: bool | None,
    content: bool,
    fmt: str,
) -> None:
    """Check that version tags are unmoved, gapless, on main and signed as required; and the lock.

    Exit 1 when anything fails (findings), 2 for a lock file that cannot be
    read or names an unknown library. Signatures are checked when the policy
    (require_signed_tags) or --require-signed asks, against --allowed-signers,
    git's gpg.ssh.allowedSignersFile, or the policy's allowed_signers file.

    \b
    Example:
      canonry verify
      canonry verify --lock canonry.lock --format json
      canonry verify --bundle mapping-v4.json
    """
    if bundles:
        report = VerifyReport(checked={"bundles": len(bundles)})
        for path in bundles:
            try:
                bundle = load_bundle(path)
                report.notes.append(f"{path}: {bundle.tag}, {len(bundle)} entries, sha256 {bundle.sha256}")
            except CheckFailed as exc:  # VerificationError and the like: a finding, not a crash
                from ..gates.findings import ERROR, Finding

                report.findings.append(
                    Finding(
                        path=path, line=None, column=None, gate="bundle", severity=ERROR, message=str(exc)
                    )
                )
    else:
        lock = _lock_if_any(lock_path)
        with _warnings_to_stderr():
            canon = _canon(repo_path, source, lock, fetch)
            report = verify(
                canon.repo,
                lock,
                require_signed=require_signed,
                allowed_signers=allowed_signers,
                content=content,
            )
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        emit(render_text(report))
    raise SystemExit(exit_code(report))


@click.command("export")
@repo_option
@source_option
@fetch_option
@workspace_option
@click.argument("spec", metavar="LIBRARY@VERSION")
@click.option("--lock", "lock_path", default=None, help="Check this lock file first; serve its pins.")
@click.option("--output", "-o", default=None, help="Write the bundle to this file (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True)
def export_cmd(
    repo_path: str | None,
    source: str | None,
    fetch: bool,
    workspace: str | None,
    spec: str,
    lock_path: str | None,
    output: str | None,
    fmt: str,
) -> None:
    """Export a published version as one JSON bundle (canonry.bundle/v1) for consumers without git.

    The bundle holds the version's tag, tag object, commit, tree and metadata,
    every entry, a SHA-256 per entry and one for the whole bundle (over RFC 8785
    canonical JSON; see docs/runtime-guide.md). canonry.load_bundle(path) and
    `canonry verify --bundle FILE` check it. WORKSPACE_ONLY entries are left
    out unless --workspace names their workspace; the bundle records the
    scopes it holds.

    \b
    Example:
      canonry export mapping@v4 --output mapping-v4.json
      canonry export mapping@latest > mapping.json
    """
    lock = _lock_if_any(lock_path)
    buffer = io.StringIO()
    with _warnings_to_stderr():
        canon = _canon(repo_path, source, lock, fetch, workspace)
        doc = write_bundle(canon, spec, buffer)
    if output is None:
        emit(buffer.getvalue())
        return
    atomic_write(Path(output), buffer.getvalue().encode("utf-8"))
    say(f"wrote {output}: {doc['tag']}, {doc['entry_count']} entries, sha256 {doc['sha256']}")


@click.command("serve")
@repo_option
@source_option
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0: any free port."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each opens the repository itself; answers are the same from any).",
)
@click.option(
    "--refresh", default=60.0, show_default=True, help="Seconds between fetches of a remote source."
)
@click.option("--quiet", is_flag=True, help="Do not log requests.")
def serve_cmd(
    repo_path: str | None,
    source: str | None,
    workspace: str | None,
    host: str,
    port: int,
    workers: int,
    refresh: float,
    quiet: bool,
) -> None:
    """Serve published versions over a read-only HTTP API (JSON; OpenAPI at /openapi.json) and a web UI.

    Routes: /libraries, /libraries/{name}/versions, /libraries/{name}/versions/{version},
    .../entries, .../entries/{id}, /diff?from=LIB@vA&to=LIB@vB, /health, and the
    web UI under /ui/. Responses at a version carry a strong ETag and immutable
    cache headers; `latest` is revalidated on every use. No write endpoints.
    Runs on uvicorn; WORKSPACE_ONLY entries are served only with --workspace.

    \b
    Example:
      canonry serve --port 8080
      canonry serve --source git://example.org/knowledge.git --host 0.0.0.0 --workers 2
      curl http://127.0.0.1:8080/libraries/mapping/versions/v4/entries
    """
    from ..runtime.serve import ServeConfig, serve

    if source is None:
        repo = open_repo(repo_path, allow_shallow=True)
        repo_path = str(repo.workdir or repo.git_dir)
    config = ServeConfig(repo=repo_path, source=source, workspace=workspace, quiet=quiet)
    with _warnings_to_stderr():
        serve(config, host, port, workers=workers, refresh=refresh)


def register(group: click.Group) -> None:
    for command in (pin_cmd, verify_cmd, export_cmd, serve_cmd):
        group.add_command(command)
