"""PrecisionDict -> hls4ml configuration -> HLS C++ project with self-checking testbench.

``convert`` writes the project with hls4ml's own converter and writer, then:

* puts the testbench data in ``tb_data/`` (inputs quantized to the input type and
  exactly representable in float32; expected outputs from ``predict_quantized`` with 17
  significant digits, which round-trip float64 exactly);
* replaces hls4ml's testbench (which never compares) with kappa's, which compares every
  output bit for bit (:mod:`hls.project.testbench`);
* reads the emitted C++ typedefs and weight files back and fails if any differs from the
  PrecisionDict or the Python weights;
* records the full PrecisionDict (training-only fields included) and a manifest with
  sha256 sums and tool versions.

The project is built in a temporary sibling directory and moved into place only when
everything succeeded, so a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kappa.firmware_forward import FirmwarePlan, firmware_plan, run_plan
from kappa.fixed_point import FixedPointType
from kappa.inputs import check_model_inputs
from kappa.layers import FirmwareOptions
from kappa.precision import ensure_precision_dict
from kappa.quantization import quantize
from kappa.utils import sha256_file

from ..quiet import captured_output
from ..safety import (
    check_hls_options,
    check_layer_name,
    check_replaceable,
    interruptible,
    publish,
    remove_staging,
    signals_blocked,
    staging_dir,
)
from .integrity import source_hashes
from .manifest import tool_versions, write_manifest
from .options import BACKENDS, DEFAULT_CLOCK_NS, DEFAULT_PART, IO_TYPES, PROJECT_NAME, STRATEGIES
from .testbench import write_testbench

PRECISION_KEYS = ("result", "accum", "weight", "bias", "scale", "param", "embeddings")
"""hls4ml precision keys set through a layer's ``Precision`` entry; the others (``table``,
``exp_table``, ``inv_table``, ``inv_inp``, ``inp_norm``) are ignored there by hls4ml 1.3.0
and must be given as ``<key>_t`` attributes of the layer's configuration."""
WEIGHT_KEYS = ("weight", "bias", "scale", "embeddings")


@dataclass
class FirmwareType:
    """Where one type lives in firmware: hls4ml layer, hls4ml precision key, C++ typedef name."""

    layer: str
    key: str  # result / weight / bias / accum
    cpp_name: str
    expected: FixedPointType
    emitted: str  # the C++ type hls4ml wrote for the typedef


def _keras_model(model):
    import keras

    km = getattr(model, "model", model)
    if not isinstance(km, keras.Model):
        raise TypeError(f"expected a keras.Model or a kappa model wrapping one, got {type(model).__name__}")
    return km


def firmware_types(plan: FirmwarePlan) -> dict:
    """Map a firmware plan onto hls4ml's per-layer precision keys.

    Args:
        plan: from :func:`kappa.firmware_forward.firmware_plan` (with a PrecisionDict).

    Returns:
        ``{hls4ml layer: {key: FixedPointType}}`` (layers hls4ml inserts included, for the
        read-back; each input layer under its Keras name with key ``result``).

    Raises:
        ValueError: one error listing every firmware type that is missing (hls4ml would
            infer it with ``auto``), stochastic, or otherwise not exportable.
    """
    precision, steps = plan.precision, plan.steps
    if precision is None:
        raise ValueError("convert needs a PrecisionDict: firmware types cannot be left to hls4ml's 'auto'")
    problems = []
    out: dict[str, dict[str, FixedPointType]] = {}

    def need(t, where):
        if t is None:
            problems.append(f"{where}: no type given (neither the layer nor 'default' names it); "
                            f"kappa never leaves a firmware type to hls4ml's 'auto'")
            return None
        try:
            t.check_firmware(where)
        except ValueError as exc:
            problems.append(str(exc))
            return None
        return t

    types = {}
    for name, t in zip(plan.inputs, plan.input_types):
        types[name] = need(t, "input.value" if len(plan.inputs) == 1 else f"input.value (or {name}.value)")
        out[name] = {"result": types[name]}
    for st in steps:
        prev = types.get(st.inputs[0]) if st.inputs else None
        problems.extend(st.family.export_problems(st, prev))
        keys = {key: need(t, where) for key, (t, where) in st.family.hls_precision(st).items()}
        if keys:
            out[st.name] = keys
        types[st.name] = keys.get("result", prev)
    if problems:
        raise ValueError("the PrecisionDict cannot be exported to firmware:\n  " + "\n  ".join(problems))
    return out


