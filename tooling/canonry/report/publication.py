"""Publication renderers: what `canonry publish`, `release` and `rollback` did, as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .diff import render_text as render_diff

if TYPE_CHECKING:  # publish loads git; a renderer only reads its result
    from ..publication.publish import Publication


def render_publication(pub: Publication) -> tuple[str, list[str]]:
    """The outcome (for stdout) and the notes: what to do next, what could not follow (for stderr)."""
    notes = list(pub.messages)
    if pub.action == "nothing":
        lines = [f"nothing to publish: {notes.pop(0) if notes else 'nothing new'}"]
    elif not pub.versions and pub.main_before == pub.main_after:
        notes = [m for m in notes if not m.endswith("nothing new")]
        lines = [f"nothing new to publish; pushed to {pub.remote} what it lacked: {', '.join(pub.pushed)}"]
    else:
        verb = "would publish" if pub.action == "dry-run" else "published"
        moved = ""
        if pub.main_before and pub.main_after and pub.main_after != pub.main_before:
            moved = f"; main {pub.main_before[:12]} -> {pub.main_after[:12]}"
        lines = [f"{verb} {pub.draft or pub.kind}{moved}"]
        for v in pub.versions:
            m = v.metadata
            extra = f", rollback of {m['rollback_of']}" if m.get("rollback_of") else ""
            lines.append(
                f"  {v.tag}: {m['added']} added, {m['removed']} removed, {m['changed']} changed;"
                f" {m['entry_count']} entries{extra}"
            )
        if not pub.versions:
            lines.append("  no library content changed: no new version")
        if pub.pushed:
            lines.append(f"pushed to {pub.remote}: {', '.join(pub.pushed)}")
    text = "\n".join(lines) + "\n"
    if pub.action == "dry-run" and pub.diff is not None:
        text += render_diff(pub.diff)
    return text, notes
