"""`connectors.sobot` in handoff.yml."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator

from ..core.config import DeskSettings, http_url, non_empty_secret


def _id_string(value: Any) -> Any:
    # Sobot ids are strings; YAML reads an unquoted 10086 as an int.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class SobotSettings(DeskSettings):
    """Sobot (智齿) open platform v5: the bot inside Sobot's own chat widget, handing visitors to human groups."""

    region: Literal["cn", "sg", "us"] = "cn"
    """Where your Sobot account lives: `cn` (www.sobot.com), `sg` (sg.sobot.io) or `us` (us.sobot.com)."""
    base_url: Optional[str] = None
    """Overrides the region's API host (a proxy, or a fake Sobot in tests)."""
    appid: str
    """The open-platform `appid` Sobot's staff issue to your company (with the app_key)."""
    app_key: SecretStr
    """The open-platform `app_key`: signs every token request (md5 of appid, create_time and app_key)."""
    company_id: str
    """Your Sobot company id (企业 ID): part of the X-Log-Sign of every message-forwarding push."""
    push_app_key: Optional[SecretStr] = None
    """The key configured for message forwarding (its X-Log-Sign); none: the same as `app_key`."""
    default_group: Optional[str] = None
    """The human group (skill group id) handoffs go to when escalation names no routing (none: Sobot's own routing)."""
    groups: dict[str, str] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> Sobot human group id."""
    push_max_age: PositiveFloat = 300.0
    """Seconds a push's X-Log-TimeStamp may lie from our clock, either way; older (replayed) pushes are refused."""
    token_error_codes: tuple[str, ...] = ("900001", "900002", "900003", "900004")
    """`ret_code` values Sobot answers (with HTTP 200) when the token or the credentials are refused: read as an auth failure."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to Sobot."""

    _ids = field_validator("company_id", "appid", "default_group", mode="before")(_id_string)

    @field_validator("groups", mode="before")
    @classmethod
    def _group_ids(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _id_string(group) for key, group in value.items()}
        return value

    @field_validator("appid", "company_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else http_url(value)

    @field_validator("token_error_codes", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return tuple(_id_string(code) for code in value)
        return value

    # An empty key would make every signature meaningless.
    _secrets_are_set = field_validator("app_key")(non_empty_secret)

    @field_validator("push_app_key")
    @classmethod
    def _push_key(cls, value: Optional[SecretStr]) -> Optional[SecretStr]:
        return None if value is None else non_empty_secret(value)
