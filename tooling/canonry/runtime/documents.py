"""The JSON documents of `canonry serve`'s routes: index, libraries, versions, entries, confidence.

`runtime/routes.py` decides which one a request gets and how it is cached;
these only build the documents.
"""

from __future__ import annotations

import bisect
from typing import Any

from ..store.registry import ID_RE
from ..store.rules import registry_at
from ..store.times import rfc3339
from ..store.versions import main_commit, parse_tag_message
from .api import Canon
from .pins import deprecation, known_libraries
from .protocol import HttpError

MAX_PAGE = 10_000


def index_doc() -> dict[str, Any]:
    return {
        "format": "canonry.api.index/v1",
        "routes": [
            "/libraries",
            "/libraries/{name}/versions",
            "/libraries/{name}/versions/{version}",
            "/libraries/{name}/versions/{version}/entries",
            "/libraries/{name}/versions/{version}/entries/{id}",
            "/diff?from=LIB@vA&to=LIB@vB",
            "/health",
            "/map?text=...&version=vN",
            "/openapi.json",
        ],
    }


def confidence_doc(lib: Any, ident: dict[str, Any], entry_id: str) -> dict[str, Any]:
    effective = lib.confidence(entry_id)
    return {
        "format": "canonry.api.confidence/v1",
        **ident,
        "id": entry_id,
        "at": rfc3339(),
        **effective.to_dict(),
    }


def entries_doc(lib: Any, ident: dict[str, Any], limit: int | None, after: str | None) -> dict[str, Any]:
    entries = lib.load()  # parsed once per blob, shared with the CLI; sorted by id
    ids = list(entries)
    start = 0
    if after is not None:
        start = bisect.bisect_right(ids, after)
    page = ids[start : start + limit] if limit is not None else ids[start:]
    doc = {
        "format": "canonry.api.entries/v1",
        **ident,
        "tree": lib.tree,
        "count": len(ids),
        "entries": [entries[i].to_dict() for i in page],
        "next_after": page[-1] if limit is not None and page and start + len(page) < len(ids) else None,
    }
    return doc


def page_of(query: dict[str, str]) -> tuple[int | None, str | None]:
    limit = query.get("limit")
    after = query.get("after")
    if limit is not None and not (limit.isdigit() and 1 <= int(limit) <= MAX_PAGE):
        raise HttpError(400, "bad_request", f"limit must be an integer from 1 to {MAX_PAGE}")
    if after is not None and not ID_RE.fullmatch(after):
        raise HttpError(400, "bad_request", "after must be an entry id")
    return (int(limit) if limit is not None else None), after


def libraries_doc(canon: Canon) -> dict[str, Any]:
    """canonry.api.libraries/v1: every library with its lifecycle and latest version."""
    main = main_commit(canon.repo)
    specs = registry_at(canon.repo, main).libraries if main else {}
    rows = []
    for name in sorted(known_libraries(canon.repo)):
        versions = canon.versions(name)
        spec = specs.get(name)
        rows.append(
            {
                "name": name,
                "lifecycle": spec.lifecycle if spec else None,
                "description": spec.description if spec else None,
                "versions": len(versions),
                "latest": versions[-1].tag if versions else None,
            }
        )
    return {"format": "canonry.api.libraries/v1", "libraries": rows}


def versions_doc(canon: Canon, name: str) -> dict[str, Any]:
    """canonry.api.versions/v1: the published versions of a library, with tag metadata."""
    rows = []
    for v in canon.versions(name):
        info = canon.repo.tag(v.target)
        meta = parse_tag_message(info.message) if info else {}
        rows.append(
            {
                "version": v.number,
                "tag": v.tag,
                "tag_object": v.target,
                "commit": v.commit,
                "tree": meta.get("tree"),
                "published_at": meta.get("published_at"),
                "summary": info.message.split("\n", 1)[0] if info else None,
                "deprecated": deprecation(canon.repo, v),
            }
        )
    return {
        "format": "canonry.api.versions/v1",
        "library": name,
        "latest": rows[-1]["tag"] if rows else None,
        "versions": rows,
    }
