"""Shared DSP blocks for the virtual device bench (:mod:`tonezoo.devices`).

Everything here is a pure, vectorised function of numpy arrays: filters are designed from the
sample rate and run with :func:`scipy.signal.sosfilt` / :func:`scipy.signal.lfilter`, waveshapers
are elementwise, and the envelope follower uses a running maximum plus a one-pole filter, so a
minute of audio takes milliseconds per block and no per-sample Python loop runs anywhere.

Audio arrays are float64 ``(n,)`` inside the chain; callers convert at the edges.
Biquad formulas follow R. Bristow-Johnson's *Audio EQ Cookbook*.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import signal

__all__ = [
    "peaking", "low_shelf", "high_shelf", "lowpass", "highpass", "lowpass1", "highpass1", "cascade",
    "filt", "one_pole", "envelope", "soft_clip", "hard_clip", "diode_clip", "triode", "rail",
    "audio_taper", "db", "oversample", "cabinet", "CABINETS", "load_ir", "convolve_ir",
]

Sos = np.ndarray  # [shape=(sections, 6)]


def db(value_db: float | np.ndarray) -> float | np.ndarray:
    """Decibels to linear amplitude."""
    return 10.0 ** (np.asarray(value_db) / 20.0)


def audio_taper(knob: float, *, decades: float = 2.0) -> float:
    """A log ("audio", type A) potentiometer law: 0 -> 0, 0.5 -> ~0.09 (2 decades), 1 -> 1."""
    return float((10.0 ** (decades * knob) - 1.0) / (10.0 ** decades - 1.0))


def _clamp_freq(f0: float, sample_rate: int) -> float:
    return float(min(max(f0, 1.0), 0.45 * sample_rate))


def _biquad(b: np.ndarray, a: np.ndarray) -> Sos:
    return np.concatenate([b / a[0], a / a[0]])[None, :]


def peaking(f0: float, gain_db: float, q: float, sample_rate: int) -> Sos:
    """Peaking EQ biquad (bell) at ``f0`` Hz, ``gain_db`` dB, quality ``q``."""
    a_ = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * _clamp_freq(f0, sample_rate) / sample_rate
    alpha = np.sin(w0) / (2 * q)
    cw = np.cos(w0)
    return _biquad(np.array([1 + alpha * a_, -2 * cw, 1 - alpha * a_]),
                   np.array([1 + alpha / a_, -2 * cw, 1 - alpha / a_]))


def _shelf(f0: float, gain_db: float, sample_rate: int, *, high: bool, slope: float = 1.0) -> Sos:
    a_ = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * _clamp_freq(f0, sample_rate) / sample_rate
    cw, sw = np.cos(w0), np.sin(w0)
    alpha = sw / 2 * np.sqrt((a_ + 1 / a_) * (1 / slope - 1) + 2)
    k = 2 * np.sqrt(a_) * alpha
    s = 1.0 if high else -1.0  # the cookbook's high and low shelves differ only in these signs
    b = a_ * np.array([(a_ + 1) + s * (a_ - 1) * cw + k, -2 * s * ((a_ - 1) + s * (a_ + 1) * cw),
                       (a_ + 1) + s * (a_ - 1) * cw - k])
    a = np.array([(a_ + 1) - s * (a_ - 1) * cw + k, 2 * s * ((a_ - 1) - s * (a_ + 1) * cw),
                  (a_ + 1) - s * (a_ - 1) * cw - k])
    return _biquad(b, a)


def low_shelf(f0: float, gain_db: float, sample_rate: int) -> Sos:
    """Low-shelf biquad: ``gain_db`` dB below ``f0`` Hz."""
    return _shelf(f0, gain_db, sample_rate, high=False)


def high_shelf(f0: float, gain_db: float, sample_rate: int) -> Sos:
    """High-shelf biquad: ``gain_db`` dB above ``f0`` Hz."""
    return _shelf(f0, gain_db, sample_rate, high=True)


def lowpass(f0: float, sample_rate: int, *, q: float = 0.7071, order: int = 2) -> Sos:
    """Resonant 2nd-order low-pass (``order=2``) or a Butterworth of even ``order``."""
    f0 = _clamp_freq(f0, sample_rate)
    if order != 2:
        return signal.butter(order, f0, "lowpass", fs=sample_rate, output="sos")
    w0 = 2 * np.pi * f0 / sample_rate
    alpha, cw = np.sin(w0) / (2 * q), np.cos(w0)
    return _biquad(np.array([(1 - cw) / 2, 1 - cw, (1 - cw) / 2]), np.array([1 + alpha, -2 * cw, 1 - alpha]))


def highpass(f0: float, sample_rate: int, *, q: float = 0.7071) -> Sos:
    """Resonant 2nd-order high-pass at ``f0`` Hz (``q`` > 0.71 gives a bump, like a cabinet's)."""
    w0 = 2 * np.pi * _clamp_freq(f0, sample_rate) / sample_rate
    alpha, cw = np.sin(w0) / (2 * q), np.cos(w0)
    return _biquad(np.array([(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]), np.array([1 + alpha, -2 * cw, 1 - alpha]))


def lowpass1(f0: float, sample_rate: int) -> Sos:
    """First-order low-pass (an RC network) at ``f0`` Hz, as one SOS row."""
    b, a = signal.butter(1, _clamp_freq(f0, sample_rate), "lowpass", fs=sample_rate)
    return np.concatenate([b, [0.0], a, [0.0]])[None, :]


def highpass1(f0: float, sample_rate: int) -> Sos:
    """First-order high-pass (a coupling capacitor) at ``f0`` Hz, as one SOS row."""
    b, a = signal.butter(1, _clamp_freq(f0, sample_rate), "highpass", fs=sample_rate)
    return np.concatenate([b, [0.0], a, [0.0]])[None, :]


def cascade(*sections: Sos) -> Sos:
    """Stack SOS blocks into one filter."""
    return np.concatenate(sections, axis=0)


def filt(x: np.ndarray, *sections: Sos) -> np.ndarray:
    """Run ``x`` [shape=(n,)] through the cascade of ``sections`` (zero initial state)."""
    return signal.sosfilt(cascade(*sections), x)


def one_pole(x: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """One-pole smoother ``y[n] = (1-a) x[n] + a y[n-1]`` with time constant ``seconds``."""
    a = float(np.exp(-1.0 / max(seconds * sample_rate, 1e-9)))
    return signal.lfilter([1.0 - a], [1.0, -a], x)


def envelope(x: np.ndarray, sample_rate: int, *, attack: float, release: float,
             floor: float = 1e-6) -> np.ndarray:
    """Attack/release envelope follower of ``|x|`` (a decoupled peak detector).

    Release: ``p[n] = max(|x[n]|, r * p[n-1])`` with ``r = exp(-1 / (release * sr))`` -- an
    instant-attack, exponential-release peak hold, computed exactly without a loop as a running
    maximum in the log domain, ``log p[n] = n log r + cummax_k(log|x[k]| - k log r)``.
    Attack: the held peak then goes through a one-pole smoother with time constant ``attack``
    (:func:`scipy.signal.lfilter`).

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
    sample_rate : int
    attack, release : float
        Time constants in seconds.
    floor : float
        Smallest envelope value (keeps the logarithm finite in silence).

    Returns
    -------
    env : np.ndarray [shape=(n,)], >= ``floor`` (up to the attack smoothing)
    """
    log_r = -1.0 / max(release * sample_rate, 1e-9)
    ramp = np.arange(x.shape[-1], dtype=np.float64) * log_r
    held = np.maximum.accumulate(np.log(np.maximum(np.abs(x), floor)) - ramp) + ramp
    return one_pole(np.exp(held), attack, sample_rate)


def soft_clip(x: np.ndarray, level: float = 1.0) -> np.ndarray:
    """Symmetric tanh saturation to +-``level`` (odd harmonics, like antiparallel diodes)."""
    return level * np.tanh(x / level)


def hard_clip(x: np.ndarray, level: float = 1.0, *, knee: float = 4.0) -> np.ndarray:
    """A hard but smooth limiter ``x / (1 + |x/level|^knee)^(1/knee)`` (diodes to ground)."""
    return x / (1.0 + np.abs(x / level) ** knee) ** (1.0 / knee)


def diode_clip(x: np.ndarray, positive: float = 1.0, negative: float = 1.0) -> np.ndarray:
    """Asymmetric soft clipper: tanh to ``+positive`` above zero, to ``-negative`` below."""
    return np.where(x >= 0.0, positive * np.tanh(x / positive), negative * np.tanh(x / negative))


def triode(v: np.ndarray, bias: float = 0.0, *, shift: np.ndarray | None = None, cutoff: float = 1.8
           ) -> np.ndarray:
    """Asymmetric triode-stage transfer curve (unit small-signal gain at ``v = 0``).

    Grid conduction clips the positive swing at about ``+1``; plate cutoff limits the negative
    swing more softly at about ``-cutoff``. ``bias`` sets the static operating point (its offset
    is removed, so silence maps to silence). ``shift`` [shape=(n,)] moves the operating point
    over time -- a coupling capacitor charged by grid current after loud notes ("blocking"); the
    slow offset it leaves is removed by the next stage's coupling high-pass, as in the circuit.
    """
    u = v + bias if shift is None else v + (bias - shift)
    return _triode_curve(u, cutoff) - _triode_curve(np.float64(bias), cutoff)


def _triode_curve(u: np.ndarray, cutoff: float) -> np.ndarray:
    # tanh(u) above zero, cutoff * tanh(u / cutoff) below (max/min is cheaper than np.where);
    # evaluated in float32, where numpy's vectorised tanh is ~4x faster (the output is float32 anyway)
    u32 = np.asarray(u, dtype=np.float32)
    c = np.float32(cutoff)
    y = np.tanh(np.maximum(u32, np.float32(0.0))) + c * np.tanh(np.minimum(u32, np.float32(0.0)) / c)
    return y.astype(np.float64)


def rail(x: np.ndarray, *, knee: float = 0.85, ceiling: float = 0.985) -> np.ndarray:
    """Output-stage headroom: identity below ``knee``, saturating smoothly to ``ceiling`` above.

    Models an op-amp or output buffer running into its supply rails, and guarantees the
    device output stays below 0 dBFS.
    """
    mag = np.abs(x)
    width = ceiling - knee
    over = knee + width * np.tanh((mag - knee) / width)
    return np.where(mag <= knee, x, np.sign(x) * over)


def oversample(fn, x: np.ndarray, sample_rate: int, factor: int = 2) -> np.ndarray:
    """Run ``fn(x_up, sample_rate * factor)`` at ``factor`` times the rate (polyphase resampling).

    Keeps the aliases of strong waveshaping out of the audio band.
    """
    if factor == 1:
        return fn(x, sample_rate)
    up = signal.resample_poly(x, factor, 1)
    return signal.resample_poly(fn(up, sample_rate * factor), 1, factor)[: x.shape[-1]]


# Cabinet filter models: (high-pass Hz, its Q, [(bell Hz, dB, Q), ...], low-pass Hz, low-pass order)
CABINETS: dict[str, tuple[float, float, tuple[tuple[float, float, float], ...], float, int]] = {
    # open-back 1x12 combo: loose low end, upper-mid cone peak, soft top
    "open-1x12": (85.0, 0.9, ((180.0, 2.0, 1.0), (1200.0, -2.5, 1.2), (2600.0, 4.0, 1.8)), 5200.0, 4),
    # open-back 2x12: a bit more low end, flatter mids
    "open-2x12": (75.0, 1.0, ((120.0, 3.0, 1.2), (700.0, -1.5, 1.0), (2200.0, 3.0, 1.5)), 5600.0, 4),
    # closed-back 4x12: resonant thump near 100 Hz, low-mid dip, 2 kHz peak, steep top
    "closed-4x12": (80.0, 1.6, ((110.0, 4.0, 1.5), (420.0, -3.0, 1.0), (2000.0, 4.5, 2.0)), 4800.0, 6),
    # close-mic'd (dynamic mic near the cone edge) 1x12: proximity bass, presence peak, fast roll-off
    "mic-1x12": (90.0, 1.3, ((160.0, 3.5, 1.0), (900.0, -3.5, 1.4), (4300.0, 6.0, 2.2)), 6000.0, 6),
}


def cabinet(x: np.ndarray, sample_rate: int, kind: str) -> np.ndarray:
    """Speaker cabinet as a filter model (see :data:`CABINETS`); ``"none"`` returns ``x``."""
    if kind == "none":
        return x
    hp, hp_q, bells, lp, order = CABINETS[kind]
    sections = [highpass(hp, sample_rate, q=hp_q)]
    sections += [peaking(f, g, q, sample_rate) for f, g, q in bells]
    sections.append(lowpass(lp, sample_rate, order=order))
    return filt(x, *sections)


def load_ir(path: str | Path, sample_rate: int, *, max_seconds: float = 1.0) -> np.ndarray:
    """Read an impulse response WAV, mix to mono, resample to ``sample_rate``, normalise its gain.

    The IR is scaled to unit energy so swapping cabinets changes the tone, not the level.

    Raises
    ------
    CaptureError
        When the file is missing, unreadable, silent or not finite.
    """
    import soundfile as sf

    from .errors import CaptureError

    path = Path(path)
    try:
        ir, ir_sr = sf.read(str(path), dtype="float64", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as e:
        raise CaptureError(f"cannot read impulse response {path}: {e}; give a mono or stereo WAV file") from e
    ir = ir.mean(axis=1)[: int(max_seconds * ir_sr)]
    if ir.size == 0 or not np.all(np.isfinite(ir)) or not np.any(ir):
        raise CaptureError(f"impulse response {path} is empty, silent or not finite")
    if ir_sr != sample_rate:
        g = np.gcd(int(ir_sr), int(sample_rate))
        ir = signal.resample_poly(ir, sample_rate // g, ir_sr // g)
    return ir / np.sqrt(np.sum(ir ** 2))


def convolve_ir(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Convolve ``x`` with an impulse response, same length as ``x`` (overlap-add FFT)."""
    return signal.oaconvolve(x, ir)[: x.shape[-1]]
