"""AIDA-X / RTNeural Keras-layout JSON.

Layout (what AIDA-X's trainer writes and RTNeural's ``parseJson`` reads)::

    {"in_shape": [null, null, I],
     "in_skip": 0 | 1,                 # optional: y = x + net(x) when 1
     "in_gain": dB, "out_gain": dB,    # optional: net(10^(in_gain/20) x) * 10^(out_gain/20)
     "layers": [{"type": "lstm" | "gru", "activation": "", "shape": [null, null, H],
                 "weights": [W (I, G*H), U (H, G*H), b]},   # ... more recurrent layers
                {"type": "dense", "activation": "", "shape": [null, null, 1],
                 "weights": [(H, 1), (1,)]}],
     "input_batch": [...], "output_batch": [...],            # self-test: zero initial state
     "metadata": {"name", "samplerate" (number or string), "author", "license", "esr", ...}}

Keras gate order: LSTM (i, f, c, o), the same as PyTorch's (i, f, g, o), one bias ``b`` (4H)
(tonezoo: ``b_ih = b``, ``b_hh = 0``). GRU (z, r, h) with ``reset_after``: ``b`` is (2, 3H),
row 0 the input bias and row 1 the recurrent bias; tonezoo reorders to PyTorch's (r, z, n).
``W`` and ``U`` are already (in, G*H), tonezoo's own orientation. Gains are folded into the
weights on import (exact); a file without a sample rate is assumed to be at 48 kHz.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax.numpy as jnp
import numpy as np

from ..errors import FormatError, UnsupportedArchitectureError
from ..model import Model, ModelConfig, flatten_params, initial_state
from ._common import (as_array, as_int, as_number, build_model, finite_json, knob_names, probe_signal, require_lstm,
                      weights_unchanged)

__all__ = ["detect", "read", "write", "AIDAX_HIDDEN_SIZES", "DEFAULT_SAMPLE_RATE", "BATCH_SIZE"]

DEFAULT_SAMPLE_RATE = 48000
BATCH_SIZE = 2048
AIDAX_HIDDEN_SIZES = (8, 12, 16, 20, 24, 32, 40, 64, 80)  # the plugin's compiled architectures
_GATES = {"lstm": 4, "gru": 3}
# metadata fields of AIDA-X files and the tonezoo metadata keys they map to
_FIELDS = {"name": "name", "author": "author", "license": "license", "based": "device", "style": "style"}


def detect(doc: Mapping[str, Any]) -> bool:
    """An AIDA-X file has a ``layers`` list of objects with ``type`` and ``weights``, and ``in_shape``."""
    layers = doc.get("layers")
    return ("in_shape" in doc and isinstance(layers, list) and bool(layers)
            and all(isinstance(la, dict) and "type" in la and "weights" in la for la in layers))


def _to_pytorch_gru(a: np.ndarray) -> np.ndarray:
    """Reorder the last axis from Keras (z, r, h) to PyTorch (r, z, n)."""
    z, r, h = np.split(a, 3, axis=-1)
    return np.concatenate([r, z, h], axis=-1)


def _to_keras_gru(a: np.ndarray) -> np.ndarray:
    """Reorder the last axis from PyTorch (r, z, n) to Keras (z, r, h)."""
    r, z, n = np.split(a, 3, axis=-1)
    return np.concatenate([z, r, n], axis=-1)


def _sample_rate(meta: Mapping[str, Any], where: str) -> int | None:
    sr = meta.get("samplerate", meta.get("sample_rate"))
    if sr is None:
        return None
    try:
        value = float(sr) if isinstance(sr, str) else as_number(sr, where=where, name="metadata.samplerate")
    except ValueError:
        raise FormatError(f"{where}: metadata.samplerate {sr!r} is not a number") from None
    if not value.is_integer() or not 8000 <= value <= 384000:
        raise FormatError(f"{where}: metadata.samplerate {sr!r} is not a sample rate in [8000, 384000] Hz")
    return int(value)


def _gain_db(doc: Mapping[str, Any], key: str, where: str) -> float:
    value = doc.get(key, 0.0)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise FormatError(f"{where}: {key} {value!r} is not a number (dB)") from None
    db = as_number(value, where=where, name=key)
    if abs(db) > 120:
        raise FormatError(f"{where}: {key} {db} dB is not a plausible gain")
    return db


def read(doc: Mapping[str, Any], *, where: str, sample_rate: int | None = None) -> Model:
    """Build a tonezoo model from an AIDA-X document.

    Parameters
    ----------
    doc : parsed JSON object
    where : str
        The file, for messages.
    sample_rate : int or None
        Used only when the file has no ``metadata.samplerate`` (else 48000 Hz is assumed); a value
        that contradicts the file's is an error.

    Returns
    -------
    Model (``metadata["source_format"] == "aidax"``; the file's metadata in ``metadata["aidax"]``).
    """
    in_shape = doc["in_shape"]
    if not isinstance(in_shape, list) or not in_shape:
        raise FormatError(f"{where}: in_shape must be a list such as [null, null, 1], got {in_shape!r}")
    inputs = as_int(in_shape[-1], where=where, name="in_shape[-1]", lo=1, hi=17)
    layers = doc["layers"]
    types = [la.get("type") for la in layers]
    if len(layers) < 2 or types[-1] != "dense" or any(t not in _GATES for t in types[:-1]) \
            or len(set(types[:-1])) != 1:
        raise UnsupportedArchitectureError(
            f"{where}: layer stack {types} is not supported; tonezoo reads one to eight recurrent layers of one "
            "type (lstm or gru) followed by one dense layer")
    cell = types[0]
    n_layers = len(layers) - 1
    if n_layers > 8:
        raise UnsupportedArchitectureError(f"{where}: {n_layers} recurrent layers; at most 8 are supported")
    gates = _GATES[cell]
    # declared sizes first: every hidden size is checked before any weight array is built
    hiddens = []
    for i, la in enumerate(layers[:-1]):
        shape = la.get("shape")
        if not isinstance(shape, list) or not shape:
            raise FormatError(f"{where}: layers[{i}].shape must be a list such as [null, null, 12]")
        hiddens.append(as_int(shape[-1], where=where, name=f"layers[{i}].shape[-1]", lo=1, hi=1024))
        if la.get("activation", "") not in ("", "tanh"):
            raise UnsupportedArchitectureError(
                f"{where}: layers[{i}] has activation {la.get('activation')!r}; recurrent layers use tanh")
    if len(set(hiddens)) != 1:
        raise UnsupportedArchitectureError(f"{where}: recurrent layers of different sizes {hiddens} are not "
                                           "supported; tonezoo stacks layers of one hidden size")
    hidden = hiddens[0]
    dense = layers[-1]
    if dense.get("activation", "") not in ("", "linear"):
        raise UnsupportedArchitectureError(f"{where}: the dense layer has activation {dense.get('activation')!r}; "
                                           "only a linear output layer is supported")
    flat: dict[str, np.ndarray] = {}
    for i, la in enumerate(layers[:-1]):
        n_in = inputs if i == 0 else hidden
        w = la["weights"]
        if not isinstance(w, list) or len(w) != 3:
            raise FormatError(f"{where}: layers[{i}].weights must be [W, U, b] (3 arrays)")
        W = as_array(w[0], (n_in, gates * hidden), where=where, name=f"layers[{i}].weights[0] (W)")
        U = as_array(w[1], (hidden, gates * hidden), where=where, name=f"layers[{i}].weights[1] (U)")
        if cell == "lstm":
            b = as_array(w[2], (gates * hidden,), where=where, name=f"layers[{i}].weights[2] (b)")
            flat[f"layers.{i}.w_ih"], flat[f"layers.{i}.w_hh"] = W, U
            flat[f"layers.{i}.b_ih"], flat[f"layers.{i}.b_hh"] = b, np.zeros_like(b)
        else:
            if np.asarray(w[2], dtype=object).ndim == 1:
                raise UnsupportedArchitectureError(
                    f"{where}: layers[{i}] is a GRU with reset_after=False (one bias row); tonezoo's GRU is "
                    "the reset_after=True form (bias shape (2, 3H)), which RTNeural and PyTorch use")
            b = as_array(w[2], (2, gates * hidden), where=where, name=f"layers[{i}].weights[2] (b)")
            flat[f"layers.{i}.w_ih"], flat[f"layers.{i}.w_hh"] = _to_pytorch_gru(W), _to_pytorch_gru(U)
            flat[f"layers.{i}.b_ih"], flat[f"layers.{i}.b_hh"] = _to_pytorch_gru(b[0]), _to_pytorch_gru(b[1])
    dw = dense["weights"]
    if not isinstance(dw, list) or len(dw) != 2:
        raise FormatError(f"{where}: the dense layer's weights must be [(H, 1), (1,)]")
    flat["dense.w"] = as_array(dw[0], (hidden, 1), where=where, name="dense weights[0]")[:, 0]
    flat["dense.b"] = as_array(dw[1], (1,), where=where, name="dense weights[1]")[0]
    # fold the optional gains into the weights (exact): net(g x) * G
    in_db, out_db = _gain_db(doc, "in_gain", where), _gain_db(doc, "out_gain", where)
    if in_db:
        flat["layers.0.w_ih"] = flat["layers.0.w_ih"].copy()
        flat["layers.0.w_ih"][0] *= np.float32(10 ** (in_db / 20))
    if out_db:
        flat["dense.w"] = flat["dense.w"] * np.float32(10 ** (out_db / 20))
        flat["dense.b"] = flat["dense.b"] * np.float32(10 ** (out_db / 20))
    flat["dense.b"] = np.asarray(flat["dense.b"], np.float32)
    flat["h0"] = np.zeros((n_layers, hidden), np.float32)
    flat["c0"] = np.zeros((n_layers, hidden), np.float32)
    skip = as_int(doc.get("in_skip", 0), where=where, name="in_skip", lo=0, hi=1)

    meta = doc.get("metadata") or {}
    if not isinstance(meta, dict):
        raise FormatError(f"{where}: metadata must be a JSON object")
    file_sr = _sample_rate(meta, where)
    if file_sr is not None and sample_rate is not None and int(sample_rate) != file_sr:
        raise FormatError(f"{where}: the file says it was trained at {file_sr} Hz, not {sample_rate} Hz; "
                          "drop --sample-rate for AIDA-X files that state their rate")
    rate = file_sr or (int(sample_rate) if sample_rate else DEFAULT_SAMPLE_RATE)
    config = ModelConfig(hidden_size=hidden, num_layers=n_layers, cell=cell, knobs=knob_names(inputs),
                         skip=bool(skip), sample_rate=rate)
    metadata: dict[str, Any] = {"sample_rate_assumed": file_sr is None and sample_rate is None}
    for src, dst in _FIELDS.items():
        if isinstance(meta.get(src), str) and meta[src]:
            metadata[dst] = meta[src]
    if isinstance(meta.get("esr"), (int, float)) and not isinstance(meta["esr"], bool) and math.isfinite(meta["esr"]):
        metadata["val_esr"] = float(meta["esr"])
    metadata["aidax"] = finite_json(meta)
    if in_db or out_db:
        metadata["aidax_gains_db"] = {"in_gain": in_db, "out_gain": out_db}
    return build_model(config, flat, metadata, where=where)


def check_player(model: Model) -> list[str]:
    """What in ``model`` the AIDA-X plugin cannot load (empty when it fits)."""
    cfg = model.config
    out = []
    if cfg.hidden_size not in AIDAX_HIDDEN_SIZES:
        out.append(f"hidden size {cfg.hidden_size} (needs one of {list(AIDAX_HIDDEN_SIZES)})")
    if cfg.input_size > 3:
        out.append(f"{cfg.input_size} inputs (needs 1 to 3)")
    if cfg.num_layers != 1:
        out.append(f"{cfg.num_layers} layers (needs 1)")
    return out


def self_test_batch(model: Model, n: int = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The ``input_batch`` / ``output_batch`` pair a player checks itself against.

    The input is :func:`probe_signal` (knob columns hold ``metadata["knob_values"]`` or 0.5);
    the output is the model's, from a zero state as RTNeural starts.

    Returns
    -------
    input_batch : np.ndarray [shape=(n,) or (n, I)]
    output_batch : np.ndarray [shape=(n,)]
    """
    cfg = model.config
    x = probe_signal(n, cfg.sample_rate)
    zero = initial_state({"h0": jnp.zeros_like(model.params["h0"]), "c0": jnp.zeros_like(model.params["c0"])})
    knobs = None
    if cfg.knobs:
        given = model.metadata.get("knob_values") or {}
        knobs = [float(given.get(k, 0.5)) for k in cfg.knobs]
    y = model.process(x, knobs, state=zero, check_level=False)   # the probe, not a user's audio
    if knobs is None:
        return x, y
    return np.column_stack([x] + [np.full(n, k, np.float32) for k in knobs]), y


def write(model: Model, *, player: str | None = None) -> dict[str, Any]:
    """The AIDA-X document of ``model``, with a self-test batch.

    Parameters
    ----------
    model : Model
    player : {"aida-x"} or None
        Check the AIDA-X plugin's compiled sizes (hidden in ``AIDAX_HIDDEN_SIZES``, 1-3 inputs,
        one layer); other RTNeural hosts load any size.
    """
    require_lstm(model, "AIDA-X")
    cfg = model.config
    if player is not None:
        if player != "aida-x":
            raise FormatError(f"unknown player {player!r} for the aidax format; the only one is 'aida-x'")
        problems = check_player(model)
        if problems:
            raise FormatError(f"model {model.name!r} does not fit the AIDA-X plugin: it has {', '.join(problems)}; "
                              f"train with `tonezoo train ... --hidden N` for N in {list(AIDAX_HIDDEN_SIZES)}")
    flat = flatten_params(model.params)
    h = cfg.hidden_size
    layers = []
    for i in range(cfg.num_layers):
        W, U = flat[f"layers.{i}.w_ih"], flat[f"layers.{i}.w_hh"]
        b_ih, b_hh = flat[f"layers.{i}.b_ih"], flat[f"layers.{i}.b_hh"]
        if cfg.cell == "lstm":
            weights = [W.tolist(), U.tolist(), (b_ih + b_hh).astype(np.float32).tolist()]
        else:
            weights = [_to_keras_gru(W).tolist(), _to_keras_gru(U).tolist(),
                       [_to_keras_gru(b_ih).tolist(), _to_keras_gru(b_hh).tolist()]]
        layers.append({"type": cfg.cell, "activation": "", "shape": [None, None, h], "weights": weights})
    layers.append({"type": "dense", "activation": "", "shape": [None, None, 1],
                   "weights": [flat["dense.w"][:, None].tolist(), [float(flat["dense.b"])]]})
    x, y = self_test_batch(model)
    doc: dict[str, Any] = {"in_shape": [None, None, cfg.input_size]}
    if cfg.skip:
        doc["in_skip"] = 1
    doc["layers"] = layers
    doc["input_batch"] = x.tolist()
    doc["output_batch"] = y.tolist()
    doc["metadata"] = _metadata(model)
    return doc


def _metadata(model: Model) -> dict[str, Any]:
    md = model.metadata
    unchanged = weights_unchanged(model)
    out: dict[str, Any] = {}
    old = md.get("aidax") if isinstance(md.get("aidax"), dict) else {}
    out.update({k: v for k, v in old.items() if k != "esr"})
    out["name"] = model.name
    out["samplerate"] = str(model.config.sample_rate)
    for src, dst in _FIELDS.items():
        if md.get(dst):
            out[src] = str(md[dst])
    esr = md.get("val_esr")
    if esr is not None and (unchanged or esr != old.get("esr")):  # an imported ESR is stale once fine-tuned
        out["esr"] = float(esr)
    if md.get("category") and "style" not in out:
        out["style"] = str(md["category"])
    return out
