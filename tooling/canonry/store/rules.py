"""The rules at a state: the registry plus compiled JSON Schemas.

Schemas are JSON Schema 2020-12, checked against their metaschema, with format
assertions on and `$ref` resolved only from the repository's own schemas: a
reference to anything else is unresolvable, never fetched. Entries are validated
by the compiled validator of `validation.py` (jsonschema-rs decides, jsonschema
explains an invalid entry).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import RegistryError, RegistryMissingError
from .registry import REGISTRY_PATH, LibrarySpec, Registry, parse_registry
from .repo import Repository
from .states import State

if TYPE_CHECKING:  # jsonschema and referencing load to compile schemas, not to read a registry
    import referencing

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS_DIR = "schemas"
_NESTED_QUANTIFIER = re.compile(r"\([^()]*[+*][^()]*\)[+*{]")


def _strict_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """`pattern` where a final `$` does not match before a trailing newline."""
    if not validator.is_type(instance, "string"):
        return
    compiled = _compile_pattern(pattern)
    if not compiled.search(instance):
        import jsonschema

        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        source = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern
        compiled = _PATTERNS[pattern] = re.compile(source)
    return compiled


_STRICT: list[Any] = []


def _strict_validator() -> Any:
    """jsonschema's Draft 2020-12 validator with the strict `pattern` (built once, on first use)."""
    if not _STRICT:
        import jsonschema

        _STRICT.append(
            jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _strict_pattern})
        )
    return _STRICT[0]


def _json_loads(data: bytes, path: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise ValueError(f"duplicate key {k!r}")
            out[k] = v
        return out

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"invalid JSON: {exc.msg}", path, exc.lineno, exc.colno) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RegistryError(f"invalid JSON: {exc}", path) from None


