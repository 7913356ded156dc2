"""`connectors.livedesk` in handoff.yml."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


class LiveDeskSettings(DeskSettings):
    """EngageLab LiveDesk (REST API v2, API channel): a channel to LiveDesk, or the bot in the API channel."""

    mode: Literal["channel", "desk"] = "channel"
    """`channel`: users of any channel talk to the bot and a handoff opens a conversation in the API channel `inbox_id`; `desk`: the bot also answers the API channel's own conversations until a handoff, then stays quiet until an agent resolves it."""
    url: str = "https://livedesk-api.engagelab.com"
    """LiveDesk's API address, no trailing slash (the default is EngageLab's LiveDesk API host)."""
    api_key: SecretStr
    """The API Key of a key you create in Project Settings > API Management (the API Key page); sent with `api_secret` as Basic authentication (a secret)."""
    api_secret: SecretStr
    """That key's API Secret, from the same page (a secret)."""
    inbox_id: PositiveInt
    """The API channel's channel id (Project Settings > Channels > the API channel > Settings): handoffs open their conversations there."""
    webhook_token: SecretStr
    """A long random token of yours (e.g. `openssl rand -hex 24`), also put in the API channel's Webhook URL as `?token=...`: LiveDesk documents no webhook signature, so a call without it is refused (a secret)."""
    teams: dict[str, PositiveInt] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> LiveDesk team id."""
    default_team: Optional[PositiveInt] = None
    """The team id of handoffs whose routing has no entry in `teams` (none: no team is assigned)."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to LiveDesk."""

    _check_url = field_validator("url")(http_url)
    _secrets_are_set = field_validator("api_key", "api_secret", "webhook_token")(non_empty_secret)
