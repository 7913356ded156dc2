"""A recording HTTP server on a free loopback port: the fake desk (or fake Rasa) of a test.

Every request is kept (method, path, query, lower-cased headers, raw body);
the answer comes from a handler the test sets, JSON-encoded. It runs in a
thread so the code under test can call it from its own event loop.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, Any]
Handler = Callable[[Recorded], Reply]


def _ok(request: Recorded) -> Reply:
    return 200, {"code": 0, "message": "ok"}


class RecordingServer:
    """`with RecordingServer(handler) as server:` serves until the block ends."""

    def __init__(self, handler: Optional[Handler] = None, port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self.handler = handler or _ok
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path, _, query = self.path.partition("?")
                request = Recorded(
                    method=self.command,
                    path=path,
                    query=query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                status, payload = recorder.handler(request)
                # Recorded after the handler ran, so a waiting test sees the request once it is answered.
                recorder._record(request)
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # The client gave up waiting (a timeout test): nobody is left to answer.

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return _Handler

    def _record(self, request: Recorded) -> None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "RecordingServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def matching(self, path: str) -> list[Recorded]:
        with self._changed:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 20.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.requests):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out; requests so far: {[(r.method, r.path) for r in self.requests]}"
                    )
                self._changed.wait(remaining)
            return list(self.requests)
