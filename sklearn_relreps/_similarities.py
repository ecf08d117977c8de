"""Similarity and distance kernels between samples and anchors, and their registry.

Every kernel has the signature ``f(X, anchors) -> (n_samples, n_anchors)``, the same
as a user-supplied callable, and is written with array-API operations so that it
runs unchanged on NumPy, CuPy or PyTorch arrays. ``X`` may also be a SciPy CSR
matrix for the kernels registered with ``sparse=True``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ._compat import StrOptions, get_namespace_and_device, validate_params
from ._kernels import abs_difference_distances

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
    underflow (see :func:`rescale_rows`).
    """
    X = rescale_rows(X, xp)
    return X * inverse_norms(xp.sum(X * X, axis=1), xp)[:, None]


def dot(X, A):
    """Inner products ``x . a`` between the rows of `X` and of `A`.

    Raises a ValueError when nonzero products fall outside the range of normal
    numbers of the dtype (they would overflow, or lose their digits).
    """
    xp = _xp(X, A)
    x_scales = xp.asarray(_row_scales(X, xp))
    a_scale = power_of_two_scale(xp.max(xp.abs(A)), xp)
    # Products of order-one rows cannot overflow or underflow in the sum; only
    # the final rescaling can, and then the true value is out of range.
    scaled = xp.asarray(_divide_rows(X, x_scales) @ (A / a_scale).T)
    with np.errstate(over="ignore", under="ignore"):
        products = scaled * (x_scales * a_scale)[:, None]
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
    return products


def cosine(X, A):
    """Cosine similarities between the rows of `X` and of `A` (0 for zero rows)."""
    xp = _xp(X, A)
    # Scaling rows by powers of two leaves cosines unchanged (exactly) and keeps
    # the squared norms within the dtype's range, whatever the data's magnitude.
    X, A = rescale_rows(X, xp), rescale_rows(A, xp)
    products = xp.asarray(X @ A.T)
    inv_x = inverse_norms(xp.asarray(_row_sqnorms(X, xp)), xp)
    inv_a = inverse_norms(_row_sqnorms(A, xp), xp)
    return xp.clip(products * inv_x[:, None] * inv_a[None, :], -1.0, 1.0)


def euclidean(X, A):
    """Euclidean distances between the rows of `X` and of `A`."""
    xp = _xp(X, A)
    if not sparse.issparse(X):
        # Distances ignore translations; measuring from the anchors' centre keeps
        # the norms small and the expansion below free of needless cancellation.
        centre = xp.mean(A, axis=0)
        X, A = X - centre, A - centre
    # Row i is measured in units of a power of two at least as large as its own
    # entries and the anchors', so its squared distances stay within the dtype's
    # range (no overflow for huge values, no underflow for tiny ones) and the
    # result depends on that row and the anchors only.
    a_scale = power_of_two_scale(xp.max(xp.abs(A)), xp)
    scales = xp.maximum(xp.asarray(_row_scales(X, xp)), a_scale)
    ratio = (a_scale / scales)[:, None]
    X, A = _divide_rows(X, scales), A / a_scale
    norms = (
        xp.asarray(_row_sqnorms(X, xp))[:, None]
        + ratio * ratio * _row_sqnorms(A, xp)[None, :]
    )
    sq = norms - 2 * ratio * xp.asarray(X @ A.T)
    # Below this, the expansion's rounding error exceeds the value itself:
    # report 0, so that identical vectors are at distance exactly 0.
    noise = 16 * xp.finfo(sq.dtype).eps * norms
    sq = xp.where(sq <= noise, xp.zeros_like(sq), sq)
    return scales[:, None] * xp.sqrt(sq)


def rbf(X, A, gamma):
    """Gaussian kernel ``exp(-gamma * ||x - a||^2)``."""
    xp = _xp(X, A)
    distances = euclidean(X, A)
    # gamma * distance**2 is formed as a square and clipped below the dtype's
    # maximum, which avoids an overflow where the kernel value is 0 anyway.
    largest = float(xp.finfo(distances.dtype).max)
    root_gamma = min(gamma**0.5, largest)
    root = xp.clip(
        xp.clip(distances, None, min(largest / root_gamma, largest)) * root_gamma,
        None,
        largest**0.5 / 2,
    )
    return xp.exp(-(root * root))


def _reduce_abs_differences(X, A, reduce):
    xp, _, device = get_namespace_and_device(X, A)
    out = xp.empty((X.shape[0], A.shape[0]), dtype=X.dtype, device=device)
    n_anchors = A.shape[0]
    for start in range(0, n_anchors, ANCHOR_BLOCK):
        stop = min(start + ANCHOR_BLOCK, n_anchors)
        differences = xp.abs(X[:, None, :] - A[None, start:stop, :])
        out[:, start:stop] = reduce(differences, axis=2)
    return out


def manhattan(X, A):
    """L1 (Manhattan) distances between the rows of `X` and of `A`.

    NumPy arrays go through the compiled kernel of :mod:`._kernels`; other array
    namespaces (e.g. PyTorch on a GPU) through the broadcasting formulation.
    """
    if isinstance(X, np.ndarray) and isinstance(A, np.ndarray):
        return abs_difference_distances(X, A, use_max=False)
    return _reduce_abs_differences(X, A, _xp(X, A).sum)


def chebyshev(X, A):
    """L-infinity (Chebyshev) distances between the rows of `X` and of `A`.

    Computed like :func:`manhattan`, with a maximum instead of a sum.
    """
    if isinstance(X, np.ndarray) and isinstance(A, np.ndarray):
        return abs_difference_distances(X, A, use_max=True)
    return _reduce_abs_differences(X, A, _xp(X, A).max)


_ROTATION_LIKE = frozenset({"orthogonal", "permutation", "sign_flip"})
_SIGNED_PERMUTATIONS = frozenset({"permutation", "sign_flip"})

SIMILARITIES = {
    "cosine": _Similarity(
        cosine, _ROTATION_LIKE | {"isotropic_scaling"}, False, False, True, 0
    ),
    "dot": _Similarity(dot, _ROTATION_LIKE, False, True, True, 0),
    "euclidean": _Similarity(
        euclidean, _ROTATION_LIKE | {"translation"}, True, True, True, 1
    ),
    "rbf": _Similarity(rbf, _ROTATION_LIKE | {"translation"}, False, False, True, 1),
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
