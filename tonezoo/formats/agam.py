"""Automated-GuitarAmpModelling (AGAM) JSON: NeuralPi, Proteus, Chameleon, TS-M1N3.

Layout (what AGAM's ``SimpleRNN.save_model`` writes; key order as in the players' files)::

    {"model_data": {"model": "SimpleRNN", "input_size": I, "skip": S, "output_size": 1,
                    "unit_type": "LSTM" | "GRU", "num_layers": L, "hidden_size": H, "bias_fl": true},
     "state_dict": {"rec.weight_ih_l0": (G*H, I), "rec.weight_hh_l0": (G*H, H),
                    "rec.bias_ih_l0": (G*H,), "rec.bias_hh_l0": (G*H,),      # ... for l1, l2, ...
                    "lin.weight": (1, H), "lin.bias": (1,)}}

PyTorch's ``nn.LSTM``/``nn.GRU`` tensors with gate order (i, f, g, o) / (r, z, n), which tonezoo
keeps; tonezoo stores ``w_ih`` transposed, (I, G*H). The model computes
``y = lin(rec(u)) + x`` when ``skip`` is 1. Input 0 is the audio, inputs 1.. are knobs (named
``knob1``, ``knob2``, ...; the files carry no names). The format has no sample rate (GuitarML
trains at 44.1 kHz) and no metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import FormatError, UnsupportedArchitectureError
from ..model import Model, ModelConfig, flatten_params
from ._common import as_array, as_int, build_model, knob_names, require_lstm

__all__ = ["detect", "read", "write", "PLAYERS", "Player", "DEFAULT_SAMPLE_RATE"]

DEFAULT_SAMPLE_RATE = 44100  # GuitarML's convention; the file does not say
_UNITS = {"LSTM": "lstm", "GRU": "gru"}


@dataclass(frozen=True)
class Player:
    """A player's fixed architecture: an LSTM of ``hidden_size`` with skip, one layer."""

    name: str
    hidden_size: int
    inputs: tuple[int, ...]

    def problems(self, config: ModelConfig) -> list[str]:
        """What in ``config`` this player cannot load (empty when it fits)."""
        out = []
        if config.cell != "lstm":
            out.append(f"a {config.cell.upper()} cell (needs LSTM)")
        if config.hidden_size != self.hidden_size:
            out.append(f"hidden size {config.hidden_size} (needs {self.hidden_size})")
        if config.num_layers != 1:
            out.append(f"{config.num_layers} layers (needs 1)")
        if not config.skip:
            out.append("no skip connection (needs skip)")
        if config.input_size not in self.inputs:
            want = " or ".join(str(i) for i in self.inputs)
            out.append(f"{config.input_size} inputs (needs {want}: the audio"
                       f"{' plus a knob' if max(self.inputs) > 1 else ''})")
        return out


PLAYERS: dict[str, Player] = {
    "neuralpi": Player("neuralpi", 20, (1, 2)),
    "proteus": Player("proteus", 40, (1, 2)),
    "chameleon": Player("chameleon", 32, (1,)),
}


def detect(doc: Mapping[str, Any]) -> bool:
    """An AGAM file has ``model_data`` and ``state_dict`` objects at the top level."""
    return isinstance(doc.get("model_data"), dict) and isinstance(doc.get("state_dict"), dict)


def _tensor_shapes(cell_gates: int, hidden: int, inputs: int, layers: int, bias_fl: bool) -> dict[str, tuple]:
    gh = cell_gates * hidden
    shapes: dict[str, tuple] = {}
    for i in range(layers):
        shapes[f"rec.weight_ih_l{i}"] = (gh, inputs if i == 0 else hidden)
        shapes[f"rec.weight_hh_l{i}"] = (gh, hidden)
        shapes[f"rec.bias_ih_l{i}"] = (gh,)
        shapes[f"rec.bias_hh_l{i}"] = (gh,)
    shapes["lin.weight"] = (1, hidden)
    if bias_fl:
        shapes["lin.bias"] = (1,)
    return shapes


