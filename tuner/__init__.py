"""tuner: find the best way to train an image classifier on a folder of labelled images.

Subpackages, one per concern:

- :mod:`tuner.data`: dataset layouts, splits, groupings, the demo set, the decode-once cache,
  the tf.data pipeline and ``python -m tuner.data inspect``.
- :mod:`tuner.errors`: the exception hierarchy every user-facing command relies on.

Importing :mod:`tuner` is cheap: TensorFlow, Ray and matplotlib are imported only by the
functions that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
