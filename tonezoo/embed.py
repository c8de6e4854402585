"""Sound fingerprints of a *device*, computed from a capture ``(x, y)`` or from a model.

A fingerprint is a fixed-length vector of features that compare the device's output ``y`` with
its input ``x``, so that it describes what the device does to a signal rather than what was
played: two captures of one device with different guitar parts land close together, two devices
fed the same part land apart. Every feature is documented in ``docs/fingerprint.md``.

Feature groups (``feature_names()`` lists them in order):

* ``transfer_mel_XX`` - log-spectral transfer in 16 mel bands (40 Hz - 16 kHz): the dB ratio of
  output to input power summed over active frames, with the broadband gain removed;
* ``gain_db`` - broadband gain; ``lin_gain_XX`` - magnitude of the best *linear* filter from x to
  y (Welch cross-spectrum) in 8 log bands, gain removed; ``coherence_XX`` - magnitude-squared
  coherence in the same bands (1 for a linear device, lower the more the device distorts);
  ``nonlinear_residual_db`` - the part of the output no linear filter explains;
* level behaviour: a quadratic fit of frame output level against frame input level
  (``level_slope``, ``level_gain_at_-20db``), the spread ratio of the levels;
* ``d_flatness``, ``d_centroid``, ``d_rolloff``, ``d_bandwidth``, ``d_contrast_X``,
  ``d_crest_db``, ``d_hf_ratio``: changes of librosa spectral descriptors from input to output;
* ``d_skewness``, ``peak_asymmetry``: output asymmetry (even-harmonic proxy);
* envelope behaviour: ``env_corr``, ``env_lag_ms``, ``env_attack_slope``, ``env_release_slope``.

Zoo models are fingerprinted on a fixed synthetic probe (:func:`standard_probe`) at several levels
(:data:`PROBE_GAINS_DB`, :func:`probe_fingerprints`): a capture made with a quiet DI is compared with
the zoo's fingerprints at its own level (:func:`input_level_db`, :func:`interpolate_levels`).

Everything here is a pure numpy/librosa/scipy function; the scaler and the optional feature
weights are fitted on a zoo's fingerprints with scikit-learn (:func:`fit_scaler`,
:func:`feature_weights`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .batched import run_models
from .errors import CaptureError, ConfigError
from .knobs import DEFAULT_KNOB, resolve_knobs

if TYPE_CHECKING:  # pragma: no cover
    from .capture import Capture
    from .model import Model

__all__ = [
    "FEATURE_VERSION",
    "MAX_SECONDS",
    "fingerprint",
    "fingerprint_capture",
    "fingerprint_model",
    "fingerprint_models",
    "feature_names",
    "feature_groups",
    "standard_probe",
    "PROBE_GAINS_DB",
    "input_level_db",
    "input_levels",
    "probe_level_db",
    "probe_fingerprints",
    "interpolate_levels",
    "select_excerpt",
    "mel_transfer",
    "fit_scaler",
    "feature_weights",
]

FEATURE_VERSION = 2           # 2: auto/cross spectra from the shared STFT
MAX_SECONDS = 20.0           # at most this much audio is analysed
CHUNK_SECONDS = 2.0          # the excerpt is made of chunks this long, spread evenly over the capture
N_MELS = 16
FMIN, FMAX = 40.0, 16000.0
N_FFT = 2048
HOP = 512
ENV_HOP = 256
LIN_BANDS = np.array([100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0])
CONTRAST_BANDS = (4, 5, 6)   # of librosa.feature.spectral_contrast (6 bands + 1); the lower ones follow the song
ACTIVE_DB = -45.0            # frames within this many dB of the loudest input frame are "active"
EPS = 1e-10
PROBE_SECONDS = 8.0
PROBE_SEED = 20240611
#: Gains (dB) of the standard probe that zoo models are fingerprinted at: a nonlinear device does
#: different things to a quiet DI and a hot one, so a zoo keeps one fingerprint per level and a
#: capture is compared with the zoo's fingerprints interpolated to its own DI level
#: (:func:`interpolate_levels`). 0 is the probe as made, about -20 dBFS (:func:`input_level_db`);
#: the five levels cover DIs of about -44 to -12 dBFS (the real DI recordings of the test fixtures: -19 to -30).
PROBE_GAINS_DB = (-24.0, -16.0, -8.0, 0.0, 8.0)
LEVEL_RANGE_DB = 40.0        # input_level_db: frames within this many dB of the loudest count


def feature_groups() -> dict[str, list[str]]:
    """Feature names by group, in fingerprint order."""
    lin = [f"{int(lo)}-{int(hi)}hz" for lo, hi in zip(LIN_BANDS[:-1], LIN_BANDS[1:])]
    return {
        "spectral_transfer": [f"transfer_mel_{i:02d}" for i in range(N_MELS)] + ["gain_db"],
        "linear_filter": [f"lin_gain_{b}" for b in lin],
        "nonlinearity": [f"coherence_{b}" for b in lin] + ["nonlinear_residual_db"],
        "level": ["level_slope", "level_gain_at_-20db", "level_spread_ratio"],
        "spectral_shape": ["d_flatness", "d_centroid", "d_rolloff", "d_bandwidth", "d_hf_ratio", "d_crest_db"]
                          + [f"d_contrast_{i}" for i in CONTRAST_BANDS],
        "asymmetry": ["d_skewness", "peak_asymmetry"],
        "envelope": ["env_corr", "env_lag_ms", "env_attack_slope", "env_release_slope"],
    }


def feature_names() -> list[str]:
    """Names of the fingerprint's features, in order (``len(feature_names()) == fingerprint(...).size``)."""
    return [name for group in feature_groups().values() for name in group]


