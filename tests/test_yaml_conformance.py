"""The strict loader against the official YAML test suite (yaml/yaml-test-suite, data-2022-01-17).

The suite's data ships in tests/yaml-test-suite/ (MIT licence kept with it), so CI
needs no network. A strict loader may refuse valid YAML (tabs, anchors, tags,
several documents...), but it must never read a value wrongly, and it must refuse
every invalid case unless that case is listed, with its reason, in ACCEPTED_INVALID
(and in docs/yaml.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from canonry import EntrySyntaxError, load_yaml

SUITE = json.loads((Path(__file__).parent / "yaml-test-suite" / "cases.json").read_text(encoding="utf-8"))

# Invalid cases the loader accepts, each with why that is harmless. Empty: every one is refused.
ACCEPTED_INVALID: dict[str, str] = {}


def _json_stream(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    docs, index, text = [], 0, text.strip()
    while index < len(text):
        doc, index = decoder.raw_decode(text, index)
        docs.append(doc)
        while index < len(text) and text[index].isspace():
            index += 1
    return docs


VALID = sorted(k for k, c in SUITE.items() if not c["error"] and "json" in c)
INVALID = sorted(k for k, c in SUITE.items() if c["error"])


def test_the_suite_is_all_there() -> None:
    assert len(SUITE) == 402 and len(INVALID) == 94 and len(VALID) == 279


@pytest.mark.parametrize("case", VALID)
def test_valid_case_is_read_right_or_refused(case: str) -> None:
    data = SUITE[case]
    try:
        value = load_yaml(data["yaml"].encode("utf-8"), case)
    except EntrySyntaxError:
        return  # refusing is allowed: the loader is strict
    assert _json_stream(data["json"]) == [value], f"{case} ({data['name']}) read wrongly"


@pytest.mark.parametrize("case", INVALID)
def test_invalid_case_is_refused(case: str) -> None:
    data = SUITE[case]
    if case in ACCEPTED_INVALID:
        load_yaml(data["yaml"].encode("utf-8"), case)  # still accepted: else drop it from the list
        return
    with pytest.raises(EntrySyntaxError):
        load_yaml(data["yaml"].encode("utf-8"), case)


def test_conformance_figures() -> None:
    """Zero wrong values, zero accepted invalid cases; how many valid cases are read."""
    read = wrong = 0
    for case in VALID:
        try:
            value = load_yaml(SUITE[case]["yaml"].encode("utf-8"), case)
        except EntrySyntaxError:
            continue
        read += 1
        wrong += _json_stream(SUITE[case]["json"]) != [value]
    assert wrong == 0
    assert read >= 139  # a change that refuses more valid YAML should say so here and in docs/yaml.md
