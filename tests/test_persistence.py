"""Fitted estimators and stitched pipelines survive pickle, joblib and skops."""

import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

from sklearn_relreps import (
    InvariantProductTransformer,
    LatentTranslator,
    RelativeTransformer,
    stitch,
)

skops_io = pytest.importorskip("skops.io")

# The only types a user must trust to load this package's estimators with skops;
# scikit-learn and NumPy types are trusted by skops itself.
PACKAGE_TYPES = {
    "sklearn_relreps._relative.RelativeTransformer",
    "sklearn_relreps._product.InvariantProductTransformer",
    "sklearn_relreps._translate.LatentTranslator",
}


def make_data(n=60, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)
    return X, (X[:, 0] + X[:, 1] > X[:, 0].mean() + X[:, 1].mean()).astype(int)


def fitted_models():
    X, y = make_data()
    rotation, _ = np.linalg.qr(np.random.RandomState(1).normal(size=(6, 6)))
    relative = make_pipeline(
        RelativeTransformer(8, center=True, output_norm="standard", random_state=0),
        LogisticRegression(),
    ).fit(X, y)
    product = make_pipeline(
        InvariantProductTransformer(8, anchors="fps", random_state=0), Ridge()
    ).fit(X, y)
    anchors_b = X[relative[0].anchor_indices_] @ rotation
    frame = pd.DataFrame(
        X, index=[f"item{i}" for i in range(60)], columns=list("abcdef")
    )
    return {
        "relative": (RelativeTransformer(8, similarity="l1", random_state=0).fit(X), X),
        "product": (
            InvariantProductTransformer(8, aggregation="mean", random_state=0).fit(X),
            X,
        ),
        "dataframe": (
            RelativeTransformer(8, anchors="kmeans", random_state=0).fit(frame),
            frame,
        ),
        "translator": (LatentTranslator().fit(X, X @ rotation), X),
        "pipeline": (relative, X),
        "product-pipeline": (product, X),
        "stitched": (stitch(relative, anchors_b), X @ rotation),
        "float32": (
            RelativeTransformer(8, similarity="rbf", random_state=0).fit(
                X.astype(np.float32)
            ),
            X.astype(np.float32),
        ),
    }


MODELS = fitted_models()


def outputs(model, X):
    if hasattr(model, "predict"):
        return model.predict(X)
    return model.transform(X)


def pickle_round_trip(model):
    return pickle.loads(pickle.dumps(model))


def joblib_round_trip(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    buffer.seek(0)
    return joblib.load(buffer)


def skops_round_trip(model):
    data = skops_io.dumps(model)
    untrusted = set(skops_io.get_untrusted_types(data=data))
    assert untrusted <= PACKAGE_TYPES
    return skops_io.loads(data, trusted=sorted(untrusted))


@pytest.mark.parametrize(
    "round_trip", [pickle_round_trip, joblib_round_trip, skops_round_trip]
)
@pytest.mark.parametrize("name", list(MODELS))
def test_round_trip_gives_identical_outputs(name, round_trip):
    model, X = MODELS[name]
    loaded = round_trip(model)
    assert type(loaded) is type(model)
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    out = outputs(loaded, X)
    assert_array_equal(out, outputs(model, X))
    assert out.dtype == outputs(model, X).dtype
    if hasattr(model, "get_feature_names_out") and not hasattr(model, "predict"):
        assert_array_equal(
            loaded.get_feature_names_out(), model.get_feature_names_out()
        )


@pytest.mark.parametrize("name", list(MODELS))
def test_skops_refuses_untrusted_package_types(name):
    model, _ = MODELS[name]
    data = skops_io.dumps(model)
    untrusted = skops_io.get_untrusted_types(data=data)
    assert untrusted, "a package type should need explicit trust"
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.loads(data)


def test_unfitted_estimators_round_trip():
    for est in (
        RelativeTransformer(5, similarity="linf", center=True),
        InvariantProductTransformer(similarities=("cosine", "rbf"), gamma=0.5),
        LatentTranslator("affine", standardize=False),
    ):
        loaded = skops_round_trip(est)
        assert loaded.get_params() == est.get_params()


def user_similarity(X, anchors):
    """A module-level similarity: picklable, but code that skops must trust."""
    return -np.abs(X[:, None, :] - anchors[None, :, :]).sum(axis=2)


def test_callable_similarity_needs_trusting_the_function():
    X, _ = make_data()
    est = RelativeTransformer(5, similarity=user_similarity, random_state=0).fit(X)
    assert_array_equal(pickle_round_trip(est).transform(X), est.transform(X))
    data = skops_io.dumps(est)
    untrusted = set(skops_io.get_untrusted_types(data=data))
    assert untrusted - PACKAGE_TYPES == {f"{__name__}.user_similarity"}
    loaded = skops_io.loads(data, trusted=sorted(untrusted))
    assert_array_equal(loaded.transform(X), est.transform(X))


INDEX_TYPES = {
    "int": pd.Index(range(100, 160)),
    "str": pd.Index([f"item{i}" for i in range(60)]),
    "datetime": pd.date_range("2024-01-01", periods=60, freq="h"),
    "datetime-tz": pd.date_range("2024-01-01", periods=60, freq="h", tz="Europe/Paris"),
    "categorical": pd.CategoricalIndex([f"c{i}" for i in range(60)]),
    "multi": pd.MultiIndex.from_product([list("abcdef"), range(10)]),
}


@pytest.mark.parametrize(
    "round_trip", [pickle_round_trip, joblib_round_trip, skops_round_trip]
)
@pytest.mark.parametrize("index", list(INDEX_TYPES))
def test_every_accepted_index_type_round_trips_and_stitches(index, round_trip):
    X, _ = make_data()
    frame = pd.DataFrame(X, index=INDEX_TYPES[index], columns=list("abcdef"))
    model = RelativeTransformer(5, random_state=0).fit(frame)
    loaded = round_trip(model)
    assert_array_equal(loaded.anchor_ids_, model.anchor_ids_)
    assert_array_equal(loaded.transform(frame), model.transform(frame))
    # Stitch by ids: the anchors' rows, shuffled, in a new (doubled) space.
    shuffled = (2 * frame).iloc[np.random.RandomState(0).permutation(60)]
    stitched = stitch(loaded, shuffled)
    assert_array_equal(stitched.anchor_ids_, model.anchor_ids_)
    np.testing.assert_allclose(
        stitched.transform(2 * frame), model.transform(frame), atol=1e-12
    )


def test_index_labels_that_cannot_be_saved_are_refused_at_fit():
    X, _ = make_data()
    frame = pd.DataFrame(X, index=pd.period_range("2024-01", periods=60, freq="D"))
    with pytest.raises(ValueError, match="got Period labels.*astype\\(str\\)"):
        RelativeTransformer(5, random_state=0).fit(frame)
