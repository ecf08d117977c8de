"""The plan of a relative projection: what to do to each chunk of samples.

A :class:`Plan` is built from fitted arrays alone (anchors, centring mean,
feature scales, output statistics) for one dtype and namespace; it holds no
reference to an estimator. It has three stages, applied to a chunk of rows:

1. preprocessing: subtract the mean, divide by the feature scales;
2. one block per similarity, each prepared once on the preprocessed anchors
   (:mod:`._similarities`), each normalised by the one :class:`OutputNorm`;
3. aggregation of the blocks: side by side (``"concat"``), or pooled anchor
   by anchor (``"sum"``, ``"mean"``).

For NumPy output and ``"concat"``, each block is written straight into its
columns of the output; a block that is not contiguous there (one of several)
is computed in a reused :func:`._kernels.scratch` buffer first, because BLAS
writes strided memory about half as fast.

:func:`feature_statistics` and :func:`output_statistics` compute, at fit
time, what the plan needs from the anchors. The anchors-by-anchors blocks
are computed only for ``output_norm="standard"``, a few columns at a time
within ``working_memory``.
"""

import numpy as np
from scipy import sparse
from sklearn import get_config

from ._compat import get_namespace_and_device
from ._kernels import scratch, standardise_into
from ._numerics import check_in_range, mean_and_std, safe_scale, subtract, unit_rows

#: The normalisation steps of `output_norm`.
NORM_STEPS = ("l2", "softmax", "standard")


def norm_steps(output_norm):
    """Return the normalisation steps of an `output_norm` parameter, as a tuple."""
    if output_norm is None:
        return ()
    return (output_norm,) if isinstance(output_norm, str) else tuple(output_norm)


class OutputNorm:
    """Normalisation of the relative vectors, one block at a time.

    `steps` are applied in order: ``"l2"`` (unit rows), ``"softmax"``
    (``exp(r / temperature)`` divided by its row sum, computed from the row
    maximum so that it cannot overflow) and ``"standard"`` (z-scores with the
    anchors' own column statistics `mean` and `scale`, block-major, learned
    after the steps before it).
    """

    def __init__(self, steps=(), *, mean=None, scale=None, temperature=None):
        self.steps = tuple(steps)
        self.mean = mean
        self.scale = scale
        self.temperature = temperature

    def apply(self, block, index, xp, target=None, *, until=None):
        """Return block `index` normalised, written into `target` if given.

        With `until`, only the steps before that many are applied.
        """
        steps = self.steps[:until]
        if steps == ("standard",) and target is not None:
            k = block.shape[1]
            columns = slice(index * k, (index + 1) * k)
            return standardise_into(
                block, self.mean[columns], self.scale[columns], target
            )
        for step in steps:
            block = self._step(step, block, index, xp)
        if target is None:
            return block
        if block is not target:
            target[...] = block
        return target

    def _step(self, step, block, index, xp):
        if step == "l2":
            return unit_rows(block, xp)
        if step == "softmax":
            return softmax_rows(block, self.temperature, xp)
        k = block.shape[1]
        columns = slice(index * k, (index + 1) * k)
        return (block - self.mean[columns]) / self.scale[columns]


def softmax_rows(values, temperature, xp):
    """Return ``exp(values / temperature)`` divided by each row's sum."""
    # Differences beyond the dtype's range are -inf, whose weight is 0.
    with np.errstate(over="ignore", under="ignore"):
        shifted = (values - xp.max(values, axis=1, keepdims=True)) / temperature
        weights = xp.exp(shifted)
    return weights / xp.sum(weights, axis=1, keepdims=True)


class Plan:
    """Everything a transform does, for one dtype (see the module docstring).

    Parameters
    ----------
    anchors : array of shape (n_anchors, n_features)
        The anchor vectors, in the dtype and namespace of the samples, as
        every other array given.
    similarities : list of Similarity
        One per block.
    mean, scale : array of shape (n_features,) or None
        Preprocessing: ``(x - mean) / scale``.
    norm : OutputNorm
        Normalisation of each block.
    aggregation : {"concat", "sum", "mean"}
        How blocks are combined.
    """

    def __init__(
        self, anchors, similarities, *, mean, scale, norm, aggregation="concat"
    ):
        self.mean = mean
        self.inverse_scale = None if scale is None else 1 / scale
        self.norm = norm
        self.aggregation = aggregation
        self.dtype = anchors.dtype
        self.xp, _, self.device = get_namespace_and_device(anchors)
        self.n_anchors = anchors.shape[0]
        prepared = self.preprocess(anchors)
        self.blocks = [(s, s.prepare(prepared)) for s in similarities]
        n_blocks = len(similarities) if aggregation == "concat" else 1
        self.n_features_out = n_blocks * self.n_anchors
        self.accepts_sparse = all(s.sparse for s in similarities) and mean is None

    def preprocess(self, X):
        """Apply the centring and scaling to samples or anchors."""
        return preprocess(X, self.mean, self.inverse_scale)

    def row_bytes(self, n_features, itemsize):
        """Bytes of temporaries per sample row, for chunk sizing."""
        k = self.n_anchors
        per_block = [3 * k + n_features * s.row_overhead for s, _ in self.blocks]
        return itemsize * (n_features + sum(per_block) + k * len(per_block))

    def fill(self, X, out, rows):
        """Write the output rows `rows` of `out` for the samples `X`."""
        xp = get_namespace_and_device(out)[0]
        X = self.preprocess(X)
        if isinstance(out, np.ndarray) and self.aggregation == "concat":
            k = self.n_anchors
            for i, (similarity, side) in enumerate(self.blocks):
                target = out[rows, i * k : (i + 1) * k]
                into = (
                    target
                    if target.flags.c_contiguous
                    else scratch("block", target.shape, target.dtype)
                )
                block = similarity_values(similarity, X, side, out=into)
                self.norm.apply(block, i, np, target)
            return
        blocks = [
            self.norm.apply(similarity_values(similarity, X, side), i, xp)
            for i, (similarity, side) in enumerate(self.blocks)
        ]
        out[rows, ...] = self._aggregate(blocks, xp)

    def _aggregate(self, blocks, xp):
        if self.aggregation == "concat":
            return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=1)
        total = blocks[0]
        for block in blocks[1:]:
            total = total + block
        return total / len(blocks) if self.aggregation == "mean" else total


