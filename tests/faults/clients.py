"""HTTP clients for tests that call from many threads at once.

Why one client per thread: the cases post from dozens of threads, and a
kept-alive connection per thread is both fast and free of cross-thread
sharing; every client made is remembered so `close()` releases them all.
"""

from __future__ import annotations

import threading

import httpx


class PerThread:
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._local = threading.local()
        self._made: list[httpx.Client] = []
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=self._timeout)
            with self._lock:
                self._made.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            made, self._made = self._made, []
        for client in made:
            client.close()
