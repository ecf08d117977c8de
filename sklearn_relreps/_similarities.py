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

from ._compat import get_namespace_and_device

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


def inverse_norms(sqnorms, xp):
    """Return ``1 / sqrt(sqnorms)``, with 0 where the norm is 0."""
    norms = xp.sqrt(sqnorms)
    is_zero = norms == 0
    # A zero vector has no direction: its cosine to anything is defined as 0.
    safe = xp.where(is_zero, xp.ones_like(norms), norms)
    return xp.where(is_zero, xp.zeros_like(norms), 1 / safe)


def dot(X, A):
    """Inner products ``x . a`` between the rows of `X` and of `A`."""
    xp = _xp(X, A)
    return xp.asarray(X @ A.T)


def cosine(X, A):
    """Cosine similarities between the rows of `X` and of `A` (0 for zero rows)."""
    xp = _xp(X, A)
    products = xp.asarray(X @ A.T)
    inv_x = inverse_norms(xp.asarray(_row_sqnorms(X, xp)), xp)
    inv_a = inverse_norms(_row_sqnorms(A, xp), xp)
    return xp.clip(products * inv_x[:, None] * inv_a[None, :], -1.0, 1.0)


def squared_euclidean(X, A):
    """Squared euclidean distances between the rows of `X` and of `A`."""
    xp = _xp(X, A)
    if not sparse.issparse(X):
        # Distances ignore translations; measuring from the anchors' centre keeps
        # the norms small and the expansion below free of needless cancellation.
        centre = xp.mean(A, axis=0)
        X, A = X - centre, A - centre
    sq = (
        xp.asarray(_row_sqnorms(X, xp))[:, None]
        + _row_sqnorms(A, xp)[None, :]
        - 2 * xp.asarray(X @ A.T)
    )
    return xp.clip(sq, 0.0, None)


def euclidean(X, A):
    """Euclidean distances between the rows of `X` and of `A`."""
    xp = _xp(X, A)
    return xp.sqrt(squared_euclidean(X, A))


def rbf(X, A, gamma):
    """Gaussian kernel ``exp(-gamma * ||x - a||^2)``."""
    xp = _xp(X, A)
    return xp.exp(-gamma * squared_euclidean(X, A))


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
    """L1 (Manhattan) distances between the rows of `X` and of `A`."""
    return _reduce_abs_differences(X, A, _xp(X, A).sum)


def chebyshev(X, A):
    """L-infinity (Chebyshev) distances between the rows of `X` and of `A`."""
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
    unknown = sorted(set(names) - set(SIMILARITIES))
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
