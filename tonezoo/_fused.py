"""A one-layer LSTM with its dense head as one sequence function with a hand-written gradient.

The math is exactly :func:`tonezoo.model.apply` for ``cell="lstm"``, ``num_layers=1``
(PyTorch gate order i, f, g, o)::

    z[t] = x[t] * w_x + bias + h[t-1] @ w_hh
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
    c[t] = f * c[t-1] + i * g;   h[t] = o * tanh(c[t])
    y[t] = h[t] @ w_d + b_d (+ x[t] when ``skip``)

Why a custom VJP: the model is tiny (H = 20), so a training step is bound by the latency of
the ~1,000 sequential steps of each TBPTT chunk, forward and backward, and by the memory
traffic of the per-step residuals. JAX's autodiff of ``lax.scan`` saves what its linearisation
needs, step by step, and its backward loop re-derives the gate derivatives from them. Here:

* the forward loop works on gate-major tiles (rows, B): every gate is a contiguous block of
  rows, so gate slices and stacks are cheap and the batch (padded to whole vector registers)
  fills the vector lanes; one sigmoid evaluates all four gates (``tanh(a) = 2 sigmoid(2a) - 1``,
  the g rows of the weights pre-scaled by 2);
* per step it saves exactly the factors the backward loop multiplies by,
  ``[P, o (1 - tanh(c)^2), f]`` (6H, B) with ``P = s (1 - s) [g, c[t-1], 4 i, tanh(c)]``, and the
  operand ``[h[t-1], x[t], 1]`` of the weight gradient;
* the backward loop carries ``(dh, dc)`` and the weight-gradient accumulator: per step it forms
  ``dz = [dc, dc, dc, dh] * P`` (the gradient of the gate pre-activations, one product),
  ``dh <- w_hh dz``, ``dc <- f dc`` and ``[dW_hh^T, dw_x, dbias] += dz [h[t-1], x[t], 1]`` (one
  small matmul); a (T, B, 4H) buffer of ``dz`` followed by one large contraction measured
  slower here, because zero-filling and transposing the buffer costs more memory traffic;
* the dense head and its gradients are bulk products over all T*B samples outside the loops.

The non-differentiated path (inference, TBPTT warm-up) runs a lean batch-major loop that
keeps nothing but the output.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from .errors import ConfigError

__all__ = ["lstm_dense_sequence", "apply_single_lstm"]

_LANES = 16  # float32 lanes of a 512-bit vector register


def _g_scale(hidden, dtype):
    """Per-column factors (4H,): 2 on the g block so ``tanh(z) = 2 sigmoid(2 z) - 1`` shares the sigmoid."""
    return jnp.concatenate([jnp.ones(2 * hidden), jnp.full(hidden, 2.0), jnp.ones(hidden)]).astype(dtype)


def _prep(w_x, bias, w_hh, batch):
    """Weights in the loop's layout: gates on the leading axis, batch on the last.

    The g columns are scaled by 2 so that ``tanh(z_g) = 2 sigmoid(2 z_g) - 1`` shares the
    sigmoid of the other gates. Returns ``w_x`` (4H, 1), ``bias`` (4H, B), ``w_hh^T`` (4H, H).
    """
    hidden = w_hh.shape[0]
    scale = _g_scale(hidden, w_hh.dtype)
    bias = jnp.broadcast_to(bias * scale, (batch, 4 * hidden)) if bias.ndim > 1 else (bias * scale)[None]
    return (w_x * scale)[:, None], jnp.broadcast_to(bias.T, (4 * hidden, batch)), (w_hh * scale).T


def _gates(wx, b, whh_t, x_t, h):
    """Sigmoid row ``s`` (4H, B) and the gates i, f, g, o (each (H, B)) of one step."""
    hidden = h.shape[0]
    s = jax.nn.sigmoid(wx * x_t[None] + b + whh_t @ h)
    return s, s[:hidden], s[hidden:2 * hidden], 2.0 * s[2 * hidden:3 * hidden] - 1.0, s[3 * hidden:]


def _forward_lean(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip):
    """Forward without residuals (inference, warm-up): batch-major, dense head inside the loop.

    Batch-major (B, 4H) tiles keep the vector lanes full for any batch, batch 1 included.
    """
    hidden = w_hh.shape[0]
    scale = _g_scale(hidden, w_hh.dtype)
    wx, b, w = w_x * scale, bias * scale, w_hh * scale

    def step(carry, x_t):
        h, c = carry
        s = jax.nn.sigmoid(x_t[:, None] * wx + b + h @ w)
        i, f, o = s[:, :hidden], s[:, hidden:2 * hidden], s[:, 3 * hidden:]
        c = f * c + i * (2.0 * s[:, 2 * hidden:3 * hidden] - 1.0)
        h = o * jnp.tanh(c)
        return (h, c), h @ w_d

    (h, c), y = jax.lax.scan(step, (h0, c0), x)
    y = y + b_d
    if skip:
        y = y + x
    return y, h, c


def _forward_saving(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip):
    """Forward that also returns what the backward loop needs, in the form it needs it.

    Everything inside the loops is laid out (rows, B): gate blocks are contiguous row ranges,
    so slicing a gate or stacking blocks never shuffles elements within a row. Per step it
    saves ``rows`` (6H, B) = ``[P, o (1 - tanh(c)^2), f]`` where
    ``P = s (1 - s) * [g, c[t-1], 4 i, tanh(c)]`` (``s`` the sigmoid row), so that the gradient
    of the gate pre-activations is one whole-block product ``dz = [dc, dc, dc, dh] * P``
    (``1 - g^2 = 4 s_g (1 - s_g)``); and ``u`` (B, H + 2) = ``[h[t-1], x[t], 1]``, the operand
    of the weight-gradient product.
    """
    t_len, batch = x.shape
    wx, b, whh_t = _prep(w_x, bias, w_hh, batch)
    one = jnp.ones((1, batch), x.dtype)

    def step(carry, x_t):
        h_prev, c_prev = carry
        s, i, f, g, o = _gates(wx, b, whh_t, x_t, h_prev)
        c = f * c_prev + i * g
        tc = jnp.tanh(c)
        h = o * tc
        ds = s * (1.0 - s)
        hidden = h.shape[0]
        rows = jnp.concatenate([ds[:hidden] * g, ds[hidden:2 * hidden] * c_prev, ds[2 * hidden:3 * hidden] * 4.0 * i,
                                ds[3 * hidden:] * tc, o * (1.0 - tc * tc), f], axis=0)
        u = jnp.concatenate([h_prev, x_t[None], one], axis=0).T
        return (h, c), (rows, u)

    (h, c), (rows, u) = jax.lax.scan(step, (h0.T, c0.T), x)
    hidden = h.shape[0]
    # y[t] = w_d . h[t] + b_d, with h[t] = h_prev[t + 1] and h[T-1] the final state
    hw = jnp.einsum("tbh,h->tb", u[..., :hidden], w_d)
    y = jnp.concatenate([hw[1:], (w_d @ h)[None]], axis=0) + b_d
    if skip:
        y = y + x
    return y, h.T, c.T, (rows, u, h)


@partial(jax.custom_vjp, nondiff_argnums=(8,))
def _sequence(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip):
    return _forward_lean(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip)


def _sequence_fwd(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip):
    y, h, c, saved = _forward_saving(w_x, bias, w_hh, w_d, b_d, x, h0, c0, skip)
    return (y, h, c), (w_x, bias, w_hh, w_d, saved)


def _unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the inverse of broadcasting)."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _sequence_bwd(skip, res, cts):
    w_x, bias, w_hh, w_d, (rows, u, h_last) = res
    dy, dh_last, dc_last = cts
    hidden = w_hh.shape[0]
    t_len, batch = dy.shape
    wd = w_d[:, None]
    is_dc = (jnp.arange(4) < 3)[:, None, None]
    per_sequence_bias = bias.ndim > 1

    def step(carry, inp):
        dh, dc, acc, dz_sum = carry
        row, u_t, dy_t = inp
        dh = dh + wd * dy_t[None]
        dc = dc + dh * row[4 * hidden:5 * hidden]
        dz = jnp.where(is_dc, dc[None], dh[None]).reshape(4 * hidden, batch) * row[:4 * hidden]
        # [dW_hh^T, dw_x, dbias] += dz [h[t-1], x[t], 1]
        acc = acc + dz @ u_t
        if per_sequence_bias:
            dz_sum = dz_sum + dz
        return (w_hh @ dz, dc * row[5 * hidden:], acc, dz_sum), w_x @ dz

    acc0 = jnp.zeros((4 * hidden, hidden + 2), dy.dtype)
    dz_sum0 = jnp.zeros((4 * hidden, batch) if per_sequence_bias else (), dy.dtype)
    (dh0, dc0, acc, dz_sum), dx = jax.lax.scan(step, (dh_last.T, dc_last.T, acc0, dz_sum0), (rows, u, dy),
                                               reverse=True)
    d_whh, d_wx = acc[:, :hidden].T, acc[:, hidden]
    d_bias = _unbroadcast(dz_sum.T, bias.shape) if per_sequence_bias else acc[:, hidden + 1].reshape(bias.shape)
    # dw_d = sum_t dy[t] h[t], with h[t] = h_prev[t + 1] and h[T-1] the final state
    dy_prev = jnp.concatenate([jnp.zeros_like(dy[:1]), dy[:-1]], axis=0)
    d_wd = jnp.einsum("tb,tbh->h", dy_prev, u[..., :hidden]) + h_last @ dy[-1]
    d_bd = dy.sum()
    if skip:
        dx = dx + dy
    return d_wx, d_bias, d_whh, d_wd, d_bd, dx, dh0.T, dc0.T


_sequence.defvjp(_sequence_fwd, _sequence_bwd)


def lstm_dense_sequence(w_x: jax.Array, bias: jax.Array, w_hh: jax.Array, w_d: jax.Array, b_d: jax.Array,
                        x: jax.Array, h0: jax.Array, c0: jax.Array, *, skip: bool
                        ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run a one-layer LSTM and its dense head over time, with a fast custom gradient.

    Parameters
    ----------
    w_x : jax.Array [shape=(4H,)]
        The audio row of ``w_ih`` (gate order i, f, g, o).
    bias : jax.Array [shape=(4H,) or (B, 4H)]
        ``b_ih + b_hh`` plus the constant knob term (per sequence when knobs differ).
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
    hidden = w_hh.shape[0]
    if x.ndim != 2 or h0.shape != (x.shape[1], hidden) or c0.shape != h0.shape or w_hh.shape != (hidden, 4 * hidden) \
            or w_x.shape != (4 * hidden,) or w_d.shape != (hidden,) or bias.shape[-1:] != (4 * hidden,) \
            or bias.ndim > 2 or (bias.ndim == 2 and bias.shape[0] not in (1, x.shape[1])):
        raise ConfigError(
            f"lstm_dense_sequence: inconsistent shapes x {x.shape} (T, B), h0 {h0.shape} and c0 {c0.shape} (B, H), "
            f"w_hh {w_hh.shape} (H, 4H), w_x {w_x.shape} (4H,), bias {bias.shape} (4H,) or (B, 4H), "
            f"w_d {w_d.shape} (H,)")
    batch = x.shape[1]
    pad = (-batch) % _LANES if batch > _LANES // 2 else 0
    if not pad:
        return _sequence(w_x, bias, w_hh, w_d, b_d, x, h0, c0, bool(skip))
    # pad the batch to whole vector registers: the loops run on (rows, batch) tiles
    x = jnp.pad(x, ((0, 0), (0, pad)))
    h0, c0 = (jnp.pad(a, ((0, pad), (0, 0))) for a in (h0, c0))
    if bias.ndim == 2 and bias.shape[0] == batch:
        bias = jnp.pad(bias, ((0, pad), (0, 0)))
    y, h, c = _sequence(w_x, bias, w_hh, w_d, b_d, x, h0, c0, bool(skip))
    return y[:, :batch], h[:batch], c[:batch]


def apply_single_lstm(params: dict, x: jax.Array, state: dict | None = None, knobs: jax.Array | None = None,
                      *, config) -> tuple[jax.Array, dict]:
    """:func:`tonezoo.model.apply` for a one-layer LSTM, running :func:`lstm_dense_sequence`.

    Same arguments and results as :func:`tonezoo.model.apply` (``x`` [shape=(..., T)], state
    ``{"h", "c"}`` each (1, ..., H)); ``config`` must have ``cell="lstm"`` and ``num_layers=1``.
    """
    if config.cell != "lstm" or config.num_layers != 1:
        raise ConfigError(f"the fused sequence runs one-layer LSTMs; this model is {config.num_layers} layer(s) of "
                          f"{config.cell}; use tonezoo.model.apply")
    n_knobs = len(config.knobs)
    if n_knobs and knobs is None:
        raise ConfigError(f"this model is conditioned on knobs {list(config.knobs)}; pass their values")
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
    if n_knobs:
        k = jnp.asarray(knobs, jnp.float32)
        if k.ndim > 1:  # per-sequence knob values
            k = jnp.broadcast_to(k, (*batch, n_knobs)).reshape(n, n_knobs)
        bias = bias + k @ lay["w_ih"][1:]
    xs = x.reshape(n, x.shape[-1]).T
    y, h, c = lstm_dense_sequence(lay["w_ih"][0], bias, lay["w_hh"], params["dense"]["w"], params["dense"]["b"],
                                  xs, h0, c0, skip=config.skip)
    return y.T.reshape(x.shape), {"h": h.reshape(1, *batch, hidden), "c": c.reshape(1, *batch, hidden)}
