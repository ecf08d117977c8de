"""Determinism, chunking, threads, and properties checked over random inputs."""

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import clone

from sklearn_relreps import InvariantProductTransformer, RelativeTransformer, metrics
from sklearn_relreps._anchors import ANCHOR_METHODS
from sklearn_relreps.anchors import select_anchors

METHODS = list(ANCHOR_METHODS)

ESTIMATORS = {
    "cosine": RelativeTransformer(6),
    "l1-center-standard": RelativeTransformer(
        6, similarity="l1", center=True, output_norm="standard"
    ),
    "linf-std": RelativeTransformer(6, similarity="linf", standardize=True),
    "rbf-l2": RelativeTransformer(6, similarity="rbf", output_norm="l2"),
    "product": InvariantProductTransformer(6),
    "product-mean": InvariantProductTransformer(
        6, similarities=("cosine", "dot", "euclidean"), aggregation="mean"
    ),
}


# A working memory below one row's needs makes scikit-learn say so and use
# one-row chunks, which is what these tests want.
ONE_ROW_CHUNKS = pytest.mark.filterwarnings("ignore:Could not adhere to working_memory")


def make_data(n=300, d=7, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2, size=d) + rng.normal(size=d)
    return X, np.arange(n) % 4


# -- determinism ----------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_same_random_state_same_result(name, method):
    X, y = make_data()
    fits = [
        clone(ESTIMATORS[name]).set_params(anchors=method, random_state=seed).fit(X, y)
        for seed in (3, 3, np.random.RandomState(3))
    ]
    reference = fits[0].transform(X)
    for est in fits[1:]:
        assert_array_equal(est.anchor_indices_, fits[0].anchor_indices_)
        assert_array_equal(est.transform(X), reference)


@pytest.mark.parametrize("method", METHODS)
def test_select_anchors_is_deterministic_and_seed_dependent(method):
    X, y = make_data()
    labels = y if method == "stratified" else None
    first = select_anchors(X, 10, method=method, y=labels, random_state=7)
    assert_array_equal(
        select_anchors(X, 10, method=method, y=labels, random_state=7), first
    )
    others = [
        select_anchors(X, 10, method=method, y=labels, random_state=seed)
        for seed in range(8, 12)
    ]
    assert any(not np.array_equal(first, other) for other in others)


@ONE_ROW_CHUNKS
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_chunking_and_threads_do_not_change_the_output(name):
    X, y = make_data()
    est = clone(ESTIMATORS[name]).set_params(random_state=0).fit(X, y)
    reference = est.transform(X)
    # ~1 KiB of working memory forces one row per chunk.
    for working_memory in (1e-3, 0.05, 1024):
        for n_jobs in (None, 1, 2, -1):
            with config_context(working_memory=working_memory):
                out = clone(est).set_params(n_jobs=n_jobs).fit(X, y).transform(X)
            # Chunks may change BLAS's summation order by an ulp or so.
            assert_allclose(out, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_concurrent_transform_calls_agree(name):
    X, y = make_data()
    est = clone(ESTIMATORS[name]).set_params(random_state=0, n_jobs=2).fit(X, y)
    parts = np.array_split(np.arange(300), 6)
    expected = [est.transform(X[rows]) for rows in parts]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda rows: est.transform(X[rows]), parts * 4))
    for i, result in enumerate(results):
        assert_array_equal(result, expected[i % len(parts)])


# -- properties over random inputs ----------------------------------------------

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ELEMENTS = st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False)


@st.composite
def datasets(draw, min_rows=2, max_rows=30):
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, 6))
    return draw(arrays(np.float64, (n, d), elements=ELEMENTS))


PROPERTY_CONFIGS = st.sampled_from(
    [
        RelativeTransformer(4, random_state=0),
        RelativeTransformer(4, similarity="euclidean", center=True, random_state=0),
        RelativeTransformer(4, similarity="l1", output_norm="standard", random_state=0),
        RelativeTransformer(4, similarity="linf", standardize=True, random_state=0),
        RelativeTransformer(4, similarity="rbf", output_norm="l2", random_state=0),
        RelativeTransformer(4, anchors="fps", random_state=0),
        InvariantProductTransformer(4, random_state=0),
        InvariantProductTransformer(4, aggregation="sum", random_state=0),
    ]
)


