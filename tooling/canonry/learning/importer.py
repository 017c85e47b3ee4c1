"""The import pipeline: rows from a source file upserted into a library as one draft.

`import_file(repo, library, path, source_ref=...)` reads CSV (a header row),
JSON (an array of objects) or JSON Lines, matches each row to an entry by the
library's natural key (`natural_key` in libraries.yaml), and writes the new and
changed entries as one commit on a new draft branch with provenance trailers.
Every row is checked against the library's schema and rule functions first;
when any row fails, all failures are reported with their row numbers and
nothing is written.

CSV cells are text; a cell whose field accepts more than strings (numbers,
booleans, lists, objects) is read as a YAML 1.2 scalar or flow collection
(`0.35`, `true`, `[a, b]`, `{kind: steward, reference: null, override_ids: []}`),
and an empty cell is null where the field accepts null and absent otherwise.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from ..errors import EntrySyntaxError, InputError, RegistryError, UsageError
from ..store.commits import Provenance, actor_identity
from ..store.entries import Library
from ..store.ids import deterministic_uuid7
from ..store.registry import ID_RE, LibrarySpec
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import State, TreeState
from ..store.times import rfc3339
from ..store.yamlio import dump_yaml, load_yaml
from . import BaseState, write_draft
from .functions import resolve_function

FORMATS = ("csv", "json", "jsonl")
MAX_FILE_BYTES = 512 << 20


# --- reading input files ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    number: int  # 1-based, data rows only
    where: str  # "file:line (row n)" for messages
    data: dict[str, Any] | None
    problem: str | None = None


def detect_format(path: str | Path, given: str | None = None) -> str:
    if given:
        if given not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
        return given
    suffix = Path(path).suffix.lower()
    fmt = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of {path} from its extension (pass --format csv|json|jsonl)"
        )
    return fmt


def _read_text(path: str | Path) -> str:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MB")
        return p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as UTF-8 text ({exc})") from None


def read_document(path: str | Path) -> Any:
    """One JSON or strict-YAML document (by extension; YAML otherwise)."""
    text = _read_text(path)
    if str(path).lower().endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    try:
        return load_yaml(text, str(path))
    except EntrySyntaxError as exc:
        raise InputError(str(exc)) from None


def read_rows(path: str | Path, fmt: str | None = None) -> list[Row]:
    """Every data row of a CSV, JSON or JSON Lines file, each with its number and any parse problem."""
    kind = detect_format(path, fmt)
    text = _read_text(path)
    name = str(path)
    if kind == "csv":
        return list(_csv_rows(text, name))
    if kind == "jsonl":
        return list(_jsonl_rows(text, name))
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(doc, list):
        raise InputError(f"{name}: expected a JSON array of objects")
    rows = []
    for i, item in enumerate(doc, start=1):
        where = f"{name}: row {i}"
        if isinstance(item, dict):
            rows.append(Row(i, where, item))
        else:
            rows.append(Row(i, where, None, f"expected an object, found {type(item).__name__}"))
    return rows


def _csv_rows(text: str, name: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{name}:1: invalid CSV header: {exc}") from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header) or not all(header):
        raise InputError(f"{name}:1: the header has empty or repeated column names")
    number = 0
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield Row(number, f"{name}:{start} (row {number})", None, f"invalid CSV: {exc}")
            return  # the reader cannot resync after a broken quote
        if not cells:
            continue
        number += 1
        where = f"{name}:{start} (row {number})"
        if len(cells) != len(header):
            yield Row(number, where, None, f"{len(cells)} cells for {len(header)} columns")
            continue
        yield Row(number, where, {h: _CsvCell(c) for h, c in zip(header, cells, strict=True)})


def _jsonl_rows(text: str, name: str) -> Iterator[Row]:
    number = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        number += 1
        where = f"{name}:{line_no} (row {number})"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(number, where, None, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if isinstance(item, dict):
            yield Row(number, where, item)
        else:
            yield Row(number, where, None, f"expected an object, found {type(item).__name__}")


class _CsvCell(str):
    """A CSV cell: text whose type is decided by the field's schema."""


# --- field types from the schema -------------------------------------------------------------


