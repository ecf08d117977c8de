"""The stitching demo: ``python -m sklearn_relreps`` or ``sklearn-relreps-demo``.

For every ordered pair of the digits encoders (A -> B), a classifier fit on
encoder A is used on encoder B's test embeddings without retraining, in four
ways, next to a classifier trained on B itself. Runs offline in seconds.
"""

import argparse
import sys
import time
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ._product import InvariantProductTransformer
from ._relative import RelativeTransformer
from ._stitch import stitch
from ._translate import LatentTranslator
from .datasets import load_digits_encoders

METHODS = {
    "non-stitched": "StandardScaler + LogisticRegression trained and tested on B",
    "absolute": "the same fit on A, applied to B's embeddings (equal widths only)",
    "relative": "RelativeTransformer + LogisticRegression fit on A, stitched to B",
    "product": "InvariantProductTransformer + LogisticRegression fit on A, "
    "stitched to B",
    "translation": "B translated into A (LatentTranslator on the anchors), "
    "then A's model",
}


def _classifier():
    return LogisticRegression(max_iter=1000)


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def _stitching_accuracies(digits, *, n_anchors=300, random_state=0):
    """Accuracy of every stitching method for every ordered encoder pair.

    Parameters
    ----------
    digits : Bunch
        The output of :func:`sklearn_relreps.datasets.load_digits_encoders`.
    n_anchors : int, default=300
        Number of anchors, drawn at random among the training rows and shared
        by the relative, product and translation methods.
    random_state : int, default=0
        Seed of the anchor draw.

    Returns
    -------
    results : DataFrame
        One row per ordered pair, indexed by ``(source, target)``, one column
        per method of ``METHODS``; ``absolute`` is NaN when the widths differ.
    """
    encoders, y_train, y_test = digits.encoders, digits.y_train, digits.y_test
    absolute, relative, product, own_accuracy = {}, {}, {}, {}
    for name, encoder in encoders.items():
        _progress(f"fitting the absolute, relative and product models on {name}")
        absolute[name] = make_pipeline(StandardScaler(), _classifier())
        relative[name] = make_pipeline(
            RelativeTransformer(n_anchors, center=True, random_state=random_state),
            _classifier(),
        )
        product[name] = make_pipeline(
            InvariantProductTransformer(
                n_anchors, center=True, random_state=random_state
            ),
            _classifier(),
        )
        for model in (absolute[name], relative[name], product[name]):
            model.fit(encoder.train, y_train)
        own_accuracy[name] = absolute[name].score(encoder.test, y_test)

    rows = {}
    for source, target in permutations(encoders, 2):
        a, b = encoders[source], encoders[target]
        anchors = relative[source][0].anchor_indices_
        product_anchors = product[source][0].anchor_indices_
        translator = LatentTranslator().fit(b.train[anchors], a.train[anchors])
        rows[source, target] = {
            "non-stitched": own_accuracy[target],
            "absolute": (
                absolute[source].score(b.test, y_test) if a.width == b.width else np.nan
            ),
            "relative": stitch(relative[source], b.train[anchors]).score(
                b.test, y_test
            ),
            "product": stitch(product[source], b.train[product_anchors]).score(
                b.test, y_test
            ),
            "translation": absolute[source].score(translator.transform(b.test), y_test),
        }
    results = pd.DataFrame.from_dict(rows, orient="index")[list(METHODS)]
    results.index.names = ["source", "target"]
    return results


def _format_report(results):
    """Return the table of accuracies, their means and the ratios as text."""
    table = results.copy()
    table.index = [f"{a} -> {b}" for a, b in results.index]
    means = results.mean()
    table.loc["mean"] = means
    text = table.to_string(float_format="{:.3f}".format, na_rep="n/a")
    ratios = "\n".join(
        f"{method} / non-stitched: {means[method] / means['non-stitched']:.3f}"
        for method in ("relative", "product", "translation")
    )
    legend = "\n".join(f"  {method}: {text}" for method, text in METHODS.items())
    return f"Accuracy on B's test rows\n{legend}\n\n{text}\n\n{ratios}"


