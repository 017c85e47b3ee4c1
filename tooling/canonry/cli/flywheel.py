"""Flywheel commands: learn, suggest, confidence, health, import."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ..compare.diff import render_text
from ..errors import EntrySyntaxError, UsageError
from ..gates.engine import run_gates
from ..gates.findings import GateResult
from ..learning import BaseState
from ..learning.assumptions import learn_assumptions
from ..learning.importer import FORMATS as INPUT_FORMATS
from ..learning.importer import import_file
from ..learning.mapping import learn_mapping
from ..learning.scenarios import learn_scenario, suggest
from ..learning.workforce import WORKFORCE, coverage, learn_workforce
from ..publication.health import health
from ..runtime.reading import confidence_report
from ..store.confidence import as_datetime
from ..store.versions import latest_version
from ..store.yamlio import dump_yaml, load_yaml
from .common import emit, emit_json, open_repo, repo_option, say

OUTPUT = click.Choice(["text", "json"])


def _at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return as_datetime(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not a date (YYYY-MM-DD) or RFC 3339 timestamp") from None


def _draft_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--base", default="main", show_default=True, help="Read the knowledge at this ref."),
            click.option("--draft", "draft_name", default=None, help="Name of the draft branch to create."),
            click.option(
                "--by", "actor", default=None, help="Who runs it (e-mail; default: git's user.email)."
            ),
            click.option("--dry-run", is_flag=True, help="Compute and print, write no branch."),
            click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True),
        ]
    ):
        func = option(func)
    return func


def _drafted(report: dict[str, Any], nothing: str = "nothing to learn") -> None:
    if report.get("draft") and report.get("commit"):
        say(f"wrote {report['draft']} at {report['commit'][:12]}")
    elif report.get("draft"):
        say(f"dry run: would write {report['draft']}")
    else:
        say(f"{nothing}: no draft written")


# --- learn ----------------------------------------------------------------------------------------


@click.group("learn")
def learn_group() -> None:
    """Draft new knowledge from evidence: overrides, scenarios, calibration notes.

    Each learner reads the knowledge at --base (default main) and writes one
    commit on a new draft branch with provenance trailers; publish it like
    any other draft.

    \b
    Example:
      canonry learn mapping
      canonry learn scenario-patterns --from scenario.yaml
      canonry learn assumptions
      canonry learn workforce --from nationality-overrides.csv
    """


@learn_group.command("mapping")
@repo_option
@click.option("--since", default=None, metavar="VERSION", help="Only overrides added since mapping@VERSION.")
@click.option(
    "--min-frequency", type=int, default=None, help="Overrides a new pattern needs (default: policy)."
)
@_draft_options
def learn_mapping_cmd(
    repo_path: str | None,
    since: str | None,
    min_frequency: int | None,
    base: str,
    draft_name: str | None,
    actor: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Learn mapping patterns and confidence from the overrides library.

    Prints the draft's diff and the holdout comparison (base vs draft). Exit 1
    when the holdout gate would refuse the draft (the draft is still written,
    for a steward to inspect).

    \b
    Example:
      canonry learn mapping
      canonry learn mapping --since v3 --min-frequency 3 --format json
    """
    repo = open_repo(repo_path)
    learned = learn_mapping(
        repo,
        base=base,
        since=since,
        min_frequency=min_frequency,
        actor=actor,
        draft_name=draft_name,
        dry_run=dry_run,
        judge=lambda base_commit, head: run_gates(repo, base_commit, head, gates=["holdout"]),
    )
    report = learned.report()
    _drafted(report)
    if fmt == "json":
        emit_json(report)
    else:
        emit(_learn_text(report))
        if learned.diff is not None:
            emit(render_text(learned.diff))
        if learned.holdout is not None:
            emit(_holdout_text(learned.holdout))
    if learned.holdout is not None and not learned.holdout.ok:
        raise SystemExit(1)


