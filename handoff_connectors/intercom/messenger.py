"""Messenger mode: the bot as the first responder inside Intercom Messenger.

The connector queues each user message of an Intercom conversation on
`intercom_bot:<conversation id>` (deduplicated by notification and part).
This relay, running in the sidecar, drains those queues in order:

- while a handoff is active for the conversation's sender
  (`intercom-<conversation id>`), the message stays in Intercom for the
  agent and the bot says nothing; only a click on a quick reply the bot
  itself offered (its "End chat" button) still goes to the bot;
- otherwise the text goes to Rasa's REST channel
  (`POST {rasa.url}/webhooks/rest/webhook`), which answers with the bot's
  messages; each is queued on `intercom_say:<conversation id>` and posted
  into the conversation as the bot admin.

Two queues, so a failure posting into Intercom never sends the user's
message to Rasa twice. Both retry with backoff while Rasa or Intercom is
down, and survive a sidecar restart (the loop looks at the store every
`sidecar.poll_interval`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx

from ..core.contract import DeskError
from ..core.outbox import RetryLater, Undeliverable, drain, new_owner
from ..sidecar.pump import Pump
from .connector import BOT_QUEUE, SAY_QUEUE, sender_for

logger = logging.getLogger(__name__)

REST_WEBHOOK = "/webhooks/rest/webhook"


class MessengerRelay:
    def __init__(self, connector, service, rasa_settings, sidecar_settings) -> None:
        self.connector = connector
        self.service = service
        self.store = connector.store
        self._rest_url = rasa_settings.url + REST_WEBHOOK
        self._http = httpx.AsyncClient(timeout=rasa_settings.timeout)
        owner = new_owner()
        # The sidecar's own delivery loop, over the two messenger queues.
        self._pump = Pump(
            self.store,
            [
                (BOT_QUEUE, lambda queue: drain(self.store, queue, self.to_bot, owner)),
                (SAY_QUEUE, lambda queue: drain(self.store, queue, self.to_intercom, owner)),
            ],
            sidecar_settings.poll_interval,
            sidecar_settings.max_retry_delay,
        )

    def start(self) -> None:
        self._pump.start()

    async def stop(self) -> None:
        await self._pump.stop()
        await self._http.aclose()

    # -- one user message: to the bot, or nowhere while an agent has it ---------

    async def to_bot(self, item: dict[str, Any]) -> None:
        conversation_id = item["conversation_id"]
        sender_id = sender_for(conversation_id)
        text = item.get("text") or ""
        payload = await self.connector.quick_reply_payload(conversation_id, item.get("quick_reply_uuid"), text)
        if await self.service.active(sender_id) is not None and payload is None:
            return  # A handoff owns the conversation: the agent reads it in Intercom.
        message = payload or text
        if not message.strip():
            return
        metadata: dict[str, Any] = {"intercom": {"conversation_id": conversation_id, "contact_id": item.get("contact_id")}}
        if item.get("email"):
            metadata["email"] = item["email"]
        if item.get("attachments"):
            metadata["attachments"] = item["attachments"]
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
            answers = []
        for answer in answers if isinstance(answers, list) else []:
            if isinstance(answer, dict):
                said = {"id": uuid.uuid4().hex, "conversation_id": conversation_id, "message": answer}
                await self.store.push(SAY_QUEUE + conversation_id, said)

    # -- one bot message: into the Intercom conversation --------------------------

    async def to_intercom(self, item: dict[str, Any]) -> None:
        try:
            await self.connector.post_bot_message(item["conversation_id"], item["message"])
        except DeskError as error:
            if error.retryable:
                raise RetryLater(str(error)) from None
            raise Undeliverable(f"Intercom refused a bot message: {error}") from None
