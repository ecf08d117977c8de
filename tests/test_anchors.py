"""Anchor selection strategies and fixed (given) anchors."""

import numpy as np
import pandas as pd
import pytest
from _references import unit
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from scipy.spatial.distance import cdist

from sklearn_relreps import InvariantProductTransformer, RelativeTransformer, _anchors
from sklearn_relreps._anchors import ANCHOR_METHODS
from sklearn_relreps.anchors import select_anchors

METHODS = list(ANCHOR_METHODS)


def make_data(n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)
    y = np.arange(n) % 3
    return X, y


# -- strategies -----------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_and_distinct(method):
    X, y = make_data()
    first = select_anchors(X, 12, method=method, y=y, random_state=7)
    again = select_anchors(X, 12, method=method, y=y, random_state=7)
    from_instance = select_anchors(
        X, 12, method=method, y=y, random_state=np.random.RandomState(7)
    )
    assert first.dtype == np.int64 and first.shape == (12,)
    assert_array_equal(first, again)
    assert_array_equal(first, from_instance)
    assert np.unique(first).size == 12
    assert first.min() >= 0 and first.max() < X.shape[0]
    rel = RelativeTransformer(12, anchors=method, random_state=7).fit(X, y)
    assert_array_equal(rel.anchor_indices_, first)
    assert_allclose(rel.anchors_, X[first])


@pytest.mark.parametrize("method", ["random", "stratified", "fps"])
def test_seed_changes_the_choice(method):
    X, y = make_data()
    draws = {
        tuple(select_anchors(X, 10, method=method, y=y, random_state=seed))
        for seed in range(5)
    }
    assert len(draws) > 1


@pytest.mark.parametrize("method", METHODS)
def test_too_many_anchors_warns_and_clips(method):
    X, y = make_data(n=12)
    with pytest.warns(UserWarning, match="n_anchors=50 is larger than n_samples=12"):
        indices = select_anchors(X, 50, method=method, y=y, random_state=0)
    assert_array_equal(np.sort(indices), np.arange(12))
    with pytest.warns(UserWarning, match="n_anchors=50 is larger than n_samples=12"):
        rel = RelativeTransformer(50, anchors=method, random_state=0).fit(X, y)
    assert rel.anchors_.shape == (12, 5)
    assert rel.transform(X).shape == (12, 12)


@pytest.mark.parametrize("method", ["random", "stratified", "fps"])
def test_sparse_input_selects_as_dense(method):
    X, y = make_data()
    X[X < 0.5] = 0
    dense = select_anchors(X, 8, method=method, y=y, random_state=1)
    for container in (sparse.csr_matrix, sparse.csr_array):
        picked = select_anchors(container(X), 8, method=method, y=y, random_state=1)
        assert_array_equal(picked, dense)


def test_invalid_method_and_count():
    X, _ = make_data()
    with pytest.raises(ValueError, match="method"):
        select_anchors(X, 3, method="farthest")
    with pytest.raises(ValueError, match="n_anchors"):
        select_anchors(X, 0)


# -- stratified -----------------------------------------------------------------


def test_stratified_round_robin_covers_classes_evenly():
    X, _ = make_data(n=60)
    y = np.repeat(["cat", "dog", "eel", "fox"], 15)
    indices = select_anchors(X, 14, method="stratified", y=y, random_state=3)
    picked = y[indices]
    # Every full round takes each class exactly once.
    for start in range(0, 12, 4):
        assert sorted(picked[start : start + 4]) == ["cat", "dog", "eel", "fox"]
    counts = pd.Series(picked).value_counts()
    assert set(counts) == {3, 4}


def test_stratified_small_class_runs_out_first():
    X, _ = make_data(n=22)
    y = np.array([0] * 2 + [1] * 10 + [2] * 10)
    indices = select_anchors(X, 12, method="stratified", y=y, random_state=0)
    assert_array_equal(np.bincount(y[indices]), [2, 5, 5])
    assert np.unique(indices).size == 12


