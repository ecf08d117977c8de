"""InvariantProductTransformer: several relative projections on one anchor set."""

from ._base import AnchorProjection
from ._compat import StrOptions
from ._similarities import SIMILARITIES


class InvariantProductTransformer(AnchorProjection):
    """Product of invariances: several relative projections on one anchor set.

    Following Cannistraci et al. (ICLR 2024), samples are projected onto one
    shared set of anchors with several similarities at once (by default
    cosine, euclidean, L1 and L-inf), each block is normalised with statistics
    learned from the anchors, and the blocks are aggregated. No single
    similarity needs to match the transformation relating two latent spaces:
    a downstream model, fit once, leans on the blocks that hold.

    Unlike a :class:`~sklearn.pipeline.FeatureUnion` of
    :class:`RelativeTransformer` objects, the anchors are chosen once, the
    preprocessing is shared, and there is one fitted object to re-anchor with
    :func:`sklearn_relreps.stitch`.

    Parameters
    ----------
    n_anchors : int, default=300
        Number of anchors chosen by a selection strategy (see
        :class:`RelativeTransformer`).
    anchors : {"random", "stratified", "kmeans", "fps"} or array-like, default="random"
        Anchor strategy, or fixed anchor indices, mask or vectors, as for
        :class:`RelativeTransformer`.
    similarities : list or tuple of str, default=("cosine", "euclidean", "l1", "linf")
        The blocks, in output order: distinct names among ``"cosine"``,
        ``"dot"``, ``"euclidean"``, ``"l1"``, ``"linf"``, ``"rbf"``. A single
        block is written ``("cosine",)``.
    aggregation : {"concat", "sum", "mean"}, default="concat"
        ``"concat"`` places the blocks side by side (block-major: every anchor
        of the first similarity, then the next); ``"sum"`` and ``"mean"``
        pool anchor ``j`` across blocks, which needs `output_norm`.
    center : bool, default=False
        Subtract the anchors' mean before every block.
    standardize : bool, default=False
        Divide every feature by the anchors' standard deviation first.
    output_norm : {"standard", "l2"} or None, default="standard"
        Per-block normalisation, with statistics of the anchors' own relative
        vectors (see :class:`RelativeTransformer`). Raw distances live on
        scales that differ between blocks and spaces.
    gamma : float, default=None
        Width of an ``"rbf"`` block; only valid when ``"rbf"`` is among
        `similarities`.
    random_state : int, RandomState instance or None, default=None
        Seed of the anchor selection.
    n_jobs : int, default=None
        Number of threads that process row chunks in :meth:`transform`;
        the CPUs are shared out among them (BLAS's threads and the compiled
        kernels'). ``-1`` means all processors. ``None`` means one thread per
        CPU, each running BLAS and the compiled kernels single-threaded, for
        NumPy or sparse input and a similarity computed from a BLAS product
        (cosine, dot, euclidean, rbf): after a threaded product, BLAS's idle
        threads keep spinning for a while and slow down the compiled pass that
        finishes each block. Otherwise ``None`` means one chunk at a time, each
        kernel using every CPU (unless in a :func:`joblib.parallel_backend`
        context), as also for similarities that are all BLAS products on
        small inputs (under 2**30 multiply-adds), where one threaded product
        is faster. Each thread takes at least 64 rows; fewer rows leave
        threads idle, with the same share of the CPUs for the others.

    Attributes
    ----------
    anchors_ : ndarray of shape (n_anchors, n_features_in_)
        The shared anchor vectors.
    anchor_indices_ : ndarray of shape (n_anchors,) or None
        Row positions of the anchors in the training `X`.
    anchor_ids_ : ndarray of shape (n_anchors,)
        Identifiers of the anchors (see :class:`RelativeTransformer`).
    mean_ : ndarray of shape (n_features_in_,) or None
        The anchors' mean, when ``center=True``.
    scale_ : ndarray of shape (n_features_in_,) or None
        The anchors' feature scales, when ``standardize=True``.
    output_mean_, output_scale_ : ndarray of shape (n_blocks * n_anchors,) or None
        Block-major column statistics of the anchors' own relative vectors,
        when ``output_norm="standard"``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when `X` has string
        column names.

    See Also
    --------
    RelativeTransformer : A single relative projection.
    sklearn_relreps.get_invariances : What the product is guaranteed to ignore.

    Notes
    -----
    The paper's best aggregator is trained jointly with the task head; a
    transformer's ``fit`` has no labels to train it. With ``"concat"``, the
    downstream estimator learns the weighting, once, on the source space.
    The product is guaranteed invariant only to the transformations all its
    blocks ignore (:func:`sklearn_relreps.get_invariances` with a list).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps import InvariantProductTransformer
    >>> X = np.random.RandomState(0).normal(size=(100, 8))
    >>> product = InvariantProductTransformer(n_anchors=4, random_state=0).fit(X)
    >>> product.transform(X).shape
    (100, 16)
    >>> product.get_feature_names_out()[[0, 4]]
    array(['cosine_anchor_...', 'euclidean_anchor_...'], dtype=object)
    >>> product.set_params(aggregation="mean").fit(X).transform(X).shape
    (100, 4)
    """

    _parameter_constraints = {
        **AnchorProjection._parameter_constraints,
        # Ordered containers only: a set would give a process-dependent block
        # order, and a bare string is a common slip for a one-element tuple.
        "similarities": [list, tuple],
        "aggregation": [StrOptions({"concat", "sum", "mean"})],
    }

    def __init__(
        self,
        n_anchors=300,
        *,
        anchors="random",
        similarities=("cosine", "euclidean", "l1", "linf"),
        aggregation="concat",
        center=False,
        standardize=False,
        output_norm="standard",
        gamma=None,
        random_state=None,
        n_jobs=None,
    ):
        self.n_anchors = n_anchors
        self.anchors = anchors
        self.similarities = similarities
        self.aggregation = aggregation
        self.center = center
        self.standardize = standardize
        self.output_norm = output_norm
        self.gamma = gamma
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _block_kernels(self):
        return list(self.similarities)

    def _check_kernels(self):
        names = self._block_kernels()
        if not names:
            raise ValueError("similarities is empty; give at least one similarity.")
        unknown = [n for n in names if not (isinstance(n, str) and n in SIMILARITIES)]
        if unknown:
            raise ValueError(
                f"Unknown similarities {unknown}; valid names are "
                f"{sorted(SIMILARITIES)}."
            )
        if len(set(names)) != len(names):
            raise ValueError(f"similarities contains duplicates: {names}.")
        if self.aggregation != "concat" and self.output_norm is None:
            raise ValueError(
                f"aggregation={self.aggregation!r} pools blocks whose raw values "
                "live on different scales; set output_norm to 'standard' or 'l2'."
            )
        return super()._check_kernels()

    def _accepts_sparse(self):
        try:
            return super()._accepts_sparse()
        except TypeError:  # similarities of the wrong type are reported by fit
            return False

    def _feature_prefixes(self):
        if self.aggregation == "concat":
            return [f"{name}_" for name in self._block_kernels()]
        return [""]

    def _aggregate(self, blocks, xp):
        if self.aggregation == "concat":
            return xp.concat(blocks, axis=1)
        total = blocks[0]
        for block in blocks[1:]:
            total = total + block
        return total / len(blocks) if self.aggregation == "mean" else total
