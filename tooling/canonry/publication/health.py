"""Flywheel health (`canonry health`, the `/health` route): is knowledge flowing in and out?

Counts are taken at main; mapping accuracy at the latest published mapping
version (from its tag metadata, or measured on the holdout set when the tag has
none). Definitions:

- `engagements`: distinct engagement references anywhere in the knowledge
  (`source_engagement_id`, overrides' `engagement_id`, scenario lineage);
- `override_backlog_count`: overrides at main that no entry of the latest
  published mapping version cites (not yet ingested by a published version);
- `avg_days_since_last_publication`: mean over published libraries of the days
  since their latest tag;
- `draft_count_pending_review`: unmerged drafts whose review is pending or stale;
- `pct_entries_assumed_vs_calibrated`: over assumptions (calibrated when they
  cite calibration notes) and nationality cells (`basis`);
- `pct_shared_knowledge_sanitized`: entries shared beyond a workspace that are
  `sanitized_for_promotion`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..errors import CanonryError
from ..learning import OVERRIDES, cited_override_ids
from ..learning.evaluators import compare, read_holdout
from ..learning.functions import evaluate
from ..learning.isco import SUB_MAJOR_GROUPS, is_sub_major_group
from ..store.confidence import as_datetime
from ..store.entries import Library
from ..store.registry import LibrarySpec, Registry
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import TreeState
from ..store.times import parse_timestamp, rfc3339
from ..store.versions import Version, list_versions, read_metadata
from .draft_views import list_drafts
from .gate_history import trends

FORMAT = "canonry.health/v1"
MAPPING = "mapping"
WORKFORCE = "nationality-classification"
ASSUMPTIONS = "assumptions"
WORKSPACE_ONLY = "WORKSPACE_ONLY"


def health(repo: Repository, at: dt.datetime | str | None = None, main: str = "main") -> dict[str, Any]:
    """The canonry.health/v1 document at `at` (default now)."""
    moment = as_datetime(at)
    commit = repo.resolve_commit(main)
    state = TreeState(repo, commit, main)
    registry = load_rules(state).require_registry()
    versions = list_versions(repo)
    latest: dict[str, Version] = {}
    counts: dict[str, int] = {}
    for v in versions:
        counts[v.library] = counts.get(v.library, 0) + 1
        latest[v.library] = v
    libraries: dict[str, Library] = {name: Library(state, spec) for name, spec in registry.libraries.items()}
    parsed = {name: _entries(lib) for name, lib in libraries.items()}
    return {
        "format": FORMAT,
        "ref": main,
        "commit": commit,
        "at": rfc3339(moment),
        "engagements": len(_engagements(parsed)),
        "libraries": {
            name: {
                "versions": counts.get(name, 0),
                "entries": len(libraries[name]),
                "latest": latest[name].tag if name in latest else None,
            }
            for name in sorted(libraries)
        },
        **_mapping_accuracy(repo, latest.get(MAPPING)),
        "workforce_coverage_pct": _coverage_pct(parsed.get(WORKFORCE, {})),
        "override_backlog_count": _backlog(repo, registry, libraries, latest.get(MAPPING)),
        "avg_days_since_last_publication": _avg_days(repo, latest.values(), moment),
        "draft_count_pending_review": sum(
            1 for d in list_drafts(repo, main) if not d.merged and d.review in ("pending", "stale")
        ),
        "pct_entries_assumed_vs_calibrated": _assumed_vs_calibrated(parsed),
        "pct_shared_knowledge_sanitized": _sanitized_pct(parsed),
        "gates": trends(repo, main),  # gate history (publication/gate_history.py)
    }


def _entries(lib: Library) -> dict[str, dict[str, Any]]:
    return {i: d for i, d in lib.parse_all().items() if isinstance(d, dict)}


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _engagements(parsed: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> set[str]:
    found: set[str] = set()
    for entries in parsed.values():
        for entry in entries.values():
            for key in ("source_engagement_id", "engagement_id"):
                if isinstance(entry.get(key), str):
                    found.add(entry[key])
            lineage = entry.get("lineage")
            if isinstance(lineage, Mapping):
                found.update(e for e in lineage.get("contributing_engagements") or [] if isinstance(e, str))
    return found


def _mapping_accuracy(repo: Repository, version: Version | None) -> dict[str, Any]:
    """mapping_accuracy (holdout value at the latest version), its 95% interval, cases and sections."""
    found = _holdout_at(repo, version) if version is not None else None
    found = found or {}
    return {
        "mapping_accuracy": found.get("value"),
        "mapping_accuracy_interval": found.get("interval"),
        "mapping_accuracy_cases": found.get("cases"),
        "mapping_accuracy_per_section": found.get("per_section"),
    }


def _holdout_at(repo: Repository, version: Version) -> dict[str, Any] | None:
    """The holdout figures of a version: from its tag when it records them all, else measured."""
    holdout = read_metadata(repo, version).get("holdout")
    if (
        isinstance(holdout, Mapping)
        and isinstance(holdout.get("value"), int | float)
        and isinstance(holdout.get("interval"), list)
        and isinstance(holdout.get("per_section"), Mapping)
    ):
        return {
            "value": round(float(holdout["value"]), 6),
            "interval": holdout["interval"],
            "cases": holdout.get("cases"),
            "per_section": holdout["per_section"],
        }
    state = TreeState(repo, version.commit, version.tag)
    try:
        spec = load_rules(state).require_registry().library(MAPPING)
    except CanonryError:
        return None
    measured = measure_holdout(state, spec)
    if (
        measured is not None
        and isinstance(holdout, Mapping)
        and isinstance(holdout.get("value"), int | float)
    ):
        measured["value"] = round(float(holdout["value"]), 6)  # what the tag recorded is the figure
    return measured


def measure_holdout(state: TreeState, spec: LibrarySpec) -> dict[str, Any] | None:
    """{value, interval, cases, per_section} of the library on its holdout set at a state, or None."""
    if spec.holdout is None:
        return None
    holdout = read_holdout(state, spec.holdout.data)
    if holdout is None or holdout.problems or not holdout.cases:
        return None
    try:
        evaluation = evaluate(spec.holdout, Library(state, spec), holdout.cases)
    except CanonryError:
        return None
    comparison = compare(holdout.cases, None, evaluation)
    metrics = comparison.to_metrics()
    return {k: metrics[k] for k in ("value", "interval", "cases", "per_section")}


def measure(state: TreeState, spec: LibrarySpec) -> float | None:
    """The library's holdout metric at a state, or None when it has no usable holdout set."""
    found = measure_holdout(state, spec)
    return found["value"] if found else None


