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

A NAM WaveNet (:mod:`tonezoo.architectures.wavenet`) is refit the same way at its head's last 1x1
rechannel: the output is ``head_scale * (s[n] . w + b)`` with ``s[n]`` the last layer array's summed
activations, so the rechannel's weights and bias (when the array has one) are the least-squares fit
of the target on ``head_scale * [s[n], 1]``; ``head_scale`` itself (frozen in training) stays.

Models with neither output layer are returned unchanged.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache, partial
from typing import TYPE_CHECKING

import numpy as np

from .losses import esr

if TYPE_CHECKING:  # pragma: no cover
    from .capture import Capture
    from .model import Model

__all__ = ["refit_output", "hidden_states", "head_features"]


def _dense_keys(model: "Model") -> bool:
    p = model.params
    return isinstance(p, dict) and isinstance(p.get("dense"), dict) and {"w", "b"} <= set(p["dense"])


def _wavenet_head(model: "Model") -> bool:
    p = model.params
    if model.config.arch != "wavenet" or not isinstance(p, dict) or not p.get("arrays"):
        return False
    last = p["arrays"][-1]
    return isinstance(last, dict) and "head_w" in last and np.shape(last["head_w"])[-1] == 1


@lru_cache(maxsize=1)
def _head_jit():
    """The vmapped WaveNet head-feature program: the last 1x1 rechannel replaced by each unit vector."""
    import jax
    import jax.numpy as jnp

    from .model import apply

    @partial(jax.jit, static_argnames=("config",))
    def run(params, x, *, config):
        arrays = params["arrays"]
        last = arrays[-1]
        w = last["head_w"]
        eye = jnp.eye(w.shape[0], dtype=w.dtype)

        def unit(e):
            arr = dict(last, head_w=e[:, None])
            if "head_b" in last:
                arr["head_b"] = jnp.zeros_like(last["head_b"])
            p = dict(params, arrays=type(arrays)([*arrays[:-1], arr]), head_scale=jnp.ones_like(params["head_scale"]))
            return apply(p, x, None, None, config=config)[0]
        return jax.vmap(unit)(eye)
    return run


def head_features(model: "Model", x: np.ndarray) -> np.ndarray:
    """A WaveNet's last layer array's summed activations (the input of its last 1x1 rechannel), [shape=(n, c)].

    Raises
    ------
    ConfigError
        For a model that is not a WaveNet with a one-channel head.
    """
    import jax.numpy as jnp

    from .errors import ConfigError
    if not _wavenet_head(model):
        raise ConfigError(f"model {model.name!r} ({model.config.arch}) has no WaveNet head to refit")
    out = _head_jit()(model.params, jnp.asarray(np.asarray(x, np.float32)), config=model.config)
    return np.asarray(out).T


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


