"""Relative representations and the product of invariances for scikit-learn.

Describe samples by their similarity to anchor samples, so that models fit on
one encoder's latent space can be reused on another's (zero-shot stitching).
"""

from . import anchors
from ._product import InvariantProductTransformer
from ._relative import RelativeTransformer
from ._similarities import get_invariances

__version__ = "0.1.0.dev0"

__all__ = [
    "InvariantProductTransformer",
    "RelativeTransformer",
    "__version__",
    "anchors",
    "get_invariances",
]
