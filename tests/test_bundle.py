"""Export bundles (canonry.bundle/v1): export, load_bundle verification, canonical JSON digests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import canonry
import pytest
from canonry.runtime.bundle import FORMAT, export_bundle
from canonry.runtime.canonical import canonical_json, es_number, sha256_of
from canonry.store.repo import Repository
from conftest import run


@pytest.fixture
def bundle_file(two_versions: Path, tmp_path: Path) -> Path:
    out = tmp_path / "mapping-v2.json"
    result = run(["export", "mapping@v2", "--repo", str(two_versions), "--output", str(out)])
    assert result.exit_code == 0 and "wrote" in result.stderr
    return out


def test_export_shape(two_versions: Path) -> None:
    result = run(["export", "mapping@latest", "--repo", str(two_versions)])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    repo = Repository(two_versions)
    commit = repo.resolve_commit("mapping/v2")
    assert doc["format"] == FORMAT
    assert {k: doc[k] for k in ("library", "version", "tag", "tag_object", "commit", "entry_count")} == {
        "library": "mapping",
        "version": 2,
        "tag": "mapping/v2",
        "tag_object": repo.ref_target("refs/tags/mapping/v2"),
        "commit": commit,
        "entry_count": 4,
    }
    assert doc["tree"] == repo.subtree(repo.tree_of(commit), "knowledge/mapping")
    assert doc["metadata"]["version"] == 2 and doc["metadata"]["tree"] == doc["tree"]
    assert [e["id"] for e in doc["entries"]] == ["m0", "m1", "m2", "m3"]
    first = doc["entries"][0]
    assert set(first) == {"id", "sha256", "entry"} and first["entry"]["confidence"] == 0.95
    # the digests are what the documentation says they are
    assert first["sha256"] == hashlib.sha256(canonical_json(first["entry"]).encode()).hexdigest()
    skeleton = {k: v for k, v in doc.items() if k != "sha256"}
    skeleton["entries"] = [{"id": e["id"], "sha256": e["sha256"]} for e in doc["entries"]]
    assert doc["sha256"] == hashlib.sha256(canonical_json(skeleton).encode()).hexdigest()
    # the Python API builds the same document
    built = export_bundle(canonry.open(two_versions), "mapping@v2")
    assert built["sha256"] == doc["sha256"] and built["entries"] == doc["entries"]


def test_load_bundle_verifies_and_reads(bundle_file: Path) -> None:
    bundle = canonry.load_bundle(bundle_file)
    assert (bundle.library, bundle.version, bundle.tag, len(bundle)) == ("mapping", 2, "mapping/v2", 4)
    assert bundle["m3"]["sector_code"] == "E36" and list(bundle) == ["m0", "m1", "m2", "m3"]
    assert bundle.metadata["version"] == 2
    with pytest.raises(canonry.UnknownEntryError):
        bundle["nope"]
    with pytest.raises(TypeError):
        bundle["m0"]["confidence"] = 0  # type: ignore[index]
    assert run(["verify", "--bundle", str(bundle_file)]).exit_code == 0


def test_any_json_layout_verifies_and_the_digest_can_be_pinned(bundle_file: Path, tmp_path: Path) -> None:
    doc = json.loads(bundle_file.read_text())
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(doc, indent=2, ensure_ascii=True))
    assert canonry.load_bundle(pretty).sha256 == doc["sha256"]
    assert len(canonry.load_bundle(bundle_file, sha256=doc["sha256"].upper())) == 4
    with pytest.raises(canonry.VerificationError, match="is not the expected"):
        canonry.load_bundle(bundle_file, sha256="0" * 64)


def test_duplicate_keys_inside_an_entry_are_refused(bundle_file: Path) -> None:
    data = bundle_file.read_bytes()
    bundle_file.write_bytes(
        data.replace(b'{"entry":{"confidence":0.95,', b'{"entry":{"confidence":0.1,"confidence":0.95,')
    )
    with pytest.raises(canonry.VerificationError, match="duplicate key 'confidence'"):
        canonry.load_bundle(bundle_file)


def test_a_second_export_encodes_nothing(two_versions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from canonry.runtime import bundle as bundle_module

    calls: list[object] = []
    real = bundle_module.canonical_json
    monkeypatch.setattr(bundle_module, "canonical_json", lambda v: calls.append(v) or real(v))
    first = export_bundle(canonry.open(two_versions), "mapping@v2")
    assert len(calls) == 4  # one per entry
    calls.clear()
    again = export_bundle(canonry.open(two_versions), "mapping@v2")
    assert again == first and calls == []  # canonical forms come from the cache by blob id


def test_the_same_version_exports_the_same_bytes(two_versions: Path) -> None:
    first = run(["export", "mapping@v1", "--repo", str(two_versions)]).stdout
    again = run(["export", "mapping@1", "--repo", str(two_versions)]).stdout
    assert first == again and json.loads(first)["entry_count"] == 3


def _flip(data: bytes, at: int) -> bytes:
    changed = bytes([data[at] ^ 0x01])
    return data[:at] + changed + data[at + 1 :]


@pytest.mark.parametrize(
    "needle",
    [b'"confidence":0.95', b'"pattern":"hospital"', b'"published_by"', b'"entry_count":4', b'"sha256":"'],
)
def test_one_byte_changed_is_refused(bundle_file: Path, needle: bytes) -> None:
    data = bundle_file.read_bytes()
    at = data.index(needle) + len(needle) - 2
    bundle_file.write_bytes(_flip(data, at))
    with pytest.raises(canonry.VerificationError):
        canonry.load_bundle(bundle_file)
    result = run(["verify", "--bundle", str(bundle_file), "--format", "json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["findings"][0]["gate"] == "bundle"


def test_every_single_byte_change_is_caught(bundle_file: Path) -> None:
    data = bundle_file.read_bytes()
    step = max(1, len(data) // 300)
    for at in range(0, len(data), step):
        changed = bundle_file.with_suffix(".changed")
        changed.write_bytes(_flip(data, at))
        try:
            canonry.load_bundle(changed)
        except canonry.VerificationError:
            continue
        # a flip JSON ignores (whitespace) is fine only if the content is really unchanged
        assert json.loads(_flip(data, at)) == json.loads(data), f"byte {at} changed content unnoticed"


def test_bundle_faults(tmp_path: Path, bundle_file: Path) -> None:
    doc = json.loads(bundle_file.read_text())
    cases = {
        "truncated.json": bundle_file.read_bytes()[:-40],
        "format.json": json.dumps({**doc, "format": "canonry.bundle/v2"}).encode(),
        "dup.json": bundle_file.read_bytes().replace(b'{"entry":', b'{"id":"x","entry":', 1),
        "nan.json": bundle_file.read_bytes().replace(b"0.95", b"NaN", 1),
        "dropped.json": json.dumps({**doc, "entries": doc["entries"][1:]}).encode(),
        "reordered.json": json.dumps({**doc, "entries": doc["entries"][::-1]}).encode(),
        "retagged.json": json.dumps({**doc, "tag": "mapping/v3"}).encode(),
        "notutf8.json": b"\xff\xfe" + bundle_file.read_bytes(),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(canonry.VerificationError):
            canonry.load_bundle(path)
    with pytest.raises(canonry.UsageError):
        canonry.load_bundle(tmp_path / "missing.json")


def test_export_of_unknown_things(two_versions: Path) -> None:
    assert run(["export", "mapping@v9", "--repo", str(two_versions)]).exit_code == 2
    assert run(["export", "nope@v1", "--repo", str(two_versions)]).exit_code == 2
    assert run(["export", "mapping@main", "--repo", str(two_versions)]).exit_code == 2


def test_export_through_a_lock(two_versions: Path, tmp_path: Path) -> None:
    lock = tmp_path / "canonry.lock"
    run(["pin", "mapping@v1", "--repo", str(two_versions), "--lock", str(lock)])
    canon = canonry.open(two_versions, lock=lock)
    assert export_bundle(canon, "mapping@v1")["entry_count"] == 3
    with pytest.raises(canonry.LockFileError):
        export_bundle(canon, "mapping@v2")


# --- canonical JSON (RFC 8785) -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.0, "0"),
        (-0.0, "0"),
        (0.95, "0.95"),
        (-1.5, "-1.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e16, "10000000000000000"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (123456789.123, "123456789.123"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (4.35, "4.35"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_numbers_as_ecmascript_writes_them(value: float, text: str) -> None:
    assert es_number(value) == text


def test_canonical_json_rules() -> None:
    assert canonical_json({"b": 1, "a": [1.0, True, None, "x"]}) == '{"a":[1,true,null,"x"],"b":1}'
    assert canonical_json({"s": 'quote" back\\ nl\n tab\t bell\x07 é €'}) == (
        '{"s":"quote\\" back\\\\ nl\\n tab\\t bell\\u0007 é €"}'
    )
    # keys sorted by UTF-16 code units: U+1F600 (surrogates D83D...) sorts before U+FFFD
    assert canonical_json({"\ufffd": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufffd":1}'
    assert canonical_json({"text": "see 1.0, and 3e-5"}) == '{"text":"see 1.0, and 3e-5"}'
    assert canonical_json([100.0, 2.5e-5]) == "[100,0.000025]"
    assert (
        canonical_json({"x": 1e-7, "y": 1e16, "z": -3e-05}) == '{"x":1e-7,"y":10000000000000000,"z":-0.00003}'
    )
    assert canonical_json(1e-05) == "0.00001" and canonical_json(2.0) == "2"
    uuid_like = {"ids": ["019b76da-a81e-7901-8019-68eb30000000"], "n": 0.5}
    assert canonical_json(uuid_like) == '{"ids":["019b76da-a81e-7901-8019-68eb30000000"],"n":0.5}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    # a fixed point for other implementations to check against
    assert (
        sha256_of({"id": "m0", "confidence": 1.0})
        == hashlib.sha256(b'{"confidence":1,"id":"m0"}').hexdigest()
    )