def _lint_schema(schema: Any, path: str) -> None:
    """What check_schema lets through but a schema here must not do."""
    if not isinstance(schema, dict):
        raise RegistryError("a schema must be a JSON object", path)
    if schema.get("$schema") != DIALECT:
        raise RegistryError(
            f"$schema must be {DIALECT!r} (found {schema.get('$schema')!r});"
            " an unknown dialect would silently fall back to another draft",
            path,
        )
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        pointer = "/" + "/".join(str(p) for p in exc.absolute_path)
        raise RegistryError(f"{pointer}: {exc.message}", path) from None

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    _lint_pattern(value, f"{pointer}/pattern", path)
                walk(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{pointer}/{i}")

    walk(schema, "")


def _lint_pattern(pattern: str, pointer: str, path: str) -> None:
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise RegistryError(f"{pointer}: pattern {pattern!r} must be anchored with ^ and $", path)
    if "\\d" in pattern:
        raise RegistryError(
            f"{pointer}: pattern {pattern!r} uses \\d (matches any script's digits; use [0-9])",
            path,
        )
    if _NESTED_QUANTIFIER.search(pattern):
        raise RegistryError(
            f"{pointer}: pattern {pattern!r} has a nested quantifier (catastrophic backtracking)",
            path,
        )
    try:
        re.compile(pattern)
    except re.error as exc:
        raise RegistryError(f"{pointer}: pattern {pattern!r} does not compile: {exc}", path) from None


_REGISTRIES: dict[str, Registry | RegistryError] = {}


def registry_in_tree(repo: Repository, tree: str) -> Registry:
    """The registry (schemas/libraries.yaml) in a tree, parsed once per blob.

    The one registry reader: RegistryMissingError when the tree has none,
    RegistryError when it is broken (the same error object every time, from
    the cache). `load_rules` gives the registry of a state with its schemas.
    """
    item = repo.entry_at(tree, REGISTRY_PATH)
    if item is None or item.is_tree:
        raise RegistryMissingError(REGISTRY_PATH)
    cached = _REGISTRIES.get(item.oid)
    if cached is None:
        try:
            cached = parse_registry(repo.read_blob(item.oid), REGISTRY_PATH)
        except RegistryError as exc:
            cached = exc
        _REGISTRIES[item.oid] = cached
    if isinstance(cached, RegistryError):
        raise cached
    return cached


def registry_at(repo: Repository, commit: str) -> Registry:
    """The registry at a commit (see registry_in_tree)."""
    return registry_in_tree(repo, repo.tree_of(commit))


def try_registry_at(repo: Repository, commit: str) -> Registry | None:
    """The registry at a commit, or None when it is missing or broken (for reports that say so themselves)."""
    try:
        return registry_at(repo, commit)
    except RegistryError:
        return None


@dataclass
class Rules:
    """Registry and schemas read from one state; `problems` holds what is broken."""

    registry: Registry | None
    digest: str
    validators: dict[str, Any] = field(default_factory=dict)
    problems: list[RegistryError] = field(default_factory=list)

    def require_registry(self) -> Registry:
        if self.registry is None:
            raise self.problems[0]
        return self.registry

    def validator(self, spec: LibrarySpec) -> Any:
        """The compiled validator of a library, or raise the schema's problem."""
        if spec.name not in self.validators:
            for problem in self.problems:
                if problem.path == spec.schema:
                    raise problem
            raise RegistryError(f"schema {spec.schema} of library {spec.name} is missing", REGISTRY_PATH)
        return self.validators[spec.name]


_RULES_CACHE: dict[str, Rules] = {}


def load_rules(state: State) -> Rules:
    """Load libraries.yaml and every schema at state; never raises for bad content."""
    files = state.files(SCHEMAS_DIR)
    digest = hashlib.sha1("".join(f"{p}\0{f.oid}\0" for p, f in sorted(files.items())).encode()).hexdigest()
    cached = _RULES_CACHE.get(digest)
    if cached is not None:
        return cached
    problems: list[RegistryError] = []
    registry: Registry | None = None
    reg_ref = files.get(REGISTRY_PATH)
    if reg_ref is None:
        problems.append(RegistryMissingError(REGISTRY_PATH))
    else:
        try:
            registry = parse_registry(state.read(reg_ref), REGISTRY_PATH)
        except RegistryError as exc:
            problems.append(exc)

    import referencing
    from referencing.jsonschema import DRAFT202012

    from .validation import CompiledValidator

    schemas: dict[str, Any] = {}
    resources: list[tuple[str, referencing.Resource[Any]]] = []
    for path, ref in sorted(files.items()):
        if not path.endswith(".json"):
            continue
        try:
            schema = _json_loads(state.read(ref), path)
            _lint_schema(schema, path)
        except RegistryError as exc:
            problems.append(exc)
            continue
        schemas[path] = schema
        uri = schema.get("$id") or f"urn:canonry:{path}"
        resources.append((uri, referencing.Resource.from_contents(schema, default_specification=DRAFT202012)))
    # No `retrieve`: a $ref outside these resources is Unresolvable, never fetched.
    ref_registry: referencing.Registry[Any] = referencing.Registry().with_resources(resources)
    validators: dict[str, Any] = {}
    if registry is not None:
        for spec in registry.libraries.values():
            schema = schemas.get(spec.schema)
            if schema is None:
                if not any(p.path == spec.schema for p in problems):
                    problems.append(
                        RegistryError(
                            f"libraries/{spec.name}/schema: {spec.schema} does not exist",
                            REGISTRY_PATH,
                        )
                    )
                continue
            inlined = _inline_refs(schema, ref_registry.resolver(base_uri=schema.get("$id", "")), ())
            validator = CompiledValidator(inlined, _detailed_factory(inlined, ref_registry))
            try:
                _check_refs(ref_registry, schema, spec.schema)
            except RegistryError as exc:
                problems.append(exc)
                continue
            validators[spec.name] = validator
    rules = Rules(registry=registry, digest=digest, validators=validators, problems=problems)
    _RULES_CACHE[digest] = rules
    return rules


def _detailed_factory(schema: dict[str, Any], ref_registry: referencing.Registry[Any]) -> Any:
    """Build jsonschema's validator of a schema later (only invalid entries need it)."""
    from .validation import format_checker

    return lambda: _strict_validator()(schema, registry=ref_registry, format_checker=format_checker())


def _check_refs(ref_registry: referencing.Registry[Any], schema: Any, path: str) -> None:
    """Resolve every $ref now, so an outside reference fails at load, not mid-gate."""
    import referencing.exceptions

    resolver = ref_registry.resolver(base_uri=schema.get("$id", ""))

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    resolver.lookup(ref)
                except referencing.exceptions.Unresolvable as exc:
                    raise RegistryError(
                        f"{pointer}/$ref: {ref!r} cannot be resolved from the repository's own"
                        f" schemas (remote references are never fetched): {type(exc).__name__}",
                        path,
                    ) from None
            for key, value in node.items():
                walk(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{pointer}/{i}")

    walk(schema, "")


def _inline_refs(node: Any, resolver: Any, stack: tuple[int, ...]) -> Any:
    """Replace each plain local `$ref` by what it names, so validation skips the lookups.

    Resolving a `$ref` through `referencing` costs most of a validation (about 3x);
    the result validates and reports exactly the same. Cycles and targets that carry
    their own `$id` or anchors keep their `$ref`.
    """
    if isinstance(node, list):
        return [_inline_refs(v, resolver, stack) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        import referencing.exceptions

        try:
            resolved = resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            resolved = None
        target = resolved.contents if resolved is not None else None
        if (
            isinstance(target, dict)
            and id(target) not in stack
            and not ({"$id", "$anchor", "$dynamicAnchor", "$dynamicRef"} & set(target))
        ):
            body = _inline_refs(target, resolved.resolver, (*stack, id(target)))
            siblings = {k: _inline_refs(v, resolver, stack) for k, v in node.items() if k != "$ref"}
            return {**siblings, "allOf": [*siblings.get("allOf", []), body]} if siblings else body
    return {k: _inline_refs(v, resolver, stack) for k, v in node.items()}
