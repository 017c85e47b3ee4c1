"""What the holdout gate measures with: cached verdicts, and the matcher's table from a shipped index.

`evaluate_cached` runs a library's holdout evaluator once per library tree,
holdout set (its blob id) and Canonry version: a re-run check reads the verdict
instead of building the matcher. `seed_rows_from_index` hands the matcher the
base's pattern table from the shipped index (audited like every section), so a
fresh clone does not parse every entry and the head's matcher is derived from
the base's through the tree diff (learning.matching, learning.patterns).
"""

from __future__ import annotations

from .._version import __version__
from ..learning.evaluators import Evaluation, HoldoutSet
from ..learning.functions import evaluate
from ..store.entries import Library, store_for
from ..store.registry import LibrarySpec
from .context import GateContext


def evaluate_cached(
    ctx: GateContext, spec: LibrarySpec, library: Library, holdout: HoldoutSet, exam: str | None
) -> Evaluation:
    """The evaluator's verdict on a library tree, cached by tree, holdout blob and Canonry version.

    Only Canonry's own evaluators are cached (their code is this version's); a
    library's own evaluator runs every time.
    """
    assert spec.holdout is not None
    name = spec.holdout.evaluator
    key = None
    if library.tree is not None and exam is not None and name.startswith("canonry.evaluators:"):
        key = f"holdout-evaluation/1:{__version__}:{name}:{exam}:{library.spec.path}:{library.tree}"
    store = store_for(ctx.repo)
    cached = store.get_result(key) if key else None
    if isinstance(cached, tuple) and len(cached) == 3:
        metric, outcomes, predictions = cached
        return Evaluation(metric, tuple(outcomes), tuple(predictions) if predictions is not None else None)
    found = evaluate(spec.holdout, library, holdout.cases)
    if key:
        predictions = list(found.predictions) if found.predictions is not None else None
        store.put_result(key, (found.metric, list(found.outcomes), predictions))
    return found


def seed_rows_from_index(ctx: GateContext, spec: LibrarySpec, base_lib: Library) -> None:
    """Hand the matcher the base's pattern table from a shipped index, when one is at hand.

    The base's (or a nearby published tree's) table then costs no parse of every
    entry, and the head's is one tree diff away (learning.matching derives it).
    """
    from ..learning.matching import has_rows, seed_rows
    from .content import nearby, section_at, section_at_hand
    from .derived import rows_section

    if base_lib.tree is None or has_rows(base_lib):
        return
    section = rows_section(spec)
    tree = base_lib.tree
    if not section_at_hand(ctx.repo, spec, tree, section):
        near = nearby(ctx, spec)
        if near is None or not section_at_hand(ctx.repo, spec, near, section):
            return
        tree = near
    described, rows = section_at(
        ctx.repo, base_lib.state, spec, section, tree if tree != base_lib.tree else None
    )
    seed_rows(ctx.repo, spec, described or base_lib.tree, {i: tuple(r) for i, r in rows.items()})
