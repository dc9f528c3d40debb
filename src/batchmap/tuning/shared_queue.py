"""A discrete-event simulation of lanes sharing one queue, whose number may change while it runs.

``simulate`` deals each lane its share of the arrivals up front, which suits
shards and a fixed poller count. A queue (SQS, the embedded queue) is one
line of messages that every waiting poller takes from, and the adaptive
controller moves the number of pollers: this simulation models that. A lane
that is ready takes what waits in the queue and opens its window (the
``on_ready`` rule of ``batchmap.engine.batcher``); records arriving while
several lanes collect go to one of them at random (SQS: a receive reaches
some of the queue's servers), or, ``dealing="turns"``, to the lane that has
waited longest (the embedded engine: the doorbell wakes waiting polls in the
order they began to wait, and a lane that took a record polls again at the
back of the line); a batch closes on
``BatchSize`` or when its window ends, and runs for D(n) = t0 + t1·n. A lane
above the lane count finishes what it holds and stops; a new lane starts ready.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from batchmap.engine.adaptive import AdaptiveController, BatchObservation
from batchmap.errors import ConfigError
from batchmap.tuning.extras import require

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


Dealing = Literal["random", "turns"]
"""How records go to the lanes that collect: at random (SQS), or to the one that has waited longest (the engine)."""


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """What every lane runs with."""

    batch_size: int
    window_s: float
    lanes: int

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError("batch_size", self.batch_size, "an integer >= 1")
        if not (math.isfinite(self.window_s) and self.window_s >= 0):
            raise ConfigError("window_s", self.window_s, "seconds >= 0")
        if self.lanes < 1:
            raise ConfigError("lanes", self.lanes, "an integer >= 1")


@dataclass(frozen=True, slots=True)
class QueueBatch:
    """One simulated invocation, as the engine observes it when it finishes."""

    lane: int
    size: int
    closed_at: float
    finished_at: float
    newest_arrival: float
    mean_arrival: float
    oldest_arrival: float
    settings: QueueSettings

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.closed_at


OnQueueBatch = Callable[[QueueBatch], QueueSettings | None]
"""Called as each batch finishes, in time order; a returned value applies to the lanes' next batches."""


@dataclass(frozen=True, slots=True)
class QueueRun:
    """Every batch, and each record's latency (NaN for records no batch took before the end)."""

    batches: tuple[QueueBatch, ...]
    arrivals: NDArray[np.float64] = field(repr=False)
    latencies: NDArray[np.float64] = field(repr=False)

    def latency(self, start: float, end: float) -> NDArray[np.float64]:
        """Latencies of the records that arrived in [start, end)."""
        lo, hi = (int(i) for i in self.arrivals.searchsorted([start, end]))
        return self.latencies[lo:hi]

    def invocations_per_s(self, start: float, end: float) -> float:
        """Batches that closed in [start, end), per second."""
        return sum(1 for b in self.batches if start <= b.closed_at < end) / (end - start)


@dataclass(slots=True)
class _Lane:
    free_at: float = 0.0
    busy: bool = False
    opened: float | None = 0.0
    items: list[int] = field(default_factory=list)
    waiting_since: int = 0  # when it last joined the line of waiting polls (a counter: only the order counts)