@contextlib.contextmanager
def _no_da_fallback():
    """hls4ml 1.3.0's ``config_from_keras_model`` parses a Keras 3 model with
    ``parse_keras_v3_model(model)``, whose ``allow_da_fallback`` defaults to True and cannot be
    passed: while it runs, the parser it looks up takes ``allow_da_fallback=False`` (as
    :func:`convert` passes it to ``convert_from_keras_model``)."""
    import hls4ml.converters as conv

    original = conv.parse_keras_v3_model
    conv.parse_keras_v3_model = functools.partial(original, allow_da_fallback=False)
    try:
        yield
    finally:
        conv.parse_keras_v3_model = original


def _hls_input_names(layer_precisions: dict, input_layers, km) -> dict:
    """``layer_precisions`` with each model input under the name hls4ml gives its input layer.

    hls4ml's Keras 3 parser names an input layer after the input tensor, which is the
    ``InputLayer``'s name only when ``keras.Input(name=...)`` set it; an unnamed input is
    ``input_layer`` to Keras but ``keras_tensor...`` to hls4ml.
    """
    out = dict(layer_precisions)
    for layer_name, tensor in zip(input_layers, getattr(km, "inputs", None) or []):
        tensor_name = getattr(tensor, "name", layer_name)
        if tensor_name != layer_name and layer_name in out:
            out[tensor_name] = out.pop(layer_name)
    return out


def hls_config(km, layer_precisions, steps, opts: FirmwareOptions, backend) -> dict:
    """The hls4ml configuration (``granularity="name"``) that sets every type of
    ``layer_precisions`` (from :func:`firmware_types`) and the plan's options."""
    import hls4ml

    with captured_output("hls4ml"), _no_da_fallback():  # its parser prints per layer; logged at DEBUG (-v)
        config = hls4ml.utils.config_from_keras_model(km, granularity="name", backend=backend)
    # distributed_arithmetic: hls4ml raises for any layer but Dense/Conv under it, so the model
    # default stays Latency and only Dense/Conv layers get the strategy
    da = opts.strategy == "distributed_arithmetic"
    config["Model"]["Strategy"] = "Latency" if da else opts.strategy
    config["Model"]["ReuseFactor"] = opts.reuse_factor
    inserted = {st.name for st in steps if st.family.inserted}
    by_name = {st.name: st for st in steps}
    for name, keys in layer_precisions.items():
        if name in inserted:
            continue  # created by hls4ml's optimizer; its type is read back after conversion
        if name not in config["LayerName"]:
            raise RuntimeError(f"hls4ml produced no configuration entry for layer {name!r}: "
                               f"its layers are {list(config['LayerName'])}")
        entry = config["LayerName"][name]
        entry["Trace"] = True  # trace hooks are compiled out in synthesis (#ifndef __SYNTHESIS__)
        entry["Strategy"] = opts.strategy
        if da and (name not in by_name or by_name[name].family.name not in ("dense", "conv")):
            entry["Strategy"] = "Latency"
        entry["ReuseFactor"] = opts.reuse_factor
        for key, t in keys.items():
            if key in PRECISION_KEYS:
                entry.setdefault("Precision", {})[key] = str(t)
            else:  # table types: hls4ml reads them as layer attributes (<key>_t), not from 'Precision'
                entry[f"{key}_t"] = str(t)
        step = by_name.get(name)
        if step is not None:
            entry.update(step.family.hls_config(step))
    return config


_TYPEDEF = re.compile(r"typedef\s+(.+?)\s+(\w+)\s*;")
_PACKED = re.compile(r"nnet::array<\s*(.+?)\s*,\s*[^,<>]+>$")


def read_emitted_typedefs(project_dir: Path) -> dict[str, str]:
    """``{typedef name: C++ type}`` from ``firmware/defines.h`` (as hls4ml wrote it)."""
    text = (Path(project_dir) / "firmware" / "defines.h").read_text()
    return {name: ctype for ctype, name in _TYPEDEF.findall(text)}


_CONFIG_STRUCT = re.compile(r"struct\s+\w*?config(\d+)\s*:[^{]*\{(.*?)\n\};", re.S)


