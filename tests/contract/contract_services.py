"""The services the contract suite talks to, all on 127.0.0.1.

``require`` is the one place that decides what a missing service means: a
skip on a developer machine, a failure under ``CI=true`` (CI must never pass
by skipping). moto and Tansu are not system services: they are started here,
on free loopback ports, once per session (tests/support/emulators.py).
"""

from __future__ import annotations

from emulators import AWS_ACCOUNT, AWS_ENV, AWS_REGION, Moto, moto_server, tansu_broker
from services import HOST, require_port

__all__ = ["AWS_ACCOUNT", "AWS_ENV", "AWS_REGION", "HOST", "Moto", "moto_server", "require", "tansu_broker"]

PORTS = {"redis": 6379, "rabbitmq": 5672, "nats": 4222, "postgres": 5432}


def require(name: str) -> int:
    """The port of a system service (redis, rabbitmq, nats, postgres), which must be listening."""
    port = PORTS[name]
    require_port(name, port)
    return port
