"""Anchor selection strategies: which samples become the reference points."""

import warnings
from functools import partial
from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances_argmin
from sklearn.preprocessing import normalize
from sklearn.utils import check_array, check_random_state, column_or_1d
from sklearn.utils.validation import check_consistent_length

from ._compat import Interval, StrOptions, to_numpy, validate_params
from ._similarities import rescale_rows

ANCHOR_METHODS = ("random", "stratified", "kmeans", "fps")

#: "kmeans" and "fps" choose among at most max(MIN_CANDIDATES,
#: CANDIDATES_PER_ANCHOR * n_anchors) rows: a uniform random subset of larger
#: inputs. Their cost is then O(n_anchors**2 * n_features), whatever n_samples.
MIN_CANDIDATES = 10_000
CANDIDATES_PER_ANCHOR = 10


def clip_n_anchors(n_anchors, n_samples):
    """Return ``min(n_anchors, n_samples)``, warning when it clips."""
    if n_anchors > n_samples:
        warnings.warn(
            f"n_anchors={n_anchors} is larger than n_samples={n_samples}; "
            f"using n_anchors={n_samples}.",
            UserWarning,
            # Past choose_anchors, select_anchors or fit, and their decorator.
            stacklevel=5,
        )
        return n_samples
    return n_anchors


def _random(X, n_anchors, y, rng):
    return rng.choice(X.shape[0], size=n_anchors, replace=False)


def _stratified(X, n_anchors, y, rng):
    if y is None:
        raise ValueError(
            "Stratified anchor selection requires y to be passed, but the "
            "target y is None: it draws anchors class by class from the labels."
        )
    y = column_or_1d(to_numpy(y), warn=True)
    check_consistent_length(X, y)
    order = rng.permutation(X.shape[0])
    _, labels = np.unique(y[order], return_inverse=True)
    # Classes take turns in a random order; within a class, the shuffled order.
    labels = rng.permutation(labels.max() + 1)[labels]
    grouped = np.argsort(labels, kind="stable")
    counts = np.bincount(labels)
    rank = np.empty_like(grouped)
    rank[grouped] = np.arange(grouped.size) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    return order[np.lexsort((labels, rank))[:n_anchors]]


def _unit_rows(X):
    """Return the L2-normalised rows of `X` and their squared norms.

    The squared norms are 1, or 0 for the rows that were zero: distances
    between unit rows then treat all zero rows as one point (the origin), at
    distance 0 from each other, rather than as mutually far apart.
    """
    # Rescaled first, so that rows of huge or tiny magnitude normalise too.
    unit = normalize(rescale_rows(X, np), norm="l2", copy=False)
    sqnorms = (np.asarray(abs(unit).sum(axis=1)).ravel() > 0).astype(unit.dtype)
    return unit, sqnorms


def _kmeans(X, n_anchors, y, rng):
    unit, sqnorms = _unit_rows(X)
    # Maximin seeding: far-apart rows, one per well-separated group.
    seeds = unit[_farthest_points(unit, sqnorms, n_anchors, rng)]
    with warnings.catch_warnings():
        # Fewer distinct points than clusters is handled below, by taking the
        # nearest sample not already chosen.
        warnings.simplefilter("ignore", ConvergenceWarning)
        centres = (
            KMeans(
                n_clusters=n_anchors,
                init=seeds.toarray() if sparse.issparse(seeds) else seeds,
                n_init=1,
            )
            .fit(unit)
            .cluster_centers_
        )
    # The sample nearest each centre in the metric of k-means (euclidean on the
    # unit rows: by cosine among non-zero rows), falling back to the nearest one
    # not yet taken when two centres share it.
    nearest = pairwise_distances_argmin(centres, unit)
    taken = np.zeros(X.shape[0], dtype=bool)
    for i, best in enumerate(nearest):
        if taken[best]:
            distances = sqnorms - 2 * np.asarray(unit @ centres[i]).ravel()
            distances[taken] = np.inf
            nearest[i] = best = np.argmin(distances)
        taken[best] = True
    return nearest


def _dense_row(M, i):
    row = M[i]
    return row.toarray().ravel() if sparse.issparse(row) else row


