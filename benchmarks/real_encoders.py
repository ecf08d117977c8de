"""Stitching quality on real text encoders and on the digits, with the package itself.

The corpus is :func:`sklearn_relreps.datasets.load_docstring_corpus` (one-line
docstring summaries of five libraries; the class is the library), embedded by
offline encoders (:func:`sklearn_relreps.datasets.embed_texts`): MiniLM and
GloVe means (the ``text`` extra), LSA (scikit-learn), and mpnet
(all-mpnet-base-v2: the ``mpnet`` extra, or a folder given with ``--mpnet``).
Embeddings are cached in scikit-learn's data folder (``--cache``).

For every ordered pair of encoders, a pipeline (relative step, then a logistic
regression) is fit on the source's training rows and scored on the target's
test rows after :func:`sklearn_relreps.stitch` ("stitched"); the same
configuration fit and scored within the target is "own"; ratio = stitched /
own. Translation baselines map the target into the source with
:class:`sklearn_relreps.LatentTranslator` fit on the anchors, then apply a
classifier fit on the source's raw features. Pairs of two sentence
transformers are "same family", the others "cross family".

Usage::

    pip install torch==2.13.0 && pip install ".[text,mpnet]"
    python benchmarks/real_encoders.py
    python benchmarks/real_encoders.py --digits      # the digits encoders only
"""

import argparse
import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.datasets import get_data_home
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklearn_relreps import (
    InvariantProductTransformer,
    LatentTranslator,
    RelativeTransformer,
    StitchingWarning,
    stitch,
)
from sklearn_relreps.datasets import (
    embed_texts,
    load_digits_encoders,
    load_docstring_corpus,
)

SENTENCE = {"minilm", "mpnet"}


def configurations(k):
    """name -> (relative step, stitch keywords)."""
    return {
        "cosine (0.1 default)": (
            RelativeTransformer(k, center=False, output_norm=None, random_state=0),
            {},
        ),
        "centred cosine": (
            RelativeTransformer(k, center=True, output_norm=None, random_state=0),
            {},
        ),
        "centred + softmax": (
            RelativeTransformer(k, output_norm="softmax", random_state=0),
            {},
        ),
        "centred + softmax + standard": (
            RelativeTransformer(k, output_norm=("softmax", "standard"), random_state=0),
            {},
        ),
        "softmax + standard + align=ridge": (
            RelativeTransformer(k, output_norm=("softmax", "standard"), random_state=0),
            {"align": "ridge"},
        ),
        "product of invariances": (
            InvariantProductTransformer(k, random_state=0),
            {},
        ),
    }


def head():
    return LogisticRegression(max_iter=3000)


def embeddings(encoders, mpnet, cache):
    corpus = load_docstring_corpus()
    spaces = {}
    for name in encoders:
        path = cache / f"{name}.npz"
        if path.exists() and list(np.load(path)["ids"]) == list(corpus.ids):
            spaces[name] = np.load(path)["X"]
            continue
        encoder = mpnet if name == "mpnet" and mpnet else name
        spaces[name] = embed_texts(corpus.data, encoder)
        np.savez(path, X=spaces[name], ids=np.asarray(corpus.ids, dtype=str))
    return spaces, corpus.target


def relative_scores(spaces, y, train, test, k):
    rows = []
    for (source, X_s), (target, X_t) in itertools.permutations(spaces.items(), 2):
        for method, (step, keywords) in configurations(k).items():
            model = make_pipeline(clone(step), head()).fit(X_s[train], y[train])
            anchors = X_t[train][np.asarray(model[0].anchor_indices_)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", StitchingWarning)
                stitched = stitch(model, anchors, **keywords)
            own = make_pipeline(clone(step), head()).fit(X_t[train], y[train])
            own = stitch(own, anchors, **keywords) if keywords else own
            rows.append(
                (
                    source,
                    target,
                    method,
                    stitched.score(X_t[test], y[test]),
                    own.score(X_t[test], y[test]),
                )
            )
        anchor_rows = np.random.RandomState(0).choice(len(train), k, replace=False)
        classifier = head().fit(X_s[train], y[train])
        for method in ("orthogonal", "ridge", "kernel"):
            translator = LatentTranslator(method).fit(
                X_t[train][anchor_rows], X_s[train][anchor_rows]
            )
            score = classifier.score(translator.transform(X_t[test]), y[test])
            own = head().fit(X_t[train], y[train]).score(X_t[test], y[test])
            rows.append((source, target, f"translation ({method})", score, own))
    frame = pd.DataFrame(
        rows, columns=["source", "target", "method", "stitched", "own"]
    )
    frame["ratio"] = frame["stitched"] / frame["own"]
    frame["k"] = k
    return frame


def summarise(frame):
    family = frame.apply(
        lambda r: "same" if {r.source, r.target} <= SENTENCE else "cross", axis=1
    )
    table = frame.assign(family=family).groupby(["family", "k", "method"], sort=False)
    return table[["stitched", "own", "ratio"]].mean().round(3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpnet", help="folder of all-mpnet-base-v2 (optional)")
    parser.add_argument("--anchors", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--digits", action="store_true", help="digits only")
    parser.add_argument("--cache", type=Path, default=Path(get_data_home()) / "relreps")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.digits:
        data = load_digits_encoders()
        names = list(data.encoders)[:3]
        spaces = {
            n: np.vstack([data.encoders[n].train, data.encoders[n].test]) for n in names
        }
        y = np.concatenate([data.y_train, data.y_test])
    else:
        encoders = ["minilm", "mpnet", "glove", "lsa"]
        spaces, y = embeddings(encoders, args.mpnet, args.cache)
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.3, stratify=y, random_state=0
    )
    frame = pd.concat(
        [relative_scores(spaces, y, train, test, k) for k in args.anchors]
    )
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(summarise(frame))
        print(frame.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
