"""One input policy for every public entry point: shapes checked against the model,
non-finite values refused with their index, files named in every read error.

Used by ``kappa.predict_quantized`` (and through it ``hls.convert``'s testbench
data), ``kappa.training.train_instrumented`` and the job/config readers. No TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def as_real_array(x: Any, what: str = "x") -> np.ndarray:
    """``x`` as a float64 array, only if it holds real numbers (bool, int or float dtype).

    Raises:
        ValueError: strings, complex numbers, datetimes, objects, ragged lists (names the
            dtype); nothing is parsed or silently dropped.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{what} is not an array of numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold real numbers (bool, int or float), got dtype {arr.dtype}: kappa does not "
                         "parse strings or drop imaginary parts")
    return arr.astype(np.float64, copy=False)


def check_inputs(X: Any, expected_shape: Sequence[int], *, what: str = "X") -> np.ndarray:
    """Validate a batch of samples and return it as float64.

    Args:
        X: array-like of shape (N, *expected_shape), N >= 1, real numbers (bool, int or
            float). A single sample must be passed explicitly as shape (1, *expected_shape):
            nothing is ever broadcast or reshaped.
        expected_shape: per-sample shape the model expects, e.g. ``(64,)``.
        what: the argument's name, for messages (e.g. ``"tb_inputs"``).

    Returns:
        float64 ndarray of shape (N, *expected_shape) (a copy only when a conversion is needed).

    Raises:
        ValueError: non-numeric data, wrong number of dimensions or per-sample shape (names
            the shape received and the one expected), no samples, or a NaN/infinite value
            (names the value and its index).
    """
    expected = tuple(int(d) for d in expected_shape)
    want = f"(N, {', '.join(str(d) for d in expected)})" if expected else "(N,)"
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{what} is not an array of numbers ({exc}); expected shape {want}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold real numbers, got dtype {arr.dtype} (expected shape {want})")
    if arr.ndim == len(expected) and tuple(arr.shape) == expected:
        raise ValueError(
            f"{what} has shape {arr.shape}, which is one sample without the sample axis: the model expects "
            f"{want}; pass a single sample as shape (1, {', '.join(str(d) for d in expected)}) (e.g. X[None, :] or X[:1])"
        )
    if arr.ndim != len(expected) + 1 or tuple(arr.shape[1:]) != expected:
        raise ValueError(f"{what} has shape {arr.shape}; the model expects {want} (N samples of shape {expected})")
    if arr.shape[0] < 1:
        raise ValueError(f"{what} has no samples (shape {arr.shape}); expected {want} with N >= 1")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{what} holds the non-finite value {arr[idx]!r} at index {idx} ({int(bad.sum())} "
            f"non-finite values in all); inputs must be finite numbers"
        )
    return arr


def model_input_shape(keras_model) -> tuple[int, ...]:
    """Per-sample input shape of a built single-input Keras model, e.g. ``(64,)``."""
    return tuple(int(d) for d in keras_model.inputs[0].shape[1:])


def check_model_inputs(X: Any, keras_model, *, what: str = "X") -> list[np.ndarray]:
    """The inputs of ``keras_model`` checked as :func:`check_inputs`, one array per model input.

    Args:
        X: for a single-input model an array (N, *input_shape); for a model with k > 1
            inputs a list or tuple of k arrays in ``model.inputs`` order, all with the same N
            (as Keras ``predict`` takes them).
        keras_model: a built Keras model.
        what: the argument's name, for messages.

    Returns:
        list of float64 arrays, one per input.

    Raises:
        ValueError: as :func:`check_inputs` (the message names the input), a multi-input
            ``X`` that is not a list of k arrays, or arrays with different sample counts.
    """
    shapes = [tuple(int(d) for d in t.shape[1:]) for t in keras_model.inputs]
    if len(shapes) == 1:
        return [check_inputs(X, shapes[0], what=what)]
    names = [t._keras_history[0].name for t in keras_model.inputs]
    if not isinstance(X, (list, tuple)) or len(X) != len(shapes):
        got = f"a {type(X).__name__}" + (f" of {len(X)}" if isinstance(X, (list, tuple)) else "")
        raise ValueError(f"{what}: the model has {len(shapes)} inputs ({', '.join(names)}); pass a list of "
                         f"{len(shapes)} arrays in that order, got {got}")
    arrays = [check_inputs(x, s, what=f"{what}[{i}] (input {n!r})") for i, (x, s, n) in enumerate(zip(X, shapes, names))]
    counts = [len(a) for a in arrays]
    if len(set(counts)) > 1:
        raise ValueError(f"{what}: the inputs have different numbers of samples {counts}; every input needs the same N")
    return arrays


def read_structured_file(path: str | Path, *, what: str = "file") -> Any:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``) file; errors name the file.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable or malformed content
            (names the file, and the line/column where the parser stopped).
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise ValueError(f"{what} {str(path)!r} is not a file")
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {what} {str(path)!r}: {exc}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{what} {str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{what} {str(path)!r} is not valid YAML: {problem}{where}") from None


def check_inference_precision(keras_model, precision) -> None:
    """The PrecisionDict check shared by inference entry points: it names only layers of
    ``keras_model`` and uses no S_RND in firmware fields
    (:meth:`kappa.precision.PrecisionDict.check_for_inference`); None passes.

    Raises:
        ValueError: as ``check_for_inference``.
    """
    if precision is not None:
        precision.check_for_inference([layer.name for layer in keras_model.layers])


def check_training_arrays(X: Any, Y: Any, input_shape: Sequence[int]) -> np.ndarray:
    """Training inputs: ``X`` as :func:`check_inputs` (also finite once stored as float32,
    the training dtype) and ``Y`` numeric and finite.

    Returns:
        ``X`` as float32 (N, *input_shape).

    Raises:
        ValueError: as :func:`check_inputs` for X; a non-numeric or non-finite Y (index named).
    """
    x32 = check_inputs(X, input_shape, what="X").astype(np.float32)
    check_inputs(x32, input_shape, what="X (as float32, the training dtype)")
    y = np.asarray(Y)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"Y must hold real numbers, got dtype {y.dtype}")
    y32 = y.astype(np.float32)
    bad = ~np.isfinite(y32)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"Y holds the non-finite value {y[idx]!r} at index {idx} (as float32); targets must be finite")
    return x32
