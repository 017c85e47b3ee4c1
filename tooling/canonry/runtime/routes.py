"""The routes of `canonry serve`: requests to JSON documents over one opened Canon.

Responses at a version are immutable: a strong ETag (the tag object, tree or
blob id) and `Cache-Control: public, max-age=31536000, immutable`. Responses
about `latest`, lists and health are `no-cache` (revalidate: If-None-Match
with the current ETag answers 304). Errors are JSON (canonry.runtime.api.error/v1).
"""

from __future__ import annotations

import bisect
import hashlib
import re
import sys
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CanonryError, UnknownEntryError, UnknownLibraryError, UnknownVersionError
from ..store.registry import ID_RE, LIBRARY_NAME_RE
from ..store.rules import registry_at
from ..store.versions import Version, main_commit, parse_tag_message, resolve_version
from .api import Canon
from .pins import deprecation, known_libraries
from .protocol import HttpError, Response, dumps, error_response, matches, parse_target, status_of

MAX_PAGE = 10_000
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_VERSION = re.compile(r"v?([1-9][0-9]{0,8})|latest")
_LIBRARY = re.compile(LIBRARY_NAME_RE)


@dataclass
class _Doc:
    """A response to be: its validator, whether it is immutable, how to build its body."""

    etag: str | None
    immutable: bool
    build: Callable[[], Any]


class Api:
    """Requests to responses over one opened Canon; thread-safe, no HTTP server inside."""

    def __init__(
        self,
        canon: Canon,
        cache_bytes: int = 64 * 1024 * 1024,
        health_ttl: float = 60.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.canon = canon
        self.log = log or (lambda text: sys.stderr.write(f"canonry serve: {text}\n"))
        self.repo = canon.repo
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = cache_bytes
        self._health_ttl = health_ttl
        self._health: tuple[float, Any] | None = None

    # --- HTTP ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Response:
        """The response to a request; headers keyed by lower-case name."""
        if method not in ("GET", "HEAD"):
            message = f"{method} is not allowed: the API is read-only"
            response = error_response(405, "method_not_allowed", message)
            response.headers["Allow"] = "GET, HEAD"
            return response
        try:
            segments, query = parse_target(target)
            # Deprecation and staleness warnings go to the log, never into a response.
            with self._lock, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    return self._respond(self._route(segments, query), target, headers)
                finally:
                    for w in caught:
                        self.log(f"warning: {w.message}")
        except HttpError as exc:
            return error_response(exc.status, exc.error, exc.message)
        except CanonryError as exc:
            status, code = status_of(exc)
            return error_response(status, code, str(exc))

    def _respond(self, doc: _Doc, target: str, headers: Mapping[str, str]) -> Response:
        cache = IMMUTABLE if doc.immutable else REVALIDATE
        body: bytes | None = None
        etag = doc.etag
        if etag is None:  # validator from the content
            body = dumps(doc.build())
            etag = hashlib.sha256(body).hexdigest()[:40]
        tag = f'"{etag}"'
        out = {"ETag": tag, "Cache-Control": cache, "Content-Type": "application/json"}
        if matches(headers.get("if-none-match"), tag):
            return Response(304, b"", out)
        if body is None:
            key = (target, tag)
            body = self._cache.get(key)
            if body is None:
                body = dumps(doc.build())
                self._remember(key, body)
            else:
                self._cache.move_to_end(key)
        return Response(200, body, out)

    def _remember(self, key: tuple[str, str], body: bytes) -> None:
        if len(body) > self._cache_limit // 4:
            return
        self._cache[key] = body
        self._cache_bytes += len(body)
        while self._cache_bytes > self._cache_limit and self._cache:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= len(old)

    # --- routes --------------------------------------------------------------------

    def _route(self, segments: list[str], query: dict[str, str]) -> _Doc:
        match segments:
            case ["libraries"]:
                return _Doc(None, False, self._libraries)
            case ["libraries", name, "versions"]:
                self._known(name)
                return _Doc(None, False, lambda: self._versions(name))
            case ["libraries", name, "versions", selector, *rest] if len(rest) <= 2:
                version = self._version(name, selector)
                return self._at_version(version, selector == "latest", rest, query)
            case ["diff"]:
                return self._diff(query)
            case ["health"]:
                return _Doc(None, False, self._health_doc)
            case ["openapi.json"]:
                from .openapi import openapi

                return _Doc(None, False, openapi)
            case []:
                return _Doc(None, False, _index)
        raise HttpError(404, "not_found", f"no route /{'/'.join(segments)} (see /openapi.json)")

    def _known(self, name: str) -> None:
        if not _LIBRARY.fullmatch(name) or name not in known_libraries(self.repo):
            raise UnknownLibraryError(name)

    def _version(self, name: str, selector: str) -> Version:
        self._known(name)
        if not _VERSION.fullmatch(selector):
            raise UnknownVersionError(name, selector)
        return resolve_version(self.repo, name, selector)

    def _at_version(self, v: Version, latest: bool, rest: list[str], query: dict[str, str]) -> _Doc:
        pinned = not latest

        def tagged(oid: str | None) -> str:
            return (oid or v.target) if pinned else f"{v.target}.{oid or ''}".rstrip(".")

        lib = self.canon.library(v.library, v.number, allow_downgrade=True)
        ident = {"library": v.library, "version": v.number, "tag": v.tag, "commit": v.commit}
        match rest:
            case []:
                info = self.repo.tag(v.target)
                return _Doc(
                    tagged(None),
                    pinned,
                    lambda: {
                        "format": "canonry.runtime.api.version/v1",
                        **ident,
                        "tag_object": v.target,
                        "tree": lib.tree,
                        "summary": info.message.split("\n", 1)[0] if info else None,
                        "metadata": parse_tag_message(info.message) if info else {},
                        "entry_count": len(lib),
                    },
                )
            case ["entries"]:
                limit, after = _page(query)
                paged = limit is not None or after is not None
                suffix = f";after={after or ''};limit={limit or ''}" if paged else ""
                return _Doc(tagged(lib.tree) + suffix, pinned, lambda: _entries(lib, ident, limit, after))
            case ["entries", entry_id]:
                blob = lib.blob_of(entry_id) if ID_RE.fullmatch(entry_id) else None
                if blob is None:
                    raise UnknownEntryError(v.library, entry_id, v.tag)
                return _Doc(
                    tagged(blob),
                    pinned,
                    lambda: {
                        "format": "canonry.runtime.api.entry/v1",
                        **ident,
                        "id": entry_id,
                        "blob": blob,
                        "entry": lib[entry_id].to_dict(),
                    },
                )
        raise HttpError(404, "not_found", "no such route (see /openapi.json)")

    def _libraries(self) -> dict[str, Any]:
        main = main_commit(self.repo)
        specs = registry_at(self.repo, main).libraries if main else {}
        rows = []
        for name in sorted(known_libraries(self.repo)):
            versions = self.canon.versions(name)
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
        return {"format": "canonry.runtime.api.libraries/v1", "libraries": rows}

    def _versions(self, name: str) -> dict[str, Any]:
        rows = []
        for v in self.canon.versions(name):
            info = self.repo.tag(v.target)
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
                    "deprecated": deprecation(self.repo, v.target),
                }
            )
        return {
            "format": "canonry.runtime.api.versions/v1",
            "library": name,
            "latest": rows[-1]["tag"] if rows else None,
            "versions": rows,
        }

    def _diff(self, query: dict[str, str]) -> _Doc:
        from ..compare.diff import diff

        sides = []
        for key in ("from", "to"):
            spec = query.get(key)
            if not spec or "@" not in spec:
                raise HttpError(400, "bad_request", f"/diff needs {key}=LIBRARY@VERSION (e.g. mapping@v3)")
            name, _at, selector = spec.partition("@")
            sides.append((spec, self._version(name, selector), selector == "latest"))
        (a, va, latest_a), (b, vb, latest_b) = sides
        return _Doc(f"{va.target}..{vb.target}", not (latest_a or latest_b), lambda: diff(self.repo, a, b))

    def _health_doc(self) -> Any:
        now = time.monotonic()
        if self._health is not None and now - self._health[0] < self._health_ttl:
            return self._health[1]
        serving: dict[str, Any] = {"status": "ok", "source": self.canon.source}
        if self.canon.mirror is not None:
            serving["fetched_at"] = self.canon.mirror.state().get("fetched_at")
        try:
            from ..publication.health import health

            doc = {**health(self.repo), "serve": serving}
        except (ImportError, CanonryError) as exc:  # no main, or no flywheel module: the basics
            serving["flywheel"] = f"unavailable: {exc}"
            libraries = self._libraries()["libraries"]
            doc = {"format": "canonry.health/v1", "libraries": libraries, "serve": serving}
        self._health = (now, doc)
        return doc


