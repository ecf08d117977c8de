"""LatentTranslator: a closed-form map from one latent space into another."""

from numbers import Real

import numpy as np
import pandas as pd
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_array, gen_batches
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import Interval, StrOptions, _fit_context, get_chunk_n_rows
from ._metrics import _check_spaces, _mean_cosine
from ._numerics import (
    mean_and_std,
    power_of_two_scale,
    row_sqnorms,
    safe_scale,
    safe_sqnorm_range,
)


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
    method : {"orthogonal", "linear", "affine", "ridge", "kernel"}, \
            default="orthogonal"
        The family of maps, fit between the (standardised) anchors ``X`` of
        the source and ``Y`` of the target:

        - ``"orthogonal"``: the orthogonal Procrustes solution ``R = U V^T``
          of ``min ||X R - Y||_F`` over orthogonal ``R``, from the SVD
          ``U S V^T = X^T Y``, zero-padding the narrower side when the widths
          differ;
        - ``"linear"``: the least-squares matrix ``min ||X W - Y||_F``;
        - ``"affine"``: least squares with an intercept,
          ``min ||X W + 1 b^T - Y||_F``;
        - ``"ridge"``: ridge regression ``W = (X^T X + alpha I)^{-1} X^T Y``;
          with ``standardize=False`` both sides are first centred on their
          anchors' means, which fits an intercept (not penalised);
        - ``"kernel"``: kernel ridge regression with the Gaussian (RBF)
          kernel ``k(a, b) = exp(-gamma ||a - b||^2)`` on the source anchors:
          ``dual_coef_ = (K + alpha I)^{-1} Y`` with ``K_ij = k(a_i, a_j)``,
          and ``x -> k(x, anchors_) @ dual_coef_``. With
          ``standardize=False``, ``Y`` is first centred on its anchors' mean,
          added back as `intercept_`.

        ``"linear"`` and ``"affine"`` need at least as many anchors as
        coefficients per target feature (see Notes); the others need no
        minimum.
    standardize : bool, default=True
        Centre and scale every feature of each side with its anchors' mean and
        population standard deviation before fitting the map. A deviation that
        is zero, or negligible for the dtype at the feature's scale, is
        replaced by 1.
    alpha : float, default=1.0
        Strictly positive regularisation strength of ``"ridge"`` and
        ``"kernel"``, added to the diagonal of the Gram or kernel matrix (in
        the units of the standardised sides when `standardize`). Ignored by
        the other methods.
    gamma : float, default=None
        Width of the RBF kernel of ``"kernel"``, in the units of the
        standardised source. None uses the median heuristic: one over the
        median squared distance between pairs of distinct source anchors (1
        if all anchors coincide). Only valid with ``method="kernel"``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_, n_targets)
        The map between the standardised spaces: ``x -> x @ coef_ +
        intercept_`` (not set for ``"kernel"``). For ``"orthogonal"`` its
        columns (or rows, when the target is narrower) are orthonormal: it is
        the block of the padded orthogonal matrix that links real features.
    intercept_ : ndarray of shape (n_targets,)
        Offset of the map in standardised coordinates; zero except for
        ``"affine"``, and for ``"ridge"`` and ``"kernel"`` with
        ``standardize=False``.
    inverse_coef_ : ndarray of shape (n_targets, n_features_in_)
        Not set for ``"kernel"``.
        The matrix used by :meth:`inverse_transform`: ``coef_.T`` for
        ``"orthogonal"``, the Moore-Penrose pseudo-inverse of `coef_`
        otherwise.
    anchors_ : ndarray of shape (n_anchors, n_features_in_)
        For ``"kernel"`` only: the source anchors, standardised when
        `standardize`.
    dual_coef_ : ndarray of shape (n_anchors, n_targets)
        For ``"kernel"`` only: the weights of the kernel rows.
    gamma_ : float
        For ``"kernel"`` only: the kernel width used, `gamma` or the median
        heuristic's.
    target_names_ : ndarray of shape (n_targets,) or None
        The column names of `y` when it was a DataFrame with string column
        names, returned by :meth:`get_feature_names_out`; None otherwise.
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
    and ridge maps (through the pseudo-inverse of `coef_`), when `coef_` has
    full row rank. ``"kernel"`` has no inverse (the attribute is absent, so
    pipelines report it too): fit a translator in the other direction.

    When `X` and `y` are both pandas DataFrames, :meth:`fit` (and
    :meth:`score`) match their rows by index label, so a reordered target
    frame gives the same map; the two indexes must hold the same unique ids.
    When `y` is a DataFrame with string column names, the output carries
    them (see :meth:`get_feature_names_out`), so with
    ``set_output(transform="pandas")`` it can be fed to a model fit on the
    target's frame.

    Measured on real text encoders with 1,000 anchors, as the accuracy of a
    classifier trained on the target's raw features and fed translated
    source vectors (mean over 10 pairs of encoders from different
    families), ``"orthogonal"`` gave 0.64, ``"ridge"`` 0.64 and ``"kernel"``
    0.69; between sentence transformers of the same family, 0.78, 0.77 and
    0.78.

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
        "method": [StrOptions({"orthogonal", "linear", "affine", "ridge", "kernel"})],
        "standardize": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, method="orthogonal", *, standardize=True, alpha=1.0, gamma=None):
        self.method = method
        self.standardize = standardize
        self.alpha = alpha
        self.gamma = gamma

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the map on parallel anchors.

        Parameters
        ----------
        X : array-like of shape (n_anchors, n_features)
            The anchors embedded by the source encoder.
        y : array-like of shape (n_anchors, n_targets) or (n_anchors,)
            The same anchors, in the same order, embedded by the target
            encoder; a 1-D `y` is one target feature. When `X` and `y` are
            both pandas DataFrames, the rows of `y` are matched to those of
            `X` by index label instead.

        Returns
        -------
        self : object
            The fitted translator.
        """
        if self.gamma is not None and self.method != "kernel":
            raise ValueError(
                f"gamma={self.gamma!r} is only used by method='kernel', but "
                f"method={self.method!r}; leave gamma=None."
            )
        for stale in ("coef_", "inverse_coef_", "anchors_", "dual_coef_", "gamma_"):
            self.__dict__.pop(stale, None)  # a refit replaces all state
        y = _align_frames(X, y)
        self.target_names_ = _string_columns(y)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        y = self._check_target(y, X.dtype)
        if X.shape[0] != y.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} rows but y has {y.shape[0]}: the translator "
                "is fit on parallel anchors, the same items embedded in the "
                "source space (X) and in the target space (y), in the same order."
            )
        n_anchors, n_features = X.shape
        if self.method in ("linear", "affine"):
            needed = n_features + (self.method == "affine" or self.standardize)
            if n_anchors < needed:
                raise ValueError(
                    f"method={self.method!r} with standardize={self.standardize} "
                    f"fits {needed} coefficients per target feature from "
                    f"{n_features} source features but got n_samples={n_anchors} "
                    "anchors; the least-squares map is not determined. Use more "
                    "anchors or method='orthogonal', 'ridge' or 'kernel'."
                )
        self.source_mean_, self.source_scale_ = self._statistics(X)
        self.target_mean_, self.target_scale_ = self._statistics(y)
        source = self._standardise(X, self.source_mean_, self.source_scale_)
        target = self._standardise(y, self.target_mean_, self.target_scale_)
        self._n_features_out = y.shape[1]
        self.intercept_ = np.zeros(y.shape[1], dtype=X.dtype)
        if self.method == "kernel":
            self._fit_kernel(source, target)
            return self
        if self.method == "ridge" and not self.standardize:
            # The intercept of ridge regression: fit on the sides centred on
            # the anchors' means, then move the offset into `intercept_`.
            source_centre, target_centre = X.mean(axis=0), y.mean(axis=0)
            source, target = source - source_centre, target - target_centre
        # Bring each side to order one by an exact power of two, so that the
        # products below neither overflow nor underflow, and the column of ones
        # of "affine" is commensurate with the data.
        s_x = power_of_two_scale(np.max(np.abs(source)), np)
        s_y = power_of_two_scale(np.max(np.abs(target)), np)
        source, target = source / s_x, target / s_y

        if self.method == "orthogonal":
            # The Procrustes rotation between the zero-padded sides, restricted
            # to the real features: padding adds zero rows or columns to
            # source.T @ target, which leave its thin SVD unchanged, and so
            # does the positive factor 1 / (s_x * s_y).
            u, _, vt = np.linalg.svd(source.T @ target, full_matrices=False)
            self.coef_ = u @ vt
            self.inverse_coef_ = self.coef_.T
            return self
        if self.method == "ridge":
            # alpha * I in the units of the unscaled source.
            coef = _ridge(source, target, self.alpha / (float(s_x) * float(s_x)))
        else:
            if self.method == "affine":
                source = np.hstack([source, np.ones((n_anchors, 1), dtype=X.dtype)])
            solution = np.linalg.lstsq(source, target, rcond=None)[0]
            coef = solution[:n_features]
            if self.method == "affine":
                self.intercept_ = solution[n_features] * s_y
        # The fit is target / s_y ~ (source / s_x) @ coef + b; times s_y, it
        # is the map between the unscaled sides.
        self.coef_ = coef * (s_y / s_x)
        self.inverse_coef_ = np.linalg.pinv(coef) * (s_x / s_y)
        if self.method == "ridge" and not self.standardize:
            self.intercept_ = target_centre - source_centre @ self.coef_
        return self

    def _fit_kernel(self, source, target):
        self.anchors_ = source
        # Squared distances between the anchors, in units of a power of two of
        # their magnitude (`_kernel_units`), with an exact zero diagonal.
        units = _kernel_units(source)
        scaled = source / units
        sqnorms, _ = _sqnorms(scaled)
        distances = _squared_distances(scaled, scaled, sqnorms, sqnorms)
        np.fill_diagonal(distances, 0)
        if self.gamma is None:
            pairs = distances[np.triu_indices(len(source), k=1)]
            pairs = pairs[pairs > 0]
            # Median heuristic; without two distinct anchors any width gives
            # the same (constant) kernel, and 1 is used.
            median = float(np.median(pairs)) if pairs.size else 1.0
            self.gamma_ = 1.0 / (median * float(units) ** 2)
        else:
            self.gamma_ = float(self.gamma)
        kernel = _rbf(distances, self.gamma_, units)
        if not self.standardize:
            # Centre the target on the anchors' mean: far from every anchor,
            # the translation tends to that mean rather than to the origin.
            self.intercept_ = target.mean(axis=0)
            target = target - self.intercept_
        s_y = power_of_two_scale(np.max(np.abs(target)), np)
        kernel[np.diag_indices_from(kernel)] += kernel.dtype.type(self.alpha)
        dual = linalg.solve(kernel, target / s_y, assume_a="pos", overwrite_a=True)
        self.dual_coef_ = dual * s_y

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
        if self.method == "kernel":
            mapped = self._kernel_map(mapped)
        else:
            mapped = mapped @ self.coef_.astype(X.dtype, copy=False)
        mapped += self.intercept_.astype(X.dtype, copy=False)
        return self._unstandardise(mapped, self.target_mean_, self.target_scale_)

    def _kernel_map(self, X):
        """``K(X, anchors_) @ dual_coef_``, the kernel computed in row chunks."""
        anchors = self.anchors_.astype(X.dtype, copy=False)
        dual = self.dual_coef_.astype(X.dtype, copy=False)
        units = _kernel_units(anchors)
        scaled_anchors = anchors / units
        a_sqnorms, _ = _sqnorms(scaled_anchors)
        out = np.empty((X.shape[0], dual.shape[1]), dtype=X.dtype)
        # Per row: the kernel row, and a copy of the row's features.
        row_bytes = (anchors.shape[0] + X.shape[1]) * X.dtype.itemsize
        chunk = get_chunk_n_rows(row_bytes, max_n_rows=max(1, X.shape[0]))
        for rows in gen_batches(X.shape[0], chunk):
            with np.errstate(over="ignore"):
                block = X[rows] / units
            x_sqnorms, safe = _sqnorms(block)
            distances = _squared_distances(block, scaled_anchors, x_sqnorms, a_sqnorms)
            for i in np.flatnonzero(~safe):
                distances[i] = _far_squared_distances(X[rows][i], anchors, units)
            out[rows] = _rbf(distances, self.gamma_, units) @ dual
        return out

    def _has_inverse(self):
        if self.method == "kernel":
            raise AttributeError(
                "LatentTranslator(method='kernel') has no inverse_transform: the "
                "kernel map is not invertible in closed form. Fit a second "
                "translator from the target space to the source space instead."
            )
        return True

    @available_if(_has_inverse)
    def inverse_transform(self, X):
        """Map target vectors back into the source space.

        Not available for ``method="kernel"``: fit a translator in the other
        direction instead.

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

    def get_feature_names_out(self, input_features=None):
        """Get output feature names for transformation.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The column names of the target DataFrame given to :meth:`fit`
            (`target_names_`) when it had string column names, otherwise
            ``latenttranslator0``, ``latenttranslator1``, ...
        """
        names = super().get_feature_names_out(input_features)
        if self.target_names_ is not None:
            return self.target_names_.copy()
        return names

    def score(self, X, y):
        """Mean cosine similarity between translated vectors and their targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Vectors of the source space.
        y : array-like of shape (n_samples, n_targets) or (n_samples,)
            The same items in the target space; matched to `X` by index label
            when both are pandas DataFrames.

        Returns
        -------
        score : float
            :func:`sklearn_relreps.metrics.mean_cosine` of ``transform(X)`` and
            `y`: in ``[-1, 1]``, greater is better, 1 for a perfect translation.
        """
        y = _align_frames(X, y)
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


