"""
=====================================
Zero-shot stitching between encoders
=====================================

A classifier is trained on the embeddings of one encoder (A) and used, without
retraining, on the embeddings of another encoder (B). Fed B's raw coordinates,
it fails, even when both encoders have the same width: the coordinates of
independently trained encoders mean different things. Describing every
sample by its similarities to a few **anchor** samples, embedded by each
encoder, makes the two spaces speak the same language
(:class:`~sklearn_relreps.RelativeTransformer`);
:func:`~sklearn_relreps.stitch` then moves the fitted model from A to B.

The encoders are small networks trained on scikit-learn's digits
(:func:`~sklearn_relreps.datasets.load_digits_encoders`): each embeds an
image as its hidden-layer activations. Row ``i`` is the same image in every
encoder.
"""

# %%
# Encoders
# --------
# Four encoders, trained with different seeds; two share the width 64.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_relreps import RelativeTransformer, stitch
from sklearn_relreps.datasets import load_digits_encoders

digits = load_digits_encoders()
y_train, y_test = digits.y_train, digits.y_test
for name, encoder in digits.encoders.items():
    print(f"{name}: {encoder.width}-d embeddings, own accuracy {encoder.accuracy:.3f}")

A = digits.encoders["mlp64_0"]
B = digits.encoders["mlp64_1"]
C = digits.encoders["mlp32_2"]

# %%
# The absolute baseline
# ---------------------
# A classifier fit on A's coordinates is excellent on A and useless on B.
absolute = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
absolute.fit(A.train, y_train)
accuracy = {
    "A's model on A": absolute.score(A.test, y_test),
    "A's model on B (absolute)": absolute.score(B.test, y_test),
}

# %%
# Fit on A's relative representation
# ----------------------------------
# :class:`~sklearn_relreps.RelativeTransformer` draws 300 anchors among A's
# training rows and describes each image by its cosine similarity to them,
# after centring on the anchors' mean (ReLU activations are non-negative, so
# raw cosines crowd together). The classifier only ever sees those
# similarities.
relative = make_pipeline(
    RelativeTransformer(300, center=True, random_state=0),
    LogisticRegression(max_iter=1000),
)
relative.fit(A.train, y_train)
anchor_rows = relative[0].anchor_indices_
print(f"anchors: training rows {anchor_rows[:5]}...; relative width {len(anchor_rows)}")

# %%
# Stitch to B
# -----------
# Encoder B embeds the same anchor images; :func:`~sklearn_relreps.stitch`
# returns a copy of the pipeline whose relative step uses them. Nothing is
# retrained: the logistic regression is A's. The original pipeline is left
# as it was.
on_b = stitch(relative, B.train[anchor_rows])
accuracy["A's model on B (relative)"] = on_b.score(B.test, y_test)

# %%
# The widths need not even match: C has 32 dimensions.
on_c = stitch(relative, C.train[anchor_rows])
accuracy["A's model on C (relative)"] = on_c.score(C.test, y_test)

# %%
# For reference, a classifier trained on B itself:
own = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
accuracy["B's own model on B"] = own.fit(B.train, y_train).score(B.test, y_test)
for setting, value in accuracy.items():
    print(f"{setting:>28}: {value:.3f}")

# %%
# Why it works
# ------------
# Compare the two encoders' views of the same test images. Their coordinates
# are unrelated (left); their similarities to the anchors nearly coincide
# (right), which is all the stitched model needs.
relative_a = relative[0].transform(A.test[:50])
relative_b = on_b[0].transform(B.test[:50])
fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
axes[0].scatter(A.test[:50].ravel(), B.test[:50].ravel(), s=3, alpha=0.4)
axes[0].set(
    title="absolute coordinates", xlabel="encoder A", ylabel="encoder B (same width)"
)
axes[1].scatter(relative_a.ravel(), relative_b.ravel(), s=3, alpha=0.4)
axes[1].set(
    title="centred cosine to the anchors", xlabel="encoder A", ylabel="encoder B"
)
print(
    "correlation of the relative vectors of A and B: "
    f"{np.corrcoef(relative_a.ravel(), relative_b.ravel())[0, 1]:.3f}"
)
names = list(accuracy)
axes[2].barh(names, [accuracy[n] for n in names], color="tab:blue")
axes[2].axvline(0.1, color="grey", linestyle="--", label="chance")
axes[2].invert_yaxis()
axes[2].set(xlim=(0, 1), xlabel="test accuracy", title="digits test accuracy")
axes[2].legend(loc="lower right")
plt.show()

# %%
# Anchors identified by id
# ------------------------
# Anchors in another order than the fitted ones would silently give wrong
# predictions. When the embeddings carry item identifiers, pass B's anchors
# as a :class:`pandas.DataFrame` indexed by them: :func:`~sklearn_relreps.stitch`
# reorders the rows by the fitted ``anchor_ids_`` and raises if any is
# missing. Here the ids are the row positions, as the model was fit on an
# array.
import pandas as pd

anchors_b = pd.DataFrame(B.train).loc[anchor_rows].sample(frac=1, random_state=0)
by_id = stitch(relative, anchors_b)
print(f"stitched by id: {by_id.score(B.test, y_test):.3f}")

# %%
# The command ``python -m sklearn_relreps`` runs this comparison for every
# ordered pair of encoders, together with the product of invariances
# (:class:`~sklearn_relreps.InvariantProductTransformer`) and latent space
# translation (:class:`~sklearn_relreps.LatentTranslator`).
