"""The registry behind :mod:`tonezoo.architectures` (protocol there): :class:`Architecture`, and
:class:`ModelConfig`, whose ``arch`` names an entry and whose ``options`` the entry validates."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterator, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConfigError

__all__ = ["Architecture", "ModelConfig", "Options", "register", "get", "names", "flatten", "unflatten",
           "param_count", "generic_zero_shot_sums"]

Params = Any
State = Any


_CELLS = {"lstm": 4, "gru": 3}
_MAX_HIDDEN = 1024
_MAX_LAYERS = 8
_MAX_KNOBS = 16
_LSTM_ONLY = {"hidden_size": 20, "num_layers": 1, "cell": "lstm"}


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
        arch = get(self.arch)
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
        return get(self.arch).describe(self)

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
        return get(self.arch).param_shapes(self)


def _no_options(options: Mapping[str, Any]) -> dict[str, Any]:
    if options:
        raise ConfigError(f"this architecture takes no options, got {sorted(options)}")
    return {}


def _unbounded(config: ModelConfig) -> int:
    return 0


@partial(jax.jit, static_argnames=("config",))
def generic_zero_shot_sums(stacked: Params, knobs: jax.Array | None, xs: jax.Array, ys: jax.Array,
                           mask: jax.Array, *, config: ModelConfig):
    """Stage-2 error sums of ``M`` stacked models through ``jax.vmap`` of the architecture's ``apply``.

    Parameters
    ----------
    stacked : params pytree with a leading model axis M
    knobs : jax.Array [shape=(M, K)] or None
    xs, ys, mask : jax.Array [shape=(S, T)]
        Input, target and scoring mask (0 over warm-up and padding).

    Returns
    -------
    (err, cross, power, ref) : each jax.Array [shape=(M,)]
        Masked sums of ``(y - y_hat)^2``, ``y y_hat``, ``y_hat^2`` and ``y^2``.
    """
    apply = get(config.arch).apply

    def one(p, k):
        y_hat, _ = apply(p, xs, None, k, config=config)
        return (jnp.sum(mask * (ys - y_hat) ** 2), jnp.sum(mask * ys * y_hat), jnp.sum(mask * y_hat ** 2),
                jnp.sum(mask * ys ** 2))
    return jax.vmap(one)(stacked, knobs)


@dataclass(frozen=True)
class Architecture:
    """One model family: the callables of the protocol in this module's docstring.

    Only ``name``, ``init``, ``apply``, ``initial_state``, ``param_shapes``, ``train_epoch``,
    ``describe`` and ``summary`` are required; the rest have generic defaults.
    """

    name: str
    init: Callable[..., Params]
    apply: Callable[..., tuple[jax.Array, State]]
    initial_state: Callable[..., State]
    param_shapes: Callable[[ModelConfig], dict[str, tuple[int, ...]]]
    train_epoch: Callable[..., tuple[Any, Any, jax.Array]]
    describe: Callable[[ModelConfig], str]
    summary: Callable[[ModelConfig], dict[str, Any]]
    check_options: Callable[[Mapping[str, Any]], dict[str, Any]] = _no_options
    receptive_field: Callable[[ModelConfig], int] = _unbounded
    frozen: tuple[str, ...] = ()
    zero_shot_sums: Callable[..., Any] = generic_zero_shot_sums
    set_knobs: Callable[..., Params] | None = None


_REGISTRY: dict[str, Architecture] = {}


def register(name: str, architecture: Architecture, *, overwrite: bool = False) -> None:
    """Add ``architecture`` under ``name`` (the value of ``ModelConfig.arch`` that selects it).

    Raises
    ------
    ConfigError
        ``name`` is taken (pass ``overwrite=True`` to replace it) or does not match
        ``architecture.name``.
    """
    if not isinstance(architecture, Architecture):
        raise ConfigError(f"register({name!r}, ...) needs an Architecture, got {type(architecture).__name__}")
    if architecture.name != name:
        raise ConfigError(f"register({name!r}, ...): the architecture calls itself {architecture.name!r}")
    if name in _REGISTRY and not overwrite:
        raise ConfigError(f"architecture {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = architecture


def get(name: str) -> Architecture:
    """The registered architecture ``name``; ``ConfigError`` listing the known ones otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown architecture {name!r}; known: {names()}") from None


def names() -> list[str]:
    """Registered architecture names, sorted."""
    return sorted(_REGISTRY)


def flatten(params: Params) -> dict[str, np.ndarray]:
    """A params pytree as ``{"a.0.b": float32 array}`` (dict keys and list indices joined by ``.``)."""
    flat: dict[str, np.ndarray] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, f"{prefix}{i}.")
        else:
            flat[prefix[:-1]] = np.asarray(node, np.float32)
    walk(params, "")
    return flat


def unflatten(flat: Mapping[str, Any]) -> Params:
    """Inverse of :func:`flatten`: levels whose keys are all ``0..n-1`` become lists, values ``jax.Array``."""
    root: dict[str, Any] = {}
    for name, arr in flat.items():
        node = root
        parts = name.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = jnp.asarray(arr, jnp.float32)

    def listify(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        out = {k: listify(v) for k, v in node.items()}
        if out and all(k.isdigit() for k in out) and sorted(int(k) for k in out) == list(range(len(out))):
            return [out[str(i)] for i in range(len(out))]
        return out
    return listify(root)


def param_count(config: ModelConfig) -> int:
    """Trainable parameters (the architecture's ``frozen`` ones, e.g. the initial state, are not counted)."""
    frozen = set(get(config.arch).frozen)
    return int(sum(int(np.prod(s)) for k, s in config.param_shapes().items() if k.split(".")[0] not in frozen))
