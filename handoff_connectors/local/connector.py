"""The built-in local help desk: handoffs land in an agent inbox the sidecar serves.

No SaaS account needed: the demo and small teams use it as it is. Agents
open `/inbox?token=...` on the sidecar; what they do there becomes desk
events, exactly as a SaaS desk's webhooks would.
"""

from __future__ import annotations

import logging
import uuid
from typing import ClassVar, Optional

from ..core.contract import (
    CloseReason,
    Connector,
    ConnectorContext,
    DeskError,
    DeskHost,
    HandoffRequest,
    ReportsAvailability,
    ServesRoutes,
    ServiceStatus,
    UserMessage,
)
from ..core.store import Store
from .desk import LocalDesk
from .inbox import Inbox, attach_inbox
from .settings import LocalConnectorSettings

logger = logging.getLogger(__name__)


class LocalConnector(Connector, ReportsAvailability, ServesRoutes):
    """The desk whose agents work in the sidecar's own inbox page."""

    name: ClassVar[str] = "local"
    Settings = LocalConnectorSettings
    # The agents' presence is in the store: no desk call to wait for.
    answers_from_store: ClassVar[bool] = True

    def __init__(self, settings: LocalConnectorSettings, store: Store) -> None:
        self.settings = settings
        self.desk = LocalDesk(store)

    @classmethod
    def from_settings(cls, settings: LocalConnectorSettings, context: ConnectorContext) -> "LocalConnector":
        return cls(settings, context.store)

    @classmethod
    def attach_routes(cls, app, host: DeskHost) -> None:
        inboxes: list[Inbox] = []

        def inbox() -> Inbox:
            # Built at the first request, from the running connector.
            if not inboxes:
                connector = host.connector
                assert isinstance(connector, LocalConnector)
                token = connector.settings.token.get_secret_value() if connector.settings.token else ""
                inboxes.append(Inbox(connector.desk, token or None, host.accept))
            return inboxes[0]

        attach_inbox(app, inbox)

    async def start(self, request: HandoffRequest) -> str:
        await self.desk.open(request)
        return request.handoff_id

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        try:
            conversation = await self.desk.conversation(desk_conversation_id)
            if conversation is None or conversation["status"] == "closed":
                raise KeyError(desk_conversation_id)
            # The inbox shows files as links, one per line after the text.
            await self.desk.add_message(desk_conversation_id, "user", message.text_with_links(), message.message_id)
        except KeyError:
            raise DeskError("the conversation is closed in the inbox", retryable=False) from None

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        try:
            await self.desk.add_message(
                desk_conversation_id, "system", f"closed: {reason.value}", uuid.uuid4().hex
            )
            await self.desk.set_status(desk_conversation_id, "closed")
        except KeyError:
            raise DeskError("no such conversation in the inbox", retryable=False) from None

    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        agents = await self.desk.agents()
        if not agents:
            return None
        return any(agent["available"] for agent in agents.values())

    async def check(self) -> ServiceStatus:
        # Checked at the sidecar's start: said then, not at the first agent refused.
        if not (self.settings.token and self.settings.token.get_secret_value()):
            logger.warning("connectors.local.token is not set: the agent inbox refuses everyone")
        return ServiceStatus.AVAILABLE
