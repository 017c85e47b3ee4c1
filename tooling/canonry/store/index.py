"""Derived indexes that travel with the data: one verified git object per library tree.

What the gates and the runtime derive from a library tree (the entry id -> blob
index, exact keys, the near-duplicate index, conflict keys) is written once, when
the tree is published or by `canonry index build`, as one object in git reachable
from `refs/canonry/index/<tree id>`, and fetched with the tags. The format is in
docs/index-format.md. A reader checks the key (the tree id), the format version
and the digest, then that the file list hashes to the tree id itself; anything
that fails is ignored with a warning and the index is built from scratch. The
gates also re-derive a sample of entries from their blobs (content.py) before
they use a shipped section.

Layering: this module knows sections as named JSON-able values; what a section
holds is defined by whoever builds it (gates/content.py for the gate indexes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zlib
from collections.abc import Iterable
from typing import Any

from .refnames import INDEX_PREFIX
from .repo import BLOB_MODE, TREE_MODE, Identity, RefUpdate, Repository

FORMAT = "canonry-index/1"
REF_PREFIX = INDEX_PREFIX
FILE_NAME = "canonry-index"
FILES = "files"  # the section every object has: [[relative path, blob id, mode], ...]
MAX_BYTES = 2 << 30  # inflated size an object may claim before it is refused (1,000,000 entries: ~0.7 GB)
AUTHOR = Identity("Canonry", "canonry@localhost")
_BYTES = "\x00b64"
_WARNED: set[str] = set()
_MEMORY: dict[tuple[str, str], dict[str, Any] | None] = {}


class IndexProblem(Exception):
    """Why a stored index object is not used (internal: readers warn and rebuild)."""


def ref_name(tree: str) -> str:
    return REF_PREFIX + tree


def refs_for(repo: Repository, trees: Iterable[str | None]) -> list[str]:
    """The index refs that exist for the given library trees: push them with the version tags."""
    out = []
    for tree in trees:
        if tree and repo.ref_target(ref_name(tree)) is not None:
            out.append(ref_name(tree))
    return sorted(set(out))


# --- the object -------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _from_json(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _BYTES in obj:
        return base64.b64decode(obj[_BYTES], validate=True)
    return obj


def _digest(tree: str, body: bytes) -> str:
    return hashlib.sha256(f"{FORMAT}\0{tree}\0".encode() + body).hexdigest()


def encode(tree: str, sections: dict[str, Any]) -> bytes:
    """The bytes of an index object for a library tree (deterministic for the same sections)."""
    if FILES not in sections:
        raise ValueError(f"an index object needs its {FILES!r} section")
    text = json.dumps(_jsonable(sections), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    body = zlib.compress(text.encode("utf-8"), 6)
    header = f"{FORMAT}\ntree {tree}\nsize {len(text.encode('utf-8'))}\nsha256 {_digest(tree, body)}\n\n"
    return header.encode("ascii") + body


def decode(data: bytes, tree: str) -> dict[str, Any]:
    """The sections of an index object for `tree`; IndexProblem when anything does not check out."""
    header, sep, body = data.partition(b"\n\n")
    if not sep:
        raise IndexProblem("no header")
    lines = header.decode("ascii", "replace").split("\n")
    if lines[0] != FORMAT:
        raise IndexProblem(f"format {lines[0][:40]!r}, this Canonry reads {FORMAT!r}")
    fields = dict(line.partition(" ")[::2] for line in lines[1:])
    if fields.get("tree") != tree:
        raise IndexProblem(f"made for tree {fields.get('tree')!r}, not {tree}")
    if fields.get("sha256") != _digest(tree, body):
        raise IndexProblem("digest mismatch (corrupt or altered)")
    try:
        size = int(fields.get("size", ""))
        if not 0 < size <= MAX_BYTES:
            raise IndexProblem(f"claims {size} bytes")
        inflater = zlib.decompressobj()
        text = inflater.decompress(body, size + 1)
        if len(text) != size or not inflater.eof:
            raise IndexProblem("body size differs from its header")
        sections = json.loads(text.decode("utf-8"), object_hook=_from_json)
    except (ValueError, zlib.error, UnicodeDecodeError, RecursionError) as exc:
        raise IndexProblem(f"unreadable body: {type(exc).__name__}") from None
    if not isinstance(sections, dict) or not isinstance(sections.get(FILES), list):
        raise IndexProblem("no file list")
    if tree_id_of(sections[FILES]) != tree:
        raise IndexProblem("its file list does not hash to the tree it claims")
    return sections


def tree_id_of(files: list[Any]) -> str | None:
    """The git tree id of a folder holding exactly these (relative path, blob id, mode) files."""
    root: dict[str, Any] = {}
    for item in files:
        if not (isinstance(item, list | tuple) and len(item) == 3):
            return None
        path, oid, mode = item
        if not (isinstance(path, str) and isinstance(oid, str) and isinstance(mode, int)) or len(oid) != 40:
            return None
        *folders, name = path.split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder, {})
            if not isinstance(node, dict):
                return None
        if not name or name in node:
            return None
        node[name] = (mode, oid)

    def build(node: dict[str, Any]) -> str:
        items = []
        for name, value in node.items():
            if isinstance(value, dict):
                items.append((name + "/", name, TREE_MODE, build(value)))
            else:
                items.append((name, name, value[0], value[1]))
        items.sort()  # git's order: a folder sorts as if its name ended with "/"
        raw = b"".join(
            f"{mode:o} {name}".encode() + b"\0" + bytes.fromhex(oid) for _, name, mode, oid in items
        )
        return hashlib.sha1(b"tree %d\0" % len(raw) + raw).hexdigest()

    try:
        return build(root)
    except (ValueError, RecursionError):
        return None


# --- reading and writing in a repository -----------------------------------------------


def write(repo: Repository, tree: str, sections: dict[str, Any]) -> str:
    """Store the object for tree and point refs/canonry/index/<tree> at it; return the commit."""
    blob = repo.write_blob(encode(tree, sections))
    holder = repo.update_tree(None, {FILE_NAME: (blob, BLOB_MODE)})
    message = f"canonry index of library tree {tree}\n\nformat: {FORMAT}\n"
    commit = repo.create_commit(holder, [], message, AUTHOR, when=0)
    name = ref_name(tree)
    old = repo.ref_target(name)
    if old != commit:
        repo.update_refs([RefUpdate(name, commit, old)], f"canonry index: {tree}")
    _MEMORY.pop((str(repo.git_dir), tree), None)
    return commit


def read(repo: Repository, tree: str) -> dict[str, Any] | None:
    """The verified sections shipped for a library tree, or None (missing, or rejected with a warning)."""
    key = (str(repo.git_dir), tree)
    if key in _MEMORY:
        return _MEMORY[key]
    sections = None
    commit = repo.ref_target(ref_name(tree))
    if commit is not None:
        try:
            sections = decode(_object_bytes(repo, commit), tree)
        except IndexProblem as exc:
            warn(f"{ref_name(tree)}: ignored ({exc}); building the index from the entries instead")
    if len(_MEMORY) >= 8:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = sections
    return sections


def reject(repo: Repository, tree: str) -> None:
    """Forget a shipped index for the rest of the process (a reader found it wrong)."""
    _MEMORY[(str(repo.git_dir), tree)] = None


def _object_bytes(repo: Repository, commit: str) -> bytes:
    from ..errors import CanonryError

    try:
        holder = repo.tree_of(commit)
        item = repo.entry_at(holder, FILE_NAME)
        if item is None or item.is_tree:
            raise IndexProblem(f"no {FILE_NAME} file in {commit[:12]}")
        if repo.blob_size(item.oid) > MAX_BYTES:
            raise IndexProblem("too large")
        return repo.read_blob(item.oid)
    except CanonryError as exc:
        raise IndexProblem(f"unreadable: {exc}") from None


def shipped_trees(repo: Repository) -> list[str]:
    """The tree ids that have an index ref."""
    return sorted(name[len(REF_PREFIX) :] for name in repo.refs(REF_PREFIX))


def nearest(
    repo: Repository, tree: str, max_changes: int, candidates: Iterable[str] | None = None
) -> tuple[str, dict[str, Any]] | None:
    """A verified shipped index of another tree at most max_changes files away from tree, the closest.

    `candidates` limits the trees tried (each costs a tree diff); default: every shipped tree.
    """
    best: tuple[int, str] | None = None
    shipped = set(shipped_trees(repo))
    for other in candidates if candidates is not None else sorted(shipped):
        if other not in shipped:
            continue
        if other == tree:
            continue
        try:
            changes = len(repo.diff_trees(other, tree))
        except Exception:  # a ref naming a tree this clone lacks: not a candidate
            continue
        if changes <= max_changes and (best is None or changes < best[0]):
            best = (changes, other)
    if best is None:
        return None
    sections = read(repo, best[1])
    return (best[1], sections) if sections is not None else None


def warn(message: str) -> None:
    """One warning per message per process, on stderr (a rejected index costs speed, never correctness)."""
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"canonry: warning: {message}", file=sys.stderr)
