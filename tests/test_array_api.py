"""Array API dispatch: the transformers compute in the input's namespace and device.

Each result is compared with the NumPy result of the same estimator (tested
against independent definitions elsewhere). scikit-learn reads
``SCIPY_ARRAY_API=1`` when scipy is imported, so the variable must be set
before pytest starts: ``.ci/run`` runs this module in such a pass.
"""

import os

import numpy as np
import pytest

if os.environ.get("SCIPY_ARRAY_API") != "1":
    pytest.skip(
        "array API dispatch needs SCIPY_ARRAY_API=1 in the environment before "
        "scipy is imported (run: SCIPY_ARRAY_API=1 python -m pytest "
        "tests/test_array_api.py)",
        allow_module_level=True,
    )

import array_api_strict
from numpy.testing import assert_allclose
from sklearn import config_context
from sklearn.utils import get_tags

from sklearn_relreps import InvariantProductTransformer, RelativeTransformer, stitch
from sklearn_relreps._compat import to_numpy
from sklearn_relreps._similarities import SIMILARITIES

# array-api-strict's "device1" makes any slip onto the default device an error.
NAMESPACES = [
    ("array_api_strict", "device1", "float32"),
    ("array_api_strict", "device1", "float64"),
    ("torch", "cpu", "float32"),
    ("torch", "cpu", "float64"),
    ("torch", "cuda", "float32"),
    ("torch", "cuda", "float64"),
]

CONFIGS = {
    "random": {"anchors": "random"},
    "center-l2": {"anchors": "random", "center": True, "output_norm": "l2"},
    "indices-standardize-standard": {
        "anchors": [0, 4, 9, 17, 23],
        "standardize": True,
        "output_norm": "standard",
    },
    "kmeans-center-standardize": {
        "anchors": "kmeans",
        "center": True,
        "standardize": True,
    },
    "fps-standard": {"anchors": "fps", "output_norm": "standard"},
}

FITTED = ["anchors_", "anchor_indices_", "anchor_ids_", "mean_", "scale_"]
FITTED += ["output_mean_", "output_scale_"]


@pytest.fixture(params=NAMESPACES, ids=lambda p: "-".join(p))
def data(request):
    """``(X, X_xp, xp)``: the same samples in NumPy and in namespace `xp`."""
    name, device, dtype = request.param
    if name == "torch":
        torch = pytest.importorskip("torch")
        if device == "cuda" and not torch.cuda.is_available():
            pytest.skip("PyTorch sees no CUDA device")
        xp, device = torch, torch.device(device)
    else:
        xp, device = array_api_strict, array_api_strict.Device(device)
    X = np.random.RandomState(0).standard_normal((30, 5)).astype(dtype)
    return X, xp.asarray(X, device=device), xp


def assert_like(array, X_xp, dtype=True):
    assert type(array) is type(X_xp)
    assert array.device == X_xp.device
    if dtype:
        assert array.dtype == X_xp.dtype


def assert_matches_numpy(est, X, X_xp, anchors=None):
    """Fit and transform `X_xp` under dispatch; compare with the NumPy run.

    `anchors`, when given, replaces the estimator's anchors for the second run.
    """
    expected = est.fit(X).transform(X)
    expected_indices = est.anchor_indices_
    if anchors is not None:
        est.set_params(anchors=anchors)
    with config_context(array_api_dispatch=True):
        out = est.fit(X_xp).transform(X_xp)
        assert_like(out, X_xp)
        for name in FITTED:
            value = getattr(est, name)
            if value is not None:
                assert_like(
                    value, X_xp, dtype=name not in ("anchor_indices_", "anchor_ids_")
                )
        out = to_numpy(out)
        indices = None if expected_indices is None else to_numpy(est.anchor_indices_)
    float32 = X.dtype == np.float32
    assert_allclose(
        out, expected, rtol=1e-5 if float32 else 1e-10, atol=1e-5 if float32 else 1e-12
    )
    np.testing.assert_array_equal(indices, expected_indices)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("similarity", list(SIMILARITIES))
