"""Write a kappa model as a pipelined Verilog project (da4ml), with its test vectors.

Layout of the project directory (``output_dir``, the only place written):

* ``src/<name>.v``, ``src/<name>_stage*.v``, ``src/<name>_wrapper.v``, ``src/static/*.v``:
  da4ml's Verilog (``RTLModel(..., flavor='verilog', latency_cutoff=...)``);
* ``sim/``: da4ml's Verilator harness (``build_binder.mk``, C++ binder);
* ``model/``: da4ml's pipeline and combinational logic (JSON), ``metadata.json``;
* ``tb_data/rtl_inputs.txt``: one sample per line, every input element as the integer
  code ``x * 2**f_in`` the harness drives (``f_in``: the widest input fraction);
* ``tb_data/rtl_expected.txt``: ``kappa.predict_quantized(..., strategy=
  "distributed_arithmetic")`` on the same samples, as codes ``y * 2**f_out``;
* ``rtl_manifest.json``: names, shapes, types, port scaling, pipeline depth (cycles),
  the clock period and latency cutoff it was pipelined for, da4ml's LUT/FF estimate.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from .trace import trace_model

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")
DEFAULT_PART = "xcvu13p-flga2577-2-e"
MANIFEST = "rtl_manifest.json"


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


def write_rtl(keras_model, precision, output_dir, *, tb_inputs=None, clock_period_ns: float = 5.0,
              latency_cutoff: float = 5.0, part: str = DEFAULT_PART, name: str = "kappa_rtl",
              drop_softmax: bool = False) -> Path:
    """Write the model as one pipelined Verilog design plus test vectors and a manifest.

    Args:
        keras_model, precision: as :func:`hls.rtl.trace.trace_model`.
        output_dir: the project directory (created; must be empty or absent).
        tb_inputs: float array (N, *input_shape) or None; quantized to ``input.value``.
        clock_period_ns: the clock written into the timing constraints (ns).
        latency_cutoff: da4ml's delay budget per pipeline stage (its adder-delay units);
            <= 0 gives a purely combinational design (0 cycles).
        part: FPGA part (letters, digits, ``-``, ``_``).
        name: top module name (a Verilog identifier).
        drop_softmax: output the logits of a final softmax layer.

    Returns:
        the project directory.

    Raises:
        ValueError: a bad name, part, clock period, a non-empty output_dir, or what
            :func:`trace_model` refuses (before any file is written).
    """
    from da4ml.codegen import RTLModel

    import kappa

    if not NAME_RE.match(str(name)):
        raise ValueError(f"name {name!r} is not a Verilog identifier (letters, digits, _, starting with a letter)")
    if not PART_RE.match(str(part)):
        raise ValueError(f"part {part!r} is not a part name (letters, digits, '-', '_'), e.g. {DEFAULT_PART}")
    if not (isinstance(clock_period_ns, (int, float)) and 0 < clock_period_ns < 1e4):
        raise ValueError(f"clock_period_ns must be a positive number of ns, got {clock_period_ns!r}")
    out = Path(output_dir)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"output_dir {str(out)!r} exists and is not empty; give a new or empty directory")
    t0 = time.perf_counter()
    tr = trace_model(keras_model, precision, drop_softmax=drop_softmax)
    trace_s = time.perf_counter() - t0
    scale = io_scaling(tr.comb)
    X = None
    if tb_inputs is not None:
        X = np.asarray(tb_inputs, np.float64)
        emu = kappa.firmware_forward.layer_outputs(keras_model, precision, X, strategy="distributed_arithmetic")
        Y = dict(emu)[tr.steps[-1].name] if tr.steps else kappa.quantize(X, tr.input_type)
        Xq = kappa.quantize(X, tr.input_type)
    out.mkdir(parents=True, exist_ok=True)
    model = RTLModel(tr.comb, name, out, flavor="verilog", latency_cutoff=latency_cutoff, print_latency=False,
                     part_name=part, clock_period=clock_period_ns)
    model.write()
    meta = json.loads((out / "metadata.json").read_text())
    tb = out / "tb_data"
    tb.mkdir(exist_ok=True)
    n = 0
    if X is not None:
        n = len(X)
        xc = _codes(Xq.reshape(n, -1), scale["in_kif"][2])
        yc = _codes(np.asarray(Y).reshape(n, -1), scale["out_kif"][2])
        np.savetxt(tb / "rtl_inputs.txt", xc, fmt="%d")
        np.savetxt(tb / "rtl_expected.txt", yc, fmt="%d")
    manifest = {
        "kind": "rtl", "top": name, "part": part, "clock_period_ns": float(clock_period_ns),
        "latency_cutoff": float(latency_cutoff), "latency_cycles": int(meta.get("latency", 0)),
        "strategy": "distributed_arithmetic",
        "input_shape": list(tr.input_shape), "output_shape": list(tr.output_shape),
        "input_type": str(tr.input_type), "output_type": str(tr.output_type),
        "n_inputs": int(tr.comb.shape[0]), "n_outputs": int(tr.comb.shape[1]), **scale,
        "layers": [st.name for st in tr.steps],
        "estimate": {"LUT": float(meta["cost"]), "FF": int(meta.get("reg_bits", 0))},
        "tb_samples": n, "trace_s": round(trace_s, 3),
        "uses_lookup_tables": bool(tr.comb.lookup_tables),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return out
