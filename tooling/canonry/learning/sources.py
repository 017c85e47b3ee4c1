"""Reading import sources: CSV (a header row), JSON (an array of objects) or JSON Lines, as numbered rows.

A row that cannot be read is kept with its problem, so that the importer
reports every bad row with its place at once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EntrySyntaxError, InputError, UsageError
from ..store.yamlio import load_yaml

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
            raise UsageError(f"--input-format must be one of {', '.join(FORMATS)}")
        return given
    suffix = Path(path).suffix.lower()
    fmt = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of {path} from its extension (pass --input-format csv|json|jsonl)"
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
        yield Row(number, where, {h: CsvCell(c) for h, c in zip(header, cells, strict=True)})


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


class CsvCell(str):
    """A CSV cell: text whose type is decided by the field's schema."""
