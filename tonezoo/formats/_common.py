"""Shared pieces of the format readers and writers: safe reading, array checks, knob baking.

Nothing here ever executes or unpickles file content: third-party files are read as bytes, their
magic numbers checked, then parsed as JSON with size limits applied before any array is built.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, FormatError, ModelFileError
from ..knobs import fold_knobs
from ..model import Model, ModelConfig, flatten_params, unflatten_params
from ..modelfile import atomic_write

__all__ = [
    "MAX_FILE_BYTES",
    "read_document",
    "write_document",
    "as_array",
    "as_int",
    "as_number",
    "knob_names",
    "build_model",
    "bake_knobs",
    "params_digest",
    "weights_unchanged",
    "probe_signal",
    "finite_json",
]

MAX_FILE_BYTES = 50 << 20  # the largest LSTM-80 JSON is ~1 MB; 50 MB leaves room for x3 layers and pretty-printing
_MAX_INPUTS = 17  # the audio plus ModelConfig's 16 knobs

_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (a PyTorch .pt/.pth checkpoint or a Keras .keras file)"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 model)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\x80", "a Python pickle (a PyTorch checkpoint or a joblib/pickle dump)"),
)


def read_document(path: str | os.PathLike) -> dict[str, Any]:
    """Read a model file as a JSON object, refusing anything that is not plain JSON.

    Parameters
    ----------
    path : path-like
        The file. Its size is checked before it is read (``MAX_FILE_BYTES``), its first bytes
        against the magic numbers of pickles, ZIP archives (PyTorch checkpoints) and HDF5 files.

    Returns
    -------
    doc : dict
        The parsed top-level JSON object.

    Raises
    ------
    FormatError
        Missing file, a directory, too large, binary/pickled content, not UTF-8, not JSON, or JSON
        whose top level is not an object.
    """
    p = Path(path)
    if p.is_dir():
        hint = (" (a tonezoo model directory: load it with tonezoo.Model.load)"
                if (p / "config.json").is_file() else "")
        raise FormatError(f"{p}: is a directory, not a model file{hint}")
    if not p.is_file():
        raise FormatError(f"{p}: no such model file")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FormatError(f"{p}: {size} bytes is larger than the {MAX_FILE_BYTES} byte limit for a model file; "
                          "AGAM, AIDA-X and NAM LSTM files are at most a few MB")
    if size == 0:
        raise FormatError(f"{p}: the file is empty")
    with open(p, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise FormatError(f"{p}: this is {what}, not a JSON model file. tonezoo never loads pickled or "
                              "binary checkpoints (they can execute code); export the model to JSON with its own "
                              "tool first (AGAM: the JSON written by dist_model_recnet.py)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FormatError(f"{p}: not a text file (byte {e.start} is not UTF-8); expected a JSON model file") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(f"{p}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                          "expected an AGAM, AIDA-X or NAM model file") from None
    except RecursionError:
        raise FormatError(f"{p}: JSON nested too deeply to be a model file") from None
    if not isinstance(doc, dict):
        raise FormatError(f"{p}: the JSON top level is a {type(doc).__name__}, expected an object")
    return doc


def write_document(doc: Mapping[str, Any], path: str | os.PathLike, *, indent: int | None = None) -> Path:
    """Write ``doc`` as JSON atomically (temporary file beside the target, then ``os.replace``).

    NaN or infinite numbers are refused (JSON has none; players would read garbage).
    """
    target = Path(path)
    if target.is_dir():
        raise FormatError(f"{target}: is a directory; give a file name to export to")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        text = json.dumps(doc, indent=indent, allow_nan=False)
    except ValueError as e:
        raise FormatError(f"{target}: the model holds NaN or infinite values and cannot be exported ({e})") from None
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def as_number(value: Any, *, where: str, name: str) -> float:
    """A finite JSON number (bools and strings refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormatError(f"{where}: {name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise FormatError(f"{where}: {name} is {value!r}; the file is damaged")
    return float(value)


def as_int(value: Any, *, where: str, name: str, lo: int, hi: int) -> int:
    """An integer in ``[lo, hi]``; integral floats such as ``20.0`` are accepted, bools are not."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{where}: {name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise FormatError(f"{where}: {name} is {value}, outside the supported range [{lo}, {hi}]")
    return value


def as_array(value: Any, shape: tuple[int, ...], *, where: str, name: str) -> np.ndarray:
    """Check a nested JSON list against an expected shape and return it as float32.

    Parameters
    ----------
    value : nested lists of numbers
    shape : tuple of int
        Expected shape (computed from the declared sizes, which were checked first).
    where, name : str
        File and tensor name for error messages.

    Raises
    ------
    FormatError
        Not numeric (strings, bools, objects), ragged, wrong shape, or NaN/Inf.
    """
    if not isinstance(value, (list, int, float)) or isinstance(value, bool):
        raise FormatError(f"{where}: {name} must be a list of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise FormatError(f"{where}: {name} is a ragged list; expected shape {shape}") from None
    if arr.dtype.kind not in "fiu":
        raise FormatError(f"{where}: {name} must hold only numbers (found {arr.dtype.kind!r} data: "
                          "strings, booleans or nulls)")
    if arr.shape != tuple(shape):
        raise FormatError(f"{where}: {name} has shape {arr.shape}, expected {tuple(shape)} "
                          "from the sizes the file declares")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise FormatError(f"{where}: {name} contains NaN or Inf; the model file is damaged")
    if np.any(np.abs(arr) > np.finfo(np.float32).max):
        raise FormatError(f"{where}: {name} holds values beyond float32 range; the model file is damaged")
    return arr.astype(np.float32)


def finite_json(obj: Any) -> Any:
    """A copy of parsed JSON without NaN/Inf numbers (so it can be written back as JSON).

    Object members holding one are dropped (a player that reads e.g. NAM's ``loudness`` would
    choke on a null); list items become None.
    """
    if isinstance(obj, dict):
        return {str(k): finite_json(v) for k, v in obj.items()
                if not (isinstance(v, float) and not math.isfinite(v))}
    if isinstance(obj, list):
        return [finite_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def require_lstm(model: Model, fmt: str) -> None:
    """Refuse to write a model that is not of the recurrent family (``arch="lstm"``) as ``fmt``."""
    if model.config.arch != "lstm":
        other = "; export it as a NAM file instead (format \"nam\": --format nam), which NAM's plugin plays" \
            if model.config.arch == "wavenet" else "; keep it as a tonezoo model directory"
        raise FormatError(f"model {model.name!r} is a {model.config.describe()} ({model.config.arch}); the {fmt} "
                          f"format holds LSTM/GRU models only{other}")


def knob_names(n_inputs: int, given: Sequence[str] | None = None) -> tuple[str, ...]:
    """Names of the conditioning inputs after the audio: ``given`` if usable, else knob1, knob2, ..."""
    n = n_inputs - 1
    if given is not None and len(given) == n and all(isinstance(k, str) and k for k in given) \
            and len(set(given)) == n:
        return tuple(given)
    return tuple(f"knob{i + 1}" for i in range(n))


def build_model(config: ModelConfig, flat: Mapping[str, np.ndarray], metadata: dict[str, Any], *,
                where: str) -> Model:
    """Assemble a :class:`Model` from flat tensors (the ``model.safetensors`` names), validated."""
    try:
        params = unflatten_params(flat, config, where=where)
    except ModelFileError as e:
        raise FormatError(str(e)) from None
    metadata = dict(metadata)
    metadata["source_params_sha256"] = params_digest(params)
    return Model(config, params, metadata)


def params_digest(params: Mapping[str, Any]) -> str:
    """SHA-256 of the float32 parameters (name, shape and bytes of each tensor, in name order).

    Importers store it as ``metadata["source_params_sha256"]``; writers compare it to tell whether
    a model's weights are still the imported ones (then fields such as NAM's ``loudness`` or a
    file's ESR still describe it) or were fine-tuned since (then those fields are stale and dropped).
    """
    h = hashlib.sha256()
    for name, arr in sorted(flatten_params(params).items()):
        h.update(name.encode())
        h.update(repr(arr.shape).encode())
        h.update(np.ascontiguousarray(arr, np.float32).tobytes())
    return h.hexdigest()


def weights_unchanged(model: Model) -> bool:
    """True when ``model``'s parameters are exactly those it was imported with."""
    digest = model.metadata.get("source_params_sha256")
    return bool(digest) and digest == params_digest(model.params)


def bake_knobs(model: Model, knobs: Mapping[str, float]) -> Model:
    """Fold fixed knob values into the model (:func:`tonezoo.knobs.fold_knobs`): an exact knob-free model.

    For the LSTM and GRU the knob inputs enter only through ``W_ih u + b_ih`` with ``u = [x, k]``,
    so ``b_ih + k @ W_ih[1:]`` with ``W_ih[:1]`` computes the same function of ``x`` for those ``k``.

    Parameters
    ----------
    model : Model with ``config.knobs``
    knobs : mapping knob name -> value; every knob of the model must be given

    Returns
    -------
    Model without knobs; ``metadata["knob_values"]`` records the baked values.
    """
    names = model.config.knobs
    if not names:
        raise ConfigError(f"model {model.name!r} has no knobs to bake; drop the knob values")
    k = model.knob_vector(dict(knobs))          # every knob given (or in the metadata), else ConfigError
    baked = fold_knobs(model, (), dict(zip(names, k.tolist())))
    given = {**(model.metadata.get("knob_values") or {}), **dict(knobs)}
    metadata = dict(model.metadata)
    metadata["knob_values"] = {n: float(given[n]) for n in names}
    metadata["baked_knobs"] = list(names)
    return Model(baked.config, baked.params, metadata)


def probe_signal(n: int = 2048, sample_rate: int = 48000) -> np.ndarray:
    """A short deterministic guitar-like test input (float32, peak 0.5) for players' self-tests.

    Two decaying plucked notes (fundamental plus harmonics) over a little noise; no randomness
    beyond a fixed seed, so exported files are reproducible.
    """
    t = np.arange(n) / float(sample_rate)
    rng = np.random.default_rng(0)
    y = np.zeros(n)
    for start, f0 in ((0, 110.0), (n // 2, 164.8)):
        tt = np.clip(t - start / sample_rate, 0.0, None)
        env = np.where(t >= start / sample_rate, np.exp(-tt * 12.0), 0.0)
        y += env * sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in (1, 2, 3, 4, 5))
    y += 0.01 * rng.standard_normal(n)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)
