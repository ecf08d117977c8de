"""Similarities between samples and anchors: one object per kind, one contract.

A similarity is prepared once on the anchors (everything that depends on the
anchors alone: unit rows, norms, centre, transposed or padded copies), then
applied to chunk after chunk of samples::

    side = similarity.prepare(anchors)
    block = similarity.apply(X_chunk, side, out=None)   # (n_rows, n_anchors)

`apply` writes into `out` when it is given (a NumPy array, possibly a view of
one block of a wider output) and returns it. Calling a similarity,
``similarity(X, anchors)``, does both. The kernels are written with array-API
operations, so they run on NumPy, CuPy or PyTorch arrays; NumPy arrays go
through compiled passes of :mod:`._kernels` where they pay. Samples may be a
SciPy CSR matrix for the similarities with ``sparse = True``.

Numerics: every row is measured in units of a power of two of its magnitude
when its squared norm is out of the safe range (see :mod:`._numerics`), so
values of any magnitude the dtype holds give finite results; only ``dot``,
whose values themselves can leave the range, raises. Euclidean distances use
the expansion ``|x - c|^2 + |a - c|^2 - 2 (x - c).(a - c)`` from the anchors'
centre c; a squared distance below the expansion's rounding error is 0.
"""

import numpy as np
from scipy import sparse

from ._compat import get_namespace_and_device, to_numpy
from ._kernels import (
    abs_difference_distances,
    centred_sqnorms,
    finish_folded,
    finish_squared_distances,
    prepare_abs_differences,
    scale_rows_and_clip,
)
from ._numerics import (
    check_finite_rows,
    check_in_range,
    checked_sqnorms,
    inverse_norms,
    mean_and_std,
    power_of_two_scale,
    rescale_rows,
    row_sqnorms,
    safe_sqnorm_range,
    subtract,
    unit_rows,
)

#: The broadcasting L1/L-inf kernels (non-NumPy arrays) compare this many
#: anchors at a time, which bounds their temporary memory per sample row.
ANCHOR_BLOCK = 8


def _xp(X, A):
    if sparse.issparse(X):
        return get_namespace_and_device(A)[0]
    return get_namespace_and_device(X, A)[0]


def _product(X, B, xp, out):
    """Return ``X @ B``, written into `out` when it is given (NumPy only)."""
    if out is None:
        return xp.asarray(X @ B)
    if sparse.issparse(X):
        out[...] = X @ B
        return out
    return np.matmul(X, B, out=out)


def _anchor_units(A, xp):
    """Return ``(A / a_scale, squared norms, a_scale)``; a_scale None for 1."""
    a_sqnorms, a_safe = checked_sqnorms(A, xp)
    if bool(xp.all(a_safe)):
        return A, a_sqnorms, None
    a_scale = power_of_two_scale(xp.max(xp.abs(A)), xp)
    A = A / a_scale
    return A, row_sqnorms(A, xp), a_scale


def _dot(X, anchors, out=None):
    A, _, a_scale = anchors
    xp = _xp(X, A)
    X, _, x_scales = rescale_rows(X, xp)
    if x_scales is None and a_scale is None:
        # |x . a| <= |x| |a|: in range, by the bounds on both norms.
        return _product(X, A.T, xp, out)
    if x_scales is None:
        x_scales = xp.ones(X.shape[0], dtype=A.dtype, device=A.device)
    # Products of rows brought within range cannot overflow or underflow in
    # the sum; only the final rescaling can, and then the true value is out of
    # range.
    scaled = xp.asarray(X @ A.T)
    with np.errstate(over="ignore", under="ignore"):
        if a_scale is not None:
            x_scales = x_scales * a_scale
        products = scaled * x_scales[:, None]
    finfo = xp.finfo(products.dtype)
    magnitude = xp.abs(products)
    in_range = (magnitude <= finfo.max) & (
        (magnitude >= finfo.smallest_normal) | (scaled == 0)
    )
    if not bool(xp.all(in_range)):
        raise ValueError(
            f"The dot products of X and the anchors fall outside the {products.dtype}"
            f" range (magnitudes {float(finfo.smallest_normal):.3g} to "
            f"{float(finfo.max):.3g}); rescale the data, pass float64 data, or use a "
            "scale-free similarity such as 'cosine'."
        )
    if out is None:
        return products
    out[...] = products
    return out


