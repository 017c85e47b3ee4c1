"""How texts are compared: mapping patterns, project texts, near duplicates, leakage."""

from __future__ import annotations

import unicodedata


def normalize_text(text: str) -> str:
    """NFKC, case folding, punctuation and symbols turned into spaces, spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    chars = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded]
    return " ".join("".join(chars).split())
