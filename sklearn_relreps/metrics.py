"""Compare two parallel latent spaces: the same items, rows aligned.

Neighbourhood and retrieval scores (:func:`jaccard_at_k`, :func:`mrr`,
:func:`recall_at_k`, :func:`mutual_knn`) use cosine similarity, break ties by
row index and search in memory-bounded chunks; :func:`mean_cosine` compares
each item with its counterpart; :func:`linear_cka` compares the spaces'
geometry globally. All are in ``[0, 1]`` (``[-1, 1]`` for the cosine), greater
is better, and equal 1 for identical inputs without duplicate or collinear rows.
:func:`anchor_agreement` (in ``[-1, 1]``) compares the anchors' relative
geometry, to check a pair of spaces before stitching. When both inputs are
DataFrames, rows are matched by index. For cross-space retrieval,
:func:`neighbor_recall` and :func:`exact_match_rank` score neighbour lists, and
:func:`retrieval_report` tabulates them for fitted retrievers.
"""

from ._metrics import (
    anchor_agreement,
    exact_match_rank,
    jaccard_at_k,
    linear_cka,
    mean_cosine,
    mrr,
    mutual_knn,
    neighbor_recall,
    recall_at_k,
    retrieval_report,
)

__all__ = [
    "anchor_agreement",
    "exact_match_rank",
    "jaccard_at_k",
    "linear_cka",
    "mean_cosine",
    "mrr",
    "mutual_knn",
    "neighbor_recall",
    "recall_at_k",
    "retrieval_report",
]
