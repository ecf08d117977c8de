"""Relative representations and the product of invariances for scikit-learn.

Describe samples by their similarity to anchor samples, so that models fit on
one encoder's latent space can be reused on another's (zero-shot stitching).
"""

from . import anchors, datasets, metrics, model_selection
from ._exceptions import StitchingWarning
from ._invariances import get_invariances
from ._product import InvariantProductTransformer
from ._relative import RelativeTransformer
from ._retrieval import CrossSpaceRetriever
from ._stitch import stitch
from ._translate import LatentTranslator

__version__ = "0.1.0.dev0"

__all__ = [
    "CrossSpaceRetriever",
    "InvariantProductTransformer",
    "LatentTranslator",
    "RelativeTransformer",
    "StitchingWarning",
    "__version__",
    "anchors",
    "datasets",
    "get_invariances",
    "metrics",
    "model_selection",
    "stitch",
]
