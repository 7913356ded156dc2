"""`connectors.livedesk` in handoff.yml."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


class LiveDeskSettings(DeskSettings):
    """EngageLab LiveDesk (REST API v2, API channel): a channel to LiveDesk, or the bot in the API channel."""

    # channel: users of any channel; a handoff opens a conversation in the API channel `inbox_id`.
    # desk: the bot also answers the API channel's own conversations until a handoff.
    mode: Literal["channel", "desk"] = "channel"
    url: str = "https://livedesk-api.engagelab.com"
    # Project Settings -> API Management (the API Key page): key and secret, sent as Basic key:secret.
    api_key: SecretStr
    api_secret: SecretStr
    # Project Settings -> Channels -> the API channel -> Settings: its channel id.
    inbox_id: PositiveInt
    # LiveDesk documents no webhook signature: the webhook URL carries this as ?token=...
    webhook_token: SecretStr
    # Routing target (escalation `routing`) -> LiveDesk team id.
    teams: dict[str, PositiveInt] = Field(default_factory=dict)
    default_team: Optional[PositiveInt] = None
    timeout: PositiveFloat = 10.0

    _check_url = field_validator("url")(http_url)
    _secrets_are_set = field_validator("api_key", "api_secret", "webhook_token")(non_empty_secret)
