"""CrossSpaceRetriever: new-model queries against an old-model index."""

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.estimator_checks import check_param_validation

from sklearn_relreps import CrossSpaceRetriever

METHODS = ["orthogonal", "linear", "affine", "ridge", "kernel", "relative"]


def make_spaces(n=300, d=12, noise=0.0, seed=0):
    """An old index, and the same items in a rotated, rescaled new space."""
    rng = np.random.RandomState(seed)
    old = rng.normal(size=(n, d))
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    new = 2 * old @ rotation + 1 + noise * rng.normal(size=(n, d))
    return old, new


def fitted(n_anchors=80, noise=0.0, **params):
    old, new = make_spaces(noise=noise)
    retriever = CrossSpaceRetriever(**params).fit(
        old, index_anchors=old[:n_anchors], query_anchors=new[:n_anchors]
    )
    return retriever, old, new


@pytest.mark.parametrize("method", ["linear", "affine", "ridge", "relative"])
def test_exact_recovery_without_noise(method):
    retriever, old, new = fitted(method=method, alpha=1e-6, csls=None)
    distances, neighbors = retriever.kneighbors(new[100:])
    assert_array_equal(neighbors[:, 0], np.arange(100, 300))
    assert_allclose(distances[:, 0], 0, atol=1e-6)
    if method == "relative":  # the ranking is the relative space's own
        return
    # The rest of the ranking is the old model's own neighbourhood.
    truth = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute")
    expected = truth.fit(old).kneighbors(old[100:], return_distance=False)
    assert_array_equal(neighbors, expected)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("csls", [None, 5])
def test_noisy_rotation_is_mostly_recovered(method, csls):
    retriever, _, new = fitted(method=method, noise=0.2, csls=csls)
    neighbors = retriever.kneighbors(new[100:], 1, return_distance=False)
    assert np.mean(neighbors[:, 0] == np.arange(100, 300)) > 0.9


def test_distances_sorted_and_metric():
    retriever, old, new = fitted(method="ridge", noise=0.1, csls=None)
    distances, neighbors = retriever.kneighbors(new[:20], 7)
    assert distances.shape == neighbors.shape == (20, 7)
    assert np.all(np.diff(distances, axis=1) >= 0)
    mapped = retriever.translator_.transform(new[:20])
    unit = old / np.linalg.norm(old, axis=1, keepdims=True)
    cosines = np.take_along_axis(
        mapped @ unit.T / np.linalg.norm(mapped, axis=1, keepdims=True), neighbors, 1
    )
    assert_allclose(distances, 1 - cosines, atol=1e-10)
    inner = clone(retriever).set_params(metric="inner_product")
    inner.fit(old, index_anchors=old[:80], query_anchors=new[:80])
    distances, neighbors = inner.kneighbors(new[:20], 7)
    assert_allclose(distances, -np.take_along_axis(mapped @ old.T, neighbors, 1))


def test_dataframe_index_returns_ids():
    old, new = make_spaces()
    ids = [f"doc{i}" for i in range(len(old))]
    index = pd.DataFrame(old, index=ids)
    retriever = CrossSpaceRetriever(3, method="ridge").fit(
        index, index_anchors=old[:80], query_anchors=new[:80]
    )
    neighbors = retriever.kneighbors(new[[150, 7]], return_distance=False)
    assert neighbors.dtype == object
    assert list(neighbors[:, 0]) == ["doc150", "doc7"]


def test_anchor_frames_matched_by_id():
    old, new = make_spaces()
    ids = np.array([f"a{i}" for i in range(80)])
    index_anchors = pd.DataFrame(old[:80], index=ids)
    shuffled = np.random.RandomState(1).permutation(80)
    query_anchors = pd.DataFrame(new[:80][shuffled], index=ids[shuffled])
    by_id = CrossSpaceRetriever(method="ridge").fit(
        old, index_anchors=index_anchors, query_anchors=query_anchors
    )
    by_order = CrossSpaceRetriever(method="ridge").fit(
        old, index_anchors=old[:80], query_anchors=new[:80]
    )
    assert_array_equal(
        by_id.kneighbors(new[100:])[1], by_order.kneighbors(new[100:])[1]
    )
    query_anchors.index = [f"b{i}" for i in range(80)]
    with pytest.raises(ValueError, match="must hold the same ids"):
        CrossSpaceRetriever().fit(
            old, index_anchors=index_anchors, query_anchors=query_anchors
        )


def test_csls_reduces_hubness():
    """A hub close to every query wins plain cosine search, not CSLS."""
    rng = np.random.RandomState(0)
    d = 20
    old = rng.normal(size=(400, d))
    old /= np.linalg.norm(old, axis=1, keepdims=True)
    hubs = 0.7 * old[:5] + 0.7 * rng.normal(size=d) / np.sqrt(d)  # pulled together
    centre = np.mean(old, axis=0) + 0.5 * rng.normal(size=d) / np.sqrt(d)
    hub = 5 * np.linalg.norm(old, axis=1).mean() * centre / np.linalg.norm(centre)
    index = np.vstack([old, hubs, hub])
    queries = old + 0.35 * rng.normal(size=old.shape) / np.sqrt(d) + 0.4 * centre
    kwargs = dict(index_anchors=old[:200], query_anchors=queries[:200])
    counts = {}
    for csls in (None, 10):
        retriever = CrossSpaceRetriever(5, method="ridge", csls=csls, alpha=1e-3)
        found = retriever.fit(index, **kwargs).kneighbors(queries[200:])[1]
        counts[csls] = np.bincount(found.ravel(), minlength=len(index)).max()
    assert counts[10] < counts[None]