def _index() -> dict[str, Any]:
    return {
        "format": "canonry.runtime.api.index/v1",
        "routes": [
            "/libraries",
            "/libraries/{name}/versions",
            "/libraries/{name}/versions/{version}",
            "/libraries/{name}/versions/{version}/entries",
            "/libraries/{name}/versions/{version}/entries/{id}",
            "/diff?from=LIB@vA&to=LIB@vB",
            "/health",
            "/openapi.json",
        ],
    }


def _entries(lib: Any, ident: dict[str, Any], limit: int | None, after: str | None) -> dict[str, Any]:
    entries = lib.load()  # parsed once per blob, shared with the CLI; sorted by id
    ids = list(entries)
    start = 0
    if after is not None:
        start = bisect.bisect_right(ids, after)
    page = ids[start : start + limit] if limit is not None else ids[start:]
    doc = {
        "format": "canonry.runtime.api.entries/v1",
        **ident,
        "tree": lib.tree,
        "count": len(ids),
        "entries": [entries[i].to_dict() for i in page],
        "next_after": page[-1] if limit is not None and page and start + len(page) < len(ids) else None,
    }
    return doc


def _page(query: dict[str, str]) -> tuple[int | None, str | None]:
    limit = query.get("limit")
    after = query.get("after")
    if limit is not None and not (limit.isdigit() and 1 <= int(limit) <= MAX_PAGE):
        raise HttpError(400, "bad_request", f"limit must be an integer from 1 to {MAX_PAGE}")
    if after is not None and not ID_RE.fullmatch(after):
        raise HttpError(400, "bad_request", "after must be an entry id")
    return (int(limit) if limit is not None else None), after
