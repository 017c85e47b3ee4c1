"""`canonry import`: upsert by natural key into one draft, all rows valid or nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from canonry.gates.engine import run_gates
from canonry.store.commits import parse_trailers
from canonry.store.repo import Repository
from canonry.store.yamlio import load_yaml
from conftest import git, run

EVIDENCE = '"{kind: steward, reference: null, override_ids: []}"'
HEADER = "pattern,language,sector_code,confidence,evidence,workspace_id,reuse_scope,sanitized_for_promotion"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def drafts(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/draft/").split()


def test_csv_upserts_by_natural_key(small_repo: Path, tmp_path: Path) -> None:
    source = write(
        tmp_path / "mapping.csv",
        [
            HEADER,
            f"Steel Rebar,en,C24,0.95,{EVIDENCE},ws-test,GLOBAL_INTERNAL,true",  # m0, new confidence
            f"cement plant,en,C23,0.8,{EVIDENCE},ws-test,GLOBAL_INTERNAL,true",  # m1 as it is
            f"desalination plant,en,E36,0.85,{EVIDENCE},ws-test,GLOBAL_INTERNAL,true",  # new
        ],
    )
    result = run(
        [
            "import",
            "mapping",
            "--repo",
            str(small_repo),
            "--from",
            str(source),
            "--source-ref",
            "sheet@2026-03",
        ]
        + ["--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format"] == "canonry.import/v1"
    assert (doc["rows"], doc["changed"], doc["unchanged"], len(doc["added"])) == (3, ["m0"], 1, 1)
    branch = doc["draft"]
    assert drafts(small_repo) == [branch]
    m0 = load_yaml(git(small_repo, "show", f"{branch}:knowledge/mapping/m0.yaml"))
    assert (m0["pattern"], m0["confidence"], m0["source"]) == ("Steel Rebar", 0.95, "import")
    new = load_yaml(git(small_repo, "show", f"{branch}:knowledge/mapping/{doc['added'][0]}.yaml"))
    assert new["evidence"] == {"kind": "steward", "reference": None, "override_ids": []}
    assert new["sanitized_for_promotion"] is True and new["confidence"] == 0.85
    trailers = parse_trailers(git(small_repo, "log", "-1", "--format=%B", branch))
    assert trailers["Canonry-Source"] == "import" and trailers["Canonry-Source-Ref"] == "sheet@2026-03"
    assert run_gates(Repository(small_repo), "main", branch).ok
    # the same file again, on top of the merged draft: nothing changes, no draft
    git(small_repo, "merge", "-q", "--ff-only", branch)
    again = run(["import", "mapping", "--repo", str(small_repo), "--from", str(source), "--source-ref", "x"])
    assert again.exit_code == 0
    assert "0 added, 0 changed, 3 unchanged" in again.stdout and "no draft written" in again.stderr


def test_json_lines_into_an_append_only_library(ref_repo: Path, tmp_path: Path) -> None:
    rows = [
        {
            "text": f"Hospital construction, phase {n}",
            "suggested_code": "Q86",
            "final_code": "F41",
            "engagement_id": "ENG-2026-031",
            "steward": "mapping-steward@example.org",
            "overridden_at": "2026-03-01T10:00:00Z",
            "workspace_id": "ws-eng-2026-031",
            "reuse_scope": "WORKSPACE_ONLY",
            "sanitized_for_promotion": False,
            "source": "user",
        }
        for n in (1, 2)
    ]
    source = tmp_path / "overrides.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    result = run(
        [
            "import",
            "overrides",
            "--repo",
            str(ref_repo),
            "--from",
            str(source),
            "--source-ref",
            "engagements@1",
        ]
        + ["--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["added"]) == 2 and doc["changed"] == []
    gate = run_gates(Repository(ref_repo), "main", doc["draft"])
    assert gate.ok, [f.message for f in gate.errors]


def test_json_array_with_defaults(small_repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.json"
    source.write_text(json.dumps([{"pattern": "gas turbine", "sector_code": "D35", "confidence": 0.7}]))
    result = run(
        ["import", "mapping", "--repo", str(small_repo), "--from", str(source), "--source-ref", "list"]
        + ["--set", "language=en", "--set", "workspace_id=acme", "--set", "reuse_scope=WORKSPACE_ONLY"]
        + [
            "--set",
            "sanitized_for_promotion=false",
            "--set",
            "evidence={kind: steward, reference: null, override_ids: []}",
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert "1 added, 0 changed, 0 unchanged" in result.stdout


def test_a_bad_row_in_the_middle_writes_nothing(small_repo: Path, tmp_path: Path) -> None:
    source = write(
        tmp_path / "mapping.csv",
        [
            HEADER,
            f"gas turbine,en,D35,0.8,{EVIDENCE},ws-test,GLOBAL_INTERNAL,true",
            f"steam turbine,en,c28,0.8,{EVIDENCE},ws-test,GLOBAL_INTERNAL,true",  # lower-case code
            "wind turbine,en,D35,0.8",  # too few cells
            f"Gas  Turbine,en,D35,0.9,{EVIDENCE},ws-test,GLOBAL_INTERNAL,true",  # same natural key as row 1
            f"solar farm,en,D35,high,{EVIDENCE},ws-test,GLOBAL_INTERNAL,true",  # not a number
        ],
    )
    result = run(["import", "mapping", "--repo", str(small_repo), "--from", str(source), "--source-ref", "x"])
    assert result.exit_code == 2
    err = result.stderr
    assert "4 problem(s) in 5 rows; nothing was imported" in err
    assert f"{source}:3 (row 2): sector_code: 'c28' does not match" in err
    assert f"{source}:4 (row 3): 4 cells for 8 columns" in err
    assert f"{source}:5 (row 4): same natural key as {source}:2 (row 1)" in err
    assert f"{source}:6 (row 5): confidence: 'high' is not of type 'number'" in err
    assert drafts(small_repo) == []


def test_json_lines_parse_errors_have_line_numbers(small_repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text('{"pattern": "a"}\n\n{"pattern": \n[1, 2]\n', encoding="utf-8")
    result = run(["import", "mapping", "--repo", str(small_repo), "--from", str(source), "--source-ref", "x"])
    assert result.exit_code == 2
    assert f"{source}:3 (row 2): invalid JSON" in result.stderr
    assert f"{source}:4 (row 3): expected an object, found list" in result.stderr
    assert f"{source}:1 (row 1): missing natural key field(s): language" in result.stderr


def test_usage_errors(small_repo: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "rows.txt", ["x"])
    result = run(["import", "mapping", "--repo", str(small_repo), "--from", str(source), "--source-ref", "x"])
    assert result.exit_code == 2 and "cannot tell the format" in result.stderr
    csv = write(tmp_path / "rows.csv", [HEADER])
    result = run(["import", "nope", "--repo", str(small_repo), "--from", str(csv), "--source-ref", "x"])
    assert result.exit_code == 2 and "unknown library: nope" in result.stderr
    result = run(["import", "mapping", "--repo", str(small_repo), "--from", str(csv), "--source-ref", " "])
    assert result.exit_code == 2 and "--source-ref" in result.stderr


def test_import_never_rescopes_an_existing_entry_unless_asked(small_repo: Path, tmp_path: Path) -> None:
    rows = [HEADER, f"steel rebar,en,C24,0.9,{EVIDENCE},ws-client,WORKSPACE_ONLY,false"]
    source = write(tmp_path / "rescope.csv", rows)
    args = ["import", "mapping", "--repo", str(small_repo), "--from", str(source), "--source-ref", "s"]
    refused = run(args)
    assert refused.exit_code == 2
    assert "would change the scope of entry m0 (reuse_scope 'GLOBAL_INTERNAL' -> 'WORKSPACE_ONLY'" in (
        refused.stderr
    )
    assert "pass --rescope" in refused.stderr and drafts(small_repo) == []
    done = run([*args, "--rescope", "--format", "json"])
    assert done.exit_code == 0, done.stderr
    m0 = load_yaml(git(small_repo, "show", f"{json.loads(done.stdout)['draft']}:knowledge/mapping/m0.yaml"))
    assert (m0["reuse_scope"], m0["workspace_id"]) == ("WORKSPACE_ONLY", "ws-client")


def test_set_gives_new_rows_a_scope_and_leaves_existing_ones(small_repo: Path, tmp_path: Path) -> None:
    source = write(
        tmp_path / "defaults.csv",
        ["pattern,language,sector_code,confidence,evidence", f"steel rebar,en,C24,0.9,{EVIDENCE}"]
        + [f"desalination plant,en,E36,0.85,{EVIDENCE}"],
    )
    result = run(
        ["import", "mapping", "--repo", str(small_repo), "--from", str(source), "--source-ref", "s"]
        + ["--set", "reuse_scope=WORKSPACE_ONLY", "--set", "workspace_id=ws-client"]
        + ["--set", "sanitized_for_promotion=false", "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    m0 = load_yaml(git(small_repo, "show", f"{doc['draft']}:knowledge/mapping/m0.yaml"))
    assert m0["reuse_scope"] == "GLOBAL_INTERNAL" and m0["confidence"] == 0.9  # the global entry stays global
    new = load_yaml(git(small_repo, "show", f"{doc['draft']}:knowledge/mapping/{doc['added'][0]}.yaml"))
    assert (new["reuse_scope"], new["workspace_id"]) == ("WORKSPACE_ONLY", "ws-client")


def test_import_refuses_a_reworded_holdout_case(small_repo: Path, tmp_path: Path) -> None:
    holdout = "cases:\n  - text: Expansion of the seawater desalination plant in Jubail\n    expected: E36\n"
    (small_repo / "knowledge/holdout").mkdir(parents=True)
    (small_repo / "knowledge/holdout/mapping.yaml").write_text(holdout, encoding="utf-8")
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "holdout")
    pattern = write(
        tmp_path / "leak.csv",
        [
            HEADER,
            f"Expansion of the seawater desalination plant at Jubail,en,E36,0.8,{EVIDENCE},w,GLOBAL_INTERNAL,true",
        ],
    )
    result = run(
        ["import", "mapping", "--repo", str(small_repo), "--from", str(pattern), "--source-ref", "s"]
    )
    assert result.exit_code == 2
    assert (
        "leak.csv:2 (row 1): leakage: pattern 'Expansion of the seawater desalination plant at Jubail'"
        in (result.stderr)
    )
    assert "a near copy (similarity 0.9" in result.stderr and drafts(small_repo) == []
    override = {
        "text": "Expansion of seawater desalination plant in Jubail",
        "suggested_code": "C28",
        "final_code": "E36",
        "engagement_id": "ENG-1",
        "steward": "s@example.org",
        "overridden_at": "2026-03-01T10:00:00Z",
        "workspace_id": "ws-1",
        "reuse_scope": "WORKSPACE_ONLY",
        "sanitized_for_promotion": False,
        "source": "user",
    }
    source = tmp_path / "overrides.jsonl"
    source.write_text(json.dumps(override) + "\n", encoding="utf-8")
    result = run(
        ["import", "overrides", "--repo", str(small_repo), "--from", str(source), "--source-ref", "s"]
    )
    assert result.exit_code == 2 and "leakage: text 'Expansion of seawater desalination plant in Jubail'" in (
        result.stderr
    )
    assert drafts(small_repo) == []


def test_an_unknown_sector_code_is_an_error(small_repo: Path, tmp_path: Path) -> None:
    source = write(
        tmp_path / "c99.csv", [HEADER, f"casino resort,en,C99,0.8,{EVIDENCE},w,GLOBAL_INTERNAL,true"]
    )
    result = run(["import", "mapping", "--repo", str(small_repo), "--from", str(source), "--source-ref", "s"])
    assert result.exit_code == 2
    assert (
        "c99.csv:2 (row 1): sector_code: unknown sector code 'C99': not an ISIC Rev.4 division"
        in result.stderr
    )
    assert drafts(small_repo) == []
