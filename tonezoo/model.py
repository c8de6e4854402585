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
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import architectures
from .architectures.base import ModelConfig, Options, param_count
from .architectures.lstm import RecurrentModel
from .modelfile import FORMAT_VERSION, flatten_params, read_model_dir, save_model_dir, unflatten_params  # noqa: F401
from .audio import LEVEL_MARGIN_DB, peak_dbfs
from .errors import ConfigError, InputLevelWarning, ModelFileError
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
    "LEVEL_MARGIN_DB",
    "PREWARM_SECONDS",
]


Params = dict[str, Any]
State = Any

#: Silence :meth:`Model.process` runs before the audio with ``prewarm=True`` (as NAM's plugin core
#: prewarms a model before it plays).
PREWARM_SECONDS = 0.5


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


def split_params(params: Params, config: ModelConfig) -> tuple[Params, Params]:
    """``(trainable, frozen)``: the architecture's ``frozen`` top-level keys apart (``{**a, **b}`` merges)."""
    frozen = architectures.get(config.arch).frozen
    return ({k: v for k, v in params.items() if k not in frozen}, {k: v for k, v in params.items() if k in frozen})


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
                raise ConfigError(f"model {self.name!r} has no knobs; got values for "
                                  f"{', '.join(map(str, knobs)) if isinstance(knobs, Mapping) else len(knobs)}")
            return None
        if knobs is not None and not isinstance(knobs, Mapping):
            vals = [float(v) for v in knobs]
            if len(vals) != len(names):
                raise ConfigError(f"model {self.name!r} takes knobs {', '.join(names)}; got {len(vals)} values")
            return np.asarray(vals, np.float32)
        unknown = set(knobs or {}) - set(names)
        if unknown:
            raise ConfigError(f"model {self.name!r} has knobs {', '.join(names)}; "
                              f"unknown: {', '.join(sorted(unknown))}")
        values, missing = resolve_knobs(names, knobs, self.metadata.get("knob_values"))
        if missing:
            raise ConfigError(f"model {self.name!r} needs a value in [0, 1] for knob(s) {', '.join(missing)} "
                              f"(on the command line: {' '.join(f'--knob {k}=0.5' for k in missing)})")
        return knob_array(names, values)

    def process(self, audio: np.ndarray, knobs: Mapping[str, float] | Sequence[float] | None = None, *,
                block_size: int = 65536, state: State | None = None, return_state: bool = False,
                check_level: bool = True, prewarm: bool = False):
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
        check_level : bool
            Warn (:class:`~tonezoo.errors.InputLevelWarning`) when ``audio`` peaks more than
            :data:`LEVEL_MARGIN_DB` above the loudest DI the model was trained on
            (``metadata["input_peak_dbfs"]``, written by :func:`tonezoo.train.train`); see
            :meth:`level_excess_db`.
        prewarm : bool
            Start from the state the model reaches on :data:`PREWARM_SECONDS` (0.5 s) of silence
            instead of the zero state (ignored when ``state`` is given). A recurrent model's zero
            state is not its resting state: started there, it answers the first samples with a
            click (up to 0.53, -5.5 dBFS, among the bundled LSTMs) even on silence. NAM's plugin core
            prewarms its models the same way (NeuralAmpModelerCore, ``DSP::prewarm``).
            ``tonezoo process`` prewarms; the default (off) keeps the output equal to the
            original implementations', which start from zeros.

        Returns
        -------
        y : np.ndarray, same shape as ``audio`` (float32); ``(y, state)`` with ``return_state``.

        Warns
        -----
        InputLevelWarning
            The input is louder than anything the capture covered: the model extrapolates there.
        """
        x = np.asarray(audio, np.float32)
        if x.ndim not in (1, 2):
            raise ConfigError(f"audio must be mono (n,) or batched (b, n); got shape {x.shape}")
        if check_level:
            excess = self.level_excess_db(x)
            if excess is not None and round(excess, 1) > LEVEL_MARGIN_DB:      # to the 0.1 dB it prints
                trained = float(self.metadata["input_peak_dbfs"])
                warnings.warn(InputLevelWarning(
                    f"the input peaks at {trained + excess:.1f} dBFS, {excess:.1f} dB above the loudest DI that "
                    f"model {self.name!r} was trained on (peak {trained:.1f} dBFS): it has "
                    f"not heard the device played this hot and may sound wrong there; turn the input down, or "
                    f"capture again with a DI that reaches this level"), stacklevel=2)
        k = self.knob_vector(knobs)
        kj = None if k is None else jnp.asarray(k)
        n = x.shape[-1]
        given_state = state is not None
        if state is None:
            state = initial_state(self.params, x.shape[:-1], config=self.config)
        if n == 0:
            y = np.zeros_like(x)
            return (y, state) if return_state else y
        block = int(min(block_size, max(n, 1)))
        if prewarm and not given_state:
            # whole blocks of silence through the same compiled program as the audio's
            silence = jnp.zeros((*x.shape[:-1], block), jnp.float32)
            for _ in range(-(-int(round(PREWARM_SECONDS * self.sample_rate)) // block)):
                _, state = _apply_jit(self.params, silence, state, kj, config=self.config)
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

    def level_excess_db(self, audio: np.ndarray) -> float | None:
        """How far ``audio`` peaks above the loudest DI the model was trained on (dB; negative: below).

        ``None`` when the model does not record its training level (``metadata["input_peak_dbfs"]``:
        models trained before it was recorded, imported third-party files) or ``audio`` is silent.
        """
        trained = self.metadata.get("input_peak_dbfs")
        level = peak_dbfs(audio)
        if trained is None or not np.isfinite(level):
            return None
        return float(level - float(trained))

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
        return save_model_dir(self, directory, card=card)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Model":
        """Load a model directory written by :meth:`save` (validated; nothing is unpickled)."""
        return cls(*read_model_dir(directory))

    # Hub methods are attached by tonezoo.hub (push_to_hub / from_pretrained).
    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Publish this model to the Hugging Face Hub; see :func:`tonezoo.hub.push_to_hub`."""
        from .hub import push_to_hub
        return push_to_hub(self, repo_id, **kwargs)

    @classmethod
    def from_pretrained(cls, repo_id_or_dir: str | os.PathLike, **kwargs: Any) -> "Model":
        """Load from a local directory or a Hub repo; see :func:`tonezoo.hub.load_pretrained`."""
        from .hub import load_pretrained
        return cls(*load_pretrained(repo_id_or_dir, **kwargs))
