"""Behaviour of InvariantProductTransformer against independent definitions."""

import copy

import numpy as np
import pandas as pd
import pytest
from _references import random_orthogonal, ref_kernel, ref_output, table_invariances
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn import config_context
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_relreps import (
    InvariantProductTransformer,
    RelativeTransformer,
    get_invariances,
    stitch,
)
from sklearn_relreps._anchors import ANCHOR_METHODS
from sklearn_relreps._invariances import TRANSFORMATIONS
from sklearn_relreps._similarities import SIMILARITIES

ANCHORS = np.array([1, 4, 9, 15, 22, 30, 37])
# Euclidean distances come from ||x||^2 + ||a||^2 - 2 x.a: a distance of zero
# (a sample to itself) is off by about sqrt(eps) times the data's scale.
ATOL = 1e-6


def make_data(seed=0, n=48, d=6):
    """Anisotropic, off-centre samples."""
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d) + rng.normal(size=d)


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"similarities": ()}, "similarities is empty"),
        (
            {"similarities": ("cosine", "hamming")},
            r"Unknown similarities \['hamming'\]",
        ),
        ({"similarities": ("cosine", len)}, "Unknown similarities"),
        ({"similarities": ("l1", "cosine", "l1")}, "similarities contains duplicates"),
        ({"similarities": "cosine"}, "'similarities'.*list.*tuple.*Got 'cosine'"),
        ({"similarities": {"cosine", "l1"}}, "'similarities'.*list.*tuple"),
        (
            {"aggregation": "sum", "output_norm": None},
            "aggregation='sum' pools blocks.*set output_norm",
        ),
        (
            {"aggregation": "mean", "output_norm": None},
            "aggregation='mean' pools blocks.*set output_norm",
        ),
        ({"aggregation": "max"}, "'aggregation' parameter"),
        ({"gamma": 0.5}, "gamma=0.5 is only used by the 'rbf' similarity"),
    ],
)
def test_bad_parameters_raise_at_fit(params, match):
    product = InvariantProductTransformer(n_anchors=5, **params)
    with pytest.raises(ValueError, match=match):
        product.fit(make_data())


def test_similarities_parameter_is_not_modified():
    names = ["l1", "cosine"]
    product = InvariantProductTransformer(n_anchors=5, similarities=names)
    product.fit(make_data())
    assert product.similarities is names
    assert names == ["l1", "cosine"]


# -- agreement with the reference -----------------------------------------------


@pytest.mark.parametrize("name", list(SIMILARITIES))
@pytest.mark.parametrize("output_norm", [None, "standard", "l2"])
def test_each_block_matches_reference(name, output_norm):
    X = make_data()
    product = InvariantProductTransformer(
        anchors=ANCHORS, similarities=(name,), output_norm=output_norm, center=False
    ).fit(X)
    expected = ref_output([name], X, X[ANCHORS], output_norm=output_norm)
    assert_allclose(product.transform(X), expected, rtol=1e-7, atol=ATOL)


@pytest.mark.parametrize(
    "aggregation, output_norm",
    [
        ("concat", None),
        ("concat", "standard"),
        ("concat", "l2"),
        ("sum", "standard"),
        ("sum", "l2"),
        ("mean", "standard"),
        ("mean", "l2"),
    ],
)
@pytest.mark.parametrize(
    "center, standardize", [(False, False), (True, False), (True, True)]
)
def test_aggregations_match_reference(aggregation, output_norm, center, standardize):
    X = make_data(1)
    similarities = ["cosine", "euclidean", "l1", "linf", "dot", "rbf"]
    product = InvariantProductTransformer(
        anchors=ANCHORS,
        similarities=similarities,
        aggregation=aggregation,
        center=center,
        standardize=standardize,
        output_norm=output_norm,
        gamma=0.3,
    ).fit(X)
    X_new = make_data(2)
    expected = ref_output(
        similarities,
        X_new,
        X[ANCHORS],
        aggregation=aggregation,
        center=center,
        standardize=standardize,
        output_norm=output_norm,
        gamma=0.3,
    )
    k = len(ANCHORS)
    assert product.transform(X_new).shape == (
        len(X_new),
        k * len(similarities) if aggregation == "concat" else k,
    )
    assert_allclose(product.transform(X_new), expected, rtol=1e-7, atol=ATOL)


