"""Built-in similarities and options against independent plain-NumPy definitions."""

import itertools
import warnings

import numpy as np
import pytest
from _references import LINEAR, ref_kernel, ref_output, table_invariances
from numpy.testing import assert_allclose
from scipy import sparse

from sklearn_relreps import RelativeTransformer, get_invariances
from sklearn_relreps._numerics import unit_rows
from sklearn_relreps._similarities import (
    SIMILARITIES,
    _prepare_expansion,
    make_similarity,
)

# -- data -----------------------------------------------------------------------

SIMILARITY_CASES = [
    ("cosine", None),
    ("dot", None),
    ("euclidean", None),
    ("l1", None),
    ("linf", None),
    ("rbf", None),
    ("rbf", 0.3),
]
CASE_IDS = [s if g is None else f"{s}-gamma{g}" for s, g in SIMILARITY_CASES]
OPTIONS = list(
    itertools.product([False, True], [False, True], [None, "l2", "standard"])
)
OPTION_IDS = [f"center{c}-std{s}-norm{n}" for c, s, n in OPTIONS]


def make_data(seed=0, n=20, k=6, d=5):
    """Anisotropic, off-centre samples and anchors (the last sample is an anchor)."""
    rng = np.random.RandomState(seed)
    spread = rng.uniform(0.5, 2.0, size=d)
    offset = rng.normal(size=d)
    X = rng.normal(size=(n, d)) * spread + offset
    A = rng.normal(size=(k, d)) * spread + offset
    X[-1] = A[0]
    return X, A


def assert_agrees(result, expected, dtype):
    size = max(1.0, np.abs(expected).max())
    if dtype == np.float64:
        assert_allclose(result, expected, rtol=1e-6, atol=1e-7 * size)
    else:
        # float32 resolves ~1e-7 relative; differences of near-equal vectors
        # (zero distances through a square root) lose about half the digits.
        assert_allclose(result, expected, rtol=1e-4, atol=1e-3 * size)


# -- agreement ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("center", "standardize", "output_norm"), OPTIONS, ids=OPTION_IDS
)
@pytest.mark.parametrize(("similarity", "gamma"), SIMILARITY_CASES, ids=CASE_IDS)
def test_matches_reference(similarity, gamma, center, standardize, output_norm, dtype):
    X, A = make_data()
    X, A = X.astype(dtype), A.astype(dtype)
    params = dict(
        center=center, standardize=standardize, output_norm=output_norm, gamma=gamma
    )
    rel = RelativeTransformer(anchors=A, similarity=similarity, **params)
    result = rel.fit(X).transform(X)
    assert result.dtype == dtype
    assert result.shape == (X.shape[0], A.shape[0])
    assert_agrees(result, ref_output([similarity], X, A, **params), dtype)


@pytest.mark.parametrize(("similarity", "gamma"), SIMILARITY_CASES, ids=CASE_IDS)
def test_anchors_from_rows_match_reference(similarity, gamma):
    X, _ = make_data(seed=1, n=40)
    rel = RelativeTransformer(
        n_anchors=7,
        similarity=similarity,
        gamma=gamma,
        random_state=0,
        center=False,
        output_norm=None,
    ).fit(X)
    A = X[np.asarray(rel.anchor_indices_)]
    assert_allclose(rel.anchors_, A)
    assert_agrees(rel.transform(X), ref_kernel(similarity, X, A, gamma), np.float64)


@pytest.mark.parametrize("similarity", ["euclidean", "l1", "linf"])
def test_distances_are_non_negative_and_zero_on_anchors(similarity):
    X, _ = make_data(seed=2, n=30)
    rel = RelativeTransformer(
        anchors=np.arange(5), similarity=similarity, output_norm=None
    ).fit(X)
    out = rel.transform(X)
    assert (out >= 0).all()
    assert_allclose(np.diag(out[:5]), 0.0, atol=1e-7)


