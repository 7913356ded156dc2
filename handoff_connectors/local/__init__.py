"""The built-in local help desk and its agent inbox."""

from .connector import LocalConnector
from .desk import LocalDesk

__all__ = ["LocalConnector", "LocalDesk"]
