"""What the bot says during a handoff, in English, Spanish, French and German.

Every text can be overridden per language in handoff.yml under `messages:`.
"""

from __future__ import annotations

from typing import Mapping

LANGUAGES = ("en", "es", "fr", "de")

DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "out_of_hours": "Our agents aren't available right now.",
        "out_of_hours_next": "Our agents aren't available right now. We're back on {opening}.",
        "ask_keep_waiting": "No agent has answered yet. Would you like to keep waiting or end your request?",
        "keep_waiting_button": "Keep waiting",
        "end_request_button": "End request",
        "keep_waiting_ok": "Okay, we'll keep looking for an agent.",
        "session_timed_out": "The chat with the agent ended because there were no new messages. I'm back if you need anything else.",
        "fallback_rephrase": "Sorry, I didn't understand that. Could you say it another way?",
        "offer_handoff": "I'm having trouble understanding. Would you like to talk to a person?",
        "offer_yes": "Yes, a person please",
        "offer_no": "No, thanks",
        "offer_declined": "Okay. What else can I help you with?",
        "no_agents": "There are no agents available at this time. When one becomes available, we'll connect you.",
        "agent_joined": "{agent} has joined the chat.",
        "transferred_to_queue": "You're being transferred to {queue}. Please stay in the chat.",
        "transferred_to_agent": "You're being transferred to {agent}.",
        "queue_position": "You are number {position} in the queue.",
        "queue_position_wait": "You are number {position} in the queue; the expected wait is about {minutes} min.",
        "agent_snoozed": "{agent} has set this chat aside for now and will get back to you here. You can keep writing in the meantime.",
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
        "out_of_hours": "Nuestros agentes no están disponibles en este momento.",
        "out_of_hours_next": "Nuestros agentes no están disponibles en este momento. Volvemos el {opening}.",
        "ask_keep_waiting": "Ningún agente ha respondido todavía. ¿Quieres seguir esperando o terminar tu solicitud?",
        "keep_waiting_button": "Seguir esperando",
        "end_request_button": "Terminar solicitud",
        "keep_waiting_ok": "De acuerdo, seguimos buscando un agente.",
        "session_timed_out": "El chat con el agente ha terminado porque no había mensajes nuevos. Sigo aquí si necesitas algo más.",
        "fallback_rephrase": "Lo siento, no lo he entendido. ¿Puedes decirlo de otra manera?",
        "offer_handoff": "Me está costando entenderte. ¿Quieres hablar con una persona?",
        "offer_yes": "Sí, con una persona",
        "offer_no": "No, gracias",
        "offer_declined": "De acuerdo. ¿En qué más puedo ayudarte?",
        "no_agents": "No hay agentes disponibles en este momento. Cuando haya uno disponible, te pondremos en contacto.",
        "agent_joined": "{agent} se ha unido al chat.",
        "transferred_to_queue": "Te estamos transfiriendo a {queue}. Por favor, no salgas del chat.",
        "transferred_to_agent": "Te estamos transfiriendo a {agent}.",
        "queue_position": "Eres el número {position} en la cola.",
        "queue_position_wait": "Eres el número {position} en la cola; la espera estimada es de unos {minutes} min.",
        "agent_snoozed": "{agent} ha dejado este chat en pausa por ahora y te responderá aquí. Mientras tanto puedes seguir escribiendo.",
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
        "out_of_hours": "Nos agents ne sont pas disponibles pour le moment.",
        "out_of_hours_next": "Nos agents ne sont pas disponibles pour le moment. Nous serons de retour {opening}.",
        "ask_keep_waiting": "Aucun agent n'a encore répondu. Voulez-vous continuer d'attendre ou mettre fin à votre demande ?",
        "keep_waiting_button": "Continuer d'attendre",
        "end_request_button": "Mettre fin à la demande",
        "keep_waiting_ok": "D'accord, nous continuons à chercher un agent.",
        "session_timed_out": "La discussion avec l'agent s'est terminée faute de nouveaux messages. Je suis là si vous avez besoin d'autre chose.",
        "fallback_rephrase": "Désolé, je n'ai pas compris. Pouvez-vous le dire autrement ?",
        "offer_handoff": "J'ai du mal à vous comprendre. Voulez-vous parler à une personne ?",
        "offer_yes": "Oui, une personne",
        "offer_no": "Non, merci",
        "offer_declined": "D'accord. Que puis-je faire d'autre pour vous ?",
        "no_agents": "Aucun agent n'est disponible pour le moment. Dès qu'un agent sera disponible, nous vous mettrons en relation.",
        "agent_joined": "{agent} a rejoint la discussion.",
        "transferred_to_queue": "Nous vous transférons vers {queue}. Merci de rester dans la discussion.",
        "transferred_to_agent": "Nous vous transférons vers {agent}.",
        "queue_position": "Vous êtes numéro {position} dans la file d'attente.",
        "queue_position_wait": "Vous êtes numéro {position} dans la file d'attente ; l'attente estimée est d'environ {minutes} min.",
        "agent_snoozed": "{agent} a mis cette discussion en attente pour le moment et vous répondra ici. Vous pouvez continuer à écrire en attendant.",
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
        "out_of_hours": "Unsere Mitarbeiter sind gerade nicht erreichbar.",
        "out_of_hours_next": "Unsere Mitarbeiter sind gerade nicht erreichbar. Wir sind ab {opening} wieder da.",
        "ask_keep_waiting": "Noch hat kein Mitarbeiter geantwortet. Möchten Sie weiter warten oder Ihre Anfrage beenden?",
        "keep_waiting_button": "Weiter warten",
        "end_request_button": "Anfrage beenden",
        "keep_waiting_ok": "In Ordnung, wir suchen weiter nach einem Mitarbeiter.",
        "session_timed_out": "Der Chat mit dem Mitarbeiter wurde beendet, weil keine neuen Nachrichten kamen. Ich bin wieder da, falls Sie noch etwas brauchen.",
        "fallback_rephrase": "Entschuldigung, das habe ich nicht verstanden. Können Sie es anders formulieren?",
        "offer_handoff": "Ich verstehe Sie leider nicht gut. Möchten Sie mit einer Person sprechen?",
        "offer_yes": "Ja, mit einer Person",
        "offer_no": "Nein, danke",
        "offer_declined": "In Ordnung. Wobei kann ich sonst helfen?",
        "no_agents": "Derzeit ist kein Mitarbeiter verfügbar. Sobald einer verfügbar ist, verbinden wir Sie.",
        "agent_joined": "{agent} ist dem Chat beigetreten.",
        "transferred_to_queue": "Sie werden an {queue} weitergeleitet. Bitte bleiben Sie im Chat.",
        "transferred_to_agent": "Sie werden an {agent} weitergeleitet.",
        "queue_position": "Sie sind Nummer {position} in der Warteschlange.",
        "queue_position_wait": "Sie sind Nummer {position} in der Warteschlange; die Wartezeit beträgt etwa {minutes} Min.",
        "agent_snoozed": "{agent} hat diesen Chat vorerst zurückgestellt und meldet sich hier wieder bei Ihnen. Sie können in der Zwischenzeit weiter schreiben.",
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

WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
}

# Typed answers to "keep waiting or end?" (matched whole, like the end phrases).
DEFAULT_KEEP_WAITING_PHRASES: dict[str, list[str]] = {
    "en": ["keep waiting", "wait", "i'll wait", "i will wait", "yes wait"],
    "es": ["seguir esperando", "esperar", "espero", "sigo esperando"],
    "fr": ["continuer d'attendre", "attendre", "j'attends", "je vais attendre"],
    "de": ["weiter warten", "warten", "ich warte"],
}

# Typed phrases that end an active handoff. Matched whole (case, accents of
# punctuation and surrounding spaces ignored), never by NLU: "I'm done with
# this order" is a message for the agent, not a request to leave.
DEFAULT_END_PHRASES: dict[str, list[str]] = {
    "en": ["end chat", "end request", "end the chat", "stop chat", "end conversation", "back to the bot", "/end"],
    "es": ["terminar chat", "terminar solicitud", "terminar el chat", "finalizar chat", "salir del chat", "volver al bot"],
    "fr": ["terminer la discussion", "mettre fin à la demande", "terminer le chat", "fin de la discussion", "quitter le chat", "retour au bot"],
    "de": ["chat beenden", "anfrage beenden", "gespräch beenden", "zurück zum bot", "chat verlassen"],
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
        self._keep_waiting_phrases = {
            normalise(phrase) for phrases in DEFAULT_KEEP_WAITING_PHRASES.values() for phrase in phrases
        }

    def text(self, key: str, language: str, **values: str) -> str:
        texts = self._texts.get(language) or self._texts[self._default_language]
        template = texts[key]
        return template.format(**values) if values else template

    def is_end_phrase(self, text: str) -> bool:
        return normalise(text) in self._end_phrases

    def is_keep_waiting_phrase(self, text: str) -> bool:
        return normalise(text) in self._keep_waiting_phrases

    def moment(self, when, language: str) -> str:
        """A weekday and time, such as "Monday 09:00", in the conversation's language."""
        days = WEEKDAYS.get(language, WEEKDAYS["en"])
        return f"{days[when.weekday()]} {when:%H:%M}"


def normalise(text: str) -> str:
    return " ".join(text.casefold().strip(" \t\n.!?¡¿").split())
