"""Neural Amp Modeler ``.nam`` files, architecture ``"LSTM"``.

Layout (NAM's ``model-file`` specification, version 0.5)::

    {"version": "0.5.4", "metadata": {...}, "architecture": "LSTM",
     "config": {"input_size": I, "hidden_size": H, "num_layers": L},
     "weights": [...],            # one flat list, see below
     "sample_rate": 48000}

``weights``, for each layer ``l`` (input size ``I_l`` = I for layer 0, else H):
``[W_ih | W_hh]`` of shape (4H, I_l + H) row-major (PyTorch gate order i, f, g, o), then the bias
(4H) = ``b_ih + b_hh``, then the initial hidden state h (H), then the initial cell state c (H);
after all layers the head weight (H) and head bias (1). The output is ``head(h_L)``: NAM has no
skip connection. The initial state is, by NAM's convention, the state after running 48,000 zeros.

Other NAM architectures (WaveNet, ConvNet, Linear, ...) are refused with
:class:`~tonezoo.errors.UnsupportedArchitectureError`.
"""

from __future__ import annotations

import datetime
import math
from typing import Any, Mapping

import numpy as np

from ..errors import FormatError, UnsupportedArchitectureError
from ..model import Model, ModelConfig, flatten_params
from ._common import as_array, as_int, build_model, finite_json, knob_names, weights_unchanged

__all__ = ["detect", "read", "write", "settled_state", "NAM_VERSION", "SETTLE_SAMPLES", "DEFAULT_SAMPLE_RATE"]

NAM_VERSION = "0.5.4"
SETTLE_SAMPLES = 48_000
SETTLED_TOL = 1e-6
DEFAULT_SAMPLE_RATE = 48000

# NAM (gear_type, tone_type) <-> tonezoo category
_AMP_TYPES = ("amp", "pedal_amp", "amp_cab", "amp_pedal_cab", "preamp")
_CATEGORY_OF = {
    **{(g, "clean"): "amp-clean" for g in _AMP_TYPES},
    **{(g, t): "amp-crunch" for g in _AMP_TYPES for t in ("crunch", "overdrive")},
    **{(g, "hi_gain"): "amp-highgain" for g in _AMP_TYPES},
    ("pedal", "overdrive"): "overdrive", ("pedal", "crunch"): "overdrive",
    ("pedal", "hi_gain"): "distortion", ("pedal", "fuzz"): "fuzz",
}
_NAM_OF = {
    "overdrive": ("pedal", "overdrive"), "distortion": ("pedal", "hi_gain"), "fuzz": ("pedal", "fuzz"),
    "boost": ("pedal", "clean"), "compressor": ("pedal", "clean"),
    "amp-clean": ("amp", "clean"), "amp-crunch": ("amp", "crunch"), "amp-highgain": ("amp", "hi_gain"),
}
# fields whose value describes the exact weights they came with (stale after fine-tuning)
_WEIGHT_BOUND = ("loudness", "gain", "training", "validation_esr")


def detect(doc: Mapping[str, Any]) -> bool:
    """A NAM file has a string ``architecture`` and a ``weights`` list."""
    return isinstance(doc.get("architecture"), str) and isinstance(doc.get("weights"), list)


def _layer_sizes(inputs: int, hidden: int, layers: int) -> list[int]:
    """Floats per layer: matrix, bias, h, c."""
    return [4 * hidden * ((inputs if i == 0 else hidden) + hidden) + 4 * hidden + 2 * hidden for i in range(layers)]


