import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_relreps import (
    InvariantProductTransformer,
    RelativeTransformer,
    StitchingWarning,
    stitch,
)

PROJECTIONS = [
    RelativeTransformer(12, center=True, output_norm="standard", random_state=0),
    InvariantProductTransformer(12, center=True, random_state=0),
]


@pytest.fixture
def spaces():
    """Space A, and space B: A with its coordinates permuted, their signs
    flipped, rescaled, shifted and zero-padded, which every similarity of
    the projections below ignores."""
    rng = np.random.RandomState(0)
    X_a = rng.normal(size=(120, 6))
    y = (X_a[:, 0] + X_a[:, 1] > 0).astype(int)
    signs = np.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    X_b = np.hstack(
        [3.0 * X_a[:, [4, 2, 0, 5, 1, 3]] * signs + 5.0, np.zeros((120, 2))]
    )
    return X_a, X_b, y


def fresh_on_anchors(projection, anchors_b, X_b):
    """Reference: the same projection fit afresh on B's anchor vectors."""
    return projection.set_params(anchors=anchors_b).fit(X_b).transform(X_b)


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: type(p).__name__)
def test_bare_transformer_matches_a_fresh_fit(projection, spaces):
    X_a, X_b, _ = spaces
    fitted = clone(projection).fit(X_a)
    anchors_b = X_b[fitted.anchor_indices_]
    stitched = stitch(fitted, anchors_b)
    assert stitched.n_features_in_ == 8
    assert np.array_equal(stitched.anchor_ids_, fitted.anchor_ids_)
    expected = fresh_on_anchors(clone(projection), anchors_b, X_b)
    np.testing.assert_allclose(stitched.transform(X_b), expected, atol=1e-12)
    assert fitted.n_features_in_ == 6


def pickled_state(estimator):
    return pickle.dumps(estimator)


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: type(p).__name__)
def test_pipeline_stitching(projection, spaces):
    X_a, X_b, y = spaces
    model = make_pipeline(clone(projection), LogisticRegression()).fit(X_a, y)
    before = pickled_state(model)
    predictions_a = model.predict(X_a)
    anchors_b = X_b[model[0].anchor_indices_]

    stitched = stitch(model, anchors_b)

    # The original is untouched, the copy shares no fitted object with it.
    assert pickled_state(model) == before
    assert stitched is not model and stitched[-1] is not model[-1]
    # Downstream steps are reused as fitted.
    assert np.array_equal(stitched[-1].coef_, model[-1].coef_)
    assert np.array_equal(stitched[-1].intercept_, model[-1].intercept_)
    # B is A up to a similarity transform the projection ignores.
    assert np.array_equal(stitched.predict(X_b), predictions_a)
    reference = model[-1].predict(fresh_on_anchors(clone(projection), anchors_b, X_b))
    assert np.array_equal(stitched.predict(X_b), reference)
    assert stitched.n_features_in_ == 8


def test_nested_pipeline_and_later_relative_steps(spaces):
    X_a, X_b, y = spaces
    features = Pipeline(
        [
            ("relative", RelativeTransformer(15, center=True, random_state=0)),
            ("second", RelativeTransformer(5, random_state=1)),
            ("scale", StandardScaler()),
        ]
    )
    model = Pipeline(
        [("skip", "passthrough"), ("features", features), ("clf", LogisticRegression())]
    ).fit(X_a, y)
    anchors_b = X_b[features[0].anchor_indices_]

    stitched = stitch(model, anchors_b)

    inner = stitched["features"]
    np.testing.assert_allclose(inner[0].anchors_, anchors_b)
    # Steps after the entry step see relative vectors: kept as fitted.
    assert np.array_equal(inner["second"].anchors_, features["second"].anchors_)
    assert np.array_equal(inner["scale"].mean_, features["scale"].mean_)
    assert np.array_equal(stitched.predict(X_b), model.predict(X_a))


