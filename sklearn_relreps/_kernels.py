"""Compiled kernels for NumPy arrays: L1/L-inf distances and fused epilogues.

The broadcasting formulation ``|X[:, None, :] - A[None]|`` reduced over features
cannot use the CPU well: it materialises the differences and reduces them in a
second pass. Here a compiled kernel (numba) streams the features once and keeps
the partial results of a small tile of samples and anchors in cache:

- samples are taken ``ROW_TILE`` at a time, so every anchor value loaded is used
  for several samples;
- anchors are taken ``ANCHOR_TILE`` at a time, so that they stay in the L2 cache
  while every sample passes them;
- L1 keeps a 4 x 4 tile of sums in registers, runs over contiguous features in
  SIMD lanes (reassociated sums) and needs two operations per feature instead
  of three (see :func:`abs_difference_distances`); L-inf, exact, runs over
  contiguous anchors of the transposed anchor matrix, with IEEE arithmetic;
- everything stays in the input's floating dtype (float32 stays float32);
- row blocks run on several threads (the kernels release the GIL), within
  the thread budget of :mod:`._threads`.

The matrix-product similarities (cosine, euclidean, rbf) spend their time in
BLAS; what follows the product (scaling, the distance expansion, square roots,
exponentials) is one fused, threaded pass here over the product, in place,
instead of several NumPy passes and temporaries of the output's size.

Functions are compiled on first use and cached on disk, so only the first call
after installation pays the compilation (a few seconds in all).
"""

import threading
from contextlib import contextmanager

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import as_strided

from ._threads import on_row_blocks

#: Samples whose distances are accumulated together, so that one anchor load
#: serves all of them (the kernel holds exactly this many accumulators).
ROW_TILE = 4
#: Anchors per pass: the partial sums of one tile of samples stay in the L1 cache
#: and the transposed anchor block in the L2 cache.
ANCHOR_TILE = 256
#: L1 distances below this fraction of ``|x - c|_1 + |a - c|_1`` are summed
#: directly: the faster formula's rounding error is a fraction of that scale.
_NEAR_L1 = 2.0**-4
#: Values of the product finished and exponentiated at once, while they stay
#: in the L2 cache (256 KiB of float32).
_IN_CACHE_VALUES = 2**16

_buffers = threading.local()


@contextmanager
def reuse_buffers(store):
    """Let the :func:`scratch` buffers of this thread be kept in `store`.

    `store` is a :class:`threading.local` owned by the caller (one transform):
    every thread that enters this context with it keeps its own buffers there,
    reused from one chunk to the next, and freed with `store`.
    """
    previous = getattr(_buffers, "store", None)
    _buffers.store = store
    try:
        yield
    finally:
        _buffers.store = previous


def scratch(name, shape, dtype):
    """Return an uninitialised array of `shape` and `dtype` for temporary values.

    Inside :func:`reuse_buffers`, the buffer called `name` of this thread is
    reused when it is large enough (grown otherwise): fresh memory costs a page
    fault per page on first touch, and the reused buffer is often still in the
    CPU caches. The caller must be done with it before asking for `name` again.
    """
    store = getattr(_buffers, "store", None)
    if store is None:
        return np.empty(shape, dtype)
    buffer = getattr(store, name, None)
    if (
        buffer is None
        or buffer.dtype != dtype
        or buffer.shape[1:] != tuple(shape[1:])
        or buffer.shape[0] < shape[0]
    ):
        buffer = np.empty(shape, dtype)
        setattr(store, name, buffer)
    return buffer[: shape[0]]


