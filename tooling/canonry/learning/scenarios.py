"""Scenario patterns learned from engagements (`canonry learn scenario-patterns`, `canonry suggest`).

An engagement's scenario (project type, sector shares, phasing, import share)
is merged into the existing pattern of the same project type and scope whose
sector shares are most similar, when the cosine similarity is at least
`MERGE_SIMILARITY`; otherwise it becomes a new pattern. A merge is a running
average weighted by `usage_count`, and it records the contributing engagement
and scenario and a merge-history item. With the entry's git history (every
merge is one commit) that is enough to split a pattern again: the contribution
of a merge is `(n + 1) * after - n * before`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..store.commits import Provenance, actor_identity
from ..store.entries import Entry, Library
from ..store.ids import deterministic_uuid7
from ..store.repo import Repository
from ..store.states import TreeState
from ..store.versions import is_version_selector, latest_version, resolve_version
from ..store.yamlio import dump_yaml
from . import BaseState, Draft, rfc3339, utc_now, write_draft
from .importer import read_document
from .matching import is_isic_division

SCENARIOS = "scenario-patterns"
MERGE_SIMILARITY = 0.8
TOLERANCE = 1e-6
WORKSPACE_ONLY = "WORKSPACE_ONLY"
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ENGAGEMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}")


@dataclass(frozen=True)
class Scenario:
    engagement_id: str
    scenario: str
    project_type: str
    sector_shares: dict[str, float]
    phasing: list[float]
    import_share: float
    name: str | None = None
    description: str | None = None
    workspace_id: str | None = None
    reuse_scope: str | None = None
    sanitized_for_promotion: bool = False

    @property
    def qualified(self) -> str:
        """How messages name it: engagement and scenario."""
        return f"{self.engagement_id}/{self.scenario}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_scenario(doc: Any, source: str) -> Scenario:
    """Check an engagement's scenario document; raise InputError listing every problem."""
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        raise InputError(
            f"{source}: expected a mapping", [(source, "the file must hold one scenario mapping")]
        )
    for key in ("engagement_id", "scenario", "project_type", "sector_shares", "phasing", "import_share"):
        if key not in doc:
            problems.append(f"missing field: {key}")
    engagement, scenario, project_type = (
        doc.get("engagement_id"),
        doc.get("scenario"),
        doc.get("project_type"),
    )
    if "engagement_id" in doc and not (isinstance(engagement, str) and _ENGAGEMENT.fullmatch(engagement)):
        problems.append(f"engagement_id: {engagement!r} is not an engagement reference")
    if "scenario" in doc and not (isinstance(scenario, str) and 0 < len(scenario) <= 150):
        problems.append("scenario: a name of 1 to 150 characters")
    if "project_type" in doc and not (isinstance(project_type, str) and _SLUG.fullmatch(project_type)):
        problems.append(f"project_type: {project_type!r} is not a slug (e.g. desalination-plant)")
    shares: Any = doc.get("sector_shares")
    if "sector_shares" in doc:
        problems.extend(_check_shares(shares))
    phasing: Any = doc.get("phasing")
    if "phasing" in doc:
        if (
            not isinstance(phasing, list)
            or not phasing
            or not all(_number(v) and 0 <= v <= 1 for v in phasing)
        ):
            problems.append("phasing: a non-empty list of fractions from 0 to 1")
        elif abs(math.fsum(phasing) - 1.0) > TOLERANCE:
            problems.append(f"phasing: the fractions sum to {math.fsum(phasing):.6g}, not 1")
    share: Any = doc.get("import_share")
    if "import_share" in doc and not (_number(share) and 0 <= share <= 1):
        problems.append(f"import_share: {share!r} is not a fraction from 0 to 1")
    if problems:
        raise InputError(
            f"{source}: the scenario has problems; nothing was written", [(source, p) for p in problems]
        )
    return Scenario(
        engagement_id=str(engagement),
        scenario=str(scenario),
        project_type=str(project_type),
        sector_shares={str(k): float(v) for k, v in shares.items()},
        phasing=[float(v) for v in phasing],
        import_share=float(share),
        name=doc.get("name") if isinstance(doc.get("name"), str) else None,
        description=doc.get("description") if isinstance(doc.get("description"), str) else None,
        workspace_id=doc.get("workspace_id") if isinstance(doc.get("workspace_id"), str) else None,
        reuse_scope=doc.get("reuse_scope") if isinstance(doc.get("reuse_scope"), str) else None,
        sanitized_for_promotion=doc.get("sanitized_for_promotion") is True,
    )


