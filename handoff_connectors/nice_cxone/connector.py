"""NICE CXone Digital, bring your own channel (BYOC): channel to desk.

The sidecar is the BYOC "middleware" between the bot's channel and CXone:

- out (the sidecar's pump): our API application's OAuth token (client
  credentials, `FetchesTokens`: fetched once for every process and
  refreshed by the core, a 401 refreshing it and trying once more), then
  DFO 3.0 "create inbound message" into the BYOC channel the routing target
  names. The first message creates the customer, the thread and the case
  (CXone routes it by the channel's skill): the handoff summary with the
  transcript, then the user's latest question. Each later user message is
  one more inbound message of the thread, files as its attachments (or as
  links, `files_as_links`); our end of the handoff is a last message telling
  the agent the user left.
- in (`ServesRoutes`, see `routes`): CXone fetches a bearer token from the
  sidecar's token endpoint with the client id/secret the user issued to it,
  then posts the agents' replies and the case's events with it; they become
  AgentMessage, AgentTyping, AgentJoined, Transferred and ConversationClosed.

The desk conversation id is the thread's `idOnExternalPlatform`, which we
choose (`rasa-<handoff id>`). Paths and field names the public docs leave
unconfirmed live in `wire`.
"""

from __future__ import annotations

import time
from typing import Any, Callable, ClassVar, Optional

import httpx

from ..core.contract import (
    CloseReason,
    Connector,
    ConnectorContext,
    DeskError,
    DeskHost,
    FetchesTokens,
    HandoffRequest,
    IssuedToken,
    ServesRoutes,
    ServiceStatus,
    Speaker,
    UserMessage,
)
from ..core.store import Store
from . import routes, wire
from .api import CXoneAPI
from .bearer import Bearers
from .settings import NiceCXoneSettings

# Store keys (all under "nice_cxone:").
START_KEY = "nice_cxone:start:"  # a start in progress: {"done": [steps]}
THREAD_KEY = "nice_cxone:thread:"  # a thread of ours: {channel_id, customer_id, customer_name, handoff_id}

_CLOSE_TEXTS = {
    CloseReason.USER_CLOSED: "(The user ended the chat.)",
    CloseReason.TIMEOUT: "(The chat ended by itself: the user sent nothing after the agent's last message.)",
    CloseReason.BOT_ENDED: "(The bot ended the handoff.)",
}
_NO_QUESTION = "(The user asked for a person.)"


class NiceCXoneConnector(Connector, FetchesTokens, ServesRoutes):
    name: ClassVar[str] = "nice_cxone"
    Settings = NiceCXoneSettings

    def __init__(
        self,
        settings: NiceCXoneSettings,
        store: Store,
        http: Optional[httpx.AsyncClient] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if store is None:
            raise ValueError("the NICE CXone connector keeps its threads and CXone's tokens in the handoff store")
        self.settings = settings
        self.store = store
        self.api = CXoneAPI(
            settings.api_url, settings.auth_url, settings.client_id, settings.client_secret.get_secret_value(),
            settings.timeout, http,
        )
        self.bearers = Bearers(
            store, settings.byoc_client_id, settings.byoc_client_secret.get_secret_value(), settings.byoc_token_ttl, clock
        )

    @classmethod
    def from_settings(cls, settings: NiceCXoneSettings, context: ConnectorContext) -> "NiceCXoneConnector":
        return cls(settings, context.store)

    @classmethod
    def attach_routes(cls, app: Any, host: DeskHost) -> None:
        routes.attach(app, host)

    async def fetch_token(self) -> IssuedToken:
        return await self.api.fetch_token()

    async def _post(self, channel_id: str, body: dict[str, Any]) -> None:
        path = wire.messages_path(channel_id)
        await self.tokens.call(lambda token: self.api.call("POST", path, token, body))

    # -- outbound ------------------------------------------------------------

    async def start(self, request: HandoffRequest) -> str:
        thread = wire.thread_id(request.handoff_id)
        record = {
            "channel_id": self.settings.channel_for(request.routing),
            "customer_id": request.sender_id,
            "customer_name": request.email or None,
            "handoff_id": request.handoff_id,
        }
        await self.store.put(THREAD_KEY + thread, record)
        # Resumable: a retry after a failure part-way posts only what CXone has not got yet.
        key = START_KEY + request.handoff_id
        progress = await self.store.get(key) or {"done": []}
        steps = (("summary", _summary(request)), ("question", request.latest_question.strip() or _NO_QUESTION))
        for step, text in steps:
            if step in progress["done"]:
                continue
            await self._post(record["channel_id"], self._message(thread, record, f"{thread}-{step}", text, request.created_at or time.time()))
            progress["done"].append(step)
            await self.store.put(key, progress)
        await self.store.delete(key)
        return thread

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        record = await self._thread(desk_conversation_id)
        if self.settings.files_as_links or not message.attachments:
            text, files = message.text_with_links(), ()
        else:
            files = tuple((a.url, a.name or a.url.rsplit("/", 1)[-1] or "file") for a in message.attachments)
            text = message.text.strip() or ", ".join(name for _, name in files)
        body = self._message(desk_conversation_id, record, message.message_id, text, message.sent_at, files)
        await self._post(record["channel_id"], body)

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        record = await self._thread(desk_conversation_id)
        body = self._message(
            desk_conversation_id, record, f"{desk_conversation_id}-end", _CLOSE_TEXTS[reason], time.time()
        )
        await self._post(record["channel_id"], body)

    async def _thread(self, thread: str) -> dict[str, Any]:
        """The thread's record; a thread we have none of is tried in the default channel."""
        found = await self.store.get(THREAD_KEY + thread)
        return found or {"channel_id": self.settings.channel_id, "customer_id": thread, "customer_name": None}

    def _message(
        self, thread: str, record: dict[str, Any], message_id: str, text: str, sent_at: float,
        files: tuple[tuple[str, str], ...] = (),
    ) -> dict[str, Any]:
        return wire.inbound_message(
            thread=thread,
            thread_name=f"Chat handed over by the bot ({record.get('customer_name') or record['customer_id']})",
            message_id=message_id,
            customer_id=record["customer_id"],
            customer_name=record.get("customer_name"),
            text=text,
            sent_at=sent_at,
            attachments=files,
        )

    async def check(self) -> ServiceStatus:
        try:
            await self.tokens.call(lambda token: self.api.call("GET", wire.CHANNELS_PATH, token))
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    async def aclose(self) -> None:
        await self.api.aclose()


def _summary(request: HandoffRequest) -> str:
    """The first message of the thread: who, why, where from, and the chat with the bot."""
    about = [f"email: {request.email or 'unknown'}", f"language: {request.language}"]
    if request.routing:
        about.append(f"routing: {request.routing}")
    about += [f"{name}: {value}" for name, value in request.attributes.items()]
    lines = ["Handoff from the bot (" + ", ".join(about) + ")"]
    if request.message_to_agent:
        lines.append(f"Message to the agent: {request.message_to_agent}")
    if request.transcript:
        lines.append("")
        lines.append("Conversation with the bot:")
        who = {Speaker.USER: "User", Speaker.BOT: "Bot"}
        lines += [f"{who[turn.speaker]}: {turn.text.strip()}" for turn in request.transcript]
    return "\n".join(lines)
