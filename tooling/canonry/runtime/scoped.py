"""A library as a runtime consumer sees it: workspace scope honoured, effective confidence attached.

- A WORKSPACE_ONLY entry is visible only to a caller that names its workspace
  (`canonry.open(..., workspace="acme")`, `canonry serve --workspace acme`);
  to anyone else it does not exist (UnknownEntryError, left out of listings).
- Every entry read carries its effective confidence and band at the moment it
  is read (`entry.effective_confidence`, `entry.band`), from the policy of the
  version it was read at.
- `defaults_for_sector` leaves blocked-band defaults out unless asked, and
  refuses a code that is not an ISIC Rev.4 division.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import UnknownEntryError, UnknownSectorError
from ..learning.mapper import MapAnswer, match_text
from ..store.confidence import EffectiveConfidence, effective_confidence
from ..store.entries import Entry, Library, sector_defaults, store_for
from ..store.registry import ConfidencePolicy
from ..store.rules import load_rules
from ..store.states import FileRef

WORKSPACE_ONLY = "WORKSPACE_ONLY"
BLOCKED = "blocked"

# ISIC Rev.4 divisions by section (UN Statistics Division): the sector codes that exist.
_DIVISIONS = {
    "A": (1, 3), "B": (5, 9), "C": (10, 33), "D": (35, 35), "E": (36, 39), "F": (41, 43),
    "G": (45, 47), "H": (49, 53), "I": (55, 56), "J": (58, 63), "K": (64, 66), "L": (68, 68),
    "M": (69, 75), "N": (77, 82), "O": (84, 84), "P": (85, 85), "Q": (86, 88), "R": (90, 93),
    "S": (94, 96), "T": (97, 98), "U": (99, 99),
}  # fmt: skip
_GAPS = {4, 34, 40, 44, 48, 54, 57, 67, 76, 83, 89}
_CODE = re.compile(r"([A-U])([0-9]{2})")


def is_sector_code(code: str) -> bool:
    """Whether code is an ISIC Rev.4 division written as section letter + 2 digits (e.g. C24)."""
    m = _CODE.fullmatch(code) if isinstance(code, str) else None
    if m is None:
        return False
    low, high = _DIVISIONS[m[1]]
    return low <= int(m[2]) <= high and int(m[2]) not in _GAPS


def visible(data: Mapping[str, Any], workspace: str | None) -> bool:
    """Whether an entry may be handed to a caller of that workspace (None: no workspace)."""
    if data.get("reuse_scope") != WORKSPACE_ONLY:
        return True
    return workspace is not None and data.get("workspace_id") == workspace


class RuntimeEntry(Entry):
    """A read-only entry plus its effective confidence and band (None without a confidence field)."""

    __slots__ = ("_library", "_effective")

    def __init__(self, data: dict[str, Any], library: ScopedLibrary) -> None:
        super().__init__(data)
        self._library = library
        self._effective: EffectiveConfidence | None = None

    @property
    def effective(self) -> EffectiveConfidence | None:
        """The decayed confidence now (computed on first use; the policy is read on first use too)."""
        field = self._library.spec.confidence_field
        if self._effective is None and field is not None:
            policy = self._library.policy()
            if policy is not None:
                self._effective = effective_confidence(self, policy, None, field=field)
        return self._effective

    @property
    def effective_confidence(self) -> float | None:
        return self.effective.value if self.effective else None

    @property
    def band(self) -> str | None:
        return self.effective.band if self.effective else None


class ScopedLibrary(Mapping[str, Entry]):
    """A published library (or a ref) as one caller may see it; read-only like Library."""

    def __init__(self, inner: Library, workspace: str | None, all_scopes: bool = False) -> None:
        self.inner = inner
        self.workspace = workspace
        self.all_scopes = all_scopes
        self.state, self.spec, self.name = inner.state, inner.spec, inner.name
        self.version, self.tag, self.commit, self.tree = inner.version, inner.tag, inner.commit, inner.tree
        self._policy: ConfidencePolicy | None = None
        self._policy_read = False
        self._loaded: dict[str, Entry] | None = None
        self._restricted: dict[str, str | None] | None = None
        self._index: dict[str, FileRef] | None = None
        self._ids: list[str] | None = None

    # --- scope -----------------------------------------------------------------------

    def _shows(self, data: Mapping[str, Any]) -> bool:
        return self.all_scopes or visible(data, self.workspace)

    def _wrap(self, entry: Entry) -> RuntimeEntry:
        return RuntimeEntry(entry._data, self)

    def policy(self) -> ConfidencePolicy | None:
        """The confidence policy of this version (read once, when a band is first asked for)."""
        if not self._policy_read:
            self._policy_read = True
            registry = load_rules(self.state).registry
            self._policy = registry.policy.confidence if registry is not None else None
        return self._policy

    def restricted(self) -> dict[str, str | None]:
        """{id: workspace} of the WORKSPACE_ONLY entries (kept by tree id: parsed once per version)."""
        if self._restricted is None:
            key = f"canonry.scoped/v1:{self.spec.path}:{self.spec.layout}:{self.tree}" if self.tree else None
            store = store_for(self.state.repo)
            rows = store.get_result(key) if key else None
            if rows is None:
                rows = [
                    (eid, e.get("workspace_id"))
                    for eid, e in self.inner.load().items()
                    if e.get("reuse_scope") == WORKSPACE_ONLY
                ]
                if key:
                    store.put_result(key, rows)
            self._restricted = {eid: ws for eid, ws in rows}
        return self._restricted

    @property
    def scopes(self) -> list[str]:
        """The reuse scopes of the entries this caller sees (what a bundle records)."""
        return sorted({str(e.get("reuse_scope") or "unscoped") for e in self.load().values()})

    # --- the Mapping -----------------------------------------------------------------

    def __getitem__(self, entry_id: str) -> RuntimeEntry:
        entry = self.inner[entry_id]
        if not self._shows(entry):
            raise UnknownEntryError(self.name, entry_id, self.tag or self.state.label)
        return self._wrap(entry)

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def ids(self) -> list[str]:
        """The ids this caller sees, sorted (computed once: a version never changes)."""
        if self._ids is None:
            self._ids = sorted(self.index)
        return self._ids

    def __contains__(self, entry_id: object) -> bool:
        return isinstance(entry_id, str) and entry_id in self.index

    @property
    def index(self) -> dict[str, FileRef]:
        """{entry id: file} of the entries this caller sees."""
        if self._index is None:
            restricted = {} if self.all_scopes else self.restricted()
            hidden = {eid for eid, ws in restricted.items() if self.workspace is None or ws != self.workspace}
            index = self.inner.index
            self._index = {eid: ref for eid, ref in index.items() if eid not in hidden} if hidden else index
        return self._index

    @property
    def files(self) -> dict[str, FileRef]:
        return self.inner.files

    def load(self) -> dict[str, Entry]:
        """Every entry this caller sees, parsed (cached by blob id), sorted by id."""
        if self._loaded is None:
            self._loaded = {eid: self._wrap(e) for eid, e in self.inner.load().items() if self._shows(e)}
        return self._loaded

    def blob_of(self, entry_id: str) -> str | None:
        blob = self.inner.blob_of(entry_id)
        if blob is None or self.all_scopes:
            return blob
        return blob if self._shows(self.inner[entry_id]) else None

    def confidence(self, entry_id: str, at: Any = None) -> Any:
        """The entry's effective confidence and band at a moment (default: now)."""
        self[entry_id]  # scope check
        return self.inner.confidence(entry_id, at)

    def match(self, text: str, at: Any = None) -> MapAnswer:
        """A mapping library's sector for a text, explained (learning.mapper): the evaluator's answer."""
        index = self.index
        visible = None if index is self.inner.index else index.__contains__
        return match_text(self.inner, text, at, visible=visible)

    def defaults_for_sector(
        self, sector_code: str, assumption_type: str | None = None, *, include_blocked: bool = False
    ) -> list[Entry]:
        """Assumption defaults for a sector: its own first, then economy-wide ones (sector_code null).

        An economy-wide default is left out where the sector has its own of the
        same type. Defaults in the blocked confidence band are left out unless
        include_blocked; a code that is not an ISIC Rev.4 division raises
        UnknownSectorError.
        """
        if not is_sector_code(sector_code):
            raise UnknownSectorError(
                f"{sector_code!r} is not an ISIC Rev.4 division (a section letter and its 2-digit"
                " division, e.g. C24)"
            )

        def usable(e: Entry) -> bool:
            return include_blocked or not isinstance(e, RuntimeEntry) or e.band != BLOCKED

        return sector_defaults([e for e in self.load().values() if usable(e)], sector_code, assumption_type)

    def get(self, entry_id: str, default: Any = None) -> Any:
        try:
            return self[entry_id]
        except UnknownEntryError:
            return default

    def __repr__(self) -> str:
        seen = "all scopes" if self.all_scopes else f"workspace {self.workspace or '(none)'}"
        return f"<Library {self.name} at {self.tag or self.state.label}: {len(self)} entries, {seen}>"


