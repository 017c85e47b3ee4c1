"""uvicorn's h11 protocol, stricter at the edges: whatever is not HTTP/1.x gets a JSON 400 at once.

h11 waits for a blank line before it judges a request, so an HTTP/0.9
request (`GET /path` and a newline, no version) would hang until the client
gives up. The request line is judged as soon as it is complete; refusals carry
an HTTP/1.1 status line and the API's JSON error, and close the connection.
Imported only by `canonry serve` (it imports uvicorn).
"""

from __future__ import annotations

import re

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .protocol import error_response

_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP/[0-9]\.[0-9]")


class CanonryH11Protocol(H11Protocol):
    """H11Protocol with an early look at each request line and JSON refusals."""

    _line = b""

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
            self._line = (self._line + data)[:8192]
            head = self._line.lstrip(b"\r\n")  # empty lines before a request line are allowed
            if b"\n" in head:
                line = head.split(b"\n", 1)[0].rstrip(b"\r")
                self._line = b""
                if not _REQUEST_LINE.fullmatch(line):
                    self._refuse()
                    return
        else:
            self._line = b""
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        self._refuse()

    def _refuse(self) -> None:
        response = error_response(
            400, "bad_request", "not an HTTP/1.x request (request line: METHOD TARGET HTTP/1.1)"
        )
        head = [b"HTTP/1.1 400 Bad Request"]
        head += [f"{k}: {v}".encode("latin-1") for k, v in response.headers.items()]
        head += [f"Content-Length: {len(response.body)}".encode(), b"Connection: close"]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + response.body)
        self.transport.close()
