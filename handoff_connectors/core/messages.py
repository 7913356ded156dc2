"""What the bot says during a handoff, in English, Spanish, French and German.

Every text can be overridden per language in handoff.yml under `messages:`.
"""

from __future__ import annotations

from typing import Mapping

LANGUAGES = ("en", "es", "fr", "de")

DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "no_agents": "There are no agents available at this time. When one becomes available, we'll connect you.",
        "agent_joined": "{agent} has joined the chat.",
        "agent_default_name": "An agent",
        "ask_email": "Before I connect you with a person, what is your email address?",
        "invalid_email": "That doesn't look like an email address. Please type it like name@example.com.",
        "email_gave_up": "I couldn't get a valid email address, so I won't connect you for now. Ask again any time.",
        "connecting": "Let's send you to an available agent.",
        "handoff_cancelled": "Okay, I won't connect you to an agent.",
        "user_ended": "You have ended the chat with the agent. I'm back if you need anything else.",
        "agent_ended": "The agent has ended the chat. I'm back if you need anything else.",
        "disabled": "Sorry, I can't connect you with a person right now.",
        "end_button": "End chat",
    },
    "es": {
        "no_agents": "No hay agentes disponibles en este momento. Cuando haya uno disponible, te pondremos en contacto.",
        "agent_joined": "{agent} se ha unido al chat.",
        "agent_default_name": "Un agente",
        "ask_email": "Antes de ponerte en contacto con una persona, ¿cuál es tu correo electrónico?",
        "invalid_email": "Eso no parece un correo electrónico. Escríbelo así: nombre@ejemplo.com.",
        "email_gave_up": "No he podido obtener un correo válido, así que por ahora no te pondré en contacto. Pídelo de nuevo cuando quieras.",
        "connecting": "Vamos a pasarte con un agente disponible.",
        "handoff_cancelled": "De acuerdo, no te pondré en contacto con un agente.",
        "user_ended": "Has terminado el chat con el agente. Sigo aquí si necesitas algo más.",
        "agent_ended": "El agente ha terminado el chat. Sigo aquí si necesitas algo más.",
        "disabled": "Lo siento, ahora mismo no puedo ponerte en contacto con una persona.",
        "end_button": "Terminar chat",
    },
    "fr": {
        "no_agents": "Aucun agent n'est disponible pour le moment. Dès qu'un agent sera disponible, nous vous mettrons en relation.",
        "agent_joined": "{agent} a rejoint la discussion.",
        "agent_default_name": "Un agent",
        "ask_email": "Avant de vous mettre en relation avec une personne, quelle est votre adresse e-mail ?",
        "invalid_email": "Cela ne ressemble pas à une adresse e-mail. Écrivez-la comme nom@exemple.com.",
        "email_gave_up": "Je n'ai pas pu obtenir d'adresse e-mail valide, je ne vous mets donc pas en relation pour l'instant. Redemandez quand vous voulez.",
        "connecting": "Nous vous mettons en relation avec un agent disponible.",
        "handoff_cancelled": "D'accord, je ne vous mets pas en relation avec un agent.",
        "user_ended": "Vous avez terminé la discussion avec l'agent. Je suis là si vous avez besoin d'autre chose.",
        "agent_ended": "L'agent a terminé la discussion. Je suis là si vous avez besoin d'autre chose.",
        "disabled": "Désolé, je ne peux pas vous mettre en relation avec une personne pour le moment.",
        "end_button": "Terminer la discussion",
    },
    "de": {
        "no_agents": "Derzeit ist kein Mitarbeiter verfügbar. Sobald einer verfügbar ist, verbinden wir Sie.",
        "agent_joined": "{agent} ist dem Chat beigetreten.",
        "agent_default_name": "Ein Mitarbeiter",
        "ask_email": "Bevor ich Sie mit einer Person verbinde: Wie lautet Ihre E-Mail-Adresse?",
        "invalid_email": "Das sieht nicht wie eine E-Mail-Adresse aus. Bitte schreiben Sie sie wie name@beispiel.de.",
        "email_gave_up": "Ich konnte keine gültige E-Mail-Adresse erhalten und verbinde Sie daher vorerst nicht. Fragen Sie gerne jederzeit erneut.",
        "connecting": "Wir verbinden Sie mit einem verfügbaren Mitarbeiter.",
        "handoff_cancelled": "In Ordnung, ich verbinde Sie nicht mit einem Mitarbeiter.",
        "user_ended": "Sie haben den Chat mit dem Mitarbeiter beendet. Ich bin wieder da, falls Sie noch etwas brauchen.",
        "agent_ended": "Der Mitarbeiter hat den Chat beendet. Ich bin wieder da, falls Sie noch etwas brauchen.",
        "disabled": "Leider kann ich Sie gerade nicht mit einer Person verbinden.",
        "end_button": "Chat beenden",
    },
}

MESSAGE_KEYS = tuple(DEFAULT_MESSAGES["en"])

# Typed phrases that end an active handoff. Matched whole (case, accents of
# punctuation and surrounding spaces ignored), never by NLU: "I'm done with
# this order" is a message for the agent, not a request to leave.
DEFAULT_END_PHRASES: dict[str, list[str]] = {
    "en": ["end chat", "end the chat", "stop chat", "end conversation", "back to the bot", "/end"],
    "es": ["terminar chat", "terminar el chat", "finalizar chat", "salir del chat", "volver al bot"],
    "fr": ["terminer la discussion", "terminer le chat", "fin de la discussion", "quitter le chat", "retour au bot"],
    "de": ["chat beenden", "gespräch beenden", "zurück zum bot", "chat verlassen"],
}


class MessageCatalog:
    """Default texts overlaid with the ones from handoff.yml."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, str]],
        default_language: str,
        end_phrases: Mapping[str, list[str]] = {},
    ) -> None:
        self._texts = {
            language: {**DEFAULT_MESSAGES[language], **overrides.get(language, {})}
            for language in LANGUAGES
        }
        self._default_language = default_language
        self._end_phrases = {
            normalise(phrase)
            for language in LANGUAGES
            for phrase in [*DEFAULT_END_PHRASES[language], *end_phrases.get(language, [])]
        }

    def text(self, key: str, language: str, **values: str) -> str:
        texts = self._texts.get(language) or self._texts[self._default_language]
        template = texts[key]
        return template.format(**values) if values else template

    def is_end_phrase(self, text: str) -> bool:
        return normalise(text) in self._end_phrases


def normalise(text: str) -> str:
    return " ".join(text.casefold().strip(" \t\n.!?¡¿").split())