class FieldTypes:
    """The JSON types each top-level field of a library's schema accepts ($ref resolved locally)."""

    def __init__(self, state: State, spec: LibrarySpec) -> None:
        self._docs: dict[str, Any] = {}
        root: dict[str, Any] = {}
        for path, ref in state.files("schemas").items():
            if not path.endswith(".json"):
                continue
            try:
                doc = json.loads(state.read(ref))
            except ValueError:
                continue
            if isinstance(doc, dict):
                self._docs[str(doc.get("$id") or f"urn:canonry:{path}")] = doc
                if path == spec.schema:
                    root = doc
        base = str(root.get("$id") or f"urn:canonry:{spec.schema}")
        props = root.get("properties", {})
        self.types = {name: self._types(node, base, 0) for name, node in props.items()}

    def _resolve(self, ref: str, base: str) -> tuple[Any, str]:
        target = urljoin(base, ref)
        doc_id, _, pointer = target.partition("#")
        doc = self._docs.get(doc_id)
        if doc is None:
            return {}, base
        node = doc
        for part in [p for p in pointer.split("/") if p]:
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
        return node, doc_id

    def _types(self, node: Any, base: str, depth: int) -> set[str]:
        if not isinstance(node, dict) or depth > 20:
            return {"string", "number", "integer", "boolean", "null", "array", "object"}
        out: set[str] = set()
        if "$ref" in node:
            target, target_base = self._resolve(str(node["$ref"]), base)
            out |= self._types(target, target_base, depth + 1)
        kind = node.get("type")
        if isinstance(kind, str):
            out.add(kind)
        elif isinstance(kind, list):
            out.update(k for k in kind if isinstance(k, str))
        for values in (node.get("enum"), [node["const"]] if "const" in node else None):
            if isinstance(values, list):
                out.update(_json_type(v) for v in values)
        for key in ("oneOf", "anyOf"):
            for sub in node.get(key) or []:
                out |= self._types(sub, base, depth + 1)
        return out or {"string", "number", "integer", "boolean", "null", "array", "object"}

    def coerce(self, name: str, value: Any) -> tuple[bool, Any]:
        """(keep the field?, its value) for a raw value; only CSV cells are converted."""
        if not isinstance(value, _CsvCell):
            return True, value
        accepted = self.types.get(name, {"string"})
        text = str(value)
        if text == "":
            return ("null" in accepted, None)
        if accepted <= {"string", "null"}:
            return True, text
        try:
            parsed = load_yaml(text, name)
        except EntrySyntaxError:
            return True, text
        kind = _json_type(parsed)
        if kind in accepted or (kind == "integer" and "number" in accepted):
            return True, parsed
        return True, text


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --- the upsert ------------------------------------------------------------------------------


@dataclass
class ImportResult:
    library: str
    file: str
    source_ref: str
    base: dict[str, str]
    rows: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    draft: str | None = None
    commit: str | None = None

    def report(self) -> dict[str, Any]:
        return {
            "format": "canonry.import/v1",
            "library": self.library,
            "file": self.file,
            "source_ref": self.source_ref,
            "base": self.base,
            "rows": self.rows,
            "added": sorted(self.added),
            "changed": sorted(self.changed),
            "unchanged": len(self.unchanged),
            "draft": self.draft,
            "commit": self.commit,
        }


def _key_part(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.casefold().split())
    return json.dumps(value, sort_keys=True)


