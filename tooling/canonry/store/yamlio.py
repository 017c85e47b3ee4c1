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
from contextlib import suppress
from typing import Any

import yaml

from ..errors import EntrySyntaxError
from . import yamlguard as guard
from .yamldump import canonical_order as canonical_order
from .yamldump import dump_yaml as dump_yaml

_CParser: Any = None
with suppress(ImportError):  # libyaml's parser; the pure one gives the same events, slower
    from yaml._yaml import CParser as _CParser

MAX_BYTES = 1 << 20
MAX_DEPTH = 64

Position = tuple[int, int]
Path = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_MAYBE_TYPED = frozenset("-+0123456789.~nNtTfF")
# The core schema's words (null, booleans) and numbers, tried in this order: the first
# alternative that matches the whole scalar decides.
_WORDS: dict[str, Any] = {
    "~": None,
    **dict.fromkeys(("null", "Null", "NULL"), None),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_NOT_A_WORD = object()
_WORD_START = frozenset("~nNtTfF")
_NUMBER = re.compile(
    r"(?:(?P<int10>[-+]?[0-9]+)"
    r"|(?P<int8>0o[0-7]+)"
    r"|(?P<int16>0x[0-9a-fA-F]+)"
    r"|(?P<float>[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<special>[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)))\Z"
)

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
    if not value:
        return None
    if value[0] not in _MAYBE_TYPED:
        return value  # most text: no core type starts with this character
    word = _WORDS.get(value, _NOT_A_WORD)
    if word is not _NOT_A_WORD:
        return word
    if value[0] in _WORD_START:
        return value  # null, true and false are the only core values starting with these
    number = _NUMBER.match(value)
    if number is None:
        return value
    kind = number.lastgroup
    if kind == "int10":
        if len(value) > 400:
            raise ValueError(f"integer of {len(value.lstrip('+-'))} digits is too large")
        return int(value, 10)
    if kind == "int8":
        return int(value[2:], 8)
    if kind == "int16":
        return int(value[2:], 16)
    if kind == "float":
        result = float(value)
        if math.isinf(result):
            raise ValueError(f"{value} is too large for a float")
        return result
    raise ValueError(f"{value} is not a number JSON can hold")


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
    # Each frame: [container, path (kept only for positions), pending key or _NO_KEY,
    # key marks, block indent, flow start or -1, whether the container is a mapping]
    stack: list[list[Any]] = []
    frame: list[Any] | None = None  # stack[-1], or None at the top
    root: Any = None
    documents = 0
    no_key = _NO_KEY
    maybe_typed = _MAYBE_TYPED
    bad_value = guard.BAD_VALUE_CHAR.search
    is_nfc = unicodedata.is_normalized
    check_scalar = guard.check_scalar
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    _guard(guard.trailing_blank_line(text), text, source)
    # Scalar spans are needed only to tell a glued comment from a '#' inside text.
    spans: list[tuple[int, int]] | None = [] if "#" in text and guard.GLUED_HASH.search(text) else None
    try:
        for event in _events(text):
            kind = type(event)
            if kind is scalar_event:
                if event.anchor is not None:
                    raise _error_at(f"anchor &{event.anchor} is not allowed", source, event.start_mark)
                style = event.style
                if style or spans is not None or (frame is not None and frame[5] >= 0):
                    _guard(check_scalar(event, frame, text, spans), text, source)  # plain in block: none
                value = event.value
                tag = event.tag
                if tag is not None:
                    try:
                        value = _scalar(event)
                    except (_TagError, ValueError) as exc:
                        raise _error_at(str(exc), source, event.start_mark) from None
                elif event.implicit[0] and (not value or value[0] in maybe_typed):
                    try:
                        value = _resolve_plain(value)
                    except ValueError as exc:
                        raise _error_at(str(exc), source, event.start_mark) from None
                if frame is not None and frame[6] and frame[2] is no_key:  # this scalar is a key
                    if value == "<<" and tag is None and event.implicit[0]:
                        raise _error_at("merge keys (<<) are not allowed", source, event.start_mark)
                    if not isinstance(value, str):
                        raise _error_at(
                            f"mapping key {event.value} is not a string (quote it)", source, event.start_mark
                        )
                    if (
                        (style == '"' and bad_value(value))
                        or "\n" in value
                        or (not value.isascii() and not is_nfc("NFC", value))
                    ):
                        problem = guard.value_problem(value, key=True)
                        if problem is not None:
                            raise _error_at(problem, source, event.start_mark)
                    if value in frame[0]:
                        first = frame[3][value]
                        hint = f" (first at line {first.line + 1})"
                        raise _error_at(f"duplicate key {value!r}{hint}", source, event.start_mark)
                    frame[2] = value
                    frame[3][value] = event.start_mark
                    continue
                if positions is not None:
                    positions[_path_in(frame)] = (event.start_mark.line + 1, event.start_mark.column + 1)
                # Outside double quotes every character is the text's own, already
                # checked by _decode; escapes and escaped line joins need a look.
                if value.__class__ is str and (
                    (style == '"' and bad_value(value)) or (not value.isascii() and not is_nfc("NFC", value))
                ):
                    problem = guard.value_problem(value)
                    if problem is not None:
                        raise _error_at(problem, source, event.start_mark)
                if frame is None:
                    root = value
                elif frame[6]:
                    frame[0][frame[2]] = value
                    frame[2] = no_key
                else:
                    frame[0].append(value)
            elif kind is map_end or kind is seq_end:
                done = stack.pop()
                frame = stack[-1] if stack else None
                if done[5] >= 0 and (frame is None or frame[5] < 0):  # the outermost flow collection
                    _guard(guard.under_indented(text, done[5], event.end_mark.index, done[4]), text, source)
            elif kind is map_start or kind is seq_start:
                if event.anchor is not None:
                    raise _error_at(f"anchor &{event.anchor} is not allowed", source, event.start_mark)
                if frame is not None and frame[6] and frame[2] is no_key:
                    raise _error_at("mapping keys must be strings", source, event.start_mark)
                path = None
                if positions is not None:
                    path = _path_in(frame)
                    positions[path] = (event.start_mark.line + 1, event.start_mark.column + 1)
                tag = event.tag
                is_map = kind is map_start
                if tag is not None and tag not in {"!", _CORE + ("map" if is_map else "seq")}:
                    raise _error_at(str(_TagError(tag)), source, event.start_mark)
                if len(stack) >= MAX_DEPTH:
                    raise _error_at(f"nesting deeper than {MAX_DEPTH} levels", source, event.start_mark)
                value = {} if is_map else []
                if frame is None:
                    root = value
                    indent, flow = -1, -1
                else:
                    if frame[6]:
                        frame[0][frame[2]] = value
                        frame[2] = no_key
                    else:
                        frame[0].append(value)
                    indent, flow = frame[4], frame[5]
                if not event.flow_style:
                    indent, flow = event.start_mark.column, -1
                elif flow < 0:
                    flow = event.start_mark.index
                frame = [value, path, no_key, {} if is_map else None, indent, flow, is_map]
                stack.append(frame)
            elif kind is alias_event:
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
            line, column = guard.flow_depth_position(text, MAX_DEPTH) or (
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


def _events(text: str) -> Any:
    """libyaml's events, pulled straight from its parser (the pure parser's when libyaml is missing)."""
    if _CParser is not None:
        return iter(_CParser(text).get_event, None)
    return yaml.parse(text, Loader=yaml.SafeLoader)


def _path_in(frame: list[Any] | None) -> Path:
    """The path of the next node of the frame's collection."""
    if frame is None:
        return ()
    return (*frame[1], frame[2]) if frame[6] else (*frame[1], len(frame[0]))


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
