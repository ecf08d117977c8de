"""RelativeTransformer: bad input, outputs, chunking and use in scikit-learn tools."""

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn import config_context
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_relreps import RelativeTransformer

SIMILARITIES = ["cosine", "dot", "euclidean", "l1", "linf", "rbf"]


def make_data(n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)) + rng.normal(size=d)


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad):
    X = make_data()
    X_bad = X.copy()
    X_bad[3, 1] = bad
    rel = RelativeTransformer(5, random_state=0)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        rel.fit(X_bad)
    rel.fit(X)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        rel.transform(X_bad)


def test_empty_input_raises():
    rel = RelativeTransformer(5)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        rel.fit(np.empty((0, 3)))
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        rel.fit(np.empty((4, 0)))
    rel.fit(make_data(d=3))
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        rel.transform(np.empty((0, 3)))


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_one_sample(similarity):
    x = make_data(n=1)
    rel = RelativeTransformer(
        1, similarity=similarity, standardize=True, output_norm="standard"
    )
    out = rel.fit(x).transform(x)
    assert out.shape == (1, 1)
    # One anchor: its own relative column has zero spread, so scale 1.
    assert_allclose(out, 0.0, atol=1e-12)
    with pytest.warns(UserWarning, match="n_samples=1"):
        RelativeTransformer(5, similarity=similarity).fit(x)


def test_transform_with_other_width_raises():
    rel = RelativeTransformer(5, random_state=0).fit(make_data(d=5))
    with pytest.raises(ValueError, match="X has 4 features.*expecting 5 features"):
        rel.transform(make_data(d=4))


def test_unknown_similarity_lists_valid_names():
    with pytest.raises(ValueError, match="similarity") as error:
        RelativeTransformer(5, similarity="cosine_similarity").fit(make_data())
    for name in SIMILARITIES:
        assert repr(name) in str(error.value)


@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean", "l1", "linf"])
def test_gamma_needs_rbf(similarity):
    rel = RelativeTransformer(5, similarity=similarity, gamma=0.5)
    with pytest.raises(ValueError, match="gamma=0.5 is only used by the 'rbf'"):
        rel.fit(make_data())


@pytest.mark.parametrize("gamma", [0, -1.0])
def test_gamma_must_be_positive(gamma):
    with pytest.raises(ValueError, match="gamma"):
        RelativeTransformer(5, similarity="rbf", gamma=gamma).fit(make_data())


@pytest.mark.parametrize(
    ("params", "as_frame"),
    [
        (dict(similarity="cosine", center=True, standardize=True), False),
        (dict(similarity="l1", output_norm="standard"), True),
        (dict(similarity="rbf", anchors="kmeans"), False),
        (dict(similarity="euclidean", anchors="fps", output_norm="l2"), True),
        (dict(anchors=np.array([1, 2, 3])), False),
        (dict(anchors=np.array([[0.0, 1, 2, 3, 4], [1, 1, 1, 1, 1]])), False),
    ],
)
def test_input_is_never_modified(params, as_frame):
    X = make_data()
    X_new = make_data(n=10, seed=1)
    if as_frame:
        X, X_new = pd.DataFrame(X), pd.DataFrame(X_new)
    X_copy, X_new_copy = X.copy(), X_new.copy()
    given = params.get("anchors")
    given_copy = None if isinstance(given, str | None) else given.copy()
    rel = RelativeTransformer(3, random_state=0, **params).fit(X)
    rel.transform(X_new)
    rel.fit_transform(X)
    assert_array_equal(np.asarray(X), np.asarray(X_copy))
    assert_array_equal(np.asarray(X_new), np.asarray(X_new_copy))
    if given_copy is not None:
        assert_array_equal(rel.anchors, given_copy)


def test_read_only_input():
    X = make_data()
    X.setflags(write=False)
    out = RelativeTransformer(5, center=True, standardize=True).fit(X).transform(X)
    assert out.shape == (40, 5)


def test_zero_rows_under_cosine_stay_finite_in_every_configuration():
    X = make_data()
    X[[0, 5]] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for output_norm in (None, "l2", "standard"):
            rel = RelativeTransformer(anchors=[0, 1, 2], output_norm=output_norm)
            assert np.isfinite(rel.fit(X).transform(X)).all()


# -- feature names and DataFrame output -----------------------------------------


