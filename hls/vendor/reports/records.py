"""The normalised records of a report set (:class:`SynthesisReport`, :class:`Resource`,
:class:`CosimResult`) and :class:`ReportError`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ...safety import finite

RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")

HOW_TO_SYNTH = (
    "run `kappa build --synth` or `python scripts/build_hls.py --synth` (needs Vitis HLS or "
    "Vivado HLS on PATH, e.g. `source /tools/Xilinx/Vitis/2023.2/settings64.sh`)"
)


class ReportError(ValueError):
    """A report set is missing, truncated or malformed, or the folder is not a report set.

    The message is one line and names the offending file (or directory) and what was expected.
    """


@dataclass
class Resource:
    """Usage of one FPGA resource: ``used`` of ``available`` units on the part.

    For HLS estimates ``percent`` is ``100 * used / available`` rounded to 0.01 (the text
    report prints it only as a whole number or ``~0``), or ``None`` when the part has none of
    that resource (``available == 0``, e.g. URAM on a Zynq-7000).  For ``vivado_synth.rpt``
    all three are the report's "Used", "Available" and "Util%" columns.
    """

    used: int
    available: int | None
    percent: float | None


@dataclass
class CosimResult:
    """C/RTL co-simulation result of one RTL language (``<top>_cosim.rpt``).

    ``status`` is the report's "Pass" or "Fail"; latency, interval and total execution time
    are in clock cycles as measured in RTL simulation, ``None`` where the report says "NA".
    """

    rtl: str
    status: str
    latency_min_cycles: int | None
    latency_avg_cycles: int | None
    latency_max_cycles: int | None
    interval_min_cycles: int | None
    interval_avg_cycles: int | None
    interval_max_cycles: int | None
    total_execution_cycles: int | None = None


@dataclass
class SynthesisReport:
    """The synthesis results of one top function in one solution, normalised over Vivado HLS,
    Vitis HLS and Vitis Unified, plus Vivado logic synthesis and co-simulation when present.

    Times are in nanoseconds, latency and interval in clock cycles; ``latency_*_ns`` is the
    report's own absolute latency ("50.000 ns", "1.975 us", converted to ns).  ``resources``
    are the HLS estimates keyed by ``BRAM_18K``, ``DSP`` (``DSP48E`` in Vivado HLS), ``FF``,
    ``LUT``, ``URAM``.  ``post_synth`` is the utilisation after Vivado logic synthesis
    (``vivado_synth.rpt``) with the same keys; its ``BRAM_18K`` is twice the report's "Block
    RAM Tile" count and availability (one tile is one RAMB36 = two RAMB18).  A latency or
    interval the tool could not bound ("undef", "?") is ``None``; so is every field whose file
    is absent (listed in ``missing``).  ``synthesised_top`` is True for the top the ``.app`` /
    component config names, False for another top found beside it, None when nothing says.
    ``warnings`` lists findings about the files (a path leading outside the tree, a value
    that fails a sanity check and is shown as unknown), each naming the file.
    ``files`` maps a role (``csynth_xml``, ``csynth_rpt``, ``vivado_synth_rpt``, ``cosim_rpt``,
    ``app``, ``project_tcl``, ...) to a path; ``sources`` maps each field to the file it was
    read from; ``disagreements`` lists values two files give differently.
    """

    name: str
    project_dir: str
    top: str
    solution: str | None = None
    synthesised_top: bool | None = None
    tool: str | None = None
    tool_version: str | None = None
    tool_build: str | None = None
    part: str | None = None
    target_clock_ns: float | None = None
    clock_uncertainty_ns: float | None = None
    estimated_clock_ns: float | None = None
    latency_best_cycles: int | None = None
    latency_worst_cycles: int | None = None
    latency_best_ns: float | None = None
    latency_worst_ns: float | None = None
    interval_min_cycles: int | None = None
    interval_max_cycles: int | None = None
    resources: dict[str, Resource] | None = None
    post_synth: dict[str, Resource] | None = None
    post_synth_tool: str | None = None
    post_synth_part: str | None = None
    cosim: CosimResult | None = None
    total_weight_bits: int | None = None
    files: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the report as plain JSON-serialisable dicts, lists, numbers and strings
        (a non-finite float becomes None, so that the result is strict JSON)."""
        return finite(asdict(self))

