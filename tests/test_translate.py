"""LatentTranslator: exact recovery of known maps, references and bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import pdist
from sklearn import config_context
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_relreps import LatentTranslator


def orthonormal(rng, rows, columns):
    """A matrix with orthonormal columns (rows >= columns) or rows (otherwise)."""
    q, _ = np.linalg.qr(rng.normal(size=(max(rows, columns), min(rows, columns))))
    return q if rows >= columns else q.T


def whitened(rng, n, d):
    """Anchors whose features have zero mean, unit variance and no correlation."""
    centred = rng.normal(size=(n, d))
    centred -= centred.mean(axis=0)
    q, _ = np.linalg.qr(centred)
    return np.sqrt(n) * q


def cosines(A, B):
    return np.sum(A * B, axis=1) / np.linalg.norm(A, axis=1) / np.linalg.norm(B, axis=1)


# -- exact recovery of known maps ------------------------------------------------


def test_orthogonal_recovers_a_rotation():
    rng = np.random.RandomState(0)
    X, rotation = rng.normal(size=(50, 7)), orthonormal(rng, 7, 7)
    translator = LatentTranslator(standardize=False).fit(X, X @ rotation)
    np.testing.assert_allclose(translator.coef_, rotation, atol=1e-10)
    new = rng.normal(size=(20, 7))
    np.testing.assert_allclose(translator.transform(new), new @ rotation, atol=1e-8)
    np.testing.assert_allclose(
        translator.inverse_transform(new @ rotation), new, atol=1e-8
    )
    assert translator.score(new, new @ rotation) == pytest.approx(1.0, abs=1e-12)


def test_orthogonal_with_standardize_recovers_scaled_shifted_rotation():
    # Standardising each side is exact for an isotropic scaling, a rotation and a
    # translation when the anchors' features are uncorrelated with equal spread.
    rng = np.random.RandomState(1)
    anchors = whitened(rng, 60, 5) + rng.normal(size=5)
    rotation = orthonormal(rng, 5, 5)
    shift = rng.normal(size=5) * 4

    def true_map(Z):
        return 2.5 * Z @ rotation + shift

    translator = LatentTranslator().fit(anchors, true_map(anchors))
    new = rng.normal(size=(30, 5)) * 3
    np.testing.assert_allclose(translator.transform(new), true_map(new), atol=1e-8)
    np.testing.assert_allclose(
        translator.inverse_transform(true_map(new)), new, atol=1e-8
    )
    assert translator.score(new, true_map(new)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("standardize", [False, True])
def test_linear_recovers_a_linear_map(standardize):
    rng = np.random.RandomState(2)
    X, matrix = rng.normal(size=(40, 5)), rng.normal(size=(5, 5))
    translator = LatentTranslator("linear", standardize=standardize)
    translator.fit(X, X @ matrix)
    if not standardize:
        np.testing.assert_allclose(translator.coef_, matrix, atol=1e-10)
    new = rng.normal(size=(10, 5))
    np.testing.assert_allclose(translator.transform(new), new @ matrix, atol=1e-8)
    np.testing.assert_allclose(
        translator.inverse_transform(new @ matrix), new, atol=1e-8
    )


@pytest.mark.parametrize(
    ("method", "standardize"), [("affine", False), ("affine", True), ("linear", True)]
)
def test_affine_maps_are_recovered(method, standardize):
    # Standardising centres both sides, so "linear" then fits affine maps too.
    rng = np.random.RandomState(3)
    X, matrix, offset = rng.normal(size=(40, 4)), rng.normal(size=(4, 6)), np.arange(6)
    translator = LatentTranslator(method, standardize=standardize)
    translator.fit(X, X @ matrix + offset)
    if not standardize:
        np.testing.assert_allclose(translator.coef_, matrix, atol=1e-10)
        np.testing.assert_allclose(translator.intercept_, offset, atol=1e-10)
    new = rng.normal(size=(10, 4))
    np.testing.assert_allclose(
        translator.transform(new), new @ matrix + offset, atol=1e-8
    )
    # 4 -> 6 has full row rank: the pseudo-inverse undoes it on the source side.
    np.testing.assert_allclose(
        translator.inverse_transform(translator.transform(new)), new, atol=1e-8
    )


def test_linear_without_intercept_cannot_fit_a_translation():
    rng = np.random.RandomState(4)
    X = rng.normal(size=(40, 3))
    translator = LatentTranslator("linear", standardize=False).fit(X, X + 5.0)
    assert not np.allclose(translator.transform(X), X + 5.0, atol=1e-3)


# -- unequal widths: zero padding --------------------------------------------------


@pytest.mark.parametrize(("source_width", "target_width"), [(4, 7), (7, 4)])
@pytest.mark.parametrize("standardize", [False, True])
def test_orthogonal_matches_scipy_on_padded_sides(
    source_width, target_width, standardize
):
    rng = np.random.RandomState(5)
    X = rng.normal(size=(50, source_width)) * rng.uniform(0.5, 3, source_width)
    Y = rng.normal(size=(50, target_width)) + X[:, :1] + 1.0
    new = rng.normal(size=(8, source_width))

    def stats(Z):
        if standardize:
            return Z.mean(axis=0), Z.std(axis=0)
        return np.zeros(Z.shape[1]), np.ones(Z.shape[1])

    (mx, sx), (my, sy) = stats(X), stats(Y)
    width = max(source_width, target_width)

    def pad(Z):
        return np.hstack([Z, np.zeros((len(Z), width - Z.shape[1]))])

    R, _ = orthogonal_procrustes(pad((X - mx) / sx), pad((Y - my) / sy))
    expected = (pad((new - mx) / sx) @ R)[:, :target_width] * sy + my

    translator = LatentTranslator(standardize=standardize).fit(X, Y)
    np.testing.assert_allclose(translator.transform(new), expected, atol=1e-8)
    assert translator.coef_.shape == (source_width, target_width)


@pytest.mark.parametrize(("source_width", "target_width"), [(3, 6), (6, 3)])
def test_orthogonal_unequal_widths_exact_and_round_trip(source_width, target_width):
    rng = np.random.RandomState(6)
    embedding = orthonormal(rng, source_width, target_width)
    # Dropping dimensions is only an exact Procrustes solution for whitened
    # anchors (the padded target's zero columns must be matched too).
    X = whitened(rng, 40, source_width)
    translator = LatentTranslator(standardize=False).fit(X, X @ embedding)
    new = rng.normal(size=(10, source_width))
    np.testing.assert_allclose(translator.transform(new), new @ embedding, atol=1e-8)
    if source_width < target_width:
        # Into a wider space: nothing is lost, the source comes back.
        back = translator.inverse_transform(translator.transform(new))
        np.testing.assert_allclose(back, new, atol=1e-8)
    else:
        # Into a narrower space: target vectors survive the round trip.
        targets = rng.normal(size=(10, target_width))
        back = translator.transform(translator.inverse_transform(targets))
        np.testing.assert_allclose(back, targets, atol=1e-8)


# -- score, 1-D targets, dtypes, inputs ------------------------------------------


def test_score_is_mean_cosine_of_the_translation():
    rng = np.random.RandomState(7)
    X = rng.normal(size=(30, 4))
    Y = X @ rng.normal(size=(4, 4)) + 0.5 * rng.normal(size=(30, 4))
    translator = LatentTranslator().fit(X, Y)
    expected = np.mean(cosines(translator.transform(X), Y))
    assert translator.score(X, Y) == pytest.approx(expected)
    assert translator.score(X, Y) < 1.0


@pytest.mark.parametrize(
    "method", ["orthogonal", "linear", "affine", "ridge", "kernel"]
)
def test_one_dimensional_y_is_one_column(method):
    rng = np.random.RandomState(8)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    flat = LatentTranslator(method).fit(X, y)
    column = LatentTranslator(method).fit(X, y[:, None])
    assert flat.transform(X).shape == (20, 1)
    np.testing.assert_allclose(flat.transform(X), column.transform(X))
    assert flat.score(X, y) == pytest.approx(column.score(X, y[:, None]))


@pytest.mark.parametrize(
    "method", ["orthogonal", "linear", "affine", "ridge", "kernel"]
)
def test_float32_and_inputs_untouched(method):
    rng = np.random.RandomState(9)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    Y = rng.normal(size=(30, 5)).astype(np.float32)
    X_before, Y_before = X.copy(), Y.copy()
    X.flags.writeable = Y.flags.writeable = False
    translator = LatentTranslator(method).fit(X, Y)
    translated = translator.transform(X)
    assert translated.dtype == np.float32
    reference = LatentTranslator(method).fit(X.astype(float), Y.astype(float))
    np.testing.assert_allclose(
        translated, reference.transform(X.astype(float)), rtol=1e-3, atol=1e-4
    )
    if method != "kernel":
        assert translator.inverse_transform(Y).dtype == np.float32
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


def test_constant_feature_is_not_blown_up():
    rng = np.random.RandomState(10)
    X = rng.normal(size=(30, 4))
    X[:, 2] = 7.0
    translator = LatentTranslator().fit(X, rng.normal(size=(30, 4)))
    assert translator.source_scale_[2] == 1.0
    assert np.all(np.abs(translator.transform(X)) < 100)


def test_feature_names_out():
    rng = np.random.RandomState(11)
    X = pd.DataFrame(rng.normal(size=(10, 3)), columns=["a", "b", "c"])
    translator = LatentTranslator().fit(X, rng.normal(size=(10, 2)))
    assert list(translator.feature_names_in_) == ["a", "b", "c"]
    assert list(translator.get_feature_names_out()) == [
        "latenttranslator0",
        "latenttranslator1",
    ]


# -- bad input ----------------------------------------------------------------------


def test_unequal_row_counts():
    rng = np.random.RandomState(12)
    with pytest.raises(ValueError, match="X has 10 rows but y has 9"):
        LatentTranslator().fit(rng.normal(size=(10, 3)), rng.normal(size=(9, 3)))


@pytest.mark.parametrize(
    ("method", "standardize", "needed"),
    [("linear", False, 5), ("linear", True, 6), ("affine", False, 6)],
)
def test_too_few_anchors_for_least_squares(method, standardize, needed):
    rng = np.random.RandomState(13)
    X, Y = rng.normal(size=(needed, 5)), rng.normal(size=(needed, 5))
    LatentTranslator(method, standardize=standardize).fit(X, Y)  # just enough
    with pytest.raises(ValueError, match=f"fits {needed} coefficients .* n_samples=4"):
        LatentTranslator(method, standardize=standardize).fit(X[:4], Y[:4])


def test_orthogonal_needs_no_minimum_of_anchors():
    rng = np.random.RandomState(14)
    translator = LatentTranslator().fit(
        rng.normal(size=(2, 6)), rng.normal(size=(2, 6))
    )
    assert np.all(np.isfinite(translator.coef_))


@pytest.mark.parametrize("side", ["X", "y"])
def test_nan_rejected(side):
    rng = np.random.RandomState(15)
    data = {"X": rng.normal(size=(10, 3)), "y": rng.normal(size=(10, 3))}
    data[side][4, 0] = np.nan
    with pytest.raises(ValueError, match=f"Input {side} contains NaN"):
        LatentTranslator().fit(data["X"], data["y"])


def test_wrong_widths_after_fit():
    rng = np.random.RandomState(16)
    translator = LatentTranslator().fit(
        rng.normal(size=(10, 3)), rng.normal(size=(10, 5))
    )
    with pytest.raises(ValueError, match="X has 5 features, but LatentTranslator"):
        translator.transform(rng.normal(size=(2, 5)))
    with pytest.raises(ValueError, match="target space, which has 5"):
        translator.inverse_transform(rng.normal(size=(2, 3)))


def test_missing_target():
    with pytest.raises(ValueError, match="requires y to be passed"):
        LatentTranslator().fit(np.ones((5, 2)), None)


# -- ridge ---------------------------------------------------------------------------


def standardised(Z):
    std = Z.std(axis=0)
    return (Z - Z.mean(axis=0)) / np.where(std == 0, 1, std)


@pytest.mark.parametrize("n_anchors", [40, 6])  # primal and dual solves
@pytest.mark.parametrize("alpha", [0.1, 3.0])
def test_ridge_matches_sklearn_on_standardised_sides(n_anchors, alpha):
    rng = np.random.RandomState(17)
    X = rng.normal(size=(n_anchors, 8)) * rng.uniform(0.5, 4, 8) + 2
    Y = X @ rng.normal(size=(8, 5)) + rng.normal(size=(n_anchors, 5)) + 7
    new = rng.normal(size=(9, 8))
    translator = LatentTranslator("ridge", alpha=alpha).fit(X, Y)
    reference = Ridge(alpha=alpha, fit_intercept=False).fit(
        standardised(X), standardised(Y)
    )
    np.testing.assert_allclose(translator.coef_, reference.coef_.T, atol=1e-10)
    np.testing.assert_allclose(translator.intercept_, 0)
    expected = reference.predict((new - X.mean(axis=0)) / X.std(axis=0)) * Y.std(
        axis=0
    ) + Y.mean(axis=0)
    np.testing.assert_allclose(translator.transform(new), expected, atol=1e-10)


@pytest.mark.parametrize("n_anchors", [40, 6])
def test_ridge_without_standardize_fits_an_intercept(n_anchors):
    rng = np.random.RandomState(18)
    X = rng.normal(size=(n_anchors, 8)) * 3 + 5
    Y = X @ rng.normal(size=(8, 4)) - 11
    reference = Ridge(alpha=0.7, fit_intercept=True).fit(X, Y)
    translator = LatentTranslator("ridge", standardize=False, alpha=0.7).fit(X, Y)
    np.testing.assert_allclose(translator.coef_, reference.coef_.T, atol=1e-10)
    np.testing.assert_allclose(translator.intercept_, reference.intercept_, atol=1e-9)
    new = rng.normal(size=(5, 8))
    np.testing.assert_allclose(
        translator.transform(new), reference.predict(new), atol=1e-9
    )
    np.testing.assert_allclose(
        translator.inverse_coef_, np.linalg.pinv(reference.coef_.T)
    )


def test_ridge_tends_to_least_squares_and_inverts():
    rng = np.random.RandomState(19)
    X, matrix = rng.normal(size=(50, 4)), rng.normal(size=(4, 6))
    Y = X @ matrix + 2.0
    translator = LatentTranslator("ridge", standardize=False, alpha=1e-10).fit(X, Y)
    least_squares = LinearRegression().fit(X, Y)
    np.testing.assert_allclose(translator.coef_, least_squares.coef_.T, atol=1e-8)
    new = rng.normal(size=(7, 4))
    # 4 -> 6 has full row rank: the pseudo-inverse undoes it.
    np.testing.assert_allclose(
        translator.inverse_transform(translator.transform(new)), new, atol=1e-8
    )


def test_ridge_needs_no_minimum_of_anchors():
    rng = np.random.RandomState(20)
    for standardize in (True, False):
        translator = LatentTranslator("ridge", standardize=standardize)
        translator.fit(rng.normal(size=(2, 6)), rng.normal(size=(2, 6)))
        assert np.all(np.isfinite(translator.transform(rng.normal(size=(3, 6)))))


# -- kernel ridge ----------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [None, 0.3])
def test_kernel_matches_sklearn_kernel_ridge(gamma):
    rng = np.random.RandomState(21)
    X = rng.normal(size=(40, 5)) * rng.uniform(0.5, 3, 5) - 1
    Y = np.tanh(X @ rng.normal(size=(5, 3))) * 4 + 1
    translator = LatentTranslator("kernel", alpha=0.2, gamma=gamma).fit(X, Y)
    source = standardised(X)
    expected_gamma = (
        1 / np.median(pdist(source, "sqeuclidean")) if gamma is None else gamma
    )
    assert translator.gamma_ == pytest.approx(expected_gamma, rel=1e-12)
    np.testing.assert_allclose(translator.anchors_, source, atol=1e-12)
    reference = KernelRidge(alpha=0.2, kernel="rbf", gamma=expected_gamma)
    reference.fit(source, standardised(Y))
    np.testing.assert_allclose(translator.dual_coef_, reference.dual_coef_, atol=1e-9)
    new = rng.normal(size=(11, 5))
    expected = reference.predict((new - X.mean(axis=0)) / X.std(axis=0)) * Y.std(
        axis=0
    ) + Y.mean(axis=0)
    np.testing.assert_allclose(translator.transform(new), expected, atol=1e-9)


def test_kernel_without_standardize_centres_the_target():
    rng = np.random.RandomState(22)
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2)) + 9
    translator = LatentTranslator("kernel", standardize=False, gamma=0.5).fit(X, Y)
    reference = KernelRidge(alpha=1.0, kernel="rbf", gamma=0.5)
    reference.fit(X, Y - Y.mean(axis=0))
    new = rng.normal(size=(6, 4))
    np.testing.assert_allclose(
        translator.transform(new), reference.predict(new) + Y.mean(axis=0), atol=1e-10
    )
    # Far from every anchor, the translation is the anchors' mean.
    np.testing.assert_allclose(
        translator.transform(np.full((1, 4), 1e3)), Y.mean(axis=0)[None], atol=1e-12
    )


def test_kernel_transform_in_row_chunks_is_exact():
    rng = np.random.RandomState(23)
    X, Y = rng.normal(size=(200, 6)), rng.normal(size=(200, 3))
    translator = LatentTranslator("kernel").fit(X, Y)
    new = rng.normal(size=(500, 6))
    whole = translator.transform(new)
    with config_context(working_memory=0.002):  # a few rows per chunk
        chunked = translator.transform(new)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_kernel_is_overflow_safe_at_any_scale(scale):
    # The median heuristic makes the map scale-free without standardising.
    rng = np.random.RandomState(24)
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    new = rng.normal(size=(5, 4))
    plain = LatentTranslator("kernel", standardize=False).fit(X, Y)
    scaled = LatentTranslator("kernel", standardize=False).fit(X * scale, Y)
    np.testing.assert_allclose(
        scaled.transform(new * scale), plain.transform(new), rtol=1e-9, atol=1e-12
    )
    far = scaled.transform(np.full((1, 4), 1e300))
    np.testing.assert_allclose(far, Y.mean(axis=0)[None], atol=1e-12)


def test_kernel_has_no_inverse_transform():
    rng = np.random.RandomState(25)
    translator = LatentTranslator("kernel").fit(
        rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    )
    assert not hasattr(translator, "inverse_transform")
    with pytest.raises(
        AttributeError, match="no attribute 'inverse_transform'"
    ) as info:
        translator.inverse_transform(np.ones((2, 3)))
    # The reason is the cause of the error, shown in the traceback.
    assert "not invertible" in str(info.value.__cause__)
    assert "from the target space" in str(info.value.__cause__)


def test_kernel_with_coincident_anchors_uses_unit_gamma():
    translator = LatentTranslator("kernel").fit(
        np.ones((4, 3)), np.arange(8.0).reshape(4, 2)
    )
    assert translator.gamma_ == 1.0
    assert np.all(np.isfinite(translator.transform(np.zeros((2, 3)))))


def test_refit_replaces_method_state():
    rng = np.random.RandomState(26)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    translator = LatentTranslator("kernel").fit(X, Y)
    translator.set_params(method="ridge").fit(X, Y)
    assert not hasattr(translator, "anchors_")
    assert not hasattr(translator, "gamma_")
    translator.set_params(method="kernel").fit(X, Y)
    assert not hasattr(translator, "coef_")


@pytest.mark.parametrize("alpha", [0, -1.0, "1"])
def test_bad_alpha(alpha):
    with pytest.raises(InvalidParameterError, match="alpha"):
        LatentTranslator("ridge", alpha=alpha).fit(np.eye(3), np.eye(3))


@pytest.mark.parametrize("gamma", [0, -0.5, "scale"])
def test_bad_gamma(gamma):
    with pytest.raises(InvalidParameterError, match="gamma"):
        LatentTranslator("kernel", gamma=gamma).fit(np.eye(3), np.eye(3))


@pytest.mark.parametrize("method", ["orthogonal", "linear", "ridge"])
def test_gamma_only_with_kernel(method):
    with pytest.raises(ValueError, match="gamma=0.5 is only used by method='kernel'"):
        LatentTranslator(method, gamma=0.5).fit(np.eye(4), np.eye(4))


# -- DataFrames: rows aligned by index, output names -------------------------------


def frames(rng, n=30, source_width=4, target_width=3):
    ids = [f"item{i}" for i in range(n)]
    X = pd.DataFrame(rng.normal(size=(n, source_width)), index=ids)
    X.columns = [f"s{j}" for j in range(source_width)]
    Y = pd.DataFrame(
        X.to_numpy() @ rng.normal(size=(source_width, target_width)) + 1,
        index=ids,
        columns=[f"t{j}" for j in range(target_width)],
    )
    return X, Y


@pytest.mark.parametrize("method", ["orthogonal", "linear", "ridge", "kernel"])
def test_shuffled_target_frame_gives_the_same_map(method):
    rng = np.random.RandomState(27)
    X, Y = frames(rng)
    shuffled = Y.iloc[rng.permutation(len(Y))]
    aligned = LatentTranslator(method).fit(X, Y)
    reordered = LatentTranslator(method).fit(X, shuffled)
    attribute = "dual_coef_" if method == "kernel" else "coef_"
    np.testing.assert_allclose(
        getattr(reordered, attribute), getattr(aligned, attribute), atol=1e-12
    )
    # The same rows given as arrays in the wrong order give another map.
    wrong = LatentTranslator(method).fit(X.to_numpy(), shuffled.to_numpy())
    assert not np.allclose(getattr(wrong, attribute), getattr(aligned, attribute))
    assert reordered.score(X, shuffled) == pytest.approx(aligned.score(X, Y))


def test_frames_with_different_ids():
    rng = np.random.RandomState(28)
    X, Y = frames(rng, n=6)
    Y = Y.rename(index={"item2": "other", "item4": "more"})
    with pytest.raises(
        ValueError,
        match=r"missing from y: \['item2', 'item4'\]; "
        r"ids of y not in X: \['other', 'more'\]",
    ):
        LatentTranslator().fit(X, Y)


@pytest.mark.parametrize("side", ["X", "y"])
def test_frames_with_duplicated_ids(side):
    rng = np.random.RandomState(29)
    data = dict(zip(("X", "y"), frames(rng, n=6), strict=True))
    data[side] = data[side].rename(index={"item3": "item1"})
    with pytest.raises(
        ValueError, match=f"index of {side} has duplicated ids \\['item1'\\]"
    ):
        LatentTranslator().fit(data["X"], data["y"])


@pytest.mark.parametrize("method", ["orthogonal", "ridge", "kernel"])
def test_output_names_from_the_target_frame(method):
    rng = np.random.RandomState(30)
    X, Y = frames(rng, n=120)
    labels = (Y["t0"] > Y["t0"].median()).astype(int)
    classifier = LogisticRegression().fit(Y, labels)  # fit on the target's frame
    translator = LatentTranslator(method).fit(X, Y)
    assert list(translator.target_names_) == ["t0", "t1", "t2"]
    assert list(translator.get_feature_names_out()) == ["t0", "t1", "t2"]
    translated = translator.set_output(transform="pandas").transform(X)
    assert isinstance(translated, pd.DataFrame)
    assert list(translated.columns) == ["t0", "t1", "t2"]
    assert list(translated.index) == list(X.index)
    # No feature-name warning (warnings are errors) and a useful prediction.
    assert classifier.score(translated, labels) > 0.8


def test_non_string_target_columns_keep_the_generated_names():
    rng = np.random.RandomState(31)
    X = rng.normal(size=(10, 3))
    translator = LatentTranslator().fit(X, pd.DataFrame(rng.normal(size=(10, 2))))
    assert translator.target_names_ is None
    assert list(translator.get_feature_names_out()) == [
        "latenttranslator0",
        "latenttranslator1",
    ]
