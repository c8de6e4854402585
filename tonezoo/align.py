"""Alignment: where the device's response starts in the target, and how far to shift it.

The audio interface's round trip (and a DAW's offsets) delay the target ``y``; the device's own
filters add phase delay *inside* its response. Only the former may be removed: an LSTM can learn
a short delay, it cannot predict the future. When ``x`` is tonezoo's standard re-amp signal, its
sync marker is found in both files (a matched filter) and gives a coarse delay; otherwise the
whole first 30 s are searched. Either way the delay is read from the device's best linear
approximation ``h`` (the whitened cross-correlation)::

    H(f) = Y(f) X*(f) / (smooth(|X(f)|^2) + lambda),   h = irfft(H)

not at the peak of ``|h|`` (which includes the device's phase delay) but where the response
*starts* (:func:`estimate_latency`: the first arrival's leading edge, corrected for the input's
time resolution), and the shift applied is that estimate less :data:`ALIGN_MARGIN` samples
(:func:`alignment_shift`). A recording delay ``d`` thus gives a shift in ``[d - ALIGN_MARGIN, d]``:
the aligned target lags the input by 0 to ``ALIGN_MARGIN`` samples on top of the device's own
response. Causality decides the one case the margin cannot: a response cannot start before its
input, so an estimate between 0 and ``ALIGN_MARGIN`` is a capture without recording delay (a
plug-in render, a DAW that compensated the round trip) and is not shifted at all, rather than
teaching the model to play up to ``ALIGN_MARGIN`` samples behind its device. ``|h|`` makes this
immune to polarity inversion. A second arrival as strong as the first (an echo, delay or reverb)
is reported with an :class:`~tonezoo.errors.EchoWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.fft
import scipy.ndimage

from . import signals
from .errors import CaptureWarning, EchoWarning, LatencyTooLargeError, _error, _warning_text

__all__ = ["estimate_latency", "alignment_shift", "ALIGN_MARGIN"]

_LATENCY_SECONDS_ANALYSED = 30.0
ALIGN_MARGIN = 10             # samples: the aligned target lags the estimated start of the response by this much
_FIRST_ARRIVAL_MS = 60.0      # an earlier arrival this far before the strongest peak is the direct sound
_ARRIVAL_FRACTION = 0.5
_KERNEL_BASE = 0.2
_SECOND_ARRIVAL_MS = 200.0
_EDGE_WINDOW_MS = 1.0
_EDGE_LEVEL = 0.5
_SECOND_ARRIVAL_GAP_MS = 3.0
_SECOND_ARRIVAL_RATIO = 0.4
_SECOND_ARRIVAL_SHAPE = 0.8   # correlation of |h| around both arrivals: an echo repeats the first one's shape
_LOW_CONFIDENCE = 8.0         # peak / RMS of the lag function below this: no clear delay
_DRIFT_WARN_MS = 0.5
_RELIABLE_SECONDS = 10.0      # shorter audio of a distorting device: a low-confidence delay is likely wrong


def _lag_function(x: np.ndarray, y: np.ndarray, sample_rate: int, max_lag: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whitened cross-correlation (the device's best linear impulse response) at lags -max_lag..max_lag.

    Returns ``(lags, h, kernel)``, each of shape (2 max_lag + 1,): ``kernel`` is what a pure,
    delay-free device would give, i.e. the time resolution the input's spectrum allows (a
    narrow peak at lag 0 whose width grows as the input's top octaves get quieter).
    """
    n = min(x.size, y.size)
    nfft = scipy.fft.next_fast_len(n + max_lag + 1, real=True)
    xf = scipy.fft.rfft(x[:n].astype(np.float64), nfft)
    yf = scipy.fft.rfft(y[:n].astype(np.float64), nfft)
    df = sample_rate / nfft
    power = scipy.ndimage.uniform_filter1d(np.abs(xf) ** 2, size=max(3, int(20.0 / df) | 1), mode="nearest")
    f = np.arange(xf.size) * df
    band = np.clip((f - 30.0) / 30.0, 0.0, 1.0)          # ignore DC and rumble below ~60 Hz
    weight = band / (power + 1e-3 * np.mean(power) + 1e-30)
    h = scipy.fft.irfft(yf * np.conj(xf) * weight, nfft)
    kernel = scipy.fft.irfft(np.abs(xf) ** 2 * weight, nfft)
    lags = np.arange(-max_lag, max_lag + 1)
    return lags, h[lags], kernel[lags]


