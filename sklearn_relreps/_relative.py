"""RelativeTransformer: one relative projection onto a set of anchors."""

from ._compat import StrOptions
from ._projection import AnchorProjection
from ._similarities import SIMILARITIES


class RelativeTransformer(AnchorProjection):
    """Describe each sample by its similarity to a fixed set of anchor samples.

    The relative representation of Moschella et al. (ICLR 2023): sample ``x``
    becomes ``[sim(x, a_1), ..., sim(x, a_k)]``. When two latent spaces differ
    by a transformation the similarity ignores (for cosine: rotations,
    reflections and rescaling), and the anchors are the same items embedded in
    each space, the relative vectors of the two spaces coincide. A model fit on
    one space's relative vectors can then be used on the other's: zero-shot
    stitching (see :func:`sklearn_relreps.stitch`).

    Every statistic (centring mean, feature scales, output normalisation) is
    learned from the anchors in :meth:`fit`, so :meth:`transform` treats each
    row independently of the others.

    Parameters
    ----------
    n_anchors : int, default=300
        Number of anchors chosen by a selection strategy. When it exceeds the
        number of samples, a warning is issued and every sample is used. It is
        ignored when `anchors` gives indices or vectors.
    anchors : {"random", "stratified", "kmeans", "fps"} or array-like, default="random"
        How anchors are chosen among the rows of `X` in :meth:`fit` (see
        :func:`sklearn_relreps.anchors.select_anchors`), or fixed anchors: a
        1-D array of distinct row positions or a boolean mask into `X`, or a
        2-D array of anchor vectors of shape (n_anchors, n_features).
    similarity : {"cosine", "dot", "euclidean", "l1", "linf", "rbf"} or callable, \
            default="cosine"
        How a sample is compared with an anchor. With ``output_norm=None``,
        distances (``"euclidean"``, ``"l1"``, ``"linf"``) are returned as
        non-negative distances, not turned into similarities. A callable
        ``f(X, anchors)`` must return an array of shape (n_samples,
        n_anchors); it receives the preprocessed (centred/standardised)
        samples and anchors. A zero vector has cosine 0
        to every anchor.
    center : bool, default=True
        Subtract the anchors' mean from samples and anchors before comparing
        them (adds invariance to translations; a no-op for the distances and
        ``"rbf"``). Real embeddings are often anisotropic (GloVe means: mean
        cosine 0.80 between anchors), where uncentred cosines crowd near one
        value; centring raised stitched accuracy from 0.48 to 0.59 on
        cross-family text encoders (see the User Guide). Before version 0.2
        the default was False.
    standardize : bool, default=False
        Divide every feature by the anchors' population standard deviation. A
        deviation of at most ``10 * eps * |mean|`` (``eps`` of the dtype), that
        is rounding noise at the feature's own magnitude, is replaced by 1.
        Each feature is judged alone, so the output is invariant to rescaling
        any feature (``axis_scaling``) as long as its values stay within the
        dtype's normal range.
    output_norm : {"auto", None, "l2", "standard", "softmax"} or tuple of \
            them, default="auto"
        Normalisation of the relative vectors, one step or several applied in
        order. ``"auto"`` is ``("softmax", "standard")`` for
        ``similarity="cosine"`` and None for the other similarities, whose
        scales depend on the data (a softmax at a fixed temperature suits
        cosines, which lie in [-1, 1]). ``"l2"`` scales each row to unit
        norm; ``"softmax"`` turns each row into weights over the anchors,
        ``exp(r_j / temperature) / sum_i exp(r_i / temperature)``
        (non-negative, summing to 1); ``"standard"`` z-scores each anchor
        column with the mean and population standard deviation of the
        anchors' own vectors after the steps before it, recomputed in each
        space. None returns the similarities themselves. For cosine, the
        default stitched best across encoders of different families (0.65
        stitched accuracy against 0.58 for the similarities, and 0.72
        against 0.69 without stitching, on text encoders; see the User
        Guide); before version 0.2 the default was None.
    temperature : float, default=0.1
        Temperature of ``output_norm="softmax"``: smaller values concentrate
        each row's weight on its most similar anchors. Ignored otherwise.
    gamma : float, default=None
        Width of the ``"rbf"`` kernel ``exp(-gamma ||x - a||^2)``. None sets
        it from the anchors, ``1 / median`` of their squared distances to each
        other (after centring and scaling), learned as `gamma_` in each space.
        Only valid with ``similarity="rbf"``.
    random_state : int, RandomState instance or None, default=None
        Seed of the anchor selection.
    n_jobs : int, default=None
        Number of row chunks :meth:`transform` processes at once, in threads.
        ``None`` means 1 unless in a :func:`joblib.parallel_config` context;
        ``-1`` means all processors. Chunk workers never exceed the threads
        that OpenMP may use here (``OMP_NUM_THREADS``, threadpoolctl and
        joblib's limits) and share them; the output does not depend on
        `n_jobs` (scikit-learn's glossary, "n_jobs").

    Attributes
    ----------
    anchors_ : ndarray of shape (n_anchors, n_features_in_)
        The anchor vectors (dense).
    anchor_indices_ : ndarray of shape (n_anchors,) or None
        Row positions of the anchors in the training `X`; None when anchor
        vectors were given.
    anchor_ids_ : ndarray of shape (n_anchors,)
        Identifiers of the anchors: the index labels when `X` was a
        DataFrame, else `anchor_indices_`, else ``0..n_anchors-1``.
    mean_ : ndarray of shape (n_features_in_,) or None
        The anchors' mean, subtracted when ``center=True``.
    scale_ : ndarray of shape (n_features_in_,) or None
        The anchors' feature scales, used when ``standardize=True``.
    gamma_ : float or None
        The width of the ``"rbf"`` kernel in use; None for other similarities.
    output_mean_, output_scale_ : ndarray of shape (n_anchors,) or None
        Column statistics of the anchors' own relative vectors, used when
        ``output_norm="standard"``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when `X` has string
        column names.

    See Also
    --------
    InvariantProductTransformer : Several similarities on one anchor set.
    LatentTranslator : Map one latent space into another instead.
    sklearn.kernel_approximation.Nystroem : Kernel features on landmarks.

    Notes
    -----
    Which transformations of the latent space leave the output unchanged is
    given by :func:`sklearn_relreps.get_invariances`. Euclidean distances use
    the expansion ``||x||^2 + ||a||^2 - 2 x.a`` (measured from the anchors'
    centre); in float32 a distance near zero carries an absolute error of
    about ``1e-3`` times the data's spread. A squared distance below the
    expansion's rounding error is reported as 0, so identical vectors are at
    distance exactly 0. Each row is rescaled by a power of two before squaring,
    so values of any magnitude the dtype holds (``1e20`` in float32, say) give
    finite, accurate similarities whenever the similarities themselves fit in
    the dtype. When they do not (dot products, or L1, L-inf and euclidean
    distances of float32 rows near ``1e38``), or when centring or
    standardising moves a value out of range, a ValueError names what
    overflowed; the output never holds an infinity or a NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps import RelativeTransformer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 8))
    >>> rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    >>> rel.transform(X).shape
    (100, 5)
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    >>> rotated = RelativeTransformer(n_anchors=5, random_state=0).fit(X @ rotation)
    >>> np.allclose(rel.transform(X), rotated.transform(X @ rotation))
    True
    >>> rel.get_feature_names_out()[:2]
    array(['anchor_...', 'anchor_...'], dtype=object)
    """

    _parameter_constraints = {
        **AnchorProjection._parameter_constraints,
        "similarity": [StrOptions(set(SIMILARITIES)), callable],
    }

    def __init__(
        self,
        n_anchors=300,
        *,
        anchors="random",
        similarity="cosine",
        center=True,
        standardize=False,
        output_norm="auto",
        temperature=0.1,
        gamma=None,
        random_state=None,
        n_jobs=None,
    ):
        self.n_anchors = n_anchors
        self.anchors = anchors
        self.similarity = similarity
        self.center = center
        self.standardize = standardize
        self.output_norm = output_norm
        self.temperature = temperature
        self.gamma = gamma
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _similarity_names(self):
        return [self.similarity]

    def _feature_prefixes(self):
        return [""]
