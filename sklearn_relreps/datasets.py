"""Demo data: encoders' latent spaces, a real text corpus and offline text encoders."""

from ._datasets import load_digits_encoders, load_docstring_corpus
from ._encoders import embed_texts

__all__ = ["embed_texts", "load_digits_encoders", "load_docstring_corpus"]