def test_standardize_constant_feature_gets_scale_one():
    X, A = make_data(seed=3)
    X[:, 1] = 4.0
    A[:, 1] = 4.0
    rel = RelativeTransformer(
        anchors=A, similarity="dot", standardize=True, center=False, output_norm=None
    ).fit(X)
    scale = A.std(axis=0)
    scale[1] = 1.0
    assert_allclose(rel.scale_, scale, rtol=1e-12)
    expected = ref_output(["dot"], X, A, standardize=True, scale=scale)
    assert_agrees(rel.transform(X), expected, np.float64)


def test_standardize_near_dead_feature_gets_scale_one():
    # A feature whose spread is below what the dtype resolves at its own
    # magnitude (a constant plus rounding noise) is left unscaled: dividing by
    # that spread would turn noise into values of order one. The test looks at
    # each feature alone, so a feature that merely has a small scale is kept.
    rng = np.random.RandomState(4)
    X, A = make_data(seed=4)
    A[:, 2] = 0.5 + 2e-16 * rng.normal(size=A.shape[0])
    X[:, 2] = 0.5 + 2e-16 * rng.normal(size=X.shape[0])
    A[:, 3] *= 1e-33
    X[:, 3] *= 1e-33
    rel = RelativeTransformer(
        anchors=A, similarity="cosine", center=True, standardize=True, output_norm=None
    ).fit(X)
    mean, scale = A.mean(axis=0), A.std(axis=0)
    assert 0 < scale[2] <= 10 * np.finfo(np.float64).eps * mean[2]
    scale[2] = 1.0
    assert_allclose(rel.scale_, scale, rtol=1e-12)
    expected = ref_output(["cosine"], X, A, center=True, standardize=True, scale=scale)
    assert_agrees(rel.transform(X), expected, np.float64)


@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean", "rbf"])
def test_fitted_statistics_match_definitions(similarity):
    X, A = make_data(seed=5)
    rel = RelativeTransformer(
        anchors=A,
        similarity=similarity,
        center=True,
        standardize=True,
        output_norm="standard",
    ).fit(X)
    mean = A.mean(axis=0)
    scale = np.sqrt(((A - mean) ** 2).mean(axis=0))
    assert_allclose(rel.mean_, mean, rtol=1e-12)
    assert_allclose(rel.scale_, scale, rtol=1e-12)
    prepared = (A - mean) / scale
    R_AA = ref_kernel(similarity, prepared, prepared)
    assert_allclose(rel.output_mean_, R_AA.mean(axis=0), rtol=1e-6, atol=1e-7)
    assert_allclose(rel.output_scale_, R_AA.std(axis=0), rtol=1e-6)


@pytest.mark.parametrize("output_norm", [None, "l2", "standard"])
def test_options_off_store_no_statistics(output_norm):
    X, A = make_data(seed=6)
    rel = RelativeTransformer(anchors=A, output_norm=output_norm, center=False).fit(X)
    assert rel.mean_ is None and rel.scale_ is None
    if output_norm != "standard":
        assert rel.output_mean_ is None and rel.output_scale_ is None


# -- zero vectors, dtypes -------------------------------------------------------


@pytest.mark.parametrize("center", [False, True])
def test_cosine_zero_vector_gives_zero_without_warning(center):
    X, A = make_data(seed=7)
    if not center:
        A[2] = 0.0  # a zero anchor
    # A sample at the origin (after centring: at the anchors' mean).
    X[0] = A.mean(axis=0) if center else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rel = RelativeTransformer(anchors=A, center=center, output_norm=None).fit(X)
        out = rel.transform(X)
        l2 = RelativeTransformer(anchors=A, center=center, output_norm="l2")
        normed = l2.fit(X).transform(X)
    assert np.isfinite(out).all() and np.isfinite(normed).all()
    assert_allclose(out[0], 0.0, atol=1e-12)
    assert_allclose(normed[0], 0.0, atol=1e-12)
    if not center:
        assert_allclose(out[:, 2], 0.0)
    # In float64, like the estimator: X[0] is then exactly the anchors' mean.
    expected = ref_output(["cosine"], X, A, center=center, dtype=np.float64)
    assert_allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize(("similarity", "gamma"), SIMILARITY_CASES, ids=CASE_IDS)
