"""Write a kappa model as a pipelined Verilog project (da4ml), with its test vectors.

Layout of the project directory (``output_dir``, the only place written; built in a hidden
staging sibling and moved into place at the end, as :func:`hls.convert` does):

* ``src/<name>.v``, ``src/<name>_stage*.v``, ``src/<name>_wrapper.v``, ``src/static/*.v``:
  da4ml's Verilog (``RTLModel(..., flavor='verilog', latency_cutoff=...)``);
* ``sim/``: da4ml's Verilator harness (``build_binder.mk``, C++ binder);
* ``model/``: da4ml's pipeline and combinational logic (JSON), ``metadata.json``;
* ``tb_data/rtl_inputs.txt``: one sample per line, every input element as the integer
  code ``x * 2**f_in`` the harness drives (``f_in``: the widest input fraction);
* ``tb_data/rtl_expected.txt``: ``kappa.predict_quantized(..., strategy=
  "distributed_arithmetic")`` on the same samples, as codes ``y * 2**f_out``;
* ``tb_data/tb_input_features.dat``, ``tb_output_predictions.dat``: the same as decimal
  values, in the HLS project's format (the job's reports read them);
* ``keras_model.keras``, ``precision.yaml``: the model and types the design was traced from
  (``kappa compare`` locates a first diverging layer with them);
* ``manifest.json``: kappa's manifest with ``"kind": "rtl"`` (names, shapes, types, port
  scaling, pipeline depth in cycles, the clock period and latency cutoff it was pipelined
  for, da4ml's LUT/FF estimate, sha256 sums, tool versions).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from ..safety import check_part, check_replaceable, interruptible, publish, remove_staging, signals_blocked, staging_dir
from .trace import trace_model

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
DEFAULT_PART = "xcvu13p-flga2577-2-e"
"""da4ml's default part (UltraScale+; Yosys maps it with ``synth_xilinx -family xcup``)."""
MANIFEST = "manifest.json"
KIND = "rtl"
"""``manifest.json``'s ``kind`` for an RTL project (HLS projects have none)."""


def is_rtl_manifest(manifest: dict) -> bool:
    """True for the manifest of a project written by :func:`write_rtl`."""
    return isinstance(manifest, dict) and manifest.get("kind") == KIND


def io_scaling(comb) -> dict:
    """The harness's port scaling: the widest input/output (k, i, f) over all elements
    (da4ml ``RTLModel.predict``: inputs enter as ``floor(x * 2**f_in)`` in int32, outputs
    leave as int32 words of ``k+i+f`` bits at scale ``2**-f_out``)."""
    from da4ml.codegen.rtl.rtl_model import get_io_kifs

    kin, kout = get_io_kifs(comb)
    (ki, ii, fi), (ko, io, fo) = (tuple(int(np.max(a)) for a in kin), tuple(int(np.max(a)) for a in kout))
    return {"in_kif": [ki, ii, fi], "out_kif": [ko, io, fo]}


def _codes(y: np.ndarray, f: int) -> np.ndarray:
    c = np.asarray(y, np.float64) * 2.0 ** f
    if not np.array_equal(c, np.floor(c)):
        raise AssertionError("values off the port grid (kappa/da4ml type disagreement)")
    return c.astype(np.int64)


def _fmt(a: np.ndarray) -> str:
    return "\n".join(" ".join(repr(float(v)) for v in row) for row in np.atleast_2d(a)) + "\n"


def check_rtl_options(*, name: str, part: str, clock_period_ns, latency_cutoff) -> None:
    """Validate what reaches the Verilog and the Tcl/XDC files da4ml writes.

    Raises:
        ValueError: a name that is not a Verilog identifier, a bad part, a clock period
            that is not a positive number of ns, a negative or non-numeric latency cutoff.
    """
    if not NAME_RE.match(str(name)):
        raise ValueError(f"name {name!r} is not a Verilog identifier (letters, digits, _, starting with a letter)")
    try:
        check_part(part)
    except ValueError as exc:
        raise ValueError(f"{exc}; e.g. {DEFAULT_PART}") from None
    if isinstance(clock_period_ns, bool) or not isinstance(clock_period_ns, (int, float)) \
            or not 0 < clock_period_ns < 1e4:
        raise ValueError(f"clock_period_ns must be a positive number of ns, got {clock_period_ns!r}")
    if isinstance(latency_cutoff, bool) or not isinstance(latency_cutoff, (int, float)) \
            or not 0 <= latency_cutoff < 1e6:
        raise ValueError(f"latency_cutoff must be a number >= 0 (da4ml's delay budget per pipeline stage), "
                         f"got {latency_cutoff!r}")


