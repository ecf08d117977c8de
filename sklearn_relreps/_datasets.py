"""Embedded demo data: encoders' latent spaces and a real text corpus."""

import importlib
import inspect
import os
import pkgutil
import sys
import time
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Memory
from sklearn.datasets import get_data_home, load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.utils import Bunch, check_random_state
from threadpoolctl import threadpool_limits

from ._compat import Interval, validate_params

_DESCR = """\
Digits embedded by independently trained encoders
-------------------------------------------------

scikit-learn's bundled 8x8 digits (1797 images, 10 classes, pixels scaled to
[0, 1]) are split once into train and test rows. Each encoder is an
MLPClassifier with one ReLU hidden layer, trained on the training rows with
its own seed; an image's embedding is its hidden-layer activation computed
from the fitted weights. Encoders of equal width differ by a permutation of
their units and by training noise, so their coordinates cannot be compared,
while the relations between samples (angles, distances) largely agree.
Row i is the same image in every encoder.
"""


def _split(test_size, random_state):
    """Return the scaled digits and the stratified train/test row positions."""
    X, y = load_digits(return_X_y=True)
    train, test = train_test_split(
        np.arange(y.size), test_size=test_size, stratify=y, random_state=random_state
    )
    return X / 16.0, y, train, test


def _train_encoder(width, seed, test_size, split_seed):
    """Train one encoder and return its embeddings and its own test accuracy."""
    X, y, train, test = _split(test_size, split_seed)
    mlp = MLPClassifier(hidden_layer_sizes=(width,), max_iter=2000, random_state=seed)
    # One BLAS thread: these small products gain nothing from threads (and
    # lose much on a busy machine), and the weights then do not depend on the
    # machine's thread count.
    with threadpool_limits(limits=1, user_api="blas"):
        mlp.fit(X[train], y[train])

    def embed(rows):
        return np.maximum(X[rows] @ mlp.coefs_[0] + mlp.intercepts_[0], 0.0)

    return embed(train), embed(test), mlp.score(X[test], y[test])


