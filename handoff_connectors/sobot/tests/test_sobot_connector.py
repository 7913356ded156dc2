"""The Sobot connector against the fake Sobot: the push, the bot's messages, the handoff to a group, the token, the status."""

from __future__ import annotations

import time
import uuid

import pytest

from handoff_connectors import cli
from handoff_connectors.core.config import parse_config
from handoff_connectors.core.contract import (
    CloseReason,
    DeskError,
    HandoffRequest,
    ServiceStatus,
    Speaker,
    Turn,
    UserMessage,
    WebhookRejected,
)
from handoff_connectors.core.credentials import SharedToken
from handoff_connectors.registry import connector_statuses
from handoff_connectors.sobot import WEBHOOK_PATH, SobotConnector, SobotSettings, sender_for, wire
from handoff_connectors.sobot.connector import BUTTONS_KEY
from handoff_connectors.testing import desk_call, fixture_cases, served_sidecar

from .conftest import APP_KEY, COMPANY_ID, DEFAULT_GROUP, FIXTURES, PUSH_KEY, built, section, settings
from .fake_sobot import FakeSobot


@pytest.fixture
async def connector(sobot: FakeSobot, store):
    made = built(sobot.url, store)
    yield made
    await made.aclose()


def request_for(uid: str, routing: str | None = None, **extra) -> HandoffRequest:
    return HandoffRequest(
        handoff_id=uuid.uuid4().hex,
        sender_id=sender_for(uid),
        email="ana@example.com",
        language="en",
        transcript=(Turn(Speaker.USER, "hello"), Turn(Speaker.BOT, "Hello! I'm the demo bot.")),
        latest_question="I want to pay my bill",
        routing=routing,
        created_at=time.time(),
        **extra,
    )


def pushed(fake: FakeSobot, *items, stamp_ms: int | None = None):
    return desk_call(WEBHOOK_PATH, *fake.signed(list(items), stamp_ms))


# -- the push -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", fixture_cases(FIXTURES))
async def test_each_fixture_reads_as_expected(case, sobot: FakeSobot, connector: SobotConnector):
    await case.check(connector, desk_call(WEBHOOK_PATH, *sobot.signed(case.body)))


async def test_a_batch_is_answered_once_with_every_event_and_sobots_own_ids(sobot, connector):
    visitor = sobot.new_visitor()
    items = [sobot.visitor_item(visitor, f"message {n}") for n in range(20)]
    reply = await connector.parse_webhook(pushed(sobot, *items))
    assert [e.event_id for e in reply.events] == [i["msgid"] for i in items]
    assert [e.text for e in reply.events] == [f"message {n}" for n in range(20)]
    assert reply.reply.status == 200 and reply.reply.body["ret_code"] == "000000"


async def test_a_replayed_or_wrongly_keyed_push_is_refused(sobot, store):
    connector = SobotConnector(settings(sobot.url), store)
    visitor = sobot.new_visitor()
    item = sobot.agent_item(visitor, "Marta", "Hi")
    stale = int((time.time() - 301) * 1000)
    with pytest.raises(WebhookRejected) as refused:
        await connector.parse_webhook(pushed(sobot, item, stamp_ms=stale))
    assert refused.value.status == 401 and "X-Log-TimeStamp" in refused.value.reason
    # Signed with the API key instead of the forwarding key.
    other = FakeSobot(sobot.appid, APP_KEY, COMPANY_ID, APP_KEY, {})
    with pytest.raises(WebhookRejected) as refused:
        await connector.parse_webhook(pushed(other, item))
    assert refused.value.status == 401 and PUSH_KEY not in refused.value.reason
    # No forwarding key configured: the app_key signs the push.
    same_key = SobotConnector(settings(sobot.url, push_app_key=None), store)
    assert (await same_key.parse_webhook(pushed(other, item))).events
    await connector.aclose()
    await same_key.aclose()


# -- the bot in Sobot's widget ----------------------------------------------------------------


async def test_the_bots_answers_go_into_the_visitors_session_with_buttons_as_lines(sobot, connector, store):
    visitor = sobot.new_visitor()
    await connector.post_bot_message(visitor.uid, {"text": "Hello! I'm the demo bot."})
    await connector.post_bot_message(
        visitor.uid,
        {"text": "Let's send you to an available agent.", "buttons": [{"title": "End chat", "payload": "/handoff_end"}]},
    )
    await connector.post_bot_message(visitor.uid, {"image": "https://img.example/map.png"})
    assert sobot.bot_says(visitor.uid) == [
        "Hello! I'm the demo bot.",
        "Let's send you to an available agent.\n- End chat",
        "https://img.example/map.png",
    ]
    assert [c.json()["msg_type"] for c in sobot.calls_to(wire.BOT_SEND_PATH)] == ["text", "text", "image"]
    assert all(c.headers["token"] == sobot.tokens_issued[0] for c in sobot.calls_to(wire.BOT_SEND_PATH))

    # The visitor types (or taps) the button's title: the bot gets its payload, even during a handoff.
    [event] = (await connector.parse_webhook(pushed(sobot, sobot.visitor_item(visitor, " end CHAT ")))).events
    assert event.payload == "/handoff_end" and event.text == "end CHAT"
    [other] = (await connector.parse_webhook(pushed(sobot, sobot.visitor_item(visitor, "end chat please")))).events
    assert other.payload is None
    assert await store.get(BUTTONS_KEY + visitor.uid)


