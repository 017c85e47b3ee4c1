"""Draft renderers: `canonry draft list` and `draft show` as text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .diff import render_text as render_diff
from .gate import render_text as render_gate

if TYPE_CHECKING:  # draft_views loads git; a renderer only reads its results
    from ..publication.draft_views import DraftSummary, DraftView


def render_draft_list(rows: Sequence[DraftSummary]) -> str:
    """A table: draft, ahead, behind, review state, libraries touched (rows is not empty)."""
    width = max(len(r.branch) for r in rows)
    lines = [f"{'draft':<{width}}  ahead  behind  {'review':<8}  libraries"]
    for r in rows:
        libs = ", ".join(r.libraries) or "-"
        lines.append(f"{r.branch:<{width}}  {r.ahead:>5}  {r.behind:>6}  {r.review:<8}  {libs}")
    return "\n".join(lines) + "\n"


def render_draft_show(view: DraftView, main: str) -> str:
    """Where the draft stands against main, its diff, and the gates' verdict."""
    s = view.summary
    return (
        f"{s.branch} at {s.head[:12]}: {s.ahead} ahead of, {s.behind} behind {main}; review: {s.review}\n"
        + render_diff(view.diff)
        + render_gate(view.gate)
    )