def read(doc: Mapping[str, Any], *, where: str, sample_rate: int | None = None) -> Model:
    """Build a tonezoo model from a NAM LSTM document.

    Parameters
    ----------
    doc : parsed JSON object
    where : str
        The file, for messages.
    sample_rate : int or None
        Used only when the file has no ``sample_rate`` (else 48000 Hz is assumed); a value that
        contradicts the file's is an error.

    Returns
    -------
    Model with ``h0``/``c0`` from the file, ``b_ih`` = the file's bias and ``b_hh`` = 0, no skip.
    """
    arch = doc["architecture"]
    if arch != "LSTM":
        raise UnsupportedArchitectureError(
            f"{where}: NAM architecture {arch!r} is not supported; tonezoo models are recurrent, so it reads "
            "NAM's \"LSTM\" architecture only. Capture the device again with tonezoo, or use a NAM LSTM model")
    cfg = doc.get("config")
    if not isinstance(cfg, dict):
        raise FormatError(f"{where}: NAM LSTM file lacks its \"config\" object (input_size, hidden_size, num_layers)")
    missing = [k for k in ("hidden_size", "num_layers") if k not in cfg]
    if missing:
        raise FormatError(f"{where}: config lacks {missing}")
    inputs = as_int(cfg.get("input_size", 1), where=where, name="config.input_size", lo=1, hi=17)
    hidden = as_int(cfg["hidden_size"], where=where, name="config.hidden_size", lo=1, hi=1024)
    layers = as_int(cfg["num_layers"], where=where, name="config.num_layers", lo=1, hi=8)
    sizes = _layer_sizes(inputs, hidden, layers)
    expected = sum(sizes) + hidden + 1
    weights = doc["weights"]
    if len(weights) != expected:
        raise FormatError(f"{where}: {len(weights)} weights, but an LSTM with input {inputs}, hidden {hidden} and "
                          f"{layers} layer(s) has {expected}; the file is damaged or its config is wrong")
    w = as_array(weights, (expected,), where=where, name="weights")
    flat: dict[str, np.ndarray] = {}
    h0, c0 = [], []
    pos = 0
    for i, size in enumerate(sizes):
        n_in = inputs if i == 0 else hidden
        chunk = w[pos:pos + size]
        pos += size
        n_mat = 4 * hidden * (n_in + hidden)
        mat = chunk[:n_mat].reshape(4 * hidden, n_in + hidden)
        flat[f"layers.{i}.w_ih"] = mat[:, :n_in].T.copy()
        flat[f"layers.{i}.w_hh"] = mat[:, n_in:].T.copy()
        flat[f"layers.{i}.b_ih"] = chunk[n_mat:n_mat + 4 * hidden].copy()
        flat[f"layers.{i}.b_hh"] = np.zeros(4 * hidden, np.float32)
        h0.append(chunk[n_mat + 4 * hidden:n_mat + 5 * hidden])
        c0.append(chunk[n_mat + 5 * hidden:n_mat + 6 * hidden])
    flat["dense.w"] = w[pos:pos + hidden].copy()
    flat["dense.b"] = np.asarray(w[pos + hidden], np.float32)
    flat["h0"] = np.stack(h0)
    flat["c0"] = np.stack(c0)

    file_sr = doc.get("sample_rate")
    if file_sr is not None:
        file_sr = as_int(file_sr, where=where, name="sample_rate", lo=8000, hi=384000)
        if sample_rate is not None and int(sample_rate) != file_sr:
            raise FormatError(f"{where}: the file says it was trained at {file_sr} Hz, not {sample_rate} Hz; "
                              "drop --sample-rate for NAM files that state their rate")
    rate = file_sr or (int(sample_rate) if sample_rate else DEFAULT_SAMPLE_RATE)
    config = ModelConfig(hidden_size=hidden, num_layers=layers, cell="lstm", knobs=knob_names(inputs),
                         skip=False, sample_rate=rate)
    metadata = _import_metadata(doc.get("metadata"), where)
    metadata["sample_rate_assumed"] = file_sr is None and sample_rate is None
    if isinstance(doc.get("version"), str):
        metadata["source_format_version"] = doc["version"]
    return build_model(config, flat, metadata, where=where)


def _import_metadata(meta: Any, where: str) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise FormatError(f"{where}: metadata must be a JSON object")
    out: dict[str, Any] = {"nam": finite_json(meta)}
    for src, dst in (("name", "name"), ("modeled_by", "author")):
        if isinstance(meta.get(src), str) and meta[src]:
            out[dst] = meta[src]
    device = " ".join(str(meta[k]) for k in ("gear_make", "gear_model") if isinstance(meta.get(k), str) and meta[k])
    if device:
        out["device"] = device
    category = _CATEGORY_OF.get((meta.get("gear_type"), meta.get("tone_type")))
    if category:
        out["category"] = category
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    esr = meta.get("validation_esr", training.get("validation_esr"))
    if isinstance(esr, (int, float)) and not isinstance(esr, bool) and math.isfinite(esr):
        out["val_esr"] = float(esr)
    return out


