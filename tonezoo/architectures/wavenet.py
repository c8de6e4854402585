"""NAM's WaveNet ("A1" family): stacked layer arrays of dilated causal convolutions.

The math is that of Neural Amp Modeler (``nam/models/wavenet`` in sdatkinson/neural-amp-modeler,
``NAM/wavenet`` in sdatkinson/NeuralAmpModelerCore) for the configurations its trainer and the
Tone3000 site write: one or more *layer arrays*, each::

    h = x_in @ R                                   # rechannel, 1x1 conv, no bias: (T, I) -> (T, C)
    for layer l (kernel K_l, dilation d_l):
        z[t] = sum_k h[t - d_l (K_l - 1 - k)] @ W_l[k] + b_l + c[t] @ M_l     # dilated causal conv + input mixer
        a = act(z)                  if not gated   # (T, C)
        a = act(z[:, :C]) * sigmoid(z[:, C:])      if gated (z has 2C channels)
        h = h + a @ V_l + v_l                      # residual through a 1x1 conv
        s = s + a                                  # head accumulator (starts at the previous array's head output)
    head_out = s @ H (+ h_b)                       # head rechannel, 1x1 conv (bias if head_bias)

``c`` is the dry input (the *condition*); the first array's ``x_in`` is the dry input too, each
next array's ``x_in`` is the previous array's residual ``h`` and its accumulator starts at the
previous array's ``head_out``. The output is ``head_scale * head_out`` of the last array (one
channel). Every convolution is "valid": an output sample needs the ``receptive_field - 1``
input samples before it, so a block of audio plays exactly when it is preceded by that much
history. The registry's :func:`apply` takes that history as its state (None: silence, NAM's
``pad_start=True``) and returns the last ``receptive_field - 1`` input samples for the next
block; :func:`apply_valid` is the bare network (NAM's ``forward``), used for training windows and
stage-2 segments so that no padded context is computed.

In the registry (``ModelConfig(arch="wavenet", skip=False, options=...)``) the options are
:meth:`WaveNetConfig.to_dict` (``{"layers": [...], "head_scale": 0.02}``, or ``{"preset": name}``);
:func:`model_config` builds one, :data:`PRESETS` holds NAM's four A1 shapes, and
:func:`nam_recipe` / :func:`nam_loss` are NAM's training recipe (``tonezoo.train.recipe``).

Parameters are a pytree of arrays (stackable with ``jax.tree.map(jnp.stack, ...)`` and
``jax.vmap``-able)::

    {"arrays": [{"rechannel": (I, C),
                 "layers": [{"conv_w": (K, C, G*C), "conv_b": (G*C,), "mix_w": (Dc, G*C),
                             "out_w": (C, C), "out_b": (C,)}, ...],      # G = 2 if gated else 1
                 "head_w": (C, S), "head_b": (S,)}, ...],                 # head_b only if head_bias
     "head_scale": ()}

``head_scale`` is a fixed scale (NAM does not train it: it is the registry entry's ``frozen`` key,
and :func:`apply_valid` stops its gradient). The weights of the last layer's 1x1 (``out_w``,
``out_b`` of the last layer of the last array) feed nothing, as in NAM.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConfigError
from ._conv1d import conv as _conv
from ._conv1d import matmul as _mm
from .base import Architecture
from .training import window_epoch as _window_epoch

if TYPE_CHECKING:  # pragma: no cover
    from ..model import ModelConfig

__all__ = [
    "ARCHITECTURE",
    "ACTIVATIONS",
    "LayerArrayConfig",
    "WaveNetConfig",
    "PRESETS",
    "preset",
    "preset_name",
    "model_config",
    "net_of",
    "init",
    "init_net",
    "apply",
    "apply_valid",
    "pad_start",
    "initial_state",
    "param_shapes",
    "net_param_shapes",
    "unflatten_net_params",
    "window_epoch",
    "zero_shot_sums",
    "nam_recipe",
    "nam_loss",
    "mrstft",
    "NAM_RECIPE",
]

Params = dict[str, Any]


def _hardtanh(x):
    return jnp.clip(x, -1.0, 1.0)


def _leaky_hardtanh(x):
    # NAM core's leaky_hardtanh defaults: identity inside [-1, 1], slope 0.01 outside
    return jnp.where(x < -1.0, (x + 1.0) * 0.01 - 1.0, jnp.where(x > 1.0, (x - 1.0) * 0.01 + 1.0, x))


#: Activation names as ``.nam`` files spell them (PyTorch module names) -> function.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "Tanh": jnp.tanh,
    "ReLU": jax.nn.relu,
    "Sigmoid": jax.nn.sigmoid,
    "Hardtanh": _hardtanh,
    "LeakyReLU": lambda x: jax.nn.leaky_relu(x, 0.01),
    "SiLU": jax.nn.silu,
    "Softsign": lambda x: x / (1.0 + jnp.abs(x)),
    "LeakyHardtanh": _leaky_hardtanh,
    "Fasttanh": jnp.tanh,        # the plugin's rational approximation of tanh; same function to ~1e-3
    "Hardswish": jax.nn.hard_swish,
}


def _pos_int(name: str, value: Any, hi: int = 4096) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= hi:
        raise ConfigError(f"{name} must be an integer in [1, {hi}], got {value!r}")
    return int(value)


@dataclass(frozen=True)
class LayerArrayConfig:
    """One layer array of a WaveNet (NAM's ``config.layers[i]``).

    Parameters
    ----------
    input_size : int
        Channels entering the rechannel (1 for the first array, else the previous ``channels``).
    condition_size : int
        Channels of the condition (the dry input: 1).
    channels : int
        Residual channels ``C``.
    kernel_sizes : tuple of int
        Kernel size of each layer's dilated convolution (NAM: one ``kernel_size`` for all).
    dilations : tuple of int
        Dilation of each layer.
    activations : tuple of str
        Activation of each layer, a key of :data:`ACTIVATIONS`.
    gated : bool
        Gated layers: the convolution gives ``2C`` channels, ``act(first C) * sigmoid(last C)``.
    head_size : int
        Channels of the head rechannel's output ``S`` (the next array's ``channels``, or 1).
    head_bias : bool
        Whether the head rechannel has a bias.
    """

    input_size: int
    condition_size: int
    channels: int
    kernel_sizes: tuple[int, ...]
    dilations: tuple[int, ...]
    activations: tuple[str, ...]
    gated: bool
    head_size: int
    head_bias: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "kernel_sizes", tuple(int(k) for k in self.kernel_sizes))
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        object.__setattr__(self, "activations", tuple(self.activations))
        for name in ("input_size", "condition_size", "channels", "head_size"):
            _pos_int(name, getattr(self, name), 1024)
        if not self.dilations:
            raise ConfigError("a layer array needs at least one layer (dilations is empty)")
        n = len(self.dilations)
        if len(self.kernel_sizes) != n or len(self.activations) != n:
            raise ConfigError(f"a layer array has {n} dilations but {len(self.kernel_sizes)} kernel sizes and "
                              f"{len(self.activations)} activations; give one of each per layer")
        for d in self.dilations:
            _pos_int("dilation", d, 1 << 16)
        for k in self.kernel_sizes:
            _pos_int("kernel_size", k, 64)
        for a in self.activations:
            if a not in ACTIVATIONS:
                raise ConfigError(f"activation {a!r} is not supported; expected one of {sorted(ACTIVATIONS)}")
        for name in ("gated", "head_bias"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")

    @property
    def receptive_field(self) -> int:
        return 1 + sum((k - 1) * d for k, d in zip(self.kernel_sizes, self.dilations))


@dataclass(frozen=True)
class WaveNetConfig:
    """Architecture of a WaveNet: its layer arrays and the output scale.

    Parameters
    ----------
    layers : tuple of LayerArrayConfig
    head_scale : float
        Output scale, as the file's config states it (the weights carry it too).
    """

    layers: tuple[LayerArrayConfig, ...]
    head_scale: float = 0.02

    def __post_init__(self) -> None:
        layers = tuple(la if isinstance(la, LayerArrayConfig) else LayerArrayConfig(**la) for la in self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise ConfigError("a WaveNet needs at least one layer array")
        for i, la in enumerate(layers):
            if la.condition_size != 1:
                raise ConfigError(f"layer array {i}: condition_size {la.condition_size}; the condition is the "
                                  "mono dry input, so it must be 1")
            want_in = 1 if i == 0 else layers[i - 1].channels
            if la.input_size != want_in:
                raise ConfigError(f"layer array {i}: input_size {la.input_size}, but it takes "
                                  f"{'the mono input' if i == 0 else 'the previous array'}'s {want_in} channel(s)")
            if i > 0 and layers[i - 1].head_size != la.channels:
                raise ConfigError(f"layer array {i}: the previous array's head_size {layers[i - 1].head_size} "
                                  f"must equal this array's channels {la.channels}")
        if layers[-1].head_size != 1:
            raise ConfigError(f"the last layer array's head_size must be 1 (one output), got {layers[-1].head_size}")
        if not isinstance(self.head_scale, (int, float)) or isinstance(self.head_scale, bool) \
                or not np.isfinite(self.head_scale):
            raise ConfigError(f"head_scale must be a finite number, got {self.head_scale!r}")
        object.__setattr__(self, "head_scale", float(self.head_scale))

    @property
    def receptive_field(self) -> int:
        """Input samples one output sample depends on (NAM's ``receptive_field``)."""
        return 1 + sum(la.receptive_field - 1 for la in self.layers)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layers"] = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in la.items()} for la in d["layers"]]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "WaveNetConfig":
        if not isinstance(d, Mapping) or not isinstance(d.get("layers"), (list, tuple)):
            raise ConfigError("a WaveNet config is a JSON object with a \"layers\" list")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown WaveNet config keys {sorted(unknown)}; expected a subset of {sorted(known)}")
        la_known = {f.name for f in dataclasses.fields(LayerArrayConfig)}
        layers = []
        for i, la in enumerate(d["layers"]):
            if not isinstance(la, Mapping) or set(la) != la_known:
                raise ConfigError(f"WaveNet layer array {i} must have exactly the keys {sorted(la_known)}")
            layers.append(LayerArrayConfig(**la))
        return cls(**{**d, "layers": tuple(layers)})


def _a1(channels: int, head: int, dilations_1: Sequence[int], dilations_2: Sequence[int]) -> WaveNetConfig:
    def arr(i, c, s, dil):
        n = len(dil)
        return LayerArrayConfig(input_size=i, condition_size=1, channels=c, kernel_sizes=(3,) * n,
                                dilations=tuple(dil), activations=("Tanh",) * n, gated=False,
                                head_size=s, head_bias=s == 1)
    return WaveNetConfig(layers=(arr(1, channels, head, dilations_1), arr(channels, head, 1, dilations_2)),
                         head_scale=0.02)


_D10 = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_D7 = (1, 2, 4, 8, 16, 32, 64)
_D13 = (128, 256, 512, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

#: NAM's four A1 presets (``get_wavenet_config`` in ``nam/train/core.py``).
PRESETS: dict[str, WaveNetConfig] = {
    "nam-standard": _a1(16, 8, _D10, _D10),
    "nam-lite": _a1(12, 6, _D7, _D13),
    "nam-feather": _a1(8, 4, _D7, _D13),
    "nam-nano": _a1(4, 2, _D7, _D13),
}


def preset(name: str) -> WaveNetConfig:
    """One of :data:`PRESETS` (``nam-standard``, ``nam-lite``, ``nam-feather``, ``nam-nano``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown WaveNet preset {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name]


def net_param_shapes(net: WaveNetConfig) -> dict[str, tuple[int, ...]]:
    """Flat ``name -> shape`` of every parameter (the safetensors layout), in ``.nam`` weight order."""
    shapes: dict[str, tuple[int, ...]] = {}
    for a, la in enumerate(net.layers):
        c, g = la.channels, 2 if la.gated else 1
        shapes[f"arrays.{a}.rechannel"] = (la.input_size, c)
        for i, k in enumerate(la.kernel_sizes):
            p = f"arrays.{a}.layers.{i}"
            shapes[f"{p}.conv_w"] = (k, c, g * c)
            shapes[f"{p}.conv_b"] = (g * c,)
            shapes[f"{p}.mix_w"] = (la.condition_size, g * c)
            shapes[f"{p}.out_w"] = (c, c)
            shapes[f"{p}.out_b"] = (c,)
        shapes[f"arrays.{a}.head_w"] = (c, la.head_size)
        if la.head_bias:
            shapes[f"arrays.{a}.head_b"] = (la.head_size,)
    shapes["head_scale"] = ()
    return shapes


def unflatten_net_params(flat: Mapping[str, np.ndarray], net: WaveNetConfig, *, where: str = "params") -> Params:
    """Check ``flat`` against ``config`` (names, shapes, finiteness) and build the pytree.

    Raises
    ------
    ConfigError
        A tensor is missing, unexpected, of the wrong shape or not finite.
    """
    expected = net_param_shapes(net)
    missing, extra = sorted(set(expected) - set(flat)), sorted(set(flat) - set(expected))
    if missing or extra:
        raise ConfigError(f"{where}: tensors do not match the WaveNet config; missing {missing[:5]}, "
                          f"unexpected {extra[:5]}")
    out = {}
    for name, shape in expected.items():
        arr = np.asarray(flat[name])
        if arr.shape != shape:
            raise ConfigError(f"{where}: tensor {name!r} has shape {arr.shape}, the config needs {shape}")
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"{where}: tensor {name!r} contains NaN or Inf")
        out[name] = jnp.asarray(arr, jnp.float32)
    arrays = []
    for a, la in enumerate(net.layers):
        arr: dict[str, Any] = {
            "rechannel": out[f"arrays.{a}.rechannel"],
            "layers": [{k: out[f"arrays.{a}.layers.{i}.{k}"] for k in ("conv_w", "conv_b", "mix_w", "out_w", "out_b")}
                       for i in range(len(la.dilations))],
            "head_w": out[f"arrays.{a}.head_w"],
        }
        if la.head_bias:
            arr["head_b"] = out[f"arrays.{a}.head_b"]
        arrays.append(arr)
    return {"arrays": arrays, "head_scale": out["head_scale"]}


def init_net(net: WaveNetConfig, key: jax.Array | int = 0) -> Params:
    """Fresh parameters: PyTorch's ``Conv1d`` default, uniform(+-1/sqrt(fan_in)), as NAM starts.

    Parameters
    ----------
    net : WaveNetConfig
    key : jax.random key or int seed

    Returns
    -------
    params : dict pytree (see module docstring); ``head_scale`` = ``net.head_scale``.

    Examples
    --------
    >>> p = init_net(preset("nam-nano"), 0)
    >>> p["arrays"][0]["layers"][0]["conv_w"].shape
    (3, 4, 4)
    """
    if isinstance(key, (int, np.integer)):
        key = jax.random.PRNGKey(int(key))
    shapes = net_param_shapes(net)
    keys = jax.random.split(key, len(shapes))
    flat = {}
    for k, (name, shape) in zip(keys, shapes.items()):
        if name == "head_scale":
            flat[name] = np.float32(net.head_scale)
            continue
        if name.endswith("conv_w") or name.endswith("conv_b"):
            w_shape = shapes[name.rsplit(".", 1)[0] + ".conv_w"]
            fan_in = w_shape[0] * w_shape[1]
        elif name.endswith("out_b") or name.endswith("head_b"):
            fan_in = shapes[name[:-1] + "w"][0]
        else:
            fan_in = shape[0]
        bound = 1.0 / np.sqrt(fan_in)
        flat[name] = np.asarray(jax.random.uniform(k, shape, jnp.float32, -bound, bound))
    return unflatten_net_params(flat, net, where="init")


def apply_valid(params: Params, x: jax.Array, *, net: WaveNetConfig) -> jax.Array:
    """Run the WaveNet without padding (NAM's ``forward``).

    Parameters
    ----------
    params : pytree from :func:`init`
    x : jax.Array [shape=(..., T)]
        Input audio, ``T >= receptive_field``; leading axes are independent sequences.
    net : WaveNetConfig (keyword-only, static)

    Returns
    -------
    y : jax.Array [shape=(..., T - receptive_field + 1)]
    """
    x = jnp.asarray(x, jnp.float32)
    cond = x[..., None]
    h = cond
    head = None
    for la, arr in zip(net.layers, params["arrays"]):
        t_final = h.shape[-2] - (la.receptive_field - 1)
        h = _mm(h, arr["rechannel"])
        c = la.channels
        s = None
        for lay, k, d, act_name in zip(arr["layers"], la.kernel_sizes, la.dilations, la.activations):
            z = _conv(h, lay["conv_w"], lay["conv_b"], d)
            t_out = z.shape[-2]
            z = z + _mm(cond[..., cond.shape[-2] - t_out:, :], lay["mix_w"])
            act = ACTIVATIONS[act_name]
            a = act(z[..., :c]) * jax.nn.sigmoid(z[..., c:]) if la.gated else act(z)
            h = h[..., h.shape[-2] - t_out:, :] + (_mm(a, lay["out_w"]) + lay["out_b"])
            a_tail = a[..., t_out - t_final:, :]
            if s is None:
                s = a_tail if head is None else head[..., head.shape[-2] - t_final:, :] + a_tail
            else:
                s = s + a_tail
        head = _mm(s, arr["head_w"])
        if la.head_bias:
            head = head + arr["head_b"]
    scale = jax.lax.stop_gradient(params["head_scale"])
    return scale * head[..., 0]


def pad_start(params: Params, x: jax.Array, *, net: WaveNetConfig) -> jax.Array:
    """Run the WaveNet on audio preceded by silence (NAM's ``pad_start=True``): (..., T) -> (..., T)."""
    x = jnp.asarray(x, jnp.float32)
    pad = jnp.zeros((*x.shape[:-1], net.receptive_field - 1), jnp.float32)
    return apply_valid(params, jnp.concatenate([pad, x], axis=-1), net=net)


# -- the registry's protocol (tonezoo.architectures) -------------------------------------------------

def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``ModelConfig.options`` of a WaveNet: ``{"layers": [...], "head_scale": float}``.

    A ``{"preset": NAME}`` object is expanded to that preset's layer arrays.

    Raises
    ------
    ConfigError
        Unknown keys, a bad layer array, or an unknown preset.
    """
    opts = dict(options)
    if set(opts) == {"preset"}:
        return preset(str(opts["preset"])).to_dict()
    return WaveNetConfig.from_dict(opts).to_dict()


@functools.lru_cache(maxsize=256)
def net_of(config: ModelConfig) -> WaveNetConfig:
    """The :class:`WaveNetConfig` a ``ModelConfig(arch="wavenet")`` describes.

    Raises
    ------
    ConfigError
        The config has knobs or a skip connection (NAM's WaveNet has neither).
    """
    if config.knobs:
        raise ConfigError(f"a WaveNet takes no knob inputs (NAM's has none); got knobs {list(config.knobs)}")
    if config.skip:
        raise ConfigError("a WaveNet has no skip connection (NAM's output is its head alone); set skip=False")
    return WaveNetConfig.from_dict(config.options.to_dict())


def model_config(net: WaveNetConfig | str, *, sample_rate: int = 48000) -> ModelConfig:
    """The ``ModelConfig`` of a WaveNet: ``model_config("nam-standard")`` or of an explicit config."""
    from .base import ModelConfig as _ModelConfig
    net = preset(net) if isinstance(net, str) else net
    return _ModelConfig(arch="wavenet", skip=False, knobs=(), sample_rate=int(sample_rate), options=net.to_dict())


def preset_name(config: ModelConfig) -> str | None:
    """The preset (``"nam-standard"``, ...) whose shape ``config`` has, or None."""
    net = net_of(config)
    for name, p in PRESETS.items():
        if p.layers == net.layers:
            return name
    return None


def param_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Flat ``name -> shape`` of every parameter, in ``.nam`` weight order."""
    return net_param_shapes(net_of(config))


def init(config: ModelConfig, key: jax.Array | int = 0) -> Params:
    """Fresh parameters (see :func:`init_net`)."""
    return init_net(net_of(config), key)


def receptive_field(config: ModelConfig) -> int:
    """Input samples one output sample depends on."""
    return net_of(config).receptive_field


def initial_state(params: Params, batch_shape: tuple[int, ...] = (), *, config: ModelConfig) -> jax.Array:
    """The state before the first sample: ``receptive_field - 1`` zeros of input history (*batch, R-1)."""
    return jnp.zeros((*tuple(batch_shape), net_of(config).receptive_field - 1), jnp.float32)


def apply(params: Params, x: jax.Array, state: jax.Array | None = None, knobs: jax.Array | None = None,
          *, config: ModelConfig) -> tuple[jax.Array, jax.Array]:
    """Play audio with the input history carried from the previous block.

    Parameters
    ----------
    params : pytree from :func:`init`
    x : jax.Array [shape=(..., T)]
    state : jax.Array [shape=(..., R-1)] or None
        The last ``receptive_field - 1`` input samples before ``x``; None is silence (NAM's
        ``pad_start=True``).
    knobs : None (a WaveNet has no knobs)
    config : ModelConfig (keyword-only, static)

    Returns
    -------
    y : jax.Array [shape=(..., T)]
    state : jax.Array [shape=(..., R-1)], the history to pass with the next block.
    """
    net = net_of(config)
    if knobs is not None:
        raise ConfigError("a WaveNet takes no knob values")
    x = jnp.asarray(x, jnp.float32)
    if state is None:
        state = jnp.zeros((*x.shape[:-1], net.receptive_field - 1), jnp.float32)
    full = jnp.concatenate([jnp.broadcast_to(state, (*x.shape[:-1], state.shape[-1])), x], axis=-1)
    r1, n = net.receptive_field - 1, x.shape[-1]
    if x.ndim == 1 and n % 2 == 0 and n >= 8 * r1:
        # one long stream: its two halves, each with the receptive field's history before it, run
        # as a batch of two (the same outputs; XLA's CPU convolutions use the cores better on a
        # batch than on one long sequence)
        halves = jnp.stack([full[:n // 2 + r1], full[n // 2:]])
        y = apply_valid(params, halves, net=net).reshape(n)
    else:
        y = apply_valid(params, full, net=net)
    return y, full[..., full.shape[-1] - r1:]


def window_epoch(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, *, config, tcfg, optimizer,
                 loss: Callable):
    """One epoch of NAM's WaveNet training: one update per mini-batch of windows.

    Each segment of ``S`` samples is one window whose first ``tcfg.warmup >= receptive_field - 1``
    samples are context: the network runs *valid* over the segment (no padding, as NAM's trainer
    feeds ``ny + receptive_field - 1`` inputs for ``ny`` outputs) and the loss covers the samples
    after the warm-up. Arguments as in :mod:`tonezoo.architectures.training`.
    """
    net = net_of(config)
    r1 = net.receptive_field - 1
    warm = max(int(tcfg.warmup), r1)
    seg = xb.shape[-1]
    if seg - warm < 1:
        raise ConfigError(f"segments of {seg} samples are too short for a WaveNet with a receptive field of "
                          f"{r1 + 1} samples; use segment_length > {warm}")
    return _window_epoch(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, config=config, tcfg=tcfg,
                         optimizer=optimizer, loss=loss,
                         valid_apply=functools.partial(apply_valid, net=net), min_warmup=r1)


@functools.partial(jax.jit, static_argnames=("config",))
def zero_shot_sums(stacked: Params, knobs: jax.Array | None, xs: jax.Array, ys: jax.Array, mask: jax.Array,
                   *, config: ModelConfig) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Stage-2 error sums of ``M`` stacked WaveNets (the registry's ``zero_shot_sums``).

    Each segment runs *valid*: its first ``receptive_field - 1`` samples are context only (the
    caller's warm-up is at least that long), so no padding is computed.

    Parameters
    ----------
    stacked : params with a leading model axis M
    knobs : None
    xs, ys, mask : jax.Array [shape=(S, T)], T >= receptive_field

    Returns
    -------
    (err, cross, power, ref) : each [shape=(M,)], masked sums of ``(y - y_hat)^2``, ``y y_hat``,
    ``y_hat^2`` and ``y^2``.
    """
    net = net_of(config)
    r1 = net.receptive_field - 1
    y, m = ys[:, r1:], mask[:, r1:]
    ref = jnp.sum(m * y ** 2)

    def one(p):
        y_hat = apply_valid(p, xs, net=net)
        return (jnp.sum(m * (y - y_hat) ** 2), jnp.sum(m * y * y_hat), jnp.sum(m * y_hat ** 2), ref)
    return jax.vmap(one)(stacked)


# -- NAM's training recipe for WaveNets (nam/train/core.py, nam/train/lightning_module.py) -----------

#: NAM's defaults: ``ny`` = 8192 output samples per window, batch 16, Adam lr 0.004 with
#: ExponentialLR(gamma = 1 - 0.007) stepped per epoch, 100 epochs, validation ESR every epoch.
NAM_WINDOW = 8192
NAM_RECIPE: dict[str, Any] = {"batch_size": 16, "lr": 4e-3, "lr_decay": 0.007, "weight_decay": 0.0,
                              "max_epochs": 100, "val_every": 1, "loss": "nam"}
#: auraloss ``MultiResolutionSTFTLoss`` defaults: (fft size, hop, window length).
MRSTFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
MRSTFT_WEIGHT = 2e-4
MRSTFT_PRE_EMPHASIS = 0.85


def nam_recipe(config: ModelConfig, *, window: int = NAM_WINDOW) -> dict[str, Any]:
    """The :class:`tonezoo.train.TrainConfig` fields of NAM's WaveNet recipe for ``config``.

    Segments are ``window + receptive_field - 1`` samples whose first ``receptive_field - 1`` are
    context (NAM's dataset feeds ``nx + ny - 1`` inputs for ``ny`` outputs).
    """
    r1 = net_of(config).receptive_field - 1
    return {**NAM_RECIPE, "segment_length": int(window) + r1, "warmup": r1}


def _stft_magnitude(x: jax.Array, n_fft: int, hop: int, win: int) -> jax.Array:
    """``torch.stft(x, n_fft, hop, win, hann_window(win), center=True)`` magnitudes, floored at 1e-8 power.

    x : (B, T) -> (B, frames, n_fft // 2 + 1)
    """
    pad = n_fft // 2
    xp = jnp.pad(x, ((0, 0), (pad, pad)), mode="reflect")
    frames = 1 + (xp.shape[-1] - n_fft) // hop
    # frame i = xp[i hop : i hop + n_fft], built from ceil(n_fft / hop) reshaped slices rather than a
    # gather: the gradient is then pads and additions instead of a scatter
    blocks = -(-n_fft // hop)
    need = (frames + blocks - 1) * hop
    xp = jnp.pad(xp, ((0, 0), (0, max(0, need - xp.shape[-1]))))
    rows = [xp[:, j * hop:(j + frames) * hop].reshape(xp.shape[0], frames, hop) for j in range(blocks)]
    framed = jnp.concatenate(rows, axis=-1)[..., :n_fft]
    window = np.zeros(n_fft, np.float32)
    left = (n_fft - win) // 2
    window[left:left + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    spec = jnp.fft.rfft(framed * window, axis=-1)
    return jnp.sqrt(jnp.maximum(spec.real ** 2 + spec.imag ** 2, 1e-8))


def mrstft(y: jax.Array, y_hat: jax.Array, weights: jax.Array) -> jax.Array:
    """auraloss's multi-resolution STFT loss (spectral convergence + mean L1 log magnitude, averaged
    over :data:`MRSTFT_RESOLUTIONS`), over the segments whose ``weights`` [shape=(B,)] are 1."""
    total = 0.0
    n_seg = jnp.maximum(weights.sum(), 1.0)
    for n_fft, hop, win in MRSTFT_RESOLUTIONS:
        ym, xm = _stft_magnitude(y, n_fft, hop, win), _stft_magnitude(y_hat, n_fft, hop, win)
        w = weights[:, None, None]
        sc = jnp.sqrt((w * (ym - xm) ** 2).sum()) / jnp.sqrt(jnp.maximum((w * ym ** 2).sum(), 1e-30))
        log_mag = (w * jnp.abs(jnp.log(ym) - jnp.log(xm))).sum() / (n_seg * ym.shape[1] * ym.shape[2])
        total = total + sc + log_mag
    return total / len(MRSTFT_RESOLUTIONS)


def nam_loss(y: jax.Array, y_hat: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """NAM's WaveNet training loss: ``MSE + 2e-4 * MRSTFT(pre-emphasised y, y_hat)``.

    The pre-emphasis is ``p[n] = s[n] - 0.85 s[n-1]`` (``fit_mrstft=True``, NAM's default, with
    the "cab" weight and coefficient of ``nam/train/core.py``).

    Parameters
    ----------
    y, y_hat : jax.Array [shape=(B, T)]
    mask : jax.Array [shape=(B, T)], 1 for scored samples; a segment takes part in the
        spectral term when any of its samples is scored.

    Returns
    -------
    loss : scalar
    plain_esr : scalar, ``sum((y - y_hat)^2) / sum(y^2)`` over the scored samples (for reporting)
    """
    n = jnp.maximum(mask.sum(), 1.0)
    sq = (mask * (y - y_hat) ** 2).sum()
    mse = sq / n
    plain = sq / jnp.maximum((mask * y ** 2).sum(), 1e-12)
    a = MRSTFT_PRE_EMPHASIS
    py, pyh = y[:, 1:] - a * y[:, :-1], y_hat[:, 1:] - a * y_hat[:, :-1]
    seg = (mask.sum(axis=1) > 0).astype(y.dtype)
    return mse + MRSTFT_WEIGHT * mrstft(py * mask[:, 1:], pyh * mask[:, 1:], seg), plain


def describe(config: ModelConfig) -> str:
    """``"WaveNet nam-standard"``, or the channels and layer count of a custom shape."""
    name = preset_name(config)
    if name:
        return f"WaveNet {name}"
    net = net_of(config)
    chans = "/".join(str(la.channels) for la in net.layers)
    return f"WaveNet {chans} ch, {sum(len(la.dilations) for la in net.layers)} layers"


def summary(config: ModelConfig) -> dict[str, Any]:
    """The model card's ``architecture`` block."""
    net = net_of(config)
    return {"arch": "wavenet", "preset": preset_name(config), "receptive_field": net.receptive_field,
            "channels": [la.channels for la in net.layers],
            "layers": sum(len(la.dilations) for la in net.layers),
            "gated": any(la.gated for la in net.layers)}


ARCHITECTURE = Architecture(
    name="wavenet", init=init, apply=apply, initial_state=initial_state, param_shapes=param_shapes,
    train_epoch=window_epoch, describe=describe, summary=summary, check_options=check_options,
    receptive_field=receptive_field, frozen=("head_scale",), zero_shot_sums=zero_shot_sums)
