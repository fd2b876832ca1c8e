"""The version of lusfeat (one home; ``lusfeat.__version__`` and every output's metadata read it)."""

__version__ = "0.1.0"
