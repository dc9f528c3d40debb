"""Amazon S3 as an on-failure destination, and reading its objects back for ``batchmap replay``.

AWS names the bucket by ARN (``arn:aws:s3:::BUCKET``); batchmap also takes
``s3://BUCKET[/PREFIX]``. Each discarded batch becomes one object, as Lambda
writes it: the on-failure record with the whole invocation event in
``payload``, under the key

    [PREFIX/]aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>

where the date is the record's ``timestamp`` (UTC) and, for Kafka, the shard is
the ``<topic>-<partition>`` of the batch. The bucket must exist: opening checks
it (``HeadBucket``), so a typo stops the run before anything is consumed.
Credentials are found the boto3 way; ``--endpoint-url`` and ``--region``
apply, as for the other AWS services.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from batchmap.errors import BrokerError, ConfigError, DestinationError
from batchmap.sources.aws.client import AwsClient, open_client
from batchmap.sources.registry import SourceOptions

PARAMETER = "DestinationConfig.OnFailure.Destination"
EXAMPLE = "arn:aws:s3:::my-failures or s3://my-failures/some/prefix"
CONTENT_TYPE = "application/json"
DEFAULT_REGION = "us-east-1"
KEY_ROOT = "aws/lambda"
_BATCH_INFO_KEYS = ("KinesisBatchInfo", "DDBStreamBatchInfo")
_MISSING_BUCKET = frozenset({"404", "NoSuchBucket", "NotFound"})


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and a key prefix ("" or ending with ``/``)."""

    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_location(uri: str, field: str = PARAMETER) -> S3Location:
    """``arn:aws:s3:::BUCKET`` or ``s3://BUCKET[/PREFIX]``; anything else is a ``ConfigError`` naming ``field``."""
    if uri.startswith("arn:"):
        parts = uri.split(":", 5)
        if len(parts) != 6 or parts[2] != "s3" or parts[3] or parts[4] or not parts[5] or "/" in parts[5]:
            raise ConfigError(field, uri, f"an S3 bucket: {EXAMPLE}")
        bucket, prefix = parts[5], ""
    else:
        split = urlsplit(uri)
        if split.scheme != "s3" or not split.netloc or split.query or split.fragment:
            raise ConfigError(field, uri, f"an S3 bucket: {EXAMPLE}")
        bucket, prefix = split.netloc, unquote(split.path).lstrip("/")
    if not 3 <= len(bucket) <= 63 or not all(c.islower() or c.isdigit() or c in ".-" for c in bucket):
        raise ConfigError(field, uri, "a bucket name of 3 to 63 lower-case letters, digits, '.' or '-'")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return S3Location(bucket, prefix)


def object_key(record: Mapping[str, Any], mapping_uuid: str, prefix: str = "", suffix: str | None = None) -> str:
    """Where ``record`` is stored: ``[PREFIX]aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/<time>-<UUID>``."""
    when = _timestamp(record)
    return (f"{prefix}{KEY_ROOT}/{mapping_uuid}/{_shard(record)}/{when:%Y/%m/%d}/"
            f"{when:%Y-%m-%dT%H.%M.%S}-{suffix or uuid.uuid4()}")


def _timestamp(record: Mapping[str, Any]) -> datetime:
    text = record.get("timestamp")
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError("timestamp", text, "an on-failure record's time, e.g. 2019-11-14T00:38:06.021Z") from None


def _shard(record: Mapping[str, Any]) -> str:
    """The batch's shard: ``shardId`` of a stream, the (first) ``<topic>-<partition>`` of a Kafka batch."""
    for key in _BATCH_INFO_KEYS:
        info = record.get(key)
        if isinstance(info, Mapping) and info.get("shardId"):
            return str(info["shardId"])
    kafka = record.get("KafkaBatchInfo")
    spans = kafka.get("recordsInfo") if isinstance(kafka, Mapping) else None
    if isinstance(spans, Mapping) and spans:
        return str(next(iter(spans)))
    raise ConfigError("record", sorted(record), "an on-failure record with KinesisBatchInfo, DDBStreamBatchInfo "
                                                "or KafkaBatchInfo")