def test_stratified_needs_y():
    X, _ = make_data()
    with pytest.raises(ValueError, match="[Ss]tratified.*requires y"):
        select_anchors(X, 5, method="stratified")
    with pytest.raises(ValueError, match="[Ss]tratified.*requires y"):
        RelativeTransformer(5, anchors="stratified").fit(X)


def test_stratified_y_of_wrong_length():
    X, y = make_data()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        select_anchors(X, 5, method="stratified", y=y[:-1])


# -- kmeans ---------------------------------------------------------------------


def directional_clusters(seed, n_clusters=4, per_cluster=15):
    """Well-separated directions: k-means on unit rows recovers them."""
    rng = np.random.RandomState(seed)
    directions = np.linalg.qr(rng.normal(size=(6, 6)))[0][:n_clusters] * 10
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    X = directions[labels] * rng.uniform(0.5, 2.0, size=(labels.size, 1))
    X += 0.5 * rng.normal(size=X.shape)
    return X, labels


def nearest_to_centroids(X, labels):
    """The sample whose unit row is nearest to each cluster's mean unit row."""
    U = unit(X)
    return {
        int(np.argmin(cdist(U[labels == c].mean(axis=0)[None], U)))
        for c in np.unique(labels)
    }


def test_kmeans_picks_sample_nearest_each_centroid():
    X, labels = directional_clusters(0)
    expected = nearest_to_centroids(X, labels)
    for seed in range(3):
        picked = select_anchors(X, 4, method="kmeans", random_state=seed)
        assert set(picked.tolist()) == expected


def test_kmeans_zero_rows_form_one_cluster_with_a_zero_anchor():
    # Zero rows normalise to the origin: their centroid is 0, and the sample
    # nearest to it is a zero row (not an arbitrary one, as by cosine, where a
    # zero centroid is equally far from everything).
    X, labels = directional_clusters(1, n_clusters=3)
    X = np.vstack([X, np.zeros((8, 6))])
    labels = np.concatenate([labels, np.full(8, 3)])
    order = np.random.RandomState(1).permutation(labels.size)
    X, labels = X[order], labels[order]
    is_zero = ~X.any(axis=1)
    assert not is_zero[0]
    expected = nearest_to_centroids(X, labels)
    for seed in range(3):
        picked = select_anchors(X, 4, method="kmeans", random_state=seed)
        assert is_zero[picked].sum() == 1
        assert set(picked.tolist()) == expected


def test_kmeans_with_duplicate_rows_gives_distinct_samples():
    rng = np.random.RandomState(1)
    distinct = rng.normal(size=(6, 4))
    X = distinct[rng.permutation(np.repeat(np.arange(6), 8))]
    picked = select_anchors(X, 6, method="kmeans", random_state=0)
    assert np.unique(picked).size == 6
    # With as many anchors as distinct rows, every distinct row is chosen once.
    assert np.unique(X[picked], axis=0).shape[0] == 6
    more = select_anchors(X, 20, method="kmeans", random_state=0)
    assert np.unique(more).size == 20


# -- fps ------------------------------------------------------------------------


def brute_force_fps(X, first, n_anchors):
    """Greedy farthest-point sampling by euclidean distance between unit rows."""
    distances = cdist(unit(X), unit(X))
    chosen = [first]
    while len(chosen) < n_anchors:
        to_chosen = distances[:, chosen].min(axis=1)
        chosen.append(int(np.argmax(to_chosen)))
    return chosen


@pytest.mark.parametrize("seed", range(4))
def test_fps_matches_brute_force(seed):
    X, _ = make_data(n=25, seed=seed)
    picked = select_anchors(X, 10, method="fps", random_state=seed)
    assert_array_equal(picked, brute_force_fps(X, picked[0], 10))


