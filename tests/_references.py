"""Independent plain-NumPy definitions that the tests compare the package with.

Nothing here imports the package: the references are written from the
definitions in the background notes, so a test that compares the package's
output with them checks the package against the maths, not against itself.
"""

import numpy as np

# The references run in extended precision where the platform has it, so that
# squares of 1e200 or 1e-200 are exact there too.
WIDE = np.longdouble
WIDE_RANGE = np.finfo(WIDE).maxexp > np.finfo(np.float64).maxexp


def unit(Z):
    """Rows of `Z` scaled to unit euclidean length; zero rows stay zero."""
    norms = np.sqrt((Z * Z).sum(axis=1, keepdims=True))
    return np.divide(Z, norms, out=np.zeros_like(Z), where=norms > 0)


def ref_kernel(name, X, A, gamma=None):
    """Similarity `name` of every row of `X` to every row of `A`.

    Computed in float64, or in the wider float type of `X` and `A`.
    """
    dtype = np.result_type(X, A, np.float64)
    X, A = np.asarray(X, dtype=dtype), np.asarray(A, dtype=dtype)
    if name == "cosine":
        return ref_kernel("dot", unit(X), unit(A), gamma)
    if name == "dot":
        return (X[:, None, :] * A[None, :, :]).sum(axis=2)
    differences = np.abs(X[:, None, :] - A[None, :, :])
    if name == "l1":
        return differences.sum(axis=2)
    if name == "linf":
        return differences.max(axis=2)
    squared = (differences * differences).sum(axis=2)
    if name == "euclidean":
        return np.sqrt(squared)
    gamma = median_gamma(A) if gamma is None else gamma
    return np.exp(-gamma * squared)


def softmax(R, temperature):
    """Each row of `R` as weights: exp(r / t) over the row's sum.

    In float64, as the package computes float64 input: weights below
    float64's range are 0 there, and extended precision would keep them.
    """
    R = np.asarray(R, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        weights = np.exp((R - R.max(axis=1, keepdims=True)) / temperature)
    return weights / weights.sum(axis=1, keepdims=True)


def median_gamma(A):
    """The median heuristic: 1 / median squared distance between two anchors."""
    rows, columns = np.triu_indices(A.shape[0], k=1)
    distances = np.sqrt(((A[rows] - A[columns]) ** 2).sum(axis=1))
    median = np.median(distances)
    return 1.0 if median == 0 else 1.0 / median**2


def ref_output(
    names,
    X,
    A,
    *,
    center=False,
    standardize=False,
    gamma=None,
    output_norm=None,
    temperature=0.1,
    aggregation="concat",
    scale=None,
    dtype=WIDE,
):
    """Relative representation of `X` on anchor vectors `A`, as float64.

    `names` lists the similarities of the blocks; `output_norm` is None, a
    step or a sequence of steps; `scale` overrides the feature scales (for
    tests of degenerate features); `dtype` is the precision of the
    computation.
    """
    if output_norm == "auto":  # the documented default of RelativeTransformer
        output_norm = ("softmax", "standard") if list(names) == ["cosine"] else None
    steps = [output_norm] if isinstance(output_norm, str) else list(output_norm or [])
    X, A = np.asarray(X, dtype=dtype), np.asarray(A, dtype=dtype)
    if center:
        X, A = X - A.mean(axis=0), A - A.mean(axis=0)
    if standardize:
        if scale is None:
            # A constant feature keeps its scale of 1.
            scale = np.where(np.ptp(A, axis=0) == 0, 1, np.sqrt(A.var(axis=0)))
        X, A = X / scale, A / scale
    blocks = []
    for name in names:
        R, R_AA = ref_kernel(name, X, A, gamma), ref_kernel(name, A, A, gamma)
        for step in steps:
            if step == "l2":
                R, R_AA = unit(R), unit(R_AA)
            elif step == "softmax":
                R, R_AA = softmax(R, temperature), softmax(R_AA, temperature)
            else:  # "standard": the anchors' own column statistics
                sd = np.sqrt(R_AA.var(axis=0))
                sd = np.where(sd == 0, 1, sd)  # also a spread below the range
                R, R_AA = (R - R_AA.mean(axis=0)) / sd, (R_AA - R_AA.mean(axis=0)) / sd
        blocks.append(R)
    if aggregation == "concat":
        return np.hstack(blocks).astype(np.float64)
    total = np.sum(blocks, axis=0)
    return (total / len(blocks) if aggregation == "mean" else total).astype(np.float64)


# -- invariances ------------------------------------------------------------------

ORTH, SCALE, SHIFT, PERM, FLIP, AXIS, LINEAR = (
    "orthogonal",
    "isotropic_scaling",
    "translation",
    "permutation",
    "sign_flip",
    "axis_scaling",
    "linear",
)


def table_invariances(similarity, center, standardize, output_norm):
    """The invariance table of the background notes, section 2, row by row."""
    rows = {
        ("cosine", False): {ORTH, SCALE, PERM, FLIP},
        ("cosine", True): {ORTH, SCALE, SHIFT, PERM, FLIP},
        ("dot", False): {ORTH, PERM, FLIP},
        ("dot", True): {ORTH, SHIFT, PERM, FLIP},
        ("euclidean", False): {ORTH, SHIFT, PERM, FLIP},
        # the default width is the anchors' median distance: scale-free
        ("rbf", False): {ORTH, SCALE, SHIFT, PERM, FLIP},
        ("l1", False): {SHIFT, PERM, FLIP},
        ("linf", False): {SHIFT, PERM, FLIP},
    }
    # centring is a no-op for the distances and rbf
    held = set(rows[(similarity, center and similarity in ("cosine", "dot"))])
    if output_norm is not None and similarity in ("dot", "euclidean", "l1", "linf"):
        held.add(SCALE)
    if standardize:
        held.discard(ORTH)
        held |= {SCALE, AXIS}
        if similarity in ("cosine", "dot") and not center:
            held.discard(SHIFT)
    return held


def random_orthogonal(rng, d):
    """A random `d` x `d` orthogonal matrix, uniform (Haar) over the group."""
    Q, R = np.linalg.qr(rng.normal(size=(d, d)))
    return Q * np.sign(np.diag(R))