def test_integer_input_gives_float64(similarity, gamma):
    X = np.random.RandomState(8).randint(-5, 6, size=(15, 4))
    rel = RelativeTransformer(
        anchors=np.arange(4),
        similarity=similarity,
        gamma=gamma,
        center=False,
        output_norm=None,
    )
    out = rel.fit(X).transform(X)
    assert out.dtype == np.float64
    assert rel.anchors_.dtype == np.float64
    assert_agrees(out, ref_kernel(similarity, X, X[:4], gamma), np.float64)


@pytest.mark.parametrize(("similarity", "gamma"), SIMILARITY_CASES, ids=CASE_IDS)
def test_float32_out_when_fit_and_transform_dtypes_differ(similarity, gamma):
    X, A = make_data(seed=9)
    rel = RelativeTransformer(
        anchors=A,
        similarity=similarity,
        gamma=gamma,
        center=True,
        standardize=True,
        output_norm=None,
    )
    out = rel.fit(X).transform(X.astype(np.float32))
    assert out.dtype == np.float32
    expected = ref_output(
        [similarity],
        X.astype(np.float32),
        A,
        center=True,
        standardize=True,
        gamma=gamma,
    )
    assert_agrees(out, expected, np.float32)


# -- sparse input ---------------------------------------------------------------


def make_sparse_data(seed=10, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.uniform(size=(30, 8)).astype(dtype)
    X[X < 0.6] = 0
    X[3] = 0
    return X


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("center", "standardize"), [(False, False), (True, True)])
@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean", "rbf"])
def test_sparse_matches_dense(similarity, center, standardize, dtype, container):
    X = make_sparse_data(dtype=dtype)
    params = dict(
        n_anchors=6,
        similarity=similarity,
        center=center,
        standardize=standardize,
        output_norm="standard",
        random_state=0,
    )
    X_sparse = container(X)
    original = X_sparse.copy()
    dense = RelativeTransformer(**params).fit(X)
    sparse_rel = RelativeTransformer(**params).fit(X_sparse)
    out = sparse_rel.transform(X_sparse)
    assert isinstance(out, np.ndarray)
    assert out.dtype == dtype
    assert_allclose(sparse_rel.anchors_, dense.anchors_)
    expected = dense.transform(X)
    assert_agrees(out, expected, dtype)
    assert (X_sparse != original).nnz == 0


@pytest.mark.parametrize("similarity", ["l1", "linf"])
def test_sparse_rejected_with_clear_error(similarity):
    X = make_sparse_data()
    rel = RelativeTransformer(n_anchors=4, similarity=similarity, output_norm=None)
    with pytest.raises(TypeError, match=f"[Ss]parse.*{similarity}"):
        rel.fit(sparse.csr_matrix(X))
    rel.fit(X)
    with pytest.raises(TypeError, match=f"[Ss]parse.*{similarity}"):
        rel.transform(sparse.csr_array(X))


# -- callables ------------------------------------------------------------------


def negative_manhattan(X, A):
    return -np.abs(X[:, None, :] - A[None, :, :]).sum(axis=2)


def double_dot(X, A):
    return 2 * X @ A.T


def transposed_dot(X, A):
    return A @ X.T


def dot_with_nan(X, A):
    out = X @ A.T
    out[0, 0] = np.nan
    return out


def test_callable_similarity_matches_reference():
    X, A = make_data(seed=11)
    rel = RelativeTransformer(
        anchors=A, similarity=negative_manhattan, output_norm=None
    )
    assert_agrees(rel.fit(X).transform(X), -ref_kernel("l1", X, A), np.float64)


