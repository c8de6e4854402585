"""The recurrent amp/pedal model: an LSTM (or GRU) stack, a dense head and a skip connection.

The model of Automated-GuitarAmpModelling (AGAM), NeuralPi, Proteus and the transfer-learning
article::

    u[n] = [x[n], knob_1, ..., knob_K]
    (h[n], c[n]) = LSTM(u[n], (h[n-1], c[n-1]))          # one or more layers
    y[n] = w_d . h[n] + b_d + x[n]                         # "+ x[n]" only when ``skip``

LSTM gates follow PyTorch's order (i, f, g, o)::

    z = W_ih u + b_ih + W_hh h + b_hh
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
    c' = f * c + i * g;   h' = o * tanh(c')

GRU gates follow PyTorch's order (r, z, n)::

    r = sigmoid(W_ir u + b_ir + W_hr h + b_hr);  z = sigmoid(W_iz u + b_iz + W_hz h + b_hz)
    n = tanh(W_in u + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h

Everything here is a pure function of a parameter pytree::

    params = {"layers": [{"w_ih": (in, G*H), "w_hh": (H, G*H), "b_ih": (G*H,), "b_hh": (G*H,)}, ...],
              "dense": {"w": (H,), "b": ()},
              "h0": (L, H), "c0": (L, H)}          # initial state (zeros unless imported)

so params of one config can be stacked with ``jax.tree.map(jnp.stack, ...)`` and run with
``jax.vmap``. The cell is hand-fused: the audio input term is a broadcast multiply, the constant
knob term is folded into the bias once per call, and the dense head runs inside the time scan so
only one value per sample leaves the loop.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from .errors import ConfigError, ModelFileError

__all__ = [
    "ModelConfig",
    "Model",
    "RecurrentModel",
    "init",
    "apply",
    "initial_state",
    "stack_params",
    "unstack_params",
    "param_count",
    "FORMAT_VERSION",
]

FORMAT_VERSION = 1
_CELLS = {"lstm": 4, "gru": 3}
_MAX_HIDDEN = 1024
_MAX_LAYERS = 8
_MAX_KNOBS = 16

Params = dict[str, Any]
State = dict[str, jax.Array]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a tonezoo model.

    Parameters
    ----------
    hidden_size : int > 0
        Units per recurrent layer (AGAM/NeuralPi 20, Proteus 40, Chameleon 32).
    num_layers : int >= 1
        Stacked recurrent layers.
    cell : {"lstm", "gru"}
        Recurrent cell type.
    knobs : tuple of str
        Names of the conditioning inputs (gain, tone, ...), appended to the audio input.
    skip : bool
        Add the input sample to the output (AGAM/NeuralPi/Proteus do; NAM and AIDA-X do not).
    sample_rate : int
        Sample rate in Hz the model was trained at.
    """

    hidden_size: int = 20
    num_layers: int = 1
    cell: str = "lstm"
    knobs: tuple[str, ...] = ()
    skip: bool = True
    sample_rate: int = 44100

    def __post_init__(self) -> None:
        object.__setattr__(self, "knobs", tuple(self.knobs))
        if self.cell not in _CELLS:
            raise ConfigError(f"cell must be one of {sorted(_CELLS)}, got {self.cell!r}")
        for name, value, hi in (("hidden_size", self.hidden_size, _MAX_HIDDEN),
                                ("num_layers", self.num_layers, _MAX_LAYERS)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= hi:
                raise ConfigError(f"{name} must be an integer in [1, {hi}], got {value!r}")
        if len(self.knobs) > _MAX_KNOBS:
            raise ConfigError(f"at most {_MAX_KNOBS} knobs are supported, got {len(self.knobs)}")
        if len(set(self.knobs)) != len(self.knobs) or not all(isinstance(k, str) and k for k in self.knobs):
            raise ConfigError(f"knobs must be distinct non-empty names, got {list(self.knobs)}")
        if not isinstance(self.skip, bool):
            raise ConfigError(f"skip must be true or false, got {self.skip!r}")
        if isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, (int, np.integer)) \
                or not 8000 <= self.sample_rate <= 384000:
            raise ConfigError(f"sample_rate must be an integer in [8000, 384000] Hz, got {self.sample_rate!r}")

    @property
    def input_size(self) -> int:
        """Inputs per sample: the audio plus one per knob."""
        return 1 + len(self.knobs)

    @property
    def gates(self) -> int:
        """Gate blocks per layer (4 for LSTM, 3 for GRU)."""
        return _CELLS[self.cell]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["knobs"] = list(self.knobs)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        """Build a config from a JSON mapping; unknown keys are an error."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"model config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config keys {sorted(unknown)}; expected a subset of {sorted(known)}")
        kw = dict(d)
        if "knobs" in kw:
            if not isinstance(kw["knobs"], (list, tuple)):
                raise ConfigError(f"knobs must be a list of names, got {kw['knobs']!r}")
            kw["knobs"] = tuple(kw["knobs"])
        return cls(**kw)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Flat ``name -> shape`` of every parameter (the safetensors layout)."""
        h, g = self.hidden_size, self.gates
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else h
            shapes[f"layers.{layer}.w_ih"] = (n_in, g * h)
            shapes[f"layers.{layer}.w_hh"] = (h, g * h)
            shapes[f"layers.{layer}.b_ih"] = (g * h,)
            shapes[f"layers.{layer}.b_hh"] = (g * h,)
        shapes["dense.w"] = (h,)
        shapes["dense.b"] = ()
        shapes["h0"] = (self.num_layers, h)
        shapes["c0"] = (self.num_layers, h)
        return shapes


