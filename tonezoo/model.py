"""A tonezoo model: its config (:class:`ModelConfig`), its parameters and the :class:`Model` that runs them.

``ModelConfig.arch`` names the architecture in :mod:`tonezoo.architectures` (default ``"lstm"``:
the LSTM/GRU of Automated-GuitarAmpModelling, NeuralPi, Proteus and the transfer-learning
article, :mod:`tonezoo.architectures.lstm`). The functions here (:func:`init`, :func:`apply`,
:func:`initial_state`, :func:`param_count`, flatten/unflatten) dispatch through that registry;
everything is a pure function of a parameter pytree, so params of one config can be stacked
with :func:`stack_params` and run with ``jax.vmap``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import architectures
from .architectures.lstm import RecurrentModel
from .errors import ConfigError, ModelFileError
from .knobs import knob_array, resolve_knobs

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
_LSTM_ONLY = {"hidden_size": 20, "num_layers": 1, "cell": "lstm"}

Params = dict[str, Any]
State = Any


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Options(value)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


class Options(Mapping):
    """An architecture's own settings: an immutable, hashable JSON object (``ModelConfig.options``).

    Nested objects read back as :class:`Options`, arrays as tuples; :meth:`to_dict` gives plain
    JSON. Hashable so that a :class:`ModelConfig` can be a static argument of compiled programs.
    """

    __slots__ = ("_data", "_text")

    def __init__(self, data: Mapping[str, Any] | None = None):
        plain = dict(data or {})
        try:
            text = json.dumps(plain, sort_keys=True, allow_nan=False, default=_thaw_default)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"model options must be JSON (objects, arrays, numbers, strings, booleans): {e}") \
                from None
        if not all(isinstance(k, str) for k in plain):
            raise ConfigError(f"model option names must be strings, got {sorted(map(repr, plain))}")
        self._data = {k: _freeze(v) for k, v in json.loads(text).items()}
        self._text = text

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(self._text)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Options):
            return self._text == other._text
        if isinstance(other, Mapping):
            return self == Options(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Options({self._text})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (dicts and lists), a fresh copy."""
        return json.loads(self._text)


