"""An example help desk for rasa-handoff, packaged on its own.

The entry point `rasa_handoff.connectors: example` (see pyproject.toml)
points at `ExampleConnector`; `connector: example` in handoff.yml picks it.
"""

from .connector import SIGNATURE_HEADER, WEBHOOK_PATH, ExampleConnector, signature
from .settings import ExampleSettings

__all__ = ["ExampleConnector", "ExampleSettings", "SIGNATURE_HEADER", "WEBHOOK_PATH", "signature"]
