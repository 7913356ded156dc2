"""`connectors.livechat` in handoff.yml."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, NonNegativeInt, PositiveFloat, SecretStr, field_validator, model_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


class LiveChatSettings(DeskSettings):
    """LiveChat (API v3.5): channel to LiveChat, or the bot as a LiveChat bot agent."""

    # channel: the user talks to the bot anywhere; a handoff starts a LiveChat chat as the customer.
    # bot_agent: the bot also answers LiveChat chats itself, as a bot agent (desk to desk).
    mode: Literal["channel", "bot_agent"] = "channel"
    organization_id: str = Field(min_length=1)
    # The Client Id of the server-side app in the Developer Console: customer tokens are issued for it.
    client_id: str = Field(min_length=1)
    # The Personal Access Token's owner (Basic auth is account_id:token) and the token itself.
    account_id: str = Field(min_length=1)
    personal_access_token: SecretStr
    # The app's webhook Secret key: LiveChat sends it as `secret_key` in every webhook.
    webhook_secret: SecretStr
    # bot_agent mode: the bot agent the bot speaks as (X-Author-Id).
    bot_agent_id: Optional[str] = None
    default_group: NonNegativeInt = 0
    # Routing target (escalation `routing`) -> LiveChat group id.
    groups: dict[str, NonNegativeInt] = Field(default_factory=dict)
    api_url: str = "https://api.livechatinc.com/v3.5"
    accounts_url: str = "https://accounts.livechat.com"
    timeout: PositiveFloat = 10.0

    _urls = field_validator("api_url", "accounts_url")(http_url)
    _secrets_are_set = field_validator("personal_access_token", "webhook_secret")(non_empty_secret)

    @field_validator("organization_id", "client_id", "account_id", "bot_agent_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _bot_needs_its_agent(self) -> "LiveChatSettings":
        if self.mode == "bot_agent" and not self.bot_agent_id:
            raise ValueError("bot_agent_id: required with mode: bot_agent (the bot agent the bot speaks as)")
        return self

    def group_for(self, routing: Optional[str]) -> int:
        if routing and routing in self.groups:
            return self.groups[routing]
        return self.default_group
