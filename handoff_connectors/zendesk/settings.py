"""`connectors.zendesk` in handoff.yml: Zendesk messaging through Sunshine Conversations (API v2)."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator, model_validator

from ..core.config import DeskSettings, http_url, non_empty_secret

# The spec's servers: a licensed Zendesk account's own host, or a legacy Sunshine Conversations region.
LEGACY_REGIONS = {"us": "https://api.smooch.io", "eu": "https://api.eu-1.smooch.io"}
AGENT_WORKSPACE = "zd:agentWorkspace"


class ZendeskConnectorSettings(DeskSettings):
    """Zendesk (Sunshine Conversations API v2 and its switchboard), in two modes.

    channel: the user talks to the bot anywhere; a handoff creates the Sunshine
    user and conversation and passes control to the agent workspace.
    switchboard_bot: the bot is itself a switchboard integration of the app,
    answering the conversations it controls, until it passes control.
    """

    mode: Literal["channel", "switchboard_bot"] = "channel"
    """`channel`: the user talks to the bot anywhere and a handoff creates a Sunshine conversation passed to the agent workspace; `switchboard_bot`: the bot also answers Zendesk messaging conversations itself as a switchboard integration and passes control to the agent workspace (desk to desk)."""
    app_id: str = Field(min_length=1)
    """The app ID shown with the API key (Admin Center > Apps and integrations > APIs > Conversations API); webhooks for another app are ignored."""
    key_id: str = Field(min_length=1)
    """The key ID of that API key: the connector signs in with it and the secret (basic authentication)."""
    key_secret: SecretStr
    """The API key's secret key, shown once when you create the key (a secret)."""
    webhook_secret: SecretStr
    """The webhook secret of the Conversations integration (Admin Center > Apps and integrations > Integrations > Conversations integrations): Sunshine sends it as X-API-Key with every call, and the sidecar refuses calls without it."""
    subdomain: Optional[str] = None
    """Your Zendesk subdomain (`acme` for acme.zendesk.com): the API is `https://<subdomain>.zendesk.com/sc`; one of `subdomain`, `region` or `base_url` is required."""
    region: Optional[Literal["us", "eu"]] = None
    """Instead of `subdomain`, for a legacy Sunshine Conversations account: `us` (api.smooch.io) or `eu` (api.eu-1.smooch.io)."""
    base_url: Optional[str] = None
    """Instead, any address of the API (a proxy, or a fake Sunshine in tests); it wins over `subdomain` and `region`."""
    agent_workspace: str = Field(default=AGENT_WORKSPACE, min_length=1)
    """The switchboard integration handoffs pass control to: its id, name or integration type (the default is Zendesk's agent workspace)."""
    bot_integration: Optional[str] = None
    """The bot's own switchboard integration (its id, name, integration id or type), which `switchboard_bot` mode answers for and gives control back to; required in `switchboard_bot` mode."""
    routing_tags: dict[str, str] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> the ticket tag a handoff sets (`dataCapture.systemField.tags`), for your triggers or routing rules to route on."""
    default_tag: Optional[str] = None
    """The tag of handoffs whose routing is not in `routing_tags` (none: no tag)."""
    message_ticket_field: Optional[str] = None
    """The id of a ticket field you created to receive the bot's message to the agent (none: no ticket field is filled)."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to Sunshine Conversations."""

    _secrets_are_set = field_validator("key_secret", "webhook_secret")(non_empty_secret)

    @field_validator("subdomain")
    @classmethod
    def _subdomain(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", value):
            raise ValueError("the Zendesk subdomain only (acme for acme.zendesk.com)")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else http_url(value)

    @field_validator("message_ticket_field", "bot_integration", "default_tag", mode="before")
    @classmethod
    def _as_text(cls, value):
        # Zendesk ids are numbers; YAML reads an unquoted 360001234 as an int.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _where_and_who(self) -> "ZendeskConnectorSettings":
        if not (self.subdomain or self.region or self.base_url):
            raise ValueError("give subdomain (licensed Zendesk), region (legacy us/eu) or base_url")
        if self.mode == "switchboard_bot" and not self.bot_integration:
            raise ValueError("bot_integration: switchboard_bot mode needs the bot's switchboard integration")
        return self

    @property
    def api_url(self) -> str:
        if self.base_url:
            return self.base_url
        if self.subdomain:
            return f"https://{self.subdomain}.zendesk.com/sc"
        return LEGACY_REGIONS[self.region or "us"]

    def tag_for(self, routing: Optional[str]) -> Optional[str]:
        if routing and routing in self.routing_tags:
            return self.routing_tags[routing]
        return self.default_tag
