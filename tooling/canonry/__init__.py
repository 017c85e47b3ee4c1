"""Canonry: organisational knowledge under version control.

The public API: `open`, `load_yaml`, `dump_yaml`, `load_bundle`, the library
and entry types, and the errors. Only the errors load with the package; the
rest is imported when first used, so `import canonry` (and the command line's
`--help`) stays light.

The package is layered; each layer imports only from the layers below it:

    cli/          the command line (the only user of click)
    report/       renderers of results (text, json, github, markdown) and exit codes
    runtime/      canonry.open, lock files, mirrors, bundles, the HTTP API
    publication/  drafts, review, publish and its ref moves, audit, signing
    gates/        the gate engine, one module per gate, findings and reports
    learning/     matching, evaluators, the learners, import, health
    compare/      diff and three-way merge of entries and trees
    store/        the git wrapper, strict YAML, registry and rules, trees, entries, versions
    errors.py     the one exception hierarchy (no imports)
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__ as __version__
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

# name -> module that defines it, imported on first use (PEP 562)
_LAZY = {
    "Canon": "canonry.runtime.api",
    "open": "canonry.runtime.api",
    "Entry": "canonry.store.entries",
    "Library": "canonry.store.entries",
    "Bundle": "canonry.runtime.bundle",
    "load_bundle": "canonry.runtime.bundle",
    "dump_yaml": "canonry.store.yamlio",
    "load_yaml": "canonry.store.yamlio",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'canonry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
