"""The compiled kernels: L1/L-inf distances and the fused epilogues."""

import threading
import warnings

import numpy as np
import pytest
from _references import ref_kernel
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist

from sklearn_relreps._kernels import (
    ANCHOR_TILE,
    abs_difference_distances,
    centred_sqnorms,
    finish_folded,
    finish_squared_distances,
    prepare_abs_differences,
    reuse_buffers,
    scratch,
)
from sklearn_relreps._similarities import _reduce_abs_differences
from sklearn_relreps._threads import budget_of


def distances(X, A, use_max):
    """The compiled L1 or L-inf kernel, its anchors' side prepared first."""
    A = np.asarray(A, dtype=X.dtype)
    return abs_difference_distances(X, prepare_abs_differences(A, use_max=use_max))


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
    result = distances(X, A, use_max)
    assert result.dtype == dtype
    assert result.shape == (n_samples, n_anchors)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(result, reference(X, A, use_max), rtol=rtol)


@pytest.mark.parametrize("use_max", [False, True])
def test_compiled_kernel_agrees_with_broadcasting_path(use_max):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 17)).astype(np.float32)
    A = rng.normal(size=(11, 17)).astype(np.float32)
    compiled = distances(X, A, use_max)
    broadcast = _reduce_abs_differences(X, A, np.max if use_max else np.sum)
    assert broadcast.dtype == compiled.dtype == np.float32
    assert_allclose(compiled, broadcast, rtol=1e-5)


def test_compiled_kernel_identical_rows_are_at_distance_zero():
    X = np.random.RandomState(2).normal(size=(6, 9)).astype(np.float32) * 1e3
    for use_max in (False, True):
        assert_array_equal(np.diag(distances(X, X, use_max)), 0)


