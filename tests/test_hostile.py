"""Hostile input: every case gives a correct finite result or a clear error.

Each case also checks that the caller's arrays are left untouched. Results are
compared with plain float64 NumPy definitions evaluated on the very same input
values, so huge and tiny magnitudes are checked against the exact answer rather
than against the package's own output.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from _references import WIDE, WIDE_RANGE, ref_kernel, ref_output
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags

from sklearn_relreps import (
    InvariantProductTransformer,
    LatentTranslator,
    RelativeTransformer,
    get_invariances,
    metrics,
    stitch,
)
from sklearn_relreps._anchors import ANCHOR_METHODS
from sklearn_relreps.anchors import select_anchors

# -- configurations -------------------------------------------------------------

ANCHOR_ROWS = [0, 3, 5, 8]

CONFIGS = {
    "cosine": RelativeTransformer(),
    "dot": RelativeTransformer(similarity="dot"),
    "euclidean": RelativeTransformer(similarity="euclidean"),
    "l1": RelativeTransformer(similarity="l1"),
    "linf": RelativeTransformer(similarity="linf"),
    "rbf": RelativeTransformer(similarity="rbf", gamma=0.3),
    "cosine-center-std": RelativeTransformer(center=True, standardize=True),
    "dot-center-l2": RelativeTransformer(
        similarity="dot", center=True, output_norm="l2"
    ),
    "euclidean-standard": RelativeTransformer(
        similarity="euclidean", output_norm="standard"
    ),
    "l1-std-standard": RelativeTransformer(
        similarity="l1", standardize=True, output_norm="standard"
    ),
    "rbf-default-gamma-l2": RelativeTransformer(similarity="rbf", output_norm="l2"),
    "cosine-softmax-standard": RelativeTransformer(
        output_norm=("softmax", "standard"), temperature=0.3
    ),
    "l1-softmax": RelativeTransformer(similarity="l1", output_norm="softmax"),
    "product": InvariantProductTransformer(),
    "product-mean-center": InvariantProductTransformer(aggregation="mean", center=True),
    "product-sum-l2": InvariantProductTransformer(
        similarities=("cosine", "dot", "rbf"), aggregation="sum", output_norm="l2"
    ),
}
CONFIG_IDS = list(CONFIGS)


def configured(name, anchors=ANCHOR_ROWS):
    return clone(CONFIGS[name]).set_params(anchors=anchors)


def kernel_names(est):
    if isinstance(est, InvariantProductTransformer):
        return list(est.similarities)
    return [est.similarity]


def options(est):
    return dict(center=est.center, standardize=est.standardize, gamma=est.gamma)


def expected(est, X_fit, X):
    """Reference output of `est` fitted on `X_fit` (anchors at ANCHOR_ROWS)."""
    return ref_output(
        kernel_names(est),
        np.asarray(X, dtype=np.float64),
        np.asarray(X_fit, dtype=np.float64)[ANCHOR_ROWS],
        output_norm=est.output_norm,
        temperature=est.temperature,
        aggregation=getattr(est, "aggregation", "concat"),
        **options(est),
    )


def make_X(n=12, d=5, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d) + rng.normal(size=d)


def snapshot(*arrays):
    return [a.copy() if a is not None else None for a in arrays]


def assert_unchanged(arrays, copies):
    for a, c in zip(arrays, copies, strict=True):
        if a is None:
            continue
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, c)
        elif sparse.issparse(a):
            assert_array_equal(a.toarray(), c.toarray())
        else:
            assert_array_equal(np.asarray(a), np.asarray(c))


def fit_transform_checked(est, X_fit, X=None, y=None):
    """Fit and transform, asserting the inputs are not modified; return output."""
    X = X_fit if X is None else X
    copies = snapshot(X_fit, X, y)
    out = est.fit(X_fit, y).transform(X)
    assert_unchanged([X_fit, X, y], copies)
    assert np.all(np.isfinite(out))
    return out


def assert_close(result, reference, dtype):
    size = max(np.abs(reference).max(), np.finfo(np.float64).tiny)
    if np.dtype(dtype) == np.float32:
        assert_allclose(result, reference, rtol=1e-4, atol=2e-3 * size)
    else:
        assert_allclose(result, reference, rtol=1e-7, atol=1e-7 * size)


# -- non-finite, empty, tiny shapes ---------------------------------------------


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["fit", "transform", "anchor_vectors"])
@pytest.mark.parametrize("name", CONFIG_IDS)
def test_non_finite_input_raises(name, where, value):
    X = make_X()
    bad = X.copy()
    bad[4, 2] = value
    copy = bad.copy()
    message = "NaN" if np.isnan(value) else "infinity"
    if where == "fit":
        with pytest.raises(ValueError, match=message):
            configured(name).fit(bad)
    elif where == "transform":
        est = configured(name).fit(X)
        with pytest.raises(ValueError, match=message):
            est.transform(bad)
    else:
        with pytest.raises(ValueError, match=f"anchors contains {message}"):
            configured(name, anchors=bad[:5]).fit(X)
    assert_array_equal(bad, copy)


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_empty_input_raises(name):
    X = make_X()
    with pytest.raises(ValueError, match="0 sample"):
        configured(name).fit(X[:0])
    with pytest.raises(ValueError, match="0 feature"):
        configured(name).fit(X[:, :0])
    est = configured(name).fit(X)
    with pytest.raises(ValueError, match="0 sample"):
        est.transform(X[:0])
    with pytest.raises(ValueError, match="5 features"):
        est.transform(X[:, :3])
    with pytest.raises(NotFittedError):
        configured(name).transform(X)


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_one_row_fit_clips_anchors_and_one_row_transform_matches(name):
    X = make_X()
    est = clone(CONFIGS[name]).set_params(n_anchors=3, random_state=0)
    with pytest.warns(UserWarning, match="n_anchors=3 is larger than n_samples=1"):
        est.fit(X[:1])
    assert est.anchors_.shape == (1, X.shape[1])
    full = configured(name).fit(X)
    whole = full.transform(X)
    for i in (0, 7, 11):
        # BLAS may round a one-row product differently from a batched one.
        assert_allclose(full.transform(X[i : i + 1]), whole[i : i + 1], rtol=1e-12)


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_one_feature(name):
    X = make_X(d=1)
    est = configured(name)
    assert_close(fit_transform_checked(est, X), expected(est, X, X), np.float64)


# -- magnitudes -----------------------------------------------------------------

# (scale, dtype): squares of 1e20 overflow float32, squares of 1e-25 underflow it;
# 1e200 and 1e-170 do the same in float64.
MAGNITUDES = [
    (1e30, np.float64),
    (1e-30, np.float64),
    (1e200, np.float64),
    (1e-200, np.float64),
    (1e20, np.float32),
    (1e-25, np.float32),
    (1e30, np.float32),
]


@pytest.mark.parametrize(("scale", "dtype"), MAGNITUDES)
@pytest.mark.parametrize("name", CONFIG_IDS)
def test_extreme_magnitudes_give_the_exact_answer(name, scale, dtype):
    if not WIDE_RANGE and dtype == np.float64:
        pytest.skip("no extended precision for the float64 reference")
    X = (make_X() * scale).astype(dtype)
    est = configured(name)
    gamma = 0.3 / scale / scale
    if "rbf" in kernel_names(est) and 0 < gamma < np.inf:
        # exp(-gamma d**2) with a fixed gamma is 0 or 1 at most of these scales;
        # where the dtype allows, keep gamma d**2 of order one instead.
        est.set_params(gamma=gamma)
    if "dot" in kernel_names(est):
        wide = X.astype(WIDE)
        if est.center:
            wide = wide - wide[ANCHOR_ROWS].mean(axis=0)
        raw = np.abs(ref_kernel("dot", wide, wide[ANCHOR_ROWS], None))
        finfo = np.finfo(dtype)
        if np.any((raw > finfo.max) | ((raw < finfo.smallest_normal) & (raw > 0))):
            # The products themselves do not fit the dtype: a clear error.
            # (at fit when the anchors' own blocks are computed, else at transform)
            with pytest.raises(ValueError, match="dot products .* outside the"):
                est.fit(X).transform(X)
            return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow/underflow RuntimeWarning
        out = fit_transform_checked(est, X)
    assert out.dtype == dtype
    assert_close(out, expected(est, X, X), dtype)


@pytest.mark.parametrize(("scale", "dtype"), [(1e200, np.float64), (1e20, np.float32)])
@pytest.mark.parametrize("similarity", ["euclidean", "l1", "linf"])
def test_distances_scale_with_the_data(similarity, scale, dtype):
    X = make_X()
    out = fit_transform_checked(
        RelativeTransformer(
            similarity=similarity, anchors=ANCHOR_ROWS, output_norm=None
        ),
        (X * scale).astype(dtype),
    )
    reference = ref_kernel(similarity, X, X[ANCHOR_ROWS], None)
    assert_close(out.astype(np.float64) / scale, reference, dtype)


def test_samples_far_larger_than_the_anchors():
    # Each row is measured at its own scale: a huge row next to small anchors
    # neither overflows nor disturbs the other rows.
    X = make_X().astype(np.float32)
    probe = np.vstack([X[:2], X[2:3] * np.float32(1e30)])
    for name in ("cosine", "euclidean", "rbf", "product"):
        est = configured(name).fit(X)
        out = est.transform(probe)
        assert np.all(np.isfinite(out))
        # Another batch shape may take another BLAS code path: a few ulps.
        assert_allclose(out[:2], est.transform(X[:2]), rtol=1e-6, atol=1e-6)
        assert_close(out, expected(est, X, probe), np.float32)


# -- dtypes and memory layouts --------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.int32, np.uint8, bool])
@pytest.mark.parametrize("name", CONFIG_IDS)
def test_other_dtypes_are_converted_to_float64(name, dtype):
    # float16, integer and boolean input is computed in float64, as scikit-learn
    # does for dtypes outside the preserved ones (float64, float32).
    X = (make_X() * 3).astype(dtype)
    est = configured(name)
    out = fit_transform_checked(est, X)
    assert est.anchors_.dtype == np.float64
    assert out.dtype == np.float64
    assert_close(out, expected(est, X, X), np.float64)
    assert est.transform(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_memory_layouts_and_read_only_memmap(name, tmp_path):
    X = make_X(n=24, d=10)
    reference = configured(name).fit(X).transform(X)
    path = tmp_path / "X.dat"
    writable = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    writable[:] = X
    writable.flush()
    del writable
    read_only = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    frozen = X.copy()
    frozen.flags.writeable = False
    wide = np.zeros((24, 20))
    wide[:, ::2] = X
    tall = np.zeros((48, 10))
    tall[::2] = X
    layouts = {
        "memmap": read_only,
        "read-only": frozen,
        "fortran": np.asfortranarray(X),
        "column-strided": wide[:, ::2],
        "row-strided": tall[::2],
    }
    for layout, data in layouts.items():
        out = fit_transform_checked(configured(name), data)
        assert_allclose(out, reference, rtol=1e-12, atol=1e-12, err_msg=layout)


# -- degenerate content ---------------------------------------------------------


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_duplicate_rows(name):
    X = make_X()
    doubled = np.vstack([X, X])
    est = configured(name)
    out = fit_transform_checked(est, doubled)
    # Rows at other places of one product may round differently in BLAS.
    assert_allclose(out[:12], out[12:], rtol=1e-13, atol=1e-13)
    assert_close(out, expected(est, doubled, doubled), np.float64)


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_duplicate_anchors(name):
    X = make_X()
    with pytest.raises(ValueError, match="anchor indices contain duplicates"):
        configured(name, anchors=[0, 3, 3]).fit(X)
    vectors = X[[0, 3, 0]]
    est = configured(name, anchors=vectors)
    with pytest.warns(UserWarning, match="1 of the given anchor vectors duplicate"):
        est.fit(X)
    out = est.transform(X)
    assert np.all(np.isfinite(out))
    k = vectors.shape[0]
    for start in range(0, out.shape[1], k):
        assert_array_equal(out[:, start], out[:, start + 2])


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_zero_rows(name):
    X = make_X()
    X[[3, 7]] = 0.0  # one anchor and one plain sample are zero vectors
    est = configured(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fit_transform_checked(est, X)
    assert_close(out, expected(est, X, X), np.float64)
    zeros = np.zeros_like(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fit_transform_checked(configured(name), zeros)
    assert_close(out, expected(est, zeros, zeros), np.float64)


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_constant_columns(name):
    X = make_X()
    X[:, 1] = 3.7
    X[:, 4] = 0.0
    est = configured(name)
    assert_close(fit_transform_checked(est, X), expected(est, X, X), np.float64)


# -- DataFrames -----------------------------------------------------------------

INDEXES = {
    "int": pd.Index(np.arange(100, 112)),
    "float": pd.Index(np.linspace(0.5, 6.0, 12)),
    "datetime": pd.date_range("2024-01-01", periods=12, freq="D"),
    "tuples": pd.MultiIndex.from_product([["a", "b", "c"], [1, 2, 3, 4]]),
    "strings": pd.Index([f"item{i}" for i in range(12)]),
}


@pytest.mark.parametrize("index", list(INDEXES))
@pytest.mark.parametrize("name", ["cosine", "product"])
def test_dataframe_index_labels_identify_anchors(name, index):
    X = make_X()
    df = pd.DataFrame(X, index=INDEXES[index], columns=list("abcde"))
    est = clone(CONFIGS[name]).set_params(n_anchors=4, random_state=0)
    out = fit_transform_checked(est, df)
    assert list(est.anchor_ids_) == list(df.index[est.anchor_indices_])
    names = est.get_feature_names_out()
    assert len(set(names)) == len(names) == out.shape[1]
    assert_array_equal(est.feature_names_in_, list("abcde"))


@pytest.mark.parametrize(
    "index", [[0, 0, *range(1, 11)], ["x"] * 12, [1, "1", *range(2, 12)]]
)
def test_repeated_index_labels_fall_back_to_positions(index):
    # Labels that repeat (also only once written as text) cannot name anchors.
    df = pd.DataFrame(make_X(), index=pd.Index(index, dtype=object))
    est = RelativeTransformer(n_anchors=12, random_state=0)
    with pytest.warns(UserWarning, match="repeated labels.*row positions"):
        fit_transform_checked(est, df)
    assert_array_equal(est.anchor_ids_, est.anchor_indices_)
    names = est.get_feature_names_out()
    assert len(set(names)) == len(names) == 12


def test_dataframe_columns():
    X = make_X()
    est = RelativeTransformer(anchors=ANCHOR_ROWS)
    # Non-string column names are positional, as in scikit-learn.
    out = fit_transform_checked(est, pd.DataFrame(X, columns=range(10, 15)))
    assert not hasattr(est, "feature_names_in_")
    assert_close(out, expected(est, X, X), np.float64)
    with pytest.raises(ValueError, match="unique column names"):
        est.fit(pd.DataFrame(X, columns=list("aabcd")))
    with pytest.raises(TypeError, match="string names"):
        est.fit(pd.DataFrame(X, columns=["a", "b", 1, 2, 3]))
    df = pd.DataFrame(X, columns=list("abcde"))
    est.fit(df)
    with pytest.raises(ValueError, match="feature names should match"):
        est.transform(df[list("edcba")])


# -- sparse ---------------------------------------------------------------------

SPARSE_KERNELS = {"cosine", "dot", "euclidean", "rbf"}


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("name", CONFIG_IDS)
def test_sparse_input(name, fmt):
    X = make_X()
    X[np.abs(X) < 0.8] = 0.0
    X_sparse = sparse.csr_matrix(X).asformat(fmt)
    est = configured(name)
    supported = set(kernel_names(est)) <= SPARSE_KERNELS
    assert get_tags(est).input_tags.sparse == supported
    if supported:
        out = fit_transform_checked(est, X_sparse)
        assert_close(out, expected(est, X, X), np.float64)
    else:
        with pytest.raises(TypeError, match="Sparse input is not supported"):
            est.fit(X_sparse)
        est.fit(X)
        with pytest.raises(TypeError, match="Sparse input is not supported"):
            est.transform(X_sparse)


# -- select_anchors -------------------------------------------------------------

METHODS = list(ANCHOR_METHODS)
LABELS = np.arange(12) % 3


def select(X, method, n_anchors=4, y=LABELS):
    return select_anchors(
        X,
        n_anchors,
        method=method,
        y=y if method == "stratified" else None,
        random_state=0,
    )


@pytest.mark.parametrize("method", METHODS)
def test_select_anchors_bad_input(method):
    X = make_X()
    for value, message in [(np.nan, "NaN"), (np.inf, "infinity")]:
        bad = X.copy()
        bad[2, 1] = value
        with pytest.raises(ValueError, match=message):
            select(bad, method)
    with pytest.raises(ValueError, match="0 sample"):
        select(X[:0], method, y=LABELS[:0])
    with pytest.raises(ValueError, match="0 feature"):
        select(X[:, :0], method)
    with pytest.warns(UserWarning, match="n_anchors=4 is larger than n_samples=1"):
        assert_array_equal(select(X[:1], method, y=LABELS[:1]), [0])


@pytest.mark.parametrize("method", METHODS)
def test_select_anchors_hostile_content(method):
    X = make_X()
    # The same choice whatever the magnitude or memory layout. Scales are powers
    # of two, so the data differ only in magnitude (k-means may settle elsewhere
    # on data that differ in the last bit); references are per dtype.
    for scale, dtype in [
        (2.0**-1000, np.float64),
        (2.0**1000, np.float64),
        (2.0**-90, np.float32),
        (2.0**100, np.float32),
    ]:
        data = (X * scale).astype(dtype)
        reference = select(X.astype(dtype), method)
        assert_array_equal(select(data, method), reference, err_msg=f"{scale}")
    reference = select(X, method)
    frozen = X.copy()
    frozen.flags.writeable = False
    layouts = {
        "fortran": np.asfortranarray(X),
        "strided": np.repeat(X, 2, axis=0)[::2],
        "read-only": frozen,
        "dataframe": pd.DataFrame(X, index=[0] * 12),
    }
    for label, data in layouts.items():
        copies = snapshot(data)
        assert_array_equal(select(data, method), reference, err_msg=label)
        assert_unchanged([data], copies)
    # Other dtypes are converted to float64 first.
    small_ints = np.round(X * 3).astype(np.int64)
    for dtype in (np.float16, np.int32, np.uint8):
        data = np.abs(small_ints).astype(dtype)
        assert_array_equal(
            select(data, method), select(data.astype(np.float64), method)
        )
    # One feature, zero rows, constant columns: valid distinct indices.
    zeros = X.copy()
    zeros[[1, 4]] = 0.0
    for data in (X[:, :1], zeros, np.zeros_like(X), np.ones_like(X)):
        indices = select(data, method)
        assert indices.dtype == np.int64
        assert len(np.unique(indices)) == 4
        assert indices.min() >= 0 and indices.max() < 12


@pytest.mark.parametrize("method", ["random", "stratified", "fps"])
def test_select_anchors_sparse_matches_dense(method):
    X = make_X()
    X[np.abs(X) < 0.8] = 0.0
    for fmt in ("csr", "csc", "coo"):
        assert_array_equal(
            select(sparse.csr_matrix(X).asformat(fmt), method), select(X, method)
        )


def test_select_anchors_kmeans_sparse_gives_valid_anchors():
    X = make_X()
    X[np.abs(X) < 0.8] = 0.0
    indices = select(sparse.csr_matrix(X), "kmeans")
    assert len(np.unique(indices)) == 4


def test_select_anchors_fps_avoids_duplicate_vectors():
    # Farthest points never repeat a vector while distinct ones remain.
    X = np.repeat(make_X(n=4), 3, axis=0)
    for seed in range(5):
        indices = select_anchors(X, 4, method="fps", random_state=seed)
        assert len(np.unique(X[indices], axis=0)) == 4


def test_select_anchors_bad_labels():
    X = make_X()
    with pytest.raises(ValueError, match="requires y"):
        select_anchors(X, 3, method="stratified")
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        select_anchors(X, 3, method="stratified", y=LABELS[:5])


# -- get_invariances ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("cosine_distance",), {}, ValueError, "Unknown similarity"),
        ((["cosine", 3],), {}, ValueError, r"Unknown similarity \[3\]"),
        (([],), {}, ValueError, "Unknown similarity"),
        (({"cosine"},), {}, ValueError, "'similarity' parameter"),
        ((None,), {}, ValueError, "'similarity' parameter"),
        (("dot",), {"output_norm": "bogus"}, ValueError, "'output_norm' parameter"),
        (("dot",), {"center": "yes"}, ValueError, "'center' parameter"),
        (("dot",), {"standardize": 1.0}, ValueError, "'standardize' parameter"),
    ],
)
def test_get_invariances_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        get_invariances(*args, **kwargs)


# -- metrics --------------------------------------------------------------------

METRICS = {
    "jaccard_at_k": dict(k=3),
    "mrr": dict(k=3),
    "recall_at_k": dict(k=3),
    "mean_cosine": {},
    "linear_cka": {},
    "mutual_knn": dict(k=3),
}
SAME_WIDTH = {"jaccard_at_k", "mrr", "recall_at_k", "mean_cosine"}


def metric(name, X, Y):
    return getattr(metrics, name)(X, Y, **METRICS[name])


@pytest.mark.parametrize("name", list(METRICS))
def test_metric_bad_input(name):
    X = make_X(n=15, d=4)
    for value, message in [(np.nan, "NaN"), (np.inf, "infinity")]:
        bad = X.copy()
        bad[3, 1] = value
        copy = bad.copy()
        with pytest.raises(ValueError, match=message):
            metric(name, bad, X)
        with pytest.raises(ValueError, match=message):
            metric(name, X, bad)
        assert_array_equal(bad, copy)
    with pytest.raises(ValueError, match="0 sample"):
        metric(name, X[:0], X[:0])
    with pytest.raises(ValueError, match="X has 15 rows but Y has 5"):
        metric(name, X, X[:5])
    with pytest.raises(ValueError, match="Expected 2D array"):
        metric(name, X[:, 0], X[:, 0])
    with pytest.raises(ValueError, match="must be an array-like"):
        metric(name, sparse.csr_matrix(X), X)
    if name in SAME_WIDTH:
        with pytest.raises(ValueError, match="X has 4 features but Y has 3"):
            metric(name, X, X[:, :3])
    else:
        assert 0 <= metric(name, X, X[:, :3]) <= 1
    if "k" in METRICS[name]:
        with pytest.raises(ValueError, match=f"{name} needs k <="):
            metric(name, X[:2], X[:2])


@pytest.mark.parametrize("name", list(METRICS))
def test_metric_hostile_content(name):
    X = make_X(n=15, d=4)
    Y = X @ np.linalg.qr(np.random.RandomState(3).normal(size=(4, 4)))[0]
    reference = metric(name, X, Y)
    frozen = X.copy()
    frozen.flags.writeable = False
    for label, data in {
        "fortran": np.asfortranarray(X),
        "strided": np.repeat(X, 2, axis=1)[:, ::2],
        "read-only": frozen,
        "dataframe": pd.DataFrame(X, index=[0] * 15, columns=[1, 0, 2, 3]),
        "float32": X.astype(np.float32),
    }.items():
        copies = snapshot(data)
        tol = 1e-5 if label == "float32" else 1e-12
        assert metric(name, data, Y) == pytest.approx(reference, abs=tol), label
        assert_unchanged([data], copies)
    with pytest.raises(ValueError, match="unique column names"):
        metric(name, pd.DataFrame(X, columns=list("aabc")), Y)
    # float16 and integers are compared in float64.
    ints = np.round(X * 4).astype(np.int64)
    for data in (ints.astype(np.float16), ints.astype(np.int32)):
        assert metric(name, data, Y) == pytest.approx(metric(name, ints * 1.0, Y))


@pytest.mark.parametrize(("scale", "dtype"), MAGNITUDES)
@pytest.mark.parametrize("name", list(METRICS))
def test_metric_identity_at_extreme_magnitudes(name, scale, dtype):
    X = make_X(n=15, d=4)
    scaled = (X * scale).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metric(name, scaled, scaled) == pytest.approx(1.0, abs=1e-5)
        Y = np.random.RandomState(1).normal(size=(15, 4))
        assert metric(name, scaled, Y) == pytest.approx(metric(name, X, Y), abs=1e-4)


# -- LatentTranslator -----------------------------------------------------------

TRANSLATORS = [
    (method, standardize)
    for method in ("orthogonal", "linear", "affine")
    for standardize in (True, False)
]
TRANSLATOR_IDS = [f"{m}-std{s}" for m, s in TRANSLATORS]


def translation_data(n=20, d=4):
    rng = np.random.RandomState(0)
    X = make_X(n=n, d=d)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return X, X @ rotation + rng.normal(size=d)


@pytest.mark.parametrize(("method", "standardize"), TRANSLATORS, ids=TRANSLATOR_IDS)
def test_translator_bad_input(method, standardize):
    X, Y = translation_data()
    translator = LatentTranslator(method, standardize=standardize)
    for value, message in [(np.nan, "NaN"), (np.inf, "infinity")]:
        bad = X.copy()
        bad[3, 1] = value
        with pytest.raises(ValueError, match=f"X contains {message}"):
            translator.fit(bad, Y)
        with pytest.raises(ValueError, match=f"y contains {message}"):
            translator.fit(X, bad)
        fitted = clone(translator).fit(X, Y)
        with pytest.raises(ValueError, match=message):
            fitted.transform(bad)
        with pytest.raises(ValueError, match=message):
            fitted.inverse_transform(bad)
    with pytest.raises(ValueError, match="0 sample"):
        translator.fit(X[:0], Y[:0])
    with pytest.raises(ValueError, match="X has 20 rows but y has 5"):
        translator.fit(X, Y[:5])
    with pytest.raises(ValueError, match="requires y"):
        translator.fit(X, None)
    with pytest.raises(TypeError, match="Sparse data"):
        translator.fit(sparse.csr_matrix(X), Y)
    with pytest.raises(NotFittedError):
        clone(translator).transform(X)
    if method != "orthogonal":
        with pytest.raises(ValueError, match="not determined"):
            translator.fit(X[:2], Y[:2])


@pytest.mark.parametrize(("method", "standardize"), TRANSLATORS, ids=TRANSLATOR_IDS)
def test_translator_hostile_content(method, standardize, tmp_path):
    X, Y = translation_data()
    translator = LatentTranslator(method, standardize=standardize)
    reference = clone(translator).fit(X, Y).transform(X)
    path = tmp_path / "X.npy"
    np.save(path, X)
    variants = {
        "memmap": np.load(path, mmap_mode="r"),
        "fortran": np.asfortranarray(X),
        "strided": np.repeat(X, 2, axis=0)[::2],
        "dataframe": pd.DataFrame(X, index=[0] * 20),
    }
    for label, data in variants.items():
        copies = snapshot(data, Y)
        out = clone(translator).fit(data, Y).transform(data)
        assert_allclose(out, reference, rtol=1e-10, atol=1e-10, err_msg=label)
        assert_unchanged([data, Y], copies)
    # Duplicate anchors, zero rows and constant columns: finite maps.
    degenerate = np.vstack([X, X[:5]])
    degenerate[[2, 6]] = 0.0
    degenerate[:, 1] = 2.5
    fitted = clone(translator).fit(degenerate, np.vstack([Y, Y[:5]]))
    assert np.all(np.isfinite(fitted.transform(degenerate)))
    assert np.all(np.isfinite(fitted.inverse_transform(Y)))
    # Integer input is computed in float64.
    ints = np.round(X * 4)
    out = clone(translator).fit(ints.astype(np.int64), Y).transform(ints)
    assert out.dtype == np.float64
    assert_allclose(out, clone(translator).fit(ints, Y).transform(ints))


@pytest.mark.parametrize(("scale", "dtype"), MAGNITUDES)
@pytest.mark.parametrize(("method", "standardize"), TRANSLATORS, ids=TRANSLATOR_IDS)
def test_translator_is_scale_equivariant_at_extreme_magnitudes(
    method, standardize, scale, dtype
):
    # Scaling both spaces by s scales the translation by s.
    X, Y = translation_data()
    reference = LatentTranslator(method, standardize=standardize).fit(X, Y)
    Xs, Ys = (X * scale).astype(dtype), (Y * scale).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        translator = LatentTranslator(method, standardize=standardize).fit(Xs, Ys)
        out = translator.transform(Xs)
        back = translator.inverse_transform(Ys)
    assert out.dtype == dtype
    assert_close(out / dtype(scale), reference.transform(X), dtype)
    assert_close(back / dtype(scale), reference.inverse_transform(Y), dtype)


# -- stitch ---------------------------------------------------------------------


def stitch_case():
    X = make_X(n=60, d=5)
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    model = make_pipeline(
        RelativeTransformer(8, center=True, random_state=0), LogisticRegression()
    ).fit(X, y)
    rotation, _ = np.linalg.qr(np.random.RandomState(2).normal(size=(5, 5)))
    return model, X @ rotation, X[model[0].anchor_indices_] @ rotation


def test_stitch_bad_anchors():
    model, _, anchors = stitch_case()
    state = pickle.dumps(model)
    bad = anchors.copy()
    bad[1, 1] = np.nan
    copy = bad.copy()
    with pytest.raises(ValueError, match="anchors contains NaN"):
        stitch(model, bad)
    assert_array_equal(bad, copy)
    with pytest.raises(ValueError, match="fit with 8 anchors but 5 anchor vectors"):
        stitch(model, anchors[:5])
    with pytest.raises(ValueError, match="0 sample"):
        stitch(model, anchors[:0])
    with pytest.raises(ValueError, match="Expected 2D array"):
        stitch(model, anchors[0])
    ids = model[0].anchor_ids_
    with pytest.raises(ValueError, match="missing from the index"):
        stitch(model, pd.DataFrame(anchors, index=ids + 1000))
    with pytest.raises(ValueError, match="repeats the ids"):
        stitch(model, pd.DataFrame(anchors, index=[ids[0]] * 8))
    with pytest.raises(NotFittedError):
        stitch(clone(model), anchors)
    assert pickle.dumps(model) == state  # the fitted model is never modified


def test_stitch_hostile_anchor_content(tmp_path):
    model, X_b, anchors = stitch_case()
    reference = stitch(model, anchors).predict_proba(X_b)
    path = tmp_path / "anchors.npy"
    np.save(path, anchors)
    order = np.random.RandomState(0).permutation(8)
    variants = {
        "memmap": np.load(path, mmap_mode="r"),
        "fortran": np.asfortranarray(anchors),
        "strided": np.repeat(anchors, 2, axis=1)[:, ::2],
        "csr": sparse.csr_matrix(anchors),
        "shuffled-dataframe": pd.DataFrame(
            anchors[order], index=model[0].anchor_ids_[order]
        ),
    }
    for label, data in variants.items():
        copies = snapshot(data)
        out = stitch(model, data).predict_proba(X_b)
        assert_allclose(out, reference, rtol=1e-10, atol=1e-12, err_msg=label)
        assert_unchanged([data], copies)
    # Other dtypes become float64 anchors; huge float32 spaces stay finite.
    assert stitch(model, anchors.astype(np.float16))[0].anchors_.dtype == np.float64
    huge = stitch(model, (anchors * 1e20).astype(np.float32))
    out = huge.predict_proba((X_b * 1e20).astype(np.float32))
    assert_allclose(out, reference, atol=1e-3)


# -- values beyond the dtype's range (issue 19) ---------------------------------

BEYOND_RANGE = {
    # (similarity, center, scale, dtype): finite X whose similarities overflow
    "l1-float32": ("l1", False, 1e38, np.float32),
    "linf-float32": ("linf", False, 3e38, np.float32),
    "euclidean-float64": ("euclidean", False, 1e308, np.float64),
    "rbf-float32": ("rbf", False, 3e38, np.float32),
}


@pytest.mark.parametrize("case", list(BEYOND_RANGE))
def test_similarities_beyond_the_dtype_range_raise_a_clear_error(case):
    similarity, center, scale, dtype = BEYOND_RANGE[case]
    X = (np.random.RandomState(0).uniform(-1, 1, size=(20, 4)) * scale).astype(dtype)
    est = RelativeTransformer(
        n_anchors=5, similarity=similarity, center=center, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way
        with pytest.raises(ValueError, match=r"distances .* exceed the float"):
            est.fit(X).transform(X)


def test_product_beyond_the_dtype_range_raises_instead_of_nan():
    X = (np.random.RandomState(0).uniform(-1, 1, size=(20, 4)) * 1e38).astype(
        np.float32
    )
    with pytest.raises(ValueError, match="L1 distances .* exceed the float32 range"):
        InvariantProductTransformer(n_anchors=5, random_state=0).fit_transform(X)


def test_centring_beyond_the_dtype_range_names_centring():
    X = np.array([[-3e38, 1.0], [1e38, 2.0], [3e38, 0.5]], dtype=np.float32)
    est = RelativeTransformer(anchors=[0, 1], center=True).fit(X)
    with pytest.raises(ValueError, match=r"centred on the anchors' mean \(center"):
        est.transform(X)


SIMILARITY_NAMES = ["cosine", "dot", "euclidean", "l1", "linf", "rbf"]


@given(
    data=st.data(),
    similarity=st.sampled_from(SIMILARITY_NAMES),
    dtype=st.sampled_from([np.float32, np.float64]),
    center=st.booleans(),
)
@settings(max_examples=80, deadline=None, derandomize=True)
def test_any_magnitude_gives_finite_output_or_a_clear_error(
    data, similarity, dtype, center
):
    finfo = np.finfo(dtype)
    low, high = np.log10(float(finfo.smallest_normal)), np.log10(float(finfo.max))
    exponent = data.draw(st.floats(low, high), label="log10 magnitude")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    rng = np.random.RandomState(seed)
    X = (rng.uniform(-1, 1, size=(8, 3)) * 10.0**exponent).astype(dtype)
    X = np.where(np.isfinite(X), X, finfo.max).astype(dtype)
    est = RelativeTransformer(anchors=[0, 2, 5], similarity=similarity, center=center)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = est.fit(X).transform(X)
        except ValueError as error:
            assert "range" in str(error), str(error)
            return
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("name", ["jaccard_at_k", "mutual_knn"])
def test_metric_identity_is_exact_with_duplicate_and_tied_rows(name):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 6)).astype(np.float32)
    cases = {
        "duplicates": np.vstack([X, X[::3], X[::7]]),
        "all-tied": np.ones((40, 3)),
        "zero-rows": np.vstack([X, np.zeros((10, 6), np.float32)]),
    }
    for case, data in cases.items():
        scores = {getattr(metrics, name)(data, data, k=5)}
        for memory in (0.005, 0.05, 1024):
            with config_context(working_memory=memory):
                scores.add(getattr(metrics, name)(data, data, k=5))
        assert scores == {1.0}, (case, scores)


def test_linear_cka_is_translation_invariant_at_any_offset():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 4))
    Y = X @ rng.normal(size=(4, 3))
    reference = metrics.linear_cka(X, Y)
    for offset in (1e6, 1e10):
        shifted = X.copy()
        shifted[:, 1] += offset
        assert_allclose(metrics.linear_cka(shifted, Y), reference, rtol=1e-6)
    # Beyond, the column's spread is below float64's resolution: it is constant
    # as given, and scored as such (no error).
    constant = X.copy()
    constant[:, 1] = 0.0
    for offset in (1e100, 1e200, 1e308):
        shifted = X.copy()
        shifted[:, 1] += offset
        assert_allclose(
            metrics.linear_cka(shifted, Y), metrics.linear_cka(constant, Y), rtol=1e-12
        )


def test_standardize_is_invariant_to_per_axis_scaling_in_float32():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3)).astype(np.float32)
    X[:, 2] *= np.float32(1e-6)  # spread 1e-6 of the widest feature
    factors = np.array([1e3, 1.0, 1e6], dtype=np.float32)
    est = RelativeTransformer(anchors=list(range(10)), standardize=True)
    out = est.fit_transform(X)
    rescaled = clone(est).fit_transform(X * factors)
    assert_allclose(rescaled, out, atol=1e-5)


@pytest.mark.parametrize(
    "y",
    [
        np.array(["a", None, "b", "a", "b", None] * 2, dtype=object),
        np.array(["a", 1.5, "b", "a", 2, "b"] * 2, dtype=object),
    ],
)
def test_stratified_with_unsortable_labels_names_y(y):
    with pytest.raises(ValueError, match="class labels y of one sortable type"):
        RelativeTransformer(n_anchors=3, anchors="stratified").fit(make_X(), y)


def _sparse_similarity(X, anchors):
    return sparse.csr_matrix(X @ anchors.T)


def test_callable_similarity_returning_sparse_names_the_callable():
    with pytest.raises(TypeError, match="'_sparse_similarity' returned a sparse"):
        RelativeTransformer(n_anchors=3, similarity=_sparse_similarity).fit_transform(
            make_X()
        )


def test_anchor_dataframe_columns_are_aligned_to_x():
    X = pd.DataFrame(make_X(), columns=list("abcde"))
    anchors = X.iloc[ANCHOR_ROWS]
    aligned = RelativeTransformer(anchors=anchors).fit(X).transform(X)
    permuted = anchors[list("ecabd")]
    assert_array_equal(
        RelativeTransformer(anchors=permuted).fit(X).transform(X), aligned
    )
    with pytest.raises(ValueError, match=r"lacks the features \['d'\]"):
        RelativeTransformer(anchors=anchors.drop(columns="d")).fit(X)
