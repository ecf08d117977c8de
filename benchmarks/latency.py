"""Per-call cost of small batches: one row (and 16, 128) against 1,000 x 768 anchors.

Target (issue: small inputs take a short path): transforming one row costs at
most 3x ``StandardScaler.transform`` of one row plus the bare normalised
product of that row with the anchors, all measured in this run, with BLAS on
one thread (as inside a joblib worker) and with BLAS's default threads.

Usage::

    python benchmarks/latency.py
"""

import statistics
import time

import numpy as np
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_relreps import RelativeTransformer

N_ANCHORS, N_FEATURES = 1000, 768


def median_time(func, repeats=2000):
    for _ in range(50):
        func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(5000, N_FEATURES)).astype(np.float32)
    A = X[:N_ANCHORS]
    unit = A / np.linalg.norm(A, axis=1, keepdims=True)
    scaler = StandardScaler().fit(X)
    rows = []
    for similarity in ("cosine", "rbf", "l1"):
        est = RelativeTransformer(
            anchors=A, similarity=similarity, center=False, output_norm=None
        ).fit(X)
        for n_rows in (1, 16, 128):
            x = X[1000 : 1000 + n_rows]

            def bare(x=x):
                return (x @ unit.T) / np.linalg.norm(x, axis=1, keepdims=True)

            for blas in (1, None):
                with threadpool_limits(blas):
                    ours = median_time(lambda x=x, est=est: est.transform(x))
                    floor = median_time(lambda x=x: scaler.transform(x))
                    floor += median_time(bare)
                rows.append((similarity, n_rows, blas or "default", ours, floor))
    print(
        "| similarity | rows | BLAS threads | ours (ms) | scaler + bare product "
        "(ms) | ratio |"
    )
    print("|---|---|---|---|---|---|")
    for similarity, n_rows, blas, ours, floor in rows:
        print(
            f"| {similarity} | {n_rows} | {blas} | {ours * 1e3:.3f} | "
            f"{floor * 1e3:.3f} | {ours / floor:.2f} |"
        )


if __name__ == "__main__":
    main()
