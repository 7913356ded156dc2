"""The bot inside the desk: the desk-to-desk mode, for every desk that hosts the bot.

A connector that `HostsTheBot` reports what users write in the desk's own
chat as `UserWroteInDesk`. Each is queued on `bot_in:<desk conversation>`,
and the sidecar drains those queues in order:

- while a handoff owns the conversation's sender (`bot_sender`), the message
  stays in the desk for the agent and the bot says nothing (the user answered,
  so the session timeout stops until the agent's next message, as for a
  relayed message); only a button the bot itself offered (its "End chat")
  still reaches the bot;
- otherwise the text goes to Rasa's REST channel, which answers with the
  bot's messages; each is queued on `bot_out:<desk conversation>` and posted
  into the desk conversation by the connector.

Two queues, so a failure posting into the desk never sends the user's
message to Rasa twice. Both retry with backoff while Rasa or the desk is
down, and survive a sidecar restart.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Awaitable, Callable, Optional

import httpx

from .contract import DeskError, HostsTheBot, UserWroteInDesk
from .outbox import Attempts, Drained, RetryLater, Undeliverable, drain
from .store import Store
from .timers import SESSION, Timers

BOT_IN = "bot_in:"
BOT_OUT = "bot_out:"
REST_WEBHOOK = "/webhooks/rest/webhook"

# The sender's live handoff, if any (the handoff service's `active`).
ActiveHandoff = Callable[[str], Awaitable[Optional[Any]]]


class DeskBot:
    def __init__(
        self,
        store: Store,
        connector: HostsTheBot,
        active: ActiveHandoff,
        rasa_url: str,
        rasa_timeout: float,
        owner: str,
        attempts: Attempts,
        on_park=None,
    ) -> None:
        self.store = store
        self.connector = connector
        self._active = active
        self._rest_url = rasa_url.rstrip("/") + REST_WEBHOOK
        self._timeout = rasa_timeout
        self._http: httpx.AsyncClient | None = None
        self._owner = owner
        self._attempts = attempts
        self._on_park = on_park

    async def queue(self, event: UserWroteInDesk) -> None:
        """Keep what the user wrote for the bot, once (the pump decides if it goes)."""
        item = {
            "id": event.event_id,
            "conversation_id": event.desk_conversation_id,
            "text": event.text,
            "attachments": [dataclasses.asdict(attachment) for attachment in event.attachments],
            "payload": event.payload,
            "email": event.email,
            "metadata": event.metadata or {},
        }
        await self.store.push(BOT_IN + event.desk_conversation_id, item, once=f"{BOT_IN}{event.event_id}")

    async def to_bot(self, queue: str) -> Drained:
        return await drain(self.store, queue, self._to_bot, self._owner, self._attempts, self._on_park)

    async def to_desk(self, queue: str) -> Drained:
        return await drain(self.store, queue, self._to_desk, self._owner, self._attempts, self._on_park)

    # -- one user message: to the bot, or nowhere while an agent has it ---------------

    async def _to_bot(self, item: dict[str, Any]) -> None:
        conversation_id = item["conversation_id"]
        sender_id = self.connector.bot_sender(conversation_id)
        payload = item.get("payload")
        handoff = await self._active(sender_id) if payload is None else None
        if handoff is not None:
            # A handoff owns the conversation: the agent reads it in the desk. The user
            # answered, so the session timeout counts again from the agent's next message.
            await Timers(self.store).disarm(handoff.handoff_id, SESSION)
            return
        message = payload or item.get("text") or ""
        if not message.strip():
            return
        answers = await self._ask_rasa(sender_id, message, self._metadata(item))
        for answer in answers:
            said = {"id": uuid.uuid4().hex, "conversation_id": conversation_id, "message": answer}
            await self.store.push(BOT_OUT + conversation_id, said)

    def _metadata(self, item: dict[str, Any]) -> dict[str, Any]:
        metadata = dict(item.get("metadata") or {})
        if item.get("email"):
            metadata["email"] = item["email"]
        if item.get("attachments"):
            # As the actions read a channel's files: URLs under `attachments`.
            metadata["attachments"] = [attachment["url"] for attachment in item["attachments"]]
        return metadata

    async def _ask_rasa(self, sender_id: str, message: str, metadata: dict[str, Any]) -> list[dict]:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._http.post(
                self._rest_url, json={"sender": sender_id, "message": message, "metadata": metadata}
            )
        except httpx.HTTPError as error:
            raise RetryLater(f"Rasa unreachable: {type(error).__name__}") from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise RetryLater(f"Rasa's REST channel answered {response.status_code}")
        if response.status_code != 200:
            raise Undeliverable(f"Rasa's REST channel answered {response.status_code} (is `rest:` in credentials.yml?)")
        try:
            answers = response.json()
        except ValueError:
            return []
        return [answer for answer in answers if isinstance(answer, dict)] if isinstance(answers, list) else []

    # -- one bot message: into the desk conversation ------------------------------------

    async def _to_desk(self, item: dict[str, Any]) -> None:
        try:
            await self.connector.post_bot_message(item["conversation_id"], item["message"])
        except DeskError as error:
            if error.retryable:
                raise RetryLater(str(error)) from None
            raise Undeliverable(f"the desk refused a bot message: {error}") from None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
