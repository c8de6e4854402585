"""Neural Amp Modeler ``.nam`` files, architectures ``"LSTM"`` and ``"WaveNet"``.

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

``"WaveNet"`` (NAM's "A1" family: the standard / lite / feather / nano presets and any other
shape of layer arrays with the same kinds of layers) reads into a
:mod:`tonezoo.architectures.wavenet` model; the weight order is spelled out in
:func:`wavenet_layout` and in ``docs/formats.md``. Files of NAM 0.5.x (``head_size``,
``head_bias``, ``gated``, as NAM's trainer and Tone3000 write them) and the newer spelling
(``head`` object, ``kernel_sizes``, ``gating_mode``, ``layer1x1``/``head1x1``) are read when
they describe that family; written files use the 0.5.x spelling, which every NAM player reads.

Other NAM architectures (A2 ``SlimmableContainer``, ``ConvNet``, ``Linear``) and WaveNet features
outside the A1 family (FiLM, bottlenecks, grouped convolutions, head1x1, blended gating, a
post-head, a condition DSP) are refused with :class:`~tonezoo.errors.UnsupportedArchitectureError`.
"""

from __future__ import annotations

import datetime
import math
from typing import Any, Mapping

import numpy as np

from ..architectures import wavenet as _wn
from ..errors import ConfigError, FormatError, UnsupportedArchitectureError
from ..model import Model, ModelConfig, flatten_params
from ._common import as_array, as_int, build_model, finite_json, knob_names, weights_unchanged

__all__ = ["detect", "read", "write", "settled_state", "wavenet_layout", "NAM_VERSION", "SETTLE_SAMPLES",
           "DEFAULT_SAMPLE_RATE"]

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
    """Build a tonezoo model from a NAM LSTM or A1 WaveNet document.

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
    Model
        LSTM: ``h0``/``c0`` from the file, ``b_ih`` = the file's bias and ``b_hh`` = 0, no skip.
        WaveNet: ``arch="wavenet"`` with the file's layer arrays (weight order in
        :func:`wavenet_layout`).

    Raises
    ------
    FormatError
        Missing keys, a weight count that does not match the config, an unknown activation,
        non-numeric weights (the message names the file and the field).
    UnsupportedArchitectureError
        A2, ConvNet, Linear, or WaveNet features outside the A1 family.
    """
    arch = doc["architecture"]
    if arch == "WaveNet":
        return _read_wavenet(doc, where=where, sample_rate=sample_rate)
    if arch != "LSTM":
        raise UnsupportedArchitectureError(
            f"{where}: NAM architecture {arch!r} is not supported; tonezoo reads NAM's \"LSTM\" and "
            "\"WaveNet\" (the A1 family: standard, lite, feather, nano and other shapes of its layer arrays). "
            "Use a NAM LSTM or A1 WaveNet capture, or capture the device again with tonezoo")
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

    rate, assumed = _sample_rate(doc, where, sample_rate)
    config = ModelConfig(hidden_size=hidden, num_layers=layers, cell="lstm", knobs=knob_names(inputs),
                         skip=False, sample_rate=rate)
    return build_model(config, flat, _doc_metadata(doc, where, assumed), where=where)


def _sample_rate(doc: Mapping[str, Any], where: str, sample_rate: int | None) -> tuple[int, bool]:
    """The file's rate (else ``sample_rate``, else 48 kHz) and whether it was assumed."""
    file_sr = doc.get("sample_rate")
    if file_sr is not None:
        file_sr = as_int(file_sr, where=where, name="sample_rate", lo=8000, hi=384000)
        if sample_rate is not None and int(sample_rate) != file_sr:
            raise FormatError(f"{where}: the file says it was trained at {file_sr} Hz, not {sample_rate} Hz; "
                              "drop --sample-rate for NAM files that state their rate")
    rate = file_sr or (int(sample_rate) if sample_rate else DEFAULT_SAMPLE_RATE)
    return rate, file_sr is None and sample_rate is None


def _doc_metadata(doc: Mapping[str, Any], where: str, assumed: bool) -> dict[str, Any]:
    metadata = _import_metadata(doc.get("metadata"), where)
    metadata["sample_rate_assumed"] = assumed
    if isinstance(doc.get("version"), str):
        metadata["source_format_version"] = doc["version"]
    return metadata


# -- WaveNet ----------------------------------------------------------------------------------------

_FILMS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
          "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film")


