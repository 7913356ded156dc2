"""Log lines: JSON objects with the bound ids, and never a configured secret."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import logging

import pytest

from handoff_connectors.core.config import parse_config
from handoff_connectors.observability.logs import (
    add_secrets,
    bind,
    configure_from_environment,
    configure_logging,
    log_context,
    secret_values,
    unbind,
)

pytestmark = pytest.mark.usefixtures("restore_logging")

SECRET = "s3cr3t-desk-key-7Qx!"
LATER_SECRET = "intercom-token-added-later-91af"

log = logging.getLogger("handoff_connectors.core.handoffs")


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def json_logging(**kwargs) -> io.StringIO:
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream, **kwargs)
    return stream


def test_each_json_line_is_an_object_with_utc_time_level_logger_and_message():
    stream = json_logging()
    log.info("delivered %s items", 3)
    log.debug("a detail")

    first, second = json_lines(stream)
    assert first["level"] == "INFO" and second["level"] == "DEBUG"
    assert first["logger"] == "handoff_connectors.core.handoffs"
    assert first["message"] == "delivered 3 items"
    assert first["time"].endswith("Z")
    moment = datetime.datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert moment.utcoffset() == datetime.timedelta(0)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - moment).total_seconds()) < 60
    assert "handoff_id" not in first and "exc" not in first


def test_json_lines_carry_the_ids_bound_around_a_delivery_and_drop_them_after():
    stream = json_logging()
    with log_context(handoff_id="h-123", sender_id="user-9"):
        log.info("inside")
        with log_context(handoff_id="h-456"):
            log.info("nested")
        log.info("inside again")
    log.info("outside")

    inside, nested, again, outside = json_lines(stream)
    assert (inside["handoff_id"], inside["sender_id"]) == ("h-123", "user-9")
    assert (nested["handoff_id"], nested["sender_id"]) == ("h-456", "user-9")
    assert again["handoff_id"] == "h-123"
    assert "handoff_id" not in outside and "sender_id" not in outside


async def test_an_id_bound_in_one_task_never_tags_another_tasks_lines():
    stream = json_logging()

    async def deliver(handoff_id: str, first: asyncio.Event, second: asyncio.Event) -> None:
        bind(handoff_id=handoff_id, sender_id=f"sender-of-{handoff_id}")
        first.set()
        await second.wait()
        log.info("delivering")

    a_bound, b_bound = asyncio.Event(), asyncio.Event()
    await asyncio.gather(deliver("a", a_bound, b_bound), deliver("b", b_bound, a_bound))
    log.info("the caller")

    lines = json_lines(stream)
    assert sorted((line["handoff_id"], line["sender_id"]) for line in lines[:2]) == [
        ("a", "sender-of-a"), ("b", "sender-of-b")
    ]
    assert "handoff_id" not in lines[2]


def test_bind_lasts_until_unbind():
    stream = json_logging()
    token = bind(sender_id="user-1")
    log.info("bound")
    unbind(token)
    log.info("unbound")
    bound, unbound = json_lines(stream)
    assert bound["sender_id"] == "user-1" and "sender_id" not in unbound


def test_an_exception_is_an_exc_field_with_the_traceback():
    stream = json_logging()
    try:
        raise ValueError("the desk said no")
    except ValueError:
        log.exception("Delivering to_desk:h1 failed")
    (line,) = json_lines(stream)
    assert line["message"] == "Delivering to_desk:h1 failed"
    assert line["exc"].startswith("Traceback") and "ValueError: the desk said no" in line["exc"]


def test_no_configured_secret_appears_anywhere_in_a_line_even_inside_exception_text():
    stream = json_logging(secrets=[SECRET])
    try:
        raise RuntimeError(f"desk refused key {SECRET!r} at https://desk.example/?key={SECRET}")
    except RuntimeError:
        log.error("message with %s and %r", SECRET, {"key": SECRET}, exc_info=True)
    raw = stream.getvalue()
    assert SECRET not in raw
    # Nor JSON-escaped, repr'd or URL-encoded: the spellings a secret takes inside a line.
    assert json.dumps(SECRET)[1:-1] not in raw and "s3cr3t-desk-key-7Qx%21" not in raw
    (line,) = json_lines(stream)
    assert line["message"] == "message with *** and {'key': '***'}"
    assert "RuntimeError: desk refused key '***'" in line["exc"]


def test_a_secret_with_quotes_and_backslashes_is_masked_inside_json():
    awkward = 'pa"ss\\word-Ω-1234'
    stream = json_logging(secrets=[awkward])
    log.warning("login with %s failed", awkward)
    raw = stream.getvalue()
    assert awkward not in raw and json.dumps(awkward)[1:-1] not in raw
    assert json_lines(stream)[0]["message"] == "login with *** failed"


def test_secrets_added_after_configuration_are_masked_from_then_on():
    stream = json_logging(secrets=[SECRET])
    add_secrets([LATER_SECRET])
    log.info("using %s", LATER_SECRET)
    assert LATER_SECRET not in stream.getvalue()
    assert json_lines(stream)[0]["message"] == "using ***"


def test_tokens_in_urls_and_authorization_headers_are_masked_without_being_configured():
    stream = json_logging()
    log.info("POST http://rasa:5005/conversations/u/trigger_intent?output_channel=latest&token=abc123def")
    log.info("headers: {'Authorization': 'Bearer eyJhbGciOi.payload.sig', 'Accept': 'application/json'}")
    log.info("sent Authorization: Basic dXNlcjpwYXNz to the desk")
    log.info("Rejected POST /v1/human/message/receive: missing or wrong bearer key")

    url, headers, basic, plain = (line["message"] for line in json_lines(stream))
    assert url.endswith("output_channel=latest&token=***")
    assert "eyJhbGciOi" not in headers and "'Accept': 'application/json'" in headers
    assert basic == "sent Authorization: Basic *** to the desk"
    # Ordinary words are left alone.
    assert plain == "Rejected POST /v1/human/message/receive: missing or wrong bearer key"


def test_a_very_short_secret_is_masked_as_a_word_not_inside_every_word():
    stream = json_logging(secrets=["k"])
    log.info("api key k was rejected by the desk")
    assert json_lines(stream)[0]["message"] == "api key *** was rejected by the desk"


def test_text_lines_keep_the_classic_format_with_the_ids_and_masking():
    stream = io.StringIO()
    configure_logging("text", "info", secrets=[SECRET], stream=stream)
    with log_context(handoff_id="h-1", sender_id="u-1"):
        log.warning("to_desk:h-1 is waiting; key %s", SECRET)
    log.debug("not at info level")
    (line,) = stream.getvalue().splitlines()
    assert " WARNING handoff_connectors.core.handoffs: to_desk:h-1 is waiting; key ***" in line
    assert line.endswith("[handoff_id=h-1 sender_id=u-1]")


def test_the_level_also_holds_for_library_loggers_that_set_a_lower_level_of_their_own():
    stream = io.StringIO()
    configure_logging("json", "warning", stream=stream)
    chatty = logging.getLogger("sanic.server")
    previous = chatty.level
    chatty.setLevel(logging.INFO)
    try:
        chatty.info("Starting worker [1]")
        chatty.warning("Worker is slow")
    finally:
        chatty.setLevel(previous)
    assert [line["message"] for line in json_lines(stream)] == ["Worker is slow"]


def test_configuring_again_replaces_the_handler_instead_of_adding_one():
    first, second = io.StringIO(), io.StringIO()
    configure_logging("text", "info", stream=first)
    configure_logging("json", "info", stream=second)
    log.info("once")
    assert first.getvalue() == ""
    assert len(json_lines(second)) == 1


def test_an_unknown_format_or_level_is_refused():
    with pytest.raises(ValueError, match="log format"):
        configure_logging("yaml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="log level"):
        configure_logging("text", "loud")


def test_the_environment_switches_only_the_handoff_loggers_to_json():
    host = io.StringIO()
    root = logging.getLogger()
    root.addHandler(logging.StreamHandler(host))
    root.setLevel(logging.INFO)
    ours = io.StringIO()

    configure_from_environment(
        secrets=[SECRET], environ={"HANDOFF_LOG_FORMAT": "json", "HANDOFF_LOG_LEVEL": "debug"}, stream=ours
    )
    logging.getLogger("rasa_handoff_actions.handoff_loop").debug("relaying with %s", SECRET)
    logging.getLogger("rasa_sdk.endpoint").info("Action endpoint is up and running")

    (line,) = json_lines(ours)
    assert line["logger"] == "rasa_handoff_actions.handoff_loop" and line["message"] == "relaying with ***"
    assert host.getvalue() == "Action endpoint is up and running\n"


def test_without_the_variable_the_handoff_loggers_log_text_at_the_hosts_level():
    logging.getLogger().setLevel(logging.WARNING)
    ours = io.StringIO()
    configure_from_environment(secrets=[SECRET], environ={}, stream=ours)
    logging.getLogger("handoff_connectors.core.pump").info("below the host's level")
    logging.getLogger("handoff_connectors.core.pump").warning("token %s", SECRET)
    (line,) = ours.getvalue().splitlines()
    assert line.endswith(" WARNING handoff_connectors.core.pump: token ***")


def test_every_secret_of_the_config_is_collected_for_masking():
    config = parse_config(
        {
            "connector": "webhook",
            "rasa": {"token": "rasa-token-1"},
            "connectors": {
                "webhook": {"url": "http://desk", "api_key": "desk-key-2", "username": "u", "password": "pw-3"},
                "intercom": {"access_token": "ic-token-4", "client_secret": "ic-secret-5"},
                "local": {"token": "inbox-token-6"},
            },
        }
    )
    assert sorted(secret_values(config)) == sorted(
        ["rasa-token-1", "desk-key-2", "pw-3", "ic-token-4", "ic-secret-5", "inbox-token-6"]
    )
    assert secret_values(parse_config({})) == []


def test_the_password_inside_a_secret_url_is_masked_on_its_own_too():
    config = parse_config({"store": {"type": "redis", "url": "redis://:p%40ss-redis-9f3@cache:6379/0"}})
    assert secret_values(config) == ["redis://:p%40ss-redis-9f3@cache:6379/0", "p@ss-redis-9f3"]
    stream = json_logging(secrets=secret_values(config))
    log.error("AUTH failed: invalid password p@ss-redis-9f3")
    assert json_lines(stream)[0]["message"] == "AUTH failed: invalid password ***"