def scoped_diff(doc: dict[str, Any], lib_a: ScopedLibrary, lib_b: ScopedLibrary) -> dict[str, Any]:
    """A diff document without the entries the caller may not see (at either side)."""
    name = lib_b.name
    part = doc["libraries"].get(name)
    if part is None or (lib_a.all_scopes and lib_b.all_scopes):
        return doc
    ids = {
        *part["added_entry_ids"],
        *part["removed_entry_ids"],
        *(r["entry_id"] for r in part["changed_entries"]),
    }
    hidden: set[str] = set()
    titles: set[str] = set()
    for entry_id in ids:
        for lib in (lib_a, lib_b):
            data = lib.inner.get(entry_id) if entry_id in lib.inner else None
            if data is not None and not visible(data, lib.workspace):
                hidden.add(entry_id)
                titles.add(lib.spec.summary(dict(data)))
    if not hidden:
        return doc
    part = dict(part)
    part["added_entry_ids"] = [i for i in part["added_entry_ids"] if i not in hidden]
    part["removed_entry_ids"] = [i for i in part["removed_entry_ids"] if i not in hidden]
    part["changed_entries"] = [r for r in part["changed_entries"] if r["entry_id"] not in hidden]
    part["problems"] = [p for p in part["problems"] if p["entry_id"] not in hidden]
    part["changes_from_parent"] = [
        line
        for line in part["changes_from_parent"]
        if not any(line in (f"added: {t}", f"removed: {t}") or line.startswith(f"{t}: ") for t in titles)
    ]
    return {**doc, "libraries": {**doc["libraries"], name: part}}
