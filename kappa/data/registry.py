"""Name → dataset registry, so configs and scripts can say ``dataset: affine``.

Usage::

    from kappa import datasets        # this module (kappa.data.registry)
    ds = datasets.create("affine", num_samples=500, seed=0)
    datasets.list_datasets()          # ['affine', 'digits']

    @datasets.register("my-data")
    class MyDataset(BaseDataset): ...

Built in: ``"affine"`` → :class:`kappa.data.affine.AffineDataset`,
``"digits"`` → :class:`kappa.data.digits.DigitsDataset`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from .affine import AffineDataset
from .base import BaseDataset
from .digits import DigitsDataset

__all__ = ["register", "unregister", "factory", "create", "list_datasets"]

_REGISTRY: Dict[str, Callable[..., BaseDataset]] = {}


def register(name: str, *, overwrite: bool = False) -> Callable:
    """Decorator registering a dataset class or factory under ``name``.

    Args:
        name: non-empty string key (case-sensitive).
        overwrite: allow replacing an existing registration.

    Returns:
        A decorator that stores its argument (any callable returning a
        dataset, typically a :class:`~kappa.data.base.BaseDataset` subclass) and
        returns it unchanged.

    Raises:
        ValueError: empty/non-string name, or the name is taken and
            ``overwrite`` is False.
        TypeError: the decorated object is not callable.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"dataset name must be a non-empty string, got {name!r}")

    def decorator(cls_or_factory):
        if not callable(cls_or_factory):
            raise TypeError(f"cannot register non-callable {cls_or_factory!r} as {name!r}")
        if name in _REGISTRY and not overwrite and _REGISTRY[name] is not cls_or_factory:
            raise ValueError(
                f"dataset name {name!r} is already registered to {_REGISTRY[name]!r}; "
                "pass overwrite=True to replace it"
            )
        _REGISTRY[name] = cls_or_factory
        return cls_or_factory

    return decorator


def unregister(name: str) -> None:
    """Remove ``name`` from the registry.

    Raises:
        ValueError: unknown name (the message lists the valid names).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(list_datasets())}")
    del _REGISTRY[name]


def factory(name: str) -> Callable[..., BaseDataset]:
    """The class or factory registered as ``name`` (to inspect its signature, e.g. to validate a
    job config's dataset arguments before building anything).

    Raises:
        ValueError: unknown name (the message lists the valid names).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown dataset {name!r}; valid names: {', '.join(list_datasets())}"
        ) from None


def create(name: str, **kwargs: Any) -> BaseDataset:
    """Build the dataset registered as ``name`` with keyword arguments ``kwargs``.

    Example: ``create("digits", one_hot=False, seed=0)``.

    Raises:
        ValueError: unknown name (the message lists the valid names).
        Whatever the dataset constructor raises for bad ``kwargs``.
    """
    return factory(name)(**kwargs)


def list_datasets() -> List[str]:
    """Registered names, sorted."""
    return sorted(_REGISTRY)


register("affine")(AffineDataset)
register("digits")(DigitsDataset)
