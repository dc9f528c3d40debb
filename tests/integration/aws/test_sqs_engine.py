"""The engine on an SQS queue (moto): a delete the queue refuses is not fatal, the run goes on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

import pytest

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine.service import Engine
from batchmap.sources.registry import SourceOptions

from .conftest import ACCOUNT, REGION, Moto


def purge_the_queue(event: dict[str, Any], context: object) -> None:
    """Someone purges the queue while its messages are being processed: their receipts die with them."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=os.environ["TEST_SQS_ENDPOINT"], region_name=REGION)
    with contextlib.suppress(sqs.exceptions.PurgeQueueInProgress):  # another batch purged it first
        sqs.purge_queue(QueueUrl=os.environ["TEST_SQS_QUEUE_URL"])


def test_a_refused_delete_is_a_warning_and_the_run_goes_on(moto: Moto, caplog: pytest.LogCaptureFixture) -> None:
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    function = FunctionConfig(handler=f"{__name__}:purge_the_queue", timeout_s=10,
                              environment={"TEST_SQS_ENDPOINT": moto.url, "TEST_SQS_QUEUE_URL": url})
    mapping = EventSourceMapping(source=f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders", function=function, batch_size=10)
    engine = Engine([mapping], invoker="inprocess", source_options=SourceOptions(endpoint_url=moto.url))
    with caplog.at_level(logging.WARNING, logger="batchmap.engine"):
        report = asyncio.run(asyncio.wait_for(engine.run(until_idle=True), 120))

    assert report.total("PolledEventCount") == 10
    assert report.total("DeletedEventCount") == 0
    refused = [r.getMessage() for r in caplog.records if "DeleteMessageBatch" in r.getMessage()]
    assert len(refused) == report.total("Invocations") >= 1
    assert all("ReceiptHandleIsInvalid" in m and "processed again" in m for m in refused)
