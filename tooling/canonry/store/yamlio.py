"""The strict YAML loader and the canonical dumper.

One loader for CLI, CI and runtime. It builds documents straight from libyaml's
event stream, so that the checks PyYAML lacks happen before anything is
composed: aliases and anchors are refused on sight (no billion laughs), depth
is bounded with an explicit stack (libyaml's composer crashes near 30,000
levels), tags outside the JSON-compatible core are refused, duplicate and
non-string keys are errors, and plain scalars resolve as YAML 1.2 core says
(`no`, `on`, `012`, `1_000` are not booleans or octals). Text rules hold for
the bytes and for every key and string value (escapes included), and the shapes
libyaml misreads are refused (yamlguard, docs/yaml.md). tests/cases/ pins each
rule; tests/test_yaml_conformance.py measures it against the YAML test suite.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

import yaml

from ..errors import EntrySyntaxError
from . import yamlguard as guard
from .yamldump import canonical_order as canonical_order
from .yamldump import dump_yaml as dump_yaml

try:  # libyaml's parser; the pure one gives the same events, slower
    from yaml import CSafeLoader as _EventLoader
except ImportError:  # pragma: no cover - libyaml is present wherever CI runs
    from yaml import SafeLoader as _EventLoader  # type: ignore[assignment]

MAX_BYTES = 1 << 20
MAX_DEPTH = 64

Position = tuple[int, int]
Path = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_MAYBE_TYPED = frozenset("-+0123456789.~nNtTfF")
_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_TRUE = re.compile(r"(?:true|True|TRUE)\Z")
_FALSE = re.compile(r"(?:false|False|FALSE)\Z")
_INT10 = re.compile(r"[-+]?[0-9]+\Z")
_INT8 = re.compile(r"0o[0-7]+\Z")
_INT16 = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOAT = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z")

# C0/C1 controls other than LF, DEL, bidi controls, BOM, and tab (YAML's
# indentation trap, reported on its own).
_BAD_CHAR = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\t]"
)
_CHAR_NAMES = {
    "\t": "tab character (indent with spaces)",
    "\r": "carriage return (use LF line endings)",
    "\x00": "NUL byte",
    "\ufeff": "byte order mark (save as UTF-8 without BOM)",
}


def _char_problem(ch: str) -> str:
    return _CHAR_NAMES.get(ch) or guard.describe_char(ch)


def _line_col(text: str, index: int) -> Position:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _decode(data: bytes | str, source: str | None) -> str:
    if isinstance(data, str):
        text = data
    else:
        if len(data) > MAX_BYTES:
            raise EntrySyntaxError(f"file is {len(data)} bytes, over the limit of {MAX_BYTES}", source)
        if data.startswith(b"\xef\xbb\xbf"):
            raise EntrySyntaxError(_CHAR_NAMES["\ufeff"], source, 1, 1)
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise EntrySyntaxError("UTF-16 text (save as UTF-8)", source, 1, 1)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, column = _line_col(data[: exc.start].decode("utf-8", "replace"), exc.start)
            raise EntrySyntaxError(
                f"not UTF-8: byte 0x{data[exc.start]:02x} (save the file as UTF-8)",
                source,
                line,
                column,
            ) from None
    if len(text) > MAX_BYTES:
        raise EntrySyntaxError(f"document is over the limit of {MAX_BYTES} characters", source)
    bad = _BAD_CHAR.search(text)
    if bad:
        line, column = _line_col(text, bad.start())
        raise EntrySyntaxError(_char_problem(bad.group()), source, line, column)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        nfc = unicodedata.normalize("NFC", text)
        index = next(
            (i for i, (a, b) in enumerate(zip(text, nfc, strict=False)) if a != b),
            min(len(text), len(nfc)),
        )
        line, column = _line_col(text, index)
        raise EntrySyntaxError("text is not in Unicode NFC form (normalize it)", source, line, column)
    return text


def _resolve_plain(value: str) -> Any:
    """Resolve a plain scalar as the YAML 1.2 core schema does."""
    if value and value[0] not in _MAYBE_TYPED:
        return value  # most text: no core type starts with this character
    if _NULL.match(value):
        return None
    if _TRUE.match(value):
        return True
    if _FALSE.match(value):
        return False
    if _INT10.match(value):
        if len(value) > 400:
            raise ValueError(f"integer of {len(value.lstrip('+-'))} digits is too large")
        return int(value, 10)
    if _INT8.match(value):
        return int(value[2:], 8)
    if _INT16.match(value):
        return int(value[2:], 16)
    if _FLOAT.match(value):
        number = float(value)
        if math.isinf(number):
            raise ValueError(f"{value} is too large for a float")
        return number
    if _SPECIAL_FLOAT.match(value):
        raise ValueError(f"{value} is not a number JSON can hold")
    return value


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _scalar(event: Any) -> Any:
    tag = event.tag
    value = event.value
    if tag is None or tag == "!":
        if event.implicit[0] and tag is None:
            return _resolve_plain(value)
        if tag == "!":
            raise _TagError(tag)
        return value
    name = tag[len(_CORE) :] if tag.startswith(_CORE) else None
    if name == "str":
        return value
    if name in {"int", "float", "bool", "null"}:
        resolved: Any = _resolve_plain(value)
        kinds: dict[str, tuple[type, ...]] = {
            "int": (int,),
            "float": (int, float),
            "bool": (bool,),
            "null": (type(None),),
        }
        if isinstance(resolved, bool) != (name == "bool") or not isinstance(resolved, kinds[name]):
            raise ValueError(f"{value!r} is not a valid {_short_tag(tag)}")
        return _as_float(resolved) if name == "float" else resolved
    raise _TagError(tag)


def _as_float(value: Any) -> float:
    return float(value)


class _TagError(Exception):
    def __init__(self, tag: str) -> None:
        super().__init__(
            f"tag {_short_tag(tag)} is not allowed"
            " (only plain data: str, int, float, bool, null, lists, mappings)"
        )


def _error_at(problem: str, source: str | None, mark: Any) -> EntrySyntaxError:
    if mark is None:
        return EntrySyntaxError(problem, source)
    return EntrySyntaxError(problem, source, mark.line + 1, mark.column + 1)


def _guard(problem: guard.Problem | None, text: str, source: str | None) -> None:
    if problem is not None:
        line, column = _line_col(text, problem[1])
        raise EntrySyntaxError(problem[0], source, line, column)


def _build(text: str, source: str | None, positions: dict[Path, Position] | None) -> Any:
    # Each frame: [container, path, pending key or _NO_KEY, key marks, block indent, flow start or -1]
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0
    no_key = _NO_KEY
    bad_value = guard.BAD_VALUE_CHAR.search
    is_nfc = unicodedata.is_normalized
    _guard(guard.trailing_blank_line(text), text, source)
    # Scalar spans are needed only to tell a glued comment from a '#' inside text.
    spans: list[tuple[int, int]] | None = [] if guard.GLUED_HASH.search(text) else None
    events: Any = yaml.parse(text, Loader=_EventLoader)
    try:
        for event in events:
            kind = type(event)
            if kind is yaml.ScalarEvent or kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.anchor is not None:
                    raise _error_at(f"anchor &{event.anchor} is not allowed", source, event.start_mark)
                frame = stack[-1] if stack else None
                if kind is yaml.ScalarEvent and (
                    event.style or spans is not None or (frame and frame[5] >= 0)
                ):
                    _guard(
                        guard.check_scalar(event, frame, text, spans), text, source
                    )  # plain in block: none
                if frame is not None and isinstance(frame[0], dict) and frame[2] is no_key:
                    # this node is a key
                    if kind is not yaml.ScalarEvent:
                        raise _error_at("mapping keys must be strings", source, event.start_mark)
                    if event.tag is None and event.implicit[0] and event.value == "<<":
                        raise _error_at("merge keys (<<) are not allowed", source, event.start_mark)
                    try:
                        key = _scalar(event)
                    except _TagError as exc:
                        raise _error_at(str(exc), source, event.start_mark) from None
                    except ValueError as exc:
                        raise _error_at(str(exc), source, event.start_mark) from None
                    if not isinstance(key, str):
                        raise _error_at(
                            f"mapping key {event.value} is not a string (quote it)",
                            source,
                            event.start_mark,
                        )
                    if (
                        (event.style == '"' and bad_value(key))
                        or "\n" in key
                        or (not key.isascii() and not is_nfc("NFC", key))
                    ):
                        problem = guard.value_problem(key, key=True)
                        if problem is not None:
                            raise _error_at(problem, source, event.start_mark)
                    if key in frame[0]:
                        first = frame[3].get(key)
                        hint = f" (first at line {first[0]})" if first else ""
                        raise _error_at(f"duplicate key {key!r}{hint}", source, event.start_mark)
                    frame[2] = key
                    frame[3][key] = (event.start_mark.line + 1, event.start_mark.column + 1)
                    continue
                if frame is None:
                    path: Path = ()
                elif isinstance(frame[0], dict):
                    path = (*frame[1], frame[2])
                else:
                    path = (*frame[1], len(frame[0]))
                if positions is not None:
                    positions[path] = (event.start_mark.line + 1, event.start_mark.column + 1)
                if kind is yaml.ScalarEvent:
                    try:
                        value = _scalar(event)
                    except _TagError as exc:
                        raise _error_at(str(exc), source, event.start_mark) from None
                    except ValueError as exc:
                        raise _error_at(str(exc), source, event.start_mark) from None
                    # Outside double quotes every character is the text's own, already
                    # checked by _decode; escapes and escaped line joins need a look.
                    if value.__class__ is str and (
                        (event.style == '"' and bad_value(value))
                        or (not value.isascii() and not is_nfc("NFC", value))
                    ):
                        problem = guard.value_problem(value)
                        if problem is not None:
                            raise _error_at(problem, source, event.start_mark)
                else:
                    tag = event.tag
                    expect = "map" if kind is yaml.MappingStartEvent else "seq"
                    if tag is not None and tag not in {"!", _CORE + expect}:
                        raise _error_at(str(_TagError(tag)), source, event.start_mark)
                    if len(stack) >= MAX_DEPTH:
                        raise _error_at(f"nesting deeper than {MAX_DEPTH} levels", source, event.start_mark)
                    value = {} if kind is yaml.MappingStartEvent else []
                if frame is None:
                    root = value
                elif isinstance(frame[0], dict):
                    frame[0][frame[2]] = value
                    frame[2] = no_key
                else:
                    frame[0].append(value)
                if kind is not yaml.ScalarEvent:
                    indent = frame[4] if frame is not None else -1
                    if event.flow_style:
                        flow = frame[5] if frame is not None and frame[5] >= 0 else event.start_mark.index
                    else:
                        indent, flow = event.start_mark.column, -1
                    stack.append([value, path, no_key, {}, indent, flow])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                done = stack.pop()
                if done[5] >= 0 and (not stack or stack[-1][5] < 0):  # the outermost flow collection
                    _guard(guard.under_indented(text, done[5], event.end_mark.index, done[4]), text, source)
            elif kind is yaml.AliasEvent:
                raise _error_at(f"alias *{event.anchor} is not allowed", source, event.start_mark)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _error_at("more than one YAML document in the file", source, event.start_mark)
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        mark = exc.problem_mark or exc.context_mark
        if "nesting depth" in problem:
            # libyaml scans flow collections ahead and may stop at its own depth
            # limit before the event that crosses ours reaches us: say it our way.
            line, column = _flow_depth_position(text) or (
                (mark.line + 1, mark.column + 1) if mark else (1, 1)
            )
            raise EntrySyntaxError(f"nesting deeper than {MAX_DEPTH} levels", source, line, column) from None
        raise _error_at(f"invalid YAML: {problem}", source, mark) from None
    except yaml.YAMLError as exc:
        raise EntrySyntaxError(f"invalid YAML: {exc}", source) from None
    except (RecursionError, MemoryError) as exc:
        raise EntrySyntaxError(f"invalid YAML: {type(exc).__name__}", source) from None
    if documents == 0:
        raise EntrySyntaxError("empty file: expected a YAML mapping", source, 1, 1)
    if spans is not None:
        _guard(guard.glued_comment(text, spans), text, source)
    return root


def _flow_depth_position(text: str) -> Position | None:
    """Line and column of the bracket that opens level MAX_DEPTH + 1, counting the document's mapping."""
    depth = 0 if text.lstrip()[:1] in ("[", "{") else 1
    line, column, quote = 1, 0, ""
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        elif quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, column
        elif char in "]}":
            depth -= 1
    return None


