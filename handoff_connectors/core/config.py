"""`handoff.yml`: the one config file the action server and the sidecar share.

Validated with pydantic at start. Any string may name an environment variable
as `${NAME}` (or `${NAME:-default}`), which is how secrets stay out of the
file. Errors name the field and the reason, never the value, so a secret that
landed in the wrong field is not printed either.
"""

from __future__ import annotations

import datetime
import logging
import os
import zoneinfo
import re
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .messages import LANGUAGES, MESSAGE_KEYS

logger = logging.getLogger(__name__)

CONFIG_ENV = "HANDOFF_CONFIG"
DEFAULT_CONFIG_FILE = "handoff.yml"

Language = Literal["en", "es", "fr", "de"]


class ConfigError(Exception):
    """handoff.yml is missing something or has a wrong value."""


class _Strict(BaseModel):
    # A field's docstring is its description: the configuration reference is generated from them.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value or ""):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class RasaSettings(_Strict):
    """How the sidecar reaches Rasa's HTTP API (Rasa started with `--enable-api`)."""

    url: str = "http://localhost:5005"
    """Rasa's address, as the sidecar reaches it."""
    token: Optional[SecretStr] = None
    """Rasa's `--auth-token`, when it was started with one (a secret)."""
    output_channel: str = "latest"
    """The channel Rasa pushes the agent's messages into: `latest` (the one the user last wrote on) or a channel of credentials.yml that can receive pushes (not `rest`)."""
    timeout: PositiveFloat = 30.0
    """Seconds per call to Rasa."""

    _check_url = field_validator("url")(_http_url)


class StoreSettings(_Strict):
    """Where the action servers and sidecars keep what they share.

    `sqlite` (the default) serves the processes of one machine; `redis`
    serves several replicas of each on one Redis.
    """

    type: Literal["sqlite", "redis"] = "sqlite"
    """`sqlite` for the processes of one machine, `redis` for replicas on several."""
    path: str = Field("handoff.sqlite", description="sqlite: the database file")
    durable: bool = Field(False, description="sqlite: fsync every commit (survives a power cut, about 1 ms a write)")
    url: Optional[SecretStr] = Field(
        None, description="redis: redis://[:password@]host:port/db (a secret: it may hold the password)"
    )
    key_prefix: str = Field("rasa_handoff:", description="redis: prefix of every key, so one Redis can serve several bots")

    @model_validator(mode="after")
    def _redis_needs_a_url(self) -> "StoreSettings":
        if self.type == "redis":
            url = self.url.get_secret_value() if self.url else ""
            if not re.match(r"^(redis|rediss|unix)://", url):
                raise ValueError("url: must be a redis://, rediss:// or unix:// URL when type is redis")
        return self


class SidecarSettings(_Strict):
    """The sidecar: the desks' webhooks in, the delivery of queued messages both ways."""

    host: str = "127.0.0.1"
    """The interface it listens on (`0.0.0.0` in a container)."""
    port: int = Field(5056, ge=1, le=65535)
    """The port it listens on."""
    poll_interval: PositiveFloat = 0.25
    """Seconds between looks for due timers and held-back messages (new messages go out at once)."""
    max_retry_delay: PositiveFloat = 30.0
    """The longest wait, in seconds, between retries to Rasa or the desk."""
    max_concurrent_deliveries: int = Field(32, ge=1, le=1000)
    """Queues delivered at once, each in order; the others wait their turn."""
    status_check_interval: PositiveFloat = 30.0
    """While the desk is Unavailable, seconds between checks of its credentials (no handoff starts meanwhile, so no desk call would notice the fix)."""
    public_url: Optional[str] = None
    """The sidecar's URL as desks call it (https://handoff.example.com), for desks that sign the URL they call; without it, the proxy's X-Forwarded-Proto/Host are used."""

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else _http_url(value)


class DeskSettings(BaseModel):
    """Base of every desk's settings model (`connectors.<name>`): unknown keys are errors.

    A field's docstring (the string right under it) is its description in the
    configuration reference and on the desk's page of the docs site.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def http_url(value: str) -> str:
    """A field validator for desks' URLs: http(s) only, no trailing slash."""
    return _http_url(value)


def non_empty_secret(value: SecretStr) -> SecretStr:
    """A field validator for desks' secrets: an empty key would accept any caller."""
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


class ConnectorSections(dict):
    """`connectors:` after validation: each desk's section as its own settings model.

    Read as `config.connectors.webhook` or `config.connectors["webhook"]`;
    a desk with no section reads as None.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name)


class EmailSettings(_Strict):
    """Asking the user's email before a handoff, when no slot or channel gave it."""

    required: bool = True
    """Ask for an email when it is unknown (no `handoff_email` slot, nothing in the channel's metadata)."""
    max_attempts: PositiveInt = 3
    """Invalid answers to the email question before the bot gives up the request."""


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock_time(value: Any) -> Any:
    # YAML reads an unquoted 09:00 as a number of minutes (sexagesimal 1.1 ints).
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value // 60:02d}:{value % 60:02d}"
    if isinstance(value, str) and re.fullmatch(r"\d:\d\d", value.strip()):
        return f"0{value.strip()}"
    return value


