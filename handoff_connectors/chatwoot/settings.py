"""`connectors.chatwoot` in handoff.yml."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator, model_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


class ChatwootSettings(DeskSettings):
    """Chatwoot (Application API v1): a channel to an API inbox, or the bot as an Agent Bot in an inbox."""

    # channel: users of any channel; a handoff opens a conversation in the API inbox `inbox_id`.
    # agent_bot: the bot also answers the conversations of the inbox its Agent Bot is connected to.
    mode: Literal["channel", "agent_bot"] = "channel"
    url: str = "https://app.chatwoot.com"
    account_id: PositiveInt
    # A user's access token (Profile settings -> Access Token): the API inbox's conversations, and check().
    api_access_token: SecretStr
    inbox_id: Optional[PositiveInt] = None
    # agent_bot mode: the Agent Bot's access token; the bot's messages and its handoffs go through it.
    bot_access_token: Optional[SecretStr] = None
    # The secret Chatwoot signs webhooks with (X-Chatwoot-Signature).
    webhook_secret: Optional[SecretStr] = None
    # Only for an instance too old to sign its webhooks: take unsigned calls (see doc.md to restrict them).
    accept_unsigned_webhooks: bool = False
    # Then required as ?token=... in the webhook URL, when set.
    webhook_token: Optional[SecretStr] = None
    max_webhook_age: PositiveInt = Field(300, description="seconds a signed webhook's timestamp may be off our clock")
    # Routing target (escalation `routing`) -> Chatwoot team id.
    teams: dict[str, PositiveInt] = Field(default_factory=dict)
    default_team: Optional[PositiveInt] = None
    timeout: PositiveFloat = 10.0

    _check_url = field_validator("url")(http_url)
    _secrets_are_set = field_validator("api_access_token", "bot_access_token", "webhook_secret", "webhook_token")(
        lambda value: value if value is None else non_empty_secret(value)
    )

    @model_validator(mode="after")
    def _mode_needs(self) -> "ChatwootSettings":
        if self.mode == "channel" and self.inbox_id is None:
            raise ValueError("inbox_id: required in channel mode (the id of the API inbox)")
        if self.mode == "agent_bot" and self.bot_access_token is None:
            raise ValueError("bot_access_token: required in agent_bot mode (the Agent Bot's access token)")
        if self.webhook_secret is None and not self.accept_unsigned_webhooks:
            raise ValueError(
                "webhook_secret: required to verify X-Chatwoot-Signature "
                "(or accept_unsigned_webhooks: true for an instance too old to sign)"
            )
        return self