class RecurrentModel(nn.Module):
    """Flax module of the model; ``RecurrentModel(config).init(key, x)`` gives the params pytree.

    The module declares the parameters (PyTorch's uniform(-1/sqrt(H), 1/sqrt(H)) initialisation,
    zero dense bias, zero initial state) and runs :func:`apply` on them.
    """

    config: ModelConfig

    @nn.compact
    def __call__(self, x: jax.Array, knobs: jax.Array | None = None, state: State | None = None):
        cfg = self.config
        h, g = cfg.hidden_size, cfg.gates
        bound = 1.0 / np.sqrt(h)
        uni = lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)  # noqa: E731
        layers = []
        for layer in range(cfg.num_layers):
            n_in = cfg.input_size if layer == 0 else h
            layers.append({
                "w_ih": self.param(f"layer{layer}_w_ih", uni, (n_in, g * h)),
                "w_hh": self.param(f"layer{layer}_w_hh", uni, (h, g * h)),
                "b_ih": self.param(f"layer{layer}_b_ih", uni, (g * h,)),
                "b_hh": self.param(f"layer{layer}_b_hh", uni, (g * h,)),
            })
        params = {
            "layers": layers,
            "dense": {"w": self.param("dense_w", uni, (h,)), "b": self.param("dense_b", nn.initializers.zeros, ())},
            "h0": self.param("h0", nn.initializers.zeros, (cfg.num_layers, h)),
            "c0": self.param("c0", nn.initializers.zeros, (cfg.num_layers, h)),
        }
        return apply(params, x, state, knobs, config=cfg)


