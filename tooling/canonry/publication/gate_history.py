"""Gate history: every `gate`, `publish` and `release` run kept as data; the trends `canonry health` shows.

A publication keeps its run whether it published or was refused (publish.py);
a dry run writes nothing, history included.

A run is summarised (canonry.gate-run/v1: ok, kind, time, who, head and base
commits, gates, per library ok/errors/warnings, findings counted per gate and
rule, holdout values) and appended as one JSON line to the note on its head
commit under `refs/notes/canonry-gates`. Bounded: at most MAX_RUNS runs per
commit (the oldest go), MAX_RULES rules per run, rule texts cut at RULE_CHARS.
A rule is a finding's message with its particulars (quoted text, numbers,
object ids) blanked, so `accuracy 0.81 on 297 cases` and `accuracy 0.79 on 301
cases` count as one rule.

JSON lines make the notes mergeable line by line: `push_history` unions the
remote's runs with the local ones when both recorded runs since they last met.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import CanonryError, GitCommandError, RefMovedError
from ..gates.findings import ERROR, WARNING, GateResult
from ..store.commits import actor_identity
from ..store.refnames import GATES_NOTES, remote_notes_mirror
from ..store.repo import Identity, RefUpdate, Repository
from ..store.rules import registry_at
from ..store.times import parse_timestamp, rfc3339
from ..store.versions import list_versions, read_metadata

NOTES_REF = GATES_NOTES
RUN_FORMAT = "canonry.gate-run/v1"
MAX_RUNS = 20
MAX_RULES = 25
RULE_CHARS = 120
TOP_RULES = 10
_BLANKS = (
    (re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`"), "'…'"),
    (re.compile(r"\b[0-9a-f]{7,64}\b"), "…"),
    (re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"), "N"),
)


def rule_of(message: str) -> str:
    """The message with its particulars blanked: what recurs across runs."""
    text = message.splitlines()[0] if message else ""
    for pattern, blank in _BLANKS:
        text = pattern.sub(blank, text)
    return text[:RULE_CHARS]


def summarize(repo: Repository, result: GateResult, who: str, kind: str = "gate") -> dict[str, Any]:
    """A bounded summary of one gate run (canonry.gate-run/v1)."""
    head = dict(result.head or {})
    base = dict(result.base or {}) if result.base else None
    libraries = _libraries(repo, result, base, head)
    per_library: dict[str, dict[str, Any]] = {
        name: {"ok": True, "errors": 0, "warnings": 0} for name in libraries
    }
    rules: Counter[tuple[str, str, str]] = Counter()
    rule_libraries: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for f in result.findings:
        key = (f.gate, f.severity, rule_of(f.message))
        rules[key] += 1
        targets = [f.library] if f.library else list(per_library)
        for name in targets:
            row = per_library.setdefault(name, {"ok": True, "errors": 0, "warnings": 0})
            if f.severity == ERROR:
                row["errors"] += 1
                row["ok"] = False
            elif f.severity == WARNING:
                row["warnings"] += 1
            rule_libraries[key].add(name)
    ranked = sorted(rules.items(), key=lambda kv: (kv[0][1] != ERROR, -kv[1], kv[0]))
    holdout = {
        name: {k: h.get(k) for k in ("metric", "value", "baseline", "cases") if isinstance(h, Mapping)}
        for name, h in (result.metrics.get("holdout") or {}).items()
        if isinstance(h, Mapping)
    }
    return {
        "format": RUN_FORMAT,
        "id": secrets.token_hex(8),  # two runs alike in every other field are still two runs
        "kind": kind,
        "ok": result.ok,
        "at": rfc3339(),
        "who": who,
        "head": {"ref": head.get("ref"), "commit": head.get("commit")},
        "base": {"ref": base.get("ref"), "commit": base.get("commit"), "merge_base": base.get("merge_base")}
        if base
        else None,
        "gates": list(result.gates),
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "libraries": {name: per_library[name] for name in sorted(per_library)},
        "rules": [
            {"gate": g, "severity": s, "rule": r, "count": n, "libraries": sorted(rule_libraries[(g, s, r)])}
            for (g, s, r), n in ranked[:MAX_RULES]
        ],
        "rules_left_out": max(0, len(ranked) - MAX_RULES),
        "holdout": holdout,
    }


def _libraries(
    repo: Repository, result: GateResult, base: dict[str, Any] | None, head: dict[str, Any]
) -> list[str]:
    """The libraries the run is about: those the draft changed (with a base), else every one checked."""
    checked = sorted((result.metrics.get("libraries") or {}).keys())
    commit, since = head.get("commit"), (base or {}).get("merge_base") or (base or {}).get("commit")
    if not commit or not since:
        return checked
    try:
        registry = registry_at(repo, commit)
        head_tree, base_tree = repo.tree_of(commit), repo.tree_of(since)
        return [
            name
            for name in checked or registry.names()
            if name in registry.libraries
            and repo.subtree(head_tree, registry.libraries[name].path)
            != repo.subtree(base_tree, registry.libraries[name].path)
        ]
    except (CanonryError, KeyError, ValueError):
        return checked


def record_gate_run(
    repo: Repository, result: GateResult, who: str | None = None, kind: str = "gate"
) -> dict[str, Any]:
    """Append the run's summary to the note on its head commit; return the summary."""
    try:
        identity = actor_identity(repo, who)
    except CanonryError:
        identity = Identity("unknown", "unknown")
    run = summarize(repo, result, identity.email, kind)
    head = run["head"]["commit"]
    if not head:
        raise CanonryError("the gate result names no head commit: nothing to record it on")
    line = json.dumps(run, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for attempt in range(5):
        lines = _lines(repo.read_note(NOTES_REF, head))
        lines = [*lines, line][-MAX_RUNS:]
        message = f"Gate run on {head[:12]}: {'pass' if run['ok'] else 'fail'} ({kind})"
        try:
            repo.write_note(NOTES_REF, head, "\n".join(lines) + "\n", identity, message)
            return run
        except RefMovedError:  # another run recorded at the same moment: read again and retry
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _lines(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()]


def runs(repo: Repository) -> list[dict[str, Any]]:
    """Every recorded run, oldest first (lines that are not runs are skipped)."""
    out: list[dict[str, Any]] = []
    for text in repo.notes(NOTES_REF).values():
        for line in _lines(text):
            try:
                run = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(run, dict) and run.get("format") == RUN_FORMAT and isinstance(run.get("at"), str):
                out.append(run)
    out.sort(key=lambda r: (r["at"], json.dumps(r, sort_keys=True)))
    return out


# --- trends --------------------------------------------------------------------------------------


def trends(repo: Repository, main: str = "main") -> dict[str, Any]:
    """Gate pass rate per library per week, the rules that fail most, draft-to-publication time,
    holdout value per version: the `gates` part of canonry.health/v1."""
    recorded = runs(repo)
    weekly: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    failing: Counter[tuple[str, str]] = Counter()
    for run in recorded:
        week = _week(run["at"])
        for name, row in (run.get("libraries") or {}).items():
            cell = weekly[name][week]
            cell[0] += 1
            cell[1] += 1 if row.get("ok") else 0
        for rule in run.get("rules") or []:
            if rule.get("severity") == ERROR:
                failing[(str(rule.get("gate")), str(rule.get("rule")))] += 1
    pass_rate = {
        name: [
            {"week": week, "runs": n, "passed": ok, "rate": round(ok / n, 4)}
            for week, (n, ok) in sorted(weeks.items())
        ]
        for name, weeks in sorted(weekly.items())
    }
    return {
        "runs": len(recorded),
        "pass_rate": pass_rate,
        "failing_rules": [
            {"gate": g, "rule": r, "runs": n}
            for (g, r), n in sorted(failing.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_RULES]
        ],
        "draft_to_publication": _draft_to_publication(repo),
        "holdout_by_version": _holdout_by_version(repo),
    }


def _week(at: str) -> str:
    try:
        year, week, _ = parse_timestamp(at).isocalendar()
    except ValueError:
        return "unknown"
    return f"{year}-W{week:02d}"


def _draft_to_publication(repo: Repository) -> dict[str, Any]:
    """Mean days from a draft's first commit to the publication that merged it (publish merges only)."""
    seen: set[str] = set()
    days: list[float] = []
    for version in list_versions(repo):
        if version.commit in seen:
            continue
        seen.add(version.commit)
        merge = repo.commit(version.commit)
        if len(merge.parents) != 2:  # a release or rollback: no draft to time
            continue
        first = None
        for commit in repo.walk(merge.parents[1], hide=[merge.parents[0]]):
            first = commit  # the walk goes newest first: the last one is the draft's first commit
        if first is None:
            continue
        published = read_metadata(repo, version).get("published_at")
        end = _epoch(published) if isinstance(published, str) else merge.commit_time
        days.append(max(0.0, (end - first.author_time) / 86400.0))
    mean = round(sum(days) / len(days), 3) if days else None
    return {"publications": len(days), "mean_days": mean}


def _epoch(text: str) -> float:
    try:
        return parse_timestamp(text).timestamp()
    except ValueError:
        return 0.0  # unreadable: counts as the epoch, which max() turns into zero days


def _holdout_by_version(repo: Repository) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for version in list_versions(repo):
        holdout = read_metadata(repo, version).get("holdout")
        if isinstance(holdout, Mapping) and isinstance(holdout.get("value"), int | float):
            out[version.library].append(
                {
                    "tag": version.tag,
                    "metric": holdout.get("metric"),
                    "value": holdout["value"],
                    "cases": holdout.get("cases"),
                }  # fmt: skip
            )
    return dict(sorted(out.items()))


# --- pushing -------------------------------------------------------------------------------------


def push_history(repo: Repository, remote: str) -> None:
    """Push the gate history to remote; when the remote's moved on too, union both and push again."""
    for _attempt in range(3):
        pushed = repo.push(remote, [(NOTES_REF, NOTES_REF)], atomic=False, timeout=120)
        if pushed.ok:
            return
        incoming = remote_notes_mirror(remote, GATES_NOTES)
        fetched = repo.fetch(remote, [f"+{NOTES_REF}:{incoming}"], prune=False, timeout=120)
        if not fetched.ok:
            raise GitCommandError(f"cannot push the gate history to {remote}: {pushed.message}")
        merge_notes(repo, incoming)
    raise GitCommandError(f"cannot push the gate history to {remote}: it keeps moving")


def merge_notes(repo: Repository, other_ref: str) -> None:
    """Make the local gate history the union of itself and other_ref (a commit with both parents)."""
    local, other = repo.ref_target(NOTES_REF), repo.ref_target(other_ref)
    if other is None or local == other or (local and repo.is_ancestor(other, local)):
        return
    if local is None or repo.is_ancestor(local, other):
        repo.update_refs([RefUpdate(NOTES_REF, other, local)], "gate history: fast-forward")
        return
    ours, theirs = repo.notes(NOTES_REF), repo.notes(other_ref)
    merged = {t: _union(_lines(ours.get(t)), _lines(theirs.get(t))) for t in ours.keys() | theirs.keys()}
    tree = repo.write_tree(None, {t: ("\n".join(lines) + "\n").encode() for t, lines in merged.items()})
    who = Identity("canonry", "canonry@localhost")
    commit = repo.create_commit(tree, [local, other], "Merge gate history", who)
    repo.update_refs([RefUpdate(NOTES_REF, commit, local)], "gate history: merge")


def _union(a: Iterable[str], b: Iterable[str]) -> list[str]:
    def at(line: str) -> str:
        try:
            return str(json.loads(line).get("at", ""))
        except (json.JSONDecodeError, AttributeError):
            return ""

    return sorted(set(a) | set(b), key=lambda line: (at(line), line))[-MAX_RUNS:]


def keep(
    repo: Repository, result: GateResult, kind: str = "gate", push: str | None = None, who: str | None = None
) -> str | None:
    """Record (and with push, push) a run; a problem comes back as a warning: history never fails a gate."""
    try:
        record_gate_run(repo, result, who, kind)
        if push:
            push_history(repo, push)
    except (CanonryError, OSError) as exc:
        return f"the gate run was not kept in {NOTES_REF}: {exc}"
    return None


def trend_lines(gates: Mapping[str, Any] | None) -> list[str]:
    """The text lines of the trends (for `canonry health`)."""
    if not gates:
        return []
    lines = [f"gate runs recorded: {gates['runs']}"]
    for name, weeks in gates["pass_rate"].items():
        cells = ", ".join(f"{w['week']} {w['passed']}/{w['runs']}" for w in weeks[-6:])
        lines.append(f"  gate pass rate {name}: {cells}")
    for rule in gates["failing_rules"][:5]:
        lines.append(f"  fails most: [{rule['gate']}] {rule['rule']} ({rule['runs']} runs)")
    d2p = gates["draft_to_publication"]
    mean = "-" if d2p["mean_days"] is None else f"{d2p['mean_days']} days"
    lines.append(f"draft first commit to publication: {mean} (mean of {d2p['publications']})")
    for name, rows in gates["holdout_by_version"].items():
        lines.append(f"  holdout {name}: " + ", ".join(f"{r['tag']} {r['value']}" for r in rows[-6:]))
    return lines
