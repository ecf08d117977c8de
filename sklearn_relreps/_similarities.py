"""Similarity and distance kernels between samples and anchors, and their registry.

Every kernel has the signature ``f(X, anchors) -> (n_samples, n_anchors)``, the same
as a user-supplied callable, and is written with array-API operations so that it
runs unchanged on NumPy, CuPy or PyTorch arrays. ``X`` may also be a SciPy CSR
matrix for the kernels registered with ``sparse=True``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import sparse
from sklearn.utils import assert_all_finite

from ._compat import StrOptions, get_namespace_and_device, validate_params
from ._kernels import (
    abs_difference_distances,
    centred_sqnorms,
    finish_folded,
    finish_squared_distances,
    scale_rows_and_clip,
)

#: Transformations of a latent space, in the order of the invariance table.
TRANSFORMATIONS = (
    "orthogonal",
    "isotropic_scaling",
    "translation",
    "permutation",
    "sign_flip",
    "axis_scaling",
    "linear",
)

# Anchors are compared with at most this many at a time by the broadcasting
# kernels (L1, L-inf), which bounds their temporary memory per sample row.
ANCHOR_BLOCK = 8


@dataclass(frozen=True)
class _Similarity:
    func: Callable
    invariances: frozenset
    is_distance: bool
    # f(sX, sA) == |s|**p f(X, A) for some p > 0: output normalisation then
    # removes the scale, which adds isotropic-scaling invariance.
    homogeneous: bool
    sparse: bool
    # Extra temporary values per sample row, as a multiple of n_features.
    row_overhead: int
    # Spends its time in a BLAS matrix product (the others in compiled code),
    # after computing the samples' squared norms, from which it also finds NaN
    # and infinite samples itself (see `check_finite_rows`).
    blas: bool = False


def _xp(X, A):
    if sparse.issparse(X):
        return get_namespace_and_device(A)[0]
    return get_namespace_and_device(X, A)[0]


def _row_sqnorms(X, xp):
    if sparse.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=X.dtype).ravel()
    return xp.sum(X * X, axis=1)


def power_of_two_scale(magnitude, xp):
    """Return powers of two of the order of `magnitude` (1 where it is 0).

    Dividing by them is exact in floating point and brings values to order one,
    so that squares and products neither overflow nor underflow; the kernels
    and statistics undo the scale afterwards where needed.
    """
    finfo = xp.finfo(magnitude.dtype)
    positive = xp.where(magnitude > 0, magnitude, xp.ones_like(magnitude))
    exponent = xp.clip(
        xp.floor(xp.log2(positive)),
        float(np.log2(finfo.smallest_normal)),
        float(np.floor(np.log2(finfo.max))),
    )
    return xp.pow(xp.full_like(exponent, 2.0), exponent)


def _row_scales(X, xp):
    """Powers of two of the order of each row's largest absolute value."""
    if sparse.issparse(X):
        largest = np.asarray(abs(X).max(axis=1).toarray(), dtype=X.dtype).ravel()
        return power_of_two_scale(largest, np)
    return power_of_two_scale(xp.max(xp.abs(X), axis=1), xp)


def _divide_rows(X, scales):
    if sparse.issparse(X):
        return X.multiply((1 / scales)[:, None]).tocsr()
    return X / scales[:, None]


def rescale_rows(X, xp):
    """Divide each row of `X` (dense or CSR) by a power of two of its magnitude.

    Directions and ratios within a row are unchanged (exactly), and the largest
    entry of each row is of order one, so squared norms are finite and nonzero.
    """
    return _divide_rows(X, xp.asarray(_row_scales(X, xp)))


def inverse_norms(sqnorms, xp):
    """Return ``1 / sqrt(sqnorms)``, with 0 where the norm is 0."""
    norms = xp.sqrt(sqnorms)
    is_zero = norms == 0
    # A zero vector has no direction: its cosine to anything is defined as 0.
    safe = xp.where(is_zero, xp.ones_like(norms), norms)
    return xp.where(is_zero, xp.zeros_like(norms), 1 / safe)