def settled_state(model: Model, n: int = SETTLE_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """NAM's initial state: the state after ``n`` zeros, starting from the model's ``h0``/``c0``.

    A model whose initial state is already settled (it moves by at most 1e-6 over ``n`` zeros,
    e.g. one imported from a ``.nam`` file) keeps its state bit for bit, so ``.nam`` round trips
    are exact.

    Returns
    -------
    h, c : np.ndarray [shape=(L, H)] float32
    """
    _, state = model.process(np.zeros(n, np.float32), return_state=True)
    h, c = np.asarray(state["h"], np.float32), np.asarray(state["c"], np.float32)
    h0, c0 = np.asarray(model.params["h0"], np.float32), np.asarray(model.params["c0"], np.float32)
    if max(np.max(np.abs(h - h0)), np.max(np.abs(c - c0))) <= SETTLED_TOL:
        return h0, c0
    return h, c


def write(model: Model, *, player: str | None = None) -> dict[str, Any]:
    """The NAM document of ``model``.

    Raises
    ------
    FormatError
        The model has a skip connection (NAM cannot represent ``y = head(h) + x``: an LSTM's
        output is a bounded nonlinear function of its input, never the input itself, so no
        choice of weights reproduces the skip exactly), knob inputs (NAM players feed only the
        audio: bake fixed knob values in), or a player was named.
    UnsupportedArchitectureError
        A GRU model (NAM has no GRU architecture).
    """
    cfg = model.config
    if player is not None:
        raise FormatError(f"the nam format has no player variants (got player {player!r}); every NAM player "
                          "loads any LSTM size")
    if cfg.cell != "lstm":
        raise UnsupportedArchitectureError(
            f"model {model.name!r} is a {cfg.cell.upper()}; NAM has no GRU architecture. Export it as aidax or "
            "agam, or train an LSTM for NAM")
    if cfg.skip:
        raise FormatError(
            f"model {model.name!r} has a skip connection (y = dense(h) + x) and NAM's LSTM has none; no NAM "
            "LSTM computes x + f(x) exactly, so exporting would change the sound. Train with skip disabled "
            "(`tonezoo train --no-skip`), or export to agam/aidax, which keep the skip")
    if cfg.knobs:
        raise FormatError(
            f"model {model.name!r} takes knob inputs {list(cfg.knobs)}; NAM players feed only the audio. "
            "Bake fixed knob values in: `tonezoo export ... --format nam --knob NAME=VALUE` "
            "(export_model(..., knobs={...}))")
    flat = flatten_params(model.params)
    h_init, c_init = settled_state(model)
    parts: list[np.ndarray] = []
    for i in range(cfg.num_layers):
        mat = np.concatenate([flat[f"layers.{i}.w_ih"].T, flat[f"layers.{i}.w_hh"].T], axis=1)
        parts += [mat.reshape(-1), (flat[f"layers.{i}.b_ih"] + flat[f"layers.{i}.b_hh"]).astype(np.float32),
                  h_init[i], c_init[i]]
    parts += [flat["dense.w"], flat["dense.b"].reshape(1)]
    weights = np.concatenate(parts).astype(np.float32)
    return {
        "version": NAM_VERSION,
        "metadata": _export_metadata(model),
        "architecture": "LSTM",
        "config": {"input_size": cfg.input_size, "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers},
        "weights": weights.tolist(),
        "sample_rate": cfg.sample_rate,
    }


def _export_metadata(model: Model) -> dict[str, Any]:
    md = model.metadata
    old = md.get("nam") if isinstance(md.get("nam"), dict) else {}
    unchanged = weights_unchanged(model)
    out = {k: v for k, v in old.items() if unchanged or k not in _WEIGHT_BOUND}
    now = datetime.datetime.now()
    out["date"] = {"year": now.year, "month": now.month, "day": now.day, "hour": now.hour,
                   "minute": now.minute, "second": now.second}
    out["name"] = model.name
    if md.get("author"):
        out["modeled_by"] = str(md["author"])
    if md.get("device") and not (old.get("gear_make") or old.get("gear_model")):
        out["gear_model"] = str(md["device"])
    category = md.get("category")
    if category in _NAM_OF and _CATEGORY_OF.get((out.get("gear_type"), out.get("tone_type"))) != category:
        out["gear_type"], out["tone_type"] = _NAM_OF[category]
    esr = md.get("val_esr")
    old_training = old.get("training") if isinstance(old.get("training"), dict) else {}
    imported_esr = old.get("validation_esr", old_training.get("validation_esr"))
    if esr is not None and not unchanged and esr != imported_esr:  # an imported ESR is stale once fine-tuned
        out["training"] = {"validation_esr": float(esr)}
    return out
