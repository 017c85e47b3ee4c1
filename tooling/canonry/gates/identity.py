"""identity: ids well formed and unique; only plain entry files under knowledge/.

Per-file problems (bad names, ids that differ from the file name, symlinks,
submodules, executables) come from the shared per-file pass; this module adds
what needs the whole folder: stray files and names that collide after case
folding and NFC normalization.
"""

from __future__ import annotations

from .context import HOLDOUT_DIR, KNOWLEDGE, GateContext, nfc_casefold
from .entry import mode_problem
from .findings import ERROR, Finding

NAME = "identity"


def check(ctx: GateContext) -> list[Finding]:
    out = [f for f in ctx.file_findings() if f.gate == NAME]
    registry = ctx.rules.registry
    if registry is None:
        return out
    library_dirs = {spec.path for spec in registry.libraries.values()}
    changes = ctx.changes(KNOWLEDGE)
    for change in changes:
        ref = change.new
        if ref is None:
            continue
        if any(ref.path.startswith(d + "/") for d in library_dirs):
            continue  # checked per file
        if ref.path.startswith(HOLDOUT_DIR + "/") and ref.path.count("/") == 2:
            problem = mode_problem(ref.mode)
            if problem:
                out.append(Finding(path=ref.path, gate=NAME, severity=ERROR, message=problem))
            elif not ref.path.endswith(".yaml"):
                out.append(
                    Finding(
                        path=ref.path,
                        gate=NAME,
                        severity=ERROR,
                        message="stray file: holdout sets are <library>.yaml",
                    )
                )
            continue
        out.append(
            Finding(
                path=ref.path,
                gate=NAME,
                severity=ERROR,
                message="stray file: knowledge/ holds only library folders (see schemas/libraries.yaml)"
                " and knowledge/holdout/",
            )
        )
    new_paths = {c.path for c in changes if c.new is not None}
    if new_paths:
        seen: dict[str, str] = {}
        for path in sorted(ctx.head.files(KNOWLEDGE)):
            folded = nfc_casefold(path)
            other = seen.get(folded)
            if other is not None and (path in new_paths or other in new_paths):
                out.append(
                    Finding(
                        path=path,
                        gate=NAME,
                        severity=ERROR,
                        message=f"name collides with {other} after case folding and NFC",
                    )
                )
            seen.setdefault(folded, path)
    return out
