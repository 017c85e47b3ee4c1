"""Word forms for matching: normalized tokens reduced to stems, English and Arabic.

A token is stemmed with the Snowball stemmer of its script (Arabic letters:
the Arabic stemmer, after removing diacritics and tatweel; anything else: the
English one), so "plants", "plant" and "planting" meet, and so do "المطاعم"
and "مطاعم" (a leading "و" before "ال", "and the", is dropped first).
Stop words (articles, prepositions, conjunctions) carry no meaning of their
own: they never count as a matched word. Everything here is a pure function of the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import snowballstemmer

from ..store.text import normalize_text

_ARABIC = re.compile("[\u0600-\u06ff]")
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")

_EN_STOP = (
    "a an and are as at by for from in into is it its of on or over per the to under with within without new"
)
_AR_STOP = "في من على إلى الى عن مع و أو او ذلك هذا هذه التي الذي ل ب"
EN_STOP = frozenset(_EN_STOP.split())
AR_STOP = frozenset(_AR_STOP.split())

_EN = snowballstemmer.stemmer("english")
_AR = snowballstemmer.stemmer("arabic")


def is_arabic(token: str) -> bool:
    return _ARABIC.search(token) is not None


@lru_cache(maxsize=1 << 16)
def stem(token: str) -> str:
    """The stem of one normalized token (its own script's stemmer); never empty."""
    if is_arabic(token):
        bare = _DIACRITICS.sub("", token)
        if bare.startswith("وال") and len(bare) > 5:  # "and the ...": the conjunction is not the word
            bare = bare[1:]
        return _AR.stemWord(bare) or bare or token
    if not token.isalpha():  # numbers, codes, mixed tokens ("5g", "r&d" parts): as they are
        return token
    return _EN.stemWord(token) or token


@lru_cache(maxsize=1 << 16)
def is_stop(token: str) -> bool:
    """A word that does not count as a match by itself (articles, prepositions...)."""
    if is_arabic(token):
        return _DIACRITICS.sub("", token) in AR_STOP
    return token in EN_STOP


def stems(tokens: Sequence[str]) -> tuple[str, ...]:
    """The stem of each normalized token, in order."""
    return tuple(stem(t) for t in tokens)


def content_stems(tokens: Iterable[str]) -> tuple[str, ...]:
    """The distinct stems of the meaningful tokens, sorted (stop words left out)."""
    return tuple(sorted({stem(t) for t in tokens if not is_stop(t)}))


def text_tokens(text: str) -> list[str]:
    """Normalized tokens of a text (NFKC, case folded, punctuation as spaces)."""
    return normalize_text(text).split()
