"""Signed versions: sign tag payloads the way git does, verify signed tags.

git writes a signed tag as its payload (the unsigned tag object, message
included) with the armored signature appended: `signed_tag_bytes`. The
signature is made by the program git would use for the configured
`gpg.format`: `ssh-keygen -Y sign -n git -f <user.signingkey>` for ssh,
`gpg --detach-sign --armor -u <key>` for openpgp.

`git verify-tag` checks the signature against the allowed signers but not the
ref the tag sits on: a validly signed `mapping/v1` placed at
`refs/tags/mapping/v5` passes it (tests/test_signing.py). `verify_tag` therefore also
checks the signed tag object's own name and the library and version in its
metadata against the ref.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import RegistryError, SignatureError, UsageError
from ..store.repo import Repository
from ..store.rules import registry_at
from ..store.versions import TAG_PREFIX, main_commit, parse_tag_message, parse_tag_name

SIGNATURE_STARTS = (
    b"-----BEGIN PGP SIGNATURE-----",
    b"-----BEGIN SSH SIGNATURE-----",
    b"-----BEGIN SIGNED MESSAGE-----",
)
_SSH_GOOD = re.compile(r'Good "git" signature for (?P<signer>.+?) with (?P<algo>\S+) key (?P<key>\S+)')
_GPG_GOOD = re.compile(r"^\[GNUPG:\] GOODSIG (?P<keyid>\S+) (?P<signer>.*)$", re.M)
_GPG_VALID = re.compile(r"^\[GNUPG:\] VALIDSIG (?P<key>\S+)", re.M)


@dataclass(frozen=True)
class SignatureInfo:
    tag: str  # the ref's short name, "mapping/v4"
    tag_object: str
    format: str  # "ssh" or "openpgp"
    signer: str | None  # the allowed-signers principal (ssh) or the key's user id (openpgp)
    key: str | None  # the key's fingerprint

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- signing -------------------------------------------------------------------------


def sign_payload(
    repo: Repository, payload: bytes, *, namespace: str = "git", key: str | None = None
) -> bytes:
    """An armored detached signature of payload, made as git makes it for the configured gpg.format.

    `key` (a private key file, or a public one whose private half is in the
    agent) forces an SSH signature with that key, whatever gpg.format says;
    `namespace` is ssh-keygen's `-n` (git's own is "git").
    """
    fmt = "ssh" if key else (repo.config_value("gpg.format") or "openpgp").lower()
    key = key or repo.config_value("user.signingkey")
    if fmt == "ssh":
        if not key:
            raise SignatureError(
                "gpg.format is ssh but user.signingkey is not set"
                " (git config user.signingkey ~/.ssh/id_ed25519.pub, or pass --key PATH)"
            )
        program = repo.config_value("gpg.ssh.program") or "ssh-keygen"
        literal = key[len("key::") :] if key.startswith("key::") else key if key.startswith("ssh-") else None
        if literal is None:
            path = os.path.expanduser(key)
            if not Path(path).is_file():
                raise SignatureError(f"the signing key {key} does not exist")
            return _run_signer([program, "-Y", "sign", "-n", namespace, "-f", path], payload)
        # A literal public key: ssh-keygen signs through the agent holding its private half.
        with tempfile.TemporaryDirectory() as tmp:
            pub = Path(tmp) / "signingkey.pub"
            pub.write_text(literal + "\n", encoding="utf-8")
            return _run_signer([program, "-Y", "sign", "-n", namespace, "-f", str(pub)], payload)
    if fmt == "openpgp":
        program = repo.config_value("gpg.openpgp.program") or repo.config_value("gpg.program") or "gpg"
        user = key or repo.config_value("user.email")
        args = [program, "--status-fd=2", "--detach-sign", "--armor"]
        return _run_signer([*args, "-u", user] if user else args, payload)
    raise SignatureError(f"gpg.format {fmt!r} is not supported for signing versions (use ssh or openpgp)")


def run_tool(cmd: list[str], payload: bytes, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run a signing program (ssh-keygen, gpg) with payload on stdin: the one place Canonry does so."""
    try:
        return subprocess.run(cmd, input=payload, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise SignatureError(f"{cmd[0]} is not installed: it is needed to sign and verify") from None
    except subprocess.TimeoutExpired:
        raise SignatureError(f"{cmd[0]} did not finish in {timeout:.0f} s (a passphrase prompt?)") from None


def _run_signer(cmd: list[str], payload: bytes) -> bytes:
    proc = run_tool(cmd, payload)
    signature = proc.stdout
    if proc.returncode != 0 or not signature.lstrip().startswith(b"-----BEGIN"):
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else "no signature"
        raise SignatureError(f"{' '.join(cmd[:3])} could not sign: {reason}")
    return signature


def ssh_verify(
    payload: bytes, signature: str, principal: str, allowed_signers: bytes, namespace: str
) -> str | None:
    """Why an SSH signature of payload does not hold for principal under allowed_signers (None: it does).

    `allowed_signers` is the file's content (read from a commit, never from a
    work tree under check); `ssh-keygen -Y verify` does the checking.
    """
    if not signature.strip().startswith("-----BEGIN SSH SIGNATURE-----"):
        return "no SSH signature"
    with tempfile.TemporaryDirectory() as tmp:
        signers, sig = Path(tmp) / "allowed_signers", Path(tmp) / "payload.sig"
        signers.write_bytes(allowed_signers)
        sig.write_text(signature.strip() + "\n", encoding="utf-8")
        cmd = ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", principal, "-n", namespace]
        proc = run_tool([*cmd, "-s", str(sig)], payload, timeout=60)
    if proc.returncode == 0:
        return None
    lines = [x.strip() for x in proc.stderr.decode("utf-8", "replace").splitlines() if x.strip()]
    return lines[-1] if lines else "the signature does not verify"


def ssh_principals(payload_signature: str, allowed_signers: bytes) -> list[str]:
    """The principals of allowed_signers whose key made the signature (`ssh-keygen -Y find-principals`)."""
    with tempfile.TemporaryDirectory() as tmp:
        signers, sig = Path(tmp) / "allowed_signers", Path(tmp) / "payload.sig"
        signers.write_bytes(allowed_signers)
        sig.write_text(payload_signature.strip() + "\n", encoding="utf-8")
        proc = run_tool(["ssh-keygen", "-Y", "find-principals", "-f", str(signers), "-s", str(sig)], b"")
    if proc.returncode != 0:
        return []
    return [x.strip() for x in proc.stdout.decode("utf-8", "replace").splitlines() if x.strip()]


def signed_tag_bytes(payload: bytes, signature: bytes) -> bytes:
    """The raw signed tag object: the payload, then the armored signature (as git writes it)."""
    if not payload.endswith(b"\n"):
        payload += b"\n"
    if not signature.endswith(b"\n"):
        signature += b"\n"
    return payload + signature


# --- verifying -----------------------------------------------------------------------


def is_signed(raw_tag: bytes) -> bool:
    return any(b"\n" + start in raw_tag for start in SIGNATURE_STARTS)


def verify_tag(
    repo: Repository, ref_name: str, tag_oid: str, allowed_signers: str | None = None
) -> SignatureInfo:
    """Check the tag's signature and that the signed content names the ref it sits on.

    Raise SignatureError when the tag is unsigned, the signature does not hold
    for the allowed signers, or the signed tag names another tag, library or
    version than the ref (a signed tag replayed under another name).
    """
    short = ref_name[len(TAG_PREFIX) :] if ref_name.startswith(TAG_PREFIX) else ref_name
    info = repo.tag(tag_oid)
    if info is None:
        raise SignatureError(f"{short} is a lightweight tag: it cannot carry a signature")
    if not is_signed(repo.raw_object(tag_oid)):
        raise SignatureError(f"{short} is not signed (signatures are required)")
    check = repo.verify_tag(tag_oid, allowed_signers)
    output = check.output
    if not check.ok:
        raise SignatureError(f"{short}: the signature does not verify: {check.message}")
    if info.name != short:
        raise SignatureError(
            f"{short}: the signed tag object is {info.name!r}, not {short!r} (a signed tag replayed under"
            " another name is refused)"
        )
    parsed = parse_tag_name(short)
    if parsed is not None:
        meta = parse_tag_message(info.message)
        library, number = parsed
        if meta.get("library") != library or meta.get("version") != number:
            raise SignatureError(
                f"{short}: the signed metadata names library {meta.get('library')!r} version"
                f" {meta.get('version')!r}, not {library!r} version {number}"
            )
    ssh = _SSH_GOOD.search(output)
    if ssh:
        return SignatureInfo(short, tag_oid, "ssh", ssh["signer"], ssh["key"])
    good, valid = _GPG_GOOD.search(output), _GPG_VALID.search(output)
    return SignatureInfo(
        short, tag_oid, "openpgp", good["signer"] if good else None, valid["key"] if valid else None
    )


def resolve_allowed_signers(repo: Repository, explicit: str | os.PathLike[str] | None = None) -> str | None:
    """The allowed-signers file to verify with: the one given, else git's own setting, else the policy's.

    The policy's `allowed_signers` is a path in the repository (read at main) or
    an absolute path on this machine. The file given by the consumer is the
    real root of trust: the policy comes from the source being verified.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UsageError(f"allowed signers file {path} does not exist")
        return str(path.resolve())
    if repo.config_value("gpg.ssh.allowedSignersFile"):
        return None  # git reads its own setting
    commit = main_commit(repo)
    if commit is None:
        return None
    try:
        configured = registry_at(repo, commit).policy.allowed_signers
    except RegistryError:
        return None
    if not configured:
        return None
    if configured.startswith(("/", "~")):
        return str(Path(configured).expanduser())
    item = repo.entry_at(repo.tree_of(commit), configured)
    if item is None or item.is_tree:
        raise SignatureError(f"the policy's allowed_signers file {configured} is not on main")
    cached = repo.cache_dir() / f"allowed_signers-{item.oid}"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(repo.read_blob(item.oid))
    return str(cached)
