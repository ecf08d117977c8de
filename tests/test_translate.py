"""LatentTranslator: exact recovery of known maps, references and bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import orthogonal_procrustes

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


@pytest.mark.parametrize("method", ["orthogonal", "linear", "affine"])
def test_one_dimensional_y_is_one_column(method):
    rng = np.random.RandomState(8)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    flat = LatentTranslator(method).fit(X, y)
    column = LatentTranslator(method).fit(X, y[:, None])
    assert flat.transform(X).shape == (20, 1)
    np.testing.assert_allclose(flat.transform(X), column.transform(X))
    assert flat.score(X, y) == pytest.approx(column.score(X, y[:, None]))


@pytest.mark.parametrize("method", ["orthogonal", "linear", "affine"])
def test_float32_and_inputs_untouched(method):
    rng = np.random.RandomState(9)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    Y = rng.normal(size=(30, 5)).astype(np.float32)
    X_before, Y_before = X.copy(), Y.copy()
    X.flags.writeable = Y.flags.writeable = False
    translator = LatentTranslator(method).fit(X, Y)
    assert translator.transform(X).dtype == np.float32
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
