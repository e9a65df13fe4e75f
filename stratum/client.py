"""``from stratum.client import Client``: run generated code through the stratum server (see
``stratum.server.client`` and docs/server.md), or with ``Client(cluster=ADDRESS)`` on a Dask
cluster (``stratum.distributed.submit``, docs/distributed.md)."""
from stratum.distributed.submit import Client
from stratum.server.client import Result

__all__ = ["Client", "Result"]