def _farthest_points(unit, sqnorms, n_anchors, rng):
    """Farthest-point sampling of the rows of `unit`, from a random start."""

    def squared_distances(i):
        products = np.asarray(unit @ _dense_row(unit, i)).ravel()
        return sqnorms + sqnorms[i] - 2 * products

    first = int(rng.randint(unit.shape[0]))
    chosen = [first]
    # Squared distance of every row to its nearest chosen row (-inf: chosen).
    nearest = squared_distances(first)
    nearest[first] = -np.inf
    for _ in range(n_anchors - 1):
        best = int(np.argmax(nearest))
        chosen.append(best)
        np.minimum(nearest, squared_distances(best), out=nearest)
        nearest[best] = -np.inf
    return np.asarray(chosen)


def _fps(X, n_anchors, y, rng):
    return _farthest_points(*_unit_rows(X), n_anchors, rng)


def _on_candidates(select, X, n_anchors, y, rng):
    """Run `select` on a uniform random subset of the rows of a large `X`."""
    n_candidates = max(MIN_CANDIDATES, CANDIDATES_PER_ANCHOR * n_anchors)
    if X.shape[0] <= n_candidates:
        return select(X, n_anchors, y, rng)
    rows = np.sort(rng.choice(X.shape[0], size=n_candidates, replace=False))
    return rows[select(X[rows], n_anchors, y, rng)]


_SELECTORS = {
    "random": _random,
    "stratified": _stratified,
    "kmeans": partial(_on_candidates, _kmeans),
    "fps": partial(_on_candidates, _fps),
}


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "n_anchors": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions(set(ANCHOR_METHODS))],
        "y": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def select_anchors(X, n_anchors, *, method="random", y=None, random_state=None):
    """Choose which samples of `X` serve as anchors.

    Selection happens in one latent space; the chosen *items* are then the
    anchors in every space (parallel anchors). The indices returned are
    distinct, and deterministic for a given `random_state`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Candidate samples.
    n_anchors : int
        Number of anchors. When it exceeds ``n_samples`` a warning is issued
        and every sample is used.
    method : {"random", "stratified", "kmeans", "fps"}, default="random"
        - ``"random"``: uniform sampling without replacement.
        - ``"stratified"``: shuffle, then take one sample per class in turn
          until `n_anchors` are chosen; needs `y`.
        - ``"kmeans"``: k-means with `n_anchors` clusters on the L2-normalised
          rows (Lloyd's iterations, seeded with the rows that ``"fps"``
          chooses); each anchor is the sample whose normalised row is nearest
          to a centroid (by cosine, among non-zero rows), never one already
          chosen.
        - ``"fps"``: farthest-point sampling on the L2-normalised rows from a
          random start.

        Zero rows normalise to the origin: they count as one point.

        ``"kmeans"`` and ``"fps"`` are approximated on large inputs: they
        choose among a uniform random subset of
        ``max(10_000, 10 * n_anchors)`` candidate rows (all rows when there
        are fewer), so that their cost grows with ``n_anchors**2`` but not
        with ``n_samples``. The candidates are a fair sample of the data, so
        the clusters found, and the regions the far points cover, are those
        of the data, up to sampling error; only rare outliers may be missed.
    y : array-like of shape (n_samples,), default=None
        Class labels, used by ``"stratified"`` only.
    random_state : int, RandomState instance or None, default=None
        Seed for the random choices.

    Returns
    -------
    indices : ndarray of shape (n_anchors,), dtype=int64
        Row positions of the anchors in `X`.

    See Also
    --------
    sklearn_relreps.RelativeTransformer : Projects samples onto the anchors chosen here.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps.anchors import select_anchors
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> select_anchors(X, 3, random_state=0)
    array([2, 8, 4])
    >>> y = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    >>> np.asarray(y)[select_anchors(X, 4, method="stratified", y=y, random_state=0)]
    array([1, 0, 1, 0])
    """
    X = check_array(
        to_numpy(X) if not sparse.issparse(X) else X,
        accept_sparse="csr",
        dtype=[np.float64, np.float32],
    )
    return choose_anchors(X, n_anchors, method, y, check_random_state(random_state))


def choose_anchors(X, n_anchors, method, y, rng):
    """:func:`select_anchors` for an `X` its caller has already validated.

    `X` may belong to any array namespace: "random" and "stratified" read its
    number of rows only; "kmeans" and "fps" work on a NumPy copy.
    """
    n_anchors = clip_n_anchors(n_anchors, X.shape[0])
    if method in ("kmeans", "fps") and not sparse.issparse(X):
        X = to_numpy(X)
    return np.asarray(_SELECTORS[method](X, n_anchors, y, rng), dtype=np.int64)