@validate_params(
    {
        "widths": ["array-like"],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both")],
        "data_home": [str, os.PathLike, None],
        "verbose": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_encoders(
    *,
    widths=(64, 64, 32, 128),
    test_size=0.3,
    random_state=0,
    data_home=None,
    verbose=False,
):
    """Load the digits embedded by several independently trained encoders.

    The embedded default for demos and tests of zero-shot stitching. One
    MLPClassifier per entry of `widths` is trained on the training rows of
    scikit-learn's bundled digits, each with its own seed; the embeddings are
    its ReLU hidden-layer activations. Train and test rows are the same images
    in every encoder. Nothing is downloaded: training takes about a second per
    encoder, and the results are cached on disk with :class:`joblib.Memory`,
    so later calls with the same arguments are instant.

    Parameters
    ----------
    widths : sequence of int, default=(64, 64, 32, 128)
        Hidden-layer width of each encoder, one encoder per entry. Repeated
        widths give encoders whose coordinates could be compared one to one,
        which shows that absolute stitching fails even then.
    test_size : float, default=0.3
        Fraction of the images held out as test rows (stratified by class).
    random_state : int, default=0
        Seed of the train/test split and, through it, of every encoder's
        initialisation and shuffling. An int, so that results are
        reproducible and cacheable.
    data_home : str or path-like, default=None
        Folder of the cache. By default scikit-learn's data folder
        (:func:`sklearn.datasets.get_data_home`, ``~/scikit_learn_data``
        unless the ``SCIKIT_LEARN_DATA`` environment variable says otherwise);
        the cache lives in its ``sklearn_relreps`` subfolder.
    verbose : bool, default=False
        Print a progress line per encoder to standard error.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        encoders : dict of str to Bunch
            One entry per encoder, named ``"mlp<width>_<position>"``, with
            ``train`` and ``test`` (ndarrays of shape (n_train, width) and
            (n_test, width)), ``width``, ``random_state`` (the encoder's
            seed) and ``accuracy`` (the MLP's own accuracy on the test rows).
        y_train, y_test : ndarray of shape (n_train,) and (n_test,)
            Digit labels of the train and test rows.
        train_indices, test_indices : ndarray
            Positions of the train and test rows in
            :func:`sklearn.datasets.load_digits`.
        target_names : ndarray of shape (10,)
            The digits 0 to 9.
        DESCR : str
            Description of the data.

    See Also
    --------
    sklearn.datasets.load_digits : The images the encoders embed.
    sklearn_relreps.stitch : Reuse a model fit on one encoder on another.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> from sklearn_relreps.datasets import load_digits_encoders
    >>> with TemporaryDirectory() as cache:
    ...     digits = load_digits_encoders(widths=(16, 24), data_home=cache)
    >>> list(digits.encoders)
    ['mlp16_0', 'mlp24_1']
    >>> digits.encoders["mlp24_1"].train.shape, digits.y_train.shape
    ((1257, 24), (1257,))
    >>> digits.encoders["mlp16_0"].test.shape, digits.y_test.shape
    ((540, 16), (540,))
    """
    widths = np.asarray(widths)
    if widths.ndim != 1 or widths.size == 0 or widths.dtype.kind not in "iu":
        raise ValueError(
            f"widths must be a non-empty sequence of integers; got {widths.tolist()}."
        )
    if widths.min() < 1:
        raise ValueError(f"Every width must be at least 1; got {widths.tolist()}.")
    split_seed, *encoder_seeds = check_random_state(random_state).randint(
        np.iinfo(np.int32).max, size=widths.size + 1
    )
    memory = Memory(Path(get_data_home(data_home)) / "sklearn_relreps", verbose=0)
    train_encoder = memory.cache(_train_encoder)

    encoders = {}
    for position, (width, seed) in enumerate(
        zip(widths.tolist(), encoder_seeds, strict=True)
    ):
        name = f"mlp{width}_{position}"
        arguments = (width, int(seed), test_size, int(split_seed))
        if verbose:
            cached = train_encoder.check_call_in_cache(*arguments)
            print(
                f"[{position + 1}/{widths.size}] encoder {name}: "
                + ("loading from cache" if cached else "training"),
                end="... ",
                file=sys.stderr,
                flush=True,
            )
        start = time.perf_counter()
        train, test, accuracy = train_encoder(*arguments)
        if verbose:
            print(
                f"{time.perf_counter() - start:.1f} s, test accuracy {accuracy:.3f}",
                file=sys.stderr,
                flush=True,
            )
        encoders[name] = Bunch(
            train=train,
            test=test,
            width=width,
            random_state=int(seed),
            accuracy=accuracy,
        )

    _, y, train_rows, test_rows = _split(test_size, int(split_seed))
    return Bunch(
        encoders=encoders,
        y_train=y[train_rows],
        y_test=y[test_rows],
        train_indices=train_rows,
        test_indices=test_rows,
        target_names=np.arange(10),
        DESCR=_DESCR,
    )


_DOCSTRING_DESCR = """\
Docstring summaries of installed scientific Python libraries
------------------------------------------------------------

Each sample is the one-line summary (first paragraph, whitespace collapsed)
of the docstring of a public function, class or method; its label is the
source it was found in. A source is a package or subpackage: its own
namespace and the namespaces of its public submodules (one level down) are
read, keeping objects defined in the source's top-level library. Summaries
shorter than a few words, longer than 200 characters, or found in more than
one source are dropped; each remaining summary is kept once, under the first
qualified name in sorted order. Sources above the per-class cap are
subsampled. The text depends on the installed versions of the libraries and
is built afresh at every call, without any download.
"""

# Submodules that hold tests, build tooling or private helpers rather than
# documented public API.
_SKIPPED_SUBMODULES = frozenset(
    {
        "conftest",
        "core",
        "cython_special",
        "distutils",
        "doc",
        "f2py",
        "setup",
        "testing",
        "tests",
    }
)


def _public_modules(source):
    """Return the names of `source` and of its public submodules, sorted."""
    package = importlib.import_module(source)
    names = [source]
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        if not info.name.startswith("_") and info.name not in _SKIPPED_SUBMODULES:
            names.append(f"{source}.{info.name}")
    return sorted(names)


def _summary(obj):
    """Return the first paragraph of the docstring of `obj` on one line."""
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str):
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def _source_summaries(source, min_words):
    """Map each summary found in `source` to the first qualified name giving it."""
    library = source.split(".")[0]
    found = {}
    for module_name in _public_modules(source):
        with warnings.catch_warnings():
            # Deprecated or optional submodules warn or fail on import.
            warnings.simplefilter("ignore")
            try:
                module = importlib.import_module(module_name)
            except Exception:
                continue
            names = getattr(module, "__all__", None) or dir(module)
            for name in sorted(n for n in names if not n.startswith("_")):
                try:
                    obj = getattr(module, name)
                except Exception:  # lazily loaded names may refuse
                    continue
                if not callable(obj) or inspect.ismodule(obj):
                    continue
                if not str(getattr(obj, "__module__", "") or "").startswith(library):
                    continue
                qualname = f"{module_name}.{name}"
                members = [(qualname, obj)]
                if inspect.isclass(obj):
                    members += [
                        (f"{qualname}.{attr}", value)
                        for attr, value in sorted(vars(obj).items())
                        if not attr.startswith("_")
                    ]
                for member_name, member in members:
                    text = _summary(member)
                    if len(text.split()) >= min_words and len(text) <= 200:
                        found.setdefault(text, member_name)
    return found


@validate_params(
    {
        "sources": ["array-like"],
        "max_per_class": [Interval(Integral, 1, None, closed="left"), None],
        "min_words": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_docstring_corpus(
    *,
    sources=("numpy", "scipy", "sklearn", "pandas", "joblib"),
    max_per_class=400,
    min_words=4,
    random_state=0,
    as_frame=False,
):
    """Load a labelled text corpus of docstring summaries of installed libraries.

    A real, offline text data set for trying encoders of text on: each sample
    is the one-line summary of the docstring of a public function, class or
    method, labelled by the library (or subpackage) it comes from. The corpus
    is built at call time from the installed packages by importing them, so
    it needs no download and only the package's own dependencies; it is
    deterministic for a given set of installed versions.

    Parameters
    ----------
    sources : sequence of str, default=("numpy", "scipy", "sklearn", \
            "pandas", "joblib")
        Importable packages or subpackages, one class each, in label order.
        The package's namespace and those of its public submodules (one level
        down) are read; objects defined outside the source's top-level
        library are skipped. The default gives about 1,750 summaries: 400
        for each of the four large libraries and about 150 for joblib.
        Overlapping sources (a package and one of its subpackages) lose the
        summaries they share.
    max_per_class : int or None, default=400
        Keep at most this many summaries per class, drawn at random without
        replacement. None keeps them all.
    min_words : int, default=4
        Drop summaries with fewer words.
    random_state : int, RandomState instance or None, default=0
        Seed of the subsampling of classes above `max_per_class`.
    as_frame : bool, default=False
        If True, `data` and `target` are pandas Series indexed by the ids,
        and `frame` is a DataFrame with columns ``"text"`` and ``"target"``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : list of str or pandas Series
            The summaries, unique, sorted by class then id.
        target : ndarray of shape (n_samples,) or pandas Series
            Integer labels, positions in `target_names`.
        target_names : list of str
            The sources.
        ids : ndarray of str
            Unique qualified names of the documented objects, such as
            ``"sklearn.linear_model.Ridge.fit"``.
        frame : DataFrame or None
            Text and target indexed by id when `as_frame` is True.
        DESCR : str
            Description of the data.

    See Also
    --------
    load_digits_encoders : Latent spaces of several encoders of digits.

    Examples
    --------
    >>> from sklearn_relreps.datasets import load_docstring_corpus
    >>> corpus = load_docstring_corpus(sources=("sklearn.cluster",))
    >>> corpus.target_names
    ['sklearn.cluster']
    >>> len(corpus.data) == len(corpus.ids) == corpus.target.size
    True
    >>> frame = load_docstring_corpus(sources=("sklearn.cluster",), as_frame=True).frame
    >>> frame.loc["sklearn.cluster.AffinityPropagation.fit", "text"]
    'Fit the clustering from features, or affinity matrix.'
    """
    sources = [str(source) for source in sources]
    if not sources or len(set(sources)) != len(sources):
        raise ValueError(f"sources must be distinct and non-empty; got {sources}.")
    found = [_source_summaries(source, min_words) for source in sources]
    # A summary found in several sources has no single label: drop it.
    counts = pd.Series([text for texts in found for text in texts]).value_counts()
    rng = check_random_state(random_state)
    texts, target, ids = [], [], []
    for label, summaries in enumerate(found):
        rows = sorted(
            (name, text) for text, name in summaries.items() if counts[text] == 1
        )
        if max_per_class is not None and len(rows) > max_per_class:
            keep = rng.choice(len(rows), size=max_per_class, replace=False)
            rows = [rows[i] for i in np.sort(keep)]
        ids += [name for name, _ in rows]
        texts += [text for _, text in rows]
        target += [label] * len(rows)
    ids, target = np.asarray(ids, dtype=object), np.asarray(target, dtype=np.intp)
    frame = None
    data = texts
    if as_frame:
        index = pd.Index(ids, name="id")
        frame = pd.DataFrame({"text": texts, "target": target}, index=index)
        data, target = frame["text"], frame["target"]
    return Bunch(
        data=data,
        target=target,
        target_names=sources,
        ids=ids,
        frame=frame,
        DESCR=_DOCSTRING_DESCR,
    )
