"""Sweep files: parsing, validation, point ids, and the sweep's identity in its output directory.

A sweep file (YAML) names a base job config, optional overrides, and a ``grid`` of dotted
keys into the job config, each with a list of values; every combination is one point::

    base: digits                          # a file relative to the sweep file or the current directory,
                                          # else a shipped config by name
    overrides: {training: {epochs: 10}}   # nested or dotted keys, applied to every point
    grid:
      precision.default.weight: ["ap_fixed<4,2,AP_RND_CONV,AP_SAT>", "ap_fixed<8,2,AP_RND_CONV,AP_SAT>"]
      model.seed: [0, 1]
    zip:                                  # optional: keys that vary together (equal-length lists)
      precision.default.update: [...]
      precision.default.bias: [...]
    synth: false                          # optional: HLS synthesis per point (needs the vendor tools)

``zip`` may also be a list of such groups; each group is one factor of the product.
:func:`load_sweep` validates everything before any work: dotted keys against the job config
schema (:mod:`hls.jobs.schema`), values with the job's own validators, and every point's full
config with the job's own :func:`hls.jobs.config.prepare_job` (dataset, model, PrecisionDict
against the model, tools). A point's id is a hash of its full resolved config (:func:`point_id`).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..jobs.config import JobConfigError, check_hls_value, load_config, prepare_job
from ..jobs.schema import HLS_KEYS, SPLIT_KEYS, TOP_KEYS, canonical_hls_key, key_depth, set_dotted, training_parameters

SWEEP_KEYS = ("base", "overrides", "grid", "zip", "synth", "rtl")
MANIFEST = "sweep.json"
LOCK = ".kappa-sweep.lock"
"""The lock file of a running sweep in its output folder (:mod:`hls.sweep.lock`)."""
MAX_POINTS = 10_000
"""Default cap on a sweep's number of points (``load_sweep(max_points=)``, ``kappa sweep --max-points``)."""


class SweepError(ValueError):
    """A sweep file or output directory that cannot be run; the message names the bad key or value."""


@dataclass
class Point:
    """One point of a sweep.

    Attributes:
        id: 12 hex digits of the sha256 of the point's resolved config (stable JSON).
        values: swept dotted key -> value, in the sweep file's key order.
        config: the full resolved job config (as :func:`hls.jobs.config.load_config` returns).
    """

    id: str
    values: dict
    config: dict


@dataclass
class Sweep:
    """A validated sweep: its points and where it came from.

    Attributes:
        path: the sweep file. base: the base job config file.
        keys: swept dotted keys (grid keys, then zip keys), the result table's columns.
        points: every point, in grid order (the last grid key varies fastest).
        synth: run HLS synthesis after C simulation at every point.
    """

    path: Path
    base: Path
    keys: list
    points: list
    synth: bool = False

    def manifest(self) -> dict:
        """What identifies this sweep in its output directory (``sweep.json``)."""
        return {"kappa_sweep": 1, "keys": list(self.keys), "synth": self.synth,
                "points": [{"id": p.id, "values": p.values} for p in self.points]}


# ----------------------------------------------------------------------------- sweep file


def load_sweep(path: str | Path, max_points: int = MAX_POINTS) -> Sweep:
    """Read and validate a sweep file; nothing is run or written.

    The number of points (the product of the factors' lengths) is counted before any point
    is built, and a sweep with more than ``max_points`` is refused.

    Raises:
        SweepError: more than ``max_points`` points (the message gives the count), or
            ``max_points`` not a positive integer;
        SweepError: no such file, unknown sweep keys, a base config that does not load,
            a dotted key that is not in the job config schema (named, with the valid keys),
            a value that does not parse (type strings via ``FixedPointType.from_string``),
            an empty grid or value list, zip lists of different lengths, a key swept twice,
            two points with the same resolved config, or a PrecisionDict naming a layer the
            point's model does not have.
    """
    import yaml

    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise SweepError(f"max_points must be a positive integer, got {max_points!r}")
    from ..jobs.paths import resolve_config

    try:
        path = resolve_config(path, what="sweep file")  # a file, or a shipped sweep by name
    except OSError as exc:
        raise SweepError(str(exc)) from None
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SweepError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise SweepError(f"{path}: expected a mapping with keys {', '.join(SWEEP_KEYS)}")
    unknown = [k for k in spec if k not in SWEEP_KEYS]
    if unknown:
        raise SweepError(f"{path}: unknown sweep key(s) {unknown}; valid: {', '.join(SWEEP_KEYS)}")
    if not isinstance(spec.get("base"), str):
        raise SweepError(f"{path}: 'base' must name a job config file (e.g. configs/digits.yaml)")
    base = _resolve_base(path, spec["base"])
    try:
        base_cfg = load_config(base)
    except (ValueError, FileNotFoundError) as exc:
        raise SweepError(f"{path}: base config: {exc}") from None
    synth = spec.get("synth", False)
    if not isinstance(synth, bool):
        raise SweepError(f"{path}: 'synth' must be true or false, got {synth!r}")

    rtl = spec.get("rtl", False)
    if not isinstance(rtl, bool):
        raise SweepError(f"{path}: 'rtl' must be true or false, got {rtl!r}")
    if rtl and synth:
        raise SweepError(f"{path}: 'rtl: true' runs Yosys at every point; 'synth' (vendor HLS) is for HLS projects")
    if rtl:  # every point: the RTL backend (hls.backend: rtl), priced by Yosys in LUTs
        _set(base_cfg, "hls.backend", "rtl")
    overrides = spec.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise SweepError(f"{path}: 'overrides' must be a mapping of job-config keys, got {overrides!r}")
    for key, value in _flatten(overrides):
        _check_key(path, "overrides", key)
        _check_value(path, "overrides", key, value)
        _set(base_cfg, key, value)

    factors, keys = _factors(path, spec)
    count = math.prod(len(f) for f in factors)
    if count > max_points:
        raise SweepError(f"{path}: the sweep has {count:,} points ({' x '.join(str(len(f)) for f in factors)}), "
                         f"more than the limit of {max_points:,}; shrink the grid or raise the limit "
                         "(--max-points N)")
    points, seen = [], {}
    for combo in itertools.product(*factors):
        values = {k: v for group in combo for k, v in group}
        cfg = copy.deepcopy(base_cfg)
        for k, v in values.items():
            _set(cfg, k, v)
        cfg = _canonical(cfg)
        pid = point_id(cfg, synth)
        if pid in seen:
            raise SweepError(f"{path}: points {seen[pid]} and {values} resolve to the same job config")
        seen[pid] = values
        points.append(Point(pid, {k: values[k] for k in keys}, cfg))
    _check_points(path, points)
    return Sweep(path=path, base=base, keys=keys, points=points, synth=synth)


