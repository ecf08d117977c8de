"""Warnings raised by the library."""


class StitchingWarning(UserWarning):
    """Warn that a stitched model is unlikely to be trusted.

    :func:`sklearn_relreps.stitch` raises it when the anchors' relative
    geometry disagrees too much between the source and the target space
    (see :func:`sklearn_relreps.metrics.anchor_agreement`), most often
    because the target anchors are not the same items, or not in the same
    order, as the fitted ones.

    Read more in the :ref:`User Guide <stitching>`.

    Examples
    --------
    Turn it into an error to refuse doubtful stitching:

    >>> import warnings
    >>> from sklearn_relreps import StitchingWarning
    >>> issubclass(StitchingWarning, UserWarning)
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", StitchingWarning)
    ...     warnings.warn("anchors disagree", StitchingWarning)
    Traceback (most recent call last):
    ...
    sklearn_relreps._exceptions.StitchingWarning: anchors disagree
    """
