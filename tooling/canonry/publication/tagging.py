"""Versions: which libraries get a new number, their metadata, and the tag objects (signed or not)."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import RegistryError, SignatureError, UsageError
from ..gates.findings import GateResult
from ..store.registry import LibrarySpec, Registry
from ..store.repo import Identity, Repository
from ..store.rules import registry_in_tree
from ..store.times import epoch_now, rfc3339
from ..store.versions import Version, latest_version
from ..store.yamlio import dump_yaml
from .decisions import allowed_signers_at
from .refs import NewVersion
from .signing import ssh_principals


def has_library(repo: Repository, commit: str, name: str) -> bool:
    try:
        return name in registry_in_tree(repo, repo.tree_of(commit)).libraries
    except RegistryError:
        return False


def published_tree(repo: Repository, version: Version, spec: LibrarySpec) -> str | None:
    """The library's subtree at the version's commit (None: the folder was empty)."""
    return repo.subtree(repo.tree_of(version.commit), spec.path)


def libraries_to_tag(
    repo: Repository, registry: Registry, tree: str
) -> list[tuple[LibrarySpec, int, Version | None]]:
    """(spec, next number, latest version) of each library whose folder differs from its latest version.

    A library without a version is tagged v1 once its folder has content, so the
    first publication tags every library that has entries.
    """
    out = []
    for name in registry.names():
        spec = registry.libraries[name]
        latest = latest_version(repo, name)
        published = published_tree(repo, latest, spec) if latest else None
        if repo.subtree(tree, spec.path) != published:
            out.append((spec, latest.number + 1 if latest else 1, latest))
    return out


def new_version(
    repo: Repository,
    spec: LibrarySpec,
    number: int,
    parent: Version | None,
    commit: str,
    tree: str,
    who: Identity,
    now: int,
    result: GateResult,
    *,
    draft: str | None = None,
    approved: list[str] | None = None,
    rollback_of: str | None = None,
) -> NewVersion:
    new_sub = repo.subtree(tree, spec.path)
    old_sub = published_tree(repo, parent, spec) if parent else None
    added, removed, changed = _counts(repo, spec, old_sub, new_sub)
    count = (result.metrics.get("libraries") or {}).get(spec.name)
    if count is None:
        count = _entry_count(repo, spec, new_sub)
    holdout = (result.metrics.get("holdout") or {}).get(spec.name)
    meta = {
        "library": spec.name,
        "version": number,
        "parent": parent.tag if parent else None,
        "published_at": rfc3339(now),
        "published_by": who.email,
        "approved_by": list(approved or []),
        "draft": draft,
        "entry_count": count,
        "added": added,
        "removed": removed,
        "changed": changed,
        "tree": new_sub,
        "holdout": {
            k: holdout.get(k) for k in ("metric", "value", "baseline", "cases", "interval", "per_section")
        }
        if isinstance(holdout, dict)
        else None,
        "total_overrides_ingested": (result.metrics.get("overrides_ingested") or {}).get(spec.name, 0),
        "rollback_of": rollback_of,
        "gates": list(result.gates),
    }
    return NewVersion(spec.name, number, commit, meta)


def _counts(repo: Repository, spec: LibrarySpec, old: str | None, new: str | None) -> tuple[int, int, int]:
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for c in repo.diff_trees(old, new):
        entry_id = spec.id_from_relative_path(c.path)
        if entry_id is None:
            continue
        if c.old_oid:
            before[entry_id] = c.old_oid
        if c.new_oid:
            after[entry_id] = c.new_oid
    changed = sum(1 for i in before.keys() & after.keys() if before[i] != after[i])
    return len(after.keys() - before.keys()), len(before.keys() - after.keys()), changed


def _entry_count(repo: Repository, spec: LibrarySpec, tree: str | None) -> int:
    if tree is None:
        return 0
    return sum(1 for path, _item in repo.walk_tree(tree) if spec.id_from_relative_path(path) is not None)


def tag_message(version: NewVersion) -> str:
    """The tag message: a one-line summary, a blank line, the metadata as YAML."""
    m = version.metadata
    summary = f"{version.tag}: {m['added']} added, {m['removed']} removed, {m['changed']} changed"
    if m.get("rollback_of"):
        summary += f" (rollback to {m['rollback_of']})"
    elif m.get("draft"):
        summary += f" ({m['draft']})"
    return f"{summary}\n\n{dump_yaml(m)}"


def tag_payload(name: str, commit: str, message: str, tagger: Identity, when: int) -> bytes:
    """The bytes of an annotated tag object (what a signature covers)."""
    text = (
        f"object {commit}\ntype commit\ntag {name}\n"
        f"tagger {tagger.name} <{tagger.email}> {when} +0000\n\n{message}"
    )
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def write_tag(repo: Repository, version: NewVersion, signer: Callable[[bytes], bytes] | None) -> NewVersion:
    m = version.metadata
    who = Identity(m["published_by"].split("@", 1)[0], m["published_by"])
    when = epoch_now()
    payload = tag_payload(version.tag, version.commit, tag_message(version), who, when)
    raw = signer(payload) if signer else payload
    return NewVersion(version.library, version.number, version.commit, m, repo.write_raw_tag(raw))


def tag_signer(repo: Repository, sign: bool) -> Callable[[bytes], bytes] | None:
    """payload -> signed tag bytes (canonry.publication.signing, as git signs), when signing is asked for."""
    if not sign:
        return None
    from . import signing

    def signed(payload: bytes) -> bytes:
        return signing.signed_tag_bytes(payload, signing.sign_payload(repo, payload))

    return signed


def require_signing(repo: Repository, base: str, sign: bool) -> None:
    try:
        policy = registry_in_tree(repo, repo.tree_of(base)).policy
    except RegistryError:
        return  # the gates report a broken registry
    if policy.require_signed_tags and not sign:
        raise UsageError("the policy in schemas/libraries.yaml requires signed tags: pass --sign")


def check_tag_signer(repo: Repository, base: str, versions: list[NewVersion]) -> None:
    """With `require_signed_tags`, the publisher (`--by`) must be the principal of the key that signed.

    Checked on the first tag object written (all are signed with one key),
    against the base's allowed signers, before any ref moves.
    """
    try:
        policy = registry_in_tree(repo, repo.tree_of(base)).policy
    except RegistryError:
        return
    if not policy.require_signed_tags or not versions:
        return
    by = str(versions[0].metadata["published_by"])
    raw = repo.raw_object(versions[0].tag_object)
    marker = b"-----BEGIN SSH SIGNATURE-----"
    if marker not in raw:
        return  # an OpenPGP signature: its user id is checked by `canonry verify`
    keys = allowed_signers_at(repo, base, policy)
    if keys is None:
        raise SignatureError(
            "the policy requires signed tags but main has no allowed-signers file (policy.allowed_signers)"
        )
    principals = ssh_principals(raw[raw.index(marker) :].decode("ascii", "replace"), keys)
    if by.casefold() not in {p.casefold() for p in principals}:
        signer = ", ".join(principals) or "a key main's allowed signers do not list"
        raise SignatureError(
            f"--by {by} is not the principal of the key that signs the tags ({signer}); nothing was published"
        )
