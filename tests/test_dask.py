"""Lazy, blockwise transform of Dask arrays and DataFrames."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import NotFittedError

from sklearn_relreps import InvariantProductTransformer, RelativeTransformer

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
get_dependencies = pytest.importorskip("dask.core").get_dependencies

SCHEDULERS = ["synchronous", "threads"]


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(103, 6))


def _estimators():
    return [
        RelativeTransformer(n_anchors=5, random_state=0),
        RelativeTransformer(n_anchors=5, similarity="l1", center=True, random_state=0),
        RelativeTransformer(n_anchors=5, similarity="linf", random_state=0),
        InvariantProductTransformer(n_anchors=4, random_state=0),
    ]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("estimator", _estimators(), ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dask_array_matches_in_memory(X, estimator, dtype, scheduler):
    X = X.astype(dtype)
    estimator.fit(X)
    # Column chunks too: each block must see every feature.
    lazy = estimator.transform(da.from_array(X, chunks=(20, 4)))
    assert isinstance(lazy, da.Array)
    n_out = estimator.get_feature_names_out().shape[0]
    assert lazy.chunks == ((20, 20, 20, 20, 20, 3), (n_out,))
    assert lazy.dtype == dtype
    result = lazy.compute(scheduler=scheduler)
    assert result.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    assert_allclose(result, estimator.transform(X), rtol=rtol, atol=rtol)


def test_integer_dask_array_gives_float64(X):
    estimator = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    integers = np.round(X * 10).astype(np.int64)
    lazy = estimator.transform(da.from_array(integers, chunks=50))
    assert lazy.dtype == np.float64
    assert_allclose(lazy.compute(), estimator.transform(integers))


def test_transform_is_lazy(X):
    calls = []

    def load(rows):
        calls.append(rows)
        return X[rows]

    blocks = [
        da.from_delayed(dask.delayed(load)(slice(i, i + 50)), (50, 6), X.dtype)
        for i in (0, 50)
    ]
    estimator = RelativeTransformer(n_anchors=5, random_state=0).fit(X[:100])
    lazy = estimator.transform(da.concatenate(blocks))
    assert calls == []
    assert lazy.compute(scheduler="synchronous").shape == (100, 5)
    assert len(calls) == 2


def test_fitted_estimator_is_one_graph_key_shared_by_all_blocks(X):
    estimator = InvariantProductTransformer(n_anchors=4, random_state=0).fit(X)
    lazy = estimator.transform(da.from_array(X, chunks=10))
    graph = dict(lazy.__dask_graph__())
    estimator_keys = [
        k
        for k in graph
        if isinstance(k, str) and k.startswith("InvariantProductTransformer")
    ]
    assert len(estimator_keys) == 1
    for key in lazy.__dask_keys__():
        assert estimator_keys[0] in get_dependencies(graph, key[0])


def test_graph_keeps_the_state_at_transform_time(X):
    estimator = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    expected = estimator.transform(X)
    lazy = estimator.transform(da.from_array(X, chunks=50))
    estimator.set_params(random_state=1).fit(X)  # refit before computing
    assert_allclose(lazy.compute(), expected)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_dask_dataframe(X, scheduler):
    frame = pd.DataFrame(
        X.astype(np.float32),
        columns=[f"f{i}" for i in range(6)],
        index=pd.RangeIndex(1000, 1103),
    )
    estimator = InvariantProductTransformer(n_anchors=4, random_state=0).fit(frame)
    lazy = estimator.transform(dd.from_pandas(frame, npartitions=4))
    assert isinstance(lazy, dd.DataFrame)
    assert lazy.npartitions == 4
    names = estimator.get_feature_names_out()
    assert list(lazy.columns) == list(names)
    result = lazy.compute(scheduler=scheduler)
    assert result.index.equals(frame.index)
    assert (result.dtypes == np.float32).all()
    assert_allclose(result.to_numpy(), estimator.transform(frame), rtol=1e-4)


def test_dask_dataframe_with_wrong_columns_raises(X):
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    estimator = RelativeTransformer(n_anchors=4, random_state=0).fit(frame)
    renamed = dd.from_pandas(frame.rename(columns={"f0": "other"}), npartitions=2)
    with pytest.raises(ValueError, match="feature names"):
        estimator.transform(renamed).compute(scheduler="synchronous")


def test_empty_partitions_are_transformed(X):
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    estimator = RelativeTransformer(n_anchors=4, random_state=0).fit(frame)
    lazy = dd.from_pandas(frame, npartitions=3)
    lazy = lazy[lazy["f0"] > 100]  # every partition becomes empty
    result = estimator.transform(lazy).compute(scheduler="synchronous")
    assert result.shape == (0, 4)


def test_unfitted_estimator_raises_before_building_a_graph(X):
    with pytest.raises(NotFittedError):
        RelativeTransformer().transform(da.from_array(X))


def test_three_dimensional_dask_array_raises(X):
    estimator = RelativeTransformer(n_anchors=4, random_state=0).fit(X)
    with pytest.raises(ValueError, match="2-D Dask array"):
        estimator.transform(da.zeros((2, 3, 6)))


def test_dask_series_raises(X):
    estimator = RelativeTransformer(n_anchors=4, random_state=0).fit(X)
    series = dd.from_pandas(pd.Series(X[:, 0]), npartitions=2)
    with pytest.raises(TypeError, match="dask.dataframe.DataFrame"):
        estimator.transform(series)
