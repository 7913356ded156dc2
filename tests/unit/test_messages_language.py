"""The bot's texts in four languages, end phrases, and picking the conversation's language."""

from __future__ import annotations

import string

import pytest

from handoff_connectors.core.language import detect_language, pick_language
from handoff_connectors.core.messages import (
    DEFAULT_END_PHRASES,
    DEFAULT_MESSAGES,
    LANGUAGES,
    MESSAGE_KEYS,
    MessageCatalog,
    normalise,
)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# -- the default texts -------------------------------------------------------------


def test_the_four_languages_are_defined() -> None:
    assert set(LANGUAGES) == {"en", "es", "fr", "de"}
    assert set(DEFAULT_MESSAGES) == set(LANGUAGES)
    assert set(DEFAULT_END_PHRASES) == set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_key(language: str) -> None:
    assert set(DEFAULT_MESSAGES[language]) == set(DEFAULT_MESSAGES["en"])
    assert set(DEFAULT_MESSAGES[language]) == set(MESSAGE_KEYS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_is_empty_and_placeholders_match_english(language: str) -> None:
    for key, text in DEFAULT_MESSAGES[language].items():
        assert text.strip(), f"{language}.{key} is empty"
        assert placeholders(text) == placeholders(DEFAULT_MESSAGES["en"][key]), f"{language}.{key}"


@pytest.mark.parametrize("language", ["es", "fr", "de"])
def test_translations_are_not_english(language: str) -> None:
    same = [key for key in MESSAGE_KEYS if DEFAULT_MESSAGES[language][key] == DEFAULT_MESSAGES["en"][key]]
    assert same == []


# -- MessageCatalog -------------------------------------------------------------------


def test_catalog_gives_the_default_text() -> None:
    catalog = MessageCatalog({}, "en")
    assert catalog.text("connecting", "es") == DEFAULT_MESSAGES["es"]["connecting"]
    assert catalog.text("end_button", "de") == "Chat beenden"


def test_override_replaces_only_that_key_in_that_language() -> None:
    catalog = MessageCatalog({"en": {"connecting": "Hold on, finding someone for you."}}, "en")

    assert catalog.text("connecting", "en") == "Hold on, finding someone for you."
    assert catalog.text("ask_email", "en") == DEFAULT_MESSAGES["en"]["ask_email"]
    assert catalog.text("connecting", "fr") == DEFAULT_MESSAGES["fr"]["connecting"]


def test_catalog_does_not_change_the_defaults() -> None:
    MessageCatalog({"en": {"disabled": "Closed today."}}, "en")
    assert DEFAULT_MESSAGES["en"]["disabled"] != "Closed today."
    assert MessageCatalog({}, "en").text("disabled", "en") == DEFAULT_MESSAGES["en"]["disabled"]


def test_unknown_language_falls_back_to_the_default_language() -> None:
    catalog = MessageCatalog({"es": {"connecting": "Un momentito."}}, "es")
    assert catalog.text("connecting", "pt") == "Un momentito."
    assert catalog.text("user_ended", "it") == DEFAULT_MESSAGES["es"]["user_ended"]


def test_values_are_filled_in() -> None:
    catalog = MessageCatalog({"de": {"agent_joined": "Hallo, hier ist {agent}!"}}, "en")
    assert catalog.text("agent_joined", "en", agent="Anna") == "Anna has joined the chat."
    assert catalog.text("agent_joined", "de", agent="Jonas") == "Hallo, hier ist Jonas!"


# -- end phrases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "end chat",
        "End Chat",
        "END CHAT!",
        "  end   chat.  ",
        "end chat?!",
        "Back to the bot",
        "/end",
        "terminar chat",
        "¿Terminar el chat?",
        "¡Volver al bot!",
        "Terminer la discussion",
        "Chat beenden.",
        "GESPRÄCH BEENDEN",
        "zurück zum Bot",
    ],
)
def test_end_phrases_match_whatever_the_case_and_punctuation(text: str) -> None:
    assert MessageCatalog({}, "en").is_end_phrase(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "I want to end my subscription",
        "when does the chat end?",
        "end",
        "end chat please",
        "please end chat",
        "the end",
        "I'm done with this order",
        "weekend chat",
        "endchat",
        "",
        "   ",
    ],
)
def test_ordinary_sentences_are_not_end_phrases(text: str) -> None:
    assert MessageCatalog({}, "en").is_end_phrase(text) is False


