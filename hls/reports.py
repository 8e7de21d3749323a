"""Deprecated import path: use :mod:`hls.vendor.reports` (kept for code written against the old layout)."""

from .vendor.reports import (  # noqa: F401,E501
    CosimResult,
    ReportError,
    Resource,
    SynthesisReport,
    format_table,
    plot_reports,
    read_report,
    read_reports,
)
