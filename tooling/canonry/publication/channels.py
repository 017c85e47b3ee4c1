"""Channels: named, signed pointers from a library to one of its published versions.

A channel (`stable`, `canary`, or a name the library declares under
`channels:` in libraries.yaml) lives at `refs/canonry/channels/<library>/<channel>`
as a chain of commits, one per move; the chain is the channel's audit log and
mirrors fetch it. Each commit's tree holds `channel.json` (the signed record,
canonical JSON) and `channel.sig` (an SSH signature of it in the namespace
`canonry-channel`, `ssh-keygen -Y sign -n canonry-channel`).

A move is a governed act: it names the main commit it was authorized at
(`base`), its signer must be a steward of the library in the registry at that
commit, and the signature must verify against the allowed-signers file the
policy names there (never a file from the machine or a draft). The record also
names the chain commit it follows (`previous`), so an old signed move cannot be
replayed on top of a newer one. Moving a channel never touches a tag.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ChannelError, RegistryError, UnknownRefError, UsageError
from ..store.commits import Provenance, message_with_trailers
from ..store.refnames import CHANNELS_PREFIX, channel_ref
from ..store.registry import LibrarySpec
from ..store.repo import Identity, RefUpdate, Repository
from ..store.rules import registry_at
from ..store.times import rfc3339
from ..store.versions import TAG_PREFIX, Version, list_versions, resolve_version
from .audit import deprecation
from .decisions import allowed_signers_at
from .signing import sign_payload, ssh_verify

PREFIX = CHANNELS_PREFIX
DEFAULT_CHANNELS = ("stable", "canary")
NAMESPACE = "canonry-channel"  # an ssh-keygen -n of its own: a channel signature is no git signature
FORMAT = "canonry.channel/v1"
RECORD, SIGNATURE = "channel.json", "channel.sig"
_FIELDS: tuple[str, ...] = ("format", "library", "channel", "version", "tag", "tag_object", "commit")
_FIELDS += ("by", "reason", "at", "previous", "base")


@dataclass(frozen=True)
class ChannelRecord:
    """One move of a channel, as signed; `record` is the chain commit that holds it."""

    library: str
    channel: str
    version: int
    tag: str
    tag_object: str
    commit: str
    by: str
    reason: str
    at: str
    previous: str | None
    base: str
    record: str = ""
    signature: str = ""

    def payload(self) -> bytes:
        """The signed bytes: canonical JSON of the fields (sorted keys, no spaces, UTF-8)."""
        doc = {k: v for k, v in asdict(self).items() if k not in ("record", "signature")}
        doc["format"] = FORMAT
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "signature"}


def declared_channels(spec: LibrarySpec) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*DEFAULT_CHANNELS, *spec.channels)))


# --- reading ---------------------------------------------------------------------------------


def read_record(repo: Repository, record_commit: str) -> ChannelRecord:
    """The move a chain commit holds; ChannelError when it is not one."""
    info = repo.commit(record_commit)
    payload = repo.entry_at(info.tree, RECORD)
    sig = repo.entry_at(info.tree, SIGNATURE)
    if payload is None or sig is None or payload.is_tree or sig.is_tree:
        raise ChannelError(f"channel commit {record_commit[:12]} holds no {RECORD} and {SIGNATURE}")
    raw = repo.read_blob(payload.oid)
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        doc = None
    if not isinstance(doc, dict) or set(doc) != set(_FIELDS) or doc.get("format") != FORMAT:
        raise ChannelError(f"channel commit {record_commit[:12]}: {RECORD} is not a {FORMAT} record")
    fields = {k: doc[k] for k in _FIELDS if k != "format"}
    record = ChannelRecord(**fields, record=record_commit, signature=repo.read_blob(sig.oid).decode())
    if record.payload() != raw:
        raise ChannelError(f"channel commit {record_commit[:12]}: {RECORD} is not in canonical form")
    return record


def current(repo: Repository, library: str, channel: str) -> ChannelRecord | None:
    """The channel's latest move, or None when it was never set."""
    tip = repo.ref_target(channel_ref(library, channel))
    return read_record(repo, tip) if tip else None


