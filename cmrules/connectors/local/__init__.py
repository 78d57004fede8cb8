"""The embedded local connector: a SQLite store, its importer, and the connector over it."""

from cmrules.errors import ConfigError

from .connector import LocalConnector
from .importer import import_file
from .store import default_path, demo_file

__all__ = ["LocalConnector", "import_file", "default_path", "demo_file", "ConfigError"]
