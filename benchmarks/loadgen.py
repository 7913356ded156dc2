"""A small keep-alive HTTP/1.1 client that sends the benchmarks' load.

The load must not be what limits a benchmark. On the machines this was
written on, httpx's connection pool served about 440 requests/s on one
connection and under 200/s across 50 concurrent ones against a local Sanic
app that plain sockets drive at 3,000-5,000/s, so httpx would have measured
itself. This client keeps one asyncio stream per connection, writes a
request and reads the answer (Content-Length or chunked bodies), nothing
more. Processes under test keep their own clients (the sidecar's httpx among
them): only the sending side is replaced.
"""

from __future__ import annotations

import asyncio
from typing import Optional
from urllib.parse import urlsplit


class Connection:
    """One persistent connection; requests on it go one after the other."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes = b"", headers: Optional[dict[str, str]] = None) -> tuple[int, bytes]:
        """Status and body; reconnects once when the server had closed the kept-alive connection."""
        raw = _serialise(method, path, self.host, body, headers or {})
        for attempt in (1, 2):
            if self._writer is None:
                await self._open()
            try:
                self._writer.write(raw)
                await self._writer.drain()
                return await self._answer()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _answer(self) -> tuple[int, bytes]:
        """Status and body of the response now on the wire; closes when the server says it will."""
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunks()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    async def _chunks(self) -> bytes:
        """A chunked body, joined (Sanic streams some responses this way)."""
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class Pool:
    """Up to `size` connections to one server, shared by concurrent senders."""

    def __init__(self, url: str, size: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._all = [Connection(self.host, self.port) for _ in range(size)]
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        for connection in self._all:
            self._idle.put_nowait(connection)

    def dedicated(self) -> Connection:
        """A connection of one's own, for a sender that keeps its requests in order on it."""
        connection = Connection(self.host, self.port)
        self._all.append(connection)
        return connection

    async def post(self, path: str, body: bytes, headers: Optional[dict[str, str]] = None) -> tuple[int, bytes]:
        connection = await self._idle.get()
        try:
            return await connection.request("POST", path, body, headers)
        finally:
            self._idle.put_nowait(connection)

    def close(self) -> None:
        for connection in self._all:
            connection.close()


def connect(url: str) -> Connection:
    """A connection to the server at `url` (opened on its first request)."""
    parts = urlsplit(url)
    return Connection(parts.hostname or "127.0.0.1", parts.port or 80)


def _serialise(method: str, path: str, host: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if body or method in ("POST", "PUT"):  # a GET announcing a body makes Sanic warn it was not read
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