def _backlog(
    repo: Repository, registry: Registry, libraries: Mapping[str, Library], version: Version | None
) -> int | None:
    overrides = libraries.get(OVERRIDES)
    if overrides is None or MAPPING not in registry.libraries:
        return None
    if version is None:
        return len(overrides)
    published = Library(TreeState(repo, version.commit, version.tag), registry.libraries[MAPPING])
    ingested = cited_override_ids(published)
    return sum(1 for override_id in overrides.index if override_id not in ingested)


def _avg_days(repo: Repository, versions: Any, moment: dt.datetime) -> float | None:
    days = []
    for v in versions:
        published = read_metadata(repo, v).get("published_at")
        when: dt.datetime | None = None
        if isinstance(published, str):
            try:
                when = parse_timestamp(published)
            except ValueError:
                when = None
        if when is None:
            tag = repo.tag(v.target)
            stamp = tag.tag_time if tag and tag.tag_time else repo.commit(v.commit).commit_time
            when = dt.datetime.fromtimestamp(stamp, dt.UTC)
        days.append(max(0.0, (moment - when).total_seconds() / 86400.0))
    return round(sum(days) / len(days), 2) if days else None


def _coverage_pct(cells: Mapping[str, Mapping[str, Any]]) -> float | None:
    """Calibrated ISCO-08 sub-major groups over all 43 (a group without a cell counts as not calibrated)."""
    calibrated = {
        c.get("occupation_code")
        for c in cells.values()
        if c.get("basis") == "calibrated" and is_sub_major_group(c.get("occupation_code"))
    }
    return _pct(len(calibrated), len(SUB_MAJOR_GROUPS)) if cells else None


def _assumed_vs_calibrated(parsed: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, float | None]:
    calibrated = sum(1 for c in parsed.get(WORKFORCE, {}).values() if c.get("basis") == "calibrated")
    calibrated += sum(1 for a in parsed.get(ASSUMPTIONS, {}).values() if a.get("calibration_note_ids"))
    total = len(parsed.get(WORKFORCE, {})) + len(parsed.get(ASSUMPTIONS, {}))
    return {"assumed": _pct(total - calibrated, total), "calibrated": _pct(calibrated, total)}


def _sanitized_pct(parsed: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> float | None:
    shared = [
        e for entries in parsed.values() for e in entries.values() if e.get("reuse_scope") != WORKSPACE_ONLY
    ]
    return _pct(sum(1 for e in shared if e.get("sanitized_for_promotion") is True), len(shared))