def test_standard_norm_uses_per_block_anchor_statistics():
    X = make_data(3)
    names = ("cosine", "euclidean", "l1", "linf")
    product = InvariantProductTransformer(
        anchors=ANCHORS, similarities=names, center=False
    ).fit(X)
    A = X[ANCHORS]
    k = len(ANCHORS)
    for i, name in enumerate(names):
        own = ref_kernel(name, A, A)
        assert_allclose(product.output_mean_[i * k : (i + 1) * k], own.mean(axis=0))
        assert_allclose(product.output_scale_[i * k : (i + 1) * k], own.std(axis=0))
    # Each block of the anchors' own output is z-scored column by column.
    own_output = product.transform(A)
    assert_allclose(own_output.mean(axis=0), 0, atol=1e-12)
    assert_allclose(own_output.std(axis=0), 1)


def test_float32_is_preserved():
    X = make_data()
    product = InvariantProductTransformer(n_anchors=6, random_state=0)
    out32 = product.fit(X.astype(np.float32)).transform(X.astype(np.float32))
    out64 = clone(product).fit(X).transform(X)
    assert out32.dtype == np.float32
    assert product.anchors_.dtype == np.float32
    # float32 euclidean self-distances carry ~1e-3 absolute error (see Notes).
    assert_allclose(out32, out64, rtol=1e-3, atol=5e-3)


def test_sparse_input_matches_dense():
    X = make_data()
    X[X < 0.3] = 0
    product = InvariantProductTransformer(
        n_anchors=6, similarities=("cosine", "dot", "euclidean"), random_state=0
    )
    dense = product.fit(X).transform(X)
    assert_allclose(
        clone(product).fit(sparse.csr_matrix(X)).transform(sparse.csr_matrix(X)),
        dense,
        atol=1e-9,
    )


# -- feature names and DataFrame output -----------------------------------------


def test_feature_names_are_block_major():
    index = [f"item{i}" for i in range(48)]
    X = pd.DataFrame(make_data(), index=index, columns=list("abcdef"))
    product = InvariantProductTransformer(
        anchors=ANCHORS, similarities=["linf", "cosine"]
    ).fit(X)
    ids = [f"item{i}" for i in ANCHORS]
    assert_array_equal(product.anchor_ids_, ids)
    names = product.get_feature_names_out()
    assert names.dtype == object
    assert list(names) == [f"linf_anchor_{i}" for i in ids] + [
        f"cosine_anchor_{i}" for i in ids
    ]
    pooled = product.set_params(aggregation="sum").fit(X).get_feature_names_out()
    assert list(pooled) == [f"anchor_{i}" for i in ids]


def test_feature_names_without_index_use_anchor_positions():
    product = InvariantProductTransformer(anchors=ANCHORS, similarities=("l1",))
    names = product.fit(make_data()).get_feature_names_out()
    assert list(names) == [f"l1_anchor_{i}" for i in ANCHORS]


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_dataframe_output(library):
    if library == "polars":
        pytest.importorskip("polars")
    X = make_data()
    product = InvariantProductTransformer(n_anchors=5, random_state=0).fit(X)
    expected = product.transform(X)
    frame = product.set_output(transform=library).transform(X)
    assert list(frame.columns) == list(product.get_feature_names_out())
    assert_allclose(frame.to_numpy(), expected)


# -- chunked transform -----------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Could not adhere to working_memory")
@pytest.mark.parametrize("n_jobs", [None, 2])
@pytest.mark.parametrize("aggregation", ["concat", "mean"])
def test_chunked_transform_equals_one_pass(monkeypatch, n_jobs, aggregation):
    X = make_data(n=60)
    product = InvariantProductTransformer(
        n_anchors=7, aggregation=aggregation, random_state=0, n_jobs=n_jobs
    ).fit(X)
    one_pass = product.transform(X)
    with config_context(working_memory=1e-4):  # a few rows per chunk
        chunked = product.transform(X)
    # BLAS may take another code path for another chunk shape: a tolerance of
    # a few ulps of the values, not bit-equality.
    assert_allclose(chunked, one_pass, rtol=1e-12, atol=ATOL)


# -- one shared anchor set -------------------------------------------------------


@pytest.mark.parametrize("strategy", list(ANCHOR_METHODS))
def test_anchors_are_those_of_a_relative_transformer(strategy):
    X, y = make_blobs(n_samples=60, centers=3, n_features=5, random_state=0)
    product = InvariantProductTransformer(
        n_anchors=8, anchors=strategy, random_state=42
    ).fit(X, y)
    single = RelativeTransformer(n_anchors=8, anchors=strategy, random_state=42)
    single.fit(X, y)
    assert_array_equal(product.anchor_indices_, single.anchor_indices_)
    assert_array_equal(product.anchors_, single.anchors_)


