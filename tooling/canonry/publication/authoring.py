"""Write new entries into the work tree (`canonry entry new`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EntrySyntaxError, RegistryError, UsageError
from ..store.ids import uuid7
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import WorkTreeState
from ..store.times import rfc3339
from ..store.yamlio import dump_yaml, load_yaml

COMMON_DEFAULTS = {
    "source": "user",
    "reuse_scope": "WORKSPACE_ONLY",
    "sanitized_for_promotion": False,
    "source_engagement_id": None,
}


@dataclass
class NewEntry:
    path: str
    entry: dict[str, object]
    problems: list[str] = field(default_factory=list)


def new_entry(repo: Repository, library: str, fields: dict[str, str]) -> NewEntry:
    """Create knowledge/<library>/<uuid7>.yaml with defaults and the given fields."""
    if repo.workdir is None:
        raise UsageError("`entry new` writes into a work tree; this repository is bare")
    state = WorkTreeState(repo)
    rules = load_rules(state)
    spec = rules.require_registry().library(library)
    entry: dict[str, object] = {"id": uuid7(), **COMMON_DEFAULTS, "updated_at": rfc3339()}
    for name, raw in fields.items():
        try:
            entry[name] = load_yaml(raw, f"--set {name}") if raw.strip() else ""
        except EntrySyntaxError:
            entry[name] = raw
    if "id" in fields:
        raise UsageError("the id of a new entry is generated; do not --set it")
    path = spec.entry_path(str(entry["id"]))
    target = Path(repo.workdir) / path
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "x", encoding="utf-8") as fh:
        fh.write(dump_yaml(entry))
    problems = []
    try:
        validator = rules.validator(spec)
    except RegistryError:
        validator = None  # a broken schema: `canonry validate` reports it
    if validator is not None:
        for err in validator.iter_errors(entry):
            where = "/".join(str(p) for p in err.absolute_path) or "(entry)"
            problems.append(f"{where}: {err.message}")
    return NewEntry(path, entry, problems)
