"""`connectors.livechat` in handoff.yml."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, NonNegativeInt, PositiveFloat, SecretStr, field_validator, model_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


class LiveChatSettings(DeskSettings):
    """LiveChat (API v3.5): channel to LiveChat, or the bot as a LiveChat bot agent."""

    mode: Literal["channel", "bot_agent"] = "channel"
    """`channel`: the user talks to the bot anywhere and a handoff starts a LiveChat chat as the customer; `bot_agent`: the bot also answers LiveChat chats itself as a bot agent and transfers them to a group (desk to desk)."""
    organization_id: str = Field(min_length=1)
    """Your Organization ID (Developer Console > Settings > Account); webhooks for another organization are refused."""
    client_id: str = Field(min_length=1)
    """The Client Id of your server-side app in the Developer Console (Building blocks > Authorization): customer tokens for handed-off users are issued for it."""
    account_id: str = Field(min_length=1)
    """The Account ID shown beside the Personal Access Token (Settings > Authorization > Personal Access Tokens): its owner, for the Basic `account_id:token` auth."""
    personal_access_token: SecretStr
    """The Personal Access Token of an agent with access to the groups you route to, with the scopes listed in the setup steps above (a secret)."""
    webhook_secret: SecretStr
    """The Secret key of the app's webhooks (Building blocks > Chat webhooks): LiveChat sends it as `secret_key` in every webhook, and the sidecar refuses calls without it."""
    bot_agent_id: Optional[str] = None
    """The id of the bot agent the bot speaks as (X-Author-Id), from Building blocks > Chat bot; required with `mode: bot_agent`."""
    default_group: NonNegativeInt = 0
    """The LiveChat group id a handoff goes to when its routing has no entry in `groups` (Agents > Groups; `0` is the General group)."""
    groups: dict[str, NonNegativeInt] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> LiveChat group id (the number in the group's URL under Agents > Groups)."""
    api_url: str = "https://api.livechatinc.com/v3.5"
    """The base URL of LiveChat's Agent and Customer Chat Web APIs (change it only for a proxy, or a fake LiveChat in tests)."""
    accounts_url: str = "https://accounts.livechat.com"
    """The base URL of LiveChat's accounts service, where customer tokens are issued (change it only for a proxy, or a fake LiveChat in tests)."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to LiveChat."""

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
