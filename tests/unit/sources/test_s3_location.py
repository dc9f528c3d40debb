"""S3 on-failure destinations: the two ways to name a bucket, and AWS's object key layout."""

from __future__ import annotations

import asyncio

import pytest

from batchmap.engine.destinations import open_destination
from batchmap.errors import ConfigError
from batchmap.sources.aws.s3 import S3Location, object_key, parse_location

STAMP = {"timestamp": "2019-11-14T00:38:06.021Z"}


@pytest.mark.parametrize(("uri", "expected"), [
    ("arn:aws:s3:::failures", S3Location("failures", "")),
    ("s3://failures", S3Location("failures", "")),
    ("s3://failures/", S3Location("failures", "")),
    ("s3://failures/dead/letters", S3Location("failures", "dead/letters/")),
    ("s3://my.fail-ures/a%20b/", S3Location("my.fail-ures", "a b/")),
])
def test_a_bucket_by_arn_or_uri(uri: str, expected: S3Location) -> None:
    assert parse_location(uri) == expected


@pytest.mark.parametrize(("uri", "allowed"), [
    ("arn:aws:s3:us-east-1::failures", "an S3 bucket"),
    ("arn:aws:s3:::failures/prefix", "an S3 bucket"),
    ("arn:aws:sqs:::failures", "an S3 bucket"),
    ("s3:///prefix", "an S3 bucket"),
    ("s3://failures/x?versionId=1", "an S3 bucket"),
    ("s3://Failures", "lower-case"),
    ("s3://ab", "3 to 63"),
])
def test_what_is_not_a_bucket_is_refused_naming_the_value(uri: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_location(uri)
    assert caught.value.parameter == "DestinationConfig.OnFailure.Destination" and caught.value.value == uri
    assert allowed in caught.value.allowed


def test_the_key_is_aws_layout_from_the_record_time_and_shard() -> None:
    kinesis = {**STAMP, "KinesisBatchInfo": {"shardId": "shardId-000000000001"}}
    assert object_key(kinesis, "esm-uuid", "", "r-1") == (
        "aws/lambda/esm-uuid/shardId-000000000001/2019/11/14/2019-11-14T00.38.06-r-1")
    dynamodb = {**STAMP, "DDBStreamBatchInfo": {"shardId": "shardId-0001"}}
    assert object_key(dynamodb, "u", "p/", "r").startswith("p/aws/lambda/u/shardId-0001/2019/11/14/")
    kafka = {**STAMP, "KafkaBatchInfo": {"recordsInfo": {"orders-3": {}}}}
    assert object_key(kafka, "u", "", "r") == "aws/lambda/u/orders-3/2019/11/14/2019-11-14T00.38.06-r"
    random_suffix = object_key(kafka, "u").rsplit("-", 5)[1:]
    assert [len(part) for part in random_suffix] == [8, 4, 4, 4, 12], "a random UUID ends the key"


def test_a_record_without_batch_info_or_time_has_no_key() -> None:
    with pytest.raises(ConfigError, match="KinesisBatchInfo, DDBStreamBatchInfo or KafkaBatchInfo"):
        object_key(STAMP, "u")
    with pytest.raises(ConfigError, match="timestamp"):
        object_key({"KinesisBatchInfo": {"shardId": "s"}}, "u")


def test_opening_outside_a_mapping_is_refused_before_any_call() -> None:
    with pytest.raises(ConfigError, match=r"UUID.*S3 object keys carry it"):
        asyncio.run(open_destination("s3://failures"))
