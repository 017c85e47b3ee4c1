"""`canonry serve`: the read-only HTTP API, with a real HTTP client on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from canonry.runtime.api import Canon
from canonry.runtime.serve import MAX_TARGET, start
from canonry.store.repo import Repository
from runtime_helpers import Client, publish
from trust_keys import signed_deprecation


@pytest.fixture
def api(two_versions: Path) -> Iterator[Client]:
    canon = Canon(Repository(two_versions), str(two_versions))
    running = start(canon, "127.0.0.1", 0, quiet=True)
    try:
        yield Client(running.port)
    finally:
        running.stop()


def test_libraries(api: Client) -> None:
    status, headers, doc = api.get("/libraries")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert doc["format"] == "canonry.api.libraries/v1"
    mapping = next(row for row in doc["libraries"] if row["name"] == "mapping")
    assert mapping == {
        "name": "mapping",
        "lifecycle": "versioned",
        "description": mapping["description"],
        "versions": 2,
        "latest": "mapping/v2",
    }
    assert headers["Cache-Control"] == "no-cache" and headers["ETag"].startswith('"')


def test_versions_with_deprecation(api: Client, two_versions: Path, tmp_path: Path) -> None:
    repo = Repository(two_versions)
    v1 = repo.ref_target("refs/tags/mapping/v1")
    signed_deprecation(two_versions, tmp_path, "mapping@v1", "superseded")
    status, _h, doc = api.get("/libraries/mapping/versions")
    assert status == 200 and doc["format"] == "canonry.api.versions/v1" and doc["latest"] == "mapping/v2"
    first, second = doc["versions"]
    assert (first["tag"], first["tag_object"], first["deprecated"]) == ("mapping/v1", v1, "superseded")
    assert second["deprecated"] is None and second["tree"] == repo.subtree(
        repo.tree_of(second["commit"]), "knowledge/mapping"
    )


def test_version_is_immutable_and_latest_is_not(api: Client, two_versions: Path) -> None:
    tag_object = Repository(two_versions).ref_target("refs/tags/mapping/v1")
    for selector in ("v1", "1"):
        status, headers, doc = api.get(f"/libraries/mapping/versions/{selector}")
        assert status == 200 and headers["ETag"] == f'"{tag_object}"'
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert (doc["format"], doc["tag"], doc["entry_count"]) == (
            "canonry.api.version/v1",
            "mapping/v1",
            3,
        )
        assert doc["metadata"]["version"] == 1 and doc["summary"].startswith("mapping/v1:")
    status, headers, doc = api.get("/libraries/mapping/versions/latest")
    assert status == 200 and doc["tag"] == "mapping/v2" and headers["Cache-Control"] == "no-cache"


def test_if_none_match_answers_304(api: Client) -> None:
    _s, headers, _d = api.get("/libraries/mapping/versions/v2/entries/m0")
    etag = headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, again, body = api.request(
            "/libraries/mapping/versions/v2/entries/m0", headers={"If-None-Match": header}
        )
        assert status == 304 and body == b"" and again["ETag"] == etag
    status, _h, _b = api.request(
        "/libraries/mapping/versions/v2/entries/m0", headers={"If-None-Match": '"stale"'}
    )
    assert status == 200
    _s, headers, _d = api.get("/libraries")
    status, _h, _b = api.request("/libraries", headers={"If-None-Match": headers["ETag"]})
    assert status == 304


def test_entries_and_pages(api: Client, two_versions: Path) -> None:
    repo = Repository(two_versions)
    tree = repo.subtree(repo.tree_of(repo.resolve_commit("mapping/v2")), "knowledge/mapping")
    status, headers, doc = api.get("/libraries/mapping/versions/v2/entries")
    assert status == 200 and headers["ETag"] == f'"{tree}"' and doc["format"] == "canonry.api.entries/v1"
    assert doc["count"] == 4 and [e["id"] for e in doc["entries"]] == ["m0", "m1", "m2", "m3"]
    assert doc["next_after"] is None
    _s, page_headers, page = api.get("/libraries/mapping/versions/v2/entries?limit=2")
    assert [e["id"] for e in page["entries"]] == ["m0", "m1"] and page["next_after"] == "m1"
    assert page_headers["ETag"] != headers["ETag"]
    _s, _h, rest = api.get("/libraries/mapping/versions/v2/entries?limit=2&after=m1")
    assert [e["id"] for e in rest["entries"]] == ["m2", "m3"] and rest["next_after"] is None
    for bad in ("limit=0", "limit=x", "limit=10001", "after=NOT_AN_ID", "limit=1&limit=2"):
        status, _h, err = api.get(f"/libraries/mapping/versions/v2/entries?{bad}")
        assert status == 400 and err["format"] == "canonry.api.error/v1"


def test_entry(api: Client, two_versions: Path) -> None:
    repo = Repository(two_versions)
    blob = repo.entry_at(repo.tree_of(repo.resolve_commit("mapping/v2")), "knowledge/mapping/m0.yaml")
    assert blob is not None
    status, headers, doc = api.get("/libraries/mapping/versions/v2/entries/m0")
    assert status == 200 and headers["ETag"] == f'"{blob.oid}"'
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (doc["format"], doc["id"], doc["blob"], doc["entry"]["confidence"]) == (
        "canonry.api.entry/v1",
        "m0",
        blob.oid,
        0.95,
    )
    _s, latest, doc = api.get("/libraries/mapping/versions/latest/entries/m0")
    assert latest["Cache-Control"] == "no-cache" and latest["ETag"] != headers["ETag"]
    assert doc["tag"] == "mapping/v2"


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/libraries/nope/versions", 404, "unknown_library"),
        ("/libraries/Nope!/versions/v1", 404, "unknown_library"),
        ("/libraries/mapping/versions/v9", 404, "unknown_version"),
        ("/libraries/mapping/versions/abc", 404, "unknown_version"),
        ("/libraries/mapping/versions/v0", 404, "unknown_version"),
        ("/libraries/assumptions/versions/latest", 404, "unknown_version"),
        ("/libraries/mapping/versions/v1/entries/m3", 404, "unknown_entry"),
        ("/libraries/mapping/versions/v1/entries/NOT-AN-ID", 404, "unknown_entry"),
        ("/libraries/mapping/versions/v1/entries/m0/more", 404, "not_found"),
        ("/libraries/mapping", 404, "not_found"),
        ("/nothing", 404, "not_found"),
        ("/libraries/../libraries", 400, "bad_path"),
        ("/libraries/mapping/versions/v1/entries/..%2F..%2Fschemas", 400, "bad_path"),
        ("/libraries/mapping/versions/v1/entries/%2e%2e", 400, "bad_path"),
        ("/libraries/mapping/versions/v1/entries/m0%2f", 400, "bad_path"),
        ("/libraries/mapping%5Cversions", 400, "bad_path"),
        ("/libraries//mapping/versions", 400, "bad_path"),
        ("/libraries/mapping%00/versions", 400, "bad_path"),
        ("/libraries/%ff/versions", 400, "bad_path"),
        ("/diff?from=mapping@v1", 400, "bad_request"),
        ("/diff?from=mapping&to=mapping@v2", 400, "bad_request"),
        ("/diff?from=mapping@v1&to=mapping@v7", 404, "unknown_version"),
        ("/diff?from=nope@v1&to=mapping@v2", 404, "unknown_library"),
    ],
)
def test_errors_are_json_with_status(api: Client, path: str, status: int, error: str) -> None:
    got, headers, doc = api.get(path)
    assert (got, doc["status"], doc["error"]) == (status, status, error)
    assert doc["format"] == "canonry.api.error/v1" and doc["message"]
    assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"


def test_very_long_urls(api: Client) -> None:
    status, _h, doc = api.get("/libraries/mapping/versions/v1/entries/" + "a" * MAX_TARGET)
    assert status == 414 and doc["error"] == "uri_too_long"
    status, _h, doc = api.get("/libraries?x=" + "b" * 70_000)  # past http.server's own 64 KiB line limit
    assert status == 414 and doc["format"] == "canonry.api.error/v1"


def test_no_write_methods(api: Client) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, headers, body = api.request("/libraries/mapping/versions/v1", method=method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        assert json.loads(body)["error"] == "method_not_allowed"
    status, headers, body = api.request("/libraries/mapping/versions/v1", method="HEAD")
    _s, get_headers, get_body = api.request("/libraries/mapping/versions/v1")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(get_body))
    assert headers["ETag"] == get_headers["ETag"]


def test_diff(api: Client, two_versions: Path) -> None:
    status, headers, doc = api.get("/diff?from=mapping@v1&to=mapping@v2")
    assert status == 200 and doc["format"] == "canonry.diff/v1"
    lib = doc["libraries"]["mapping"]
    assert lib["added_entry_ids"] == ["m3"]
    assert [(c["entry_id"], c["field"], c["old"], c["new"]) for c in lib["changed_entries"]] == [
        ("m0", "confidence", 0.8, 0.95)
    ]
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    _s, latest, _d = api.get("/diff?from=mapping@1&to=mapping@latest")
    assert latest["Cache-Control"] == "no-cache"


def test_health_and_openapi(api: Client) -> None:
    status, _h, doc = api.get("/health")
    assert status == 200 and doc["format"] == "canonry.health/v1" and doc["serve"]["status"] == "ok"
    assert doc["serve"]["fetched_at"] is None  # a path: nothing fetched; a mirror: when it last was
    assert doc["libraries"]["mapping"]["latest"] == "mapping/v2"
    status, _h, spec = api.get("/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) >= {
        "/libraries/{name}/versions/{version}/entries/{id}/confidence",
        "/libraries",
        "/libraries/{name}/versions",
        "/libraries/{name}/versions/{version}",
        "/libraries/{name}/versions/{version}/entries",
        "/libraries/{name}/versions/{version}/entries/{id}",
        "/diff",
        "/health",
        "/openapi.json",
    }
    assert all(set(ops) == {"get"} for ops in spec["paths"].values())  # no write endpoints


def test_new_versions_show_up_without_a_restart(api: Client, two_versions: Path) -> None:
    publish(two_versions)
    _s, _h, doc = api.get("/libraries/mapping/versions/latest")
    assert doc["tag"] == "mapping/v3"


def test_concurrent_clients(api: Client) -> None:
    paths = [
        "/libraries",
        "/libraries/mapping/versions/v1/entries/m1",
        "/libraries/mapping/versions/v2/entries",
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: api.request(paths[i % 3])[0], range(48)))
    assert statuses == [200] * 48


def test_garbage_request_line(api: Client) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as s:
        s.sendall(b"NONSENSE\r\n\r\n")
        reply = s.recv(65536)
    # refused with a proper HTTP/1.1 status line, never the HTTP/0.9 way (a body alone)
    assert reply.startswith(b"HTTP/1.1 400 "), reply


def test_the_serve_command(two_versions: Path, private_cache: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "tooling"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "canonry", "serve", "--repo", str(two_versions), "--port", "0", "--quiet"],
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert line.startswith("canonry serve: http://127.0.0.1:"), line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        status, _h, doc = Client(port).get("/libraries/mapping/versions/latest/entries/m3")
        assert status == 200 and doc["entry"]["pattern"] == "desalination plant"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_the_cli_stays_light() -> None:
    """`canonry --help` and `import canonry` never load the server, templates or plots."""
    code = (
        "import sys\n"
        "import canonry\n"
        "from canonry.cli.main import main\n"
        "sys.argv = ['canonry', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'uvicorn', 'h11', 'jinja2', 'pygal'})\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "tooling"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.stderr.strip().endswith("[]"), proc.stderr[-2000:]
