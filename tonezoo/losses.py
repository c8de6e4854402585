"""Losses and error measures of training: ESR and AGAM's ESR + DC training loss.

Error-to-signal ratio (AGAM, NAM): ``ESR = mean((y - y_hat)^2) / (mean(y^2) + 1e-5)``; with
pre-emphasis both signals first go through ``p[n] = s[n] - a s[n-1]`` (AGAM's ``ESRPre``: a = 0.85).
AGAM's training loss is ``esr_weight * ESR + dc_weight * DC`` with
``DC = (mean(y) - mean(y_hat))^2 / (mean(y^2) + 1e-5)`` (0.75 / 0.25 in its configs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["esr", "esr_dc_loss"]

_EPS = 1e-5


def esr(y: np.ndarray, y_hat: np.ndarray, *, pre_emphasis: float | None = None) -> float:
    """Error-to-signal ratio ``mean((y - y_hat)^2) / (mean(y^2) + 1e-5)``.

    Parameters
    ----------
    y, y_hat : np.ndarray [shape=(..., n)]
        Target and prediction.
    pre_emphasis : float or None
        Apply ``p[n] = s[n] - a s[n-1]`` to both first.

    Examples
    --------
    >>> esr(np.ones(4), np.zeros(4))  # doctest: +ELLIPSIS
    0.99999...
    """
    y = np.asarray(y, np.float64)
    y_hat = np.asarray(y_hat, np.float64)
    if y.shape != y_hat.shape:
        raise ValueError(f"y and y_hat must have the same shape, got {y.shape} and {y_hat.shape}")
    if pre_emphasis:
        y = y[..., 1:] - pre_emphasis * y[..., :-1]
        y_hat = y_hat[..., 1:] - pre_emphasis * y_hat[..., :-1]
    return float(np.mean((y - y_hat) ** 2) / (np.mean(y ** 2) + _EPS))


def esr_dc_loss(y: jax.Array, y_hat: jax.Array, mask: jax.Array, *, pre_emphasis: float | None,
                esr_weight: float, dc_weight: float) -> tuple[jax.Array, jax.Array]:
    """The training loss over a masked batch of sequences.

    Parameters
    ----------
    y, y_hat : jax.Array [shape=(B, T)]
    mask : jax.Array [shape=(B, T)], 1 for real samples, 0 for padding

    Returns
    -------
    loss : scalar, ``esr_weight * ESR(+pre-emphasis) + dc_weight * DC``
    plain_esr : scalar, ESR without pre-emphasis (for reporting)
    """
    n = jnp.maximum(mask.sum(), 1.0)
    energy = (mask * y ** 2).sum() / n + _EPS
    plain = (mask * (y - y_hat) ** 2).sum() / n / energy
    if pre_emphasis:
        py = y[:, 1:] - pre_emphasis * y[:, :-1]
        pyh = y_hat[:, 1:] - pre_emphasis * y_hat[:, :-1]
        m = mask[:, 1:] * mask[:, :-1]
        nm = jnp.maximum(m.sum(), 1.0)
        esr_term = ((m * (py - pyh) ** 2).sum() / nm) / ((m * py ** 2).sum() / nm + _EPS)
    else:
        esr_term = plain
    seg_n = mask.sum(axis=1)
    seg_valid = (seg_n > 0).astype(y.dtype)
    seg_n = jnp.maximum(seg_n, 1.0)
    dc_seg = ((mask * y).sum(1) / seg_n - (mask * y_hat).sum(1) / seg_n) ** 2
    dc = (dc_seg * seg_valid).sum() / jnp.maximum(seg_valid.sum(), 1.0) / energy
    return esr_weight * esr_term + dc_weight * dc, plain
