"""HTTP plumbing of `canonry serve`: request targets, validators, JSON errors, status codes.

Path tricks are refused, never normalised: `..`, `.`, empty segments, encoded
slashes or backslashes, control characters and invalid UTF-8 answer 400.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    CanonryError,
    CorruptObjectError,
    DowngradeError,
    SignatureError,
    TagMovedError,
    UnknownEntryError,
    UnknownLibraryError,
    UnknownRefError,
    UnknownVersionError,
    UsageError,
)

MAX_TARGET = 2048  # bytes of path and query; longer requests get 414


class HttpError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def error_response(status: int, error: str, message: str) -> Response:
    doc = {"format": "canonry.api.error/v1", "status": status, "error": error, "message": message}
    return Response(status, dumps(doc), {"Content-Type": "application/json", "Cache-Control": "no-store"})


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def parse_target(target: str) -> tuple[list[str], dict[str, str]]:
    """Path segments and query of a request target; refuse path tricks instead of normalising them."""
    if len(target.encode("utf-8", "surrogateescape")) > MAX_TARGET:
        raise HttpError(414, "uri_too_long", f"the URL is longer than {MAX_TARGET} bytes")
    path, _q, raw_query = target.partition("?")
    if not path.startswith("/"):
        raise HttpError(400, "bad_request", "the request target must be a path")
    lowered = path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in path:
        raise HttpError(400, "bad_path", "encoded slashes and backslashes are not allowed in paths")
    raw = path[1:].split("/")
    if raw and raw[-1] == "" and len(raw) > 1:
        raw.pop()  # one trailing slash
    try:
        segments = [urllib.parse.unquote(s, errors="strict") for s in raw] if raw != [""] else []
    except UnicodeDecodeError:
        raise HttpError(400, "bad_path", "the path is not UTF-8") from None
    for s in segments:
        if s in ("", ".", "..") or any(ord(c) < 0x20 or c == "\x7f" for c in s):
            raise HttpError(
                400, "bad_path", "empty, '.' and '..' segments and control characters are refused"
            )
    try:
        pairs = urllib.parse.parse_qsl(raw_query, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "bad_request", "the query is not UTF-8") from None
    query: dict[str, str] = {}
    for key, value in pairs:
        if key in query:
            raise HttpError(400, "bad_request", f"query parameter {key!r} is repeated")
        query[key] = value
    return segments, query


def lowered(items: Any) -> dict[str, str]:
    """Request headers keyed by lower-case name (HTTP header names ignore case)."""
    return {str(k).lower(): str(v) for k, v in items}


def matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/") == etag for t in header.split(","))


def status_of(exc: CanonryError) -> tuple[int, str]:
    if isinstance(exc, UnknownLibraryError):
        return 404, "unknown_library"
    if isinstance(exc, UnknownVersionError):
        return 404, "unknown_version"
    if isinstance(exc, UnknownEntryError):
        return 404, "unknown_entry"
    if isinstance(exc, UnknownRefError):
        return 404, "unknown_ref"
    if isinstance(exc, UsageError):
        return 400, "bad_request"
    if isinstance(exc, TagMovedError | DowngradeError):
        return 409, "tag_moved" if isinstance(exc, TagMovedError) else "downgrade"
    if isinstance(exc, SignatureError):
        return 403, "signature"
    if isinstance(exc, CorruptObjectError):
        return 500, "corrupt_object"
    return 500, "repository_error"
