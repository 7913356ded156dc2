"""A small threaded HTTP server for tests: records every request, answers via a handler."""

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


class RecordingServer:
    def __init__(self, handler: Optional[Handler] = None, port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self.handler = handler or (lambda request: (200, {"code": 0, "message": "ok"}))
        self._changed = threading.Condition()
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
                with recorder._changed:
                    recorder.requests.append(request)
                    recorder._changed.notify_all()
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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
