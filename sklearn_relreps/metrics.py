"""Compare two parallel latent spaces: the same items, rows aligned.

Neighbourhood and retrieval scores (:func:`jaccard_at_k`, :func:`mrr`,
:func:`recall_at_k`, :func:`mutual_knn`) use cosine similarity, break ties by
row index and search in memory-bounded chunks; :func:`mean_cosine` compares
each item with its counterpart; :func:`linear_cka` compares the spaces'
geometry globally. All are in ``[0, 1]`` (``[-1, 1]`` for the cosine), greater
is better, and equal 1 for identical inputs without duplicate or collinear rows.
:func:`anchor_agreement` (in ``[-1, 1]``) compares the anchors' relative
geometry, to check a pair of spaces before stitching. When both inputs are
DataFrames, rows are matched by index.
"""

from ._metrics import (
    anchor_agreement,
    jaccard_at_k,
    linear_cka,
    mean_cosine,
    mrr,
    mutual_knn,
    recall_at_k,
)

__all__ = [
    "anchor_agreement",
    "jaccard_at_k",
    "linear_cka",
    "mean_cosine",
    "mrr",
    "mutual_knn",
    "recall_at_k",
]
