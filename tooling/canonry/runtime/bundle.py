"""Export bundles (format canonry.bundle/v1): one JSON document per library version.

For consumers without git. The bundle carries the version's identity (tag,
tag object, commit, library tree), its metadata, every entry, a SHA-256 per
entry and one for the whole bundle:

- an entry's `sha256` is the SHA-256 of the canonical JSON of the entry;
- the bundle's `sha256` is the SHA-256 of the canonical JSON of the bundle
  without its own `sha256` member and with each entry reduced to `id` and
  `sha256` (the entries are covered through their digests).

Canonical JSON is RFC 8785 (see canonical.py), so any language with a JCS
library checks a bundle without Canonry. The file itself is plain JSON in any
layout (digests never depend on it); the layout export writes, one canonical
entry per line, is verified without re-parsing the whole document.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ..errors import CanonryError, UnknownEntryError, UsageError, VerificationError
from ..store.entries import Entry, gc_paused, store_for
from ..store.versions import is_version_selector, parse_library_spec, read_metadata, resolve_version
from .api import Canon
from .canonical import COMPACT_JSON, canonical_json, sha256_of

FORMAT = "canonry.bundle/v1"
_HEADER_KEYS = ("library", "version", "tag", "tag_object", "commit", "tree", "metadata", "entry_count")
_OID = re.compile(r"[0-9a-f]{40}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def bundle_digest(doc: Mapping[str, Any]) -> str:
    """The whole bundle's digest: over the bundle minus `sha256`, entries reduced to id and sha256."""
    skeleton = {k: v for k, v in doc.items() if k != "sha256"}
    skeleton["entries"] = [{"id": e["id"], "sha256": e["sha256"]} for e in doc["entries"]]
    return sha256_of(skeleton)


# --- export --------------------------------------------------------------------------


def export_bundle(canon: Canon, spec: str) -> dict[str, Any]:
    """The canonry.bundle/v1 document of a published version (`mapping@v4`, `mapping@latest`)."""
    with gc_paused():
        header, rows = _export(canon, spec)
    doc = {**header, "entries": [{"id": r[0], "sha256": r[1], "entry": _DECODER.decode(r[2])} for r in rows]}
    doc["sha256"] = bundle_digest(doc)
    return doc


def write_bundle(canon: Canon, spec: str, out: IO[str]) -> dict[str, Any]:
    """Write the bundle of a version as compact JSON, one entry per line; return its header.

    Each entry is written in the canonical form its digest was computed over
    (valid JSON), so nothing is encoded twice.
    """
    with gc_paused():
        header, rows = _export(canon, spec)
    digest = bundle_digest({**header, "entries": [{"id": r[0], "sha256": r[1]} for r in rows]})
    head = {**header, "sha256": digest}
    out.write(COMPACT_JSON.encode(head)[:-1] + ',"entries":[')
    for i, (entry_id, sha, text) in enumerate(rows):
        row_id = COMPACT_JSON.encode(entry_id)
        out.write(f'{"," if i else ""}\n{{"entry":{text},"id":{row_id},"sha256":"{sha}"}}')
    out.write("\n]}\n")
    return head


