"""The EngageLab LiveDesk connector, on the Chatwoot-family base (`chatwoot.family`).

LiveDesk's API channel speaks Chatwoot's payloads (`Channel::Api`,
`contact_inbox`, `source_id`, `message_type`, `private`): the handoff, the
webhook parsing and the bot's messages are the shared ones. What is
LiveDesk's own lives here: the host and the `/api/v2/accounts/...` paths
(no account id), Basic key:secret authentication, contacts created (no
search is documented), the webhook's token in its URL (no signature is
documented), and the credential check. The choices made where LiveDesk's
documentation is silent are listed on doc.md.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar, Optional

import httpx

from ..chatwoot.api import DeskAPI, DeskAPIError
from ..chatwoot.family import ChatwootFamilyConnector, segment
from ..chatwoot.signing import token_matches
from ..core.contract import (
    ConnectorContext,
    DeskError,
    HandoffRequest,
    ServiceStatus,
    WebhookRejected,
    WebhookRequest,
)
from .settings import LiveDeskSettings

WEBHOOK_PATH = "/livedesk/webhook"


class LiveDeskConnector(ChatwootFamilyConnector):
    name: ClassVar[str] = "livedesk"
    desk_name: ClassVar[str] = "LiveDesk"
    Settings = LiveDeskSettings
    webhook_routes = (("POST", WEBHOOK_PATH),)

    def __init__(self, settings: LiveDeskSettings, store: Any, http: Optional[httpx.AsyncClient] = None) -> None:
        pair = f"{settings.api_key.get_secret_value()}:{settings.api_secret.get_secret_value()}"
        basic = "Basic " + base64.b64encode(pair.encode()).decode()
        super().__init__(settings, store, DeskAPI("LiveDesk", settings.url, {"Authorization": basic}, settings.timeout, http))
        self._token = settings.webhook_token.get_secret_value()

    @classmethod
    def from_settings(cls, settings: LiveDeskSettings, context: ConnectorContext) -> "LiveDeskConnector":
        return cls(settings, context.store)

    @property
    def hosts_the_bot(self) -> bool:  # type: ignore[override]
        return self.settings.mode == "desk"

    def path(self, *parts: str) -> str:
        return "/api/v2/accounts/" + "/".join(segment(p) for p in parts)

    async def contact_for(self, request: HandoffRequest) -> tuple[str, Optional[str]]:
        # The API channel creates no contact by itself: contact, then conversation, then messages.
        body: dict[str, Any] = {"inbox_id": self.settings.inbox_id, "identifier": f"rasa:{request.sender_id}"}
        if request.email:
            body.update(email=request.email, name=request.email.split("@", 1)[0])
        try:
            answer = await self.api.call("POST", self.path("contacts"), body)
        except DeskAPIError as error:
            if error.status != 422:
                raise
            # Taken (an earlier handoff of this user, or the email): a contact of this handoff's own;
            # the email stays in the transcript note.
            body = {"inbox_id": self.settings.inbox_id, "identifier": f"rasa:{request.sender_id}:{request.handoff_id}",
                    "name": body.get("name", "Rasa user")}
            answer = await self.api.call("POST", self.path("contacts"), body)
        return _contact_of(answer)

    async def check(self) -> ServiceStatus:
        # No read-only call is documented: list contacts; any answer but 401/403 means the key is taken.
        try:
            await self.api.call("GET", self.path("contacts"), params={"page": "1"})
        except DeskAPIError as error:
            return ServiceStatus.UNAVAILABLE if error.auth or error.retryable else ServiceStatus.AVAILABLE
        except DeskError:
            return ServiceStatus.UNAVAILABLE
        return ServiceStatus.AVAILABLE

    def verify_webhook(self, request: WebhookRequest) -> None:
        if not token_matches(self._token, request.query):
            raise WebhookRejected(401, "missing or wrong token in the webhook URL")


def _contact_of(answer: Any) -> tuple[str, Optional[str]]:
    """(contact id, source id) from {payload: {contact, contact_inbox}} or a flat contact with contact_inboxes."""
    payload = answer.get("payload") if isinstance(answer, dict) else None
    holder = payload if isinstance(payload, dict) else answer if isinstance(answer, dict) else {}
    contact = holder.get("contact") if isinstance(holder.get("contact"), dict) else holder
    if contact.get("id") in (None, ""):
        raise DeskError("LiveDesk POST contacts answered without the contact's id", retryable=False)
    inbox = holder.get("contact_inbox")
    if not isinstance(inbox, dict):
        inboxes = contact.get("contact_inboxes")
        inbox = inboxes[0] if isinstance(inboxes, list) and inboxes and isinstance(inboxes[0], dict) else {}
    source = inbox.get("source_id")
    return str(contact["id"]), str(source) if source not in (None, "") else None
