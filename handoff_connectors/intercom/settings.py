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

    # channel: the user talks to the bot anywhere; a handoff opens an Intercom conversation.
    # messenger: the bot also answers Intercom Messenger conversations itself (desk to desk).
    mode: Literal["channel", "messenger"] = "channel"
    access_token: SecretStr
    client_secret: SecretStr = Field(description="signs the webhooks Intercom sends (X-Hub-Signature)")
    # The admin the bot acts as; looked up with GET /me when not given.
    admin_id: Optional[str] = None
    region: Literal["us", "eu", "au"] = "us"
    # Overrides the region's API host (a proxy, or a fake Intercom in tests).
    base_url: Optional[str] = None
    default_team: Optional[str] = None
    # Routing target (escalation `routing`) -> Intercom team id.
    teams: dict[str, str] = Field(default_factory=dict)
    timeout: PositiveFloat = 10.0

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
