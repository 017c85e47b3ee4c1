#!/usr/bin/env python3
"""Build a knowledge repository of N generated mapping entries with two tags.

    PYTHONPATH=tooling python benchmarks/generate.py --entries 100000 --out benchmarks/out/repo-100000

The repository holds this project's schemas/, N mapping entries (about 600
bytes each, valid against schemas/mapping.schema.json, written with
canonry.store.yamlio.dump_yaml) and the overrides the learned ones cite (8 per
sector code), so the generator's own v1 -> v2 change passes the gates.
Commit 1 is tagged `mapping/v1` (annotated, with version metadata in the
message); commit 2 changes 100 entries, adds 50 and removes 50, and is tagged
`mapping/v2`; main points at commit 2 and is checked out (unless --bare).
Blobs are written in one `git fast-import` stream (one pack) and library
folders with `git mktree --batch`, so 100,000 entries take seconds of git;
dumping the YAML (on every core) and the checkout take longer.

Everything is deterministic: the same N (and layout) gives the same entry ids,
bytes, commit ids and tag ids on every run and every machine.

Importable: `generate(out, entries=..., layout=..., worktree=...)` returns a
`Generated` record (ids of the changed, added and removed entries included).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tooling") not in sys.path:
    sys.path.insert(0, str(ROOT / "tooling"))

from canonry.store.ids import deterministic_uuid7  # noqa: E402
from canonry.store.registry import LibrarySpec, parse_registry  # noqa: E402
from canonry.store.yamlio import dump_yaml  # noqa: E402

# Bump when the generated content changes, so run.py regenerates stale repositories.
GENERATOR_VERSION = 2
MARKER = "canonry-benchmark.json"  # in the git dir, outside <git dir>/canonry/ (the cache)

SCHEMAS = ROOT / "schemas"
LIBRARY = "mapping"
OVERRIDES = "overrides"
# Learned entries cite overrides from a pool per sector code (a pattern is learned from
# corrections that chose its code); the pool is the repository's `overrides` library.
OVERRIDE_POOL = 8
CHANGED, ADDED, REMOVED = 100, 50, 50

# Fixed clock: 2026-01-01T00:00:00Z for v1, one day later for v2.
T1 = 1767225600
T2 = T1 + 86400
ID_MILLIS = T1 * 1000
AUTHOR = "Canonry Benchmark <benchmark@example.org>"
STEWARD = "mapping-steward@example.org"

# --- vocabulary -------------------------------------------------------------------

EN_WORDS = (  # noqa: SIM905 (a paragraph of words reads better than a list of 200 strings)
    "steel rebar cement clinker aluminium smelter copper wire cable glass float ceramic tile brick "
    "timber sawmill plywood paper pulp cardboard packaging plastic resin polymer rubber tyre paint "
    "coating fertiliser ammonia urea pesticide pharmaceutical vaccine hospital clinic school "
    "university hotel resort restaurant catering airport runway seaport container terminal berth "
    "railway metro tram highway bridge tunnel pipeline refinery petrochemical gas liquefaction "
    "desalination water treatment sewage landfill recycling solar photovoltaic wind turbine "
    "hydropower transmission substation battery storage datacenter fibre telecom tower satellite "
    "software platform logistics warehouse cold chain dairy poultry fishery aquaculture date palm "
    "greenhouse irrigation grain mill bakery beverage bottling textile garment leather footwear "
    "furniture mattress jewellery printing publishing broadcasting cinema theatre museum stadium "
    "housing villa apartment tower office mall retail wholesale vehicle assembly truck bus "
    "shipyard aircraft maintenance defence security consulting engineering architecture legal "
    "accounting banking insurance leasing research laboratory testing inspection mining quarry "
    "phosphate gold limestone gypsum sand gravel asphalt concrete precast modular scaffolding "
    "elevator escalator hvac plumbing electrical fitout demolition dredging reclamation marina"
).split()
AR_WORDS = (  # noqa: SIM905
    "حديد تسليح أسمنت ألمنيوم نحاس زجاج سيراميك خشب ورق بلاستيك مطاط دهانات أسمدة أدوية مستشفى "
    "مدرسة جامعة فندق مطعم مطار ميناء سكة طريق جسر نفق أنابيب مصفاة غاز تحلية مياه صرف طاقة "
    "شمسية رياح كهرباء بطاريات اتصالات برمجيات مستودع ألبان دواجن أسماك نخيل زراعة مطحنة مخبز "
    "مشروبات نسيج ملابس جلود أثاث طباعة مسرح متحف ملعب إسكان مكاتب تجزئة مركبات شاحنات سفن "
    "طائرات صيانة هندسة تأمين بنوك تعدين ذهب رمل خرسانة مصاعد تكييف سباكة"
).split()
SECTIONS = {
    "A": (1, 3), "B": (5, 9), "C": (10, 33), "D": (35, 35), "E": (36, 39), "F": (41, 43),
    "G": (45, 47), "H": (49, 53), "I": (55, 56), "J": (58, 63), "K": (64, 66), "L": (68, 68),
    "M": (69, 75), "N": (77, 82), "O": (84, 84), "P": (85, 85), "Q": (86, 88), "R": (90, 93),
    "S": (94, 96), "T": (97, 98), "U": (99, 99),
}  # fmt: skip
SECTOR_CODES = tuple(f"{s}{d:02d}" for s, (lo, hi) in SECTIONS.items() for d in range(lo, hi + 1))
SOURCES = ("import", "import", "ai", "admin", "user")
SCOPES = ("WORKSPACE_ONLY", "GLOBAL_INTERNAL", "SANITIZED_GLOBAL")


@dataclass
class Generated:
    """What generate() built (also stored as JSON in the git dir as MARKER)."""

    path: str
    entries: int
    layout: str
    worktree: bool
    generator_version: int
    v1_commit: str
    v2_commit: str
    v1_tag: str
    v2_tag: str
    changed_ids: list[str] = field(default_factory=list)
    added_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    bytes_per_entry: float = 0.0

    def matches(self, entries: int, layout: str, worktree: bool) -> bool:
        return (self.entries, self.layout, self.worktree, self.generator_version) == (
            entries,
            layout,
            worktree,
            GENERATOR_VERSION,
        )


# --- entries ----------------------------------------------------------------------


def entry_id(index: int) -> str:
    """The id of the index-th generated entry (the same on every run)."""
    return deterministic_uuid7(ID_MILLIS + index // 1000, "canonry-benchmark", LIBRARY, str(index))


def _pattern(rng: random.Random, seen: set[tuple[str, str]]) -> tuple[str, str]:
    while True:
        if rng.random() < 0.1:
            language, words = "ar", AR_WORDS
        else:
            language, words = "en", EN_WORDS
        pattern = " ".join(rng.sample(words, rng.choice((2, 3, 3, 4))))
        if (language, pattern) not in seen:
            seen.add((language, pattern))
            return language, pattern


def make_entry(index: int, rng: random.Random, seen: set[tuple[str, str]]) -> dict[str, Any]:
    """One realistic mapping entry (about 600 bytes once dumped)."""
    language, pattern = _pattern(rng, seen)
    sector = rng.choice(SECTOR_CODES)
    scope = rng.choice(SCOPES)
    engagement = None if rng.random() < 0.2 else f"ENG-2025-{rng.randrange(1, 900):04d}"
    kind = rng.choice(("classification", "overrides", "overrides", "steward"))
    cited = rng.randint(2, 4) if kind == "overrides" else 0
    override_ids = sorted(override_id(sector, (index + 3 * k) % OVERRIDE_POOL) for k in range(cited))
    reference = (
        f"ISIC Rev.4 division {sector[1:]} (section {sector[0]})" if kind == "classification" else None
    )
    day = 1 + index % 28
    month = 1 + index % 12
    return {
        "id": entry_id(index),
        "workspace_id": f"workspace-{index % 17:02d}"
        if scope == "WORKSPACE_ONLY" or rng.random() < 0.5
        else None,
        "source_engagement_id": engagement,
        "reuse_scope": scope,
        # shared scopes must be sanitized (the scope gate)
        "sanitized_for_promotion": scope != "WORKSPACE_ONLY" or rng.random() < 0.3,
        "source": rng.choice(SOURCES),
        "updated_at": f"2025-{month:02d}-{day:02d}T{index % 24:02d}:{index % 60:02d}:00Z",
        "pattern": pattern,
        "language": language,
        "sector_code": sector,
        "confidence": round(rng.uniform(0.55, 0.99), 2),
        "evidence": {"kind": kind, "reference": reference, "override_ids": override_ids},
        "description": (
            f"Project descriptions that mention {pattern!r} are classified under ISIC Rev.4 {sector};"
            f" generated benchmark entry {index} (workspace {index % 17}, batch {index // 1000})."
            " Review it when the classification changes."
        ),
    }


def changed_entry(entry: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The v2 edit of an entry: a new confidence and timestamp, sometimes a new sector.

    A learned entry that moves to another sector cites that sector's overrides instead
    (the evidence gate wants the cited corrections to have chosen the entry's code).
    """
    new = json.loads(json.dumps(entry))
    new["confidence"] = round(min(0.99, entry["confidence"] + rng.choice((-0.1, -0.05, 0.05, 0.1))), 2)
    if new["confidence"] == entry["confidence"]:
        new["confidence"] = round(entry["confidence"] - 0.01, 2)
    new["updated_at"] = "2026-01-02T00:00:00Z"
    if rng.random() < 0.3:
        new["sector_code"] = rng.choice([c for c in SECTOR_CODES if c != entry["sector_code"]])
        evidence = new["evidence"]
        if evidence["kind"] == "overrides":
            n = len(evidence["override_ids"])
            evidence["override_ids"] = sorted(override_id(new["sector_code"], k) for k in range(n))
    return new


