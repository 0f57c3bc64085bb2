"""Tumen core: configuration, schemas, ids, bus, storage and metrics shared by all stages."""

__all__ = ["__version__"]

__version__ = "0.1.0"
