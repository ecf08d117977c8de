"""Invariances of relative projections, driven by ``get_invariances``.

A transformation ``z -> z M + t`` of the latent space is applied to training
samples, anchors (the same rows) and test samples alike; the projection is
refit on the transformed data. Every transformation that
:func:`sklearn_relreps.get_invariances` lists must leave the output unchanged,
and every other one must change it clearly on generic data.
"""

import itertools

import numpy as np
import pytest
from _references import random_orthogonal
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sklearn_relreps import RelativeTransformer, get_invariances
from sklearn_relreps._invariances import TRANSFORMATIONS
from sklearn_relreps._similarities import SIMILARITIES

N_TRAIN, N_TEST, N_FEATURES = 30, 10, 5
ANCHOR_INDICES = np.array([0, 3, 7, 11, 16, 20, 24, 29])

CONFIGS = list(
    itertools.product(
        SIMILARITIES,
        [False, True],
        [False, True],
        [None, "l2", "standard"],
    )
)
CONFIG_IDS = [f"{s}-center{c}-std{z}-norm{n}" for s, c, z, n in CONFIGS]


def make_data(seed):
    """Anisotropic, off-centre train and test samples."""
    rng = np.random.RandomState(seed)
    spread = rng.uniform(0.5, 2.0, size=N_FEATURES)
    offset = rng.normal(size=N_FEATURES)
    X = rng.normal(size=(N_TRAIN + N_TEST, N_FEATURES)) * spread + offset
    return X[:N_TRAIN], X[N_TRAIN:]


def relative(config, X_train, X_test):
    similarity, center, standardize, output_norm = config
    rel = RelativeTransformer(
        anchors=ANCHOR_INDICES,
        similarity=similarity,
        center=center,
        standardize=standardize,
        output_norm=output_norm,
    ).fit(X_train)
    assert np.array_equal(rel.anchor_indices_, ANCHOR_INDICES)
    return np.vstack([rel.transform(X_train), rel.transform(X_test)])


# -- transformations as (M, t) --------------------------------------------------

nonzero_factors = st.tuples(st.floats(0.2, 5.0), st.sampled_from([-1.0, 1.0])).map(
    lambda pair: pair[0] * pair[1]
)


def strategy(kind):
    """A hypothesis strategy drawing a random transformation of one kind."""
    identity = np.eye(N_FEATURES)
    no_shift = np.zeros(N_FEATURES)
    if kind == "orthogonal":
        return st.integers(0, 2**32 - 1).map(
            lambda seed: (
                random_orthogonal(np.random.RandomState(seed), N_FEATURES),
                no_shift,
            )
        )
    if kind == "isotropic_scaling":
        return st.floats(0.1, 10.0).flatmap(
            lambda s: st.sampled_from(
                [(s * identity, no_shift), (-s * identity, no_shift)]
            )
        )
    if kind == "translation":
        shifts = st.lists(
            st.floats(-20.0, 20.0), min_size=N_FEATURES, max_size=N_FEATURES
        )
        return shifts.map(lambda t: (identity, np.asarray(t)))
    if kind == "permutation":
        return st.permutations(range(N_FEATURES)).map(
            lambda order: (identity[:, order], no_shift)
        )
    if kind == "sign_flip":
        signs = st.lists(
            st.sampled_from([-1.0, 1.0]), min_size=N_FEATURES, max_size=N_FEATURES
        )
        return signs.map(lambda s: (np.diag(s), no_shift))
    if kind == "axis_scaling":
        factors = st.lists(nonzero_factors, min_size=N_FEATURES, max_size=N_FEATURES)
        return factors.map(lambda d: (np.diag(d), no_shift))
    raise AssertionError(f"no strategy for {kind}")  # "linear" is never invariant


def generic(kind):
    """One fixed, clearly non-trivial transformation of each kind."""
    rng = np.random.RandomState(42)
    identity = np.eye(N_FEATURES)
    no_shift = np.zeros(N_FEATURES)
    return {
        "orthogonal": (random_orthogonal(rng, N_FEATURES), no_shift),
        "isotropic_scaling": (2.5 * identity, no_shift),
        "translation": (identity, 3.0 * rng.normal(size=N_FEATURES)),
        "permutation": (identity[:, rng.permutation(N_FEATURES)], no_shift),
        "sign_flip": (np.diag([1.0, -1.0, -1.0, 1.0, -1.0]), no_shift),
        "axis_scaling": (np.diag(rng.uniform(0.3, 3.0, size=N_FEATURES)), no_shift),
        "linear": (rng.normal(size=(N_FEATURES, N_FEATURES)) + 2 * identity, no_shift),
    }[kind]


def invariances(config):
    similarity, center, standardize, output_norm = config
    return get_invariances(
        similarity, center=center, standardize=standardize, output_norm=output_norm
    )


# -- tests ----------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
@settings(max_examples=12, deadline=None, derandomize=True)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_listed_invariances_hold(config, data, seed):
    kind = data.draw(st.sampled_from(sorted(invariances(config))), label="kind")
    M, t = data.draw(strategy(kind), label="transformation")
    X_train, X_test = make_data(seed)
    before = relative(config, X_train, X_test)
    after = relative(config, X_train @ M + t, X_test @ M + t)
    size = max(1.0, np.abs(before).max())
    assert_allclose(after, before, rtol=1e-6, atol=1e-6 * size)


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_unlisted_transformations_change_the_output(config):
    X_train, X_test = make_data(0)
    before = relative(config, X_train, X_test)
    size = np.abs(before).max()
    missing = sorted(set(TRANSFORMATIONS) - invariances(config))
    assert "linear" in missing
    for kind in missing:
        M, t = generic(kind)
        after = relative(config, X_train @ M + t, X_test @ M + t)
        change = np.abs(after - before).max()
        assert change > 1e-2 * size, f"{kind} left the output unchanged"


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_generic_listed_transformations_hold(config):
    # The fixed transformations of the test above, applied where they are
    # listed: the same inputs must then give the same output.
    X_train, X_test = make_data(0)
    before = relative(config, X_train, X_test)
    size = max(1.0, np.abs(before).max())
    for kind in invariances(config):
        M, t = generic(kind)
        after = relative(config, X_train @ M + t, X_test @ M + t)
        assert_allclose(after, before, rtol=1e-6, atol=1e-6 * size, err_msg=kind)


def test_random_anchor_choice_is_the_same_after_a_transformation():
    # Random selection depends on the sample count only, so refitting with the
    # same seed on a transformed space picks the same items.
    X_train, _ = make_data(1)
    M, t = generic("linear")
    a = RelativeTransformer(n_anchors=6, random_state=3).fit(X_train)
    b = RelativeTransformer(n_anchors=6, random_state=3).fit(X_train @ M + t)
    assert np.array_equal(a.anchor_indices_, b.anchor_indices_)