def _unsupported(where: str, field: str, what: str) -> UnsupportedArchitectureError:
    return UnsupportedArchitectureError(
        f"{where}: {field}: {what}, a WaveNet feature outside NAM's A1 family; tonezoo reads A1 WaveNets "
        "(layer arrays of dilated convolutions with the input mixed in, gated or not, head rechannel of kernel "
        "1, no post-head: the standard, lite, feather and nano presets and other shapes of them) and NAM LSTMs")


def _activation(value: Any, where: str, field: str) -> str:
    """An activation name from a string or a ``{"type": ...}`` object."""
    name = value
    if isinstance(value, dict):
        name = value.get("type", value.get("name"))
        extra = {k: v for k, v in value.items() if k not in ("type", "name")}
        if name == "LeakyReLU" and extra.get("negative_slope", 0.01) == 0.01:
            extra.pop("negative_slope", None)
        if extra:
            raise _unsupported(where, field, f"activation parameters {sorted(extra)}")
    if not isinstance(name, str) or name not in _wn.ACTIVATIONS:
        raise FormatError(f"{where}: {field} is {value!r}, not an activation tonezoo knows; expected one of "
                          f"{sorted(_wn.ACTIVATIONS)}")
    return name


def _per_layer(value: Any, n: int, where: str, field: str) -> list[Any]:
    if isinstance(value, list):
        if len(value) != n:
            raise FormatError(f"{where}: {field} has {len(value)} entries but the layer array has {n} dilations")
        return list(value)
    return [value] * n


def _wavenet_array(la: Any, i: int, where: str) -> _wn.LayerArrayConfig:
    f = f"config.layers[{i}]"
    if not isinstance(la, dict):
        raise FormatError(f"{where}: {f} must be a JSON object, got {type(la).__name__}")
    for key in ("input_size", "condition_size", "channels", "dilations", "activation"):
        if key not in la:
            raise FormatError(f"{where}: {f} lacks \"{key}\"; a WaveNet layer array needs input_size, "
                              "condition_size, channels, kernel_size, dilations, activation and a head size")
    channels = as_int(la["channels"], where=where, name=f"{f}.channels", lo=1, hi=1024)
    input_size = as_int(la["input_size"], where=where, name=f"{f}.input_size", lo=1, hi=1024)
    condition_size = as_int(la["condition_size"], where=where, name=f"{f}.condition_size", lo=1, hi=1024)
    dil = la["dilations"]
    if not isinstance(dil, list) or not dil:
        raise FormatError(f"{where}: {f}.dilations must be a non-empty list of integers")
    dilations = [as_int(d, where=where, name=f"{f}.dilations", lo=1, hi=1 << 16) for d in dil]
    n = len(dilations)
    if "kernel_sizes" in la:
        ks = la["kernel_sizes"]
        if not isinstance(ks, list) or len(ks) != n:
            raise FormatError(f"{where}: {f}.kernel_sizes must list one kernel size per dilation ({n})")
    elif "kernel_size" in la:
        ks = _per_layer(la["kernel_size"], n, where, f"{f}.kernel_size")
    else:
        raise FormatError(f"{where}: {f} lacks \"kernel_size\" (or \"kernel_sizes\")")
    kernels = [as_int(k, where=where, name=f"{f}.kernel_size", lo=1, hi=64) for k in ks]
    acts = [_activation(a, where, f"{f}.activation") for a in _per_layer(la["activation"], n, where,
                                                                          f"{f}.activation")]
    # the head rechannel: 0.5.x head_size/head_bias, or the newer head object
    if isinstance(la.get("head"), dict):
        head = la["head"]
        for key in ("out_channels", "kernel_size", "bias"):
            if key not in head:
                raise FormatError(f"{where}: {f}.head lacks \"{key}\"")
        head_size = as_int(head["out_channels"], where=where, name=f"{f}.head.out_channels", lo=1, hi=1024)
        if as_int(head["kernel_size"], where=where, name=f"{f}.head.kernel_size", lo=1, hi=64) != 1:
            raise _unsupported(where, f"{f}.head.kernel_size", f"a head rechannel of kernel {head['kernel_size']}")
        if head.get("head_dilation", 1) != 1:
            raise _unsupported(where, f"{f}.head.head_dilation", "a dilated head rechannel")
        head_bias = head["bias"]
        bias_field = f"{f}.head.bias"
    elif "head_size" in la:
        head_size = as_int(la["head_size"], where=where, name=f"{f}.head_size", lo=1, hi=1024)
        if "head_bias" not in la:
            raise FormatError(f"{where}: {f} lacks \"head_bias\"")
        head_bias = la["head_bias"]
        bias_field = f"{f}.head_bias"
    else:
        raise FormatError(f"{where}: {f} lacks \"head_size\" (or a \"head\" object)")
    if not isinstance(head_bias, bool):
        raise FormatError(f"{where}: {bias_field} must be true or false, got {head_bias!r}")
    # gating: 0.5.x "gated", or the newer gating_mode (+ secondary_activation, Sigmoid by default)
    if "gating_mode" in la:
        modes = _per_layer(la["gating_mode"], n, where, f"{f}.gating_mode")
        for mode in modes:
            if mode == "blended":
                raise _unsupported(where, f"{f}.gating_mode", "blended gating")
            if mode not in ("none", "gated"):
                raise FormatError(f"{where}: {f}.gating_mode {mode!r} is not one of none, gated, blended")
        if len(set(modes)) > 1:
            raise _unsupported(where, f"{f}.gating_mode", "gated and ungated layers mixed in one array")
        gated = modes[0] == "gated"
        if gated and la.get("secondary_activation") is not None:
            for sec in _per_layer(la["secondary_activation"], n, where, f"{f}.secondary_activation"):
                if _activation(sec, where, f"{f}.secondary_activation") != "Sigmoid":
                    raise _unsupported(where, f"{f}.secondary_activation", f"a {sec!r} gate (A1 gates are Sigmoid)")
    else:
        gated = la.get("gated", False)
        if not isinstance(gated, bool):
            raise FormatError(f"{where}: {f}.gated must be true or false, got {gated!r}")
    # newer fields, accepted at their A1 values only
    if la.get("bottleneck", channels) != channels:
        raise _unsupported(where, f"{f}.bottleneck", f"a bottleneck of {la['bottleneck']} != channels {channels}")
    for key in ("groups_input", "groups_input_mixin"):
        if la.get(key, 1) != 1:
            raise _unsupported(where, f"{f}.{key}", "grouped convolutions")
    l1 = la.get("layer1x1", {"active": True, "groups": 1})
    if not isinstance(l1, dict) or l1.get("active", True) is not True or l1.get("groups", 1) != 1:
        raise _unsupported(where, f"{f}.layer1x1", f"a layer 1x1 other than the plain one ({l1!r})")
    h1 = la.get("head1x1", {"active": False})
    if not isinstance(h1, dict) or h1.get("active", False):
        raise _unsupported(where, f"{f}.head1x1", "an active head 1x1")
    for key in _FILMS:
        film = la.get(key)
        if film not in (None, False) and not (isinstance(film, dict) and film.get("active") is False):
            raise _unsupported(where, f"{f}.{key}", "FiLM conditioning")
    if la.get("slimmable") is not None:
        raise _unsupported(where, f"{f}.slimmable", "a slimmable (A2) layer array")
    try:
        return _wn.LayerArrayConfig(input_size=input_size, condition_size=condition_size, channels=channels,
                                    kernel_sizes=tuple(kernels), dilations=tuple(dilations),
                                    activations=tuple(acts), gated=gated, head_size=head_size,
                                    head_bias=head_bias)
    except ConfigError as e:
        raise FormatError(f"{where}: {f}: {e}") from None


