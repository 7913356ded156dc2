"""`connectors.nice_cxone` in handoff.yml."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator

from ..core.config import DeskSettings, http_url, non_empty_secret
from .wire import DEFAULT_AUTH_URL


class NiceCXoneSettings(DeskSettings):
    """NICE CXone Digital (DFO 3.0), bring your own channel: channel to desk."""

    api_url: str
    """Your tenant's Digital (DFO) API host, as its API discovery gives it, e.g. `https://api-de-na1.niceincontact.com` for North America 1."""
    auth_url: str = Field(DEFAULT_AUTH_URL)
    """CXone's OAuth token endpoint, where the sidecar gets its own token (as your tenant's API discovery gives it)."""
    client_id: str = Field(min_length=1)
    """The client id of the back-end API application (client credentials) you registered in CXone for the sidecar."""
    client_secret: SecretStr
    """That API application's client secret (a secret)."""
    channel_id: str = Field(min_length=1)
    """The id of the BYOC channel (digital point of contact) a handoff goes to when its routing has no entry in `channels`; CXone routes it by the skill assigned to the channel."""
    channels: dict[str, str] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> the id of the BYOC channel its handoffs go to."""
    byoc_client_id: str = Field(min_length=1)
    """A client id you make up and enter as the Client ID of the BYOC integration: CXone sends it to the sidecar's token endpoint."""
    byoc_client_secret: SecretStr
    """A long random secret you make up and enter as the BYOC integration's Client Secret; changing it retires every token issued under the old one."""
    byoc_token_ttl: int = Field(3600, ge=60, le=86400)
    """Seconds a bearer token the sidecar issues to CXone lives (60 to 86400)."""
    files_as_links: bool = False
    """`true`: the user's files go as links in the message text instead of the message's `attachments` (for a tenant that refuses those)."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to CXone."""

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
