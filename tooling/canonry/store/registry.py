"""schemas/libraries.yaml -> library specs and the policy.

The registry is read from a `RulesSource` (a tree at a ref, or a folder), so
gates can take the rules from the base and never from the draft.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import EntrySyntaxError, RegistryError, UnknownLibraryError
from .yamlio import load_yaml_with_positions, position_of

REGISTRY_PATH = "schemas/libraries.yaml"
LIFECYCLES = ("versioned", "append-only")
LAYOUTS = ("flat", "sharded")
ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
LIBRARY_NAME_RE = r"^[a-z0-9][a-z0-9-]{0,62}$"
_EMAILS = {"type": "array", "items": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"}}
_FUNC = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"}
_FIELDS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_MODULE_RE = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"

# The shape of libraries.yaml itself; its errors become findings with lines.
REGISTRY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["policy", "libraries"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": "canonry.libraries/v1"},
        "policy": {
            "type": "object",
            "additionalProperties": False,
            "required": ["owners"],
            "properties": {
                "owners": {**_EMAILS, "minItems": 1},
                "min_approvals": {"type": "integer", "minimum": 0},
                "min_override_frequency": {"type": "integer", "minimum": 1},
                "require_signed_tags": {"type": "boolean"},
                "allowed_signers": {"type": ["string", "null"]},
                "function_modules": {"type": "array", "items": {"type": "string", "pattern": _MODULE_RE}},
                "require_signed_reviews": {"type": "boolean"},
                "require_signed_commits": {"type": "boolean"},
                "confidence": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "decay_rate": {"type": "number", "minimum": 0},
                        "conflict_penalty": {"type": "number", "minimum": 0},
                        "source_weights": {
                            "type": "object",
                            "additionalProperties": {"type": "number", "minimum": 0},
                        },
                        "bands": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "trusted": {"type": "number"},
                                "standard": {"type": "number"},
                                "caution": {"type": "number"},
                            },
                        },
                    },
                },
            },
        },
        "libraries": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": LIBRARY_NAME_RE},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["path", "schema", "lifecycle"],
                "properties": {
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "path": {"type": "string", "pattern": r"^knowledge/[a-z0-9][a-z0-9-]*$"},
                    "schema": {"type": "string", "pattern": r"^schemas/[A-Za-z0-9_.-]+\.json$"},
                    "lifecycle": {"enum": list(LIFECYCLES)},
                    "layout": {"enum": list(LAYOUTS)},
                    "stewards": _EMAILS,
                    "natural_key": _FIELDS,
                    "duplicates": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "exact": _FIELDS,
                            "near": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["fields"],
                                "properties": {
                                    "fields": _FIELDS,
                                    "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                                },
                            },
                        },
                    },
                    "conflicts": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["key", "values"],
                        "properties": {"key": _FIELDS, "values": _FIELDS},
                    },
                    "mutable_fields": {
                        "type": "object",
                        "additionalProperties": {
                            "oneOf": [
                                {"enum": ["any", "set_once"]},
                                {
                                    "type": "object",
                                    "additionalProperties": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                    },
                                },
                            ]
                        },
                    },
                    "holdout": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["data", "evaluator"],
                        "properties": {
                            "data": {
                                "type": "string",
                                "pattern": r"^knowledge/holdout/[a-z0-9-]+\.yaml$",
                            },
                            "evaluator": _FUNC,
                            "min_delta": {"type": "number"},
                            "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                        },
                    },
                    "checks": {"type": "array", "items": _FUNC},
                    "confidence_field": {"type": "string"},
                    "channels": {
                        "type": "array",
                        "uniqueItems": True,
                        "items": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{0,31}$"},
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class HoldoutSpec:
    data: str
    evaluator: str
    min_delta: float = 0.0
    threshold: float = 0.0


@dataclass(frozen=True)
class DuplicateSpec:
    exact: tuple[str, ...] = ()
    near_fields: tuple[str, ...] = ()
    near_threshold: float = 0.9


@dataclass(frozen=True)
class ConflictSpec:
    key: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class LibrarySpec:
    name: str
    path: str
    schema: str
    lifecycle: str = "versioned"
    layout: str = "flat"
    title: str = "{id}"
    description: str = ""
    stewards: tuple[str, ...] = ()
    natural_key: tuple[str, ...] = ()
    duplicates: DuplicateSpec = DuplicateSpec()
    conflicts: ConflictSpec | None = None
    mutable_fields: Mapping[str, Any] = field(default_factory=dict)
    holdout: HoldoutSpec | None = None
    checks: tuple[str, ...] = ()
    confidence_field: str | None = None
    channels: tuple[str, ...] = ()  # names declared besides stable and canary (runtime/channels)

    @property
    def append_only(self) -> bool:
        return self.lifecycle == "append-only"

    def entry_path(self, entry_id: str) -> str:
        """The repository path of an entry, always computed from its id."""
        return f"{self.path}/{self.relative_path(entry_id)}"

    def relative_path(self, entry_id: str) -> str:
        if self.layout == "sharded":
            shard = hashlib.sha1(entry_id.encode("utf-8")).hexdigest()[:2]
            return f"{shard}/{entry_id}.yaml"
        return f"{entry_id}.yaml"

    def id_from_relative_path(self, rel: str) -> str | None:
        """The id a well-placed entry file has, or None for a misplaced file."""
        if not rel.endswith(".yaml"):
            return None
        stem = rel.rsplit("/", 1)[-1][: -len(".yaml")]
        if not ID_RE.fullmatch(stem):
            return None
        return stem if self.relative_path(stem) == rel else None

    def summary(self, entry: Mapping[str, Any]) -> str:
        """The human title of an entry from the `title` format string."""
        try:
            return self.title.format_map(_Missing(entry))
        except (ValueError, IndexError, AttributeError):
            return str(entry.get("id", "?"))


class _Missing(dict[str, Any]):
    def __init__(self, entry: Mapping[str, Any]) -> None:
        super().__init__(entry)

    def __missing__(self, key: str) -> str:
        return "?"


@dataclass(frozen=True)
class ConfidencePolicy:
    decay_rate: float = 0.0
    conflict_penalty: float = 0.0
    source_weights: Mapping[str, float] = field(default_factory=dict)
    trusted: float = 0.90
    standard: float = 0.75
    caution: float = 0.60


@dataclass(frozen=True)
class Policy:
    owners: tuple[str, ...]
    min_approvals: int = 1
    min_override_frequency: int = 2
    require_signed_tags: bool = False
    allowed_signers: str | None = None
    # absent means false (repositories made before signed reviews); `canonry init` writes true
    require_signed_reviews: bool = False
    require_signed_commits: bool = False
    confidence: ConfidencePolicy = ConfidencePolicy()
    # modules besides Canonry's own (canonry.checks, canonry.evaluators) whose functions may run
    function_modules: tuple[str, ...] = ()

    def is_owner(self, email: str) -> bool:
        return email.casefold() in {o.casefold() for o in self.owners}


@dataclass(frozen=True)
class Registry:
    libraries: Mapping[str, LibrarySpec]
    policy: Policy
    digest: str

    def library(self, name: str) -> LibrarySpec:
        try:
            return self.libraries[name]
        except KeyError:
            raise UnknownLibraryError(name, sorted(self.libraries)) from None

    def names(self) -> list[str]:
        return sorted(self.libraries)

    def library_for_path(self, path: str) -> LibrarySpec | None:
        for spec in self.libraries.values():
            if path.startswith(spec.path + "/"):
                return spec
        return None


def parse_registry(data: bytes, path: str = REGISTRY_PATH) -> Registry:
    """Parse and check libraries.yaml; raise RegistryError with its line."""
    try:
        doc, positions = load_yaml_with_positions(data, path)
    except EntrySyntaxError as exc:
        raise RegistryError(exc.problem, path, exc.line, exc.column) from None
    if not _compiled_says_valid(doc):
        _schema_errors(doc, positions, path)
    pol = doc["policy"]
    conf = pol.get("confidence") or {}
    bands = conf.get("bands") or {}
    policy = Policy(
        owners=tuple(pol["owners"]),
        min_approvals=pol.get("min_approvals", 1),
        min_override_frequency=pol.get("min_override_frequency", 2),
        require_signed_tags=pol.get("require_signed_tags", False),
        allowed_signers=pol.get("allowed_signers"),
        function_modules=tuple(pol.get("function_modules") or ()),
        require_signed_reviews=pol.get("require_signed_reviews", False),
        require_signed_commits=pol.get("require_signed_commits", False),
        confidence=ConfidencePolicy(
            decay_rate=float(conf.get("decay_rate", 0.0)),
            conflict_penalty=float(conf.get("conflict_penalty", 0.0)),
            source_weights=dict(conf.get("source_weights") or {}),
            trusted=float(bands.get("trusted", 0.90)),
            standard=float(bands.get("standard", 0.75)),
            caution=float(bands.get("caution", 0.60)),
        ),
    )
    libraries: dict[str, LibrarySpec] = {}
    seen_paths: dict[str, str] = {}
    for name, raw in doc["libraries"].items():
        if raw["path"] in seen_paths:
            line, col = position_of(positions, ("libraries", name, "path")) or (None, None)
            raise RegistryError(
                f"libraries/{name}/path: {raw['path']} is also the path of {seen_paths[raw['path']]}",
                path,
                line,
                col,
            )
        seen_paths[raw["path"]] = name
        dup = raw.get("duplicates") or {}
        near = dup.get("near") or {}
        conflicts = raw.get("conflicts")
        holdout = raw.get("holdout")
        libraries[name] = LibrarySpec(
            name=name,
            path=raw["path"],
            schema=raw["schema"],
            lifecycle=raw["lifecycle"],
            layout=raw.get("layout", "flat"),
            title=raw.get("title", "{id}"),
            description=raw.get("description", ""),
            stewards=tuple(raw.get("stewards") or ()),
            natural_key=tuple(raw.get("natural_key") or dup.get("exact") or ()),
            duplicates=DuplicateSpec(
                exact=tuple(dup.get("exact") or ()),
                near_fields=tuple(near.get("fields") or ()),
                near_threshold=float(near.get("threshold", 0.9)),
            ),
            conflicts=ConflictSpec(tuple(conflicts["key"]), tuple(conflicts["values"]))
            if conflicts
            else None,
            mutable_fields=dict(raw.get("mutable_fields") or {}),
            holdout=HoldoutSpec(
                data=holdout["data"],
                evaluator=holdout["evaluator"],
                min_delta=float(holdout.get("min_delta", 0.0)),
                threshold=float(holdout.get("threshold", 0.0)),
            )
            if holdout
            else None,
            checks=tuple(raw.get("checks") or ()),
            confidence_field=raw.get("confidence_field"),
            channels=tuple(raw.get("channels") or ()),
        )
    digest = hashlib.sha1(data).hexdigest()
    return Registry(libraries=libraries, policy=policy, digest=digest)


_COMPILED: list[Any] = []


def _compiled_says_valid(doc: Any) -> bool:
    """jsonschema-rs's verdict (compiled, quick to import); jsonschema explains what it refuses."""
    try:
        if not _COMPILED:
            import jsonschema_rs

            _COMPILED.append(jsonschema_rs.Draft202012Validator(REGISTRY_SCHEMA))
        return bool(_COMPILED[0].is_valid(doc))
    except Exception:  # anything it cannot take: ask jsonschema
        return False


def _schema_errors(doc: Any, positions: Any, path: str) -> None:
    """jsonschema's verdict on doc: RegistryError with the best error's line, if there is one."""
    import jsonschema  # loaded only for a registry that surely_valid does not pass

    validator = jsonschema.Draft202012Validator(REGISTRY_SCHEMA)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        where = position_of(positions, tuple(err.absolute_path)) or (None, None)
        pointer = "/".join(str(p) for p in err.absolute_path) or "(top)"
        raise RegistryError(f"{pointer}: {err.message}", path, where[0], where[1])
