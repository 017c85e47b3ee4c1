"""Every ref name Canonry writes outside branches and tags: its notes and its `refs/canonry/` refs.

One place, so that a writer and a reader cannot disagree on a name (the
reviews' notes ref was once spelt two ways in three places). Branches
(`refs/heads/main`, `refs/heads/draft/...`) and version tags (`refs/tags/...`,
store.versions.TAG_PREFIX) are git's own namespaces and stay where they are used.
"""

from __future__ import annotations

# Notes: one note per annotated object, under one notes ref each.
DEPRECATIONS_NOTES = "refs/notes/canonry"  # on version tag objects: `deprecated: {reason, by, at}`
REVIEWS_NOTES = "refs/notes/canonry-reviews"  # on draft commits: the (signed) review decisions
GATES_NOTES = "refs/notes/canonry-gates"  # on gated head commits: JSON lines, one per gate run

# Canonry's own namespace.
CANONRY_PREFIX = "refs/canonry/"
CHANNELS_PREFIX = CANONRY_PREFIX + "channels/"  # <library>/<channel>: a channel's chain of signed moves
INDEX_PREFIX = CANONRY_PREFIX + "index/"  # <tree id>: the derived index of a library tree
REMOTES_PREFIX = CANONRY_PREFIX + "remotes/"  # <remote>/...: what publish last saw on a remote
INCOMING_PREFIX = "refs/canonry-incoming/"  # a mirror's staging area for a fetch, checked before it lands

NOTES_REFS = (DEPRECATIONS_NOTES, REVIEWS_NOTES, GATES_NOTES)


def channel_ref(library: str, channel: str) -> str:
    """The ref that holds a library's channel: `refs/canonry/channels/<library>/<channel>`."""
    return f"{CHANNELS_PREFIX}{library}/{channel}"


def index_ref(tree: str) -> str:
    """The ref that holds the derived index of a tree: `refs/canonry/index/<tree id>`."""
    return INDEX_PREFIX + tree


def remote_tags_mirror(remote: str) -> str:
    """Where publish mirrors a remote's tags: `refs/canonry/remotes/<remote>/tags/`."""
    return f"{REMOTES_PREFIX}{remote}/tags/"


def remote_notes_mirror(remote: str, notes_ref: str) -> str:
    """Where a remote's notes are fetched to: `refs/canonry/remotes/<remote>/notes/<name>`.

    A fetch lands there, so it never overwrites the local notes.
    """
    return f"{REMOTES_PREFIX}{remote}/notes/{notes_ref.removeprefix('refs/notes/')}"


def remote_reviews_mirror(remote: str) -> str:
    """Where publish fetches a remote's review notes (`remote_notes_mirror` of REVIEWS_NOTES)."""
    return remote_notes_mirror(remote, REVIEWS_NOTES)
