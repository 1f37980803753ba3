"""wac: website availability checker."""

__version__ = "0.1.0"