def _check_shares(shares: Any) -> list[str]:
    if not isinstance(shares, Mapping) or not shares:
        return ["sector_shares: a mapping of sector code to share"]
    problems = []
    for code, value in shares.items():
        if not is_isic_division(code):
            problems.append(f"sector_shares: {code!r} is not an ISIC Rev.4 division (e.g. E36)")
        if not (_number(value) and 0 <= value <= 1):
            problems.append(f"sector_shares.{code}: {value!r} is not a fraction from 0 to 1")
    if not problems:
        total = math.fsum(shares.values())
        if abs(total - 1.0) > TOLERANCE:
            problems.append(f"sector_shares: the shares sum to {total:.6g}, not 1 (tolerance {TOLERANCE:g})")
    return problems


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two share vectors over the union of their sectors."""
    dot = math.fsum(a[k] * b[k] for k in a.keys() & b.keys())
    norm = math.sqrt(math.fsum(v * v for v in a.values())) * math.sqrt(math.fsum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _normalized(values: Sequence[float], digits: int = 6) -> list[float]:
    """Rounded values that still sum to exactly 1 (the residue goes to the largest)."""
    total = math.fsum(values)
    rounded = [round(v / total, digits) for v in values] if total else list(values)
    if rounded:
        i = max(range(len(rounded)), key=lambda k: rounded[k])
        rounded[i] = round(rounded[i] + 1.0 - math.fsum(rounded), digits)
    return rounded


def _scope_of(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    if entry.get("reuse_scope") == WORKSPACE_ONLY:
        return (WORKSPACE_ONLY, entry.get("workspace_id"))
    return ("SHARED", None)


@dataclass
class ScenarioLearning:
    base: BaseState
    action: str  # "merged" | "created"
    entry: dict[str, Any]
    similarity: float | None
    candidates: list[dict[str, Any]]
    draft: Draft

    def report(self) -> dict[str, Any]:
        return {
            "format": "canonry.learn/v1",
            "learner": SCENARIOS,
            "base": {"ref": self.base.ref, "commit": self.base.commit},
            "draft": self.draft.branch,
            "commit": self.draft.commit,
            "action": self.action,
            "entry_id": self.entry["id"],
            "similarity": self.similarity,
            "candidates": self.candidates,
            "entry": self.entry,
        }


def learn_scenario(
    repo: Repository,
    source: str | Path,
    *,
    base: str = "main",
    actor: str | None = None,
    draft_name: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> ScenarioLearning:
    """Record an engagement's scenario: merge it into the most similar pattern, or create one."""
    scenario = parse_scenario(read_document(source), str(source))
    state = BaseState.at(repo, base)
    lib = state.library(SCENARIOS)
    moment = now or utc_now()
    scope = (
        (WORKSPACE_ONLY, scenario.workspace_id)
        if _scenario_scope(scenario) == WORKSPACE_ONLY
        else ("SHARED", None)
    )
    candidates: list[tuple[float, str, Entry]] = []
    for known_id, known in lib.load().items():
        if known.get("project_type") != scenario.project_type or _scope_of(known) != scope:
            continue
        shares = known.get("sector_shares")
        if isinstance(shares, Mapping):
            candidates.append((cosine(scenario.sector_shares, dict(shares)), known_id, known))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    listed = [{"id": i, "name": e.get("name"), "similarity": round(s, 6)} for s, i, e in candidates]
    similarity: float | None
    if candidates and candidates[0][0] >= MERGE_SIMILARITY:
        similarity, _, target = candidates[0]
        entry = _merge(target.to_dict(), scenario, similarity, moment)
        action = "merged"
    else:
        similarity = candidates[0][0] if candidates else None
        entry = _create(scenario, lib, moment)
        action = "created"
    verb = "merge into" if action == "merged" else "new pattern"
    summary = (
        f"learn scenario-patterns: {verb} {entry['name']} ({scenario.project_type}) from {scenario.qualified}"
    )
    draft = write_draft(
        state,
        draft_name or f"learn-scenario-{scenario.project_type}-{entry['id'][-8:]}-{state.commit[:8]}",
        {lib.spec.entry_path(entry["id"]): dump_yaml(entry).encode("utf-8")},
        summary,
        Provenance(
            source="learn",
            actor=actor_identity(repo, actor).email,
            reason=f"scenario {scenario.qualified} recorded ({action})",
            source_ref=str(source),
        ),
        dry_run=dry_run,
    )
    return ScenarioLearning(
        state, action, entry, None if similarity is None else round(similarity, 6), listed, draft
    )


