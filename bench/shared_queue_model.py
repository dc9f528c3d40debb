"""How close the model of SQS lanes sharing one queue is to ``simulate_queue``, over the 36-scenario grid.

    python bench/shared_queue_model.py [--lanes K] [--all]

Every candidate of t0 ∈ {5, 50} ms, t1 ∈ {0.2, 2} ms/record, 5/50/500 records/s,
BatchSize 1-1,000 and window 0, 1, 2, 5 s (BatchSize > 10 needs a window) that
the model calls stable with lanes at most 80 % busy, on ``--lanes`` pollers
(``--platform batchmap``): the predicted p99 and invocations per record beside
``simulate_queue``'s on 20,000 seeded Poisson records (first and last 5 % left
out). Prints the rows more than 5 % apart (``--all``: every row) and the spread.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from batchmap.tuning import ArrivalSpec, Candidate, HandlerProfile, Workload, generate, load_prices, predict
from batchmap.tuning.shared_queue import QueueSettings, simulate_queue

RECORDS = 20_000
EDGE = 0.05
CLOSE = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args()
    prices = load_prices()
    p99_err, per_err = [], []
    for t0, t1, rate in itertools.product((0.005, 0.05), (0.0002, 0.002), (5.0, 50.0, 500.0)):
        profile = HandlerProfile(t0_s=t0, t1_s=t1, reference_memory_mb=512)
        workload = Workload(rate=rate, sqs_pollers=args.lanes, platform="batchmap")
        for b, w in itertools.product((1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), (0.0, 1.0, 2.0, 5.0)):
            if b > 10 and w == 0:
                continue
            p = predict(profile, workload, Candidate(b, w), prices)
            if not p.stable or p.utilisation > 0.8:
                continue
            times = generate(ArrivalSpec(rate=rate, horizon_s=max(RECORDS / rate, 60 * max(w, 1))), seed=11)
            run = simulate_queue(times, t0, t1, QueueSettings(p.batch_cap, w, p.lanes), seed=11)
            lo, hi = int(EDGE * times.size), int((1 - EDGE) * times.size)
            lat = run.latencies[lo:hi]
            p99 = float(np.percentile(lat[~np.isnan(lat)], 99))
            batches = [x for x in run.batches if times[lo] <= x.closed_at <= times[hi]]
            per = len(batches) / sum(x.size for x in batches)
            dp, di = p.p99_latency_s / p99 - 1, (1 / p.mean_batch) / per - 1
            p99_err.append(abs(dp))
            per_err.append(abs(di))
            if args.all or abs(dp) > CLOSE or abs(di) > CLOSE:
                print(f"t0 {t0 * 1000:g} ms t1 {t1 * 1000:g} ms {rate:g}/s B {b} W {w:g} k {p.lanes} {p.regime:6s} "
                      f"p99 {p.p99_latency_s:.3f}/{p99:.3f} s ({dp:+.1%}) "
                      f"inv/record {1 / p.mean_batch:.4f}/{per:.4f} ({di:+.1%})")
    pe, ie = np.array(p99_err), np.array(per_err)
    within = int(np.sum((pe <= CLOSE) & (ie <= CLOSE)))
    print(f"{pe.size} candidates, {within} with both within {CLOSE:.0%}; p99 off by median {np.median(pe):.1%}, "
          f"90th percentile {np.percentile(pe, 90):.1%}, max {pe.max():.1%}; invocations per record: median "
          f"{np.median(ie):.1%}, max {ie.max():.1%}")


if __name__ == "__main__":
    main()