@njit(nogil=True, cache=True, fastmath={"reassoc"})
def _tile_sums(x0, x1, x2, x3, a0, a1, a2, a3):
    """Sum ``max(x_r, a_c)`` over the features, for 4 samples by 4 anchors.

    The 16 sums stay in registers; reassociation lets each run in SIMD lanes,
    in the same order for every pair, wherever it sits in a tile.
    """
    zero = x0.dtype.type(0)
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
    for f in range(x0.shape[0]):
        p0, p1, p2, p3 = a0[f], a1[f], a2[f], a3[f]
        q = x0[f]
        s00 += max(q, p0)
        s01 += max(q, p1)
        s02 += max(q, p2)
        s03 += max(q, p3)
        q = x1[f]
        s10 += max(q, p0)
        s11 += max(q, p1)
        s12 += max(q, p2)
        s13 += max(q, p3)
        q = x2[f]
        s20 += max(q, p0)
        s21 += max(q, p1)
        s22 += max(q, p2)
        s23 += max(q, p3)
        q = x3[f]
        s30 += max(q, p0)
        s31 += max(q, p1)
        s32 += max(q, p2)
        s33 += max(q, p3)
    return (
        (s00, s01, s02, s03),
        (s10, s11, s12, s13),
        (s20, s21, s22, s23),
        (s30, s31, s32, s33),
    )


@njit(nogil=True, cache=True, fastmath={"reassoc"})
def _gap_sum(x, a):
    """Return ``sum(|x - a|)``, reassociated to run in SIMD lanes."""
    total = x.dtype.type(0)
    for f in range(x.shape[0]):
        total += abs(x[f] - a[f])
    return total


@njit(inline="always")
def _near(value, scale, tolerance):
    # Also true for NaN, from sums that overflowed.
    return not value > tolerance * scale


@njit(nogil=True, cache=True, fastmath={"reassoc"})
def _manhattan_kernel(X, anchors, centre, centred, a_sums, a_norms, tolerance, out):
    """Fill ``out`` with the L1 distances of the rows of `X` to the anchors.

    `centred` holds the `anchors` minus `centre`, padded with zero rows to a
    multiple of 4; `a_sums` and `a_norms` are the sums and L1 norms of its
    rows. Each tile of 4 samples is centred once per anchor tile, and ``|x -
    a|_1 = 2 sum(max(x, a)) - sum(x) - sum(a)`` on centred rows costs two
    operations per feature instead of three. The sums of ``max`` for the
    whole anchor tile are kept, then finished one sample row at a time in
    passes that vectorise; where a result is at most `tolerance` times ``|x -
    c|_1 + |a - c|_1``, it is recomputed as ``sum(|x - a|)``, from the rows
    as given.
    """
    n_samples, n_features = X.shape
    n_anchors = out.shape[1]
    zero = X.dtype.type(0)
    two = X.dtype.type(2)
    rows = np.zeros((4, n_features), X.dtype)
    block = np.empty((4, ANCHOR_TILE), X.dtype)
    for start in range(0, n_anchors, ANCHOR_TILE):
        stop = min(start + ANCHOR_TILE, n_anchors)
        for i in range(0, n_samples, 4):
            height = min(4, n_samples - i)
            for r in range(height):
                for f in range(n_features):
                    rows[r, f] = X[i + r, f] - centre[f]
            x0, x1, x2, x3 = rows[0], rows[1], rows[2], rows[3]
            for j in range(start, stop, 4):
                sums = _tile_sums(
                    x0,
                    x1,
                    x2,
                    x3,
                    centred[j],
                    centred[j + 1],
                    centred[j + 2],
                    centred[j + 3],
                )
                for r in range(4):
                    for c in range(4):
                        block[r, j - start + c] = sums[r][c]
            for r in range(height):
                x_sum = x_norm = zero
                for f in range(n_features):
                    x_sum += rows[r, f]
                    x_norm += abs(rows[r, f])
                target = out[i + r, start:stop]
                n_near = 0
                for k in range(stop - start):
                    value = (two * block[r, k] - x_sum) - a_sums[start + k]
                    target[k] = value
                    n_near += _near(value, x_norm + a_norms[start + k], tolerance)
                if n_near:
                    for k in range(stop - start):
                        if _near(target[k], x_norm + a_norms[start + k], tolerance):
                            target[k] = _gap_sum(X[i + r], anchors[start + k])