# -- the handoff to a human group -----------------------------------------------------------------


async def test_a_handoff_gives_the_same_session_to_the_routings_group_with_the_summary(sobot, connector):
    visitor = sobot.new_visitor()
    request = request_for(visitor.uid, routing="billing", message_to_agent="Customer wants to pay a bill (A-17)")
    assert await connector.start(request) == visitor.uid
    assert visitor.state == "queued" and visitor.group == "g-billing-02"
    [summary] = visitor.summaries
    assert summary.splitlines() == [
        "Handoff from the bot (email: ana@example.com, language: en, routing: billing)",
        "Message to the agent: Customer wants to pay a bill (A-17)",
        "User: hello",
        "Bot: Hello! I'm the demo bot.",
        "User (latest question): I want to pay my bill",
    ]

    other = sobot.new_visitor()
    await connector.start(request_for(other.uid, routing="unknown-team"))
    assert other.group == DEFAULT_GROUP
    # The visitor's words stay in Sobot, where the agent reads them: nothing to relay.
    before = len(sobot.server.requests)
    await connector.send(visitor.uid, UserMessage("m1", "hello?", time.time()))
    assert len(sobot.server.requests) == before


async def test_without_a_group_sobots_own_routing_decides(sobot, store):
    connector = built(sobot.url, store, groups={}, default_group=None)
    visitor = sobot.new_visitor()
    await connector.start(request_for(visitor.uid, routing="billing"))
    assert "groupid" not in sobot.calls_to(wire.TRANSFER_PATH)[-1].json()
    await connector.aclose()


async def test_a_user_of_another_channel_cannot_be_handed_to_sobot(sobot, connector):
    request = request_for("x", routing=None)
    with pytest.raises(DeskError) as refused:
        await connector.start(HandoffRequest(**{**request.__dict__, "sender_id": "telegram-4711"}))
    assert not refused.value.retryable and not refused.value.auth
    assert sobot.calls_to(wire.TRANSFER_PATH) == []


async def test_ending_on_our_side_ends_the_human_session(sobot, connector):
    visitor = sobot.new_visitor()
    await connector.start(request_for(visitor.uid))
    await connector.close(visitor.uid, CloseReason.USER_CLOSED)
    assert visitor.state == "bot"
    assert sobot.calls_to(wire.END_SESSION_PATH)[0].json() == {
        "uid": visitor.uid,
        "reason": "The visitor ended the chat with the bot's End chat button or phrase.",
    }


# -- the token ------------------------------------------------------------------------------------


async def test_every_process_shares_one_token_since_each_fetch_kills_the_last(sobot, store):
    first, second = built(sobot.url, store), built(sobot.url, store)
    visitor = sobot.new_visitor()
    await first.post_bot_message(visitor.uid, {"text": "one"})
    await second.post_bot_message(visitor.uid, {"text": "two"})
    await first.post_bot_message(visitor.uid, {"text": "three"})
    assert len(sobot.tokens_issued) == 1
    assert sobot.bot_says(visitor.uid) == ["one", "two", "three"]
    [token_call] = sobot.calls_to(wire.TOKEN_PATH)
    assert APP_KEY not in token_call.query and "sign=" in token_call.query
    await first.aclose()
    await second.aclose()


async def test_the_token_is_refreshed_before_its_24_hours_end(sobot, store):
    connector = SobotConnector(settings(sobot.url), store)
    now = [time.time()]
    connector.tokens = SharedToken(store, "sobot", connector.fetch_token, clock=lambda: now[0])
    visitor = sobot.new_visitor()
    await connector.post_bot_message(visitor.uid, {"text": "morning"})
    now[0] += 86400 - 30  # half a minute before the end Sobot gave it
    await connector.post_bot_message(visitor.uid, {"text": "next morning"})
    assert len(sobot.tokens_issued) == 2
    assert [c.headers["token"] for c in sobot.calls_to(wire.BOT_SEND_PATH)] == sobot.tokens_issued
    await connector.aclose()