def wavenet_layout(net: _wn.WaveNetConfig) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """The ``.nam`` weight order of a WaveNet: ``(tensor, file shape, axes)`` in file order.

    The file stores PyTorch ``Conv1d`` tensors row-major: a convolution weight of shape
    (out, in, kernel), then its bias (out). Per layer array: the rechannel weight (C, I, 1, no
    bias); per layer the dilated convolution (G*C, C, K) and its bias (G*C), the input mixer
    (G*C, Dc, 1, no bias), the 1x1 (C, C, 1) and its bias (C); then the head rechannel (S, C, 1)
    and, if ``head_bias``, its bias (S). After all arrays: ``head_scale`` (one value).

    ``axes`` turns a file tensor into tonezoo's (``np.transpose(file_tensor, axes)``).
    """
    out: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    for a, la in enumerate(net.layers):
        c, g = la.channels, 2 if la.gated else 1
        out.append((f"arrays.{a}.rechannel", (c, la.input_size), (1, 0)))
        for i, k in enumerate(la.kernel_sizes):
            p = f"arrays.{a}.layers.{i}"
            out += [(f"{p}.conv_w", (g * c, c, k), (2, 1, 0)), (f"{p}.conv_b", (g * c,), (0,)),
                    (f"{p}.mix_w", (g * c, la.condition_size), (1, 0)),
                    (f"{p}.out_w", (c, c), (1, 0)), (f"{p}.out_b", (c,), (0,))]
        out.append((f"arrays.{a}.head_w", (la.head_size, c), (1, 0)))
        if la.head_bias:
            out.append((f"arrays.{a}.head_b", (la.head_size,), (0,)))
    out.append(("head_scale", (), ()))
    return out


