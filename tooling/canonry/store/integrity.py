"""Bounded object reads: loose objects are read by Python, packs are checked against their index.

libgit2 1.9.7 spins forever, holding the GIL, on a truncated loose object
(libgit2 issue 7342, fixed upstream by PR 7346), so neither a thread nor a
timeout can bound such a read. The repository is therefore opened with an
object database of our own: libgit2's pack backend (first, as git orders them)
and a loose-object backend written here, which inflates each object in one
bounded call and raises for anything truncated, oversized or malformed. Every
read goes through it, including the reads libgit2 makes on its own while it
walks history or diffs trees. Part of the one git wrapper (with repo.py and gitcli.py).
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import ObjectType

from ..errors import CorruptObjectError

MAX_LOOSE = 256 * 1024 * 1024  # inflated bytes a loose object may claim before it is refused
_KINDS = {b"commit": int(ObjectType.COMMIT), b"tree": int(ObjectType.TREE), b"blob": int(ObjectType.BLOB)}
_KINDS[b"tag"] = int(ObjectType.TAG)
_NAMES = {v: k for k, v in _KINDS.items()}
_PACK_PRIORITY, _LOOSE_PRIORITY = 2, 1  # libgit2's own order: packs first


class LooseObjects(pygit2.OdbBackend):
    """Loose objects of one objects folder, read and written in Python with bounded work."""

    def __init__(self, objects: Path) -> None:
        super().__init__()
        self.objects = objects
        self._root = str(objects) + os.sep

    def _path(self, oid: Any) -> Path:
        return Path(self._file(oid))

    def _file(self, oid: Any) -> str:
        # A plain string path: libgit2 asks here for every packed object too, so the miss must be cheap.
        name = str(oid)
        return f"{self._root}{name[:2]}{os.sep}{name[2:]}"

    def _inflate(self, oid: Any, limit: int) -> tuple[int, bytes, bool]:
        """(type, body, complete) of the object, at most `limit` inflated bytes."""
        try:
            with open(self._file(oid), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise KeyError(str(oid)) from None
        except OSError as exc:
            raise CorruptObjectError(f"object {oid} is unreadable ({exc.strerror})") from None
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(data, limit + 64)
        except zlib.error:
            raise CorruptObjectError(f"object {oid} is damaged (not zlib data)") from None
        header, nul, body = raw.partition(b"\0")
        kind, _space, size = header.partition(b" ")
        if not nul or kind not in _KINDS or not size.isdigit():
            raise CorruptObjectError(f"object {oid} is damaged (bad header)")
        complete = inflater.eof
        if int(size) > MAX_LOOSE:
            raise CorruptObjectError(f"object {oid} claims {int(size)} bytes, over the limit of {MAX_LOOSE}")
        if complete and int(size) != len(body):
            raise CorruptObjectError(
                f"object {oid} is damaged ({len(body)} bytes where its header says {int(size)})"
            )
        return _KINDS[kind], body, complete

    def read_cb(self, oid: Any) -> tuple[int, bytes]:
        kind, body, complete = self._inflate(oid, MAX_LOOSE)
        if not complete:
            raise CorruptObjectError(f"object {oid} is truncated (its loose file ends early)")
        return kind, body

    def read_prefix_cb(self, oid: Any) -> tuple[int, bytes, Any]:
        kind, body = self.read_cb(oid)
        return kind, body, oid

    def read_header_cb(self, oid: Any) -> tuple[int, int]:
        kind, body, complete = self._inflate(oid, MAX_LOOSE)
        if not complete:
            raise CorruptObjectError(f"object {oid} is truncated (its loose file ends early)")
        return kind, len(body)

    def exists_cb(self, oid: Any) -> bool:
        return os.path.isfile(self._file(oid))

    def exists_prefix_cb(self, oid: Any) -> Any:
        raise KeyError(str(oid))  # abbreviated ids are resolved by refs and revparse, not here

    def refresh_cb(self) -> None:
        return None

    def write_cb(self, oid: Any, data: bytes, kind: int) -> None:
        path = self._path(oid)
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = _NAMES[int(kind)] + b" %d\0" % len(data) + bytes(data)
        tmp = path.with_name(f"tmp_obj_{os.getpid()}_{path.name}")
        with open(tmp, "wb") as f:
            f.write(zlib.compress(raw, 1))  # git's own default for loose objects
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)

    def __iter__(self) -> Any:
        return iter(())


def open_git(git_dir: str) -> pygit2.Repository:
    """pygit2's repository at git_dir, reading objects only through bounded backends."""
    repo = pygit2.Repository(git_dir)
    odb = pygit2.Odb()
    for objects in _object_folders(Path(repo.path) / "objects"):
        if (objects / "pack").is_dir():
            odb.add_backend(pygit2.OdbBackendPack(str(objects)), _PACK_PRIORITY)
        odb.add_backend(LooseObjects(objects), _LOOSE_PRIORITY)
    repo.set_odb(odb)
    return repo


def _object_folders(objects: Path, depth: int = 0) -> list[Path]:
    """The objects folder and its alternates (objects/info/alternates), as git follows them."""
    folders = [objects]
    try:
        lines = (objects / "info" / "alternates").read_text(encoding="utf-8").splitlines()
    except OSError:
        return folders
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#") and depth < 5:
            alt = Path(line) if os.path.isabs(line) else (objects / line).resolve()
            if alt.is_dir():
                folders += _object_folders(alt, depth + 1)
    return folders


def diagnose(git_dir: Path) -> str:
    """Why objects may be missing or unreadable: packs without an index or not matching it ('' if none)."""
    problems = [f"{p.name}: {why}" for p in _packs(git_dir / "objects") if (why := pack_problem(p))]
    if not problems:
        return ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


def _packs(objects: Path) -> list[Path]:
    return sorted((objects / "pack").glob("pack-*.pack"))


def check_object_store(git_dir: Path) -> list[str]:
    """Every loose object inflated and hashed, every pack checked against its index: one line per problem.

    Cost follows the number of loose objects, so use it on mirrors as they arrive.
    """
    objects = git_dir / "objects"
    problems: list[str] = []
    for fan in sorted(objects.glob("[0-9a-f][0-9a-f]")):
        for path in sorted(fan.iterdir()):
            oid = fan.name + path.name
            if len(oid) == 40:
                problem = loose_object_problem(path, oid)
                if problem:
                    problems.append(f"object {oid}: {problem}")
    for pack in _packs(objects):
        problem = pack_problem(pack)
        if problem:
            problems.append(f"{pack.name}: {problem}")
    return problems


def loose_object_problem(path: Path, oid: str) -> str | None:
    """Why a loose object file does not hold the object its name says, or None."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, MAX_LOOSE + 64)
    except zlib.error:
        return "not zlib data"
    if not inflater.eof:
        return "truncated" if not inflater.unconsumed_tail else "too large"
    header, nul, body = raw.partition(b"\0")
    kind, _space, size = header.partition(b" ")
    if not nul or kind not in _KINDS or not size.isdigit():
        return "bad header"
    if int(size) != len(body):
        return f"size {len(body)} where the header says {int(size)}"
    if hashlib.sha1(raw).hexdigest() != oid:
        return "content does not hash to its id"
    return None


def pack_problem(pack: Path) -> str | None:
    """Why a pack cannot be trusted: no index, or a trailing checksum its index does not record."""
    index = pack.with_suffix(".idx")
    if not index.exists():
        return "has no index (.idx): its objects cannot be found (rebuild it with `git index-pack`)"
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