def test_callable_receives_preprocessed_data():
    X, A = make_data(seed=11)
    options = dict(center=True, standardize=True, output_norm="standard")
    rel = RelativeTransformer(anchors=A, similarity=double_dot, **options)
    # "standard" output removes the factor 2 again.
    expected = ref_output(["dot"], X, A, **options)
    assert_agrees(rel.fit(X).transform(X), expected, np.float64)
    raw = RelativeTransformer(
        anchors=A, similarity=double_dot, center=True, output_norm=None
    )
    assert_agrees(
        raw.fit(X).transform(X), 2 * ref_output(["dot"], X, A, center=True), np.float64
    )


def test_callable_rejects_sparse_input_by_name():
    X = make_sparse_data()
    with pytest.raises(TypeError, match="[Ss]parse.*negative_manhattan"):
        RelativeTransformer(3, similarity=negative_manhattan, output_norm=None).fit(
            sparse.csr_array(X)
        )


def row_sums(X, A):
    return X.sum(axis=1)


def test_callable_wrong_shape_raises():
    X, A = make_data(seed=12)
    # Square on the anchors themselves, so only transform can tell.
    rel = RelativeTransformer(
        anchors=A, similarity=transposed_dot, output_norm=None
    ).fit(X)
    with pytest.raises(
        ValueError, match=r"transposed_dot.*shape.*\(20, 6\); got \(6, 20\)"
    ):
        rel.transform(X)
    with pytest.raises(ValueError, match=r"row_sums.*shape.*\(20, 6\); got \(20,\)"):
        RelativeTransformer(anchors=A, similarity=row_sums, output_norm=None).fit(
            X
        ).transform(X)


def test_callable_returning_nan_raises():
    X, A = make_data(seed=13)
    rel = RelativeTransformer(anchors=A, similarity=dot_with_nan, output_norm=None).fit(
        X
    )
    with pytest.raises(ValueError, match="dot_with_nan.*NaN"):
        rel.transform(X)


# -- the invariance registry ----------------------------------------------------


@pytest.mark.parametrize(
    ("center", "standardize", "output_norm"), OPTIONS, ids=OPTION_IDS
)
@pytest.mark.parametrize("similarity", list(SIMILARITIES))
def test_get_invariances_matches_table(similarity, center, standardize, output_norm):
    got = get_invariances(
        similarity, center=center, standardize=standardize, output_norm=output_norm
    )
    assert isinstance(got, frozenset)
    assert got == table_invariances(similarity, center, standardize, output_norm)
    assert LINEAR not in got


def test_get_invariances_of_several_is_the_intersection():
    names = ["cosine", "euclidean", "l1", "linf"]
    for center, output_norm in itertools.product([False, True], [None, "standard"]):
        expected = set.intersection(
            *(table_invariances(n, center, False, output_norm) for n in names)
        )
        assert get_invariances(names, center=center, output_norm=output_norm) == (
            expected
        )


@pytest.mark.parametrize("similarity", ["cosine_distance", ["cosine", "manhattan"], []])
def test_get_invariances_unknown_name(similarity):
    with pytest.raises(ValueError, match="Unknown similarity.*'cosine', 'dot'"):
        get_invariances(similarity)


# -- the expansion's two routes and the kernels' own finiteness check -------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("similarity", ["euclidean", "rbf"])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_expansion_folds_centring_only_near_the_origin(offset, similarity, dtype):
    # Near the origin the centring is folded into the anchors' offsets; far
    # from it, the samples are centred. Both agree with the definition, and
    # an anchor is at distance exactly 0 from itself either way.
    X, A = make_data(seed=3, n=40, k=7, d=9)
    X, A = (X + offset).astype(dtype), (A + offset).astype(dtype)
    offsets = _prepare_expansion(A)[-1]
    assert (offsets is None) == (offset > 0)
    kwargs = {"gamma": 0.05} if similarity == "rbf" else {}
    est = RelativeTransformer(
        anchors=A, similarity=similarity, output_norm=None, **kwargs
    ).fit(X)
    result = est.transform(X)
    assert result.dtype == dtype
    assert_agrees(result, ref_kernel(similarity, X, A, **kwargs), dtype)
    assert result[-1, 0] == (0.0 if similarity == "euclidean" else 1.0)
    assert_allclose(make_similarity(similarity, **kwargs)(X, A), result, rtol=1e-6)


