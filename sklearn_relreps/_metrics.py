"""Agreement between two parallel latent spaces: neighbourhoods, retrieval, CKA.

Row ``i`` of ``X`` and row ``i`` of ``Y`` are the same item embedded in two
spaces. Neighbours are found by cosine similarity (a zero row has cosine 0 to
everything), ties are broken in favour of the lower row index, and the
neighbour searches run over row chunks sized from scikit-learn's
``working_memory``, so their extra memory is ``O(chunk * n_samples)``.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_array, gen_batches

from ._compat import Interval, get_chunk_n_rows, validate_params
from ._numerics import power_of_two_scale, unit_rows

_SPACES = {"X": ["array-like"], "Y": ["array-like"]}
_K = [Interval(Integral, 1, None, closed="left")]


def _check_spaces(X, Y, metric, *, same_width, dtype=None):
    """Validate two parallel spaces and bring them to one floating dtype.

    The dtype is `dtype` when given, else the wider of the two inputs'. When
    both are DataFrames, the rows of `Y` are first aligned to the index of `X`.
    """
    X, Y = _align_frames(X, Y, "X", "Y")
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    Y = check_array(Y, dtype=[np.float64, np.float32], input_name="Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} rows but Y has {Y.shape[0]}: {metric} compares "
            "the same items in two spaces, so row i of X and row i of Y must be "
            "the same item."
        )
    if same_width and X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but Y has {Y.shape[1]}: {metric} "
            "compares vectors across the two spaces and needs equal widths "
            "(linear_cka and mutual_knn accept different widths)."
        )
    if dtype is None:
        dtype = np.result_type(X.dtype, Y.dtype)
    return X.astype(dtype, copy=False), Y.astype(dtype, copy=False)


def _align_frames(X, Y, x_name, y_name):
    """Reorder the rows of DataFrame `Y` to the index of DataFrame `X`.

    Other inputs are returned as they are: their rows are matched by position.
    """
    if not (isinstance(X, pd.DataFrame) and isinstance(Y, pd.DataFrame)):
        return X, Y
    for name, index in ((x_name, X.index), (y_name, Y.index)):
        if index.has_duplicates:
            repeated = index[index.duplicated()].unique().tolist()
            raise ValueError(
                f"The index of {name} repeats the ids {repeated[:10]}; rows are "
                "matched by id, so each id must appear once."
            )
    missing = X.index.difference(Y.index).tolist()
    extra = Y.index.difference(X.index).tolist()
    if missing or extra:
        raise ValueError(
            f"The DataFrames {x_name} and {y_name} must hold the same ids, as rows "
            f"are matched by index: {len(missing)} ids of {x_name} are missing from "
            f"{y_name} (e.g. {missing[:10]}) and {len(extra)} ids of {y_name} are "
            f"not in {x_name} (e.g. {extra[:10]})."
        )
    return X, Y.loc[X.index]


def _check_k(k, largest, metric, what):
    if k > largest:
        raise ValueError(f"{metric} needs k <= {largest} ({what}); got k={k}.")


def _row_batches(n_rows, row_bytes):
    """Slices of rows whose temporaries fit in ``working_memory``."""
    return gen_batches(n_rows, get_chunk_n_rows(row_bytes, max_n_rows=n_rows))


def _top_k_mask(similarities, k):
    """Mark the `k` largest entries of every row, ties going to lower columns."""
    n = similarities.shape[1]
    kth = np.partition(similarities, n - k, axis=1)[:, n - k : n - k + 1]
    mask = similarities >= kth
    # Only a row with more than k entries reaching its k-th value has ties to
    # break: there, the tied entries of the lowest columns fill the places left.
    crowded = np.flatnonzero(np.count_nonzero(mask, axis=1) > k)
    if crowded.size:
        tied = similarities[crowded] == kth[crowded]
        above = mask[crowded] & ~tied
        still_needed = k - np.count_nonzero(above, axis=1, keepdims=True)
        mask[crowded] = above | (tied & (np.cumsum(tied, axis=1) <= still_needed))
    return mask


def _ranks(X, Y):
    """1-based rank of ``Y[i]`` among all rows of `Y`, queried by ``X[i]``."""
    X, Y = unit_rows(X, np), unit_rows(Y, np)
    n = X.shape[0]
    positions = np.arange(n)
    ranks = np.empty(n, dtype=np.int64)
    for rows in _row_batches(n, n * (X.itemsize + 4)):
        similarities = X[rows] @ Y.T
        own = similarities[positions[: rows.stop - rows.start], positions[rows]]
        equal = similarities == own[:, None]
        ranks[rows] = 1 + np.count_nonzero(similarities > own[:, None], axis=1)
        # Rows whose counterpart ties with other rows rank it after the tied
        # rows of lower index.
        tied = np.flatnonzero(np.count_nonzero(equal, axis=1) > 1)
        if tied.size:
            earlier = positions[None, :] < (rows.start + tied)[:, None]
            ranks[rows.start + tied] += np.count_nonzero(equal[tied] & earlier, axis=1)
    return ranks


@validate_params({**_SPACES, "k": _K}, prefer_skip_nested_validation=True)
def jaccard_at_k(X, Y, *, k=5):
    """Overlap of the neighbourhoods a query finds across and within spaces.

    For item ``i``, ``Q_i`` is the set of the `k` rows of `Y` most similar to
    ``X[i]`` (a cross-space query) and ``T_i`` the `k` rows of `Y` most similar
    to ``Y[i]`` itself (which includes ``i``). The score is the mean Jaccard
    index ``|Q_i & T_i| / |Q_i | T_i|`` (Table 1 of Moschella et al., 2023).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Queries: the items in the first space.
    Y : array-like of shape (n_samples, n_features)
        The same items, in the same order, in the second space (same width).
    k : int, default=5
        Neighbourhood size, between 1 and `n_samples`.

    Returns
    -------
    score : float
        In ``[0, 1]``, greater is better; 1 for ``X = Y``.

    See Also
    --------
    mutual_knn : Neighbourhood overlap within each space, any widths.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps.metrics import jaccard_at_k
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 8))
    >>> jaccard_at_k(X, X)
    1.0
    >>> noisy = 2 * X + 0.3 * rng.normal(size=X.shape)
    >>> round(jaccard_at_k(X, noisy), 2)
    0.85
    """
    X, Y = _check_spaces(X, Y, "jaccard_at_k", same_width=True)
    n = X.shape[0]
    _check_k(k, n, "jaccard_at_k", f"n_samples={n}")
    X, Y = unit_rows(X, np), unit_rows(Y, np)
    shared = np.empty(n, dtype=np.int64)
    for rows in _row_batches(n, 2 * n * (X.itemsize + 10)):
        found = _top_k_mask(X[rows] @ Y.T, k)
        reference = _top_k_mask(Y[rows] @ Y.T, k)
        shared[rows] = np.count_nonzero(found & reference, axis=1)
    return float(np.mean(shared / (2 * k - shared)))


@validate_params({**_SPACES, "k": _K}, prefer_skip_nested_validation=True)
def mrr(X, Y, *, k=5):
    """Mean reciprocal rank of each item's counterpart, cut off at `k`.

    ``rank_i`` is the 1-based position of ``Y[i]`` among all rows of `Y`
    sorted by similarity to the query ``X[i]``; the score is the mean of
    ``1 / rank_i`` over the items, counting 0 where ``rank_i > k``. The default
    ``k=5`` follows Moschella et al. (2023); ``k=n_samples`` gives the uncut
    mean reciprocal rank.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Queries: the items in the first space.
    Y : array-like of shape (n_samples, n_features)
        The same items, in the same order, in the second space (same width).
    k : int, default=5
        Cut-off rank, between 1 and `n_samples`.

    Returns
    -------
    score : float
        In ``[0, 1]``, greater is better; 1 for ``X = Y`` without duplicate or
        collinear rows.

    See Also
    --------
    recall_at_k : Fraction of counterparts found within the first `k`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps.metrics import mrr
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 8))
    >>> mrr(X, X)
    1.0
    >>> mrr(X, rng.normal(size=(50, 8))) < 0.3
    True
    """
    X, Y = _check_spaces(X, Y, "mrr", same_width=True)
    _check_k(k, X.shape[0], "mrr", f"n_samples={X.shape[0]}")
    ranks = _ranks(X, Y)
    return float(np.mean(np.where(ranks <= k, 1 / ranks, 0.0)))


@validate_params({**_SPACES, "k": _K}, prefer_skip_nested_validation=True)
def recall_at_k(X, Y, *, k=5):
    """Fraction of items whose counterpart is among the `k` best matches.

    ``rank_i`` is the 1-based position of ``Y[i]`` among all rows of `Y`
    sorted by similarity to the query ``X[i]`` (as in :func:`mrr`); the score
    is the fraction of items with ``rank_i <= k``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Queries: the items in the first space.
    Y : array-like of shape (n_samples, n_features)
        The same items, in the same order, in the second space (same width).
    k : int, default=5
        Number of best matches inspected, between 1 and `n_samples`.

    Returns
    -------
    score : float
        In ``[0, 1]``, greater is better; 1 for ``X = Y`` without duplicate or
        collinear rows.

    See Also
    --------
    mrr : Rewards finding the counterpart early.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps.metrics import recall_at_k
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 8))
    >>> recall_at_k(X, X, k=1)
    1.0
    >>> recall_at_k(X, X[::-1], k=1)
    0.0
    """
    X, Y = _check_spaces(X, Y, "recall_at_k", same_width=True)
    _check_k(k, X.shape[0], "recall_at_k", f"n_samples={X.shape[0]}")
    return float(np.mean(_ranks(X, Y) <= k))


@validate_params(_SPACES, prefer_skip_nested_validation=True)
def mean_cosine(X, Y):
    """Mean cosine similarity between each item and its counterpart.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The items in the first space.
    Y : array-like of shape (n_samples, n_features)
        The same items, in the same order, in the second space (same width).

    Returns
    -------
    score : float
        In ``[-1, 1]``, greater is better; 1 for ``X = Y`` without zero rows (a
        zero row has cosine 0).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps.metrics import mean_cosine
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> mean_cosine(X, 3 * X)
    1.0
    >>> mean_cosine(X, [[0.0, 1.0], [0.0, -1.0]])
    -0.5
    """
    return _mean_cosine(
        *_check_spaces(X, Y, "mean_cosine", same_width=True, dtype=np.float64)
    )


def _mean_cosine(X, Y):
    """:func:`mean_cosine` of two validated float64 spaces of equal shapes."""
    cosines = np.sum(unit_rows(X, np) * unit_rows(Y, np), axis=1)
    return float(np.mean(np.clip(cosines, -1.0, 1.0)))


def _unit_centred(X, name):
    # Each column is centred at its own scale (a power of two of its largest
    # magnitude, an exact division), so an offset of 1e200 in one column
    # neither overflows nor drowns the others; a spread below what the dtype
    # resolves at the column's magnitude (as in safe_scale) is rounding noise
    # and set to 0. The columns then go back to one common scale, as CKA
    # ignores isotropic scaling only.
    scale = power_of_two_scale(np.max(np.abs(X), axis=0), np)
    X = X / scale
    mean = np.mean(X, axis=0)
    centred = X - mean
    std = np.sqrt(np.mean(centred**2, axis=0))
    centred[:, std <= 10 * np.finfo(X.dtype).eps * np.abs(mean)] = 0
    spread = np.max(np.abs(centred), axis=0)
    if not np.any(spread):
        raise ValueError(
            f"{name} has no variance (all rows are equal): linear_cka is undefined."
        )
    # exponents of each column's spread; the largest becomes 0
    exponents = np.log2(scale) + np.floor(np.log2(np.where(spread > 0, spread, 1)))
    shift = np.where(spread > 0, np.log2(scale) - exponents[spread > 0].max(), 0)
    with np.errstate(under="ignore"):  # columns below rounding of the largest
        centred = np.ldexp(centred, shift.astype(np.int64))
    return centred / np.linalg.norm(centred)


@validate_params(_SPACES, prefer_skip_nested_validation=True)
def linear_cka(X, Y):
    """Linear centred kernel alignment between two spaces of any widths.

    After centring every column, ``CKA = ||X^T Y||_F^2 / (||X^T X||_F
    ||Y^T Y||_F)``, the cosine between the two (centred, linear) sample
    similarity matrices. It is computed from feature-by-feature products, so
    its memory is ``O(n_samples * (p + q) + (p + q)^2)``, never an
    ``n_samples x n_samples`` Gram matrix. It is invariant to rotations and
    reflections, isotropic scaling and translations of either space, but not
    to general linear maps.

    Parameters
    ----------
    X : array-like of shape (n_samples, p)
        The items in the first space.
    Y : array-like of shape (n_samples, q)
        The same items, in the same order, in the second space; ``q`` may
        differ from ``p``.

    Returns
    -------
    score : float
        In ``[0, 1]``, greater is better; 1 for ``X = Y`` (up to rounding).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps.metrics import linear_cka
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 5))
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> round(linear_cka(X, 3 * X @ rotation + 1), 6)
    1.0
    >>> linear_cka(X, rng.normal(size=(100, 7))) < 0.2
    True
    """
    X, Y = _check_spaces(X, Y, "linear_cka", same_width=False, dtype=np.float64)
    X, Y = _unit_centred(X, "X"), _unit_centred(Y, "Y")
    cross = np.sum((X.T @ Y) ** 2)
    within = np.sqrt(np.sum((X.T @ X) ** 2) * np.sum((Y.T @ Y) ** 2))
    return float(np.clip(cross / within, 0.0, 1.0))


@validate_params({**_SPACES, "k": _K}, prefer_skip_nested_validation=True)
def mutual_knn(X, Y, *, k=10):
    """Mean overlap of each item's nearest neighbours in the two spaces.

    ``N_i^X`` is the set of the `k` rows of `X` most similar to ``X[i]``,
    excluding ``i`` itself, and likewise ``N_i^Y`` within `Y`; the score is
    the mean of ``|N_i^X & N_i^Y| / k`` (the mutual nearest-neighbour metric of
    Huh et al., "The Platonic Representation Hypothesis", 2024). The Jaccard
    index of the same two sets is ``m / (2 - m)`` for an item's overlap ``m``.

    Parameters
    ----------
    X : array-like of shape (n_samples, p)
        The items in the first space.
    Y : array-like of shape (n_samples, q)
        The same items, in the same order, in the second space; ``q`` may
        differ from ``p``.
    k : int, default=10
        Number of neighbours, between 1 and ``n_samples - 1``.

    Returns
    -------
    score : float
        In ``[0, 1]``, greater is better; 1 for ``X = Y``.

    See Also
    --------
    jaccard_at_k : Cross-space neighbourhood overlap.
    linear_cka : A global, neighbourhood-free comparison.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps.metrics import mutual_knn
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 4))
    >>> mutual_knn(X, X @ rng.normal(size=(4, 9)), k=5) > 0.3
    True
    >>> mutual_knn(X, X, k=5)
    1.0
    """
    X, Y = _check_spaces(X, Y, "mutual_knn", same_width=False)
    n = X.shape[0]
    _check_k(
        k,
        n - 1,
        "mutual_knn",
        f"n_samples - 1 = {n - 1}: an item is not its own neighbour",
    )
    X, Y = unit_rows(X, np), unit_rows(Y, np)
    positions = np.arange(n)
    total = 0
    for rows in _row_batches(n, 2 * n * (X.itemsize + 10)):
        own = (positions[: rows.stop - rows.start], positions[rows])
        found = []
        for space in (X, Y):
            similarities = space[rows] @ space.T
            similarities[own] = -np.inf
            found.append(_top_k_mask(similarities, k))
        total += np.count_nonzero(found[0] & found[1])
    return float(total / (k * n))


def _anchor_cosines(anchors):
    """Cosine matrix of the anchors, centred by their mean."""
    unit = unit_rows(anchors - np.mean(anchors, axis=0), np)
    return unit @ unit.T


def _correlation(a, b):
    """Pearson correlation of two vectors; NaN when either is constant."""
    a, b = a - np.mean(a), b - np.mean(b)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms <= np.finfo(np.float64).tiny:
        return np.nan
    return float(np.clip(a @ b / norms, -1.0, 1.0))


def _agreement(source, target):
    """``(score, per_anchor)`` of two validated float64 anchor sets.

    Undefined correlations (an anchor set whose cosines are all equal) are NaN.
    """
    S, T = _anchor_cosines(source), _anchor_cosines(target)
    k = S.shape[0]
    upper = np.triu_indices(k, 1)
    score = _correlation(S[upper], T[upper])
    off_diagonal = ~np.eye(k, dtype=bool)
    per_anchor = np.array(
        [_correlation(S[i, off_diagonal[i]], T[i, off_diagonal[i]]) for i in range(k)]
    )
    return score, per_anchor


@validate_params(
    {"anchors_source": ["array-like"], "anchors_target": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def anchor_agreement(anchors_source, anchors_target):
    """Agreement of the anchors' relative geometry between two spaces.

    Each anchor set is centred by its own mean, and the ``k x k`` matrix of
    cosine similarities among its anchors is computed; the two matrices are
    then compared. Stitching (:func:`sklearn_relreps.stitch`) transfers a model
    through exactly these relations, so a low agreement warns that it will
    transfer poorly, or that the anchors are not the same items in the same
    order.

    Read more in the :ref:`User Guide <stitching>`.

    Parameters
    ----------
    anchors_source : array-like or DataFrame of shape (n_anchors, p)
        The anchors embedded in the source space.
    anchors_target : array-like or DataFrame of shape (n_anchors, q)
        The same anchors embedded in the target space; ``q`` may differ from
        ``p``. Rows are matched by position, unless both inputs are
        DataFrames: then the target's rows are aligned to the source's index,
        which must hold the same ids.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With the attributes:

        score : float
            Pearson correlation between the off-diagonal entries of the two
            cosine matrices, in ``[-1, 1]``: about 1 for spaces related by a
            rotation, scaling and translation, about 0 for unrelated spaces
            or misordered anchors.
        per_anchor : ndarray or Series of shape (n_anchors,)
            For each anchor, the correlation between its row of cosines
            (diagonal excluded) in the two spaces, indexed by the source's ids
            when it is a DataFrame. Low values single out anchors the two
            encoders disagree on, which may be dropped. NaN where an anchor's
            cosines are all equal in one space.

    See Also
    --------
    linear_cka : A global comparison of two spaces on many items.
    sklearn_relreps.stitch : Warns when this score is below 0.15.

    Notes
    -----
    The score is invariant to rotations and reflections, isotropic scaling
    and translations of either space. Measured on real text encoders over the
    same anchor sentences: two sentence transformers of the same family agree
    at 0.80; a sentence transformer and mean GloVe word vectors at 0.27-0.30;
    a sentence transformer and LSA (TF-IDF with a truncated SVD) at
    0.38-0.42; shuffled anchors at 0.00.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps.metrics import anchor_agreement
    >>> rng = np.random.RandomState(0)
    >>> anchors = rng.normal(size=(30, 5))
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> result = anchor_agreement(anchors, 2 * anchors @ rotation + 1)
    >>> round(result.score, 6)
    1.0
    >>> result.per_anchor.shape
    (30,)
    >>> shuffled = anchor_agreement(anchors, anchors[rng.permutation(30)])
    >>> abs(shuffled.score) < 0.2
    True
    """
    source, target = _align_frames(
        anchors_source, anchors_target, "anchors_source", "anchors_target"
    )
    ids = source.index if isinstance(source, pd.DataFrame) else None
    source = check_array(source, dtype=np.float64, input_name="anchors_source")
    target = check_array(target, dtype=np.float64, input_name="anchors_target")
    if source.shape[0] != target.shape[0]:
        raise ValueError(
            f"anchors_source has {source.shape[0]} rows but anchors_target has "
            f"{target.shape[0]}: they must be the same anchors in the two spaces."
        )
    if source.shape[0] < 3:
        raise ValueError(
            f"anchor_agreement needs at least 3 anchors; got {source.shape[0]}."
        )
    score, per_anchor = _agreement(source, target)
    if np.isnan(score):
        raise ValueError(
            "anchor_agreement is undefined: the cosines among the anchors are all "
            "equal in one of the spaces (e.g. all anchors are the same vector)."
        )
    if ids is not None:
        per_anchor = pd.Series(per_anchor, index=ids, name="agreement")
    return Bunch(score=score, per_anchor=per_anchor)


def _neighbour_array(neighbors, name):
    neighbors = np.asarray(neighbors)
    if neighbors.ndim != 2 or neighbors.shape[1] == 0:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_queries, k) with k >= 1, as "
            f"returned by kneighbors; got shape {neighbors.shape}."
        )
    return neighbors


@validate_params(
    {"neighbors": ["array-like"], "reference": ["array-like"], "k": _K + [None]},
    prefer_skip_nested_validation=True,
)
def neighbor_recall(neighbors, reference, *, k=None):
    """Overlap of each query's top-`k` neighbours with a reference top-`k`.

    Recall@k against a reference ranking: for query ``i``, the fraction of
    the first `k` entries of ``reference[i]`` found among the first `k`
    entries of ``neighbors[i]``, averaged over the queries. Typically
    ``neighbors`` come from a cross-space adapter
    (:meth:`sklearn_relreps.CrossSpaceRetriever.kneighbors`) and ``reference``
    from searching an index re-embedded by the query model.

    Parameters
    ----------
    neighbors : array-like of shape (n_queries, n_found)
        Neighbour positions or ids of every query, best first.
    reference : array-like of shape (n_queries, n_reference)
        The reference neighbours of the same queries, best first.
    k : int, default=None
        Ranks compared; ``min(n_found, n_reference)`` when None.

    Returns
    -------
    score : float
        In ``[0, 1]``, greater is better; 1 when the two top-`k` sets agree.

    See Also
    --------
    exact_match_rank : Rank of each query's own item.
    recall_at_k : The same idea on two parallel spaces of embeddings.

    Examples
    --------
    >>> from sklearn_relreps.metrics import neighbor_recall
    >>> neighbor_recall([[3, 1], [0, 2]], [[1, 3], [2, 4]])
    0.75
    """
    neighbors = _neighbour_array(neighbors, "neighbors")
    reference = _neighbour_array(reference, "reference")
    if neighbors.shape[0] != reference.shape[0]:
        raise ValueError(
            f"neighbors has {neighbors.shape[0]} queries but reference has "
            f"{reference.shape[0]}: they must rank the same queries."
        )
    largest = min(neighbors.shape[1], reference.shape[1])
    k = largest if k is None else k
    _check_k(k, largest, "neighbor_recall", "the columns of both rankings")
    found = neighbors[:, :k]
    hits = [
        np.isin(ref, row).sum()
        for row, ref in zip(found, reference[:, :k], strict=True)
    ]
    return float(np.mean(hits) / k)


@validate_params(
    {"neighbors": ["array-like"], "targets": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def exact_match_rank(neighbors, targets):
    """1-based rank of each query's own item among its neighbours.

    When every query is an item of the index (re-embedded by the new model),
    a good adapter finds that very item first. ``(rank == 1).mean()`` is
    exact-match@1, ``((rank > 0) & (rank <= k)).mean()`` exact-match@k and
    ``np.where(rank > 0, 1 / rank, 0).mean()`` the mean reciprocal rank cut
    at the number of neighbours.

    Parameters
    ----------
    neighbors : array-like of shape (n_queries, k)
        Neighbour positions or ids of every query, best first.
    targets : array-like of shape (n_queries,)
        The position or id of each query's own item.

    Returns
    -------
    rank : ndarray of shape (n_queries,)
        In ``1..k``; 0 when the item is not among the neighbours.

    See Also
    --------
    mrr : The same ranks on two parallel spaces of embeddings.

    Examples
    --------
    >>> from sklearn_relreps.metrics import exact_match_rank
    >>> exact_match_rank([[4, 0, 2], [1, 3, 4]], [0, 2])
    array([2, 0])
    """
    neighbors = _neighbour_array(neighbors, "neighbors")
    targets = np.asarray(targets)
    if targets.shape != (neighbors.shape[0],):
        raise ValueError(
            f"targets must hold one item per query ({neighbors.shape[0]}); got "
            f"shape {targets.shape}."
        )
    hits = neighbors == targets[:, None]
    return np.where(hits.any(axis=1), np.argmax(hits, axis=1) + 1, 0)


def retrieval_report(
    retrievers, queries, *, targets=None, reference=None, old=None, k=10, ax=None
):
    """Compare cross-space retrievers with re-embedding and the old model.

    Each fitted :class:`~sklearn_relreps.CrossSpaceRetriever` searches its
    old-model index with the new-model `queries`. Its neighbours are compared
    with those that re-embedding would give (the queries searched among the
    index embedded by the new model, `reference`) and with the old model's own
    neighbourhoods (the queries embedded by the old model, `old`, searched
    among the stored index), both by cosine.

    Read more in the :ref:`User Guide <upgrade>`.

    Parameters
    ----------
    retrievers : CrossSpaceRetriever or dict of str to CrossSpaceRetriever
        Fitted retrievers over the same index, named (a single one is named
        by its ``method``).
    queries : array-like of shape (n_queries, n_features_in)
        Queries embedded by the new model.
    targets : array-like of shape (n_queries,), default=None
        Position (or id, for an index DataFrame) in the index of each query's
        own item, when queries are index items: gives the exact-match columns.
    reference : array-like of shape (n_index, n_features_in), default=None
        The index re-embedded by the new model, in the index's row order:
        gives the ``recall_reembedded`` column and a ``"re-embedded"`` row.
    old : array-like of shape (n_queries, n_features_index), default=None
        The queries embedded by the old model: gives the ``recall_old`` column
        and an ``"old model"`` row.
    k : int, default=10
        Number of neighbours compared.
    ax : matplotlib Axes, default=None
        When given, the table is also drawn there as grouped bars (requires
        matplotlib).

    Returns
    -------
    report : DataFrame
        One row per retriever (then ``"re-embedded"`` and ``"old model"``
        when given); the columns ``exact@1``, ``exact@k`` and ``mrr@k``
        (with `targets`), ``recall_reembedded`` (:func:`neighbor_recall` of
        the top `k` against re-embedding) and ``recall_old`` (against the old
        model's own top `k`), where the inputs allow them.

    See Also
    --------
    neighbor_recall, exact_match_rank : The scores of the columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps import CrossSpaceRetriever
    >>> from sklearn_relreps.metrics import retrieval_report
    >>> rng = np.random.RandomState(0)
    >>> old = rng.normal(size=(300, 8))
    >>> new = np.tanh(old @ rng.normal(size=(8, 12)))
    >>> retriever = CrossSpaceRetriever().fit(
    ...     old, index_anchors=old[:100], query_anchors=new[:100])
    >>> report = retrieval_report(retriever, new[200:], targets=np.arange(200, 300),
    ...                           reference=new, old=old[200:], k=5)
    >>> list(report.columns)
    ['exact@1', 'exact@5', 'mrr@5', 'recall_reembedded', 'recall_old']
    >>> list(report.index)
    ['orthogonal', 're-embedded', 'old model']
    """
    from ._retrieval import CrossSpaceRetriever, _search

    if isinstance(retrievers, CrossSpaceRetriever):
        retrievers = {retrievers.method: retrievers}
    if not retrievers:
        raise ValueError("retrieval_report needs at least one fitted retriever.")
    first = next(iter(retrievers.values()))
    stored = next((r for r in retrievers.values() if r.translator_ is not None), None)
    if old is not None and stored is None:
        raise ValueError(
            "old needs a translation retriever (not only 'relative' ones): "
            "a relative retriever keeps relative vectors, not the old index."
        )
    rankings = {
        name: r.kneighbors(queries, k, return_distance=False)
        for name, r in retrievers.items()
    }

    def cosine_search(Q, index, ids):
        Q = unit_rows(check_array(Q, dtype=[np.float64, np.float32]), np)
        index = unit_rows(check_array(index, dtype=Q.dtype), np)
        _check_k(k, index.shape[0], "retrieval_report", "the index size")
        positions = _search(Q, index, k, offset=1.0)[1]
        return positions if ids is None else ids[positions]

    references = {}
    if reference is not None:
        references["re-embedded"] = cosine_search(queries, reference, first.ids_)
    if old is not None:
        references["old model"] = cosine_search(old, stored._index, stored.ids_)
    rows = {}
    for name, found in {**rankings, **references}.items():
        row = {}
        if targets is not None:
            rank = exact_match_rank(found, targets)
            row["exact@1"] = float(np.mean(rank == 1))
            row[f"exact@{k}"] = float(np.mean(rank > 0))
            reciprocal = np.where(rank > 0, 1 / np.maximum(rank, 1), 0.0)
            row[f"mrr@{k}"] = float(np.mean(reciprocal))
        if "re-embedded" in references:
            row["recall_reembedded"] = neighbor_recall(found, references["re-embedded"])
        if "old model" in references:
            row["recall_old"] = neighbor_recall(found, references["old model"])
        rows[name] = row
    report = pd.DataFrame.from_dict(rows, orient="index")
    if ax is not None:
        report.T.plot.bar(ax=ax, rot=0, ylim=(0, 1))
        ax.set_ylabel("score")
        ax.legend(loc="lower right", fontsize="small")
    return report
