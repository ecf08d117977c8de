"""Shared fixtures: the digits encoders, trained once per session off the repo."""

import pytest

from sklearn_relreps.datasets import load_digits_encoders


@pytest.fixture(scope="session")
def digits_home(tmp_path_factory):
    """Cache folder of the digits encoders, outside the repository."""
    return tmp_path_factory.mktemp("scikit_learn_data")


@pytest.fixture(scope="session")
def digits_encoders(digits_home):
    """The default digits encoders, trained once (a few seconds).

    Shared by every test of the session, so its arrays are read-only: a test
    (or code under test) that writes into them fails instead of corrupting
    the others.
    """
    digits = load_digits_encoders(data_home=digits_home)
    arrays = [digits.y_train, digits.y_test, digits.train_indices, digits.test_indices]
    for encoder in digits.encoders.values():
        arrays += [encoder.train, encoder.test]
    for array in arrays:
        array.flags.writeable = False
    return digits
