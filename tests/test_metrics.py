"""Space-comparison metrics against brute-force definitions and their properties."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import config_context
from sklearn.utils._param_validation import InvalidParameterError

import sklearn_relreps._metrics as metrics_module
from sklearn_relreps.metrics import (
    anchor_agreement,
    jaccard_at_k,
    linear_cka,
    mean_cosine,
    mrr,
    mutual_knn,
    recall_at_k,
)

RANKING = [jaccard_at_k, mrr, recall_at_k]
SAME_WIDTH = [jaccard_at_k, mrr, recall_at_k, mean_cosine]
ALL = [jaccard_at_k, mrr, recall_at_k, mean_cosine, linear_cka, mutual_knn]


# -- brute-force references: plain loops over explicit definitions -------------


def cosine_matrix(A, B):
    out = np.zeros((len(A), len(B)))
    for i, a in enumerate(A):
        for j, b in enumerate(B):
            norms = np.linalg.norm(a) * np.linalg.norm(b)
            out[i, j] = 0.0 if norms == 0 else a @ b / norms
    return out


def top_k(similarities, k, exclude=None):
    order = [j for j in np.argsort(-similarities, kind="stable") if j != exclude]
    return set(order[:k])


def brute_jaccard(X, Y, k):
    cross, within = cosine_matrix(X, Y), cosine_matrix(Y, Y)
    scores = []
    for i in range(len(X)):
        Q, T = top_k(cross[i], k), top_k(within[i], k)
        scores.append(len(Q & T) / len(Q | T))
    return np.mean(scores)


def brute_ranks(X, Y):
    S = cosine_matrix(X, Y)
    return np.array(
        [list(np.argsort(-S[i], kind="stable")).index(i) + 1 for i in range(len(X))]
    )


def brute_mutual_knn(X, Y, k):
    SX, SY = cosine_matrix(X, X), cosine_matrix(Y, Y)
    return np.mean(
        [
            len(top_k(SX[i], k, exclude=i) & top_k(SY[i], k, exclude=i)) / k
            for i in range(len(X))
        ]
    )


def gram_cka(X, Y):
    """CKA through n x n Gram matrices and the centring matrix H."""
    n = len(X)
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    return np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L))


@pytest.fixture
def spaces():
    rng = np.random.RandomState(42)
    X = rng.normal(size=(40, 6))
    Y = X @ rng.normal(size=(6, 6)) + 0.7 * rng.normal(size=(40, 6))
    return X, Y


# -- agreement with the definitions -------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 7, 40])
def test_jaccard_matches_brute_force(spaces, k):
    X, Y = spaces
    assert jaccard_at_k(X, Y, k=k) == pytest.approx(brute_jaccard(X, Y, k))


@pytest.mark.parametrize("k", [1, 5, 12])
def test_mrr_and_recall_match_brute_force(spaces, k):
    X, Y = spaces
    ranks = brute_ranks(X, Y)
    assert mrr(X, Y, k=k) == pytest.approx(np.mean(np.where(ranks <= k, 1 / ranks, 0)))
    assert recall_at_k(X, Y, k=k) == pytest.approx(np.mean(ranks <= k))


@pytest.mark.parametrize("k", [1, 4, 39])
def test_mutual_knn_matches_brute_force_different_widths(spaces, k):
    X, Y = spaces
    wider = np.hstack([Y, np.random.RandomState(0).normal(size=(40, 3))])
    assert mutual_knn(X, wider, k=k) == pytest.approx(brute_mutual_knn(X, wider, k))


def test_mean_cosine_matches_brute_force(spaces):
    X, Y = spaces
    X = X.copy()
    X[3] = 0.0  # a zero row has cosine 0
    expected = np.mean(np.diag(cosine_matrix(X, Y)))
    assert mean_cosine(X, Y) == pytest.approx(expected)


def test_linear_cka_matches_gram_definition(spaces):
    X, Y = spaces
    narrower = Y[:, :4]
    assert linear_cka(X, narrower) == pytest.approx(gram_cka(X, narrower))


def test_ties_go_to_the_lower_index():
    # Rows 0, 1 and 3 point the same way: every cosine among them is exactly 1.
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    # Ranks of each row's counterpart among the tied rows: 1, 2, 1, 3.
    expected_ranks = np.array([1, 2, 1, 3])
    assert mrr(X, X, k=4) == pytest.approx(np.mean(1 / expected_ranks))
    assert recall_at_k(X, X, k=1) == pytest.approx(0.5)
    assert recall_at_k(X, X, k=2) == pytest.approx(0.75)
    np.testing.assert_array_equal(brute_ranks(X, X), expected_ranks)
    # Neighbours of row 3 excluding itself: 0 and 1 tie at 1, 0 wins for k=1.
    other = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.1]])
    assert mutual_knn(X, other, k=1) == pytest.approx(brute_mutual_knn(X, other, k=1))


# -- identity values ------------------------------------------------------------


def test_identity_values():
    X = np.random.RandomState(1).normal(size=(30, 5))
    for metric in [jaccard_at_k, mrr, recall_at_k, mutual_knn]:
        assert metric(X, X.copy()) == 1.0
    assert recall_at_k(X, X, k=1) == 1.0
    assert mean_cosine(X, X.copy()) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(X, X.copy()) == pytest.approx(1.0, abs=1e-12)


def test_unrelated_spaces_score_low():
    rng = np.random.RandomState(2)
    X, Y = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))
    assert recall_at_k(X, Y, k=1) < 0.05
    assert mutual_knn(X, Y) < 0.15
    assert linear_cka(X, Y) < 0.15
    assert abs(mean_cosine(X, Y)) < 0.1


# -- CKA invariances --------------------------------------------------------------


def test_linear_cka_invariances(spaces):
    X, Y = spaces
    rng = np.random.RandomState(3)
    reference = linear_cka(X, Y)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    shift = rng.normal(size=6) * 10
    for changed in [X @ rotation, -3.5 * X, X + shift, 0.1 * X @ rotation - shift]:
        assert linear_cka(changed, Y) == pytest.approx(reference, rel=1e-10)
        assert linear_cka(Y, changed) == pytest.approx(reference, rel=1e-10)
    # Not invariant to a general linear map.
    stretch = np.diag([10.0, 1.0, 1.0, 0.1, 1.0, 1.0]) @ rng.normal(size=(6, 6))
    assert abs(linear_cka(X @ stretch, Y) - reference) > 1e-2


# -- memory-bounded chunks give the same answer -----------------------------------


@pytest.mark.parametrize("metric", [jaccard_at_k, mrr, recall_at_k, mutual_knn])
def test_results_do_not_depend_on_chunk_size(metric, monkeypatch):
    rng = np.random.RandomState(4)
    X, Y = rng.normal(size=(97, 5)), rng.normal(size=(97, 5))
    Y[:50] += 2 * X[:50]
    expected = metric(X, Y, k=3)
    batches = []

    def recording(n_rows, row_bytes):
        found = list(metrics_module.gen_batches(n_rows, 1 + n_rows // 20))
        batches.append(len(found))
        return found

    monkeypatch.setattr(metrics_module, "_row_batches", recording)
    assert metric(X, Y, k=3) == expected
    assert batches and min(batches) > 1


def test_working_memory_sets_the_chunks(monkeypatch):
    rng = np.random.RandomState(5)
    X, Y = rng.normal(size=(120, 4)), rng.normal(size=(120, 4))
    sizes = []
    original = metrics_module.gen_batches

    def recording(n, batch_size):
        sizes.append(batch_size)
        return original(n, batch_size)

    monkeypatch.setattr(metrics_module, "gen_batches", recording)
    expected = mutual_knn(X, Y, k=4)
    with config_context(working_memory=0.02):
        assert mutual_knn(X, Y, k=4) == expected
    assert sizes[0] == 120 and 1 < sizes[1] < 120


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ALL)
def test_different_row_counts(metric):
    with pytest.raises(ValueError, match="X has 6 rows but Y has 5"):
        metric(np.ones((6, 3)), np.ones((5, 3)))


@pytest.mark.parametrize("metric", SAME_WIDTH)
def test_different_widths_rejected_where_compared_across(metric):
    rng = np.random.RandomState(6)
    with pytest.raises(ValueError, match="X has 3 features but Y has 4"):
        metric(rng.normal(size=(8, 3)), rng.normal(size=(8, 4)))


@pytest.mark.parametrize("metric", RANKING)
def test_k_out_of_range(metric):
    X = np.random.RandomState(7).normal(size=(10, 3))
    with pytest.raises(ValueError, match=r"needs k <= 10 \(n_samples=10\); got k=11"):
        metric(X, X, k=11)
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        metric(X, X, k=0)


def test_mutual_knn_k_excludes_the_item_itself():
    X = np.random.RandomState(8).normal(size=(10, 3))
    with pytest.raises(ValueError, match="needs k <= 9"):
        mutual_knn(X, X, k=10)


@pytest.mark.parametrize("metric", ALL)
@pytest.mark.parametrize("side", ["X", "Y"])
def test_nan_rejected(metric, side):
    rng = np.random.RandomState(9)
    spaces = {"X": rng.normal(size=(8, 3)), "Y": rng.normal(size=(8, 3))}
    spaces[side][2, 1] = np.nan
    with pytest.raises(ValueError, match=f"Input {side} contains NaN"):
        metric(spaces["X"], spaces["Y"])


@pytest.mark.parametrize("side", ["X", "Y"])
def test_linear_cka_constant_space(side):
    rng = np.random.RandomState(10)
    spaces = {"X": rng.normal(size=(8, 3)), "Y": rng.normal(size=(8, 2))}
    spaces[side] = np.tile(spaces[side][0], (8, 1))
    with pytest.raises(ValueError, match=f"{side} has no variance"):
        linear_cka(spaces["X"], spaces["Y"])


@pytest.mark.parametrize("metric", ALL)
def test_inputs_untouched_and_float32_accepted(metric):
    rng = np.random.RandomState(11)
    X = rng.normal(size=(20, 4)).astype(np.float32)
    Y = rng.normal(size=(20, 4))
    X_before, Y_before = X.copy(), Y.copy()
    X.flags.writeable = Y.flags.writeable = False
    value = metric(X, Y)
    assert isinstance(value, float)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


# -- properties on arbitrary (tie-heavy) integer data ------------------------------

pairs = st.integers(3, 12).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, (n, 3), elements=st.integers(-4, 4).map(float)),
        arrays(np.float64, (n, 2), elements=st.integers(-4, 4).map(float)),
    )
)


@settings(max_examples=60, deadline=None)
@given(pairs, st.integers(1, 3))
def test_ranges_and_orderings(pair, k):
    X, Z = pair
    k = min(k, len(X) - 1)
    Y = np.hstack([Z, Z[:, :1] - X[:, :1]])  # same width as X
    for metric in RANKING:
        assert 0.0 <= metric(X, Y, k=k) <= 1.0
    assert mrr(X, Y, k=k) <= recall_at_k(X, Y, k=k)
    assert recall_at_k(X, Y, k=k) <= recall_at_k(X, Y, k=k + 1)
    assert recall_at_k(X, Y, k=len(X)) == 1.0
    assert jaccard_at_k(X, Y, k=len(X)) == 1.0
    assert -1.0 <= mean_cosine(X, Y) <= 1.0
    assert mutual_knn(X, Z, k=k) == mutual_knn(Z, X, k=k)
    assert 0.0 <= mutual_knn(X, Z, k=k) <= 1.0
    assert mutual_knn(X, Z, k=len(X) - 1) == 1.0


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_linear_cka_range_and_symmetry(pair):
    X, Z = pair
    assume(np.ptp(X, axis=0).max() > 0 and np.ptp(Z, axis=0).max() > 0)
    value = linear_cka(X, Z)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(linear_cka(Z, X), abs=1e-12)
    assert value == pytest.approx(gram_cka(X, Z), abs=1e-9)


# -- rows matched by index ------------------------------------------------------------


@pytest.mark.parametrize("metric", ALL)
def test_dataframes_are_matched_by_index(metric, spaces):
    X, Y = spaces
    ids = [f"id{i}" for i in range(len(X))]
    frame_x = pd.DataFrame(X, index=ids)
    frame_y = pd.DataFrame(Y, index=ids).sample(frac=1.0, random_state=0)
    assert metric(frame_x, frame_y) == pytest.approx(metric(X, Y), abs=1e-12)


def test_dataframes_with_other_ids_are_refused(spaces):
    X, Y = spaces
    frame_x = pd.DataFrame(X, index=[f"id{i}" for i in range(40)])
    frame_y = pd.DataFrame(Y, index=[f"id{i}" for i in range(1, 41)])
    with pytest.raises(
        ValueError,
        match=r"1 ids of X are missing from Y \(e.g. \['id0'\]\) and 1 ids of Y "
        r"are not in X \(e.g. \['id40'\]\)",
    ):
        mean_cosine(frame_x, frame_y)


def test_dataframes_with_repeated_ids_are_refused(spaces):
    X, Y = spaces
    ids = [f"id{i}" for i in range(39)] + ["id0"]
    with pytest.raises(ValueError, match=r"index of Y repeats the ids \['id0'\]"):
        linear_cka(pd.DataFrame(X), pd.DataFrame(Y, index=ids))


# -- anchor_agreement ---------------------------------------------------------------


def reference_agreement(A, B):
    """Straight from the definition, with numpy's corrcoef."""

    def cosines(M):
        M = M - M.mean(axis=0)
        M = M / np.linalg.norm(M, axis=1, keepdims=True)
        return M @ M.T

    S, T = cosines(A), cosines(B)
    k = len(A)
    off = ~np.eye(k, dtype=bool)
    score = np.corrcoef(S[off], T[off])[0, 1]
    rows = [np.corrcoef(S[i][off[i]], T[i][off[i]])[0, 1] for i in range(k)]
    return score, np.array(rows)


