"""`connectors.salesforce` in handoff.yml."""

from __future__ import annotations

import re
from typing import Any, Optional

from pydantic import Field, PositiveFloat, field_validator

from ..core.config import DeskSettings, http_url

_ORG_ID = re.compile(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")


class SalesforceSettings(DeskSettings):
    """Messaging for In-App and Web, an Embedded Service deployment of type Custom Client."""

    # The deployment's SCRT URL (Setup > Embedded Service Deployments > the deployment > Code Snippet).
    messaging_url: str
    # The org id (Setup > Company Information > Salesforce.com Organization ID), 15 or 18 characters.
    org_id: str
    # The deployment's API name (its "developer name", `esDeveloperName` in the API).
    deployment: str
    # The pre-chat (routing) field that gets the escalation's routing target ("billing", "support").
    routing_attribute: Optional[str] = None
    # The pre-chat (routing) field that gets the user's email.
    email_attribute: Optional[str] = None
    # Fixed routing attributes sent with every conversation (before the per-handoff ones).
    routing_attributes: dict[str, str] = Field(default_factory=dict)
    timeout: PositiveFloat = 10.0
    # A stream silent for this long (no event, no heartbeat) is reopened.
    stream_heartbeat: PositiveFloat = 90.0
    # A conversation's access token is renewed this long before it expires.
    token_refresh_margin: PositiveFloat = 300.0
    # Assumed lifetime of an access token whose JWT carries no `exp` (seconds).
    token_lifetime: PositiveFloat = 3600.0

    _url = field_validator("messaging_url")(http_url)

    @field_validator("org_id")
    @classmethod
    def _org_id(cls, value: str) -> str:
        if not _ORG_ID.fullmatch(value.strip()):
            raise ValueError("an org id starts with 00D and has 15 or 18 letters and digits")
        return value.strip()

    @field_validator("deployment")
    @classmethod
    def _deployment(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,79}", value.strip()):
            raise ValueError("the deployment's API name: letters, digits and underscores, starting with a letter")
        return value.strip()

    @field_validator("routing_attributes", mode="before")
    @classmethod
    def _attribute_values(cls, value: Any) -> Any:
        # YAML reads `priority: 1` as an int; routing attributes travel as strings.
        if isinstance(value, dict):
            return {key: item if isinstance(item, str) else str(item) for key, item in value.items()}
        return value
