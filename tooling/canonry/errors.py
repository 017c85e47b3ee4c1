"""The one exception hierarchy of Canonry.

Every error a user can meet is a CanonryError carrying structured fields and an
exit code; the CLI turns them into a message and that code in one place.
Exit codes: 1 for failed checks (content findings, conflicts, verification),
2 for usage, input and environment problems.
"""

from __future__ import annotations

from typing import Any


class CanonryError(Exception):
    """Base of every error Canonry raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message


# --- usage, input and environment (exit 2) ---------------------------------


class UsageError(CanonryError):
    """The invocation itself is wrong."""


class NotARepositoryError(CanonryError):
    """The path is not inside a git repository."""


class UnsupportedRepositoryError(CanonryError):
    """A repository Canonry refuses to work on: shallow, SHA-256."""


class ShallowCloneError(UnsupportedRepositoryError):
    """Gates and history need the whole history; a shallow clone hides it."""


class UnknownRefError(CanonryError):
    """A ref, tag or commit that does not exist."""

    def __init__(self, ref: str, hint: str = "") -> None:
        message = f"unknown ref: {ref}" + (f" ({hint})" if hint else "")
        super().__init__(message, ref=ref)
        self.ref = ref


class UnknownLibraryError(CanonryError):
    def __init__(self, library: str, known: list[str] | None = None) -> None:
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"unknown library: {library}{hint}", library=library)
        self.library = library


class UnknownVersionError(CanonryError):
    def __init__(self, library: str, version: str, known: list[str] | None = None) -> None:
        # known: the library's published versions ("v1", "v2"), when the caller looked them up
        if known is None:
            hint = ""
        elif known:
            hint = f" (published: {', '.join(known)})"
        else:
            hint = f" ({library} has no published version yet)"
        super().__init__(
            f"unknown version: {library}@{version}{hint}", library=library, version=version, known=known
        )
        self.library = library
        self.version = version
        self.known = known


class UnknownEntryError(CanonryError, KeyError):
    def __init__(self, library: str, entry_id: str, where: str = "") -> None:
        at = f" at {where}" if where else ""
        super().__init__(
            f"no entry {entry_id!r} in library {library}{at}", library=library, entry_id=entry_id
        )
        self.library = library
        self.entry_id = entry_id

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class LockFileError(CanonryError):
    """A lock file that cannot be read or names what does not exist."""


class RemoteError(CanonryError):
    """A remote that cannot be reached, or refused what was sent."""


class GitCommandError(CanonryError):
    """A git subprocess failed in a way Canonry did not expect."""


class InputError(CanonryError):
    """An input file (import rows, a scenario, overrides) with problems; nothing was written.

    `problems` lists `(where, message)` pairs, `where` naming the file and row.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        self.problems = list(problems or [])
        lines = [message] + [f"  {where}: {text}" for where, text in self.problems]
        super().__init__("\n".join(lines), problems=self.problems)


# --- content and checks (exit 1) --------------------------------------------


class CheckFailed(CanonryError):
    """Base of errors that mean 'the content or the state failed a check'."""

    exit_code = 1


class EntrySyntaxError(CheckFailed, ValueError):
    """A YAML document the strict loader refuses, with where it went wrong."""

    def __init__(
        self,
        problem: str,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.line = line
        self.column = column
        where = source or "<string>"
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {problem}", source=source, line=line, column=column)


class RegistryError(CheckFailed):
    """schemas/libraries.yaml or a schema is broken."""

    def __init__(self, problem: str, path: str, line: int | None = None, column: int | None = None) -> None:
        self.problem = problem
        self.path = path
        self.line = line
        self.column = column
        where = path + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        super().__init__(f"{where}: {problem}", path=path, line=line, column=column)


class RegistryMissingError(RegistryError):
    """No schemas/libraries.yaml: not a knowledge repository (yet). A usage problem, so exit 2."""

    exit_code = 2

    def __init__(self, path: str = "schemas/libraries.yaml") -> None:
        super().__init__(
            "missing: every knowledge repository needs it (is this the right repository? `canonry init`"
            " makes one, or pass --repo PATH)",
            path,
        )


class HoldoutError(CheckFailed):
    """A holdout set or evaluator that cannot produce a trustworthy measurement."""

    def __init__(self, problem: str, path: str | None = None, line: int | None = None) -> None:
        self.problem = problem
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(f"{where}{problem}", path=path, line=line)


class ConflictError(CheckFailed):
    """A merge that cannot be done without a human."""

    def __init__(self, message: str, conflicts: list[Any] | None = None) -> None:
        super().__init__(message, conflicts=conflicts or [])
        self.conflicts = conflicts or []


class GatesFailedError(CheckFailed):
    """Publication refused because a gate reported errors."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class RefMovedError(CheckFailed):
    """A compare-and-swap lost: the ref no longer points where it did."""

    def __init__(self, ref: str, expected: str | None, actual: str | None) -> None:
        super().__init__(
            f"{ref} moved: expected {expected or 'absent'}, found {actual or 'absent'}"
            " (another publisher got there first; run again)",
            ref=ref,
            expected=expected,
            actual=actual,
        )
        self.ref = ref
        self.expected = expected
        self.actual = actual


class TagMovedError(CheckFailed):
    """A published tag no longer names what was recorded: nothing is served."""

    def __init__(self, tag: str, expected: str, actual: str | None, what: str = "tag") -> None:
        super().__init__(
            f"{tag} moved: {what} was {expected}, now {actual or 'missing'}; refusing to serve it",
            tag=tag,
            expected=expected,
            actual=actual,
        )
        self.tag = tag
        self.expected = expected
        self.actual = actual


class DowngradeError(CheckFailed):
    """A consumer asked for a version below the highest it has seen."""


class SignatureError(CheckFailed):
    """A tag that must be signed is not, or its signature does not hold."""


class VerificationError(CheckFailed):
    """`canonry verify` or a bundle check found a problem."""


class CorruptObjectError(CheckFailed):
    """A git object that cannot be read (truncated, missing, or timed out)."""


# --- warnings (Python's warnings module; never an exit code) -----------------


class CanonryWarning(UserWarning):
    """Base of the warnings Canonry gives while it keeps serving."""


class StaleSourceWarning(CanonryWarning):
    """A remote could not be reached: the mirror's last fetched state is served."""


class DeprecatedVersionWarning(CanonryWarning):
    """A version in use is deprecated (a note on its tag under refs/notes/canonry)."""


class HistoryRewrittenWarning(CanonryWarning):
    """The remote rewrote what the mirror keeps (main not a fast-forward, a tag deleted)."""


class ReviewError(CheckFailed):
    """A review decision the rules refuse (a self-approval, a reviewer who is not a steward)."""


class PushRejectedError(CheckFailed):
    """The remote refused an atomic publication push as a whole; nothing was published there."""

    def __init__(self, remote: str, detail: str) -> None:
        super().__init__(
            f"{remote} refused the publication ({detail}); nothing was published there"
            " and local refs did not move (another publisher got there first: run again)",
            remote=remote,
            detail=detail,
        )
        self.remote = remote
        self.detail = detail


class ChannelError(CheckFailed):
    """A channel move the rules refuse: a non-steward, a deprecated version, a bad signature."""


class OutcomesError(InputError):
    """An outcomes file (canonry.outcomes/v1) with problems; nothing was reported."""


class RunRecordError(CanonryError):
    """A run record that names what does not exist, or whose tag no longer names its commit."""


class UnknownSectorError(UsageError):
    """A sector code that is not an ISIC Rev.4 division (e.g. C24)."""
