"""The OpenAPI 3.1 description of `canonry serve`, served at /openapi.json.

Every response shape is spelled out (properties, types, patterns; closed with
`additionalProperties: false` where Canonry owns the shape; entries and tag
metadata stay open, their shape is the library's schema). The document served
carries examples from the repository it serves (a real library, version and
entry id), so generated clients and conformance tests start from real data.
To add a route (e.g. /map): add its path to `paths` here and its schemas to
`SCHEMAS` in `runtime/openapi_schemas.py`.
"""

from __future__ import annotations

from typing import Any

from .._version import __version__
from .openapi_schemas import JSON, NAME, SCHEMAS, SPEC


def _param(name: str, where: str, schema: dict[str, Any], text: str, example: Any = None) -> Any:
    out = {"name": name, "in": where, "required": where == "path", "schema": schema, "description": text}
    if example is not None:
        out["example"] = example
    return out


def _ok(description: str, schema_ref: str, immutable: bool) -> dict[str, Any]:
    headers = {
        "ETag": {"description": "Strong validator.", "schema": {"type": "string", "pattern": '^"[^"]+"$'}},
        "Cache-Control": {
            "description": "public, max-age=31536000, immutable at vN; no-cache for latest"
            if immutable
            else "no-cache: revalidate with If-None-Match",
            "schema": {"type": "string"},
        },
    }
    return {
        "200": {
            "description": description,
            "headers": headers,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
        },
        "304": {"description": "Not modified: If-None-Match named the current ETag."},
    }


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad request: path tricks (`..`, encoded slashes), bad query parameters.",
        404: "Unknown library, version, entry or route.",
        409: "A tag moved (no longer names what its metadata or the lock records): nothing is served.",
        414: "URL too long.",
        500: "The repository could not be read (a corrupt object, a broken registry).",
    }
    return {
        str(code): {
            "description": text[code],
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in (400, *codes, 414, 500)
    }


def _get(summary: str, params: list[Any], ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params, "responses": {**ok, **_errors(*codes)}}}


def openapi(examples: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API description; `examples` (name, version, id, from, to) come from the served repository."""
    ex = examples or {}
    name = _param(
        "name", "path", {"type": "string", "pattern": NAME}, "A library, e.g. mapping.", ex.get("name")
    )
    version = _param(
        "version",
        "path",
        {"type": "string", "pattern": r"^(v?[1-9][0-9]{0,8}|latest)$"},
        "vN, N or latest. Responses at vN/N are immutable; latest is revalidated on every use.",
        ex.get("version"),
    )
    entry = _param("id", "path", {"type": "string", "pattern": NAME}, "An entry id.", ex.get("id"))
    at_version = [name, version]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Canonry runtime API",
            "version": __version__,
            "description": (
                "Read-only access to published library versions of a Canonry knowledge repository. "
                "Every response is JSON with a top-level `format`. HEAD is answered like GET; any other "
                "method gets 405 with `Allow: GET, HEAD`. WORKSPACE_ONLY entries are served only by a "
                "server started for their workspace. A web UI is served under /ui/ (HTML, not described)."
            ),
        },
        "paths": {
            "/libraries": _get(
                "Libraries with their latest version", [], _ok("The libraries.", "Libraries", False)
            ),
            "/libraries/{name}/versions": _get(
                "Published versions of a library, with metadata and deprecation",
                [name],
                _ok("The versions.", "Versions", False),
                404,
            ),
            "/libraries/{name}/versions/{version}": _get(
                "One version: identity and metadata",
                at_version,
                _ok("The version.", "Version", True),
                404,
                409,
            ),
            "/libraries/{name}/versions/{version}/entries": _get(
                "Entries at a version, sorted by id (all, or a page with limit/after)",
                [
                    *at_version,
                    _param(
                        "limit", "query", {"type": "integer", "minimum": 1, "maximum": 10000}, "Page size."
                    ),
                    _param(
                        "after", "query", {"type": "string", "pattern": NAME}, "Entries with ids after this."
                    ),
                ],
                _ok("The entries.", "Entries", True),
                404,
                409,
            ),
            "/libraries/{name}/versions/{version}/entries/{id}": _get(
                "One entry at a version", [*at_version, entry], _ok("The entry.", "Entry", True), 404, 409
            ),
            "/libraries/{name}/versions/{version}/entries/{id}/confidence": _get(
                "An entry's effective confidence and band now (decays with time: never immutable)",
                [*at_version, entry],
                _ok("Its effective confidence.", "Confidence", False),
                404,
                409,
            ),
            "/diff": _get(
                "Entry- and field-level diff between two versions of one library (canonry.diff/v1)",
                [
                    {
                        **_param(
                            "from", "query", {"type": "string", "pattern": SPEC}, "LIB@vN, e.g. mapping@v3."
                        ),
                        "required": True,
                        **({"example": ex["from"]} if "from" in ex else {}),
                    },  # fmt: skip
                    {
                        **_param(
                            "to", "query", {"type": "string", "pattern": SPEC}, "LIB@vN of the same library."
                        ),
                        "required": True,
                        **({"example": ex["to"]} if "to" in ex else {}),
                    },  # fmt: skip
                ],
                _ok("The diff.", "Diff", True),
                404,
                409,
            ),
            "/health": _get(
                "Service and flywheel health (canonry.health/v1)", [], _ok("Health.", "Health", False)
            ),
            "/map": _get(
                "The mapping library's sector for a project text, with the pattern that decided it",
                [
                    {
                        **_param(
                            "text",
                            "query",
                            {"type": "string", "minLength": 1, "maxLength": 10000, "pattern": r"\S"},
                            "The project text (1 to 10,000 characters, not only spaces).",
                        ),
                        "required": True,
                    },
                    _param("version", "query", {"type": "string"}, "vN or latest (the default)."),
                ],
                _ok("The sector, explained (canonry.map/v1).", "Map", False),
                400,
                404,
                409,
            ),
            "/openapi.json": _get("This description", [], _ok("OpenAPI 3.1.", "OpenAPI", False)),
        },
        "components": {"schemas": SCHEMAS},
    }