def _export(canon: Canon, spec: str) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The bundle's header and its rows (id, sha256, canonical JSON), sorted by id.

    An entry's canonical JSON and digest depend only on its blob: they are kept
    in the repository's cache by blob id, so a second export neither parses
    nor encodes an unchanged entry.
    """
    name, version = parse_library_spec(spec)
    if not is_version_selector(version):
        raise UsageError(f"{spec}: export takes a published version (LIBRARY@vN or LIBRARY@latest)")
    lib = canon.library(name, version)
    assert lib.version is not None and lib.tag is not None
    resolved = resolve_version(canon.repo, name, lib.version)
    index = lib.index
    store = store_for(canon.repo)
    keys = {entry_id: _CACHE_KEY + ref.oid for entry_id, ref in index.items()}
    known = store.get_results(list(keys.values()))
    missing = [index[entry_id] for entry_id, key in keys.items() if key not in known]
    if missing:
        parsed = store.get_many(((ref.path, ref) for ref in missing), lib.state)
        fresh = []
        for ref in missing:
            data = parsed[ref.oid]
            if not isinstance(data, dict):
                raise data.error  # an entry that does not parse
            try:
                text = canonical_json(data)
            except ValueError as exc:
                raise CanonryError(f"{lib.tag}: {ref.path}: {exc}") from None
            value = (hashlib.sha256(text.encode("utf-8")).hexdigest(), text)
            known[_CACHE_KEY + ref.oid] = value
            fresh.append((_CACHE_KEY + ref.oid, value))
        store.put_results(fresh)
    rows = [(entry_id, *known[keys[entry_id]]) for entry_id in sorted(index)]
    header = {
        "format": FORMAT,
        "library": name,
        "version": lib.version,
        "tag": lib.tag,
        "tag_object": resolved.target,
        "commit": lib.commit,
        "tree": lib.tree,
        "metadata": read_metadata(canon.repo, resolved),
        "entry_count": len(rows),
        # which reuse scopes it holds, and for which workspace (WORKSPACE_ONLY entries of others: left out)
        "scopes": lib.scopes,
        "workspace": canon.workspace,
    }
    return header, rows


# --- load and verify -----------------------------------------------------------------


class Bundle(Mapping[str, Entry]):
    """A verified bundle: a read-only mapping from entry id to entry, with the version's identity."""

    def __init__(self, head: dict[str, Any], entries: dict[str, Entry], path: str | None = None) -> None:
        self.path = path
        self.format: str = head["format"]
        self.library: str = head["library"]
        self.version: int = head["version"]
        self.tag: str = head["tag"]
        self.tag_object: str = head["tag_object"]
        self.commit: str = head["commit"]
        self.tree: str | None = head["tree"]
        self.metadata: Mapping[str, Any] = Entry(head["metadata"])
        self.sha256: str = head["sha256"]
        self.scopes: list[str] | None = head.get("scopes")
        self.workspace: str | None = head.get("workspace")
        self._entries = entries

    def __getitem__(self, entry_id: str) -> Entry:
        try:
            return self._entries[entry_id]
        except KeyError:
            raise UnknownEntryError(self.library, entry_id, f"{self.tag} (bundle)") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Bundle {self.tag}: {len(self)} entries>"


def load_bundle(path: str | os.PathLike[str], sha256: str | None = None) -> Bundle:
    """Read a canonry.bundle/v1 file and verify every digest; raise VerificationError.

    The digests inside a bundle catch any change made without recomputing them;
    pass `sha256` (the bundle digest learnt from a trusted place, e.g. the
    publisher's release notes) to catch one made by someone who did.
    """
    label = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{label}: cannot read the bundle ({exc.strerror})") from None
    bundle = verify_bundle(data, label)
    if sha256 is not None and bundle.sha256 != sha256.lower():
        raise VerificationError(f"{label}: sha256 {bundle.sha256} is not the expected {sha256}")
    return bundle


_ENTRIES_OPEN = ',"entries":['
_CACHE_KEY = "canonry.bundle/v1 entry:"  # + blob id -> (sha256, canonical JSON) in the entry store
_ROW = re.compile(r'\{"entry":(.*),"id":"([a-z0-9][a-z0-9-]{0,62})","sha256":"([0-9a-f]{64})"\}')


def verify_bundle(data: bytes, label: str = "bundle") -> Bundle:
    """Verify a bundle's bytes: shape, ids, entry digests (over canonical JSON) and the bundle digest."""
    with gc_paused():
        return _verify(data, label)


