"""The exit code of a result: the one place where a result becomes 0 or 1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import CheckFailed

PASSED = 0
FAILED = CheckFailed.exit_code  # a failed check, the same code as a CheckFailed error


class Verdict(Protocol):
    """A result that passed or not: a GateResult, a VerifyReport, a review status."""

    @property
    def ok(self) -> bool: ...


class Merged(Protocol):
    """A merge that is clean or not: a FileMerge, a TreeMerge."""

    @property
    def clean(self) -> bool: ...


def passed(result: Verdict | Merged) -> bool:
    """Whether result passed: `ok` for checks, `clean` for merges."""
    ok = getattr(result, "ok", None)
    return bool(ok if ok is not None else getattr(result, "clean"))  # noqa: B009


def exit_code(result: Verdict | Merged) -> int:
    """0 when result passed, 1 when it failed (2 is for bad usage or input, raised as errors)."""
    return PASSED if passed(result) else FAILED


@dataclass(frozen=True)
class DocumentVerdict:
    """Whether a JSON document a command prints passed (channels that verify, runs left unaffected)."""

    ok: bool


def channels_verdict(doc: dict[str, Any]) -> DocumentVerdict:
    """A `canonry channel list` document fails when a channel points through a move that does not verify."""
    return DocumentVerdict(not any(r["current"] and not r["verified"] for r in doc["channels"]))


def impact_verdict(doc: dict[str, Any]) -> DocumentVerdict:
    """A `canonry impact` document fails when any run is affected."""
    return DocumentVerdict(not doc["summary"]["affected"])