def _align_frames(X, y):
    """Return `y` with its rows in the order of `X`'s index, for two frames."""
    if not (isinstance(X, pd.DataFrame) and isinstance(y, pd.DataFrame)):
        return y
    for name, frame in (("X", X), ("y", y)):
        if not frame.index.is_unique:
            duplicated = frame.index[frame.index.duplicated()].unique()
            raise ValueError(
                f"The index of {name} has duplicated ids {_some(duplicated)}: "
                "the rows of X and y are matched by index label, which must "
                "name each anchor once."
            )
    missing = X.index.difference(y.index, sort=False)
    extra = y.index.difference(X.index, sort=False)
    if len(missing) or len(extra):
        raise ValueError(
            "X and y are DataFrames whose rows are matched by index label, but "
            "their indexes differ: ids of X missing from y: "
            f"{_some(missing)}; ids of y not in X: {_some(extra)}."
        )
    return y.loc[X.index]


def _some(ids, shown=10):
    listed = ", ".join(repr(i) for i in list(ids)[:shown])
    more = f", ... ({len(ids)} in all)" if len(ids) > shown else ""
    return f"[{listed}{more}]"


def _string_columns(y):
    """Return the column names of a DataFrame `y` if all are strings, or None."""
    columns = getattr(y, "columns", None)
    if columns is None or getattr(y, "ndim", 2) != 2:
        return None
    names = np.asarray(list(columns), dtype=object)
    if names.size and all(isinstance(name, str) for name in names):
        return names
    return None


