"""What the strict loader checks beyond libyaml: text rules on values, and libyaml's misreadings.

Text rules hold for every key and string value however it was written, escapes
in double-quoted scalars included: no control characters (a line break inside a
value aside), no bidirectional controls, zero-width characters or byte order
marks, and NFC text. The dumper uses the same rule, so it never writes them.

libyaml reads some YAML that the YAML 1.2 test suite marks invalid, and reads a
few valid documents wrongly. None of these shapes occurs in canonical output, so
the loader refuses each instead of guessing (docs/yaml.md lists them).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

Problem = tuple[str, int]  # (message, character index in the text)

# Forbidden in any key or string value: C0 and C1 controls but LF, DEL, bidi
# controls, zero-width characters, BOM, line and paragraph separators, lone surrogates.
BAD_VALUE_CHAR = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ud800-\udfff]"
)
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ZERO_WIDTH = frozenset("\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064")
_NAMES = {
    "\t": "tab character U+0009",
    "\r": "carriage return U+000D",
    "\x00": "NUL character U+0000",
    "\n": "line break",
    "\ufeff": "byte order mark U+FEFF",
    "\u2028": "line separator U+2028",
    "\u2029": "paragraph separator U+2029",
}


def describe_char(ch: str) -> str:
    """A reader's name for a forbidden character."""
    if ch in _NAMES:
        return _NAMES[ch]
    name = unicodedata.name(ch, "")
    code = f"U+{ord(ch):04X} {name}".rstrip()
    if ch in _BIDI:
        return f"bidirectional control character {code}"
    if ch in _ZERO_WIDTH:
        return f"zero-width character {code}"
    if "\ud800" <= ch <= "\udfff":
        return f"lone surrogate U+{ord(ch):04X}"
    return f"control character {code}"


def value_problem(value: str, key: bool = False) -> str | None:
    """Why a key or string value breaks the text rules, or None (one regex; NFC only for non-ASCII)."""
    bad = BAD_VALUE_CHAR.search(value)
    what = "a key" if key else "a string value"
    if bad is not None:
        return f"{describe_char(bad.group())} in {what}"
    if key and "\n" in value:
        return f"{describe_char(chr(10))} in {what}"
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        return f"{what} is not in Unicode NFC form (normalize it)"
    return None


# --- libyaml's misreadings -------------------------------------------------------------

# A '#' right after a non-blank character: a comment only if it is outside every scalar.
GLUED_HASH = re.compile(r"[^\s]#")


def trailing_blank_line(text: str) -> Problem | None:
    """A last line of spaces without a line break: libyaml gets block-scalar chomping wrong there."""
    if text.endswith("\n"):
        return None
    start = text.rfind("\n") + 1
    last = text[start:]
    if last and not last.strip(" "):
        return "the file ends in a line of spaces without a line break (remove the spaces)", start
    return None


def glued_comment(text: str, spans: list[tuple[int, int]]) -> Problem | None:
    """A '#' glued to the token before it and outside every scalar: libyaml takes it for a comment."""
    spans.sort()
    starts = [s for s, _e in spans]

    def in_scalar(index: int) -> bool:
        inside = _bisect_right(starts, index) - 1
        return inside >= 0 and spans[inside][0] <= index < spans[inside][1]

    for match in GLUED_HASH.finditer(text):
        index = match.end() - 1
        if in_scalar(index):
            continue
        line_start = text.rfind("\n", 0, index) + 1
        in_comment = any(
            text[j] == "#" and (j == line_start or text[j - 1] in " \t") and not in_scalar(j)
            for j in range(line_start, index)
        )
        if not in_comment:
            return "a comment needs a space before its '#'", index
    return None


def _bisect_right(values: list[int], x: int) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if x < values[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def block_scalar_body(text: str, start: int) -> int:
    """Index of the first line after a block scalar's header (its span for glued_comment)."""
    newline = text.find("\n", start)
    return len(text) if newline < 0 else newline + 1


def block_scalar_problem(text: str, start: int) -> Problem | None:
    """Leading blank lines of a block scalar with more spaces than its first text line (YAML 1.2 8.1.1.1)."""
    header_end = text.find("\n", start)
    if header_end < 0 or any(c.isdigit() for c in text[start:header_end]):
        return None  # an explicit indentation indicator: nothing is guessed
    widest, widest_at = 0, -1
    pos = header_end + 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        spaces = len(line) - len(line.lstrip(" "))
        if spaces < len(line):  # the first line with text
            if widest > spaces:
                return (
                    "a blank line at the start of a block scalar has more spaces than its first"
                    " line of text (remove them)",
                    widest_at,
                )
            return None
        if spaces > widest:
            widest, widest_at = spaces, pos
        pos = end + 1
    return None


def under_indented(text: str, start: int, end: int, indent: int) -> Problem | None:
    """A continuation line of a multi-line flow collection or quoted scalar at or left of its block's column.

    YAML 1.2 wants such lines indented more than the block collection that
    holds the node; libyaml does not check it.
    """
    pos = text.find("\n", start, end)
    while pos >= 0:
        line_start = pos + 1
        line_end = text.find("\n", line_start, end)
        stop = end if line_end < 0 else line_end
        line = text[line_start:stop]
        spaces = len(line) - len(line.lstrip(" "))
        if spaces < len(line) and spaces <= indent:
            return (
                f"a continuation line of a multi-line value is indented {spaces} spaces: indent it"
                f" at least {indent + 1} (more than the mapping or list that holds the value)",
                line_start + spaces,
            )
        pos = line_end
    return None


def question_mark_key(text: str, index: int) -> Problem | None:
    """A plain scalar right after '?': libyaml drops the '?' (`[?x]`, `{?foo: bar}`)."""
    if index > 0 and text[index - 1] == "?":
        return "'?' directly before text in a flow collection: quote the text", index - 1
    return None


def check_scalar(
    event: Any, frame: list[Any] | None, text: str, spans: list[tuple[int, int]] | None
) -> Problem | None:
    """The scalar shapes libyaml misreads; note the scalar's span for glued_comment.

    frame is the loader's frame of the enclosing collection: [4] its block
    indentation, [5] the start of its outermost flow collection or -1.
    """
    style = event.style
    start = event.start_mark.index
    in_flow = frame is not None and frame[5] >= 0
    if style == "|" or style == ">":
        if spans is not None:
            spans.append((block_scalar_body(text, start), event.end_mark.index))
        return block_scalar_problem(text, start)
    if spans is not None:
        spans.append((start, event.end_mark.index))
    if not style:  # plain
        if not in_flow:
            return None
        if event.value == "-":
            return "a lone '-' in a flow collection is not YAML: quote it", start
        return question_mark_key(text, start)
    if not in_flow and event.end_mark.line > event.start_mark.line:  # multi-line quoted, in a block
        return under_indented(text, start, event.end_mark.index, frame[4] if frame is not None else -1)
    return None


def flow_depth_position(text: str, max_depth: int) -> tuple[int, int] | None:
    """Line and column of the bracket that opens level max_depth + 1, counting the document's mapping.

    libyaml scans flow collections ahead and may stop at its own depth limit
    before the event that crosses the loader's reaches it.
    """
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
            if depth > max_depth:
                return line, column
        elif char in "]}":
            depth -= 1
    return None