def unit_rows(X, xp):
    """Return the dense rows of `X` divided by their L2 norms (zero rows stay 0).

    Rows of any magnitude the dtype holds are normalised without overflow or
    underflow: those whose squared norms are out of the safe range are first
    rescaled (see :func:`_rescale_rows_where_needed`). Rows with a NaN or an
    infinity raise an error.
    """
    X, sqnorms, _ = _rescale_rows_where_needed(X, xp)
    return X * inverse_norms(sqnorms, xp)[:, None]


def _product(X, B, xp, out):
    """Return ``X @ B``, written into `out` when it is given (NumPy only)."""
    if out is None:
        return xp.asarray(X @ B)
    if sparse.issparse(X):
        out[...] = X @ B
        return out
    return np.matmul(X, B, out=out)


def check_finite_rows(X, sqnorms, xp):
    """Raise scikit-learn's error if a row of `X` holds a NaN or an infinity.

    Such a row has a squared norm (`sqnorms`) that is not finite, and so has a
    finite row whose squared norm overflows: only those rows are looked at.
    The kernels that compute squared row norms anyway thus check their input
    at no extra cost.
    """
    suspect = ~xp.isfinite(sqnorms)
    if bool(xp.any(suspect)):
        if sparse.issparse(X):
            suspect = np.flatnonzero(suspect)
        assert_all_finite(X[suspect, ...], input_name="X")


def _safe_sqnorms(n_features, finfo):
    """Return the range of squared row norms safe to use as they are.

    See :func:`_row_sqnorms_checked`; `finfo` describes the dtype.
    """
    low = n_features * float(finfo.smallest_normal) / float(finfo.eps)
    return low, float(finfo.max) / 64


def _row_sqnorms_checked(X, xp, sqnorms=None):
    """Squared row norms (unless given), and whether each is safe to use as is.

    Within [n_features * tiny / eps, max / 64], neither the squares, nor the
    products of two such rows, nor their sums overflow, and what underflows is
    below rounding: dividing the row by a power of two first (exact) would
    change nothing. Rows of `X` with a NaN or an infinity raise an error
    (see :func:`check_finite_rows`), when the norms are computed here.
    """
    if sqnorms is None:
        with np.errstate(over="ignore", under="ignore"):  # both mean: rescale
            sqnorms = (
                xp.asarray(_row_sqnorms(X, xp))
                if sparse.issparse(X)
                else xp.vecdot(X, X)
            )
        check_finite_rows(X, sqnorms, xp)
    low, high = _safe_sqnorms(X.shape[1], xp.finfo(sqnorms.dtype))
    return sqnorms, (sqnorms >= low) & (sqnorms <= high)


def _rescale_rows_where_needed(X, xp, floor=None, sqnorms=None):
    """Divide the rows that need it by a power of two of their magnitude.

    Rows safe as they are (see :func:`_row_sqnorms_checked`) keep the scale 1,
    unless `floor` (a power of two) is given: then every row is measured in
    units of at least `floor`. A row's scale thus depends on that row alone.
    Returns ``(X / scales[:, None], squared row norms, scales)``, with `scales`
    None when all are 1 (and `X` itself then). The squared row norms of `X`
    are computed unless given.
    """
    sqnorms, safe = _row_sqnorms_checked(X, xp, sqnorms)
    if floor is None and bool(xp.all(safe)):
        return X, sqnorms, None
    scales = xp.asarray(_row_scales(X, xp))
    if floor is None:
        scales = xp.where(safe, xp.ones_like(scales), scales)
    else:
        scales = xp.maximum(scales, floor)
    X = _divide_rows(X, scales)
    return X, _row_sqnorms_checked(X, xp)[0], scales