@njit(nogil=True, cache=True)
def _chebyshev_kernel(X, anchors_t, out):
    """Fill ``out[i, j]`` with the L-inf distance of sample i to anchor j.

    `anchors_t` is the transposed anchor matrix, of shape (n_features,
    n_anchors); all arrays share one dtype and are C-contiguous, the number of
    samples is a multiple of ``ROW_TILE`` and the number of features is even.
    Features are taken two at a time: each partial result is then loaded and
    stored half as often. A maximum has no rounding, so the result is exact.
    """
    n_samples, n_features = X.shape
    n_anchors = anchors_t.shape[1]
    partial = np.empty((ROW_TILE, ANCHOR_TILE), dtype=out.dtype)
    for start in range(0, n_anchors, ANCHOR_TILE):
        width = min(ANCHOR_TILE, n_anchors - start)
        for i in range(0, n_samples, ROW_TILE):
            partial[:] = 0
            s0 = partial[0, :width]
            s1 = partial[1, :width]
            s2 = partial[2, :width]
            s3 = partial[3, :width]
            for t in range(0, n_features, 2):
                a = anchors_t[t, start : start + width]
                b = anchors_t[t + 1, start : start + width]
                x0, y0 = X[i, t], X[i, t + 1]
                x1, y1 = X[i + 1, t], X[i + 1, t + 1]
                x2, y2 = X[i + 2, t], X[i + 2, t + 1]
                x3, y3 = X[i + 3, t], X[i + 3, t + 1]
                # a[j] and b[j] are read once: the compiler cannot know that
                # the writes to s0..s3 leave them unchanged.
                for j in range(width):
                    aj, bj = a[j], b[j]
                    s0[j] = max(s0[j], max(abs(x0 - aj), abs(y0 - bj)))
                    s1[j] = max(s1[j], max(abs(x1 - aj), abs(y1 - bj)))
                    s2[j] = max(s2[j], max(abs(x2 - aj), abs(y2 - bj)))
                    s3[j] = max(s3[j], max(abs(x3 - aj), abs(y3 - bj)))
            out[i : i + ROW_TILE, start : start + width] = partial[:, :width]


def _chebyshev_fill(X, anchors_t, out):
    """Run the L-inf kernel on any number of rows, padding a last incomplete tile."""
    n_full = X.shape[0] - X.shape[0] % ROW_TILE
    if n_full:
        _chebyshev_kernel(X[:n_full], anchors_t, out[:n_full])
    if n_full < X.shape[0]:
        rows = np.zeros((ROW_TILE, X.shape[1]), dtype=X.dtype)
        rows[: X.shape[0] - n_full] = X[n_full:]
        tile = np.empty((ROW_TILE, out.shape[1]), dtype=out.dtype)
        _chebyshev_kernel(rows, anchors_t, tile)
        out[n_full:] = tile[: X.shape[0] - n_full]


