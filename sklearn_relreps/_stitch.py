"""Zero-shot stitching: re-anchor a fitted model on another latent space."""

from copy import deepcopy

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import get_namespace_and_device, to_host, to_numpy
from ._projection import AnchorProjection


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
    """Reorder the rows of a DataFrame indexed by anchor ids to match `ids`."""
    index = anchors.index
    if index.has_duplicates:
        repeated = index[index.duplicated()].unique().tolist()
        raise ValueError(
            f"The index of the anchors DataFrame repeats the ids {repeated[:10]}; "
            "each anchor id must appear once."
        )
    positions = index.get_indexer(pd.Index(ids))
    missing = ids[positions < 0].tolist()
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(ids)} anchor ids of the fitted estimator are "
            f"missing from the index of the anchors DataFrame, e.g. {missing[:10]}. "
            "Index the anchors by the ids in anchor_ids_."
        )
    unknown = index.difference(pd.Index(ids)).tolist()
    if unknown:
        raise ValueError(
            f"The anchors DataFrame has {len(unknown)} rows whose ids are not anchor "
            f"ids of the fitted estimator, e.g. {unknown[:10]}; pass exactly the "
            f"{len(ids)} anchors (anchors.loc[estimator_step.anchor_ids_])."
        )
    return anchors.iloc[positions]


def stitch(estimator, anchors):
    """Re-anchor a fitted model on another latent space: zero-shot stitching.

    A model fit on the relative representation of encoder A (a
    :class:`RelativeTransformer` or :class:`InvariantProductTransformer`
    followed by any fitted steps) is reused on encoder B, without retraining:
    the relative step is re-anchored on the same anchor items embedded by B,
    learning all its statistics (centring, scaling, output normalisation)
    from those anchors alone, and the downstream steps are kept as fitted.
    The encoders' widths need not match.

    Parameters
    ----------
    estimator : estimator object
        A fitted relative transformer, or a fitted
        :class:`~sklearn.pipeline.Pipeline` (nested pipelines included) whose
        first step is one. Later relative steps work on relative vectors,
        which no longer depend on the encoder, and are kept as fitted. A
        relative step inside a branch of a
        :class:`~sklearn.pipeline.FeatureUnion` or
        :class:`~sklearn.compose.ColumnTransformer` that the raw vectors reach
        first is refused with a ValueError: stitch that branch's pipeline
        instead. It is never modified.
    anchors : {array-like, sparse matrix, DataFrame} of shape (n_anchors, n_features)
        The estimator's anchor items embedded by the new encoder. Either rows
        in anchor order (the order of `anchor_ids_`), or a pandas DataFrame
        indexed by the anchor ids, in any order, which is reordered by id.
        Its width becomes the stitched model's input width; a DataFrame with
        string column names also sets the expected feature names.

    Returns
    -------
    stitched : estimator object
        A deep copy of `estimator` whose relative step is re-anchored, ready
        to ``predict``/``transform`` samples of the new latent space.

    See Also
    --------
    RelativeTransformer : The relative projection that makes stitching work.
    LatentTranslator : Map the new space into the old one instead.

    Notes
    -----
    Stitching works as well as the relative representation is invariant to
    the transformation relating the two spaces; see
    :func:`sklearn_relreps.get_invariances`. Anchors given in another order
    than the fitted ones give silently wrong predictions: pass a DataFrame
    indexed by the anchor ids when in doubt.

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
    """
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
    # Record the new input width and feature names (or their absence).
    validate_data(projection, anchors, reset=True, skip_check_array=True)
    xp, _, device = get_namespace_and_device(projection.anchors_)
    dense = checked.toarray() if sparse.issparse(checked) else checked
    projection._learn(xp.asarray(dense, device=device))
    return stitched
