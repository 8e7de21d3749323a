"""Deprecated: use :mod:`kappa.data.registry` (this module re-exports the dataset registry)."""

from .data.registry import _REGISTRY, create, factory, list_datasets, register, unregister  # noqa: F401

__all__ = ["register", "unregister", "factory", "create", "list_datasets"]