def history(repo: Repository, library: str, channel: str, limit: int = 1000) -> list[ChannelRecord]:
    """The channel's moves, newest first (the audit log)."""
    out: list[ChannelRecord] = []
    tip = repo.ref_target(channel_ref(library, channel))
    while tip and len(out) < limit:
        record = read_record(repo, tip)
        out.append(record)
        tip = record.previous
    return out


def check_record(repo: Repository, record: ChannelRecord, main: str = "main") -> str:
    """Check a move as a consumer would; return the signing key's verdict, raise ChannelError.

    The record must follow its chain parent, name a main commit still on main's
    history, be signed by a steward of that commit's registry with a key of its
    allowed-signers file, and name the tag object its version tag names now.
    """
    parents = repo.commit(record.record).parents if record.record else ()
    if tuple(p for p in [record.previous] if p) != parents:
        raise ChannelError(
            f"{record.library}@{record.channel}: the record at {record.record[:12]} does not name the move"
            " it follows (a replayed or rewritten record)"
        )
    main_tip = repo.try_resolve_commit(main)
    if main_tip is None or not repo.has_object(record.base) or not repo.is_ancestor(record.base, main_tip):
        raise ChannelError(
            f"{record.library}@{record.channel}: authorized at {record.base[:12]}, which is not on {main}"
        )
    try:
        registry = registry_at(repo, record.base)
    except RegistryError as exc:  # a move authorized under unreadable rules does not verify
        raise ChannelError(f"the registry at {record.base[:12]} cannot be read: {exc}") from None
    spec = registry.library(record.library)
    _check_steward(spec, record.by)
    keys = allowed_signers_at(repo, record.base, registry.policy)
    if keys is None:
        raise ChannelError(f"the policy at {record.base[:12]} names no allowed-signers file in the repo")
    why = ssh_verify(record.payload(), record.signature, record.by, keys, NAMESPACE)
    if why is not None:
        raise ChannelError(
            f"{record.library}@{record.channel}: the signature of {record.by} does not verify: {why}"
        )
    target = repo.ref_target(TAG_PREFIX + record.tag)
    if target != record.tag_object:
        raise ChannelError(
            f"{record.library}@{record.channel} points at {record.tag} as tag object"
            f" {record.tag_object[:12]}, but the tag now names {target[:12] if target else 'nothing'}"
        )
    return "verified"


def _check_steward(spec: LibrarySpec, who: str) -> None:
    if who.casefold() not in {s.casefold() for s in spec.stewards}:
        stewards = ", ".join(spec.stewards) or "none"
        raise ChannelError(f"{who} is not a steward of {spec.name} (stewards: {stewards})")


def channels_report(repo: Repository, library: str, main: str = "main") -> dict[str, Any]:
    """canonry.channels/v1: every declared or set channel of a library, verified, with its moves."""
    base = repo.resolve_commit(main)
    spec = registry_at(repo, base).library(library)
    names = list(declared_channels(spec))
    prefix = f"{PREFIX}{library}/"
    names += sorted(n[len(prefix) :] for n in repo.refs(prefix) if n[len(prefix) :] not in names)
    rows = []
    for name in names:
        moves = history(repo, library, name)
        row: dict[str, Any] = {"channel": name, "declared": name in declared_channels(spec), "moves": []}
        row["current"] = moves[0].to_dict() if moves else None
        if moves:
            try:
                row["verified"], row["problem"] = check_record(repo, moves[0], main) == "verified", None
            except (ChannelError, RegistryError, UnknownRefError) as exc:
                row["verified"], row["problem"] = False, str(exc)
        row["moves"] = [m.to_dict() for m in moves]
        rows.append(row)
    return {"format": "canonry.channels/v1", "library": library, "channels": rows}


