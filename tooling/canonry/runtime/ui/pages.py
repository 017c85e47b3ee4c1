"""The web UI's pages: /ui/... requests to HTML over the same Canon as the JSON API.

Every page is server-rendered (jinja2, autoescaped, no script), links to the
JSON it shows, and has a stable URL. Pages read through the Canon, so they
see what the API sees: WORKSPACE_ONLY entries only for the serving workspace,
moved tags refused (409).
"""

from __future__ import annotations

import bisect
import json
from typing import Any
from urllib.parse import quote

from ..._version import __version__
from ...errors import CanonryError, SignatureError, TagMovedError, UnknownEntryError
from ...store.registry import ID_RE
from ...store.rules import registry_at
from ...store.versions import Version, main_commit, parse_library_spec, read_metadata
from ..pins import deprecation
from ..protocol import HttpError, Response
from ..routes import Api, Doc
from ..scoped import scoped_diff
from . import charts, drafts
from .series import health_series
from .templating import render

HTML = "text/html; charset=utf-8"
SVG = "image/svg+xml"
PAGE = 100


def page(api: Api, rest: list[str], query: dict[str, str]) -> Doc:
    """The /ui/... handler mounted on the Api."""
    scope = f";workspace={api.canon.workspace}" if api.canon.workspace else ""
    match rest:
        case []:
            return Doc(None, False, lambda: _libraries(api), HTML)
        case ["libraries", name]:
            api._known(name)
            return Doc(None, False, lambda: _library(api, name), HTML)
        case ["libraries", name, "versions", selector]:
            v = api._version(name, selector)
            lib = api.canon.library(name, v.number, allow_downgrade=True)
            after = query.get("after")
            if after is not None and not ID_RE.fullmatch(after):
                raise HttpError(400, "bad_request", "after must be an entry id")
            etag = f"ui-{__version__}-{v.target}{scope}-{after or ''}" if selector != "latest" else None
            return Doc(etag, False, lambda: _version(api, v, lib, after), HTML)
        case ["libraries", name, "versions", selector, "entries", entry_id]:
            v = api._version(name, selector)
            lib = api.canon.library(name, v.number, allow_downgrade=True)
            if not ID_RE.fullmatch(entry_id) or lib.blob_of(entry_id) is None:
                raise UnknownEntryError(name, entry_id, v.tag)
            return Doc(None, False, lambda: _entry(api, v, lib, entry_id, query.get("field")), HTML)
        case ["diff"]:
            return _diff(api, query)
        case ["drafts"]:
            return Doc(None, False, lambda: drafts.list_page(api), HTML)
        case ["drafts", *parts] if parts:
            return Doc(None, False, lambda: drafts.draft_page(api, "/".join(parts)), HTML)
        case ["health"]:
            return Doc(None, False, lambda: _health(api), HTML)
        case ["health", plot] if plot.endswith(".svg") and plot[:-4] in charts.PLOTS:
            return Doc(None, False, lambda: charts.plot(plot[:-4], health_series(api.repo)), SVG)
    raise HttpError(404, "not_found", f"no page /ui/{'/'.join(rest)}")


def render_error(response: Response) -> Response:
    """An API error as a page (same status; no-store)."""
    try:
        doc = json.loads(response.body)
    except ValueError:
        doc = {"status": response.status, "error": "error", "message": response.body.decode(errors="replace")}
    body = render("error.html", title=f"{doc['status']} {doc['error']}", doc=doc, json_url=None)
    return Response(response.status, body, {**response.headers, "Content-Type": HTML})


page.render_error = render_error  # type: ignore[attr-defined]


# --- pages --------------------------------------------------------------------------


def _libraries(api: Api) -> bytes:
    rows = []
    main = main_commit(api.repo)
    specs = registry_at(api.repo, main).libraries if main else {}
    for row in api._libraries()["libraries"]:
        spec = specs.get(row["name"])
        count: int | str | None = None
        if row["latest"]:
            try:
                count = len(api.canon.library(row["name"], "latest", allow_downgrade=True))
            except TagMovedError:
                count = "moved: refused"
        rows.append({**row, "entries": count, "stewards": list(spec.stewards) if spec else []})
    return render("libraries.html", title="Libraries", rows=rows, json_url="/libraries")


def signature_state(api: Api, v: Version) -> str:
    info = api.repo.tag(v.target)
    if info is None or "-----BEGIN" not in info.message:
        return "unsigned"
    try:
        signed = api.canon.signature(v)
    except SignatureError as exc:
        return f"signature does not hold: {exc}"
    return f"signed by {signed.signer or 'an allowed key'} ({signed.format})"


def _library(api: Api, name: str) -> bytes:
    rows = []
    for v in reversed(api.canon.versions(name)):
        meta = read_metadata(api.repo, v)
        holdout = meta.get("holdout") if isinstance(meta.get("holdout"), dict) else None
        rows.append(
            {
                "v": v,
                "meta": meta,
                "holdout": holdout.get("value") if holdout else None,
                "deprecated": deprecation(api.repo, v),
                "signature": signature_state(api, v),
            }
        )
    return render(
        "library.html", title=f"Library {name}", name=name, rows=rows, json_url=f"/libraries/{name}/versions"
    )