def similarity_values(similarity, X, side, out=None):
    """Return ``similarity.apply(X, side, out)``, checked to be finite.

    Finite samples can still have similarities beyond the dtype's range (L1
    distances of float32 rows near 1e38, say): a clear error then, never an
    infinity or a NaN in the output.
    """
    values = similarity.apply(X, side, out=out)
    check_in_range(values, f"{similarity.description} of X to the anchors")
    return values


def preprocess(X, mean, inverse_scale):
    """Return ``(X - mean) * inverse_scale``, skipping what is None.

    CSR samples stay sparse unless centred. Values that leave the dtype's
    range (a finite ``X - mean`` need not be finite) raise a clear error.
    """
    if mean is not None:
        X = subtract(
            X.toarray() if sparse.issparse(X) else X,
            mean,
            "values of X centred on the anchors' mean (center=True)",
        )
    if inverse_scale is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            if sparse.issparse(X):
                X = X.multiply(np.asarray(inverse_scale)).tocsr()
            else:
                X = X * inverse_scale
        check_in_range(
            X, "values of X divided by the feature scales (standardize=True)"
        )
    return X


def feature_statistics(anchors, *, center, standardize):
    """Return the centring mean and feature scales (None when unused)."""
    xp = get_namespace_and_device(anchors)[0]
    feature_mean, feature_std = mean_and_std(anchors, xp)
    mean = feature_mean if center else None
    scale = safe_scale(feature_std, feature_mean, xp) if standardize else None
    return mean, scale


def output_statistics(prepared, similarities, norm):
    """Column means and scales of the anchors' own blocks, block-major.

    `prepared` are the preprocessed anchors; the statistics are those of the
    blocks after the steps of `norm` before ``"standard"``. The blocks are
    computed a few columns at a time within ``working_memory`` when no step
    comes before (each column's statistics need that column alone, and the
    columns are rescaled by powers of two, so any magnitude is safe), else a
    few rows at a time (the row steps need whole rows), merging the rows'
    moments; the values are then bounded by 1.
    """
    xp = get_namespace_and_device(prepared)[0]
    k = prepared.shape[0]
    itemsize = xp.finfo(prepared.dtype).bits // 8
    budget = get_config()["working_memory"] * 2**20
    width = max(1, int(budget // (itemsize * k * 4)))
    before = norm.steps.index("standard")
    if before:
        return _row_statistics(prepared, similarities, norm, before, width)
    means, scales = [], []
    for similarity in similarities:
        pieces = [
            # (k, width): whole columns of the anchors' block
            mean_and_std(
                similarity_values(
                    similarity,
                    prepared,
                    similarity.prepare(prepared[start : min(start + width, k), ...]),
                ),
                xp,
            )
            for start in range(0, k, width)
        ]
        block_mean = xp.concat([m for m, _ in pieces])
        block_std = xp.concat([s for _, s in pieces])
        means.append(block_mean)
        scales.append(safe_scale(block_std, block_mean, xp))
    return xp.concat(means), xp.concat(scales)


def _row_statistics(prepared, similarities, norm, before, height):
    """:func:`output_statistics` after row steps: moments merged over rows."""
    xp = get_namespace_and_device(prepared)[0]
    k = prepared.shape[0]
    means, scales = [], []
    for i, similarity in enumerate(similarities):
        side = similarity.prepare(prepared)
        count, mean, m2 = 0, 0.0, 0.0
        for start in range(0, k, height):
            rows = prepared[start : min(start + height, k), ...]
            values = similarity_values(similarity, rows, side)
            block = norm.apply(values, i, xp, until=before)
            n = block.shape[0]
            block_mean = xp.mean(block, axis=0)
            block_m2 = xp.sum((block - block_mean) ** 2, axis=0)
            delta = block_mean - mean
            total = count + n
            mean = mean + delta * (n / total)
            m2 = m2 + block_m2 + delta**2 * (count * n / total)
            count = total
        std = xp.sqrt(m2 / count)
        means.append(mean)
        scales.append(safe_scale(std, mean, xp))
    return xp.concat(means), xp.concat(scales)