def test_relative_transformer_in_namespace(data, similarity, config):
    est = RelativeTransformer(5, similarity=similarity, random_state=0, **config)
    assert_matches_numpy(est, *data[:2])


@pytest.mark.parametrize("aggregation", ["concat", "sum", "mean"])
def test_product_in_namespace(data, aggregation):
    est = InvariantProductTransformer(
        5, aggregation=aggregation, center=True, random_state=0
    )
    assert_matches_numpy(est, *data[:2])


def test_given_anchors_in_any_namespace(data):
    """Anchor indices and vectors given as lists, NumPy or the input's arrays."""
    X, X_xp, xp = data
    rows = [3, 1, 4]
    vectors = X[rows] + 1
    for given in [vectors.tolist(), xp.asarray(vectors, device=X_xp.device)]:
        assert_matches_numpy(RelativeTransformer(anchors=vectors), X, X_xp, given)
    for given in [np.asarray(rows), xp.asarray(rows, device=X_xp.device)]:
        assert_matches_numpy(RelativeTransformer(anchors=rows), X, X_xp, given)


def test_array_api_support_tag():
    for similarity in SIMILARITIES:
        assert get_tags(RelativeTransformer(similarity=similarity)).array_api_support
    assert get_tags(InvariantProductTransformer()).array_api_support
    assert not get_tags(RelativeTransformer(similarity=xp_dot)).array_api_support


def xp_dot(X, A):
    return X @ A.T


def host_dot(X, A):
    return to_numpy(X) @ to_numpy(A).T


@pytest.mark.parametrize("similarity", [xp_dot, host_dot])
def test_callable_similarity_under_dispatch(data, similarity):
    """A callable gets the input's arrays; its result is moved back to them."""
    X, X_xp, _ = data
    seen = []

    def spy(X_, A):
        seen.append((type(X_), type(A)))
        return similarity(X_, A)

    est = RelativeTransformer(5, similarity=spy, output_norm="standard", random_state=0)
    assert_matches_numpy(est, X, X_xp)
    assert seen[-1] == (type(X_xp), type(X_xp))


@pytest.mark.parametrize(
    "est",
    [
        RelativeTransformer(5, center=True, standardize=True, output_norm="standard"),
        InvariantProductTransformer(5, center=True),
    ],
    ids=["relative", "product"],
)
def test_stitch_in_namespace(data, est):
    """Stitching a model fit on `xp` arrays keeps it in `xp`, on its device.

    The new anchors, given in the input's namespace or as NumPy arrays, are
    moved to the namespace of the fitted model; its output matches the same
    model fit and stitched on NumPy arrays.
    """
    X, X_xp, xp = data
    est.set_params(random_state=0)
    # Encoder B: another width, related to A by a map the projection ignores.
    X_b = np.hstack([2 * X[:, ::-1] + 1, np.ones((X.shape[0], 2), dtype=X.dtype)])
    X_b_xp = xp.asarray(X_b, device=X_xp.device)
    rows = est.fit(X).anchor_indices_
    expected = stitch(est, X_b[rows]).transform(X_b)
    for anchors in [xp.asarray(X_b[rows], device=X_xp.device), X_b[rows]]:
        with config_context(array_api_dispatch=True):
            stitched = stitch(est.fit(X_xp), anchors)
            assert stitched.n_features_in_ == X_b.shape[1]
            for name in ["anchors_", "mean_", "scale_", "output_mean_"]:
                if getattr(stitched, name) is not None:
                    assert_like(getattr(stitched, name), X_xp)
            out = stitched.transform(X_b_xp)
            assert_like(out, X_xp)
            out = to_numpy(out)
        float32 = X.dtype == np.float32
        assert_allclose(
            out,
            expected,
            rtol=1e-5 if float32 else 1e-10,
            atol=1e-5 if float32 else 1e-12,
        )