def _learn_text(report: dict[str, Any]) -> str:
    lines = [
        f"read {report['overrides_read']} overrides at {report['base']['ref']}"
        f" ({report['overrides_considered']} not yet ingested); min frequency {report['min_frequency']}"
    ]
    for a in report["added"]:
        lines.append(
            f"+ {a['pattern']!r} -> {a['sector_code']} (confidence {a['confidence']},"
            f" {len(a['override_ids'])} overrides)"
        )
    for c in report["changed"]:
        lines.append(
            f"~ {c['pattern']!r} -> {c['sector_code']}: confidence {c['old']} -> {c['new']}"
            f" ({c['direction']})"
        )
    for s in report["skipped"]:
        if "message" in s:
            lines.append(f"! {s['message']}")
    lines.append(f"{len(report['added'])} new patterns, {len(report['changed'])} confidence changes")
    return "\n".join(lines) + "\n"


def _holdout_text(gate: GateResult) -> str:
    lines = []
    for name, m in sorted(gate.metrics.get("holdout", {}).items()):
        baseline = "-" if m["baseline"] is None else f"{m['baseline']:.4f}"
        delta = "" if m["delta"] is None else f" ({m['delta']:+.4f})"
        lines.append(
            f"holdout {name}: {m['metric']} {baseline} -> {m['value']:.4f}{delta} on {m['cases']} cases;"
            f" {len(m['flipped_to_correct'])} flipped to correct, {len(m['flipped_to_wrong'])} to wrong;"
            f" McNemar p = {m['p_value']:.4g}"
        )
    for f in gate.findings:
        lines.append(f"{f.location()}: {f.severity}: [{f.gate}] {f.message}")
    lines.append("holdout gate: " + ("PASS" if gate.ok else "FAIL (publishing this draft will be refused)"))
    return "\n".join(lines) + "\n"


