"""The built-in local help desk and its agent inbox."""

from .desk import LocalConnector, LocalDesk

__all__ = ["LocalConnector", "LocalDesk"]
