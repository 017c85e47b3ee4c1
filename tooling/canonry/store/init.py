"""`canonry init`: a new knowledge repository with the layout of the reference one.

What it writes comes from the package's templates (canonry/templates/repo/):
schemas/ (the registry and the JSON Schemas of the eight libraries), an empty
holdout set, .gitattributes wiring the structured merge driver, the gates and
release workflows and a README. A path component spelt `dot_x` in the
templates is written as `.x` (setuptools' package-data globs skip dot files).

The initial commit is written straight to the object database with its
Canonry-* trailers, main moves by compare-and-swap, and only then are the
files laid on disk and in the index, so the result is an ordinary repository
whose work tree matches HEAD.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .._version import __version__
from ..errors import NotARepositoryError, UsageError
from .commits import Provenance, actor_identity, message_with_trailers
from .install_source import CanonrySource, installed_source
from .repo import BLOB_MODE, RefUpdate, Repository, init_repository

BRANCH = "refs/heads/main"
MERGE_DRIVER_CONFIG = 'git config merge.canonry.driver "canonry merge-driver %O %A %B %P"'
# Folders whose existing content init refuses to overwrite (unless forced).
PROTECTED = ("schemas", "knowledge")
# Files the user may already have: theirs is kept, or ours is merged into it.
KEEP_THEIRS = ("README.md",)
MERGE_LINES = (".gitattributes",)
_SHOWN = 8  # paths named in a refusal before "and N more"
# The templates' placeholder for the pip requirement that installs Canonry in CI.
REQUIREMENT = b"{{canonry_requirement}}"
INSTALL_RUN = b'        run: pip install "{{canonry_requirement}}"\n'
# The install step when nobody knows where this Canonry came from: fail, and say what to edit.
UNKNOWN_INSTALL_RUN = (
    b"        run: |\n"
    b'          echo "::error::Canonry is not on the Python package index yet and canonry init could'
    b" not tell where yours came from: replace this run line with"
    b" pip install 'canonry @ git+https://YOUR-GIT-HOST/canonry@COMMIT'\"\n"
    b"          exit 1\n"
)
UNKNOWN_REQUIREMENT = b"canonry @ git+https://YOUR-GIT-HOST/canonry@COMMIT"


@dataclass(frozen=True)
class InitResult:
    path: Path
    branch: str
    commit: str  # main's tip afterwards
    committed: bool  # False when main already had exactly these files
    new_repository: bool
    written: tuple[str, ...]  # repository paths init wrote (and committed)
    kept: tuple[str, ...]  # paths the repository already had, left as they were
    source: CanonrySource  # what the workflows install


def template_files(name: str, source: CanonrySource | None = None) -> dict[str, bytes]:
    """The files init writes, by repository path; the README names the repository.

    The workflows and the README install Canonry with source's requirement
    (default: where the running Canonry came from, see install_source).
    """
    source = source or installed_source()
    root = resources.files("canonry").joinpath("templates", "repo")
    files: dict[str, bytes] = {}
    _collect(root, "", files)
    readme = files.get("README.md")
    if readme is not None:
        files["README.md"] = readme.replace(b"{{name}}", name.encode("utf-8"))
    for path, data in files.items():
        if REQUIREMENT not in data:
            continue
        if source.requirement is None:
            data = data.replace(INSTALL_RUN, UNKNOWN_INSTALL_RUN).replace(REQUIREMENT, UNKNOWN_REQUIREMENT)
        else:
            data = data.replace(REQUIREMENT, source.requirement.encode("utf-8"))
        files[path] = data
    return dict(sorted(files.items()))


def _collect(node: Traversable, prefix: str, out: dict[str, bytes]) -> None:
    for child in node.iterdir():
        if child.name == "__pycache__":
            continue
        name = "." + child.name[4:] if child.name.startswith("dot_") else child.name
        if child.is_dir():
            _collect(child, f"{prefix}{name}/", out)
        else:
            out[prefix + name] = child.read_bytes()


def init_knowledge_repo(
    path: str | os.PathLike[str],
    *,
    actor: str | None = None,
    force: bool = False,
    when: int | None = None,
    source: CanonrySource | None = None,
) -> InitResult:
    """Create a knowledge repository at path (or fill an empty existing one) and commit it on main.

    Refuses (UsageError, exit 2) when schemas/ or knowledge/ already hold
    anything, or when a file init writes exists with other content; `force`
    replaces schemas/ and the workflows but never touches anything under
    knowledge/. A README.md of the user's is kept; .gitattributes gets the
    missing lines appended.
    """
    target = Path(os.path.abspath(Path(path).expanduser()))
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file: canonry init needs a folder (new or empty)")
    existing = _existing_repository(target)
    tip: str | None = None
    base_tree: str | None = None
    if existing is not None:
        head = existing.head_branch()
        if head is None:
            raise UsageError(f"{target}: HEAD is detached; switch to main first (git switch main)")
        tip = existing.ref_target(head)
        if tip is not None and head != BRANCH:
            raise UsageError(
                f"{target} is on branch {head.removeprefix('refs/heads/')}: Canonry publishes from main"
                " (run `git switch -c main` there first)"
            )
        base_tree = existing.tree_of(tip) if tip else None

    source = source or installed_source()
    templates = template_files(target.name, source)
    current = {p: _current(target, existing, base_tree, p) for p in templates}
    if not force:
        found = _protected_content(target, existing, base_tree)
        if found:
            counts = ", ".join(
                f"{folder}/ holds {n} file{'s' if n > 1 else ''}"
                for folder in PROTECTED
                if (n := sum(1 for p in found if p == folder or p.startswith(folder + "/")))
            )
            raise UsageError(
                f"{target} already has knowledge repository content ({counts});"
                " canonry init will not overwrite it (--force replaces schemas/ and the workflows,"
                " never anything under knowledge/)",
                paths=found,
            )
    to_write, kept, clashes = _plan(templates, current, force)
    if clashes:
        raise UsageError(
            f"{target} already has other versions of files canonry init writes ({_listing(clashes)});"
            " move them away or pass --force to replace them",
            paths=clashes,
        )

    try:
        repo = existing if existing is not None else init_repository(target)
    except OSError as exc:
        raise UsageError(f"cannot create a repository at {target}: {exc.strerror or exc}") from None
    if tip is None and repo.head_branch() != BRANCH:
        repo.set_head(BRANCH)  # an empty repository on another default branch
    author = actor_identity(repo, actor)
    provenance = Provenance(
        source="init",
        actor=author.email,
        reason="canonry init: the layout, schemas and workflows of a new knowledge repository",
        source_ref=f"canonry {__version__}",
    )
    message = message_with_trailers("Initialize a Canonry knowledge repository", provenance)
    tree = repo.write_tree(base_tree, dict(to_write))
    if tip is not None and tree == base_tree:
        commit = tip  # forced again over identical files: no empty commit
    else:
        commit = repo.create_commit(tree, [tip] if tip else [], message, author, when=when)
        repo.update_refs([RefUpdate(BRANCH, commit, tip)], "canonry init")
    _lay_out(repo, target, to_write)
    return InitResult(
        path=target,
        branch="main",
        commit=commit,
        committed=commit != tip,
        new_repository=existing is None,
        written=tuple(sorted(to_write)),
        kept=tuple(sorted(kept)),
        source=source,
    )


def _existing_repository(target: Path) -> Repository | None:
    """The repository whose work tree is target, or None; a bare repository is refused."""
    if not target.is_dir():
        return None
    try:
        repo = Repository(target, allow_shallow=True)
    except NotARepositoryError:
        return None
    here = target.resolve()
    if repo.is_bare:
        if repo.git_dir.resolve() == here:
            raise UsageError(
                f"{target} is a bare repository: canonry init needs a work tree"
                " (clone it and run canonry init in the clone)"
            )
        return None
    if repo.workdir is not None and repo.workdir.resolve() == here:
        return repo
    return None  # target lies inside another repository: it gets its own


def _current(target: Path, repo: Repository | None, base_tree: str | None, path: str) -> bytes | None:
    """What the repository has at path now: the work tree's file, else HEAD's."""
    disk = target / path
    if disk.is_file():
        return disk.read_bytes()
    if repo is not None and base_tree is not None:
        item = repo.entry_at(base_tree, path)
        if item is not None and not item.is_tree:
            return repo.read_blob(item.oid)
    return None


def _protected_content(target: Path, repo: Repository | None, base_tree: str | None) -> list[str]:
    found: set[str] = set()
    for folder in PROTECTED:
        root = target / folder
        if root.is_dir():
            found.update(p.relative_to(target).as_posix() for p in root.rglob("*") if not p.is_dir())
        elif root.exists():
            found.add(folder)
        if repo is not None and base_tree is not None:
            sub = repo.subtree(base_tree, folder)
            if sub is not None:
                found.update(f"{folder}/{rel}" for rel, _item in repo.walk_tree(sub))
    return sorted(found)


def _plan(
    templates: dict[str, bytes], current: dict[str, bytes | None], force: bool
) -> tuple[dict[str, bytes], list[str], list[str]]:
    """(files to write, paths kept as they are, paths that clash with ours)."""
    to_write: dict[str, bytes] = {}
    kept: list[str] = []
    clashes: list[str] = []
    for path, ours in templates.items():
        theirs = current[path]
        if theirs is None or theirs == ours:
            to_write[path] = ours
        elif path.startswith("knowledge/") or path in KEEP_THEIRS:
            kept.append(path)
        elif path in MERGE_LINES:
            merged = _merge_lines(theirs, ours)
            if merged == theirs:
                kept.append(path)
            else:
                to_write[path] = merged
        elif force:
            to_write[path] = ours
        else:
            clashes.append(path)
    return to_write, kept, clashes


def _merge_lines(theirs: bytes, ours: bytes) -> bytes:
    """Theirs with our rule lines that it lacks appended, under our comment block."""
    have = {line.strip() for line in theirs.splitlines()}
    comments = [line for line in ours.splitlines() if line.startswith(b"#")]
    missing = [
        line for line in ours.splitlines() if line.strip() and not line.startswith(b"#") and line not in have
    ]
    if not missing:
        return theirs
    head = theirs.rstrip(b"\n") + b"\n\n" if theirs.strip() else b""
    return head + b"\n".join(comments + missing) + b"\n"


def _lay_out(repo: Repository, target: Path, files: dict[str, bytes]) -> None:
    """Write the committed files to the work tree and the index, so both match HEAD."""
    try:
        for path, data in files.items():
            dest = target / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    except OSError as exc:
        raise UsageError(
            f"the commit is on main but writing {exc.filename} failed: {exc.strerror}"
            f" (fix it, then run `git reset --hard` in {target})"
        ) from None
    repo.stage([(BLOB_MODE, repo.write_blob(data), path) for path, data in files.items()])


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:_SHOWN])
    return shown + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")