@learn_group.command("scenario-patterns")
@repo_option
@click.option(
    "--from", "source", required=True, type=click.Path(dir_okay=False), help="The scenario (YAML/JSON)."
)
@_draft_options
def learn_scenarios_cmd(
    repo_path: str | None,
    source: str,
    base: str,
    draft_name: str | None,
    actor: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Record an engagement's scenario as a scenario pattern (merged or new).

    The file holds engagement_id, scenario, project_type, sector_shares
    (summing to 1), phasing (summing to 1) and import_share. It is merged into
    the most similar pattern of the same project type when the cosine
    similarity of sector shares is at least 0.8, and becomes a new one otherwise.

    \b
    Example:
      canonry learn scenario-patterns --from scenario.yaml
    """
    repo = open_repo(repo_path)
    learned = learn_scenario(repo, source, base=base, actor=actor, draft_name=draft_name, dry_run=dry_run)
    report = learned.report()
    _drafted(report)
    if fmt == "json":
        emit_json(report)
        return
    similarity = "-" if learned.similarity is None else f"{learned.similarity:.3f}"
    entry = learned.entry
    emit(
        f"{learned.action} {entry['name']} ({entry['project_type']}), id {entry['id']};"
        f" best similarity {similarity}; usage_count {entry['usage_count']}\n"
    )
    emit(dump_yaml(entry))


@learn_group.command("assumptions")
@repo_option
@_draft_options
def learn_assumptions_cmd(
    repo_path: str | None, base: str, draft_name: str | None, actor: str | None, dry_run: bool, fmt: str
) -> None:
    """Update assumption defaults from promoted calibration notes.

    A note with promotion_status PROMOTED and promoted_to naming an assumption
    moves that NUMERIC default by its direction and magnitude (clamped to the
    range) and is cited in calibration_note_ids.

    \b
    Example:
      canonry learn assumptions
      canonry learn assumptions --dry-run --format json
    """
    repo = open_repo(repo_path)
    learned = learn_assumptions(repo, base=base, actor=actor, draft_name=draft_name, dry_run=dry_run)
    report = learned.report()
    _drafted(report)
    if fmt == "json":
        emit_json(report)
        return
    lines = [f"{report['notes_promoted']} promoted notes at {report['base']['ref']}"]
    for c in report["changed"]:
        clamp = " (clamped to range)" if c["clamped_to_range"] else ""
        lines.append(
            f"~ {c['assumption_type']} {c['sector_code']}: {c['old']} -> {c['new']}{clamp} ({c['id']})"
        )
    lines += [f"! {s['message']}" for s in report["skipped"] if "message" in s]
    emit("\n".join(lines) + "\n")


@learn_group.command("workforce")
@repo_option
@click.option(
    "--from", "source", type=click.Path(dir_okay=False), help="Nationality overrides (CSV/JSON/JSONL)."
)
@click.option(
    "--input-format", type=click.Choice(INPUT_FORMATS), default=None, help="Default: from the extension."
)
@click.option("--min-frequency", type=int, default=None, help="Overrides a cell needs (default: policy).")
@_draft_options
def learn_workforce_cmd(
    repo_path: str | None,
    source: str | None,
    input_format: str | None,
    min_frequency: int | None,
    base: str,
    draft_name: str | None,
    actor: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Refine the nationality classification from overrides; report coverage.

    Without --from, print the coverage report only: which occupation cells
    are assumed and which calibrated.

    \b
    Example:
      canonry learn workforce --from nationality-overrides.csv
      canonry learn workforce --format json     # coverage only
    """
    repo = open_repo(repo_path)
    if source is None:
        report = coverage(BaseState.at(repo, base).library(WORKFORCE))
        emit_json(report) if fmt == "json" else emit(_coverage_text(report))
        return
    learned = learn_workforce(
        repo,
        source,
        base=base,
        fmt=input_format,
        min_frequency=min_frequency,
        actor=actor,
        draft_name=draft_name,
        dry_run=dry_run,
    )
    report = learned.report()
    _drafted(report)
    if fmt == "json":
        emit_json(report)
        return
    lines = [f"read {report['overrides_read']} nationality overrides"]
    for c in report["changed"]:
        lines.append(
            f"~ {c['occupation_code']}: {c['old']['feasibility_class']} ({c['old']['basis']}) ->"
            f" {c['new']['feasibility_class']} (calibrated, {len(c['override_ids'])} overrides)"
        )
    lines += [f"! {s['message']}" for s in report["skipped"] if "message" in s]
    emit("\n".join(lines) + "\n" + _coverage_text(report["coverage"]))


def _coverage_text(report: dict[str, Any]) -> str:
    lines = [f"{'cell':<5} {'basis':<11} {'class':<23} title"]
    for c in report["cells"]:
        lines.append(
            f"{c['occupation_code']!s:<5} {c['basis']!s:<11} {c['feasibility_class']!s:<23}"
            f" {c['occupation_title']}"
        )
    pct = report["coverage_pct"]
    lines.append(
        f"coverage: {len(report['calibrated'])} calibrated, {len(report['assumed'])} assumed"
        + (f" ({pct}% calibrated)" if pct is not None else "")
    )
    return "\n".join(lines) + "\n"


# --- suggest, confidence, health --------------------------------------------------------------------


@click.command("suggest")
@repo_option
@click.argument("project_type")
@click.option("--at", "at", default="latest", show_default=True, help="A version (vN, latest) or any ref.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def suggest_cmd(repo_path: str | None, project_type: str, at: str, fmt: str) -> None:
    """Print the most used scenario pattern of a project type.

    Reads the latest published scenario-patterns version (main when none is
    published yet). Exit 2 when no pattern has that project type.

    \b
    Example:
      canonry suggest desalination-plant
      canonry suggest "industrial city" --format json
    """
    repo = open_repo(repo_path, allow_shallow=True)
    doc = suggest(repo, project_type, at=at)
    emit_json(doc) if fmt == "json" else emit(dump_yaml(doc))


@click.command("confidence")
@repo_option
@click.argument("spec", metavar="LIBRARY[@VERSION]")
@click.option("--at", "at", default=None, help="The day to compute decay at (default: now).")
@click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True)
def confidence_cmd(repo_path: str | None, spec: str, at: str | None, fmt: str) -> None:
    """List each entry's effective confidence and band (decay applied).

    effective = base * source_weight - conflict_penalty - decay_rate * days
    since update; bands trusted, standard, caution, blocked (libraries.yaml).
    Without @VERSION: the latest version (main when none is published).

    \b
    Example:
      canonry confidence mapping
      canonry confidence mapping@v3 --at 2026-06-30 --format json
    """
    repo = open_repo(repo_path, allow_shallow=True)
    name, _, version = spec.partition("@")
    if not version and latest_version(repo, name) is None:
        say(f"{name} has no published version: reading main")
    doc = confidence_report(repo, name, version or None, _at(at))
    if fmt == "json":
        emit_json(doc)
        return
    lines = [f"{'band':<9} {'value':>6} {'base':>6} {'days':>7}  id  title"]
    for r in doc["entries"]:
        flag = " (in conflict)" if r["in_conflict"] else ""
        lines.append(
            f"{r['band']:<9} {r['value']:>6.3f} {r['base']:>6.3f} {r['days_since_update']:>7.0f}"
            f"  {r['id']}  {r['title']}{flag}"
        )
    lines.append(", ".join(f"{band} {n}" for band, n in doc["bands"].items()) or "no entries")
    emit("\n".join(lines) + "\n")


@click.command("health")
@repo_option
@click.option("--at", "at", default=None, help="Compute ages at this moment (default: now).")
@click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True)
def health_cmd(repo_path: str | None, at: str | None, fmt: str) -> None:
    """Flywheel health: engagements, versions, accuracy, coverage, backlog, drafts.

    \b
    Example:
      canonry health
      canonry health --format json
    """
    repo = open_repo(repo_path)
    doc = health(repo, at=_at(at))
    if fmt == "json":
        emit_json(doc)
        return
    lines = [f"health of {doc['ref']} at {doc['commit'][:12]} ({doc['at']})"]
    lines.append(f"engagements: {doc['engagements']}")
    for name, lib in doc["libraries"].items():
        lines.append(
            f"  {name:<28} {lib['entries']:>7} entries  {lib['versions']:>3} versions"
            f"  latest {lib['latest'] or '-'}"
        )
    split = doc["pct_entries_assumed_vs_calibrated"]
    lines += [
        f"mapping accuracy (latest version): {_show(doc['mapping_accuracy'])}",
        f"workforce coverage: {_show(doc['workforce_coverage_pct'], '%')}",
        f"override backlog: {_show(doc['override_backlog_count'])}",
        f"average days since last publication: {_show(doc['avg_days_since_last_publication'])}",
        f"drafts pending review: {doc['draft_count_pending_review']}",
        f"entries assumed / calibrated: {_show(split['assumed'], '%')} / {_show(split['calibrated'], '%')}",
        f"shared knowledge sanitized: {_show(doc['pct_shared_knowledge_sanitized'], '%')}",
    ]
    emit("\n".join(lines) + "\n")