def _leading_edge(mag: np.ndarray, top: int, window: int, level: float) -> int:
    """Earliest index in ``[top - window, top]`` where ``mag`` reaches ``level * mag[top]``."""
    lo = max(0, top - window)
    return lo + int(np.flatnonzero(mag[lo: top + 1] >= level * mag[top])[0])


def estimate_latency(x: np.ndarray, y: np.ndarray, sample_rate: int, *, max_lag: int | None = None,
                     around: int | None = None, tolerance: int | None = None) -> tuple[int, dict[str, Any]]:
    """Where the device's response starts in ``y``, in samples after ``x`` (negative: ``y`` leads).

    The whitened cross-correlation ``h`` is the device's best linear impulse response, delayed
    by the recording chain. Its *peak* also holds the device's own phase delay (a few samples
    for a pedal, up to ~16 for an amp and cabinet), which a model must keep, so the delay is
    read from where the response starts, in three steps:

    1. the first arrival: the earliest lag, up to 60 ms before the strongest peak of ``|h|``,
       reaching 30 % of that peak (and 6 noise deviations), and the local peak within 2 ms
       after it (an echo or a delay pedal's repeat may be stronger than the dry sound);
    2. its leading edge: the earliest lag within 1 ms before that peak at half its height;
    3. the input's own time resolution: how far before lag 0 a delay-free device's response
       (``kernel`` of the whitened correlation) still reaches 20 % of its peak, one to three
       samples, is added back, so a pure delay ``d`` gives ``d`` to ``d + 2``.

    The start of a real device's response is soft (an amp and cabinet rise over ~8 samples);
    the estimate lands between the true start and ``ALIGN_MARGIN`` samples after it, which
    ``tests/test_alignment.py`` checks over every virtual device and several real models.
    ``|h|`` makes this immune to polarity inversion; distortion adds uncorrelated harmonics,
    and with strong distortion of tonal input it smears ``h`` *earlier*, the safe direction.

    Parameters
    ----------
    x, y : np.ndarray [shape=(n,)]
        Input and device output; only the first 30 s are analysed.
    sample_rate : int
    max_lag : int, optional
        Largest delay searched, either way (default: 2 s, or less for short audio).
    around, tolerance : int, optional
        Search only ``around +- tolerance`` (a coarse delay from the sync markers).

    Returns
    -------
    start : int
        The estimated start of the device's response (the recording chain's delay).
    info : dict
        ``confidence`` (peak over RMS of ``|h|`` in the searched range; below 8 means no clear
        delay), ``polarity`` (+1 or -1), ``peak_lag`` (the first arrival's peak),
        ``strongest_lag``, and ``second_arrival``: None, or ``{"lag", "ratio"}`` for a later
        arrival at least 40 % as strong as the first (an echo, delay or reverb).
    """
    n = min(x.size, y.size, int(_LATENCY_SECONDS_ANALYSED * sample_rate))
    if around is not None:
        tol = tolerance if tolerance is not None else int(0.005 * sample_rate)
        max_lag = max(abs(int(around)) + tol, int(0.1 * sample_rate))   # wide enough to judge the peak
    elif max_lag is None:
        max_lag = int(2.0 * sample_rate)
    max_lag = max(1, min(int(max_lag), n - 1))
    # the analysed windows start together; a large delay just moves the peak
    lags, h, kernel = _lag_function(x[:n], y[:n], sample_rate, max_lag)
    mag = np.abs(h)
    rms = np.sqrt(np.mean(mag ** 2)) + 1e-30
    noise = np.median(mag) / 0.674 + 1e-30              # |h| away from the response: half-normal
    lo_i, hi_i = 0, mag.size
    if around is not None:
        keep = np.flatnonzero(np.abs(lags - around) <= tol)
        lo_i, hi_i = int(keep[0]), int(keep[-1]) + 1
    p = lo_i + int(np.argmax(mag[lo_i:hi_i]))
    confidence = float(mag[p] / rms)
    ms = sample_rate * 1e-3
    # 1. the first arrival
    first_lo = max(lo_i, p - int(round(_FIRST_ARRIVAL_MS * ms)))
    level = min(mag[p], max(_ARRIVAL_FRACTION * mag[p], 6.0 * noise))
    q = p
    w = int(round(ms))
    for first in first_lo + np.flatnonzero(mag[first_lo: p + 1] >= level):
        a = int(first) + int(np.argmax(mag[first: min(hi_i, first + 2 * w + 1)]))
        if a >= p - 2 * w:
            break                                   # the strongest peak's own cluster
        # an echo has nothing before the direct sound; a periodic input (a steady riff) repeats
        # its correlation peak at the same spacing on both sides
        before = a - (p - a)
        if before - w < 0 or np.max(mag[max(0, before - w): before + w + 1]) < _ARRIVAL_FRACTION * mag[a]:
            q = a
            break
    # 2. its leading edge, 3. less the input's own resolution at the same level
    edge_window = int(round(_EDGE_WINDOW_MS * ms))
    edge = _leading_edge(mag, q, min(edge_window, q - lo_i), _EDGE_LEVEL)
    kmag = np.abs(kernel)
    centre = int(np.flatnonzero(lags == 0)[0])
    spread = centre - _leading_edge(kmag, centre, min(edge_window, centre), _KERNEL_BASE)
    start = int(lags[edge]) + spread
    # a later arrival as strong as the first: a time-based effect
    second = None
    after = q + int(round(_SECOND_ARRIVAL_GAP_MS * ms))
    stop = min(hi_i, q + int(round(_SECOND_ARRIVAL_MS * ms)))
    if after < stop:
        r = after + int(np.argmax(mag[after:stop]))
        ratio = float(mag[r] / mag[q])
        shape = (np.corrcoef(mag[q - w: q + w + 1], mag[r - w: r + w + 1])[0, 1]
                 if q - w >= 0 and r + w < mag.size else 0.0)
        if ratio >= _SECOND_ARRIVAL_RATIO and mag[r] >= 6.0 * noise and shape >= _SECOND_ARRIVAL_SHAPE:
            second = {"lag": int(lags[r]), "ratio": round(ratio, 3)}
    return start, {"confidence": confidence, "polarity": 1 if h[q] >= 0 else -1, "peak_lag": int(lags[q]),
                   "strongest_lag": int(lags[p]), "second_arrival": second}


