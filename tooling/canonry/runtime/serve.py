"""`canonry serve`: a read-only HTTP API over published versions (standard library only).

Routes (GET and HEAD; every other method is 405):

    /libraries                                           libraries and their latest version
    /libraries/{name}/versions                           versions with metadata and deprecation
    /libraries/{name}/versions/{version}                 one version        ({version}: vN, N, latest)
    /libraries/{name}/versions/{version}/entries         its entries        (?limit=N&after=ID pages)
    /libraries/{name}/versions/{version}/entries/{id}    one entry
    /diff?from=LIB@vA&to=LIB@vB                          canonry.diff/v1
    /health  /openapi.json

Responses at a version are immutable: a strong ETag (the tag object, tree or
blob id) and `Cache-Control: public, max-age=31536000, immutable`. Responses
about `latest`, lists and health are `no-cache` (revalidate: If-None-Match
with the current ETag answers 304). Errors are JSON (canonry.runtime.api.error/v1).
"""

from __future__ import annotations

import sys
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import CanonryError
from .api import Canon
from .protocol import MAX_TARGET, Response, error_response, lowered
from .routes import Api

__all__ = ["MAX_TARGET", "Api", "make_server", "serve"]


class _Handler(BaseHTTPRequestHandler):
    server_version = "canonry"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls
    api: Api
    quiet = False

    def _serve(self, method: str) -> None:
        try:
            response = self.api.handle(method, self.path, lowered(self.headers.items()))
        except Exception as exc:  # a bug: answer 500 in JSON, log it, keep serving
            self.log_error("internal error on %s: %s: %s", self.path, type(exc).__name__, exc)
            response = error_response(500, "internal_error", "internal error (logged by the server)")
        self._send(response, body=method != "HEAD")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD")

    def _refuse(self) -> None:
        self._send(self.api.handle(self.command, self.path, lowered(self.headers.items())))

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse  # noqa: N815

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (414 for a request line past 64 KiB, 400, 501...) in JSON too.
        self.close_connection = True
        self._send(error_response(code, "http_error", message or self.responses.get(code, ("",))[0]))

    def _send(self, response: Response, body: bool = True) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.status != 304:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if body and response.status != 304:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def make_server(
    canon: Canon, host: str = "127.0.0.1", port: int = 8080, quiet: bool = False
) -> ThreadingHTTPServer:
    """A ready server (port 0 picks a free one: see server.server_address)."""
    log = (lambda text: None) if quiet else None
    handler = type("Handler", (_Handler,), {"api": Api(canon, log=log), "quiet": quiet})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(
    canon: Canon, host: str = "127.0.0.1", port: int = 8080, refresh: float = 60.0, quiet: bool = False
) -> None:
    """Serve until interrupted; a remote source is fetched again every `refresh` seconds."""
    server = make_server(canon, host, port, quiet=quiet)
    stop = threading.Event()
    if canon.mirror is not None and refresh > 0:

        def fetch_loop() -> None:
            while not stop.wait(refresh):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        canon.refresh()
                    except CanonryError as exc:
                        sys.stderr.write(f"canonry serve: fetch failed: {exc}\n")
                for w in caught:
                    sys.stderr.write(f"canonry serve: warning: {w.message}\n")

        threading.Thread(target=fetch_loop, name="canonry-fetch", daemon=True).start()
    port_shown = server.server_address[1]
    sys.stderr.write(f"canonry serve: http://{host}:{port_shown}/ (read-only; Ctrl-C stops)\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