def refit_output(model: "Model", capture: "Capture", *, seconds: float = 3.0, ridge: float = 1e-3,
                 val_seconds: float = 10.0) -> "Model":
    """A copy of ``model`` whose output layer is the least-squares fit to the capture's training audio.

    Parameters
    ----------
    model : Model
        A starting model (already adapted to the capture's sample rate and knobs).
    capture : Capture
        Its ``train_x`` / ``train_y`` (the first ``seconds``) are fitted; its validation audio (up to
        ``val_seconds``) decides whether the fit is kept.
    seconds : float
        Audio used for the fit.
    val_seconds : float
        Validation audio the fitted layer is checked on: it is kept only when its ESR there is lower
        than the model's own. The fitted audio cannot say that (least squares always lowers the error
        on the audio it fits); on a short capture a fit that follows its few seconds too closely can
        start fine-tuning further from the device than the model as it was.
    ridge : float
        Ridge penalty relative to the mean squared hidden activation (keeps the weights modest
        when units are nearly collinear).

    Returns
    -------
    Model
        A new model (metadata ``output_refit`` records the ESR before/after on the fitted audio and
        on the validation audio, and ``fit``: ``"least squares"`` or ``"gain"``); ``model`` itself
        when it has neither a dense output layer nor a WaveNet head, or when neither fit lowers the
        error on the validation audio (on the fitted audio when the capture has none).

    Notes
    -----
    When the least-squares layer does not lower the validation error, the layer as it was, scaled
    by the single gain that fits the training audio best (its sign sets the polarity: the level
    and polarity matching of stage 2's zero-shot score), is tried the same way: it cannot follow
    the fitted audio's details, only its level.
    """
    wavenet = _wavenet_head(model)
    if not (wavenet or _dense_keys(model)):
        return model
    n = int(min(len(capture.train_x), seconds * capture.sample_rate))
    x = np.asarray(capture.train_x[:n], np.float64)
    y = np.asarray(capture.train_y[:n], np.float64)
    if wavenet:
        last = model.params["arrays"][-1]
        scale = float(np.asarray(model.params["head_scale"]))
        features = lambda a: head_features(model, a).astype(np.float64) * scale  # noqa: E731
        w_ref, b_ref = last["head_w"], last.get("head_b")
        w_old = np.asarray(w_ref, np.float64)[:, 0]           # output = (scale * s) . w + scale * b
        b_old = 0.0 if b_ref is None else float(np.asarray(b_ref).reshape(-1)[0]) * scale
    else:
        knobs = model.knob_vector(capture.knobs) if model.config.knobs else None
        features = lambda a: hidden_states(model, a, knobs).astype(np.float64)  # noqa: E731
        w_ref, b_ref = model.params["dense"]["w"], model.params["dense"]["b"]
        w_old = np.asarray(w_ref, np.float64)
        b_old = float(np.asarray(b_ref))
    bias = b_ref is not None
    skip = model.config.skip

    def design(a: np.ndarray) -> np.ndarray:
        """The least-squares design matrix of input audio ``a``: its features, and a 1 for the bias."""
        h = features(a)
        return np.concatenate([h, np.ones((len(a), 1))], axis=1) if bias else h

    old_coef = np.append(w_old, b_old) if bias else w_old
    d = design(x)
    gram = d.T @ d
    reg = ridge * np.mean(d[:, :len(w_old)] ** 2) * n * np.eye(gram.shape[0])
    if bias:
        reg[-1, -1] = 0.0
    coef = np.linalg.solve(gram + reg, d.T @ (y - (x if skip else 0.0)))

    # the fallback: the layer as it was, scaled by the one gain (sign: polarity) that fits best
    part = d @ old_coef
    gain = float(part @ (y - (x if skip else 0.0)) / max(float(part @ part), 1e-30))

    def esr_of(a: np.ndarray, b: np.ndarray, dm: np.ndarray) -> tuple[float, float, float]:
        """ESR of the output layer as it was, as fitted and as scaled, on input ``a`` against target ``b``."""
        base = a if skip else 0.0
        return esr(b, base + dm @ old_coef), esr(b, base + dm @ coef), esr(b, base + gain * (dm @ old_coef))

    fitted = esr_of(x, y, d)
    record = {"esr_before": fitted[0], "esr_after": fitted[1], "seconds": n / capture.sample_rate}
    esr_before, esr_after, esr_gain = fitted
    nv = int(min(len(capture.val_x), val_seconds * capture.sample_rate))
    if nv > 0:
        xv = np.asarray(capture.val_x[:nv], np.float64)
        esr_before, esr_after, esr_gain = esr_of(xv, np.asarray(capture.val_y[:nv], np.float64), design(xv))
        record.update(val_esr_before=esr_before, val_esr_after=esr_after, val_seconds=nv / capture.sample_rate)
    record["fit"] = "least squares"
    if not esr_after < esr_before:
        # the fit followed the fitted audio too closely: the layer as it was, at the capture's level and
        # polarity, when that alone lowers the error on the validation audio
        if not esr_gain < esr_before:
            return model
        coef = gain * old_coef
        record.update(fit="gain", gain=gain, esr_after=fitted[2], **({"val_esr_after": esr_gain} if nv > 0 else {}))
    w_new, b_new = (coef[:-1], coef[-1]) if bias else (coef, None)
    out = model.copy(output_refit=record)
    if wavenet:
        arr = dict(out.params["arrays"][-1],
                   head_w=np.asarray(w_new[:, None], np.asarray(w_ref).dtype))
        if bias:
            arr["head_b"] = np.asarray(np.reshape(b_new / scale, np.shape(b_ref)), np.asarray(b_ref).dtype)
        arrays = out.params["arrays"]
        params = dict(out.params, arrays=type(arrays)([*arrays[:-1], arr]))
    else:
        params = dict(out.params, dense={"w": np.asarray(w_new, np.asarray(w_ref).dtype),
                                         "b": np.asarray(b_new, np.asarray(b_ref).dtype)})
    return type(out)(out.config, params, out.metadata)
