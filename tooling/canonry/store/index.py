"""Derived indexes that travel with the data: one verified git object per library tree.

What the gates derive from a library tree (exact keys, the near-duplicate
index, conflict keys, confidence thresholds, citation counts...) is written
once, when the tree is published or by `canonry index build`, as one object in
git reachable from `refs/canonry/index/<tree id>`, and fetched with the tags.
The format is in docs/index-format.md: a header naming the format and the
tree, a manifest of sections, and each section compressed on its own with its
own digest, so a reader inflates and checks only the sections it uses. A
reader checks the key (the tree id), the format version and the manifest's
digest when it opens the object, and a section's digest when it first reads
it; anything that fails is ignored with a warning and the index is built from
the entries instead. The gates also re-derive a sample of entries of the tree
itself (gates/index_audit.py) before they use a section.

Layering: this module knows sections as named byte strings; what a section
holds is defined by whoever builds it (gates/derived.py).
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from collections.abc import Iterable, Mapping

from .refnames import INDEX_PREFIX
from .repo import BLOB_MODE, Identity, RefUpdate, Repository

FORMAT = "canonry-index/2"
REF_PREFIX = INDEX_PREFIX
FILE_NAME = "canonry-index"
MAX_BYTES = 2 << 30  # inflated size a section may claim before it is refused
MAX_MANIFEST = 1 << 20
AUTHOR = Identity("Canonry", "canonry@localhost")
_WARNED: set[str] = set()
_MEMORY: dict[tuple[str, str], Shipped | None] = {}


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


def _digest(tree: str, manifest: bytes) -> str:
    return hashlib.sha256(f"{FORMAT}\0{tree}\0".encode() + manifest).hexdigest()


def encode(tree: str, sections: Mapping[str, bytes]) -> bytes:
    """The bytes of an index object for a library tree (deterministic for the same sections)."""
    rows, payloads, at = [], [], 0
    for name in sorted(sections):
        raw = bytes(sections[name])
        packed = zlib.compress(raw, 6)
        rows.append([name, at, len(packed), len(raw), hashlib.sha256(packed).hexdigest()])
        payloads.append(packed)
        at += len(packed)
    manifest = json.dumps({"sections": rows}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = f"{FORMAT}\ntree {tree}\nmanifest {len(manifest)}\nsha256 {_digest(tree, manifest)}\n\n"
    return header.encode("ascii") + manifest + b"".join(payloads)


class Shipped:
    """An opened index object: its manifest checked; each section checked when first read."""

    def __init__(self, tree: str, sections: dict[str, tuple[int, int, int, str]], body: memoryview) -> None:
        self.tree = tree
        self._sections = sections
        self._body = body
        self._read: dict[str, bytes] = {}

    def names(self) -> list[str]:
        return sorted(self._sections)

    def __contains__(self, name: object) -> bool:
        return name in self._sections

    def section(self, name: str) -> bytes | None:
        """A section's bytes, None when the object has no such section; IndexProblem when it is damaged."""
        if name in self._read:
            return self._read[name]
        row = self._sections.get(name)
        if row is None:
            return None
        offset, length, size, digest = row
        packed = self._body[offset : offset + length]
        if len(packed) != length or hashlib.sha256(packed).hexdigest() != digest:
            raise IndexProblem(f"section {name!r}: digest mismatch (corrupt or altered)")
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, size + 1)
        except zlib.error:
            raise IndexProblem(f"section {name!r}: unreadable") from None
        if len(raw) != size or not inflater.eof:
            raise IndexProblem(f"section {name!r}: its size differs from the manifest")
        self._read[name] = raw
        return raw


def decode(data: bytes, tree: str) -> Shipped:
    """The opened index object for `tree`; IndexProblem when its header or manifest does not check out."""
    header, sep, rest = data.partition(b"\n\n")
    if not sep:
        raise IndexProblem("no header")
    lines = header.decode("ascii", "replace").split("\n")
    if lines[0] != FORMAT:
        raise IndexProblem(f"format {lines[0][:40]!r}, this Canonry reads {FORMAT!r}")
    fields = dict(line.partition(" ")[::2] for line in lines[1:])
    if fields.get("tree") != tree:
        raise IndexProblem(f"made for tree {fields.get('tree')!r}, not {tree}")
    try:
        size = int(fields.get("manifest", ""))
    except ValueError:
        raise IndexProblem("no manifest size") from None
    if not 0 < size <= min(MAX_MANIFEST, len(rest)):
        raise IndexProblem(f"claims a manifest of {size} bytes")
    manifest = rest[:size]
    if fields.get("sha256") != _digest(tree, manifest):
        raise IndexProblem("digest mismatch (corrupt or altered)")
    try:
        rows = json.loads(manifest.decode("utf-8"))["sections"]
        sections: dict[str, tuple[int, int, int, str]] = {}
        for name, offset, length, inflated, digest in rows:
            if not (isinstance(name, str) and isinstance(digest, str)) or name in sections:
                raise ValueError
            if not all(isinstance(n, int) and n >= 0 for n in (offset, length, inflated)):
                raise ValueError
            if inflated > MAX_BYTES:
                raise IndexProblem(f"section {name!r} claims {inflated} bytes")
            sections[name] = (offset, length, inflated, digest)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise IndexProblem("an unreadable manifest") from None
    return Shipped(tree, sections, memoryview(rest)[size:])


# --- reading and writing in a repository -----------------------------------------------


def write(repo: Repository, tree: str, sections: Mapping[str, bytes]) -> str:
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


def read(repo: Repository, tree: str) -> Shipped | None:
    """The opened index object shipped for a library tree, or None (missing, or rejected with a warning)."""
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
) -> tuple[str, Shipped] | None:
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
