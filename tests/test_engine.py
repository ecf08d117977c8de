"""The engine: chunked, threaded and one-call transforms agree; memory stays bounded."""

import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import config_context

from sklearn_relreps import InvariantProductTransformer, RelativeTransformer

# Another batch shape can make BLAS take another code path: a row's output may
# then differ in its last bits. The bound: a few ulps of the output's scale.
ULPS = 8


def assert_same_rows(a, b):
    eps = np.finfo(a.dtype).eps
    scale = max(1.0, float(np.abs(b).max()))
    assert_allclose(a, b, rtol=ULPS * eps, atol=ULPS * eps * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "similarity", ["cosine", "dot", "euclidean", "rbf", "l1", "linf"]
)
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_chunks_and_workers_do_not_change_the_output(similarity, n_jobs, dtype):
    X = np.random.RandomState(5).normal(size=(700, 20)).astype(dtype)
    est = RelativeTransformer(9, similarity=similarity, random_state=0).fit(X)
    whole = est.transform(X)
    with config_context(working_memory=0.01):  # many small chunks
        chunked = est.set_params(n_jobs=n_jobs).transform(X)
    assert chunked.dtype == dtype
    assert_same_rows(chunked, whole)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "l1"])
def test_one_row_at_a_time_matches_the_batch(similarity):
    X = np.random.RandomState(6).normal(size=(300, 12))
    est = InvariantProductTransformer(
        7, similarities=(similarity, "linf"), random_state=0
    ).fit(X)
    batch = est.transform(X)
    for i in (0, 17, 299):
        assert_same_rows(est.transform(X[i : i + 1]), batch[i : i + 1])


def _peak_beyond_output(estimator, X):
    tracemalloc.start()
    try:
        out = estimator.transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - out.nbytes) / 2**20


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_transform_memory_is_bounded_by_working_memory(n_jobs):
    X = np.random.RandomState(6).normal(size=(8000, 32))
    product = InvariantProductTransformer(40, random_state=0, n_jobs=n_jobs).fit(X)
    with config_context(working_memory=1):
        small = _peak_beyond_output(product, X[:2000])
        large = _peak_beyond_output(product, X)
    # Temporary memory stays near working_memory (1 MiB), whatever n_samples;
    # the output alone is 8000 * 160 * 8 bytes = 9.8 MiB.
    assert large < 2.5
    assert large < small + 0.5


@pytest.mark.parametrize("output_norm", [None, "l2", "softmax"])
def test_fit_computes_no_anchor_by_anchor_block_unless_standard(output_norm):
    # 20,000 anchors of one feature: the anchors' own block would be 3 GiB.
    X = np.random.RandomState(7).normal(size=(20_000, 1))
    with config_context(working_memory=8):
        tracemalloc.start()
        try:
            RelativeTransformer(anchors=np.arange(20_000), output_norm=output_norm).fit(
                X
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak / 2**20 < 16