def _anchor_units(A, xp):
    """Return ``(A / a_scale, squared norms, a_scale)``; a_scale None for 1."""
    a_sqnorms, a_safe = _row_sqnorms_checked(A, xp)
    if bool(xp.all(a_safe)):
        return A, a_sqnorms, None
    a_scale = power_of_two_scale(xp.max(xp.abs(A)), xp)
    A = A / a_scale
    return A, _row_sqnorms(A, xp), a_scale


# Each built-in kernel is split in two: what depends on the anchors alone
# (computed once per transform by `bind`) and what each chunk of samples needs.


def _dot_anchors(A):
    return _anchor_units(A, get_namespace_and_device(A)[0])


def _dot(X, anchors, out=None):
    A, _, a_scale = anchors
    xp = _xp(X, A)
    X, _, x_scales = _rescale_rows_where_needed(X, xp)
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


def dot(X, A, out=None):
    """Inner products ``x . a`` between the rows of `X` and of `A`.

    Raises a ValueError when nonzero products fall outside the range of normal
    numbers of the dtype (they would overflow, or lose their digits). With
    `out` (NumPy), the result is written there.
    """
    return _dot(X, _dot_anchors(A), out)


def _cosine_anchors(A):
    return unit_rows(A, get_namespace_and_device(A)[0])


def _cosine(X, anchors, out=None):
    xp = _xp(X, anchors)
    # Scaling rows by powers of two leaves cosines unchanged (exactly) and keeps
    # the squared norms within the dtype's range, whatever the data's magnitude.
    X, sqnorms, _ = _rescale_rows_where_needed(X, xp)
    products = _product(X, anchors.T, xp, out)  # anchors: unit rows
    inverse = inverse_norms(sqnorms, xp)
    if isinstance(products, np.ndarray):
        return scale_rows_and_clip(products, inverse, -1.0, 1.0)
    products *= inverse[:, None]
    return xp.clip(products, -1.0, 1.0)


def cosine(X, A, out=None):
    """Cosine similarities between the rows of `X` and of `A` (0 for zero rows).

    With `out` (NumPy), the result is written there.
    """
    return _cosine(X, _cosine_anchors(A), out)


#: The samples' centring is folded into the anchors' side when the anchors'
#: centre is at most this many times their root-mean-square distance from it.
_FOLD_CENTRE = 1.0


def _expansion_anchors(A):
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
    centre = xp.mean(A, axis=0)
    centred = _anchor_units(A - centre, xp)
    A_c, a_sqnorms, a_scale = centred
    offsets = None
    if isinstance(A, np.ndarray) and a_scale is None:
        spread = float(np.mean(a_sqnorms, dtype=np.float64))
        near = float(np.dot(centre, centre)) <= _FOLD_CENTRE**2 * spread
        if near:
            offsets = A_c @ centre
    return centre, centred, _anchor_units(A, xp), offsets


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
        X = centred_X
    elif not sparse.issparse(X):
        X = X - centre
    X, x_sqnorms, scales = _rescale_rows_where_needed(
        X, xp, floor=a_scale, sqnorms=x_sqnorms
    )
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
    :func:`_expansion_anchors`), one product of the samples as given, then one
    pass that computes each row's centred norm and finishes the row, with the
    unit `factor`. The rows whose norms are outside the safe range (see
    :func:`_safe_sqnorms`), or not finite, are computed again by
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
        _safe_sqnorms(X.shape[1], finfo),
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


def _euclidean(X, anchors, out=None):
    return _folded(X, anchors, out, 1.0, False, _euclidean_terms)


def euclidean(X, A, out=None):
    """Euclidean distances between the rows of `X` and of `A`.

    With `out` (NumPy), the result is written there.
    """
    return _euclidean(X, _expansion_anchors(A), out)


