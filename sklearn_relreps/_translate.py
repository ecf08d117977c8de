"""LatentTranslator: a closed-form map from one latent space into another."""

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import StrOptions, _fit_context
from ._metrics import _check_spaces, _mean_cosine
from ._numerics import mean_and_std, power_of_two_scale, safe_scale


class LatentTranslator(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Map vectors of a source latent space into a target latent space.

    Latent space translation (Maiorca et al., NeurIPS 2023): the map is fit in
    closed form on parallel anchors, the same items embedded by the source
    encoder (`X`) and by the target encoder (`y`). Unlike a relative
    projection, the output lives in the target space itself, so models and
    search indices built on the target space can be used unchanged.

    Each side is first standardised with its own anchors' mean and population
    standard deviation (when `standardize`); then the map is fit between the
    standardised anchors, and :meth:`transform` standardises with the source
    statistics, maps, and un-standardises with the target statistics.

    Parameters
    ----------
    method : {"orthogonal", "linear", "affine"}, default="orthogonal"
        The family of maps. ``"orthogonal"`` solves the orthogonal Procrustes
        problem ``min ||X R - Y||_F`` over orthogonal ``R``, zero-padding the
        narrower side when the widths differ; ``"linear"`` is the least-squares
        matrix ``min ||X W - Y||_F``; ``"affine"`` adds an intercept. The last
        two need at least as many anchors as coefficients per target feature
        (see Notes).
    standardize : bool, default=True
        Centre and scale every feature of each side with its anchors' mean and
        population standard deviation before fitting the map. A deviation that
        is zero, or negligible for the dtype at the feature's scale, is
        replaced by 1.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_, n_targets)
        The map between the standardised spaces: ``x -> x @ coef_ +
        intercept_``. For ``"orthogonal"`` its columns (or rows, when the
        target is narrower) are orthonormal: it is the block of the padded
        orthogonal matrix that links real features.
    intercept_ : ndarray of shape (n_targets,)
        Offset of the map in standardised coordinates; zero except for
        ``"affine"``.
    inverse_coef_ : ndarray of shape (n_targets, n_features_in_)
        The matrix used by :meth:`inverse_transform`: ``coef_.T`` for
        ``"orthogonal"``, the Moore-Penrose pseudo-inverse of `coef_`
        otherwise.
    source_mean_, source_scale_ : ndarray of shape (n_features_in_,) or None
        Mean and feature scales of the source anchors; None when
        ``standardize=False``.
    target_mean_, target_scale_ : ndarray of shape (n_targets,) or None
        Mean and feature scales of the target anchors; None when
        ``standardize=False``.
    n_features_in_ : int
        Number of source features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of source features seen during :meth:`fit`, when `X` has string
        column names.

    See Also
    --------
    RelativeTransformer : Describe both spaces relative to shared anchors.
    sklearn_relreps.stitch : Reuse a model fit on relative features.
    scipy.linalg.orthogonal_procrustes : The orthogonal problem alone.

    Notes
    -----
    ``"linear"`` and ``"affine"`` raise a ``ValueError`` when the anchors are
    fewer than the coefficients of one target feature: ``n_features_in_``,
    plus one for ``"affine"`` or for ``standardize=True`` (centring uses one
    degree of freedom). With fewer anchors the least-squares problem has
    infinitely many exact solutions and the chosen one would say nothing
    about new points; add anchors or use ``"orthogonal"``, which is always
    determined. With ``standardize=True`` the sides are centred, so
    ``"linear"`` already fits an affine map and ``"affine"`` finds the same
    one.

    With unequal widths, the zero-padded features must be matched as well,
    so ``"orthogonal"`` recovers a rotation followed by dropped features
    exactly only from anchors whose features are uncorrelated with equal
    spread.

    :meth:`inverse_transform` maps target vectors back to the source space.
    It inverts :meth:`transform` exactly when the map is invertible: for
    ``"orthogonal"``, on the source side when the source is at most as wide
    as the target (and on the target side otherwise); for the least-squares
    maps, when `coef_` has full row rank.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relreps import LatentTranslator
    >>> rng = np.random.RandomState(0)
    >>> source = rng.normal(size=(200, 6))
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    >>> target = source @ rotation
    >>> translator = LatentTranslator(standardize=False).fit(source, target)
    >>> np.allclose(translator.coef_, rotation)
    True
    >>> new = rng.normal(size=(3, 6))
    >>> np.allclose(translator.transform(new), new @ rotation)
    True
    >>> np.allclose(translator.inverse_transform(new @ rotation), new)
    True
    >>> round(translator.score(new, new @ rotation), 6)
    1.0
    """

    _parameter_constraints = {
        "method": [StrOptions({"orthogonal", "linear", "affine"})],
        "standardize": ["boolean"],
    }

    def __init__(self, method="orthogonal", *, standardize=True):
        self.method = method
        self.standardize = standardize

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the map on parallel anchors.

        Parameters
        ----------
        X : array-like of shape (n_anchors, n_features)
            The anchors embedded by the source encoder.
        y : array-like of shape (n_anchors, n_targets) or (n_anchors,)
            The same anchors, in the same order, embedded by the target
            encoder; a 1-D `y` is one target feature.

        Returns
        -------
        self : object
            The fitted translator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        y = self._check_target(y, X.dtype)
        if X.shape[0] != y.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} rows but y has {y.shape[0]}: the translator "
                "is fit on parallel anchors, the same items embedded in the "
                "source space (X) and in the target space (y), in the same order."
            )
        n_anchors, n_features = X.shape
        if self.method != "orthogonal":
            needed = n_features + (self.method == "affine" or self.standardize)
            if n_anchors < needed:
                raise ValueError(
                    f"method={self.method!r} with standardize={self.standardize} "
                    f"fits {needed} coefficients per target feature from "
                    f"{n_features} source features but got n_samples={n_anchors} "
                    "anchors; the least-squares map is not determined. Use more "
                    "anchors or method='orthogonal'."
                )
        self.source_mean_, self.source_scale_ = self._statistics(X)
        self.target_mean_, self.target_scale_ = self._statistics(y)
        source = self._standardise(X, self.source_mean_, self.source_scale_)
        target = self._standardise(y, self.target_mean_, self.target_scale_)
        # Bring each side to order one by an exact power of two, so that the
        # products below neither overflow nor underflow, and the column of ones
        # of "affine" is commensurate with the data.
        s_x = power_of_two_scale(np.max(np.abs(source)), np)
        s_y = power_of_two_scale(np.max(np.abs(target)), np)
        source, target = source / s_x, target / s_y

        self.intercept_ = np.zeros(y.shape[1], dtype=X.dtype)
        if self.method == "orthogonal":
            # The Procrustes rotation between the zero-padded sides, restricted
            # to the real features: padding adds zero rows or columns to
            # source.T @ target, which leave its thin SVD unchanged, and so
            # does the positive factor 1 / (s_x * s_y).
            u, _, vt = np.linalg.svd(source.T @ target, full_matrices=False)
            self.coef_ = u @ vt
            self.inverse_coef_ = self.coef_.T
        else:
            if self.method == "affine":
                source = np.hstack([source, np.ones((n_anchors, 1), dtype=X.dtype)])
            solution = np.linalg.lstsq(source, target, rcond=None)[0]
            coef = solution[:n_features]
            # The fit is target / s_y ~ (source / s_x) @ coef + b; times s_y,
            # it is the map between the unscaled sides.
            self.coef_ = coef * (s_y / s_x)
            if self.method == "affine":
                self.intercept_ = solution[n_features] * s_y
            self.inverse_coef_ = np.linalg.pinv(coef) * (s_x / s_y)
        self._n_features_out = y.shape[1]
        return self

    def transform(self, X):
        """Map source vectors into the target space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Vectors of the source space.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_targets)
            Their images in the target space, of the same floating dtype.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        mapped = self._standardise(X, self.source_mean_, self.source_scale_)
        mapped = mapped @ self.coef_.astype(X.dtype, copy=False)
        mapped += self.intercept_.astype(X.dtype, copy=False)
        return self._unstandardise(mapped, self.target_mean_, self.target_scale_)

    def inverse_transform(self, X):
        """Map target vectors back into the source space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_targets)
            Vectors of the target space.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Their preimages in the source space, of the same floating dtype.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=[np.float64, np.float32])
        if X.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {X.shape[1]} features, but inverse_transform expects "
                f"vectors of the target space, which has {self._n_features_out}."
            )
        mapped = self._standardise(X, self.target_mean_, self.target_scale_)
        mapped = mapped - self.intercept_.astype(X.dtype, copy=False)
        mapped = mapped @ self.inverse_coef_.astype(X.dtype, copy=False)
        return self._unstandardise(mapped, self.source_mean_, self.source_scale_)

    def score(self, X, y):
        """Mean cosine similarity between translated vectors and their targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Vectors of the source space.
        y : array-like of shape (n_samples, n_targets) or (n_samples,)
            The same items in the target space.

        Returns
        -------
        score : float
            :func:`sklearn_relreps.metrics.mean_cosine` of ``transform(X)`` and
            `y`: in ``[-1, 1]``, greater is better, 1 for a perfect translation.
        """
        translated = self.transform(X)
        y = self._check_target(y, translated.dtype)
        return _mean_cosine(
            *_check_spaces(
                translated, y, "mean_cosine", same_width=True, dtype=np.float64
            )
        )

    @staticmethod
    def _check_target(y, dtype):
        if y is None:
            raise ValueError(
                "LatentTranslator requires y to be passed, but the target y is "
                "None: give the anchors embedded in the target space."
            )
        y = check_array(y, dtype=dtype, ensure_2d=False, input_name="y")
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _statistics(self, Z):
        if not self.standardize:
            return None, None
        mean, std = mean_and_std(Z, np)
        return mean, safe_scale(std, mean, np)

    @staticmethod
    def _standardise(Z, mean, scale):
        if mean is None:
            return Z
        return (Z - mean.astype(Z.dtype, copy=False)) / scale.astype(
            Z.dtype, copy=False
        )

    @staticmethod
    def _unstandardise(Z, mean, scale):
        if mean is None:
            return Z
        return Z * scale.astype(Z.dtype, copy=False) + mean.astype(Z.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = False
        tags.array_api_support = False
        return tags