def _config_struct_typedefs(project_dir: Path) -> dict[tuple[int, str], str]:
    """``{(layer index, typedef name): C++ type}`` declared inside ``firmware/parameters.h``'s
    config structs (hls4ml writes, e.g., a softmax's ``inp_norm_t`` there, not in defines.h)."""
    text = (Path(project_dir) / "firmware" / "parameters.h").read_text()
    out = {}
    for idx, body in _CONFIG_STRUCT.findall(text):
        for ctype, name in _TYPEDEF.findall(body):
            out[(int(idx), name)] = ctype
    return out


def _check_emitted_types(hls_model, project_dir: Path, layer_precisions, optional=()) -> list[FirmwareType]:
    """Compare every C++ typedef hls4ml wrote with the PrecisionDict's type.

    Raises:
        RuntimeError: a layer/type missing from the emitted code, or a type that differs.
    """
    typedefs = read_emitted_typedefs(project_dir)
    config_typedefs = _config_struct_typedefs(project_dir)
    layers = {layer.name: layer for layer in hls_model.get_layers()}
    checked, problems = [], []
    for lname, keys in layer_precisions.items():
        layer = layers.get(lname)
        if layer is None and lname in optional:
            continue  # a Flatten/Reshape hls4ml dropped (at the model's end): its output is its input
        if layer is None:
            problems.append(f"layer {lname!r} is not in the hls4ml model (its layers: {list(layers)})")
            continue
        for key, expected in keys.items():
            if key == "result":
                tname = layer.get_output_variable().type.name
            elif key in WEIGHT_KEYS:
                tname = layer.get_weights(key).type.name
            else:
                attr = layer.get_attr(f"{key}_t")
                if attr is None:
                    problems.append(f"{lname}.{key}: hls4ml's layer has no {key}_t")
                    continue
                tname = attr.name
            ctype = typedefs.get(tname) or config_typedefs.get((layer.index, f"{key}_t"))
            packed = ctype and _PACKED.match(ctype)
            if packed:  # io_stream: nnet::array<element type, n> per stream word
                ctype = packed.group(1)
            if ctype is None:
                problems.append(f"{lname}.{key}: typedef {tname!r} not found in firmware/defines.h")
                continue
            got = FixedPointType.from_string(ctype)
            if got != expected:
                problems.append(f"{lname}.{key}: firmware has {ctype} ({tname}), PrecisionDict says {expected}")
            checked.append(FirmwareType(lname, key, tname, expected, ctype))
    if problems:
        raise RuntimeError("emitted C++ types differ from the PrecisionDict:\n  " + "\n  ".join(problems))
    return checked


def _check_weights_read_back(hls_model, project_dir: Path, steps) -> None:
    """Parse ``firmware/weights/*.txt`` as the C++ does (decimal -> double -> weight_t).

    Raises:
        RuntimeError: any weight or bias that reads back to a different value.
    """
    layers = {layer.name: layer for layer in hls_model.get_layers()}
    problems = []
    for st in steps:
        for key, _, values, t in st.family.weights(st):
            var = layers[st.name].get_weights(key)
            path = project_dir / "firmware" / "weights" / f"{var.name}.txt"
            text = path.read_text().strip()
            parsed = np.array([float(tok) for tok in text.split(",")], dtype=np.float64)
            got = quantize(parsed, t)
            # hls4ml writes kernels in Keras order, row-major ((n_in, n_out) for Dense,
            # (kh, kw, C, F) for convolutions); the Resource strategy stores the (n_in, n_out)
            # matrix transposed. Either layout must match element for element.
            wq = quantize(values, t)
            want = wq.ravel()
            transposed = wq.reshape(-1, wq.shape[-1]).T.ravel() if wq.ndim >= 2 else want
            if got.size != want.size:
                problems.append(f"{path.name}: {got.size} values, expected {want.size}")
            elif not np.array_equal(got, want) and not np.array_equal(got, transposed):
                k = int(np.flatnonzero(got != want)[0])
                problems.append(f"{path.name}[{k}] reads back as {got[k]!r}, Python has {want[k]!r}")
    if problems:
        raise RuntimeError("weights written by hls4ml do not read back exactly:\n  " + "\n  ".join(problems))


def _fmt(a: np.ndarray) -> str:
    return "\n".join(" ".join(repr(float(v)) for v in row) for row in np.atleast_2d(a)) + "\n"


