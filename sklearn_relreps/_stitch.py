"""Zero-shot stitching: re-anchor a fitted model on another latent space."""

import warnings
from copy import deepcopy
from numbers import Real

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from ._anchors import plain_ids
from ._compat import (
    Interval,
    StrOptions,
    get_namespace_and_device,
    to_host,
    to_numpy,
    validate_params,
)
from ._exceptions import StitchingWarning
from ._metrics import _agreement
from ._projection import AnchorProjection

# Below this anchor agreement, stitch warns. Misordered anchors score about 0;
# genuine pairs of text encoders of different families measured 0.27 and more.
AGREEMENT_THRESHOLD = 0.15


def _leaf_steps(estimator):
    """Yield ``(name, step)`` for the steps data flows through, in order.

    Nested pipelines are flattened; ``"passthrough"`` and None steps skipped.
    """
    if not isinstance(estimator, Pipeline):
        yield type(estimator).__name__, estimator
        return
    for name, step in estimator.steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        for inner_name, inner in _leaf_steps(step):
            yield (name if inner is step else f"{name}__{inner_name}"), inner


def _entry_projection(estimator):
    """Return the relative step that receives the raw latent vectors."""
    steps = list(_leaf_steps(estimator))
    # A relative step in a branch of a FeatureUnion or ColumnTransformer (or any
    # other meta-estimator) that data reaches before a top-level relative step
    # cannot be re-anchored alone: its branch selects columns of the source
    # space, and the sibling branches were fit on that space.
    for name, step in steps:
        if isinstance(step, AnchorProjection):
            break
        params = step.get_params(deep=True) if hasattr(step, "get_params") else {}
        nested = [p for p, v in params.items() if isinstance(v, AnchorProjection)]
        if nested:
            raise ValueError(
                f"The relative step {f'{name}__{nested[0]}'!r} sits in a branch of "
                f"the step {name!r} ({type(step).__name__}); stitch only re-anchors "
                "a relative step that receives the raw latent vectors, as the first "
                "step of a (possibly nested) Pipeline. Stitch the branch's own "
                "pipeline (relative step first) on the anchors' matching columns "
                "and rebuild the model around it, or make the relative step the "
                "first step of the Pipeline."
            )
    relative = [name for name, step in steps if isinstance(step, AnchorProjection)]
    if not relative:
        raise ValueError(
            f"{type(estimator).__name__} has no relative step to re-anchor: stitch "
            "needs a RelativeTransformer or InvariantProductTransformer, alone or "
            "as a step of a (possibly nested) Pipeline."
        )
    name, first = steps[0]
    if not isinstance(first, AnchorProjection):
        raise ValueError(
            f"The step {name!r} ({type(first).__name__}) comes before the relative "
            f"step {relative[0]!r}: it was fit on the source latent space and "
            "cannot be carried over to another. Make the relative step the first "
            "one; its center and standardize options learn their statistics from "
            "the anchors of each space."
        )
    check_is_fitted(
        first,
        msg=f"The relative step {name!r} is not fitted; fit the estimator on the "
        "source space before stitching it.",
    )
    return first


def _order_by_ids(anchors, ids):
    """Pick the rows of a DataFrame indexed by item ids, in the order of `ids`.

    The DataFrame may hold more rows than the anchors: only the anchors' are
    used.
    """
    index = pd.Index(plain_ids(anchors.index))  # the form ids are stored in
    anchors = anchors.set_axis(index)
    wanted = index.isin(pd.Index(ids))
    if index[wanted].has_duplicates:
        repeated = index[wanted][index[wanted].duplicated()].unique().tolist()
        raise ValueError(
            f"The index of the anchors DataFrame repeats the ids {repeated[:10]}; "
            "each anchor id must appear once."
        )
    rows = anchors[wanted]
    positions = rows.index.get_indexer(pd.Index(ids))
    missing = ids[positions < 0].tolist()
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(ids)} anchor ids of the fitted estimator are "
            f"missing from the index of the anchors DataFrame, e.g. {missing[:10]}. "
            "Index the anchors by the ids in anchor_ids_."
        )
    return rows.iloc[positions]


def _searched_model(estimator):
    """Return the refitted best model of a search, or `estimator` itself."""
    if not (
        isinstance(estimator, BaseSearchCV) or hasattr(estimator, "best_estimator_")
    ):
        return estimator
    if not getattr(estimator, "refit", True):
        raise ValueError(
            f"This {type(estimator).__name__} was created with refit=False, so it "
            "has no best_estimator_ to stitch; refit the search, or stitch a model "
            "fit with its best_params_."
        )
    check_is_fitted(
        estimator,
        "best_estimator_",
        msg=f"This {type(estimator).__name__} is not fitted yet; fit it on the "
        "source space before stitching it.",
    )
    return estimator.best_estimator_


def _host_dense(anchors):
    """Return the anchor vectors as a dense float64 NumPy array."""
    anchors = anchors.toarray() if sparse.issparse(anchors) else to_numpy(anchors)
    return np.asarray(anchors, dtype=np.float64)