class _Picks:
    """Which collecting lane takes an arrival: uniform draws fetched a block at a time, since one generator
    call per record was most of a long simulation's time."""

    BLOCK = 4096
    AT_ONCE = 64
    """Records below which dealing them one at a time costs less than numpy's calls (``deal``)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.drawn = rng.random(0)
        self.block: list[float] = []
        self.at = 0

    def refill(self) -> list[float]:
        """The next block of draws (``at`` back to its start)."""
        self.drawn = self.rng.random(self.BLOCK)
        self.block = self.drawn.tolist()
        self.at = 0
        return self.block

    def deal(self, needs: list[int], limit: int, first: int) -> tuple[list[list[int]], int]:
        """Deal up to ``limit`` records, numbered from ``first``, at random among ``len(needs)`` lanes, stopping at
        the record that gives a lane its ``needs``: each lane's records and how many were dealt. The draws are
        the ones the one-at-a-time loop would use, in the same order, so the result is the same."""
        xp = require("numpy")
        count, left, used = len(needs), list(needs), 0
        got: list[list[int]] = [[] for _ in needs]
        while used < limit and min(left) > 0:
            if self.at >= len(self.block):
                self.refill()
            most = min(limit - used, sum(left) - count + 1)  # by then some lane has had its need
            picks = (self.drawn[self.at: self.at + most] * count).astype(xp.int64)
            by_lane = xp.argsort(picks, kind="stable")  # each lane's records, in order
            ends = xp.cumsum(xp.bincount(picks, minlength=count)).tolist()
            groups = [by_lane[lo:hi] for lo, hi in zip([0, *ends[:-1]], ends, strict=True)]
            stop = len(picks)
            for group, need in zip(groups, left, strict=True):
                if len(group) >= need:
                    stop = min(stop, int(group[need - 1]) + 1)
            for j, group in enumerate(groups):
                mine = group[: int(xp.searchsorted(group, stop))] + (first + used)
                got[j].extend(mine.tolist())
                left[j] -= len(mine)
            self.at += stop
            used += stop
        return got, used


class _Sim:
    DEAL_AT_ONCE = True
    """Deal runs of records in one step where nothing but the dealing can change (``False``: one at a time; the
    results are the same, a test compares them)."""

    def __init__(self, arrivals: list[float], t0: float, t1: float, settings: QueueSettings,
                 on_batch: OnQueueBatch | None, seed: int, duration: Callable[[int], float] | None,
                 dealing: Dealing) -> None:
        xp = require("numpy")
        self.arrivals = arrivals
        self.t0, self.t1 = t0, t1
        self.duration = duration
        self.settings = settings
        self.on_batch = on_batch
        self.picks = _Picks(xp.random.default_rng(seed))
        self.dealing = dealing
        self.line = 0  # the counter behind ``_Lane.waiting_since``
        self.closed: list[tuple[list[int], float]] = []  # each batch's records and when it finishes
        self.head = 0  # the first record no lane has taken
        self.lanes = [_Lane() for _ in range(settings.lanes)]
        self.batches: list[QueueBatch] = []
        self.running: dict[int, QueueBatch] = {}  # each busy lane's invocation
        self.other_at = math.inf  # when the next finish or window close is due, as of the last ``_next_event``
        self.collecting: list[int] = []  # the lanes that take arrivals, as of the last ``_next_event``

    def run(self) -> None:
        for lane in range(len(self.lanes)):
            self._ready(lane, 0.0)
        while True:
            event = self._next_event()
            if event is None:
                return
            when, kind, lane = event
            if kind == 0:
                self._finished(lane, when)
            elif kind == 1:
                self._close(lane, when)
            else:
                self._arrive(when)

    def _next_event(self) -> tuple[float, int, int] | None:
        """The earliest of: a lane finishing (kind 0), a window closing (1), an arrival (2); ties in that order,
        then by lane. One pass over the lanes also notes which of them collect (the simulation's hot path)."""
        best_t, best_kind, best_lane = math.inf, 3, -1
        window, size, limit = self.settings.window_s, self.settings.batch_size, self.settings.lanes
        more = self.head < len(self.arrivals)
        collecting: list[int] = []
        for i, lane in enumerate(self.lanes):
            if lane.busy:
                t = lane.free_at
                if t < best_t or (t == best_t and best_kind > 0):
                    best_t, best_kind, best_lane = t, 0, i
            else:
                items = lane.items
                if not items:
                    if more and i < limit:
                        collecting.append(i)
                else:
                    if more and len(items) < size:
                        collecting.append(i)
                    opened = lane.opened
                    if opened is not None:
                        t = opened + window
                        if t < best_t or (t == best_t and best_kind > 1):
                            best_t, best_kind, best_lane = t, 1, i
        self.collecting = collecting
        self.other_at = best_t
        if collecting and self.arrivals[self.head] < best_t:
            return self.arrivals[self.head], 2, -1
        return None if best_kind == 3 else (best_t, best_kind, best_lane)

    def _arrive(self, now: float) -> None:
        """Records from ``head`` on arrive: one collecting lane takes a run of them, several share them."""
        collecting = self.collecting
        if len(collecting) > 1:
            self._share(collecting)
            return
        lane_no = collecting[0]
        lane = self.lanes[lane_no]
        if not lane.items and (lane.opened is None or now > lane.opened + self.settings.window_s):
            lane.opened = now  # an empty window that expired: this record opens a fresh one
        # until the next other event, every arrival is this lane's
        due = lane.opened + self.settings.window_s if lane.opened is not None else math.inf
        others = min((ln.free_at for ln in self.lanes if ln.busy), default=math.inf)
        end = bisect.bisect_right(self.arrivals, min(due, others), lo=self.head)
        take = max(1, min(end - self.head, self.settings.batch_size - len(lane.items)))
        lane.items.extend(range(self.head, self.head + take))
        self.head += take
        self._back_of_the_line([lane_no])
        if len(lane.items) >= self.settings.batch_size:
            self._close(lane_no, self.arrivals[self.head - 1])

    def _share(self, collecting: list[int]) -> None:
        """Several lanes collect: each arrival goes to one of them, at random or by turns (``Dealing``), until a
        batch fills or another event is due (at the same instant the other event goes first). The set of
        collecting lanes holds until a batch closes, so the events are not searched again for every record.
        (Records go through here one at a time in a long simulation: the loop keeps its state in local names.)
        """
        window, size = self.settings.window_s, self.settings.batch_size
        arrivals, n, lanes, picks = self.arrivals, len(self.arrivals), self.lanes, self.picks
        turns = self.dealing == "turns"
        order = sorted(collecting, key=lambda i: lanes[i].waiting_since) if turns else collecting
        count, turn = len(order), 0
        block, at, head = picks.block, picks.at, self.head
        other = self.other_at  # nothing changed since ``_next_event`` found it
        # When to look whether the rest of the run can go at once: never where the lanes' batches cannot together
        # take enough records for it to pay (most runs at small batch sizes), else after two rounds.
        worth = self.DEAL_AT_ONCE and count * (size - 1) + 1 >= picks.AT_ONCE
        dealt, look_at = 0, (2 * count if worth else -1)
        while True:
            now = arrivals[head]
            if turns:  # the lane that has waited longest; it waits again at the back of the line
                lane_no = order[turn % count]
                turn += 1
            else:
                if at >= len(block):
                    block, at = picks.refill(), 0
                lane_no = order[int(block[at] * count)]
                at += 1
            lane = lanes[lane_no]
            items = lane.items
            if not items:
                if lane.opened is None or now > lane.opened + window:
                    lane.opened = now  # an empty window that expired: this record opens a fresh one
                other = min(other, lane.opened + window)
            items.append(head)
            head += 1
            dealt += 1
            if len(items) >= size or head >= n or not arrivals[head] < other:
                break
            if dealt == look_at:  # a long run: where every lane holds a record, nothing moves the next other event
                picks.block, picks.at = block, at
                done = self._rest_at_once(order, turn, head, other)
                if done is None:
                    look_at *= 2  # not yet (a lane's first record may still open a window): look again later
                    continue
                head, turn, lane_no = done
                block, at = picks.block, picks.at
                items, now = lanes[lane_no].items, arrivals[head - 1]
                break
        picks.block, picks.at, self.head = block, at, head
        if turns:
            self._back_of_the_line([order[k % count] for k in range(max(0, turn - count), turn)])
        if len(items) >= size:
            self._close(lane_no, now)

    def _rest_at_once(self, order: list[int], turn: int, head: int, other: float) -> tuple[int, int, int] | None:
        """Deal the rest of a run in one step, if every lane of ``order`` holds a record (so no window opens on the
        way) and, dealing at random, enough records are left for numpy's calls to pay: the new head, the turn and
        the lane that took the last record; None, and nothing dealt, otherwise."""
        lanes = self.lanes
        if not all(lanes[i].items for i in order):
            return None
        before_other = bisect.bisect_left(self.arrivals, other, lo=head) - head  # records due before ``other``
        if self.dealing == "turns":
            head, turn = self._turns_at_once(order, turn, head, before_other)
            return head, turn, order[(turn - 1) % len(order)]
        left = sum(self.settings.batch_size - len(lanes[i].items) for i in order) - len(order) + 1
        if min(before_other, left) < self.picks.AT_ONCE:
            return None
        head, last = self._random_at_once(order, head, before_other)
        return head, turn, last

    def _turns_at_once(self, order: list[int], turn: int, head: int, limit: int) -> tuple[int, int]:
        """Deal up to ``limit`` records from ``head`` on to ``order`` by turns, ``turn`` turns in, until a batch
        fills (every lane holds a record, so no window opens on the way); the new head and turn.
        """
        size, lanes, count = self.settings.batch_size, self.lanes, len(order)
        take = limit
        firsts = [(p - turn) % count for p in range(count)]  # each lane's first record from ``head``, counted on
        for first, lane_no in zip(firsts, order, strict=True):
            take = min(take, first + (size - len(lanes[lane_no].items) - 1) * count + 1)
        for first, lane_no in zip(firsts, order, strict=True):
            lanes[lane_no].items.extend(range(head + first, head + take, count))
        return head + take, turn + take

    def _random_at_once(self, order: list[int], head: int, limit: int) -> tuple[int, int]:
        """Deal up to ``limit`` records from ``head`` on to ``order`` at random until a batch fills (every lane
        holds a record, so no window opens on the way); the new head and the last lane."""
        lanes, size = self.lanes, self.settings.batch_size
        got, used = self.picks.deal([size - len(lanes[i].items) for i in order], limit, head)
        last = -1
        for lane_no, records in zip(order, got, strict=True):
            lanes[lane_no].items.extend(records)
            if records and records[-1] == head + used - 1:
                last = lane_no
        return head + used, last

    def _back_of_the_line(self, lanes: list[int]) -> None:
        """``lanes`` took a record, in this order: they wait again behind every lane that did not."""
        for lane_no in lanes:
            self.line += 1
            self.lanes[lane_no].waiting_since = self.line

    def finished_at(self, xp: Any) -> NDArray[np.float64]:
        """When each record's batch finished (NaN where none took it), set in one numpy step at the end."""
        finish: NDArray[np.float64] = xp.full(len(self.arrivals), math.nan)
        if self.closed:
            records = xp.fromiter(itertools.chain.from_iterable(items for items, _ in self.closed), xp.int64)
            finish[records] = xp.repeat([at for _, at in self.closed], [len(items) for items, _ in self.closed])
        return finish

    def _ready(self, lane_no: int, now: float) -> None:
        lane = self.lanes[lane_no]
        lane.busy = False
        lane.items = []
        self.line += 1  # ``_back_of_the_line``, for one lane
        lane.waiting_since = self.line
        if lane_no >= self.settings.lanes:
            lane.opened = None
            return
        lane.opened = now
        head, arrivals = self.head, self.arrivals
        if head >= len(arrivals) or arrivals[head] > now:  # nothing waits (most often): no search
            return
        waiting = bisect.bisect_right(arrivals, now, lo=head) - head
        take = min(waiting, self.settings.batch_size)
        if take:
            lane.items.extend(range(self.head, self.head + take))
            self.head += take
            if take >= self.settings.batch_size:
                self._close(lane_no, now)

    def _close(self, lane_no: int, now: float) -> None:
        lane = self.lanes[lane_no]
        items = lane.items
        n = len(items)
        first, last = self.arrivals[items[0]], self.arrivals[items[-1]]
        finished = now + self.t0 + self.t1 * n if self.duration is None else now + self.duration(n)
        mean = first if n == 1 else math.fsum(map(self.arrivals.__getitem__, items)) / n
        self.closed.append((items, finished))
        batch = QueueBatch(lane_no, n, now, finished, last, mean, first, self.settings)
        lane.items = []
        lane.busy = True
        lane.free_at = finished
        self.running[lane_no] = batch

    def _finished(self, lane_no: int, now: float) -> None:
        batch = self.running.pop(lane_no)
        self.batches.append(batch)
        if self.on_batch is not None:
            update = self.on_batch(batch)
            if update is not None:
                self._resize(update, now)
        self._ready(lane_no, now)

    def _resize(self, update: QueueSettings, now: float) -> None:
        self.settings = update
        while len(self.lanes) < update.lanes:
            self.lanes.append(_Lane(free_at=now, opened=None))
        for i, lane in enumerate(self.lanes[: update.lanes]):
            if not lane.busy and not lane.items and lane.opened is None:
                self._ready(i, now)  # a lane that had stopped, or a new one


def simulate_queue(
    arrivals: NDArray[np.float64],
    t0: float,
    t1: float,
    settings: QueueSettings,
    *,
    on_batch: OnQueueBatch | None = None,
    seed: int = 0,
    duration: Callable[[int], float] | None = None,
    dealing: Dealing = "random",
) -> QueueRun:
    """Run ``arrivals`` (sorted seconds) through lanes sharing one queue; D(n) = t0 + t1·n seconds.

    ``duration`` replaces t0 + t1·n (the tuner's simulator passes one with jitter and cold starts);
    ``dealing`` is how the lanes that collect share arrivals (``Dealing``).
    """
    xp = require("numpy")
    if arrivals.size < 2:
        raise ConfigError("arrivals", int(arrivals.size), "at least two arrival times")
    if t0 < 0 or t1 < 0:
        raise ConfigError("t0/t1", (t0, t1), "seconds >= 0")
    times = arrivals.tolist()
    if dealing not in ("random", "turns"):
        raise ConfigError("dealing", dealing, "'random' or 'turns'")
    sim = _Sim(times, t0, t1, settings, on_batch, seed, duration, dealing)
    sim.run()
    latencies = sim.finished_at(xp) - arrivals
    return QueueRun(tuple(sim.batches), arrivals, latencies)


def adaptive_lanes(controller: AdaptiveController, lanes: int) -> OnQueueBatch:
    """An ``on_batch`` that feeds each batch to ``controller`` and applies its settings, lane count included.

    ``lanes`` is the count before the controller's first plan (the engine's poller scaling starts at two).
    """

    def on_batch(batch: QueueBatch) -> QueueSettings:
        end = batch.finished_at
        chosen = controller.observe(BatchObservation(
            size=batch.size,
            duration_s=batch.duration_s,
            oldest_latency_s=end - batch.oldest_arrival,
            mean_latency_s=end - batch.mean_arrival,
            finished_s=end,
            newest_latency_s=end - batch.newest_arrival,
        ))
        return QueueSettings(chosen.batch_size, chosen.window_s, chosen.lanes or lanes)

    return on_batch
