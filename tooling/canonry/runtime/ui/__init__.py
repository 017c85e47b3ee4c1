"""The web UI of `canonry serve`: read-only, server-rendered HTML under /ui/ (no script, no build).

Pages (each links to the JSON it shows):

    /ui/                                                   libraries
    /ui/libraries/{name}                                   its versions (metadata, deprecation, signature)
    /ui/libraries/{name}/versions/{version}                one version and its entries
    /ui/libraries/{name}/versions/{version}/entries/{id}   an entry, its history, ?field=F explains a field
    /ui/diff?from=LIB@vA&to=LIB@vB                         a diff, field by field
    /ui/drafts  /ui/drafts/{name}                          open drafts: diff, gates, holdout, review
    /ui/health  /ui/health/{plot}.svg                      flywheel health and its plots (pygal)
"""

from __future__ import annotations

from ..routes import Api


def mount(api: Api) -> Api:
    """Serve the UI under /ui on this Api."""
    from .pages import page

    api.mount("ui", page)
    return api