def _check_agreement(source, target):
    """Warn when the anchors' geometry disagrees between the two spaces."""
    # The agreement of fewer than 3 anchors rests on at most one cosine per
    # space: too little to judge, so the check is skipped.
    if source.shape[0] < 3:
        return
    score, _ = _agreement(_host_dense(source), _host_dense(target))
    if score < AGREEMENT_THRESHOLD:
        warnings.warn(
            f"The anchors' relative geometry barely agrees between the source and "
            f"the target space (anchor_agreement score {score:.2f} < "
            f"{AGREEMENT_THRESHOLD}), so the stitched model is unlikely to be "
            "reliable. Check that the target anchors are the same items as "
            "anchor_ids_, in the same order (pass a DataFrame indexed by the ids "
            "to match them by id).",
            StitchingWarning,
            stacklevel=4,  # past stitch and its parameter validation
        )


class _RelativeAlignment(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Linear map of relative vectors: ``X @ coef_``, fit by ridge regression.

    ``fit(R_T, R_S)`` solves ``coef_ = (R_T^T R_T + alpha I)^{-1} R_T^T R_S``:
    the map, without intercept, that best sends the target anchors' relative
    vectors `R_T` to the source anchors' `R_S`, with an L2 penalty `alpha`.
    """

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        X = validate_data(self, X, dtype=np.float64)
        y = check_array(y, dtype=np.float64, input_name="y")
        gram = X.T @ X + self.alpha * np.eye(X.shape[1])
        self.coef_ = np.linalg.solve(gram, X.T @ y)
        return self

    def transform(self, X):
        check_is_fitted(self)
        xp, _, device = get_namespace_and_device(X)
        X = validate_data(self, X, reset=False, dtype=[xp.float64, xp.float32])
        return X @ xp.asarray(self.coef_, dtype=X.dtype, device=device)


def _insert_after(model, projection, step):
    """Insert `step` right after `projection` in the pipeline holding it."""
    for position, (_, inner) in enumerate(model.steps):
        if inner is projection or (
            isinstance(inner, Pipeline) and _insert_after(inner, projection, step)
        ):
            if inner is projection:
                names = {name for name, _ in model.steps}
                name = "align"
                while name in names:
                    name = f"{name}_"
                model.steps.insert(position + 1, (name, step))
            return True
    return False


@validate_params(
    {
        "estimator": "no_validation",
        "anchors": ["array-like", "sparse matrix"],
        "align": [StrOptions({"ridge"}), None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def stitch(estimator, anchors, *, align=None, alpha=1.0):
    """Re-anchor a fitted model on another latent space: zero-shot stitching.

    A model fit on the relative representation of encoder A (a
    :class:`RelativeTransformer` or :class:`InvariantProductTransformer`
    followed by any fitted steps) is reused on encoder B, without retraining:
    the relative step is re-anchored on the same anchor items embedded by B,
    learning all its statistics (centring, scaling, output normalisation)
    from those anchors alone, and the downstream steps are kept as fitted.
    The encoders' widths need not match.

    Read more in the :ref:`User Guide <stitching>`.

    Parameters
    ----------
    estimator : estimator object
        A fitted relative transformer, or a fitted
        :class:`~sklearn.pipeline.Pipeline` (nested pipelines included) whose
        first step is one, or a fitted search such as
        :class:`~sklearn.model_selection.GridSearchCV` (refit on the best
        parameters), whose `best_estimator_` is stitched. Later relative steps
        work on relative vectors, which no longer depend on the encoder, and
        are kept as fitted. A relative step inside a branch of a
        :class:`~sklearn.pipeline.FeatureUnion` or
        :class:`~sklearn.compose.ColumnTransformer` that the raw vectors reach
        first is refused with a ValueError: stitch that branch's pipeline
        instead. It is never modified.
    anchors : {array-like, sparse matrix, DataFrame} of shape (n_rows, n_features)
        The estimator's anchor items embedded by the new encoder. Either rows
        in anchor order (the order of `anchor_ids_`), or a pandas DataFrame
        indexed by item ids, in any order and possibly holding more items than
        the anchors, from which the anchors' rows are picked by id. Its width
        becomes the stitched model's input width; a DataFrame with string
        column names also sets the expected feature names.
    align : {"ridge"} or None, default=None
        With ``"ridge"``, a linear map fit on the anchors is inserted right
        after the relative step (see Notes), to bring the new space's
        relative vectors closer to those the downstream steps were fit on.
    alpha : float, default=1.0
        Strength of the ridge penalty of ``align="ridge"``; must be positive.

    Returns
    -------
    stitched : estimator object
        A deep copy of `estimator` (of its `best_estimator_` for a search)
        whose relative step is re-anchored, ready to ``predict``/``transform``
        samples of the new latent space. With ``align="ridge"``, the map is a
        step named ``"align"`` right after the relative step, and a bare
        relative transformer becomes
        ``Pipeline([("relative", stitched), ("align", map)])``.

    Warns
    -----
    StitchingWarning
        When :func:`~sklearn_relreps.metrics.anchor_agreement` between the
        fitted anchors and the given ones is below 0.15: most often the
        anchors are not the same items, or not in the same order.

    See Also
    --------
    RelativeTransformer : The relative projection that makes stitching work.
    LatentTranslator : Map the new space into the old one instead.
    sklearn_relreps.metrics.anchor_agreement : Check a pair of spaces first.

    Notes
    -----
    Stitching works as well as the relative representation is invariant to
    the transformation relating the two spaces; see
    :func:`sklearn_relreps.get_invariances`. Anchors given in another order
    than the fitted ones give silently wrong predictions: pass a DataFrame
    indexed by the anchor ids when in doubt. The raw anchor vectors of the
    two spaces are compared with
    :func:`~sklearn_relreps.metrics.anchor_agreement`, and a score below 0.15
    raises a :class:`StitchingWarning` (misordered anchors score about 0,
    pairs of real text encoders of different families 0.27 and more). The
    check is skipped for fewer than 3 anchors, whose agreement is undefined.
    With few anchors the agreement of misordered anchors varies more around
    0 (a standard deviation of about ``1.5 / n_anchors`` on random data), so
    the check may miss them: it is a safeguard, not a proof of correct order.

    With ``align="ridge"``, let ``R_S`` be the relative vectors of the fitted
    anchors in the source space (the fitted relative step's ``transform`` of
    its `anchors_`) and ``R_T`` those of the new anchors in the target space
    (the re-anchored step's ``transform`` of `anchors`), both of shape
    ``(n_anchors, n_relative_features)``. The map is
    ``W = (R_T^T R_T + alpha I)^{-1} R_T^T R_S``, without intercept, and the
    stitched model feeds ``R @ W`` to the downstream steps instead of the
    relative vectors ``R``. For spaces the relative step is invariant to,
    ``R_T = R_S`` and ``W`` is close to the identity when `alpha` is small.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relreps import RelativeTransformer, stitch
    >>> rng = np.random.RandomState(0)
    >>> X_a = rng.normal(size=(200, 5))
    >>> y = (X_a[:, 0] > 0).astype(int)
    >>> model = make_pipeline(
    ...     RelativeTransformer(20, center=True, random_state=0), LogisticRegression()
    ... ).fit(X_a, y)

    Encoder B rotates A's space and appends three constant features:

    >>> rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> X_b = np.hstack([X_a @ rotation, np.ones((200, 3))])
    >>> anchors_b = X_b[model[0].anchor_indices_]
    >>> stitched = stitch(model, anchors_b)
    >>> stitched.n_features_in_
    8
    >>> bool((stitched.predict(X_b) == model.predict(X_a)).all())
    True

    A ridge map from B's relative vectors to A's can follow the relative step:

    >>> aligned = stitch(model, anchors_b, align="ridge", alpha=1e-6)
    >>> [name for name, _ in aligned.steps]
    ['relativetransformer', 'align', 'logisticregression']
    >>> bool((aligned.predict(X_b) == model.predict(X_a)).all())
    True
    """
    estimator = _searched_model(estimator)
    check_is_fitted(
        estimator,
        msg=f"This {type(estimator).__name__} is not fitted yet; fit it on the "
        "source space before stitching it.",
    )
    stitched = deepcopy(estimator)
    projection = _entry_projection(stitched)
    ids = to_numpy(projection.anchor_ids_)
    if isinstance(anchors, pd.DataFrame):
        anchors = _order_by_ids(anchors, ids)
    # Anchors of another array library or device (a NumPy array for a model fit
    # on torch arrays, say) are checked on the host, then moved to the
    # namespace and device of the fitted anchors.
    checked = check_array(
        to_host(anchors),
        accept_sparse="csr",
        dtype=[np.float64, np.float32],
        input_name="anchors",
    )
    if checked.shape[0] != ids.shape[0]:
        raise ValueError(
            f"The estimator was fit with {ids.shape[0]} anchors but {checked.shape[0]} "
            "anchor vectors were given; pass the same anchor items, in the order of "
            "anchor_ids_, embedded by the new encoder."
        )
    _check_agreement(projection.anchors_, checked)
    source_relative = None
    if align == "ridge":
        source_relative = projection.transform(projection.anchors_)
    # Record the new input width and feature names (or their absence).
    validate_data(projection, anchors, reset=True, skip_check_array=True)
    xp, _, device = get_namespace_and_device(projection.anchors_)
    dense = checked.toarray() if sparse.issparse(checked) else checked
    projection._learn(xp.asarray(dense, device=device))
    if align is None:
        return stitched
    alignment = _RelativeAlignment(alpha=alpha).fit(
        to_numpy(projection.transform(projection.anchors_)),
        to_numpy(source_relative),
    )
    if stitched is projection:
        return Pipeline([("relative", stitched), ("align", alignment)])
    _insert_after(stitched, projection, alignment)
    return stitched
