"""The Salesforce connector: Messaging for In-App and Web (Messaging API v2), channel to desk.

The bot plays the end user of a Custom Client deployment. A handoff:

1. fetches an unauthenticated access token: a new anonymous end user, one
   per handoff, kept in the store under the conversation's id;
2. creates the conversation (its UUID chosen here) with routing attributes
   (fixed ones from the settings, then `escalation.attributes`, the routing
   target and the email under the field names the settings give), which the
   deployment's Omni-Channel flow routes;
3. posts, as the end user, the transcript (and the message to the agent),
   then the user's latest question.

Each later user message is posted as the end user (files as links: the
Messaging API's file upload is not part of what this connector follows); our
close deletes the conversation.

Salesforce never calls us: the agents' messages, typing, the routing result,
participant changes and the close arrive only as server-sent events on the
end user's stream. `conversation_source` gives the sidecar one source per
live handoff; it keeps the stream open, reopens it with `Last-Event-ID` after
a drop, a restart of the sidecar or a token renewal, and names each entry by
its id so none is shown twice.

Tokens expire. The core's shared token is one per app; this one belongs to
one end user and one conversation, so it lives in the store beside it and
is renewed (continuation token, same end user) a margin before its JWT's
`exp`, under a lease so processes do not renew it at once; a call refused
with 401 renews it and is tried once more.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable, ClassVar, Optional, TypeVar
from urllib.parse import quote

import httpx

from ..core.contract import (
    CloseReason,
    Connector,
    ConnectorContext,
    DeskError,
    EventSource,
    HandoffRequest,
    HasEventSources,
    ServiceStatus,
    SourceBatch,
    Speaker,
    UserMessage,
)
from ..core.store import Store
from .api import CONVERSATION_PATH, Issued, MiawAPI
from .settings import SalesforceSettings
from .sse import events_of

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Store keys (all under "salesforce:").
START_KEY = "salesforce:start:"  # a start in progress: {conversation_id, done: [steps]}
CONVERSATION_KEY = "salesforce:conversation:"  # {handoff_id, token, expires_at, last_event_id}
TOKEN_LEASE = "lease:salesforce:token:"
TOKEN_LEASE_SECONDS = 30.0
TOKEN_WAIT_STEP = 0.05

# Message ids are UUIDs derived from ours, so a retried post carries the same id.
_IDS = uuid.UUID("6f1d8e0a-52c4-4c1b-9a37-5a1e0c2f7d41")
# Reopening a stream that keeps dropping without a single event: pauses, then the runner's backoff.
_EMPTY_DROPS_BEFORE_FAILING = 5


def entry_id(*parts: str) -> str:
    return str(uuid.uuid5(_IDS, ":".join(parts)))


class SalesforceConnector(Connector, HasEventSources):
    name: ClassVar[str] = "salesforce"
    Settings = SalesforceSettings

    def __init__(
        self, settings: SalesforceSettings, store: Store, http: Optional[httpx.AsyncClient] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if store is None:
            raise ValueError("the Salesforce connector keeps each conversation's token in the handoff store")
        self.settings = settings
        self.store = store
        self.clock = clock
        self.api = MiawAPI(settings, http, clock)

    @classmethod
    def from_settings(cls, settings: SalesforceSettings, context: ConnectorContext) -> "SalesforceConnector":
        return cls(settings, context.store)

    # -- a conversation's own token ------------------------------------------------------

    async def conversation(self, conversation_id: str) -> Optional[dict[str, Any]]:
        return await self.store.get(CONVERSATION_KEY + conversation_id)

    def _fresh(self, record: Optional[dict], stale: Optional[str]) -> Optional[dict]:
        if not record or record.get("token") == stale:
            return None
        if float(record.get("expires_at") or 0) - self.settings.token_refresh_margin <= self.clock():
            return None
        return record

    async def token(self, conversation_id: str, stale: Optional[str] = None) -> dict[str, Any]:
        """The conversation's record with a token good for at least the refresh margin."""
        key = CONVERSATION_KEY + conversation_id
        record = await self.store.get(key)
        if record is None:
            raise DeskError(f"Salesforce conversation {conversation_id} has no access token (closed on our side)", retryable=False)
        if self._fresh(record, stale):
            return record
        owner, lease = uuid.uuid4().hex, TOKEN_LEASE + conversation_id
        waited = 0.0
        while waited < TOKEN_LEASE_SECONDS:
            if await self.store.acquire(lease, owner, TOKEN_LEASE_SECONDS):
                try:
                    record = await self.store.get(key) or record
                    if self._fresh(record, stale):
                        return record  # renewed by someone else while we waited
                    issued = await self.api.continued_token(record["token"])
                    record = {**record, "token": issued.token, "expires_at": issued.expires_at}
                    await self.store.put(key, record)
                    return record
                finally:
                    await self.store.release(lease, owner)
            await asyncio.sleep(TOKEN_WAIT_STEP)
            waited += TOKEN_WAIT_STEP
        raise DeskError("timed out waiting for another process to renew a Salesforce token", retryable=True)

    async def as_end_user(self, conversation_id: str, use: Callable[[str], Awaitable[T]]) -> T:
        """`use(token)`; refused with 401/403, once more with a renewed token."""
        token = (await self.token(conversation_id))["token"]
        try:
            return await use(token)
        except DeskError as error:
            if not error.auth:
                raise
        return await use((await self.token(conversation_id, stale=token))["token"])

    # -- outbound ---------------------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        # Resumable: a retry after a failure part-way carries on where it stopped,
        # with the same conversation id and the same message ids.
        key = START_KEY + request.handoff_id
        progress = await self.store.get(key)
        if progress is None:
            progress = {"conversation_id": str(uuid.uuid4()), "done": []}
            await self.store.put(key, progress)
        conversation_id = progress["conversation_id"]
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("token", lambda: self._new_end_user(conversation_id, request.handoff_id)),
            ("conversation", lambda: self._create(conversation_id, request)),
            ("transcript", lambda: self._post_text(conversation_id, entry_id(request.handoff_id, "transcript"), _summary(request))),
            ("question", lambda: self._post_text(conversation_id, entry_id(request.handoff_id, "question"), request.latest_question)),
        ]
        for step, run in steps:
            if step in progress["done"]:
                continue
            await run()
            progress["done"].append(step)
            await self.store.put(key, progress)
        await self.store.delete(key)
        return conversation_id

    async def _new_end_user(self, conversation_id: str, handoff_id: str) -> None:
        issued: Issued = await self.api.new_token()
        await self.store.put(
            CONVERSATION_KEY + conversation_id,
            {"handoff_id": handoff_id, "token": issued.token, "expires_at": issued.expires_at, "last_event_id": issued.last_event_id},
        )

    def routing_attributes(self, request: HandoffRequest) -> dict[str, str]:
        attributes = {**self.settings.routing_attributes, **request.attributes}
        if self.settings.routing_attribute and request.routing:
            attributes[self.settings.routing_attribute] = request.routing
        if self.settings.email_attribute and request.email:
            attributes[self.settings.email_attribute] = request.email
        return attributes

    async def _create(self, conversation_id: str, request: HandoffRequest) -> None:
        body: dict[str, Any] = {"conversationId": conversation_id, "esDeveloperName": self.settings.deployment}
        attributes = self.routing_attributes(request)
        if attributes:
            body["routingAttributes"] = attributes
        await self.as_end_user(conversation_id, lambda token: self.api.call("POST", CONVERSATION_PATH, token, body))

    async def _post_text(self, conversation_id: str, message_id: str, text: str) -> None:
        if not text.strip():
            return
        body = {
            "message": {
                "id": message_id,
                "messageType": "StaticContentMessage",
                "staticContent": {"formatType": "Text", "text": text},
            },
            "esDeveloperName": self.settings.deployment,
        }
        path = f"{CONVERSATION_PATH}/{_segment(conversation_id)}/message"
        await self.as_end_user(conversation_id, lambda token: self.api.call("POST", path, token, body))

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        if await self.conversation(desk_conversation_id) is None:
            # Only our close removes it: the conversation is over, nothing can reach it.
            logger.warning("Salesforce conversation %s was closed on our side; a late message is not sent", desk_conversation_id)
            return
        await self._post_text(desk_conversation_id, entry_id(message.message_id), message.text_with_links())

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        if await self.conversation(desk_conversation_id) is None:
            return  # closed already
        path = f"{CONVERSATION_PATH}/{_segment(desk_conversation_id)}"
        query = {"esDeveloperName": self.settings.deployment}
        try:
            await self.as_end_user(desk_conversation_id, lambda token: self.api.call("DELETE", path, token, query=query))
        except DeskError as error:
            if error.retryable or error.auth:
                raise
            # Refused for good (Salesforce closed it already): nothing is left to close.
            logger.info("Salesforce would not close conversation %s (%s); taking it as closed", desk_conversation_id, error)
        await self.store.delete(CONVERSATION_KEY + desk_conversation_id)

    async def check(self) -> ServiceStatus:
        """Whether the org and the deployment give out access tokens (a new anonymous end user)."""
        try:
            await self.api.new_token()
        except DeskError as error:
            logger.info("Salesforce status check failed: %s", error)
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- inbound: one stream per live conversation -------------------------------------

    def conversation_source(self, desk_conversation_id: str) -> Optional[EventSource]:
        return ConversationStream(self, desk_conversation_id)


