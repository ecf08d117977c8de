"""The one place that imports private scikit-learn names.

When scikit-learn moves one of these, the fix is a single line here.
"""

from sklearn.base import _fit_context
from sklearn.utils._array_api import _convert_to_numpy, get_namespace_and_device
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_feature_names_in

try:  # scikit-learn >= 1.9
    from sklearn.utils._array_api import check_same_namespace
except ImportError:  # pragma: no cover - exercised on scikit-learn < 1.9 only

    def check_same_namespace(X, estimator, *, attribute, method):
        """Do nothing: scikit-learn < 1.9 has no namespace consistency check."""


def to_numpy(array):
    """Return `array` (any supported namespace or device) as a NumPy array."""
    xp, _, _ = get_namespace_and_device(array)
    return _convert_to_numpy(array, xp)


__all__ = [
    "Interval",
    "StrOptions",
    "_check_feature_names_in",
    "_fit_context",
    "check_same_namespace",
    "get_chunk_n_rows",
    "get_namespace_and_device",
    "to_numpy",
    "validate_params",
]
