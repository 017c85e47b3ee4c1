#!/usr/bin/env python3
"""jsonschema, fastjsonschema and jsonschema-rs on the reference mapping schema, per entry.

    PYTHONPATH=tooling python benchmarks/validators.py REPO [--entries 5000]

Validates the first N mapping entries at mapping/v2 of a generated repository
(parsed once, outside the clock) with each engine, compiled from the same
schema Canonry compiles (local `$ref`s inlined; fastjsonschema gets strict
`\\Z` patterns, the other two need none), and prints one JSON object:
{engine: microseconds per entry} plus the compile times. fastjsonschema is
skipped when it is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tooling"))

from canonry.store.entries import Library  # noqa: E402
from canonry.store.repo import Repository  # noqa: E402
from canonry.store.rules import load_rules  # noqa: E402
from canonry.store.states import TreeState  # noqa: E402
from canonry.store.validation import FORMATS  # noqa: E402


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v[:-1] + r"\Z" if k == "pattern" and isinstance(v, str) and v.endswith("$") else _strict(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo")
    parser.add_argument("--entries", type=int, default=5000)
    args = parser.parse_args(argv)
    repo = Repository(args.repo)
    state = TreeState(repo, repo.resolve_commit("mapping/v2"))
    rules = load_rules(state)
    spec = rules.require_registry().library("mapping")
    compiled = rules.validator(spec)
    library = Library(state, spec)
    ids = sorted(library.index)[: args.entries]
    docs = [dict(library[i]._data) for i in ids]
    engines: dict[str, Any] = {}
    compile_ms: dict[str, float] = {}
    t = time.perf_counter()
    detailed = compiled.detailed
    compile_ms["jsonschema"] = (time.perf_counter() - t) * 1000
    engines["jsonschema"] = lambda d: next(detailed.iter_errors(d), None) is None
    t = time.perf_counter()
    import jsonschema_rs

    fast = jsonschema_rs.Draft202012Validator(
        compiled.schema, validate_formats=True, formats=dict(FORMATS), ignore_unknown_formats=True
    )
    compile_ms["jsonschema-rs"] = (time.perf_counter() - t) * 1000
    engines["jsonschema-rs"] = fast.is_valid
    try:
        import fastjsonschema
    except ImportError:
        pass
    else:
        t = time.perf_counter()
        fj = fastjsonschema.compile(_strict(compiled.schema), formats=dict(FORMATS))
        compile_ms["fastjsonschema"] = (time.perf_counter() - t) * 1000

        def fj_valid(d: Any) -> bool:
            try:
                fj(d)
            except fastjsonschema.JsonSchemaException:
                return False
            return True

        engines["fastjsonschema"] = fj_valid
    out: dict[str, Any] = {"entries": len(docs), "compile_ms": compile_ms, "us_per_entry": {}}
    for name, valid in engines.items():
        start = time.process_time()
        ok = sum(1 for d in docs if valid(d))
        out["us_per_entry"][name] = round((time.process_time() - start) / len(docs) * 1e6, 2)
        if ok != len(docs):
            raise SystemExit(f"{name}: {len(docs) - ok} of the valid generated entries rejected")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
