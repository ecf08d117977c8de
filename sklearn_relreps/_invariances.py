"""The invariance table: the transformations of a latent space a projection ignores."""

from ._compat import StrOptions, validate_params

#: Transformations of a latent space, in the order of the invariance table.
TRANSFORMATIONS = (
    "orthogonal",
    "isotropic_scaling",
    "translation",
    "permutation",
    "sign_flip",
    "axis_scaling",
    "linear",
)

_SIGNED_PERMUTATIONS = frozenset({"permutation", "sign_flip"})
_ROTATIONS = _SIGNED_PERMUTATIONS | {"orthogonal"}

#: What each similarity ignores on its own.
KERNEL_INVARIANCES = {
    "cosine": _ROTATIONS | {"isotropic_scaling"},
    "dot": _ROTATIONS,
    "euclidean": _ROTATIONS | {"translation"},
    # with its default width, the anchors' median distance, which scales along
    "rbf": _ROTATIONS | {"translation", "isotropic_scaling"},
    "l1": _SIGNED_PERMUTATIONS | {"translation"},
    "linf": _SIGNED_PERMUTATIONS | {"translation"},
}

#: Similarities with f(sX, sA) = |s|**p f(X, A), p > 0: a normalisation of the
#: output that removes a common factor then adds isotropic-scaling invariance.
HOMOGENEOUS = frozenset({"dot", "euclidean", "l1", "linf"})

#: Output normalisations that remove a common positive factor of each row or
#: column (softmax does not: a factor changes its sharpness).
_SCALE_FREE_NORMS = frozenset({"l2", "standard"})


@validate_params(
    {
        "similarity": [str, list, tuple],
        "center": ["boolean"],
        "standardize": ["boolean"],
        "output_norm": [StrOptions({"l2", "standard", "softmax"}), tuple, list, None],
    },
    prefer_skip_nested_validation=True,
)
def get_invariances(similarity, *, center=False, standardize=False, output_norm=None):
    """List the transformations of a latent space that a relative projection ignores.

    The transformation is applied to the samples and to the anchors alike, and
    every statistic learned from the anchors is recomputed after it. The answer
    is the invariance table of the user guide, derived from three rules: the
    kernel's own invariances; ``center=True`` adds translations; output
    normalisation (``"l2"`` or ``"standard"``) removes the scale of
    scale-homogeneous kernels (dot and the distances); ``standardize=True``
    trades rotations for per-feature scaling. ``"rbf"`` is taken with its
    default width (``gamma=None``: set from the anchors' median distance,
    so it scales with the data); a fixed `gamma` loses isotropic scaling.

    Read more in the :ref:`User Guide <invariances>`.

    Parameters
    ----------
    similarity : str or sequence of str
        A registered similarity name (``"cosine"``, ``"dot"``, ``"euclidean"``,
        ``"l1"``, ``"linf"``, ``"rbf"``), or several of them for an
        :class:`InvariantProductTransformer`, whose guaranteed invariances are
        the intersection of its blocks'.
    center : bool, default=False
        Whether the anchors' mean is subtracted first.
    standardize : bool, default=False
        Whether every feature is divided by the anchors' standard deviation.
    output_norm : {None, "l2", "standard", "softmax"} or tuple, default=None
        Normalisation of the relative vectors (several steps: in order). Only
        the first step matters here: ``"l2"`` or ``"standard"`` first makes
        scale-homogeneous kernels scale-free; ``"softmax"`` first does not (a
        common factor changes its sharpness).

    Returns
    -------
    invariances : frozenset of str
        A subset of ``{"orthogonal", "isotropic_scaling", "translation",
        "permutation", "sign_flip", "axis_scaling", "linear"}``.

    Examples
    --------
    >>> from sklearn_relreps import get_invariances
    >>> sorted(get_invariances("cosine"))
    ['isotropic_scaling', 'orthogonal', 'permutation', 'sign_flip']
    >>> "translation" in get_invariances("cosine", center=True)
    True
    >>> sorted(get_invariances(["cosine", "l1"], center=True, output_norm="standard"))
    ['isotropic_scaling', 'permutation', 'sign_flip', 'translation']
    """
    names = [similarity] if isinstance(similarity, str) else list(similarity)
    unknown = [n for n in names if not (isinstance(n, str) and n in KERNEL_INVARIANCES)]
    if unknown or not names:
        raise ValueError(
            f"Unknown similarity {unknown or names}; expected names among "
            f"{sorted(KERNEL_INVARIANCES)}."
        )
    steps = [output_norm] if isinstance(output_norm, str) else list(output_norm or [])
    first = steps[0] if steps else None
    result = set(TRANSFORMATIONS) - {"linear"}
    for name in names:
        held = set(KERNEL_INVARIANCES[name])
        if center:
            held.add("translation")
        if first in _SCALE_FREE_NORMS and name in HOMOGENEOUS:
            held.add("isotropic_scaling")
        if standardize:
            held -= {"orthogonal"}
            held |= {"isotropic_scaling", "axis_scaling"}
        result &= held
    return frozenset(result)
