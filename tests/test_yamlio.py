"""The strict loader: golden cases as data, and the canonical dump's round trip."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from canonry import EntrySyntaxError, load_yaml
from canonry.store.yamlio import dump_yaml, load_mapping, load_yaml_with_positions
from hypothesis import given, settings
from hypothesis import strategies as st

CASES = Path(__file__).parent / "cases"
INVALID = sorted(p.name for p in (CASES / "invalid").iterdir())
VALID = sorted(p.name for p in (CASES / "valid").iterdir())


@pytest.mark.parametrize("case", INVALID)
def test_invalid_case_gives_exact_message(case: str) -> None:
    data = (CASES / "invalid" / case / "input.yaml").read_bytes()
    expected = (CASES / "invalid" / case / "expected.txt").read_text(encoding="utf-8").strip()
    with pytest.raises(EntrySyntaxError) as info:
        load_mapping(data, "input.yaml")
    assert str(info.value) == expected
    assert info.value.source == "input.yaml"


@pytest.mark.parametrize("case", VALID)
def test_valid_case_loads_as_yaml_1_2(case: str) -> None:
    data = (CASES / "valid" / case / "input.yaml").read_bytes()
    expected = json.loads((CASES / "valid" / case / "expected.json").read_text(encoding="utf-8"))
    assert load_yaml(data, "input.yaml") == expected


def test_error_carries_structured_fields() -> None:
    with pytest.raises(EntrySyntaxError) as info:
        load_yaml("a: 1\na: 2\n", source="x.yaml")
    err = info.value
    assert (err.source, err.line, err.column) == ("x.yaml", 2, 1)
    assert err.problem.startswith("duplicate key 'a'")
    assert err.exit_code == 1


def test_alias_bomb_fails_fast() -> None:
    data = (CASES / "invalid" / "alias-bomb" / "input.yaml").read_bytes()
    start = time.perf_counter()
    with pytest.raises(EntrySyntaxError):
        load_yaml(data)
    assert time.perf_counter() - start < 1.0  # refused before anything expands


def test_deep_nesting_never_crashes_the_interpreter(tmp_path: Path) -> None:
    # 500,000 levels in a child process: a crash would show as a signal exit code.
    code = (
        "import sys; sys.path.insert(0, 'tooling')\n"
        "from canonry import load_yaml, EntrySyntaxError\n"
        "try:\n    load_yaml('a: ' + '[' * 500000 + ']' * 500000)\n"
        "except EntrySyntaxError as e:\n    print(e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent
    )
    assert proc.returncode == 0, proc.stderr
    assert "nesting deeper than 64 levels" in proc.stdout


def test_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(EntrySyntaxError, match="over the limit"):
        load_yaml(b"a: " + b"x" * (1 << 20) + b"\n")


def test_positions_point_at_nodes() -> None:
    _doc, positions = load_yaml_with_positions("id: a\nshares:\n  C24: 0.5\nlist: [1, 2]\n")
    assert positions[("shares", "C24")] == (3, 8)
    assert positions[("list", 1)] == (4, 11)


def test_dump_quotes_strings_that_yaml_1_1_or_1_2_would_retype() -> None:
    doc = {
        "id": "a",
        **{
            f"k{i}": v
            for i, v in enumerate(
                [
                    "yes",
                    "no",
                    "on",
                    "012",
                    "1_000",
                    "0o17",
                    "1e3",
                    "null",
                    "2026-01-15",
                    "true",
                    ".inf",
                    "~",
                    "",
                ]
            )
        },
    }
    text = dump_yaml(doc)
    assert load_yaml(text) == doc
    import yaml

    # a YAML 1.1 reader (plain PyYAML) sees the same strings
    assert yaml.safe_load(text) == doc


def test_dump_is_canonical_id_first_then_sorted() -> None:
    text = dump_yaml({"zeta": 1, "id": "x", "alpha": {"b": 1, "a": 2}})
    assert text == "id: x\nalpha:\n  a: 2\n  b: 1\nzeta: 1\n"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp"), blacklist_characters="\ufeff"
        ),
        max_size=30,
    ),
    st.text(alphabet="ab :#-'\"\n\t", max_size=20),
    # what libyaml misreads: indicators, comments, blank lines, chomping
    st.text(alphabet="a?-[]{},#:|> \n", max_size=12),
)
documents = st.dictionaries(
    st.text(
        min_size=1, max_size=10, alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp"))
    ),
    st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(min_size=1, max_size=6, alphabet="abcxyz_"), inner, max_size=4),
        ),
        max_leaves=12,
    ),
    max_size=6,
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(documents)
def test_round_trip_load_dump_is_identity(doc: dict) -> None:
    try:
        text = dump_yaml(doc)
    except EntrySyntaxError:
        assert _breaks_text_rules(doc)  # the dumper refuses only what the loader would
        return
    assert not _breaks_text_rules(doc)
    loaded = load_yaml(text)
    assert loaded == doc
    assert dump_yaml(loaded) == text  # an untouched entry keeps its bytes


def _breaks_text_rules(doc: object, key: bool = False) -> bool:
    """An independent statement of the text rules: controls (LF in values aside), format chars, non-NFC."""
    import unicodedata

    if isinstance(doc, dict):
        return any(_breaks_text_rules(k, True) or _breaks_text_rules(v) for k, v in doc.items())
    if isinstance(doc, list):
        return any(_breaks_text_rules(v) for v in doc)
    if not isinstance(doc, str):
        return False
    bad = any(
        unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Cs"} and (ch != "\n" or key) for ch in doc
    )
    return bad or not unicodedata.is_normalized("NFC", doc)


TEN_ESCAPES = ["abc\u202edef", "\x1b", "\0", "\t", "\ufeff", "e\u0301", "\x7f", "\u200f", "\x85", "\u2028"]


@pytest.mark.parametrize("value", TEN_ESCAPES)
def test_dumper_refuses_what_the_text_rules_forbid(value: str) -> None:
    with pytest.raises(EntrySyntaxError, match=r"cannot write name: "):
        dump_yaml({"id": "a", "name": value})
    with pytest.raises(EntrySyntaxError, match=r"cannot write key "):
        dump_yaml({"id": "a", "shares": {f"C{value}": 1}})
    with pytest.raises(EntrySyntaxError, match=r"cannot write labels\[1\]: "):
        dump_yaml({"id": "a", "labels": ["ok", value]})


@pytest.mark.parametrize(
    "escape", ["\\u202e", "\\x1b", "\\0", "\\t", "\\ufeff", "\\u0301", "\\x7f", "\\u200f", "\\N", "\\L"]
)
def test_the_ten_escapes_are_refused_at_the_scalar(escape: str) -> None:
    text = f'id: a\nlabels:\n  - fine\n  - "abce{escape}def"\n'
    with pytest.raises(EntrySyntaxError) as info:
        load_yaml(text, "x.yaml")
    assert (info.value.line, info.value.column) == (4, 5)


def test_value_checks_keep_the_loader_fast() -> None:
    # 2,000 entries of 40 strings, mostly non-ASCII: the checks must not dominate parsing.
    entry = "".join(f'k{i}: "café {i} ünïcödé"\n' for i in range(40)).encode()
    start = time.perf_counter()
    for _ in range(2000):
        load_yaml(entry)
    assert time.perf_counter() - start < 10  # about 1 s here; a pathological check would be minutes
