"""`canonry verify`: tag audit, lock check and signatures in one report (canonry.verify/v1)."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import CanonryError, LockFileError, UnknownRefError
from ..gates.findings import ERROR, Finding
from ..publication.signing import resolve_allowed_signers, verify_tag
from ..store.repo import Repository
from ..store.versions import TAG_PREFIX, Version, list_versions
from .pins import Lock, check_pin, known_libraries, signatures_required

FORMAT = "canonry.verify/v1"


@dataclass
class VerifyReport:
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def sorted_findings(self) -> list[Finding]:
        """The findings by gate, path and message: the order every rendering shows them in."""
        return sorted(self.findings, key=_order)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "ok": self.ok,
            "checked": self.checked,
            "findings": [f.to_dict() for f in self.sorted_findings()],
            "notes": self.notes,
        }


def _order(f: Finding) -> tuple[str, str, str]:
    return (f.gate, f.path or "", f.message)


def verify(
    repo: Repository,
    lock: Lock | None = None,
    *,
    require_signed: bool | None = None,
    allowed_signers: str | os.PathLike[str] | None = None,
    content: bool = True,
) -> VerifyReport:
    """Check tags (canonry.publication.audit), the lock's pins and, when required, every version's signature.

    A lock naming a library the repository does not have raises LockFileError
    (an input problem); everything else becomes a finding.
    """
    report = VerifyReport()
    versions = list_versions(repo)
    report.checked["tags"] = len(versions)
    _audit(repo, content, report)
    if lock is not None:
        report.checked["lock"] = lock.label
        report.checked["pins"] = len(lock.pins)
        _check_lock(repo, lock, report)
    required = signatures_required(repo) if require_signed is None else require_signed
    report.checked["signatures"] = 0
    if required:
        signers = resolve_allowed_signers(repo, allowed_signers)
        for v in versions:
            report.checked["signatures"] += 1
            try:
                verify_tag(repo, v.ref, v.target, signers)
            except CanonryError as exc:
                report.findings.append(_finding("signature", v, str(exc)))
    else:
        report.notes.append("signatures not checked: neither the policy nor --require-signed asks for them")
    return report


def _audit(repo: Repository, content: bool, report: VerifyReport) -> None:
    try:
        audit = importlib.import_module("canonry.publication.audit")
    except ImportError:
        report.notes.append(
            "tag audit unavailable (canonry.publication.audit missing): only the lock was checked"
        )
        return
    try:
        report.findings.extend(audit.verify_tags(repo, content=content))
    except UnknownRefError as exc:
        report.notes.append(f"tag audit skipped: {exc} (a repository without main)")


def _check_lock(repo: Repository, lock: Lock, report: VerifyReport) -> None:
    known = known_libraries(repo)
    unknown = sorted(set(lock.pins) - known)
    if unknown:
        raise LockFileError(
            f"{lock.label}: names library {unknown[0]!r}, which {lock.source or 'the source'} does not have"
            f" (known: {', '.join(sorted(known)) or 'none'})"
        )
    for name in sorted(lock.pins):
        pin = lock.pins[name]
        try:
            check_pin(repo, pin, lock)
        except CanonryError as exc:
            report.findings.append(
                Finding(
                    path=lock.label,
                    line=None,
                    column=None,
                    gate="lock",
                    severity=ERROR,
                    message=str(exc),
                    library=name,
                )
            )


def _finding(gate: str, v: Version, message: str) -> Finding:
    return Finding(
        path=TAG_PREFIX + v.tag,
        line=None,
        column=None,
        gate=gate,
        severity=ERROR,
        message=message,
        library=v.library,
    )