def _ridge(source, target, alpha):
    """``(S^T S + alpha I)^{-1} S^T T``, solved on the smaller Gram matrix."""
    n_anchors, n_features = source.shape
    if n_features <= n_anchors:
        gram = source.T @ source
        gram[np.diag_indices_from(gram)] += alpha
        return linalg.solve(gram, source.T @ target, assume_a="pos")
    # Push-through identity: (S^T S + a I)^{-1} S^T = S^T (S S^T + a I)^{-1}.
    gram = source @ source.T
    gram[np.diag_indices_from(gram)] += alpha
    return source.T @ linalg.solve(gram, target, assume_a="pos")


def _kernel_units(anchors):
    """Return a power of two of the anchors' magnitude, the distances' unit."""
    return power_of_two_scale(np.max(np.abs(anchors), initial=0), np)


def _sqnorms(X):
    """Squared row norms, and whether each is safe for the expansion."""
    with np.errstate(over="ignore", under="ignore"):
        sqnorms = row_sqnorms(X, np)
    low, high = safe_sqnorm_range(X.shape[1], np.finfo(X.dtype))
    return sqnorms, (sqnorms >= low) & (sqnorms <= high)


def _far_squared_distances(x, anchors, units):
    """Squared distances, in `units`, of a very large or small row `x`.

    The differences are taken in units of the row's own magnitude, where they
    cannot overflow; converted back, too large a distance becomes infinite,
    whose kernel value is the exact limit, 0.
    """
    row_units = max(units, power_of_two_scale(np.max(np.abs(x)), np))
    differences = x / row_units - anchors / row_units
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = row_units / units
        return np.sum(differences * differences, axis=1) * (ratio * ratio)


def _squared_distances(X, A, x_sqnorms, a_sqnorms):
    """``||x - a||^2`` from the expansion, clipped at 0 against rounding."""
    with np.errstate(over="ignore", invalid="ignore"):
        distances = X @ A.T
        distances *= -2
        distances += x_sqnorms[:, None]
        distances += a_sqnorms[None, :]
    return np.maximum(distances, 0, out=distances)


def _rbf(distances, gamma, units):
    """``exp(-gamma * d)`` in place, for distances `d` measured in `units`."""
    factor = gamma * float(units) ** 2
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        distances *= distances.dtype.type(-factor) if np.isfinite(factor) else -np.inf
        np.nan_to_num(distances, copy=False, nan=0.0)  # -inf * 0: same point
        np.exp(distances, out=distances)
    return distances