def prepare_abs_differences(A, *, use_max):
    """Return the anchors' side of :func:`abs_difference_distances`.

    For L-inf, the transposed anchors, with a zero feature added to make the
    count even (it adds ``|0 - 0| = 0``); for L1, the anchors, their centre,
    the centred anchors padded with zero rows to a multiple of 4, and the
    centred rows' sums and L1 norms.
    """
    A = np.ascontiguousarray(A)
    if use_max:
        if A.shape[1] % 2:
            A = np.pad(A, ((0, 0), (0, 1)))
        return ("linf", A.shape[0], np.ascontiguousarray(A.T))
    # Sums beyond the dtype's range give distances that are not finite, which
    # the caller reports (see :func:`._plan.similarity_values`).
    with np.errstate(over="ignore", invalid="ignore"):
        centre = A.mean(axis=0)
        centred = np.zeros((-(-A.shape[0] // 4) * 4, A.shape[1]), A.dtype)
        np.subtract(A, centre, out=centred[: A.shape[0]])
        sums, norms = centred.sum(axis=1), np.abs(centred).sum(axis=1)
    return ("l1", A, centre, centred, sums, norms)


def abs_difference_distances(X, side, out=None):
    """L1 or L-inf distances between the rows of `X` and prepared anchors.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Samples, float32 or float64.
    side : tuple
        The anchors' side, from :func:`prepare_abs_differences` in the dtype
        of `X`.
    out : ndarray of shape (n_samples, n_anchors), default=None
        Where to write the result (any strides); a new array when None.

    Returns
    -------
    distances : ndarray of shape (n_samples, n_anchors), dtype of `X`
        `out`, when given.

    Notes
    -----
    L-inf is exact. L1 is computed from the anchors' centre c as
    ``2 sum(max(x', a')) - sum(x') - sum(a')`` with ``x' = x - c`` and ``a' =
    a - c``, two operations per feature instead of three. Its rounding error
    is at most about ``n_features * eps`` (typically ``sqrt(n_features) *
    eps``) times ``|x'|_1 + |a'|_1``, like the direct sum's for a sample at
    the anchors' typical distance. Results below ``max(2**-4, 4 * n_features
    * eps)`` times that scale (identical rows, near-duplicates, overflow) are
    recomputed as ``sum(|x - a|)``: identical rows are at distance exactly 0
    and close pairs keep the direct sum's relative precision.
    """
    X = np.ascontiguousarray(X)
    n_anchors = side[1] if side[0] == "linf" else side[1].shape[0]
    if out is None:
        out = np.empty((X.shape[0], n_anchors), dtype=X.dtype)
    n_work = n_anchors * X.shape[1] // 64  # the kernel is n_features times costlier
    if side[0] == "linf":
        anchors_t = side[2]
        if X.shape[1] % 2:
            X = np.pad(X, ((0, 0), (0, 1)))

        def fill(rows):
            _chebyshev_fill(X[rows], anchors_t, out[rows])

    else:
        _, A, centre, centred, sums, norms = side
        eps = float(np.finfo(X.dtype).eps)
        tolerance = X.dtype.type(max(_NEAR_L1, 4 * X.shape[1] * eps))

        def fill(rows):
            _manhattan_kernel(
                X[rows], A, centre, centred, sums, norms, tolerance, out[rows]
            )

    on_row_blocks(X.shape[0], X.shape[0] * n_work, fill, multiple=ROW_TILE)
    return out


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _centre_kernel(X, centre, out, sqnorms, zero):
    # Reassociation lets the sum of squares run in several SIMD lanes; the
    # order is still the same for a row wherever it sits in a chunk.
    for i in range(X.shape[0]):
        total = zero
        for j in range(X.shape[1]):
            value = X[i, j] - centre[j]
            out[i, j] = value
            total += value * value
        sqnorms[i] = total


def centred_sqnorms(X, centre):
    """Return ``X - centre`` and its squared row norms, in one threaded pass.

    The centred rows are written into the :func:`scratch` buffer "centred".
    Everything stays in the dtype of `X`. A row with a NaN or an infinity, or
    whose squared norm overflows, gets a squared norm that is not finite.
    """
    out = scratch("centred", X.shape, X.dtype)
    sqnorms = np.empty(X.shape[0], X.dtype)
    centre = np.asarray(centre, dtype=X.dtype)
    zero = X.dtype.type(0)

    def fill(rows):
        _centre_kernel(X[rows], centre, out[rows], sqnorms[rows], zero)

    on_row_blocks(X.shape[0], X.size, fill)
    return out, sqnorms


def _rows(values):
    """Return a 1-D view of the memory of the rows of `values`, and their stride.

    `values` is a 2-D view with contiguous columns. The compiled loops then
    index contiguous 1-D memory, which vectorises, even when `values` is one
    block of columns of a wider output.
    """
    n_rows, n_cols = values.shape
    row_stride = values.strides[0] // values.itemsize if n_rows > 1 else n_cols
    span = (n_rows - 1) * row_stride + n_cols if n_rows else 0
    flat = as_strided(values, shape=(span,), strides=(values.itemsize,))
    return flat, row_stride


def _on_rows_of(values, fill):
    """Call ``fill(flat, row_stride, rows, block)`` on row blocks, threaded.

    `block` is ``values[rows]`` and `flat` the 1-D view of its memory (see
    :func:`_rows`). A copy stands in for a `values` whose columns are not
    contiguous.
    """
    work = values if values.strides[1] == values.itemsize else values.copy()
    flat, row_stride = _rows(work)
    on_row_blocks(
        work.shape[0],
        work.size,
        lambda rows: fill(
            flat[rows.start * row_stride :], row_stride, rows, work[rows]
        ),
    )
    if work is not values:
        values[...] = work
    return values


@njit(nogil=True, cache=True)
def _scale_and_clip_kernel(flat, row_stride, n_cols, row_factors, low, high):
    for i in range(row_factors.shape[0]):
        row = flat[i * row_stride : i * row_stride + n_cols]
        factor = row_factors[i]
        for j in range(n_cols):
            row[j] = min(max(row[j] * factor, low), high)


def scale_rows_and_clip(values, row_factors, low, high):
    """In place: ``values = clip(values * row_factors[:, None], low, high)``."""
    dtype = values.dtype.type
    n_cols = values.shape[1]

    def fill(flat, row_stride, rows, block):
        factors = row_factors[rows]
        _scale_and_clip_kernel(
            flat, row_stride, n_cols, factors, dtype(low), dtype(high)
        )

    return _on_rows_of(values, fill)


@njit(nogil=True, cache=True)
def _finish_row(row, x_sqnorm, a_sqnorms, offsets, ratio, factor, constants):
    # constants = (noise, 0, 1, -2, use_exp), all in the dtype of the arrays,
    # so that the arithmetic stays in that dtype.
    noise, zero, _, minus_two, use_exp = constants
    minus_two_ratio = minus_two * ratio
    ratio_squared = ratio * ratio
    for j in range(a_sqnorms.shape[0]):
        norms = x_sqnorm + ratio_squared * a_sqnorms[j]
        squared = (row[j] - offsets[j]) * minus_two_ratio + norms
        if squared <= norms * noise:
            squared = zero
        if use_exp:
            row[j] = squared * -factor * factor
        else:
            row[j] = factor * np.sqrt(squared)


@njit(nogil=True, cache=True)
def _expansion_kernel(
    flat, row_stride, x_sqnorms, a_sqnorms, offsets, ratio, row_factors, constants
):
    n_cols = a_sqnorms.shape[0]
    for i in range(x_sqnorms.shape[0]):
        row = flat[i * row_stride : i * row_stride + n_cols]
        _finish_row(
            row, x_sqnorms[i], a_sqnorms, offsets, ratio[i], row_factors[i], constants
        )


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _centred_sqnorm(x, centre, zero):
    total = zero
    for j in range(x.shape[0]):
        value = x[j] - centre[j]
        total += value * value
    return total


@njit(nogil=True, cache=True)
def _folded_kernel(
    X, centre, flat, row_stride, a_sqnorms, offsets, factor, bounds, left, constants
):
    # bounds = (lowest, highest) squared norm; constants as in _finish_row.
    zero, one = constants[1], constants[2]
    n_cols = a_sqnorms.shape[0]
    for i in range(X.shape[0]):
        x_sqnorm = _centred_sqnorm(X[i], centre, zero)
        # Also False for NaN: rows with a NaN or an infinity are left.
        if not (bounds[0] <= x_sqnorm <= bounds[1]):
            left[i] = True
            continue
        row = flat[i * row_stride : i * row_stride + n_cols]
        _finish_row(row, x_sqnorm, a_sqnorms, offsets, one, factor, constants)


def _finish_in_pieces(products, use_exp, finish):
    """Call ``finish(flat, row_stride, rows)`` on pieces of rows, threaded.

    With `use_exp`, each piece of about ``_IN_CACHE_VALUES`` values is then
    exponentiated while it is still in cache, by NumPy (vectorised, unlike
    numba's exponential).
    """
    n_rows, n_cols = products.shape
    piece = max(1, _IN_CACHE_VALUES // n_cols) if use_exp else max(1, n_rows)

    def fill(flat, row_stride, rows, block):
        n_block = block.shape[0]
        with np.errstate(over="ignore"):  # exponents of -inf give 0
            for start in range(0, n_block, piece):
                stop = min(start + piece, n_block)
                finish(
                    flat[start * row_stride :],
                    row_stride,
                    slice(rows.start + start, rows.start + stop),
                )
                if use_exp:
                    values = block[start:stop]
                    np.exp(values, out=values)

    return _on_rows_of(products, fill)


def _expansion_constants(dtype, noise, use_exp):
    dtype = dtype.type
    return (dtype(noise), dtype(0), dtype(1), dtype(-2), dtype(use_exp))


def finish_squared_distances(
    products, x_sqnorms, a_sqnorms, offsets, ratio, row_factors, noise, *, use_exp
):
    """In place, from inner products: distances or Gaussian kernel values.

    With ``t = x_sqnorms[i] + ratio[i]**2 * a_sqnorms[j] - 2 * ratio[i] *
    (products[i, j] - offsets[j])``, set to 0 where at most ``noise`` times the
    norms, write ``row_factors[i] * sqrt(t)``, or with `use_exp`,
    ``exp(-row_factors[i]**2 * t)``. The vectors share the dtype of `products`.
    """
    constants = _expansion_constants(products.dtype, noise, use_exp)

    def finish(flat, row_stride, rows):
        _expansion_kernel(
            flat,
            row_stride,
            x_sqnorms[rows],
            a_sqnorms,
            offsets,
            ratio[rows],
            row_factors[rows],
            constants,
        )

    return _finish_in_pieces(products, use_exp, finish)


def finish_folded(
    products, X, centre, a_sqnorms, offsets, factor, noise, bounds, *, use_exp
):
    """Finish the products of uncentred samples, their norms computed on the way.

    :func:`finish_squared_distances` with ratio 1, one factor for all rows,
    and the squared norms of the rows of ``X - centre`` computed in the same
    pass. `products` holds ``X @ (A - centre).T`` and `offsets` ``(A - centre) @
    centre``. Rows whose squared norm (centred) is not within `bounds`, and
    rows with a NaN or an infinity, are left as they are. Returns the mask of
    the rows left.
    """
    constants = _expansion_constants(products.dtype, noise, use_exp)
    centre = np.asarray(centre, dtype=X.dtype)
    bounds = np.asarray(bounds, dtype=X.dtype)
    factor = X.dtype.type(factor)
    left = np.zeros(X.shape[0], dtype=bool)

    def finish(flat, row_stride, rows):
        _folded_kernel(
            X[rows],
            centre,
            flat,
            row_stride,
            a_sqnorms,
            offsets,
            factor,
            bounds,
            left[rows],
            constants,
        )

    _finish_in_pieces(products, use_exp, finish)
    return left


@njit(nogil=True, cache=True)
def _standardise_kernel(source, flat, row_stride, mean, scale):
    n_rows, n_cols = source.shape
    for i in range(n_rows):
        row = flat[i * row_stride : i * row_stride + n_cols]
        for j in range(n_cols):
            row[j] = (source[i, j] - mean[j]) / scale[j]


def standardise_into(source, mean, scale, target):
    """Write ``(source - mean) / scale`` into `target`, by row blocks in threads.

    `source` is C-contiguous, or `target` itself; `target` may be one block of
    columns of a wider array. Its first touch of fresh output pages is then
    shared out among the threads too.
    """

    def fill(flat, row_stride, rows, block):
        _standardise_kernel(source[rows], flat, row_stride, mean, scale)

    return _on_rows_of(target, fill)