def test_end_phrases_work_in_any_conversation_language() -> None:
    # The catalog is not told the language: a Spanish phrase ends an English chat too.
    catalog = MessageCatalog({}, "en")
    assert catalog.is_end_phrase("salir del chat")
    assert catalog.is_end_phrase("quitter le chat")


def test_configured_end_phrases_are_added_and_normalised() -> None:
    catalog = MessageCatalog({}, "en", end_phrases={"en": ["  Bye, Agent! "], "de": ["Tschüss Mitarbeiter"]})
    assert catalog.is_end_phrase("bye, agent")
    assert catalog.is_end_phrase("BYE, AGENT.")
    assert catalog.is_end_phrase("tschüss mitarbeiter!")
    # The built-in ones still work.
    assert catalog.is_end_phrase("end chat")
    assert not catalog.is_end_phrase("bye")


def test_normalise() -> None:
    assert normalise("  ¿Terminar   el\tChat?! ") == "terminar el chat"
    assert normalise("Straße") == "strasse"  # casefold, not lower


# -- language detection -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, language",
    [
        ("I want to talk to a real person please", "en"),
        ("Can someone help me with my order?", "en"),
        ("Quiero hablar con una persona, por favor", "es"),
        ("Necesito ayuda con mi pedido", "es"),
        ("Je veux parler avec une personne s'il vous plaît", "fr"),
        ("J'ai besoin d'aide avec mon colis, je veux un humain", "fr"),
        ("Ich möchte bitte mit einem Mitarbeiter sprechen", "de"),
        ("Ich brauche Hilfe mit meiner Bestellung", "de"),
    ],
)
def test_detects_clear_sentences(text: str, language: str) -> None:
    assert detect_language([text]) == language


def test_detection_adds_up_several_messages() -> None:
    assert detect_language(["hola", "quiero hablar con alguien", "ok"]) == "es"


@pytest.mark.parametrize(
    "texts",
    [
        [],
        [""],
        ["ok 12345 ??"],
        ["agent"],  # an English and a French word
        ["la"],  # Spanish and French
    ],
)
def test_nothing_or_a_tie_is_no_answer(texts: list[str]) -> None:
    assert detect_language(texts) is None


def test_slot_wins_over_everything() -> None:
    assert pick_language("de", "fr", ["I want to talk to a person please"], "en") == "de"


@pytest.mark.parametrize("slot", ["es-ES", "ES", " es_MX ", "español"])
def test_slot_value_is_reduced_to_its_language(slot: str) -> None:
    assert pick_language(slot, None, [], "en") == "es"


def test_metadata_comes_next() -> None:
    assert pick_language(None, "fr-CA", ["I want to talk to a person please"], "en") == "fr"


def test_unsupported_slot_value_falls_through_to_metadata() -> None:
    assert pick_language("pt-BR", "de-AT", [], "en") == "de"


def test_words_come_after_slot_and_metadata() -> None:
    assert pick_language(None, None, ["Ich möchte mit einem Menschen sprechen"], "en") == "de"
    assert pick_language("", "it", ["quiero hablar con una persona"], "en") == "es"


@pytest.mark.parametrize("default", ["en", "fr"])
def test_ambiguous_or_unknown_text_gives_the_default(default: str) -> None:
    assert pick_language(None, None, ["agent"], default) == default
    assert pick_language(None, None, ["12345"], default) == default
    assert pick_language(None, None, [], default) == default
