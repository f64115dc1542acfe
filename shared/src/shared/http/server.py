"""The HTTP server every service runs under: uvicorn on httptools, reading request heads only up to
a bound (httptools itself has none: a 32 MB header would be buffered whole before the app saw it)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.http.app import MAX_HEADERS_TOTAL_BYTES

# The request line and every header; the app checks each header and their count (HeaderLimits).
MAX_HEAD_BYTES = MAX_HEADERS_TOTAL_BYTES + 16 * 1024
LINGER_S = 2.0
# How long a service keeps an idle keep-alive connection open. Clients of the services keep theirs for
# less (CLIENT_KEEPALIVE_S): a pooled connection reused just as the server closes it fails with a read
# error on a request the service never saw.
KEEP_ALIVE_S = 5.0
CLIENT_KEEPALIVE_S = 2.0


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools, answering 431 and closing once a request's head passes MAX_HEAD_BYTES."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the connection is closing; nothing more of it is read
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def _refuse_head(self) -> None:
        body = orjson.dumps(
            {"detail": f"request line and headers larger than {MAX_HEAD_BYTES} bytes", "errors": []}
        )
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: ",
            str(len(body)).encode(),
            b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        # A lingering close: the answer, then our end shut, what still arrives read and dropped for a
        # moment. Closing at once with unread data would reset the connection, and a reset makes the
        # client's stack drop the answer it has not read yet.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._refused = True
        self.loop.call_later(LINGER_S, self.transport.close)


class Server(uvicorn.Server):
    """uvicorn's server ticking once a second instead of ten times: the tick only refreshes the Date
    header (to the second) and looks for a shutdown request, and an idle suite of services otherwise
    wakes eighty times a second for it. A shutdown request still ends the wait at once."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit_asked = asyncio.Event()
        super().__init__(config)

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._should_exit = value
        if value:
            self._exit_asked.set()

    async def main_loop(self) -> None:
        ticks = 0
        while not await self.on_tick(ticks):
            # on_tick refreshes the Date header when its counter is a multiple of ten.
            ticks = (ticks + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_asked.wait(), timeout=1.0)


def server_config(app: Any, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for a service app (also used by the tests that serve over real HTTP).
    X-Forwarded-For is trusted from no one unless `forwarded_allow_ips` names the proxies (uvicorn
    alone would trust any caller on the host)."""
    options.setdefault("proxy_headers", False)
    options.setdefault("forwarded_allow_ips", [])
    options.setdefault("timeout_keep_alive", KEEP_ALIVE_S)
    return uvicorn.Config(
        app, host=host, port=port, http=BoundedHttpToolsProtocol, log_config=None, access_log=False, **options
    )