def test_dataframe_anchors_are_reordered_by_id(spaces):
    X_a, X_b, y = spaces
    ids = [f"item{i}" for i in range(len(X_a))]
    model = make_pipeline(
        RelativeTransformer(10, center=True, random_state=0), LogisticRegression()
    ).fit(pd.DataFrame(X_a, index=ids), y)
    anchor_ids = model[0].anchor_ids_
    assert set(anchor_ids) <= set(ids)
    frame_b = pd.DataFrame(X_b, index=ids).loc[anchor_ids]
    in_order = stitch(model, frame_b.to_numpy())
    shuffled = frame_b.sample(frac=1.0, random_state=0)
    assert not shuffled.index.equals(frame_b.index)

    by_id = stitch(model, shuffled)

    np.testing.assert_allclose(by_id[0].anchors_, in_order[0].anchors_)
    assert np.array_equal(by_id.predict(X_b), in_order.predict(X_b))


def test_row_positions_as_ids(spaces):
    X_a, X_b, y = spaces
    model = RelativeTransformer(10, random_state=0).fit(X_a)
    frame = pd.DataFrame(X_b).iloc[model.anchor_indices_[::-1]]
    stitched = stitch(model, frame)
    np.testing.assert_allclose(stitched.anchors_, X_b[model.anchor_indices_])


def test_feature_names_follow_the_anchors(spaces):
    X_a, X_b, y = spaces
    names_a = [f"a{j}" for j in range(6)]
    names_b = [f"b{j}" for j in range(8)]
    model = make_pipeline(
        RelativeTransformer(10, random_state=0), LogisticRegression()
    ).fit(pd.DataFrame(X_a, columns=names_a), y)
    anchors = pd.DataFrame(X_b, columns=names_b).iloc[model[0].anchor_indices_]

    named = stitch(model, anchors)
    assert list(named.feature_names_in_) == names_b
    named.predict(pd.DataFrame(X_b, columns=names_b))

    unnamed = stitch(model, anchors.to_numpy())
    assert not hasattr(unnamed[0], "feature_names_in_")
    assert list(model.feature_names_in_) == names_a


def test_sparse_and_float32_anchors(spaces):
    X_a, X_b, _ = spaces
    model = RelativeTransformer(10, random_state=0).fit(X_a)
    anchors_b = X_b[model.anchor_indices_]
    from_sparse = stitch(model, sparse.csr_matrix(anchors_b))
    np.testing.assert_allclose(from_sparse.anchors_, anchors_b)
    single = stitch(model, anchors_b.astype(np.float32))
    assert single.transform(X_b.astype(np.float32)).dtype == np.float32


# -- errors ---------------------------------------------------------------------


@pytest.fixture
def model(spaces):
    X_a, _, y = spaces
    return make_pipeline(
        RelativeTransformer(10, random_state=0), LogisticRegression()
    ).fit(X_a, y)


def test_wrong_anchor_count(model, spaces):
    _, X_b, _ = spaces
    with pytest.raises(ValueError, match="fit with 10 anchors but 9 anchor vectors"):
        stitch(model, X_b[model[0].anchor_indices_[:9]])


def test_width_of_new_inputs_must_match_the_anchors(model, spaces):
    _, X_b, _ = spaces
    stitched = stitch(model, X_b[model[0].anchor_indices_])
    with pytest.raises(ValueError, match="X has 6 features, but .* expecting 8"):
        stitched.predict(X_b[:, :6])


def test_missing_ids(model, spaces):
    _, X_b, _ = spaces
    frame = pd.DataFrame(X_b).iloc[model[0].anchor_indices_]
    frame = frame.rename(index={frame.index[0]: -1})
    with pytest.raises(ValueError, match="1 of the 10 anchor ids .* are missing"):
        stitch(model, frame)


def test_duplicate_ids(model, spaces):
    _, X_b, _ = spaces
    ids = model[0].anchor_indices_
    frame = pd.DataFrame(X_b).iloc[np.r_[ids, ids[:1]]]
    with pytest.raises(ValueError, match=f"repeats the ids \\[{ids[0]}\\]"):
        stitch(model, frame)


def test_extra_rows_are_picked_by_id(model, spaces):
    # A frame of every item embedded by B: the anchors' rows are picked by id.
    _, X_b, _ = spaces
    frame = pd.DataFrame(X_b).sample(frac=1.0, random_state=1)
    stitched = stitch(model, frame)
    np.testing.assert_array_equal(stitched[0].anchors_, X_b[model[0].anchor_indices_])


def test_missing_ids_in_a_larger_frame(model, spaces):
    _, X_b, _ = spaces
    absent = model[0].anchor_ids_[[2, 5]]
    frame = pd.DataFrame(X_b).drop(index=absent)
    with pytest.raises(
        ValueError,
        match=f"2 of the 10 anchor ids .* e.g. \\[{absent[0]}, {absent[1]}\\]",
    ):
        stitch(model, frame)


