"""The reference allowed-signers file lets each listed steward sign every governed act, and nothing else."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from canonry.publication import channels, decisions
from canonry.publication.signing import ssh_verify
from conftest import ROOT
from trust_keys import keypair

TEMPLATE = ROOT / "tooling" / "canonry" / "templates" / "repo"
FILES = [ROOT / "schemas" / "allowed_signers", TEMPLATE / "schemas" / "allowed_signers"]
# review decisions and deprecations (decisions.NAMESPACE), channel moves, git's own (tags, commits)
GOVERNED = {decisions.NAMESPACE, channels.NAMESPACE, "git"}
_LINE = re.compile(r'^(?P<who>\S+) namespaces="(?P<ns>[^"]*)" (?P<key>\S+ \S+)$')


def key_lines(path: Path) -> list[re.Match[str]]:
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip() and not x.startswith("#")]
    matches = [_LINE.match(x) for x in lines]
    assert lines and all(matches), f'{path}: every key line is `PRINCIPAL namespaces="..." KEY`'
    return [m for m in matches if m]


def test_the_template_is_the_reference_file() -> None:
    assert FILES[0].read_bytes() == FILES[1].read_bytes()


@pytest.mark.parametrize("path", FILES, ids=["schemas", "template"])
def test_every_key_may_sign_every_governed_act(path: Path) -> None:
    for line in key_lines(path):
        assert set(line["ns"].split(",")) >= GOVERNED, line["who"]


def _sign(key: Path, payload: bytes, namespace: str) -> str:
    proc = subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", str(key)], input=payload, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode()


def test_the_reference_options_verify_each_governed_namespace_and_refuse_another(tmp_path: Path) -> None:
    # the reference line's options with a key of the test's own: what a steward's real line does
    line = key_lines(FILES[0])[0]
    key, pub = keypair(tmp_path, line["who"])
    signers = f'{line["who"]} namespaces="{line["ns"]}" {pub}\n'.encode()
    payload = b"canonry: a governed act\n"
    for namespace in sorted(GOVERNED):
        assert ssh_verify(payload, _sign(key, payload, namespace), line["who"], signers, namespace) is None
    other = "canonry-something-else"
    assert ssh_verify(payload, _sign(key, payload, other), line["who"], signers, other) is not None
