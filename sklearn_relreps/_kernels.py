"""Compiled L1 and L-inf distances for NumPy arrays.

The broadcasting formulation ``|X[:, None, :] - A[None]|`` reduced over features
cannot use the CPU well: it materialises the differences and reduces them in a
second pass. Here a compiled kernel (numba) streams the features once and keeps
the partial results of a small tile of samples and anchors in cache:

- samples are taken ``ROW_TILE`` at a time, so every anchor value loaded is used
  for several samples;
- anchors are taken ``ANCHOR_TILE`` at a time, transposed to ``(n_features,
  n_anchors)``, so the innermost loop runs over contiguous anchors and compiles to
  SIMD instructions with exact IEEE arithmetic (no fast-math reordering);
- everything stays in the input's floating dtype (float32 stays float32);
- row blocks run on several threads (the kernel releases the GIL).

Functions are compiled on first use and cached on disk, so only the first call
after installation pays the compilation (about a second per dtype).
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from math import ceil

import numpy as np
from joblib import cpu_count
from numba import njit

#: Samples whose distances are accumulated together, so that one anchor load
#: serves all of them (the kernel holds exactly this many accumulators).
ROW_TILE = 4
#: Anchors per pass: the partial sums of one tile of samples stay in the L1 cache
#: and the transposed anchor block in the L2 cache.
ANCHOR_TILE = 256
#: Row blocks per thread, so that threads that run faster can take more blocks.
_BLOCKS_PER_THREAD = 4

_budget = threading.local()


@contextmanager
def limit_threads(n_threads):
    """Let the kernels called by this thread use at most `n_threads` threads.

    Parallel callers (such as the chunk threads of ``transform(n_jobs=...)``)
    share the cores instead of each starting one thread per core.
    """
    previous = getattr(_budget, "n_threads", None)
    _budget.n_threads = max(1, int(n_threads))
    try:
        yield
    finally:
        _budget.n_threads = previous


def kernel_threads():
    """Return how many threads a kernel may use.

    The limit set by :func:`limit_threads` in this thread, else every CPU.
    """
    n_threads = getattr(_budget, "n_threads", None)
    return cpu_count() if n_threads is None else n_threads


@njit(nogil=True, cache=True)
def _abs_difference_kernel(X, anchors_t, out, use_max):
    """Fill ``out[i, j]`` with the L1 (or, if `use_max`, L-inf) distance.

    `anchors_t` is the transposed anchor matrix, of shape (n_features,
    n_anchors); all arrays share one dtype and are C-contiguous, and the number
    of samples is a multiple of ``ROW_TILE``.
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
            for t in range(n_features):
                a = anchors_t[t, start : start + width]
                x0 = X[i, t]
                x1 = X[i + 1, t]
                x2 = X[i + 2, t]
                x3 = X[i + 3, t]
                if use_max:
                    for j in range(width):
                        s0[j] = max(s0[j], abs(x0 - a[j]))
                        s1[j] = max(s1[j], abs(x1 - a[j]))
                        s2[j] = max(s2[j], abs(x2 - a[j]))
                        s3[j] = max(s3[j], abs(x3 - a[j]))
                else:
                    for j in range(width):
                        s0[j] += abs(x0 - a[j])
                        s1[j] += abs(x1 - a[j])
                        s2[j] += abs(x2 - a[j])
                        s3[j] += abs(x3 - a[j])
            out[i : i + ROW_TILE, start : start + width] = partial[:, :width]


def _fill(X, anchors_t, out, use_max):
    """Run the kernel on any number of rows, padding a last incomplete tile."""
    n_full = X.shape[0] - X.shape[0] % ROW_TILE
    if n_full:
        _abs_difference_kernel(X[:n_full], anchors_t, out[:n_full], use_max)
    if n_full < X.shape[0]:
        rows = np.zeros((ROW_TILE, X.shape[1]), dtype=X.dtype)
        rows[: X.shape[0] - n_full] = X[n_full:]
        tile = np.empty((ROW_TILE, out.shape[1]), dtype=out.dtype)
        _abs_difference_kernel(rows, anchors_t, tile, use_max)
        out[n_full:] = tile[: X.shape[0] - n_full]


def abs_difference_distances(X, A, *, use_max):
    """L1 (or L-inf when `use_max`) distances between the rows of NumPy arrays.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Samples, float32 or float64.
    A : ndarray of shape (n_anchors, n_features)
        Anchors, converted to the dtype of `X`.
    use_max : bool
        Reduce the absolute differences with ``max`` (L-inf) instead of ``sum``.

    Returns
    -------
    distances : ndarray of shape (n_samples, n_anchors), dtype of `X`
    """
    X = np.ascontiguousarray(X)
    anchors_t = np.ascontiguousarray(A.T, dtype=X.dtype)
    n_samples = X.shape[0]
    out = np.empty((n_samples, A.shape[0]), dtype=X.dtype)
    n_threads = min(kernel_threads(), ceil(n_samples / ROW_TILE))
    if n_threads <= 1:
        _fill(X, anchors_t, out, use_max)
        return out
    n_blocks = min(n_threads * _BLOCKS_PER_THREAD, ceil(n_samples / ROW_TILE))
    block = ROW_TILE * ceil(n_samples / (n_blocks * ROW_TILE))

    def fill(start):
        rows = slice(start, start + block)
        _fill(X[rows], anchors_t, out[rows], use_max)

    with ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(fill, range(0, n_samples, block)))
    return out