class S3Destination:
    """Puts each on-failure record (with ``payload``) as one JSON object in the bucket."""

    wants_payload = True

    def __init__(self, uri: str, location: S3Location, client: AwsClient, mapping_uuid: str) -> None:
        self.uri = uri
        self.location = location
        self.mapping_uuid = mapping_uuid
        self._client = client

    async def send(self, record: dict[str, Any]) -> None:
        """Put one object; a throttled or unreachable S3 raises a transient error the engine waits out."""
        try:
            body = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as error:
            raise DestinationError(self.uri, f"record is not JSON-serialisable: {error}") from error
        key = object_key(record, self.mapping_uuid, self.location.prefix)
        await self._client.call("put_object", Bucket=self.location.bucket, Key=key, Body=body,
                                ContentType=CONTENT_TYPE)

    async def close(self) -> None:
        self._client.close()


def region_of(options: SourceOptions) -> str:
    """``--region``, else the AWS environment's region, else us-east-1 (a bucket ARN names no region)."""
    return options.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


async def open_s3_client(options: SourceOptions) -> AwsClient:
    return await open_client("s3", "s3", region=region_of(options), endpoint_url=options.endpoint_url, threads=4)


async def check_bucket(client: AwsClient, location: S3Location, uri: str, field: str = PARAMETER) -> None:
    """Fail fast, naming ``uri``, when the bucket is not there or not ours to use."""
    try:
        await client.call("head_bucket", Bucket=location.bucket)
    except BrokerError as error:
        if error.transient:
            raise
        if error.code in _MISSING_BUCKET:
            raise ConfigError(field, uri, f"an existing bucket ({location.bucket} does not exist)") from None
        raise ConfigError(field, uri, f"a bucket batchmap may use ({error.code})") from None


async def open_destination(uri: str, options: SourceOptions) -> S3Destination:
    """An ``S3Destination`` for an existing bucket; the mapping's UUID (``options.mapping_uuid``) names the keys."""
    location = parse_location(uri)
    if not options.mapping_uuid:
        raise ConfigError("UUID", options.mapping_uuid, "the event source mapping's UUID: S3 object keys carry it")
    client = await open_s3_client(options)
    try:
        await check_bucket(client, location, uri)
    except BaseException:
        client.close()
        raise
    return S3Destination(uri, location, client, options.mapping_uuid)


async def read_records(uri: str, options: SourceOptions, field: str = "--record") -> list[tuple[str, Any]]:
    """The JSON documents under ``s3://BUCKET/KEY_OR_PREFIX``: one object, or every object under a prefix,
    in key order, each with where it came from."""
    location = parse_location(uri, field)
    client = await open_s3_client(options)
    try:
        await check_bucket(client, location, uri, field)
        keys = await _keys(client, location)
        if not keys:
            raise ConfigError(field, uri, "an S3 object, or a prefix with objects under it (there are none)")
        found = []
        for key in keys:
            response = await client.call("get_object", Bucket=location.bucket, Key=key)
            body = await client.run(response["Body"].read)
            where = f"s3://{location.bucket}/{key}"
            try:
                found.append((where, json.loads(body)))
            except ValueError as error:
                raise ConfigError(field, where, f"JSON ({error})") from None
        return found
    finally:
        client.close()


async def _keys(client: AwsClient, location: S3Location) -> list[str]:
    """The one object the path names, else every object under it as a prefix."""
    exact = location.prefix.rstrip("/")
    keys: list[str] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"Bucket": location.bucket, "Prefix": exact}
        if token:
            params["ContinuationToken"] = token
        page = await client.call("list_objects_v2", **params)
        keys += [item["Key"] for item in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not token:
            break
    if exact in keys:
        return [exact]
    under = exact + "/" if exact else ""
    return sorted(key for key in keys if key.startswith(under))