def test_repeated_ids_outside_the_anchors_are_ignored(model, spaces):
    _, X_b, _ = spaces
    others = np.setdiff1d(np.arange(len(X_b)), model[0].anchor_indices_)[:3]
    frame = pd.DataFrame(X_b).iloc[np.r_[np.arange(len(X_b)), others]]
    stitched = stitch(model, frame)
    np.testing.assert_array_equal(stitched[0].anchors_, X_b[model[0].anchor_indices_])


def test_nan_anchors(model, spaces):
    _, X_b, _ = spaces
    anchors = X_b[model[0].anchor_indices_]
    anchors[3, 2] = np.nan
    with pytest.raises(ValueError, match="Input anchors contains NaN"):
        stitch(model, anchors)


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(RelativeTransformer(5), LogisticRegression()),
        RelativeTransformer(5),
    ],
    ids=["pipeline", "transformer"],
)
def test_unfitted(estimator, spaces):
    _, X_b, _ = spaces
    with pytest.raises(NotFittedError, match="is not fitted yet; fit it on the source"):
        stitch(estimator, X_b[:5])


@pytest.mark.parametrize(
    "estimator",
    [make_pipeline(StandardScaler(), LogisticRegression()), LogisticRegression()],
    ids=["pipeline", "classifier"],
)
def test_no_relative_step(estimator, spaces):
    X_a, X_b, y = spaces
    estimator = clone(estimator).fit(X_a, y)
    with pytest.raises(ValueError, match="has no relative step to re-anchor"):
        stitch(estimator, X_b[:5])


def test_fitted_step_before_the_relative_step(spaces):
    X_a, X_b, y = spaces
    model = make_pipeline(
        StandardScaler(), RelativeTransformer(5, random_state=0), LogisticRegression()
    ).fit(X_a, y)
    with pytest.raises(ValueError, match="'standardscaler' .* comes before"):
        stitch(model, X_b[:5])


# -- relative steps in FeatureUnion / ColumnTransformer branches -------------------


def branch_models():
    union = FeatureUnion(
        [
            ("relative", RelativeTransformer(5, random_state=0)),
            ("scale", StandardScaler()),
        ]
    )
    columns = ColumnTransformer(
        [
            (
                "relative",
                make_pipeline(StandardScaler(), RelativeTransformer(5, random_state=0)),
                [0, 1, 2],
            ),
            ("rest", "passthrough", [3, 4, 5]),
        ]
    )
    return {
        "union": (make_pipeline(union, LogisticRegression()), "featureunion__relative"),
        "columns": (
            make_pipeline(columns, LogisticRegression()),
            "columntransformer__relative__relativetransformer",
        ),
        "bare_union": (union, "FeatureUnion__relative"),
        "after_a_scaler": (
            make_pipeline(StandardScaler(), union, LogisticRegression()),
            "featureunion__relative",
        ),
    }


@pytest.mark.parametrize("case", ["union", "columns", "bare_union", "after_a_scaler"])
def test_relative_step_in_a_branch_is_refused(case, spaces):
    X_a, X_b, y = spaces
    estimator, path = branch_models()[case]
    estimator.fit(X_a, y)
    before = pickled_state(estimator)
    with pytest.raises(
        ValueError,
        match=f"relative step '{path}' sits in a branch .* Stitch the branch's own "
        "pipeline",
    ):
        stitch(estimator, X_b[:5])
    assert pickled_state(estimator) == before


def test_relative_branches_after_the_entry_step_are_kept(spaces):
    # Branches that see relative vectors are encoder-independent: allowed.
    X_a, X_b, y = spaces
    union = FeatureUnion(
        [("again", RelativeTransformer(4, random_state=1)), ("scale", StandardScaler())]
    )
    model = make_pipeline(
        RelativeTransformer(10, center=True, random_state=0),
        union,
        LogisticRegression(),
    ).fit(X_a, y)
    stitched = stitch(model, X_b[model[0].anchor_indices_])
    again = stitched[1].transformer_list[0][1]
    assert np.array_equal(again.anchors_, union.transformer_list[0][1].anchors_)
    assert np.array_equal(stitched.predict(X_b), model.predict(X_a))