def test_chunking_does_not_change_the_neighbours():
    old, new = make_spaces(noise=0.3)
    anchors = dict(index_anchors=old[:80], query_anchors=new[:80])
    retriever = CrossSpaceRetriever(method="ridge", csls=5).fit(old, **anchors)
    distances, neighbors = retriever.kneighbors(new)
    with config_context(working_memory=0.01):  # a few rows per chunk
        small = retriever.kneighbors(new)
        threaded = clone(retriever).set_params(n_jobs=2).fit(old, **anchors)
        in_threads = threaded.kneighbors(new)
        assert_allclose(threaded.index_radius_, retriever.index_radius_, rtol=1e-12)
    for other in (small, in_threads):
        assert_array_equal(other[1], neighbors)
        assert_allclose(other[0], distances, rtol=1e-10, atol=1e-12)


def test_all_neighbours_and_ties_go_to_lower_positions():
    old = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    retriever = CrossSpaceRetriever(method="linear", csls=None).fit(
        old, index_anchors=old, query_anchors=old
    )
    # "linear" with standardize maps each anchor onto itself: ties stay ties.
    neighbors = retriever.kneighbors([[1.0, 0.0]], 4, return_distance=False)
    assert_array_equal(neighbors, [[0, 1, 3, 2]])


def test_float32_kept():
    old, new = make_spaces()
    old, new = old.astype(np.float32), new.astype(np.float32)
    retriever = CrossSpaceRetriever(method="ridge").fit(
        old, index_anchors=old[:80], query_anchors=new[:80]
    )
    distances, _ = retriever.kneighbors(new[:5])
    assert distances.dtype == np.float32


def test_inputs_not_modified():
    old, new = make_spaces()
    arrays = [old, old[:80].copy(), new[:80].copy(), new.copy()]
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    for method in ("ridge", "relative"):
        retriever = CrossSpaceRetriever(method=method, csls=5).fit(
            arrays[0], index_anchors=arrays[1], query_anchors=arrays[2]
        )
        retriever.kneighbors(arrays[3])
    for a, c in zip(arrays, copies, strict=True):
        assert_array_equal(a, c)


def test_dask_index():
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    old, new = make_spaces()
    expected = fitted(method="ridge")[0].kneighbors(new[100:])[1]
    lazy = da.from_array(old, chunks=(70, 12))
    retriever = CrossSpaceRetriever(method="ridge").fit(
        lazy, index_anchors=lazy[:80], query_anchors=new[:80]
    )
    assert_array_equal(retriever.kneighbors(new[100:])[1], expected)
    frame = dd.from_pandas(
        pd.DataFrame(old, columns=[f"f{i}" for i in range(12)]), npartitions=3
    )
    retriever = CrossSpaceRetriever(method="ridge").fit(
        frame, index_anchors=old[:80], query_anchors=new[:80]
    )
    assert_array_equal(retriever.kneighbors(new[100:])[1], expected)


def test_bad_inputs():
    old, new = make_spaces()
    retriever = CrossSpaceRetriever()
    with pytest.raises(ValueError, match="index_anchors has 80 rows but query_anchors"):
        retriever.fit(old, index_anchors=old[:80], query_anchors=new[:79])
    with pytest.raises(ValueError, match="index is empty"):
        retriever.fit(old[:0], index_anchors=old[:80], query_anchors=new[:80])
    with pytest.raises(ValueError, match="both must come from the old model"):
        retriever.fit(old[:, :5], index_anchors=old[:80], query_anchors=new[:80])
    with pytest.raises(ValueError, match="csls=100 needs at least as many anchors"):
        CrossSpaceRetriever(csls=100).fit(
            old, index_anchors=old[:80], query_anchors=new[:80]
        )
    retriever.fit(old, index_anchors=old[:80], query_anchors=new[:80])
    with pytest.raises(ValueError, match="queries have 5 features"):
        retriever.kneighbors(new[:, :5])
    with pytest.raises(ValueError, match="larger than the index"):
        retriever.kneighbors(new, 301)
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        retriever.kneighbors(new, 0)
    with pytest.raises(Exception, match="not fitted"):
        CrossSpaceRetriever().kneighbors(new)


def test_estimator_contract():
    """By hand: ``fit(index, *, index_anchors, query_anchors)`` needs anchors.

    ``parametrize_with_checks`` calls ``fit(X, y)``, which this signature
    rejects, so the generic suite cannot run; the parts of the contract that
    apply are checked here.
    """
    retriever = CrossSpaceRetriever(4, method="relative", csls=3, temperature=0.5)
    assert clone(retriever).get_params() == retriever.get_params()
    check_param_validation("CrossSpaceRetriever", retriever)
    retriever, _, new = fitted(method="relative", csls=3)
    restored = pickle.loads(pickle.dumps(retriever))
    assert_array_equal(restored.kneighbors(new)[1], retriever.kneighbors(new)[1])
    assert not hasattr(clone(retriever), "n_index_")
    old, new = make_spaces(n=100)
    refit = retriever.fit(old, index_anchors=old[:30], query_anchors=new[:30])
    assert refit.n_index_ == 100 and refit.n_anchors_ == 30


def test_no_metadata_routing_of_the_inputs():
    assert not hasattr(CrossSpaceRetriever(), "set_fit_request")
