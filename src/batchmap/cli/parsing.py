"""How the command line answers a mistake: one line naming the flag and the value, and a guess at what was meant.

``CommandParser`` is the ``argparse`` parser of every command: an unknown flag
is reported by the subcommand it was given to (its usage, not the top-level
one), with the nearest flag it has; a bad choice gets the nearest choice.
``error_line`` turns a ``BatchmapError`` into the one line ``batchmap`` prints,
naming the flag the user typed where the error names the setting behind it.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from batchmap.errors import BatchmapError, ConfigError, FunctionLoadError

FIELD_FLAGS: Final[dict[str, str]] = {
    "handler": "--function",
    "name": "--function-name",
    "timeout_s": "--timeout",
    "memory_mb": "--memory-size",
    "environment": "--environment",
    "code_path": "--code-uri",
    "concurrency": "--concurrency",
    "target_s": "--adaptive-latency-target",
    "shard_lease_s": "--shard-lease-seconds",
    "invoker": "--invoker",
    "DelaySeconds": "--delay-seconds",
    "PartitionKey": "--partition-key",
    "MessageGroupId": "--message-group-id",
    "MessageDeduplicationId": "--message-deduplication-id",
    "ShardCount": "--shard-count",
    "RetentionPeriodHours": "--retention-period-hours",
}
"""Settings whose errors name the field (``FunctionConfig.timeout_s``) -> the flag that fills it."""


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose mistakes are answered by the command they were made in."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse, and refuse anything left over here, so a subcommand's typo gets the subcommand's usage."""
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._nearest_flag(extras)}")
        return parsed, extras

    def _nearest_flag(self, extras: list[str]) -> str:
        for extra in extras:
            if extra.startswith("--"):
                flags = [flag for flag in self._option_string_actions if flag.startswith("--")]
                close = difflib.get_close_matches(extra.partition("=")[0], flags, n=1, cutoff=0.7)
                if close:
                    return f" (did you mean {close[0]}?)"
        return ""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            choices = [str(choice) for choice in action.choices or ()]
            close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.5)
            if not close:
                raise
            raise argparse.ArgumentError(action, f"{exc.message} (did you mean {close[0]!r}?)") from None


def at_least(minimum: int) -> Callable[[str], int]:
    """An ``argparse`` type: an integer of at least ``minimum`` (argparse names the flag when it is not)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r} (an integer)") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"invalid value {value} (an integer of at least {minimum})")
        return value

    return convert


def positive_seconds(text: str) -> float:
    """An ``argparse`` type: a finite number of seconds greater than 0 (refused before any work starts)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (seconds)") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (seconds, greater than 0)")
    return value


def plain(doc: str | None) -> str:
    """A docstring as help text: reStructuredText's ````code```` marks and ``::`` removed."""
    text = re.sub(r"``([^`]+)``", r"\1", doc or "")
    return re.sub(r"::$", ":", text, flags=re.MULTILINE)


def error_line(exc: BatchmapError, args: argparse.Namespace) -> str:
    """The one line ``batchmap: error: ...`` prints for ``exc``, naming the flag where it names a field.

    ``args.command_parser`` is the subcommand's parser; ``args.field_flags`` (optional) maps the
    fields of the objects it builds to its flags, before the common ``FIELD_FLAGS``.
    """
    flag = _flag_of(exc, getattr(args, "command_parser", None), getattr(args, "field_flags", {}))
    if flag is None:
        return str(exc).replace("\n", " ")
    if isinstance(exc, ConfigError):
        shown = flag if exc.parameter == flag.lstrip("-").replace("-", "_") else f"{flag} ({exc.parameter})"
        return f"{shown}: invalid value {exc.shown} ({exc.allowed})".replace("\n", " ")
    return f"{flag}: {exc}".replace("\n", " ")


def _flag_of(exc: BatchmapError, parser: argparse.ArgumentParser | None, own: Mapping[str, str]) -> str | None:
    """The flag behind a field-named error, if this command has it; ``None`` when the error names it already."""
    if isinstance(exc, FunctionLoadError):
        field = "handler"
    elif isinstance(exc, ConfigError) and not exc.parameter.startswith("-") and "(--" not in exc.parameter:
        field = exc.parameter
    else:
        return None
    flag = own.get(field) or FIELD_FLAGS.get(field) or "--" + field.replace("_", "-")
    if parser is None or flag not in parser._option_string_actions:
        return None
    return flag
