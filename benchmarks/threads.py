"""Threads used by a transform inside a joblib worker, and total time.

Each of ``GridSearchCV(n_jobs=2)``'s loky workers gets ``cpu_count() // 2``
threads (``OMP_NUM_THREADS`` and BLAS limits set by joblib). This script runs
transforms in two loky workers and reports the most threads alive in each
worker's process that run at once during a transform (threads in state R,
sampled from ``/proc/self/task``, the sampler excluded), and
the wall time of the whole ``Parallel`` call, for ``n_jobs`` of the
transformer None (one chunk at a time) and -1.

Usage::

    python benchmarks/threads.py
"""

import os
import threading
import time

import numpy as np
from joblib import Parallel, cpu_count, delayed

from sklearn_relreps import InvariantProductTransformer


def running_threads():
    """Threads of this process that are running or runnable (state R)."""
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                count += stat.read().rsplit(")", 1)[1].split()[0] == "R"
        except OSError:  # the thread ended meanwhile
            pass
    return count


def peak_threads_during(func):
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], running_threads())
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        func()
    finally:
        done.set()
        sampler.join()
    return peak[0] - 1  # the sampler itself


def work(n_jobs):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20000, 256)).astype(np.float32)
    est = InvariantProductTransformer(300, center=False, random_state=0, n_jobs=n_jobs)
    est.fit(X)
    est.transform(X[:100])  # warm up the pools and the compiled kernels
    return peak_threads_during(lambda: est.transform(X))


def main():
    print(f"CPUs: {cpu_count()}")
    print(
        "| transformer n_jobs | peak running threads per worker "
        "| Parallel(n_jobs=2) time (s) |"
    )
    print("|---|---|---|")
    for n_jobs in (None, -1):
        start = time.perf_counter()
        peaks = Parallel(n_jobs=2, backend="loky")(
            delayed(work)(n_jobs) for _ in range(2)
        )
        elapsed = time.perf_counter() - start
        print(f"| {n_jobs} | {max(peaks)} | {elapsed:.1f} |")


if __name__ == "__main__":
    main()
