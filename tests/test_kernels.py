"""The fast paths: compiled L1/L-inf kernels, threads, memory, anchor candidates."""

import tracemalloc

import numpy as np
import pytest
from _references import ref_kernel
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist
from sklearn import config_context

from sklearn_relreps import InvariantProductTransformer, RelativeTransformer, _anchors
from sklearn_relreps._kernels import (
    ANCHOR_TILE,
    abs_difference_distances,
    kernel_threads,
    limit_threads,
)
from sklearn_relreps._similarities import _reduce_abs_differences
from sklearn_relreps.anchors import select_anchors


def reference(X, A, use_max):
    return ref_kernel("linf" if use_max else "l1", X, A)


@pytest.mark.parametrize("use_max", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("n_samples", "n_features", "n_anchors"),
    # Incomplete tiles of samples, several tiles of anchors, one feature.
    [(1, 3, 1), (7, 5, 3), (13, 1, ANCHOR_TILE + 5), (9, 40, 2 * ANCHOR_TILE)],
)
def test_compiled_kernel_matches_definition(
    n_samples, n_features, n_anchors, dtype, use_max
):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    A = rng.normal(size=(n_anchors, n_features)).astype(dtype)
    result = abs_difference_distances(X, A, use_max=use_max)
    assert result.dtype == dtype
    assert result.shape == (n_samples, n_anchors)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(result, reference(X, A, use_max), rtol=rtol)


@pytest.mark.parametrize("use_max", [False, True])
def test_compiled_kernel_agrees_with_broadcasting_path(use_max):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 17)).astype(np.float32)
    A = rng.normal(size=(11, 17)).astype(np.float32)
    compiled = abs_difference_distances(X, A, use_max=use_max)
    broadcast = _reduce_abs_differences(X, A, np.max if use_max else np.sum)
    assert broadcast.dtype == compiled.dtype == np.float32
    assert_allclose(compiled, broadcast, rtol=1e-5)


def test_compiled_kernel_identical_rows_are_at_distance_zero():
    X = np.random.RandomState(2).normal(size=(6, 9)).astype(np.float32) * 1e3
    for use_max in (False, True):
        assert_array_equal(np.diag(abs_difference_distances(X, X, use_max=use_max)), 0)


def test_compiled_kernel_reads_any_layout_and_keeps_input(tmp_path):
    rng = np.random.RandomState(3)
    X = rng.normal(size=(20, 12))
    A = rng.normal(size=(5, 12))
    expected = reference(X, A, False)
    path = tmp_path / "X.npy"
    np.save(path, X)
    readonly = np.load(path, mmap_mode="r")
    for variant in (np.asfortranarray(X), X[:, ::-1][:, ::-1], readonly):
        assert_allclose(abs_difference_distances(variant, A, use_max=False), expected)
    assert_array_equal(readonly, X)


def test_thread_count_does_not_change_results():
    rng = np.random.RandomState(4)
    X = rng.normal(size=(203, 16)).astype(np.float32)
    A = rng.normal(size=(7, 16)).astype(np.float32)
    results = []
    for n_threads in (1, 2, 5):
        with limit_threads(n_threads):
            assert kernel_threads() == n_threads
            results.append(abs_difference_distances(X, A, use_max=False))
    for result in results[1:]:
        assert_array_equal(result, results[0])


def test_limit_threads_nests_and_restores():
    default = kernel_threads()
    assert default >= 1
    with limit_threads(3):
        with limit_threads(0):  # at least one thread
            assert kernel_threads() == 1
        assert kernel_threads() == 3
    assert kernel_threads() == default


@pytest.mark.parametrize("similarity", ["l1", "linf", "cosine"])
def test_transform_with_chunk_threads_matches_sequential(similarity):
    rng = np.random.RandomState(5)
    X = rng.normal(size=(500, 20)).astype(np.float32)
    est = RelativeTransformer(8, similarity=similarity, random_state=0).fit(X)
    sequential = est.transform(X)
    with config_context(working_memory=0.01):  # several chunks
        threaded = est.set_params(n_jobs=2).transform(X)
    assert_allclose(threaded, sequential, rtol=1e-6)


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
    rng = np.random.RandomState(6)
    X = rng.normal(size=(8000, 32))
    product = InvariantProductTransformer(40, random_state=0, n_jobs=n_jobs).fit(X)
    with config_context(working_memory=1):
        small = _peak_beyond_output(product, X[:2000])
        large = _peak_beyond_output(product, X)
    # Temporary memory stays near working_memory (1 MiB), whatever n_samples;
    # the output alone is 8000 * 160 * 8 bytes = 9.8 MiB.
    assert large < 2.5
    assert large < small + 0.5


def test_fps_and_kmeans_choose_among_a_random_subset(monkeypatch):
    monkeypatch.setattr(_anchors, "MIN_CANDIDATES", 40)
    monkeypatch.setattr(_anchors, "CANDIDATES_PER_ANCHOR", 4)
    X = np.random.RandomState(7).normal(size=(300, 5))
    picked = select_anchors(X, 6, method="fps", random_state=0)
    # The same draws, replayed: the candidates, then the start among them.
    rng = np.random.RandomState(0)
    rows = np.sort(rng.choice(300, size=40, replace=False))
    unit = X[rows] / np.linalg.norm(X[rows], axis=1, keepdims=True)
    distances = cdist(unit, unit)
    chosen = [rng.randint(40)]
    while len(chosen) < 6:
        chosen.append(int(np.argmax(distances[:, chosen].min(axis=1))))
    assert_array_equal(picked, rows[chosen])
    # With more anchors, the candidate set grows to 4 per anchor.
    many = select_anchors(X, 12, method="kmeans", random_state=1)
    rng = np.random.RandomState(1)
    assert np.isin(many, rng.choice(300, size=48, replace=False)).all()
    assert np.unique(many).size == 12