def _rbf_factor(gamma, dtype, xp):
    # The exponent is formed as (sqrt(gamma) * scale)**2 * t: a gamma or a
    # scale beyond the dtype's range still gives a finite factor, and where the
    # exponent overflows, the kernel value is 0 anyway.
    return min(gamma**0.5, float(xp.finfo(dtype).max))


def _rbf_terms(X, anchors, out=None, *, gamma):
    terms = _expansion(X, anchors, out)
    xp = _xp(X, anchors[0])
    scales = terms[-1]
    factor = _rbf_factor(gamma, terms[0].dtype, xp)
    if scales is not None:
        with np.errstate(over="ignore"):
            factor = xp.clip(factor * scales, None, float(xp.finfo(scales.dtype).max))
    return _finish_expansion(terms, xp, factor, True)


def _rbf(X, anchors, gamma, out=None):
    factor = _rbf_factor(gamma, X.dtype, _xp(X, anchors[0]))
    return _folded(X, anchors, out, factor, True, partial(_rbf_terms, gamma=gamma))


def rbf(X, A, gamma, out=None):
    """Gaussian kernel ``exp(-gamma * ||x - a||^2)``.

    With `out` (NumPy), the result is written there.
    """
    return _rbf(X, _expansion_anchors(A), gamma, out)


def _reduce_abs_differences(X, A, reduce):
    xp, _, device = get_namespace_and_device(X, A)
    out = xp.empty((X.shape[0], A.shape[0]), dtype=X.dtype, device=device)
    n_anchors = A.shape[0]
    for start in range(0, n_anchors, ANCHOR_BLOCK):
        stop = min(start + ANCHOR_BLOCK, n_anchors)
        differences = xp.abs(X[:, None, :] - A[None, start:stop, :])
        out[:, start:stop] = reduce(differences, axis=2)
    return out


def manhattan(X, A, out=None):
    """L1 (Manhattan) distances between the rows of `X` and of `A`.

    NumPy arrays go through the compiled kernel of :mod:`._kernels` (writing
    into `out` when given); other array namespaces (e.g. PyTorch on a GPU)
    through the broadcasting formulation.
    """
    if isinstance(X, np.ndarray) and isinstance(A, np.ndarray):
        return abs_difference_distances(X, A, use_max=False, out=out)
    return _reduce_abs_differences(X, A, _xp(X, A).sum)


def chebyshev(X, A, out=None):
    """L-infinity (Chebyshev) distances between the rows of `X` and of `A`.

    Computed like :func:`manhattan`, with a maximum instead of a sum.
    """
    if isinstance(X, np.ndarray) and isinstance(A, np.ndarray):
        return abs_difference_distances(X, A, use_max=True, out=out)
    return _reduce_abs_differences(X, A, _xp(X, A).max)


# The kernels that split their work: (anchors' side, samples' side).
_SPLIT = {
    dot: (_dot_anchors, _dot),
    cosine: (_cosine_anchors, _cosine),
    euclidean: (_expansion_anchors, _euclidean),
    rbf: (_expansion_anchors, _rbf),
}


def bind(function, A):
    """Return ``g(X, out=None)``: ``function(X, A)`` for chunk after chunk of `X`.

    For the built-in kernels (or a :func:`functools.partial` of one), the work
    that depends on the anchors alone is done once, here; `out` is passed on
    to them. Any other `function` is called as ``function(X, A)``, its result
    copied into `out` when given.
    """
    kernel = getattr(function, "func", function)
    if kernel in _SPLIT:
        prepare, apply = _SPLIT[kernel]
        keywords = getattr(function, "keywords", {})
        return partial(apply, anchors=prepare(A), **keywords)
    if kernel is manhattan or kernel is chebyshev:
        return partial(kernel, A=A)

    def bound(X, out=None):
        if out is None:
            return function(X, A)
        out[...] = function(X, A)
        return out

    return bound


_ROTATION_LIKE = frozenset({"orthogonal", "permutation", "sign_flip"})
_SIGNED_PERMUTATIONS = frozenset({"permutation", "sign_flip"})