def convert(
    model,
    precision_dict,
    output_dir,
    tb_inputs=None,
    *,
    backend: str = "Vitis",
    part: str = DEFAULT_PART,
    clock_period: float = DEFAULT_CLOCK_NS,
    io_type: str = "io_parallel",
    strategy: str = "Latency",
    reuse_factor: int = 1,
    layer_options=None,
    force: bool = False,
    before_publish=None,
) -> Path:
    """Write an hls4ml HLS project for ``model`` with every type from ``precision_dict``.

    Args:
        model: a ``keras.Model`` or a kappa model (its ``.model``) of supported layers
            (``kappa.layers.SUPPORTED_LAYERS_STRICT``).
        precision_dict: PrecisionDict, dict or YAML/JSON path; every firmware type
            (input value, Dense weight/bias/accumulator/activation, ReLU activation)
            must be given, directly or through ``default``.
        output_dir: project directory to create.
        tb_inputs: testbench inputs, shape (N, *input_shape), or a list of such arrays for
            a model with several inputs (``model.inputs`` order); each is quantized to its
            input type. None writes no testbench data.
        backend: "Vitis" (default) or "Vivado".
        part: FPGA part number. clock_period: target clock in ns.
        io_type: "io_parallel" or "io_stream". strategy: "Latency", "Resource" or
            "distributed_arithmetic" (hls4ml 1.3.0 with da4ml; Dense and Conv layers only,
            reuse factor 1: the product is exact, then cast once to the result type).
        reuse_factor: >= 1. layer_options: per-layer options ``{layer: {option: value}}``
            (the same as ``predict_quantized``'s).
        force: replace an existing ``output_dir`` that is a kappa project (holds kappa's
            ``manifest.json``). Anything else there is never deleted, even with ``force``.
        before_publish: optional ``f(staging_dir)`` called with the finished project before
            it is moved into place (the main job compiles and C-simulates there, so an
            interruption never leaves a half project).

    Returns:
        Path of the project directory.

    Raises:
        FileExistsError: ``output_dir`` exists and ``force`` is False, or it exists and is
            not a kappa project (names what is there).
        ValueError: bad option (backend, part, clock period, io_type, strategy, reuse
            factor: anything that could reach Tcl is validated), a layer name that is not a
            C++ identifier, unsupported layer, missing/stochastic firmware type, tb_inputs
            of the wrong shape or non-finite, inputs that are not exactly representable in
            float32 after quantization.
        KeyboardInterrupt: SIGINT or SIGTERM; nothing new is left on disk.
        RuntimeError: hls4ml emitted a type or weight that differs from kappa's.
    """

    opts = check_hls_options(backends=BACKENDS, io_types=IO_TYPES, strategies=STRATEGIES, backend=backend,
                             part=part, clock_period=clock_period, io_type=io_type, strategy=strategy,
                             reuse_factor=reuse_factor)
    part, clock_period, reuse_factor = opts["part"], opts["clock_period"], opts["reuse_factor"]
    fw_opts = FirmwareOptions(io_type, strategy, reuse_factor, layer_options or {})
    output_dir = check_replaceable(output_dir, force)

    km = _keras_model(model)
    for layer in km.layers:
        check_layer_name(layer.name)
    precision = ensure_precision_dict(precision_dict)
    if precision is None:
        raise ValueError("convert needs a PrecisionDict: firmware types cannot be left to hls4ml's 'auto'")
    plan = firmware_plan(km, precision, fw_opts)  # validated and resolved once, read by everything below
    layer_precisions = firmware_types(plan)

    X = None
    if tb_inputs is not None:
        X = []
        for name, x, in_t in zip(plan.inputs, check_model_inputs(tb_inputs, km, what="tb_inputs"), plan.input_types):
            x = quantize(x, in_t)  # (N, *input_shape)
            bad = x.astype(np.float32).astype(np.float64) != x
            if bad.any():
                k = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    f"input {name!r}: {x[k]!r} at {k} (type {in_t}) is not exactly representable in float32, and "
                    f"the testbench reads inputs as float: use an input type with at most 24 significant bits"
                )
            X.append(x)

    # Keras copy with weights on their grids (hls4ml prints them with F decimals: exact).
    km_q = quantized_copy(km, plan.steps)
    layer_precisions = _hls_input_names(layer_precisions, plan.inputs, km_q)
    config = hls_config(km_q, layer_precisions, plan.steps, fw_opts, backend)

    with interruptible():  # SIGTERM -> KeyboardInterrupt: the staging directory is removed
        tmp = None
        try:
            with signals_blocked():
                tmp = staging_dir(output_dir)
            _write_project(plan, km_q, config, tmp, output_dir, X, layer_precisions,
                           backend=backend, part=part, clock_period=clock_period)
            if before_publish is not None:
                before_publish(tmp)
            publish(tmp, output_dir)
        except BaseException:
            if tmp is not None:
                remove_staging(tmp)
            raise
    return output_dir


