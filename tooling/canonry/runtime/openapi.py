"""The OpenAPI 3.1 description of `canonry serve`, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from .._version import __version__

_JSON = "application/json"
_NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}
_OID = {"type": "string", "pattern": "^[0-9a-f]{40}$"}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = True) -> Any:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


_LIBRARY = _param("name", "path", _NAME, "A library name, e.g. mapping.")
_VERSION = _param(
    "version",
    "path",
    {"type": "string", "pattern": "^(v?[1-9][0-9]{0,8}|latest)$"},
    "vN, N or latest. Responses at vN/N are immutable; latest is revalidated on every use.",
)
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 10000}
_ENTRY = _param("id", "path", _NAME, "An entry id.")


def _ok(description: str, schema_ref: str, immutable: bool) -> dict[str, Any]:
    headers = {
        "ETag": {"description": "Strong: the tag object, tree or blob id.", "schema": {"type": "string"}},
        "Cache-Control": {
            "description": (
                "public, max-age=31536000, immutable at a version; no-cache for latest"
                if immutable
                else "no-cache: revalidate with If-None-Match"
            ),
            "schema": {"type": "string"},
        },
    }
    return {
        "200": {
            "description": description,
            "headers": headers,
            "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
        },
        "304": {"description": "Not modified: If-None-Match named the current ETag."},
    }


_ERRORS = {
    str(code): {
        "description": text,
        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for code, text in (
        (400, "Bad request: path tricks (`..`, encoded slashes), bad query parameters."),
        (404, "Unknown library, version, entry or route."),
        (409, "A tag moved after it was pinned: nothing is served from it."),
        (414, "URL too long."),
        (500, "The repository could not be read (a corrupt object, a broken registry)."),
    )
}


def _get(summary: str, params: list[Any], ok: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params, "responses": {**ok, **_ERRORS}}}


def openapi() -> dict[str, Any]:
    """The API description (no write endpoints: every route is GET, HEAD answers alike)."""
    obj = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Canonry runtime API",
            "version": __version__,
            "description": (
                "Read-only access to published library versions of a Canonry knowledge repository. "
                "Every response is JSON with a top-level `format`. HEAD is answered like GET."
            ),
        },
        "paths": {
            "/libraries": _get(
                "Libraries with their latest version", [], _ok("The libraries.", "Libraries", False)
            ),
            "/libraries/{name}/versions": _get(
                "Published versions of a library, with metadata and deprecation",
                [_LIBRARY],
                _ok("The versions.", "Versions", False),
            ),
            "/libraries/{name}/versions/{version}": _get(
                "One version: identity and metadata",
                [_LIBRARY, _VERSION],
                _ok("The version.", "Version", True),
            ),
            "/libraries/{name}/versions/{version}/entries": _get(
                "Entries at a version, sorted by id (all, or a page with limit/after)",
                [
                    _LIBRARY,
                    _VERSION,
                    _param("limit", "query", _LIMIT, "Page size.", False),
                    _param("after", "query", _NAME, "Return entries with ids after this one.", False),
                ],
                _ok("The entries.", "Entries", True),
            ),
            "/libraries/{name}/versions/{version}/entries/{id}": _get(
                "One entry at a version", [_LIBRARY, _VERSION, _ENTRY], _ok("The entry.", "Entry", True)
            ),
            "/diff": _get(
                "Entry- and field-level diff between two versions of one library (canonry.diff/v1)",
                [
                    _param("from", "query", {"type": "string"}, "LIBRARY@VERSION, e.g. mapping@v3."),
                    _param("to", "query", {"type": "string"}, "LIBRARY@VERSION, e.g. mapping@v4."),
                ],
                _ok("The diff.", "Diff", True),
            ),
            "/health": _get(
                "Service and flywheel health (canonry.health/v1)", [], _ok("Health.", "Health", False)
            ),
            "/openapi.json": _get("This description", [], _ok("OpenAPI 3.1.", "OpenAPI", False)),
        },
        "components": {
            "schemas": {
                "Libraries": {**obj, "required": ["format", "libraries"]},
                "Versions": {**obj, "required": ["format", "library", "versions"]},
                "Version": {
                    **obj,
                    "required": ["format", "library", "version", "tag", "tag_object", "commit", "metadata"],
                    "properties": {"tag_object": _OID, "commit": _OID, "version": {"type": "integer"}},
                },
                "Entries": {**obj, "required": ["format", "library", "version", "tag", "count", "entries"]},
                "Entry": {**obj, "required": ["format", "library", "version", "tag", "id", "blob", "entry"]},
                "Diff": {**obj, "required": ["format", "from", "to", "libraries"]},
                "Health": {**obj, "required": ["format"]},
                "OpenAPI": obj,
                "Error": {
                    **obj,
                    "required": ["format", "status", "error", "message"],
                    "properties": {
                        "format": {"const": "canonry.runtime.api.error/v1"},
                        "status": {"type": "integer"},
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            }
        },
    }
