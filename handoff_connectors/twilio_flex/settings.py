"""`connectors.twilio_flex` in handoff.yml."""

from __future__ import annotations

import re
from typing import Any, Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator, model_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


def _sid(prefix: str):
    pattern = re.compile(rf"^{prefix}[0-9a-fA-F]{{32}}$")

    def check(value: Optional[str]) -> Optional[str]:
        if value is not None and not pattern.match(value):
            raise ValueError(f"must be a Twilio SID: {prefix} and 32 hexadecimal digits")
        return value

    return check


class TwilioFlexSettings(DeskSettings):
    """Twilio Flex: a Conversations conversation per handoff, routed to agents by an Interaction (TaskRouter)."""

    account_sid: str
    """The Account SID (AC...), Console > Account Info."""
    auth_token: SecretStr
    """The Auth Token: it signs every webhook Twilio sends (X-Twilio-Signature), and is the REST password unless an API key is given."""
    api_key_sid: Optional[str] = None
    """An API key's SID (SK...) for the REST calls instead of the auth token (Console > API keys & tokens)."""
    api_key_secret: Optional[SecretStr] = None
    """The API key's secret; goes with `api_key_sid`."""
    conversations_service_sid: str
    """The Flex Conversations service (IS...), Conversations > Manage > Services: the bot's chats are opened there."""
    workspace_sid: str
    """The TaskRouter workspace (WS...) of Flex ("Flex Task Assignment")."""
    workflow_sid: str
    """The TaskRouter workflow (WW...) the bot's tasks go through."""
    task_channel: str = "chat"
    """The TaskRouter task channel the task is created on."""
    queues: dict[str, str] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> TaskRouter queue (its name, or its WQ... SID), written into the task's attributes as `queue` for the workflow's filters."""
    default_queue: Optional[str] = None
    """The queue written when the routing has none of its own in `queues` (none: no `queue` attribute)."""
    webhook_url: Optional[str] = None
    """The URL Twilio posts each conversation's events to (the sidecar's /twilio_flex/webhook as the internet sees it), registered on every conversation the bot opens. Default: `sidecar.public_url` + /twilio_flex/webhook; with neither, set the Flex Conversations service's webhook in the Console instead."""
    bot_author: str = "Bot"
    """Who the transcript and the close notes are written as in the conversation."""
    conversations_url: str = "https://conversations.twilio.com"
    """Twilio's Conversations API host (change it for a proxy only)."""
    flex_url: str = "https://flex-api.twilio.com"
    """Twilio's Flex API host, for the Interactions (change it for a proxy only)."""
    taskrouter_url: str = "https://taskrouter.twilio.com"
    """Twilio's TaskRouter API host, for the agents' availability (change it for a proxy only)."""
    media_url: str = "https://mcs.us1.twilio.com"
    """Twilio's media service, which gives the links to the files agents send (change it for a proxy only)."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to Twilio."""

    _account = field_validator("account_sid")(_sid("AC"))
    _key = field_validator("api_key_sid")(_sid("SK"))
    _service = field_validator("conversations_service_sid")(_sid("IS"))
    _workspace = field_validator("workspace_sid")(_sid("WS"))
    _workflow = field_validator("workflow_sid")(_sid("WW"))
    _urls = field_validator("conversations_url", "flex_url", "taskrouter_url", "media_url")(http_url)
    # An empty auth token would make every signature check meaningless.
    _secrets_are_set = field_validator("auth_token")(non_empty_secret)

    @field_validator("api_key_secret")
    @classmethod
    def _key_secret(cls, value: Optional[SecretStr]) -> Optional[SecretStr]:
        return None if value is None else non_empty_secret(value)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else http_url(value)

    @field_validator("bot_author", "task_channel")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _key_pair(self) -> Any:
        if (self.api_key_sid is None) != (self.api_key_secret is None):
            raise ValueError("api_key_sid and api_key_secret go together: give both or neither")
        return self
