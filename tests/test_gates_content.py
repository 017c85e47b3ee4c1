"""The content gates (duplicates, conflicts, append-only, scope) on drafts built as real branches."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from canonry.compare.merge import ABSENT
from canonry.gates import pii
from canonry.gates.append_only import field_change_problem
from canonry.gates.duplicates import NearIndex, similarity
from canonry.gates.engine import run_gates
from canonry.gates.findings import ERROR, WARNING, Finding, GateResult
from canonry.store.repo import Repository
from canonry.store.yamlio import dump_yaml, load_mapping
from conftest import ROOT, copy_reference, git, run
from helpers import COMMON, mapping_entry, write_entry, write_text
from hypothesis import given, settings
from hypothesis import strategies as st

CONTENT_GATES = ["duplicates", "conflicts", "append-only", "scope"]
NOTE = "knowledge/calibration-notes/n1.yaml"


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def make_draft(repo: Path, change: Callable[[Path], Any], name: str = "draft/x") -> None:
    """A branch from main with one commit made by change(repo); main stays checked out."""
    git(repo, "checkout", "-q", "-b", name, "main")
    change(repo)
    _commit(repo, f"{name}: change")
    git(repo, "checkout", "-q", "main")


def on_main(repo: Path, change: Callable[[Path], Any]) -> None:
    change(repo)
    _commit(repo, "main moves on")


def gate(repo: Path, *gates: str, head: str = "draft/x") -> GateResult:
    return run_gates(Repository(repo), "main", head, gates=list(gates or CONTENT_GATES))


def only(result: GateResult, gate_name: str) -> list[Finding]:
    return [f for f in result.findings if f.gate == gate_name]


def line_of(repo: Path, branch: str, path: str, prefix: str) -> int:
    text = git(repo, "show", f"{branch}:{path}").splitlines()
    return next(i for i, line in enumerate(text, 1) if line.startswith(prefix))


def edit(path: str, **fields: Any) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        doc = load_mapping((repo / path).read_bytes())
        for key, value in fields.items():
            if value is ABSENT:
                doc.pop(key, None)
            else:
                doc[key] = value
        (repo / path).write_text(dump_yaml(doc), encoding="utf-8")

    return apply


def add_mapping(entry_id: str, pattern: str, code: str, **extra: Any) -> Callable[[Path], None]:
    return lambda repo: write_entry(repo, "mapping", mapping_entry(entry_id, pattern, code, **extra))


def note_entry(entry_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": entry_id,
        **COMMON,
        "reuse_scope": "WORKSPACE_ONLY",
        "sanitized_for_promotion": False,
        "source_engagement_id": "ENG-2025-001",
        "sector_code": "C24",
        "metric": "local_content",
        "direction": "lower",
        "magnitude": 0.1,
        "observation": "Rebar came mostly from imports.",
        "promotion_status": "RAW",
        "promoted_to": None,
        **extra,
    }


def override_entry(entry_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": entry_id,
        **COMMON,
        "text": "Rebar fabrication yard",
        "suggested_code": "C25",
        "final_code": "C24",
        "engagement_id": "ENG-2025-001",
        "steward": "mapping-steward@example.org",
        "overridden_at": "2026-01-15T10:00:00Z",
        **extra,
    }


@pytest.fixture
def notes_repo(small_repo: Path) -> Path:
    write_entry(small_repo, "calibration-notes", note_entry("n1"))
    write_entry(
        small_repo,
        "calibration-notes",
        note_entry(
            "n2", promotion_status="REVIEWED", metric="jobs", observation="Fewer site jobs than assumed."
        ),
    )
    _commit(small_repo, "two notes")
    return small_repo


# --- duplicates ------------------------------------------------------------------------------


def test_exact_duplicate_after_normalization_is_an_error(small_repo: Path):
    make_draft(small_repo, add_mapping("m9", "  Steel\u00a0  REBAR ", "C24"))
    result = gate(small_repo, "duplicates")
    [finding] = result.findings
    assert (finding.severity, finding.library, finding.entry_id) == (ERROR, "mapping", "m9")
    assert finding.message.startswith("exact duplicate of m0 (steel rebar -> C24): same language, pattern")
    path = "knowledge/mapping/m9.yaml"
    assert (finding.path, finding.line) == (path, line_of(small_repo, "draft/x", path, "language:"))
    assert not result.ok


def test_near_duplicate_is_a_warning(small_repo: Path):
    make_draft(small_repo, add_mapping("m9", "steel rebars", "C24"))
    result = gate(small_repo, "duplicates")
    [finding] = result.findings
    assert finding.severity == WARNING and result.ok
    assert finding.message.startswith("near duplicate of m0 (steel rebar -> C24): pattern similarity 0.95")
    make_draft(small_repo, add_mapping("m8", "rebar, steel!", "C24"), "draft/y")  # same words
    [finding] = gate(small_repo, "duplicates", head="draft/y").findings
    assert "near duplicate of m0" in finding.message and "similarity 1.00" in finding.message


def test_distinct_entries_pass(small_repo: Path):
    make_draft(small_repo, add_mapping("m9", "desalination plant", "E36"))
    assert gate(small_repo).findings == []


def test_duplicates_among_the_drafts_own_entries(small_repo: Path):
    def two(repo: Path) -> None:
        add_mapping("m8", "desalination plant", "E36")(repo)
        add_mapping("m9", "Desalination Plant", "E36")(repo)

    make_draft(small_repo, two)
    found = sorted((f.entry_id, f.message.split(" (")[0]) for f in gate(small_repo, "duplicates").findings)
    assert found == [("m8", "exact duplicate of m9"), ("m9", "exact duplicate of m8")]


def test_an_entry_the_draft_changes_is_judged_by_its_new_version(small_repo: Path):
    def rename_pattern_and_reuse_it(repo: Path) -> None:
        edit("knowledge/mapping/m0.yaml", pattern="reinforcing steel bar")(repo)
        add_mapping("m9", "steel rebar", "C24")(repo)

    make_draft(small_repo, rename_pattern_and_reuse_it)
    assert gate(small_repo, "duplicates").findings == []


def test_duplicate_of_an_entry_main_gained_since_the_draft_began(small_repo: Path):
    make_draft(small_repo, add_mapping("m9", "water desalination", "E36"))
    on_main(small_repo, add_mapping("m5", "Water  desalination", "E36"))
    [finding] = gate(small_repo, "duplicates").findings
    assert finding.entry_id == "m9"
    assert (
        "exact duplicate of m5 (Water  desalination -> E36), on main since this draft began"
        in finding.message
    )


def test_near_duplicates_are_found_without_comparing_every_pair(small_repo: Path):
    rng = random.Random(7)
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
    ]

    def many(repo: Path) -> None:
        for i in range(400):
            pattern = " ".join(rng.sample(words, 3)) + f" {i:04d}"
            write_entry(repo, "mapping", mapping_entry(f"g{i:04d}", pattern, "C24"))

    on_main(small_repo, many)
    make_draft(small_repo, add_mapping("m9", "stee1 rebar", "C24"))
    result = gate(small_repo, "duplicates")
    assert [f.message.split(":")[0] for f in result.findings] == ["near duplicate of m0 (steel rebar -> C24)"]
    assert result.metrics["near_duplicate_comparisons"] < 10  # not 403


WORDS = st.sampled_from(["steel", "rebar", "plant", "cement", "stee", "rebars", "a", "ab"])
TEXTS = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=12), TEXTS, st.sampled_from([0.6, 0.8, 0.9]))
def test_the_blocking_index_misses_no_similar_pair(corpus: list[str], query: str, threshold: float):
    texts = {f"e{i}": t for i, t in enumerate(corpus)}
    index = NearIndex(NearIndex.build(texts))
    found = {i for i, _ in index.similar(query, threshold, set())}
    assert found == {i for i, t in texts.items() if similarity(query, t) >= threshold}


# --- conflicts -------------------------------------------------------------------------------


def test_same_key_with_another_value_is_a_semantic_conflict(small_repo: Path):
    make_draft(small_repo, add_mapping("m9", "Steel rebar", "C25"))
    [finding] = gate(small_repo, "conflicts").findings
    assert (finding.severity, finding.entry_id) == (ERROR, "m9")
    assert finding.message == (
        'conflicts with m0 (steel rebar -> C24): same pattern, language but sector_code "C25" here,'
        ' sector_code "C24" there'
    )
    path = "knowledge/mapping/m9.yaml"
    assert finding.line == line_of(small_repo, "draft/x", path, "sector_code:")


def test_base_moved_non_overlapping_changes_merge(small_repo: Path):
    make_draft(small_repo, edit("knowledge/mapping/m0.yaml", confidence=0.95))
    on_main(small_repo, edit("knowledge/mapping/m0.yaml", evidence={"kind": "import", "reference": "x"}))
    result = gate(small_repo, "conflicts")
    assert result.findings == []
    assert result.metrics["merged_with_main"] == {"clean": True, "merged_paths": 1}


def test_base_moved_same_field_two_ways_blocks(small_repo: Path):
    make_draft(small_repo, edit("knowledge/mapping/m0.yaml", confidence=0.95))
    on_main(small_repo, edit("knowledge/mapping/m0.yaml", confidence=0.6))
    [finding] = gate(small_repo, "conflicts").findings
    assert (finding.path, finding.entry_id, finding.library) == ("knowledge/mapping/m0.yaml", "m0", "mapping")
    assert "entry m0: field confidence changed two ways: base 0.8, main 0.6, draft 0.95" in finding.message
    assert finding.line == line_of(small_repo, "draft/x", "knowledge/mapping/m0.yaml", "confidence:")


def test_a_duplicate_key_from_a_clean_text_merge_is_caught_through_the_cli(small_repo: Path):
    path = "knowledge/mapping/m0.yaml"
    text = (small_repo / path).read_text()
    make_draft(
        small_repo, lambda r: write_text(r, path, text.replace("id: m0\n", "id: m0\ndescription: ours\n"))
    )
    on_main(small_repo, lambda r: write_text(r, path, text + "description: main's\n"))
    result = run(
        ["gate", "--repo", str(small_repo), "--base", "main", "--head", "draft/x", "--format", "json"]
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    [finding] = [f for f in doc["findings"] if f["gate"] == "conflicts"]
    assert finding["entry_id"] == "m0" and finding["line"] == 2
    assert (
        'field description changed two ways: base (absent), main "main\'s", draft "ours"'
        in finding["message"]
    )


# --- append-only ------------------------------------------------------------------------------


def test_editing_an_append_only_entry_is_an_error(notes_repo: Path):
    make_draft(notes_repo, edit(NOTE, observation="Rewritten history.", magnitude=0.2))
    found = only(gate(notes_repo, "append-only"), "append-only")
    assert [(f.entry_id, f.message) for f in found] == [
        ("n1", "magnitude: changed from 0.1 to 0.2; only the fields in mutable_fields may change"
         " (calibration-notes is append-only)"),
        ("n1", "observation: changed from 'Rebar came mostly from imports.' to 'Rewritten history.';"
         " only the fields in mutable_fields may change (calibration-notes is append-only)"),
    ]  # fmt: skip
    assert found[0].line == line_of(notes_repo, "draft/x", NOTE, "magnitude:")


def test_deleting_or_renaming_an_append_only_entry_is_an_error(notes_repo: Path):
    make_draft(notes_repo, lambda r: (r / NOTE).unlink())
    [finding] = gate(notes_repo, "append-only").findings
    assert (finding.path, finding.entry_id) == (NOTE, "n1")
    assert finding.message.startswith("entry deleted: calibration-notes is append-only")

    def rename(repo: Path) -> None:
        doc = load_mapping((repo / NOTE).read_bytes())
        (repo / NOTE).unlink()
        write_entry(repo, "calibration-notes", {**doc, "id": "n9"})

    make_draft(notes_repo, rename, "draft/rename")
    [finding] = gate(notes_repo, "append-only", head="draft/rename").findings
    assert finding.message.startswith("entry renamed to knowledge/calibration-notes/n9.yaml")


def test_lifecycle_fields_move_forward_only(notes_repo: Path):
    two = "knowledge/calibration-notes/n2.yaml"

    def forward(repo: Path) -> None:
        edit(NOTE, promotion_status="REVIEWED", updated_at="2026-02-01T00:00:00Z")(repo)
        edit(two, promotion_status="PROMOTED", promoted_to="a1")(repo)

    make_draft(notes_repo, forward)
    assert gate(notes_repo).findings == []

    make_draft(notes_repo, edit(two, promotion_status="RAW"), "draft/back")
    [finding] = gate(notes_repo, "append-only", head="draft/back").findings
    assert (
        finding.message
        == "promotion_status: moves backwards from REVIEWED to RAW (calibration-notes is append-only)"
    )

    make_draft(notes_repo, edit(NOTE, promotion_status="PROMOTED", promoted_to="a1"), "draft/skip")
    [finding] = gate(notes_repo, "append-only", head="draft/skip").findings
    assert finding.message.startswith(
        "promotion_status: may move from 'RAW' only to REVIEWED, DISMISSED, not to 'PROMOTED'"
    )


def test_set_once_fields_are_set_once(notes_repo: Path):
    two = "knowledge/calibration-notes/n2.yaml"
    on_main(notes_repo, edit(two, promotion_status="PROMOTED", promoted_to="a1"))
    make_draft(notes_repo, edit(two, promoted_to="a2"))
    [finding] = gate(notes_repo, "append-only").findings
    assert finding.message.startswith("promoted_to: already set to 'a1'; it may be set only once")


def test_field_change_rules():
    rule = {"RAW": ["REVIEWED", "DISMISSED"], "REVIEWED": ["PROMOTED", "DISMISSED"]}
    assert field_change_problem(rule, "RAW", "REVIEWED") is None
    assert "backwards" in str(field_change_problem(rule, "PROMOTED", "RAW"))
    assert field_change_problem(rule, "DISMISSED", "PROMOTED") is not None
    assert field_change_problem("set_once", ABSENT, "x") is None
    assert field_change_problem("any", "x", ABSENT) is None
    assert "deleted" in str(field_change_problem(None, "x", ABSENT))


def test_versioned_libraries_may_be_edited(small_repo: Path):
    make_draft(small_repo, lambda r: (r / "knowledge/mapping/m0.yaml").unlink())
    assert gate(small_repo, "append-only").findings == []


def test_a_draft_that_relaxes_the_rules_is_held_to_the_base_rules(notes_repo: Path):
    def relax(repo: Path) -> None:
        registry = repo / "schemas/libraries.yaml"
        text = registry.read_text()
        assert "      promoted_to: set_once\n" in text
        registry.write_text(
            text.replace(
                "      promoted_to: set_once\n", "      promoted_to: set_once\n      observation: any\n", 1
            )
        )
        edit(NOTE, observation="Rewritten history.")(repo)

    make_draft(notes_repo, relax)
    [finding] = gate(notes_repo, "append-only").findings
    assert finding.message.startswith("observation: changed from")


# --- scope ------------------------------------------------------------------------------------


def test_shared_entries_must_be_sanitized(small_repo: Path):
    make_draft(small_repo, add_mapping("m9", "desalination plant", "E36", sanitized_for_promotion=False))
    [finding] = gate(small_repo, "scope").findings
    assert finding.message.startswith(
        "sanitized_for_promotion: reuse_scope GLOBAL_INTERNAL shares this entry"
    )
    assert finding.line == line_of(
        small_repo, "draft/x", "knowledge/mapping/m9.yaml", "sanitized_for_promotion:"
    )


def test_shared_entries_must_carry_no_personal_data(small_repo: Path):
    text = "Client contact Ahmed on 050 123 4567, IBAN SA03 8000 0000 6080 1016 7519"
    make_draft(small_repo, add_mapping("m9", "desalination plant", "E36", description=text))
    found = gate(small_repo, "scope").findings
    assert sorted(f.message.split(";")[0] for f in found) == [
        "description: looks like a phone number (05********67)",
        "description: looks like an IBAN (SA*************************19)",
    ]
    assert not any("4567" in f.message for f in found)  # the value is never echoed
    assert found[0].line == line_of(small_repo, "draft/x", "knowledge/mapping/m9.yaml", "description:")
    private = {"reuse_scope": "WORKSPACE_ONLY", "sanitized_for_promotion": False}
    make_draft(
        small_repo, add_mapping("m9", "desalination plant", "E36", description=text, **private), "draft/ws"
    )
    assert gate(small_repo, "scope", head="draft/ws").findings == []


def test_workspace_only_entries_need_a_workspace(small_repo: Path):
    make_draft(
        small_repo,
        add_mapping("m9", "desalination plant", "E36", reuse_scope="WORKSPACE_ONLY", workspace_id=" "),
    )
    [finding] = gate(small_repo, "scope").findings
    assert finding.message == "workspace_id: a WORKSPACE_ONLY entry needs its workspace"


def test_identity_fields_may_hold_one_address(small_repo: Path):
    make_draft(small_repo, lambda r: write_entry(r, "overrides", override_entry("o1")))
    assert gate(small_repo, "scope").findings == []
    bad = override_entry("o2", text="Ask jane.doe@client.example about the yard")
    make_draft(small_repo, lambda r: write_entry(r, "overrides", bad), "draft/email")
    [finding] = gate(small_repo, "scope", head="draft/email").findings
    assert finding.message.startswith("text: looks like an e-mail address (ja")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to ahmed.ali@example.com", pii.EMAIL),
        ("+966 50 123 4567", pii.PHONE),
        ("00971-4-123-4567", pii.PHONE),
        ("call 0501234567.", pii.PHONE),
        ("(013) 812-3456", pii.PHONE),
        ("٠٥٠١٢٣٤٥٦٧", pii.PHONE),
        ("SA0380000000608010167519", pii.IBAN),
        ("GB82 WEST 1234 5698 7654 32", pii.IBAN),
        ("id 1234567897", pii.NATIONAL_ID),
        ("card 4111 1111 1111 1111", pii.CARD),
        ("378282246310005", pii.CARD),
    ],
)
def test_pii_scan_finds(text: str, kind: str):
    assert [h.kind for h in pii.scan(text)] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "C24 steel rebar; divisions 10-33",
        "in 2024 the import share was 18.5% (0.185), up from 2019",
        "019bbef3-b000-7006-bad9-21e064ee629d",
        "2026-01-15T00:00:00Z",
        "ENG-2024-0001234567",
        "ratio 0.1234567897 or 1,234,567,897",
        "SA0380000000608010167518",  # mod-97 fails
        "4111 1111 1111 1112",  # Luhn fails
        "1234567890",  # Luhn fails
        "0000000000000",
        "capex of 1500000000 over 12 months",
    ],
)
def test_pii_scan_leaves_alone(text: str):
    assert pii.scan(text) == []


def test_the_reference_knowledge_passes_the_content_gates(tmp_path: Path):
    repo = copy_reference(tmp_path / "ref", with_knowledge=False)
    make_draft(repo, lambda r: shutil.copytree(ROOT / "knowledge", r / "knowledge"))
    result = gate(repo)
    assert [f for f in result.findings if f.severity == ERROR] == []
    assert result.metrics["entries"] > 1000