def _scenario_scope(s: Scenario) -> str:
    return s.reuse_scope or (WORKSPACE_ONLY if s.workspace_id else "GLOBAL_INTERNAL")


def _merge(entry: dict[str, Any], s: Scenario, similarity: float, moment: dt.datetime) -> dict[str, Any]:
    lineage = entry.setdefault("lineage", {})
    scenarios = list(lineage.get("contributing_scenarios") or [])
    engagements = list(lineage.get("contributing_engagements") or [])
    if s.scenario in scenarios and s.engagement_id in engagements:
        raise UsageError(
            f"scenario {s.qualified} is already part of pattern {entry['id']} ({entry.get('name')})"
        )
    n = max(1, int(entry.get("usage_count") or 0))
    old_shares = dict(entry.get("sector_shares") or {})
    codes = sorted(old_shares.keys() | s.sector_shares.keys())
    merged = [(n * old_shares.get(c, 0.0) + s.sector_shares.get(c, 0.0)) / (n + 1) for c in codes]
    entry["sector_shares"] = {c: v for c, v in zip(codes, _normalized(merged), strict=True) if v > 0}
    old_phasing = list(entry.get("phasing") or [])
    years = max(len(old_phasing), len(s.phasing))
    padded_old = old_phasing + [0.0] * (years - len(old_phasing))
    padded_new = s.phasing + [0.0] * (years - len(s.phasing))
    entry["phasing"] = _normalized(
        [(n * a + b) / (n + 1) for a, b in zip(padded_old, padded_new, strict=True)]
    )
    entry["import_share"] = round((n * float(entry.get("import_share") or 0.0) + s.import_share) / (n + 1), 6)
    entry["usage_count"] = n + 1
    if s.engagement_id not in engagements:
        engagements.append(s.engagement_id)
    lineage["contributing_engagements"] = engagements
    lineage["contributing_scenarios"] = scenarios if s.scenario in scenarios else [*scenarios, s.scenario]
    lineage["merge_history"] = [
        *(lineage.get("merge_history") or []),
        {
            "at": rfc3339(moment),
            "merged_scenario": s.scenario,
            "engagement": s.engagement_id,
            "similarity": round(min(1.0, similarity), 6),
        },
    ]
    entry["updated_at"] = rfc3339(moment)
    return entry


