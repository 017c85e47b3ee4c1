"""Publication: how a draft becomes a version.

Owns: drafts (branches `draft/NAME`: `drafts`, `draft_views`), review
(`decisions`: signed notes bound to one commit; `review_rules`: who must
approve and what counts; `review`: the verbs; `review_gate`;
`commit_signatures` for `require_signed_commits`), the publish plans
(`plans`, `tagging`) and their all-or-nothing ref moves (`publish`, `refs`,
with `guards` checked first), rollback drafts (`rollback`), audit (`audit`:
log; `explain`; `deprecation`; `tag_audit`; `history`), tag and decision
signing and verification (`signing`, the one place ssh-keygen and gpg run),
writing new entries (`authoring`). May import: store, compare, gates,
learning.
"""