def _write_project(plan: FirmwarePlan, km_q, config, tmp, output_dir, X, layer_precisions, *,
                   backend, part, clock_period) -> None:
    """Write the complete project for ``plan`` into the staging directory ``tmp`` (see :func:`convert`)."""
    import hls4ml

    km, steps, opts = plan.keras_model, plan.steps, plan.opts
    io_type, strategy, reuse_factor = opts.io_type, opts.strategy, opts.reuse_factor

    # hls4ml prints ("da4ml not installed", "Keras v2 handler used for layer ..."): captured and
    # logged at DEBUG (shown with -v). No DA fallback: hls4ml's Keras 3 parser would otherwise try
    # a da4ml fallback first for layers without a Keras 3 handler (BatchNormalization) once da4ml
    # is importable; kappa emulates hls4ml's own layers, so installing da4ml changes no project.
    with captured_output("hls4ml"):
        hls_model = hls4ml.converters.convert_from_keras_model(
            km_q, hls_config=config, output_dir=str(tmp), project_name=PROJECT_NAME, backend=backend,
            part=part, clock_period=clock_period, io_type=io_type, allow_da_fallback=False,
        )
    _set_computed_weights(hls_model, steps)  # e.g. BatchNormalization's scale and bias, from kappa
    # Emit nnet::save_layer_output hooks (C simulation only, #ifndef __SYNTHESIS__).
    # hls4ml reads TraceOutput from its top-level config, not from hls_config['Model'].
    hls_model.config.trace_output = True
    with captured_output("hls4ml"):
        hls_model.write()
    # hls4ml records its output directory; point it at the final location so
    # hls4ml's build()/link_existing_project work on the moved project.
    cfg_yml = tmp / "hls4ml_config.yml"
    cfg_yml.write_text(cfg_yml.read_text().replace(str(tmp), str(output_dir)))
    check_precisions, check_steps = layer_precisions, steps
    if strategy == "distributed_arithmetic":  # hls4ml writes Dense/Conv weights as constants of the DA kernel
        da_layers = {st.name for st in steps if st.family.name in ("dense", "conv")}
        check_precisions = {n: {k: t for k, t in keys.items() if n not in da_layers or k not in ("weight", "bias")}
                            for n, keys in layer_precisions.items()}
        check_steps = [st for st in steps if st.name not in da_layers]
    checked = _check_emitted_types(hls_model, tmp, check_precisions,
                                   optional={st.name for st in steps if st.family.passthrough})
    _check_weights_read_back(hls_model, tmp, check_steps)
    traced = [(layer.name, int(layer.get_output_variable().size())) for layer in hls_model.get_layers()
              if layer.get_attr("trace", False) and layer.class_name != "Input"]
    ins, outs = hls_model.get_input_variables(), hls_model.get_output_variables()
    if len(ins) != len(plan.inputs) or len(outs) != len(plan.outputs):
        raise RuntimeError(f"hls4ml's top function has {len(ins)} inputs and {len(outs)} outputs; the model has "
                           f"{len(plan.inputs)} and {len(plan.outputs)}")
    write_testbench(tmp / f"{PROJECT_NAME}_test.cpp", PROJECT_NAME, [int(v.size()) for v in ins],
                    [int(v.size()) for v in outs], traced, [v.type.name for v in ins], [v.type.name for v in outs],
                    io_type=io_type)
    tb = tmp / "tb_data"
    tb.mkdir(exist_ok=True)
    files = {}
    if X is not None:
        Y = run_plan(plan, X if len(X) > 1 else X[0])  # the emulator on the same plan as the writer
        Y = Y if isinstance(Y, list) else [Y]
        # one line per sample: every input (output) flattened in channels_last order, as hls4ml streams
        # it, and concatenated in the top function's argument order, as hls4ml's own testbench reads them
        flat = lambda arrays: np.concatenate([a.reshape(len(a), -1) for a in arrays], axis=1)  # noqa: E731
        (tb / "tb_input_features.dat").write_text(_fmt(flat(X)))
        (tb / "tb_output_predictions.dat").write_text(_fmt(flat(Y)))
        files = {f"tb_data/{n}": sha256_file(tb / n) for n in ("tb_input_features.dat", "tb_output_predictions.dat")}
    plan.resolved_precision().save(tmp / "precision.yaml")
    files["precision.yaml"] = sha256_file(tmp / "precision.yaml")
    for wf in sorted((tmp / "firmware" / "weights").glob("*.txt")):
        files[f"firmware/weights/{wf.name}"] = sha256_file(wf)
    files.update(source_hashes(tmp))  # firmware sources, testbench, Keras model: checked by compare
    total_weight_bits = sum(int(v.size) * t.width for st in steps for _, _, v, t in st.family.weights(st))
    manifest = {
        "project_name": PROJECT_NAME,
        "backend": backend, "part": part, "clock_period_ns": clock_period, "io_type": io_type,
        "strategy": strategy, "reuse_factor": reuse_factor,
        "layer_options": dict(opts.layer_options),
        "input_shape": list(int(d) for d in km.inputs[0].shape[1:]),
        "input_type": str(plan.input_type),
        "output_type": _output_type(plan, hls_model, tmp),
        "inputs": [{"name": n, "shape": [int(d) for d in t.shape[1:]], "type": str(ty)}
                   for n, t, ty in zip(plan.inputs, km.inputs, plan.input_types)],
        "outputs": [{"name": n, "size": int(np.prod(t.shape[1:])), "type": str(ty)}
                    for n, t, ty in zip(plan.outputs, km.outputs, plan.output_types)],
        "layers": [{"layer": c.layer, "key": c.key, "typedef": c.cpp_name, "type": str(c.expected)} for c in checked],
        "traced_layers": [{"name": n, "size": s} for n, s in traced],
        "tb_samples": 0 if X is None else int(X[0].shape[0]),
        "total_weight_bits": total_weight_bits,
        "sha256": files,
        "versions": tool_versions(),
    }
    write_manifest(tmp, manifest)


