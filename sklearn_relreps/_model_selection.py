"""Scoring of stitched models: items are matched across encoders by id."""

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

from ._compat import validate_params
from ._stitch import stitch


def _check_ids(frame, name):
    if frame.index.has_duplicates:
        repeated = frame.index[frame.index.duplicated()].unique().tolist()
        raise ValueError(
            f"The index of {name} repeats the ids {repeated[:10]}; items are "
            "matched by id, so each id must appear once."
        )


def _rows(frame, ids, name):
    """Return the rows of `frame` with the given ids, in their order."""
    missing = pd.Index(ids).difference(frame.index).tolist()
    if missing:
        raise ValueError(
            f"{len(missing)} ids are missing from the index of {name}, e.g. "
            f"{missing[:10]}; it must embed every item scored."
        )
    return frame.loc[ids]


class _StitchingScorer:
    """Stitch a fitted model to `target`, then score it on the target's rows."""

    def __init__(self, target, scoring):
        self.target = target
        self.scoring = scoring

    def __call__(self, estimator, X, y=None, **kwargs):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                "A stitching scorer finds the items of X in the target encoder by "
                "id, so X must be a pandas DataFrame indexed by item ids; got "
                f"{type(X).__name__}."
            )
        stitched = stitch(estimator, self.target)
        rows = _rows(self.target, X.index, "the target DataFrame")
        return get_scorer(self.scoring)(stitched, rows, y, **kwargs)

    def __repr__(self):
        return f"stitching_scorer(<DataFrame {self.target.shape}>, {self.scoring!r})"


@validate_params(
    {"target": [pd.DataFrame], "scoring": [str, callable]},
    prefer_skip_nested_validation=True,
)
def stitching_scorer(target, scoring="accuracy"):
    """Make a scorer that stitches a fitted model to a target encoder.

    The scorer ``scorer(estimator, X, y)`` stitches `estimator` with
    :func:`~sklearn_relreps.stitch`, picking the anchors from `target` by id,
    then scores the stitched model on the rows of `target` whose ids are the
    index of `X`. Used as ``GridSearchCV(scoring=stitching_scorer(target))``,
    it selects the configuration that transfers best to the target encoder.

    Read more in the :ref:`User Guide <stitching>`.

    Parameters
    ----------
    target : DataFrame of shape (n_items, n_features)
        The target encoder's embeddings, indexed by item id. It must hold the
        anchors of every model scored and every item of the validation sets.
        The models must be fit on DataFrames indexed by the same ids, so that
        their `anchor_ids_` are item ids.
    scoring : str or callable, default="accuracy"
        The score of the stitched model, as understood by
        :func:`sklearn.metrics.get_scorer`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, where `X` is a DataFrame of the source
        encoder's embeddings indexed by item id (only its index is used) and
        `y` the matching targets; a TypeError is raised for other `X`.

    See Also
    --------
    stitching_scores : Score every pair of a set of encoders.
    sklearn_relreps.stitch : The stitching applied before scoring.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relreps import RelativeTransformer
    >>> from sklearn_relreps.model_selection import stitching_scorer
    >>> rng = np.random.RandomState(0)
    >>> ids = [f"item{i}" for i in range(150)]
    >>> source = pd.DataFrame(rng.normal(size=(150, 4)), index=ids)
    >>> y = (source[0] > 0).astype(int)
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    >>> target = pd.DataFrame(source.to_numpy() @ rotation, index=ids)
    >>> model = make_pipeline(
    ...     RelativeTransformer(10, center=True, random_state=0), LogisticRegression()
    ... )
    >>> search = GridSearchCV(
    ...     model,
    ...     {"relativetransformer__n_anchors": [3, 20]},
    ...     scoring=stitching_scorer(target),
    ... ).fit(source, y)
    >>> search.best_params_
    {'relativetransformer__n_anchors': 20}
    """
    _check_ids(target, "the target DataFrame")
    return _StitchingScorer(target, scoring)


