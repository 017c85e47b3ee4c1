"""The canonical dumper: stable key order, block style, UTF-8, and nothing the loader would refuse."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import EntrySyntaxError
from . import yamlguard as guard

try:  # libyaml's emitter; the pure one writes the same text, slower
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover - libyaml is present wherever CI runs
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]

_CORE = "tag:yaml.org,2002:"


class _CanonicalDumper(_BaseDumper):
    """Quote every string that YAML 1.1 or YAML 1.2 would read as something else."""


for _tag, _regexp, _first in (
    ("int", re.compile(r"^(?:0o[0-7]+|0x[0-9a-fA-F]+|[-+]?[0-9]+)$"), list("-+0123456789")),
    (
        "float",
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+.0123456789"),
    ),
    ("bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")),
    ("null", re.compile(r"^(?:~|null|Null|NULL)$"), ["~", "n", "N"]),
):
    _CanonicalDumper.add_implicit_resolver(_CORE + _tag, _regexp, _first)


def _represent_str(dumper: Any, value: str) -> Any:
    if "\n" in value:
        return dumper.represent_scalar(_CORE + "str", value, style="|")
    return dumper.represent_scalar(_CORE + "str", value)


_CanonicalDumper.add_representer(str, _represent_str)


def canonical_order(doc: Any, top: bool = True) -> Any:
    """Order keys: `id` first at the top, then sorted; recursively."""
    if isinstance(doc, dict):
        keys = sorted(doc)
        if top and "id" in doc:
            keys.remove("id")
            keys.insert(0, "id")
        return {k: canonical_order(doc[k], False) for k in keys}
    if isinstance(doc, list):
        return [canonical_order(v, False) for v in doc]
    return doc


def _refuse_unwritable(doc: Any, path: str = "") -> None:
    """Raise EntrySyntaxError for a key or string the loader would refuse (text rules)."""
    if isinstance(doc, str):
        problem = guard.value_problem(doc)
        if problem is not None:
            raise EntrySyntaxError(f"cannot write {path or 'the document'}: {problem}", "<dump>")
    elif isinstance(doc, dict):
        for key, value in doc.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                problem = guard.value_problem(key, key=True)
                if problem is not None:
                    raise EntrySyntaxError(f"cannot write key {key!r}: {problem}", "<dump>")
            _refuse_unwritable(value, where)
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            _refuse_unwritable(value, f"{path}[{index}]")


def dump_yaml(doc: Any) -> str:
    """Dump in the canonical form: stable key order, block style, UTF-8 text.

    Refuses (EntrySyntaxError) a key or string that breaks the text rules: a
    control, bidi, zero-width or BOM character, or text not in NFC.
    """
    _refuse_unwritable(doc)
    text: str = yaml.dump(
        canonical_order(doc),
        Dumper=_CanonicalDumper,
        allow_unicode=True,
        default_flow_style=False,
        sort_keys=False,
        width=4096,
        indent=2,
    )
    return text
