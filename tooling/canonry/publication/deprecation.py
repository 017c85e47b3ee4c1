"""Versions and deprecation: a signed note of the library's steward on a version's tag object.

The tag never changes; the note under `refs/notes/canonry` says `deprecated:
{reason, by, at, signature}`, the signature an `ssh-keygen -Y sign -n
canonry-review` of `deprecation_payload`. It counts only when `by` is a
steward of the library in main's registry and, when main's policy asks for
signed reviews or signed tags, the signature verifies for `by` against main's
allowed-signers file; `deprecation` returns only such deprecations.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..errors import EntrySyntaxError, RefMovedError, ReviewError, UsageError
from ..store.commits import Provenance, actor_identity, message_with_trailers
from ..store.refnames import DEPRECATIONS_NOTES
from ..store.repo import Repository
from ..store.rules import try_registry_at
from ..store.times import rfc3339
from ..store.versions import Version, list_versions, parse_library_spec, parse_tag_message, resolve_version
from ..store.yamlio import dump_yaml, load_yaml
from .decisions import NAMESPACE, allowed_signers_at, sign_decision
from .signing import ssh_verify

NOTES_REF = DEPRECATIONS_NOTES  # notes on version tags (deprecations)
PAYLOAD_FORMAT = "canonry.deprecation/v1"


def deprecation(repo: Repository, version: Version, main: str = "main") -> dict[str, Any] | None:
    """{reason, by, at} when the version is deprecated by a verified decision of its steward, else None."""
    record, why = deprecation_claim(repo, version, main)
    return record if record is not None and why is None else None


def deprecation_claim(
    repo: Repository, version: Version, main: str = "main"
) -> tuple[dict[str, Any] | None, str | None]:
    """(the deprecation the note claims, why it does not count or None); (None, None) without one."""
    text = repo.read_note(NOTES_REF, version.target)
    if not text:
        return None, None
    try:
        doc = load_yaml(text, f"note on {version.tag}")
    except EntrySyntaxError:
        return None, None
    found = doc.get("deprecated") if isinstance(doc, dict) else None
    if not isinstance(found, dict):
        return None, None
    record = {k: found.get(k) for k in ("reason", "by", "at")}
    return record, _why_not(repo, version, found, main)


def deprecation_payload(tag: str, tag_object: str, by: str, at: str, reason: str) -> bytes:
    """The canonical text a deprecation's signature covers."""
    fields = [("format", PAYLOAD_FORMAT), ("tag", tag), ("tag_object", tag_object), ("by", by), ("at", at)]
    fields.append(("reason", reason))
    return "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in fields).encode("utf-8")


def _why_not(repo: Repository, version: Version, found: dict[str, Any], main: str) -> str | None:
    """Why a recorded deprecation does not count (None: it does): main's stewards and keys decide."""
    tip = repo.try_resolve_commit(main)
    registry = try_registry_at(repo, tip) if tip else None
    spec = registry.libraries.get(version.library) if registry else None
    if registry is None or spec is None:
        return f"{main} has no registry with library {version.library} to check it against"
    by, at, reason, signature = (found.get(k) for k in ("by", "at", "reason", "signature"))
    if not all(isinstance(x, str) for x in (by, at, reason)):
        return "it is not a complete deprecation record (reason, by, at)"
    assert isinstance(by, str) and isinstance(at, str) and isinstance(reason, str)
    if by.casefold() not in {s.casefold() for s in spec.stewards}:
        return f"{by} is not a steward of {version.library}"
    policy = registry.policy
    if signature is None and not (policy.require_signed_reviews or policy.require_signed_tags):
        return None  # the policy does not ask for signatures: advisory, as before
    if not isinstance(signature, str):
        return "it is not signed (the policy requires signed decisions)"
    keys = allowed_signers_at(repo, tip, policy) if tip else None
    if keys is None:
        return f"{main} has no allowed-signers file (policy.allowed_signers) to check it with"
    payload = deprecation_payload(version.tag, version.target, by, at, reason)
    problem = ssh_verify(payload, signature, by, keys, NAMESPACE)
    return (
        None
        if problem is None
        else f"its signature does not verify for {by} against {main}'s keys: {problem}"
    )