def test_a_branch_pipeline_can_be_stitched_on_its_columns(spaces):
    # The workaround the refusal suggests: stitch the branch's own pipeline, on
    # the columns of B that hold the branch's columns of A (0, 1, 2).
    X_a, X_b, y = spaces
    columns = ColumnTransformer(
        [("relative", RelativeTransformer(8, center=True, random_state=0), [0, 1, 2])]
    )
    model = make_pipeline(columns, LogisticRegression()).fit(X_a, y)
    relative = model[0].named_transformers_["relative"]
    branch = make_pipeline(relative, model[-1])
    X_b_branch = X_b[:, [2, 4, 1]]

    stitched = stitch(branch, X_b_branch[relative.anchor_indices_])

    assert np.array_equal(stitched.predict(X_b_branch), model.predict(X_a))


# -- fitted searches -------------------------------------------------------------


@pytest.mark.parametrize("search_cls", [GridSearchCV, RandomizedSearchCV])
def test_a_fitted_search_stitches_its_best_estimator(search_cls, spaces):
    X_a, X_b, y = spaces
    model = make_pipeline(
        RelativeTransformer(10, center=True, random_state=0), LogisticRegression()
    )
    grid = {"logisticregression__C": [0.1, 1.0]}
    if search_cls is GridSearchCV:
        search = search_cls(model, grid, cv=3)
    else:
        search = search_cls(model, grid, n_iter=2, cv=3, random_state=0)
    search.fit(X_a, y)
    anchors_b = X_b[search.best_estimator_[0].anchor_indices_]

    stitched = stitch(search, anchors_b)

    assert isinstance(stitched, Pipeline)
    assert stitched is not search.best_estimator_
    np.testing.assert_allclose(stitched[0].anchors_, anchors_b)
    assert np.array_equal(stitched.predict(X_b), search.predict(X_a))


def test_search_without_refit(spaces):
    X_a, X_b, y = spaces
    search = GridSearchCV(
        make_pipeline(RelativeTransformer(10, random_state=0), LogisticRegression()),
        {"logisticregression__C": [0.1, 1.0]},
        cv=3,
        refit=False,
    ).fit(X_a, y)
    with pytest.raises(ValueError, match="created with refit=False"):
        stitch(search, X_b[:10])


def test_unfitted_search(spaces):
    _, X_b, _ = spaces
    search = GridSearchCV(RelativeTransformer(5), {"n_anchors": [3, 5]})
    with pytest.raises(NotFittedError, match="GridSearchCV is not fitted yet"):
        stitch(search, X_b[:5])


# -- anchor agreement check --------------------------------------------------------


def test_shuffled_anchors_warn(model, spaces):
    _, X_b, _ = spaces
    anchors_b = X_b[model[0].anchor_indices_]
    shuffled = anchors_b[[3, 7, 0, 9, 5, 1, 8, 2, 6, 4]]
    with pytest.warns(StitchingWarning, match=r"score -?0\.\d\d < 0\.15.*same order"):
        stitch(model, shuffled)


def test_matching_anchors_do_not_warn(model, spaces):
    _, X_b, _ = spaces
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stitch(model, X_b[model[0].anchor_indices_])


