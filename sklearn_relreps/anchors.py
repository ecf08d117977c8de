"""Anchor selection: choose the reference samples of a relative projection."""

from ._anchors import select_anchors

__all__ = ["select_anchors"]