class ConversationStream(EventSource):
    """The end user's event stream, read for one conversation, resumable from an event id."""

    def __init__(self, connector: SalesforceConnector, conversation_id: str) -> None:
        self.connector = connector
        self.conversation_id = conversation_id
        self.key = f"conversation:{conversation_id}"

    async def read(self, cursor: Optional[str]) -> AsyncIterator[SourceBatch]:
        connector = self.connector
        record = await connector.conversation(self.conversation_id)
        if record is None:
            return  # closed on our side; nothing more to read
        # Before the first entry: from where the end user's token was issued, so nothing
        # said between the conversation's creation and the stream's opening is missed.
        last = cursor or record.get("last_event_id")
        empty_drops, refused = 0, None
        while True:
            # After a refusal, a renewed token (the one refused counts as stale).
            record = await connector.token(self.conversation_id, stale=refused)
            token = record["token"]
            renew_at = float(record["expires_at"]) - connector.settings.token_refresh_margin
            read_any = False
            try:
                async for event in connector.api.events(token, last, until=renew_at):
                    read_any = True
                    if event.id:
                        last = event.id
                    yield SourceBatch(events_of(event, self.conversation_id), cursor=event.id)
            except DeskError as error:
                if not error.auth or refused is not None:
                    raise  # refused twice in a row: the runner backs off
                refused = token
                continue
            refused = None
            if read_any or connector.clock() >= renew_at:
                empty_drops = 0
                continue  # dropped, or the token is due for renewal: reopen from `last`
            empty_drops += 1
            if empty_drops >= _EMPTY_DROPS_BEFORE_FAILING:
                raise DeskError("the Salesforce stream keeps closing without an event", retryable=True)
            await asyncio.sleep(0.1 * 2**empty_drops)


def _summary(request: HandoffRequest) -> str:
    """The handoff as the agent reads it first: the facts, the message to the agent, the transcript."""
    facts = {"email": request.email or "unknown", "language": request.language, "routing": request.routing, **request.attributes}
    shown = ", ".join(f"{name}: {value}" for name, value in facts.items() if value)
    lines = [f"[Handoff from the bot] {shown}"]
    if request.message_to_agent:
        lines.append(f"Message to the agent: {request.message_to_agent}")
    if request.transcript:
        lines.append("Chat with the bot so far:")
    speakers = {Speaker.USER: "User", Speaker.BOT: "Bot"}
    for turn in request.transcript:
        lines.append(speakers[turn.speaker] + ": " + " ".join(turn.text.split()))
    return "\n".join(lines)


def _segment(value: str) -> str:
    return quote(str(value), safe="")