def test_fps_matches_brute_force_with_zero_rows():
    # Non-negative sparse-like rows: many exact ties and several zero rows,
    # which normalise to one point (the origin), not to mutually far points.
    X, _ = make_data(n=40, seed=5)
    X[X < 0.8] = 0
    assert (~X.any(axis=1)).sum() >= 3
    picked = select_anchors(X, 12, method="fps", random_state=1)
    assert np.unique(picked).size == 12
    # With ties, check the greedy rule itself: each pick is (one of) the
    # farthest rows from those picked before it.
    distances = cdist(unit(X), unit(X))
    for j in range(1, 12):
        to_chosen = distances[:, picked[:j]].min(axis=1)
        assert to_chosen[picked[j]] >= to_chosen.max() - 1e-12
    assert (~X[picked].any(axis=1)).sum() <= 1


def test_fps_with_duplicate_rows_gives_distinct_vectors():
    rng = np.random.RandomState(2)
    distinct = rng.normal(size=(6, 4))
    distinct[5] = 0.0
    X = distinct[rng.permutation(np.repeat(np.arange(6), 5))]
    for seed in range(3):
        picked = select_anchors(X, 6, method="fps", random_state=seed)
        assert np.unique(X[picked], axis=0).shape[0] == 6


def test_fps_start_is_random():
    X, _ = make_data(n=25)
    starts = {select_anchors(X, 3, method="fps", random_state=s)[0] for s in range(8)}
    assert len(starts) > 1


# -- given anchors --------------------------------------------------------------


@pytest.mark.parametrize("container", [list, np.asarray, pd.Series])
def test_given_indices(container):
    X, _ = make_data(n=20)
    rel = RelativeTransformer(anchors=container([5, 1, 17])).fit(X)
    assert_array_equal(rel.anchor_indices_, [5, 1, 17])
    assert_array_equal(rel.anchor_ids_, [5, 1, 17])
    assert_allclose(rel.anchors_, X[[5, 1, 17]])
    assert list(rel.get_feature_names_out()) == ["anchor_5", "anchor_1", "anchor_17"]


def test_given_boolean_mask():
    X, _ = make_data(n=20)
    mask = np.zeros(20, dtype=bool)
    mask[[2, 9, 11]] = True
    rel = RelativeTransformer(anchors=mask).fit(X)
    assert_array_equal(rel.anchor_indices_, [2, 9, 11])
    assert_allclose(rel.anchors_, X[mask])


def test_given_mask_of_wrong_length():
    X, _ = make_data(n=20)
    with pytest.raises(ValueError, match="mask has 5 entries but X has 20 samples"):
        RelativeTransformer(anchors=np.ones(5, dtype=bool)).fit(X)


@pytest.mark.parametrize(
    ("anchors", "message"),
    [
        ([3, 1, 3], "duplicates"),
        ([0, 20], r"\[0, n_samples\) with n_samples=20"),
        ([-1, 2], r"\[0, n_samples\) with n_samples=20"),
        (np.array([0.0, 2.0]), "integer row positions, a boolean mask"),
        (np.array([], dtype=int), "select no sample"),
        (np.zeros(20, dtype=bool), "select no sample"),
    ],
)
def test_bad_given_indices(anchors, message):
    X, _ = make_data(n=20)
    with pytest.raises(ValueError, match=message):
        RelativeTransformer(anchors=anchors).fit(X)


def test_given_vectors():
    X, _ = make_data(n=20)
    A = np.random.RandomState(3).normal(size=(4, 5))
    rel = RelativeTransformer(anchors=A).fit(X)
    assert rel.anchor_indices_ is None
    assert_array_equal(rel.anchor_ids_, np.arange(4))
    assert_allclose(rel.anchors_, A)
    assert list(rel.get_feature_names_out()) == [f"anchor_{i}" for i in range(4)]


