"""The estimator side of the relative projections: parameters, fit, transform.

``fit`` checks the parameters, resolves the anchors (:mod:`._anchors`) and
learns their statistics (:func:`._plan.learn_statistics`); it then builds the
:class:`._plan.Plan` of the transform. ``transform`` checks its input and
hands the plan to the engine (:mod:`._engine`), which never calls back.

The plan is kept for the fitted dtype and namespace, and built afresh for
input of another dtype. It is not saved: pickles (and skops files) hold the
estimator's fitted arrays only, and the plan is rebuilt when they are loaded.
"""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._anchors import ANCHOR_METHODS, resolve_anchors, row_labels
from ._compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
    check_same_namespace,
    get_namespace_and_device,
    to_numpy,
)
from ._dask import dask_transform, is_dask_collection
from ._engine import run
from ._plan import (
    NORM_STEPS,
    OutputNorm,
    Plan,
    feature_statistics,
    norm_steps,
    output_statistics,
    preprocess,
)
from ._similarities import SIMILARITIES, make_similarity, median_distance


class AnchorProjection(TransformerMixin, BaseEstimator):
    """Base of the estimators that describe samples by their relation to anchors.

    Subclasses say which similarities form the blocks (`_similarity_names`),
    how the blocks are combined (`_aggregation`) and how output features are
    prefixed (`_feature_prefixes`).
    """

    _parameter_constraints = {
        "n_anchors": [Interval(Integral, 1, None, closed="left")],
        "anchors": [StrOptions(set(ANCHOR_METHODS)), "array-like"],
        "center": ["boolean"],
        "standardize": ["boolean"],
        "output_norm": [StrOptions({*NORM_STEPS, "auto"}), tuple, list, None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    _aggregation = "concat"

    def _similarity_names(self):
        """Return the similarity names (str) or callables, one per block."""
        raise NotImplementedError

    def _feature_prefixes(self):
        """Return one feature-name prefix per output block."""
        raise NotImplementedError

    # -- fit ----------------------------------------------------------------------

    def _check_params(self):
        """Cross-parameter checks that the constraints cannot express."""
        steps = self._norm_steps()
        if (
            not steps
            and self.output_norm not in (None, "auto")
            or any(s not in NORM_STEPS for s in steps)
            or len(set(steps)) < len(steps)
        ):
            raise ValueError(
                f"output_norm={self.output_norm!r} must be None, one of "
                f"{sorted(NORM_STEPS)}, or a sequence of distinct ones, applied "
                "in order."
            )
        if self.gamma is not None and "rbf" not in self._similarity_names():
            raise ValueError(
                f"gamma={self.gamma!r} is only used by the 'rbf' similarity; "
                "leave it as None for the others."
            )

    def _dense_only(self):
        """Names of the similarities that refuse sparse samples."""
        return [
            getattr(s, "__name__", repr(s))
            for s in self._similarity_names()
            if not (isinstance(s, str) and s in SIMILARITIES and SIMILARITIES[s].sparse)
        ]

    def _accept_sparse(self, X):
        """Return `accept_sparse` for `validate_data`; refuse sparse `X` by name."""
        dense_only = self._dense_only()
        if not dense_only:
            return "csr"
        if sparse.issparse(X):
            supported = [name for name, cls in SIMILARITIES.items() if cls.sparse]
            raise TypeError(
                f"Sparse input is not supported by the similarity "
                f"{', '.join(dense_only)}; pass a dense array (X.toarray()) or use "
                f"one of {supported}."
            )
        return False

    def _validate(self, X, *, reset):
        if not reset:
            check_same_namespace(X, self, attribute="anchors_", method="transform")
        xp, _, device = get_namespace_and_device(X)
        # scikit-learn first sums X to look for infinities: a sum that
        # overflows warns, though the values checked one by one next are finite.
        with np.errstate(over="ignore", invalid="ignore"):
            X = validate_data(
                self,
                X,
                reset=reset,
                accept_sparse=self._accept_sparse(X),
                dtype=[xp.float64, xp.float32],
            )
        return X, xp, device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the anchors and learn their statistics.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training samples; anchors are chosen among them unless anchor
            vectors are given.
        y : array-like of shape (n_samples,), default=None
            Class labels, needed by ``anchors="stratified"`` only.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._check_params()
        labels = row_labels(X)
        X, xp, device = self._validate(X, reset=True)
        anchors, self.anchor_indices_, self.anchor_ids_ = resolve_anchors(
            X,
            self.anchors,
            self.n_anchors,
            y,
            self.random_state,
            labels=labels,
            feature_names=getattr(self, "feature_names_in_", None),
            xp=xp,
            device=device,
        )
        self._learn(anchors)
        return self

    def _learn(self, anchors):
        """Learn every statistic from the anchor vectors alone, then plan.

        :func:`sklearn_relreps.stitch` calls this with the anchors of another
        space, which re-anchors a fitted projection without its samples.
        """
        self.anchors_ = anchors
        self.mean_, self.scale_ = feature_statistics(
            anchors, center=self.center, standardize=self.standardize
        )
        inverse_scale = None if self.scale_ is None else 1 / self.scale_
        prepared = preprocess(anchors, self.mean_, inverse_scale)
        self.gamma_ = self._rbf_length = None
        if "rbf" in self._similarity_names():
            self.gamma_, self._rbf_length = _rbf_width(self.gamma, prepared)
        self.output_mean_ = self.output_scale_ = None
        if "standard" in self._norm_steps():
            self.output_mean_, self.output_scale_ = output_statistics(
                prepared, self._similarities(), self._norm()
            )
        self._n_features_out = len(self._feature_prefixes()) * anchors.shape[0]
        self._plan = self._make_plan(anchors.dtype)

    def _similarities(self):
        return [
            make_similarity(s, gamma=self.gamma_, length=self._rbf_length)
            for s in self._similarity_names()
        ]

    def _norm_steps(self):
        """Return the output normalisation steps (``"auto"`` by similarity).

        ``"auto"``: a softmax then a z-score for cosine, whose values lie in
        [-1, 1] so that one temperature suits every space (the measured
        recipe); the raw values for the other similarities, whose scales
        depend on the data.
        """
        if isinstance(self.output_norm, str) and self.output_norm == "auto":
            cosine = self._similarity_names() == ["cosine"]
            return ("softmax", "standard") if cosine else ()
        return norm_steps(self.output_norm)

    def _norm(self, mean=None, scale=None):
        return OutputNorm(
            self._norm_steps(),
            mean=mean,
            scale=scale,
            temperature=self.temperature,
        )

    def _make_plan(self, dtype):
        """Build the plan of `transform` for samples of `dtype`."""
        xp, _, device = get_namespace_and_device(self.anchors_)

        def cast(values):
            return None if values is None else xp.astype(values, dtype)

        norm = self._norm(cast(self.output_mean_), cast(self.output_scale_))
        return Plan(
            cast(self.anchors_),
            self._similarities(),
            mean=cast(self.mean_),
            scale=cast(self.scale_),
            norm=norm,
            aggregation=self._aggregation,
        )

    # -- transform ----------------------------------------------------------------

    def transform(self, X):
        """Describe every sample by its relation to the anchors.

        Rows are transformed independently of each other, in chunks whose
        temporary memory is bounded by scikit-learn's ``working_memory`` (see
        :func:`sklearn.set_config`). A Dask array or DataFrame is transformed
        lazily, block by block, into a Dask collection of the same kind, with
        the same row chunks (or partitions and index) and the columns of
        :meth:`get_feature_names_out`.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array, dask DataFrame} of shape \
                (n_samples, n_features)
            Samples, in the same latent space as the anchors.

        Returns
        -------
        X_new : ndarray, dask array or dask DataFrame of shape \
                (n_samples, n_features_out)
            Relative representation of `X`, of the same floating dtype.
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return dask_transform(self, X)
        X, xp, _ = self._validate(X, reset=False)
        plan = self._plan
        if X.dtype != plan.dtype or xp is not plan.xp:
            plan = self._make_plan(X.dtype)
        return run(plan, X, n_jobs=self.n_jobs)

    def __getstate__(self):
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        state.pop("_plan", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "anchors_" in state:
            if "gamma_" not in state:  # saved by version 0.1
                self._rbf_length = None
                self.gamma_ = None
                if "rbf" in self._similarity_names():
                    self.gamma_ = self.gamma or 1 / state["n_features_in_"]
            self._plan = self._make_plan(self.anchors_.dtype)

    # -- names and tags -------------------------------------------------------------

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: one per block and anchor.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``anchor_<id>`` (prefixed by the similarity name for product
            blocks), where ``<id>`` is the anchor's entry in `anchor_ids_`.
        """
        check_is_fitted(self, "_n_features_out")
        _check_feature_names_in(self, input_features, generate_names=False)
        ids = [str(i) for i in to_numpy(self.anchor_ids_).tolist()]
        names = [f"{p}anchor_{i}" for p in self._feature_prefixes() for i in ids]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        names = self._similarity_names()
        tags.input_tags.sparse = not self._dense_only()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = all(isinstance(s, str) for s in names)
        tags.target_tags.required = (
            isinstance(self.anchors, str) and self.anchors == "stratified"
        )
        return tags


def _rbf_width(gamma, prepared):
    """Return ``(gamma_, length)`` of the rbf kernel for the prepared anchors.

    A given `gamma` is used as it is; otherwise the length scale is the
    anchors' median distance (1 when it is 0), and ``gamma_ = 1 / length**2``,
    which may round to 0 or infinity for data near the dtype's limits.
    """
    if gamma is not None:
        return float(gamma), None
    length = median_distance(prepared) or 1.0
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        return float(np.float64(1.0) / np.float64(length) ** 2), length
