"""`connectors.zoho_salesiq` in handoff.yml."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, PositiveFloat, SecretStr, field_validator

from ..core.config import DeskSettings, http_url, non_empty_secret
from .signature import load_public_key

# The Zoho data centres: accounts (OAuth) host and SalesIQ API host of each.
DATA_CENTRES: dict[str, tuple[str, str]] = {
    "us": ("https://accounts.zoho.com", "https://salesiq.zoho.com"),
    "eu": ("https://accounts.zoho.eu", "https://salesiq.zoho.eu"),
    "in": ("https://accounts.zoho.in", "https://salesiq.zoho.in"),
    "au": ("https://accounts.zoho.com.au", "https://salesiq.zoho.com.au"),
    "cn": ("https://accounts.zoho.com.cn", "https://salesiq.zoho.com.cn"),
    "jp": ("https://accounts.zoho.jp", "https://salesiq.zoho.jp"),
}


def _id_string(value: Any) -> Any:
    # SalesIQ ids are long numbers; YAML reads an unquoted one as an int.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class ZohoSalesIQSettings(DeskSettings):
    """Zoho SalesIQ (REST API v2, OAuth 2.0): channel to SalesIQ, or the bot as a Zobot (webhook platform)."""

    mode: Literal["channel", "zobot"] = "channel"
    """`channel`: the user talks to the bot anywhere and a handoff opens a SalesIQ conversation; `zobot`: the bot also answers SalesIQ chats as a webhook Zobot (Settings > Bot > Zobot) and, on handoff, transfers the chat to a department."""
    client_id: str = Field(min_length=1)
    """The Client ID of your API client (Zoho API console of your data centre > Add Client > Self Client, or a Server-based Application)."""
    client_secret: SecretStr
    """That API client's Client Secret (a secret)."""
    refresh_token: SecretStr
    """The refresh token you get by exchanging once a code the Self Client generated with the SalesIQ scopes; rasa-handoff acts as the operator who generated it (a secret)."""
    screen_name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")
    """Your portal's screen name: the `<screen_name>` in SalesIQ's URL `https://salesiq.zoho.com/<screen_name>/index`."""
    region: Literal["us", "eu", "in", "au", "cn", "jp"] = "us"
    """The data centre your SalesIQ portal lives in (`us` zoho.com, `eu` zoho.eu, `in`, `au`, `cn`, `jp`): it picks the accounts and API hosts, and your API client must be that data centre's."""
    app_id: str = Field(min_length=1)
    """The app id of the brand the handoff conversations belong to (Settings > Brands > the brand), which Create Conversation needs."""
    department_id: str = Field(min_length=1)
    """The id of the department handoffs go to (Settings > Departments) when their routing has no entry in `departments`."""
    departments: dict[str, str] = Field(default_factory=dict)
    """Routing target (escalation `routing`) -> SalesIQ department id (Settings > Departments)."""
    public_key: list[str] = Field(default_factory=list)
    """The public key(s) "Secure your webhook" gives (PEM, or the bare base64 key as SalesIQ shows it) for the data webhook and the Zobot; a call signed with any of them is accepted. Left out, webhooks are taken unsigned (a warning is logged at start): only behind a proxy that admits SalesIQ alone."""
    accounts_url: Optional[str] = None
    """Overrides the data centre's accounts (OAuth) host (a proxy, or a fake Zoho in tests)."""
    api_url: Optional[str] = None
    """Overrides the data centre's SalesIQ API host (a proxy, or a fake SalesIQ in tests)."""
    timeout: PositiveFloat = 10.0
    """Seconds per call to Zoho (token refreshes and SalesIQ's API)."""

    _ids = field_validator("app_id", "department_id", mode="before")(_id_string)
    _secrets_are_set = field_validator("client_secret", "refresh_token")(non_empty_secret)

    @field_validator("departments", mode="before")
    @classmethod
    def _department_ids(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _id_string(department) for key, department in value.items()}
        return value

    @field_validator("public_key", mode="before")
    @classmethod
    def _one_or_more_keys(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("public_key")
    @classmethod
    def _keys_load(cls, value: list[str]) -> list[str]:
        for index, key in enumerate(value):
            try:
                load_public_key(key)
            except ValueError as error:
                raise ValueError(f"public_key[{index}]: {error}") from None
        return value

    @field_validator("accounts_url", "api_url")
    @classmethod
    def _urls(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else http_url(value)

    @property
    def accounts(self) -> str:
        return self.accounts_url or DATA_CENTRES[self.region][0]

    @property
    def api(self) -> str:
        return self.api_url or DATA_CENTRES[self.region][1]

    def department_for(self, routing: Optional[str]) -> str:
        if routing and routing in self.departments:
            return self.departments[routing]
        return self.department_id