async def test_a_token_that_expires_mid_handoff_is_refreshed_without_losing_or_repeating_a_message(sobot, store):
    connector = built(sobot.url, store)
    visitor = sobot.new_visitor()
    async with served_sidecar(connector, store) as sidecar:
        handoff = await sidecar.open_handoff(sender_for(visitor.uid))
        assert visitor.state == "queued"
        sobot.expire_token()  # Sobot's end came early (another fetch elsewhere, a clock apart)
        [agent] = (await connector.parse_webhook(pushed(sobot, sobot.agent_item(visitor, "Marta", "Hi")))).events
        assert await sidecar.service.accept(agent)
        await sidecar.finish(handoff, CloseReason.TIMEOUT)
        assert await sidecar.to_desk(handoff) == []
    await connector.post_bot_message(visitor.uid, {"text": "I'm back."})
    # The close was refused once (ret_code 900002 with HTTP 200), then sent once with the new token.
    ends = sobot.calls_to(wire.END_SESSION_PATH)
    assert [c.headers["token"] for c in ends] == sobot.tokens_issued
    assert len(sobot.tokens_issued) == 2
    assert [who for who, _ in visitor.chat].count("system") == 2  # transferred, ended: once each
    assert sobot.bot_says(visitor.uid) == ["I'm back."]
    await connector.aclose()


async def test_sobots_token_refusal_is_an_auth_failure_even_with_http_200(sobot, store):
    connector = SobotConnector(settings(sobot.url), store)
    connector.tokens = SharedToken(store, "sobot", connector.fetch_token)
    token = (await connector.fetch_token()).value
    sobot.expire_token()
    with pytest.raises(DeskError) as refused:
        await connector.api.call(token, "GET", wire.GROUPS_PATH)
    assert refused.value.auth and not refused.value.retryable and "900002" in str(refused.value)
    assert token not in str(refused.value)
    await connector.aclose()


# -- the status -------------------------------------------------------------------------------------


async def test_the_status_is_available_with_working_credentials_and_unavailable_once_revoked(sobot, connector, store, tmp_path):
    assert await connector.check() is ServiceStatus.AVAILABLE
    config = parse_config({"connector": "sobot", "store": {"path": str(tmp_path / "s.sqlite")}, "connectors": {"sobot": section(sobot.url)}})
    assert (await connector_statuses(config, store))["sobot"] is ServiceStatus.AVAILABLE
    assert len(sobot.tokens_issued) == 1  # the status used the shared token, it fetched none of its own

    sobot.revoke_key()  # the stored token dies, and the old key signs no new one
    assert await connector.check() is ServiceStatus.UNAVAILABLE
    assert (await connector_statuses(config, store))["sobot"] is ServiceStatus.UNAVAILABLE
    visitor = sobot.new_visitor()
    with pytest.raises(DeskError) as refused:
        await connector.start(request_for(visitor.uid))
    assert refused.value.auth and APP_KEY not in str(refused.value)


def test_rasa_handoff_status_prints_available_then_unavailable_for_a_revoked_key(sobot, tmp_path, capsys):
    handoff_yml = tmp_path / "handoff.yml"
    handoff_yml.write_text(
        "connector: sobot\n"
        f"store: {{path: {tmp_path / 'cli.sqlite'}}}\n"
        "connectors:\n  sobot:\n"
        f"    base_url: {sobot.url}\n    appid: {sobot.appid}\n    app_key: ${{SOBOT_APP_KEY}}\n"
        f"    company_id: {COMPANY_ID}\n"
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOBOT_APP_KEY", APP_KEY)
        assert cli.main(["status", "--config", str(handoff_yml)]) == 0
        assert "sobot" in (out := capsys.readouterr().out) and "Available" in out.split("sobot", 1)[1].splitlines()[0]
        sobot.revoke_key()
        assert cli.main(["status", "--config", str(handoff_yml)]) == 1
    out = capsys.readouterr().out
    assert "Unavailable" in out.split("sobot", 1)[1].splitlines()[0] and APP_KEY not in out


# -- settings -------------------------------------------------------------------------------------------


def test_settings_name_the_field_and_never_print_a_key():
    with pytest.raises(ValueError) as bad:
        SobotSettings(**section(app_key=" "))
    assert "app_key" in str(bad.value)
    with pytest.raises(ValueError) as bad:
        SobotSettings(**section(base_url="ftp://sobot.example"))
    assert "base_url" in str(bad.value)
    read = SobotSettings(**section(company_id=10086, groups={"billing": 42}, token_error_codes=[900002]))
    assert read.company_id == "10086" and read.groups == {"billing": "42"} and read.token_error_codes == ("900002",)
    assert APP_KEY not in repr(read) and PUSH_KEY not in repr(read)
