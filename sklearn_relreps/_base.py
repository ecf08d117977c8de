"""Machinery shared by the relative projections: anchors, statistics, chunking."""

import threading
import warnings
from contextlib import nullcontext
from functools import partial
from math import ceil
from numbers import Integral, Real

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from scipy import sparse
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import (
    assert_all_finite,
    check_array,
    check_random_state,
    gen_batches,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from ._anchors import ANCHOR_METHODS, choose_anchors
from ._compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
    _get_threadpool_controller,
    check_same_namespace,
    get_chunk_n_rows,
    get_namespace_and_device,
    to_host,
    to_numpy,
)
from ._dask import dask_transform, is_dask_collection
from ._kernels import (
    in_chunk_thread,
    kernel_threads,
    limit_threads,
    map_chunks,
    reuse_buffers,
    scratch,
    standardise_into,
)
from ._similarities import SIMILARITIES, bind, power_of_two_scale, unit_rows


def mean_and_std(X, xp):
    """Column means and population standard deviations of `X`.

    Each column is divided by a power of two of its magnitude first (exact), so
    squares neither overflow nor underflow at any scale the dtype holds.
    """
    scale = power_of_two_scale(xp.max(xp.abs(X), axis=0), xp)
    X = X / scale
    return xp.mean(X, axis=0) * scale, xp.std(X, axis=0) * scale


#: Chunks are also small enough for one block of results (n_rows, n_anchors) to
#: fit in this many bytes: the temporaries then stay in the CPU caches and in
#: memory the allocator reuses, instead of fresh pages for every chunk (about
#: twice as fast as chunks filling ``working_memory``).
BLOCK_BYTES = 64 * 2**20

#: Fewer rows than this are not worth a chunk thread of their own: rbf on 16
#: rows of 768 features (1,000 anchors) took 3.0 ms in two threads, 2.2 ms in one.
MIN_CHUNK_ROWS = 64

#: Blocks that are all BLAS products, on fewer multiply-adds than this (rows x
#: features x anchors), run as one chunk with a threaded product by default:
#: rbf on 128 rows of 768 features (1,000 anchors) took 2.7 ms so, 3.9 ms in
#: two chunk threads; from about 2,000 rows on, chunk threads win.
SMALL_PRODUCT = 2**30


def safe_scale(std, mean, xp):
    """Return `std` with zero or negligible entries replaced by 1.

    An entry is negligible when it is below what the dtype resolves at the
    feature's scale (its mean, or the largest spread of any feature): such
    "dead" features would otherwise be blown up to noise of order one.
    """
    eps = xp.finfo(std.dtype).eps
    reference = xp.maximum(xp.abs(mean), xp.max(std))
    negligible = std <= 10 * eps * reference
    return xp.where(negligible, xp.ones_like(std), std)


