"""A single-layer LSTM with a dense head as one sequence function with a hand-written backward pass.

The math is exactly :func:`tonezoo.model.apply` for ``cell="lstm"``, ``num_layers=1``
(PyTorch gate order i, f, g, o)::

    z[t] = x[t] * w_x + bias + h[t-1] @ w_hh
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
    c[t] = f * c[t-1] + i * g;   h[t] = o * tanh(c[t])
    y[t] = h[t] @ w_d + b_d (+ x[t] when ``skip``)

Why a custom VJP: the model is tiny (H = 20), so a training step is latency-bound on the
sequential scan. JAX's autodiff of ``lax.scan`` stacks its residuals step by step and
accumulates every weight gradient inside the backward loop. Here

* the forward loop evaluates all four gates with one sigmoid (``tanh(a) = 2 sigmoid(2a) - 1``,
  the g columns pre-scaled by 2) and saves one packed (B, 6H) row per step
  (``i, f, g, o, c, tanh(c)``);
* the backward loop carries only ``(dh, dc)`` and emits ``dz`` (T, B, 4H), the gradient of the
  gate pre-activations;
* every weight gradient is then one large contraction over the T*B samples outside the loop::

      dW_hh = h[t-1]^T dz      dw_x = sum x dz      dbias = sum dz
      dw_d  = sum dy h         db_d = sum dy        dx = dz . w_x (+ dy)

The non-differentiated path (inference) runs a lean loop that keeps nothing but the output.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

__all__ = ["lstm_dense_sequence"]


def _prep(w_x, bias, w_hh, hidden):
    """Scale the g columns by 2 so ``tanh(z_g) = 2 sigmoid(2 z_g) - 1`` shares the sigmoid."""
    scale = jnp.concatenate([jnp.ones(2 * hidden), jnp.full(hidden, 2.0), jnp.ones(hidden)]).astype(w_hh.dtype)
    return w_x * scale, bias * scale, w_hh * scale


def _cell(w_x, bias, w_hh, x_t, h, c):
    """One step on pre-scaled weights; returns (h, c, gates (B, 4H) with g as tanh)."""
    hs = h.shape[-1]
    s = jax.nn.sigmoid(x_t[:, None] * w_x + bias + h @ w_hh)
    i, f, o = s[:, :hs], s[:, hs:2 * hs], s[:, 3 * hs:]
    g = 2.0 * s[:, 2 * hs:3 * hs] - 1.0
    c = f * c + i * g
    tc = jnp.tanh(c)
    h = o * tc
    return h, c, tc, (i, f, g, o)


def _forward_lean(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip):
    """Forward without residuals: the dense head runs inside the loop (inference)."""
    hidden = w_hh.shape[0]
    wx, b, whh = _prep(w_x, bias, w_hh, hidden)
    b = jnp.broadcast_to(b, (x.shape[1], 4 * hidden))

    def step(carry, x_t):
        h, c = carry
        h, c, _, _ = _cell(wx, b, whh, x_t, h, c)
        y = h @ w_d + b_d
        if skip:
            y = y + x_t
        return (h, c), y

    (h, c), y = jax.lax.scan(step, (h0, c0), x)
    return y, h, c


def _forward_saving(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip):
    hidden = w_hh.shape[0]
    wx, b, whh = _prep(w_x, bias, w_hh, hidden)
    b = jnp.broadcast_to(b, (x.shape[1], 4 * hidden))

    def step(carry, x_t):
        h, c = carry
        h, c, tc, (i, f, g, o) = _cell(wx, b, whh, x_t, h, c)
        return (h, c), jnp.concatenate([i, f, g, o, c, tc, h], axis=-1)

    (h, c), saved = jax.lax.scan(step, (h0, c0), x)
    hs = saved[..., 6 * hidden:]
    y = hs @ w_d + b_d
    if skip:
        y = y + x
    return y, h, c, saved


@partial(jax.custom_vjp, nondiff_argnums=(8,))
def _sequence(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip):
    return _forward_lean(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip)


def _sequence_fwd(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip):
    y, h, c, saved = _forward_saving(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip)
    return (y, h, c), (w_x, bias, w_hh, w_d, x, h0, c0, saved)


def _unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the inverse of broadcasting)."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _sequence_bwd(skip, res, cts):
    w_x, bias, w_hh, w_d, x, h0, c0, saved = res
    dy, dh_t, dc_t = cts
    hidden = w_hh.shape[0]
    i, f, g, o = (saved[..., k * hidden:(k + 1) * hidden] for k in range(4))
    cs, tcs, hs = (saved[..., k * hidden:(k + 1) * hidden] for k in range(4, 7))
    c_prev = jnp.concatenate([c0[None], cs[:-1]], axis=0)
    h_prev = jnp.concatenate([h0[None], hs[:-1]], axis=0)
    dh_head = dy[..., None] * w_d
    # elementwise factors that do not depend on the carried gradient, computed in bulk
    w_c = o * (1.0 - tcs * tcs)                                    # dc += dh * w_c
    fac = jnp.concatenate([g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g)], axis=-1)
    do_fac = tcs * o * (1.0 - o)                                   # dz_o = dh * do_fac
    w_hh_t = w_hh.T

    def step(carry, inp):
        dh, dc = carry
        dhh, wc, fc, dof, ft = inp
        dh = dh + dhh
        dc = dc + dh * wc
        dz = jnp.concatenate([jnp.tile(dc, (1, 3)) * fc, dh * dof], axis=-1)
        return (dz @ w_hh_t, dc * ft), dz

    (dh0, dc0), dz = jax.lax.scan(step, (dh_t, dc_t), (dh_head, w_c, fac, do_fac, f), reverse=True)
    t, b = x.shape
    dz2 = dz.reshape(t * b, 4 * hidden)
    d_whh = h_prev.reshape(t * b, hidden).T @ dz2
    d_wx = x.reshape(t * b) @ dz2
    d_bias = _unbroadcast(dz.sum(axis=0), bias.shape)
    d_wd = dy.reshape(t * b) @ hs.reshape(t * b, hidden)
    d_bd = dy.sum()
    dx = dz @ w_x
    if skip:
        dx = dx + dy
    return d_wx, d_bias, d_whh, d_wd, d_bd, dx, dh0, dc0


_sequence.defvjp(_sequence_fwd, _sequence_bwd)


def lstm_dense_sequence(w_x: jax.Array, bias: jax.Array, w_hh: jax.Array, w_d: jax.Array, b_d: jax.Array,
                        x: jax.Array, h0: jax.Array, c0: jax.Array, *, skip: bool
                        ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run a one-layer LSTM and its dense head over time, with a fast custom gradient.

    Parameters
    ----------
    w_x : jax.Array [shape=(4H,)]
        The audio row of ``w_ih`` (gate order i, f, g, o).
    bias : jax.Array [shape=(..., 4H)]
        ``b_ih + b_hh`` plus the constant knob term; leading axes broadcast against the batch.
    w_hh : jax.Array [shape=(H, 4H)]
    w_d : jax.Array [shape=(H,)], b_d : jax.Array [shape=()]
        Dense head.
    x : jax.Array [shape=(T, B)]
        Input audio, time first.
    h0, c0 : jax.Array [shape=(B, H)]
        Initial state.
    skip : bool (static)
        Add ``x`` to the output.

    Returns
    -------
    y : jax.Array [shape=(T, B)]
    hT, cT : jax.Array [shape=(B, H)]
        State after the last sample.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> H, T, B = 4, 10, 2
    >>> y, h, c = lstm_dense_sequence(jnp.ones(4 * H), jnp.zeros(4 * H), jnp.zeros((H, 4 * H)),
    ...                               jnp.ones(H), jnp.zeros(()), jnp.zeros((T, B)),
    ...                               jnp.zeros((B, H)), jnp.zeros((B, H)), skip=True)
    >>> y.shape, h.shape
    ((10, 2), (2, 4))
    """
    return _sequence(w_x, bias, w_hh, w_d, b_d, x, h0, c0, bool(skip))


