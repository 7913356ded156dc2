"""`connectors.webhook` in handoff.yml."""

from __future__ import annotations

from typing import Optional

from pydantic import PositiveFloat, SecretStr, field_validator, model_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


class WebhookConnectorSettings(DeskSettings):
    """The generic webhook protocol (wire-compatible with GPTBots' human service)."""

    url: str
    """Your desk service's base URL: the sidecar posts the handoff's calls (/conversation/establish, ...) under it."""
    api_key: SecretStr
    """The Bearer key the desk sends to the sidecar with every webhook."""
    username: Optional[str] = None
    """Basic auth user for the sidecar's calls to the desk, when the desk asks for it (with `password`)."""
    password: Optional[SecretStr] = None
    """Basic auth password for the sidecar's calls to the desk (with `username`)."""
    bot_id: str = "rasa"
    """Sent as `bot_id` when a conversation is established, as the desk knows this bot."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to the desk."""

    _check_url = field_validator("url")(http_url)

    # An empty key would accept any "Authorization: Bearer" header.
    _key_is_set = field_validator("api_key")(non_empty_secret)

    @model_validator(mode="after")
    def _basic_auth_is_whole(self) -> "WebhookConnectorSettings":
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (Basic auth)")
        return self
