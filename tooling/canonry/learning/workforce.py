"""Nationality classification refined from stewards' overrides (`canonry learn workforce`).

The `overrides` library holds sector-mapping corrections only (its codes are
ISIC divisions), so nationality overrides come from a file the workforce tool
exports (CSV, JSON or JSON Lines), one row per override:

    id, occupation_code, suggested_class, final_class, engagement_id, steward, overridden_at

The file is the accumulated set. For each occupation cell, a final class chosen
by at least `min_override_frequency` overrides, with no tie at the top, makes
the cell `basis: calibrated` with that class and the supporting override ids;
a tie is reported and changes nothing. Cells are the 43 ISCO-08 sub-major
groups (`learning.isco`): a group without a cell gets one from its overrides; a
code that is not a group is reported and its overrides are not used. The
coverage report lists which groups are assumed, calibrated or without a cell,
and the calibrated percentage over all 43.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..store.commits import Provenance, actor_identity
from ..store.entries import Library
from ..store.ids import deterministic_uuid7
from ..store.registry import ID_RE
from ..store.repo import Repository
from ..store.yamlio import dump_yaml
from . import BaseState, Draft, rfc3339, utc_now, write_draft
from .importer import read_rows
from .isco import SUB_MAJOR_GROUPS, is_sub_major_group

WORKFORCE = "nationality-classification"
CLASSES = ("NATIONAL_READY", "NATIONAL_WITH_TRAINING", "EXPAT_DEPENDENT")
_OCCUPATION = re.compile(r"[0-9]{2}")


@dataclass(frozen=True)
class NationalityOverride:
    id: str
    occupation_code: str
    final_class: str
    suggested_class: str | None


def read_nationality_overrides(path: str | Path, fmt: str | None = None) -> list[NationalityOverride]:
    """The rows of a nationality-overrides file; InputError lists every bad row."""
    out: list[NationalityOverride] = []
    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for row in read_rows(path, fmt):
        if row.data is None:
            problems.append((row.where, row.problem or "unreadable"))
            continue
        data = {k: (str(v) if v is not None else None) for k, v in row.data.items()}
        override_id, code, final = data.get("id"), data.get("occupation_code"), data.get("final_class")
        suggested = data.get("suggested_class") or None
        row_problems = []
        if not override_id or not ID_RE.fullmatch(override_id):
            row_problems.append(f"id {override_id!r} is not an entry id")
        elif override_id in seen:
            row_problems.append(f"id {override_id} repeats {seen[override_id]}")
        if not code or not _OCCUPATION.fullmatch(code):
            row_problems.append(f"occupation_code {code!r} is not an ISCO-08 sub-major group (two digits)")
        if final not in CLASSES:
            row_problems.append(f"final_class {final!r} is not one of {', '.join(CLASSES)}")
        if suggested is not None and suggested not in CLASSES:
            row_problems.append(f"suggested_class {suggested!r} is not one of {', '.join(CLASSES)}")
        if row_problems:
            problems.extend((row.where, p) for p in row_problems)
            continue
        assert override_id and code and final
        seen[override_id] = row.where
        out.append(NationalityOverride(override_id, code, final, suggested))
    if problems:
        raise InputError(f"{path}: {len(problems)} problem(s); nothing was written", problems)
    return out


def _new_cell(entry_id: str, code: str, support: list[str], moment: dt.datetime) -> dict[str, Any]:
    """A nationality cell for an ISCO-08 group that had none, from its overrides (shared, no workspace)."""
    return {
        "id": entry_id,
        "workspace_id": None,
        "source_engagement_id": None,
        "reuse_scope": "GLOBAL_INTERNAL",
        "sanitized_for_promotion": True,
        "source": "user",
        "updated_at": rfc3339(moment),
        "occupation_code": code,
        "occupation_title": SUB_MAJOR_GROUPS[code],
        "feasibility_class": None,
        "basis": "assumed",
        "evidence_override_ids": [],
        "rationale": f"Calibrated from {len(support)} stewards' overrides of the workforce tool.",
    }


def coverage(library: Library, overlay: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Which of the 43 ISCO-08 sub-major groups are assumed, calibrated or without a cell.

    canonry.workforce-coverage/v1; `overlay` replaces or adds entries by id (the
    cells a draft is about to change). The percentage is over the 43 groups.
    """
    cells = []
    stored_entries: dict[str, Any] = dict(library.load())
    for entry_id, added in (overlay or {}).items():
        stored_entries.setdefault(entry_id, added)
    for entry_id, stored in stored_entries.items():
        entry = (overlay or {}).get(entry_id, stored)
        evidence = entry.get("evidence_override_ids") or ()
        cells.append(
            {
                "id": entry_id,
                "occupation_code": entry.get("occupation_code"),
                "occupation_title": entry.get("occupation_title"),
                "feasibility_class": entry.get("feasibility_class"),
                "basis": entry.get("basis"),
                "overrides": len(evidence),
            }
        )
    cells.sort(key=lambda c: (str(c["occupation_code"]), c["id"]))
    calibrated = [c["occupation_code"] for c in cells if c["basis"] == "calibrated"]
    assumed = [c["occupation_code"] for c in cells if c["basis"] != "calibrated"]
    present = {c["occupation_code"] for c in cells}
    groups = len(SUB_MAJOR_GROUPS)
    known = sum(1 for code in set(calibrated) if is_sub_major_group(code))
    return {
        "format": "canonry.workforce-coverage/v1",
        "ref": library.state.label,
        "commit": library.commit,
        "cells": cells,
        "assumed": assumed,
        "calibrated": calibrated,
        "without_cell": sorted(code for code in SUB_MAJOR_GROUPS if code not in present),
        "groups": groups,
        "coverage_pct": round(100.0 * known / groups, 2),
    }