class ServiceHoursRule(_Strict):
    """Weekly (`days`) or custom (`date`), with a time range."""

    days: Optional[list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]] = None
    """A weekly rule: the days it applies to."""
    date: Optional[datetime.date] = None
    """A custom rule: the one date it applies to (YYYY-MM-DD)."""
    from_: datetime.time = Field(alias="from")
    """Opening time, HH:MM, in `timezone`."""
    to: datetime.time
    """Closing time, HH:MM (00:00 is midnight)."""
    overnight: bool = False
    """The window crosses midnight (22:00 to 06:00)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)

    _hhmm = field_validator("from_", "to", mode="before")(_clock_time)

    @model_validator(mode="after")
    def _shape(self) -> "ServiceHoursRule":
        if (self.days is None) == (self.date is None):
            raise ValueError("give either days (weekly) or date (custom), not both or neither")
        if self.days is not None and not self.days:
            raise ValueError("days: name at least one day")
        ends_at_midnight = self.to == datetime.time(0, 0)
        if self.to <= self.from_ and not ends_at_midnight and not self.overnight:
            raise ValueError(
                f"to ({self.to:%H:%M}) is not after from ({self.from_:%H:%M}); "
                "set overnight: true for a window that crosses midnight"
            )
        if self.overnight and self.to > self.from_:
            raise ValueError("overnight: true but the window does not cross midnight")
        return self

    def to_rule(self):
        from .service_hours import Rule

        days = frozenset(_DAY_NAMES.index(day) for day in self.days or ())
        return Rule(start=self.from_, end=self.to, days=days, date=self.date)


class ServiceHoursSettings(_Strict):
    """When agents answer; outside it the user gets the out-of-hours reply instead of a handoff."""

    timezone: str = "UTC"
    """The IANA time zone of the rules (Europe/Madrid)."""
    rules: list[ServiceHoursRule] = Field(default_factory=list, max_length=10)
    """Up to 10 rules; a day's overlapping windows merge, separate ones stay apart."""
    show_next_opening: bool = True
    """Tell the user when agents are next in."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            # The value is not echoed: a secret pasted into the wrong field must not reach a log.
            raise ValueError("not a known IANA time zone name (e.g. Europe/Madrid)") from None
        return value


class TimeoutSettings(_Strict):
    """Timers of a handoff, in seconds."""

    waiting: PositiveFloat = 60.0
    """No agent reply this long after the request: ask the user to end or keep waiting."""
    session: PositiveFloat = 180.0
    """This long without a user message after the agent's last one: the handoff ends."""


class PlannedEscalation(_Strict):
    """An intent or an action of the bot that always hands off."""

    intent: Optional[str] = None
    """The intent that hands off (give this or `action`)."""
    action: Optional[str] = None
    """The action that hands off (give this or `intent`)."""
    routing: Optional[str] = None
    """The desk's team, group, queue or department for it (a name the desk's settings map)."""
    message_to_agent: Optional[str] = None
    """A note the agent sees first; `{handoff_language}` and slots as `{slot}` are filled in."""

    @model_validator(mode="after")
    def _one_trigger(self) -> "PlannedEscalation":
        if (self.intent is None) == (self.action is None):
            raise ValueError("give either intent or action")
        return self


class FallbackEscalation(_Strict):
    """What happens when the bot keeps misunderstanding."""

    mode: Literal["handoff", "offer", "off"] = "offer"
    """`handoff` at once, `offer` a person (buttons), or `off`."""
    after: PositiveInt = 2
    """Misunderstood turns in a row before it does."""
    routing: Optional[str] = None
    """The routing for these handoffs (else `escalation.routing`)."""
    message_to_agent: Optional[str] = None
    """A note the agent sees first for these handoffs."""


class EscalationSettings(_Strict):
    """When a handoff starts, and where it goes."""

    routing: Optional[str] = None
    """The default team, group, queue or department (the desk's default when unset)."""
    message_to_agent: Optional[str] = None
    """The default note the agent sees first."""
    planned: list[PlannedEscalation] = Field(default_factory=list)
    """Intents or actions that always hand off, each with its routing."""
    attributes: dict[str, str] = Field(default_factory=dict)
    """Facts the desk may route on, per handoff: attribute name -> the bot's slot holding it."""
    fallback: FallbackEscalation = FallbackEscalation()
    """Escalation after misunderstood turns."""