def _plot_results(results, path):
    """Save one source-by-target heatmap per stitching method to `path`."""
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(results.index.get_level_values(0)))
    diagonal = results.groupby(level="target")["non-stitched"].first()
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    fig, axes = plt.subplots(2, 2, figsize=(9, 8.5), layout="constrained")
    for ax, method in zip(axes.flat, list(METHODS)[1:], strict=True):
        grid = results[method].unstack("target").reindex(index=names, columns=names)
        for name in names:
            grid.loc[name, name] = diagonal[name]
        values = grid.to_numpy()
        image = ax.imshow(values, vmin=0, vmax=1, cmap=cmap)
        for (i, j), value in np.ndenumerate(values):
            ax.text(
                j,
                i,
                "n/a" if np.isnan(value) else f"{value:.2f}",
                ha="center",
                va="center",
                color="black" if np.isnan(value) or value > 0.6 else "white",
            )
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_yticks(range(len(names)), names)
        ax.set_title(
            "latent translation" if method == "translation" else f"{method} stitching"
        )
        ax.set_xlabel("target B (test embeddings)")
        ax.set_ylabel("source A (model fit on)")
    fig.colorbar(image, ax=axes, shrink=0.6, label="accuracy (diagonal: no stitching)")
    fig.suptitle("Zero-shot stitching between digits encoders")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_relreps",
        description="Zero-shot stitching demo on digits embedded by independently "
        "trained encoders: accuracy of a model fit on encoder A and used on "
        "encoder B, for every ordered pair.",
    )
    parser.add_argument(
        "--n-anchors", type=int, default=300, help="number of anchors (default 300)"
    )
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        help="seed of the encoders and of the anchors (default 0)",
    )
    parser.add_argument(
        "--widths",
        type=int,
        nargs="+",
        default=[64, 64, 32, 128],
        help="hidden-layer width of each encoder (default 64 64 32 128)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("relreps_output"),
        help="folder for the CSV table and the figure (default ./relreps_output)",
    )
    parser.add_argument(
        "--data-home",
        type=Path,
        default=None,
        help="cache folder of the encoders (default: scikit-learn's data folder)",
    )
    parser.add_argument(
        "--no-figure", action="store_true", help="do not draw the figure"
    )
    return parser


def main(argv=None):
    """Run the stitching demo and print its table.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` when None. See
        ``python -m sklearn_relreps --help``.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> from sklearn_relreps.__main__ import main
    >>> with TemporaryDirectory() as folder:  # doctest: +ELLIPSIS
    ...     main(["--widths", "16", "16", "--n-anchors", "30", "--no-figure",
    ...           "--data-home", folder, "--output-dir", folder])
    Accuracy on B's test rows
    ...
    relative / non-stitched: ...
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.n_anchors < 1:
        parser.error(f"--n-anchors must be at least 1; got {args.n_anchors}")
    start = time.perf_counter()
    # The matrices are small (about 1000 x 1000 at most): BLAS threads cost
    # more in synchronisation than they gain, and far more on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        digits = load_digits_encoders(
            widths=args.widths,
            random_state=args.random_state,
            data_home=args.data_home,
            verbose=True,
        )
        results = _stitching_accuracies(
            digits, n_anchors=args.n_anchors, random_state=args.random_state
        )
    print(_format_report(results))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    table_path = args.output_dir / "stitching_accuracy.csv"
    results.to_csv(table_path, float_format="%.4f")
    saved = [table_path]
    if not args.no_figure:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            _progress("matplotlib is not installed: no figure (pip install matplotlib)")
        else:
            saved.append(args.output_dir / "stitching_accuracy.png")
            _plot_results(results, saved[-1])
    _progress(
        f"saved {', '.join(map(str, saved))}; "
        f"total time {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