def _align(x: np.ndarray, y: np.ndarray, sample_rate: int, y_label: str, max_latency_ms: float,
           meta: dict[str, Any]) -> tuple[int, int | None]:
    """Find the delay (markers first, else correlation) and the validation start, in x's samples."""
    sr = sample_rate
    val_start = None
    mx = signals.find_sync_marker(x, sr, search=(0, int(30 * sr)))
    my = None
    if mx is not None:
        meta["signal"] = "standard"
        meta["marker_input"] = mx
        my = signals.find_sync_marker(y, sr, search=(max(0, mx - sr), mx + 5 * sr))
        if my is None:
            warnings.warn(f"{y_label}: the input is tonezoo's standard signal but its sync marker was not found in "
                          f"the target; aligning by cross-correlation instead", CaptureWarning, stacklevel=3)
    if my is not None:
        meta["marker_target"] = my
        lag, info = estimate_latency(x, y, sr, around=my - mx, tolerance=int(0.005 * sr))
        meta["alignment"] = "marker"
        vx = signals.find_sync_marker(x, sr, which="validation", search=(mx, x.size))
        if vx is not None:
            val_start = vx + int(round(signals.MARKER_SECONDS * sr))
            meta["validation_marker_input"] = vx
            vy = signals.find_sync_marker(y, sr, which="validation",
                                          search=(vx + my - mx - int(0.1 * sr), vx + my - mx + int(0.1 * sr)))
            if vy is not None:
                drift = (vy - vx) - (my - mx)
                meta["drift_samples"] = int(drift)
                if abs(drift) > _DRIFT_WARN_MS * 1e-3 * sr:
                    warnings.warn(
                        f"{y_label}: the target drifts by {drift} samples against the input between the start and "
                        f"validation markers: playback and recording ran on different clocks; record through one "
                        f"audio interface", CaptureWarning, stacklevel=3)
    else:
        lag, info = estimate_latency(x, y, sr)
        meta["alignment"] = "correlation"
    meta["latency_confidence"] = round(info["confidence"], 2)
    meta["polarity"] = "inverted" if info["polarity"] < 0 else "normal"
    max_lag = int(max_latency_ms * 1e-3 * sr)
    low = info["confidence"] < _LOW_CONFIDENCE
    # a few seconds of a distorting device give no reliable correlation (docs/captures.md)
    short = (meta["alignment"] == "correlation" and low and min(x.size, y.size) < _RELIABLE_SECONDS * sr)
    short_text = (f"; with only {min(x.size, y.size) / sr:.1f} s of audio the delay cannot be read reliably: "
                  f"record {_RELIABLE_SECONDS:g} s or more (or the standard re-amp signal, whose sync markers "
                  "fix the delay), or turn alignment off if the files are sample-aligned: <<align=False>>")
    if abs(lag) > max_lag:
        if short:
            raise _error(LatencyTooLargeError,
                         f"{y_label}: no clear delay between input and target (the best guess, {abs(lag)} samples, "
                         f"is more than the {max_latency_ms:g} ms allowed)" + short_text)
        raise _error(
            LatencyTooLargeError,
            f"{y_label}: the target {'lags' if lag > 0 else 'leads'} the input by {abs(lag)} samples "
            f"({abs(lag) / sr * 1e3:.1f} ms), more than the {max_latency_ms:g} ms allowed"
            + (" (and no clear delay was found: are these two files one re-amp take?)" if low else "")
            + ": export both files from the same start point, bypass latency-adding plug-ins, or allow a "
              f"larger delay if it is real: <<max_latency_ms={_suggest_ms(abs(lag), sr)}>>")
    if low and meta["alignment"] == "correlation":
        warnings.warn(f"{y_label}: no clear delay between input and target (confidence {info['confidence']:.1f}); "
                      f"shifted by {alignment_shift(lag)} samples anyway"
                      + (_warning_text(short_text) if short else ": check that the files are one re-amp take"),
                      CaptureWarning, stacklevel=3)
    second = info.get("second_arrival")
    if second is not None:
        meta["second_arrival"] = dict(second, ms=round((second["lag"] - info["peak_lag"]) / sr * 1e3, 1))
        warnings.warn(
            f"{y_label}: a second arrival {second['ratio']:.0%} as strong as the first comes "
            f"{(second['lag'] - info['peak_lag']) / sr * 1e3:.1f} ms after it: the target holds a time-based effect "
            f"(echo, delay or reverb), which a capture of a pedal or amp does not model; aligned on the first "
            f"arrival ({lag} samples); record again with time-based effects off, or place them after the captured "
            f"device in your rig", EchoWarning, stacklevel=3)
    return lag, val_start


def alignment_shift(start: int) -> int:
    """The shift applied to a target whose device response starts ``start`` samples after the input.

    ``start - ALIGN_MARGIN`` (the estimate may land up to the margin after the true start, never
    before it), except that an estimate in ``[0, ALIGN_MARGIN]`` gives 0: a response cannot start
    before its input, so such a capture has no recording delay to remove, and shifting it by a
    negative amount would only make the model play behind its device. For a true delay ``d >= 0``
    the result stays in ``[d - ALIGN_MARGIN, d]``; a target that leads its input (``start < 0``) is
    shifted by ``start - ALIGN_MARGIN``.

    Parameters
    ----------
    start : int
        Where the device's response starts in the target, in samples after the input
        (:func:`estimate_latency`; negative when the target leads).

    Returns
    -------
    int
        Samples to drop from the start of the target (negative: from the start of the input).
    """
    start = int(start)
    return 0 if 0 <= start <= ALIGN_MARGIN else start - ALIGN_MARGIN


def _suggest_ms(lag: int, sample_rate: int) -> int:
    """A round ``max_latency_ms`` that admits ``lag`` samples."""
    return int(np.ceil((lag / sample_rate * 1e3 + 1.0) / 50.0) * 50)
