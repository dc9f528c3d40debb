"""What the operator sees of a running engine: a sampler of its live state and the HTTP endpoints.

``Sampler`` looks at an ``Engine`` a few times a second and keeps the latest
``RunView`` (``batchmap.metrics.live``); ``EndpointServer`` serves ``/metrics``,
``/healthz``, ``/readyz``, ``/status.json`` and the status page from it.
"""

from batchmap.observe.sampler import Sampler
from batchmap.observe.server import Address, EndpointServer, Views, parse_address

__all__ = ["Address", "EndpointServer", "Sampler", "Views", "parse_address"]
