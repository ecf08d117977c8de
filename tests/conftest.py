"""Shared fixtures: the digits encoders, trained once per session off the repo."""

import numpy as np
import pandas as pd
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


@pytest.fixture
def tabular():
    """A small mixed-type table: four numeric columns and two categorical ones.

    Rows are labelled ``rec<i>``, so that anchor ids can be told apart from
    row positions. Returns the frame, binary labels, and the column lists.
    """
    rng = np.random.RandomState(0)
    n = 90
    numeric = rng.normal(size=(n, 4)) * [1.0, 5.0, 0.2, 2.0] + [0.0, 10.0, -1.0, 3.0]
    frame = pd.DataFrame(
        numeric,
        columns=["age", "income", "ratio", "score"],
        index=[f"rec{i}" for i in range(n)],
    )
    frame["region"] = rng.choice(["north", "south", "east"], size=n)
    frame["plan"] = rng.choice(["basic", "plus", "pro", "team"], size=n)
    south = (frame["region"] == "south").to_numpy()
    y = (numeric[:, 0] + south > 0.3).astype(int)
    return frame, y, ["age", "income", "ratio", "score"], ["region", "plan"]
