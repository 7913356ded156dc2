"""Build the configured connector, store and Rasa client from handoff.yml."""

from __future__ import annotations

from .core.config import HandoffConfig
from .core.contract import Connector
from .core.handoffs import HandoffService
from .core.rasa import RasaClient
from .core.store import Store


def connector_class(config: HandoffConfig) -> type[Connector]:
    if config.connector == "webhook":
        from .webhook import WebhookConnector

        return WebhookConnector
    if config.connector == "local":
        from .local import LocalConnector

        return LocalConnector
    raise ValueError(f"unknown connector {config.connector!r}")


def create_connector(config: HandoffConfig, store: Store) -> Connector:
    """The configured connector, with its settings (and the store, for the local desk)."""
    cls = connector_class(config)
    settings = getattr(config.connectors, config.connector)
    return cls.from_settings(settings, store)


def create_rasa_client(config: HandoffConfig) -> RasaClient:
    token = config.rasa.token.get_secret_value() if config.rasa.token else None
    return RasaClient(config.rasa.url, token, config.rasa.output_channel, config.rasa.timeout)


def create_service(config: HandoffConfig, store: Store, with_rasa: bool = False) -> HandoffService:
    """The handoff service as handoff.yml describes it (the sidecar also talks to Rasa)."""
    return HandoffService(
        store,
        create_connector(config, store),
        create_rasa_client(config) if with_rasa else None,
        waiting_timeout=config.timeouts.waiting,
        session_timeout=config.timeouts.session,
    )