def clipping(est, X):
    """Expect the clip warning when X has fewer rows than anchors."""
    if X.shape[0] < est.n_anchors:
        return pytest.warns(UserWarning, match="larger than n_samples")
    return nullcontext()


def fitted(est, X):
    """Fit, allowing the clip warning when X has fewer rows than anchors."""
    with clipping(est, X):
        return clone(est).fit(X)


@SETTINGS
@given(est=PROPERTY_CONFIGS, X=datasets())
def test_fit_transform_equals_fit_then_transform(est, X):
    copy = X.copy()
    with clipping(est, X):
        combined = clone(est).fit_transform(X)
    separate = fitted(est, X).transform(X)
    assert_array_equal(combined, separate)
    assert np.all(np.isfinite(combined))
    assert_array_equal(X, copy)


@ONE_ROW_CHUNKS
@SETTINGS
@given(
    est=PROPERTY_CONFIGS,
    X=datasets(),
    working_memory=st.floats(1e-4, 1e-2),  # 100 bytes to 10 KiB
)
def test_transform_is_independent_of_chunk_size(est, X, working_memory):
    model = fitted(est, X)
    reference = model.transform(X)
    with config_context(working_memory=working_memory):
        chunked = model.transform(X)
    assert_allclose(
        chunked, reference, rtol=1e-10, atol=1e-10 * (1 + abs(reference).max())
    )


@SETTINGS
@given(est=PROPERTY_CONFIGS, X=datasets(min_rows=3), data=st.data())
def test_rows_are_transformed_independently(est, X, data):
    model = fitted(est, X)
    reference = model.transform(X)
    order = data.draw(st.permutations(range(X.shape[0])))
    subset = np.asarray(order[: max(1, len(order) // 2)])
    out = model.transform(X[subset])
    assert_allclose(
        out, reference[subset], rtol=1e-10, atol=1e-10 * (1 + abs(reference).max())
    )


# -- metric identities ----------------------------------------------------------


@st.composite
def distinct_rows(draw, min_rows=6, max_rows=25):
    """Generic rows: no duplicates, no collinear pairs, no tied similarities."""
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(2, 8))
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    return rng.normal(size=(n, d)) * draw(st.sampled_from([1e-30, 1.0, 1e30]))


@SETTINGS
@given(X=distinct_rows())
def test_metric_identity_values(X):
    n = X.shape[0]
    k = min(5, n - 1)
    assert metrics.mrr(X, X, k=k) == pytest.approx(1.0)
    assert metrics.recall_at_k(X, X, k=1) == pytest.approx(1.0)
    assert metrics.jaccard_at_k(X, X, k=k) == pytest.approx(1.0)
    assert metrics.mean_cosine(X, X) == pytest.approx(1.0)
    assert metrics.linear_cka(X, X) == pytest.approx(1.0)
    assert metrics.mutual_knn(X, X, k=k) == pytest.approx(1.0)


@SETTINGS
@given(X=datasets(min_rows=4), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_linear_cka_invariances(X, seed, data):
    rng = np.random.RandomState(seed)
    centred = X - X.mean(axis=0)
    # Constant columns only: CKA is undefined.
    assume(np.linalg.norm(centred) >= 1e-6 * (1 + np.abs(X).max()))
    d = X.shape[1]
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scale = data.draw(st.floats(1e-3, 1e3))
    shift = rng.normal(size=d) * 10
    Y = rng.normal(size=(X.shape[0], 3))
    base = metrics.linear_cka(X, Y)
    moved = metrics.linear_cka(scale * X @ rotation + shift, Y)
    assert 0.0 <= base <= 1.0 + 1e-12
    assert moved == pytest.approx(base, abs=1e-8)
    assert metrics.linear_cka(Y, X) == pytest.approx(base, abs=1e-12)
