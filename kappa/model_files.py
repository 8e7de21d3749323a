"""Defensive reading of model files (:func:`kappa.loading.load_model`): sizes are checked
before anything is allocated or read, and nothing outside the file is followed.

* JSON (architectures, ``config.json``): at most :data:`MAX_JSON_BYTES`, nesting refused
  beyond Python's recursion limit with a ``ValueError`` naming the file (:func:`read_json`).
* Architecture: the weights it declares (Dense ``n_in * units + units``, Conv
  ``prod(kernel_size) * c_in * filters + filters``, BatchNormalization ``4 * c``) and every
  layer's output per sample, at 4 bytes (float32) a value, must fit the weight budget
  (:func:`weight_budget`), checked on the unbuilt layers, before Keras allocates a variable
  (:func:`check_architecture`).
* HDF5 (:func:`check_h5`): only hard links (no external or soft links), no dataset with
  external storage (``H5Pget_external_count``) or a virtual layout (both read other files),
  no declared dataset far larger than all weights of the architecture together (exact shapes
  are compared with each layer's weights before a dataset is read, by the loader), and declared
  sizes in total within the budget -- all from the metadata, before a dataset is read.
* ``.keras`` archives (:func:`open_archive`): a zip file (else ``ValueError``), each
  member's uncompressed size (``ZipInfo.file_size``) within the budget and a compression
  ratio of at most :data:`MAX_COMPRESSION_RATIO` for members over 1 MiB, before extraction.
* Values (:func:`check_finite`): a weight holding NaN or +-inf is refused, naming the
  layer, the weight and the index.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

DEFAULT_MAX_WEIGHT_BYTES = 2 * 2**30
"""Default weight budget (2 GiB); ``$KAPPA_MAX_WEIGHT_BYTES`` or an argument overrides it."""
ENV_MAX_WEIGHT_BYTES = "KAPPA_MAX_WEIGHT_BYTES"
MAX_JSON_BYTES = 64 * 2**20
"""Largest architecture JSON read (64 MiB; real ones are kilobytes)."""
MAX_COMPRESSION_RATIO = 200
"""Largest uncompressed/compressed size ratio of a ``.keras`` member over 1 MiB (float
weights compress by at most ~10x; all-zero weights by ~1000x, so a larger budget is not
a protection: the ratio is what tells a bomb)."""
DATASET_SLACK = 16
"""A declared dataset may hold at most this many times the architecture's weight count (an
optimizer keeps about 3 values per weight; a file of another architecture gets the loader's
exact shape message instead)."""
BYTES_PER_VALUE = 4  # Keras holds weights and activations as float32


def weight_budget(limit=None) -> int:
    """The weight budget in bytes: ``limit``, else ``$KAPPA_MAX_WEIGHT_BYTES``, else 2 GiB.

    Raises:
        ValueError: a limit (or the variable) that is not a positive integer.
    """
    src = "max_weight_bytes"
    if limit is None:
        env = os.environ.get(ENV_MAX_WEIGHT_BYTES)
        if env is None:
            return DEFAULT_MAX_WEIGHT_BYTES
        limit, src = env, ENV_MAX_WEIGHT_BYTES
        with contextlib.suppress(ValueError):
            limit = int(env)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"{src}={limit!r} is not a positive number of bytes")
    return limit


def _size(n_bytes: float) -> str:
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.3g} GiB"
    return f"{n_bytes / 2**20:.3g} MiB" if n_bytes >= 2**20 else f"{int(n_bytes):,} bytes"


def read_json(data: bytes | str, where: str):
    """Parse JSON from a model file.

    Raises:
        ValueError: more than :data:`MAX_JSON_BYTES`, not JSON, or nested too deeply
            (names ``where``).
    """
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"{where}: the architecture JSON is {_size(len(data))}, more than the "
                         f"{_size(MAX_JSON_BYTES)} kappa reads")
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError(f"{where}: the JSON is nested too deeply to be a model architecture") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: not valid JSON ({exc})") from None


def _params(layer, shape) -> int:
    """Weights of ``layer`` (unbuilt) on input ``shape`` (batch first), as Keras creates them."""
    import keras

    c_in = shape[-1] if len(shape) > 1 and shape[-1] is not None else 0
    bias = lambda n: n if getattr(layer, "use_bias", False) else 0  # noqa: E731
    if isinstance(layer, keras.layers.Dense):
        return c_in * layer.units + bias(layer.units)
    if hasattr(layer, "filters") and hasattr(layer, "kernel_size"):
        return math.prod(layer.kernel_size) * c_in * layer.filters + bias(layer.filters)
    if hasattr(layer, "depth_multiplier") and hasattr(layer, "kernel_size"):  # depthwise
        n = c_in * int(layer.depth_multiplier)
        return math.prod(layer.kernel_size) * n + bias(n)
    if isinstance(layer, keras.layers.BatchNormalization):
        return 4 * c_in
    if isinstance(layer, keras.layers.Embedding):
        return int(layer.input_dim) * int(layer.output_dim)
    if isinstance(layer, keras.layers.PReLU):
        return math.prod(d for d in shape[1:] if d is not None)
    return 0


def check_input(input_shape: tuple, where: str, budget: int) -> None:
    """Refuse an input of more than ``budget`` bytes per sample (4 bytes a value).

    Raises:
        ValueError: names the shape and the budget.
    """
    n_in = math.prod(int(d) for d in input_shape)
    if n_in * BYTES_PER_VALUE > budget:
        raise ValueError(f"{where}: the input shape {tuple(input_shape)} holds {n_in:,} values per sample "
                         f"({_size(n_in * BYTES_PER_VALUE)}), more than the weight budget {_size(budget)} "
                         f"(max_weight_bytes / ${ENV_MAX_WEIGHT_BYTES})")


def check_layer(layer, in_shape, total: int, where: str, budget: int) -> int:
    """Size one unbuilt ``layer`` fed ``in_shape`` (a shape with the batch dimension, or a
    list of them for a merge): refuse it when the weights declared so far (``total`` plus
    this layer's) or its output per sample exceed ``budget`` bytes; nothing is allocated.

    Returns:
        The weight values declared up to and including this layer.

    Raises:
        ValueError: names the layer and the size.
    """
    first = in_shape[0] if isinstance(in_shape, list) else in_shape
    total += _params(layer, first)
    if total * BYTES_PER_VALUE > budget:
        raise ValueError(f"{where}: the architecture declares {total:,} weights up to layer {layer.name!r} "
                         f"({_size(total * BYTES_PER_VALUE)} as float32), more than the weight budget "
                         f"{_size(budget)}; raise it with max_weight_bytes= or ${ENV_MAX_WEIGHT_BYTES} if this "
                         "model is meant to be that large")
    try:
        shape = tuple(layer.compute_output_shape(in_shape))
    except Exception:  # noqa: BLE001 - Keras reports the bad shape itself when it builds
        return total
    n_out = math.prod(d for d in shape[1:] if d is not None)
    if n_out * BYTES_PER_VALUE > budget:
        raise ValueError(f"{where}: layer {layer.name!r} outputs {n_out:,} values per sample "
                         f"({_size(n_out * BYTES_PER_VALUE)}), more than the budget {_size(budget)}")
    return total


def check_architecture(input_shape: tuple, layers: list, where: str, budget: int) -> int:
    """Refuse a chain of unbuilt ``layers`` on an input of ``input_shape`` (no batch
    dimension) whose weights, input or any layer output (per sample) would exceed ``budget``
    bytes at 4 bytes a value (:func:`check_input`, :func:`check_layer`); nothing is allocated.

    Returns:
        The number of weight values the architecture declares.

    Raises:
        ValueError: names the layer (or the input) and the size.
    """
    check_input(input_shape, where, budget)
    shape = (None, *(int(d) for d in input_shape))
    total = 0
    for layer in layers:
        total = check_layer(layer, shape, total, where, budget)
        try:
            shape = tuple(layer.compute_output_shape(shape))
        except Exception:  # noqa: BLE001 - Keras reports the bad shape itself when it builds
            return total
    return total


def _weight_count(model) -> int:
    return sum(math.prod(int(d) for d in w.shape) for w in model.weights)


def check_h5(f, where: str, model, budget: int) -> None:
    """Walk an open ``h5py.File`` before any dataset is read.

    Raises:
        ValueError: an external or soft link, a dataset with external storage or a
            virtual layout, a dataset declaring more than :data:`DATASET_SLACK` times as
            many values as all the weights of ``model`` together (and over 2**20), or
            declared datasets totalling more than ``budget`` bytes (each message names the
            file and the object).
    """
    import h5py

    largest = _weight_count(model)
    total = 0
    stack = [f]
    while stack:
        group = stack.pop()
        for name in group:
            link = group.get(name, getlink=True)
            path = f"{group.name.rstrip('/')}/{name}"
            if isinstance(link, h5py.ExternalLink):
                raise ValueError(f"{where}: {path} is an external link to {link.filename}:{link.path}; kappa reads "
                                 "nothing outside the model file")
            if isinstance(link, h5py.SoftLink):
                raise ValueError(f"{where}: {path} is a soft link to {link.path}; kappa reads plain groups and "
                                 "datasets only")
            obj = group[name]
            if isinstance(obj, h5py.Group):
                stack.append(obj)
                continue
            if not isinstance(obj, h5py.Dataset):
                continue
            if obj.is_virtual or obj.id.get_create_plist().get_external_count() > 0:
                raise ValueError(f"{where}: dataset {path} keeps its data in another file (HDF5 "
                                 f"{'virtual dataset' if obj.is_virtual else 'external storage'}); kappa reads only "
                                 "data stored in the model file")
            n = math.prod(int(d) for d in obj.shape) if obj.shape else 1
            if n > max(DATASET_SLACK * largest, 2**20):
                raise ValueError(f"{where}: dataset {path} declares shape {tuple(obj.shape)} ({n:,} values), far "
                                 f"more than all the weights of the architecture together ({largest:,} values)")
            total += n * obj.dtype.itemsize
            if total > budget:
                raise ValueError(f"{where}: the datasets declare {_size(total)} up to {path}, more than the weight "
                                 f"budget {_size(budget)} (max_weight_bytes / ${ENV_MAX_WEIGHT_BYTES})")


def open_archive(path: Path, budget: int) -> zipfile.ZipFile:
    """Open a ``.keras`` archive after checking its members' declared sizes.

    Raises:
        ValueError: not a zip file, a ``.h5`` member larger than ``budget`` or another
            member larger than :data:`MAX_JSON_BYTES` uncompressed, or a member over 1 MiB compressed more than
            :data:`MAX_COMPRESSION_RATIO` times (a zip bomb).
    """
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ValueError(f"{path.name} is not a .keras archive (a .keras file is a zip archive: {exc})") from None
    try:
        total = 0
        for info in z.infolist():
            total += info.file_size
            limit = budget if info.filename.endswith(".h5") else MAX_JSON_BYTES
            if info.file_size > limit or total > budget + MAX_JSON_BYTES:
                raise ValueError(f"{path.name}: member {info.filename} unpacks to {_size(info.file_size)}, more than "
                                 f"the {_size(limit)} allowed (weight budget: max_weight_bytes / "
                                 f"${ENV_MAX_WEIGHT_BYTES})")
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 2**20 and ratio > MAX_COMPRESSION_RATIO:
                raise ValueError(f"{path.name}: member {info.filename} unpacks {ratio:.0f}x (from "
                                 f"{_size(info.compress_size)} to {_size(info.file_size)}): a compression bomb, "
                                 "not model weights")
    except BaseException:
        z.close()
        raise
    return z


def extract_member(z: zipfile.ZipFile, name: str, dest: Path) -> Path:
    """Copy the (already size-checked) member ``name`` to ``dest`` in 1 MiB blocks."""
    with z.open(name) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 2**20)
    return dest


def check_finite(model, where: str) -> None:
    """Refuse weights holding NaN or +-inf.

    Raises:
        ValueError: naming the layer, the weight and the first bad index.
    """
    for layer in model.layers:
        for var in layer.weights:
            a = np.asarray(var)
            bad = ~np.isfinite(a)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                key = var.name.split("/")[-1].split(":")[0]
                raise ValueError(f"{where}: layer {layer.name!r} weight {key!r} holds {a[idx]} at index "
                                 f"{idx if len(idx) != 1 else idx[0]} ({int(bad.sum())} non-finite values); "
                                 "kappa loads finite weights only")