def point_id(cfg: dict, synth: bool = False) -> str:
    """12 hex digits of the sha256 of ``cfg`` as stable JSON (sorted keys); ``synth`` is
    part of the hash only when True, so ids of sweeps without synthesis do not change."""
    payload = {"config": cfg, "synth": True} if synth else cfg
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _resolve_base(sweep_path: Path, base: str) -> Path:
    from ..jobs.paths import shipped_config

    tried = [sweep_path.parent / base, Path.cwd() / base]
    for cand in tried:
        if cand.is_file():
            return cand.resolve()
    if len(Path(base).parts) == 1 and shipped_config(base) is not None:
        return shipped_config(base)
    raise SweepError(f"{sweep_path}: base config {base!r} not found (looked in {', '.join(str(t) for t in tried)})")


def _factors(path: Path, spec: dict) -> tuple[list, list]:
    """Grid keys each as one factor, each zip group as one factor: lists of ``[(key, value), ...]``."""
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise SweepError(f"{path}: 'grid' must map dotted keys to lists of values, got {grid!r}")
    zips = spec.get("zip") or []
    if isinstance(zips, dict):
        zips = [zips]
    if not isinstance(zips, list) or not all(isinstance(z, dict) for z in zips):
        raise SweepError(f"{path}: 'zip' must be a mapping of dotted keys to equal-length lists (or a list of such)")
    if not grid and not any(zips):
        raise SweepError(f"{path}: empty grid: give at least one dotted key with a list of values under 'grid'")
    factors, keys = [], []
    groups = [("grid", {k: v}) for k, v in grid.items()] + [("zip", z) for z in zips if z]
    for where, group in groups:
        lengths = set()
        for key, values in group.items():
            if not isinstance(key, str):
                raise SweepError(f"{path}: {where} key {key!r} must be a dotted string such as 'training.learning_rate'")
            if key in keys:
                raise SweepError(f"{path}: {where} key {key!r} is swept twice")
            if not isinstance(values, list) or not values:
                raise SweepError(f"{path}: {where} key {key!r} needs a non-empty list of values, got {values!r}")
            _check_key(path, where, key)
            for v in values:
                _check_value(path, where, key, v)
            dup = [v for i, v in enumerate(values) if v in values[:i]]
            if dup:
                raise SweepError(f"{path}: {where} key {key!r} lists {dup[0]!r} twice")
            keys.append(key)
            lengths.add(len(values))
        if len(lengths) > 1:
            raise SweepError(f"{path}: zip keys {list(group)} have lists of different lengths {sorted(lengths)}")
        n = lengths.pop()
        factors.append([[(k, group[k][i]) for k in group] for i in range(n)])
    return factors, keys


def _flatten(d: dict, prefix: str = "") -> list:
    """Nested overrides -> ``[(dotted key, value)]`` following the job schema's depth
    (``name``: 1, ``precision``: 3, other sections: 2); dotted keys pass through."""
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and len(key.split(".")) < key_depth(key.split(".")[0]):
            out += _flatten(v, key + ".")
        else:
            out.append((key, v))
    return out


