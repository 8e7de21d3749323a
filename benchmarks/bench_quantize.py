"""Throughput of ``kappa.quantize`` (values per second).

    .venv/bin/python benchmarks/bench_quantize.py [--n 1000000] [--repeat 5]

Times large batches for a few representative types, and the per-call cost of
small batches (what the exactness sweep in tests/fixed_point/test_ap_exact.py does 45,696
times).  Prints one line per case; the best of ``--repeat`` runs is shown.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TYPES = (
    "ap_fixed<8,3>",
    "ap_fixed<16,6,AP_RND,AP_SAT>",
    "ap_fixed<18,8,AP_RND_CONV,AP_SAT_SYM>",
    "ap_ufixed<12,-2,AP_RND_INF,AP_SAT_ZERO>",
    "ap_fixed<32,40,AP_TRN_ZERO,AP_WRAP>",
    "ap_int<8>",
)


def best_time(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="values per large batch")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()

    from kappa import quantize

    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 8.0, size=a.n)
    print(f"kappa.quantize throughput, {a.n:,} float64 values per call (best of {a.repeat}):")
    for t in TYPES:
        s = best_time(lambda t=t: quantize(x, t), a.repeat)
        print(f"  {t:42s} {a.n / s / 1e6:8.1f} M values/s  ({s * 1e3:7.1f} ms)")
    small = x[:100].copy()
    calls = 2000
    s = best_time(lambda: [quantize(small, TYPES[2]) for _ in range(calls)], a.repeat)
    print(f"  per-call cost, 100 values: {s / calls * 1e6:.1f} us")


if __name__ == "__main__":
    main()
