"""Cross-space retrieval: quality on real encoders, speed, anchor matching.

Run ``python benchmarks/retrieval.py [quality|speed|anchors]`` (all three by
default). Quality and anchor matching embed the docstring corpus with MiniLM,
mpnet, GloVe and LSA (the ``text`` and ``mpnet`` extras), cached in
scikit-learn's data folder (``--cache``); speed uses a synthetic 768-d index.
"""

import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np
from real_encoders import embeddings
from sklearn import config_context
from sklearn.datasets import get_data_home
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklearn_relreps import CrossSpaceRetriever, RelativeTransformer, stitch
from sklearn_relreps.datasets import load_docstring_corpus
from sklearn_relreps.metrics import anchor_agreement, retrieval_report

CONFIGS = {
    "orthogonal": dict(method="orthogonal"),
    "affine": dict(method="affine"),
    "ridge": dict(method="ridge"),
    "ridge a=10": dict(method="ridge", alpha=10.0),
    "kernel": dict(method="kernel"),
    "relative": dict(method="relative"),
    "relative t=0.05": dict(method="relative", temperature=0.05),
}


def load(cache, name):
    """The corpus embedded by encoder `name`, cached in `cache` (float64)."""
    Path(cache).mkdir(parents=True, exist_ok=True)
    spaces, _ = embeddings([name], None, Path(cache))
    return spaces[name].astype(np.float64)


def quality(cache, pairs, n_queries=647, seed=0):
    n = len(load(cache, "minilm"))
    order = np.random.RandomState(seed).permutation(n)
    held_out, pool = order[:n_queries], order[n_queries:]
    print(
        "| pair | method | anchors | CSLS | exact@1 | recall@10 vs re-embedded "
        "| recall@10 vs old |"
    )
    print("|---|---|---|---|---|---|---|")
    for new_name, old_name in pairs:
        new, old = load(cache, new_name), load(cache, old_name)
        for n_anchors in (100, 300, 1000):
            anchors = pool[:n_anchors]
            retrievers = {}
            for name, params in CONFIGS.items():
                if n_anchors <= new.shape[1] and name == "affine":
                    continue
                for csls in (None, 10):
                    retrievers[(name, csls)] = CrossSpaceRetriever(
                        csls=csls, **params
                    ).fit(old, index_anchors=old[anchors], query_anchors=new[anchors])
            report = retrieval_report(
                retrievers,
                new[held_out],
                targets=held_out,
                reference=new,
                old=old[held_out],
                k=10,
            )
            for key, row in report.iterrows():
                method, csls = key if isinstance(key, tuple) else (key, "")
                csls = "" if csls is None or csls != csls else csls
                print(
                    f"| {new_name}->{old_name} | {method} | {n_anchors} | {csls} | "
                    f"{row['exact@1']:.3f} | {row['recall_reembedded']:.3f} | "
                    f"{row['recall_old']:.3f} |",
                    flush=True,
                )


def speed(n_index=100_000, n_queries=1_000, dim=768, n_anchors=300, k=10):
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    index = rng.standard_normal(size=(n_index, dim), dtype=np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal(size=(dim, dim)))
    queries = (index[:n_queries] @ rotation).astype(np.float32)
    anchors = rng.choice(n_index, n_anchors, replace=False)
    anchors_new = (index[anchors] @ rotation).astype(np.float32)
    print(f"index {n_index:,} x {dim} float32, {n_queries:,} queries, k={k}")
    print("| search | fit (s) | kneighbors (s) | kneighbors peak traced memory (MiB) |")
    print("|---|---|---|---|")

    def measure(name, fit, search):
        start = time.perf_counter()
        model = fit()
        fitted = time.perf_counter() - start
        tracemalloc.start()
        start = time.perf_counter()
        found = search(model)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"| {name} | {fitted:.2f} | {elapsed:.2f} | {peak:.0f} |", flush=True)
        return found

    brute = measure(
        "NearestNeighbors(cosine, brute), queries already in the old space",
        lambda: NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(
            index
        ),
        lambda m: m.kneighbors(index[:n_queries], return_distance=False),
    )
    runs = [
        (dict(method="orthogonal", csls=None), 1024),
        (dict(method="orthogonal", csls=None), 128),
        (dict(method="orthogonal", csls=10), 1024),
        (dict(method="relative", csls=None), 1024),
    ]
    for params, memory in runs:
        name = ", ".join(f"{a}={v!r}" for a, v in params.items())
        with config_context(working_memory=memory):
            found = measure(
                f"CrossSpaceRetriever({name}), working_memory={memory}",
                lambda p=params: CrossSpaceRetriever(k, **p).fit(
                    index, index_anchors=index[anchors], query_anchors=anchors_new
                ),
                lambda m: m.kneighbors(queries, return_distance=False),
            )
        same = np.mean(found[:, 0] == brute[:, 0])
        print(f"|   top-1 equal to brute force: {same:.3f} | | | |")


def anchors(cache, pairs, n_anchors=1000, seed=0):
    from sklearn_relreps.anchors import match_anchors

    y = load_docstring_corpus().target
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.3, stratify=y, random_state=0
    )
    print(
        "| pair | seeds | seed agreement | held-out seed accuracy | pairs found "
        "| precision | precision of the first 100 found | stitched accuracy "
        "(found pairs; true pairs) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for source_name, target_name in pairs:
        source, target = load(cache, source_name), load(cache, target_name)
        rng = np.random.RandomState(seed)
        for n_seeds in (25, 100):
            seeds = rng.choice(len(source), n_seeds, replace=False)
            agreement = anchor_agreement(source[seeds], target[seeds]).score
            result = match_anchors(
                source,
                target,
                np.column_stack([seeds, seeds]),
                n_anchors=n_anchors,
                min_agreement=None,
                random_state=0,
            )
            new = ~result.is_seed
            correct = result.source[new] == result.target[new]
            # A classifier on the source's relative features, with the found
            # pairs as anchors, stitched to the target with its found rows,
            # against the same anchors with their true counterparts.
            model = make_pipeline(
                RelativeTransformer(anchors=source[result.source]),
                LogisticRegression(max_iter=3000),
            ).fit(source[train], y[train])
            scores = [
                stitch(model, target[rows]).score(target[test], y[test])
                for rows in (result.target, result.source)
            ]
            print(
                f"| {source_name}/{target_name} | {n_seeds} | {agreement:.2f} | "
                f"{result.seed_accuracy:.2f} | {new.sum()} | {correct.mean():.2f} | "
                f"{correct[:100].mean():.2f} | {scores[0]:.3f}; {scores[1]:.3f} |",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="*", default=["quality", "speed", "anchors"])
    parser.add_argument(
        "--cache", default=str(Path(get_data_home()) / "relreps"), type=Path
    )
    args = parser.parse_args()
    pairs = [("minilm", "mpnet"), ("minilm", "glove")]
    if "quality" in args.part:
        quality(args.cache, pairs)
    if "speed" in args.part:
        speed()
    if "anchors" in args.part:
        anchors(args.cache, pairs + [("minilm", "lsa")])


if __name__ == "__main__":
    main()