SIMILARITIES = {
    "cosine": _Similarity(
        cosine,
        _ROTATION_LIKE | {"isotropic_scaling"},
        False,
        False,
        True,
        0,
        blas=True,
    ),
    "dot": _Similarity(dot, _ROTATION_LIKE, False, True, True, 0, blas=True),
    "euclidean": _Similarity(
        euclidean,
        _ROTATION_LIKE | {"translation"},
        True,
        True,
        True,
        1,
        blas=True,
    ),
    "rbf": _Similarity(
        rbf,
        _ROTATION_LIKE | {"translation"},
        False,
        False,
        True,
        1,
        blas=True,
    ),
    "l1": _Similarity(
        manhattan,
        _SIGNED_PERMUTATIONS | {"translation"},
        True,
        True,
        False,
        ANCHOR_BLOCK,
    ),
    "linf": _Similarity(
        chebyshev,
        _SIGNED_PERMUTATIONS | {"translation"},
        True,
        True,
        False,
        ANCHOR_BLOCK,
    ),
}


@validate_params(
    {
        "similarity": [str, list, tuple],
        "center": ["boolean"],
        "standardize": ["boolean"],
        "output_norm": [StrOptions({"l2", "standard"}), None],
    },
    prefer_skip_nested_validation=True,
)
def get_invariances(similarity, *, center=False, standardize=False, output_norm=None):
    """List the transformations of a latent space that a relative projection ignores.

    The transformation is applied to the samples and to the anchors alike, and
    every statistic learned from the anchors is recomputed after it. The answer
    is the invariance table of the user guide, derived from three rules: the
    kernel's own invariances; ``center=True`` adds translations; output
    normalisation removes the scale of scale-homogeneous kernels (dot and the
    distances); ``standardize=True`` trades rotations for per-feature scaling.

    Parameters
    ----------
    similarity : str or sequence of str
        A registered similarity name (``"cosine"``, ``"dot"``, ``"euclidean"``,
        ``"l1"``, ``"linf"``, ``"rbf"``), or several of them for an
        :class:`InvariantProductTransformer`, whose guaranteed invariances are
        the intersection of its blocks'.
    center : bool, default=False
        Whether the anchors' mean is subtracted first.
    standardize : bool, default=False
        Whether every feature is divided by the anchors' standard deviation.
    output_norm : {None, "l2", "standard"}, default=None
        Normalisation of the relative vectors.

    Returns
    -------
    invariances : frozenset of str
        A subset of ``{"orthogonal", "isotropic_scaling", "translation",
        "permutation", "sign_flip", "axis_scaling", "linear"}``.

    Examples
    --------
    >>> from sklearn_relreps import get_invariances
    >>> sorted(get_invariances("cosine"))
    ['isotropic_scaling', 'orthogonal', 'permutation', 'sign_flip']
    >>> "translation" in get_invariances("cosine", center=True)
    True
    >>> sorted(get_invariances(["cosine", "l1"], center=True, output_norm="standard"))
    ['isotropic_scaling', 'permutation', 'sign_flip', 'translation']
    """
    names = [similarity] if isinstance(similarity, str) else list(similarity)
    unknown = [n for n in names if not (isinstance(n, str) and n in SIMILARITIES)]
    if unknown or not names:
        raise ValueError(
            f"Unknown similarity {unknown or names}; expected names among "
            f"{sorted(SIMILARITIES)}."
        )
    result = set(TRANSFORMATIONS) - {"linear"}
    for name in names:
        spec = SIMILARITIES[name]
        held = set(spec.invariances)
        if center:
            held.add("translation")
        if output_norm is not None and spec.homogeneous:
            held.add("isotropic_scaling")
        if standardize:
            held -= {"orthogonal"}
            held |= {"isotropic_scaling", "axis_scaling"}
        result &= held
    return frozenset(result)
