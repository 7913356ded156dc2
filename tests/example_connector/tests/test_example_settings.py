"""`connectors.example` is validated by the desk's own model: what it refuses, and that secrets stay secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rasa_handoff_example import ExampleSettings


def test_a_complete_section_is_accepted_and_keeps_its_secrets_out_of_its_text():
    settings = ExampleSettings(url="https://desk.example.com/api/", api_token="tok-1", webhook_secret="sec-1", queue="billing")
    assert settings.url == "https://desk.example.com/api"
    assert "tok-1" not in repr(settings) and "sec-1" not in str(settings)


@pytest.mark.parametrize(
    "fields, naming",
    [
        ({"url": "ftp://desk.example.com", "api_token": "t", "webhook_secret": "s"}, "url"),
        ({"url": "https://desk.example.com", "api_token": " ", "webhook_secret": "s"}, "api_token"),
        ({"url": "https://desk.example.com", "api_token": "t", "webhook_secret": ""}, "webhook_secret"),
        ({"url": "https://desk.example.com", "api_token": "t"}, "webhook_secret"),
        ({"url": "https://desk.example.com", "api_token": "t", "webhook_secret": "s", "colour": "red"}, "colour"),
    ],
)
def test_a_wrong_section_is_refused_naming_the_field(fields, naming):
    with pytest.raises(ValidationError) as refused:
        ExampleSettings(**fields)
    assert naming in str(refused.value)
