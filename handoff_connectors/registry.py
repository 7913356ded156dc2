"""Build the configured connector, store and Rasa client from handoff.yml."""

from __future__ import annotations

from .core.config import HandoffConfig
from .core.contract import Connector, ServiceStatus
from .core.handoffs import NO_METRICS, HandoffService, Metrics
from .core.rasa import RasaClient
from .core.store import Store


def _class_named(name: str) -> type[Connector]:
    if name == "webhook":
        from .webhook import WebhookConnector

        return WebhookConnector
    if name == "intercom":
        from .intercom import IntercomConnector

        return IntercomConnector
    if name == "local":
        from .local import LocalConnector

        return LocalConnector
    raise ValueError(f"unknown connector {name!r}")


# Every connector `connector:` can name, in the order `rasa-handoff status` lists them.
CONNECTOR_NAMES = ("local", "webhook", "intercom")


def connector_class(config: HandoffConfig) -> type[Connector]:
    return _class_named(config.connector)


def create_connector(config: HandoffConfig, store: Store, name: str | None = None) -> Connector:
    """The configured connector (or the one `name`d), with its settings."""
    name = name or config.connector
    return _class_named(name).from_settings(getattr(config.connectors, name), store)


async def connector_statuses(config: HandoffConfig, store: Store) -> dict[str, ServiceStatus]:
    """Not configured / Available / Unavailable for every connector."""
    statuses = {}
    for name in CONNECTOR_NAMES:
        if getattr(config.connectors, name, None) is None:
            statuses[name] = ServiceStatus.NOT_CONFIGURED
            continue
        connector = create_connector(config, store, name)
        try:
            statuses[name] = await connector.check()
        finally:
            await connector.aclose()
    return statuses


def create_rasa_client(config: HandoffConfig) -> RasaClient:
    token = config.rasa.token.get_secret_value() if config.rasa.token else None
    return RasaClient(config.rasa.url, token, config.rasa.output_channel, config.rasa.timeout)


def create_service(
    config: HandoffConfig, store: Store, with_rasa: bool = False, metrics: Metrics = NO_METRICS
) -> HandoffService:
    """The handoff service as handoff.yml describes it (the sidecar also talks to Rasa)."""
    return HandoffService(
        store,
        create_connector(config, store),
        create_rasa_client(config) if with_rasa else None,
        waiting_timeout=config.timeouts.waiting,
        session_timeout=config.timeouts.session,
        metrics=metrics,
    )