@dataclass
class WorkforceLearning:
    base: BaseState
    min_frequency: int
    overrides_read: int = 0
    changed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    coverage: dict[str, Any] = field(default_factory=dict)
    draft: Draft = field(default_factory=lambda: Draft(None, None))

    def report(self) -> dict[str, Any]:
        return {
            "format": "canonry.learn/v1",
            "learner": "workforce",
            "base": {"ref": self.base.ref, "commit": self.base.commit},
            "draft": self.draft.branch,
            "commit": self.draft.commit,
            "min_frequency": self.min_frequency,
            "overrides_read": self.overrides_read,
            "changed": self.changed,
            "skipped": sorted(self.skipped, key=lambda s: (s["reason"], str(s.get("occupation_code")))),
            "coverage": self.coverage,
        }


def learn_workforce(
    repo: Repository,
    source: str | Path,
    *,
    base: str = "main",
    fmt: str | None = None,
    min_frequency: int | None = None,
    actor: str | None = None,
    draft_name: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> WorkforceLearning:
    """Calibrate nationality cells from the overrides file; write them as a draft; report coverage."""
    overrides = read_nationality_overrides(source, fmt)
    state = BaseState.at(repo, base)
    policy = state.registry.policy
    frequency = policy.min_override_frequency if min_frequency is None else max(1, min_frequency)
    result = WorkforceLearning(state, frequency, overrides_read=len(overrides))
    lib = state.library(WORKFORCE)
    moment = now or utc_now()
    cells: dict[str, str] = {}
    for known_id, known in lib.load().items():
        cells.setdefault(str(known.get("occupation_code")), known_id)
    grouped: dict[str, list[NationalityOverride]] = defaultdict(list)
    for o in overrides:
        grouped[o.occupation_code].append(o)
    changes: dict[str, bytes | None] = {}
    updated: dict[str, dict[str, Any]] = {}
    for code in sorted(grouped):
        members = grouped[code]
        entry_id = cells.get(code)
        if not is_sub_major_group(code):
            result.skipped.append(
                {
                    "reason": "unknown_occupation",
                    "occupation_code": code,
                    "override_ids": sorted(o.id for o in members),
                    "message": f"occupation {code} is not an ISCO-08 sub-major group:"
                    " its overrides are not used",
                }
            )
            continue
        counts = Counter(o.final_class for o in members)
        top = max(counts.values())
        leaders = sorted(c for c, n in counts.items() if n == top)
        if len(leaders) > 1:
            result.skipped.append(
                {
                    "reason": "contradiction",
                    "occupation_code": code,
                    "counts": dict(sorted(counts.items())),
                    "message": f"occupation {code}: overrides disagree at equal frequency"
                    f" ({', '.join(leaders)})",
                }
            )
            continue
        if top < frequency:
            result.skipped.append(
                {"reason": "below_frequency", "occupation_code": code, "counts": dict(counts)}
            )
            continue
        chosen = leaders[0]
        support = sorted(o.id for o in members if o.final_class == chosen)
        if entry_id is None:  # a real group without a cell yet: the overrides make its first one
            entry_id = deterministic_uuid7(int(moment.timestamp() * 1000), WORKFORCE, code)
            entry = _new_cell(entry_id, code, support, moment)
        else:
            entry = lib[entry_id].to_dict()
        before = (
            entry.get("feasibility_class"),
            entry.get("basis"),
            list(entry.get("evidence_override_ids") or []),
        )
        if before == (chosen, "calibrated", support):
            continue
        entry.update(
            {
                "feasibility_class": chosen,
                "basis": "calibrated",
                "evidence_override_ids": support,
                "updated_at": rfc3339(moment),
            }
        )
        changes[lib.spec.entry_path(entry_id)] = dump_yaml(entry).encode("utf-8")
        updated[entry_id] = entry
        result.changed.append(
            {
                "id": entry_id,
                "occupation_code": code,
                "old": {"feasibility_class": before[0], "basis": before[1]},
                "new": {"feasibility_class": chosen, "basis": "calibrated"},
                "override_ids": support,
            }
        )
    result.coverage = coverage(lib, updated)
    result.draft = write_draft(
        state,
        draft_name or f"learn-workforce-{state.commit[:8]}",
        changes,
        f"learn workforce: {len(result.changed)} occupation cells calibrated from {len(overrides)} overrides",
        Provenance(
            source="learn",
            actor=actor_identity(repo, actor).email,
            reason=f"nationality classification refined from {Path(source).name}",
            source_ref=str(source),
        ),
        dry_run=dry_run,
    )
    return result