class _NoKey:
    __slots__ = ()


_NO_KEY = _NoKey()


def load_yaml(text: bytes | str, source: str | None = None) -> Any:
    """Parse one strict YAML document; raise EntrySyntaxError with its place."""
    return _build(_decode(text, source), source, None)


def load_yaml_with_positions(
    text: bytes | str, source: str | None = None
) -> tuple[Any, dict[Path, Position]]:
    """Parse like load_yaml, and map each node's path to its (line, column)."""
    positions: dict[Path, Position] = {}
    return _build(_decode(text, source), source, positions), positions


def load_mapping(text: bytes | str, source: str | None = None) -> dict[str, Any]:
    """Parse a document that must be a mapping at the top (every entry file is)."""
    doc = load_yaml(text, source)
    if not isinstance(doc, dict):
        kind = "a list" if isinstance(doc, list) else "a scalar" if doc is not None else "empty"
        raise EntrySyntaxError(f"expected a mapping at the top, found {kind}", source, 1, 1)
    return doc


def position_of(positions: dict[Path, Position], path: Path) -> Position | None:
    """The place of the deepest existing node on path (the node itself, or its parent)."""
    probe = tuple(path)
    while True:
        if probe in positions:
            return positions[probe]
        if not probe:
            return None
        probe = probe[:-1]
