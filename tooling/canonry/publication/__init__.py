"""Publication: how a draft becomes a version.

Owns: drafts (branches `draft/NAME`), review decisions (notes), the publish
plan and its all-or-nothing ref moves (`publish`, `refs`), audit (log,
explain, deprecation, rollback), tag signing and verification (`signing`),
writing new entries (`authoring`). May import: store, compare, gates,
learning.
"""
