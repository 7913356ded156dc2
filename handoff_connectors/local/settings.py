"""`connectors.local` in handoff.yml."""

from __future__ import annotations

from typing import Optional

from pydantic import SecretStr

from ..core.config import DeskSettings


class LocalConnectorSettings(DeskSettings):
    """The built-in agent inbox."""

    token: Optional[SecretStr] = None
    """What agents give to open the inbox (/inbox?token=...); unset, the inbox refuses everyone."""
