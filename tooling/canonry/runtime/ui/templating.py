"""The UI's templates: jinja2 with autoescaping on for every value, strict about undefined names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..._version import __version__

_TEMPLATES = Path(__file__).parent / "templates"
_ENV: Any = None


def _env() -> Any:
    global _ENV
    if _ENV is None:
        import jinja2

        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
            autoescape=True,  # every value is escaped; nothing is marked safe
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _ENV.filters["value"] = _value
    return _ENV


def _value(v: Any) -> str:
    """A field value as text: strings as they are, anything else as JSON."""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)


def render(template: str, **context: Any) -> bytes:
    return _env().get_template(template).render(version=__version__, **context).encode("utf-8")
