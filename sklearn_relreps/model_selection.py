"""Select and evaluate models by how well they stitch to another encoder.

:func:`stitching_scorer` makes a scorer for
:class:`~sklearn.model_selection.GridSearchCV` or
:func:`~sklearn.model_selection.cross_val_score` that stitches each fitted
model to a target encoder before scoring it; :func:`stitching_scores` scores
every pair of a set of encoders of the same items.
"""

from ._model_selection import stitching_scorer, stitching_scores

__all__ = ["stitching_scorer", "stitching_scores"]