def _thaw_default(value: Any) -> Any:
    if isinstance(value, Options):
        return value.to_dict()
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a tonezoo model.

    Parameters
    ----------
    hidden_size : int > 0
        ``arch="lstm"``: units per recurrent layer (AGAM/NeuralPi 20, Proteus 40, Chameleon 32).
    num_layers : int >= 1
        ``arch="lstm"``: stacked recurrent layers.
    cell : {"lstm", "gru"}
        ``arch="lstm"``: recurrent cell type.
    knobs : tuple of str
        Names of the conditioning inputs (gain, tone, ...), appended to the audio input.
    skip : bool
        Add the input sample to the output (AGAM/NeuralPi/Proteus do; NAM and AIDA-X do not).
    sample_rate : int
        Sample rate in Hz the model was trained at.
    arch : str
        The architecture, a name in :func:`tonezoo.architectures.names` (default ``"lstm"``, which
        also covers the GRU). ``hidden_size``, ``num_layers`` and ``cell`` describe ``"lstm"``
        only and keep their defaults for any other architecture.
    options : mapping
        The architecture's own JSON settings (e.g. a WaveNet's layer arrays), validated and
        completed by its ``check_options``; empty for ``"lstm"``. Stored as :class:`Options`.

    Raises
    ------
    ConfigError
        A field is out of range, ``arch`` is unknown or its options are invalid.
    """

    hidden_size: int = 20
    num_layers: int = 1
    cell: str = "lstm"
    knobs: tuple[str, ...] = ()
    skip: bool = True
    sample_rate: int = 44100
    arch: str = "lstm"
    options: Options = field(default_factory=Options)

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
        arch = architectures.get(self.arch)
        if self.arch != "lstm":
            changed = sorted(k for k, v in _LSTM_ONLY.items() if getattr(self, k) != v)
            if changed:
                raise ConfigError(f"{changed} describe arch 'lstm'; a {self.arch} model takes its settings in "
                                  "options")
        if not isinstance(self.options, Mapping):
            raise ConfigError(f"options must be a JSON object, got {type(self.options).__name__}")
        given = self.options.to_dict() if isinstance(self.options, Options) else Options(self.options).to_dict()
        object.__setattr__(self, "options", Options(arch.check_options(given)))

    @property
    def input_size(self) -> int:
        """Inputs per sample: the audio plus one per knob."""
        return 1 + len(self.knobs)

    @property
    def gates(self) -> int:
        """Gate blocks per layer (4 for LSTM, 3 for GRU)."""
        return _CELLS[self.cell]

    def describe(self) -> str:
        """A short name for messages and tables: ``"LSTM-20"``, ``"2x GRU-8"``."""
        return architectures.get(self.arch).describe(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``config.json``'s ``model``). An LSTM/GRU writes exactly the fields it
        always did (no ``arch``); other architectures write ``arch``, ``options``, ``knobs``,
        ``skip`` and ``sample_rate``."""
        if self.arch == "lstm" and not self.options:
            return {"hidden_size": int(self.hidden_size), "num_layers": int(self.num_layers), "cell": self.cell,
                    "knobs": list(self.knobs), "skip": self.skip, "sample_rate": int(self.sample_rate)}
        return {"arch": self.arch, "options": self.options.to_dict(), "knobs": list(self.knobs), "skip": self.skip,
                "sample_rate": int(self.sample_rate)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        """Build a config from a JSON mapping; unknown keys are an error; no ``arch`` means ``"lstm"``."""
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
        """Flat ``name -> shape`` of every parameter (the safetensors layout; the architecture's)."""
        return architectures.get(self.arch).param_shapes(self)


def _key(key: jax.Array | int) -> jax.Array:
    return jax.random.PRNGKey(int(key)) if isinstance(key, (int, np.integer)) else key


def init(config: ModelConfig, key: jax.Array | int = 0) -> Params:
    """Fresh parameters for ``config`` (its architecture's ``init``).

    Parameters
    ----------
    config : ModelConfig
    key : jax.random key or int seed

    Returns
    -------
    params : dict pytree (see the architecture's module, e.g. :mod:`tonezoo.architectures.lstm`)

    Examples
    --------
    >>> params = init(ModelConfig(hidden_size=8), 0)
    >>> params["layers"][0]["w_hh"].shape
    (8, 32)
    """
    return architectures.get(config.arch).init(config, _key(key))


def initial_state(params: Params, batch_shape: tuple[int, ...] = (), *, config: ModelConfig | None = None) -> State:
    """The model's state before the first sample, broadcast to ``batch_shape``.

    For the LSTM/GRU (the default when ``config`` is None): ``{"h", "c"}`` each (L, *batch, H).
    """
    arch = architectures.get(config.arch if config is not None else "lstm")
    return arch.initial_state(params, tuple(batch_shape), config=config)


def apply(params: Params, x: jax.Array, state: State | None = None, knobs: jax.Array | None = None,
          *, config: ModelConfig) -> tuple[jax.Array, State]:
    """Run the model over audio (its architecture's ``apply``).

    Parameters
    ----------
    params : pytree from :func:`init`
    x : jax.Array [shape=(..., T)]
        Input audio; leading axes are independent sequences (segments, batch).
    state : pytree or None
        Carried state (for the LSTM ``{"h", "c"}`` each (L, ..., H)); None starts from the
        model's initial state.
    knobs : jax.Array [shape=(..., K)] or None
        Knob values in [0, 1], held constant over time; required when ``config.knobs`` is set.
    config : ModelConfig (keyword-only, static)

    Returns
    -------
    y : jax.Array [shape=(..., T)]
    state : the state after the last sample (feed it back in to stream).
    """
    return architectures.get(config.arch).apply(params, x, state, knobs, config=config)


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
    """Trainable parameters (the architecture's ``frozen`` ones, e.g. the initial state, are not counted)."""
    frozen = set(architectures.get(config.arch).frozen)
    return int(sum(int(np.prod(s)) for k, s in config.param_shapes().items() if k.split(".")[0] not in frozen))


def split_params(params: Params, config: ModelConfig) -> tuple[Params, Params]:
    """``(trainable, frozen)``: the architecture's ``frozen`` top-level keys apart (``{**a, **b}`` merges)."""
    frozen = architectures.get(config.arch).frozen
    return ({k: v for k, v in params.items() if k not in frozen}, {k: v for k, v in params.items() if k in frozen})


def flatten_params(params: Params) -> dict[str, np.ndarray]:
    """``params`` as a flat ``name -> float32 array`` dict (the safetensors keys)."""
    return architectures.flatten(params)


def unflatten_params(flat: Mapping[str, np.ndarray], config: ModelConfig, *, where: str = "params") -> Params:
    """Check ``flat`` against ``config`` (names, shapes, finiteness) and build the pytree."""
    expected = config.param_shapes()
    missing = sorted(set(expected) - set(flat))
    extra = sorted(set(flat) - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"{where}: tensors do not match the config ({config.describe()}, {config.input_size} input(s)); "
            f"missing {missing}, unexpected {extra}")
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
    return architectures.unflatten(out)


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
        unknown = set(knobs or {}) - set(names)
        if unknown:
            raise ConfigError(f"model {self.name!r} has knobs {list(names)}; unknown {sorted(unknown)}")
        values, missing = resolve_knobs(names, knobs, self.metadata.get("knob_values"))
        if missing:
            raise ConfigError(f"model {self.name!r} needs values for knobs {missing} (each in [0, 1])")
        return knob_array(names, values)

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
            state = initial_state(self.params, x.shape[:-1], config=self.config)
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
