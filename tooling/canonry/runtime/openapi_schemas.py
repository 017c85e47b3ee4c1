"""The response schemas of `canonry serve`'s OpenAPI description (`components.schemas`).

Closed (`additionalProperties: false`) where Canonry owns the shape; entries
and tag metadata stay open. `runtime/openapi.py` builds the paths around them.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"
TAG = r"^[a-z0-9][a-z0-9-]{0,62}/v[1-9][0-9]*$"
SPEC = r"^[a-z0-9][a-z0-9-]{0,62}@(v?[1-9][0-9]{0,8}|latest)$"
_OID = {"type": "string", "pattern": "^[0-9a-f]{40}$"}
_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
        "additionalProperties": False,
    }


def _fmt(name: str) -> dict[str, Any]:
    return {"const": name}


_IDENT = {
    "library": {"type": "string", "pattern": NAME},
    "version": {"type": "integer", "minimum": 1},
    "tag": {"type": "string", "pattern": TAG},
    "commit": _OID,
}
_ENDPOINT = _closed({"ref": _STR, "commit": _OID})
_FIELD_CHANGE = _closed(
    {
        "entry_id": {"type": "string", "pattern": NAME},
        "field": _STR,
        "path": _STR,
        "op": {"enum": ["add", "remove", "replace"]},
        "old": {},
        "new": {},
    }
)
_LIBRARY_DIFF = {
    "type": "object",
    "properties": {
        "added_entry_ids": {"type": "array", "items": {"type": "string", "pattern": NAME}},
        "removed_entry_ids": {"type": "array", "items": {"type": "string", "pattern": NAME}},
        "changed_entries": {"type": "array", "items": {"$ref": "#/components/schemas/FieldChange"}},
        "changes_from_parent": {"type": "array", "items": _STR},
        "problems": {"type": "array", "items": {"type": "object"}},
        "added_entries": {"type": "object"},
    },
    "required": [
        "added_entry_ids",
        "removed_entry_ids",
        "changed_entries",
        "changes_from_parent",
        "problems",
    ],
    "additionalProperties": False,
}

SCHEMAS: dict[str, Any] = {
    "Libraries": _closed(
        {
            "format": _fmt("canonry.api.libraries/v1"),
            "libraries": {
                "type": "array",
                "items": _closed(
                    {
                        "name": {"type": "string", "pattern": NAME},
                        "lifecycle": _nullable(_STR),
                        "description": _nullable(_STR),
                        "versions": _INT,
                        "latest": _nullable({"type": "string", "pattern": TAG}),
                    }
                ),
            },
        }
    ),
    "Versions": _closed(
        {
            "format": _fmt("canonry.api.versions/v1"),
            "library": _IDENT["library"],
            "latest": _nullable({"type": "string", "pattern": TAG}),
            "versions": {
                "type": "array",
                "items": _closed(
                    {
                        "version": _IDENT["version"],
                        "tag": _IDENT["tag"],
                        "tag_object": _OID,
                        "commit": _OID,
                        "tree": _nullable(_OID),
                        "published_at": _nullable(_STR),
                        "summary": _nullable(_STR),
                        "deprecated": _nullable(_STR),
                    }
                ),
            },
        }
    ),
    "Version": _closed(
        {
            "format": _fmt("canonry.api.version/v1"),
            **_IDENT,
            "tag_object": _OID,
            "tree": _nullable(_OID),
            "summary": _nullable(_STR),
            "metadata": {
                "type": "object",
                "description": "The tag's metadata (library, version, tree, ...).",
            },
            "entry_count": _INT,
        }
    ),
    "Entries": _closed(
        {
            "format": _fmt("canonry.api.entries/v1"),
            **_IDENT,
            "tree": _nullable(_OID),
            "count": _INT,
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/EntryData"}},
            "next_after": _nullable({"type": "string", "pattern": NAME}),
        }
    ),
    "Entry": _closed(
        {
            "format": _fmt("canonry.api.entry/v1"),
            **_IDENT,
            "id": {"type": "string", "pattern": NAME},
            "blob": _OID,
            "entry": {"$ref": "#/components/schemas/EntryData"},
        }
    ),
    "EntryData": {
        "type": "object",
        "description": "An entry as its library's JSON Schema defines it (schemas/<library>.schema.json).",
        "properties": {"id": {"type": "string", "pattern": NAME}},
        "required": ["id"],
    },
    "Confidence": _closed(
        {
            "format": _fmt("canonry.api.confidence/v1"),
            **_IDENT,
            "id": {"type": "string", "pattern": NAME},
            "at": _STR,
            "value": {"type": "number", "minimum": 0, "maximum": 1},
            "band": {"enum": ["trusted", "standard", "caution", "blocked"]},
            "base": {"type": "number"},
            "days_since_update": {"type": "number", "minimum": 0},
        }
    ),
    "FieldChange": _FIELD_CHANGE,
    "LibraryDiff": _LIBRARY_DIFF,
    "Diff": _closed(
        {
            "format": _fmt("canonry.diff/v1"),
            "from": _ENDPOINT,
            "to": _ENDPOINT,
            "libraries": {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/LibraryDiff"},
            },
        }
    ),
    "Health": {
        "type": "object",
        "description": "canonry.health/v1: the flywheel's metrics (`canonry health`) and the server's state.",
        "properties": {
            "format": _fmt("canonry.health/v1"),
            "libraries": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"versions": _INT, "entries": _INT, "latest": _nullable(_STR)},
                },
            },
            "serve": {
                "type": "object",
                "properties": {
                    "status": {"enum": ["ok", "stale"], "description": "stale: the last refresh failed"},
                    "source": _STR,
                    "fetched_at": _nullable(_STR),
                    "last_error": _STR,
                    "failed_at": _nullable(_STR),
                },
                "required": ["status", "source", "fetched_at"],
                "additionalProperties": False,
            },
        },
        "required": ["format", "libraries", "serve"],
    },
    "Map": {
        "type": "object",
        "description": "canonry.map/v1: the mapping library's sector for a text (`canonry map`).",
        "properties": {
            "format": _fmt("canonry.map/v1"),
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["text", "sector_code", "entry_id", "pattern", "confidence", "band"],
                    "properties": {
                        "text": _STR,
                        "sector_code": _nullable(_STR),
                        "entry_id": _nullable(_STR),
                        "pattern": _nullable(_STR),
                        "confidence": _nullable({"type": "number"}),
                        "band": _nullable(_STR),
                        "runner_up": _nullable({"type": "object"}),
                    },
                },
            },
        },
        "required": ["format", "results"],
    },
    "OpenAPI": {"type": "object", "required": ["openapi", "info", "paths"]},
    "Error": _closed(
        {
            "format": _fmt("canonry.api.error/v1"),
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "error": {"type": "string", "pattern": "^[a-z_]+$"},
            "message": _STR,
        }
    ),
}
