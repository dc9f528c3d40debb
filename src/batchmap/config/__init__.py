"""Mapping settings with AWS's names, defaults and limits, validated before anything is consumed.

>>> mapping = EventSourceMapping(source="sqlite:///orders.db?queue=orders", function="app:handler",
...                              batch_size=100, maximum_batching_window_in_seconds=1)
>>> resolved = mapping.resolve("sqs")
>>> resolved.batch_size, resolved.window_s, resolved.report_batch_item_failures
(100, 1.0, False)
>>> EventSourceMapping(source="sqlite:///o.db?queue=o", function="app:handler", batch_size=100).resolve("sqs")
Traceback (most recent call last):
...
batchmap.errors.ConfigError: MaximumBatchingWindowInSeconds (--maximum-batching-window-in-seconds): \
invalid value 0 (Maximum batch window in seconds must be greater than 0 if maximum batch size is greater \
than 10 (BatchSize is 100; set at least 1 second))
"""

from __future__ import annotations

from batchmap.lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from batchmap.config.arguments import (
        add_mapping_arguments,
        mapping_from_args,
        parse_filter_criteria,
        parse_function_response_types,
    )
    from batchmap.config.mapping import (
        DestinationConfig,
        EventSourceMapping,
        MetricsConfig,
        OnFailure,
        ProvisionedPollerConfig,
        ScalingConfig,
    )
    from batchmap.config.parameters import PARAMETERS
    from batchmap.config.properties import IGNORED_PROPERTIES, KNOWN_PROPERTIES, from_api, to_api
    from batchmap.config.resolved import (
        ResolvedMapping,
        advised_visibility_timeout_s,
        check_visibility_timeout,
        default_uuid,
        resolve,
    )
    from batchmap.config.shorthand import parse_shorthand
    from batchmap.records import SourceKind

_HOME = {
    "add_mapping_arguments": "arguments", "mapping_from_args": "arguments", "parse_filter_criteria": "arguments",
    "parse_function_response_types": "arguments",
    "DestinationConfig": "mapping", "EventSourceMapping": "mapping", "OnFailure": "mapping",
    "ScalingConfig": "mapping", "ProvisionedPollerConfig": "mapping", "MetricsConfig": "mapping",
    "PARAMETERS": "parameters",
    "IGNORED_PROPERTIES": "properties", "KNOWN_PROPERTIES": "properties", "from_api": "properties",
    "to_api": "properties", "ResolvedMapping": "resolved", "advised_visibility_timeout_s": "resolved",
    "check_visibility_timeout": "resolved", "default_uuid": "resolved", "resolve": "resolved",
    "SourceKind": "resolved", "parse_shorthand": "shorthand",
}
"""Where each public name lives; ``SourceKind`` is ``batchmap.records``' (the settings module uses it).

The names load on first use, so a subprocess worker that builds a ``FunctionConfig``
(``batchmap.config.function``) does not import the whole of the settings."""

__all__ = [
    "IGNORED_PROPERTIES",
    "KNOWN_PROPERTIES",
    "PARAMETERS",
    "DestinationConfig",
    "EventSourceMapping",
    "MetricsConfig",
    "OnFailure",
    "ProvisionedPollerConfig",
    "ResolvedMapping",
    "ScalingConfig",
    "SourceKind",
    "add_mapping_arguments",
    "advised_visibility_timeout_s",
    "check_visibility_timeout",
    "default_uuid",
    "from_api",
    "mapping_from_args",
    "parse_filter_criteria",
    "parse_function_response_types",
    "parse_shorthand",
    "resolve",
    "to_api",
]

__getattr__, __dir__ = lazy_exports(globals(), _HOME, __all__)
