"""The functions a registry names (`checks`, holdout `evaluator`), resolved to code, and who may name them.

A registry names functions as `module:function`. Code runs on whoever checks
a draft (CI, a steward reading a pull request), so a name is imported only
when it is trusted:

- the trusted registry names it: the committed `schemas/libraries.yaml` of
  the repository's main branch (of HEAD when there is no main), never a
  draft's, a work tree's, an entry's or a remote's;
- and its module is Canonry's own public one (`canonry.checks`,
  `canonry.evaluators`) or listed in that registry's
  `policy.function_modules`.

Anything else is refused with the reason (`UntrustedFunctionError`): the
checks gate reports a draft's new function ("new check function, needs a
policy owner; not run") and the draft is checked with the trusted functions
only. This is the one place that turns a name into a callable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import HoldoutError, RegistryError
from ..store.entries import Library
from ..store.registry import REGISTRY_PATH, HoldoutSpec, Registry
from ..store.repo import Repository
from ..store.rules import load_rules
from ..store.states import TreeState
from .evaluators import Evaluation, HoldoutCase, coerce_evaluation

# Registries name Canonry's own functions by these stable public module names;
# the code behind them lives where its layer puts it.
PUBLIC_MODULES = {
    "canonry.checks": "canonry.store.rule_functions",
    "canonry.evaluators": "canonry.learning.evaluators",
}
TRUSTED_BRANCH = "refs/heads/main"


class UntrustedFunctionError(RegistryError):
    """A function name the trusted registry does not name, or from a module it does not allow."""


@dataclass(frozen=True)
class FunctionPolicy:
    """Which `module:function` names may be imported: named by the trusted registry, from allowed modules."""

    names: frozenset[str]
    modules: frozenset[str]
    source: str  # where the trusted registry was read, for messages

    def refusal(self, spec: str) -> str | None:
        """Why the name may not run, or None when it may."""
        module = spec.partition(":")[0]
        if module not in PUBLIC_MODULES and module not in self.modules:
            return (
                f"{spec}: module {module!r} is not allowed (Canonry's own canonry.checks and"
                f" canonry.evaluators, or policy.function_modules of {self.source}); not run"
            )
        if spec not in self.names:
            return f"{spec}: not named by the registry of {self.source}; needs a policy owner; not run"
        return None


def names_of(registry: Registry) -> frozenset[str]:
    """Every function a registry names: checks and holdout evaluators."""
    names = {name for spec in registry.libraries.values() for name in spec.checks}
    names.update(spec.holdout.evaluator for spec in registry.libraries.values() if spec.holdout is not None)
    return frozenset(names)


def policy_of(registry: Registry | None, source: str) -> FunctionPolicy:
    if registry is None:
        return FunctionPolicy(frozenset(), frozenset(), source)
    return FunctionPolicy(names_of(registry), frozenset(registry.policy.function_modules), source)


_POLICIES: dict[tuple[str, str], FunctionPolicy] = {}


def trusted_policy(repo: Repository) -> FunctionPolicy:
    """The function policy of main's committed registry (HEAD's without main); cached by commit."""
    commit = repo.ref_target(TRUSTED_BRANCH)
    label = "main"
    if commit is None:
        try:
            commit = repo.resolve_commit("HEAD")
        except Exception:  # an empty repository: nothing is trusted yet
            return FunctionPolicy(frozenset(), frozenset(), "no commit")
        label = "HEAD"
    key = (str(repo.git_dir), commit)
    found = _POLICIES.get(key)
    if found is None:
        rules = load_rules(TreeState(repo, commit, label))
        found = policy_of(rules.registry, f"{label} ({commit[:12]})")
        if len(_POLICIES) > 32:
            _POLICIES.clear()
        _POLICIES[key] = found
    return found


def resolve_function(spec: str, policy: FunctionPolicy) -> Callable[..., Any]:
    """Import a trusted `module:function`; raise UntrustedFunctionError or RegistryError otherwise."""
    refused = policy.refusal(spec)
    if refused is not None:
        raise UntrustedFunctionError(refused, REGISTRY_PATH)
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
    """Run the declared evaluator (when trusted); raise HoldoutError when it fails or answers nonsense."""
    try:
        func = resolve_function(spec.evaluator, trusted_policy(library.state.repo))
    except RegistryError as exc:
        raise HoldoutError(f"evaluator {exc.problem}", spec.data) from None
    try:
        raw = func(library, cases)
    except Exception as exc:  # the evaluator is the library's own code: any failure is a finding
        raise HoldoutError(
            f"evaluator {spec.evaluator} raised {type(exc).__name__}: {exc}".rstrip(": "), spec.data
        ) from None
    return coerce_evaluation(raw, cases, spec.evaluator, spec.data)
