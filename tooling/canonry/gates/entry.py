"""Per-file checks of the yaml, schema, identity and checks gates, in one pass.

A file is parsed once and its findings are cached by (rules digest, path, blob
id): re-checking an unchanged entry under unchanged rules costs a lookup.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable, Iterable
from typing import Any

import jsonschema

from ..errors import EntrySyntaxError, RegistryError
from ..learning.functions import FunctionPolicy, resolve_function, trusted_policy
from ..store.entries import _Failure, gc_paused, store_for
from ..store.registry import ID_RE, LibrarySpec
from ..store.repo import BLOB_MODE, COMMIT_MODE, EXEC_MODE, LINK_MODE
from ..store.rules import Rules
from ..store.states import FileRef, State
from ..store.yamlio import Path, load_yaml_with_positions, position_of
from . import workers as parallel
from .findings import ERROR, Finding
from .workers import Worker, fork, send, take, tickets_for

CACHE_VERSION = "entry-checks/2"


def mode_problem(mode: int) -> str | None:
    if mode == BLOB_MODE:
        return None
    if mode == LINK_MODE:
        return "symbolic link: entries must be plain files"
    if mode == COMMIT_MODE:
        return "submodule: entries must be plain files"
    if mode == EXEC_MODE:
        return "executable file: entries must be plain files (chmod -x)"
    return f"file mode {mode:o}: entries must be plain files (100644)"


def check_files(state: State, rules: Rules, spec: LibrarySpec, refs: Iterable[FileRef]) -> list[Finding]:
    """Findings of the per-file gates for the given files of one library."""
    refs = list(refs)
    store = store_for(state.repo)
    findings: list[Finding] = []
    todo: list[FileRef] = []
    keys: dict[str, str] = {}
    checks = _check_functions(spec, trusted_policy(state.repo))
    ran = ",".join(name for name, _ in checks)  # which functions ran is part of the verdict
    for ref in refs:
        key = f"{CACHE_VERSION}:{rules.digest}:{ran}:{spec.name}:{ref.path}:{ref.oid}:{ref.mode:o}"
        keys[ref.path] = key
    stored = store.get_results(list(keys.values()))
    cached = {path: stored[key] for path, key in keys.items() if key in stored}
    for ref in refs:
        hit = cached.get(ref.path)
        if hit is not None:
            findings.extend(Finding.from_tuple(t) for t in hit)
        else:
            todo.append(ref)
    if not todo:
        return findings
    try:
        validator = rules.validator(spec)
    except RegistryError as exc:
        validator = None
        schema_problem: RegistryError | None = exc
    else:
        schema_problem = None

    results: list[tuple[str, Any]] = []

    def record(done: list[FileRef], found: list[list[Finding]], batch: int = 0) -> None:
        if schema_problem is None:  # without its schema a result is incomplete: never cache it
            results.extend(
                (keys[r.path], [f.as_tuple() for f in fs]) for r, fs in zip(done, found, strict=True)
            )
        if len(results) >= batch:
            store.put_results(results)
            results.clear()

    with gc_paused():  # parses and findings are many small containers, none of them garbage
        for found in _check_all(state, spec, todo, validator, checks, record):
            findings.extend(found)
        record([], [])
    return findings


# Above workers.PARALLEL_MIN files, forked workers, one per core, share them
# (see _check_all), CHUNK files at a time.
CHUNK = 256
BATCH = 4096  # cache rows written at a time meanwhile
Record = Callable[..., None]  # record(files, their findings, batch): cache them (in batches)


def _check_all(
    state: State,
    spec: LibrarySpec,
    todo: list[FileRef],
    validator: Any,
    checks: list[tuple[str, Any]],
    record: Record,
) -> list[list[Finding]]:
    """The findings of each file of todo, in order (record gets them to cache as they come).

    With many files, this process and forked workers take chunks of them in turn
    from a pipe of chunk numbers, so a busy core takes fewer. A worker writes the
    findings of each chunk it checked and its parses (cache rows, stored here: a
    worker never touches the database) to a file this process reads between its
    own chunks. The chunks of a worker that fails are checked here; any error
    here falls back to checking in one process, so the findings, their order and
    any error raised are those of checking the files in order in one process.
    """
    store = store_for(state.repo)

    def serial() -> list[list[Finding]]:
        parsed = store.get_many(((r.path, r) for r in todo if r.mode == BLOB_MODE), state)
        found = [_check_one(state, spec, ref, parsed.get(ref.oid), validator, checks) for ref in todo]
        record(todo, found)
        return found

    parts = parallel.worker_count(len(todo))
    if parts < 2:
        return serial()
    store.prefetch([r.oid for r in todo if r.mode == BLOB_MODE])
    store.flush()
    size = max(CHUNK, -(-len(todo) // 1024))  # at most 1024 numbers: a pipe's smallest buffer holds them
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    found: dict[int, list[list[Finding]]] = {}

    def check_chunk(index: int) -> list[list[Finding]]:
        chunk = chunks[index]
        parsed = store.parse_many(((r.path, r) for r in chunk if r.mode == BLOB_MODE), state, keep=False)
        return [_check_one(state, spec, ref, parsed.get(ref.oid), validator, checks) for ref in chunk]

    def work(tickets: int, out: int) -> None:  # in a worker
        for index in take(tickets):
            tuples = [[f.as_tuple() for f in fs] for fs in check_chunk(index)]
            send(out, marshal.dumps((index, tuples, store.take_pending())))
        send(out, b"")

    def done(index: int, result: list[list[Finding]], rows: list[tuple[str, bytes]] | None = None) -> None:
        if rows is not None:
            store.adopt(rows)
        found[index] = result
        record(chunks[index], result, BATCH)
        store.flush(BATCH)

    workers: list[Worker] = []
    try:
        tickets = tickets_for(len(chunks))
        if tickets is not None:
            try:
                workers = [w for w in (fork(work, tickets) for _ in range(parts - 1)) if w is not None]
                for index in take(tickets):
                    done(index, check_chunk(index))
                    for worker in workers:
                        worker.receive(chunks, done, wait=False)
            finally:
                os.close(tickets)
        for worker in workers:
            worker.receive(chunks, done, wait=True)
        for index in range(len(chunks)):
            if index not in found:  # its worker failed
                done(index, check_chunk(index))
        store.flush()
    except Exception:
        found.clear()
    finally:
        for worker in workers:
            worker.close()
    if len(found) < len(chunks):
        return serial()
    return [fs for index in range(len(chunks)) for fs in found[index]]


def _check_functions(spec: LibrarySpec, policy: FunctionPolicy) -> list[tuple[str, Callable[..., Any]]]:
    """The library's check functions that may run: those the trusted registry names (learning.functions)."""
    out = []
    for name in spec.checks:
        try:
            out.append((name, resolve_function(name, policy)))
        except RegistryError:
            continue  # reported by the checks gate at library level; a draft's new function never runs
    return out


