"""Map project texts to sectors with a mapping library: the answer the holdout evaluator gives, explained.

`match_text(library, text)` is what `canonry map`, `lib.match(text)` in the
runtime and `/map` in `serve` answer: the winning pattern (entry id, pattern
as written, language, how it was found), its effective confidence and band
at a moment, and the runner-up (the best pattern of another sector) when
there is one. It uses the same index and the same ranking as
`canonry.evaluators:mapping_accuracy`, so a text gets the same code from both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..store.entries import Library
from .matching import Match, pattern_index, tokens

MAP_FORMAT = "canonry.map/v1"


@dataclass(frozen=True)
class MapAnswer:
    """A text's sector, with the pattern that decided it and the runner-up."""

    text: str
    sector_code: str | None = None
    entry_id: str | None = None
    pattern: str | None = None
    language: str | None = None
    kind: str | None = None
    matched_words: int = 0
    pattern_words: int = 0
    confidence: float | None = None
    band: str | None = None
    runner_up: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "sector_code": self.sector_code,
            "entry_id": self.entry_id,
            "pattern": self.pattern,
            "language": self.language,
            "match": self.kind,
            "matched_words": self.matched_words,
            "pattern_words": self.pattern_words,
            "confidence": self.confidence,
            "band": self.band,
            "runner_up": self.runner_up,
        }


def _described(library: Library, found: Match, at: Any) -> dict[str, Any]:
    entry = library.get(found.entry_id)
    pattern = entry.get("pattern") if entry is not None else None
    effective = library.confidence(found.entry_id, at) if entry is not None else None
    return {
        "sector_code": found.sector_code,
        "entry_id": found.entry_id,
        "pattern": pattern if isinstance(pattern, str) else found.phrase,
        "language": found.language or None,
        "match": found.kind,
        "matched_words": found.matched,
        "pattern_words": found.total,
        "confidence": effective.value if effective is not None else None,
        "band": effective.band if effective is not None else None,
    }


def match_text(
    library: Library, text: str, at: Any = None, visible: Callable[[str], bool] | None = None
) -> MapAnswer:
    """The sector of one text (sector_code None when no pattern is found in it).

    `visible` (entry id -> bool) leaves out patterns the caller may not see (a
    runtime library's scope); the ranking of the others is unchanged.
    """
    found = pattern_index(library).candidates(tokens(text))
    if visible is not None:
        found = [m for m in found if visible(m.entry_id)]
    if not found:
        return MapAnswer(text)
    best = _described(library, found[0], at)
    other = next((m for m in found[1:] if m.sector_code != found[0].sector_code), None)
    return MapAnswer(
        text=text,
        sector_code=best["sector_code"],
        entry_id=best["entry_id"],
        pattern=best["pattern"],
        language=best["language"],
        kind=best["match"],
        matched_words=best["matched_words"],
        pattern_words=best["pattern_words"],
        confidence=best["confidence"],
        band=best["band"],
        runner_up=_described(library, other, at) if other is not None else None,
    )


def map_texts(
    library: Library, texts: Iterable[str], at: Any = None, visible: Callable[[str], bool] | None = None
) -> dict[str, Any]:
    """The `canonry.map/v1` document of several texts."""
    return {
        "format": MAP_FORMAT,
        "library": library.name,
        "version": library.version,
        "tag": library.tag,
        "commit": library.commit,
        "results": [match_text(library, t, at, visible).to_dict() for t in texts],
    }