def _output_type(plan: FirmwarePlan, hls_model, project_dir: Path) -> str:
    """The compared output type of the first output: the plan's last result type
    (:attr:`FirmwarePlan.output_type`). Every output's type is checked against the C++ type of
    hls4ml's output variable as written.

    Raises:
        RuntimeError: an emitted output type differs from the plan's (a kappa bug).
    """
    emitted = read_emitted_typedefs(project_dir)
    for outv, out_t in zip(hls_model.get_output_variables(), plan.output_types):
        ctype = emitted.get(outv.type.name)
        packed = ctype and _PACKED.match(ctype)
        if packed:
            ctype = packed.group(1)
        if ctype is not None and out_t is not None and FixedPointType.from_string(ctype) != out_t:
            raise RuntimeError(f"hls4ml's output {outv.type.name} is {ctype}, the plan's result type is {out_t}")
    return str(plan.output_type)


def _set_computed_weights(hls_model, steps) -> None:
    """Put kappa's values of weights that hls4ml computes itself (BatchNormalization scale and
    bias, from gamma/beta/mean/variance in float32) into the hls4ml model before it is written."""
    layers = {layer.name: layer for layer in hls_model.get_layers()}
    for st in steps:
        for key, attr, values, t in st.family.weights(st):
            if attr is None:
                var = layers[st.name].get_weights(key)
                q = quantize(values, t)
                if var.data.shape != q.shape and var.data.size == q.size:
                    q = q.reshape(var.data.shape)
                var.data = q
                var.min, var.max = float(np.min(q)), float(np.max(q))
                var.nonzeros = int(np.count_nonzero(q))
                var.nzeros = var.data_length - var.nonzeros


def quantized_copy(km, steps):
    """Clone of ``km`` whose kernels/biases are quantized to their types (what hls4ml is given).

    Raises:
        ValueError: a quantized weight that float32 (Keras storage) cannot hold exactly.
    """
    import keras

    clone = keras.models.clone_model(km)
    clone.set_weights(km.get_weights())
    layers = {layer.name: layer for layer in clone.layers}
    for st in steps:
        for key, attr, values, t in st.family.weights(st):
            if attr is None:
                continue  # computed by hls4ml; replaced in the hls4ml model (_set_computed_weights)
            q = quantize(values, t)
            if not np.array_equal(q.astype(np.float32).astype(np.float64), q):
                raise ValueError(f"layer {st.name!r}: {key} type {t} needs more than float32's 24-bit significand; "
                                 "Keras cannot hold these weights exactly")
            getattr(layers[st.keras_name], attr).assign(q.astype(np.float32))
    return clone
