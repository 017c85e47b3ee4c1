"""The one module that touches pygit2 or runs git.

Everything above it sees object ids as hex strings and plain tuples, never
pygit2 objects, so that every libgit2 quirk has one place to be handled.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import FileMode, ObjectType

from ..errors import (
    CorruptObjectError,
    GitCommandError,
    NotARepositoryError,
    RefMovedError,
    ShallowCloneError,
    UnknownRefError,
    UnsupportedRepositoryError,
)
from .times import epoch_now

# libgit2 caches no tree object over 4 KiB by default, so each path lookup in a
# 100,000-entry flat folder re-read a ~7 MB tree (~50 ms). Let it keep them.
pygit2.settings.cache_object_limit(ObjectType.TREE, 64 << 20)

ZERO_OID = "0" * 40
BLOB_MODE = int(FileMode.BLOB)
EXEC_MODE = int(FileMode.BLOB_EXECUTABLE)
LINK_MODE = int(FileMode.LINK)
TREE_MODE = int(FileMode.TREE)
COMMIT_MODE = int(FileMode.COMMIT)


@dataclass(frozen=True)
class TreeItem:
    name: str
    oid: str
    mode: int

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


@dataclass(frozen=True)
class Change:
    """One path that differs between two trees (no rename detection)."""

    status: str  # "A" added, "D" deleted, "M" modified (content or mode)
    path: str
    old_oid: str | None
    new_oid: str | None
    old_mode: int | None
    new_mode: int | None


@dataclass(frozen=True)
class RefUpdate:
    """Set `name` to `new` only if it is `old` now (None: must not exist / delete)."""

    name: str
    new: str | None
    old: str | None


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


@dataclass(frozen=True)
class CommitInfo:
    oid: str
    tree: str
    parents: tuple[str, ...]
    author: Identity
    author_time: int
    committer: Identity
    commit_time: int
    message: str


@dataclass(frozen=True)
class TagInfo:
    oid: str
    name: str
    target: str
    target_type: str
    tagger: Identity | None
    tag_time: int | None
    message: str


def _hex(oid: object) -> str:
    return str(oid)


class Repository:
    """A git repository opened for Canonry: refuses shallow and SHA-256 ones."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, allow_shallow: bool = False):
        start = os.fspath(path) if path is not None else os.getcwd()
        found = pygit2.discover_repository(start)
        if found is None:
            raise NotARepositoryError(
                f"not a git repository: {start} (run `canonry init` or pass --repo PATH)"
            )
        self._check_object_format(Path(found))
        try:
            self.git = pygit2.Repository(found)
        except pygit2.GitError as exc:
            raise UnsupportedRepositoryError(f"cannot open repository {found}: {exc}") from None
        if self.git.is_shallow and not allow_shallow:
            raise ShallowCloneError(
                f"{self.describe()} is a shallow clone: gates and history need all of it"
                " (run `git fetch --unshallow`)"
            )
        self.is_shallow = self.git.is_shallow

    @staticmethod
    def _check_object_format(git_dir: Path) -> None:
        # pygit2 1.21 cannot open SHA-256 repositories ("unknown object format"):
        # say so clearly instead of surfacing libgit2's message.
        config = git_dir / "config"
        try:
            text = config.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        if re.search(r"^\s*objectformat\s*=\s*sha256\s*$", text, re.I | re.M):
            raise UnsupportedRepositoryError(
                f"{git_dir} uses SHA-256 object ids, which Canonry cannot read yet"
            )

    # --- where it is -----------------------------------------------------------

    @property
    def git_dir(self) -> Path:
        return Path(self.git.path)

    @property
    def workdir(self) -> Path | None:
        return Path(self.git.workdir) if self.git.workdir else None

    @property
    def is_bare(self) -> bool:
        return bool(self.git.is_bare)

    def describe(self) -> str:
        return str(self.workdir or self.git_dir)

    def cache_dir(self) -> Path:
        return self.git_dir / "canonry"

    # --- refs --------------------------------------------------------------------

    def ref_target(self, name: str) -> str | None:
        """The direct target of a ref (a tag object for annotated tags), or None."""
        try:
            ref = self.git.references.get(name)
        except (pygit2.GitError, ValueError):
            return None
        if ref is None:
            return None
        ref = ref.resolve()
        return _hex(ref.target)

    def refs(self, prefix: str) -> dict[str, str]:
        """Every ref under prefix with its direct target."""
        out: dict[str, str] = {}
        for name in self.git.references:
            if name.startswith(prefix):
                target = self.ref_target(name)
                if target is not None:
                    out[name] = target
        return out

    def head_branch(self) -> str | None:
        try:
            if self.git.head_is_unborn:
                return self.git.references["HEAD"].target  # type: ignore[return-value]
            if self.git.head_is_detached:
                return None
            return str(self.git.head.name)
        except pygit2.GitError:
            return None

    def resolve_commit(self, ref: str) -> str:
        """The commit a ref, tag, or revision names (tags peeled)."""
        if not ref or ref.startswith("-") or "\x00" in ref:
            raise UnknownRefError(ref)
        try:
            obj = self.git.revparse_single(ref)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise UnknownRefError(ref) from None
        return _hex(commit.id)

    def try_resolve_commit(self, ref: str) -> str | None:
        try:
            return self.resolve_commit(ref)
        except UnknownRefError:
            return None

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
            if u.new is None:
                lines.append(f"delete {u.name} {old}")
            else:
                lines.append(f"update {u.name} {u.new} {old}")
        lines += ["prepare", "commit", ""]
        proc = self.run_git(["update-ref", "--stdin", "-m", message], input="\n".join(lines), check=False)
        if proc.returncode != 0:
            for u in updates:
                actual = self.ref_target(u.name)
                if actual != u.old:
                    raise RefMovedError(u.name, u.old, actual)
            raise GitCommandError(f"git update-ref failed: {proc.stderr.strip()}")

    # --- objects -----------------------------------------------------------------

    def _object(self, oid: str) -> pygit2.Object:
        try:
            return self.git[oid]
        except (KeyError, ValueError):
            raise CorruptObjectError(f"object {oid} is missing from {self.describe()}") from None

    def commit(self, ref_or_oid: str) -> CommitInfo:
        oid = ref_or_oid if _is_oid(ref_or_oid) else self.resolve_commit(ref_or_oid)
        c = self._object(oid)
        if not isinstance(c, pygit2.Commit):
            raise UnknownRefError(ref_or_oid, "not a commit")
        return CommitInfo(
            oid=_hex(c.id),
            tree=_hex(c.tree_id),
            parents=tuple(_hex(p) for p in c.parent_ids),
            author=Identity(c.author.name, c.author.email),
            author_time=c.author.time,
            committer=Identity(c.committer.name, c.committer.email),
            commit_time=c.committer.time,
            message=c.message,
        )

    def tree_of(self, commit: str) -> str:
        obj = self._object(commit)
        c = obj.peel(pygit2.Commit) if isinstance(obj, pygit2.Tag) else obj
        if not isinstance(c, pygit2.Commit):
            raise UnknownRefError(commit, "not a commit")
        return _hex(c.tree_id)

    def subtree(self, tree: str, path: str) -> str | None:
        """The id of the tree at path inside tree, or None when there is none."""
        t = self._object(tree)
        assert isinstance(t, pygit2.Tree)
        if not path or path == ".":
            return tree
        try:
            entry = t[path]
        except KeyError:
            return None
        return _hex(entry.id) if entry.filemode == FileMode.TREE else None

    def entry_at(self, tree: str, path: str) -> TreeItem | None:
        """The tree item at path (blob, tree, link, submodule), or None."""
        t = self._object(tree)
        assert isinstance(t, pygit2.Tree)
        try:
            entry = t[path]
        except KeyError:
            return None
        return TreeItem(entry.name or "", _hex(entry.id), int(entry.filemode))

    def list_tree(self, tree: str) -> list[TreeItem]:
        t = self._object(tree)
        if not isinstance(t, pygit2.Tree):
            raise CorruptObjectError(f"object {tree} is not a tree")
        return [TreeItem(e.name or "", _hex(e.id), int(e.filemode)) for e in t]

    def walk_tree(self, tree: str, prefix: str = "") -> Iterator[tuple[str, TreeItem]]:
        """Every non-tree item below tree, with its path relative to tree."""
        for item in self.list_tree(tree):
            path = f"{prefix}{item.name}"
            if item.is_tree:
                yield from self.walk_tree(item.oid, path + "/")
            else:
                yield path, item

    def read_blob(self, oid: str) -> bytes:
        b = self._object(oid)
        if not isinstance(b, pygit2.Blob):
            raise CorruptObjectError(f"object {oid} is not a blob")
        return bytes(b.data)

    def blob_size(self, oid: str) -> int:
        try:
            _type, size = self.git.odb.read_header(oid)
        except (KeyError, ValueError, pygit2.GitError):
            raise CorruptObjectError(f"object {oid} is missing") from None
        return int(size)

    def has_object(self, oid: str) -> bool:
        try:
            return oid in self.git.odb
        except (ValueError, pygit2.GitError):
            return False

    def diff_trees(self, old_tree: str | None, new_tree: str | None) -> list[Change]:
        """Paths that differ between two trees; cost follows the change."""
        if old_tree == new_tree:
            return []
        a = self._object(old_tree) if old_tree else None
        b = self._object(new_tree) if new_tree else None
        if a is None and b is None:
            return []
        if a is None:
            assert isinstance(b, pygit2.Tree)
            return [Change("A", p, None, i.oid, None, i.mode) for p, i in self.walk_tree(_hex(b.id))]
        if b is None:
            assert isinstance(a, pygit2.Tree)
            return [Change("D", p, i.oid, None, i.mode, None) for p, i in self.walk_tree(_hex(a.id))]
        assert isinstance(a, pygit2.Tree) and isinstance(b, pygit2.Tree)
        out: list[Change] = []
        # Iterate deltas, not patches: patches would compute text diffs.
        for d in a.diff_to_tree(b).deltas:
            status = {"A": "A", "D": "D"}.get(d.status_char(), "M")
            old_oid = None if status == "A" else _hex(d.old_file.id)
            new_oid = None if status == "D" else _hex(d.new_file.id)
            out.append(
                Change(
                    status,
                    d.new_file.path if status != "D" else d.old_file.path,
                    old_oid,
                    new_oid,
                    None if status == "A" else int(d.old_file.mode),
                    None if status == "D" else int(d.new_file.mode),
                )
            )
        return out

    # --- writing -------------------------------------------------------------------

    def write_blob(self, data: bytes) -> str:
        return _hex(self.git.create_blob(data))

    def write_tree(self, base_tree: str | None, changes: dict[str, bytes | None]) -> str:
        """A new tree: base_tree with each path set to bytes (a 100644 blob) or removed.

        Only the subtrees on changed paths are rewritten (TreeBuilder per level).
        """
        items = {p: None if d is None else (self.write_blob(d), BLOB_MODE) for p, d in changes.items()}
        return self.update_tree(base_tree, items)

    def update_tree(self, base_tree: str | None, items: dict[str, tuple[str, int] | None]) -> str:
        """A new tree: base_tree with each path set to an existing object (oid, mode) or removed.

        Like write_tree, but keeps modes (executables, links) of objects already stored. A
        folder written where a file was (or the reverse) replaces it.
        """
        nested: dict[str, object] = {}
        for path, item in items.items():
            parts = [p for p in path.split("/") if p]
            if not parts or any(p in {".", ".."} for p in parts):
                raise ValueError(f"bad path: {path!r}")
            node = nested
            for part in parts[:-1]:
                child = node.get(part)
                if child is None:  # absent, or a file removed to make way for a folder
                    child = node[part] = {}
                if not isinstance(child, dict):  # a file set where this folder was
                    if item is not None:
                        raise ValueError(f"path {path!r} goes through a file")
                    break
                node = child
            else:
                if item is not None or not isinstance(node.get(parts[-1]), dict):
                    node[parts[-1]] = item
        return self._update_level(base_tree, nested) or _hex(self.git.TreeBuilder().write())

    def _update_level(self, tree: str | None, items: dict[str, object]) -> str | None:
        base = self._object(tree) if tree else None
        if base is not None and not isinstance(base, pygit2.Tree):
            raise CorruptObjectError(f"object {tree} is not a tree")
        builder = self.git.TreeBuilder(base) if base is not None else self.git.TreeBuilder()
        for name, item in items.items():
            existing = builder.get(name)
            if isinstance(item, dict):
                # a folder where there was a file replaces the file
                is_tree = existing is not None and existing.filemode == FileMode.TREE
                sub = self._update_level(_hex(existing.id) if is_tree else None, item)
                if sub is None:
                    if existing is not None:
                        builder.remove(name)
                else:
                    builder.insert(name, pygit2.Oid(hex=sub), FileMode.TREE)
            elif item is None:
                if existing is not None:
                    builder.remove(name)
            else:
                assert isinstance(item, tuple)
                builder.insert(name, pygit2.Oid(hex=item[0]), item[1])
        return _hex(builder.write()) if len(builder) else None

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

    def create_commit(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        author: Identity,
        committer: Identity | None = None,
        when: int | None = None,
    ) -> str:
        """Write a commit object; no ref moves (use update_refs for that)."""
        t = epoch_now() if when is None else when
        a = pygit2.Signature(author.name, author.email, t, 0)
        c = pygit2.Signature((committer or author).name, (committer or author).email, t, 0)
        oid = self.git.create_commit(
            None, a, c, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
        )
        return _hex(oid)

    def create_tag_object(
        self, name: str, target: str, message: str, tagger: Identity, when: int | None = None
    ) -> str:
        """Write an annotated tag object without creating its ref."""
        t = epoch_now() if when is None else when
        raw = (
            f"object {target}\ntype commit\ntag {name}\n"
            f"tagger {tagger.name} <{tagger.email}> {t} +0000\n\n{message}"
        )
        if not raw.endswith("\n"):
            raw += "\n"
        return _hex(self.git.odb.write(ObjectType.TAG, raw.encode("utf-8")))

    def write_raw_tag(self, raw: bytes) -> str:
        return _hex(self.git.odb.write(ObjectType.TAG, raw))

    def tag(self, oid: str) -> TagInfo | None:
        """The annotated tag object oid, or None when oid is not a tag object."""
        obj = self._object(oid)
        if not isinstance(obj, pygit2.Tag):
            return None
        tagger = obj.tagger
        return TagInfo(
            oid=oid,
            name=obj.name or "",
            target=_hex(obj.target),
            target_type=obj.get_object().type_str,
            tagger=Identity(tagger.name, tagger.email) if tagger else None,
            tag_time=tagger.time if tagger else None,
            message=obj.message or "",
        )

    def raw_object(self, oid: str) -> bytes:
        return bytes(self._object(oid).read_raw())

    # --- history -------------------------------------------------------------------

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        if ancestor == descendant:
            return True
        return bool(self.git.descendant_of(pygit2.Oid(hex=descendant), pygit2.Oid(hex=ancestor)))

    def merge_base(self, a: str, b: str) -> str | None:
        base = self.git.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        return _hex(base) if base else None

    def walk(self, head: str, hide: Sequence[str] = (), topo: bool = True) -> Iterator[CommitInfo]:
        """Commits reachable from head and not from hide, newest first."""
        mode = (
            pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
            if topo
            else pygit2.enums.SortMode.TIME
        )
        walker = self.git.walk(pygit2.Oid(hex=head), mode)
        for h in hide:
            walker.hide(pygit2.Oid(hex=h))
        for c in walker:
            yield self.commit(_hex(c.id))

    def count_between(self, a: str, b: str) -> tuple[int, int]:
        """(ahead, behind) of b relative to a."""
        ahead, behind = self.git.ahead_behind(pygit2.Oid(hex=b), pygit2.Oid(hex=a))
        return int(ahead), int(behind)

    # --- notes ---------------------------------------------------------------------

    def read_note(self, notes_ref: str, target: str) -> str | None:
        try:
            note = self.git.lookup_note(target, notes_ref)
        except (KeyError, pygit2.GitError):
            return None
        return str(note.message)

    def notes(self, notes_ref: str) -> dict[str, str]:
        """{annotated object id: note text} for every note under notes_ref."""
        if self.ref_target(notes_ref) is None:
            return {}
        out: dict[str, str] = {}
        for note in self.git.notes(notes_ref):  # type: ignore[call-arg]
            out[_hex(note.annotated_id)] = str(note.message)
        return out

    def write_note(self, notes_ref: str, target: str, text: str, author: Identity, message: str) -> None:
        """Set the note on target under notes_ref, compare-and-swap on the notes ref."""
        old = self.ref_target(notes_ref)
        base_tree = self.commit(old).tree if old else None
        # Notes trees may be fanned out by git; replace any existing note for target.
        existing = None
        if base_tree:
            for path, _item in self.walk_tree(base_tree):
                if path.replace("/", "") == target:
                    existing = path
                    break
        changes: dict[str, bytes | None] = {}
        if existing and existing != target:
            changes[existing] = None
        changes[target] = text.encode("utf-8")
        tree = self.write_tree(base_tree, changes)
        commit = self.create_commit(tree, [old] if old else [], message, author)
        self.update_refs([RefUpdate(notes_ref, commit, old)], message)

    # --- mirrors and signatures (runtime) ------------------------------------------

    def fetch_refspecs(
        self, url: str, refspecs: Sequence[str], timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`git fetch URL REFSPEC...` checking every incoming object; packs are kept as packs.

        fetch.unpackLimit=1 keeps fetched objects packed, so a mirror holds no
        loose objects (see check_object_store); fsckObjects refuses bad objects.
        """
        args = [
            "-c", "fetch.fsckObjects=true", "-c", "fetch.unpackLimit=1", "-c", "gc.auto=0",
            "fetch", "--quiet", "--no-tags", "--prune", "--no-write-fetch-head", "--", url, *refspecs,
        ]  # fmt: skip
        return self.run_git(args, check=False, timeout=timeout)

    def fsck(self, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`git fsck --strict` (every object, connectivity, bad tree names like `..`)."""
        return self.run_git(
            ["fsck", "--strict", "--no-dangling", "--no-progress"], check=False, timeout=timeout
        )

    def verify_tag_signature(
        self, tag_oid: str, allowed_signers: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """`git verify-tag --raw` on a tag object; the signer's trust comes from allowed_signers.

        pygit2 cannot verify signatures (FACTS.md). The raw output lands on stderr.
        """
        config = ["-c", f"gpg.ssh.allowedSignersFile={allowed_signers}"] if allowed_signers else []
        return self.run_git([*config, "verify-tag", "--raw", tag_oid], check=False, timeout=timeout)

    def config_value(self, key: str) -> str | None:
        """A git config value as git sees it for this repository (None when unset)."""
        proc = self.run_git(["config", "--get", key], check=False, timeout=30)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def check_object_store(self) -> list[str]:
        """Problems of the object store that libgit2 would not survive: one line each.

        libgit2 1.9.7 spins forever, holding the GIL, on a truncated loose object
        (libgit2 issue 7342, fixed upstream by PR 7346), so a thread with a timeout
        cannot bound the read: every loose object is inflated and hashed here, in
        Python, before libgit2 sees it. A pack is checked against its index's
        record of the pack's checksum (truncation makes libgit2 report objects as
        missing). Cost follows the number of loose objects, so use it on mirrors.
        """
        objects = self.git_dir / "objects"
        problems: list[str] = []
        for fan in sorted(objects.glob("[0-9a-f][0-9a-f]")):
            for path in sorted(fan.iterdir()):
                oid = fan.name + path.name
                if len(oid) == 40:
                    problem = _loose_object_problem(path, oid)
                    if problem:
                        problems.append(f"object {oid}: {problem}")
        for pack in sorted((objects / "pack").glob("pack-*.pack")):
            problem = _pack_problem(pack)
            if problem:
                problems.append(f"{pack.name}: {problem}")
        return problems

    # --- plain git -----------------------------------------------------------------

    def run_git(
        self,
        args: Sequence[str],
        input: str | bytes | None = None,
        check: bool = True,
        timeout: float | None = 600,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run git on this repository (for what pygit2 lacks: atomic push, verify-tag)."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("GIT_TERMINAL_PROMPT", "0")
        cmd = ["git", f"--git-dir={self.git_dir}"]
        if self.workdir:
            cmd.append(f"--work-tree={self.workdir}")
        try:
            proc = subprocess.run(
                [*cmd, *args],
                input=input.decode() if isinstance(input, bytes) else input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=full_env,
            )
        except subprocess.TimeoutExpired:
            raise GitCommandError(f"git {' '.join(args[:2])} timed out") from None
        except FileNotFoundError:
            raise GitCommandError("git is not installed (Canonry needs the git command)") from None
        if check and proc.returncode != 0:
            raise GitCommandError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()}")
        return proc


def _is_oid(value: str) -> bool:
    return len(value) == 40 and all(c in "0123456789abcdef" for c in value)


_MAX_LOOSE = 256 * 1024 * 1024  # inflated bytes a loose object may claim before it is refused


def _loose_object_problem(path: Path, oid: str) -> str | None:
    """Why a loose object file does not hold the object its name says, or None."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, _MAX_LOOSE + 64)
    except zlib.error:
        return "not zlib data"
    if not inflater.eof:
        return "truncated" if not inflater.unconsumed_tail else "too large"
    header, nul, body = raw.partition(b"\0")
    kind, _space, size = header.partition(b" ")
    if not nul or kind not in {b"blob", b"tree", b"commit", b"tag"} or not size.isdigit():
        return "bad header"
    if int(size) != len(body):
        return f"size {len(body)} where the header says {int(size)}"
    if hashlib.sha1(raw).hexdigest() != oid:
        return "content does not hash to its id"
    return None


def _pack_problem(pack: Path) -> str | None:
    """Why a pack does not match its index (the index records the pack's trailing checksum)."""
    index = pack.with_suffix(".idx")
    try:
        with pack.open("rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() < 32:
                return "truncated"
            f.seek(-20, os.SEEK_END)
            trailer = f.read(20)
        with index.open("rb") as f:
            f.seek(-40, os.SEEK_END)
            recorded = f.read(20)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    return None if trailer == recorded else "does not match its index (truncated or overwritten)"


def init_repository(path: str | os.PathLike[str], bare: bool = False) -> Repository:
    """Create (or reuse) a git repository at path with main as its branch."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    if pygit2.discover_repository(str(p)) is None or not (p / ".git").exists() and not bare:
        pygit2.init_repository(str(p), bare=bare, initial_head="main")
    return Repository(p)