def new_pattern_scope(s: Scenario, source: str = "the scenario") -> tuple[str, str | None]:
    """(reuse_scope, workspace_id) of a new pattern: its source's, and WORKSPACE_ONLY unless sanitised.

    One engagement's scenario is that client's until a steward has sanitised it
    (`sanitized_for_promotion: true`); only then may it be shared, at the scope
    it names (GLOBAL_INTERNAL when it names none).
    """
    scope = (s.reuse_scope or "GLOBAL_INTERNAL") if s.sanitized_for_promotion else WORKSPACE_ONLY
    if scope == WORKSPACE_ONLY and not s.workspace_id:
        raise InputError(
            f"{source}: a new pattern from a scenario that is not sanitized_for_promotion stays in its"
            " workspace; nothing was written",
            [(source, "give workspace_id (or sanitized_for_promotion: true once a steward sanitised it)")],
        )
    return scope, s.workspace_id if scope == WORKSPACE_ONLY else None


def _create(s: Scenario, lib: Library, moment: dt.datetime) -> dict[str, Any]:
    scope, workspace = new_pattern_scope(s)
    same_type = sum(1 for e in lib.load().values() if e.get("project_type") == s.project_type)
    name = (
        s.name or f"{s.project_type.replace('-', ' ').replace('_', ' ').capitalize()} pattern {same_type + 1}"
    )
    codes = sorted(s.sector_shares)
    entry: dict[str, Any] = {
        "id": deterministic_uuid7(
            int(moment.timestamp() * 1000), SCENARIOS, s.project_type, s.engagement_id, s.scenario
        ),
        "workspace_id": workspace,
        "source_engagement_id": s.engagement_id,
        "reuse_scope": scope,
        "sanitized_for_promotion": s.sanitized_for_promotion,
        "source": "user",
        "updated_at": rfc3339(moment),
        "name": name[:200],
        "project_type": s.project_type,
        "sector_shares": dict(zip(codes, _normalized([s.sector_shares[c] for c in codes]), strict=True)),
        "phasing": _normalized(s.phasing),
        "import_share": round(s.import_share, 6),
        "usage_count": 1,
        "lineage": {
            "contributing_engagements": [s.engagement_id],
            "contributing_scenarios": [s.scenario],
            "merge_history": [],
        },
    }
    if s.description:
        entry["description"] = s.description
    return entry


# --- suggest --------------------------------------------------------------------------------


def _project_slug(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().casefold())


def suggest(repo: Repository, project_type: str, at: str = "latest") -> dict[str, Any]:
    """The most used scenario pattern of a project type (latest version, or main before any)."""
    state, label = _state_for(repo, at)
    base = BaseState(repo, label, state.commit or "", state)
    lib = base.library(SCENARIOS)
    wanted = _project_slug(project_type)
    entries = lib.load()
    matching = [e for e in entries.values() if _project_slug(str(e.get("project_type", ""))) == wanted]
    if not matching:
        known = sorted({str(e.get("project_type")) for e in entries.values()})
        raise UsageError(
            f"no scenario pattern for project type {project_type!r} at {label}"
            + (f" (known: {', '.join(known)})" if known else "")
        )
    matching.sort(key=lambda e: (-int(e.get("usage_count") or 0), str(e.get("name")), str(e.get("id"))))
    best = matching[0]
    return {
        "format": "canonry.suggest/v1",
        "project_type": wanted,
        "ref": label,
        "commit": state.commit,
        "pattern": best.to_dict(),
        "alternatives": [
            {"id": e.get("id"), "name": e.get("name"), "usage_count": e.get("usage_count")}
            for e in matching[1:]
        ],
    }


def _state_for(repo: Repository, at: str) -> tuple[TreeState, str]:
    if at == "latest":
        version = latest_version(repo, SCENARIOS)
        if version is not None:
            return TreeState(repo, version.commit, version.tag), version.tag
        at = "main"
    if is_version_selector(at):
        version = resolve_version(repo, SCENARIOS, at)
        return TreeState(repo, version.commit, version.tag), version.tag
    return TreeState(repo, repo.resolve_commit(at), at), at
