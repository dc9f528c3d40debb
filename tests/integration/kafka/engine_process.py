"""Runs one engine on a Kafka topic until killed: ``python engine_process.py URI``.

The function appends every value it gets to ``$KAFKA_TEST_OUT``; the test
kills this process with SIGKILL mid-run to show a dead member loses nothing.
"""

from __future__ import annotations

import asyncio
import sys

from batchmap.config import EventSourceMapping
from batchmap.engine.service import Engine


def main(uri: str) -> None:
    mapping = EventSourceMapping(source=uri, function="kafka_handlers:append_values", batch_size=5,
                                 maximum_batching_window_in_seconds=0, starting_position="TRIM_HORIZON")
    asyncio.run(Engine([mapping], invoker="inprocess").run())


if __name__ == "__main__":
    main(sys.argv[1])
