"""A desk that answers every webhook with the request the sidecar built for it.

Installed for a test sidecar only (a `.dist-info` with its entry point on
PYTHONPATH, as a separately packaged desk would be), so the test sees exactly
what a real desk's `parse_webhook` is given: the URL as the desk called it,
the query and the form fields.
"""

from __future__ import annotations

from typing import ClassVar

from handoff_connectors import (
    CloseReason,
    Connector,
    DeskSettings,
    HandoffRequest,
    HttpReply,
    ServiceStatus,
    TakesWebhooks,
    UserMessage,
    WebhookReply,
    WebhookRequest,
)

PATH = "/echo/inbound"


class EchoSettings(DeskSettings):
    """Nothing to set: the desk only reflects calls."""


class EchoDesk(Connector, TakesWebhooks):
    name: ClassVar[str] = "echo"
    Settings = EchoSettings
    webhook_routes = (("GET", PATH), ("POST", PATH))

    def __init__(self, settings: EchoSettings) -> None:
        self.settings = settings

    async def parse_webhook(self, request: WebhookRequest) -> WebhookReply:
        seen = {
            "method": request.method,
            "path": request.path,
            "url": request.url,
            "query": {name: list(values) for name, values in request.query.items()},
            "form": {name: list(values) for name, values in request.form.items()},
        }
        return WebhookReply(reply=HttpReply(200, seen))

    # It never takes a handoff: the test only calls it.
    async def start(self, request: HandoffRequest) -> str:
        raise NotImplementedError

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        raise NotImplementedError

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        raise NotImplementedError

    async def check(self) -> ServiceStatus:
        return ServiceStatus.AVAILABLE
