"""InvariantProductTransformer: several relative projections on one anchor set."""

from ._compat import StrOptions
from ._projection import AnchorProjection
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

    Read more in the :ref:`User Guide <product>`.

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
    center : bool, default=True
        Subtract the anchors' mean before every block (see
        :class:`RelativeTransformer`; the default was False before 0.2).
    standardize : bool, default=False
        Divide every feature by the anchors' population standard deviation
        first, with the same floor as :class:`RelativeTransformer`.
    output_norm : {"standard", "l2", "softmax"}, tuple of them, or None, \
            default="standard"
        Per-block normalisation (see :class:`RelativeTransformer`), with
        statistics of the anchors' own relative vectors for ``"standard"``.
        Raw distances live on scales that differ between blocks and spaces.
    temperature : float, default=0.1
        Temperature of ``output_norm="softmax"``; ignored otherwise.
    gamma : float, default=None
        Width of an ``"rbf"`` block, set from the anchors when None (see
        :class:`RelativeTransformer`); only valid when ``"rbf"`` is among
        `similarities`.
    random_state : int, RandomState instance or None, default=None
        Seed of the anchor selection.
    n_jobs : int, default=None
        Number of row chunks :meth:`transform` processes at once, in threads,
        as for :class:`RelativeTransformer`: ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context, ``-1`` all processors.

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
    gamma_ : float or None
        The width of an ``"rbf"`` block; None without one.
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

    Every block is finite: where a similarity of finite data falls outside the
    dtype's range (L1 distances of float32 rows near ``1e38``, say), or where
    centring overflows, a ValueError names the cause, as for
    :class:`RelativeTransformer`.

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
        center=True,
        standardize=False,
        output_norm="standard",
        temperature=0.1,
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
        self.temperature = temperature
        self.gamma = gamma
        self.random_state = random_state
        self.n_jobs = n_jobs

    @property
    def _aggregation(self):
        return self.aggregation

    def _similarity_names(self):
        return list(self.similarities)

    def _check_params(self):
        names = self._similarity_names()
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
        if self.aggregation != "concat" and not self._norm_steps():
            raise ValueError(
                f"aggregation={self.aggregation!r} pools blocks whose raw values "
                "live on different scales; set output_norm to 'standard' or 'l2'."
            )
        super()._check_params()

    def _feature_prefixes(self):
        if self.aggregation == "concat":
            return [f"{name}_" for name in self._similarity_names()]
        return [""]