def test_given_vectors_are_copied():
    X, _ = make_data(n=20)
    A = np.random.RandomState(4).normal(size=(4, 5))
    rel = RelativeTransformer(anchors=A, similarity="euclidean").fit(X)
    before = rel.transform(X)
    A[:] = 0.0  # the caller reuses their array
    assert_allclose(rel.transform(X), before)


def test_given_vectors_of_wrong_width():
    X, _ = make_data(n=20)
    with pytest.raises(ValueError, match="anchor vectors have 3 features but X has 5"):
        RelativeTransformer(anchors=np.ones((4, 3))).fit(X)


def test_given_duplicate_vectors_warn():
    X, _ = make_data(n=20)
    A = X[[1, 4, 1, 6]]
    with pytest.warns(UserWarning, match="1 of the given anchor vectors duplicate"):
        rel = RelativeTransformer(anchors=A).fit(X)
    out = rel.transform(X)
    assert_allclose(out[:, 0], out[:, 2])


def test_given_vectors_with_nan():
    X, _ = make_data(n=20)
    A = X[:3].copy()
    A[1, 2] = np.nan
    with pytest.raises(ValueError, match="anchors contains NaN"):
        RelativeTransformer(anchors=A).fit(X)


def test_given_anchors_ignore_n_anchors():
    X, _ = make_data(n=20)
    rel = RelativeTransformer(n_anchors=300, anchors=[0, 1]).fit(X)
    assert rel.anchors_.shape == (2, 5)


# -- identifiers ----------------------------------------------------------------


@pytest.mark.parametrize("anchors", ["random", [4, 0, 9]])
def test_anchor_ids_are_dataframe_index_labels(anchors):
    X, _ = make_data(n=12)
    words = np.array([f"w{i}" for i in range(12)])
    frame = pd.DataFrame(X, index=words, columns=list("abcde"))
    rel = RelativeTransformer(3, anchors=anchors, random_state=0).fit(frame)
    indices = np.asarray(rel.anchor_indices_)
    assert_array_equal(rel.anchor_ids_, words[indices])
    assert_allclose(rel.anchors_, X[indices])
    assert list(rel.get_feature_names_out()) == [f"anchor_{w}" for w in words[indices]]


def test_anchor_ids_with_integer_index_are_labels():
    X, _ = make_data(n=12)
    frame = pd.DataFrame(X, index=np.arange(100, 112))
    rel = RelativeTransformer(anchors=[0, 5]).fit(frame)
    assert_array_equal(rel.anchor_ids_, [100, 105])
    assert_array_equal(rel.anchor_indices_, [0, 5])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda X: select_anchors(X, 10), "larger than n_samples"),
        (lambda X: RelativeTransformer(10).fit(X), "larger than n_samples"),
        (lambda X: InvariantProductTransformer(10).fit(X), "larger than n_samples"),
        (
            lambda X: RelativeTransformer(anchors=np.vstack([X[:2], X[:2]])).fit(X),
            "duplicate others",
        ),
    ],
)
def test_warnings_point_at_the_callers_line(call, message):
    X = np.arange(10.0).reshape(5, 2) + 1
    with pytest.warns(UserWarning, match=message) as record:
        call(X)
    assert record[0].filename == __file__


def test_fps_and_kmeans_choose_among_a_random_subset(monkeypatch):
    monkeypatch.setattr(_anchors, "MIN_CANDIDATES", 40)
    monkeypatch.setattr(_anchors, "CANDIDATES_PER_ANCHOR", 4)
    X = np.random.RandomState(7).normal(size=(300, 5))
    picked = select_anchors(X, 6, method="fps", random_state=0)
    # The same draws, replayed: the candidates, then the start among them.
    rng = np.random.RandomState(0)
    rows = np.sort(rng.choice(300, size=40, replace=False))
    unit = X[rows] / np.linalg.norm(X[rows], axis=1, keepdims=True)
    distances = cdist(unit, unit)
    chosen = [rng.randint(40)]
    while len(chosen) < 6:
        chosen.append(int(np.argmax(distances[:, chosen].min(axis=1))))
    assert_array_equal(picked, rows[chosen])
    # With more anchors, the candidate set grows to 4 per anchor.
    many = select_anchors(X, 12, method="kmeans", random_state=1)
    rng = np.random.RandomState(1)
    assert np.isin(many, rng.choice(300, size=48, replace=False)).all()
    assert np.unique(many).size == 12