def _check_one(
    state: State,
    spec: LibrarySpec,
    ref: FileRef,
    parsed: dict[str, Any] | _Failure | None,
    validator: Any,
    checks: list[tuple[str, Callable[..., Any]]],
) -> list[Finding]:
    lib = spec.name
    rel = ref.path[len(spec.path) + 1 :]
    out: list[Finding] = []

    def add(
        gate: str,
        message: str,
        line: int | None = None,
        column: int | None = None,
        entry_id: str | None = None,
    ) -> None:
        out.append(
            Finding(
                path=ref.path,
                line=line,
                column=column,
                gate=gate,
                severity=ERROR,
                message=message,
                library=lib,
                entry_id=entry_id,
            )
        )

    problem = mode_problem(ref.mode)
    if problem:
        add("identity", problem)
        return out
    stem = rel.rsplit("/", 1)[-1]
    if not stem.endswith(".yaml"):
        add("identity", "stray file: a library folder holds only <id>.yaml entry files")
        return out
    stem = stem[: -len(".yaml")]
    if not ID_RE.fullmatch(stem):
        add(
            "identity",
            f"file name {stem!r} is not a valid id (a-z, 0-9 and '-', at most 63 long)",
        )
    elif spec.relative_path(stem) != rel:
        add(
            "identity",
            f"misplaced entry: an entry with id {stem!r} belongs at {spec.entry_path(stem)}",
        )
    if isinstance(parsed, _Failure) or parsed is None:
        if isinstance(parsed, _Failure):
            e = parsed.error
            add("yaml", e.problem, e.line, e.column)
        return out
    entry_id = parsed.get("id")
    if entry_id is None:
        add("identity", "missing field: id", 1, 1)
    elif entry_id != stem:
        add("identity", f"id: {entry_id!r} differs from the file name {stem!r}", entry_id=stem)
    eid = stem
    positions: dict[Path, tuple[int, int]] | None = None

    def where(path: tuple[Any, ...]) -> tuple[int | None, int | None]:
        nonlocal positions
        if positions is None:
            try:
                positions = load_yaml_with_positions(state.read(ref), ref.path)[1]
            except EntrySyntaxError:
                positions = {}
        pos = position_of(positions, tuple(path))
        return pos if pos else (None, None)

    if out and any(f.gate == "identity" and f.message.startswith("id:") for f in out):
        line, col = where(("id",))
        out[-1] = Finding(
            path=ref.path,
            line=line,
            column=col,
            gate="identity",
            severity=ERROR,
            message=out[-1].message,
            library=lib,
            entry_id=eid,
        )
    if validator is not None:
        for err in sorted(validator.iter_errors(parsed), key=lambda e: [str(p) for p in e.absolute_path]):
            line, col = where(tuple(err.absolute_path))
            field = "/".join(str(p) for p in err.absolute_path) or "(entry)"
            add("schema", f"{field}: {_schema_message(err)}", line, col, eid)
    for name, func in checks:
        try:
            problems = list(func(parsed))
        except Exception as exc:  # a rule function is outside code: report, never crash
            add("checks", f"{name} raised {type(exc).__name__}: {exc}", entry_id=eid)
            continue
        for path, message in problems:
            line, col = where(tuple(path))
            field = "/".join(str(p) for p in path) or "(entry)"
            add("checks", f"{field}: {message}", line, col, eid)
    return out


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties" or err.validator == "unevaluatedProperties":
        return err.message + " (unknown field: check its spelling)"
    return err.message
