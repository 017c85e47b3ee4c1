"""The functions a registry names (`checks`, holdout `evaluator`), resolved to code.

A registry names Canonry's functions as `module:function` with stable public
module names; this is the one place that turns such a name into a callable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import HoldoutError, RegistryError
from ..store.entries import Library
from ..store.registry import REGISTRY_PATH, HoldoutSpec
from .evaluators import Evaluation, HoldoutCase, coerce_evaluation

# Registries name Canonry's own functions by these stable public module names;
# the code behind them lives where its layer puts it.
PUBLIC_MODULES = {
    "canonry.checks": "canonry.store.rule_functions",
    "canonry.evaluators": "canonry.learning.evaluators",
}


def resolve_function(spec: str) -> Callable[..., Any]:
    """Import `module:function`; raise RegistryError when it is not there."""
    module_name, _, func_name = spec.partition(":")
    module_name = PUBLIC_MODULES.get(module_name, module_name)
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"cannot load {spec}: {exc}", REGISTRY_PATH) from None
    if not callable(func):
        raise RegistryError(f"{spec} is not callable", REGISTRY_PATH)
    return func


def evaluate(spec: HoldoutSpec, library: Library, cases: Sequence[HoldoutCase]) -> Evaluation:
    """Run the declared evaluator; raise HoldoutError when it fails or answers nonsense."""
    try:
        func = resolve_function(spec.evaluator)
    except RegistryError as exc:
        raise HoldoutError(f"evaluator {exc.problem}", spec.data) from None
    try:
        raw = func(library, cases)
    except Exception as exc:  # the evaluator is the library's own code: any failure is a finding
        raise HoldoutError(
            f"evaluator {spec.evaluator} raised {type(exc).__name__}: {exc}".rstrip(": "), spec.data
        ) from None
    return coerce_evaluation(raw, cases, spec.evaluator, spec.data)