@validate_params(
    {
        "estimator": "no_validation",
        "encoders": [dict],
        "y": [pd.Series],
        "scoring": [str, callable],
        "cv": [tuple, list, None],
    },
    prefer_skip_nested_validation=True,
)
def stitching_scores(estimator, encoders, y, *, scoring="accuracy", cv=None):
    """Score a model stitched between every pair of encoders of the same items.

    For every source encoder, ``clone(estimator)`` is fit on the source's
    training rows; it is then stitched (:func:`~sklearn_relreps.stitch`) to
    every other encoder and scored on that target's test rows, next to a
    model fit on the target itself, the reference stitching aims at.

    Read more in the :ref:`User Guide <stitching>`.

    Parameters
    ----------
    estimator : estimator object
        An unfitted model whose first step is a relative transformer.
    encoders : dict of str to DataFrame
        At least two encoders' embeddings of the same items, each indexed by
        the item ids.
    y : Series
        The targets, indexed by the item ids.
    scoring : str or callable, default="accuracy"
        As understood by :func:`sklearn.metrics.get_scorer`.
    cv : (train_ids, test_ids) or None, default=None
        The ids to fit on and to score on; None splits the items at random
        (a quarter for testing, ``random_state=0``).

    Returns
    -------
    scores : DataFrame
        One row per ordered pair of encoders, with the columns ``source``,
        ``target``, ``stitched`` (the score of the source's model stitched to
        the target), ``own`` (the score of the model fit on the target) and
        ``ratio`` (``stitched / own``).

    See Also
    --------
    stitching_scorer : The scorer used for each pair.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relreps import RelativeTransformer
    >>> from sklearn_relreps.model_selection import stitching_scores
    >>> rng = np.random.RandomState(0)
    >>> ids = [f"item{i}" for i in range(200)]
    >>> base = rng.normal(size=(200, 4))
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    >>> encoders = {
    ...     "a": pd.DataFrame(base, index=ids),
    ...     "b": pd.DataFrame(base @ rotation, index=ids),
    ... }
    >>> y = pd.Series((base[:, 0] > 0).astype(int), index=ids)
    >>> model = make_pipeline(
    ...     RelativeTransformer(20, center=True, random_state=0), LogisticRegression()
    ... )
    >>> scores = stitching_scores(model, encoders, y)
    >>> scores[["source", "target"]].values.tolist()
    [['a', 'b'], ['b', 'a']]
    >>> scores["ratio"].round(2).tolist()
    [1.0, 1.0]
    """
    if len(encoders) < 2:
        raise ValueError(
            f"stitching_scores needs at least two encoders; got {len(encoders)}."
        )
    for name, frame in encoders.items():
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"The encoder {name!r} must be a DataFrame indexed by item id; got "
                f"{type(frame).__name__}."
            )
        _check_ids(frame, f"the encoder {name!r}")
    ids = next(iter(encoders.values())).index
    if cv is None:
        train, test = train_test_split(np.asarray(ids), test_size=0.25, random_state=0)
    else:
        train, test = cv
    labels = {"train": _rows(y, train, "y"), "test": _rows(y, test, "y")}
    models, own = {}, {}
    for name, frame in encoders.items():
        models[name] = clone(estimator).fit(
            _rows(frame, train, f"the encoder {name!r}"), labels["train"]
        )
        own[name] = get_scorer(scoring)(
            models[name], _rows(frame, test, f"the encoder {name!r}"), labels["test"]
        )
    records = []
    for source, frame in encoders.items():
        for target, target_frame in encoders.items():
            if target == source:
                continue
            scorer = stitching_scorer(target_frame, scoring)
            stitched = scorer(models[source], frame.loc[test], labels["test"])
            records.append(
                {
                    "source": source,
                    "target": target,
                    "stitched": stitched,
                    "own": own[target],
                    "ratio": stitched / own[target],
                }
            )
    return pd.DataFrame(
        records, columns=["source", "target", "stitched", "own", "ratio"]
    )
