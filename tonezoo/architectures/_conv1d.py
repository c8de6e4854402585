"""Dilated 1-D convolutions along time for the WaveNet, each in the form that runs fastest for its
shape on the backend it runs on (timings in ``docs/speed.md``).

Layout is time-major, channels last: ``h`` [shape=(N, T, C)], weights [shape=(K, C, O)], the
``K`` taps ``d`` (the dilation) samples apart; every convolution is *valid* (no padding).

On the CPU:

* Narrow layers (``C <=`` :data:`BROADCAST_MAX_CHANNELS`: NAM's feather and nano presets, and
  the second array of the standard and lite ones): a sum of ``K C`` broadcast products, which XLA
  fuses into one elementwise loop. XLA's convolution runs 2-20x slower on so few channels.
* Wider layers: one XLA convolution (``lax.conv_general_dilated``), with a hand-written gradient
  (:func:`dilated`), because XLA's own gradient of the weights runs about 12x slower inside a
  training epoch's ``lax.scan`` than outside it. Under ``jax.vmap`` over stacked models a
  convolution would become a grouped one, 2-3x slower than one batched product of the shifted
  taps, so its batching rules take that product instead.

On an accelerator (any JAX backend but the CPU): one product per tap (:func:`tap_conv`), with
JAX's own gradient, for every layer. On a GPU (an H200), XLA's convolution of these shapes spent
about 100 ms of a 101-103 ms training step in its weight gradient, the hand-written one included;
with the tap products at full precision a step took 2.9 ms (feather) and 4.4 ms (standard).

Every product runs at full float32 precision (:data:`PRECISION`): on a recent NVIDIA GPU, XLA's
default precision rounds float32 products to TensorFloat-32, and the imported NAM files then played
up to 5.3e-3 away from NAM's own output (within 1e-5 with full precision, as on the CPU, where the
setting changes nothing).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ["BROADCAST_MAX_CHANNELS", "PRECISION", "conv", "dilated", "matmul", "tap_conv"]

#: Input channels up to which a dilated convolution is a sum of broadcast products (CPU).
BROADCAST_MAX_CHANNELS = 8

#: Precision of every product: full float32 (see the module docstring).
PRECISION = jax.lax.Precision.HIGHEST


def matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a @ b`` at full float32 precision (:data:`PRECISION`)."""
    return jnp.matmul(a, b, precision=PRECISION)


def _on_cpu() -> bool:
    return jax.default_backend() == "cpu"


def tap_conv(h: jax.Array, w: jax.Array, dilation: int) -> jax.Array:
    """Valid dilated convolution as one product per tap: (..., T, C) x (K, C, O) -> (..., T - d (K-1), O).

    The form used on accelerators (see the module docstring); differentiates and batches as
    plain products.
    """
    k = w.shape[0]
    t = h.shape[-2] - dilation * (k - 1)
    out = None
    for j in range(k):
        term = matmul(h[..., j * dilation:j * dilation + t, :], w[j])
        out = term if out is None else out + term
    return out

_NWC = ("NWC", "WIO", "NWC")


def _taps(h: jax.Array, k: int, dilation: int) -> jax.Array:
    """The ``k`` shifted copies of ``h`` side by side: (..., T, C) -> (..., T - d (k-1), k C)."""
    t = h.shape[-2] - dilation * (k - 1)
    return jnp.concatenate([h[..., j * dilation:j * dilation + t, :] for j in range(k)], axis=-1)


def _pad_time(h: jax.Array, pad: int) -> jax.Array:
    """``h`` (..., T, C) with ``pad`` zeros before and after along time."""
    return jnp.pad(h, [(0, 0)] * (h.ndim - 2) + [(pad, pad), (0, 0)]) if pad else h


def _broadcast_conv(h: jax.Array, w: jax.Array, dilation: int, pad: int = 0) -> jax.Array:
    """``sum_{j, c} h[..., t + j d, c] * w[j, c, :]`` as broadcast products (one fused loop).

    Batches under ``jax.vmap`` as plain elementwise code, stacked weights included.
    """
    h = _pad_time(h, pad)
    k, c = w.shape[-3], w.shape[-2]
    t = h.shape[-2] - dilation * (k - 1)
    out = None
    for j in range(k):
        hj = h[..., j * dilation:j * dilation + t, :]
        for i in range(c):
            term = hj[..., i:i + 1] * w[j, i]
            out = term if out is None else out + term
    return out