class AnchorProjection(TransformerMixin, BaseEstimator):
    """Base of the estimators that describe samples by their relation to anchors.

    Subclasses define the blocks (one kernel each, on the shared anchors), the
    names of the blocks, and how blocks are aggregated.
    """

    _parameter_constraints = {
        "n_anchors": [Interval(Integral, 1, None, closed="left")],
        "anchors": [StrOptions(set(ANCHOR_METHODS)), "array-like"],
        "center": ["boolean"],
        "standardize": ["boolean"],
        "output_norm": [StrOptions({"l2", "standard"}), None],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    # -- subclass hooks ---------------------------------------------------------

    def _block_kernels(self):
        """Return the kernel names (str) or callables, one per block."""
        raise NotImplementedError

    def _aggregate(self, blocks, xp):
        """Combine the normalised blocks into the output."""
        raise NotImplementedError

    def _feature_prefixes(self):
        """Return one feature-name prefix per output block."""
        raise NotImplementedError

    # -- fitting ----------------------------------------------------------------

    def _check_kernels(self):
        kernels = self._block_kernels()
        uses_rbf = any(k == "rbf" for k in kernels)
        if self.gamma is not None and not uses_rbf:
            raise ValueError(
                f"gamma={self.gamma!r} is only used by the 'rbf' similarity; "
                "leave it as None for the others."
            )
        return kernels

    def _accepts_sparse(self):
        return all(_is_sparse_kernel(k) for k in self._block_kernels())

    def _sparse_option(self, X):
        """Return `accept_sparse` for `validate_data`; refuse sparse `X` by name."""
        if self._accepts_sparse():
            return "csr"
        if sparse.issparse(X):
            dense_only = [
                repr(k) if isinstance(k, str) else getattr(k, "__name__", repr(k))
                for k in self._block_kernels()
                if not _is_sparse_kernel(k)
            ]
            supported = [name for name, spec in SIMILARITIES.items() if spec.sparse]
            raise TypeError(
                f"Sparse input is not supported by the similarity "
                f"{', '.join(dense_only)}; pass a dense array (X.toarray()) or use "
                f"one of {supported}."
            )
        return False

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
        self._check_kernels()
        xp, _, device = get_namespace_and_device(X)
        labels = _row_labels(X)
        X = validate_data(
            self,
            X,
            accept_sparse=self._sparse_option(X),
            dtype=[xp.float64, xp.float32],
        )
        if isinstance(self.anchors, str):
            indices = choose_anchors(
                X,
                self.n_anchors,
                self.anchors,
                y,
                check_random_state(self.random_state),
            )
            self._set_anchors_from_rows(X, indices, labels, xp, device)
        else:
            given = (
                self.anchors
                if hasattr(self.anchors, "shape")
                else np.asarray(self.anchors)
            )
            if len(given.shape) == 1:
                indices = self._check_given_indices(to_numpy(given), X.shape[0])
                self._set_anchors_from_rows(X, indices, labels, xp, device)
            else:
                anchors = self._check_given_vectors(given, X, xp, device)
                self.anchor_indices_ = None
                self.anchor_ids_ = xp.arange(anchors.shape[0], device=device)
                self._fit_anchor_statistics(anchors)
        return self

    @staticmethod
    def _check_given_indices(given, n_samples):
        if given.dtype == bool:
            if given.shape[0] != n_samples:
                raise ValueError(
                    f"The boolean anchor mask has {given.shape[0]} entries but X "
                    f"has {n_samples} samples."
                )
            given = np.flatnonzero(given)
        elif not np.issubdtype(given.dtype, np.integer):
            raise ValueError(
                "1-D anchors must be integer row positions or a boolean mask; "
                f"got dtype {given.dtype}."
            )
        if given.size == 0:
            raise ValueError("The anchor indices select no sample.")
        if given.min() < 0 or given.max() >= n_samples:
            raise ValueError(
                f"Anchor indices must lie in [0, n_samples) with n_samples={n_samples};"
                f" got values from {given.min()} to {given.max()}."
            )
        if np.unique(given).size != given.size:
            raise ValueError("The anchor indices contain duplicates.")
        return given.astype(np.int64)

    def _check_given_vectors(self, given, X, xp, device):
        # Vectors of another array library or device (a NumPy array for torch
        # X, say) are checked on the host, then moved to X's namespace.
        dtype = np.float32 if xp.finfo(X.dtype).bits == 32 else np.float64
        checked = check_array(
            to_host(given), dtype=dtype, input_name="anchors", copy=True
        )
        anchors = xp.asarray(checked, device=device)
        if anchors.shape[1] != X.shape[1]:
            raise ValueError(
                f"The anchor vectors have {anchors.shape[1]} features but X has "
                f"{X.shape[1]} features."
            )
        n_distinct = np.unique(checked, axis=0).shape[0]
        if n_distinct < anchors.shape[0]:
            warnings.warn(
                f"{anchors.shape[0] - n_distinct} of the given anchor vectors "
                "duplicate others; their relative columns will be identical.",
                UserWarning,
                stacklevel=4,  # past fit and its decorator
            )
        return anchors

    def _set_anchors_from_rows(self, X, indices, labels, xp, device):
        if sparse.issparse(X):
            anchors = xp.asarray(X[indices].toarray())
        else:
            anchors = xp.take(X, xp.asarray(indices, device=device), axis=0)
        self.anchor_indices_ = xp.asarray(indices, dtype=xp.int64, device=device)
        self.anchor_ids_ = (
            self.anchor_indices_ if labels is None else np.asarray(labels)[indices]
        )
        self._fit_anchor_statistics(anchors)

    def _fit_anchor_statistics(self, anchors):
        """Learn every statistic of the projection from the anchor vectors alone.

        Stitching calls this with the anchors of another space, which re-anchors
        a fitted projection without touching the samples.
        """
        xp, _, _ = get_namespace_and_device(anchors)
        self.anchors_ = anchors
        mean, std = mean_and_std(anchors, xp)
        self.mean_ = mean if self.center else None
        self.scale_ = safe_scale(std, mean, xp) if self.standardize else None
        prepared = self._preprocess(anchors)
        blocks = [f(prepared, prepared) for f in self._kernel_functions()]
        if self.output_norm == "standard":
            stats = [mean_and_std(b, xp) for b in blocks]
            means = [m for m, _ in stats]
            scales = [safe_scale(s, m, xp) for m, s in stats]
            self.output_mean_ = xp.concat(means)
            self.output_scale_ = xp.concat(scales)
        else:
            self.output_mean_ = self.output_scale_ = None
        self._n_features_out = len(self._feature_prefixes()) * anchors.shape[0]

    # -- transforming -----------------------------------------------------------

    def _preprocess(self, X):
        """Apply the learned centring and scaling to samples or anchors."""
        if self.center:
            X = (X.toarray() if sparse.issparse(X) else X) - self.mean_
        if self.scale_ is not None:
            inverse = 1 / self.scale_
            X = X.multiply(inverse).tocsr() if sparse.issparse(X) else X * inverse
        return X

    def _kernel_functions(self):
        functions = []
        for kernel in self._block_kernels():
            if kernel == "rbf":
                gamma = (
                    self.gamma if self.gamma is not None else 1 / self.anchors_.shape[1]
                )
                functions.append(partial(SIMILARITIES["rbf"].func, gamma=gamma))
            elif isinstance(kernel, str):
                functions.append(SIMILARITIES[kernel].func)
            else:
                functions.append(partial(_call_checked, kernel))
        return functions

    def _normalise(self, blocks, xp):
        if self.output_norm == "l2":
            return [unit_rows(b, xp) for b in blocks]
        if self.output_norm == "standard":
            normalised = []
            for i, block in enumerate(blocks):
                mean, scale = self._block_statistics(i)
                normalised.append((block - mean) / scale)
            return normalised
        return blocks

    def _block_statistics(self, index):
        """Return the output mean and scale of block `index` ("standard")."""
        k = self.anchors_.shape[0]
        columns = slice(index * k, (index + 1) * k)
        return self.output_mean_[columns], self.output_scale_[columns]

    def _write_block(self, function, X, target, index):
        """Write block `index` for the rows `X`, normalised, into `target`.

        `target` is a NumPy view of the output. BLAS writes a view with gaps
        between its rows (one block of a wider output) about half as fast as
        contiguous memory, so such blocks are computed in a contiguous
        :func:`scratch` buffer, and normalised on the way into `target`.
        """
        if target.flags.c_contiguous:
            block = function(X, out=target)
        else:
            block = function(X, out=scratch("block", target.shape, target.dtype))
        if self.output_norm == "l2":
            target[...] = unit_rows(block, np)
        elif self.output_norm == "standard":
            standardise_into(block, *self._block_statistics(index), target)
        elif block is not target:
            target[...] = block

    def _writes_into_output(self, X):
        """Whether each kernel can write its block straight into the output.

        True for NumPy (or sparse) input, built-in kernels and blocks side by
        side: this saves a copy of the output and its temporaries.
        """
        kernels = self._block_kernels()
        return (
            (isinstance(X, np.ndarray) or sparse.issparse(X))
            and all(isinstance(k, str) for k in kernels)
            and len(self._feature_prefixes()) == len(kernels)
        )

    def _kernels_check_finite(self):
        """Whether the kernels find NaN and infinite samples themselves.

        The built-in kernels that compute squared row norms anyway do, for
        NumPy and sparse samples, if nothing is done to the samples before
        (centring could turn a huge finite value into an infinite one): the
        validation of `transform` then skips a pass over the data.
        """
        return (
            not self.center
            and not self.standardize
            and all(
                isinstance(k, str) and SIMILARITIES[k].blas
                for k in self._block_kernels()
            )
        )

    def _row_bytes(self, n_features, itemsize):
        k = self.anchors_.shape[0]
        per_block = [
            3 * k
            + n_features * (SIMILARITIES[c].row_overhead if isinstance(c, str) else 1)
            for c in self._block_kernels()
        ]
        return itemsize * (n_features + sum(per_block) + k * len(per_block))

    def transform(self, X):
        """Describe every sample by its relation to the anchors.

        Rows are processed in chunks sized from scikit-learn's
        ``working_memory`` (see :func:`sklearn.set_config`), so the extra
        memory does not grow with the number of samples; with `n_jobs`, chunks
        run in parallel threads. BLAS and the compiled kernels use every CPU,
        shared out among the chunk threads (see `n_jobs`).

        A Dask array or DataFrame is transformed lazily, block by block, into
        a Dask collection of the same kind: a Dask array with the same row
        chunks and ``n_features_out`` columns, or a Dask DataFrame with the
        same partitions and index and the columns of
        :meth:`get_feature_names_out`. The fitted estimator is one key of the
        task graph, shipped once to each worker; nothing is computed until
        the result is.

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
        return self._transform(X)

    def _transform(self, X):
        """Transform an in-memory `X` chunk by chunk (see :meth:`transform`)."""
        check_same_namespace(X, self, attribute="anchors_", method="transform")
        xp, _, device = get_namespace_and_device(X)
        kernels_check = self._kernels_check_finite()
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse=self._sparse_option(X),
            dtype=[xp.float64, xp.float32],
            ensure_all_finite=not kernels_check,
        )
        if kernels_check and not (isinstance(X, np.ndarray) or sparse.issparse(X)):
            assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)
        workers = self._chunk_workers(X)
        # Each thread's share of the CPUs is set by the workers chosen, even
        # when too few rows leave some of them idle.
        kernel_budget = max(1, kernel_threads() // workers)
        n_workers = min(workers, max(1, X.shape[0] // MIN_CHUNK_ROWS))
        # With chunk threads, BLAS runs with its share of the CPUs from the
        # anchors' side on: after a threaded product, BLAS's idle threads keep
        # spinning for about 0.1 s, and would take CPU time from the chunks.
        blas = (
            _get_threadpool_controller().limit(limits=kernel_budget, user_api="blas")
            if workers > 1
            else nullcontext()
        )
        with blas:
            return self._transform_chunks(X, xp, device, n_workers, kernel_budget)

    def _transform_chunks(self, X, xp, device, n_workers, kernel_budget):
        """Fill the output chunk by chunk, in `n_workers` threads."""
        anchors = self._preprocess(xp.astype(self.anchors_, X.dtype))
        # The anchors' side of each kernel is computed once, not per chunk.
        functions = [bind(f, anchors) for f in self._kernel_functions()]
        n_samples = X.shape[0]
        itemsize = xp.finfo(X.dtype).bits // 8
        chunk = get_chunk_n_rows(
            self._row_bytes(X.shape[1], itemsize) * n_workers,
            max_n_rows=n_samples,
        )
        block_rows = max(1, BLOCK_BYTES // (itemsize * self.anchors_.shape[0]))
        chunk = min(chunk, block_rows, ceil(n_samples / n_workers))
        out = xp.empty((n_samples, self._n_features_out), dtype=X.dtype, device=device)
        k = self.anchors_.shape[0]
        into_output = self._writes_into_output(X)
        # Chunk threads see the caller's scikit-learn configuration.
        config = get_config()
        # Temporary buffers of each thread, reused from chunk to chunk.
        buffers = threading.local()

        def fill(rows):
            with (
                config_context(**config),
                limit_threads(kernel_budget),
                reuse_buffers(buffers),
            ):
                prepared = self._preprocess(X[rows, ...])
                if into_output:
                    for i, f in enumerate(functions):
                        target = out[rows, i * k : (i + 1) * k]
                        self._write_block(f, prepared, target, i)
                    return
                blocks = [f(prepared) for f in functions]
            out[rows, ...] = self._aggregate(self._normalise(blocks, xp), xp)

        map_chunks(fill, list(gen_batches(n_samples, chunk)), n_workers)
        return out

    def _chunk_workers(self, X):
        """Return how many chunks of `X` are transformed at once, in threads.

        `n_jobs` (resolved by joblib). By default, for NumPy or sparse `X`
        and blocks that include a BLAS product (cosine, dot, euclidean, rbf),
        one per CPU, each running BLAS and its kernels single-threaded: after
        a threaded product, BLAS's threads keep spinning for a while, which
        slows down the compiled kernels that finish each block. Otherwise
        one, each kernel using every CPU, as also for blocks that are all
        BLAS products on a small `X` (see ``SMALL_PRODUCT``); always one for
        a transform called from a chunk thread (by a callable similarity).
        """
        if in_chunk_thread():  # a transform inside a callable similarity
            return 1
        blas = [
            isinstance(k, str) and SIMILARITIES[k].blas for k in self._block_kernels()
        ]
        on_host = isinstance(X, np.ndarray) or sparse.issparse(X)
        work = X.shape[0] * X.shape[1] * self.anchors_.shape[0]
        small = all(blas) and work < SMALL_PRODUCT
        if self.n_jobs is None and any(blas) and on_host and not small:
            return kernel_threads()
        return max(1, effective_n_jobs(self.n_jobs))

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
        return np.asarray(
            [f"{prefix}anchor_{i}" for prefix in self._feature_prefixes() for i in ids],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accepts_sparse()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = all(isinstance(k, str) for k in self._block_kernels())
        tags.target_tags.required = (
            isinstance(self.anchors, str) and self.anchors == "stratified"
        )
        return tags


def _is_sparse_kernel(kernel):
    """Whether `kernel` is a built-in similarity that takes sparse input."""
    return (
        isinstance(kernel, str)
        and kernel in SIMILARITIES
        and SIMILARITIES[kernel].sparse
    )


def _row_labels(X):
    """Index labels of a DataFrame `X` to identify anchors by, or None.

    Labels that repeat (as strings, which feature names are made of) cannot
    identify anchors: positions are used instead, with a warning.
    """
    if not isinstance(X, pd.DataFrame):
        return None
    index = X.index
    # Distinct numbers and dates print distinctly; only object labels (1 and
    # "1", say) can collide once written as text.
    if not index.is_unique or (
        index.dtype == object and len(set(map(str, index))) < len(index)
    ):
        warnings.warn(
            "The index of X has repeated labels, so they cannot identify anchors; "
            "anchor_ids_ and feature names use row positions instead. Give X a "
            "unique index (e.g. X.reset_index(drop=True)) to silence this warning.",
            UserWarning,
            stacklevel=4,  # past fit and its decorator
        )
        return None
    return index


def _call_checked(function, X, anchors):
    """Call a user similarity and check that its result is usable."""
    xp, _, device = get_namespace_and_device(anchors)
    result = function(X, anchors)
    shape = tuple(getattr(result, "shape", ()))
    expected = (X.shape[0], anchors.shape[0])
    if shape != expected:
        raise ValueError(
            f"The similarity callable {getattr(function, '__name__', function)!r} must "
            f"return an array of shape (n_samples, n_anchors) = {expected}; got "
            f"{shape or type(result).__name__}."
        )
    result = xp.asarray(result, dtype=anchors.dtype, device=device)
    if not bool(xp.all(xp.isfinite(result))):
        raise ValueError(
            f"The similarity callable {getattr(function, '__name__', function)!r} "
            "returned NaN or infinite values."
        )
    return result
