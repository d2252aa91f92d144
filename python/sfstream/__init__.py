"""sfstream: verified step-by-step training data from math and coding problems."""

from sfstream._core import __version__

__all__ = ["__version__"]
