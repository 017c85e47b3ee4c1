"""Commands about the repository as a whole: libraries, validate, gate."""

from __future__ import annotations

from typing import Any

import click

from ..gates.engine import check_all, run_gates, validate
from ..gates.report import REPORTER_BY_NAME
from ..store.entries import Library
from ..store.rules import load_rules
from ..store.states import State, TreeState, WorkTreeState
from ..store.versions import latest_version
from .common import emit, emit_json, open_repo, repo_option

FORMATS = click.Choice(sorted(REPORTER_BY_NAME))


@click.command("libraries")
@repo_option
@click.option("--ref", default=None, help="Count entries at this ref (default: the work tree).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def libraries_cmd(repo_path: str | None, ref: str | None, fmt: str) -> None:
    """List libraries with lifecycle, latest version and entry count.

    \b
    Example:
      canonry libraries
      canonry libraries --ref main --format json
    """
    repo = open_repo(repo_path, allow_shallow=True)
    state: State
    if ref is not None:
        state = TreeState(repo, repo.resolve_commit(ref), ref)
    elif repo.workdir is not None:
        state = WorkTreeState(repo)
    else:
        state = TreeState(repo, repo.resolve_commit("HEAD"), "HEAD")
    registry = load_rules(state).require_registry()
    rows: list[dict[str, Any]] = []
    for spec in registry.libraries.values():
        latest = latest_version(repo, spec.name)
        rows.append(
            {
                "library": spec.name,
                "lifecycle": spec.lifecycle,
                "layout": spec.layout,
                "latest": latest.tag if latest else None,
                "entries": len(Library(state, spec)),
                "title": spec.description,
            }
        )
    rows.sort(key=lambda r: r["library"])
    if fmt == "json":
        emit_json({"format": "canonry.libraries/v1", "ref": state.label, "libraries": rows})
        return
    width = max(len(r["library"]) for r in rows) if rows else 7
    emit(f"{'library':<{width}}  {'lifecycle':<11}  {'latest':<22}  entries")
    for r in rows:
        emit(f"{r['library']:<{width}}  {r['lifecycle']:<11}  {r['latest'] or '-':<22}  {r['entries']}")


@click.command("validate")
@repo_option
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--ref", default=None, help="Check this ref instead of the work tree.")
@click.option("--library", "libraries", multiple=True, help="Only this library (repeatable).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def validate_cmd(
    repo_path: str | None,
    paths: tuple[str, ...],
    ref: str | None,
    libraries: tuple[str, ...],
    fmt: str,
) -> None:
    """Check entries with the yaml, schema, identity and checks gates.

    Checks the work tree (uncommitted changes included) or a ref; results for
    unchanged files are cached by blob id, so it runs at pre-commit speed.
    Exit 1 when a check fails.

    \b
    Example:
      canonry validate
      canonry validate knowledge/mapping
      canonry validate --ref main --format json
    """
    import os

    repo = open_repo(repo_path, allow_shallow=True)
    rel_paths = []
    for p in paths:
        full = os.path.abspath(p)
        root = str(repo.workdir or repo.git_dir)
        rel = os.path.relpath(full, root).replace(os.sep, "/")
        if rel.startswith(".."):
            raise click.BadParameter(f"{p} is outside the repository", param_hint="PATHS")
        rel_paths.append(rel)
    result = validate(repo, rel_paths, ref=ref, libraries=libraries)
    emit(REPORTER_BY_NAME[fmt](result))
    raise SystemExit(result.exit_code)


@click.command("gate")
@repo_option
@click.option("--base", default="main", show_default=True, help="The base: its rules apply.")
@click.option("--head", default="HEAD", show_default=True, help="The draft tip to check.")
@click.option("--library", "libraries", multiple=True, help="Only this library (repeatable).")
@click.option(
    "--full", is_flag=True, help="Check every entry at HEAD with HEAD's rules, not only what it changes."
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def gate_cmd(
    repo_path: str | None, base: str, head: str, libraries: tuple[str, ...], full: bool, fmt: str
) -> None:
    """Run the publication gates on what HEAD changes relative to BASE.

    Reads straight from git (no work tree). Rules come from the base, never
    from the draft. Every gate runs except review, which the forge's required
    reviews (or `canonry publish`) enforce. Exit 1 when a gate reports an error.

    \b
    Example:
      canonry gate --base main --head draft/steel-patterns
      canonry gate --format github      # in a pull-request workflow
      canonry gate --full               # every entry of every library, every gate but review
    """
    repo = open_repo(repo_path)
    if full:
        result = check_all(repo, head, libraries=libraries)
    else:
        result = run_gates(repo, base, head, libraries=libraries)
    emit(REPORTER_BY_NAME[fmt](result))
    raise SystemExit(result.exit_code)


def register(group: click.Group) -> None:
    for command in (libraries_cmd, validate_cmd, gate_cmd):
        group.add_command(command)
