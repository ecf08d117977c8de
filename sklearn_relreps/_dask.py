"""Lazy, blockwise ``transform`` of Dask arrays and DataFrames.

A relative projection treats every row independently of the others, so a Dask
collection is transformed one row block (partition) at a time, with no
communication between blocks. The fitted estimator enters the task graph once,
as a single key that every block task depends on: the scheduler ships the
anchors to each worker once, not once per block. Dask is imported only when a
Dask collection is passed.
"""

import sys
from copy import deepcopy

import numpy as np
import pandas as pd

from ._threads import budget_of


def is_dask_collection(X):
    """Whether `X` is a Dask collection (without importing Dask)."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(X)


def _output_dtype(dtypes):
    """float32 when every input column is float32, else float64 (as ``transform``)."""
    return np.float32 if all(d == np.float32 for d in dtypes) else np.float64


def _transform_block(block, estimator, dtype):
    if block.shape[0] == 0:  # empty partitions are legal in Dask
        return np.empty((0, estimator._n_features_out), dtype=dtype)
    # Blocks already run in parallel, one per scheduler thread or worker.
    with budget_of(1):
        return estimator.transform(block)


def _transform_partition(partition, estimator, dtype, columns):
    values = _transform_block(partition, estimator, dtype)
    return pd.DataFrame(values, index=partition.index, columns=columns)


def dask_transform(estimator, X):
    """Transform a Dask array or DataFrame lazily, block by block.

    Parameters
    ----------
    estimator : AnchorProjection
        A fitted relative projection.
    X : dask.array.Array or dask.dataframe.DataFrame
        Samples, chunked along rows (a Dask array is rechunked to hold all
        features in each block).

    Returns
    -------
    X_new : dask.array.Array or dask.dataframe.DataFrame
        The same kind of collection, with the same row chunks (partitions) and
        ``estimator.get_feature_names_out()`` columns; nothing is computed.
    """
    import dask
    import dask.array as da

    # A copy: the graph computes with the state at this call, even after a refit.
    fitted = dask.delayed(deepcopy(estimator), pure=True, traverse=False)
    n_out = estimator._n_features_out
    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2-D Dask array of shape (n_samples, n_features); got "
                f"{X.ndim} dimension(s)."
            )
        dtype = _output_dtype([X.dtype])
        X = X.rechunk({1: -1})
        return X.map_blocks(
            _transform_block,
            fitted,
            dtype,
            chunks=(X.chunks[0], (n_out,)),
            dtype=dtype,
            meta=np.empty((0, n_out), dtype=dtype),
        )
    if not hasattr(X, "map_partitions") or X.ndim != 2:
        raise TypeError(
            "Dask input must be a dask.array.Array or a dask.dataframe.DataFrame; "
            f"got {type(X).__name__}."
        )
    dtype = _output_dtype(X.dtypes)
    columns = estimator.get_feature_names_out()
    meta = pd.DataFrame(np.empty((0, n_out), dtype=dtype), columns=columns)
    return X.map_partitions(
        _transform_partition, fitted, dtype, columns, meta=meta, align_dataframes=False
    )
