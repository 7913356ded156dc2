"""The Chatwoot connector (Application API v1), in two modes.

channel (default): a handoff finds the contact by its identifier (the Rasa
sender) or email, or creates it in the API inbox; makes sure it has a
contact inbox there (`source_id`); opens the conversation with the team of
the routing; adds the transcript as a private note and the user's latest
question as an incoming message. The agents' outgoing messages, their
assignment, typing, snooze and the resolve come back through the API
inbox's webhook.

agent_bot: the bot is the Agent Bot of an inbox. Chatwoot keeps new
conversations `pending` and posts each message to the bot's webhook: the
contact's incoming ones become `UserWroteInDesk` for Rasa, and the bot's
answers are posted with the Agent Bot's token. A handoff opens the
conversation, assigns the team and leaves the transcript note; the bot is
quiet until an agent resolves it. Users of other channels still get
channel-mode handoffs when `inbox_id` is set.

Webhooks must carry `X-Chatwoot-Signature` (see `signing`), unless
`accept_unsigned_webhooks` says the instance is too old to sign.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import httpx

from ..core.contract import (
    ConnectorContext,
    DeskError,
    HandoffRequest,
    ServiceStatus,
    WebhookRejected,
    WebhookRequest,
)
from . import signing
from .api import DeskAPI, DeskAPIError
from .family import ChatwootFamilyConnector, segment
from .settings import ChatwootSettings

WEBHOOK_PATH = "/chatwoot/webhook"
SENDER_PREFIX = "chatwoot-"


def source_id_for(sender_id: str) -> str:
    """The contact inbox's source id for a Rasa sender: stable, so a second handoff finds the first's."""
    return f"rasa:{sender_id}"


class ChatwootConnector(ChatwootFamilyConnector):
    name: ClassVar[str] = "chatwoot"
    desk_name: ClassVar[str] = "Chatwoot"
    Settings = ChatwootSettings
    webhook_routes = (("POST", WEBHOOK_PATH),)

    def __init__(self, settings: ChatwootSettings, store: Any, http: Optional[httpx.AsyncClient] = None) -> None:
        api = DeskAPI("Chatwoot", settings.url, {"api_access_token": settings.api_access_token.get_secret_value()}, settings.timeout, http)
        bot_api = None
        if settings.bot_access_token is not None:
            bot_api = DeskAPI("Chatwoot", settings.url, {"api_access_token": settings.bot_access_token.get_secret_value()}, settings.timeout)
        super().__init__(settings, store, api, bot_api)
        self._secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        self._token = settings.webhook_token.get_secret_value() if settings.webhook_token else None

    @classmethod
    def from_settings(cls, settings: ChatwootSettings, context: ConnectorContext) -> "ChatwootConnector":
        return cls(settings, context.store)

    @property
    def hosts_the_bot(self) -> bool:  # type: ignore[override]
        return self.settings.mode == "agent_bot"

    def path(self, *parts: str) -> str:
        return f"/api/v1/accounts/{self.settings.account_id}/" + "/".join(segment(p) for p in parts)

    # -- the contact --------------------------------------------------------------------

    async def contact_for(self, request: HandoffRequest) -> tuple[str, Optional[str]]:
        identifier = f"rasa:{request.sender_id}"
        contact = await self._find(identifier, "identifier") or (
            await self._find(request.email, "email") if request.email else None
        )
        if contact is None:
            body: dict[str, Any] = {"inbox_id": self.settings.inbox_id, "identifier": identifier}
            if request.email:
                body.update(email=request.email, name=request.email.split("@", 1)[0])
            contact_id = _contact_id(await self.api.call("POST", self.path("contacts"), body))
            if contact_id is None:
                raise DeskError("Chatwoot POST contacts answered without the contact's id", retryable=False)
        else:
            contact_id = str(contact["id"])
        source_id = source_id_for(request.sender_id)
        try:
            await self.api.call(
                "POST", self.path("contacts", contact_id, "contact_inboxes"),
                {"inbox_id": self.settings.inbox_id, "source_id": source_id},
            )
        except DeskAPIError as error:
            if error.status != 422:
                raise
            # 422: the contact has this source id in the inbox already (an earlier handoff).
        return contact_id, source_id

    async def _find(self, value: str, field: str) -> Optional[dict[str, Any]]:
        answer = await self.api.call("GET", self.path("contacts", "search"), params={"q": value})
        for contact in answer.get("payload") or [] if isinstance(answer, dict) else []:
            if isinstance(contact, dict) and contact.get("id") is not None:
                found = contact.get(field)
                if isinstance(found, str) and found.casefold() == value.casefold():
                    return contact
        return None

    # -- credentials and webhooks --------------------------------------------------------

    async def check(self) -> ServiceStatus:
        try:
            await self.api.call("GET", "/api/v1/profile")
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    def verify_webhook(self, request: WebhookRequest) -> None:
        if self._secret is not None and (signing.is_signed(request.headers) or not self.settings.accept_unsigned_webhooks):
            signing.verify(self._secret, request.headers, request.body, self.settings.max_webhook_age)
            return
        # An instance too old to sign, accepted because the settings say so: the URL's token, when set.
        if self._token is not None and not signing.token_matches(self._token, request.query):
            raise WebhookRejected(401, "missing or wrong token in the webhook URL")


def _contact_id(answer: Any) -> Optional[str]:
    """The new contact's id: Chatwoot answers {payload: {contact: {...}}}; its description, {id, payload: [...]}."""
    if not isinstance(answer, dict):
        return None
    if answer.get("id") is not None:
        return str(answer["id"])
    payload = answer.get("payload")
    if isinstance(payload, dict):
        contact = payload.get("contact") if isinstance(payload.get("contact"), dict) else payload
        return str(contact["id"]) if contact.get("id") is not None else None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict) and payload[0].get("id") is not None:
        return str(payload[0]["id"])
    return None
