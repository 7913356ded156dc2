"""Which desks are installed, and building the configured one.

Desks are found through Python entry points in the group
`rasa_handoff.connectors` (name = the `connector:` value, object = the
Connector class), the built-in ones too: a separate package adds a desk by
declaring one entry point, without touching this repository.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Optional

from .core.contract import Connector, ConnectorContext, FetchesTokens, ServiceStatus
from .core.credentials import SharedToken
from .core.handoffs import NO_METRICS, HandoffService, Metrics
from .core.rasa import RasaClient
from .core.store import Store

if TYPE_CHECKING:
    from .core.config import HandoffConfig

GROUP = "rasa_handoff.connectors"
# The desk of a handoff.yml that names none: the built-in inbox, which needs no account.
DEFAULT_CONNECTOR = "local"
# Listed first, in this order; other desks follow by name.
_BUILT_IN_ORDER = ("local", "webhook", "intercom")


class UnknownConnector(LookupError):
    def __init__(self, name: str) -> None:
        # The name is not repeated: a secret pasted into `connector:` must not reach a log.
        installed = ", ".join(connector_names()) or "none"
        super().__init__(f"not an installed connector (installed: {installed})")
        self.name = name


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=GROUP)}


def connector_names() -> tuple[str, ...]:
    """Every installed desk, in the order `rasa-handoff status` lists them."""
    names = _entry_points()
    built_in = [name for name in _BUILT_IN_ORDER if name in names]
    return (*built_in, *sorted(set(names) - set(built_in)))


@functools.lru_cache(maxsize=None)
def connector_class(name: str) -> type[Connector]:
    entry = _entry_points().get(name)
    if entry is None:
        raise UnknownConnector(name)
    found = entry.load()
    if not (isinstance(found, type) and issubclass(found, Connector)):
        raise TypeError(f"entry point {GROUP}:{name} ({entry.value}) is not a Connector class")
    if getattr(found, "name", None) != name:
        raise TypeError(f"entry point {GROUP}:{name} loads a connector named {getattr(found, 'name', None)!r}")
    return found


def settings_model(name: str):
    return connector_class(name).Settings


def create_connector(config: "HandoffConfig", store: Store, name: Optional[str] = None) -> Connector:
    """The configured connector (or the one `name`d), built with its settings."""
    name = name or config.connector
    settings = config.connectors.get(name)
    if settings is None:
        settings = settings_model(name).model_validate({})
    context = ConnectorContext(store=store, public_url=config.sidecar.public_url)
    connector = connector_class(name).from_settings(settings, context)
    if isinstance(connector, FetchesTokens):
        connector.tokens = SharedToken(store, name, connector.fetch_token)
    return connector


async def connector_statuses(config: "HandoffConfig", store: Store) -> dict[str, ServiceStatus]:
    """Not configured / Available / Unavailable for every installed desk."""
    statuses = {}
    for name in connector_names():
        if name != config.connector and config.connectors.get(name) is None:
            statuses[name] = ServiceStatus.NOT_CONFIGURED
            continue
        connector = create_connector(config, store, name)
        try:
            statuses[name] = await connector.check()
        finally:
            await connector.aclose()
    return statuses


def create_rasa_client(config: "HandoffConfig") -> RasaClient:
    token = config.rasa.token.get_secret_value() if config.rasa.token else None
    return RasaClient(config.rasa.url, token, config.rasa.output_channel, config.rasa.timeout)


def create_service(
    config: "HandoffConfig", store: Store, with_rasa: bool = False, metrics: Metrics = NO_METRICS
) -> HandoffService:
    """The handoff service as handoff.yml describes it (the sidecar's also talks to Rasa)."""
    return HandoffService(
        store,
        create_connector(config, store),
        create_rasa_client(config) if with_rasa else None,
        waiting_timeout=config.timeouts.waiting,
        session_timeout=config.timeouts.session,
        metrics=metrics,
        rasa_url=config.rasa.url if with_rasa else None,
        rasa_timeout=config.rasa.timeout,
    )
