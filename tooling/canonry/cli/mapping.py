"""`canonry map`: project texts to sectors with a mapping library version."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from ..learning.mapper import map_texts
from ..runtime.api import Canon
from ..store.versions import latest_version
from .common import emit, emit_json, open_repo, repo_option, say

MAPPING = "mapping"
MAX_TEXT = 10_000  # characters of one text; a longer line is refused, not truncated


@click.command("map")
@repo_option
@click.argument("texts", nargs=-1)
@click.option("--at", "at", default=None, metavar="LIB@VERSION", help="mapping@v3, v3, latest or a ref.")
@click.option(
    "--from",
    "source",
    default=None,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Read texts from FILE, one per line ('-': standard input).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def map_cmd(
    repo_path: str | None, texts: tuple[str, ...], at: str | None, source: str | None, fmt: str
) -> None:
    """Map project texts to ISIC sectors with a mapping library, explained.

    Each text gets the sector of the winning pattern (the answer the holdout
    evaluator gives), the pattern's entry, how it was found (phrase, words in
    another order or form, or all but one word), its effective confidence and
    band, and the runner-up of another sector. Without --at: the latest
    published version (main before any). JSON: canonry.map/v1, sector_code
    null when no pattern is found.

    \b
    Example:
      canonry map "Seawater desalination plant in Jubail"
      canonry map --at mapping@v2 --format json "مصنع أسمنت" "Hotel with 300 rooms"
      canonry map --from projects.txt
    """
    repo = open_repo(repo_path, allow_shallow=True)
    wanted = list(texts) + (_read_lines(source) if source is not None else [])
    if not wanted:
        raise UsageError("give texts to map as arguments or with --from FILE")
    long = [i + 1 for i, t in enumerate(wanted) if len(t) > MAX_TEXT]
    if long:
        raise UsageError(f"text {long[0]} is longer than {MAX_TEXT} characters; nothing was mapped")
    name, version = _split(at)
    if version == "latest" and latest_version(repo, name) is None:
        say(f"{name} has no published version: reading main")
        version = "main"
    lib = Canon(repo, str(repo.describe()), all_scopes=True).library(name, version)
    doc = map_texts(lib.inner, wanted)  # every scope: a steward's tool, like `canonry show`
    if fmt == "json":
        emit_json(doc)
        return
    emit(render(doc))


def _split(at: str | None) -> tuple[str, str]:
    """(library, version or ref) from --at: mapping@v3, v3, latest, main, mapping@main."""
    if not at:
        return MAPPING, "latest"
    name, sep, version = at.partition("@")
    if not sep:
        return MAPPING, at
    if not name or not version:
        raise UsageError(f"--at {at!r}: expected LIBRARY@VERSION (e.g. mapping@v3)")
    return name, version


def _read_lines(source: str) -> list[str]:
    if source == "-":
        text = str(sys.stdin.read())
    else:
        path = Path(source)
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise UsageError(f"{source}: no such file") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"{source}: not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise UsageError(f"{source}: {exc.strerror}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def render(doc: dict[str, Any]) -> str:
    """The text form: one block per text, the winner first, the runner-up indented."""
    where = doc.get("tag") or (doc.get("commit") or "")[:12]
    lines = [f"{doc['library']} at {where}"]
    for r in doc["results"]:
        lines.append(f"{r['text']}")
        if r["sector_code"] is None:
            lines.append("  -    no pattern found")
            continue
        lines.append("  " + _describe(r))
        if r.get("runner_up"):
            lines.append("  runner-up: " + _describe(r["runner_up"]))
    return "\n".join(lines) + "\n"


def _describe(r: dict[str, Any]) -> str:
    confidence = "-" if r["confidence"] is None else f"{r['confidence']:.3f}"
    return (
        f"{r['sector_code']}  {r['pattern']!r}"
        f" ({r['match']}, {r['matched_words']} of {r['pattern_words']} words)"
        f"  confidence {confidence} {r['band'] or ''}  entry {r['entry_id']}"
    ).rstrip()


def register(group: click.Group) -> None:
    group.add_command(map_cmd)
