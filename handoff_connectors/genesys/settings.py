"""`connectors.genesys` in handoff.yml."""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator

from ..core.config import DeskSettings, http_url, non_empty_secret

# A Genesys Cloud region's domain: mypurecloud.com, mypurecloud.ie, usw2.pure.cloud, ...
_REGION = re.compile(r"^(?=.{4,100}$)([a-z0-9-]+\.)+[a-z]{2,}$")


class GenesysSettings(DeskSettings):
    """Genesys Cloud Open Messaging: OAuth client credentials and one Open Messaging integration."""

    region: str = "mypurecloud.com"
    """Your org's region: the domain of the address you log in at (`mypurecloud.ie`, `usw2.pure.cloud`, ...); tokens come from `https://login.<region>` and the API is `https://api.<region>`."""
    login_url: Optional[str] = None
    """Overrides the region's login host, where OAuth tokens come from (a proxy, or a fake Genesys in tests); none: `https://login.<region>`."""
    api_url: Optional[str] = None
    """Overrides the region's API host (a proxy, or a fake Genesys in tests); none: `https://api.<region>`."""
    client_id: str = Field(min_length=1)
    """The Client ID of the OAuth client with grant type Client Credentials (Admin > Integrations > OAuth)."""
    client_secret: SecretStr
    """That OAuth client's Client Secret (a secret)."""
    integration_id: str = Field(min_length=1)
    """The id of the Open Messaging integration (Admin > Message > Platforms), from its address in the browser or from `GET /api/v2/conversations/messaging/integrations/open`."""
    secret_token: SecretStr
    """The integration's Outbound Notification Webhook Signature Secret Token, a random string you make up: Genesys signs every webhook with it (X-Hub-Signature-256) and the sidecar refuses anything not signed with it."""
    queues: dict[str, str] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> the queue name sent as the `handoff_queue` attribute, which your inbound message flow transfers to."""
    default_queue: Optional[str] = None
    """The `handoff_queue` of a routing that has no entry in `queues` (none: the routing target itself)."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to Genesys."""

    _secrets_are_set = field_validator("client_secret", "secret_token")(non_empty_secret)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        value = value.strip().lower()
        if not _REGION.match(value):
            raise ValueError("must be a Genesys Cloud region domain such as mypurecloud.com or usw2.pure.cloud")
        return value

    @field_validator("login_url", "api_url")
    @classmethod
    def _urls(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else http_url(value)

    @property
    def login_base(self) -> str:
        return self.login_url or f"https://login.{self.region}"

    @property
    def api_base(self) -> str:
        return self.api_url or f"https://api.{self.region}"

    def queue_for(self, routing: Optional[str]) -> Optional[str]:
        if routing and routing in self.queues:
            return self.queues[routing]
        return self.default_queue or routing