@pytest.fixture
def anchor_pair():
    rng = np.random.RandomState(11)
    A = rng.normal(size=(25, 6))
    B = np.tanh(A @ rng.normal(size=(6, 9))) + 0.2 * rng.normal(size=(25, 9))
    return A, B


def test_anchor_agreement_matches_the_definition(anchor_pair):
    A, B = anchor_pair
    result = anchor_agreement(A, B)
    score, rows = reference_agreement(A, B)
    assert result.score == pytest.approx(score, abs=1e-12)
    np.testing.assert_allclose(result.per_anchor, rows, atol=1e-12)
    assert 0.3 < result.score < 0.99


def test_anchor_agreement_invariances(anchor_pair):
    A, B = anchor_pair
    rng = np.random.RandomState(12)
    expected = anchor_agreement(A, B)
    rot_a, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rot_b, _ = np.linalg.qr(rng.normal(size=(9, 9)))
    moved = anchor_agreement(0.1 * A @ rot_a - 4.0, 30.0 * B @ rot_b + 2.0)
    assert moved.score == pytest.approx(expected.score, abs=1e-10)
    np.testing.assert_allclose(moved.per_anchor, expected.per_anchor, atol=1e-10)
    assert anchor_agreement(A, 3 * A @ rot_a + 1).score == pytest.approx(1.0)


