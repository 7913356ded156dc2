"""The contract suite every desk runs: what no connector may get wrong, checked the same way for all.

A desk's test module subclasses `ConnectorContract` and fills in a few hooks
(how to run its fake desk, build the connector, make a genuine agent call);
pytest then runs every check below against it:

- a forged or unsigned call is refused 4xx and reaches nobody (nothing
  queued, nothing in the store), while the genuine call does get through;
- a malformed body is answered 400 naming the field;
- a duplicate call is delivered once;
- a call about a conversation with no live handoff is answered so the desk
  stops retrying (the desk's own success or `when_unknown` reply), never 5xx;
- every request the connector makes is held to the desk's spec, by the fake;
- a desk answering 401/403 is an auth failure, 5xx or silence is worth a
  retry (`DeskError`), and `check()` reports refused credentials as
  Unavailable without raising.

Calls go over real HTTP to the sidecar's own routes (see `sidecar`), on a
real store, through a real `HandoffService`. A part that does not fit a desk
(a desk with no HTTP API has no status codes) is declared in
`not_applicable` with the reason, and its test is skipped saying so; a hook
left out otherwise fails, so nothing is skipped silently.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, ClassVar, ContextManager, Iterator, Mapping, Optional, Sequence, Union

import httpx
import pytest
import pytest_asyncio

from ..core.contract import (
    CloseReason,
    Connector,
    DeskError,
    FetchesTokens,
    HandoffRequest,
    ServiceStatus,
    Speaker,
    TakesWebhooks,
    Turn,
    UserMessage,
    WebhookRequest,
)
from ..core.credentials import SharedToken
from ..core.handoffs import TO_RASA
from ..core.store import SqliteStore, Store
from .calls import send_call, with_body, with_wrong_headers, without_headers
from .recorder import Recorded, RecordingServer
from .sidecar import ServedSidecar, served_sidecar

# The parts a desk may declare not applicable, by these names.
SIGNATURES = "signatures"
MALFORMED = "malformed"
DUPLICATES = "duplicates"
UNKNOWN_CONVERSATION = "unknown_conversation"
OUTBOUND_SPEC = "outbound_spec"
STATUS_MAPPING = "status_mapping"
PARTS = (SIGNATURES, MALFORMED, DUPLICATES, UNKNOWN_CONVERSATION, OUTBOUND_SPEC, STATUS_MAPPING)

# The desk failures the status mapping plays, and how long the connector waits before giving up.
FAILURES: tuple[Union[int, str], ...] = (401, 403, 500, 502, 503, "timeout")
CONNECTOR_TIMEOUT = 0.5
_HANG_SECONDS = 3.0

Failure = Union[int, str]


class FailingDesk:
    """A desk that answers every call with `failure` (a status), or never in time ("timeout")."""

    def __init__(self, failure: Failure) -> None:
        self.failure = failure
        # Counted as they arrive: a timed-out call is never answered, so never recorded by the server.
        self.arrived: list[str] = []
        self._lock = threading.Lock()
        self._server = RecordingServer(self._answer)

    def _answer(self, request: Recorded) -> tuple[int, Any]:
        with self._lock:
            self.arrived.append(f"{request.method} {request.path}")
        if self.failure == "timeout":
            time.sleep(_HANG_SECONDS)
            return 504, {"error": "too late"}
        return int(self.failure), {"error": f"injected {self.failure}", "errors": [{"code": "injected", "message": "injected"}]}

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> "FailingDesk":
        self._server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.__exit__(*exc)


def a_request(handoff_id: Optional[str] = None) -> HandoffRequest:
    """A handoff request with a short transcript, as the actions build one."""
    return HandoffRequest(
        handoff_id=handoff_id or uuid.uuid4().hex,
        sender_id=f"user-{uuid.uuid4().hex[:10]}",
        email="ana@example.com",
        language="en",
        transcript=(Turn(Speaker.USER, "where is my order"), Turn(Speaker.BOT, "Orders ship within two days.")),
        latest_question="I want to talk to a human",
        created_at=time.time(),
    )


def unknown_conversation_id() -> str:
    # Digits only: desks whose ids are numbers (Intercom) must be able to read it.
    return str(uuid.uuid4().int)[:15]


def with_tokens(connector: Connector, store: Store) -> Connector:
    """What the registry does for a desk that fetches tokens: give it the shared token."""
    if isinstance(connector, FetchesTokens):
        connector.tokens = SharedToken(store, connector.name, connector.fetch_token)
    return connector


class ConnectorContract:
    """Subclass as `class TestMyDeskContract(ConnectorContract)`; fill the hooks your desk has.

    Not collected itself (its name does not start with "Test").
    """

    #: The request headers that carry the desk's credential or signature (lower case).
    signature_headers: ClassVar[tuple[str, ...]] = ()
    #: True when the signature covers the body (an HMAC): a tampered body must be refused too.
    signs_body: ClassVar[bool] = False
    #: Parts of the contract that do not fit this desk: part name -> why (see PARTS).
    not_applicable: ClassVar[Mapping[str, str]] = {}

    # -- hooks: the desk's side -------------------------------------------------------

    def desk(self) -> ContextManager[Any]:
        """The fake desk, as a context manager that runs it (its value is passed to the other hooks)."""
        raise NotImplementedError

    def connector(self, desk: Any, store: Store) -> Connector:
        """The connector configured against the running fake `desk`."""
        raise NotImplementedError

    def agent_message(self, desk: Any, conversation_id: str) -> WebhookRequest:
        """A genuine, signed call the desk makes about `conversation_id` (an agent's reply, say)."""
        raise NotImplementedError

    def malformed_calls(self, desk: Any, conversation_id: str) -> Sequence[tuple[WebhookRequest, str]]:
        """Signed calls with one field missing or wrong, each with the name of that field."""
        raise NotImplementedError

    def desk_requests(self, desk: Any) -> Sequence[Any]:
        """Every request the fake desk received (to show the spec check saw some)."""
        raise NotImplementedError

    def spec_errors(self, desk: Any) -> Sequence[str]:
        """What in those requests the desk's spec does not allow (empty when all conform)."""
        raise NotImplementedError

    def connector_at(self, url: str, store: Store, timeout: float) -> Connector:
        """The connector with its desk API at `url`, giving up on a call after `timeout` seconds."""
        raise NotImplementedError

    def desk_stops_retrying(self, status: int) -> bool:
        """Whether the desk takes `status` as "delivered, do not retry" (most desks: any 2xx)."""
        return 200 <= status < 300

    # -- plumbing ----------------------------------------------------------------------

    def _applies(self, part: str) -> None:
        reason = self.not_applicable.get(part)
        if reason:
            pytest.skip(f"{part} does not apply to this desk: {reason}")

    def _hook(self, name: str, part: Optional[str], *args: Any) -> Any:
        """A hook's answer; a test failure saying what to do when the desk left it out."""
        try:
            return getattr(self, name)(*args)
        except NotImplementedError:
            escape = f", or declare {part!r} in not_applicable with the reason" if part else " (every desk needs it)"
            pytest.fail(f"{type(self).__name__} does not implement {name}(): implement it{escape}")

    @pytest.fixture
    def running_desk(self) -> Iterator[Any]:
        with self._hook("desk", None) as desk:
            yield desk

    @pytest_asyncio.fixture
    async def kit_store(self, tmp_path: Path) -> AsyncIterator[Store]:
        store = SqliteStore(str(tmp_path / "contract.sqlite"))
        yield store
        await store.close()

    @pytest_asyncio.fixture
    async def sidecar(self, running_desk: Any, kit_store: Store) -> AsyncIterator[ServedSidecar]:
        connector = with_tokens(self._hook("connector", None, running_desk, kit_store), kit_store)
        try:
            async with served_sidecar(connector, kit_store) as served:
                yield served
        finally:
            await connector.aclose()

    @pytest_asyncio.fixture
    async def http(self) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(timeout=30) as client:
            yield client

    def _forgeries(self, genuine: WebhookRequest) -> list[tuple[str, WebhookRequest]]:
        if not self.signature_headers:
            pytest.fail(f"{type(self).__name__}.signature_headers: name the headers that carry the desk's credential")
        missing = [name for name in self.signature_headers if name not in genuine.headers]
        assert not missing, f"the genuine call lacks its signature header(s) {missing}"
        forged = [
            ("unsigned", without_headers(genuine, self.signature_headers)),
            ("wrongly signed", with_wrong_headers(genuine, self.signature_headers)),
        ]
        if self.signs_body:
            # Still the same JSON once parsed: only the signature can tell.
            forged.append(("tampered body", with_body(genuine, genuine.body + b" ")))
        return forged

    # -- the contract ---------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_a_forged_or_unsigned_call_is_refused_and_reaches_nobody(
        self, running_desk: Any, sidecar: ServedSidecar, http: httpx.AsyncClient
    ) -> None:
        self._applies(SIGNATURES)
        handoff = await sidecar.open_handoff()
        genuine = self._hook("agent_message", SIGNATURES, running_desk, handoff.desk_conversation_id)
        before = await sidecar.store.depths()
        for kind, forged in self._forgeries(genuine):
            response = await send_call(http, sidecar.url, forged)
            assert 400 <= response.status_code < 500, f"{kind} call answered {response.status_code}: {response.text[:200]}"
        assert await sidecar.queued_for_rasa(handoff.sender_id) == []
        assert await sidecar.store.depths() == before, "a refused call changed the store's queues"
        # The same call, signed, does get through: the refusals were the signature's doing.
        response = await send_call(http, sidecar.url, genuine)
        assert response.status_code < 300, f"the genuine call answered {response.status_code}: {response.text[:200]}"
        assert await sidecar.queued_for_rasa(handoff.sender_id), "the genuine call queued nothing for the conversation"

    @pytest.mark.asyncio
    async def test_a_malformed_body_is_answered_400_naming_the_field(
        self, running_desk: Any, sidecar: ServedSidecar, http: httpx.AsyncClient
    ) -> None:
        self._applies(MALFORMED)
        handoff = await sidecar.open_handoff()
        calls = self._hook("malformed_calls", MALFORMED, running_desk, handoff.desk_conversation_id)
        assert calls, "malformed_calls() gave no call to try"
        for call, field in calls:
            response = await send_call(http, sidecar.url, call)
            assert response.status_code == 400, f"missing/wrong {field}: answered {response.status_code}: {response.text[:200]}"
            assert field in response.text, f"the 400 for {field} does not name it: {response.text[:200]}"
        assert await sidecar.queued_for_rasa(handoff.sender_id) == []

    @pytest.mark.asyncio
    async def test_a_duplicate_call_is_delivered_once(
        self, running_desk: Any, sidecar: ServedSidecar, http: httpx.AsyncClient
    ) -> None:
        self._applies(DUPLICATES)
        handoff = await sidecar.open_handoff()
        call = self._hook("agent_message", DUPLICATES, running_desk, handoff.desk_conversation_id)
        first = await send_call(http, sidecar.url, call)
        assert first.status_code < 300, f"answered {first.status_code}: {first.text[:200]}"
        queued = await sidecar.queued_for_rasa(handoff.sender_id)
        assert queued, "the call queued nothing for the conversation"
        again = await send_call(http, sidecar.url, call)
        # The desk retries until it hears success: the duplicate must hear it too.
        assert again.status_code == first.status_code, f"the duplicate answered {again.status_code}: {again.text[:200]}"
        assert [item["id"] for item in await sidecar.queued_for_rasa(handoff.sender_id)] == [item["id"] for item in queued]

    @pytest.mark.asyncio
    async def test_a_call_for_an_unknown_conversation_is_answered_so_the_desk_stops_retrying(
        self, running_desk: Any, sidecar: ServedSidecar, http: httpx.AsyncClient
    ) -> None:
        self._applies(UNKNOWN_CONVERSATION)
        call = self._hook("agent_message", UNKNOWN_CONVERSATION, running_desk, unknown_conversation_id())
        response = await send_call(http, sidecar.url, call)
        assert response.status_code < 500, f"answered {response.status_code}: the desk would retry forever"
        assert self.desk_stops_retrying(response.status_code), (
            f"answered {response.status_code}, which the desk takes as a failure and retries"
        )
        connector = sidecar.service.connector
        if isinstance(connector, TakesWebhooks):
            parsed = await connector.parse_webhook(call)
            expected = (parsed.when_unknown or parsed.reply) if parsed.events else parsed.reply
            assert response.status_code == expected.status, (
                f"answered {response.status_code}; the connector's reply for a conversation not ours is {expected.status}"
            )
        assert await sidecar.store.queues(TO_RASA) == [], "something was queued for a conversation that is not ours"

    @pytest.mark.asyncio
    async def test_every_request_to_the_desk_follows_its_spec(self, running_desk: Any, sidecar: ServedSidecar) -> None:
        self._applies(OUTBOUND_SPEC)
        handoff = await sidecar.open_handoff()
        await sidecar.relay(handoff, "my order is late, see https://example.com/receipt.pdf")
        await sidecar.finish(handoff, CloseReason.USER_CLOSED)
        assert await sidecar.to_desk(handoff) == [], "start, send and close were not all delivered to the desk"
        assert self._hook("desk_requests", OUTBOUND_SPEC, running_desk), "the fake desk saw no request"
        errors = list(self._hook("spec_errors", OUTBOUND_SPEC, running_desk))
        assert errors == [], "requests off the desk's spec:\n" + "\n".join(errors)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("failure", FAILURES, ids=[str(failure) for failure in FAILURES])
    async def test_desk_failures_are_told_apart_auth_from_retryable(self, failure: Failure, kit_store: Store) -> None:
        self._applies(STATUS_MAPPING)
        with FailingDesk(failure) as desk:
            connector = with_tokens(
                self._hook("connector_at", STATUS_MAPPING, desk.url, kit_store, CONNECTOR_TIMEOUT), kit_store
            )
            try:
                await self._each_call_fails_as(connector, desk, failure)
                status = await connector.check()
            finally:
                await connector.aclose()
        assert isinstance(status, ServiceStatus), f"check() answered {status!r}"
        if failure in (401, 403):
            assert status is ServiceStatus.UNAVAILABLE, f"check() with credentials refused ({failure}) said {status.value}"

    async def _each_call_fails_as(self, connector: Connector, desk: FailingDesk, failure: Failure) -> None:
        request = a_request()
        calls = {
            "start": lambda: connector.start(request),
            "send": lambda: connector.send(unknown_conversation_id(), UserMessage(uuid.uuid4().hex, "hello", time.time())),
            "close": lambda: connector.close(unknown_conversation_id(), CloseReason.USER_CLOSED),
        }
        auth = failure in (401, 403)
        for name, call in calls.items():
            arrived = len(desk.arrived)
            try:
                await call()
            except DeskError as error:
                assert error.auth is auth, f"{name}() with the desk answering {failure}: auth={error.auth}"
                assert error.retryable is not auth, f"{name}() with the desk answering {failure}: retryable={error.retryable}"
                continue
            assert len(desk.arrived) == arrived, f"{name}() called the desk, which answered {failure}, and carried on"