def _from_flax(variables: Mapping[str, Any], config: ModelConfig) -> Params:
    p = variables["params"]
    return {
        "layers": [{k: p[f"layer{i}_{k}"] for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
                   for i in range(config.num_layers)],
        "dense": {"w": p["dense_w"], "b": p["dense_b"]},
        "h0": p["h0"],
        "c0": p["c0"],
    }


def init(config: ModelConfig, key: jax.Array | int = 0) -> Params:
    """Fresh parameters for ``config``.

    Parameters
    ----------
    config : ModelConfig
    key : jax.random key or int seed

    Returns
    -------
    params : dict pytree (see module docstring)

    Examples
    --------
    >>> params = init(ModelConfig(hidden_size=8), 0)
    >>> params["layers"][0]["w_hh"].shape
    (8, 32)
    """
    if isinstance(key, (int, np.integer)):
        key = jax.random.PRNGKey(int(key))
    x = jnp.zeros((1, 4), jnp.float32)
    k = jnp.zeros((1, len(config.knobs)), jnp.float32) if config.knobs else None
    variables = RecurrentModel(config).init(key, x, k)
    return _from_flax(variables, config)


def initial_state(params: Params, batch_shape: tuple[int, ...] = ()) -> State:
    """The model's initial state broadcast to ``batch_shape``: ``{"h", "c"}`` each (L, *batch, H)."""
    h0, c0 = params["h0"], params["c0"]
    shape = (h0.shape[0], *batch_shape, h0.shape[1])
    h = jnp.broadcast_to(h0.reshape(h0.shape[0], *([1] * len(batch_shape)), h0.shape[1]), shape)
    c = jnp.broadcast_to(c0.reshape(c0.shape[0], *([1] * len(batch_shape)), c0.shape[1]), shape)
    return {"h": h, "c": c}


def _lstm_step(layer: Params, bias: jax.Array, u, h, c, first: bool):
    if first:  # u is the audio sample (...,), bias already holds the knob term
        z = u[..., None] * layer["w_ih"][0] + bias + h @ layer["w_hh"]
    else:
        z = u @ layer["w_ih"] + bias + h @ layer["w_hh"]
    hs = h.shape[-1]
    s = jax.nn.sigmoid(z)
    i, f, o = s[..., :hs], s[..., hs:2 * hs], s[..., 3 * hs:]
    g = jnp.tanh(z[..., 2 * hs:3 * hs])
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return h, c


def _gru_step(layer: Params, bias_i: jax.Array, u, h, first: bool):
    hs = h.shape[-1]
    if first:
        zi = u[..., None] * layer["w_ih"][0] + bias_i
    else:
        zi = u @ layer["w_ih"] + bias_i
    zh = h @ layer["w_hh"] + layer["b_hh"]
    rz = jax.nn.sigmoid(zi[..., :2 * hs] + zh[..., :2 * hs])
    r, z = rz[..., :hs], rz[..., hs:]
    n = jnp.tanh(zi[..., 2 * hs:] + r * zh[..., 2 * hs:])
    return (1.0 - z) * n + z * h


def apply(params: Params, x: jax.Array, state: State | None = None, knobs: jax.Array | None = None,
          *, config: ModelConfig) -> tuple[jax.Array, State]:
    """Run the model over audio.

    Parameters
    ----------
    params : pytree from :func:`init`
    x : jax.Array [shape=(..., T)]
        Input audio; leading axes are independent sequences (segments, batch).
    state : dict or None
        Carried state ``{"h", "c"}`` each (L, ..., H); None starts from the model's initial state.
    knobs : jax.Array [shape=(..., K)] or None
        Knob values in [0, 1], held constant over time; required when ``config.knobs`` is set.
    config : ModelConfig (keyword-only, static)

    Returns
    -------
    y : jax.Array [shape=(..., T)]
    state : dict, the state after the last sample (feed it back in to stream).
    """
    if config.cell == "lstm" and config.num_layers == 1:
        # the common case (AGAM/NeuralPi/Proteus/NAM LSTM) runs a hand-fused cell with its own VJP
        from ._fused import apply_single_lstm
        return apply_single_lstm(params, x, state, knobs, config=config)
    return apply_generic(params, x, state, knobs, config=config)


def apply_generic(params: Params, x: jax.Array, state: State | None = None, knobs: jax.Array | None = None,
                  *, config: ModelConfig) -> tuple[jax.Array, State]:
    """:func:`apply` for any config with plain ``lax.scan`` + autodiff (the reference implementation)."""
    x = jnp.asarray(x, jnp.float32)
    batch = x.shape[:-1]
    if state is None:
        state = initial_state(params, batch)
    n_knobs = len(config.knobs)
    if n_knobs:
        if knobs is None:
            raise ConfigError(f"this model is conditioned on knobs {list(config.knobs)}; pass their values")
        knobs = jnp.broadcast_to(jnp.asarray(knobs, jnp.float32), (*batch, n_knobs))
    layers = params["layers"]
    first = layers[0]
    bias0 = first["b_ih"] + (first["b_hh"] if config.cell == "lstm" else 0.0)
    if n_knobs:
        bias0 = bias0 + knobs @ first["w_ih"][1:]
    else:
        bias0 = jnp.broadcast_to(bias0, (*batch, bias0.shape[-1]))
    biases = [bias0] + [
        (lay["b_ih"] + lay["b_hh"]) if config.cell == "lstm" else lay["b_ih"] for lay in layers[1:]
    ]
    w_d, b_d = params["dense"]["w"], params["dense"]["b"]

    def step(carry, xt):
        hs, cs = carry
        u = xt
        new_h, new_c = [], []
        for i, lay in enumerate(layers):
            if config.cell == "lstm":
                h, c = _lstm_step(lay, biases[i], u, hs[i], cs[i], i == 0)
            else:
                h = _gru_step(lay, biases[i], u, hs[i], i == 0)
                c = cs[i]
            new_h.append(h)
            new_c.append(c)
            u = h
        y = u @ w_d + b_d
        if config.skip:
            y = y + xt
        return (tuple(new_h), tuple(new_c)), y

    carry0 = (tuple(state["h"][i] for i in range(config.num_layers)),
              tuple(state["c"][i] for i in range(config.num_layers)))
    xs = jnp.moveaxis(x, -1, 0)
    (hs, cs), ys = jax.lax.scan(step, carry0, xs)
    return jnp.moveaxis(ys, 0, -1), {"h": jnp.stack(hs), "c": jnp.stack(cs)}


@partial(jax.jit, static_argnames=("config",))
def _apply_jit(params, x, state, knobs, *, config):
    return apply(params, x, state, knobs, config=config)


def stack_params(params_list: Sequence[Params]) -> Params:
    """Stack params of one config along a new leading axis (for ``jax.vmap``)."""
    return jax.tree.map(lambda *a: jnp.stack(a), *params_list)


def unstack_params(stacked: Params) -> list[Params]:
    """Inverse of :func:`stack_params`."""
    n = jax.tree.leaves(stacked)[0].shape[0]
    return [jax.tree.map(lambda a, i=i: a[i], stacked) for i in range(n)]


def param_count(config: ModelConfig) -> int:
    """Trainable parameters (the initial state is not counted)."""
    return int(sum(int(np.prod(s)) for k, s in config.param_shapes().items() if k not in ("h0", "c0")))


def flatten_params(params: Params) -> dict[str, np.ndarray]:
    """``params`` as a flat ``name -> float32 array`` dict (the safetensors keys)."""
    flat: dict[str, np.ndarray] = {}
    for i, lay in enumerate(params["layers"]):
        for k, v in lay.items():
            flat[f"layers.{i}.{k}"] = np.asarray(v, np.float32)
    flat["dense.w"] = np.asarray(params["dense"]["w"], np.float32)
    flat["dense.b"] = np.asarray(params["dense"]["b"], np.float32)
    flat["h0"] = np.asarray(params["h0"], np.float32)
    flat["c0"] = np.asarray(params["c0"], np.float32)
    return flat


def unflatten_params(flat: Mapping[str, np.ndarray], config: ModelConfig, *, where: str = "params") -> Params:
    """Check ``flat`` against ``config`` (names, shapes, finiteness) and build the pytree."""
    expected = config.param_shapes()
    missing = sorted(set(expected) - set(flat))
    extra = sorted(set(flat) - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"{where}: tensors do not match the config ({config.cell}, hidden {config.hidden_size}, "
            f"{config.num_layers} layer(s), {config.input_size} input(s)); missing {missing}, unexpected {extra}")
    out: dict[str, np.ndarray] = {}
    for name, shape in expected.items():
        arr = np.asarray(flat[name])
        if arr.shape != shape:
            raise ModelFileError(f"{where}: tensor {name!r} has shape {arr.shape}, the config needs {shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise ModelFileError(f"{where}: tensor {name!r} has dtype {arr.dtype}, expected floating point")
        if not np.all(np.isfinite(arr)):
            raise ModelFileError(f"{where}: tensor {name!r} contains NaN or Inf; the model file is damaged")
        out[name] = arr.astype(np.float32)
    return {
        "layers": [{k: jnp.asarray(out[f"layers.{i}.{k}"]) for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
                   for i in range(config.num_layers)],
        "dense": {"w": jnp.asarray(out["dense.w"]), "b": jnp.asarray(out["dense.b"])},
        "h0": jnp.asarray(out["h0"]),
        "c0": jnp.asarray(out["c0"]),
    }


@dataclass
class Model:
    """A trained (or fresh) model: config + params + metadata.

    ``metadata`` is free-form JSON: ``name``, ``category``, ``knob_values`` (the device's knob
    settings at capture time), ``training_seconds``, ``val_esr``, ``base_model`` (source when
    fine-tuned), ``source_format`` and anything an importer carries over (author, gear, ...).

    Examples
    --------
    >>> m = Model.create(ModelConfig(hidden_size=8), seed=0)
    >>> m.process(np.zeros(100, np.float32)).shape
    (100,)
    """

    config: ModelConfig
    params: Params
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, config: ModelConfig | None = None, *, seed: int = 0, **metadata: Any) -> "Model":
        config = config or ModelConfig()
        return cls(config, init(config, seed), dict(metadata))

    # -- inference -------------------------------------------------------------------------
    def knob_vector(self, knobs: Mapping[str, float] | Sequence[float] | None = None) -> np.ndarray | None:
        """Knob values in config order; defaults come from ``metadata["knob_values"]``."""
        names = self.config.knobs
        if not names:
            if knobs:
                raise ConfigError(f"model {self.name!r} has no knobs; got {knobs!r}")
            return None
        if knobs is not None and not isinstance(knobs, Mapping):
            vals = [float(v) for v in knobs]
            if len(vals) != len(names):
                raise ConfigError(f"model {self.name!r} takes knobs {list(names)}; got {len(vals)} values")
            return np.asarray(vals, np.float32)
        given = dict(self.metadata.get("knob_values") or {})
        given.update(knobs or {})
        unknown = set(given) - set(names)
        if unknown:
            raise ConfigError(f"model {self.name!r} has knobs {list(names)}; unknown {sorted(unknown)}")
        missing = [k for k in names if k not in given]
        if missing:
            raise ConfigError(f"model {self.name!r} needs values for knobs {missing} (each in [0, 1])")
        return np.asarray([float(given[k]) for k in names], np.float32)

    def process(self, audio: np.ndarray, knobs: Mapping[str, float] | Sequence[float] | None = None, *,
                block_size: int = 65536, state: State | None = None, return_state: bool = False):
        """Run the model on mono audio.

        Parameters
        ----------
        audio : np.ndarray [shape=(n,) or (b, n)]
        knobs : mapping name -> value in [0, 1], optional
        block_size : int
            Audio is processed in fixed blocks with the state carried across, so one compiled
            program serves any length (the last block is zero-padded, its tail discarded).
        state : optional carried state (streaming)
        return_state : bool

        Returns
        -------
        y : np.ndarray, same shape as ``audio`` (float32); ``(y, state)`` with ``return_state``.
        """
        x = np.asarray(audio, np.float32)
        if x.ndim not in (1, 2):
            raise ConfigError(f"audio must be mono (n,) or batched (b, n); got shape {x.shape}")
        k = self.knob_vector(knobs)
        kj = None if k is None else jnp.asarray(k)
        n = x.shape[-1]
        if state is None:
            state = initial_state(self.params, x.shape[:-1])
        if n == 0:
            y = np.zeros_like(x)
            return (y, state) if return_state else y
        block = int(min(block_size, max(n, 1)))
        out = []
        for start in range(0, n, block):
            seg = x[..., start:start + block]
            valid = seg.shape[-1]
            if valid < block and not return_state:
                # causal model: zero-padding the tail leaves the valid samples unchanged
                pad = np.zeros((*seg.shape[:-1], block - valid), np.float32)
                seg = np.concatenate([seg, pad], axis=-1)
            y_blk, state = _apply_jit(self.params, jnp.asarray(seg), state, kj, config=self.config)
            out.append(np.asarray(y_blk)[..., :valid])
        y = np.concatenate(out, axis=-1)
        return (y, state) if return_state else y

    # -- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.metadata.get("name", "unnamed"))

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def num_params(self) -> int:
        return param_count(self.config)

    def copy(self, **metadata: Any) -> "Model":
        md = dict(self.metadata)
        md.update(metadata)
        return Model(self.config, jax.tree.map(lambda a: a, self.params), md)

    # -- files ------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, *, card: bool = True) -> Path:
        """Write ``config.json``, ``model.safetensors`` and ``README.md`` atomically.

        The directory is written under a temporary name beside the target and renamed into place,
        so a crash never leaves a half-written model. An existing model directory is replaced.
        """
        from .modelfile import save_model_dir
        return save_model_dir(self, directory, card=card)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Model":
        """Load a model directory written by :meth:`save` (validated; nothing is unpickled)."""
        from .modelfile import load_model_dir
        return load_model_dir(directory)

    # Hub methods are attached by tonezoo.hub (push_to_hub / from_pretrained).
    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Publish this model to the Hugging Face Hub; see :func:`tonezoo.hub.push_to_hub`."""
        from .hub import push_to_hub
        return push_to_hub(self, repo_id, **kwargs)

    @classmethod
    def from_pretrained(cls, repo_id_or_dir: str | os.PathLike, **kwargs: Any) -> "Model":
        """Load from a local directory or a Hub repo; see :func:`tonezoo.hub.from_pretrained`."""
        from .hub import from_pretrained
        return from_pretrained(repo_id_or_dir, **kwargs)