def test_shuffled_anchors_agree_about_zero():
    rng = np.random.RandomState(13)
    A = rng.normal(size=(80, 10))
    scores = [anchor_agreement(A, A[rng.permutation(80)]).score for _ in range(5)]
    assert max(abs(s) for s in scores) < 0.1


def test_corrupted_anchors_score_lower():
    rng = np.random.RandomState(14)
    A = rng.normal(size=(30, 12))
    rotation, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    B = 2 * A @ rotation + 0.3 * rng.normal(size=A.shape)
    corrupted = [2, 9, 17]
    B[corrupted] = rng.normal(size=(3, 12))
    per_anchor = anchor_agreement(A, B).per_anchor
    healthy = np.delete(per_anchor, corrupted)
    assert per_anchor[corrupted].max() < np.median(healthy)
    assert per_anchor[corrupted].mean() < healthy.mean() - 0.3


def test_anchor_agreement_aligns_dataframes_by_index(anchor_pair):
    A, B = anchor_pair
    ids = [f"word{i}" for i in range(25)]
    source = pd.DataFrame(A, index=ids)
    target = pd.DataFrame(B, index=ids).iloc[::-1]
    result = anchor_agreement(source, target)
    expected = anchor_agreement(A, B)
    assert result.score == pytest.approx(expected.score, abs=1e-12)
    assert isinstance(result.per_anchor, pd.Series)
    assert list(result.per_anchor.index) == ids
    np.testing.assert_allclose(result.per_anchor, expected.per_anchor, atol=1e-12)
    # Inputs are untouched.
    assert list(target.index) == ids[::-1]


