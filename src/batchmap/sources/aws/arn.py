"""AWS ARNs of event sources, parsed once and checked, so a typo fails at open, not at first poll."""

from __future__ import annotations

from dataclasses import dataclass

from batchmap.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Arn:
    """``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @classmethod
    def parse(cls, value: str, service: str, example: str, field: str = "EventSourceArn") -> Arn:
        """Split ``value``; a malformed ARN or another service is a ConfigError naming ``field``."""
        parts = value.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not all(parts[1:4]) or not parts[5]:
            raise ConfigError(field, value, f"an ARN like {example}")
        if parts[2] != service:
            raise ConfigError(field, value, f"an {service} ARN like {example}")
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])


def client_region(arn: Arn, region: str | None) -> str:
    """The region to sign requests for: the ARN's own; a different ``--region`` is a ConfigError."""
    if region and region != arn.region:
        raise ConfigError("--region", region, f"must match the region of {arn} ({arn.region}) or be left out")
    return arn.region