def override_id(sector: str, k: int) -> str:
    """The id of the k-th override of the pool of a sector code."""
    return deterministic_uuid7(ID_MILLIS, "canonry-benchmark", OVERRIDES, sector, str(k))


def override_entries() -> list[dict[str, Any]]:
    """The overrides library: OVERRIDE_POOL corrections per sector code, each choosing that code."""
    out = []
    for n, sector in enumerate(SECTOR_CODES):
        for k in range(OVERRIDE_POOL):
            engagement = f"ENG-2025-{1 + (n * OVERRIDE_POOL + k) % 899:04d}"
            when = f"2025-{1 + k % 12:02d}-{1 + n % 28:02d}T09:00:00Z"
            word = EN_WORDS[(n * 7 + k) % len(EN_WORDS)]
            out.append(
                {
                    "id": override_id(sector, k),
                    "engagement_id": engagement,
                    "final_code": sector,
                    "overridden_at": when,
                    "reuse_scope": "WORKSPACE_ONLY",
                    "sanitized_for_promotion": False,
                    "source": "user",
                    "source_engagement_id": engagement,
                    "steward": STEWARD,
                    "suggested_code": SECTOR_CODES[(n + 1 + k) % len(SECTOR_CODES)],
                    "text": f"Generated correction {k} for ISIC Rev.4 {sector} ({word})",
                    "updated_at": when,
                    "workspace_id": f"workspace-{k % 17:02d}",
                }
            )
    return out


