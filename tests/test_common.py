"""scikit-learn's own estimator checks over several configured instances."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

from sklearn_relreps import (
    InvariantProductTransformer,
    LatentTranslator,
    RelativeTransformer,
)


def negative_l2(X, anchors):
    """A user-defined similarity, module-level so that it pickles."""
    return -np.sqrt(((X[:, None, :] - anchors[None, :, :]) ** 2).sum(axis=2))


ESTIMATORS = [
    RelativeTransformer(n_anchors=5),
    RelativeTransformer(n_anchors=5, similarity="dot", center=True),
    RelativeTransformer(n_anchors=5, similarity="euclidean", output_norm="standard"),
    RelativeTransformer(n_anchors=5, similarity="l1", standardize=True),
    RelativeTransformer(n_anchors=5, similarity="linf", output_norm="l2"),
    RelativeTransformer(n_anchors=5, output_norm="softmax"),
    RelativeTransformer(
        n_anchors=5, output_norm=("softmax", "standard"), temperature=0.5
    ),
    RelativeTransformer(n_anchors=5, similarity="rbf", gamma=0.1, anchors="fps"),
    RelativeTransformer(
        n_anchors=5, similarity="rbf", standardize=True, output_norm="standard"
    ),
    RelativeTransformer(
        n_anchors=5,
        center=True,
        standardize=True,
        output_norm="standard",
        anchors="kmeans",
    ),
    RelativeTransformer(n_anchors=5, anchors="stratified"),
    RelativeTransformer(anchors=[0, 2, 4, 6]),
    RelativeTransformer(similarity=negative_l2, n_anchors=4),
    InvariantProductTransformer(n_anchors=5),
    InvariantProductTransformer(n_anchors=5, aggregation="mean", center=True),
    InvariantProductTransformer(
        n_anchors=5, similarities=("cosine", "rbf"), aggregation="sum", output_norm="l2"
    ),
    InvariantProductTransformer(
        n_anchors=5,
        anchors="kmeans",
        similarities=["dot", "euclidean"],
        standardize=True,
        output_norm=None,
    ),
    LatentTranslator(),
    LatentTranslator(standardize=False),
    LatentTranslator("linear"),
    LatentTranslator("linear", standardize=False),
    LatentTranslator("affine"),
    LatentTranslator("affine", standardize=False),
    LatentTranslator("ridge"),
    LatentTranslator("ridge", standardize=False, alpha=0.5),
    LatentTranslator("kernel"),
    LatentTranslator("kernel", standardize=False, alpha=0.5, gamma=0.1),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)
