"""scope: shared entries are sanitized and carry no personal data; workspace-only ones name a workspace.

For a new or changed entry whose `reuse_scope` is SANITIZED_GLOBAL or
GLOBAL_INTERNAL: `sanitized_for_promotion` must be true, and every string in
it (keys included, at any depth) must pass the PII scan of canonry.gates.pii.
Identity fields (IDENTITY_FIELDS: `steward`, `owner`, `actor`, ... the
organisation's own accountable people, as e-mail addresses by design) may
hold exactly one e-mail address; every other detector still runs on them.
A WORKSPACE_ONLY entry needs a non-empty `workspace_id`; its text is not
scanned (it never leaves its workspace).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..store.yamlio import Path
from .content import ChangedEntry, Positions, changed_entries, content_specs
from .context import GateContext
from .findings import ERROR, Finding
from .pii import EMAIL, PiiHit, scan

NAME = "scope"
SHARED_SCOPES = ("SANITIZED_GLOBAL", "GLOBAL_INTERNAL")
WORKSPACE_ONLY = "WORKSPACE_ONLY"
IDENTITY_FIELDS = frozenset(
    {
        "actor",
        "approved_by",
        "author",
        "authors",
        "created_by",
        "owner",
        "owners",
        "published_by",
        "reviewer",
        "reviewers",
        "steward",
        "stewards",
        "updated_by",
    }
)


def check(ctx: GateContext) -> list[Finding]:
    out: list[Finding] = []
    positions = Positions(ctx.head)
    for spec in content_specs(ctx):
        for entry in changed_entries(ctx, spec):
            out.extend(_check_entry(spec.name, entry, positions))
    return out


def _check_entry(library: str, entry: ChangedEntry, positions: Positions) -> list[Finding]:
    doc = entry.doc
    scope = doc.get("reuse_scope")

    def finding(path: Path, message: str) -> Finding:
        return positions.finding(entry, path, library=library, gate=NAME, severity=ERROR, message=message)

    if scope == WORKSPACE_ONLY:
        workspace = doc.get("workspace_id")
        if not isinstance(workspace, str) or not workspace.strip():
            return [finding(("workspace_id",), "workspace_id: a WORKSPACE_ONLY entry needs its workspace")]
        return []
    if scope not in SHARED_SCOPES:
        return []  # the schema gate reports a missing or unknown scope
    out = []
    if doc.get("sanitized_for_promotion") is not True:
        where: Path = ("sanitized_for_promotion",) if "sanitized_for_promotion" in doc else ("reuse_scope",)
        out.append(
            finding(
                where,
                f"sanitized_for_promotion: reuse_scope {scope} shares this entry beyond its workspace;"
                " it needs sanitized_for_promotion: true (after removing client and personal data)",
            )
        )
    for path, text in strings(doc):
        hits = scan(text)
        if _identity_field(path) and len(hits) == 1 and _is_one_address(text, hits[0]):
            continue
        for hit in hits:
            field = "/".join(str(p) for p in path)
            out.append(
                finding(
                    path,
                    f"{field}: {hit.describe()}; a {scope} entry must carry no personal data"
                    " (remove it, or make the entry WORKSPACE_ONLY)",
                )
            )
    return out


def strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string in a document (mapping keys included) with the path of its node."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), str(key)
            yield from strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, (*path, i))


def _is_one_address(text: str, hit: PiiHit) -> bool:
    return hit.kind == EMAIL and text[: hit.start].strip() == "" and text[hit.end :].strip() == ""


def _identity_field(path: Path) -> bool:
    names = [p for p in path if isinstance(p, str)]
    return bool(names) and names[-1] in IDENTITY_FIELDS
