"""The drafts pages: each open draft's diff against main, gate verdict, holdout comparison, review.

Running every gate on a draft takes a while, so a draft's view is kept per
(draft head, main tip): it is recomputed only when either moves. Entries the
serving workspace may not see are left out of the diff, as everywhere else.
"""

from __future__ import annotations

import threading
from typing import Any

from ...errors import CanonryError
from ..routes import Api
from ..scoped import scoped_diff
from .templating import render

_VIEWS: dict[tuple[str, str], dict[str, Any]] = {}
_LOCK = threading.Lock()


def list_page(api: Api) -> bytes:
    from ...publication.draft_views import list_drafts

    rows = [d.to_dict() | {"name": d.name} for d in list_drafts(api.repo) if not d.merged]
    return render("drafts.html", title="Drafts", rows=rows, json_url=None)


def view(api: Api, name: str) -> dict[str, Any]:
    """The draft's canonry.draft/v1 document, scoped (cached per draft head and main tip)."""
    from ...publication.draft_views import show_draft
    from ...publication.drafts import resolve_draft
    from ...store.versions import main_commit

    draft = resolve_draft(api.repo, name)
    key = (draft.head, main_commit(api.repo) or "")
    with _LOCK:
        cached = _VIEWS.get(key)
    if cached is not None:
        return cached
    doc = show_draft(api.repo, name).to_dict()
    for library in list(doc["diff"]["libraries"]):
        try:
            before = api.canon.library(library, doc["merge_base"])
            after = api.canon.library(library, draft.head)
        except CanonryError:  # a library the draft adds or drops: nothing to scope against on one side
            continue
        doc["diff"] = scoped_diff(doc["diff"], before, after)
    with _LOCK:
        if len(_VIEWS) > 256:
            _VIEWS.clear()
        _VIEWS[key] = doc
    return doc


def draft_page(api: Api, name: str) -> bytes:
    doc = view(api, name)
    holdout = doc["gate"].get("metrics", {}).get("holdout", {})
    changed = []
    for library, part in sorted(doc["diff"]["libraries"].items()):
        changed.append(
            {
                "library": library,
                "added": part.get("added_entry_ids", []),
                "removed": part.get("removed_entry_ids", []),
                "rows": part.get("changed_entries", []),
            }
        )
    return render(
        "draft.html",
        title=f"Draft {doc['draft']}",
        doc=doc,
        changed=changed,
        holdout=holdout,
        findings=doc["gate"].get("findings", []),
        review=doc.get("review_status", {}),
        json_url=None,
    )