# -- match_anchors ----------------------------------------------------------------


def _rotated_pair(n=300, d=10, noise=0.01, seed=0):
    rng = np.random.RandomState(seed)
    source = rng.normal(size=(n, d))
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    target = 3 * source @ rotation - 2 + noise * rng.normal(size=(n, d))
    return source, target


def test_match_anchors_recovers_a_rotated_pair():
    from sklearn_relreps.anchors import match_anchors

    source, target = _rotated_pair()
    # Targets shuffled: the true partner of source row i is target row order[i].
    order = np.random.RandomState(1).permutation(len(target))
    shuffled = np.empty_like(target)
    shuffled[order] = target
    seeds = np.column_stack([np.arange(15), order[:15]])
    result = match_anchors(source, shuffled, seeds, n_anchors=200, random_state=0)
    assert len(result.source) == len(result.target) == 200
    assert_array_equal(result.is_seed, np.arange(200) < 15)
    assert_array_equal(result.source[:15], np.arange(15))
    assert np.mean(order[result.source] == result.target) >= 0.98
    assert np.isnan(result.confidence[:15]).all()
    assert np.all(np.isfinite(result.confidence[15:]))
    assert np.unique(result.source).size == np.unique(result.target).size == 200
    assert result.agreement > 0.99 and result.seed_accuracy > 0.9
    plain = match_anchors(source, shuffled, seeds, n_anchors=200, csls=None)
    assert np.mean(order[plain.source] == plain.target) >= 0.98


def test_match_anchors_warns_or_refuses_on_unrelated_spaces():
    from sklearn_relreps import StitchingWarning
    from sklearn_relreps.anchors import match_anchors

    source, _ = _rotated_pair()
    unrelated = np.random.RandomState(5).normal(size=(300, 8))
    seeds = np.column_stack([np.arange(30), np.arange(30)])
    with pytest.warns(StitchingWarning, match="seed pairs agree at"):
        result = match_anchors(source, unrelated, seeds, n_anchors=60)
    assert result.agreement < 0.5
    with pytest.raises(ValueError, match="too different"):
        match_anchors(source, unrelated, seeds, n_anchors=60, refuse=True)
    # Switched off: no warning.
    result = match_anchors(source, unrelated, seeds, n_anchors=60, min_agreement=None)
    assert np.isnan(result.agreement)


def test_match_anchors_bad_seeds_and_inputs_untouched():
    from sklearn_relreps.anchors import match_anchors

    source, target = _rotated_pair(n=50)
    source.flags.writeable = target.flags.writeable = False
    seeds = np.column_stack([np.arange(10), np.arange(10)])
    with pytest.raises(ValueError, match="shape \\(n_seeds, 2\\)"):
        match_anchors(source, target, seeds[:, :1])
    with pytest.raises(ValueError, match="outside X_target"):
        match_anchors(source, target, seeds + [0, 45])
    with pytest.raises(ValueError, match="repeats rows of X_source"):
        match_anchors(source, target, np.column_stack([[0] * 10, np.arange(10)]))
    with pytest.raises(ValueError, match="at least 6 seed pairs"):
        match_anchors(source, target, seeds[:5])
    result = match_anchors(source, target, seeds, n_anchors=5)
    assert len(result.source) == 10  # never fewer than the seeds
    result = match_anchors(source, target, seeds, n_anchors=500)
    assert len(result.source) <= 50  # stops when no row is left to match
