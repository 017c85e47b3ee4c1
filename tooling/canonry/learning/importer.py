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

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
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
from ..store.rule_functions import sector_codes_are_isic_divisions
from ..store.rules import load_rules
from ..store.states import State, TreeState
from ..store.times import rfc3339, utc_now
from ..store.yamlio import dump_yaml, load_yaml
from . import BaseState, write_draft
from .functions import resolve_function, trusted_policy
from .sources import FORMATS, MAX_FILE_BYTES, CsvCell, Row, detect_format, read_document, read_rows

__all__ = [
    "FORMATS",
    "MAX_FILE_BYTES",
    "FieldTypes",
    "ImportResult",
    "Row",
    "detect_format",
    "import_file",
    "read_document",
    "read_rows",
]

SCOPE_FIELDS = ("reuse_scope", "workspace_id", "sanitized_for_promotion")


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
        if not isinstance(value, CsvCell):
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
    rescope: bool = False,
    screen: Callable[[LibrarySpec, Mapping[str, Mapping[str, Any]]], list[tuple[str, str]]] | None = None,
) -> ImportResult:
    """Upsert the file's rows by natural key into a new draft; all rows valid, or nothing written.

    An existing entry keeps its scope (reuse_scope, workspace_id, sanitized_for_promotion):
    `--set` values apply to new rows only, and a row that changes it is refused unless `rescope`.
    """
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
    policy = trusted_policy(repo)  # functions named by main's committed registry only: never the base's own
    checks = [(name, resolve_function(name, policy)) for name in spec.checks if policy.refusal(name) is None]
    types = FieldTypes(state, spec)
    lib = Library(state, spec)
    existing: dict[tuple[Any, ...], str] = {}
    for known_id, data in sorted(lib.parse_all().items()):
        if isinstance(data, dict):
            existing.setdefault(tuple(_key_part(data.get(f)) for f in spec.natural_key), known_id)
    moment = (now or utc_now()).replace(microsecond=0)
    stamp = rfc3339(moment)
    result = ImportResult(library, str(path), source_ref, {"ref": base, "commit": commit}, rows=len(rows))
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[Any, ...], Row] = {}
    changes: dict[str, bytes | None] = {}
    row_of_entry: dict[str, str] = {}
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
            rescoped = {n: fields[n] for n in SCOPE_FIELDS if n in fields and fields[n] != before.get(n)}
            if rescoped and not rescope:
                explicit = [n for n in rescoped if n in row.data]
                if explicit:
                    changes_said = ", ".join(f"{n} {before.get(n)!r} -> {rescoped[n]!r}" for n in explicit)
                    problems.append(
                        (
                            row.where,
                            f"would change the scope of entry {entry_id} ({changes_said}):"
                            " pass --rescope to change the scope of existing entries",
                        )
                    )
                    continue
                for name in rescoped:  # --set gives defaults for new rows: an entry keeps its own scope
                    fields[name] = before.get(name)
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
        row_problems = _check_entry(validator, checks, entry) or [
            f"{'/'.join(map(str, at))}: {message}" for at, message in sector_codes_are_isic_divisions(entry)
        ]
        if row_problems:
            problems.extend((row.where, p) for p in row_problems)
            continue
        (result.changed if entry_id in lib else result.added).append(entry_id)
        row_of_entry[entry_id] = row.where
        changes[spec.entry_path(entry_id)] = dump_yaml(entry).encode("utf-8")
    if screen is not None and not problems:  # the gates' leakage check, handed in from above
        written = {spec.entry_path(i): i for i in [*result.added, *result.changed]}
        entries = {i: load_yaml(changes[p] or b"", p) for p, i in written.items()}
        where = {i: row_of_entry.get(i, path) for i in entries}
        problems.extend((str(where[i]), message) for i, message in screen(spec, entries))
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
