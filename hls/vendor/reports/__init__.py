"""Read synthesis reports as users have them into one normalised record per (solution, top).

Layouts read (see ``docs/synthesis.md``; each has a real fixture in ``tests/fixtures/reports``):

* an hls4ml project: ``project.tcl`` (``set project_name``/``set backend`` as hls4ml 1.x
  writes it, or the older ``set myproject "..."`` with or without ``set backend``), and
  ``<name>_prj/{vivado_hls,hls}.app`` with ``<solution>/syn/report/<top>_csynth.{xml,rpt}``;
* a project without ``project.tcl``: the ``.app`` file names the solutions and the top
  function it synthesised (``top="..."``);
* several tops in one solution (hls4ml's ``VivadoAccelerator`` writes ``<name>_axi`` around
  ``<name>``): one record each, ``synthesised_top`` tells which one the ``.app`` names;
* several solutions: one record each, or only the one asked for (``solution=``);
* a Vitis Unified IDE component (2023.2 and later): ``<component>/vitis-comp.json`` and
  ``hls_config.cfg`` (``syn.top``, ``part``) with ``<work_dir>/hls/syn/report/`` (``csynth.xml``,
  ``<top>_csynth.{xml,rpt}``), ``hls/sim/report/`` and ``hls/impl/report/`` when present;
* loose report files in one folder (``<top>_csynth.rpt``/``.xml``, ``vivado_synth.rpt``);
* Vivado logic synthesis only: ``vivado_synth.rpt`` (``report_utilization`` output, in its
  UltraScale "CLB" and 7-series "Slice" forms), with or without C-synthesis reports;
* co-simulation: ``<solution>/sim/report/<top>_cosim.rpt`` (latency and II measured in RTL
  simulation; with and without the "Total Execution Time" column newer Vitis HLS adds).

Every number comes from a file (only the HLS resource percentages are computed, as
100 * used / available of the file's two numbers), and :attr:`SynthesisReport.sources` names
the file each field was read from.  Values that the csynth XML and the csynth text report
both give (version, part, clock, latency, interval, resources) are compared; so are the part
in ``project.tcl`` / ``hls_config.cfg``, the csynth XML and ``vivado_synth.rpt``.  Differences are listed in
:attr:`SynthesisReport.disagreements`, never silently resolved (the XML value is kept).

hls4ml's own parser, ``hls4ml.report.parse_vivado_report`` (hls4ml 1.3.0), is used for the
C-synthesis numbers where it applies: a project whose ``project.tcl`` hls4ml can read, the
first solution and the top hls4ml derives.  It cannot locate the reports in any other layout
(it needs a current ``project.tcl``; an old one makes it raise ``UnboundLocalError``), reads
only the first solution, and from ``vivado_synth.rpt`` only the "Used" column (not the part's
availability), so those parts are read here; ``tests/vendor/test_report_layouts.py`` shows each case.
Every file is checked before it is read: a missing section, a truncated or corrupt file raises
:class:`ReportError` naming the file, never a bare ``ParseError``/``AttributeError``.

Modules, by source: :mod:`.locate` (where the files are), :mod:`.csynth`, :mod:`.vivado_synth`,
:mod:`.cosim` (one reader each), :mod:`.read` (one record per solution and top),
:mod:`.table` (Markdown table, plot), :mod:`.records` and :mod:`.parse` (shared).
May import: the standard library, hls4ml's report parser (lazily), :mod:`hls.safety`; nothing
else of ``hls``. Files are read only inside the tree given, at most 64 MiB each, and values are
sanity-checked (:mod:`.parse`, :mod:`.sanity`).
"""

from .read import read_report, read_reports
from .records import RESOURCES, CosimResult, ReportError, Resource, SynthesisReport
from .table import format_table, plot_reports

__all__ = ["read_report", "read_reports", "format_table", "plot_reports", "ReportError", "SynthesisReport",
           "Resource", "CosimResult", "RESOURCES"]