def _cosine(X, anchors, out=None):
    xp = _xp(X, anchors)
    # Scaling rows by powers of two leaves cosines unchanged (exactly) and keeps
    # the squared norms within the dtype's range, whatever the data's magnitude.
    X, sqnorms, _ = rescale_rows(X, xp)
    products = _product(X, anchors.T, xp, out)  # anchors: unit rows
    inverse = inverse_norms(sqnorms, xp)
    if isinstance(products, np.ndarray):
        return scale_rows_and_clip(products, inverse, -1.0, 1.0)
    products *= inverse[:, None]
    return xp.clip(products, -1.0, 1.0)


#: The samples' centring is folded into the anchors' side when the anchors'
#: centre is at most this many times their root-mean-square distance from it.
_FOLD_CENTRE = 1.0


def _prepare_expansion(A):
    """Compute the anchors' side of :func:`_expansion` and :func:`_folded`.

    Dense samples are measured from the anchors' centre c: distances ignore
    translations, and the centre keeps the norms small and the expansion free
    of needless cancellation. Sparse samples, which centring would make dense,
    are measured from the origin.

    For NumPy anchors near the origin (``|c|`` at most ``_FOLD_CENTRE`` times
    their spread), ``(x - c) . (a - c)`` is computed as ``x . (a - c) - c .
    (a - c)`` (see :func:`_folded`): the second term ("offsets") is the
    anchors' alone, and the samples need no centred copy. The rounding error
    of the product grows from the order of ``eps |x - c| |a - c|`` to ``eps
    (|x - c| + |c|) |a - c|``: with ``|c|`` no larger than the anchors'
    spread, that is at most the error for a sample at the anchors' typical
    distance from their centre. Returns
    ``(centre, centred anchors, anchors from the origin, offsets or None)``.
    """
    xp = get_namespace_and_device(A)[0]
    centre = mean_and_std(A, xp)[0]  # a plain mean can overflow
    centred = _anchor_units(subtract(A, centre, _CENTRED), xp)
    A_c, a_sqnorms, a_scale = centred
    offsets = None
    if isinstance(A, np.ndarray) and a_scale is None:
        spread = float(np.mean(a_sqnorms, dtype=np.float64))
        near = float(np.dot(centre, centre)) <= _FOLD_CENTRE**2 * spread
        if near:
            offsets = A_c @ centre
    return centre, centred, _anchor_units(A, xp), offsets


#: What overflows when a sample or anchor minus the anchors' centre does: some
#: distance to an anchor is at least as large as that difference.
_CENTRED = "euclidean distances of X to the anchors (measured from their centre)"


def _expansion(X, anchors, out):
    """Terms of ``||x - a||**2 = ||x||**2 + ||a||**2 - 2 x . a``, per row scale.

    Returns ``(products, x_sqnorms, a_sqnorms, ratio, scales)``: row i is
    measured in units of ``scales[i]`` (a power of two) and the anchors in
    units of ``scales[i] * ratio[i]``; both are None for units of 1. A row's
    units are at least as large as its own entries and, unless the anchors are
    safe as they are, the anchors', so that its squared distances stay within
    the dtype's range (no overflow for huge values, no underflow for tiny
    ones) and depend on that row and the anchors only.
    """
    centre, centred, from_origin, _ = anchors
    xp = _xp(X, from_origin[0])
    A, a_sqnorms, a_scale = from_origin if sparse.issparse(X) else centred
    x_sqnorms = None
    if isinstance(X, np.ndarray):
        # One pass over X gives the centred copy and its rows' norms.
        centred_X, x_sqnorms = centred_sqnorms(X, centre)
        check_finite_rows(X, x_sqnorms, xp)
        suspect = ~np.isfinite(x_sqnorms)  # overflowing squares, or differences
        if suspect.any():
            check_in_range(centred_X[suspect], _CENTRED)
        X = centred_X
    elif not sparse.issparse(X):
        X = subtract(X, centre, _CENTRED)
    X, x_sqnorms, scales = rescale_rows(X, xp, floor=a_scale, sqnorms=x_sqnorms)
    if scales is None:
        ratio = None
    else:
        ratio = (1.0 if a_scale is None else a_scale) / scales
    products = _product(X, A.T, xp, out)
    return products, x_sqnorms, a_sqnorms, ratio, scales


