"""The routes of `canonry serve`: requests to JSON documents over one opened Canon.

Responses at a version are immutable: a strong ETag (the tag object, tree or
blob id) and `Cache-Control: public, max-age=31536000, immutable`. Responses
about `latest`, lists and health are `no-cache` (revalidate: If-None-Match
with the current ETag answers 304). Errors are JSON (canonry.api.error/v1).

Other modules add top-level routes with `Api.mount(first_segment, handler)`
(the web UI at /ui; room for more): a handler gets the Api, the remaining
segments and the query, and returns a Doc.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CanonryError, UnknownEntryError, UnknownLibraryError, UnknownVersionError
from ..learning.mapper import MAP_FORMAT
from ..store.registry import ID_RE, LIBRARY_NAME_RE
from ..store.versions import Version, main_commit, parse_tag_message, resolve_version
from .api import Canon
from .documents import confidence_doc, entries_doc, index_doc, libraries_doc, page_of, versions_doc
from .pins import known_libraries
from .protocol import HttpError, Response, dumps, error_response, matches, parse_target, status_of
from .scoped import scoped_diff

MAX_MAP_TEXT = 10_000  # characters of a /map text
MAPPING = "mapping"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_VERSION = re.compile(r"v?([1-9][0-9]{0,8})|latest")
_LIBRARY = re.compile(LIBRARY_NAME_RE)


@dataclass
class Doc:
    """A response to be: its validator, whether it is immutable, how to build its body.

    `build` returns a JSON-able document, or bytes already in `content_type`.
    """

    etag: str | None
    immutable: bool
    build: Callable[[], Any]
    content_type: str = "application/json"


_Doc = Doc
Handler = Callable[["Api", list[str], dict[str, str]], Doc]


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
        self._health: tuple[Any, dict[str, Any]] | None = None
        self.mounts: dict[str, Handler] = {}

    def mount(self, first: str, handler: Handler) -> None:
        """Serve /{first}/... with handler (e.g. the web UI at /ui)."""
        self.mounts[first] = handler

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
            return self._error(target, error_response(exc.status, exc.error, exc.message))
        except CanonryError as exc:
            status, code = status_of(exc)
            return self._error(target, error_response(status, code, str(exc)))

    def _error(self, target: str, response: Response) -> Response:
        """Errors under a mounted HTML tree (the UI) as a page; JSON everywhere else."""
        first = target.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        render = getattr(self.mounts.get(first), "render_error", None)
        return render(response) if render is not None else response

    def _respond(self, doc: _Doc, target: str, headers: Mapping[str, str]) -> Response:
        cache = IMMUTABLE if doc.immutable else REVALIDATE
        body: bytes | None = None
        etag = doc.etag
        if etag is None:  # validator from the content
            body = _encode(doc.build())
            etag = hashlib.sha256(body).hexdigest()[:40]
        tag = f'"{etag}"'
        out = {"ETag": tag, "Cache-Control": cache, "Content-Type": doc.content_type}
        if matches(headers.get("if-none-match"), tag):
            return Response(304, b"", out)
        if body is None:
            key = (target, tag)
            body = self._cache.get(key)
            if body is None:
                body = _encode(doc.build())
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
                return _Doc(None, False, lambda: versions_doc(self.canon, name))
            case ["libraries", name, "versions", selector, *rest] if len(rest) <= 3:
                version = self._version(name, selector)
                return self._at_version(version, selector == "latest", rest, query)
            case ["diff"]:
                return self._diff(query)
            case ["health"]:
                return _Doc(None, False, self._health_doc)
            case ["map"]:
                return self._map(query)
            case ["openapi.json"]:
                from .openapi import openapi

                return _Doc(None, False, lambda: openapi(self.examples()))
            case []:
                return _Doc(None, False, index_doc)
            case [first, *rest] if first in self.mounts:
                return self.mounts[first](self, rest, query)
        raise HttpError(404, "not_found", f"no route /{'/'.join(segments)} (see /openapi.json)")

    def examples(self) -> dict[str, Any]:
        """A real library, version, entry id and diff of the served repository (for /openapi.json)."""
        for name in sorted(known_libraries(self.repo)):
            versions = self.canon.versions(name)
            if not versions:
                continue
            last = versions[-1]
            try:
                first = next(iter(self.canon.library(name, last.number, allow_downgrade=True)), None)
            except CanonryError:
                continue
            out = {"name": name, "version": f"v{last.number}", "from": f"{name}@v{versions[0].number}"}
            out["to"] = f"{name}@v{last.number}"
            return out | ({"id": first} if first else {})
        return {}

    def _known(self, name: str) -> None:
        if not _LIBRARY.fullmatch(name) or name not in known_libraries(self.repo):
            raise UnknownLibraryError(name)

    def _version(self, name: str, selector: str) -> Version:
        if not _LIBRARY.fullmatch(name):
            raise UnknownLibraryError(name)
        try:
            if not _VERSION.fullmatch(selector):
                raise UnknownVersionError(name, selector)
            return resolve_version(self.repo, name, selector)  # one ref lookup: the hot path
        except UnknownVersionError:
            self._known(name)  # an unknown library is reported as such, not as an unknown version
            raise

    def _at_version(self, v: Version, latest: bool, rest: list[str], query: dict[str, str]) -> _Doc:
        pinned = not latest

        scope = f";workspace={self.canon.workspace}" if self.canon.workspace else ""

        def tagged(oid: str | None) -> str:
            base = (oid or v.target) if pinned else f"{v.target}.{oid or ''}".rstrip(".")
            return base + scope

        lib = self.canon.library(v.library, v.number, allow_downgrade=True)
        ident = {"library": v.library, "version": v.number, "tag": v.tag, "commit": v.commit}
        match rest:
            case []:
                info = self.repo.tag(v.target)
                return _Doc(
                    tagged(None),
                    pinned,
                    lambda: {
                        "format": "canonry.api.version/v1",
                        **ident,
                        "tag_object": v.target,
                        "tree": lib.tree,
                        "summary": info.message.split("\n", 1)[0] if info else None,
                        "metadata": parse_tag_message(info.message) if info else {},
                        "entry_count": len(lib),
                    },
                )
            case ["entries"]:
                limit, after = page_of(query)
                paged = limit is not None or after is not None
                suffix = f";after={after or ''};limit={limit or ''}" if paged else ""
                return _Doc(tagged(lib.tree) + suffix, pinned, lambda: entries_doc(lib, ident, limit, after))
            case ["entries", entry_id]:
                blob = lib.blob_of(entry_id) if ID_RE.fullmatch(entry_id) else None
                if blob is None:
                    raise UnknownEntryError(v.library, entry_id, v.tag)
                return _Doc(
                    tagged(blob),
                    pinned,
                    lambda: {
                        "format": "canonry.api.entry/v1",
                        **ident,
                        "id": entry_id,
                        "blob": blob,
                        "entry": lib[entry_id].to_dict(),
                    },
                )
            case ["entries", entry_id, "confidence"]:
                if not ID_RE.fullmatch(entry_id) or lib.blob_of(entry_id) is None:
                    raise UnknownEntryError(v.library, entry_id, v.tag)
                if lib.spec.confidence_field is None:
                    raise HttpError(404, "not_found", f"library {v.library} declares no confidence field")
                # Decays with time: revalidated, never immutable.
                return _Doc(None, False, lambda: confidence_doc(lib, ident, entry_id))
        raise HttpError(404, "not_found", "no such route (see /openapi.json)")

    def _map(self, query: dict[str, str]) -> _Doc:
        """/map?text=...[&version=vN]: the mapping library's sector for a text (canonry.map/v1)."""
        text = query.get("text", "")
        if not text.strip() or len(text) > MAX_MAP_TEXT:
            raise HttpError(400, "bad_request", f"/map needs text=... (1 to {MAX_MAP_TEXT} characters)")
        v = self._version(MAPPING, query.get("version", "latest"))
        lib = self.canon.library(v.library, v.number, allow_downgrade=True)
        ident = {"library": v.library, "version": v.number, "tag": v.tag, "commit": v.commit}
        # confidence decays with time: revalidated, never immutable
        return _Doc(
            None, False, lambda: {"format": MAP_FORMAT, **ident, "results": [lib.match(text).to_dict()]}
        )

    def _libraries(self) -> dict[str, Any]:
        return libraries_doc(self.canon)

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
        if va.library != vb.library:
            raise HttpError(400, "bad_request", "/diff compares two versions of one library")
        lib_a = self.canon.library(va.library, va.number, allow_downgrade=True)  # checks the tags
        lib_b = self.canon.library(vb.library, vb.number, allow_downgrade=True)
        scope = f";workspace={self.canon.workspace}" if self.canon.workspace else ""

        def build() -> Any:
            return scoped_diff(diff(self.repo, a, b), lib_a, lib_b)

        return _Doc(f"{va.target}..{vb.target}{scope}", not (latest_a or latest_b), build)

    def _health_doc(self) -> Any:
        serving: dict[str, Any] = {"status": "ok", "source": self.canon.source, "fetched_at": None}
        if self.canon.mirror is not None:
            state = self.canon.mirror.state()
            serving["fetched_at"] = state.get("fetched_at")
            if state.get("last_error"):  # the last refresh failed: serving an old copy
                serving["status"] = "stale"
                serving["last_error"] = state["last_error"]
                serving["failed_at"] = state.get("failed_at")
        return {**self.flywheel_health(), "serve": serving}

    def flywheel_health(self) -> dict[str, Any]:
        """canonry.health/v1 of main and the tags (recomputed only when they move)."""
        key = (main_commit(self.repo), tuple(sorted(self.repo.refs("refs/tags/").items())))
        if self._health is not None and self._health[0] == key:
            return dict(self._health[1])
        try:
            from ..publication.health import health

            doc: dict[str, Any] = health(self.repo)
        except (ImportError, CanonryError) as exc:  # no main, or no flywheel module: the basics
            rows = self._libraries()["libraries"]
            libraries = {r["name"]: {"versions": r["versions"], "latest": r["latest"]} for r in rows}
            doc = {"format": "canonry.health/v1", "libraries": libraries, "flywheel": f"unavailable: {exc}"}
        self._health = (key, doc)
        return dict(doc)


def _encode(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else dumps(payload)
