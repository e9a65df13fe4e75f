"""``from stratum.client import Client``: run generated code through the stratum server (see
``stratum.server.client`` and docs/server.md)."""
from stratum.server.client import Client, Result

__all__ = ["Client", "Result"]