# --- the governed write ------------------------------------------------------------------------


def set_channel(
    repo: Repository,
    library: str,
    channel: str,
    version: str | int,
    by: str,
    reason: str,
    *,
    key: str | None = None,
    main: str = "main",
) -> tuple[ChannelRecord, bool]:
    """Point a channel at a published version: (the record, whether it moved).

    Refuse an unknown library, channel or version, a deprecated version, a
    signer who is not one of the library's stewards at main, and a signature
    that does not verify against main's allowed signers. No tag moves.
    """
    if not reason or not reason.strip():
        raise UsageError("moving a channel needs a reason (--reason TEXT)")
    if not by or "@" not in by:
        raise UsageError("name who moves the channel (--by EMAIL)")
    base = repo.resolve_commit(main)
    registry = registry_at(repo, base)
    spec = registry.library(library)
    if channel not in declared_channels(spec):
        declared = ", ".join(declared_channels(spec))
        raise UsageError(
            f"{library} has no channel {channel!r} (channels: {declared};"
            f" declare others under libraries.{library}.channels in libraries.yaml)"
        )
    target = _version(repo, library, version)
    gone = deprecation(repo, target)
    if gone is not None:
        raise ChannelError(f"{target.tag} is deprecated ({gone.get('reason')}): no channel may point at it")
    _check_steward(spec, by)
    keys = allowed_signers_at(repo, base, registry.policy)
    if keys is None:
        raise ChannelError(
            "a channel move is a signed decision, but the policy on main names no allowed-signers file"
            " in the repository (policy.allowed_signers)"
        )
    ref = channel_ref(library, channel)
    previous = repo.ref_target(ref)
    if previous is not None:
        last = read_record(repo, previous)
        if last.tag == target.tag and last.tag_object == target.target:
            return last, False
    record = ChannelRecord(
        library=library,
        channel=channel,
        version=target.number,
        tag=target.tag,
        tag_object=target.target,
        commit=target.commit,
        by=by,
        reason=" ".join(reason.split()),
        at=rfc3339(),
        previous=previous,
        base=base,
    )
    payload = record.payload()
    signature = sign_payload(repo, payload, namespace=NAMESPACE, key=key).decode("ascii", "replace")
    why = ssh_verify(payload, signature, by, keys, NAMESPACE)
    if why is not None:
        raise ChannelError(
            f"the signature does not verify as {by}'s"
            f" against {registry.policy.allowed_signers} on main: {why}"
        )
    tree = repo.write_tree(None, {RECORD: payload, SIGNATURE: signature.encode("ascii")})
    summary = f"Set {library}@{channel} to {target.tag}"
    message = message_with_trailers(summary, Provenance("channel", by, record.reason, target.tag))
    commit = repo.create_commit(tree, [previous] if previous else [], message, Identity(by.split("@")[0], by))
    repo.update_refs([RefUpdate(ref, commit, previous)], summary)
    return ChannelRecord(**{**asdict(record), "record": commit, "signature": signature}), True


def _version(repo: Repository, library: str, version: str | int) -> Version:
    text = str(version)
    if text == "latest" or text.lstrip("v").isdigit():
        return resolve_version(repo, library, text)
    known = ", ".join(v.tag for v in list_versions(repo, library)) or "none published"
    raise UsageError(f"{text!r} is not a version of {library} (vN or latest; versions: {known})")


def push_channel(repo: Repository, library: str, channel: str, remote: str) -> None:
    """Push the channel's chain to remote, fast-forward only (a rejected push means someone moved it)."""
    ref = channel_ref(library, channel)
    pushed = repo.push(remote, [(ref, ref)], atomic=False, timeout=120)
    if not pushed.ok:
        reason = "; ".join(pushed.rejected) or pushed.message
        raise ChannelError(
            f"{remote} refused {library}@{channel} ({reason}): fetch it"
            f" (git fetch {remote} '{ref}:{ref}'), check `canonry channel list {library}`, and decide again"
        )
