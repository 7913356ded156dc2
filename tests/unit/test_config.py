"""handoff.yml validation: defaults, precise errors, env expansion, no leaked secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from handoff_connectors.core.config import (
    CONFIG_ENV,
    ConfigError,
    HandoffConfig,
    load_config,
    parse_config,
)
from handoff_connectors.core.messages import MESSAGE_KEYS
from handoff_connectors.registry import connector_names

SECRET = "sk-live-7Qz9xV2mTopSecret"
OTHER_SECRET = "pw-Hunter2-NotForLogs"


def webhook(**fields) -> dict:
    """A config choosing the webhook connector, with `fields` over a valid section."""
    section = {"url": "https://desk.example.com", "api_key": SECRET, **fields}
    return {"connector": "webhook", "connectors": {"webhook": section}}


def error_of(raw) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return str(caught.value)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    for name in ("HANDOFF_TEST_URL", "HANDOFF_TEST_KEY", "HANDOFF_TEST_TIMEOUT", "HANDOFF_TEST_UNSET"):
        monkeypatch.delenv(name, raising=False)


# -- defaults ----------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, {}])
def test_empty_config_gives_the_documented_defaults(raw) -> None:
    config = parse_config(raw)

    assert config.enabled is True
    assert config.connector == "local"
    assert config.default_language == "en"
    assert config.language_slot == "language"
    assert config.transcript_rounds == 5
    assert config.email.required is True
    assert config.email.max_attempts == 3
    assert config.rasa.url == "http://localhost:5005"
    assert config.rasa.token is None
    assert config.rasa.output_channel == "latest"
    assert config.store.type == "sqlite"
    assert config.store.path == "handoff.sqlite"
    assert (config.sidecar.host, config.sidecar.port) == ("127.0.0.1", 5056)
    assert config.connectors.webhook is None
    assert config.connectors.local.token is None
    assert config.messages == {} and config.end_phrases == {}


def test_webhook_section_defaults_and_trailing_slash() -> None:
    config = parse_config(webhook(url="https://desk.example.com/human/service/"))

    settings = config.connectors.webhook
    assert settings.url == "https://desk.example.com/human/service"
    assert settings.api_key.get_secret_value() == SECRET
    assert settings.bot_id == "rasa"
    assert settings.timeout == 10.0
    assert settings.username is None and settings.password is None


def test_config_is_immutable() -> None:
    config = parse_config({})
    with pytest.raises(ValidationError):
        config.enabled = False  # type: ignore[misc]
    assert config.enabled is True


def test_top_level_must_be_a_mapping() -> None:
    message = error_of(["connector", "webhook"])
    assert "top level must be a mapping" in message


# -- unknown keys name the dotted field ---------------------------------------


def test_unknown_top_level_key_is_named() -> None:
    message = error_of({"conector": "webhook"})
    assert "conector: unknown key" in message


def test_unknown_nested_key_is_named_with_its_dotted_path() -> None:
    message = error_of(webhook(bearer="x"))
    assert "connectors.webhook.bearer: unknown key" in message


def test_unknown_key_deep_in_rasa_section() -> None:
    message = error_of({"rasa": {"url": "http://localhost:5005", "tokn": "x"}})
    assert "rasa.tokn: unknown key" in message


def test_every_problem_is_reported_not_just_the_first() -> None:
    message = error_of({"rasa": {"timeout": 0}, "sidecar": {"port": 0}})
    assert "rasa.timeout" in message
    assert "sidecar.port" in message


# -- the webhook section ----------------------------------------------------


def test_missing_webhook_url_is_named() -> None:
    raw = {"connector": "webhook", "connectors": {"webhook": {"api_key": SECRET}}}
    message = error_of(raw)
    assert "connectors.webhook.url" in message
    assert "Field required" in message


def test_missing_webhook_api_key_is_named() -> None:
    raw = {"connector": "webhook", "connectors": {"webhook": {"url": "https://desk.example.com"}}}
    assert "connectors.webhook.api_key" in error_of(raw)


@pytest.mark.parametrize("api_key", ["", "   "])
def test_blank_webhook_api_key_is_refused(api_key: str) -> None:
    # An empty key would let anyone sending "Authorization: Bearer" post as the agent.
    message = error_of(webhook(api_key=api_key))
    assert "connectors.webhook.api_key" in message


@pytest.mark.parametrize(
    "url", ["ftp://desk.example.com", "desk.example.com", "http://", "https:// spaced.example.com", ""]
)
def test_non_http_webhook_url_is_refused(url: str) -> None:
    message = error_of(webhook(url=url))
    assert "connectors.webhook.url: must be an http:// or https:// URL" in message


def test_non_http_rasa_url_is_refused() -> None:
    assert "rasa.url: must be an http:// or https:// URL" in error_of({"rasa": {"url": "localhost:5005"}})


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"rasa": {"timeout": 0}}, "rasa.timeout"),
        ({"rasa": {"timeout": -5}}, "rasa.timeout"),
        (webhook(timeout=0), "connectors.webhook.timeout"),
        (webhook(timeout=-1.5), "connectors.webhook.timeout"),
        ({"sidecar": {"poll_interval": 0}}, "sidecar.poll_interval"),
        ({"sidecar": {"max_retry_delay": -1}}, "sidecar.max_retry_delay"),
        ({"email": {"max_attempts": 0}}, "email.max_attempts"),
        ({"transcript_rounds": -1}, "transcript_rounds"),
        ({"sidecar": {"port": 70000}}, "sidecar.port"),
    ],
)
def test_non_positive_numbers_are_refused(raw: dict, field: str) -> None:
    message = error_of(raw)
    assert f"{field}:" in message
    assert "greater than" in message or "less than" in message


def test_zero_transcript_rounds_is_allowed() -> None:
    assert parse_config({"transcript_rounds": 0}).transcript_rounds == 0


def test_webhook_connector_without_its_section_fails() -> None:
    message = error_of({"connector": "webhook"})
    assert "connectors.webhook is missing" in message


def test_unknown_connector_is_refused_naming_the_installed_ones() -> None:
    message = error_of({"connector": "no-such-desk"})
    installed = ", ".join(connector_names())
    assert installed.startswith("local, webhook, intercom")
    assert f"connector: not an installed connector (installed: {installed})" in message


def test_a_section_for_a_desk_that_is_not_installed_is_refused() -> None:
    message = error_of({"connectors": {"no-such-desk": {"url": "https://desk.example"}}})
    assert "connectors.no-such-desk: not an installed connector" in message


def test_username_without_password_fails() -> None:
    message = error_of(webhook(username="rasa-bot"))
    assert "connectors.webhook: username and password go together" in message


def test_password_without_username_fails() -> None:
    message = error_of(webhook(password=OTHER_SECRET))
    assert "username and password go together" in message
    assert OTHER_SECRET not in message


def test_username_with_password_is_basic_auth() -> None:
    settings = parse_config(webhook(username="rasa-bot", password=OTHER_SECRET)).connectors.webhook
    assert settings.username == "rasa-bot"
    assert settings.password.get_secret_value() == OTHER_SECRET


# -- messages and languages -----------------------------------------------------


def test_message_override_for_a_known_key_is_kept() -> None:
    config = parse_config({"messages": {"es": {"connecting": "Un momento, por favor."}}})
    assert config.messages == {"es": {"connecting": "Un momento, por favor."}}


def test_unknown_message_keys_are_listed_with_their_language() -> None:
    message = error_of({"messages": {"fr": {"conecting": "x", "ask_email": "y", "zzz": "z"}}})
    assert "unknown message key(s) for 'fr': conecting, zzz" in message
    # The valid alternatives are offered.
    assert all(key in message for key in MESSAGE_KEYS)


def test_unknown_language_is_refused() -> None:
    message = error_of({"default_language": "pt"})
    assert "default_language:" in message
    assert "'en', 'es', 'fr' or 'de'" in message


# -- ${VAR} expansion ------------------------------------------------------------


def test_env_references_are_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_TEST_URL", "https://desk.internal:8443")
    monkeypatch.setenv("HANDOFF_TEST_KEY", SECRET)
    config = parse_config(
        {
            "connector": "webhook",
            "connectors": {
                "webhook": {"url": "${HANDOFF_TEST_URL}/gptbots", "api_key": "${HANDOFF_TEST_KEY}"}
            },
        }
    )
    assert config.connectors.webhook.url == "https://desk.internal:8443/gptbots"
    assert config.connectors.webhook.api_key.get_secret_value() == SECRET


def test_default_is_used_when_the_variable_is_unset() -> None:
    config = parse_config(
        {"rasa": {"url": "${HANDOFF_TEST_URL:-http://rasa:5005}", "timeout": "${HANDOFF_TEST_TIMEOUT:-12.5}"}}
    )
    assert config.rasa.url == "http://rasa:5005"
    # A number given through the environment is still a number.
    assert config.rasa.timeout == 12.5


def test_set_variable_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_TEST_TIMEOUT", "3")
    config = parse_config({"rasa": {"timeout": "${HANDOFF_TEST_TIMEOUT:-12.5}"}})
    assert config.rasa.timeout == 3.0


def test_expansion_reaches_lists_and_message_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_TEST_KEY", "Acme")
    config = parse_config(
        {
            "end_phrases": {"en": ["bye ${HANDOFF_TEST_KEY}"]},
            "messages": {"en": {"connecting": "Connecting you to ${HANDOFF_TEST_KEY} support."}},
        }
    )
    assert config.end_phrases["en"] == ["bye Acme"]
    assert config.messages["en"]["connecting"] == "Connecting you to Acme support."


def test_unset_variable_names_the_field_and_the_variable() -> None:
    raw = webhook(api_key="${HANDOFF_TEST_UNSET}")
    message = error_of(raw)
    assert "connectors.webhook.api_key" in message
    assert "HANDOFF_TEST_UNSET" in message
    assert "not set" in message


def test_unset_variable_inside_a_list_names_the_index() -> None:
    message = error_of({"end_phrases": {"en": ["bye", "${HANDOFF_TEST_UNSET}"]}})
    assert "end_phrases.en[1]" in message
    assert "HANDOFF_TEST_UNSET" in message


def test_non_string_values_are_left_alone() -> None:
    config = parse_config({"enabled": False, "transcript_rounds": 2, "sidecar": {"port": 6000}})
    assert (config.enabled, config.transcript_rounds, config.sidecar.port) == (False, 2, 6000)


# -- secrets never leak ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        # An api key pasted into the URL field.
        webhook(url=SECRET),
        # ... or into a number, a boolean, a language, a literal.
        webhook(timeout=SECRET),
        {"email": {"required": SECRET}},
        {"default_language": SECRET},
        {"connector": SECRET},
        {"store": {"type": SECRET}},
        # ... or a misspelt key holding the secret.
        webhook(apikey=SECRET),
        # ... or a list where a string belongs.
        webhook(api_key=[SECRET]),
        {"rasa": {"token": {"value": SECRET}}},
        # A bad value next to secrets in the same section.
        webhook(timeout=-1, username="bot", password=OTHER_SECRET),
        webhook(url="not a url", username="bot", password=OTHER_SECRET),
        webhook(username="bot"),
        {"rasa": {"token": SECRET, "timeout": 0}},
        {"rasa": {"token": SECRET, "url": "nope"}, "connectors": {"local": {"token": OTHER_SECRET}}, "x": 1},
        # A message override mentioning a secret, with a wrong key next to it.
        {"messages": {"en": {"connecting": SECRET, "bogus": "x"}}},
    ],
)
def test_secrets_never_appear_in_errors(raw: dict) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    error = caught.value
    for text in (str(error), repr(error)):
        assert SECRET not in text
        assert OTHER_SECRET not in text
    # pydantic's own error (which carries the input values) is not chained in.
    assert error.__cause__ is None
    assert error.__suppress_context__ is True


def test_secret_from_the_environment_in_a_wrong_field_is_not_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HANDOFF_TEST_KEY", SECRET)
    message = error_of(webhook(url="${HANDOFF_TEST_KEY}"))
    assert "connectors.webhook.url" in message
    assert SECRET not in message


def test_loaded_config_hides_its_secrets() -> None:
    config = parse_config(
        {
            "connector": "webhook",
            "rasa": {"token": "rasa-token-Zz81"},
            "connectors": {
                "webhook": {
                    "url": "https://desk.example.com",
                    "api_key": SECRET,
                    "username": "bot",
                    "password": OTHER_SECRET,
                },
                "local": {"token": "local-token-Qq42"},
            },
        }
    )
    shown = [
        repr(config),
        str(config),
        repr(config.connectors),
        str(config.connectors.webhook),
        config.model_dump_json(),
    ]
    for text in shown:
        for secret in (SECRET, OTHER_SECRET, "rasa-token-Zz81", "local-token-Qq42"):
            assert secret not in text
    # The values are still there for whoever asks explicitly.
    assert config.rasa.token.get_secret_value() == "rasa-token-Zz81"
    assert config.connectors.local.token.get_secret_value() == "local-token-Qq42"


# -- load_config -------------------------------------------------------------------


def test_load_config_without_any_file_uses_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert isinstance(config, HandoffConfig)
    assert config == parse_config({})


def test_load_config_reads_handoff_yml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handoff.yml").write_text("default_language: de\ntranscript_rounds: 2\n")
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert (config.default_language, config.transcript_rounds) == ("de", 2)


def test_handoff_config_env_points_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.yml"
    path.write_text(
        "connector: webhook\n"
        "connectors:\n"
        "  webhook:\n"
        "    url: https://desk.example.com\n"
        "    api_key: ${HANDOFF_TEST_KEY}\n"
    )
    monkeypatch.setenv("HANDOFF_TEST_KEY", SECRET)
    monkeypatch.setenv(CONFIG_ENV, str(path))
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.connector == "webhook"
    assert config.connectors.webhook.api_key.get_secret_value() == SECRET


def test_explicit_argument_wins_over_the_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env.yml").write_text("default_language: fr\n")
    (tmp_path / "arg.yml").write_text("default_language: es\n")
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "env.yml"))
    assert load_config(str(tmp_path / "arg.yml")).default_language == "es"


def test_handoff_config_naming_a_missing_file_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope" / "handoff.yml"
    monkeypatch.setenv(CONFIG_ENV, str(missing))
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert str(missing) in str(caught.value)
    assert "no such config file" in str(caught.value)


def test_explicit_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(str(tmp_path / "absent.yml"))


def test_invalid_yaml_reports_the_line_but_not_the_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "handoff.yml"
    path.write_text(
        "connector: webhook\n"
        "connectors:\n"
        "  webhook:\n"
        f"    api_key: {SECRET}: oops\n"
        "    url: https://desk.example.com\n"
    )
    monkeypatch.setenv(CONFIG_ENV, str(path))
    with pytest.raises(ConfigError) as caught:
        load_config()
    message = str(caught.value)
    assert "not valid YAML at line 4" in message
    assert str(path) in message
    assert SECRET not in message


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    path.write_text("# nothing configured yet\n")
    assert load_config(str(path)) == parse_config({})


def test_validation_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "custom.yml"
    path.write_text("connector: webhook\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path} is invalid:")
    assert "connectors.webhook is missing" in message


@pytest.mark.parametrize(
    "field",
    [
        {"service_hours": {"timezone": "sk-live-5d1e0c9a7f"}},
        {"sidecar": {"host": ["sk-live-5d1e0c9a7f"]}},
        {"connector": "sk-live-5d1e0c9a7f"},
        {"store": {"type": "redis", "url": "sk-live-5d1e0c9a7f"}},
    ],
    ids=["timezone", "a list where a string goes", "connector", "redis url"],
)
def test_a_secret_in_any_wrong_field_is_never_echoed(tmp_path: Path, field: dict) -> None:
    with pytest.raises(ConfigError) as failure:
        parse_config(field, "handoff.yml")
    assert "sk-live-5d1e0c9a7f" not in str(failure.value)
    assert "handoff.yml is invalid" in str(failure.value)


def test_a_config_path_that_is_a_directory_is_named_with_the_cause(tmp_path: Path) -> None:
    folder = tmp_path / "handoff.yml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(str(folder))


def test_a_config_file_that_is_not_utf8_is_named_with_the_cause(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    path.write_bytes(b"connector: local\nnote: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"handoff.yml: is not UTF-8 text \(first bad byte at offset 26\)"):
        load_config(str(path))
