"""Near-duplicate text: normalization, similarity, and the trigram index that finds candidates.

Similarity is difflib.SequenceMatcher's ratio (autojunk off), or 1.0 when both
texts have the same set of words. The index is a character-trigram inverted
index with a prefix filter (only the rarest trigrams of a text are looked up,
as many as a pair above the threshold must share one of), then a length filter
and a trigram count filter, so a similarity is computed for a handful of
candidates only.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ..store.packed import PackedError, numbers, pack_fields, unpack_fields
from ..store.text import normalize_text

# --- near duplicates -----------------------------------------------------------------


def near_text(doc: Mapping[str, Any], fields: Iterable[str]) -> str:
    parts = [normalize_text(v) for f in fields if isinstance(v := doc.get(f), str)]
    return " ".join(p for p in parts if p)


def trigrams(text: str) -> set[str]:
    padded = f" {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def word_set(text: str) -> str:
    return " ".join(sorted(set(text.split())))


def similarity(a: str, b: str) -> float:
    """1.0 for the same set of words, else difflib's ratio (autojunk off)."""
    if word_set(a) == word_set(b):
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


class NearIndex:
    """Texts by position (ordered by length), a trigram -> positions inverted index, word sets -> positions.

    Positions run in order of text length, so the part of a posting list within a
    length window is one slice, found by bisection. Everything is kept in a few
    strings and arrays packed as one byte string (canonry.store.packed), so an
    index of 100,000 texts opens in milliseconds and is safe to read from a remote.
    """

    def __init__(self, data: bytes | memoryview) -> None:
        fields = unpack_fields(data)
        try:
            self._ids: str = bytes(fields["ids"]).decode("utf-8")
            self._texts: str = bytes(fields["texts"]).decode("utf-8")
            self._id_at = numbers("I", fields["id_offsets"])
            self._text_at = numbers("I", fields["text_offsets"])
            self.lengths = numbers("I", fields["lengths"])
            self.sizes = numbers("I", fields["sizes"])
            grams = bytes(fields["grams"]).decode("utf-8")
            self._grams = grams.split("\n") if grams else []
            self._gram_at = numbers("I", fields["gram_offsets"])
            self._postings = bytes(fields["postings"])
            self._word_hashes = numbers("Q", fields["word_hashes"])
            self._word_positions = numbers("I", fields["word_positions"])
        except (KeyError, UnicodeDecodeError) as exc:
            raise PackedError(f"not a near-duplicate index ({type(exc).__name__})") from None
        n = len(self.lengths)
        if not (
            len(self._id_at) == len(self._text_at) == n + 1
            and len(self.sizes) == n
            and len(self._gram_at) == len(self._grams) + 1
            and len(self._word_hashes) == len(self._word_positions)
        ):
            raise PackedError("a near-duplicate index whose parts disagree")
        self.last_compared = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def id(self, position: int) -> str:
        return self._ids[self._id_at[position] : self._id_at[position + 1] - 1]

    def text(self, position: int) -> str:
        return self._texts[self._text_at[position] : self._text_at[position + 1] - 1]

    def posting(self, gram: str) -> memoryview:
        """The positions of the texts holding a trigram, ascending."""
        i = bisect.bisect_left(self._grams, gram)
        if i == len(self._grams) or self._grams[i] != gram:
            return memoryview(b"").cast("I")
        start, stop = self._gram_at[i], self._gram_at[i + 1]
        if not start <= stop <= len(self._postings) or (stop - start) % 4:
            raise PackedError("a posting list outside the index")
        return memoryview(self._postings)[start:stop].cast("I")

    def position_of(self, entry_id: str, text: str) -> int | None:
        """The position of an id indexed with a text of this length, or None."""
        start = bisect.bisect_left(self.lengths, len(text))
        stop = bisect.bisect_right(self.lengths, len(text))
        for position in range(start, stop):
            if self.id(position) == entry_id:
                return position
        return None

    @staticmethod
    def build(texts: dict[str, str]) -> bytes:
        """The packed index over {id: normalized text} (no newlines in either)."""
        ids = sorted(texts, key=lambda i: (len(texts[i]), i))
        ordered = [texts[i] for i in ids]
        postings: dict[str, array[int]] = {}
        words: list[tuple[int, int]] = []
        sizes = array("I")
        for position, text in enumerate(ordered):
            grams = trigrams(text)
            sizes.append(len(grams))
            for gram in grams:
                got = postings.get(gram)
                if got is None:
                    got = postings[gram] = array("I")
                got.append(position)
            words.append((_word_hash(word_set(text)), position))
        words.sort()
        names = sorted(postings)
        gram_at = array("I", [0])
        for name in names:
            gram_at.append(gram_at[-1] + 4 * len(postings[name]))
        return pack_fields(
            {
                "ids": ("\n".join(ids) + "\n").encode("utf-8"),
                "id_offsets": _offsets(ids),
                "texts": ("\n".join(ordered) + "\n").encode("utf-8"),
                "text_offsets": _offsets(ordered),
                "lengths": array("I", (len(t) for t in ordered)).tobytes(),
                "sizes": sizes.tobytes(),
                "grams": "\n".join(names).encode("utf-8"),
                "gram_offsets": gram_at.tobytes(),
                "postings": b"".join(postings[n].tobytes() for n in names),
                "word_hashes": array("Q", (h for h, _ in words)).tobytes(),
                "word_positions": array("I", (p for _, p in words)).tobytes(),
            }
        )

    def same_words(self, text: str) -> list[int]:
        """Positions of the texts made of the same set of words as text."""
        key = word_set(text)
        h = _word_hash(key)
        out = []
        i = bisect.bisect_left(self._word_hashes, h)
        while i < len(self._word_hashes) and self._word_hashes[i] == h:
            position = self._word_positions[i]
            if word_set(self.text(position)) == key:
                out.append(position)
            i += 1
        return out

    def similar(self, text: str, threshold: float, excluded: set[str]) -> list[tuple[str, float]]:
        """(id, similarity) of the indexed texts at least threshold similar to text.

        Exact for similarity() above: the filters only drop pairs that cannot reach the threshold.
        """
        self.last_compared = 0
        if not len(self):
            return []
        t = max(threshold, 1e-9)
        grams = trigrams(text)
        n, g = len(text), len(grams)
        # The ratio is at most 2 min(n, m) / (n + m): a length window. Within it, a pair at
        # or above the threshold differs by at most (1 - t)(n + m) insertions and deletions
        # (difflib's matches are a common subsequence), and each breaks at most 3 trigrams
        # of either text: a text of length m and `size` trigrams shares at least
        # need[m] + max(0, size - g) of text's trigrams.
        low, high = math.ceil(n * t / (2 - t) - 1e-9), math.floor(n * (2 - t) / t + 1e-9)
        breaks = [3 * math.floor((1 - t) * (n + m) + 1e-9) for m in range(high + 1)]
        need = [g - b for b in breaks]
        start, stop = bisect.bisect_left(self.lengths, low), bisect.bisect_right(self.lengths, high)
        # a short text and a low threshold: trigrams prove nothing, take the whole window
        candidates: Iterable[int] = (
            self._counted(grams, start, stop, need, breaks) if need[high] > 0 else range(start, stop)
        )
        same_words = set(self.same_words(text))
        out = [(self.id(p), 1.0) for p in same_words if self.id(p) not in excluded]
        chars = Counter(text)
        for position in candidates:
            if position in same_words or (entry_id := self.id(position)) in excluded:
                continue
            other = self.text(position)
            # difflib's quick_ratio (shared characters, with multiplicity), without building a matcher
            if 2.0 * sum((chars & Counter(other)).values()) / (n + len(other)) < threshold:
                continue
            matcher = difflib.SequenceMatcher(None, text, other, autojunk=False)
            self.last_compared += 1
            if (score := matcher.ratio()) >= threshold:
                out.append((entry_id, score))
        return sorted(out)

    def _counted(
        self, grams: set[str], start: int, stop: int, need: list[int], breaks: list[int]
    ) -> list[int]:
        """Positions in [start, stop) sharing enough of the trigrams to be worth a comparison.

        A text of length m must share need[m] of the trigrams and, having `size` of its
        own, at least size - breaks[m]. The shared trigrams are counted per text over
        the postings' window, in C. (Counting only the rarest postings and looking the
        rest up per candidate was measured slower: on short texts of a common
        vocabulary nearly every posting is long.)
        """
        shared: Counter[int] = Counter()
        for gram in grams:
            view = self.posting(gram)
            if view:
                shared.update(view[bisect.bisect_left(view, start) : bisect.bisect_left(view, stop)])
        lengths, sizes = self.lengths, self.sizes
        return [p for p, c in shared.items() if c >= need[m := lengths[p]] and c + breaks[m] >= sizes[p]]


def _offsets(items: list[str]) -> bytes:
    """Start offsets of items joined by one separator each, and the end."""
    out = array("I", [0])
    for item in items:
        out.append(out[-1] + len(item) + 1)
    return out.tobytes()


def _word_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
