"""The health page's plots as SVG, drawn by pygal (server-side; no script, no external files).

pygal stamps each chart with a random id and the date it was drawn, and adds a
script with its tooltip settings: the id is replaced by the plot's name, the
stamp and the script are dropped, so the same data always gives the same bytes
on every replica, and the picture holds no script.
"""

from __future__ import annotations

import re
from typing import Any

PLOTS = ("holdout", "backlog", "bands", "workforce")
_RANDOM_ID = re.compile(r"chart-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STAMP = re.compile(r"<!--Generated with pygal[^>]*-->")
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)  # pygal's tooltip config: inert without its JS
_BAND_COLOURS = ("#2e7d32", "#1565c0", "#ef6c00", "#c62828")  # trusted, standard, caution, blocked


def _chart(kind: str, title: str, labels: list[str], **options: Any) -> Any:
    import pygal
    from pygal.style import Style

    style = Style(
        background="white",
        plot_background="white",
        font_family="DejaVu Sans, Arial, sans-serif",
        colors=options.pop("colors", ("#1565c0", "#c62828", "#2e7d32", "#ef6c00")),
    )
    chart = getattr(pygal, kind)(
        title=title,
        js=[],  # no scripts: the plot is a picture
        style=style,
        width=720,
        height=360,
        x_label_rotation=30 if len(labels) > 6 else 0,
        show_legend=True,
        legend_at_bottom=True,
        no_data_text="no published versions yet",
        print_values=False,
        disable_xml_declaration=True,
        **options,
    )
    chart.x_labels = labels
    return chart


def _svg(name: str, chart: Any) -> bytes:
    text = str(chart.render(is_unicode=True))
    text = _RANDOM_ID.sub(f"chart-{name}", _SCRIPT.sub("", _STAMP.sub("", text)))
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode("utf-8")


def plot(name: str, series: dict[str, Any]) -> bytes:
    """One plot of the health page (`name` in PLOTS) as SVG bytes."""
    versions = series["mapping_versions"]
    if name == "holdout":
        chart = _chart("Line", "Holdout accuracy per mapping version", versions, range=(0, 1))
        chart.add("accuracy", series["holdout"])
    elif name == "backlog":
        chart = _chart("Bar", "Override backlog per mapping version", versions)
        chart.add("overrides not yet ingested", series["backlog"])
    elif name == "bands":
        chart = _chart("StackedBar", "Mapping entries by confidence band", versions, colors=_BAND_COLOURS)
        for band, values in series["bands"].items():
            chart.add(band, values)
    elif name == "workforce":
        labels = series["workforce_versions"]
        chart = _chart("Line", "Workforce coverage (% of cells calibrated)", labels, range=(0, 100))
        chart.add("calibrated %", series["workforce_coverage"])
    else:
        raise KeyError(name)
    return _svg(name, chart)
