"""Overflow-safe numerical helpers shared by every module of the package.

One idea runs through them: dividing by an exact power of two changes no digit
of a floating-point value, so rows, columns or whole arrays of any magnitude
the dtype holds are first brought to order one, then squared, multiplied or
summed without overflow or underflow, and the scale is undone where needed.
Everything is written with array-API operations (``xp``); the row helpers also
take SciPy CSR matrices.
"""

import numpy as np
from scipy import sparse
from sklearn.utils import assert_all_finite

from ._compat import get_namespace_and_device


def power_of_two_scale(magnitude, xp):
    """Return powers of two of the order of `magnitude` (1 where it is 0)."""
    finfo = xp.finfo(magnitude.dtype)
    positive = xp.where(magnitude > 0, magnitude, xp.ones_like(magnitude))
    exponent = xp.clip(
        xp.floor(xp.log2(positive)),
        float(np.log2(finfo.smallest_normal)),
        float(np.floor(np.log2(finfo.max))),
    )
    return xp.pow(xp.full_like(exponent, 2.0), exponent)


def mean_and_std(X, xp, axis=0):
    """Means and population standard deviations of `X` along `axis`.

    Each column (or row) is divided by a power of two of its magnitude first,
    so squares neither overflow nor underflow at any scale the dtype holds.
    """
    scale = power_of_two_scale(xp.max(xp.abs(X), axis=axis, keepdims=True), xp)
    X = X / scale
    scale = xp.squeeze(scale, axis=axis)
    return xp.mean(X, axis=axis) * scale, xp.std(X, axis=axis) * scale


def safe_scale(std, mean, xp):
    """Return `std` with zero or negligible entries replaced by 1.

    An entry is negligible when it is at most ``10 * eps * |mean|``: below
    what the dtype resolves at that feature's own magnitude, so rounding noise
    that would otherwise be blown up to values of order one. The test looks at
    each feature alone, so rescaling one feature (within the dtype's normal
    range) never changes whether it is kept.
    """
    eps = xp.finfo(std.dtype).eps
    negligible = std <= 10 * eps * xp.abs(mean)
    return xp.where(negligible, xp.ones_like(std), std)


def check_in_range(values, what):
    """Raise a ValueError naming `what` if `values` holds a NaN or infinity.

    `values` are computed from finite input, so a non-finite entry means that
    the true value falls outside the dtype's range (or a sum of such values
    does). Dense arrays of any namespace, or CSR matrices.
    """
    data = values.data if sparse.issparse(values) else values
    xp = get_namespace_and_device(data)[0]
    if bool(xp.all(xp.isfinite(data))):
        return
    finfo = xp.finfo(data.dtype)
    fix = "rescale X" if finfo.bits == 64 else "pass float64 data or rescale X"
    raise ValueError(
        f"The {what} exceed the {data.dtype} range (largest finite value "
        f"{float(finfo.max):.3g}) although X is finite; {fix}."
    )


def subtract(X, centre, what):
    """Return ``X - centre``; raise a clear error where it overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        difference = X - centre
    check_in_range(difference, what)
    return difference


def inverse_norms(sqnorms, xp):
    """Return ``1 / sqrt(sqnorms)``, with 0 where the norm is 0."""
    norms = xp.sqrt(sqnorms)
    is_zero = norms == 0
    # A zero vector has no direction: its cosine to anything is defined as 0.
    safe = xp.where(is_zero, xp.ones_like(norms), norms)
    return xp.where(is_zero, xp.zeros_like(norms), 1 / safe)


def row_sqnorms(X, xp):
    """Squared L2 norms of the rows of `X` (dense or CSR), in its dtype."""
    if sparse.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=X.dtype).ravel()
    return xp.vecdot(X, X)


def check_finite_rows(X, sqnorms, xp):
    """Raise scikit-learn's error if a row of `X` holds a NaN or an infinity.

    Such a row has a squared norm (`sqnorms`) that is not finite, and so has a
    finite row whose squared norm overflows: only those rows are looked at.
    """
    suspect = ~xp.isfinite(sqnorms)
    if bool(xp.any(suspect)):
        if sparse.issparse(X):
            suspect = np.flatnonzero(suspect)
        # scikit-learn sums the values first: a sum that overflows would warn.
        with np.errstate(over="ignore", invalid="ignore"):
            assert_all_finite(X[suspect, ...], input_name="X")


def safe_sqnorm_range(n_features, finfo):
    """Return the range of squared row norms safe to use as they are.

    Within ``[n_features * tiny / eps, max / 64]``, neither the squares, nor
    the products of two such rows, nor their sums overflow, and what underflows
    is below rounding: rescaling the row by a power of two first would change
    nothing.
    """
    low = n_features * float(finfo.smallest_normal) / float(finfo.eps)
    return low, float(finfo.max) / 64


def row_scales(X, xp):
    """Powers of two of the order of each row's largest absolute value."""
    if sparse.issparse(X):
        largest = np.asarray(abs(X).max(axis=1).toarray(), dtype=X.dtype).ravel()
        return xp.asarray(power_of_two_scale(largest, np))
    return power_of_two_scale(xp.max(xp.abs(X), axis=1), xp)


def divide_rows(X, scales):
    """Return `X` (dense or CSR) with row i divided by ``scales[i]``."""
    if sparse.issparse(X):
        return X.multiply((1 / np.asarray(scales))[:, None]).tocsr()
    return X / scales[:, None]


def checked_sqnorms(X, xp, sqnorms=None):
    """Squared row norms of `X` (unless given), and whether each is safe as is.

    Rows with a NaN or an infinity raise an error when the norms are computed
    here (see :func:`check_finite_rows` and :func:`safe_sqnorm_range`).
    """
    if sqnorms is None:
        with np.errstate(over="ignore", under="ignore"):  # both mean: rescale
            sqnorms = row_sqnorms(X, xp)
        check_finite_rows(X, sqnorms, xp)
    low, high = safe_sqnorm_range(X.shape[1], xp.finfo(sqnorms.dtype))
    return sqnorms, (sqnorms >= low) & (sqnorms <= high)


def rescale_rows(X, xp, *, floor=None, sqnorms=None):
    """Divide the rows that need it by a power of two of their magnitude.

    A row is left as it is when its squared norm is in the safe range (see
    :func:`safe_sqnorm_range`), unless `floor` (a power of two) is given: then
    every row is measured in units of at least `floor`. A row's scale thus
    depends on that row alone. Rows with a NaN or an infinity raise an error.

    Returns ``(X / scales[:, None], squared row norms, scales)``, with `scales`
    None when all are 1 (and `X` itself then). The squared row norms of `X`
    are computed unless given.
    """
    sqnorms, safe = checked_sqnorms(X, xp, sqnorms)
    if floor is None and bool(xp.all(safe)):
        return X, sqnorms, None
    scales = row_scales(X, xp)
    if floor is None:
        scales = xp.where(safe, xp.ones_like(scales), scales)
    else:
        scales = xp.maximum(scales, floor)
    X = divide_rows(X, scales)
    return X, row_sqnorms(X, xp), scales


def unit_rows(X, xp):
    """Return the rows of `X` divided by their L2 norms (zero rows stay 0).

    Rows of any magnitude the dtype holds are normalised without overflow or
    underflow. Sparse rows stay sparse. Rows with a NaN or an infinity raise
    an error.
    """
    X, sqnorms, _ = rescale_rows(X, xp)
    inverse = inverse_norms(sqnorms, xp)
    if sparse.issparse(X):
        return X.multiply(np.asarray(inverse)[:, None]).tocsr()
    return X * inverse[:, None]