def write_rtl(keras_model, precision, output_dir, *, tb_inputs=None, clock_period_ns: float = 5.0,
              latency_cutoff: float = 5.0, part: str = DEFAULT_PART, name: str = "kappa_rtl",
              drop_softmax: bool = False, force: bool = False, before_publish=None) -> Path:
    """Write the model as one pipelined Verilog design plus test vectors and a manifest.

    Args:
        keras_model, precision: as :func:`hls.rtl.trace.trace_model`.
        output_dir: the project directory (absent, or a kappa project with ``force``).
        tb_inputs: float array (N, *input_shape) or None; quantized to ``input.value``.
        clock_period_ns: the clock written into the timing constraints (ns).
        latency_cutoff: da4ml's delay budget per pipeline stage (its adder-delay units);
            0 gives a purely combinational design (0 cycles).
        part: FPGA part (letters, digits, ``-``, ``_``, ``.``).
        name: top module name (a Verilog identifier).
        drop_softmax: output the logits of a final softmax layer.
        force: replace an existing kappa project at ``output_dir`` (nothing else is replaced).
        before_publish: optional ``f(staging_dir)`` run on the finished project before it is
            moved into place (the RTL job simulates and synthesises there).

    Returns:
        the project directory.

    Raises:
        ValueError: a bad name, part, clock period, latency cutoff, or what
            :func:`trace_model` refuses (all before any file is written).
        FileExistsError: ``output_dir`` exists (without ``force``) or is not a kappa project.
    """
    check_rtl_options(name=name, part=part, clock_period_ns=clock_period_ns, latency_cutoff=latency_cutoff)
    out = check_replaceable(output_dir, force)
    X = None
    if tb_inputs is not None:
        from kappa.inputs import check_inputs, model_input_shape

        X = check_inputs(tb_inputs, model_input_shape(keras_model))
    t0 = time.perf_counter()
    tr = trace_model(keras_model, precision, drop_softmax=drop_softmax)
    trace_s = time.perf_counter() - t0
    with interruptible():
        tmp = None
        try:
            with signals_blocked():
                tmp = staging_dir(out)
            _write(tr, keras_model, X, tmp, out, name=name, part=part, clock_period_ns=clock_period_ns,
                   latency_cutoff=latency_cutoff, trace_s=trace_s)
            if before_publish is not None:
                before_publish(tmp)
            publish(tmp, out)
        except BaseException:
            if tmp is not None:
                remove_staging(tmp)
            raise
    return out


def _write(tr, keras_model, X, tmp: Path, out: Path, *, name, part, clock_period_ns, latency_cutoff, trace_s):
    from da4ml.codegen import RTLModel

    from kappa.firmware_forward import layer_outputs
    from kappa.quantization import quantize
    from kappa.utils import sha256_file

    from ..project.manifest import tool_versions, write_manifest

    scale = io_scaling(tr.comb)
    model = RTLModel(tr.comb, name, tmp, flavor="verilog", latency_cutoff=latency_cutoff, print_latency=False,
                     part_name=part, clock_period=clock_period_ns)
    model.write()
    for f in tmp.rglob("*"):  # da4ml's build scripts name the directory they were written to
        if f.is_file() and f.suffix in (".tcl", ".json", ".mk", ".sdc", ".xdc"):
            text = f.read_text()
            if str(tmp) in text:
                f.write_text(text.replace(str(tmp), str(out)))
    meta = json.loads((tmp / "metadata.json").read_text())
    tb = tmp / "tb_data"
    tb.mkdir(exist_ok=True)
    import keras

    # as a functional model: a saved Sequential reloads with its layers called several times
    keras.Model(keras_model.inputs, keras_model.outputs, name=keras_model.name).save(tmp / "keras_model.keras")
    tr.precision.save(tmp / "precision.yaml")
    files = {}
    n = 0
    if X is not None:
        n = len(X)
        emu = dict(layer_outputs(keras_model, tr.precision, X, strategy="distributed_arithmetic"))
        Y = emu[tr.steps[-1].name] if tr.steps else quantize(X, tr.input_type)
        Xq = quantize(X, tr.input_type)
        np.savetxt(tb / "rtl_inputs.txt", _codes(Xq.reshape(n, -1), scale["in_kif"][2]), fmt="%d")
        np.savetxt(tb / "rtl_expected.txt", _codes(np.asarray(Y).reshape(n, -1), scale["out_kif"][2]), fmt="%d")
        (tb / "tb_input_features.dat").write_text(_fmt(X.reshape(n, -1)))
        (tb / "tb_output_predictions.dat").write_text(_fmt(np.asarray(Y).reshape(n, -1)))
        files = {f"tb_data/{f}": sha256_file(tb / f) for f in ("rtl_inputs.txt", "rtl_expected.txt")}
    for f in sorted((tmp / "src").rglob("*.v")):
        files[f.relative_to(tmp).as_posix()] = sha256_file(f)
    files["precision.yaml"] = sha256_file(tmp / "precision.yaml")
    versions = tool_versions()
    versions.update(_rtl_versions())
    manifest = {
        "kind": KIND, "project_name": name, "top": name, "part": part, "clock_period_ns": float(clock_period_ns),
        "latency_cutoff": float(latency_cutoff), "latency_cycles": int(meta.get("latency", 0)),
        "strategy": "distributed_arithmetic", "io_type": "io_parallel",
        "input_shape": list(tr.input_shape), "output_shape": list(tr.output_shape),
        "input_type": str(tr.input_type), "output_type": str(tr.output_type),
        "n_inputs": int(tr.comb.shape[0]), "n_outputs": int(tr.comb.shape[1]), **scale,
        "layers": [st.name for st in tr.steps], "dropped_softmax": tr.dropped_softmax,
        "estimate": {"LUT": float(meta["cost"]), "FF": int(meta.get("reg_bits", 0))},
        "tb_samples": n, "trace_s": round(trace_s, 3),
        "uses_lookup_tables": bool(tr.comb.lookup_tables),
        "total_weight_bits": int(sum(int(v.size) * t.width for st in tr.steps for _, _, v, t in st.family.weights(st))),
        "sha256": files, "versions": versions,
    }
    write_manifest(tmp, manifest)


def _rtl_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("da4ml", "verilator"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out
