"""Embedded demo data: encoders' latent spaces and a real text corpus."""

from ._datasets import load_digits_encoders, load_docstring_corpus

__all__ = ["load_digits_encoders", "load_docstring_corpus"]
