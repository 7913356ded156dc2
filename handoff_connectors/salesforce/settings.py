"""`connectors.salesforce` in handoff.yml."""

from __future__ import annotations

import re
from typing import Any, Optional

from pydantic import Field, PositiveFloat, field_validator

from ..core.config import DeskSettings, http_url

_ORG_ID = re.compile(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")


class SalesforceSettings(DeskSettings):
    """Messaging for In-App and Web, an Embedded Service deployment of type Custom Client."""

    messaging_url: str
    """The deployment's SCRT URL, `https://<your-domain>.my.salesforce-scrt.com` (Setup > Embedded Service Deployments > the deployment > Code Snippet)."""
    org_id: str
    """Your org id, 15 or 18 characters starting with `00D` (Setup > Company Information > Salesforce.com Organization ID, or the deployment's Code Snippet)."""
    deployment: str
    """The API Name of the Custom Client deployment (Setup > Embedded Service Deployments), sent as `esDeveloperName`."""
    routing_attribute: Optional[str] = None
    """The routing attribute (a hidden pre-chat parameter of the channel) that gets the escalation's routing target, e.g. `Queue`; unset, the connector adds no attribute for the routing target."""
    email_attribute: Optional[str] = None
    """The routing attribute (a hidden pre-chat parameter of the channel) that gets the user's email, e.g. `Customer_Email`; unset, the connector adds no attribute for the email."""
    routing_attributes: dict[str, str] = Field(default_factory=dict)
    """Fixed routing attributes (parameter API name -> value) sent with every conversation; `escalation.attributes`, `routing_attribute` and `email_attribute` override them."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to Salesforce's Messaging API (reading the event stream is governed by `stream_heartbeat` instead)."""
    stream_heartbeat: PositiveFloat = 90.0
    """Seconds a conversation's event stream may stay silent (no event, no heartbeat) before the sidecar reopens it."""
    token_refresh_margin: PositiveFloat = 300.0
    """Seconds before a conversation's access token expires that it is renewed."""
    token_lifetime: PositiveFloat = 3600.0
    """Seconds an access token is assumed to live when its JWT carries no `exp` claim."""

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
