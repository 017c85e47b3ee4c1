"""What a run read: the ids and blob ids of the entries it asked for, for `canon.snapshot(reads=True)`.

A library served by a Canon records each entry id it hands out (or is asked
for and does not have: an entry added later changes that run too) with the
blob id it had. A bulk read (`load()`, iterating values, `defaults_for_sector`)
marks the whole library as read. `canonry impact` compares these against a
newer version.

    canon = canonry.open(...)
    ... the run reads entries ...
    record = run_record(canon, run="2026-11-01/engagement-42")   # canonry.run/v1, JSON-ready
    forget_reads(canon)                                           # before the next run
"""

from __future__ import annotations

from typing import Any

from ..errors import UnknownEntryError
from ..store.entries import Entry
from .scoped import RuntimeEntry, ScopedLibrary

RUN_FORMAT = "canonry.run/v1"


class ReadingLibrary(ScopedLibrary):
    """A ScopedLibrary that remembers which entries were read, with their blob ids."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: dict[str, str | None] = {}
        self.read_all = False

    def __getitem__(self, entry_id: str) -> RuntimeEntry:
        try:
            entry = super().__getitem__(entry_id)
        except UnknownEntryError:
            if isinstance(entry_id, str):
                self.reads.setdefault(entry_id, None)  # absent now: its later addition matters
            raise
        if entry_id not in self.reads or self.reads[entry_id] is None:
            self.reads[entry_id] = self.inner.blob_of(entry_id)
        return entry

    def load(self) -> dict[str, Entry]:
        self.read_all = True
        return super().load()

    def read_record(self) -> dict[str, Any]:
        return {"all": self.read_all, "entries": dict(sorted(self.reads.items()))}

    def forget(self) -> None:
        self.reads.clear()
        self.read_all = False


def run_record(canon: Any, run: str | None = None, **extra: Any) -> dict[str, Any]:
    """A canonry.run/v1 document: the run's id, what it was served and what it read."""
    return {"format": RUN_FORMAT, "run": run, **extra, "libraries": canon.snapshot(reads=True)}


def forget_reads(canon: Any) -> None:
    """Start a new run: forget the reads recorded so far by every library the Canon has served."""
    for lib in list(getattr(canon, "_libraries", {}).values()):
        if isinstance(lib, ReadingLibrary):
            lib.forget()
