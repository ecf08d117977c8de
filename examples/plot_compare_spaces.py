"""
==============================================
Compare latent spaces with the metrics
==============================================

How similar are two encoders' latent spaces? :mod:`sklearn_relreps.metrics`
answers at three levels, for the same items embedded in two spaces:

* **coordinates**: :func:`~sklearn_relreps.metrics.mean_cosine` compares each
  item with its counterpart;
* **cross-space retrieval**: :func:`~sklearn_relreps.metrics.mrr` and
  :func:`~sklearn_relreps.metrics.jaccard_at_k` query one space with the
  other's vectors;
* **geometry only**: :func:`~sklearn_relreps.metrics.linear_cka` and
  :func:`~sklearn_relreps.metrics.mutual_knn` compare each space's internal
  structure, so they accept different widths.

We compare the encoders of
:func:`sklearn_relreps.datasets.load_digits_encoders` in their absolute
spaces and after a relative projection on shared anchors.
"""

# %%
# Absolute and relative views of every encoder
# --------------------------------------------
# The relative view of an encoder describes each test image by its centred
# cosine similarity to 100 anchor images, the same images for every encoder.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sklearn_relreps import RelativeTransformer
from sklearn_relreps.anchors import select_anchors
from sklearn_relreps.datasets import load_digits_encoders
from sklearn_relreps.metrics import (
    jaccard_at_k,
    linear_cka,
    mean_cosine,
    mrr,
    mutual_knn,
)

digits = load_digits_encoders()
names = list(digits.encoders)
first = digits.encoders[names[0]]
anchor_rows = select_anchors(first.train, 100, random_state=0)

views = {"absolute": {}, "relative": {}}
for name, encoder in digits.encoders.items():
    relative = RelativeTransformer(
        anchors=encoder.train[anchor_rows], center=True, output_norm=None
    )
    views["absolute"][name] = encoder.test
    views["relative"][name] = relative.fit(encoder.train).transform(encoder.test)

# %%
# Every metric for every pair
# ---------------------------
# Rows are the first space (the queries), columns the second. Metrics that
# compare vectors across spaces need equal widths; in the absolute view they
# are undefined (blank) between encoders of different widths.
metrics = {
    "linear_cka": linear_cka,
    "mutual_knn": mutual_knn,
    "jaccard_at_k": jaccard_at_k,
    "mrr": mrr,
    "mean_cosine": mean_cosine,
}


def score_matrix(metric, spaces):
    scores = pd.DataFrame(np.nan, index=names, columns=names)
    for a in names:
        for b in names:
            if metric in (linear_cka, mutual_knn) or spaces[a].shape == spaces[b].shape:
                scores.loc[a, b] = metric(spaces[a], spaces[b])
    return scores


results = {
    (view, label): score_matrix(metric, views[view])
    for view in views
    for label, metric in metrics.items()
}

# %%
# The diagonal holds the identity values: every metric is 1 for a space
# compared with itself. Off the diagonal, the geometry-only metrics are
# already high between absolute spaces: the encoders organise the digits
# alike. Cross-space retrieval fails there, even between the two 64-d
# encoders, whose units are unrelated; their mean cosine is far from 0 only
# because ReLU features are non-negative, so any two of them have a positive
# cosine. In the relative view the coordinates agree too, which is what
# zero-shot stitching relies on.
off_diagonal = ~np.eye(len(names), dtype=bool)
summary = pd.DataFrame(
    [
        {
            "view": view,
            "metric": label,
            "mean over pairs": np.nanmean(matrix.to_numpy()[off_diagonal]),
            "pairs defined": matrix.notna().to_numpy()[off_diagonal].sum(),
        }
        for (view, label), matrix in results.items()
    ]
).pivot(index="metric", columns="view")
print(summary.loc[list(metrics)].round(3).to_string())

fig, axes = plt.subplots(2, len(metrics), figsize=(17, 7), layout="constrained")
for (view, label), ax in zip(results, axes.ravel(), strict=True):
    values = results[view, label].to_numpy()
    image = ax.imshow(values, vmin=0, vmax=1, cmap="viridis")
    for (i, j), value in np.ndenumerate(values):
        text = "n/a" if np.isnan(value) else f"{value:.2f}"
        color = "black" if np.isnan(value) or value > 0.5 else "white"
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(names)), labels=names, rotation=45)
    ax.set_yticks(range(len(names)), labels=names)
    ax.set_title(f"{label}, {view}")
fig.colorbar(image, ax=axes, shrink=0.6, label="score (1 = identical)")
plt.show()

# %%
# What each metric notices
# ------------------------
# To audit a change of one space (a new model version, a drifted pipeline),
# compare it with the old space. Known transformations of one encoder show
# what each metric reacts to: CKA ignores rotations, rescaling and shifts
# but not a general linear map; mutual k-NN (cosine neighbours) ignores
# rotations and rescaling; the cross-space metrics notice rotations and
# other changes of coordinates, but barely a rescaling.
rng = np.random.RandomState(0)
X = first.test
rotation, _ = np.linalg.qr(rng.normal(size=(X.shape[1], X.shape[1])))
changes = {
    "identical copy": X.copy(),
    "rotated": X @ rotation,
    "rescaled and shifted": 3 * X + 1,
    "general linear map": X @ rng.normal(size=(X.shape[1], X.shape[1])),
    "small noise": X + 0.1 * X.std() * rng.normal(size=X.shape),
    "another seed (mlp64_1)": digits.encoders["mlp64_1"].test,
}
audit = pd.DataFrame(
    {
        change: {label: metric(X, Z) for label, metric in metrics.items()}
        for change, Z in changes.items()
    }
).T
print(audit.round(3).to_string())
