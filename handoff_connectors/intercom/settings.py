"""`connectors.intercom` in handoff.yml."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


def _id_string(value: Any) -> Any:
    # Intercom ids are numeric strings; YAML reads an unquoted 5017691 as an int.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class IntercomConnectorSettings(DeskSettings):
    """Intercom (API 2.14): channel to Intercom, or the bot inside Intercom Messenger."""

    mode: Literal["channel", "messenger"] = "channel"
    """`channel`: the user talks to the bot anywhere and a handoff opens an Intercom conversation; `messenger`: the bot also answers Intercom Messenger conversations itself (desk to desk)."""
    access_token: SecretStr
    """The access token of your Intercom app (Developer Hub > your app > Authentication)."""
    client_secret: SecretStr
    """The app's client secret (Basic information): it signs the webhooks Intercom sends (X-Hub-Signature)."""
    admin_id: Optional[str] = None
    """The admin the bot acts as; looked up with GET /me when not given."""
    region: Literal["us", "eu", "au"] = "us"
    """The region your workspace is hosted in (its API host)."""
    base_url: Optional[str] = None
    """Overrides the region's API host (a proxy, or a fake Intercom in tests)."""
    default_team: Optional[str] = None
    """The team id handoffs go to when escalation names no routing (none: Intercom's own assignment rules)."""
    teams: dict[str, str] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> Intercom team id."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to Intercom."""

    _ids = field_validator("admin_id", "default_team", mode="before")(_id_string)

    @field_validator("teams", mode="before")
    @classmethod
    def _team_ids(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _id_string(team) for key, team in value.items()}
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else http_url(value)

    # An empty client secret would make every signature check meaningless.
    _secrets_are_set = field_validator("access_token", "client_secret")(non_empty_secret)