# Below this many eps times the squared norms, the expansion's rounding error
# exceeds the squared distance itself: it is reported as 0, so that identical
# vectors are at distance exactly 0.
_EXPANSION_NOISE = 16


def _finish_expansion(terms, xp, row_factors, use_exp):
    """Finish the squared distances t from their terms (see :func:`_expansion`).

    Returns the distances ``row_factors * sqrt(t)`` or, with `use_exp`, the
    kernel values ``exp(-row_factors**2 * t)``.
    """
    products, x_sqnorms, a_sqnorms, ratio, _ = terms
    noise = _EXPANSION_NOISE * float(xp.finfo(products.dtype).eps)
    if isinstance(products, np.ndarray):
        ones = np.ones(products.shape[0], dtype=products.dtype)
        return finish_squared_distances(
            products,
            x_sqnorms,
            a_sqnorms,
            np.zeros_like(a_sqnorms),
            ones if ratio is None else ratio,
            ones * row_factors if np.ndim(row_factors) == 0 else row_factors,
            noise,
            use_exp=use_exp,
        )
    ratio = 1.0 if ratio is None else ratio[:, None]
    row_factors = row_factors if np.ndim(row_factors) == 0 else row_factors[:, None]
    products *= -2 * ratio
    norms = x_sqnorms[:, None] + ratio * ratio * a_sqnorms[None, :]
    products += norms
    squared = xp.where(products <= norms * noise, xp.zeros_like(products), products)
    if use_exp:
        with np.errstate(over="ignore"):
            squared *= -row_factors
            squared *= row_factors
        return xp.exp(squared)
    return xp.sqrt(squared) * row_factors


def _folded(X, anchors, out, factor, use_exp, general):
    """Distances or kernel values from the uncentred samples, where it applies.

    For NumPy samples and anchors whose centring folds into offsets (see
    :func:`_prepare_expansion`), one product of the samples as given, then one
    pass that computes each row's centred norm and finishes the row, with the
    unit `factor`. The rows whose norms are outside the safe range (see
    :func:`._numerics.safe_sqnorm_range`), or not finite, are computed again by
    ``general(rows, anchors)``, which also raises for NaN and infinite values.
    """
    centre, (A, a_sqnorms, _), _, offsets = anchors
    if offsets is None or not isinstance(X, np.ndarray):
        return general(X, anchors, out)
    finfo = np.finfo(X.dtype)
    # Overflowing or invalid products are in rows computed again below.
    with np.errstate(over="ignore", invalid="ignore"):
        products = _product(X, A.T, np, out)
    left = finish_folded(
        products,
        X,
        centre,
        a_sqnorms,
        offsets,
        factor,
        _EXPANSION_NOISE * float(finfo.eps),
        safe_sqnorm_range(X.shape[1], finfo),
        use_exp=use_exp,
    )
    if left.any():
        rows = np.flatnonzero(left)
        products[rows] = general(X[rows], anchors, None)
    return products


def _euclidean_terms(X, anchors, out=None):
    terms = _expansion(X, anchors, out)
    xp = _xp(X, anchors[0])
    scales = terms[-1]
    return _finish_expansion(terms, xp, 1.0 if scales is None else scales, False)