def _read_wavenet(doc: Mapping[str, Any], *, where: str, sample_rate: int | None) -> Model:
    cfg = doc.get("config")
    if not isinstance(cfg, dict):
        raise FormatError(f"{where}: NAM WaveNet file lacks its \"config\" object (layers, head, head_scale)")
    if not isinstance(cfg.get("layers"), list) or not cfg["layers"]:
        raise FormatError(f"{where}: config.layers must be a non-empty list of layer arrays")
    if "head_scale" not in cfg:
        raise FormatError(f"{where}: config lacks \"head_scale\"")
    if cfg.get("head") is not None:
        raise _unsupported(where, "config.head", "a post-head network")
    if cfg.get("condition_dsp") is not None:
        raise _unsupported(where, "config.condition_dsp", "a condition DSP")
    head_scale = cfg["head_scale"]
    if isinstance(head_scale, bool) or not isinstance(head_scale, (int, float)) or not math.isfinite(head_scale):
        raise FormatError(f"{where}: config.head_scale must be a finite number, got {head_scale!r}")
    arrays = tuple(_wavenet_array(la, i, where) for i, la in enumerate(cfg["layers"]))
    try:
        net = _wn.WaveNetConfig(layers=arrays, head_scale=float(head_scale))
    except ConfigError as e:
        raise FormatError(f"{where}: config.layers: {e}") from None
    layout = wavenet_layout(net)
    expected = sum(int(np.prod(shape)) for _, shape, _ in layout)
    weights = doc["weights"]
    if len(weights) != expected:
        raise FormatError(f"{where}: weights has {len(weights)} values, but the WaveNet its config describes "
                          f"({', '.join(str(la.channels) for la in arrays)} channels, "
                          f"{sum(len(la.dilations) for la in arrays)} layers) has {expected}; the file is damaged "
                          "or its config is wrong")
    w = as_array(weights, (expected,), where=where, name="weights")
    flat: dict[str, np.ndarray] = {}
    pos = 0
    for name, shape, axes in layout:
        size = int(np.prod(shape))
        flat[name] = np.transpose(w[pos:pos + size].reshape(shape), axes).copy()
        pos += size
    rate, assumed = _sample_rate(doc, where, sample_rate)
    config = _wn.model_config(net, sample_rate=rate)
    return build_model(config, flat, _doc_metadata(doc, where, assumed), where=where)


def _write_wavenet(model: Model) -> dict[str, Any]:
    net = _wn.net_of(model.config)
    flat = flatten_params(model.params)
    parts = []
    for name, shape, axes in wavenet_layout(net):
        parts.append(np.transpose(flat[name], np.argsort(axes)).reshape(-1) if axes else flat[name].reshape(1))
    weights = np.concatenate(parts).astype(np.float32)
    layers = []
    for la in net.layers:
        entry: dict[str, Any] = {"input_size": la.input_size, "condition_size": la.condition_size,
                                 "head_size": la.head_size, "channels": la.channels}
        if len(set(la.kernel_sizes)) == 1:
            entry["kernel_size"] = la.kernel_sizes[0]
        else:
            entry["kernel_sizes"] = list(la.kernel_sizes)
        entry["dilations"] = list(la.dilations)
        uniform = len(set(la.activations)) == 1 and not la.gated
        entry["activation"] = la.activations[0] if uniform else list(la.activations)
        entry["gated"] = la.gated
        entry["head_bias"] = la.head_bias
        # the newer spelling beside the 0.5.x one: NAM >= 0.12 and current players read these
        entry["head"] = {"out_channels": la.head_size, "kernel_size": 1, "bias": la.head_bias}
        if la.gated:
            entry["gating_mode"] = ["gated"] * len(la.dilations)
            entry["secondary_activation"] = ["Sigmoid"] * len(la.dilations)
        layers.append(entry)
    return {
        "version": NAM_VERSION,
        "metadata": _export_metadata(model),
        "architecture": "WaveNet",
        "config": {"layers": layers, "head": None, "head_scale": net.head_scale},
        "weights": weights.tolist(),
        "sample_rate": model.config.sample_rate,
    }


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
                          "loads any LSTM size and A1 WaveNet")
    if cfg.arch == "wavenet":
        return _write_wavenet(model)
    if cfg.arch != "lstm":
        raise UnsupportedArchitectureError(
            f"model {model.name!r} is a {cfg.describe()}; NAM files hold LSTMs and WaveNets only")
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
