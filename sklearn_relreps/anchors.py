"""Anchor selection: choose the reference samples of a relative projection.

:func:`select_anchors` picks anchors within one space; :func:`match_anchors`
grows parallel anchor pairs between two spaces from a few known pairs.
"""

from ._anchors import match_anchors, select_anchors

__all__ = ["match_anchors", "select_anchors"]