def _show(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


# --- import ----------------------------------------------------------------------------------------


@click.command("import")
@repo_option
@click.argument("library")
@click.option(
    "--from", "source", required=True, type=click.Path(dir_okay=False), help="CSV, JSON or JSON Lines."
)
@click.option("--source-ref", required=True, help="Where the file came from (URL, dataset version...).")
@click.option(
    "--input-format", type=click.Choice(INPUT_FORMATS), default=None, help="Default: from the extension."
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A default for every row (VALUE read as YAML); a row's own value wins. Repeatable.",
)
@_draft_options
def import_cmd(
    repo_path: str | None,
    library: str,
    source: str,
    source_ref: str,
    input_format: str | None,
    assignments: tuple[str, ...],
    base: str,
    draft_name: str | None,
    actor: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Upsert rows from a file into LIBRARY by its natural key, as a new draft.

    Every row is checked against the library's schema and rules first; if any
    fails, each failure is listed with its row number, nothing is written and
    the exit code is 2.

    \b
    Example:
      canonry import occupation-bridge --from bridge.csv --source-ref https://example.org/ilo/2026-03
      canonry import overrides --from overrides.jsonl --source-ref engagement-system@2026-03-14
    """
    repo = open_repo(repo_path)
    defaults: dict[str, Any] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--set")
        try:
            defaults[name.strip()] = load_yaml(value, f"--set {name}") if value.strip() else None
        except EntrySyntaxError:
            defaults[name.strip()] = value
    result = import_file(
        repo,
        library,
        source,
        source_ref=source_ref,
        fmt=input_format,
        base=base,
        defaults=defaults,
        actor=actor,
        draft_name=draft_name,
        dry_run=dry_run,
    )
    report = result.report()
    _drafted(report, "nothing to import")
    if fmt == "json":
        emit_json(report)
        return
    emit(
        f"{report['rows']} rows: {len(report['added'])} added, {len(report['changed'])} changed,"
        f" {report['unchanged']} unchanged\n"
    )


def register(group: click.Group) -> None:
    for command in (learn_group, suggest_cmd, confidence_cmd, health_cmd, import_cmd):
        group.add_command(command)