def deprecate(
    repo: Repository,
    spec: str,
    reason: str,
    by: str | None = None,
    *,
    key: str | None = None,
    main: str = "main",
) -> dict[str, Any]:
    """Mark LIBRARY@vN deprecated by its steward: a signed note on its tag object; the tag never changes."""
    if not reason or not reason.strip():
        raise UsageError("a deprecation needs a reason (--reason TEXT)")
    library, selector = parse_library_spec(spec)
    if selector == "latest" and "@" not in spec:
        raise UsageError(f"name the version to deprecate: {library}@vN")
    version = resolve_version(repo, library, selector)
    who = actor_identity(repo, by)
    tip = repo.resolve_commit(main)
    registry = try_registry_at(repo, tip)
    lib = registry.libraries.get(version.library) if registry else None
    if lib is None or who.email.casefold() not in {s.casefold() for s in lib.stewards}:
        stewards = ", ".join(lib.stewards) if lib else "none"
        raise ReviewError(
            f"{who.email} is not a steward of {version.library} in {main}'s registry: only its stewards"
            f" ({stewards}) may deprecate its versions"
        )
    record: dict[str, Any] = {"reason": " ".join(reason.split()), "by": who.email, "at": rfc3339()}
    assert registry is not None
    if key is not None or registry.policy.require_signed_reviews or registry.policy.require_signed_tags:
        payload = deprecation_payload(version.tag, version.target, who.email, record["at"], record["reason"])
        record["signature"] = sign_decision(repo, payload, key)
        why = _why_not(repo, version, record, main)
        if why is not None:
            raise ReviewError(f"the deprecation by {who.email} would not count: {why}; nothing was written")
    for attempt in range(5):
        doc: dict[str, Any] = {}
        existing = repo.read_note(NOTES_REF, version.target)
        if existing:
            try:
                loaded = load_yaml(existing, f"note on {version.tag}")
            except EntrySyntaxError:
                loaded = None
            if not isinstance(loaded, dict):
                raise UsageError(
                    f"the note on {version.tag} under {NOTES_REF} is not Canonry's; not touching it"
                )
            doc = loaded
        current, why = deprecation_claim(repo, version, main)
        if current is not None and why is None:
            return {"tag": version.tag, "already": True, **current}
        doc["deprecated"] = (
            record  # a deprecation that does not count is replaced (the notes history keeps it)
        )
        try:
            prov = Provenance("deprecate", who.email, record["reason"], version.tag)
            message = message_with_trailers(f"Deprecate {version.tag}", prov)
            repo.write_note(NOTES_REF, version.target, dump_yaml(doc), who, message)
            shown = {k: record[k] for k in ("reason", "by", "at")}
            return {"tag": version.tag, "already": False, "signed": "signature" in record, **shown}
        except RefMovedError:
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def versions_report(repo: Repository, library: str) -> dict[str, Any]:
    """Every published version of a library with its metadata and deprecation (canonry.versions/v1)."""
    versions = list_versions(repo, library)
    if not versions:
        main = repo.try_resolve_commit("main")
        registry = try_registry_at(repo, main) if main else None
        if registry is not None:
            registry.library(library)  # UnknownLibraryError for a name that is not a library
    rows = []
    for v in versions:
        info = repo.tag(v.target)
        claim, why = deprecation_claim(repo, v)
        rows.append(
            {
                "tag": v.tag,
                "version": v.number,
                "commit": v.commit,
                "tag_object": v.target if info else None,
                "summary": info.message.split("\n", 1)[0] if info else None,
                "metadata": parse_tag_message(info.message) if info else {},
                "deprecated": claim if claim is not None and why is None else None,
                "unverified_deprecation": {**claim, "why": why} if claim is not None and why else None,
            }
        )
    return {"format": "canonry.versions/v1", "library": library, "versions": rows}
