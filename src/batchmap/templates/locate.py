"""From the value a mapping names its source (or destination) by, to what the engine opens.

A mapping says ``Queue: !GetAtt Orders.Arn``; once resolved that is an ARN.
In order, the ARN (or URI) is looked up in the overrides file, among the
template's declared sources, then: an SQS or Kinesis ARN the template does not
declare gets an embedded stand-in of the same name (nothing is contacted
unless bound on purpose), an SNS topic an embedded queue, an S3 bucket a
JSON-lines file; a DynamoDB stream or an MSK cluster must be bound. Source
URIs (``sqlite://``, ``redis://``, ``kafka://``...) are used as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from batchmap.errors import BatchmapError, TemplateError
from batchmap.sources.registry import OPENERS
from batchmap.templates import sources
from batchmap.templates.sources import DeclaredSource

log = logging.getLogger("batchmap.templates")

URI_SCHEMES: Final = (*OPENERS, "file")
_DESTINATION_ONLY: Final = ("AWS::SNS::Topic", "AWS::S3::Bucket", "sns", "s3")


class Locator:
    """Finds the URI for an ARN or URI; remembers the stand-ins it creates for undeclared ARNs."""

    def __init__(self, declared: Mapping[str, DeclaredSource], bindings: Mapping[str, str], database: Path,
                 *, strict: bool = True) -> None:
        self._declared = declared
        self._bindings = bindings
        self._database = database
        self._strict = strict
        self.stand_ins: dict[str, DeclaredSource] = {}

    def locate(self, value: str, where: str, *, destination: bool = False) -> str:
        """The URI for ``value`` (an ARN or a source URI); ``TemplateError`` at ``where`` if there is none.

        Topics and buckets are on-failure destinations only (``destination=True``).
        """
        if value in self._bindings:
            return self._bindings[value]
        found = next((s for s in self._declared.values() if value in (s.arn, s.uri)), None)
        if found is None and value.startswith("arn:"):
            found = self._undeclared(value, where)
        if found is not None:
            if not destination and found.type in _DESTINATION_ONLY:
                raise TemplateError(where, f"{value!r}: {found.type} {found.logical_id} is not an event "
                                           "source (topics and buckets only receive on-failure records)")
            return self._uri(found, where)
        scheme = urlsplit(value).scheme
        if scheme in URI_SCHEMES:
            return value
        raise TemplateError(where, f"{value!r} is neither an ARN nor a source URI (schemes: "
                                   f"{', '.join(URI_SCHEMES)})")

    def source_at(self, uri: str) -> DeclaredSource | None:
        """The declared source (or stand-in) that lives at ``uri``, if any."""
        for source in (*self._declared.values(), *self.stand_ins.values()):
            if source.uri == uri:
                return source
        return None

    def _uri(self, source: DeclaredSource, where: str) -> str:
        if source.uri is None and not self._strict:
            return source.arn  # describing the app only (the tuner): the ARN says what kind of source it is
        return source.require_uri(where)

    def _undeclared(self, arn: str, where: str) -> DeclaredSource:
        if arn in self.stand_ins:
            return self.stand_ins[arn]
        parts = arn.split(":", 5)
        if len(parts) != 6 or not parts[5]:
            raise TemplateError(where, f"{arn!r} is not a well-formed ARN "
                                       "(arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE)")
        service, resource = parts[2], parts[5]
        stand_in = self._stand_in(arn, service, resource, where)
        if stand_in.uri is not None:
            log.info("%s: %s is not declared in the template; using %s (bind it in an overrides file to use "
                     "the real one)", where, arn, stand_in.uri)
        self.stand_ins[arn] = stand_in
        return stand_in

    def _stand_in(self, arn: str, service: str, resource: str, where: str) -> DeclaredSource:
        db = self._database
        try:
            if service == "sqs":
                return _undeclared(sources.declare_queue(resource, resource, {}, _no_resolve, db, where), arn)
            if service == "kinesis" and resource.startswith("stream/"):
                name = resource.removeprefix("stream/")
                return _undeclared(sources.declare_stream(name, name, {}, _no_text, db, where), arn)
            if service == "sns":
                return _undeclared(sources.declare_topic(resource, resource, db), arn)
            if service == "s3":
                return _undeclared(sources.declare_bucket(resource, resource, db), arn)
        except BatchmapError as exc:
            raise TemplateError(where, f"{arn!r}: {exc}") from None
        if service == "dynamodb":
            problem = (f"{arn!r}: DynamoDB streams have no embedded stand-in (the embedded stream delivers "
                       f"Kinesis records); bind the ARN in an overrides file (Sources: {{{arn}: ...}}, with "
                       "EndpointUrl for a local emulator)")
        elif service == "kafka":
            problem = (f"{arn!r}: an MSK cluster cannot run locally; bind it to a broker in an overrides "
                       "file "
                       f"(Sources: {{{arn}: kafka://127.0.0.1:9092}})")
        else:
            problem = f"{arn!r}: a {service} ARN is not a source batchmap can read from or send failures to"
        return DeclaredSource(arn, service, "bound", arn, arn, None, False, declared=False, problem=problem)


def _undeclared(source: DeclaredSource, arn: str) -> DeclaredSource:
    return DeclaredSource(arn, source.type, source.kind, source.name, source.arn, source.uri, source.embedded,
                          source.queue_attributes, source.shard_count, source.retention_hours, declared=False)


def _no_resolve(value: object, where: str) -> object:
    return value


def _no_text(value: object, where: str) -> str:
    return str(value)
