"""Many models on one audio: their outputs (:func:`run_models`) and zero-shot ESR (:func:`zero_shot_esr`).

Below :mod:`tonezoo.embed` and :mod:`tonezoo.zoo` (it imports only :mod:`tonezoo.model` and the
architecture registry). Stage 2 of :meth:`tonezoo.zoo.Zoo.suggest` scores every shortlisted model on the capture's own
audio. The model is tiny (LSTM-20), so a run is bound by the length of the sequential scan;
here the work is made wide instead of long:

* the scored audio is cut into ``S`` segments (a power of two, at most ``segment`` samples
  long) processed side by side, each after ``warmup`` samples of the audio before it (run but
  not scored, so every segment's state has settled; the first segment starts from the model's
  initial state after silence), which shortens the scan from the excerpt's length to
  ``warmup + segment`` steps;
* all models of one architecture run in the same program (model axis ``M``), their count
  padded to a power of two so that one compiled program serves any shortlist of that size;
* the architecture scores its stacked models (:attr:`Architecture.zero_shot_sums
  <tonezoo.architectures.Architecture>`): one-layer LSTMs (every zoo model) run a dedicated
  gate-major scan that accumulates the error sums inside the loop
  (:func:`tonezoo.architectures.lstm.zero_shot_sums`); the default is ``jax.vmap`` of ``apply``.

Error-to-signal ratio over the scored samples: ``ESR = sum((y - y_hat)^2) / (sum(y^2) + 1e-5 n)``;
the *matched* ESR is the same after the least-squares output gain
``g = sum(y y_hat) / sum(y_hat^2)`` (which also flips a polarity error).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import architectures
from .errors import ConfigError
from .model import Model, ModelConfig, apply, stack_params

__all__ = ["run_models", "zero_shot_esr", "SEGMENT", "WARMUP"]

SEGMENT = 2048          # samples scored per segment in stage 2
WARMUP = 512            # samples of preceding audio run (not scored) to settle each segment's state


# -- compiled kernels ------------------------------------------------------------------------------
@partial(jax.jit, static_argnames=("config",))
def _outputs(stacked, xs, knobs, *, config: ModelConfig):
    """Outputs (M, S, W + L) of each stacked model on segments xs (S, W + L)."""
    return jax.vmap(lambda p, k: apply(p, xs, None, k, config=config)[0])(stacked, knobs)


# -- shapes ----------------------------------------------------------------------------------------
def _bucket(n: int) -> int:
    """Next power of two >= n (so compiled programs are reused across similar sizes)."""
    return 1 << max(0, int(np.ceil(np.log2(max(n, 1)))))


def _stack(models: Sequence[Model], knobs: Sequence[np.ndarray | None]) -> tuple[Any, Any, int]:
    """Params stacked on a model axis padded to a power of two (repeating the first model), knobs, count."""
    m = len(models)
    mb = _bucket(m)
    params = [mod.params for mod in models] + [models[0].params] * (mb - m)
    stacked = stack_params(params)
    if models[0].config.knobs:
        kv = [np.asarray(k, np.float32) for k in knobs] + [np.asarray(knobs[0], np.float32)] * (mb - m)
        return stacked, jnp.asarray(np.stack(kv)), m
    return stacked, None, m


def _tile(x: np.ndarray, starts: np.ndarray, seg: int, warm: int) -> np.ndarray:
    """Segments ``x[s - warm : s + seg]`` (zero-padded outside x) stacked: (len(starts), warm + seg)."""
    x = np.asarray(x, np.float32)
    tail = max(0, int(starts.max()) + seg - x.size)
    padded = np.concatenate([np.zeros(warm, np.float32), x, np.zeros(tail, np.float32)])
    idx = starts[:, None] + np.arange(warm + seg)[None, :]
    return padded[idx]


def _knob_list(models: Sequence[Model], knobs: Sequence[np.ndarray | None] | None) -> list:
    """The given knob vectors, else each model's own (:meth:`Model.knob_vector`)."""
    return list(knobs) if knobs is not None else [m.knob_vector() if m.config.knobs else None for m in models]