def mapping_spec(layout: str) -> tuple[LibrarySpec, bytes]:
    """The mapping library's spec and the libraries.yaml bytes for the given layout."""
    text = (SCHEMAS / "libraries.yaml").read_text(encoding="utf-8")
    if layout == "sharded":
        head, sep, rest = text.partition("\n  mapping:\n")
        block, sep2, tail = rest.partition("\n\n")
        if "layout: flat" not in block:
            raise SystemExit("schemas/libraries.yaml: cannot find the mapping library's `layout: flat`")
        text = head + sep + block.replace("layout: flat", "layout: sharded", 1) + sep2 + tail
    data = text.encode("utf-8")
    spec = parse_registry(data).library(LIBRARY)
    if spec.layout != layout:
        raise SystemExit(f"layout {layout!r} did not take in libraries.yaml")
    return spec, data


def _dump(entry: dict[str, Any]) -> bytes:
    return dump_yaml(entry).encode("utf-8")


def _dump_all(items: list[dict[str, Any]]) -> list[bytes]:
    """Dump entries in order; on both cores when there are many (the dumper is the slow part)."""
    workers = min(os.cpu_count() or 1, 4)
    if len(items) < 5000 or workers < 2:
        return [_dump(e) for e in items]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(_dump, items, chunksize=1000)


