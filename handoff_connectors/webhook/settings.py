"""`connectors.webhook` in handoff.yml."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator, model_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


class WebhookConnectorSettings(DeskSettings):
    """The generic webhook protocol (wire-compatible with GPTBots' human service)."""

    url: str
    api_key: SecretStr = Field(description="Bearer key the desk sends to the sidecar")
    username: Optional[str] = None
    password: Optional[SecretStr] = None
    bot_id: str = "rasa"
    timeout: PositiveFloat = 10.0

    _check_url = field_validator("url")(http_url)

    # An empty key would accept any "Authorization: Bearer" header.
    _key_is_set = field_validator("api_key")(non_empty_secret)

    @model_validator(mode="after")
    def _basic_auth_is_whole(self) -> "WebhookConnectorSettings":
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (Basic auth)")
        return self