class HandoffConfig(_Strict):
    """handoff.yml: read by the action server and the sidecar alike."""

    enabled: bool = True
    """Handoff on or off (`false`: the bot answers handoff requests with the `disabled` text)."""
    connector: str = Field(default_factory=lambda: _default_connector())
    """The desk: one of the installed connectors (`rasa-handoff status` lists them; an unknown name fails at start, listing them)."""
    default_language: Language = "en"
    """The language of the texts when the conversation's is unknown: `en`, `es`, `fr` or `de`."""
    language_slot: Optional[str] = "language"
    """A slot of the bot that holds the conversation's language, when it has one."""
    transcript_rounds: NonNegativeInt = 5
    """Exchanges of the conversation (a user turn and the bot's answer) the agent gets as the transcript (0: none)."""
    email: EmailSettings = EmailSettings()
    """Asking for the user's email."""
    end_phrases: dict[Language, list[str]] = Field(default_factory=dict)
    """Per language, more phrases that end a handoff (added to the built-in ones)."""
    messages: dict[Language, dict[str, str]] = Field(default_factory=dict)
    """Per language, texts that replace the built-in ones, by key (`ask_email`, `connecting`, `no_agents`, `out_of_hours`, `agent_joined`, `agent_ended`, ...: every key is listed under Texts on the configuration page)."""
    service_hours: Optional[ServiceHoursSettings] = None
    """When agents answer (unset: always)."""
    timeouts: TimeoutSettings = TimeoutSettings()
    """Waiting and session timeouts."""
    escalation: EscalationSettings = EscalationSettings()
    """When a handoff starts, and where it goes."""
    rasa: RasaSettings = RasaSettings()
    """How the sidecar reaches Rasa."""
    store: StoreSettings = StoreSettings()
    """Where the action servers and sidecars keep what they share."""
    sidecar: SidecarSettings = SidecarSettings()
    """The sidecar process."""
    connectors: dict[str, Any] = Field(default_factory=dict)
    """Each desk's section (`connectors.<desk>`), validated by that desk's own settings model."""

    @field_validator("messages")
    @classmethod
    def _known_message_keys(cls, value: dict[str, dict[str, str]]) -> dict:
        for language, texts in value.items():
            unknown = sorted(set(texts) - set(MESSAGE_KEYS))
            if unknown:
                raise ValueError(
                    f"unknown message key(s) for {language!r}: {', '.join(unknown)}; "
                    f"known keys: {', '.join(MESSAGE_KEYS)}"
                )
        return value


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(v, f"{path}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        # As in a shell: `:-` also applies when the variable is set but empty.
        if default is not None and not value:
            return default
        if value is not None:
            return value
        raise ConfigError(
            f"{path}: environment variable {name} is not set "
            f"(the field reads ${{{name}}})"
        )

    return _ENV_REFERENCE.sub(substitute, node)


def parse_config(raw: Any, source: str = DEFAULT_CONFIG_FILE) -> HandoffConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    expanded = _expand_env(raw, "")
    problems: list[str] = []
    try:
        config = HandoffConfig.model_validate(expanded)
    except ValidationError as error:
        problems += _problems(error)
        config = None
    sections = expanded.get("connectors") if isinstance(expanded.get("connectors"), dict) else {}
    chosen = config.connector if config is not None else expanded.get("connector")
    validated = _connector_sections(sections, chosen if isinstance(chosen, str) else _default_connector(), problems)
    if problems or config is None:
        # From None: the validation errors quote the values, and a value may be a secret.
        raise ConfigError("\n".join([f"{source} is invalid:", *problems])) from None
    return config.model_copy(update={"connectors": validated})


def _default_connector() -> str:
    from ..registry import DEFAULT_CONNECTOR

    return DEFAULT_CONNECTOR


def _connector_sections(sections: dict, chosen: str, problems: list[str]) -> ConnectorSections:
    """Each `connectors.<name>` through its desk's model; the chosen desk's defaults when it has no section."""
    from ..registry import UnknownConnector, settings_model

    validated = ConnectorSections()
    for name in dict.fromkeys([*sections, chosen]):
        try:
            model = settings_model(str(name))
        except UnknownConnector as unknown:
            where = "connector" if name == chosen and name not in sections else f"connectors.{name}"
            problems.append(f"  {where}: {unknown}")
            continue
        if name not in sections:
            try:
                validated[name] = model.model_validate({})
            except ValidationError:
                problems.append(f"  (top level): connector is {chosen!r} but connectors.{chosen} is missing")
            continue
        try:
            validated[name] = model.model_validate(sections[name] if sections[name] is not None else {})
        except ValidationError as error:
            problems += _problems(error, f"connectors.{name}")
    return validated


def _problems(error: ValidationError, prefix: str = "") -> list[str]:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in [*([prefix] if prefix else []), *item["loc"]]) or "(top level)"
        reason = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            reason = "unknown key"
        lines.append(f"  {location}: {reason}")
    return lines


def config_path(explicit: Optional[str] = None) -> Path:
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def load_config(explicit: Optional[str] = None) -> HandoffConfig:
    """Read and validate handoff.yml; built-in defaults when there is none.

    A path given explicitly (argument or HANDOFF_CONFIG) must exist.
    """
    path = config_path(explicit)
    named = bool(explicit or os.environ.get(CONFIG_ENV))
    if not path.exists():
        if named:
            raise ConfigError(f"{path}: no such config file")
        logger.info("No %s here: using the built-in defaults (desk: %s).", path, _default_connector())
        return parse_config({}, "built-in defaults")
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file (a container bind mount of a missing file?)") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: is not UTF-8 text (first bad byte at offset {error.start})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return parse_config(raw, str(path))


__all__ = ["ConfigError", "HandoffConfig", "LANGUAGES", "load_config", "parse_config"]