def import_file(
    repo: Repository,
    library: str,
    path: str | Path,
    *,
    source_ref: str,
    fmt: str | None = None,
    base: str = "main",
    defaults: Mapping[str, Any] | None = None,
    actor: str | None = None,
    draft_name: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Upsert the file's rows by natural key into a new draft; all rows valid, or nothing written."""
    if not source_ref.strip():
        raise UsageError("--source-ref names where the file came from (a URL, a dataset version...)")
    rows = read_rows(path, fmt)
    commit = repo.resolve_commit(base)
    state = TreeState(repo, commit, base)
    rules = load_rules(state)
    spec = rules.require_registry().library(library)
    if not spec.natural_key:
        raise UsageError(
            f"library {library} declares no natural_key in libraries.yaml: an import cannot upsert"
        )
    validator = rules.validator(spec)
    checks = [(name, resolve_function(name)) for name in spec.checks]
    types = FieldTypes(state, spec)
    lib = Library(state, spec)
    existing: dict[tuple[Any, ...], str] = {}
    for known_id, data in sorted(lib.parse_all().items()):
        if isinstance(data, dict):
            existing.setdefault(tuple(_key_part(data.get(f)) for f in spec.natural_key), known_id)
    moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    stamp = rfc3339(moment)
    result = ImportResult(library, str(path), source_ref, {"ref": base, "commit": commit}, rows=len(rows))
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[Any, ...], Row] = {}
    changes: dict[str, bytes | None] = {}
    for row in rows:
        if row.data is None:
            problems.append((row.where, row.problem or "unreadable"))
            continue
        fields: dict[str, Any] = {}
        for name, raw in {**(defaults or {}), **row.data}.items():
            keep, value = types.coerce(name, raw)
            if keep:
                fields[name] = value
        missing = [f for f in spec.natural_key if f not in fields]
        if missing:
            problems.append((row.where, f"missing natural key field(s): {', '.join(missing)}"))
            continue
        key = tuple(_key_part(fields[f]) for f in spec.natural_key)
        if key in seen:
            problems.append((row.where, f"same natural key as {seen[key].where}"))
            continue
        seen[key] = row
        entry_id = existing.get(key)
        if entry_id is not None:
            if "id" in fields and fields["id"] != entry_id:
                problems.append(
                    (row.where, f"id {fields['id']!r} but the natural key belongs to entry {entry_id}")
                )
                continue
            before = lib[entry_id].to_dict()
            entry = {**before, **fields}
            if entry == before:
                result.unchanged.append(entry_id)
                continue
            if "updated_at" not in fields:
                entry["updated_at"] = stamp
            if "source" not in fields:
                entry["source"] = "import"
        else:
            new_id = fields.get("id")
            if new_id is None:
                millis = int(moment.timestamp() * 1000)
                new_id = deterministic_uuid7(millis, library, *map(str, key))
            if not isinstance(new_id, str) or not ID_RE.fullmatch(new_id) or new_id in lib:
                problems.append((row.where, f"id {new_id!r} is malformed or taken by another entry"))
                continue
            entry = {
                "source": "import",
                "updated_at": stamp,
                "source_engagement_id": None,
                **fields,
                "id": new_id,
            }
            entry_id = new_id
        row_problems = _check_entry(validator, checks, entry)
        if row_problems:
            problems.extend((row.where, p) for p in row_problems)
            continue
        (result.changed if entry_id in lib else result.added).append(entry_id)
        changes[spec.entry_path(entry_id)] = dump_yaml(entry).encode("utf-8")
    if problems:
        raise InputError(
            f"{path}: {len(problems)} problem(s) in {len(rows)} rows; nothing was imported", problems
        )
    if changes:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        draft = write_draft(
            BaseState.at(repo, base),
            draft_name or f"import-{library}-{digest[:10]}",
            changes,
            f"import {library}: {len(result.added)} added, {len(result.changed)} changed"
            f" from {Path(path).name}",
            Provenance(
                source="import",
                actor=actor_identity(repo, actor).email,
                reason=f"import of {len(rows)} rows from {Path(path).name} (sha256 {digest[:16]})",
                source_ref=source_ref,
            ),
            dry_run=dry_run,
        )
        result.draft, result.commit = draft.branch, draft.commit
    return result


def _check_entry(validator: Any, checks: list[tuple[str, Any]], entry: dict[str, Any]) -> list[str]:
    out = []
    for err in sorted(validator.iter_errors(entry), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in err.absolute_path) or "(entry)"
        out.append(f"{where}: {err.message}")
    if out:
        return out
    for name, func in checks:
        try:
            found = func(entry)
        except Exception as exc:  # the library's own rule code
            raise RegistryError(
                f"{name} raised {type(exc).__name__}: {exc}", "schemas/libraries.yaml"
            ) from None
        for path, message in found:
            out.append(f"{'/'.join(map(str, path)) or '(entry)'}: {message}")
    return out
