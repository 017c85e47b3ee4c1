"""Builders shared by tests: entries and files in a work tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from canonry.store.yamlio import dump_yaml

COMMON = {
    "workspace_id": "ws-test",
    "source_engagement_id": None,
    "reuse_scope": "GLOBAL_INTERNAL",
    "sanitized_for_promotion": True,
    "source": "user",
    "updated_at": "2026-01-15T10:00:00Z",
}


def mapping_entry(
    entry_id: str, pattern: str, code: str, confidence: float = 0.8, **extra: Any
) -> dict[str, Any]:
    return {
        "id": entry_id,
        **COMMON,
        "pattern": pattern,
        "language": "en",
        "sector_code": code,
        "confidence": confidence,
        "evidence": {"kind": "steward", "reference": None, "override_ids": []},
        **extra,
    }


def write_entry(repo: Path, library: str, entry: dict[str, Any]) -> Path:
    path = repo / "knowledge" / library / f"{entry['id']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_yaml(entry), encoding="utf-8")
    return path


def write_text(repo: Path, rel: str, text: str | bytes) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def forget_caches(repo: Path) -> None:
    """What a fresh clone has: no local cache, nothing in memory (the gates' and the store's)."""
    import shutil

    from canonry.gates import content, index_audit
    from canonry.store import entries
    from canonry.store import index as shipped

    shutil.rmtree(repo / ".git" / "canonry", ignore_errors=True)
    content._MEMORY.clear()
    index_audit._SAMPLES.clear()
    shipped._MEMORY.clear()
    shipped._WARNED.clear()
    entries._STORES.clear()
    entries._MEMO.clear()
