"""The thread budget: limits honoured, one pool, BLAS limits restored."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from joblib import Parallel, cpu_count, delayed
from numpy.testing import assert_allclose
from scipy.spatial.distance import cdist
from sklearn import config_context, get_config
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_relreps import InvariantProductTransformer, RelativeTransformer
from sklearn_relreps._threads import (
    budget_of,
    n_workers,
    run_in_threads,
    thread_budget,
)


def blas_threads():
    return [m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas"]


def test_budget_of_nests_and_restores():
    default = thread_budget()
    assert 1 <= default <= cpu_count()
    with budget_of(3):
        with budget_of(0):  # at least one thread
            assert thread_budget() == 1
        assert thread_budget() == 3
    assert thread_budget() == default


def test_threadpoolctl_limits_bound_the_budget_and_the_workers():
    with threadpool_limits(limits=1):
        assert thread_budget() == 1
        assert n_workers(-1, n_chunks=100) == 1
    with threadpool_limits(limits=1, user_api="blas"):
        assert thread_budget() == 1


def test_n_jobs_follows_the_glossary():
    assert n_workers(None, n_chunks=100) == 1  # None means 1
    assert n_workers(1, n_chunks=100) == 1
    assert n_workers(-1, n_chunks=100) == thread_budget()
    assert n_workers(-1, n_chunks=1) == 1


def test_omp_num_threads_is_honoured():
    code = "from sklearn_relreps._threads import thread_budget;print(thread_budget())"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def _budget_in_worker():
    return thread_budget(), n_workers(-1, n_chunks=100)


def test_inside_a_joblib_worker_no_more_threads_than_its_share():
    # loky gives each of n_jobs workers cpu_count() // n_jobs threads.
    results = Parallel(n_jobs=2, backend="loky")(
        delayed(_budget_in_worker)() for _ in range(2)
    )
    share = max(1, cpu_count() // 2)
    assert all(budget <= share and workers <= share for budget, workers in results)


def test_run_in_threads_runs_every_item_once_and_propagates_errors():
    seen = []
    run_in_threads(seen.append, range(50), 3)
    assert sorted(seen) == list(range(50))

    def fail(item):
        if item == 7:
            raise RuntimeError("item 7")

    with pytest.raises(RuntimeError, match="item 7"):
        run_in_threads(fail, range(20), 2)


def test_blas_limits_are_restored_after_concurrent_transforms():
    X = np.random.RandomState(0).normal(size=(3000, 16))
    est = InvariantProductTransformer(20, random_state=0, n_jobs=2).fit(X)
    before = blas_threads()
    errors = []

    def work():
        try:
            with config_context(working_memory=0.5):  # several chunks
                for _ in range(3):
                    est.transform(X)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    callers = [threading.Thread(target=work) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert not errors
    assert blas_threads() == before


def test_threads_stay_bounded_over_many_transforms():
    X = np.random.RandomState(1).normal(size=(2000, 8))
    est = RelativeTransformer(10, similarity="l1", random_state=0).fit(X)
    est.set_params(n_jobs=2).transform(X)  # the pool exists from here on
    baseline = threading.active_count()
    with config_context(working_memory=0.2):
        for n_jobs, n_rows in zip(
            [2, 3, 4, 8, 16] * 3, range(500, 2000, 100), strict=True
        ):
            est.set_params(n_jobs=n_jobs).transform(X[:n_rows])
    assert threading.active_count() <= baseline + cpu_count()


def test_chunk_workers_see_the_callers_configuration():
    seen = set()

    def similarity(X, A):
        seen.add(get_config()["working_memory"])
        return X @ A.T

    X = np.random.RandomState(0).normal(size=(500, 6))
    est = RelativeTransformer(8, similarity=similarity, n_jobs=2).fit(X)
    seen.clear()
    with config_context(working_memory=0.01):
        est.transform(X)
    assert seen == {0.01}


def test_a_transform_inside_a_chunk_worker_completes():
    # A callable similarity that itself transforms with several workers: the
    # nested call shares the one pool and cannot deadlock.
    X = np.random.RandomState(1).normal(size=(400, 5))
    inner = RelativeTransformer(6, similarity="euclidean", output_norm=None, n_jobs=2)
    inner.fit(X)

    def similarity(rows, anchors):
        with config_context(working_memory=0.01):
            distances = inner.transform(rows)
        assert_allclose(distances, cdist(rows, inner.anchors_), rtol=1e-10)
        return rows @ anchors.T

    outer = RelativeTransformer(
        anchors=X[:3], similarity=similarity, output_norm=None, n_jobs=2
    )
    outer.fit(X)
    with config_context(working_memory=0.01):
        outer.transform(X)