def apply_single_lstm(params: dict, x: jax.Array, state: dict | None = None, knobs: jax.Array | None = None,
                      *, config) -> tuple[jax.Array, dict]:
    """:func:`tonezoo.model.apply` for a one-layer LSTM, running :func:`lstm_dense_sequence`.

    Same arguments and results as :func:`tonezoo.model.apply` (``x`` [shape=(..., T)], state
    ``{"h", "c"}`` each (1, ..., H)); ``config`` must have ``cell="lstm"`` and ``num_layers=1``.
    """
    if config.cell != "lstm" or config.num_layers != 1:
        raise ValueError(f"apply_single_lstm needs a one-layer LSTM, got {config.cell} x {config.num_layers}")
    x = jnp.asarray(x, jnp.float32)
    batch = x.shape[:-1]
    n = 1
    for d in batch:
        n *= d
    lay = params["layers"][0]
    hidden = lay["w_hh"].shape[0]
    if state is None:
        h0 = jnp.broadcast_to(params["h0"][0], (n, hidden))
        c0 = jnp.broadcast_to(params["c0"][0], (n, hidden))
    else:
        h0 = jnp.broadcast_to(state["h"][0], (*batch, hidden)).reshape(n, hidden)
        c0 = jnp.broadcast_to(state["c"][0], (*batch, hidden)).reshape(n, hidden)
    bias = lay["b_ih"] + lay["b_hh"]
    n_knobs = len(config.knobs)
    if n_knobs:
        if knobs is None:
            from .errors import ConfigError
            raise ConfigError(f"this model is conditioned on knobs {list(config.knobs)}; pass their values")
        k = jnp.asarray(knobs, jnp.float32)
        if k.ndim > 1:  # per-sequence knob values
            k = jnp.broadcast_to(k, (*batch, n_knobs)).reshape(n, n_knobs)
        bias = bias + k @ lay["w_ih"][1:]
    xs = x.reshape(n, x.shape[-1]).T
    y, h, c = lstm_dense_sequence(lay["w_ih"][0], bias, lay["w_hh"], params["dense"]["w"], params["dense"]["b"],
                                  xs, h0, c0, skip=config.skip)
    return y.T.reshape(x.shape), {"h": h.reshape(1, *batch, hidden), "c": c.reshape(1, *batch, hidden)}