# -- excerpt selection ------------------------------------------------------------------------

def select_excerpt(n: int, sample_rate: int, *, max_seconds: float = MAX_SECONDS,
                   chunk_seconds: float = CHUNK_SECONDS) -> list[tuple[int, int]]:
    """Spans ``(start, stop)`` covering at most ``max_seconds`` of an ``n``-sample signal.

    Short signals are used whole; longer ones contribute chunks of ``chunk_seconds`` spread evenly
    from start to end, so that every part of a capture (sweeps, noise, playing) is represented.

    Examples
    --------
    >>> select_excerpt(44100 * 60, 44100, max_seconds=4, chunk_seconds=2)
    [(0, 88200), (2557800, 2646000)]
    """
    limit = int(max_seconds * sample_rate)
    if n <= limit:
        return [(0, n)]
    chunk = int(chunk_seconds * sample_rate)
    k = max(1, limit // chunk)
    starts = np.linspace(0, n - chunk, k).astype(int)
    return [(int(s), int(s) + chunk) for s in starts]


def _excerpt(a: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    return np.concatenate([a[s:e] for s, e in spans]) if len(spans) > 1 else a[spans[0][0]:spans[0][1]]


# -- feature helpers --------------------------------------------------------------------------

def _stft(a: np.ndarray) -> np.ndarray:
    """Complex STFT [shape=(1 + N_FFT // 2, frames)] (Hann window, ``HOP`` hop, centred)."""
    import librosa
    return librosa.stft(a, n_fft=N_FFT, hop_length=HOP, center=True)


def _stft_power(a: np.ndarray) -> np.ndarray:
    return np.abs(_stft(a)) ** 2


def _mel_basis(sample_rate: int) -> np.ndarray:
    import librosa
    return librosa.filters.mel(sr=sample_rate, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN,
                               fmax=min(FMAX, sample_rate / 2.0))


def _active_frames(px: np.ndarray) -> np.ndarray:
    """Boolean mask of STFT frames whose input energy is within ``ACTIVE_DB`` of the loudest."""
    e = px.sum(axis=0)
    db = 10.0 * np.log10(e + EPS)
    mask = db > db.max() + ACTIVE_DB
    return mask if mask.sum() >= 4 else np.ones_like(mask)


def mel_transfer(x: np.ndarray, y: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Spectral transfer of a device in mel bands.

    Parameters
    ----------
    x, y : np.ndarray [shape=(n,)]
        Input and output audio.
    sample_rate : int

    Returns
    -------
    curve : np.ndarray [shape=(N_MELS,)]
        ``10 log10(sum_t Y[b, t] / sum_t X[b, t])`` over active frames, minus the broadband gain (dB).
    gain_db : float
        Broadband gain over active frames (dB).
    """
    px, py = _stft_power(np.asarray(x, np.float32)), _stft_power(np.asarray(y, np.float32))
    return _mel_transfer_from_power(px, py, sample_rate)


def _mel_transfer_from_power(px: np.ndarray, py: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    mask = _active_frames(px)
    mel = _mel_basis(sample_rate)
    mx = mel @ px[:, mask].sum(axis=1)
    my = mel @ py[:, mask].sum(axis=1)
    gain = 10.0 * np.log10((py[:, mask].sum() + EPS) / (px[:, mask].sum() + EPS))
    floor = 1e-7 * (mx.max() + EPS)          # bands the input never reaches read as "broadband gain"
    curve = 10.0 * np.log10((my + floor * 10.0 ** (gain / 10.0)) / (mx + floor))
    return curve - gain, float(gain)


def _linear_features(sx: np.ndarray, sy: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Best linear filter gain and coherence per band, and the unexplained (nonlinear) output energy.

    ``sx``, ``sy`` are the complex STFTs of input and output; the auto- and cross-spectra are their
    averages over frames (Welch's method on the frames the other features use).
    """
    import librosa
    f = librosa.fft_frequencies(sr=sample_rate, n_fft=N_FFT)
    sxx = np.mean(np.abs(sx) ** 2, axis=1)
    syy = np.mean(np.abs(sy) ** 2, axis=1)
    sxy = np.mean(np.conj(sx) * sy, axis=1)
    fx, fy = 1e-9 * (sxx.max() + EPS), 1e-9 * (syy.max() + EPS)
    coh = np.abs(sxy) ** 2 / ((sxx + fx) * (syy + fy))
    h2 = np.abs(sxy) ** 2 / (sxx + fx) ** 2
    gains, cohs = [], []
    hi_edge = min(LIN_BANDS[-1], sample_rate / 2.0)
    for lo, hi in zip(LIN_BANDS[:-1], LIN_BANDS[1:]):
        sel = (f >= lo) & (f < min(hi, hi_edge))
        if not sel.any():
            sel = np.argmin(np.abs(f - lo)) == np.arange(f.size)
        w = sxx[sel] + EPS                     # weight each bin by input power
        gains.append(10.0 * np.log10(np.sum(h2[sel] * w) / np.sum(w) + EPS))
        cohs.append(float(np.sum(coh[sel] * w) / np.sum(w)))
    band = (f >= LIN_BANDS[0]) & (f < hi_edge)
    explained = np.sum(coh[band] * syy[band])
    residual = 10.0 * np.log10(max(np.sum(syy[band]) - explained, EPS) / (np.sum(syy[band]) + EPS))
    gains = np.asarray(gains)
    return gains - np.mean(gains), np.clip(np.asarray(cohs), 0.0, 1.0), float(max(residual, -60.0))


def _level_features(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Output level vs input level per frame: quadratic-fit slope and gain at -20 dBFS, spread ratio."""
    import librosa
    rx = librosa.feature.rms(y=x, frame_length=N_FFT, hop_length=HOP)[0]
    ry = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)[0]
    lx, ly = 20.0 * np.log10(rx + 1e-6), 20.0 * np.log10(ry + 1e-6)
    mask = lx > lx.max() - 40.0
    lx, ly = lx[mask], ly[mask]
    if lx.size < 8 or np.std(lx) < 0.5:     # no level variation to learn from: treat as linear
        return np.array([1.0, float(np.mean(ly - lx)) if lx.size else 0.0, 1.0])
    _, c1, c0 = np.polyfit((lx + 20.0) / 10.0, ly, 2)    # in units of 10 dB around -20 dBFS input
    slope = c1 / 10.0                                    # dB out per dB in at -20 dBFS
    gain20 = c0 + 20.0                                   # output level - input level at -20 dBFS
    spread = np.std(ly) / (np.std(lx) + 1e-6)
    return np.clip(np.array([slope, gain20, spread]), -60.0, 60.0)


def _spectral_shape_features(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray,
                             sample_rate: int) -> np.ndarray:
    """Changes of librosa spectral descriptors (flatness, centroid, rolloff, bandwidth, contrast)."""
    import librosa
    mask = _active_frames(px)
    sx, sy = np.sqrt(px[:, mask]), np.sqrt(py[:, mask])
    ymask = py[:, mask].sum(axis=0) > EPS
    if not ymask.any():
        raise CaptureError("the output signal is silent where the input plays; check the capture's files")

    def desc(s: np.ndarray) -> np.ndarray:
        flat = librosa.feature.spectral_flatness(S=s, power=1.0)[0]
        cent = librosa.feature.spectral_centroid(S=s, sr=sample_rate, n_fft=N_FFT)[0]
        roll = librosa.feature.spectral_rolloff(S=s, sr=sample_rate, n_fft=N_FFT, roll_percent=0.85)[0]
        bw = librosa.feature.spectral_bandwidth(S=s, sr=sample_rate, n_fft=N_FFT)[0]
        con = librosa.feature.spectral_contrast(S=s, sr=sample_rate, n_fft=N_FFT, fmin=100.0, n_bands=6)
        freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=N_FFT)
        hf = np.log10((s[freqs >= 2000.0] ** 2).sum() + EPS) - np.log10((s ** 2).sum() + EPS)
        return np.concatenate([
            [np.mean(np.log10(flat + EPS)), np.median(np.log2(cent + 1.0)),
             np.median(np.log2(roll + 1.0)), np.median(np.log2(bw + 1.0)), 10.0 * hf],
            np.mean(con, axis=1)[list(CONTRAST_BANDS)],
        ])

    dx, dy = desc(sx[:, ymask]), desc(sy[:, ymask])
    d = dy - dx
    crest = _crest_db(y) - _crest_db(x)
    return np.concatenate([d[:5], [crest], d[5:]])


def _crest_db(a: np.ndarray) -> float:
    """Median crest factor (peak / RMS, dB) over 2048-sample frames with signal."""
    import librosa
    frames = librosa.util.frame(a, frame_length=N_FFT, hop_length=N_FFT)
    rms = np.sqrt(np.mean(frames ** 2, axis=0))
    peak = np.max(np.abs(frames), axis=0)
    ok = rms > rms.max() * 1e-2 if rms.size else rms
    if not np.any(ok):
        return 0.0
    return float(np.median(20.0 * np.log10(peak[ok] / rms[ok])))


def _asymmetry_features(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Skewness change and peak asymmetry of the output (asymmetric clipping adds even harmonics)."""
    from scipy.stats import skew
    sk = float(skew(y) - skew(x)) if np.std(y) > 0 and np.std(x) > 0 else 0.0
    hi, lo = np.percentile(y, [99.9, 0.1])
    xhi, xlo = np.percentile(x, [99.9, 0.1])
    asym_y = (hi + lo) / (hi - lo + EPS)
    asym_x = (xhi + xlo) / (xhi - xlo + EPS)
    return np.clip(np.array([sk, asym_y - asym_x]), -10.0, 10.0)


def _envelope_features(x: np.ndarray, y: np.ndarray, sample_rate: int) -> np.ndarray:
    """Envelope behaviour: correlation, lag (ms) and the output's rise/fall response to the input's."""
    import librosa
    from scipy.signal import correlate
    ex = librosa.feature.rms(y=x, frame_length=ENV_HOP * 2, hop_length=ENV_HOP)[0]
    ey = librosa.feature.rms(y=y, frame_length=ENV_HOP * 2, hop_length=ENV_HOP)[0]
    lx, ly = 20.0 * np.log10(ex + 1e-5), 20.0 * np.log10(ey + 1e-5)
    mask = lx > lx.max() - 40.0
    if mask.sum() < 16:
        return np.array([1.0, 0.0, 1.0, 1.0])
    a = lx - lx[mask].mean()
    b = ly - ly[mask].mean()
    a[~mask], b[~mask] = 0.0, 0.0
    corr = float(np.sum(a * b) / (np.sqrt(np.sum(a * a) * np.sum(b * b)) + EPS))
    da, db = np.diff(lx), np.diff(ly)
    m2 = mask[1:] & mask[:-1]
    xc = correlate(db[m2], da[m2], mode="full", method="fft")
    max_lag = max(1, int(0.05 * sample_rate / ENV_HOP))       # search +-50 ms
    mid = len(da[m2]) - 1
    window = xc[mid - max_lag: mid + max_lag + 1]
    lag_ms = (int(np.argmax(window)) - max_lag) * ENV_HOP / sample_rate * 1000.0
    rise, fall = m2 & (da > 0.5), m2 & (da < -0.5)

    def slope(sel: np.ndarray) -> float:
        if sel.sum() < 8:
            return 1.0
        return float(np.sum(da[sel] * db[sel]) / (np.sum(da[sel] ** 2) + EPS))

    return np.clip(np.array([corr, lag_ms, slope(rise), slope(fall)]), -50.0, 50.0)


# -- public API -------------------------------------------------------------------------------

def _validate(x: np.ndarray, y: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    if x.ndim != 1 or y.ndim != 1:
        raise CaptureError(f"fingerprint needs mono 1-D input and output; got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise CaptureError(f"input and output lengths differ ({x.size} vs {y.size} samples); align the capture")
    if isinstance(sample_rate, bool) or int(sample_rate) < 8000:
        raise ConfigError(f"sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
    if x.size < int(0.25 * sample_rate):
        raise CaptureError(f"a fingerprint needs at least 0.25 s of audio; got {x.size / sample_rate:.3f} s")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise CaptureError("the capture contains NaN or Inf samples")
    if np.max(np.abs(x)) < 1e-4:
        raise CaptureError("the input (DI) is silent; a fingerprint needs the dry signal that was played")
    if np.max(np.abs(y)) < 1e-6:
        raise CaptureError("the output is silent; check that the device's recording is the target file")
    return x, y


def fingerprint(x: np.ndarray, y: np.ndarray, sample_rate: int, *, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Fingerprint of the device that turned ``x`` into ``y``.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        Dry input (DI), aligned with ``y``.
    y : np.ndarray [shape=(n,)]
        Device output.
    sample_rate : int
        Sample rate in Hz; all features are defined in Hz, so 44.1 and 48 kHz captures compare.
    max_seconds : float
        At most this much audio is analysed (chunks spread over the capture, see :func:`select_excerpt`).

    Returns
    -------
    fp : np.ndarray [shape=(len(feature_names()),), dtype=float32]

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = (0.3 * rng.standard_normal(44100)).astype(np.float32)
    >>> fp = fingerprint(x, np.tanh(4 * x), 44100)
    >>> fp.shape == (len(feature_names()),)
    True
    """
    x, y = _validate(x, y, sample_rate)
    spans = select_excerpt(x.size, sample_rate, max_seconds=max_seconds)
    x, y = _excerpt(x, spans), _excerpt(y, spans)
    sx, sy = _stft(x), _stft(y)
    px, py = np.abs(sx) ** 2, np.abs(sy) ** 2
    curve, gain = _mel_transfer_from_power(px, py, sample_rate)
    lin_gain, coh, residual = _linear_features(sx, sy, sample_rate)
    fp = np.concatenate([
        curve, [gain],
        lin_gain,
        coh, [residual],
        _level_features(x, y),
        _spectral_shape_features(x, y, px, py, sample_rate),
        _asymmetry_features(x, y),
        _envelope_features(x, y, sample_rate),
    ]).astype(np.float32)
    if fp.size != len(feature_names()):  # pragma: no cover - guards the feature table
        raise AssertionError(f"fingerprint has {fp.size} features, feature_names() lists {len(feature_names())}")
    return np.nan_to_num(fp, nan=0.0, posinf=60.0, neginf=-60.0)


def fingerprint_capture(capture: "Capture", *, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Fingerprint of a :class:`~tonezoo.capture.Capture` (its whole ``x``/``y``, up to ``max_seconds``)."""
    return fingerprint(capture.x, capture.y, capture.sample_rate, max_seconds=max_seconds)


def standard_probe(sample_rate: int = 44100, seconds: float = PROBE_SECONDS) -> np.ndarray:
    """The fixed probe signal zoo models are fingerprinted on: a synthetic guitar performance.

    Deterministic (fixed seed) so fingerprints are reproducible; built by :func:`tonezoo.signals.synth_di`.

    Returns
    -------
    probe : np.ndarray [shape=(round(seconds * sample_rate),), dtype=float32]
    """
    from .signals import synth_di
    probe = np.asarray(synth_di(seconds, sample_rate, seed=PROBE_SEED), np.float32)
    return probe[: int(round(seconds * sample_rate))]


def fingerprint_model(model: "Model", probe: np.ndarray | None = None, *,
                      knobs: dict[str, float] | None = None) -> np.ndarray:
    """Fingerprint of a model: run it on ``probe`` and fingerprint ``(probe, model(probe))``.

    Parameters
    ----------
    model : tonezoo.Model
    probe : np.ndarray [shape=(n,)], optional
        Input audio at the model's sample rate; default :func:`standard_probe`.
    knobs : dict, optional
        Knob values for a conditioned model; default its ``metadata["knob_values"]``, else 0.5 each.

    Returns
    -------
    fp : np.ndarray [shape=(len(feature_names()),)]
    """
    return fingerprint_models([model], probe, knobs=[knobs])[0]


def _default_knobs(model: "Model", knobs: dict[str, float] | None = None) -> np.ndarray | None:
    """Given values, else the model's metadata, else 0.5 (:func:`tonezoo.knobs.resolve_knobs`)."""
    names = model.config.knobs
    values, _ = resolve_knobs(names, knobs, model.metadata.get("knob_values"), default=DEFAULT_KNOB)
    return model.knob_vector({**values, **(knobs or {})}) if names else None   # unknown names: ConfigError


def fingerprint_models(models: Sequence["Model"], probe: np.ndarray | None = None, *,
                       knobs: Sequence[dict[str, float] | None] | None = None) -> np.ndarray:
    """Fingerprints of many models; models sharing a config run together in one vmapped program.

    Returns
    -------
    fps : np.ndarray [shape=(len(models), len(feature_names()))]
    """
    knobs = list(knobs) if knobs is not None else [None] * len(models)
    out = np.zeros((len(models), len(feature_names())), np.float32)
    by_rate: dict[int, list[int]] = {}
    for i, m in enumerate(models):
        by_rate.setdefault(m.sample_rate, []).append(i)
    for rate, idx in by_rate.items():
        x = standard_probe(rate) if probe is None else np.asarray(probe, np.float32)
        ys = run_models([models[i] for i in idx], x, knobs=[_default_knobs(models[i], knobs[i]) for i in idx])
        for j, i in enumerate(idx):
            out[i] = fingerprint(x, ys[j], rate)
    return out


def input_level_db(x: np.ndarray) -> float:
    """The playing level of a DI: the mean power of its active frames, in dBFS.

    Frames of 2048 samples (hop 512) within ``LEVEL_RANGE_DB`` (40 dB) of the loudest count, so
    rests between phrases and leading silence do not lower the figure. A full-scale sine reads -3 dBFS.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        Dry input (DI), float in [-1, 1].

    Returns
    -------
    level : float, dBFS (-120 for silence)
    """
    import librosa
    x = np.asarray(x, np.float32)
    if x.size == 0:
        return -120.0
    if x.size < N_FFT:
        power = np.array([np.mean(np.square(x, dtype=np.float64))])
    else:   # whole frames only: a padded edge frame would read low
        power = librosa.feature.rms(y=x, frame_length=N_FFT, hop_length=HOP, center=False)[0].astype(np.float64) ** 2
    if power.max() <= 1e-12:
        return -120.0
    active = power > power.max() * 10.0 ** (-LEVEL_RANGE_DB / 10.0)
    return float(10.0 * np.log10(power[active].mean()))


def input_levels(x: np.ndarray) -> tuple[float, float]:
    """A DI's peak and playing level: ``(peak, rms)`` in dBFS.

    ``peak`` is :func:`tonezoo.audio.peak_dbfs` (the figure ``Model.process`` checks input
    against), ``rms`` is :func:`input_level_db` (the mean power of the active frames: the level
    stage 1 of the zoo's ranking compares at). :func:`tonezoo.audio.level_text` words them.

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        Dry input (DI), float in [-1, 1].

    Returns
    -------
    peak, rms : float, dBFS (peak ``-inf``, rms -120 for silence)
    """
    from .audio import peak_dbfs
    return peak_dbfs(x), input_level_db(x)


def probe_level_db(sample_rate: int = 44100) -> float:
    """:func:`input_level_db` of :func:`standard_probe` at ``sample_rate`` (about -20 dBFS)."""
    return input_level_db(standard_probe(sample_rate))


def probe_fingerprints(models: Sequence["Model"], *, gains_db: Sequence[float] = PROBE_GAINS_DB,
                       knobs: Sequence[dict[str, float] | None] | None = None,
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Fingerprints of models on the standard probe played at each of ``gains_db``.

    Models of one architecture and sample rate run together (:func:`fingerprint_models`), once per gain.

    Parameters
    ----------
    models : sequence of Model (any mix of architectures and rates)
    gains_db : sequence of float
        Gains applied to :func:`standard_probe`, dB (default :data:`PROBE_GAINS_DB`).
    knobs : sequence of dict or None, optional
        Knob values per model (see :func:`fingerprint_model`).
    progress : callable, optional
        Called with the number of fingerprints just computed (``len(models) * len(gains_db)`` in all).

    Returns
    -------
    fps : np.ndarray [shape=(len(models), len(gains_db), len(feature_names()))], float32
    """
    knobs = list(knobs) if knobs is not None else [None] * len(models)
    out = np.zeros((len(models), len(gains_db), len(feature_names())), np.float32)
    groups: dict[tuple[Any, int], list[int]] = {}
    for i, m in enumerate(models):
        groups.setdefault((m.config, m.sample_rate), []).append(i)
    for (_, rate), idx in groups.items():
        probe = standard_probe(rate)
        for g, gain in enumerate(gains_db):
            out[idx, g] = fingerprint_models([models[i] for i in idx], probe * np.float32(10.0 ** (gain / 20.0)),
                                             knobs=[knobs[i] for i in idx])
            if progress is not None:
                progress(len(idx))
    return out


def interpolate_levels(level_fps: np.ndarray, gains_db: Sequence[float], offset_db: np.ndarray | float
                       ) -> np.ndarray:
    """Fingerprints at a probe gain between the stored ones (linear in dB, clamped at the ends).

    Parameters
    ----------
    level_fps : np.ndarray [shape=(n, G, F)]
        Fingerprints of ``n`` models at the ``G`` probe gains ``gains_db`` (ascending).
    gains_db : sequence of float [len G]
    offset_db : float or np.ndarray [shape=(n,)]
        The wanted gain per model, dB relative to the standard probe (the capture's
        :func:`input_level_db` minus the probe's :func:`probe_level_db` at the model's rate).

    Returns
    -------
    fps : np.ndarray [shape=(n, F)]
    """
    fps = np.asarray(level_fps, np.float32)
    gains = np.asarray(gains_db, np.float64)
    if fps.ndim != 3 or fps.shape[1] != gains.size:
        raise ConfigError(f"level fingerprints must have shape (n, {gains.size}, F); got {fps.shape}")
    off = np.broadcast_to(np.asarray(offset_db, np.float64), (fps.shape[0],))
    if gains.size == 1:
        return fps[:, 0].copy()
    off = np.clip(off, gains[0], gains[-1])
    hi = np.clip(np.searchsorted(gains, off, side="right"), 1, gains.size - 1)
    lo = hi - 1
    w = ((off - gains[lo]) / (gains[hi] - gains[lo]))[:, None]
    rows = np.arange(fps.shape[0])
    return ((1.0 - w) * fps[rows, lo] + w * fps[rows, hi]).astype(np.float32)


# -- scaling and weighting (scikit-learn) -----------------------------------------------------

def fit_scaler(fingerprints: np.ndarray) -> Any:
    """A :class:`sklearn.preprocessing.StandardScaler` fitted on ``fingerprints`` [shape=(n, F)].

    Constant features keep unit scale (scikit-learn's rule), so they contribute nothing to distances.
    """
    from sklearn.preprocessing import StandardScaler
    return StandardScaler().fit(np.asarray(fingerprints, np.float64))


def feature_weights(standardized: np.ndarray, labels: Sequence[str], *, floor: float = 0.25) -> np.ndarray:
    """Per-feature weights that favour features separating device categories.

    The weight of feature ``j`` is ``sqrt(F_j / mean(F))`` clipped to ``[floor, 3]``, where ``F_j`` is
    scikit-learn's ANOVA F-statistic (:func:`sklearn.feature_selection.f_classif`) of the feature
    against the category labels. With fewer than two categories holding two or more entries, every
    weight is 1.

    Parameters
    ----------
    standardized : np.ndarray [shape=(n, F)]
    labels : sequence of str [len n]

    Returns
    -------
    weights : np.ndarray [shape=(F,)]
    """
    from sklearn.feature_selection import f_classif
    x = np.asarray(standardized, np.float64)
    labels = np.asarray(list(labels))
    values, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, values[counts >= 2])
    if len(values[counts >= 2]) < 2 or keep.sum() <= len(values[counts >= 2]):
        return np.ones(x.shape[1])
    import warnings
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)       # constant features get weight `floor`
        f, _ = f_classif(x[keep], labels[keep])
    f = np.nan_to_num(f, nan=0.0, posinf=0.0)
    if f.mean() <= 0:
        return np.ones(x.shape[1])
    return np.clip(np.sqrt(f / f.mean()), floor, 3.0)
