"""`canonry learn`: the four learners (mapping, scenario-patterns, assumptions, workforce).

Each reads the knowledge at --base, writes one commit on a new draft branch
(or, with --dry-run, nothing) and prints its report: `_finish` says what was
written and prints JSON, or leaves the text to the command.
"""

from __future__ import annotations

from typing import Any

import click

from ..gates.engine import run_gates
from ..learning import BaseState
from ..learning.assumptions import learn_assumptions
from ..learning.importer import FORMATS as INPUT_FORMATS
from ..learning.mapping import learn_mapping
from ..learning.scenarios import learn_scenario
from ..learning.workforce import WORKFORCE, coverage, learn_workforce
from ..report.diff import render_text
from ..report.learning import (
    render_assumptions,
    render_coverage,
    render_holdout,
    render_learned_mapping,
    render_scenario,
    render_workforce,
)
from ..report.outcome import exit_code
from ..store.yamlio import dump_yaml
from .common import emit, emit_json, open_repo, repo_option, say

OUTPUT = click.Choice(["text", "json"])


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


def _finish(report: dict[str, Any], fmt: str, nothing: str = "nothing to learn") -> bool:
    """Say what was written; print the report as JSON when asked (True: nothing left to print)."""
    _drafted(report, nothing)
    if fmt == "json":
        emit_json(report)
        return True
    return False


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
    if not _finish(report, fmt):
        emit(render_learned_mapping(report))
        if learned.diff is not None:
            emit(render_text(learned.diff))
        if learned.holdout is not None:
            emit(render_holdout(learned.holdout))
    if learned.holdout is not None:
        raise SystemExit(exit_code(learned.holdout))


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
    if _finish(report, fmt):
        return
    emit(render_scenario(learned.action, learned.entry, learned.similarity))
    emit(dump_yaml(learned.entry))


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
    if _finish(report, fmt):
        return
    emit(render_assumptions(report))


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
        emit_json(report) if fmt == "json" else emit(render_coverage(report))
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
    if _finish(report, fmt):
        return
    emit(render_workforce(report))


def register(group: click.Group) -> None:
    group.add_command(learn_group)
