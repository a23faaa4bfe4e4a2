"""A lean HTTP/1.1 client for the stock benchmark: one kept-alive connection per client.

The benchmark's clients share the server's two cores. httpx spends about 2 ms of CPU on
each request (headers as objects, a connection pool per client, its own event hooks):
as much as the server's work, so it measured the client as much as the service. This
client writes a request from bytes made once and reads the answer by its Content-Length,
which is all a benchmark needs; its own CPU per request is still printed beside the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LeanClient", "Response"]


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class LeanClient:
    """POSTs JSON over one connection kept alive (reopened if the server closes it).

    Examples
    --------
    >>> client = LeanClient("http://127.0.0.1:8000", {"Authorization": "Bearer …"})
    >>> # response = await client.post("/api/stock/issues", {"depot": "D110101001"})
    """

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._fixed = f"Host: {self.host}:{self.port}\r\n{fixed}".encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        payload = json.dumps(body).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()).encode("latin-1")
        head = (
            f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
        ).encode("latin-1")
        request = head + self._fixed + extra + b"\r\n" + payload
        try:
            return await self._exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError):
            await self.aclose()  # the server closed a kept-alive connection: once more
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(request)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, length, closes = _parse_head(head)
        body = await self._reader.readexactly(length)
        if closes:
            await self.aclose()
        return Response(status, body)

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the server closes the connection after it."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, closes = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            closes = True
        elif name == "transfer-encoding":
            raise ValueError("the lean client reads only answers with a Content-Length")
    return status, length, closes
