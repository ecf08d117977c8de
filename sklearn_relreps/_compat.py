"""The one place that imports private scikit-learn names.

When scikit-learn moves one of these, the fix is a single line here.
"""

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import _fit_context
from sklearn.utils._array_api import _convert_to_numpy, get_namespace_and_device
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.fixes import _get_threadpool_controller
from sklearn.utils.validation import _check_feature_names_in

try:  # scikit-learn >= 1.9
    from sklearn.utils._array_api import check_same_namespace
except ImportError:  # pragma: no cover - exercised on scikit-learn < 1.9 only

    def check_same_namespace(X, estimator, *, attribute, method):
        """Do nothing: scikit-learn < 1.9 has no namespace consistency check."""


def openmp_effective_n_threads():
    """Threads OpenMP may use here, as scikit-learn counts them (logical CPUs).

    Honours ``OMP_NUM_THREADS``, threadpoolctl limits and joblib's inner limits.
    """
    return _openmp_effective_n_threads(only_physical_cores=False)


def to_numpy(array):
    """Return `array` (any supported namespace or device) as a NumPy array."""
    xp, _, _ = get_namespace_and_device(array)
    return _convert_to_numpy(array, xp)


def to_host(array):
    """Return `array` ready for ``check_array``: on the host, as NumPy if need be.

    NumPy arrays, pandas DataFrames and sparse matrices are returned as they
    are; arrays of another namespace or device are converted to NumPy.
    """
    if sparse.issparse(array) or isinstance(array, (np.ndarray, pd.DataFrame)):
        return array
    return to_numpy(array)


__all__ = [
    "Interval",
    "StrOptions",
    "_check_feature_names_in",
    "_fit_context",
    "_get_threadpool_controller",
    "check_same_namespace",
    "get_chunk_n_rows",
    "get_namespace_and_device",
    "openmp_effective_n_threads",
    "to_host",
    "to_numpy",
    "validate_params",
]