def test_feature_names_name_the_anchors():
    X = make_data()
    rel = RelativeTransformer(4, random_state=0).fit(X)
    ids = np.asarray(rel.anchor_indices_)
    assert list(rel.get_feature_names_out()) == [f"anchor_{i}" for i in ids]


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_set_output_gives_anchor_columns(library):
    X = make_data()
    frame = pd.DataFrame(X, columns=list("abcde"))
    rel = RelativeTransformer(4, random_state=0).set_output(transform=library)
    out = rel.fit(frame).transform(frame)
    assert isinstance(out, pd.DataFrame if library == "pandas" else pl.DataFrame)
    ids = np.asarray(rel.anchor_indices_)
    assert list(out.columns) == [f"anchor_{i}" for i in ids]
    dense = RelativeTransformer(4, random_state=0).fit(X).transform(X)
    assert_allclose(np.asarray(out), dense)


def test_feature_names_in_checked():
    frame = pd.DataFrame(make_data(), columns=list("abcde"))
    rel = RelativeTransformer(4, random_state=0).fit(frame)
    assert_array_equal(rel.feature_names_in_, list("abcde"))
    assert len(rel.get_feature_names_out(list("abcde"))) == 4
    with pytest.raises(ValueError, match="input_features is not equal"):
        rel.get_feature_names_out(list("vwxyz"))


# -- chunking, threads, fit_transform -------------------------------------------


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_chunking_and_threads_do_not_change_results(similarity):
    X = make_data(n=300, d=6)
    rel = RelativeTransformer(
        12, similarity=similarity, center=True, output_norm="standard", random_state=0
    ).fit(X)
    with config_context(working_memory=1024):
        reference = rel.transform(X)
    # A tiny budget forces one row per chunk (with a warning about it).
    with (
        config_context(working_memory=1e-6),
        pytest.warns(UserWarning, match="working_memory"),
    ):
        tiny = rel.transform(X)
    threaded = rel.set_params(n_jobs=2).transform(X)
    with config_context(working_memory=0.01):
        threaded_chunks = rel.transform(X)
    # BLAS may sum in another order for another block shape: equal to rounding,
    # which a square root amplifies for zero euclidean distances (anchor rows).
    atol = 1e-7 if similarity == "euclidean" else 1e-13
    for result in (tiny, threaded, threaded_chunks, rel.transform(X[:1])):
        assert_allclose(result, reference[: len(result)], rtol=1e-12, atol=atol)


@pytest.mark.parametrize(
    "params",
    [
        dict(similarity="cosine", anchors="kmeans"),
        dict(similarity="linf", center=True, standardize=True, output_norm="standard"),
        dict(similarity="rbf", gamma=0.2, anchors="fps", output_norm="l2"),
        dict(similarity="dot", anchors="stratified"),
    ],
)
def test_fit_transform_equals_fit_then_transform(params):
    X = make_data()
    y = np.arange(40) % 4
    a = RelativeTransformer(6, random_state=0, **params).fit_transform(X, y)
    b = RelativeTransformer(6, random_state=0, **params).fit(X, y).transform(X)
    assert_array_equal(a, b)


def test_refit_replaces_state():
    rel = RelativeTransformer(5, similarity="dot", center=True, random_state=0)
    rel.fit(make_data(d=5))
    X = make_data(d=3, seed=2)
    fresh = RelativeTransformer(5, similarity="dot", center=True, random_state=0)
    assert_array_equal(rel.fit(X).transform(X), fresh.fit(X).transform(X))
    assert rel.n_features_in_ == 3


def test_sparse_transform_after_dense_fit():
    X = make_data()
    X[X < 0.5] = 0
    rel = RelativeTransformer(5, similarity="euclidean", random_state=0).fit(X)
    # Zero distances go through a square root: absolute error ~sqrt(eps) * norm.
    assert_allclose(rel.transform(sparse.csr_matrix(X)), rel.transform(X), atol=1e-7)


# -- inside scikit-learn tools --------------------------------------------------


def classification_data():
    return make_classification(
        n_samples=150,
        n_features=8,
        n_informative=5,
        n_classes=3,
        random_state=0,
    )


def test_pipeline_with_classifier():
    X, y = classification_data()
    pipe = make_pipeline(
        RelativeTransformer(30, center=True, random_state=0), LogisticRegression()
    )
    pipe.fit(X[:100], y[:100])
    assert pipe.predict(X[100:]).shape == (50,)
    # Far above chance (1/3) on held-out rows.
    assert pipe.score(X[100:], y[100:]) > 0.6
    assert list(pipe[:-1].get_feature_names_out())[0].startswith("anchor_")


