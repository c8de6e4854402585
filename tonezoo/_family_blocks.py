"""Building blocks of the device families (:mod:`tonezoo.families`): random parameter draws and their DSP.

Each block draws JSON-friendly parameters from a :class:`numpy.random.Generator` and applies them to
float64 audio [shape=(n,)] with the vectorised filters and waveshapers of :mod:`tonezoo._dsp`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import _dsp as dsp



def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _logu(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


_CURVES = ("tanh", "diode", "hard", "atan", "cubic", "triode")


def _curve(name: str, u: np.ndarray, pos: float, neg: float) -> np.ndarray:
    """A clipping curve to about +pos / -neg (asymmetric when they differ)."""
    if name == "hard":
        return np.where(u >= 0, dsp.hard_clip(u, pos, knee=6.0), dsp.hard_clip(u, neg, knee=6.0))
    if name == "atan":
        return np.where(u >= 0, pos * (2 / np.pi) * np.arctan(u * np.pi / (2 * pos)),
                        neg * (2 / np.pi) * np.arctan(u * np.pi / (2 * neg)))
    if name == "cubic":
        def cub(v: np.ndarray, lvl: float) -> np.ndarray:
            w = np.clip(v / (1.5 * lvl), -1.0, 1.0)
            return 1.5 * lvl * (w - w ** 3 / 3.0)
        return np.where(u >= 0, cub(u, pos), cub(u, neg))
    if name == "triode":
        return pos * dsp.triode(u / pos, 0.2, cutoff=neg / pos)
    if name == "diode":
        return dsp.diode_clip(u, pos, neg)
    return np.where(u >= 0, pos * np.tanh(u / pos), neg * np.tanh(u / neg))


def _clip_params(rng: np.random.Generator, curves: tuple[str, ...] = _CURVES, *, asym: float = 0.2,
                 level: tuple[float, float] = (0.35, 0.8)) -> dict:
    pos = _u(rng, *level)
    return {"curve": str(rng.choice(curves)), "pos": pos, "neg": pos * _u(rng, 1.0 - asym, 1.0 + asym)}


def _apply_clip(u: np.ndarray, c: Mapping[str, Any]) -> np.ndarray:
    return _curve(c["curve"], u, c["pos"], c["neg"])


def _eq_sos(bands: list[list], sr: int) -> list[np.ndarray]:
    out = []
    for kind, f, g, q in bands:
        if kind == "peak":
            out.append(dsp.peaking(f, g, q, sr))
        elif kind == "low":
            out.append(dsp.low_shelf(f, g, sr))
        else:
            out.append(dsp.high_shelf(f, g, sr))
    return out


def _eq(u: np.ndarray, bands: list[list], sr: int) -> np.ndarray:
    return dsp.filt(u, *_eq_sos(bands, sr)) if bands else u


def _stack(rng: np.random.Generator, *, mid: tuple[float, float], mid_db: tuple[float, float],
           bass: tuple[float, float] = (80.0, 160.0), treble: tuple[float, float] = (1800.0, 3500.0),
           spread: float = 8.0) -> list[list]:
    """A tone stack as shelves and a mid bell (the stack's own voicing plus random knob settings)."""
    return [["low", _u(rng, *bass), _u(rng, -spread, spread), 0.7],
            ["peak", _logu(rng, *mid), _u(rng, *mid_db), _u(rng, 0.5, 1.0)],
            ["high", _u(rng, *treble), _u(rng, -spread, spread), 0.7]]


def _random_cab(rng: np.random.Generator, kind: str) -> dict:
    """A cabinet + microphone response: resonant high-pass, low resonance, low-mid dip, presence, roll-off."""
    hp = {"open": (60.0, 100.0), "closed": (70.0, 120.0), "mic": (80.0, 140.0)}[kind]
    lp = {"open": (4000.0, 7000.0), "closed": (3500.0, 6000.0), "mic": (4500.0, 8000.0)}[kind]
    bells = [["peak", _u(rng, 90.0, 180.0), _u(rng, 0.5, 5.0 if kind != "open" else 3.0), _u(rng, 0.8, 1.8)],
             ["peak", _logu(rng, 300.0, 1000.0), _u(rng, -5.0, -0.5), _u(rng, 0.7, 1.6)],
             ["peak", _logu(rng, 1500.0, 4500.0), _u(rng, 1.5, 7.0), _u(rng, 1.0, 2.5)]]
    if rng.random() < 0.5:                                   # cone break-up ripple
        bells.append(["peak", _logu(rng, 2500.0, 6000.0), _u(rng, -6.0, 4.0), _u(rng, 2.0, 4.0)])
    return {"hp": _u(rng, *hp), "hp_q": _u(rng, 0.7, 1.8), "bells": bells, "lp": _u(rng, *lp),
            "order": int(rng.choice([4, 6, 8]))}


def _apply_cab(y: np.ndarray, sr: int, cab: Mapping[str, Any] | None) -> np.ndarray:
    if cab is None:                                           # direct out / load box: no cabinet
        return y
    sections = [dsp.highpass(cab["hp"], sr, q=cab["hp_q"]), *_eq_sos(cab["bells"], sr),
                dsp.lowpass(cab["lp"], sr, order=cab["order"])]
    return dsp.filt(y, *sections)


def _triode_stages(rng: np.random.Generator, n: int, gain: tuple[float, float], *,
                   lp: tuple[float, float] = (6000.0, 14000.0), hp: tuple[float, float] = (20.0, 150.0)) -> list:
    return [[_u(rng, *gain), _u(rng, *hp), _u(rng, *lp), _u(rng, 0.2, 0.45)] for _ in range(n)]


def _run_triodes(u: np.ndarray, fs: int, stages: list, blocking: float) -> np.ndarray:
    """Coupled triode stages with polarity inversion and grid-conduction bias shift (``blocking``)."""
    for gain_db, hp, lp, bias in stages:
        v = dsp.db(gain_db) * dsp.filt(u, dsp.highpass1(hp, fs), dsp.lowpass1(lp, fs))
        shift = blocking * dsp.one_pole(np.maximum(v - 0.5, 0.0), 0.04, fs) if blocking else None
        u = -dsp.triode(v, bias, shift=shift)
    return u


def _power_amp(u: np.ndarray, fs: int, *, drive_db: float, sag: float, asym: float = 0.0,
               tau: float = 0.1) -> np.ndarray:
    """Power amp into a sagging supply; ``asym`` > 0 clips one half-wave earlier (single-ended, class A)."""
    u = dsp.filt(u, dsp.highpass1(30.0, fs)) * dsp.db(drive_db)
    supply = 1.0 / (1.0 + sag * dsp.one_pole(np.abs(np.tanh(u)), tau, fs))
    if asym:
        return np.where(u >= 0, supply * np.tanh(u / supply),
                        (1.0 - asym) * supply * np.tanh(u / ((1.0 - asym) * supply)))
    return supply * np.tanh(u / supply)


def _gain_computer(level_db: np.ndarray, threshold: float, ratio: float, knee: float) -> np.ndarray:
    slope = 1.0 - 1.0 / ratio
    if knee <= 0.0:
        return -slope * np.maximum(level_db - threshold, 0.0)
    return -slope * knee * np.logaddexp(0.0, (level_db - threshold) / knee)
