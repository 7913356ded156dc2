"""`connectors.nice_cxone` in handoff.yml."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator

from ..core.config import DeskSettings, http_url, non_empty_secret
from .wire import DEFAULT_AUTH_URL


class NiceCXoneSettings(DeskSettings):
    """NICE CXone Digital (DFO 3.0), bring your own channel: channel to desk."""

    # Our API application (client credentials) for calling CXone.
    api_url: str = Field(description="the tenant's Digital (DFO) API host, e.g. https://api-de-na1.niceincontact.com")
    auth_url: str = Field(DEFAULT_AUTH_URL, description="CXone's OAuth token endpoint (from the tenant's API discovery)")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    # The BYOC channel (digital point of contact) a handoff goes to, and one per routing target.
    channel_id: str = Field(min_length=1)
    channels: dict[str, str] = Field(default_factory=dict, description="routing target -> channel id")
    # What the user issues to CXone for the sidecar's token endpoint (the integration's client id/secret).
    byoc_client_id: str = Field(min_length=1)
    byoc_client_secret: SecretStr
    # How long a bearer token the sidecar issues to CXone lives, in seconds.
    byoc_token_ttl: int = Field(3600, ge=60, le=86400)
    # Files as links after the text instead of the message's `attachments` (if the tenant refuses those).
    files_as_links: bool = False
    timeout: PositiveFloat = 10.0

    _urls = field_validator("api_url", "auth_url")(http_url)
    _secrets_are_set = field_validator("client_secret", "byoc_client_secret")(non_empty_secret)

    @field_validator("channels")
    @classmethod
    def _channel_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for routing, channel in value.items():
            if not channel.strip():
                raise ValueError(f"the channel of {routing!r} is empty")
        return value

    def channel_for(self, routing: Optional[str]) -> str:
        return self.channels.get(routing, self.channel_id) if routing else self.channel_id