@pytest.mark.parametrize("similarity", ["euclidean", "rbf"])
def test_folded_expansion_rescales_extreme_rows_like_alone(similarity):
    # A chunk with a row that needs rescaling takes the centring route; every
    # row still agrees with the definition, and with itself transformed alone.
    X, A = make_data(seed=4, n=12, k=5, d=6)
    assert _prepare_expansion(A)[-1] is not None  # the folded route
    X[3] *= 1e150
    X[5] *= 1e-150
    kwargs = {"gamma": 1e-300} if similarity == "rbf" else {}
    est = RelativeTransformer(
        anchors=A, similarity=similarity, output_norm=None, **kwargs
    ).fit(X)
    together = est.transform(X)
    alone = np.vstack([est.transform(X[i : i + 1]) for i in range(len(X))])
    assert np.isfinite(together).all()
    assert_allclose(together, ref_kernel(similarity, X, A, **kwargs), rtol=1e-9)
    assert_allclose(together, alone, rtol=1e-12)


@pytest.mark.parametrize("sparse_input", [False, True])
@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean", "rbf"])
def test_nan_and_inf_samples_raise_scikit_learns_error(similarity, sparse_input):
    X, A = make_data(seed=5)
    est = RelativeTransformer(anchors=A, similarity=similarity, output_norm=None).fit(X)
    for value, message in [(np.nan, "NaN"), (np.inf, "infinity")]:
        bad = X.copy()
        bad[7, 2] = value
        bad = sparse.csr_matrix(bad) if sparse_input else bad
        with pytest.raises(ValueError, match=f"Input X contains {message}"):
            est.transform(bad)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
def test_finite_rows_whose_squared_norm_overflows_are_accepted(similarity):
    X, A = make_data(seed=6)
    X = X.astype(np.float32)
    X[2] = 1e38  # finite, and so are its distances; its squared norm is not
    est = RelativeTransformer(
        anchors=A, similarity=similarity, center=False, output_norm=None
    )
    est.fit(X[3:])
    result = est.transform(X)
    assert np.isfinite(result).all()
    assert_agrees(result, ref_kernel(similarity, X, A), np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_rows_of_any_magnitude(dtype):
    # Rows near the ends of the dtype's range (whose squares overflow or
    # underflow), a zero row and ordinary rows: each comes out with norm 1
    # (or stays 0), in the direction of the row, left unchanged.
    finfo = np.finfo(dtype)
    rng = np.random.RandomState(3)
    base = rng.normal(size=(6, 9))
    magnitudes = [1.0, float(finfo.max) / 8, float(finfo.smallest_normal), 3e-3, 0.0]
    X = np.vstack([base[:5] * np.array(magnitudes)[:, None], base[5:]]).astype(dtype)
    given = X.copy()
    unit = unit_rows(X, np)
    np.testing.assert_array_equal(X, given)
    assert unit.dtype == dtype
    # Reference: each row divided by its largest entry in float64 first.
    wide = X.astype(np.float64)
    largest = np.abs(wide).max(axis=1, keepdims=True)
    scaled = np.divide(wide, largest, out=np.zeros_like(wide), where=largest > 0)
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    expected = np.divide(scaled, norms, out=np.zeros_like(wide), where=norms > 0)
    rtol = 4 * float(finfo.eps) * np.sqrt(X.shape[1])
    assert_allclose(unit, expected, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(unit[4], 0)