def _verify(data: bytes, label: str) -> Bundle:
    def fail(problem: str) -> VerificationError:
        return VerificationError(f"{label}: {problem}")

    try:
        text = data.decode("utf-8")
        # The layout `canonry export` writes (one canonical entry per line) is read
        # line by line, without building every row object; any other layout too.
        head, rows = _rows_as_written(text) or _rows_of_any_layout(text)
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise fail(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise fail(str(exc)) from None
    missing = [k for k in (*_HEADER_KEYS, "sha256") if k not in head]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    _check_header(head, fail)
    entries: dict[str, Entry] = {}
    previous = None
    for entry_id, digest, entry in rows:
        try:
            data_, canonical = _canonical_entry(entry)
        except ValueError as exc:
            raise fail(f"entry {entry_id!r}: {exc}") from None
        if not isinstance(data_, dict) or data_.get("id") != entry_id:
            raise fail(f"entry {entry_id!r}: its id field does not match")
        if previous is not None and not previous < entry_id:
            raise fail(f"entry {entry_id!r}: entries are not sorted by id without repeats")
        previous = entry_id
        if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != digest:
            raise fail(f"entry {entry_id}: content does not match its sha256 (changed after export)")
        entries[entry_id] = Entry(data_)
    if head.get("scopes") is not None:
        held = {str(e.get("reuse_scope") or "unscoped") for e in entries.values()}
        if not held <= set(head["scopes"]):
            raise fail(f"holds scopes {sorted(held - set(head['scopes']))} its header does not record")
    if head["entry_count"] != len(rows):
        raise fail(f"entry_count {head['entry_count']} but {len(rows)} entries")
    skeleton = {**head, "entries": [{"id": r[0], "sha256": r[1]} for r in rows]}
    if bundle_digest(skeleton) != head["sha256"]:
        raise fail("the bundle does not match its sha256 (changed after export)")
    return Bundle(head, entries, label)


_Rows = tuple[dict[str, Any], list[tuple[str, str, Any]]]


def _rows_as_written(text: str) -> _Rows | None:
    """(head, [(id, sha256, entry text)]) when text has export's layout, else None."""
    lines = text.split("\n")
    if len(lines) < 3 or lines[-1] != "" or lines[-2] != "]}" or not lines[0].endswith(_ENTRIES_OPEN):
        return None
    try:
        head = _loads(lines[0][: -len(_ENTRIES_OPEN)] + "}")
    except ValueError:
        return None
    rows: list[tuple[str, str, Any]] = []
    body = lines[1:-2]
    for i, line in enumerate(body):
        last = i == len(body) - 1
        match = _ROW.fullmatch(line if last else line[:-1])
        if match is None or (not last and not line.endswith(",")):
            return None
        rows.append((match[2], match[3], match[1]))  # ids match [a-z0-9-]: no escapes to decode
    return (head, rows) if isinstance(head, dict) else None


def _rows_of_any_layout(text: str) -> _Rows:
    doc = _loads(text)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"format {found!r} is not {FORMAT!r}")
    entries = doc.pop("entries", None)
    if not isinstance(entries, list):
        raise ValueError("entries must be a list")
    rows: list[tuple[str, str, Any]] = []
    for row in entries:
        if not isinstance(row, dict) or set(row) != {"id", "sha256", "entry"}:
            raise ValueError("an entry row has exactly the keys id, sha256, entry")
        if not isinstance(row["id"], str) or not isinstance(row["sha256"], str):
            raise ValueError("an entry row's id and sha256 are strings")
        rows.append((row["id"], row["sha256"], row["entry"]))
    return doc, rows


def _canonical_entry(entry: Any) -> tuple[Any, str]:
    """(data, canonical JSON) of an entry given as data or as JSON text."""
    if not isinstance(entry, str):
        return entry, canonical_json(entry)
    data = _DECODER.decode(entry)
    canonical = canonical_json(data)
    if canonical != entry:  # not as export writes it: duplicate keys must not hide in it
        data = _loads(entry)
    return data, canonical


def _loads(text: str) -> Any:
    return _STRICT_DECODER.decode(text)


def _check_header(doc: dict[str, Any], fail: Any) -> None:
    if doc.get("format") != FORMAT:
        raise fail(f"format {doc.get('format')!r} is not {FORMAT!r}")
    if not isinstance(doc["library"], str) or not isinstance(doc["metadata"], dict):
        raise fail("library must be a string and metadata an object")
    version = doc["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("version is not a positive integer")
    if doc["tag"] != f"{doc['library']}/v{version}":
        raise fail(f"tag {doc['tag']!r} does not name {doc['library']} version {version}")
    for key in ("tag_object", "commit", "tree"):
        value = doc[key]
        if not (isinstance(value, str) and _OID.fullmatch(value)) and not (key == "tree" and value is None):
            raise fail(f"{key} is not an object id")
    scopes, workspace = doc.get("scopes"), doc.get("workspace")
    if scopes is not None and not (isinstance(scopes, list) and all(isinstance(x, str) for x in scopes)):
        raise fail("scopes must be a list of strings")
    if workspace is not None and not isinstance(workspace, str):
        raise fail("workspace must be a string or null")
    if not isinstance(doc["entry_count"], int):
        raise fail("entry_count must be an integer")
    if not isinstance(doc["sha256"], str) or not _HEX64.fullmatch(doc["sha256"]):
        raise fail("sha256 is not a SHA-256 in hex")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins: refuse them (dict() keeps C speed).
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        repeated = next(k for k, _v in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {repeated!r}")
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_STRICT_DECODER = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
