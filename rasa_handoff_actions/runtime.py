"""The action server's share of handoff: config, store, connector, texts.

Built once per process, lazily, inside the action server's event loop (the
HTTP clients belong to that loop).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from handoff_connectors.core.config import ConfigError, HandoffConfig, load_config
from handoff_connectors.core.messages import MessageCatalog
from handoff_connectors.core.store import open_store
from handoff_connectors.core.service_hours import ServiceHours
from handoff_connectors.observability.logs import configure_from_environment, secret_values
from handoff_connectors.registry import create_service

if TYPE_CHECKING:
    from handoff_connectors.core.handoffs import HandoffService

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    config: HandoffConfig
    service: "HandoffService"
    messages: MessageCatalog
    hours: Optional[ServiceHours]


_runtime: Optional[Runtime] = None
_building = asyncio.Lock()


def check_config_at_start() -> None:
    try:
        load_config()
    except ConfigError as error:
        # Stop the action server with the reason alone, not a traceback.
        sys.exit(f"rasa-handoff: {error}")


async def runtime() -> Runtime:
    global _runtime
    async with _building:
        if _runtime is None:
            config = load_config()
            # JSON lines with HANDOFF_LOG_FORMAT=json; never a secret of the config either way.
            configure_from_environment(secret_values(config))
            store = open_store(config.store)
            _runtime = Runtime(
                config=config,
                service=create_service(config, store),
                messages=MessageCatalog(config.messages, config.default_language, config.end_phrases),
                hours=_service_hours(config),
            )
        return _runtime


def _service_hours(config: HandoffConfig) -> Optional[ServiceHours]:
    settings = config.service_hours
    if settings is None:
        return None
    return ServiceHours([rule.to_rule() for rule in settings.rules], settings.timezone)