def test_grid_search_over_n_anchors_and_similarity():
    X, y = classification_data()
    pipe = make_pipeline(
        RelativeTransformer(output_norm="standard", random_state=0),
        LogisticRegression(solver="newton-cholesky"),
    )
    grid = GridSearchCV(
        pipe,
        {
            "relativetransformer__n_anchors": [5, 40],
            "relativetransformer__similarity": ["cosine", "euclidean", "l1"],
        },
        cv=3,
    ).fit(X, y)
    assert grid.cv_results_["mean_test_score"].shape == (6,)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    best = grid.best_estimator_[0]
    assert best.n_anchors in (5, 40) and best.anchors_.shape[0] == best.n_anchors
    assert grid.score(X, y) > 1 / 3


# -- in ColumnTransformer and FeatureUnion branches ------------------------------


def column_branches(relative, sparse_output=False):
    """Scale + relative on the numeric columns; one-hot on the categorical."""
    return lambda numeric, categorical: ColumnTransformer(
        [
            ("relative", make_pipeline(StandardScaler(), relative), numeric),
            ("onehot", OneHotEncoder(sparse_output=sparse_output), categorical),
        ]
    )


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_column_transformer_names_and_dataframe_output(library, tabular):
    frame, y, numeric, categorical = tabular
    make = column_branches(RelativeTransformer(5, random_state=0))
    columns = make(numeric, categorical).set_output(transform=library)
    X = frame if library == "pandas" else pl.from_pandas(frame)
    out = columns.fit_transform(X, y)

    assert isinstance(out, pd.DataFrame if library == "pandas" else pl.DataFrame)
    relative = columns.named_transformers_["relative"][-1]
    ids = list(relative.anchor_ids_)
    # pandas keeps the index: anchors are named by record label, polars has none.
    if library == "pandas":
        assert all(i.startswith("rec") for i in ids)
        assert out.index.equals(frame.index)
    else:
        assert ids == list(relative.anchor_indices_)
    names = [f"relative__anchor_{i}" for i in ids]
    onehot = columns.named_transformers_["onehot"].get_feature_names_out()
    assert list(out.columns) == names + [f"onehot__{n}" for n in onehot]
    assert "onehot__region_south" in list(out.columns)
    assert list(columns.get_feature_names_out()) == list(out.columns)
    # Same anchors and values as on plain arrays.
    plain = make(numeric, categorical).fit_transform(frame, y)
    assert_allclose(np.asarray(out), plain)


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_feature_union_names_and_dataframe_output(library, tabular):
    frame, _, numeric, _ = tabular
    X = frame[numeric] if library == "pandas" else pl.from_pandas(frame[numeric])
    union = FeatureUnion(
        [
            ("relative", RelativeTransformer(4, random_state=0)),
            ("scale", StandardScaler()),
        ]
    ).set_output(transform=library)
    out = union.fit_transform(X)
    relative = union.transformer_list[0][1]
    assert list(out.columns) == [
        f"relative__anchor_{i}" for i in relative.anchor_ids_
    ] + [f"scale__{c}" for c in numeric]
    assert_allclose(np.asarray(out)[:, :4], np.asarray(relative.transform(X)))


@pytest.mark.parametrize(
    "params",
    [
        dict(similarity="cosine"),
        dict(similarity="cosine", center=True, output_norm="standard"),
        dict(similarity="dot", standardize=True),
        dict(similarity="euclidean"),
        dict(similarity="rbf", gamma=0.5),
    ],
)
def test_sparse_one_hot_branch_matches_dense(params, tabular):
    frame, y, numeric, categorical = tabular

    def model(sparse_output):
        onehot = OneHotEncoder(sparse_output=sparse_output)
        return ColumnTransformer(
            [
                ("scale", StandardScaler(), numeric),
                (
                    "relative",
                    make_pipeline(
                        onehot, RelativeTransformer(6, random_state=0, **params)
                    ),
                    categorical,
                ),
            ]
        )

    sparse_model = model(True).fit(frame, y)
    onehot = sparse_model.named_transformers_["relative"][0]
    assert sparse.issparse(onehot.transform(frame[categorical]))
    # Zero euclidean distances go through a square root: ~sqrt(eps) absolute error.
    assert_allclose(
        sparse_model.transform(frame),
        model(False).fit(frame, y).transform(frame),
        rtol=1e-10,
        atol=1e-7,
    )


