"""The ASGI application of `canonry serve`: HTTP requests to the Api's responses.

The HTTP/1.1 wire (request framing, keep-alive, bodies, pipelining, refusing
what is not HTTP/1.x) belongs to the server (uvicorn with h11); this module
turns the request target into the Api's terms and runs the Api off the event
loop, so a slow client never holds up the others:

- the target is taken raw (`raw_path`, `query_string`), never the server's
  percent-decoded `path`, so path tricks stay visible to the Api, which refuses
  them; an absolute-form target (`GET http://host/libraries`, RFC 9112 3.2.2)
  is reduced to its path and query;
- a request body is read and dropped (there are no write endpoints; reading it
  keeps the connection in step: a body is never taken for a second request);
- a client that goes away before its request is complete gets no answer and
  leaves nothing on stderr.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .protocol import Response, error_response, lowered
from .routes import Api

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 1024 * 1024  # a body past this is not read on: the connection is closed after the answer


class App:
    """An ASGI 3 application over one Api (HTTP only; lifespan and websockets are declined)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        # One thread runs the Api (it serializes requests on its own lock anyway); more threads would
        # only contend for that lock and the GIL with the event loop, which keeps reading and writing.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="canonry-api")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets are not offered (the server is started without them)
        complete = await _drain(receive)
        if not complete:
            return  # the client went away mid-request: nobody to answer
        target = request_target(scope)
        method = str(scope["method"])
        headers = lowered((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", ()))
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._executor, self.api.handle, method, target, headers)
        except Exception as exc:  # a bug: answer 500 in JSON, log it, keep serving
            self.api.log(f"internal error on {target[:200]!r}: {type(exc).__name__}: {exc}")
            response = error_response(500, "internal_error", "internal error (logged by the server)")
        await _send(send, response, body=method != "HEAD")


def request_target(scope: Scope) -> str:
    """The request target as sent (path and query, still percent-encoded); absolute form reduced."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    path = raw.decode("latin-1")
    lowered_path = path.lower()
    if lowered_path.startswith(("http://", "https://")):
        rest = path.split("://", 1)[1]
        slash = rest.find("/")
        path = rest[slash:] if slash >= 0 else "/"
    query = scope.get("query_string") or b""
    return path + ("?" + query.decode("latin-1") if query else "")


async def _drain(receive: Receive) -> bool:
    """Read the request body to its end (dropping it); False when the client disconnected first."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        size += len(message.get("body", b""))
        if not message.get("more_body", False) or size > MAX_BODY:
            return True


async def _send(send: Send, response: Response, body: bool) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    if response.status != 304:
        headers.append((b"content-length", str(len(response.body)).encode()))
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        payload = response.body if body and response.status != 304 else b""
        await send({"type": "http.response.body", "body": payload})
    except OSError:  # the client closed while we answered: nothing more to do
        return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def log_to_stderr(text: str) -> None:
    sys.stderr.write(f"canonry serve: {text}\n")