def _reduce_abs_differences(X, A, reduce):
    xp, _, device = get_namespace_and_device(X, A)
    out = xp.empty((X.shape[0], A.shape[0]), dtype=X.dtype, device=device)
    n_anchors = A.shape[0]
    for start in range(0, n_anchors, ANCHOR_BLOCK):
        stop = min(start + ANCHOR_BLOCK, n_anchors)
        differences = xp.abs(X[:, None, :] - A[None, start:stop, :])
        out[:, start:stop] = reduce(differences, axis=2)
    return out


class Similarity:
    """A way to compare samples with anchors (see the module docstring).

    Class attributes describe what the engine needs to know: `sparse`, whether
    CSR samples are accepted; `row_overhead`, the temporary values per sample
    row as a multiple of ``n_features``; `symmetric`, whether ``sim(a, b) ==
    sim(b, a)``.
    """

    name = None
    description = "similarities"
    sparse = False
    row_overhead = 0
    symmetric = True

    def prepare(self, anchors):
        """Return what `apply` needs from the anchors, computed once."""
        return anchors

    def apply(self, X, side, out=None):
        """Return the (n_samples, n_anchors) values of `X` against the anchors."""
        raise NotImplementedError

    def __call__(self, X, anchors, out=None):
        return self.apply(X, self.prepare(anchors), out)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Cosine(Similarity):
    """Cosine similarity; 0 for a zero sample or anchor."""

    name = "cosine"
    description = "cosine similarities"
    sparse = True

    def prepare(self, anchors):
        return unit_rows(anchors, get_namespace_and_device(anchors)[0])

    def apply(self, X, side, out=None):
        return _cosine(X, side, out)


class Dot(Similarity):
    """Inner product; raises when a nonzero product leaves the dtype's range."""

    name = "dot"
    description = "dot products"
    sparse = True

    def prepare(self, anchors):
        return _anchor_units(anchors, get_namespace_and_device(anchors)[0])

    def apply(self, X, side, out=None):
        return _dot(X, side, out)


class Euclidean(Similarity):
    """Euclidean distance."""

    name = "euclidean"
    description = "euclidean distances"
    sparse = True
    row_overhead = 1

    def prepare(self, anchors):
        return _prepare_expansion(anchors)

    def apply(self, X, side, out=None):
        return _folded(X, side, out, 1.0, False, _euclidean_terms)


class RBF(Euclidean):
    """Gaussian kernel ``exp(-gamma |x - a|^2) = exp(-(|x - a| / length)^2)``.

    Give `gamma`, or the `length` scale instead: a length of 1e200 is exact
    where its gamma, 1e-400, does not fit in float64.
    """

    name = "rbf"
    description = "rbf kernel values"

    def __init__(self, gamma=None, *, length=None):
        self.gamma = gamma
        self.length = length

    def _factor(self, dtype, xp):
        # The exponent is formed as (factor * scale)**2 * t, factor = sqrt(gamma):
        # a factor beyond the dtype's range still gives a finite exponent, and
        # where the exponent overflows, the kernel value is 0 anyway.
        factor = 1 / self.length if self.length is not None else self.gamma**0.5
        return min(factor, float(xp.finfo(dtype).max))

    def apply(self, X, side, out=None):
        factor = self._factor(X.dtype, _xp(X, side[0]))
        return _folded(X, side, out, factor, True, self._terms)

    def _terms(self, X, side, out=None):
        terms = _expansion(X, side, out)
        xp = _xp(X, side[0])
        scales = terms[-1]
        factor = self._factor(terms[0].dtype, xp)
        if scales is not None:
            with np.errstate(over="ignore"):
                factor = xp.clip(
                    factor * scales, None, float(xp.finfo(scales.dtype).max)
                )
        return _finish_expansion(terms, xp, factor, True)

    def __repr__(self):
        if self.length is not None:
            return f"RBF(length={self.length!r})"
        return f"RBF(gamma={self.gamma!r})"


