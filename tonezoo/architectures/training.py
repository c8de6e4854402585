"""Training steps an architecture can name as its ``train_epoch`` (see :mod:`tonezoo.architectures`).

Both run one epoch inside one traced program: a ``lax.scan`` over mini-batches with the
optimizer inside, so an epoch is a single call whatever its length (``tonezoo.train`` jits it,
and vmaps it to train several models side by side).

* :func:`tbptt_epoch`, AGAM's recipe for recurrent models: per segment, ``tcfg.warmup`` samples
  run without gradient to warm the state up, then the rest is stepped through in chunks of
  ``tcfg.tbptt`` samples with one update per chunk, the state carried across chunks and detached.
* :func:`window_epoch`, NAM's recipe for models with a finite receptive field: each segment is
  one window, run from the initial state in one piece; its first ``tcfg.warmup`` samples (at
  least ``receptive_field - 1``) are context and not scored; one update per mini-batch.

Arguments (both): ``trainable``, ``frozen`` the two halves of the params (``frozen`` holds the
architecture's ``frozen`` keys), ``opt_state`` the optimizer's state, ``xb``, ``yb``
[shape=(n_batches, B, S)] input and target segments, ``mb`` [shape=(n_batches, B)] 1 for real
segments, ``knobs`` [shape=(K,)] or None, ``lr`` the learning rate (scalar), and keyword-only
``config`` (ModelConfig, static), ``tcfg`` (TrainConfig, static), ``optimizer`` (an optax
``GradientTransformation`` whose update is applied as ``-lr * update``) and ``loss``
(``loss(y, y_hat, mask) -> (loss, plain_esr)`` over [shape=(B, T)]). Returns ``(trainable,
opt_state, mean_loss)`` with the loss averaged over the real samples.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

__all__ = ["tbptt_epoch", "window_epoch"]


def _apply_update(tr: Any, grads: Any, opt: Any, optimizer: Any, lr: jax.Array) -> tuple[Any, Any]:
    updates, opt = optimizer.update(grads, opt, tr)
    return jax.tree.map(lambda p, u: p - lr * u, tr, updates), opt


def tbptt_epoch(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, *, config, tcfg, optimizer,
                loss: Callable, apply_fn: Callable | None = None):
    """One epoch of truncated backpropagation through time (AGAM ``dist_model_recnet.py``).

    ``apply_fn`` replaces the architecture's ``apply`` (benchmarks compare kernels); other
    arguments as in the module docstring.
    """
    from .base import get
    arch = get(config.arch)
    apply_fn = apply_fn or arch.apply
    warm, chunk = tcfg.warmup, tcfg.tbptt
    seg = xb.shape[-1]
    rest = seg - warm
    n_chunks = -(-rest // chunk)
    pad = n_chunks * chunk - rest
    tmask = jnp.concatenate([jnp.ones(rest, jnp.float32), jnp.zeros(pad, jnp.float32)]).reshape(n_chunks, chunk)

    def loss_fn(tr, x, y, state, m):
        y_hat, state = apply_fn({**tr, **frozen}, x, state, knobs, config=config)
        value, plain = loss(y, y_hat, m)
        return value, (state, plain)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def batch_step(carry, batch):
        tr, opt = carry
        x, y, segm = batch
        b = x.shape[0]
        params = {**tr, **frozen}
        _, state = apply_fn(params, x[:, :warm], arch.initial_state(params, (b,), config=config), knobs,
                            config=config)
        state = jax.lax.stop_gradient(state)
        xr = jnp.pad(x[:, warm:], ((0, 0), (0, pad))).reshape(b, n_chunks, chunk).transpose(1, 0, 2)
        yr = jnp.pad(y[:, warm:], ((0, 0), (0, pad))).reshape(b, n_chunks, chunk).transpose(1, 0, 2)
        masks = tmask[:, None, :] * segm[None, :, None]

        def chunk_step(c, inp):
            tr, opt, state = c
            xc, yc, mc = inp
            (value, (state, _)), grads = grad_fn(tr, xc, yc, state, mc)
            tr, opt = _apply_update(tr, grads, opt, optimizer, lr)
            weight = mc.sum()
            return (tr, opt, jax.lax.stop_gradient(state)), (value * weight, weight)

        (tr, opt, _), (lw, w) = jax.lax.scan(chunk_step, (tr, opt, state), (xr, yr, masks))
        return (tr, opt), (lw.sum(), w.sum())

    (trainable, opt_state), (lw, w) = jax.lax.scan(batch_step, (trainable, opt_state), (xb, yb, mb))
    return trainable, opt_state, lw.sum() / jnp.maximum(w.sum(), 1.0)


def window_epoch(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, *, config, tcfg, optimizer,
                 loss: Callable, valid_apply: Callable | None = None, min_warmup: int = 0):
    """One epoch of whole-window training: one update per mini-batch of windows (NAM's recipe).

    Each segment runs from the initial state in one piece; the loss covers its samples after the
    first ``max(tcfg.warmup, min_warmup)`` (the receptive field's context). Arguments as in the
    module docstring, plus ``valid_apply(params, x) -> y_hat``: a convolutional model's *valid*
    run (no padding), whose output [shape=(B, S - C)] covers the samples after its ``C`` samples
    of context; the loss then sees the window from sample ``C`` on, with the warm-up masked.
    """
    from .base import get
    arch = get(config.arch)
    warm = max(int(tcfg.warmup), int(min_warmup))
    seg = xb.shape[-1]
    tmask = jnp.concatenate([jnp.zeros(warm, jnp.float32), jnp.ones(seg - warm, jnp.float32)])

    def loss_fn(tr, x, y, m):
        params = {**tr, **frozen}
        if valid_apply is None:
            off, y_hat = warm, arch.apply(params, x, None, knobs, config=config)[0][:, warm:]
        else:
            y_hat = valid_apply(params, x)
            off = x.shape[-1] - y_hat.shape[-1]
        return loss(y[:, off:], y_hat, m[:, off:])

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def batch_step(carry, batch):
        tr, opt = carry
        x, y, segm = batch
        m = tmask[None, :] * segm[:, None]
        (value, _), grads = grad_fn(tr, x, y, m)
        tr, opt = _apply_update(tr, grads, opt, optimizer, lr)
        weight = m.sum()
        return (tr, opt), (value * weight, weight)

    (trainable, opt_state), (lw, w) = jax.lax.scan(batch_step, (trainable, opt_state), (xb, yb, mb))
    return trainable, opt_state, lw.sum() / jnp.maximum(w.sum(), 1.0)
