"""Prices of Lambda and of the sources, loaded from a TOML file a user can override.

The numbers live in ``prices.toml`` beside this module (us-east-1 list prices),
never in code, because they differ by Region and change over time.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from batchmap.errors import ConfigError

Architecture = Literal["x86_64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = ("x86_64", "arm64")


@dataclass(frozen=True, slots=True)
class DurationTier:
    """One tier of the duration price: ``gb_second`` applies up to ``up_to_gb_s`` a month."""

    gb_second: float
    up_to_gb_s: float | None = None


@dataclass(frozen=True, slots=True)
class SqsPrices:
    standard_request: float
    fifo_request: float
    chunk_bytes: int
    empty_receives_per_minute: float


@dataclass(frozen=True, slots=True)
class KinesisPrices:
    shard_hour: float
    put_payload_unit: float
    put_unit_bytes: int
    shard_ingest_bytes_per_s: float
    shard_ingest_records_per_s: float
    shard_egress_bytes_per_s: float
    efo_consumer_shard_hour: float
    efo_gb: float


@dataclass(frozen=True, slots=True)
class Prices:
    """Every price the cost model uses, in US dollars, and the Region they are for."""

    request: float
    duration: dict[Architecture, tuple[DurationTier, ...]]
    sqs: SqsPrices
    kinesis: KinesisPrices
    region: str = "us-east-1"

    def gb_second(self, architecture: Architecture, monthly_gb_s: float = 0.0) -> float:
        """The average price of a GB-second for a month that bills ``monthly_gb_s`` in total."""
        tiers = self.duration[architecture]
        if monthly_gb_s <= 0:
            return tiers[0].gb_second
        cost, floor = 0.0, 0.0
        for tier in tiers:
            top = monthly_gb_s if tier.up_to_gb_s is None else min(monthly_gb_s, tier.up_to_gb_s)
            if top > floor:
                cost += (top - floor) * tier.gb_second
                floor = top
        return cost / monthly_gb_s


def default_prices_path() -> Path:
    """The ``prices.toml`` shipped with batchmap."""
    return Path(str(resources.files("batchmap.tuning").joinpath("prices.toml")))


def load_prices(path: str | Path | None = None) -> Prices:
    """Read a price file (the shipped one when ``path`` is ``None``); errors name the field."""
    file = Path(path) if path is not None else default_prices_path()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("--prices", str(file), "an existing TOML price file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--prices", str(file), f"valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("--prices", str(file), f"a UTF-8 TOML file ({exc.reason} at byte {exc.start})") from None
    return _parse(data, str(file))


def _parse(data: dict[str, Any], where: str) -> Prices:
    lam = _table(data, "lambda", where)
    durations = _table(lam, "duration", f"{where}: lambda")
    duration: dict[Architecture, tuple[DurationTier, ...]] = {}
    for arch in ARCHITECTURES:
        rows = durations.get(arch)
        if not isinstance(rows, list) or not rows:
            raise ConfigError(f"lambda.duration.{arch}", rows, f"a list of tiers in {where}")
        duration[arch] = tuple(_tier(row, f"lambda.duration.{arch}[{i}]") for i, row in enumerate(rows))
    sqs = _table(data, "sqs", where)
    kin = _table(data, "kinesis", where)
    return Prices(
        region=_region(data, where),
        request=_number(lam, "request", "lambda"),
        duration=duration,
        sqs=SqsPrices(
            standard_request=_number(sqs, "standard_request", "sqs"),
            fifo_request=_number(sqs, "fifo_request", "sqs"),
            chunk_bytes=int(_number(sqs, "chunk_bytes", "sqs", positive=True)),
            empty_receives_per_minute=_number(sqs, "empty_receives_per_minute", "sqs"),
        ),
        kinesis=KinesisPrices(
            shard_hour=_number(kin, "shard_hour", "kinesis"),
            put_payload_unit=_number(kin, "put_payload_unit", "kinesis"),
            put_unit_bytes=int(_number(kin, "put_unit_bytes", "kinesis", positive=True)),
            shard_ingest_bytes_per_s=_number(kin, "shard_ingest_bytes_per_s", "kinesis", positive=True),
            shard_ingest_records_per_s=_number(kin, "shard_ingest_records_per_s", "kinesis", positive=True),
            shard_egress_bytes_per_s=_number(kin, "shard_egress_bytes_per_s", "kinesis", positive=True),
            efo_consumer_shard_hour=_number(kin, "efo_consumer_shard_hour", "kinesis"),
            efo_gb=_number(kin, "efo_gb", "kinesis"),
        ),
    )


def _region(data: dict[str, Any], where: str) -> str:
    """The file's ``region``; a file without one is named instead, so the report never guesses."""
    value = data.get("region")
    if value is None:
        return f"unstated (prices from {Path(where).name})"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("region", value, f"the Region's name as text, e.g. \"eu-west-1\", in {where}")
    return value.strip()


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(key, value, f"a [{key}] table in {where}")
    return value


def _tier(row: object, field: str) -> DurationTier:
    if not isinstance(row, dict):
        raise ConfigError(field, row, "a table with gb_second and up_to_gb_s")
    bound = row.get("up_to_gb_s")
    if bound is not None and (not isinstance(bound, int | float) or bound <= 0):
        raise ConfigError(f"{field}.up_to_gb_s", bound, "a positive number of GB-seconds")
    return DurationTier(
        gb_second=_number(row, "gb_second", field), up_to_gb_s=None if bound is None else float(bound)
    )


def _number(table: dict[str, Any], key: str, where: str, *, positive: bool = False) -> float:
    value = table.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (positive and value == 0)
    ):
        allowed = "a positive number" if positive else "a number >= 0"
        raise ConfigError(f"{where}.{key}", value, allowed)
    return float(value)
