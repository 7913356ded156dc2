"""The Twilio Flex connector on the fake Twilio: what a handoff opens, relays and closes; availability;
the webhook signature (behind a proxy too); settings and status."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from pydantic import ValidationError

from handoff_connectors.core.config import parse_config
from handoff_connectors.core.contract import (
    AgentJoined,
    AgentMessage,
    Attachment,
    CloseReason,
    ConnectorContext,
    ConversationClosed,
    DeskError,
    HandoffRequest,
    ServiceStatus,
    Speaker,
    Turn,
    UserMessage,
    WebhookRejected,
)
from handoff_connectors.registry import connector_statuses, create_connector
from handoff_connectors.testing import send_call, served_sidecar, with_wrong_headers
from handoff_connectors.twilio_flex import WEBHOOK_PATH, TwilioFlexConnector, identity_for
from handoff_connectors.twilio_flex.connector import CONVERSATION_KEY, START_KEY
from handoff_connectors.twilio_flex.signature import signature, verify

from .conftest import ACCOUNT, AUTH_TOKEN, MARTA, PUBLIC_WEBHOOK, SERVICE, WORKFLOW, WORKSPACE, fake_twilio, settings
from .fake_twilio import FakeTwilio, twilio_call


def request(routing=None, **extra) -> HandoffRequest:
    return HandoffRequest(
        handoff_id=extra.pop("handoff_id", "h-" + str(time.monotonic_ns())),
        sender_id=extra.pop("sender_id", "user-ana-01"),
        email="ana@example.com",
        language="en",
        transcript=(Turn(Speaker.USER, "where is my order"), Turn(Speaker.BOT, "Orders ship within two days.")),
        latest_question="I want to talk to a human",
        routing=routing,
        created_at=time.time(),
        **extra,
    )


# -- start ---------------------------------------------------------------------------------


async def test_a_handoff_opens_a_conversation_with_the_user_the_transcript_and_an_interaction_for_the_queue(fake, connector, store):
    handoff = request("billing", message_to_agent="Customer wants to pay a bill", attributes={"plan": "gold"})
    conversation_sid = await connector.start(handoff)

    conversation = fake.conversations[conversation_sid]
    assert conversation.unique_name == f"rasa-handoff-{handoff.handoff_id}"
    assert [p["identity"] for p in conversation.participants] == ["rasa:user-ana-01"]
    assert conversation.webhooks == [{"url": PUBLIC_WEBHOOK, "method": "post", "filters": ["onMessageAdded", "onParticipantAdded", "onConversationStateUpdated"]}]
    transcript, question = conversation.messages
    assert transcript["author"] == "Bot"
    assert transcript["body"].splitlines() == [
        "Chat with the bot before the handoff (email: ana@example.com; language: en; routing: billing; plan: gold)",
        "Customer > where is my order",
        "Bot > Orders ship within two days.",
        "Note for the agent: Customer wants to pay a bill",
    ]
    assert (question["author"], question["body"]) == ("rasa:user-ana-01", "I want to talk to a human")

    interaction = fake.interaction_of(conversation_sid)
    assert interaction.channel == {"type": "chat", "initiated_by": "customer", "properties": {"media_channel_sid": conversation_sid}}
    properties = interaction.routing["properties"]
    assert (properties["workspace_sid"], properties["workflow_sid"], properties["task_channel_unique_name"]) == (WORKSPACE, WORKFLOW, "chat")
    attributes = interaction.task_attributes
    assert (attributes["queue"], attributes["routing"], attributes["plan"]) == ("Billing", "billing", "gold")
    assert attributes["customerName"] == "ana@example.com" and attributes["conversationSid"] == conversation_sid
    assert attributes["handoff"]["message_to_agent"] == "Customer wants to pay a bill"
    assert await store.get(CONVERSATION_KEY + conversation_sid) == {
        "identity": "rasa:user-ana-01", "interaction_sid": interaction.sid, "channel_sid": interaction.channel_sid,
    }
    assert await store.get(START_KEY + handoff.handoff_id) is None


async def test_a_handoff_without_a_routing_goes_to_the_default_queue(fake, connector):
    conversation_sid = await connector.start(request())
    assert fake.interaction_of(conversation_sid).task_attributes["queue"] == "Everyone"


async def test_a_start_that_failed_part_way_carries_on_without_a_second_conversation(fake, connector):
    handoff = request()
    fake.fail("POST", r"/flex/v1/Interactions$", 503)
    with pytest.raises(DeskError) as failed:
        await connector.start(handoff)
    assert failed.value.retryable and not failed.value.auth
    conversation_sid = await connector.start(handoff)
    assert list(fake.conversations) == [conversation_sid]
    assert len(fake.conversations[conversation_sid].messages) == 2
    assert len(fake.conversations[conversation_sid].participants) == 1
    assert len(fake.interactions) == 1


async def test_a_start_lost_after_twilio_created_the_conversation_finds_it_by_its_unique_name(fake, connector, store):
    handoff = request()
    fake.fail("POST", r"/Participants$", 500)
    with pytest.raises(DeskError):
        await connector.start(handoff)
    await store.delete(START_KEY + handoff.handoff_id)  # as if the store never heard of the conversation
    conversation_sid = await connector.start(handoff)
    assert list(fake.conversations) == [conversation_sid]
    assert fake.interaction_of(conversation_sid) is not None


async def test_without_a_webhook_url_the_conversation_relies_on_the_services_webhook(fake, store):
    made = TwilioFlexConnector(settings(**fake.base_urls(), webhook_url=None), store)
    try:
        conversation_sid = await made.start(request())
    finally:
        await made.aclose()
    assert fake.conversations[conversation_sid].webhooks == []


def test_the_webhook_url_defaults_to_the_sidecars_public_url(store):
    made = TwilioFlexConnector.from_settings(settings(webhook_url=None), ConnectorContext(store, "https://bot.acme.example/"))
    assert made.webhook_url == "https://bot.acme.example/twilio_flex/webhook"


# -- send and close -----------------------------------------------------------------------


async def test_the_users_messages_are_written_as_the_user_with_files_as_links(fake, connector, store):
    conversation_sid = await connector.start(request())
    await connector.send(conversation_sid, UserMessage("m-1", "here is my receipt", time.time(), (Attachment("https://files.example/receipt.pdf"),)))
    await store.delete(CONVERSATION_KEY + conversation_sid)  # found again in the conversation's attributes
    await connector.send(conversation_sid, UserMessage("m-2", "and thanks", time.time()))
    first, second = fake.conversations[conversation_sid].messages[2:]
    assert (first["author"], first["body"]) == ("rasa:user-ana-01", "here is my receipt\nhttps://files.example/receipt.pdf")
    assert json.loads(first["attributes"]) == {"rasa_message_id": "m-1"}
    assert (second["author"], second["body"]) == ("rasa:user-ana-01", "and thanks")


async def test_sending_to_a_conversation_the_bot_did_not_open_is_refused_for_good(fake, connector):
    # A conversation of someone else's, made through the API.
    other = await connector.api.call("POST", f"{connector._service}/Conversations", {"FriendlyName": "not ours"})
    with pytest.raises(DeskError) as refused:
        await connector.send(other["sid"], UserMessage("m-1", "hello", time.time()))
    assert not refused.value.retryable


async def test_our_close_says_why_closes_the_interaction_channel_and_the_conversation(fake, connector, store):
    conversation_sid = await connector.start(request())
    await connector.close(conversation_sid, CloseReason.USER_CLOSED)
    conversation = fake.conversations[conversation_sid]
    assert conversation.messages[-1]["author"] == "Bot"
    assert "ended the chat" in conversation.messages[-1]["body"]
    assert fake.interaction_of(conversation_sid).channel_status == "closed"
    assert conversation.state == "closed"
    assert await store.get(CONVERSATION_KEY + conversation_sid) is None


async def test_a_close_that_failed_part_way_does_not_repeat_its_note(fake, connector):
    conversation_sid = await connector.start(request())
    fake.fail("POST", r"/Channels/UO", 502)
    with pytest.raises(DeskError):
        await connector.close(conversation_sid, CloseReason.TIMEOUT)
    await connector.close(conversation_sid, CloseReason.TIMEOUT)
    notes = [m for m in fake.conversations[conversation_sid].messages if m["author"] == "Bot"]
    assert len(notes) == 2  # the transcript and one close note
    assert fake.conversations[conversation_sid].state == "closed"


# -- availability -----------------------------------------------------------------------------


async def test_agents_are_available_when_a_taskrouter_worker_of_the_queue_is(fake, connector):
    assert await connector.agents_available("billing") is True  # Marta, in Billing
    fake.agents[MARTA.identity].available = False
    assert await connector.agents_available("billing") is False
    assert await connector.agents_available(None) is False  # Everyone: Jonas is offline too
    asked = [c for c in fake.calls if c[0] == "taskrouter"]
    assert len(asked) == 3


async def test_a_queue_given_by_its_sid_is_asked_by_sid(fake, store):
    queue_sid = "WQ" + "4" * 32
    fake.agents[MARTA.identity].queues = (queue_sid,)
    made = TwilioFlexConnector(settings(**fake.base_urls(), queues={"billing": queue_sid}), store)
    try:
        assert await made.agents_available("billing") is True
    finally:
        await made.aclose()


async def test_availability_is_unknown_when_taskrouter_fails(fake, connector):
    fake.fail("GET", r"/Workers$", 500)
    assert await connector.agents_available("billing") is None


# -- inbound: the signature ---------------------------------------------------------------------


def test_the_signature_is_twilios_documented_example():
    form = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309", "To": "+18005551212"}
    listed = {name: [value] for name, value in form.items()}
    assert signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", listed) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_signature_over_the_url_with_or_without_its_default_port_is_accepted():
    form = {"EventType": "onMessageAdded"}
    for signed_url, called in (
        ("https://bot.acme.example:443/twilio_flex/webhook", "https://bot.acme.example/twilio_flex/webhook"),
        ("https://bot.acme.example/twilio_flex/webhook", "https://bot.acme.example:443/twilio_flex/webhook"),
    ):
        call = twilio_call(called, form, AUTH_TOKEN)
        headers = {**call.headers, "x-twilio-signature": twilio_call(signed_url, form, AUTH_TOKEN).headers["x-twilio-signature"]}
        verify(AUTH_TOKEN, type(call)(**{**call.__dict__, "headers": headers}))


@pytest.mark.parametrize("signed_for", ["http://bot.acme.example/twilio_flex/webhook", "https://bot.acme.example/twilio_flex/webhook?x=1", "https://other.example/twilio_flex/webhook"])
async def test_a_signature_for_another_url_is_refused(connector, signed_for):
    form = {"EventType": "onMessageAdded", "ConversationSid": "CH" + "0" * 32}
    call = twilio_call(PUBLIC_WEBHOOK, form, AUTH_TOKEN)
    forged = type(call)(**{**call.__dict__, "headers": {**call.headers, "x-twilio-signature": twilio_call(signed_for, form, AUTH_TOKEN).headers["x-twilio-signature"]}})
    with pytest.raises(WebhookRejected) as refused:
        await connector.parse_webhook(forged)
    assert refused.value.status == 401


async def test_a_call_signed_with_another_auth_token_or_not_a_form_is_refused(connector):
    form = {"EventType": "onMessageAdded", "ConversationSid": "CH" + "0" * 32}
    with pytest.raises(WebhookRejected) as refused:
        await connector.parse_webhook(twilio_call(PUBLIC_WEBHOOK, form, "another-token"))
    assert refused.value.status == 401
    json_call = twilio_call(PUBLIC_WEBHOOK, form, AUTH_TOKEN)
    json_call = type(json_call)(**{**json_call.__dict__, "headers": {**json_call.headers, "content-type": "application/json"}, "form": {}})
    with pytest.raises(WebhookRejected) as refused:
        await connector.parse_webhook(json_call)
    assert refused.value.status == 400 and "x-www-form-urlencoded" in refused.value.reason


async def test_behind_a_proxy_the_sidecar_checks_the_signature_over_the_public_url(fake, connector, store):
    async with served_sidecar(connector, store) as sidecar:
        handoff = await sidecar.open_handoff()
        conversation_sid = handoff.desk_conversation_id
        genuine = fake.call(PUBLIC_WEBHOOK, fake.agent_accepts(conversation_sid, fake.agents[MARTA.identity], send=False))
        assert genuine.headers["x-forwarded-host"] == "bot.acme.example"
        stripped = type(genuine)(**{**genuine.__dict__, "headers": {k: v for k, v in genuine.headers.items() if not k.startswith("x-forwarded")}})
        async with httpx.AsyncClient() as client:
            # Without the proxy's headers the sidecar sees its own address, which Twilio did not sign.
            assert (await send_call(client, sidecar.url, stripped)).status_code == 401
            assert (await send_call(client, sidecar.url, with_wrong_headers(genuine, ["x-twilio-signature"]))).status_code == 401
            assert await sidecar.queued_for_rasa(handoff.sender_id) == []
            assert (await send_call(client, sidecar.url, genuine)).status_code == 200
        [queued] = await sidecar.queued_for_rasa(handoff.sender_id)
        assert "Marta Ruiz" in json.dumps(queued)


# -- inbound: what the webhooks say ------------------------------------------------------------


async def test_an_agent_joining_writing_with_a_file_and_ending_the_chat_reach_the_user(fake, connector):
    conversation_sid = await connector.start(request())
    marta = fake.agents[MARTA.identity]
    joined = await connector.parse_webhook(fake.call(PUBLIC_WEBHOOK, fake.agent_accepts(conversation_sid, marta, send=False)))
    said = await connector.parse_webhook(fake.call(PUBLIC_WEBHOOK, fake.agent_says(
        conversation_sid, marta, "Your invoice", files=(("invoice.pdf", "application/pdf", "https://media.example/t/invoice.pdf"),), send=False
    )))
    closed = await connector.parse_webhook(fake.call(PUBLIC_WEBHOOK, fake.agent_ends_chat(conversation_sid, send=False)))
    [event] = joined.events
    assert isinstance(event, AgentJoined) and event.agent_name == "Marta Ruiz"
    [event] = said.events
    assert isinstance(event, AgentMessage) and (event.text, event.attachments) == ("Your invoice", ("https://media.example/t/invoice.pdf",))
    [event] = closed.events
    assert isinstance(event, ConversationClosed) and event.desk_conversation_id == conversation_sid


async def test_an_agent_without_a_conversations_user_is_named_by_identity(fake, connector):
    conversation_sid = await connector.start(request())
    form = fake.event(conversation_sid, "onMessageAdded", MessageSid="IM" + "5" * 32, Author="sam@acme.example", Body="Hi")
    [event] = (await connector.parse_webhook(fake.call(PUBLIC_WEBHOOK, form))).events
    assert event.agent_name == "sam@acme.example"


async def test_after_our_close_the_conversations_events_are_not_ours(fake, connector):
    conversation_sid = await connector.start(request())
    await connector.close(conversation_sid, CloseReason.USER_CLOSED)
    reply = await connector.parse_webhook(fake.call(PUBLIC_WEBHOOK, fake.agent_ends_chat(conversation_sid, send=False)))
    assert reply.events == [] and reply.reply.status == 200


# -- settings and status ----------------------------------------------------------------------


async def test_an_api_key_signs_the_rest_calls_and_the_auth_token_still_checks_webhooks(store):
    key = ("SK" + "7" * 32, "key-secret-0c1d")
    with fake_twilio(api_key=key) as fake:
        fake.credentials.discard((ACCOUNT, AUTH_TOKEN))
        made = TwilioFlexConnector(settings(**fake.base_urls(), api_key_sid=key[0], api_key_secret=key[1]), store)
        try:
            assert await made.check() is ServiceStatus.AVAILABLE
            conversation_sid = await made.start(request())
            form = fake.agent_says(conversation_sid, fake.agents[MARTA.identity], "Hi", send=False)
            assert len((await made.parse_webhook(fake.call(PUBLIC_WEBHOOK, form))).events) == 1
        finally:
            await made.aclose()
    assert not fake.violations


@pytest.mark.parametrize("change, field", [
    ({"account_sid": "AC123"}, "account_sid"),
    ({"workflow_sid": "WS" + "a" * 32}, "workflow_sid"),
    ({"auth_token": " "}, "auth_token"),
    ({"api_key_sid": "SK" + "a" * 32}, "api_key_sid and api_key_secret go together"),
    ({"webhook_url": "ftp://bot.example/hook"}, "webhook_url"),
])
def test_bad_settings_are_refused_naming_the_field(change, field):
    with pytest.raises(ValidationError) as refused:
        settings(**change)
    assert field in str(refused.value)
    assert AUTH_TOKEN not in str(refused.value)


def twilio_config(fake: FakeTwilio) -> dict:
    section = {
        "account_sid": ACCOUNT, "auth_token": AUTH_TOKEN, "conversations_service_sid": SERVICE,
        "workspace_sid": WORKSPACE, "workflow_sid": WORKFLOW, **fake.base_urls(),
    }
    return {"connector": "twilio_flex", "connectors": {"twilio_flex": section}}


async def test_status_is_available_with_working_credentials_and_unavailable_once_revoked(fake, store):
    config = parse_config(twilio_config(fake))
    made = create_connector(config, store)
    try:
        assert isinstance(made, TwilioFlexConnector)
    finally:
        await made.aclose()
    assert (await connector_statuses(config, store))["twilio_flex"] is ServiceStatus.AVAILABLE
    fake.revoke()
    assert (await connector_statuses(config, store))["twilio_flex"] is ServiceStatus.UNAVAILABLE
    made = TwilioFlexConnector(settings(**fake.base_urls()), store)
    try:
        with pytest.raises(DeskError) as refused:
            await made.start(request())
    finally:
        await made.aclose()
    assert refused.value.auth


def test_the_identity_is_the_rasa_sender():
    assert identity_for("user-42") == "rasa:user-42"


def test_the_setup_page_names_every_setting_and_webhook_event():
    from pathlib import Path

    from handoff_connectors.twilio_flex.connector import WEBHOOK_EVENTS
    from handoff_connectors.twilio_flex.settings import TwilioFlexSettings

    page = (Path(__file__).resolve().parent.parent / "doc.md").read_text()
    missing = [name for name in [*TwilioFlexSettings.model_fields, *WEBHOOK_EVENTS, WEBHOOK_PATH] if name not in page]
    assert not missing, f"doc.md does not mention {missing}"
