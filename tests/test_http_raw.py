"""`canonry serve` on the wire: raw sockets against a live server on 127.0.0.1.

Each test is one finding of the hostile run against the old standard-library
server (request desync, 501 for unknown methods, `//` served, absolute form
refused, HTTP/0.9 answered without a status line, tracebacks on client
disconnects, a listen backlog of 5, a slow client stalling the rest).
"""

# ruff: noqa: F811

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from live_server import LiveServer, published_repo, raw_exchange, serving, status_lines


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(tmp_path_factory.mktemp("raw"), published_repo) as live:
        yield live


def get(path: str, host: str = "127.0.0.1", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def body_of(reply: bytes) -> dict:
    return json.loads(reply.split(b"\r\n\r\n", 1)[1])


def test_a_body_that_is_a_request_is_never_answered(server: LiveServer) -> None:
    smuggled = get("/health")
    request = get("/libraries", extra=f"Content-Length: {len(smuggled)}\r\n").rstrip(b"\r\n")
    reply = raw_exchange(server.port, request + b"\r\n\r\n" + smuggled, quiet_for=1.0)
    assert len(status_lines(reply)) == 1, reply
    assert b"canonry.api.libraries/v1" in reply and b"canonry.health/v1" not in reply
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    request = get("/libraries", extra="Transfer-Encoding: chunked\r\n")
    reply = raw_exchange(server.port, request + chunked, quiet_for=1.0)
    assert len(status_lines(reply)) == 1 and b"canonry.health/v1" not in reply


def test_the_connection_stays_in_step_after_a_body(server: LiveServer) -> None:
    first = get("/libraries", extra="Content-Length: 5\r\n") + b"hello"
    reply = raw_exchange(server.port, first + get("/health", extra="Connection: close\r\n"), quiet_for=2.0)
    assert [line.split()[1] for line in status_lines(reply)] == ["200", "200"]
    assert b"canonry.health/v1" in reply


@pytest.mark.parametrize("method", ["QUERY", "FOO", "POST", "DELETE", "PROPFIND"])
def test_unknown_methods_get_405_with_allow(server: LiveServer, method: str) -> None:
    reply = raw_exchange(
        server.port, f"{method} /libraries HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    )
    assert status_lines(reply)[0].startswith("HTTP/1.1 405"), reply
    assert b"\r\nallow: GET, HEAD\r\n" in reply.lower().replace(b"get, head", b"GET, HEAD")
    assert body_of(reply)["error"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path", ["//libraries", "/libraries//mapping/versions", "/./libraries", "/libraries/%2e%2e"]
)
def test_empty_and_dot_segments_are_refused(server: LiveServer, path: str) -> None:
    reply = raw_exchange(server.port, get(path))
    assert status_lines(reply)[0].startswith("HTTP/1.1 400"), reply
    assert body_of(reply)["error"] == "bad_path"


def test_absolute_form_target_is_accepted(server: LiveServer) -> None:
    reply = raw_exchange(server.port, get(f"http://127.0.0.1:{server.port}/libraries/mapping/versions?x=1"))
    assert status_lines(reply)[0].startswith("HTTP/1.1 200"), reply
    assert body_of(reply)["library"] == "mapping"
    reply = raw_exchange(server.port, get("http://example.org//libraries"))
    assert status_lines(reply)[0].startswith("HTTP/1.1 400")  # tricks in absolute form are tricks too


def test_http09_and_garbage_get_a_status_line(server: LiveServer) -> None:
    for request in (
        b"GET /libraries\r\n",
        b"GET /libraries\r\n\r\n",
        b"NONSENSE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01",
    ):
        reply = raw_exchange(server.port, request)
        assert reply.startswith(b"HTTP/1.1 400 "), (request, reply)
        assert b"canonry.runtime.api.libraries" not in reply


def test_url_too_long_is_414(server: LiveServer) -> None:
    reply = raw_exchange(server.port, get("/libraries/mapping/versions/v1/entries/" + "a" * 3000))
    assert status_lines(reply)[0].startswith("HTTP/1.1 414")
    assert body_of(reply)["error"] == "uri_too_long"


def test_health_has_fetched_at(server: LiveServer) -> None:
    reply = raw_exchange(server.port, get("/health"))
    serving = body_of(reply)["serve"]
    assert serving["status"] == "ok" and "fetched_at" in serving and serving["fetched_at"] is None


def test_clients_closing_mid_request_leave_no_traceback(server: LiveServer) -> None:
    for i in range(40):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            if i % 4 == 0:
                s.sendall(b"GET /libraries HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            elif i % 4 == 1:
                s.sendall(get("/libraries", extra="Content-Length: 100\r\n") + b"only part")  # body cut short
            elif i % 4 == 2:
                s.sendall(get("/libraries/mapping/versions/v2/entries"))  # gone before the answer
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            else:
                s.sendall(b"GE")
    reply = raw_exchange(server.port, get("/libraries", extra="Connection: close\r\n"))
    assert status_lines(reply)[0].startswith("HTTP/1.1 200")
    time.sleep(0.3)
    log = server.stderr()
    assert "Traceback" not in log and "BrokenPipe" not in log and "ConnectionReset" not in log, log


def test_64_simultaneous_connections_are_answered_at_once(server: LiveServer) -> None:
    def one(_i: int) -> float:
        started = time.monotonic()
        reply = raw_exchange(
            server.port, get("/libraries/mapping/versions/v1", extra="Connection: close\r\n")
        )
        assert status_lines(reply)[0].startswith("HTTP/1.1 200")
        return time.monotonic() - started

    sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(64)]
    try:  # 64 idle connections held open while 64 more arrive together
        with ThreadPoolExecutor(max_workers=64) as pool:
            waits = list(pool.map(one, range(64)))
    finally:
        for s in sockets:
            s.close()
    assert max(waits) < 0.9, sorted(waits)[-5:]  # a SYN dropped by a full backlog waits 1 s


def test_a_slow_client_does_not_stall_the_others(server: LiveServer) -> None:
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    reader = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        slow.sendall(b"GET /libraries HTTP/1.1\r\nHost: x\r\n")  # and nothing more for now
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.sendall(get("/libraries/mapping/versions/v2/entries") * 50)  # answers it never reads
        started = time.monotonic()
        for _ in range(20):
            reply = raw_exchange(
                server.port, get("/libraries/mapping/versions/v2", extra="Connection: close\r\n")
            )
            assert status_lines(reply)[0].startswith("HTTP/1.1 200")
        assert time.monotonic() - started < 5
        slow.sendall(b"Connection: close\r\n\r\n")  # the slow one is answered too, when it is done
        slow.settimeout(5)
        assert slow.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        slow.close()
        reader.close()


def test_health_is_not_ok_while_refreshes_fail(tmp_path: Path) -> None:
    source = published_repo(tmp_path / "origin")
    live = LiveServer(
        ["--source", f"file://{source}", "--refresh", "0.2", "--quiet"],
        tmp_path / "serve.log",
        {"CANONRY_CACHE": str(tmp_path / "cache")},
    )
    try:
        serving = body_of(raw_exchange(live.port, get("/health")))["serve"]
        assert serving["status"] == "ok" and serving["fetched_at"], serving
        shutil.move(source, tmp_path / "gone")  # every later fetch fails
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            reply = raw_exchange(live.port, get("/libraries/mapping/versions/v1"))
            assert status_lines(reply)[0].startswith("HTTP/1.1 200")  # the mirror keeps serving
            doc = body_of(raw_exchange(live.port, get("/health", extra="Cache-Control: no-cache\r\n")))
            if doc["serve"]["status"] != "ok":
                break
            time.sleep(0.3)
        assert doc["serve"]["status"] == "stale" and doc["serve"]["last_error"]
        assert doc["serve"]["fetched_at"] == serving["fetched_at"]  # when the copy was last good
    finally:
        live.stop()


def test_two_workers_answer_alike(tmp_path: Path) -> None:
    repo = published_repo(tmp_path / "repo")
    live = LiveServer(
        ["--repo", str(repo), "--workers", "2", "--quiet"],
        tmp_path / "serve.log",
        {"CANONRY_CACHE": str(tmp_path / "c")},
    )
    try:
        seen = set()
        for _ in range(24):  # fresh connections: the kernel spreads them over both workers
            for path in ("/libraries/mapping/versions/v2/entries/m0", "/libraries", "/ui/libraries/mapping"):
                reply = raw_exchange(live.port, get(path, extra="Connection: close\r\n"))
                head, body = reply.split(b"\r\n\r\n", 1)
                etag = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"etag:"))
                seen.add((path, etag, body))
        assert len(seen) == 3, sorted((p, e) for p, e, _b in seen)
        assert "Traceback" not in live.stderr()
    finally:
        live.stop()
