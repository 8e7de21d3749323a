"""Deprecated: use :mod:`kappa.data` (this module re-exports its dataset names)."""

from .data import (  # noqa: F401
                   DEFAULT_A,
                   DEFAULT_B,
                   DIGITS_NUM_SAMPLES,
                   TEXT_FLOAT_FORMAT,
                   AffineDataset,
                   BaseDataset,
                   DataType,
                   DigitsDataset,
                   verify_manifest,
)

__all__ = ["DataType", "BaseDataset", "AffineDataset", "DigitsDataset", "verify_manifest", "DEFAULT_A", "DEFAULT_B",
           "TEXT_FLOAT_FORMAT", "DIGITS_NUM_SAMPLES"]
