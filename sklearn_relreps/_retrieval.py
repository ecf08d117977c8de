"""CrossSpaceRetriever: search an old model's index with a new model's queries."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_array, gen_batches, metadata_routing
from sklearn.utils.validation import check_is_fitted

from ._compat import Interval, StrOptions, _fit_context, get_chunk_n_rows
from ._dask import is_dask_collection
from ._metrics import _align_frames
from ._numerics import unit_rows
from ._relative import RelativeTransformer
from ._threads import map_chunks
from ._translate import LatentTranslator

_TRANSLATIONS = {"orthogonal", "linear", "affine", "ridge", "kernel"}


class CrossSpaceRetriever(BaseEstimator):
    """Nearest neighbours of new-model queries among old-model index items.

    An index embedded by an *old* encoder is kept as it is; queries come from
    a *new* encoder whose vectors are not comparable with the stored ones. A
    few hundred *anchor* items embedded by both encoders (parallel rows) are
    enough to bridge the two spaces, with no re-embedding of the index:

    - a translation (``method`` in ``"orthogonal"``, ``"linear"``,
      ``"affine"``, ``"ridge"``, ``"kernel"``): a
      :class:`~sklearn_relreps.LatentTranslator` fit new -> old on the
      anchors maps every query into the old space, where the stored index is
      searched;
    - ``"relative"``: the index is described by its centred cosine
      similarities to the old anchors and the queries by theirs to the new
      anchors (:class:`~sklearn_relreps.RelativeTransformer`, optionally
      with a softmax of temperature `temperature`); both live in the same
      space of anchors, where the search happens.

    Read more in the :ref:`User Guide <upgrade>`.

    Parameters
    ----------
    n_neighbors : int, default=10
        Number of neighbours returned by :meth:`kneighbors`.
    method : {"orthogonal", "ridge", "linear", "affine", "kernel", \
            "relative"}, default="orthogonal"
        How queries are brought to the index (see above). ``"orthogonal"``
        (with CSLS) gave the best neighbourhoods on real text encoders;
        ``"relative"`` finds the exact item more often with few anchors (see
        Notes).
    csls : int or None, default=10
        Number of cross-space neighbours of the CSLS (cross-domain similarity
        local scaling) hubness correction; None switches it off. With it, the
        score of index item ``i`` for query ``q`` is ``2 s(q, i) - r_i -
        r_q``, where ``s`` is the similarity of the `metric` in the search
        space and ``r`` the mean similarity to the `csls` nearest
        cross-space neighbours: ``r_q`` over the index items, and ``r_i``
        over the query anchors brought to the search space (they stand for
        the queries, which are unknown at fit time). ``r_q`` does not change
        a query's ranking, only its distances. Needs at most as many anchors.
    metric : {"cosine", "inner_product"}, default="cosine"
        Similarity of the search. Distances are ``1 - cosine`` or the negative
        inner product; under CSLS, ``1 - score / 2`` or ``-score / 2``.
    alpha : float, default=1.0
        Regularisation of the ``"ridge"`` and ``"kernel"`` translations
        (passed to :class:`~sklearn_relreps.LatentTranslator`).
    temperature : float or None, default=None
        ``"relative"`` only: None describes items by their plain centred
        cosines to the anchors; a float applies a softmax over each row's
        cosines divided by it.
    n_jobs : int or None, default=None
        Query chunks searched at once (threads sharing the BLAS threads);
        None is one chunk at a time with a threaded matrix product.

    Attributes
    ----------
    n_features_in_ : int
        Width of the queries (the new space).
    n_features_index_ : int
        Width of the index items (the old space).
    n_index_ : int
        Number of index items.
    n_anchors_ : int
        Number of parallel anchors.
    ids_ : ndarray of shape (n_index_,) or None
        Ids of the index items (the index of an index DataFrame), returned by
        :meth:`kneighbors` instead of positions; None for an array.
    translator_ : LatentTranslator or None
        The new -> old map (translation methods).
    query_projection_, index_projection_ : RelativeTransformer or None
        The relative projections of the queries and of the index
        (``"relative"``).
    index_radius_ : ndarray of shape (n_index_,) or None
        The CSLS ``r_i`` of the index items (None without `csls`).

    See Also
    --------
    sklearn_relreps.metrics.retrieval_report : Judge a retriever against
        re-embedding and against the old model's own neighbourhoods.
    sklearn_relreps.anchors.match_anchors : Grow parallel anchors from a few
        known pairs.

    Notes
    -----
    The index is held in memory (normalised for the cosine, or relative
    vectors for ``"relative"``, of size ``n_index x n_anchors``); a Dask
    array or DataFrame is computed once in :meth:`fit`. :meth:`kneighbors`
    scores query chunks against the whole index, with chunks sized from
    scikit-learn's ``working_memory``, and selects the top ``k`` with
    ``argpartition``: its extra memory is ``O(chunk * n_index)``. Returned
    neighbours with equal scores are ordered by index position (which of
    several items tied at the k-th place is returned is unspecified). Inputs
    are never modified.

    Defaults, measured on real text encoders (MiniLM queries against an
    mpnet index of 1,747 sentences; ``benchmarks/README.md``): with 300
    anchors, ``"orthogonal"`` with CSLS found the query's own item first for
    0.91 of the queries, and 0.67 of the 10 neighbours that re-embedding the
    index would give (the old model's own neighbourhoods share 0.67 with
    them); without CSLS 0.85 and 0.64. ``"relative"`` found the own item
    more often with few anchors (0.87 with 100, 0.93 with 300) but fewer of
    the re-embedded neighbours (0.47-0.55); ``"ridge"`` (alpha 1) overfits
    below about 1,000 anchors. With 1,000 anchors the translations
    converge (0.94-0.97 exact, 0.64-0.71 recall).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps import CrossSpaceRetriever
    >>> rng = np.random.RandomState(0)
    >>> old = rng.normal(size=(200, 16))                 # the stored index
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    >>> new = old @ rotation                             # the same items, new model
    >>> retriever = CrossSpaceRetriever(n_neighbors=3, method="orthogonal")
    >>> retriever = retriever.fit(old, index_anchors=old[:50],
    ...                           query_anchors=new[:50])
    >>> distances, indices = retriever.kneighbors(new[150:153])
    >>> indices[:, 0]
    array([150, 151, 152])
    """

    # The index and the anchors are inputs, not metadata a meta-estimator
    # should route: no ``set_fit_request`` method.
    __metadata_request__fit = {
        "index": metadata_routing.UNUSED,
        "index_anchors": metadata_routing.UNUSED,
        "query_anchors": metadata_routing.UNUSED,
    }

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions(_TRANSLATIONS | {"relative"})],
        "csls": [Interval(Integral, 1, None, closed="left"), None],
        "metric": [StrOptions({"cosine", "inner_product"})],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "temperature": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_neighbors=10,
        *,
        method="orthogonal",
        csls=10,
        metric="cosine",
        alpha=1.0,
        temperature=None,
        n_jobs=None,
    ):
        self.n_neighbors = n_neighbors
        self.method = method
        self.csls = csls
        self.metric = metric
        self.alpha = alpha
        self.temperature = temperature
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, index, *, index_anchors, query_anchors):
        """Store the old-model index and learn the map from the anchors.

        Parameters
        ----------
        index : array-like, DataFrame or Dask collection of shape \
                (n_index, n_features_index)
            The items to search, embedded by the old model. The ids of a
            DataFrame are what :meth:`kneighbors` returns.
        index_anchors : array-like of shape (n_anchors, n_features_index)
            The anchor items embedded by the old model.
        query_anchors : array-like of shape (n_anchors, n_features_in)
            The same anchor items embedded by the new model: in the same order,
            or, when both anchor sets are DataFrames, matched by their ids.

        Returns
        -------
        self : CrossSpaceRetriever
            The fitted retriever.
        """
        index = _materialised(index)
        self.ids_ = index.index.to_numpy() if isinstance(index, pd.DataFrame) else None
        index = check_array(
            index,
            dtype=[np.float64, np.float32],
            ensure_min_samples=0,
            input_name="index",
        )
        if index.shape[0] == 0:
            raise ValueError("The index is empty: there is nothing to search.")
        index_anchors, query_anchors = _align_frames(
            _materialised(index_anchors),
            _materialised(query_anchors),
            "index_anchors",
            "query_anchors",
        )
        index_anchors = check_array(
            index_anchors, dtype=index.dtype, input_name="index_anchors"
        )
        query_anchors = check_array(
            query_anchors, dtype=index.dtype, input_name="query_anchors"
        )
        if index_anchors.shape[0] != query_anchors.shape[0]:
            raise ValueError(
                f"index_anchors has {index_anchors.shape[0]} rows but query_anchors "
                f"has {query_anchors.shape[0]}: they must be the same anchor items "
                "embedded by the old and by the new model."
            )
        if index_anchors.shape[1] != index.shape[1]:
            raise ValueError(
                f"index_anchors has {index_anchors.shape[1]} features but the index "
                f"has {index.shape[1]}: both must come from the old model."
            )
        n_anchors = index_anchors.shape[0]
        if self.csls is not None and self.csls > n_anchors:
            raise ValueError(
                f"csls={self.csls} needs at least as many anchors; got {n_anchors}."
            )
        self.n_index_, self.n_features_index_ = index.shape
        self.n_features_in_ = query_anchors.shape[1]
        self.n_anchors_ = n_anchors
        self.translator_ = self.query_projection_ = self.index_projection_ = None
        if self.method == "relative":
            self.index_projection_ = self._relative(index_anchors)
            self.query_projection_ = self._relative(query_anchors)
            index = self.index_projection_.transform(index)
        else:
            self.translator_ = LatentTranslator(self.method, alpha=self.alpha).fit(
                query_anchors, index_anchors
            )
        self._index = self._prepare(index)
        self.index_radius_ = None
        if self.csls is not None:
            probes = self._to_search_space(query_anchors)
            self.index_radius_ = _mean_top(self._index, probes, self.csls, self.n_jobs)
        return self

    def _relative(self, anchors):
        return RelativeTransformer(
            anchors=anchors,
            center=True,
            output_norm=None if self.temperature is None else "softmax",
            temperature=1.0 if self.temperature is None else self.temperature,
        ).fit(anchors)

    def _prepare(self, X):
        """Rows in the search space: unit rows for the cosine."""
        return unit_rows(X, np) if self.metric == "cosine" else X

    def _to_search_space(self, queries):
        if self.translator_ is not None:
            mapped = self.translator_.transform(queries)
        else:
            mapped = self.query_projection_.transform(queries)
        return self._prepare(np.asarray(mapped, dtype=self._index.dtype))

    def _check_queries(self, queries, n_neighbors):
        check_is_fitted(self)
        n_neighbors = self.n_neighbors if n_neighbors is None else n_neighbors
        if not isinstance(n_neighbors, Integral) or n_neighbors < 1:
            raise ValueError(
                f"n_neighbors must be a positive integer; got {n_neighbors}."
            )
        if n_neighbors > self.n_index_:
            raise ValueError(
                f"n_neighbors={n_neighbors} is larger than the index "
                f"(n_index={self.n_index_})."
            )
        queries = check_array(
            _materialised(queries), dtype=[np.float64, np.float32], input_name="queries"
        )
        if queries.shape[1] != self.n_features_in_:
            raise ValueError(
                f"The queries have {queries.shape[1]} features but the query anchors "
                f"had {self.n_features_in_}: queries must come from the new model."
            )
        return queries, int(n_neighbors)

    def kneighbors(self, queries, n_neighbors=None, return_distance=True):
        """Find the nearest index items of new-model queries.

        Parameters
        ----------
        queries : array-like of shape (n_queries, n_features_in)
            Queries embedded by the new model.
        n_neighbors : int, default=None
            Number of neighbours; the estimator's `n_neighbors` when None. At
            most the number of index items.
        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Distances (see `metric` and `csls`), increasing along each row.
            Only returned when `return_distance`.
        neighbors : ndarray of shape (n_queries, n_neighbors)
            Positions of the neighbours in the index, or their ids when the
            index was a DataFrame.
        """
        queries, k = self._check_queries(queries, n_neighbors)
        distances, positions = _search(
            self._to_search_space(queries),
            self._index,
            k,
            offset=1.0 if self.metric == "cosine" else 0.0,
            index_radius=self.index_radius_,
            csls=self.csls,
            n_jobs=self.n_jobs,
        )
        neighbors = positions if self.ids_ is None else self.ids_[positions]
        return (distances, neighbors) if return_distance else neighbors


def _materialised(X):
    """`X`, computed into memory when it is a Dask collection."""
    return X.compute() if is_dask_collection(X) else X


def _row_chunks(n_rows, n_columns, itemsize):
    """Row slices whose score block and selection temporaries fit in memory."""
    row_bytes = n_columns * (2 * itemsize + 8)
    return list(gen_batches(n_rows, get_chunk_n_rows(row_bytes, max_n_rows=n_rows)))


def _mean_top(X, Y, k, n_jobs):
    """Mean of the `k` largest entries of every row of ``X @ Y.T``."""
    out = np.empty(X.shape[0], dtype=X.dtype)
    n = Y.shape[0]

    def fill(rows):
        scores = X[rows] @ Y.T
        out[rows] = np.mean(np.partition(scores, n - k, axis=1)[:, n - k :], axis=1)

    map_chunks(fill, _row_chunks(X.shape[0], n, X.itemsize), n_jobs)
    return out


def _search(queries, index, k, *, offset, index_radius=None, csls=None, n_jobs=None):
    """Top-`k` index rows of every query by ``queries @ index.T``, chunked.

    Returns ``(distances, positions)``, best first, ties to the lower position.
    With `csls`, rows are ranked by ``s - index_radius / 2`` and the distance
    is ``offset - (s - (index_radius + r_q) / 2)``.
    """
    n_queries, n_index = queries.shape[0], index.shape[0]
    distances = np.empty((n_queries, k), dtype=index.dtype)
    positions = np.empty((n_queries, k), dtype=np.intp)

    def fill(rows):
        scores = queries[rows] @ index.T
        if csls is not None:
            top = np.partition(scores, n_index - csls, axis=1)[:, n_index - csls :]
            query_radius = np.mean(top, axis=1, keepdims=True)
            scores -= index_radius / 2
        if k < n_index:
            candidates = np.argpartition(scores, n_index - k, axis=1)[:, n_index - k :]
        else:
            candidates = np.broadcast_to(np.arange(n_index), scores.shape)
        best = np.take_along_axis(scores, candidates, axis=1)
        order = np.lexsort((candidates, -best), axis=1)
        best = np.take_along_axis(best, order, axis=1)
        if csls is not None:
            best = best - query_radius / 2
        distances[rows] = offset - best
        positions[rows] = np.take_along_axis(candidates, order, axis=1)

    map_chunks(fill, _row_chunks(n_queries, n_index, index.itemsize), n_jobs)
    return distances, positions
