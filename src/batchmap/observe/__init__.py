"""What the operator sees of a running engine: a sampler of its live state and the HTTP endpoints.

``Sampler`` looks at an ``Engine`` a few times a second and keeps the latest
``RunView`` (``batchmap.metrics.live``); ``EndpointServer`` serves ``/metrics``,
``/healthz``, ``/readyz``, ``/status.json`` and the status page from it.
Names load on first use: a run without ``--metrics-address`` never imports the
HTTP server (``http.server``, ``http.client``, ``email``).
"""

from __future__ import annotations

from batchmap.lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from batchmap.observe.sampler import Sampler
    from batchmap.observe.server import Address, EndpointServer, Views, parse_address

__all__ = ["Address", "EndpointServer", "Sampler", "Views", "parse_address"]

_HOME = {"Sampler": "sampler", "Address": "server", "EndpointServer": "server", "Views": "server",
         "parse_address": "server"}
__getattr__, __dir__ = lazy_exports(globals(), _HOME, __all__)