def valid_conv(h: jax.Array, w: jax.Array, dilation: int, pad: int = 0) -> jax.Array:
    """Valid dilated convolution without bias: (N, T, C) x (K, C, O) -> (N, T + 2 pad - d (K-1), O).

    ``pad`` zeros are taken at both ends of ``h`` (the transposed convolution of the gradient).
    """
    if w.shape[-2] <= BROADCAST_MAX_CHANNELS:
        return _broadcast_conv(h, w, dilation, pad)

    @jax.custom_batching.custom_vmap
    def xla_conv(h, w):
        return jax.lax.conv_general_dilated(h, w, (1,), [(pad, pad)], rhs_dilation=(dilation,),
                                            dimension_numbers=_NWC, precision=PRECISION)

    @xla_conv.def_vmap
    def _rule(axis_size, in_batched, h, w):
        h_batched, w_batched = in_batched
        if not w_batched:                                        # more sequences, one model
            y = valid_conv(h.reshape((-1, *h.shape[2:])), w, dilation, pad)
            return y.reshape((axis_size, -1, *y.shape[1:])), True
        k, c = w.shape[1], w.shape[2]
        h = _pad_time(h, pad)
        wm = w.reshape(axis_size, k * c, w.shape[-1])
        taps = _taps(h, k, dilation)
        if h_batched:
            return jnp.einsum("mntk,mko->mnto", taps, wm, precision=PRECISION), True
        return jnp.einsum("ntk,mko->mnto", taps, wm, precision=PRECISION), True

    return xla_conv(h, w)


def _weight_grad(h: jax.Array, dz: jax.Array, k: int, dilation: int) -> jax.Array:
    """Gradient of :func:`valid_conv`'s weights: ``dw[j] = sum_{n,t} h[n, t + j d]^T dz[n, t]``.

    h : (N, T, C), dz : (N, T - d (k-1), O) -> (k, C, O).

    The windows are laid end to end as one sequence of ``N T`` samples, ``dz`` padded with zeros to
    the windows' length (the padded rows are where a tap would reach into the next window), so tap
    ``j``'s rows are one contiguous slice. Then ``dw`` is a forward convolution in which the input
    channels are the batch, that sequence is the one input channel and ``dz`` is the kernel, strided
    by ``d``. Against the same convolution with the windows as input channels (a full reversal of
    ``h``'s axes and a transpose of ``dz`` first) a training step took 14 % less (feather) and 9 %
    less (standard); inside a training scan both run far faster than XLA's own gradient of the
    weights (docs/speed.md). Under ``jax.vmap`` over stacked models it would become a grouped
    convolution, so the batching rule takes one product of the stacked taps with ``dz``.
    """
    @jax.custom_batching.custom_vmap
    def grad(h, dz):
        n, t, c = h.shape
        rows = n * t - dilation * (k - 1)                          # rows of the first tap's slice
        g = jnp.pad(dz, ((0, 0), (0, t - dz.shape[1]), (0, 0))).reshape(n * t, -1)[:rows]
        out = jax.lax.conv_general_dilated(h.reshape(n * t, c).T[:, :, None], g[:, None, :], (dilation,), "VALID",
                                           dimension_numbers=_NWC, precision=PRECISION)  # (C, k, O)
        return out.transpose(1, 0, 2)

    @grad.def_vmap
    def _rule(axis_size, in_batched, h, dz):
        h_batched, dz_batched = in_batched
        if not h_batched:
            h = jnp.broadcast_to(h, (axis_size, *h.shape))
        if not dz_batched:
            dz = jnp.broadcast_to(dz, (axis_size, *dz.shape))
        taps = _taps(h, k, dilation)
        return jnp.einsum("mntk,mnto->mko", taps, dz, precision=PRECISION).reshape(axis_size, k, h.shape[-1], dz.shape[-1]), True

    return grad(h, dz)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def dilated(h: jax.Array, w: jax.Array, dilation: int) -> jax.Array:
    """:func:`valid_conv` of (N, T, C) with a hand-written gradient (see :func:`_dilated_bwd`)."""
    return valid_conv(h, w, dilation)


def _dilated_fwd(h, w, dilation):
    return valid_conv(h, w, dilation), (h, w)


def _dilated_bwd(dilation, res, dz):
    # d/dh: the transposed convolution (dz padded by d (K-1) on both sides, kernel flipped in time,
    # in/out channels swapped); d/dw: see _weight_grad.
    h, w = res
    k = w.shape[0]
    dh = valid_conv(dz, jnp.flip(w, 0).transpose(0, 2, 1), dilation, dilation * (k - 1))
    return dh, _weight_grad(h, dz, k, dilation)


dilated.defvjp(_dilated_fwd, _dilated_bwd)


def conv(h: jax.Array, w: jax.Array, b: jax.Array, dilation: int) -> jax.Array:
    """Valid dilated convolution along time with bias: (..., T, C) x (K, C, O) -> (..., T - d (K-1), O).

    :func:`dilated` on the CPU, :func:`tap_conv` on an accelerator.
    """
    k = w.shape[0]
    if k == 1:
        return matmul(h, w[0]) + b
    if not _on_cpu():
        return tap_conv(h, w, dilation) + b
    lead = h.shape[:-2]
    z = dilated(h.reshape((-1, *h.shape[-2:])), w, dilation)
    return z.reshape((*lead, *z.shape[-2:])) + b
