"""No silent downgrade: the highest version a consumer has seen, per library.

Kept in the cache folder, one file per consumer: a source (URL or repository
path) together with the lock file it is opened with, so that two services with
different locks on one machine do not hold each other back. A consumer that
asks for a version below its watermark gets DowngradeError unless it passes
`allow_downgrade=True`; the watermark itself never goes down.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from ..errors import CanonryWarning, DowngradeError
from .files import atomic_write, cache_root, locked

FORMAT = "canonry.watermark/v1"


class Watermark:
    """The highest version seen per library by one consumer."""

    def __init__(self, path: Path, source: str, lock: str | None = None) -> None:
        self.path = path
        self.source = source
        self.lock = lock
        self._levels: dict[str, int] | None = None

    @classmethod
    def for_consumer(cls, source: str, lock: Path | None = None, root: Path | None = None) -> Watermark:
        lock_id = str(lock.resolve()) if lock is not None else None
        key = hashlib.sha256(f"{source}\0{lock_id or ''}".encode()).hexdigest()[:24]
        return cls((root or cache_root()) / "watermarks" / f"{key}.json", source, lock_id)

    def levels(self) -> dict[str, int]:
        if self._levels is None:
            self._levels = self._read()
        return dict(self._levels)

    def highest(self, library: str) -> int | None:
        return self.levels().get(library)

    def check(self, library: str, number: int, allow_downgrade: bool = False) -> None:
        """Raise DowngradeError when number is below the highest version seen (unless allowed)."""
        top = self.highest(library)
        if top is not None and number < top and not allow_downgrade:
            raise DowngradeError(
                f"{library}/v{number} is below {library}/v{top}, the highest version this consumer"
                " has seen; no silent downgrade (pass allow_downgrade=True, or --allow-downgrade)",
                library=library,
                version=number,
                highest=top,
            )

    def record(self, library: str, number: int) -> None:
        """Raise the watermark of library to number (never lower it)."""
        if self.levels().get(library, 0) >= number:
            return
        with locked(self.path.with_suffix(".lock")):
            levels = self._read()  # another process may have raised it meanwhile
            if number > levels.get(library, 0):
                levels[library] = number
                doc = {"format": FORMAT, "source": self.source, "lock": self.lock, "libraries": levels}
                atomic_write(self.path, json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n")
            self._levels = levels

    def _read(self) -> dict[str, int]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            warnings.warn(CanonryWarning(f"cannot read {self.path}: {exc.strerror}"), stacklevel=4)
            return {}
        try:
            doc: Any = json.loads(text)
            levels = doc["libraries"]
            if doc.get("format") != FORMAT or not isinstance(levels, dict):
                raise ValueError("unexpected shape")
            return {str(k): int(v) for k, v in levels.items()}
        except (ValueError, KeyError, TypeError) as exc:
            warnings.warn(
                CanonryWarning(f"{self.path} is damaged ({exc}); the downgrade watermark starts afresh"),
                stacklevel=4,
            )
            return {}