def _check_key(path: Path, where: str, key: str) -> None:
    """Schema check of a dotted key (no model needed)."""
    from kappa.precision import FIELDS

    parts = key.split(".")
    top = parts[0]

    def bad(msg):
        raise SweepError(f"{path}: {where} key {key!r}: {msg}")

    if top not in TOP_KEYS:
        bad(f"unknown job-config section {top!r}; valid: {', '.join(TOP_KEYS)}")
    if len(parts) != key_depth(top) or not all(parts):
        shape = {"name": "name", "precision": "precision.<layer>.<field>"}.get(top, f"{top}.<option>")
        bad(f"expected the form {shape}")
    if top == "precision" and parts[2] not in FIELDS:
        bad(f"unknown PrecisionDict field {parts[2]!r}; valid: {', '.join(FIELDS)}")
    if top == "hls" and canonical_hls_key(parts[1]) not in HLS_KEYS:
        bad(f"unknown hls option {parts[1]!r}; valid: {', '.join(HLS_KEYS)}")
    if top == "split" and parts[1] not in SPLIT_KEYS:
        bad(f"unknown split option {parts[1]!r}; valid: {', '.join(SPLIT_KEYS)}")
    if top == "training":
        valid = training_parameters()
        if parts[1] not in valid:
            bad(f"unknown training option {parts[1]!r}; valid: {', '.join(valid)}")


def _check_value(path: Path, where: str, key: str, value: Any) -> None:
    """Value checks that need no model, with the job's own validators: type strings, hls
    options, dataset names (everything else is checked per point by ``prepare_job``)."""
    from kappa.fixed_point import FixedPointType

    parts = key.split(".")

    def bad(msg):
        raise SweepError(f"{path}: {where} key {key!r}: {msg}")

    if parts[0] == "precision":
        if not isinstance(value, str):
            bad(f"value {value!r} is not a type string such as 'ap_fixed<8,3,AP_RND,AP_SAT>'")
        try:
            FixedPointType.from_string(value)
        except ValueError as exc:
            bad(f"value {value!r} does not parse: {exc}")
    elif parts[0] == "hls":
        try:
            check_hls_value(parts[1], value)
        except ValueError as exc:
            bad(str(exc))
    elif key == "dataset.name":
        from kappa import datasets

        if value not in datasets.list_datasets():
            bad(f"unknown dataset {value!r}; valid: {', '.join(datasets.list_datasets())}")
    elif key == "name" and (not isinstance(value, str) or not value):
        bad(f"value {value!r} is not a non-empty string")


def _check_points(path: Path, points: list) -> None:
    """Every point's full config through the job's own validation (:func:`prepare_job`:
    dataset, split, model, training, PrecisionDict against the model, hls options, g++);
    nothing is trained or written (imports TensorFlow).

    Raises:
        SweepError: the first point that does not validate, with every problem it has.
    """
    for p in points:
        try:
            prepare_job(copy.deepcopy(p.config), source=f"{path}: point {p.values}", check_output=False)
        except JobConfigError as exc:
            raise SweepError(str(exc)) from None


def _set(cfg: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    if parts[0] == "hls" and len(parts) == 2:  # hls4ml's spelling sets kappa's key (one per option)
        key = f"hls.{canonical_hls_key(parts[1])}"
    set_dotted(cfg, key, value)


def _canonical(cfg: dict) -> dict:
    """Type strings in their canonical spelling, so equal types give equal point ids."""
    from kappa.fixed_point import FixedPointType

    cfg["precision"] = {
        layer: {f: (str(FixedPointType.from_string(t)) if isinstance(t, str) else t) for f, t in (fields or {}).items()}
        for layer, fields in cfg["precision"].items()
    }
    return cfg


# ----------------------------------------------------------------------------- output directory


def check_output(sweep: Sweep, output: str | Path) -> Path:
    """Check ``output`` can hold ``sweep``: absent, empty, or holding this same sweep.

    Returns:
        The resolved output directory (not created).

    Raises:
        SweepError: ``output`` is a file, holds files that are not a sweep, or holds a
            different sweep (its ``sweep.json`` lists other points or keys).
    """
    out = Path(output).resolve()
    if not out.exists():
        return out
    if not out.is_dir():
        raise SweepError(f"output {out} exists and is not a directory")
    man = out / MANIFEST
    if not man.exists():
        if any(p.name != LOCK for p in out.iterdir()):
            raise SweepError(
                f"output {out} is not empty and holds no {MANIFEST}: not a sweep directory; "
                f"choose a new or empty --output directory"
            )
        return out
    try:
        old = json.loads(man.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SweepError(f"{man} is unreadable ({exc}); choose another --output directory") from None
    new = sweep.manifest()
    if old != new:
        old_ids = {p["id"] for p in old.get("points", [])}
        new_ids = {p.id for p in sweep.points}
        what = []
        if old.get("keys") != new["keys"]:
            what.append(f"swept keys {old.get('keys')} there, {new['keys']} here")
        if old_ids != new_ids:
            what.append(
                f"{len(new_ids - old_ids)} point(s) not in it, {len(old_ids - new_ids)} of its point(s) not here"
            )
        if old.get("synth") != new["synth"]:
            what.append(f"synth {old.get('synth')} there, {new['synth']} here")
        raise SweepError(
            f"output {out} holds a different sweep ({'; '.join(what) or 'different manifest'}); "
            f"nothing was changed: choose another --output directory"
        )
    return out