def _l1_scale(X, A):
    """``|x - c|_1 + |a - c|_1`` in float64, c the anchors' mean."""
    centre = A.astype(np.float64).mean(axis=0)
    x_norms = np.abs(X - centre).sum(axis=1)
    return x_norms[:, None] + np.abs(A - centre).sum(axis=1)[None, :]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_features=st.integers(1, 70),
    offset=st.sampled_from([0.0, 1.0, 1e3, -1e5]),
    closeness=st.sampled_from([1e-7, 1e-4, 1e-2, 1.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_l1_kernel_meets_its_rounding_bound(seed, n_features, offset, closeness, dtype):
    # Samples are perturbed anchors, some of them exact copies, so that the
    # pairs range from identical through near to far.
    rng = np.random.RandomState(seed % 2**32)
    A = (offset + rng.normal(size=(9, n_features))).astype(dtype)
    X = A[rng.randint(0, 9, size=14)] + closeness * rng.normal(size=(14, n_features))
    X[:3] = A[:3]
    X = X.astype(dtype)
    result = distances(X, A, False)
    exact = reference(X, A, False)
    eps = np.finfo(dtype).eps
    error = np.abs(result - exact)
    assert np.all(error <= (n_features + 8) * eps * _l1_scale(X, A))
    # Close pairs are summed directly: the direct sum's relative precision.
    close = exact <= 2.0**-4 * _l1_scale(X, A)
    assert np.all(error[close] <= (n_features + 2) * eps * exact[close])
    assert_array_equal(np.diag(result[:3, :3]), 0)


def test_l1_kernel_results_do_not_depend_on_other_rows():
    rng = np.random.RandomState(7)
    A = rng.normal(size=(11, 33)).astype(np.float32) + 50
    near = A[[1, 4, 4, 9]] + 1e-3 * rng.normal(size=(4, 33)).astype(np.float32)
    X = np.vstack([near, rng.normal(size=(9, 33)).astype(np.float32) + 50, A[:3]])
    together = distances(X, A, False)
    for order in (rng.permutation(len(X)), np.arange(len(X))[::-1]):
        assert_array_equal(distances(X[order], A, False), together[order])
    for i in range(len(X)):
        assert_array_equal(
            distances(X[i : i + 1], A, False),
            together[i : i + 1],
        )


def test_l1_kernel_overflow_gives_inf_not_nan():
    # The formula's sums overflow (inf - inf is NaN): such pairs are summed
    # directly, and a distance beyond float32's range is inf.
    big = np.finfo(np.float32).max * 0.75
    X = np.array([[big, -big, 1.0], [0.0, 1.0, 2.0], [-big, big, big]], np.float32)
    A = np.array([[-big, big, 0.0], [1.0, 1.0, 1.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = distances(X, A, False)
    with np.errstate(over="ignore"):
        expected = reference(X, A, False).astype(np.float32)
    assert np.isinf(expected).sum() == 4
    assert_allclose(result, expected, rtol=1e-6)


def test_compiled_kernel_reads_any_layout_and_keeps_input(tmp_path):
    rng = np.random.RandomState(3)
    X = rng.normal(size=(20, 12))
    A = rng.normal(size=(5, 12))
    expected = reference(X, A, False)
    path = tmp_path / "X.npy"
    np.save(path, X)
    readonly = np.load(path, mmap_mode="r")
    for variant in (np.asfortranarray(X), X[:, ::-1][:, ::-1], readonly):
        assert_allclose(distances(variant, A, False), expected)
    assert_array_equal(readonly, X)


def test_thread_count_does_not_change_results():
    rng = np.random.RandomState(4)
    X = rng.normal(size=(20003, 16)).astype(np.float32)
    A = rng.normal(size=(7, 16)).astype(np.float32)
    results = []
    for n_threads in (1, 2, 5):
        with budget_of(n_threads):
            results.append(distances(X, A, False))
    for result in results[1:]:
        assert_array_equal(result, results[0])


def test_scratch_buffers_are_reused_per_store_and_thread():
    shape = (6, 3)
    # Outside a store, every call gets fresh memory.
    assert not np.shares_memory(
        scratch("b", shape, np.float32), scratch("b", shape, np.float32)
    )
    store = threading.local()
    with reuse_buffers(store):
        first = scratch("b", shape, np.float32)
        assert np.shares_memory(first, scratch("b", (4, 3), np.float32))
        assert scratch("b", (4, 3), np.float32).shape == (4, 3)
        # Another name, a larger, wider or other-dtype request: new memory.
        for name, other, dtype in [
            ("c", shape, np.float32),
            ("b", (9, 3), np.float32),
            ("b", (9, 5), np.float32),
            ("b", (9, 5), np.float64),
        ]:
            buffer = scratch(name, other, dtype)
            assert buffer.shape == other and buffer.dtype == dtype
            assert not np.shares_memory(buffer, first)
        seen = []
        worker = threading.Thread(
            target=lambda: seen.append(_in_store(store, "b", (9, 5), np.float64))
        )
        worker.start()
        worker.join()
        assert not np.shares_memory(seen[0], scratch("b", (9, 5), np.float64))
    assert not np.shares_memory(
        scratch("b", (9, 5), np.float64), scratch("b", (9, 5), np.float64)
    )


def _in_store(store, name, shape, dtype):
    with reuse_buffers(store):
        return scratch(name, shape, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_centred_sqnorms_match_definition(dtype):
    rng = np.random.RandomState(3)
    X = rng.normal(3, 2, size=(257, 33)).astype(dtype)
    X.setflags(write=False)  # read only: never written
    centre = X.mean(axis=0)
    centred, sqnorms = centred_sqnorms(X, centre)
    wide = X.astype(np.float64) - centre.astype(np.float64)
    assert sqnorms.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(sqnorms, (wide**2).sum(axis=1), rtol=rtol)
    assert_array_equal(centred, X - centre)


def test_centred_sqnorms_flag_non_finite_rows():
    X = np.ones((5, 4), dtype=np.float32)
    X[1, 2], X[3, 0] = np.nan, -np.inf
    X[4] = 3e38  # finite, but its squared norm overflows
    _, sqnorms = centred_sqnorms(X, np.zeros(4, np.float32))
    assert_array_equal(np.isfinite(sqnorms), [True, False, True, False, False])


@pytest.mark.parametrize("use_exp", [False, True])
def test_squared_distance_epilogue_matches_formula(use_exp):
    # With products = x . a + offsets, t is ||x - ratio * a||**2; enough
    # values for several threads' row blocks.
    rng = np.random.RandomState(4)
    X = rng.normal(size=(300, 8))
    A = rng.normal(size=(4096, 8))
    offsets = rng.normal(size=4096)
    ratio = rng.uniform(0.5, 2, 300)
    factors = rng.uniform(0.1, 0.3, 300)
    t = ((X[:, None, :] - ratio[:, None, None] * A[None]) ** 2).sum(axis=2)
    expected = (
        np.exp(-(factors**2)[:, None] * t) if use_exp else factors[:, None] * np.sqrt(t)
    )
    products = X @ A.T + offsets
    x_sq, a_sq = (X**2).sum(axis=1), (A**2).sum(axis=1)
    result = finish_squared_distances(
        products.copy(), x_sq, a_sq, offsets, ratio, factors, 1e-6, use_exp=use_exp
    )
    assert_allclose(result, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("use_exp", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_folded_epilogue_matches_definition_and_leaves_unsafe_rows(use_exp, dtype):
    # Enough rows for several threads and several cache-sized pieces.
    rng = np.random.RandomState(8)
    X = rng.normal(size=(3000, 7)).astype(dtype)
    A = rng.normal(size=(40, 7)).astype(dtype)
    centre = A.mean(axis=0)
    X[5], X[11, 3], X[17] = 1e3, np.nan, centre
    centred = A - centre
    products = X @ centred.T
    untouched = products.copy()
    factor = 0.3
    left = finish_folded(
        products,
        X,
        centre,
        (centred**2).sum(axis=1),
        centred @ centre,
        factor,
        1e-6,
        (1e-3, 1e5),  # row 5 is too large, row 17 (the centre) too small
        use_exp=use_exp,
    )
    assert_array_equal(np.flatnonzero(left), [5, 11, 17])
    if not use_exp:  # exponentials of the rows left are taken too
        assert_array_equal(products[left], untouched[left])
    kept = ~left
    wide = cdist(X[kept].astype(np.float64), A.astype(np.float64), "sqeuclidean")
    expected = np.exp(-(factor**2) * wide) if use_exp else factor * np.sqrt(wide)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    assert_allclose(products[kept], expected, rtol=rtol, atol=rtol)
    assert products.dtype == dtype