def relative_union(similarities, anchors, **params):
    """The FeatureUnion counterpart: one RelativeTransformer per similarity."""
    return FeatureUnion(
        [
            (name, RelativeTransformer(anchors=anchors, similarity=name, **params))
            for name in similarities
        ]
    )


def test_blocks_equal_relative_transformers_on_the_shared_anchors():
    X = make_data(4)
    names = ("cosine", "euclidean", "l1", "linf")
    params = {"center": True, "output_norm": "standard"}
    product = InvariantProductTransformer(
        n_anchors=7, similarities=names, random_state=0, **params
    ).fit(X)
    union = relative_union(names, product.anchor_indices_, **params).fit(X)
    assert_allclose(product.transform(X), union.transform(X), atol=1e-12)


def test_one_reanchoring_updates_every_block():
    # Space B is space A rotated, rescaled per axis and shifted: no block is
    # invariant to it, so every block must pick up the new anchor statistics.
    X = make_data(5)
    rng = np.random.RandomState(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    X_b = X @ rotation * rng.uniform(0.5, 2, size=6) + 3.0
    names = ("cosine", "euclidean", "l1", "linf", "dot")
    params = {"center": True, "standardize": True, "output_norm": "standard"}
    product = InvariantProductTransformer(
        n_anchors=7, similarities=names, random_state=0, **params
    ).fit(X)

    moved = copy.deepcopy(product)
    moved._learn(X_b[product.anchor_indices_])
    fresh = clone(product).set_params(anchors=product.anchor_indices_).fit(X_b)
    assert_allclose(moved.transform(X_b), fresh.transform(X_b), atol=1e-10)
    assert_array_equal(moved.anchor_ids_, product.anchor_ids_)
    k = len(product.anchor_indices_)
    before, after = product.transform(X_b), moved.transform(X_b)
    for i in range(len(names)):
        block = slice(i * k, (i + 1) * k)
        assert not np.allclose(before[:, block], after[:, block], atol=1e-3)

    # A FeatureUnion needs one re-anchoring per member for the same result.
    union = relative_union(names, product.anchor_indices_, **params).fit(X)
    for _, member in union.transformer_list:
        member._learn(X_b[product.anchor_indices_])
    assert_allclose(moved.transform(X_b), union.transform(X_b), atol=1e-10)


def test_stitch_reanchors_the_product_in_a_pipeline():
    # Space B: A permuted, shifted and rescaled, widened by two constant axes.
    X = make_data(6)
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    rng = np.random.RandomState(1)
    X_b = np.hstack([2.5 * X[:, rng.permutation(6)] - 1.0, np.ones((len(X), 2))])
    model = make_pipeline(
        InvariantProductTransformer(n_anchors=10, random_state=0),
        LogisticRegression(),
    ).fit(X, y)
    stitched = stitch(model, X_b[model[0].anchor_indices_])
    fresh = InvariantProductTransformer(anchors=model[0].anchor_indices_).fit(X_b)
    assert_allclose(stitched[0].transform(X_b), fresh.transform(X_b), atol=ATOL)
    # The distance blocks (after the first 10 columns) ignore the permutation,
    # shift, scale and constant axes; the cosine block does not.
    assert_allclose(
        stitched[0].transform(X_b)[:, 10:], model[0].transform(X)[:, 10:], atol=ATOL
    )
    assert stitched[-1] is not model[-1]
    assert_array_equal(stitched[-1].coef_, model[-1].coef_)


# -- invariances -----------------------------------------------------------------


def random_transformation(kind, d, rng):
    """Return (M, t) of a random transformation ``z -> z M + t`` of one kind."""
    M, t = np.eye(d), np.zeros(d)
    if kind == "orthogonal":
        M = random_orthogonal(rng, d)
    elif kind == "isotropic_scaling":
        M = M * rng.choice([-1, 1]) * rng.uniform(2, 5)
    elif kind == "translation":
        t = rng.normal(scale=3, size=d)
    elif kind == "permutation":
        M = M[:, np.roll(rng.permutation(d), 1)]
    elif kind == "sign_flip":
        M = np.diag(rng.permutation([-1.0, 1.0] * (d // 2)))
    elif kind == "axis_scaling":
        M = np.diag(rng.choice([-1, 1], size=d) * rng.uniform(0.3, 3, size=d))
    elif kind == "linear":
        M = rng.normal(size=(d, d))
    return M, t


PRODUCT_CONFIGS = [
    (("cosine", "euclidean", "l1", "linf"), False, False, "standard"),
    (("cosine", "euclidean", "l1", "linf"), True, False, "standard"),
    (("cosine", "euclidean"), False, False, None),
    (("euclidean", "rbf"), True, False, "l2"),
    (("l1", "linf"), False, False, "standard"),
    (("dot", "cosine"), True, False, "standard"),
    (("cosine", "l1"), True, True, "standard"),
    (("dot", "euclidean"), False, True, None),
]

KINDS = list(TRANSFORMATIONS)


def test_product_invariances_are_the_intersection_of_its_blocks():
    for names, center, standardize, output_norm in PRODUCT_CONFIGS:
        options = {
            "center": center,
            "standardize": standardize,
            "output_norm": output_norm,
        }
        blocks = [
            table_invariances(name, center, standardize, output_norm) for name in names
        ]
        assert get_invariances(list(names), **options) == set.intersection(*blocks)


@pytest.mark.parametrize(
    "config", PRODUCT_CONFIGS, ids=lambda c: "-".join(map(str, c[0] + c[1:]))
)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_declared_invariances_hold_and_others_fail(config, kind, seed):
    names, center, standardize, output_norm = config
    rng = np.random.RandomState(seed)
    X = make_data(seed + 10)
    M, t = random_transformation(kind, X.shape[1], rng)
    X_moved = X @ M + t

    def fit_transform(data):
        product = InvariantProductTransformer(
            anchors=ANCHORS,
            similarities=names,
            center=center,
            standardize=standardize,
            output_norm=output_norm,
        )
        return product.fit(data).transform(data)

    before, after = fit_transform(X), fit_transform(X_moved)
    declared = get_invariances(
        list(names), center=center, standardize=standardize, output_norm=output_norm
    )
    scale = np.abs(before).max()
    if kind in declared:
        assert_allclose(after, before, rtol=1e-7, atol=ATOL * scale)
    else:
        assert np.abs(after - before).max() > 1e-2 * scale


# -- model selection -------------------------------------------------------------


def test_grid_search_over_similarities_aggregation_and_n_anchors():
    X, y = make_blobs(n_samples=90, centers=3, n_features=4, random_state=0)
    pipe = make_pipeline(
        InvariantProductTransformer(random_state=0), LogisticRegression()
    )
    grid = {
        "invariantproducttransformer__similarities": [
            ("cosine",),
            ("euclidean", "l1"),
            ["cosine", "euclidean", "l1", "linf"],
        ],
        "invariantproducttransformer__aggregation": ["concat", "mean"],
        "invariantproducttransformer__n_anchors": [4, 8],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 12
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_[0]
    assert (
        best.get_params()["similarities"]
        in grid["invariantproducttransformer__similarities"]
    )
    width = best.n_anchors * (
        len(best.similarities) if best.aggregation == "concat" else 1
    )
    assert best.transform(X).shape == (90, width)
    # Well-separated blobs: the search finds a model far above chance (1/3).
    assert search.best_score_ > 0.9
    assert search.score(X, y) > 0.9


# -- in ColumnTransformer branches -----------------------------------------------


def test_column_transformer_branch_names_and_sparse_one_hot(tabular):
    frame, y, numeric, categorical = tabular

    def model(sparse_output, similarities=("cosine", "euclidean")):
        product = InvariantProductTransformer(
            5, similarities=similarities, center=True, random_state=0
        )
        return ColumnTransformer(
            [
                ("product", product, numeric),
                (
                    "onehot",
                    make_pipeline(
                        OneHotEncoder(sparse_output=sparse_output), clone(product)
                    ),
                    categorical,
                ),
            ]
        )

    dense = model(False).set_output(transform="pandas").fit(frame, y)
    out = dense.transform(frame)
    ids = dense.named_transformers_["product"].anchor_ids_
    assert all(i.startswith("rec") for i in ids)
    expected = [
        f"product__{s}_anchor_{i}" for s in ("cosine", "euclidean") for i in ids
    ]
    assert list(out.columns[:10]) == expected
    assert all(c.startswith("onehot__cosine_anchor_rec") for c in out.columns[10:15])

    # The one-hot branch may stay sparse when every similarity takes it.
    assert_allclose(
        model(True).fit(frame, y).transform(frame), out.to_numpy(), atol=1e-7
    )
    with pytest.raises(TypeError, match="not supported by the similarity 'l1'"):
        model(True, similarities=("cosine", "l1")).fit(frame, y)