def test_anchor_agreement_missing_ids(anchor_pair):
    A, B = anchor_pair
    source = pd.DataFrame(A, index=[f"w{i}" for i in range(25)])
    target = pd.DataFrame(B, index=[f"w{i}" for i in range(24)] + ["other"])
    with pytest.raises(
        ValueError,
        match=r"1 ids of anchors_source are missing from anchors_target "
        r"\(e.g. \['w24'\]\)",
    ):
        anchor_agreement(source, target)


def test_anchor_agreement_bad_input(anchor_pair):
    A, B = anchor_pair
    with pytest.raises(ValueError, match="anchors_source has 25 rows but anchors_"):
        anchor_agreement(A, B[:24])
    with pytest.raises(ValueError, match="needs at least 3 anchors; got 2"):
        anchor_agreement(A[:2], B[:2])
    nan = B.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input anchors_target contains NaN"):
        anchor_agreement(A, nan)
    with pytest.raises(ValueError, match="cosines among the anchors are all equal"):
        anchor_agreement(np.ones((5, 3)), B[:5])
    with pytest.raises(InvalidParameterError, match="'anchors_source' parameter"):
        anchor_agreement("text", B)


# -- retrieval scores -------------------------------------------------------------


def test_neighbor_recall():
    from sklearn_relreps.metrics import neighbor_recall

    found = np.array([[1, 2, 3], [4, 5, 6]])
    assert neighbor_recall(found, found) == 1.0
    assert neighbor_recall(found, [[3, 2, 1], [6, 0, 9]]) == pytest.approx(4 / 6)
    assert neighbor_recall(found, [[1, 9], [9, 4]], k=1) == 0.5
    ids = np.array([["a", "b"], ["c", "d"]], dtype=object)
    assert neighbor_recall(ids, [["b", "x"], ["d", "c"]]) == 0.75
    with pytest.raises(ValueError, match="neighbors has 2 queries but reference has 1"):
        neighbor_recall(found, found[:1])
    with pytest.raises(ValueError, match="must be a 2-D array"):
        neighbor_recall([1, 2], [1, 2])
    with pytest.raises(ValueError, match="needs k <= 3"):
        neighbor_recall(found, found, k=4)