def read(doc: Mapping[str, Any], *, where: str, sample_rate: int | None = None) -> Model:
    """Build a tonezoo model from an AGAM document.

    Parameters
    ----------
    doc : parsed JSON object
    where : str
        The file, for messages.
    sample_rate : int or None
        The rate the model was trained at; the format does not record it. None assumes 44100 Hz
        and records ``metadata["sample_rate_assumed"] = True``.

    Returns
    -------
    Model (``metadata["source_format"] == "agam"``).
    """
    md = doc["model_data"]
    if md.get("model", "SimpleRNN") != "SimpleRNN":
        raise UnsupportedArchitectureError(
            f"{where}: AGAM model class {md.get('model')!r} is not supported; tonezoo reads SimpleRNN "
            "(the recurrent model NeuralPi, Proteus and Chameleon use)")
    missing = [k for k in ("unit_type", "hidden_size", "input_size") if k not in md]
    if missing:
        raise FormatError(f"{where}: model_data lacks {missing}; expected unit_type, hidden_size, input_size, "
                          "output_size, skip, num_layers")
    unit = md["unit_type"]
    if unit not in _UNITS:
        raise UnsupportedArchitectureError(
            f"{where}: unit_type {unit!r} is not supported; tonezoo reads LSTM and GRU")
    cell = _UNITS[unit]
    hidden = as_int(md["hidden_size"], where=where, name="model_data.hidden_size", lo=1, hi=1024)
    inputs = as_int(md["input_size"], where=where, name="model_data.input_size", lo=1, hi=17)
    layers = as_int(md.get("num_layers", 1), where=where, name="model_data.num_layers", lo=1, hi=8)
    outputs = as_int(md.get("output_size", 1), where=where, name="model_data.output_size", lo=1, hi=64)
    if outputs != 1:
        raise UnsupportedArchitectureError(f"{where}: output_size {outputs} is not supported; tonezoo models "
                                           "have one (mono) output")
    skip = as_int(md.get("skip", 0), where=where, name="model_data.skip", lo=0, hi=inputs)
    if skip > 1:
        raise UnsupportedArchitectureError(f"{where}: skip {skip} adds {skip} inputs to a mono output; "
                                           "only skip 0 or 1 is supported")
    bias_fl = md.get("bias_fl", True)
    if not isinstance(bias_fl, bool):
        raise FormatError(f"{where}: model_data.bias_fl must be true or false, got {bias_fl!r}")
    gates = 4 if cell == "lstm" else 3
    shapes = _tensor_shapes(gates, hidden, inputs, layers, bias_fl)  # sizes are checked; nothing allocated yet
    sd = doc["state_dict"]
    absent = [k for k in shapes if k not in sd]
    extra = sorted(set(sd) - set(shapes))
    if absent or extra:
        raise FormatError(f"{where}: state_dict does not match model_data ({unit}, hidden {hidden}, "
                          f"{layers} layer(s), {inputs} input(s)): missing {absent}, unexpected {extra}")
    t = {k: as_array(sd[k], s, where=where, name=f"state_dict[{k!r}]") for k, s in shapes.items()}
    flat: dict[str, np.ndarray] = {}
    for i in range(layers):
        flat[f"layers.{i}.w_ih"] = t[f"rec.weight_ih_l{i}"].T.copy()
        flat[f"layers.{i}.w_hh"] = t[f"rec.weight_hh_l{i}"].T.copy()
        flat[f"layers.{i}.b_ih"] = t[f"rec.bias_ih_l{i}"]
        flat[f"layers.{i}.b_hh"] = t[f"rec.bias_hh_l{i}"]
    flat["dense.w"] = t["lin.weight"][0]
    flat["dense.b"] = np.asarray(t["lin.bias"][0] if bias_fl else 0.0, np.float32)
    flat["h0"] = np.zeros((layers, hidden), np.float32)
    flat["c0"] = np.zeros((layers, hidden), np.float32)
    assumed = sample_rate is None
    config = ModelConfig(hidden_size=hidden, num_layers=layers, cell=cell, knobs=knob_names(inputs),
                         skip=bool(skip), sample_rate=DEFAULT_SAMPLE_RATE if assumed else int(sample_rate))
    metadata: dict[str, Any] = {"sample_rate_assumed": assumed}
    fits = [p.name for p in PLAYERS.values() if not p.problems(config)]
    if fits:
        metadata["players"] = fits
    return build_model(config, flat, metadata, where=where)


def write(model: Model, *, player: str | None = None) -> dict[str, Any]:
    """The AGAM document of ``model``.

    Parameters
    ----------
    model : Model
    player : {"neuralpi", "proteus", "chameleon"} or None
        Check that the model fits that player's fixed architecture; refuse if it does not.

    Raises
    ------
    FormatError
        ``player`` is unknown, or the model does not fit it (the message says what the model has,
        what the player needs and how to train a model that fits).
    """
    require_lstm(model, "AGAM")
    cfg = model.config
    if player is not None:
        spec = PLAYERS.get(player)
        if spec is None:
            raise FormatError(f"unknown player {player!r} for the agam format; choose one of {sorted(PLAYERS)}")
        problems = spec.problems(cfg)
        if problems:
            raise FormatError(
                f"model {model.name!r} does not fit {player}: it has {', '.join(problems)}. {player} plays "
                f"one-layer LSTM-{spec.hidden_size} models with skip; train one with "
                f"`tonezoo train ... --hidden {spec.hidden_size}` (or fine-tune from a {player} model)")
    flat = flatten_params(model.params)
    state_dict: dict[str, Any] = {}
    for i in range(cfg.num_layers):
        state_dict[f"rec.weight_ih_l{i}"] = flat[f"layers.{i}.w_ih"].T.tolist()
        state_dict[f"rec.weight_hh_l{i}"] = flat[f"layers.{i}.w_hh"].T.tolist()
        state_dict[f"rec.bias_ih_l{i}"] = flat[f"layers.{i}.b_ih"].tolist()
        state_dict[f"rec.bias_hh_l{i}"] = flat[f"layers.{i}.b_hh"].tolist()
    state_dict["lin.weight"] = [flat["dense.w"].tolist()]
    state_dict["lin.bias"] = [float(flat["dense.b"])]
    model_data = {"model": "SimpleRNN", "input_size": cfg.input_size, "skip": int(cfg.skip), "output_size": 1,
                  "unit_type": cfg.cell.upper(), "num_layers": cfg.num_layers, "hidden_size": cfg.hidden_size,
                  "bias_fl": True}
    return {"model_data": model_data, "state_dict": state_dict}
