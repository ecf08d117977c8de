"""Scoring stitched models across encoders whose items are matched by id."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_relreps import RelativeTransformer, stitch
from sklearn_relreps.model_selection import stitching_scorer, stitching_scores

N = 240


@pytest.fixture
def encoders():
    """Three encoders of one base space: rotations plus noise, string ids; the
    third is shifted far from the origin and wider."""
    rng = np.random.RandomState(0)
    base = rng.normal(size=(N, 8))
    ids = [f"doc{i:03d}" for i in range(N)]

    def rotated(width, shift):
        rotation, _ = np.linalg.qr(rng.normal(size=(width, width)))
        padded = np.hstack([base, np.zeros((N, width - 8))])
        return padded @ rotation + 0.05 * rng.normal(size=(N, width)) + shift

    frames = {
        "a": pd.DataFrame(rotated(8, 0.0), index=ids),
        "b": pd.DataFrame(rotated(8, 0.0), index=ids),
        "c": pd.DataFrame(rotated(12, 6.0), index=ids),
    }
    y = pd.Series((base[:, 0] + base[:, 1] > 0).astype(int), index=ids)
    return frames, y


def make_model(**params):
    relative = RelativeTransformer(20, center=True, output_norm=None, random_state=0)
    relative.set_params(**params)
    return make_pipeline(relative, LogisticRegression())


def test_scorer_stitches_then_scores(encoders):
    frames, y = encoders
    source, target = frames["a"], frames["c"]
    model = make_model().fit(source.iloc[:180], y.iloc[:180])
    validation = source.iloc[180:].sample(frac=1.0, random_state=0)
    y_validation = y.loc[validation.index]

    score = stitching_scorer(target)(model, validation, y_validation)

    stitched = stitch(model, target)
    expected = accuracy_score(
        y_validation, stitched.predict(target.loc[validation.index])
    )
    assert score == expected
    assert score > 0.9


def test_scorer_uses_the_given_metric(encoders):
    frames, y = encoders
    model = make_model().fit(frames["a"], y)
    scorer = stitching_scorer(frames["b"], scoring="balanced_accuracy")
    stitched = stitch(model, frames["b"])
    expected = balanced_accuracy_score(y, stitched.predict(frames["b"]))
    assert scorer(model, frames["a"], y) == pytest.approx(expected)


def test_grid_search_chooses_the_configuration_that_stitches(encoders):
    # The target is shifted far from the origin: without centring, cosines to
    # the anchors change and the stitched model fails; with it, it transfers.
    frames, y = encoders
    search = GridSearchCV(
        make_model(),
        {"relativetransformer__center": [False, True]},
        scoring=stitching_scorer(frames["c"]),
        cv=3,
    ).fit(frames["a"], y)
    assert search.best_params_ == {"relativetransformer__center": True}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > 0.9 and scores[1] - scores[0] > 0.1


def test_cross_val_score(encoders):
    frames, y = encoders
    scores = cross_val_score(
        make_model(), frames["a"], y, scoring=stitching_scorer(frames["b"]), cv=3
    )
    assert scores.shape == (3,) and scores.min() > 0.8


def test_scorer_needs_a_dataframe(encoders):
    frames, y = encoders
    model = make_model().fit(frames["a"], y)
    with pytest.raises(TypeError, match="X must be a pandas DataFrame .* got ndarray"):
        stitching_scorer(frames["b"])(model, frames["a"].to_numpy(), y)


def test_scorer_missing_items(encoders):
    frames, y = encoders
    model = make_model().fit(frames["a"], y)
    target = frames["b"].drop(index=["doc239"])
    anchors = set(model[0].anchor_ids_)
    assert "doc239" not in anchors
    with pytest.raises(ValueError, match=r"1 ids are missing .* \['doc239'\]"):
        stitching_scorer(target)(model, frames["a"], y)


def test_scorer_parameters(encoders):
    frames, _ = encoders
    with pytest.raises(InvalidParameterError, match="'target' parameter"):
        stitching_scorer(frames["a"].to_numpy())
    repeated = frames["a"].iloc[[0, 1, 1]]
    with pytest.raises(ValueError, match=r"repeats the ids \['doc001'\]"):
        stitching_scorer(repeated)
    assert "accuracy" in repr(stitching_scorer(frames["a"]))


def test_stitching_scores(encoders):
    frames, y = encoders
    before = {name: frame.copy() for name, frame in frames.items()}
    scores = stitching_scores(make_model(), frames, y)

    assert list(scores.columns) == ["source", "target", "stitched", "own", "ratio"]
    pairs = list(zip(scores["source"], scores["target"], strict=True))
    assert pairs == [
        ("a", "b"),
        ("a", "c"),
        ("b", "a"),
        ("b", "c"),
        ("c", "a"),
        ("c", "b"),
    ]
    np.testing.assert_allclose(scores["ratio"], scores["stitched"] / scores["own"])
    assert scores["stitched"].min() > 0.85
    assert scores["ratio"].min() > 0.9
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_stitching_scores_with_given_split(encoders):
    frames, y = encoders
    ids = frames["a"].index
    train, test = list(ids[:160]), list(ids[160:])
    scores = stitching_scores(
        make_model(), {"a": frames["a"], "b": frames["b"]}, y, cv=(train, test)
    )
    own_b = clone(make_model()).fit(frames["b"].loc[train], y.loc[train])
    expected = own_b.score(frames["b"].loc[test], y.loc[test])
    assert scores.loc[0, "own"] == pytest.approx(expected)
    source = clone(make_model()).fit(frames["a"].loc[train], y.loc[train])
    stitched = stitch(source, frames["b"])
    assert scores.loc[0, "stitched"] == pytest.approx(
        stitched.score(frames["b"].loc[test], y.loc[test])
    )


def test_stitching_scores_errors(encoders):
    frames, y = encoders
    with pytest.raises(ValueError, match="at least two encoders; got 1"):
        stitching_scores(make_model(), {"a": frames["a"]}, y)
    with pytest.raises(TypeError, match="encoder 'b' must be a DataFrame"):
        stitching_scores(
            make_model(), {"a": frames["a"], "b": frames["b"].to_numpy()}, y
        )
    with pytest.raises(ValueError, match=r"ids are missing from the index of y"):
        stitching_scores(make_model(), frames, y.iloc[10:])
    with pytest.raises(InvalidParameterError, match="'y' parameter"):
        stitching_scores(make_model(), frames, y.to_numpy())
