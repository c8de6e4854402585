"""Warm starts for fine-tuning: a zoo model's output layer refit to the user's audio by least squares.

A pretrained model of a similar device usually has the right *shape* of nonlinearity but the wrong
output level, sometimes the wrong polarity, and a dense layer tuned to another device's mix of
hidden features. Its LSTM's hidden states ``h[n]`` on the user's input are already a rich basis,
so the best output layer for the user's target is a linear least-squares problem::

    min_{w, b}  sum_n (y[n] - skip * x[n] - w . h[n] - b)^2 + ridge * T * |w|^2

solved in closed form before the first gradient step: level and polarity are right from the
start, and the first validation loss is lower (the seed article's "first loss much lower", here
without training). The hidden states come from one vmapped run of the model with the dense layer
replaced by each unit vector in turn (no access to the network's internals needed).

Only recurrent models with a ``dense`` output layer (:mod:`tonezoo.architectures.lstm`) are refit;
other architectures are returned unchanged.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache, partial
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .capture import Capture
    from .model import Model

__all__ = ["refit_output", "hidden_states"]


def _dense_keys(model: "Model") -> bool:
    p = model.params
    return isinstance(p, dict) and isinstance(p.get("dense"), dict) and {"w", "b"} <= set(p["dense"])


@lru_cache(maxsize=1)
def _hidden_jit():
    """The vmapped hidden-state program (one compiled program per config and length, built on first use)."""
    import jax
    import jax.numpy as jnp

    from .model import apply

    @partial(jax.jit, static_argnames=("config",))
    def run(params, x, knobs, *, config):
        w = params["dense"]["w"]
        eye = jnp.eye(w.shape[0], dtype=w.dtype)

        def unit(e):
            p = dict(params, dense={"w": e, "b": jnp.zeros_like(params["dense"]["b"])})
            return apply(p, x, None, knobs, config=config)[0]
        return jax.vmap(unit)(eye)
    return run


def hidden_states(model: "Model", x: np.ndarray, knobs: np.ndarray | None = None) -> np.ndarray:
    """The last recurrent layer's outputs for input ``x`` [shape=(n,)], as [shape=(n, hidden_size)].

    Raises
    ------
    ConfigError
        For a model without a ``dense`` output layer.
    """
    import jax.numpy as jnp

    from .errors import ConfigError
    if not _dense_keys(model):
        raise ConfigError(f"model {model.name!r} ({model.config.arch}) has no dense output layer to refit")
    cfg = dataclasses.replace(model.config, skip=False)
    kj = None if knobs is None else jnp.asarray(knobs, jnp.float32)
    out = _hidden_jit()(model.params, jnp.asarray(np.asarray(x, np.float32)), kj, config=cfg)
    return np.asarray(out).T


def refit_output(model: "Model", capture: "Capture", *, seconds: float = 3.0, ridge: float = 1e-3) -> "Model":
    """A copy of ``model`` whose output layer is the least-squares fit to the capture's training audio.

    Parameters
    ----------
    model : Model
        A starting model (already adapted to the capture's sample rate and knobs).
    capture : Capture
        Its ``train_x`` / ``train_y`` (the first ``seconds``) are fitted; validation audio is not used.
    seconds : float
        Audio used for the fit.
    ridge : float
        Ridge penalty relative to the mean squared hidden activation (keeps the weights modest
        when units are nearly collinear).

    Returns
    -------
    Model
        A new model (metadata ``output_refit`` records the ESR before/after on the fitted audio);
        ``model`` itself when its architecture has no dense output layer, or when the fit does
        not lower the error.
    """
    if not _dense_keys(model):
        return model
    n = int(min(len(capture.train_x), seconds * capture.sample_rate))
    x = np.asarray(capture.train_x[:n], np.float64)
    y = np.asarray(capture.train_y[:n], np.float64)
    knobs = model.knob_vector(capture.knobs) if model.config.knobs else None
    h = hidden_states(model, x, knobs).astype(np.float64)
    target = y - (x if model.config.skip else 0.0)
    design = np.concatenate([h, np.ones((n, 1))], axis=1)
    gram = design.T @ design
    reg = ridge * np.mean(h ** 2) * n * np.eye(gram.shape[0])
    reg[-1, -1] = 0.0
    coef = np.linalg.solve(gram + reg, design.T @ target)
    w_old = np.asarray(model.params["dense"]["w"], np.float64)
    b_old = float(np.asarray(model.params["dense"]["b"]))
    before = target - h @ w_old - b_old
    after = target - design @ coef
    denom = float(np.mean(y ** 2)) + 1e-5
    esr_before, esr_after = float(np.mean(before ** 2) / denom), float(np.mean(after ** 2) / denom)
    if not esr_after < esr_before:
        return model
    dense = {"w": np.asarray(coef[:-1], np.asarray(model.params["dense"]["w"]).dtype),
             "b": np.asarray(coef[-1], np.asarray(model.params["dense"]["b"]).dtype)}
    out = model.copy(output_refit={"esr_before": esr_before, "esr_after": esr_after, "seconds": n / capture.sample_rate})
    params = dict(out.params, dense=dense)
    return type(out)(out.config, params, out.metadata)

