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

    # The region's domain (the part after "login." / "api." in its hosts).
    region: str = "mypurecloud.com"
    # Override the region's hosts (a proxy, or a fake Genesys in tests).
    login_url: Optional[str] = None
    api_url: Optional[str] = None
    # The OAuth client (grant type Client Credentials).
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    # The Open Messaging integration: its id, and the secret token that signs its webhooks.
    integration_id: str = Field(min_length=1)
    secret_token: SecretStr = Field(description="outboundNotificationWebhookSignatureSecretToken (X-Hub-Signature-256)")
    # Routing target (escalation `routing`) -> the queue name the inbound message flow transfers to.
    queues: dict[str, str] = Field(default_factory=dict)
    default_queue: Optional[str] = None
    timeout: PositiveFloat = 10.0

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
