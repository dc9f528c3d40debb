"""``BatchPolicy``: a mapping's batching settings, as the batcher and the tuner's simulator read them.

Where the window clock starts (``window_start``) and the payload limit are the
shape's (``batchmap.records.shapes``); ``ResolvedMapping.batch_policy()`` fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchmap.records.shapes import EVENT_ENVELOPE_BYTES, MAX_PAYLOAD_BYTES

if TYPE_CHECKING:
    from batchmap.records.wire import WindowStart


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """The batching settings of one mapping."""

    batch_size: int
    window_s: float = 0.0
    window_start: WindowStart = "on_ready"
    max_payload_bytes: int = MAX_PAYLOAD_BYTES

    def fits_alone(self, size: int) -> bool:
        """Whether a record of ``size`` bytes can be sent at all (an event of one record)."""
        return EVENT_ENVELOPE_BYTES + size <= self.max_payload_bytes
