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

import asyncio
import logging
import uuid
from typing import Any, Awaitable, Callable

import httpx

from ..core.contract import DeskError
from ..core.outbox import Backoff, RetryLater, Undeliverable, drain, new_owner
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
        self._poll_interval = sidecar_settings.poll_interval
        self._backoff = Backoff(cap=sidecar_settings.max_retry_delay)
        self._owner = new_owner()
        self._wakeup = asyncio.Event()
        self._running: dict[str, asyncio.Task] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run_forever())

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self._running.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._http.aclose()

    async def run_forever(self) -> None:
        routes: tuple[tuple[str, Callable[[dict], Awaitable[None]]], ...] = (
            (BOT_QUEUE, self.to_bot),
            (SAY_QUEUE, self.to_intercom),
        )
        while True:
            try:
                for prefix, deliver in routes:
                    for queue in await self.store.queues(prefix):
                        if queue not in self._running and self._backoff.is_due(queue):
                            self._running[queue] = asyncio.create_task(self._drain(queue, deliver))
            except Exception:
                logger.exception("Could not read the Intercom messenger queues; trying again")
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
            except asyncio.TimeoutError:
                pass
            self._wakeup.clear()

    async def _drain(self, queue: str, deliver: Callable[[dict], Awaitable[None]]) -> None:
        try:
            emptied = await drain(self.store, queue, deliver, self._owner)
        except Exception:
            logger.exception("Relaying %s failed", queue)
            emptied = False
        finally:
            self._running.pop(queue, None)
        if emptied:
            self._backoff.succeeded(queue)
        else:
            self._backoff.failed(queue)
        self._wakeup.set()

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
        self.wake()

    # -- one bot message: into the Intercom conversation --------------------------

    async def to_intercom(self, item: dict[str, Any]) -> None:
        try:
            await self.connector.post_bot_message(item["conversation_id"], item["message"])
        except DeskError as error:
            if error.retryable:
                raise RetryLater(str(error)) from None
            raise Undeliverable(f"Intercom refused a bot message: {error}") from None
