"""Canonry: organisational knowledge under version control.

The public API: `open`, `load_yaml`, and the errors.
"""

from ._version import __version__ as __version__
from .api import Canon, open
from .entries import Entry, Library
from .errors import (
    CanonryError,
    CanonryWarning,
    CheckFailed,
    ConflictError,
    CorruptObjectError,
    DeprecatedVersionWarning,
    DowngradeError,
    EntrySyntaxError,
    GatesFailedError,
    HistoryRewrittenWarning,
    LockFileError,
    NotARepositoryError,
    RefMovedError,
    RegistryError,
    RemoteError,
    ShallowCloneError,
    SignatureError,
    StaleSourceWarning,
    TagMovedError,
    UnknownEntryError,
    UnknownLibraryError,
    UnknownRefError,
    UnknownVersionError,
    UnsupportedRepositoryError,
    UsageError,
    VerificationError,
)
from .runtime.bundle import Bundle, load_bundle
from .yamlio import dump_yaml, load_yaml

__all__ = [
    "Bundle",
    "Canon",
    "CanonryError",
    "CanonryWarning",
    "DeprecatedVersionWarning",
    "HistoryRewrittenWarning",
    "StaleSourceWarning",
    "CheckFailed",
    "ConflictError",
    "CorruptObjectError",
    "DowngradeError",
    "Entry",
    "EntrySyntaxError",
    "GatesFailedError",
    "Library",
    "LockFileError",
    "NotARepositoryError",
    "RefMovedError",
    "RegistryError",
    "RemoteError",
    "ShallowCloneError",
    "SignatureError",
    "TagMovedError",
    "UnknownEntryError",
    "UnknownLibraryError",
    "UnknownRefError",
    "UnknownVersionError",
    "UnsupportedRepositoryError",
    "UsageError",
    "VerificationError",
    "dump_yaml",
    "load_bundle",
    "load_yaml",
    "open",
]
