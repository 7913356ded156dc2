"""A plain HTTP server on a free loopback port, served from a thread while in `with`.

The fakes of the fault and fuzz suites answer with their own handler classes
(keep-alive, raw bodies); this is the plumbing they share.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    # Room for a thousand conversations connecting at once (the default backlog is 5).
    request_queue_size = 1024


class BackgroundHTTP:
    def __init__(self, handler_class: type[BaseHTTPRequestHandler]) -> None:
        self._server = _LoopbackServer(("127.0.0.1", 0), handler_class)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"
