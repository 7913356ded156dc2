"""One fuzzed call on the wire, what must hold for its answer, and the loop that runs a route's cases.

Every case is checked on its own (so hypothesis can shrink a failure to the
smallest call that shows it): the answer is below 500, a forged credential
gets 401/403, and the sidecar logged no traceback while answering it. After a
route's run the process must still be alive and /health must answer 200.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy

from .deployment import LogWatch, Sidecar
from .fakes import FakeRasa

# At least this many cases per route; FUZZ_EXAMPLES lowers it for a quick look, never in CI.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
REFUSALS = (401, 403)
# How long a forged call's effects get to show in Rasa: the pump looks every 0.1 s and is woken at once.
FORGED_GRACE = 0.3
Headers = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True)
class Call:
    """A request as sent: `target` is the path (and query) exactly as on the wire."""

    method: str
    target: str
    headers: Headers = ()
    body: bytes = b""
    forged: bool = False
    stream: bool = False
    # Sent with Transfer-Encoding: chunked instead of a Content-Length.
    chunked: bool = False

    def __repr__(self) -> str:
        # A 4 MiB body in a falsifying example would bury the report.
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"...(%d bytes)" % len(self.body)
        flags = (" forged" if self.forged else "") + (" chunked" if self.chunked else "")
        return f"Call({self.method} {self.target[:300]!r}{flags} headers={self.headers!r} body={body!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints falsifying examples with this, not with `__repr__`."""
        printer.text(repr(self))


@dataclass
class Target:
    """One sidecar under fuzz: a pooled client to it, its log, and the fake Rasa behind it."""

    sidecar: Sidecar
    client: httpx.Client
    rasa: FakeRasa
    watch: LogWatch = field(init=False)

    def __post_init__(self) -> None:
        self.watch = self.sidecar.watch()


def send(target: Target, call: Call) -> int:
    """The status of `call`; a stream (server-sent events) is closed once its status is in."""
    url = target.sidecar.url + call.target
    content = iter([call.body[: len(call.body) // 2], call.body[len(call.body) // 2 :]]) if call.chunked else call.body
    request = target.client.build_request(call.method, url, headers=list(call.headers), content=content)
    response = target.client.send(request, stream=True)
    try:
        if not call.stream:
            response.read()
        return response.status_code
    finally:
        response.close()


def check(target: Target, call: Call) -> int:
    """Send `call` and hold its answer to the rules; the status, for tests that want more."""
    status = send(target, call)
    # Read first, so a traceback is pinned on this call even when its status fails too.
    logged = target.watch.fresh()
    assert status < 500, f"{call!r} answered {status}; the sidecar logged:\n{logged[-4000:]}"
    assert "Traceback" not in logged, f"{call!r} made the sidecar log a traceback:\n{logged[-4000:]}"
    if call.forged:
        # 413: refused for its size before anything was read, which is a refusal too.
        assert status in (*REFUSALS, 413), f"forged {call!r} answered {status}"
    return status


@dataclass
class Run:
    """What a route's fuzz run sent, and how the sidecar answered (status -> count)."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def got_past_the_check(self) -> bool:
        """Whether some calls were answered by the parser, not only refused at the door."""
        return bool(set(self.statuses) - {*REFUSALS, 413})


def assert_up(target: Target, after: str) -> None:
    """The process lives and /health answers 200: no request may take the sidecar down."""
    log = target.sidecar.service.log_tail()
    assert target.sidecar.healthy(target.client), f"the sidecar is down after {after}:\n{log}"


def fuzz(
    target: Target,
    calls: SearchStrategy[Call],
    before: Optional[Callable[[Call], None]] = None,
    examples: int = EXAMPLES,
) -> Run:
    """Run `examples` derandomized cases of `calls` against `target` (`before` each one, if given).

    Raises with hypothesis's smallest failing call on the first broken rule, and
    afterwards if the process died or stopped answering /health.
    """
    run = Run()

    @settings(
        derandomize=True,
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(call=calls)
    def one(call: Call) -> None:
        if before is not None:
            before(call)
        run.statuses[check(target, call)] += 1
        run.cases += 1

    one()
    assert_up(target, "the run")
    return run


def print_runs(title: str, runs: dict[str, Run]) -> None:
    """The cases per route and their statuses, for the record (pytest -s shows it)."""
    print(f"\n{title}: cases per route (statuses)")
    for route, run in runs.items():
        print(f"  {route}: {run.cases} {dict(sorted(run.statuses.items()))}")


def sweep(
    target: Target,
    method: str,
    path: str,
    bodies: Iterable[bytes],
    headers_for: Callable[[bytes], Headers],
    before: Optional[Callable[[], None]] = None,
) -> Run:
    """Send each of `bodies` with genuine credentials (`headers_for(body)`), held to the same rules."""
    run = Run()
    for body in bodies:
        if before is not None:
            before()
        run.statuses[check(target, Call(method, path, headers_for(body), body))] += 1
        run.cases += 1
    assert_up(target, "the sweep")
    return run