def _version(api: Api, v: Version, lib: Any, after: str | None) -> bytes:
    ids = lib.ids()
    start = bisect.bisect_right(ids, after) if after is not None else 0
    shown = ids[start : start + PAGE]
    rows = []
    for entry_id in shown:
        entry = lib[entry_id]
        rows.append({"id": entry_id, "title": lib.spec.summary(entry.to_dict()), "band": entry.band})
    more = shown[-1] if start + PAGE < len(ids) and shown else None
    return render(
        "version.html",
        title=v.tag,
        v=v,
        meta=read_metadata(api.repo, v),
        deprecated=deprecation(api.repo, v),
        signature=signature_state(api, v),
        rows=rows,
        count=len(ids),
        more=more,
        previous=v.number - 1 if v.number > 1 else None,
        json_url=f"/libraries/{v.library}/versions/v{v.number}",
    )


def _entry(api: Api, v: Version, lib: Any, entry_id: str, field: str | None) -> bytes:
    from ...publication.audit import explain

    entry = lib[entry_id]
    data = entry.to_dict()
    versions = api.canon.versions(v.library)
    history: list[dict[str, Any]] = []
    for other in versions:
        try:
            at = api.canon.library(v.library, other.number, allow_downgrade=True).get(entry_id)
        except TagMovedError:
            history.append({"v": other, "moved": True, "data": None})
            continue
        history.append({"v": other, "moved": False, "data": at.to_dict() if at is not None else None})
    fields = sorted({k for h in history if h["data"] for k in h["data"]} | set(data))
    table = []
    for name in fields:
        cells, previous = [], None
        for h in history:
            value = h["data"].get(name) if h["data"] else None
            changed = h["data"] is not None and previous is not None and value != previous
            cells.append({"value": value, "present": h["data"] is not None, "changed": changed})
            previous = value if h["data"] is not None else previous
        table.append({"field": name, "cells": cells})
    changes: list[dict[str, Any]] = []
    if field is not None:
        if field not in fields:
            raise HttpError(404, "not_found", f"entry {entry_id} has no field {field!r}")
        try:
            doc = explain(api.repo, entry_id, None, v.commit)
            changes = [c for c in doc["changes"] if c["field"] == field]
        except CanonryError as exc:
            changes = [{"error": str(exc)}]
    effective = entry.effective
    return render(
        "entry.html",
        title=f"{entry_id} at {v.tag}",
        v=v,
        entry_id=entry_id,
        entry_title=lib.spec.summary(data),
        data=data,
        effective=effective.to_dict() if effective else None,
        history=history,
        table=table,
        field=field,
        changes=changes,
        json_url=f"/libraries/{v.library}/versions/v{v.number}/entries/{entry_id}",
    )


def _diff(api: Api, query: dict[str, str]) -> Doc:
    if not query.get("from") or not query.get("to"):
        return Doc(None, False, lambda: _diff_form(api, query), HTML)
    sides = []
    for key in ("from", "to"):
        try:
            name, selector = parse_library_spec(query[key])
        except CanonryError:
            raise HttpError(400, "bad_request", f"{key} must be LIBRARY@VERSION, e.g. mapping@v3") from None
        sides.append(api._version(name, selector))
    va, vb = sides
    if va.library != vb.library:
        raise HttpError(400, "bad_request", "a diff compares two versions of one library")
    lib_a = api.canon.library(va.library, va.number, allow_downgrade=True)
    lib_b = api.canon.library(vb.library, vb.number, allow_downgrade=True)
    spec_a, spec_b = f"{va.library}@v{va.number}", f"{vb.library}@v{vb.number}"

    def build() -> bytes:
        from ...compare.diff import diff

        doc = scoped_diff(diff(api.repo, spec_a, spec_b), lib_a, lib_b)
        return render_diff(api, doc, va.library, lib_a, lib_b, query["from"], query["to"])

    latest = "latest" in (query["from"] + query["to"])
    scope = f";workspace={api.canon.workspace}" if api.canon.workspace else ""
    etag = None if latest else f"ui-{__version__}-{va.target}..{vb.target}{scope}"
    return Doc(etag, False, build, HTML)


def render_diff(api: Api, doc: dict[str, Any], name: str, lib_a: Any, lib_b: Any, a: str, b: str) -> bytes:
    part = doc["libraries"].get(name) or {}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in part.get("changed_entries", []):
        grouped.setdefault(row["entry_id"], []).append(row)
    changed = [
        {"id": i, "title": lib_b.spec.summary(lib_b[i].to_dict()), "rows": rows}
        for i, rows in sorted(grouped.items())
    ]
    added = [
        {"id": i, "title": lib_b.spec.summary(lib_b[i].to_dict())} for i in part.get("added_entry_ids", [])
    ]
    removed = [
        {"id": i, "title": lib_a.spec.summary(lib_a[i].to_dict())} for i in part.get("removed_entry_ids", [])
    ]
    return render(
        "diff.html",
        title=f"Diff {a} → {b}",
        library=name,
        a=a,
        b=b,
        va=lib_a,
        vb=lib_b,
        changed=changed,
        added=added,
        removed=removed,
        problems=part.get("problems", []),
        json_url=f"/diff?from={quote(a, safe='@')}&to={quote(b, safe='@')}",
    )


def _diff_form(api: Api, query: dict[str, str]) -> bytes:
    options = [f"{v.library}@v{v.number}" for v in api.canon.versions()]
    return render(
        "diff_form.html",
        title="Diff",
        options=options,
        a=query.get("from", ""),
        b=query.get("to", ""),
        json_url=None,
    )


def _health(api: Api) -> bytes:
    doc = api._health_doc()
    metrics = {k: v for k, v in doc.items() if not isinstance(v, dict | list) and k != "format"}
    return render(
        "health.html",
        title="Health",
        doc=doc,
        metrics=metrics,
        libraries=doc.get("libraries", {}),
        serving=doc.get("serve", {}),
        plots=charts.PLOTS,
        json_url="/health",
    )