def _lap(start: float, phases: dict[str, float] | None = None) -> float:
    """Seconds since start, less the phases already recorded."""
    return round(time.perf_counter() - start - sum((phases or {}).values()), 2)


# --- fast-import --------------------------------------------------------------------


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    return env


def _git(repo: Path, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], input=input, capture_output=True, env=_git_env(), check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args[:2])} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode()


class _Stream:
    """A git fast-import stream, built in memory and handed to `git fast-import` whole."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def data(self, payload: bytes) -> None:
        self.parts.append(b"data %d\n" % len(payload))
        self.parts.append(payload)
        self.parts.append(b"\n")

    def blob(self, payload: bytes) -> str:
        """Add a blob; return its id (computed here, so no marks are needed)."""
        self.parts.append(b"blob\n")
        self.data(payload)
        return hashlib.sha1(b"blob %d\0" % len(payload) + payload).hexdigest()

    def line(self, text: str) -> None:
        self.parts.append(text.encode("utf-8") + b"\n")

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _mktree(repo: Path, files: dict[str, str]) -> str:
    """The id of a tree holding {relative path: blob id}, written with `git mktree --batch`."""
    children: dict[str, dict[str, tuple[str, str]]] = {"": {}}  # folder -> {name: (mode, id)}
    for path, oid in files.items():
        parent, _, name = path.rpartition("/")
        children.setdefault(parent, {})[name] = ("100644 blob", oid)
        while parent:  # register the folders above, up to the first one already known
            up, _, base = parent.rpartition("/")
            siblings = children.setdefault(up, {})
            if base in siblings:
                break
            siblings[base] = ("040000 tree", "")
            parent = up
    # deepest folders first, one batch per depth
    for depth in sorted({f.count("/") + bool(f) for f in children}, reverse=True):
        level = sorted(f for f in children if f.count("/") + bool(f) == depth)
        batch = "\n\n".join(
            "\n".join(f"{kind} {oid}\t{name}" for name, (kind, oid) in sorted(children[f].items()))
            for f in level
        )
        made = _git(repo, "mktree", "--batch", input=batch.encode("utf-8") + b"\n").split()
        for folder, oid in zip(level, made, strict=True):
            if folder:
                up, _, base = folder.rpartition("/")
                children[up][base] = ("040000 tree", oid)
            else:
                return oid
    raise AssertionError("unreachable: the root is the last level")


def _trailers(summary: str, reason: str) -> bytes:
    return (
        f"{summary}\n\nCanonry-Source: import\nCanonry-Source-Ref: benchmarks/generate.py\n"
        f"Canonry-Actor: {STEWARD}\nCanonry-Reason: {reason}\n"
    ).encode()


def _schema_files(registry_bytes: bytes) -> Iterator[tuple[str, bytes]]:
    for path in sorted(SCHEMAS.iterdir()):
        if path.is_file():
            data = registry_bytes if path.name == "libraries.yaml" else path.read_bytes()
            yield f"schemas/{path.name}", data


def generate(
    out: str | os.PathLike[str],
    entries: int = 10_000,
    *,
    layout: str = "flat",
    worktree: bool = True,
    force: bool = True,
) -> Generated:
    """Build the repository at out (replacing what is there when force) and describe it."""
    if entries < REMOVED + CHANGED:
        raise SystemExit(f"--entries must be at least {REMOVED + CHANGED}")
    start = time.perf_counter()
    target = Path(out)
    phases = {"remove old": 0.0}
    if target.exists():
        if not force:
            raise SystemExit(f"{target} exists (pass --force to replace it)")
        shutil.rmtree(target)
        phases["remove old"] = _lap(start)
    target.mkdir(parents=True)
    _git(target, "init", "-q", "-b", "main", *(["--bare"] if not worktree else []))

    spec, registry_bytes = mapping_spec(layout)
    blobs = _Stream()
    schema_files = {path: blobs.blob(data) for path, data in _schema_files(registry_bytes)}

    overrides_spec = parse_registry(registry_bytes).library(OVERRIDES)
    overrides_lib = {overrides_spec.relative_path(e["id"]): blobs.blob(_dump(e)) for e in override_entries()}

    rng = random.Random(f"canonry-benchmark:{entries}")
    seen: set[tuple[str, str]] = set()
    v1: dict[str, dict[str, Any]] = {}
    for index in range(entries):
        entry = make_entry(index, rng, seen)
        v1[entry["id"]] = entry
    lib_v1: dict[str, str] = {}  # path relative to the library folder -> blob id
    total_bytes = 0
    for eid, data in zip(v1, _dump_all(list(v1.values())), strict=True):
        total_bytes += len(data)
        lib_v1[spec.relative_path(eid)] = blobs.blob(data)

    # v2: spread the changes over the library (not all at its start or end)
    ids = list(v1)
    picked = random.Random(f"canonry-benchmark-v2:{entries}").sample(range(entries), CHANGED + REMOVED)
    changed_ids = sorted(ids[i] for i in picked[:CHANGED])
    removed_ids = sorted(ids[i] for i in picked[CHANGED:])
    lib_v2 = dict(lib_v1)
    for eid in changed_ids:
        lib_v2[spec.relative_path(eid)] = blobs.blob(_dump(changed_entry(v1[eid], rng)))
    added_ids = []
    for index in range(entries, entries + ADDED):
        entry = make_entry(index, rng, seen)
        added_ids.append(entry["id"])
        lib_v2[spec.relative_path(entry["id"])] = blobs.blob(_dump(entry))
    added_ids.sort()
    for eid in removed_ids:
        del lib_v2[spec.relative_path(eid)]
    phases["entries"] = _lap(start, phases)

    # Blobs go in one pack; the library folders are built with `git mktree` (fast-import
    # scans a folder's entries linearly per file: quadratic for a flat folder of 100,000).
    blobs.line("done")
    _git(target, "fast-import", "--quiet", "--done", input=blobs.bytes())
    trees = {1: _mktree(target, lib_v1), 2: _mktree(target, lib_v2)}
    overrides_tree = _mktree(target, overrides_lib)
    stream = _Stream()
    counts = {1: (entries, entries, 0, 0), 2: (len(lib_v2), ADDED, REMOVED, CHANGED)}
    for number, when in ((1, T1), (2, T2)):
        stream.line(f"commit refs/heads/main\nmark :{number}")
        stream.line(f"author {AUTHOR} {when} +0000\ncommitter {AUTHOR} {when} +0000")
        if number == 1:
            stream.data(_trailers(f"Import {entries} generated mapping entries", "benchmark fixture"))
            for path, oid in schema_files.items():
                stream.line(f"M 100644 {oid} {path}")
            stream.line(f"M 040000 {overrides_tree} {overrides_spec.path}")
        else:
            summary = f"mapping: change {CHANGED}, add {ADDED}, remove {REMOVED} entries"
            stream.data(_trailers(summary, "benchmark fixture v2"))
            stream.line(f"from :{number - 1}")
        stream.line(f"M 040000 {trees[number]} {spec.path}")
        stream.line("")
    for number, when in ((1, T1), (2, T2)):
        total, added, removed, changed = counts[number]
        meta = {
            "library": LIBRARY,
            "version": number,
            "parent": None if number == 1 else f"{LIBRARY}/v{number - 1}",
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
            "published_by": STEWARD,
            "approved_by": [STEWARD],
            "draft": f"draft/benchmark-v{number}",
            "entry_count": total,
            "added": added,
            "removed": removed,
            "changed": changed,
            "tree": trees[number],
            "holdout": None,
            "total_overrides_ingested": 0,
            "rollback_of": None,
            "gates": ["yaml", "schema", "identity", "checks"],
        }
        message = f"{LIBRARY} v{number}: {total} entries\n\n{dump_yaml(meta)}"
        stream.line(f"tag {LIBRARY}/v{number}\nfrom :{number}\ntagger {AUTHOR} {when} +0000")
        stream.data(message.encode("utf-8"))
    stream.line("done")
    _git(target, "fast-import", "--quiet", "--done", input=stream.bytes())
    v1_commit = _git(target, "rev-parse", f"{LIBRARY}/v1^{{commit}}").strip()
    v2_commit = _git(target, "rev-parse", f"{LIBRARY}/v2^{{commit}}").strip()
    phases["git"] = _lap(start, phases)
    if worktree:
        # parallel checkout: on this kind of machine it is several times faster for 100,000 files
        _git(target, "-c", "checkout.workers=2", "reset", "-q", "--hard", "main")
        # Files written in the same second as the index are "racily clean" and would be
        # re-read by every `git status` until the index is rewritten: settle it once now.
        time.sleep(1.1)
        _git(target, "update-index", "-q", "--refresh")
        phases["checkout"] = _lap(start, phases)

    git_dir = Path(_git(target, "rev-parse", "--absolute-git-dir").strip())
    result = Generated(
        path=str(target.resolve()),
        entries=entries,
        layout=layout,
        worktree=worktree,
        generator_version=GENERATOR_VERSION,
        v1_commit=v1_commit,
        v2_commit=v2_commit,
        v1_tag=f"{LIBRARY}/v1",
        v2_tag=f"{LIBRARY}/v2",
        changed_ids=changed_ids,
        added_ids=added_ids,
        removed_ids=removed_ids,
        seconds=round(time.perf_counter() - start, 2),
        phases=phases,
        bytes_per_entry=round(total_bytes / entries, 1),
    )
    (git_dir / MARKER).write_text(json.dumps(asdict(result), indent=1, sort_keys=True) + "\n")
    return result


def existing(out: str | os.PathLike[str]) -> Generated | None:
    """The description of a repository generate() built at out, if there is one."""
    target = Path(out)
    for git_dir in (target / ".git", target):
        marker = git_dir / MARKER
        if marker.is_file():
            try:
                return Generated(**json.loads(marker.read_text()))
            except (TypeError, ValueError):
                return None
    return None


def ensure(
    out: str | os.PathLike[str], entries: int, *, layout: str = "flat", worktree: bool = True
) -> Generated:
    """Reuse the repository at out when it was generated with these parameters; else build it."""
    found = existing(out)
    if found is not None and found.matches(entries, layout, worktree):
        return found
    return generate(out, entries, layout=layout, worktree=worktree, force=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000, help="number of mapping entries at v1")
    parser.add_argument("--out", required=True, help="where to create the repository (replaced)")
    parser.add_argument("--layout", choices=("flat", "sharded"), default="flat")
    parser.add_argument("--bare", action="store_true", help="a bare repository (no work tree)")
    parser.add_argument("--reuse", action="store_true", help="keep an existing identical repository")
    args = parser.parse_args(argv)
    if args.reuse:
        result = ensure(args.out, args.entries, layout=args.layout, worktree=not args.bare)
    else:
        result = generate(args.out, args.entries, layout=args.layout, worktree=not args.bare)
    print(
        f"{result.path}: {result.entries} entries ({result.layout}, {result.bytes_per_entry} bytes each),"
        f" mapping/v1 {result.v1_commit[:12]}, mapping/v2 {result.v2_commit[:12]}"
        f" (+{len(result.added_ids)} -{len(result.removed_ids)} ~{len(result.changed_ids)})"
        f" in {result.seconds} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
