"""
==================================================================
Upgrade an embedding model without re-embedding the stored corpus
==================================================================

A search index holds one vector per document, computed by an *old* encoder.
A *new* encoder arrives, and from now on queries are embedded with it. Its
coordinates mean nothing to the old index, even at the same width, and
re-embedding the whole corpus may be expensive or impossible (the documents
may be gone). Both remedies below only need a small set of **anchor**
documents embedded by both models:

* **relative vectors**: describe stored documents by their similarities to
  the anchors embedded by the old model, and queries by their similarities
  to the same anchors embedded by the new model
  (:class:`~sklearn_relreps.RelativeTransformer`);
* **translation**: fit a :class:`~sklearn_relreps.LatentTranslator` from the
  new space to the old one on the anchors, and map queries into the
  untouched old index.

They are compared with the naive use of new-model queries against the old
index (possible only when the widths match) and with a full re-embedding of
the corpus, the upper bound. The encoders are small networks trained on
scikit-learn's digits (:func:`sklearn_relreps.datasets.load_digits_encoders`).
"""

# %%
# The stored corpus and the anchors
# ---------------------------------
# The corpus is the test images, stored as vectors of the old encoder. The
# anchors are 200 training images, the only documents embedded by both models.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from sklearn_relreps import LatentTranslator, RelativeTransformer
from sklearn_relreps.anchors import select_anchors
from sklearn_relreps.datasets import load_digits_encoders
from sklearn_relreps.metrics import mrr, recall_at_k

digits = load_digits_encoders()
old = digits.encoders["mlp64_0"]
new_models = ["mlp64_1", "mlp32_2", "mlp128_3"]
anchor_rows = select_anchors(old.train, 200, random_state=0)
print(f"corpus: {old.test.shape[0]} documents stored as {old.width}-d vectors")

# %%
# Two retrieval tasks
# -------------------
# *Find the stored entry*: each corpus document is embedded again by the new
# model (say, an edited copy arrives) and must retrieve its own stored
# vector: :func:`~sklearn_relreps.metrics.recall_at_k` at 1 and the mean
# reciprocal rank (:func:`~sklearn_relreps.metrics.mrr`, cut off at 10).
# Re-embedding the corpus answers this perfectly by construction.
#
# *Find similar documents*: the training images that are not anchors query
# the corpus; we count which share of the 10 nearest documents (cosine)
# show the query's digit. Here a full re-embedding is a real upper bound.
queries = np.setdiff1d(np.arange(old.train.shape[0]), anchor_rows)


def same_digit_at_10(query_vectors, corpus_vectors):
    search = NearestNeighbors(n_neighbors=10, metric="cosine").fit(corpus_vectors)
    found = search.kneighbors(query_vectors, return_distance=False)
    return np.mean(digits.y_test[found] == digits.y_train[queries, None])


def evaluate(lookup_queries, corpus, similar_queries):
    return {
        "recall@1": recall_at_k(lookup_queries, corpus, k=1),
        "MRR@10": mrr(lookup_queries, corpus, k=10),
        "same digit@10": same_digit_at_10(similar_queries, corpus),
    }


# %%
# The four ways to query the old index
# ------------------------------------
# Relative vectors use centred cosine similarities: the embeddings are ReLU
# activations, all non-negative, whose uncentred cosines crowd together.
def relative(anchor_vectors):
    return RelativeTransformer(
        anchors=anchor_vectors, center=True, output_norm=None
    ).fit(anchor_vectors)


rows = []
for name in new_models:
    new = digits.encoders[name]
    results = {}
    if new.width == old.width:
        results["naive absolute"] = evaluate(new.test, old.test, new.train[queries])

    stored_side = relative(old.train[anchor_rows])
    query_side = relative(new.train[anchor_rows])
    results["relative"] = evaluate(
        query_side.transform(new.test),
        stored_side.transform(old.test),
        query_side.transform(new.train[queries]),
    )

    for method in ["orthogonal", "affine"]:
        translator = LatentTranslator(method).fit(
            new.train[anchor_rows], old.train[anchor_rows]
        )
        results[f"translation ({method})"] = evaluate(
            translator.transform(new.test),
            old.test,
            translator.transform(new.train[queries]),
        )

    results["full re-embedding"] = evaluate(new.test, new.test, new.train[queries])
    for approach, scores in results.items():
        rows.append({"new model": name, "approach": approach, **scores})

table = pd.DataFrame(rows).set_index(["new model", "approach"])
print(table.round(3).to_string())

# %%
# Naive queries against the old index are useless even at the same width:
# the encoders learned the same digits with unrelated coordinates. Both
# anchor-based remedies keep most of the full re-embedding's quality from
# 200 anchors; below, the share of its "same digit@10" that each keeps. The
# orthogonal translator is weaker from the 32-d model, whose space it pads
# with zeros; the affine one and relative vectors do not care about widths.
upper = table.xs("full re-embedding", level="approach")["same digit@10"]
share = table["same digit@10"].div(upper, level="new model").unstack("new model")
print(share.drop("full re-embedding").round(3).to_string())

# %%
# How many anchors?
# -----------------
# The least-squares translator needs more anchors than dimensions (here
# 129 for the 128-d model, so it is left out below that); the orthogonal one
# and relative vectors work from a handful and improve with more.
new = digits.encoders["mlp128_3"]
counts = [16, 32, 64, 128, 256, 512]
curves = {"relative": [], "translation (orthogonal)": [], "translation (affine)": []}
for count in counts:
    some = select_anchors(old.train, count, random_state=1)
    curves["relative"].append(
        mrr(
            relative(new.train[some]).transform(new.test),
            relative(old.train[some]).transform(old.test),
            k=10,
        )
    )
    for method in ["orthogonal", "affine"]:
        key = f"translation ({method})"
        if method == "affine" and count <= new.width:
            curves[key].append(np.nan)
            continue
        translator = LatentTranslator(method).fit(new.train[some], old.train[some])
        curves[key].append(mrr(translator.transform(new.test), old.test, k=10))

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
approaches = list(dict.fromkeys(table.index.get_level_values("approach")))
scores = table["same digit@10"].unstack("approach").loc[new_models, approaches]
scores.plot.bar(ax=left, rot=0, width=0.8)
left.axhline(0.1, color="grey", linestyle=":", label="chance")
left.set(
    xlabel="new model",
    ylabel="share of the 10 results showing the query's digit",
    ylim=(0, 1),
    title="Find similar documents (200 anchors)",
)
left.legend(fontsize="small", loc="lower center", ncols=2)
for label, values in curves.items():
    right.plot(counts, values, marker="o", label=label)
right.set_xscale("log", base=2)
right.set_xticks(counts, labels=counts)
right.minorticks_off()
right.set(
    xlabel="number of anchors",
    ylabel="MRR@10",
    title="Find the stored entry: mlp128_3 queries, mlp64_0 index",
)
right.legend()
plt.show()
