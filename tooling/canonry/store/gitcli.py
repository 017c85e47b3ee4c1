"""Named operations that need the git executable: fetch, push, fsck, signatures, ref transactions, work tree.

Part of the one git wrapper (with repo.py and integrity.py): nothing else runs
git. Each operation takes typed arguments and returns a typed result; git's
own arguments and CompletedProcess never leave this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GitCommandError, RefMovedError
from .gittypes import ZERO_OID, RefUpdate

if TYPE_CHECKING:  # subprocess and tempfile load when git first runs, not with every Repository
    import subprocess

# What git prints when the objects it received fail its checks (as opposed to a network failure).
_CORRUPT_HINTS = (
    "fsck error",
    "index-pack failed",
    "unpack-objects failed",
    "bad object",
    "did not send all necessary objects",
    "invalid object",
)


@dataclass(frozen=True)
class Outcome:
    """What a git operation did: ok, and git's message (one line, for the user) when it did not."""

    ok: bool
    message: str = ""


@dataclass(frozen=True)
class FetchResult(Outcome):
    missing_ref: bool = False  # a refspec named a ref the remote does not have
    corrupt: bool = False  # the remote sent objects that fail git's checks


@dataclass(frozen=True)
class PushResult(Outcome):
    rejected: tuple[str, ...] = ()  # git's reason for each ref the remote refused


@dataclass(frozen=True)
class FsckResult(Outcome):
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignatureCheck(Outcome):
    output: str = ""  # git's raw verification output (gpg/ssh status lines)


@dataclass(frozen=True)
class MergedText:
    data: bytes
    clean: bool


