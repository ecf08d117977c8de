"""Embedded demo data: digits embedded by several independently trained encoders."""

import os
import sys
import time
from numbers import Integral, Real
from pathlib import Path

import numpy as np
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