def test_sparse_column_transformer_output_feeds_the_relative_step(tabular):
    frame, y, numeric, categorical = tabular
    columns = ColumnTransformer(
        [
            ("scale", StandardScaler(), numeric),
            ("onehot", OneHotEncoder(), categorical),
        ],
        sparse_threshold=1.0,
    )
    pipe = make_pipeline(columns, RelativeTransformer(8, random_state=0)).fit(frame, y)
    assert sparse.issparse(pipe[0].transform(frame))
    dense = make_pipeline(
        columns.set_params(sparse_threshold=0), RelativeTransformer(8, random_state=0)
    ).fit(frame, y)
    assert_allclose(pipe.transform(frame), dense.transform(frame), atol=1e-12)


@pytest.mark.parametrize("similarity", ["l1", "linf"])
def test_dense_only_similarity_refuses_a_sparse_one_hot_branch(similarity, tabular):
    frame, y, _, categorical = tabular
    branch = make_pipeline(
        OneHotEncoder(sparse_output=True),
        RelativeTransformer(4, similarity=similarity, random_state=0),
    )
    columns = ColumnTransformer([("relative", branch, categorical)])
    with pytest.raises(
        TypeError,
        match=f"Sparse input is not supported by the similarity '{similarity}'; "
        r"pass a dense array \(X.toarray\(\)\)",
    ):
        columns.fit(frame, y)


def test_grid_search_over_a_column_transformer_pipeline(tabular):
    frame, y, numeric, categorical = tabular
    make = column_branches(RelativeTransformer(5, random_state=0))
    pipe = make_pipeline(
        make(numeric, categorical), LogisticRegression(max_iter=500)
    ).set_output(transform="pandas")
    grid = {
        "columntransformer__relative__relativetransformer__n_anchors": [4, 12],
        "columntransformer__relative__relativetransformer__similarity": [
            "cosine",
            "rbf",
        ],
        "columntransformer__relative__relativetransformer__center": [False, True],
        "columntransformer__relative__relativetransformer__anchors": [
            "random",
            "stratified",
        ],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(frame, y)

    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (16,) and np.isfinite(scores).all()
    best = search.best_estimator_[0].named_transformers_["relative"][-1]
    assert best.anchors_.shape[0] == best.n_anchors
    # The refit model's features name the training records it compares with.
    names = search.best_estimator_[:-1].get_feature_names_out()
    assert names[0] == f"relative__anchor_{best.anchor_ids_[0]}"
    assert set(best.anchor_ids_) <= set(frame.index)
    if best.anchors == "stratified":
        assert set(y[frame.index.get_indexer(best.anchor_ids_)]) == {0, 1}


# -- anchors identified by id ----------------------------------------------------


def _frame(n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    ids = [f"item{i}" for i in range(n)]
    return pd.DataFrame(rng.normal(size=(n, d)), index=ids, columns=list("abcde"))


def test_anchors_as_a_list_of_ids_of_a_dataframe():
    X = _frame()
    ids = ["item7", "item3", "item30"]
    by_id = RelativeTransformer(anchors=ids).fit(X)
    by_position = RelativeTransformer(anchors=[7, 3, 30]).fit(X)
    assert list(by_id.anchor_ids_) == ids
    assert list(by_id.anchor_indices_) == [7, 3, 30]
    np.testing.assert_array_equal(by_id.transform(X), by_position.transform(X))
    assert list(by_id.get_feature_names_out()) == [f"anchor_{i}" for i in ids]


def test_unknown_or_repeated_anchor_ids_are_refused():
    X = _frame()
    with pytest.raises(ValueError, match=r"2 anchor ids are not in the index.*nope"):
        RelativeTransformer(anchors=["item1", "nope", "nada"]).fit(X)
    with pytest.raises(ValueError, match="anchor ids contain duplicates"):
        RelativeTransformer(anchors=["item1", "item1"]).fit(X)


def test_anchor_vectors_as_a_dataframe_keep_their_ids():
    X = _frame()
    anchors = X.loc[["item5", "item9"]]
    est = RelativeTransformer(anchors=anchors).fit(X)
    assert list(est.anchor_ids_) == ["item5", "item9"]
    assert est.anchor_indices_ is None
    np.testing.assert_allclose(est.anchors_, anchors.to_numpy())
