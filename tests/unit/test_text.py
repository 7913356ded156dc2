"""Text repaired where it enters: half an emoji must not block a queue further on."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from handoff_connectors.core.contract import AgentMessage, WebhookRejected
from handoff_connectors.core.http import json_object
from handoff_connectors.core.text import REPLACEMENT, repair_text, repaired


def test_a_lone_surrogate_becomes_the_replacement_character_and_the_rest_stays():
    assert repair_text("Thanks! \ud83d") == f"Thanks! {REPLACEMENT}"
    assert repair_text("Thanks! \ud83d").encode("utf-8")


def test_a_surrogate_pair_is_joined_into_its_character():
    assert repair_text("ok \ud83d\ude00") == "ok \U0001f600"


def test_valid_text_is_returned_as_it_is():
    text = "Gracias, ¿algo más? 😀"
    assert repair_text(text) is text


def test_every_string_inside_lists_dicts_and_dataclasses_is_repaired():
    event = AgentMessage(
        event_id="e\ud800", desk_conversation_id="c1", text="hi \udfff", agent_name="Sam", attachments=("https://x/\ud83d",)
    )
    fixed = repaired({"events": [event], "k\ud800": ("a", "b\udc00")})
    [fixed_event] = fixed["events"]
    assert fixed_event.text == f"hi {REPLACEMENT}"
    assert fixed_event.event_id == f"e{REPLACEMENT}"
    assert fixed_event.attachments == (f"https://x/{REPLACEMENT}",)
    assert fixed[f"k{REPLACEMENT}"] == ("a", f"b{REPLACEMENT}")
    json.dumps(fixed["k" + REPLACEMENT], ensure_ascii=False).encode("utf-8")


def test_a_webhook_body_with_half_an_emoji_is_read_repaired():
    body = b'{"body": "Thanks! \\ud83d", "conversation_id": "c1"}'
    assert json_object(body)["body"] == f"Thanks! {REPLACEMENT}"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_too_deep_is_a_400_not_a_crash(depth: int):
    with pytest.raises(WebhookRejected) as rejected:
        json_object(b"[" * depth + b"]" * depth if depth > 1000 else b'{"a":' * depth + b"1" + b"}" * depth)
    assert rejected.value.status == 400