def test_exact_match_rank():
    from sklearn_relreps.metrics import exact_match_rank

    ranks = exact_match_rank([[4, 0, 2], [1, 3, 4], [7, 8, 9]], [4, 4, 0])
    np.testing.assert_array_equal(ranks, [1, 3, 0])
    with pytest.raises(ValueError, match="one item per query"):
        exact_match_rank([[1, 2]], [1, 2])


def _retrieval_setup():
    from sklearn_relreps import CrossSpaceRetriever

    rng = np.random.RandomState(0)
    old = rng.normal(size=(300, 8))
    new = np.tanh(old @ rng.normal(size=(8, 12)))
    retrievers = {
        method: CrossSpaceRetriever(method=method).fit(
            old, index_anchors=old[:100], query_anchors=new[:100]
        )
        for method in ("orthogonal", "relative")
    }
    return retrievers, old, new


def test_retrieval_report_columns_and_values():
    from sklearn_relreps.metrics import (
        exact_match_rank,
        neighbor_recall,
        retrieval_report,
    )

    retrievers, old, new = _retrieval_setup()
    targets = np.arange(100, 300)
    report = retrieval_report(
        retrievers, new[100:], targets=targets, reference=new, old=old[100:], k=5
    )
    assert list(report.index) == ["orthogonal", "relative", "re-embedded", "old model"]
    assert list(report.columns) == [
        "exact@1",
        "exact@5",
        "mrr@5",
        "recall_reembedded",
        "recall_old",
    ]
    found = retrievers["relative"].kneighbors(new[100:], 5, return_distance=False)
    rank = exact_match_rank(found, targets)
    assert report.loc["relative", "exact@1"] == np.mean(rank == 1)
    assert report.loc["re-embedded", "recall_reembedded"] == 1.0
    assert report.loc["old model", "recall_old"] == 1.0
    assert report.loc["old model", "exact@1"] == 1.0
    unit = old / np.linalg.norm(old, axis=1, keepdims=True)
    own = np.argsort(-(unit[100:] @ unit.T), axis=1, kind="stable")[:, :5]
    found = retrievers["orthogonal"].kneighbors(new[100:], 5, return_distance=False)
    assert report.loc["orthogonal", "recall_old"] == neighbor_recall(found, own)
    # Only what the inputs allow.
    only = retrieval_report(retrievers["orthogonal"], new[100:], k=3)
    assert only.shape == (1, 0) and list(only.index) == ["orthogonal"]


def test_retrieval_report_errors_and_plot():
    from sklearn_relreps.metrics import retrieval_report

    retrievers, old, new = _retrieval_setup()
    with pytest.raises(ValueError, match="needs a translation retriever"):
        retrieval_report({"r": retrievers["relative"]}, new, old=old)
    with pytest.raises(ValueError, match="at least one fitted retriever"):
        retrieval_report({}, new)
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    report = retrieval_report(retrievers, new[100:], reference=new, ax=ax, k=5)
    assert len(ax.patches) == report.size
    plt.close(fig)
