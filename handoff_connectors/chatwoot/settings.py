"""`connectors.chatwoot` in handoff.yml."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator, model_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


class ChatwootSettings(DeskSettings):
    """Chatwoot (Application API v1): a channel to an API inbox, or the bot as an Agent Bot in an inbox."""

    mode: Literal["channel", "agent_bot"] = "channel"
    """`channel`: users of any channel talk to the bot and a handoff opens a conversation in the API inbox `inbox_id`; `agent_bot`: the bot also answers, as an Agent Bot, the conversations of the inbox it is connected to (Settings > Inboxes > the inbox > Bot Configuration) and hands them to your team."""
    url: str = "https://app.chatwoot.com"
    """Your Chatwoot's address, no trailing slash: the default is Chatwoot Cloud, otherwise your own instance's URL."""
    account_id: PositiveInt
    """Your Chatwoot account's id: the number after `/app/accounts/` in Chatwoot's URL."""
    api_access_token: SecretStr
    """The Access Token of the user the integration acts as, an administrator or an agent of the inbox (Profile settings, at the bottom): contacts and the API inbox's conversations go through it, and `rasa-handoff status` checks it (a secret)."""
    inbox_id: Optional[PositiveInt] = None
    """The id of the API inbox handoffs open their conversations in (Settings > Inboxes > the inbox > Settings: the number in the URL); required in `channel` mode, and in `agent_bot` mode needed only for users of other channels."""
    bot_access_token: Optional[SecretStr] = None
    """The Agent Bot's Access Token (Settings > Bots > your bot): the bot's messages and its handoffs in the inbox go through it; required in `agent_bot` mode (a secret)."""
    webhook_secret: Optional[SecretStr] = None
    """The webhook Secret Chatwoot signs its calls with (X-Chatwoot-Signature): the API inbox's (its Settings > Configuration tab) or the Agent Bot's; required unless `accept_unsigned_webhooks` is true (a secret)."""
    accept_unsigned_webhooks: bool = False
    """Only for an instance too old to sign its webhooks: accept unsigned calls (signed ones are still verified when `webhook_secret` is set); the default, false, refuses them with 401."""
    webhook_token: Optional[SecretStr] = None
    """With `accept_unsigned_webhooks`: a secret token an unsigned call must carry as `?token=...` in the webhook URL (none: unsigned calls are taken without one)."""
    max_webhook_age: PositiveInt = Field(300)
    """Seconds a signed webhook's X-Chatwoot-Timestamp may be off our clock before the call is refused as a replay."""
    teams: dict[str, PositiveInt] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> Chatwoot team id (Settings > Teams: the number in the team's URL)."""
    default_team: Optional[PositiveInt] = None
    """The team id of handoffs whose routing has no entry in `teams` (none: no team is assigned)."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to Chatwoot."""

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