class _AbsDifferences(Similarity):
    row_overhead = ANCHOR_BLOCK
    use_max = False

    def prepare(self, anchors):
        if isinstance(anchors, np.ndarray):
            return prepare_abs_differences(anchors, use_max=self.use_max)
        return anchors

    def apply(self, X, side, out=None):
        if isinstance(side, tuple):  # prepared for NumPy
            return abs_difference_distances(X, side, out)
        xp = _xp(X, side)
        return _reduce_abs_differences(X, side, xp.max if self.use_max else xp.sum)


class Manhattan(_AbsDifferences):
    """L1 distance."""

    name = "l1"
    description = "L1 distances"


class Chebyshev(_AbsDifferences):
    """L-infinity distance (exact: a maximum has no rounding)."""

    name = "linf"
    description = "L-inf distances"
    use_max = True


class UserSimilarity(Similarity):
    """A callable ``f(X, anchors) -> (n_samples, n_anchors)`` given by the user.

    Its result is checked (shape, finiteness, dense) and converted to the
    anchors' namespace, device and dtype.
    """

    symmetric = False

    def __init__(self, function):
        self.function = function
        self.name = getattr(function, "__name__", repr(function))

    def apply(self, X, side, out=None):
        result = _checked_call(self.function, self.name, X, side)
        if out is None:
            return result
        out[...] = result
        return out

    def __repr__(self):
        return f"UserSimilarity({self.name!r})"


def _checked_call(function, name, X, anchors):
    xp, _, device = get_namespace_and_device(anchors)
    result = function(X, anchors)
    shape = tuple(getattr(result, "shape", ()))
    expected = (X.shape[0], anchors.shape[0])
    if shape != expected:
        raise ValueError(
            f"The similarity callable {name!r} must return an array of shape "
            f"(n_samples, n_anchors) = {expected}; got "
            f"{shape or type(result).__name__}."
        )
    if sparse.issparse(result):
        raise TypeError(
            f"The similarity callable {name!r} returned a sparse matrix; return "
            "a dense array (for example result.toarray())."
        )
    result = xp.asarray(result, dtype=anchors.dtype, device=device)
    if not bool(xp.all(xp.isfinite(result))):
        raise ValueError(
            f"The similarity callable {name!r} returned NaN or infinite values."
        )
    return result


#: The built-in similarities, by name.
SIMILARITIES = {
    cls.name: cls for cls in (Cosine, Dot, Euclidean, RBF, Manhattan, Chebyshev)
}


def make_similarity(similarity, *, gamma=None, length=None):
    """Return the :class:`Similarity` for a name or a callable.

    `gamma` or `length` set the width of ``"rbf"`` (see :class:`RBF`); they
    are ignored otherwise.
    """
    if callable(similarity):
        return UserSimilarity(similarity)
    if similarity == "rbf":
        return RBF(gamma, length=length)
    return SIMILARITIES[similarity]()


def median_distance(anchors):
    """Return the median euclidean distance between two distinct anchors.

    The median heuristic sets the rbf length scale to it: the kernel then
    varies most over the anchors' typical distances, whatever the data's
    scale. The first 1,000 anchors bound the cost. Returns None when the
    median is 0 (fewer than two anchors, or mostly duplicates).
    """
    subset = anchors[: min(anchors.shape[0], 1000), ...]
    if subset.shape[0] < 2:
        return None
    distances = Euclidean()(subset, subset)
    check_in_range(distances, "euclidean distances between the anchors (rbf width)")
    distances = to_numpy(distances)
    pairs = distances[np.triu_indices(subset.shape[0], k=1)].astype(np.float64)
    with np.errstate(over="ignore"):  # the mean of the middle two, near 1e308
        median = min(float(np.median(pairs)), float(np.finfo(np.float64).max))
    return median if median > 0 else None
