"""The library version, stamped into every saved model."""

__version__ = "0.1.0"
