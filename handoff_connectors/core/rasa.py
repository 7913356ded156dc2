"""Pushing desk events into a Rasa conversation over Rasa's HTTP API."""

from __future__ import annotations

import logging
from typing import Any, Optional
from urllib.parse import quote

import httpx

from .outbox import RetryLater, RetryLimited, Undeliverable
from .rasa_protocol import acknowledged

logger = logging.getLogger(__name__)


# What a refusal from Rasa usually means, so the log line says what to fix.
_HINTS = {
    401: " (check rasa.token against Rasa's --auth-token)",
    403: " (check rasa.token against Rasa's --auth-token)",
    404: " (is rasa-handoff's domain.yml merged into the bot's domain, and Rasa run with --enable-api?)",
}


# Answers that refuse the item itself (a malformed request), not the moment.
_REFUSES_THE_ITEM = frozenset({400, 413, 422})


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "(no JSON body)"
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:200] if message else "(no message)"


class RasaClient:
    def __init__(
        self,
        url: str,
        token: Optional[str],
        output_channel: str,
        timeout: float,
    ) -> None:
        self._url = url
        self._token = token
        self._output_channel = output_channel
        self._http = httpx.AsyncClient(timeout=timeout)

    async def trigger_intent(
        self, sender_id: str, intent: str, entities: dict[str, Any], event_id: str
    ) -> None:
        """Run `intent` in the conversation; RetryLater until the action saw it."""
        params = {"output_channel": self._output_channel}
        if self._token:
            params["token"] = self._token
        url = f"{self._url}/conversations/{quote(sender_id, safe='')}/trigger_intent"
        try:
            response = await self._http.post(
                url, params=params, json={"name": intent, "entities": entities}
            )
        except httpx.HTTPError as error:
            raise RetryLater(f"Rasa unreachable: {type(error).__name__}") from None
        if response.status_code in _REFUSES_THE_ITEM:
            # About this item, not about Rasa's state: trying again changes nothing.
            raise Undeliverable(f"Rasa answered {response.status_code} to {intent}: {_reason(response)}")
        if response.status_code != 200:
            # Rasa down, or a deployment to fix (token, domain, --enable-api): every item waits alike.
            hint = _HINTS.get(response.status_code, "")
            raise RetryLater(f"Rasa answered {response.status_code} to {intent}{hint}")
        if not _acknowledged(response, event_id):
            raise RetryLimited(f"Rasa ran {intent} but no handoff action acknowledged it")

    async def aclose(self) -> None:
        await self._http.aclose()


def _acknowledged(response: httpx.Response, event_id: str) -> bool:
    """An event counts as delivered only once the action has seen it, not merely when Rasa answered."""
    try:
        events = response.json()["tracker"]["events"]
    except (ValueError, KeyError, TypeError):
        return False
    return acknowledged(events, event_id)
