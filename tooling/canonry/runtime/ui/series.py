"""The health page's series, one point per published version (cached by tag object).

- holdout accuracy per mapping version: the value its tag metadata records,
  else measured on the holdout set at that version;
- override backlog per mapping version: overrides at the version's commit that
  no entry of that mapping version cites;
- entries by confidence band per mapping version, at the moment it was published;
- workforce coverage per version of the workforce library (share of cells calibrated).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from ...errors import CanonryError
from ...gates.confidence import confidence_table
from ...learning import OVERRIDES, cited_override_ids
from ...publication.health import MAPPING, WORKFORCE, measure
from ...store.confidence import BANDS
from ...store.entries import Library
from ...store.repo import Repository
from ...store.rules import load_rules, registry_at
from ...store.states import TreeState
from ...store.versions import Version, list_versions, read_metadata

_CACHE: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _memo(kind: str, v: Version, compute: Any) -> Any:
    key = (kind, v.target)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    value = compute()
    with _LOCK:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = value
    return value


def _library(repo: Repository, v: Version, name: str) -> Library | None:
    spec = registry_at(repo, v.commit).libraries.get(name)
    return Library(TreeState(repo, v.commit, v.tag), spec) if spec is not None else None


def holdout(repo: Repository, v: Version) -> float | None:
    def compute() -> float | None:
        recorded = read_metadata(repo, v).get("holdout")
        if isinstance(recorded, dict) and isinstance(recorded.get("value"), int | float):
            return float(recorded["value"])
        spec = registry_at(repo, v.commit).libraries.get(MAPPING)
        if spec is None or spec.holdout is None:
            return None
        try:
            return measure(TreeState(repo, v.commit, v.tag), spec)
        except CanonryError:
            return None

    return _memo("holdout", v, compute)


def backlog(repo: Repository, v: Version) -> int | None:
    def compute() -> int | None:
        mapping, overrides = _library(repo, v, MAPPING), _library(repo, v, OVERRIDES)
        if mapping is None or overrides is None:
            return None
        cited = cited_override_ids(mapping)
        return sum(1 for override_id in overrides.index if override_id not in cited)

    return _memo("backlog", v, compute)


def bands(repo: Repository, v: Version) -> dict[str, int]:
    def compute() -> dict[str, int]:
        lib = _library(repo, v, MAPPING)
        if lib is None or lib.spec.confidence_field is None:
            return {}
        policy = load_rules(lib.state).require_registry().policy.confidence
        at = read_metadata(repo, v).get("published_at")
        counted = Counter(row.confidence.band for row in confidence_table(lib, policy, at))
        return {band: counted.get(band, 0) for band in BANDS}

    return _memo("bands", v, compute)


def coverage(repo: Repository, v: Version) -> float | None:
    def compute() -> float | None:
        lib = _library(repo, v, WORKFORCE)
        if lib is None:
            return None
        cells = [e for e in lib.parse_all().values() if isinstance(e, dict)]
        if not cells:
            return None
        return round(100.0 * sum(1 for c in cells if c.get("basis") == "calibrated") / len(cells), 2)

    return _memo("coverage", v, compute)


def health_series(repo: Repository) -> dict[str, Any]:
    """Every series of the health page: labels (tags) and values."""
    mapping = list_versions(repo, MAPPING)
    workforce = list_versions(repo, WORKFORCE)
    per_band = [bands(repo, v) for v in mapping]
    return {
        "mapping_versions": [v.tag for v in mapping],
        "holdout": [holdout(repo, v) for v in mapping],
        "backlog": [backlog(repo, v) for v in mapping],
        "bands": {band: [b.get(band, 0) for b in per_band] for band in BANDS},
        "workforce_versions": [v.tag for v in workforce],
        "workforce_coverage": [coverage(repo, v) for v in workforce],
    }
