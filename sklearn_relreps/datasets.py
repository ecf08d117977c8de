"""Embedded demo data: latent spaces of independently trained encoders."""

from ._datasets import load_digits_encoders

__all__ = ["load_digits_encoders"]