def _sums(models: Sequence[Model], knobs: list, xs: np.ndarray, ys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(4, len(models)) error sums (err, cross, power, ref) of each model on the masked segments."""
    cfg = models[0].config
    stacked, kv, m = _stack(models, knobs)
    xs, ys, mask = jnp.asarray(xs), jnp.asarray(ys), jnp.asarray(mask)
    out = architectures.get(cfg.arch).zero_shot_sums(stacked, kv, xs, ys, mask, config=cfg)
    return np.asarray(jnp.stack(out), np.float64)[:, :m]


# -- public ----------------------------------------------------------------------------------------
def run_models(models: Sequence[Model], x: np.ndarray, *, knobs: Sequence[np.ndarray | None] | None = None,
               segment: int = 8 * SEGMENT, warmup: int = 2 * WARMUP) -> np.ndarray:
    """Run several models of one architecture on the same audio in one vmapped program.

    The audio is cut into ``segment``-sample pieces run side by side, each after ``warmup`` samples
    of the audio before it (the first starts from silence), which shortens the sequential scan
    from ``n`` to ``segment + warmup`` steps.

    Parameters
    ----------
    models : sequence of Model, one :class:`ModelConfig`
    x : np.ndarray [shape=(n,)]
    knobs : sequence of knob vectors [shape=(K,)] (or None for unconditioned models)

    Returns
    -------
    y : np.ndarray [shape=(len(models), n)]
    """
    if not models:
        return np.zeros((0, len(x)), np.float32)
    cfg = models[0].config
    if any(m.config != cfg for m in models):
        raise ConfigError("run_models needs models of one architecture; group them by config first")
    x = np.asarray(x, np.float32)
    n = x.size
    warmup = max(warmup, architectures.get(cfg.arch).receptive_field(cfg))
    starts = np.arange(_bucket(max(1, int(np.ceil(n / segment))))) * segment
    stacked, kv, m = _stack(models, _knob_list(models, knobs))
    out = np.asarray(_outputs(stacked, _tile(x, starts, segment, warmup), kv, config=cfg))[:m, :, warmup:]
    return out.reshape(m, -1)[:, :n]


def zero_shot_esr(models: Sequence[Model], x: np.ndarray, y: np.ndarray, *,
                  knobs: Sequence[np.ndarray | None] | None = None, sample_rate: int,
                  seconds: float = 10.0, segment: int = SEGMENT, warmup: int = WARMUP) -> tuple[np.ndarray, np.ndarray]:
    """ESR of each model (one architecture) on up to ``seconds`` of a capture, without training.

    ``seconds`` of audio are scored as pieces of at most ``segment`` samples spread evenly over
    the capture (the whole capture when shorter, zero-padded and masked), each run after
    ``warmup`` samples of the audio before it; shapes depend only on ``seconds``, ``sample_rate`` and the model count
    rounded up to a power of two, so compiled programs are reused across captures.

    Parameters
    ----------
    models : sequence of Model sharing one config
    x, y : np.ndarray [shape=(n,)], at ``sample_rate``
    knobs : sequence of knob vectors [shape=(K,)], optional (default each model's own)
    seconds : float
        Audio scored per model.
    segment, warmup : int
        Scored and warm-up samples per segment.

    Returns
    -------
    esr : np.ndarray [shape=(len(models),)]
        ``sum((y - y_hat)^2) / (sum(y^2) + 1e-5 n)`` over the ``n`` scored samples.
    matched_esr : np.ndarray [shape=(len(models),)]
        The same after the best output gain (how far off the model is apart from its level).

    Examples
    --------
    >>> esr, matched = zero_shot_esr(models, capture.x, capture.y, sample_rate=44100, seconds=5)  # doctest: +SKIP
    """
    if not models:
        return np.zeros(0), np.zeros(0)
    if any(m.config != models[0].config for m in models):
        raise ConfigError("zero_shot_esr needs models of one architecture; group them by config first")
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    n = x.size
    cfg = models[0].config
    warmup = max(warmup, architectures.get(cfg.arch).receptive_field(cfg))   # a full receptive field of context
    # the segment count is rounded up to a power of two (a whole number of vector lanes) and the
    # segments shortened to match: 5 s at 44.1 kHz is 128 x 1,723 samples rather than 108 x 2,048
    target = max(1, int(np.ceil(seconds * sample_rate)))
    n_seg = _bucket(int(np.ceil(target / segment)))
    segment = int(np.ceil(target / n_seg))
    n_seg = min(n_seg, _bucket(int(np.ceil(n / segment))))      # short captures: fewer, all-real segments
    if n >= n_seg * segment:
        starts = np.linspace(0, n - segment, n_seg).astype(np.int64)
        valid = np.ones(n_seg, bool)
    else:
        starts = np.arange(n_seg, dtype=np.int64) * segment
        valid = starts < n
    xs, ys = _tile(x, starts, segment, warmup), _tile(y, starts, segment, warmup)
    pos = starts[:, None] + np.arange(segment)[None, :]
    mask = np.zeros_like(xs)
    mask[:, warmup:] = ((pos < n) & valid[:, None]).astype(np.float32)
    err, cross, power, ref = _sums(models, _knob_list(models, knobs), xs, ys, mask)
    denom = ref + 1e-5 * mask.sum()
    matched = ref - cross ** 2 / np.maximum(power, 1e-12)       # sum((y - g y_hat)^2) at the best gain g
    matched = np.clip(matched, 0.0, err)                         # g = 1 is a candidate (guards rounding)
    return err / denom, matched / denom
