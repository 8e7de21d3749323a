"""Deprecated import path: use :mod:`hls.vendor.synth` (kept for code written against the old layout)."""

from .vendor.synth import SynthesisError, VendorToolNotFoundError, find_vendor_tools, require_tools, run_synthesis  # noqa: F401,E501
