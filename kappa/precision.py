"""PrecisionDict: layer name -> field -> fixed-point type.

Fields (``FIELDS``):

* firmware fields (``FIRMWARE_FIELDS``): ``value`` (the model input, under the
  pseudo-layer ``input``), ``weight``, ``bias``, ``accumulator`` (hls4ml ``accum_t``) and
  ``activation`` (the layer's output, hls4ml ``result_t``), and hls4ml's precision keys of
  the layers that have them: ``scale`` (BatchNormalization), ``table`` (sigmoid/tanh
  lookup table), ``exp_table``, ``inv_table``, ``inv_inp``, ``inp_norm`` (softmax), ``param``
  (LeakyReLU's slope); a field with no type anywhere takes hls4ml's own explicit default;
* training-only fields: ``gradient``, ``update`` and optimizer state ``momentum``,
  ``adam_m``, ``adam_v``.

A ``default`` entry fills any field a layer does not name; a field with neither means
floating point (``dtype`` returns None). Example (YAML)::

    default: {weight: "ap_fixed<8,2>", accumulator: "ap_fixed<24,8>"}
    input:   {value: "ap_fixed<10,1,AP_RND,AP_SAT>"}
    dense0:  {activation: "ap_fixed<12,4,AP_RND,AP_SAT>"}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .fixed_point import FixedPointType, as_type

INPUT_LAYER = "input"
DEFAULT = "default"
FIRMWARE_FIELDS = ("value", "weight", "bias", "accumulator", "activation", "scale", "table", "exp_table", "inv_table",
                   "inv_inp", "inp_norm", "param")
TRAINING_FIELDS = ("gradient", "update", "momentum", "adam_m", "adam_v")
FIELDS = FIRMWARE_FIELDS + TRAINING_FIELDS


class PrecisionDict:
    """Per-layer, per-field fixed-point types.

    Args:
        spec: mapping ``{layer_name: {field: type}}`` where a type is a string such as
            ``"ap_fixed<16,6>"`` or a ``FixedPointType``; the key ``"default"`` holds
            fallbacks and ``"input"`` the model input's ``value`` type.

    Raises:
        ValueError: a malformed type string (names layer, field and string) or an
            unknown field (names the valid fields). Unknown *layers* are only detectable
            against a model: see :meth:`validate`.
    """

    def __init__(self, spec: Mapping[str, Mapping[str, Any]] | None = None):
        self._spec: dict[str, dict[str, FixedPointType]] = {}
        if spec is not None and not isinstance(spec, Mapping):
            raise ValueError(
                f"a PrecisionDict is built from a mapping {{layer: {{field: type}}}}, got {type(spec).__name__} "
                f"{spec!r:.200}; e.g. {{'default': {{'weight': 'ap_fixed<8,2>'}}}}"
            )
        problems = []
        for layer, fields in (spec or {}).items():
            if not isinstance(layer, str):
                problems.append(f"layer name {layer!r}: layer names must be strings")
                continue
            if not isinstance(fields, Mapping):
                problems.append(f"layer {layer!r}: expected a mapping of field -> type, got {fields!r}")
                continue
            entry = {}
            for field, s in fields.items():
                if not isinstance(field, str) or field not in FIELDS:
                    problems.append(f"{layer}.{field}: unknown field (valid: {', '.join(FIELDS)})")
                    continue
                if s is None:
                    continue
                try:
                    entry[field] = as_type(s)
                except ValueError as exc:
                    problems.append(f"{layer}.{field}: {exc}")
            self._spec[str(layer)] = entry
        if problems:
            raise ValueError("invalid PrecisionDict:\n  " + "\n  ".join(problems))

    # ---------------------------------------------------------------- lookups
    def dtype(self, layer_name: str, field: str) -> FixedPointType | None:
        """The type of ``field`` in ``layer_name``: the layer's own, else ``default``'s,
        else None (floating point).

        Raises:
            ValueError: ``field`` is not one of ``FIELDS``.
        """
        if field not in FIELDS:
            raise ValueError(f"unknown PrecisionDict field {field!r}; valid: {', '.join(FIELDS)}")
        own = self._spec.get(layer_name, {})
        if field in own:
            return own[field]
        return self._spec.get(DEFAULT, {}).get(field)

    @property
    def layers(self) -> list[str]:
        """Layer names with an entry (including ``default`` and ``input`` if present)."""
        return list(self._spec)

    def validate(self, layer_names: "Iterable[str] | Mapping[str, Iterable[str]]") -> None:
        """Check every named layer exists in the model and, when the model's fields are
        known, that each layer names only fields its kind has.

        Args:
            layer_names: the model's layer names, or ``{layer name: its fields}``
                (``kappa.layers.fields_by_layer``; a Flatten has none, a pooling layer
                ``accumulator`` and ``activation``, a Dense or convolution the weight
                fields). ``input`` and ``default`` are always valid.

        Raises:
            ValueError: one error listing every unknown layer or field, with the valid
                names and, per layer, its valid fields.
        """
        fields_of = dict(layer_names) if isinstance(layer_names, Mapping) else None
        valid = set(layer_names) | {INPUT_LAYER, DEFAULT}
        unknown = [name for name in self._spec if name not in valid]
        problems = [f"unknown layer {name!r}" for name in unknown]
        bad_input = [f for f in self._spec.get(INPUT_LAYER, {}) if f != "value"]
        problems += [f"input.{f}: the input pseudo-layer only has the field 'value'" for f in bad_input]
        if fields_of is not None:
            for name, entry in self._spec.items():
                if name in fields_of:
                    allowed = tuple(fields_of[name])
                    for f in entry:
                        if f not in allowed:
                            has = f"its fields are {', '.join(allowed)}" if allowed else \
                                "it has no fields (it passes its input type through)"
                            problems.append(f"{name}.{f}: layer {name!r} has no field {f!r}; {has}")
        if problems:
            raise ValueError(
                "PrecisionDict does not match the model:\n  "
                + "\n  ".join(problems)
                + f"\nvalid layer names: {', '.join(sorted(valid))}; valid fields: {', '.join(FIELDS)}"
            )

    def check_for_inference(self, layer_names: Iterable[str]) -> None:
        """What inference (``predict_quantized``, firmware) needs: every named layer exists
        (:meth:`validate`) and no firmware field uses stochastic rounding.

        Raises:
            ValueError: unknown layers (listing the valid names), or an S_RND type in a
                firmware field (naming layer, field and type: S_RND is training-only).
        """
        names = list(layer_names)
        self.validate(names)
        wanted = [(INPUT_LAYER, "value")] + [(n, f) for n in names if n not in (INPUT_LAYER, DEFAULT)
                                             for f in FIRMWARE_FIELDS if f != "value"]
        bad = [f"{layer}.{fld} = {t}" for layer, fld in wanted
               for t in [self.dtype(layer, fld)] if t is not None and t.stochastic]
        if bad:
            raise ValueError(
                f"stochastic rounding is training-only: {', '.join(bad)} uses S_RND, which has no ap_fixed "
                f"equivalent; firmware fields ({', '.join(FIRMWARE_FIELDS)}) need a deterministic mode "
                "(S_RND belongs in update/gradient/momentum/adam_m/adam_v)"
            )

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, dict[str, str]]:
        """Plain nested dict of strings (round-trips through :class:`PrecisionDict`)."""
        return {layer: {f: str(t) for f, t in fields.items()}
                for layer, fields in self._spec.items()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write YAML (``.yaml``/``.yml``) or JSON (``.json``) to ``path``.

        Raises:
            ValueError: any other suffix.
        """
        path = Path(path)
        data = self.to_dict()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            path.write_text(yaml.safe_dump(data, sort_keys=False))
        elif path.suffix == ".json":
            path.write_text(json.dumps(data, indent=2) + "\n")
        else:
            raise ValueError(f"cannot save a PrecisionDict to {str(path)!r}: use a .yaml, .yml or .json path")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PrecisionDict":
        """Read a PrecisionDict from a YAML or JSON file.

        Raises:
            FileNotFoundError: no such file. ValueError: other suffix or bad content.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"PrecisionDict file {str(path)!r} does not exist")
        if path.suffix not in (".yaml", ".yml", ".json"):
            raise ValueError(f"cannot read a PrecisionDict from {str(path)!r}: use a .yaml, .yml or .json file")
        from .inputs import read_structured_file

        data = read_structured_file(path, what="PrecisionDict file")
        if data is not None and not isinstance(data, Mapping):
            raise ValueError(f"{str(path)!r} must hold a mapping of layer -> field -> type")
        return cls(data or {})

    def __eq__(self, other) -> bool:
        return isinstance(other, PrecisionDict) and self._spec == other._spec

    def __repr__(self) -> str:
        return f"PrecisionDict({self.to_dict()!r})"


def ensure_precision_dict(obj: Any) -> PrecisionDict | None:
    """Accept None, a PrecisionDict, a nested dict of strings, or a path to YAML/JSON.

    Returns:
        None for None (floating point everywhere), else a PrecisionDict.

    Raises:
        TypeError: any other kind of object. ValueError/FileNotFoundError: as
        :class:`PrecisionDict` and :meth:`PrecisionDict.load`.
    """
    if obj is None or isinstance(obj, PrecisionDict):
        return obj
    if isinstance(obj, Mapping):
        return PrecisionDict(obj)
    if isinstance(obj, (str, os.PathLike)):
        return PrecisionDict.load(obj)
    raise TypeError(
        f"cannot make a PrecisionDict from {type(obj).__name__}: pass None, a PrecisionDict, "
        f"a dict {{layer: {{field: type}}}}, or a path to a .yaml/.json file"
    )
