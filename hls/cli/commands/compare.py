"""``kappa compare``: C simulation vs the Python firmware forward, bit for bit."""

from __future__ import annotations

from ...safety import strict_json
from ..exit_status import MISMATCH, SUCCESS, UsageError
from .project_args import EPILOG_TEMPLATE, add_project_arguments, is_rtl_project, project_dir

SUMMARY = "C simulation (or, for an RTL project, Verilator) vs the Python quantized forward path, bit for bit"
EPILOG = EPILOG_TEMPLATE.format(name="compare") + (
    "; 4 project modified since it was written (a file differs from the sha256 in manifest.json: nothing compared; "
    "--trust-modified compares anyway)")


def add_arguments(p) -> None:
    """The options of ``kappa compare``."""
    add_project_arguments(p)
    p.add_argument("--no-trace", action="store_true", help="on a mismatch, do not look for the first divergent layer")
    p.add_argument("--markdown", action="store_true", help="print the Markdown report")
    p.add_argument("--trust-modified", action="store_true",
                   help="compare a project whose files differ from its manifest's sha256 values anyway (the report "
                        "lists them); without it such a project exits 4 and nothing is compared")


def run(args) -> int:
    """Compare and print the verdict; MISMATCH when any output differs.

    Raises:
        UsageError: not a project, or a manifest lacking a key. CsimError / ValueError /
            FileNotFoundError / ProjectModifiedError (exit 4): as :func:`hls.sim.compare.compare`.
    """
    from hls.sim.compare import compare

    prj = project_dir(args.project)
    try:
        if is_rtl_project(prj):
            from hls.rtl.verilator import compare_rtl

            rep = compare_rtl(prj, trace=not args.no_trace)
        else:
            rep = compare(prj, quiet=args.quiet or args.json, trace=not args.no_trace,
                          trust_modified=args.trust_modified)
    except KeyError as e:
        raise UsageError(f"{prj}: manifest.json lacks {e}") from None
    if args.json:
        print(strict_json(rep.to_dict(), indent=2, default=str))
    elif args.markdown:
        print(rep.to_markdown(), end="")
    else:
        print(rep.summary_line())
        for m in rep.first_mismatches:
            print(f"  sample {m['sample']} output {m['output']}: expected {m['expected']!r}, got {m['got']!r}")
        if rep.divergence:
            d = rep.divergence
            print(f"  first divergent layer: {d.layer} (sample {d.sample}, element {d.index}: "
                  f"firmware {d.firmware!r}, Python {d.python!r})")
    return SUCCESS if rep.bit_exact else MISMATCH

