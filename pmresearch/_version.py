"""The package version, defined once (``pmresearch.__version__`` re-exports it)."""

__version__ = "0.1.0"
