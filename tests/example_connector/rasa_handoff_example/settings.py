"""`connectors.example` in handoff.yml, validated by this model when the desk is installed."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator

from handoff_connectors import DeskSettings
from handoff_connectors.core.config import http_url, non_empty_secret


class ExampleSettings(DeskSettings):
    """The example desk: its API's address and token, and the secret its webhooks are signed with."""

    url: str = Field(description="the desk's API, e.g. https://desk.example.com/api")
    api_token: SecretStr = Field(description="sent as a bearer token on every API call")
    webhook_secret: SecretStr = Field(description="signs the desk's webhooks (X-Example-Signature)")
    # The desk queue a handoff goes to when escalation gives no routing.
    queue: Optional[str] = None
    timeout: PositiveFloat = 10.0

    _check_url = field_validator("url")(http_url)
    # An empty secret would make every signature check pass.
    _secrets_are_set = field_validator("api_token", "webhook_secret")(non_empty_secret)
