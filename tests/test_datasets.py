import math

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_relreps import datasets
from sklearn_relreps.datasets import load_digits_encoders, load_docstring_corpus


def test_public_module():
    assert datasets.__all__ == [
        "embed_texts",
        "load_digits_encoders",
        "load_docstring_corpus",
    ]


def test_shapes_and_rows(digits_encoders):
    digits = digits_encoders
    assert list(digits.encoders) == ["mlp64_0", "mlp64_1", "mlp32_2", "mlp128_3"]
    target = load_digits().target
    n_train, n_test = digits.y_train.size, digits.y_test.size
    assert n_train + n_test == target.size
    assert n_test == math.ceil(0.3 * target.size)
    rows = np.concatenate([digits.train_indices, digits.test_indices])
    assert np.array_equal(np.sort(rows), np.arange(target.size))
    # Row i is the same image everywhere: its label follows it.
    assert np.array_equal(digits.y_train, target[digits.train_indices])
    assert np.array_equal(digits.y_test, target[digits.test_indices])
    assert np.array_equal(digits.target_names, np.arange(10))
    for encoder in digits.encoders.values():
        assert encoder.train.shape == (n_train, encoder.width)
        assert encoder.test.shape == (n_test, encoder.width)
        assert np.all(np.isfinite(encoder.train)) and encoder.train.min() >= 0
        assert 0.9 < encoder.accuracy <= 1
    assert "digits" in digits.DESCR.lower()


def test_equal_widths_give_distinct_encoders(digits_encoders):
    first, second = (
        digits_encoders.encoders["mlp64_0"],
        digits_encoders.encoders["mlp64_1"],
    )
    assert first.random_state != second.random_state
    assert not np.allclose(first.train, second.train)


def refuse_to_train(*args, **kwargs):
    raise AssertionError("the encoders should come from the cache")


def test_deterministic_and_cached(tmp_path, monkeypatch, capsys):
    first = load_digits_encoders(widths=(16,), data_home=tmp_path / "a", verbose=True)
    assert "training" in capsys.readouterr().err
    assert (tmp_path / "a" / "sklearn_relreps").is_dir()
    fresh = load_digits_encoders(widths=(16,), data_home=tmp_path / "b")
    assert np.array_equal(
        first.encoders["mlp16_0"].train, fresh.encoders["mlp16_0"].train
    )
    assert np.array_equal(
        first.encoders["mlp16_0"].test, fresh.encoders["mlp16_0"].test
    )
    monkeypatch.setattr("sklearn_relreps._datasets.MLPClassifier.fit", refuse_to_train)
    cached = load_digits_encoders(widths=(16,), data_home=tmp_path / "a", verbose=True)
    assert "loading from cache" in capsys.readouterr().err
    assert np.array_equal(
        cached.encoders["mlp16_0"].test, first.encoders["mlp16_0"].test
    )
    # Another split or seed is another encoder: not served from the cache.
    for params in ({"test_size": 0.2}, {"random_state": 1}):
        with pytest.raises(AssertionError, match="from the cache"):
            load_digits_encoders(widths=(16,), data_home=tmp_path / "a", **params)


def test_default_cache_and_prefix_of_widths(digits_encoders, digits_home, monkeypatch):
    # data_home=None means scikit-learn's data folder; there, the session's
    # cache already holds the encoders of any prefix of the default widths.
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(digits_home))
    monkeypatch.setattr("sklearn_relreps._datasets.MLPClassifier.fit", refuse_to_train)
    prefix = load_digits_encoders(widths=(64, 64))
    assert list(prefix.encoders) == ["mlp64_0", "mlp64_1"]
    for name, encoder in prefix.encoders.items():
        assert np.array_equal(encoder.train, digits_encoders.encoders[name].train)


@pytest.mark.parametrize(
    "widths, match",
    [
        ([], "non-empty sequence of integers"),
        ([16, 2.5], "non-empty sequence of integers"),
        ([[16]], "non-empty sequence of integers"),
        ([16, 0], "at least 1"),
    ],
)
def test_bad_widths(widths, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        load_digits_encoders(widths=widths, data_home=tmp_path)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"random_state": None}, "'random_state' parameter"),
        ({"random_state": -1}, "'random_state' parameter"),
        ({"test_size": 1.0}, "'test_size' parameter"),
    ],
)
def test_bad_parameters(params, match, tmp_path):
    with pytest.raises(InvalidParameterError, match=match):
        load_digits_encoders(data_home=tmp_path, **params)


@pytest.fixture(scope="module")
def docstrings():
    return load_docstring_corpus()


def test_docstring_corpus_shape_and_classes(docstrings):
    corpus = docstrings
    n = len(corpus.data)
    assert n >= 1500
    assert corpus.target.shape == corpus.ids.shape == (n,)
    assert corpus.target_names == ["numpy", "scipy", "sklearn", "pandas", "joblib"]
    counts = np.bincount(corpus.target, minlength=5)
    assert counts.max() <= 400
    assert counts.min() >= 100
    # Sorted by class, then by id within each class.
    assert np.all(np.diff(corpus.target) >= 0)
    for label, name in enumerate(corpus.target_names):
        ids = corpus.ids[corpus.target == label]
        assert list(ids) == sorted(ids)
        assert all(i.startswith(name + ".") for i in ids)
    assert "docstring" in corpus.DESCR.lower()


def test_docstring_corpus_texts_and_ids_are_unique(docstrings):
    texts = docstrings.data
    assert all(isinstance(text, str) for text in texts)
    assert all(len(text.split()) >= 4 and text == text.strip() for text in texts)
    assert all("\n" not in text for text in texts)
    assert len(set(texts)) == len(texts)
    assert len(set(docstrings.ids)) == len(docstrings.ids)


def test_docstring_corpus_deterministic(docstrings):
    again = load_docstring_corpus()
    assert again.data == docstrings.data
    assert np.array_equal(again.ids, docstrings.ids)
    assert np.array_equal(again.target, docstrings.target)
    other = load_docstring_corpus(random_state=1)
    assert not np.array_equal(other.ids, docstrings.ids)
    assert np.array_equal(np.bincount(other.target), np.bincount(docstrings.target))


def test_docstring_corpus_options():
    full = load_docstring_corpus(sources=("sklearn", "joblib"), max_per_class=None)
    capped = load_docstring_corpus(sources=("sklearn", "joblib"), max_per_class=50)
    assert np.array_equal(np.bincount(capped.target), [50, 50])
    assert set(capped.ids) <= set(full.ids)
    assert np.bincount(full.target)[0] > 400
    strict = load_docstring_corpus(sources=("joblib",), min_words=8)
    assert all(len(text.split()) >= 8 for text in strict.data)


def test_docstring_corpus_as_frame():
    corpus = load_docstring_corpus(sources=("joblib",), as_frame=True)
    frame = corpus.frame
    assert list(frame.columns) == ["text", "target"]
    assert frame.index.name == "id" and frame.index.is_unique
    assert list(frame.index) == list(corpus.ids)
    assert corpus.data.equals(frame["text"]) and corpus.target.equals(frame["target"])
    assert load_docstring_corpus(sources=("joblib",)).frame is None


def test_docstring_corpus_rejects_bad_sources():
    with pytest.raises(ValueError, match="distinct"):
        load_docstring_corpus(sources=("numpy", "numpy"))
    with pytest.raises(ModuleNotFoundError):
        load_docstring_corpus(sources=("no_such_library_here",))
    with pytest.raises(InvalidParameterError):
        load_docstring_corpus(max_per_class=0)