class _Run:
    """A finished git process, internal to the wrapper."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.ok = proc.returncode == 0
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def message(self) -> str:
        lines = [line.strip() for line in self.err.splitlines() if line.strip()]
        fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
        return " ".join((fatal or lines or ["no output"])[0].split())[:500]


class GitCommands:
    """The operations of Repository that run git (mixed into Repository)."""

    if TYPE_CHECKING:  # provided by Repository

        @property
        def git_dir(self) -> Path: ...

        @property
        def workdir(self) -> Path | None: ...

        def ref_target(self, name: str) -> str | None: ...

    # --- refs ------------------------------------------------------------------------

    def update_ref(self, name: str, new: str, old: str | None, message: str) -> None:
        """Compare-and-swap one ref: raise RefMovedError if it is not at `old`."""
        self.update_refs([RefUpdate(name, new, old)], message)

    def update_refs(self, updates: Sequence[RefUpdate], message: str) -> None:
        """Move several refs all or nothing, each only from its expected old value.

        pygit2's transaction has no expected-old-value check and applies refs one
        at a time; `git update-ref --stdin` with prepare/commit does both.
        """
        if not updates:
            return
        lines = ["start"]
        for u in updates:
            old = u.old or ZERO_OID
            lines.append(f"delete {u.name} {old}" if u.new is None else f"update {u.name} {u.new} {old}")
        lines += ["prepare", "commit", ""]
        run = self._git(["update-ref", "--stdin", "-m", message], input="\n".join(lines))
        if not run.ok:
            for u in updates:
                actual = self.ref_target(u.name)
                if actual != u.old:
                    raise RefMovedError(u.name, u.old, actual)
            raise GitCommandError(f"git update-ref failed: {run.err.strip()}")

    def set_head(self, branch: str) -> None:
        """Point HEAD at a branch (refs/heads/NAME), born or not."""
        run = self._git(["symbolic-ref", "HEAD", branch])
        if not run.ok:
            raise GitCommandError(f"cannot point HEAD at {branch}: {run.message}")

    # --- remotes -----------------------------------------------------------------------

    def fetch(
        self,
        remote: str,
        refspecs: Sequence[str],
        *,
        prune: bool = True,
        check_objects: bool = False,
        keep_packed: bool = False,
        timeout: float = 300,
    ) -> FetchResult:
        """`git fetch` of refspecs from a remote name or URL, no tags unless named, no FETCH_HEAD.

        check_objects refuses objects that fail git's checks (fetch.fsckObjects);
        keep_packed keeps what arrives as a pack (no loose objects in a mirror).
        """
        config = ["-c", "gc.auto=0"]
        if check_objects:
            config += ["-c", "fetch.fsckObjects=true"]
        if keep_packed:
            config += ["-c", "fetch.unpackLimit=1"]
        args = [*config, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]
        if prune:
            args.append("--prune")
        run = self._git([*args, "--", remote, *refspecs], timeout=timeout)
        if run.ok:
            return FetchResult(True)
        lowered = run.err.lower()
        return FetchResult(
            False,
            run.message,
            missing_ref="couldn't find remote ref" in lowered,
            corrupt=any(hint in lowered for hint in _CORRUPT_HINTS),
        )

    def push(
        self,
        remote: str,
        updates: Sequence[tuple[str, str]],
        *,
        atomic: bool = True,
        lease: tuple[str, str | None] | None = None,
        timeout: float = 300,
    ) -> PushResult:
        """Push (remote ref, local oid or ref) pairs, all or nothing unless atomic=False.

        lease (ref, expected oid or None for "must not exist") makes the push refuse
        to move a remote ref that is not where it was last seen.
        """
        args = ["push", "--porcelain"]
        if atomic:
            args.append("--atomic")
        if lease is not None:
            args.append(f"--force-with-lease={lease[0]}:{lease[1] or ''}")
        run = self._git([*args, remote, *(f"{src}:{ref}" for ref, src in updates)], timeout=timeout)
        if run.ok:
            return PushResult(True)
        rejected = [line for line in run.out.splitlines() if line.startswith("!")]
        reasons = tuple(line.split("\t")[-1] for line in rejected if "atomic push failed" not in line)
        if rejected and not reasons:
            reasons = ("atomic push failed",)
        return PushResult(False, run.message, rejected=reasons)

    # --- checks and signatures -------------------------------------------------------------

    def fsck(self, timeout: float = 600) -> FsckResult:
        """`git fsck --strict`: every object, connectivity, bad tree names like `..`."""
        run = self._git(["fsck", "--strict", "--no-dangling", "--no-progress"], timeout=timeout)
        lines = tuple(line.strip() for line in (run.out + run.err).splitlines() if line.strip())
        return FsckResult(
            run.ok, "" if run.ok else (lines[0] if lines else "git fsck failed"), problems=lines
        )

    def verify_tag(
        self, tag_oid: str, allowed_signers: str | None = None, timeout: float = 60
    ) -> SignatureCheck:
        """`git verify-tag --raw`: does the tag object's signature verify against allowed_signers?"""
        return self._verify("verify-tag", tag_oid, allowed_signers, timeout)

    def verify_commit(
        self, commit: str, allowed_signers: str | None = None, timeout: float = 60
    ) -> SignatureCheck:
        """`git verify-commit --raw`: does the commit's signature verify against allowed_signers?"""
        return self._verify("verify-commit", commit, allowed_signers, timeout)

    def _verify(self, command: str, oid: str, allowed_signers: str | None, timeout: float) -> SignatureCheck:
        config = ["-c", f"gpg.ssh.allowedSignersFile={allowed_signers}"] if allowed_signers else []
        run = self._git([*config, command, "--raw", oid], timeout=timeout)
        output = run.err + run.out
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        return SignatureCheck(run.ok, "" if run.ok else (lines[-1] if lines else "no output"), output=output)

    def config_value(self, key: str) -> str | None:
        """A git config value as git sees it for this repository (None when unset)."""
        run = self._git(["config", "--get", key], timeout=30)
        return run.out.strip() if run.ok else None

    # --- work tree and index -------------------------------------------------------------------

    def checkout(self, branch: str) -> Outcome:
        """`git checkout BRANCH` in the work tree; refuses (ok False) rather than lose local changes."""
        run = self._git(["checkout", "--quiet", branch])
        return Outcome(run.ok, "" if run.ok else " ".join(run.err.split()))

    def follow_work_tree(self, old: str, new: str) -> Outcome:
        """Move the index and work tree from commit old to new, keeping local changes (`read-tree -m -u`)."""
        run = self._git(["read-tree", "-m", "-u", old, new])
        return Outcome(run.ok, "" if run.ok else " ".join(run.err.split()))

    def changed_paths(self, prefixes: Sequence[str]) -> list[str]:
        """Work-tree paths under prefixes that differ from HEAD or are untracked (git's stat cache: fast)."""
        args = ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--", *prefixes]
        run = self._git(args)
        if not run.ok:
            raise GitCommandError(f"git status failed: {run.message}")
        return [record[3:] for record in run.out.split("\0") if len(record) >= 4]

    def index_differs_from(self, commit: str) -> bool:
        """Whether the index holds anything other than commit's tree (`git diff-index --cached`)."""
        return not self._git(["diff-index", "--cached", "--quiet", commit, "--"]).ok

    def work_tree_differs_from_index(self) -> bool:
        """Whether tracked files in the work tree differ from the index (`git diff-files`).

        The stat cache is refreshed first (as `git status` does): a file merely touched is not changed.
        """
        self._git(["update-index", "-q", "--refresh"])
        return not self._git(["diff-files", "--quiet"]).ok

    def index_tree(self) -> str | None:
        """The tree id the index holds (written to the object store), or None when it has conflicts."""
        run = self._git(["write-tree"])
        return run.out.strip() or None if run.ok else None

    def stage(self, items: Sequence[tuple[int, str, str]]) -> None:
        """Put (mode, blob id, path) entries into the index, then refresh its stat cache."""
        info = "".join(f"{mode:o} {oid}\t{path}\n" for mode, oid, path in items)
        run = self._git(["update-index", "--add", "--index-info"], input=info)
        if not run.ok:
            raise GitCommandError(f"git update-index failed: {run.message}")
        self._git(["update-index", "-q", "--refresh"])

    # --- text merge -----------------------------------------------------------------------------

    def merge_file(
        self,
        base: bytes,
        ours: bytes,
        theirs: bytes,
        labels: tuple[str, str, str] = ("ours", "base", "theirs"),
    ) -> tuple[bytes, bool]:
        """Three-way text merge of one file with `git merge-file`: (result, clean).

        An unclean result carries diff3-style conflict markers; a file git cannot
        merge as text (binary) comes back as ours, unclean.
        """
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory(prefix="canonry-merge-") as tmp:
            names = []
            for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
                target = Path(tmp) / name
                target.write_bytes(data)
                names.append(str(target))
            cmd = ["git", "merge-file", "-p", "--diff3"]
            for label in labels:
                cmd += ["-L", label]
            try:
                proc = subprocess.run([*cmd, *names], capture_output=True, timeout=600)
            except subprocess.TimeoutExpired:
                raise GitCommandError("git merge-file timed out") from None
            except FileNotFoundError:
                raise GitCommandError("git is not installed (Canonry needs the git command)") from None
        # exit status: 0 clean, 1..127 the number of conflicts, above that an error (binary input)
        if proc.returncode == 0:
            return proc.stdout, True
        if 0 < proc.returncode < 128:
            return proc.stdout, False
        return ours, False

    # --- the process -------------------------------------------------------------------------------

    def _git(self, args: Sequence[str], input: str | None = None, timeout: float | None = 600) -> _Run:
        return _Run(self._run_git(args, input=input, timeout=timeout))

    def _run_git(
        self, args: Sequence[str], input: str | None = None, timeout: float | None = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run git with raw arguments on this repository (internal: callers use the named operations)."""
        import subprocess

        full_env = dict(os.environ)
        full_env.setdefault("GIT_TERMINAL_PROMPT", "0")
        cmd = ["git", f"--git-dir={self.git_dir}"]
        if self.workdir:
            cmd.append(f"--work-tree={self.workdir}")
        try:
            proc = subprocess.run(
                [*cmd, *args],
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=full_env,
            )
        except subprocess.TimeoutExpired:
            raise GitCommandError(f"git {' '.join(args[:2])} timed out") from None
        except FileNotFoundError:
            raise GitCommandError("git is not installed (Canonry needs the git command)") from None
        return proc
