"""The vocabulary shared with the domain: every desk event has its intent, and the acknowledgement is read one way."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from handoff_connectors.core import events
from handoff_connectors.core.rasa_protocol import DESK_INTENTS, EVENT_ID_SLOT, acknowledged, intent_for

DOMAIN = Path(__file__).resolve().parents[2] / "domain.yml"
RULES = Path(__file__).resolve().parents[2] / "data" / "rules.yml"

# Events that go to Rasa (UserWroteInDesk goes to the bot as a user message instead).
RASA_EVENTS = [
    cls for cls in vars(events).values()
    if isinstance(cls, type) and issubclass(cls, events.DeskEvent) and cls not in (events.DeskEvent, events.UserWroteInDesk)
]


@pytest.mark.parametrize("event_class", RASA_EVENTS, ids=lambda cls: cls.__name__)
def test_every_desk_event_has_an_intent_the_domain_declares(event_class) -> None:
    intent, entities = intent_for(event_class("e1", "c1"))
    domain = yaml.safe_load(DOMAIN.read_text())
    assert intent in domain["intents"]
    assert set(entities) <= set(domain["entities"])


def test_every_pushed_intent_is_declared_and_has_a_rule_for_after_the_handoff() -> None:
    domain = yaml.safe_load(DOMAIN.read_text())
    rules = RULES.read_text()
    for intent in DESK_INTENTS:
        assert intent in domain["intents"]
        assert f"intent: {intent}" in rules


def test_an_acknowledgement_is_the_slot_set_to_the_event_id() -> None:
    slot = {"event": "slot", "name": EVENT_ID_SLOT, "value": "desk:42"}
    assert acknowledged([{"event": "user"}, slot], "desk:42")
    assert not acknowledged([slot], "desk:43")
    assert not acknowledged([{"event": "slot", "name": "other", "value": "desk:42"}], "desk:42")
    assert not acknowledged(None, "desk:42")
    assert not acknowledged(["not an event", 7], "desk:42")
