"""A fix to the SQS emulator the tests run (moto), not to batchmap: one receive per message at a time."""

from __future__ import annotations

import threading
import time
from typing import Any


def one_receive_at_a_time() -> None:
    """Make moto's ReceiveMessage hand a message to one receive only, as SQS does.

    moto scans the queue without a lock, so two concurrent receives (the SQS
    source runs several) now and then both take the same visible message. The
    scan is made atomic here; the long poll still waits outside the lock, so
    concurrent long polls do not block each other.
    """
    from moto.sqs.models import SQSBackend

    if _patched:
        return

    scan = SQSBackend.receive_message
    lock = threading.Lock()

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: Any = None) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with lock:
                got = scan(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            self.get_queue(queue_name).wait_for_messages(min(1.0, remaining))
            time.sleep(0.01)  # visible messages that cannot be delivered yet (a FIFO group in flight)

    SQSBackend.receive_message = receive_message
    _patched.append(True)


_patched: list[bool] = []
