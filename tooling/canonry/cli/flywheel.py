"""Flywheel commands: suggest, confidence, health, import (`learn` is cli/learning.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ..errors import EntrySyntaxError, UsageError
from ..gates.holdout import screen_entries
from ..learning.importer import FORMATS as INPUT_FORMATS
from ..learning.importer import import_file
from ..learning.scenarios import suggest
from ..publication.health import health
from ..report.flywheel import render_confidence, render_health
from ..runtime.reading import confidence_report
from ..store.confidence import as_datetime
from ..store.rules import load_rules
from ..store.states import TreeState
from ..store.versions import latest_version
from ..store.yamlio import dump_yaml, load_yaml
from .common import emit, emit_json, open_repo, repo_option, say
from .learning import OUTPUT, _draft_options, _drafted


def _at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return as_datetime(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not a date (YYYY-MM-DD) or RFC 3339 timestamp") from None


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
    emit(render_confidence(doc))


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
    emit(render_health(doc))


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
    help="A default for every new row (VALUE read as YAML); a row's own value wins. Repeatable.",
)
@click.option(
    "--rescope",
    is_flag=True,
    help="Let rows change an existing entry's reuse_scope, workspace_id or sanitized_for_promotion.",
)
@_draft_options
def import_cmd(
    repo_path: str | None,
    library: str,
    source: str,
    source_ref: str,
    input_format: str | None,
    assignments: tuple[str, ...],
    rescope: bool,
    base: str,
    draft_name: str | None,
    actor: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Upsert rows from a file into LIBRARY by its natural key, as a new draft.

    Every row is checked against the library's schema and rules first, and for
    leakage (a copy or near copy of a holdout case); if any fails, each failure
    is listed with its row number, nothing is written and the exit code is 2.
    An existing entry keeps its scope unless --rescope is given.

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
        rescope=rescope,
        screen=lambda spec, entries: _leaks(repo, base, spec, entries),
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


def _leaks(repo: Any, base: str, spec: Any, entries: Any) -> list[tuple[str, str]]:
    """The holdout gate's leakage check on the rows an import is about to write (read at the base)."""
    state = TreeState(repo, repo.resolve_commit(base), base)
    return screen_entries(state, load_rules(state).registry, spec, entries)


def register(group: click.Group) -> None:
    for command in (suggest_cmd, confidence_cmd, health_cmd, import_cmd):
        group.add_command(command)
