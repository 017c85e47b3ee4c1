"""Commands about the repository as a whole: libraries, validate, gate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..report.gate import REPORTER_BY_NAME
from ..report.outcome import exit_code
from .common import emit, emit_json, open_repo, repo_option

if TYPE_CHECKING:
    from ..store.repo import Repository

# The gates, the rules and the entries load inside each command (they import
# jsonschema, PyYAML and pygit2), so that the CLI starts without them.

FORMATS = click.Choice(sorted(REPORTER_BY_NAME))


def require_knowledge_repository(repo: Repository, ref: str | None) -> None:
    """Exit 2 with the hint to run `canonry init` where there is no schemas/libraries.yaml at all.

    Without a ref: missing from the work tree and from HEAD (a work tree that
    deletes it from a knowledge repository is a finding of the gates instead).
    """
    from ..errors import RegistryMissingError
    from ..store.registry import REGISTRY_PATH

    if ref is None and repo.workdir is not None and (repo.workdir / REGISTRY_PATH).is_file():
        return
    commit = repo.try_resolve_commit(ref or "HEAD")
    if commit is None and ref not in (None, "HEAD"):
        repo.resolve_commit(ref)  # raises the unknown ref's own error (an unborn HEAD: no registry either)
    if commit is not None:
        item = repo.entry_at(repo.tree_of(commit), REGISTRY_PATH)
        if item is not None and not item.is_tree:
            return
    raise RegistryMissingError(REGISTRY_PATH)


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
    from ..store.entries import Library
    from ..store.rules import load_rules
    from ..store.states import State, TreeState, WorkTreeState
    from ..store.versions import latest_version

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

    from ..gates.engine import validate

    repo = open_repo(repo_path, allow_shallow=True)
    rel_paths = []
    for p in paths:
        full = os.path.abspath(p)
        root = str(repo.workdir or repo.git_dir)
        rel = os.path.relpath(full, root).replace(os.sep, "/")
        if rel.startswith(".."):
            raise click.BadParameter(f"{p} is outside the repository", param_hint="PATHS")
        rel_paths.append(rel)
    require_knowledge_repository(repo, ref)
    result = validate(repo, rel_paths, ref=ref, libraries=libraries)
    emit(REPORTER_BY_NAME[fmt](result))
    raise SystemExit(exit_code(result))


@click.command("gate")
@repo_option
@click.option("--base", default="main", show_default=True, help="The base: its rules apply.")
@click.option("--head", default="HEAD", show_default=True, help="The draft tip to check.")
@click.option("--library", "libraries", multiple=True, help="Only this library (repeatable).")
@click.option(
    "--full", is_flag=True, help="Check every entry at HEAD with HEAD's rules, not only what it changes."
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--push", "push", metavar="REMOTE", default=None, help="Push the gate history there too.")
@click.option("--no-history", is_flag=True, help="Do not record this run under refs/notes/canonry-gates.")
def gate_cmd(
    repo_path: str | None,
    base: str,
    head: str,
    libraries: tuple[str, ...],
    full: bool,
    fmt: str,
    push: str | None,
    no_history: bool,
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
    from ..gates.engine import check_all, run_gates

    repo = open_repo(repo_path)
    if full:
        require_knowledge_repository(repo, head)
        result = check_all(repo, head, libraries=libraries)
    else:
        require_knowledge_repository(repo, base)
        result = run_gates(repo, base, head, libraries=libraries)
    emit(REPORTER_BY_NAME[fmt](result))
    if not no_history:  # the run is kept as data for `canonry health` (publication/gate_history.py)
        from ..publication.gate_history import keep

        problem = keep(repo, result, "gate", push)
        if problem:
            click.echo(f"canonry: warning: {problem}", err=True)
    raise SystemExit(exit_code(result))


def register(group: click.Group) -> None:
    for command in (libraries_cmd, validate_cmd, gate_cmd):
        group.add_command(command)