def test_agreement_check_skipped_below_three_anchors(spaces):
    X_a, X_b, y = spaces
    model = make_pipeline(
        RelativeTransformer(2, random_state=0), LogisticRegression()
    ).fit(X_a, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stitch(model, X_b[model[0].anchor_indices_[::-1]])


# -- ridge alignment ---------------------------------------------------------------


def test_ridge_alignment_of_a_bare_transformer(spaces):
    X_a, X_b, _ = spaces
    fitted = RelativeTransformer(10, center=True, random_state=0).fit(X_a)
    aligned = stitch(fitted, X_b[fitted.anchor_indices_], align="ridge", alpha=1e-8)
    assert isinstance(aligned, Pipeline)
    assert [name for name, _ in aligned.steps] == ["relative", "align"]
    assert aligned["align"].coef_.shape == (10, 10)
    # B relates to A by a map the projection ignores: the map leaves the
    # relative vectors as they are.
    np.testing.assert_allclose(aligned.transform(X_b), fitted.transform(X_a), atol=1e-5)
    names = aligned.get_feature_names_out()
    assert list(names) == list(fitted.get_feature_names_out())


def test_ridge_map_is_the_identity_for_an_exact_rotation():
    rng = np.random.RandomState(3)
    X_a = rng.normal(size=(80, 20))
    rotation, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    # Without centring, the 8 anchors' relative vectors have full rank (centred
    # anchors sum to zero and would leave one direction unconstrained).
    fitted = RelativeTransformer(8, random_state=0, center=False, output_norm=None)
    fitted.fit(X_a)
    aligned = stitch(
        fitted, (X_a @ rotation)[fitted.anchor_indices_], align="ridge", alpha=1e-10
    )
    np.testing.assert_allclose(aligned["align"].coef_, np.eye(8), atol=1e-4)


def test_ridge_map_definition(spaces):
    X_a, _, y = spaces
    rng = np.random.RandomState(4)
    X_b = np.tanh(X_a @ rng.normal(size=(6, 7)))
    model = make_pipeline(
        RelativeTransformer(10, center=True, random_state=0), LogisticRegression()
    ).fit(X_a, y)
    anchors_b = X_b[model[0].anchor_indices_]
    aligned = stitch(model, anchors_b, align="ridge", alpha=0.5)
    R_S = model[0].transform(model[0].anchors_)
    R_T = aligned[0].transform(anchors_b)
    expected = np.linalg.solve(R_T.T @ R_T + 0.5 * np.eye(10), R_T.T @ R_S)
    np.testing.assert_allclose(aligned["align"].coef_, expected, atol=1e-10)
    assert [name for name, _ in aligned.steps] == [
        "relativetransformer",
        "align",
        "logisticregression",
    ]
    # The map feeds the classifier the mapped relative vectors.
    np.testing.assert_allclose(
        aligned.decision_function(X_b),
        model[-1].decision_function(aligned[0].transform(X_b) @ expected),
    )
    # The source model is untouched and the aligned one pickles.
    assert len(model.steps) == 2
    restored = pickle.loads(pickle.dumps(aligned))
    assert np.array_equal(restored.predict(X_b), aligned.predict(X_b))


def test_ridge_alignment_in_a_nested_pipeline(spaces):
    X_a, X_b, y = spaces
    features = Pipeline(
        [
            ("align", RelativeTransformer(10, center=True, random_state=0)),
            ("scale", StandardScaler()),
        ]
    )
    model = Pipeline([("features", features), ("clf", LogisticRegression())]).fit(
        X_a, y
    )
    aligned = stitch(model, X_b[features[0].anchor_indices_], align="ridge")
    assert [name for name, _ in aligned["features"].steps] == [
        "align",
        "align_",
        "scale",
    ]
    assert [name for name, _ in aligned.steps] == ["features", "clf"]


def test_ridge_alignment_helps_under_a_nonlinear_distortion():
    rng = np.random.RandomState(0)
    X_a = rng.normal(size=(600, 10))
    y = (X_a[:, 0] + 0.5 * X_a[:, 1] > 0).astype(int)
    mixing = rng.normal(size=(10, 16)) / np.sqrt(10)
    X_b = np.tanh(1.5 * X_a @ mixing) + 0.3 * (X_a @ mixing) ** 2
    model = make_pipeline(
        RelativeTransformer(60, center=True, output_norm=None, random_state=0),
        LogisticRegression(),
    ).fit(X_a[:400], y[:400])
    anchors_b = X_b[model[0].anchor_indices_]
    plain = stitch(model, anchors_b)
    aligned = stitch(model, anchors_b, align="ridge", alpha=0.1)

    # The relative vectors of held-out items come closer to the source's.
    source = model[0].transform(X_a[400:])
    error_plain = np.mean((plain[0].transform(X_b[400:]) - source) ** 2)
    error_aligned = np.mean((aligned[:2].transform(X_b[400:]) - source) ** 2)
    assert error_aligned < 0.75 * error_plain
    assert aligned.score(X_b[400:], y[400:]) >= plain.score(X_b[400:], y[400:])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"align": "ridge", "alpha": 0.0}, "'alpha' parameter"),
        ({"align": "ridge", "alpha": -1.0}, "'alpha' parameter"),
        ({"align": "lasso"}, "'align' parameter"),
    ],
)
def test_invalid_alignment_parameters(model, spaces, params, match):
    _, X_b, _ = spaces
    with pytest.raises(InvalidParameterError, match=match):
        stitch(model, X_b[model[0].anchor_indices_], **params)
