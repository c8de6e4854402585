"""What kind of device is this? A category classifier of its own, apart from "which zoo model is closest".

The classifier reads behaviour, not the quirks of one design: features of the pair ``(x, y)`` that
any pedal or amp of a category shares (:func:`features`, documented in ``docs/fingerprint.md``):

* ``level_*``, ``slope_*``: output level against input level over the frames of the capture (the
  slope of the fit, its curvature, the spread ratio, the 10-90 % range ratio, and the slope in the
  quieter and the louder half: a clean device 1 dB/dB throughout, an overdrive bending over at the
  top, a fuzz flat), the input's own level (dBFS);
* ``gain_*``, ``resid_*``: gain of the quiet and middle input-level terciles relative to the loud one
  (compression), and the share of the output no linear filter explains (harmonics and
  intermodulation) in each tercile -- a boost is linear at low levels and saturates at the top, a
  fuzz is nonlinear at every level, a compressor lowers its gain with level while staying nearly
  linear. No absolute gain: a capture's output level is the recording's, not the device's;
* ``lin_*``: the best linear filter from input to output in octave bands (spectral tilt of the
  transfer, a cabinet's roll-off), ``ratio_*`` the output/input power ratio in the same bands
  (where added harmonics land), ``tilt`` the transfer's slope in dB per octave, ``res_*`` the
  nonlinear residual's power per band against the whole output (a cabinet after the clipping
  removes the top of the harmonics too);
* ``rolloff_*``: band limits, the frequency below which 95 % / 99 % of the output's power lies
  against the input's (octaves; harmonics widen the band, a cabinet narrows it), and the output's
  own 99 % point (octaves above 1 kHz);
* ``flatness``, ``hf_ratio``, ``crest``, ``skew``, ``peak_asym``, ``crest_loud*``: changes in flatness,
  high-frequency share, crest factor and asymmetry (skewness, and the positive against the
  negative 99.5th-percentile peak: even-order clipping) from input to output, and the crest factor
  of the loudest frames (a squared-off wave has little);
* ``dyn_*``: attack/release behaviour of the gain envelope (5 ms frames): how much it moves, how
  it follows the present level, how it remembers past levels (a compressor's release; a
  distortion's gain depends on the present level only) and its course after note onsets.

The model is a small ensemble of multilayer perceptrons (scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier`, probabilities averaged) on standardised features,
trained on thousands of renders of randomised devices of the training families
(:mod:`tonezoo.families`), of the bundled zoo's models, and of real third-party captures of devices
other than the validation fixtures' (GuitarML's ToneLibrary, ``benchmarks/_library.py``) by
``benchmarks/train_classifier.py``. It is stored as data
(``zoo_index/classifier.json``: scaler, weights, biases; never a pickle) and evaluated here in numpy.

Examples
--------
>>> from tonezoo.classify import Classifier
>>> clf = Classifier.default()                              # doctest: +SKIP
>>> guess = clf.classify_capture(capture)                   # doctest: +SKIP
>>> guess.category, round(guess.confidence, 2)              # doctest: +SKIP
('overdrive', 0.91)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from scipy import signal

from .errors import CaptureError, ConfigError, ModelFileError

if TYPE_CHECKING:  # pragma: no cover
    from .capture import Capture
    from .model import Model

__all__ = ["FEATURE_VERSION", "CategoryGuess", "Classifier", "features", "feature_names", "probe_pair",
           "classify_capture", "classify_model", "classify_many",
           "CLASSIFIER_NAME"]

FEATURE_VERSION = 2
CLASSIFIER_NAME = "classifier.json"
FORMAT = "tonezoo-classifier"
MAX_SECONDS = 12.0
N_FFT, HOP = 2048, 1024
OCTAVES = (63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
ACTIVE_DB = 40.0
ENV_SECONDS = 0.005
PROBE_SECONDS, PROBE_SEED, PROBE_PEAK = 8.0, 424242, 0.5
EPS = 1e-12


def feature_names() -> list[str]:
    """Names of :func:`features`' entries, in order."""
    bands = [f"{int(lo)}-{int(hi)}" for lo, hi in zip(OCTAVES[:-1], OCTAVES[1:])]
    return (["level_in_db", "level_slope", "level_curve", "level_spread", "slope_quiet", "slope_loud", "level_range"]
            + ["gain_quiet_rel", "gain_mid_rel"] + [f"resid_{t}" for t in ("quiet", "mid", "loud")]
            + ["resid_all"] + [f"lin_{b}" for b in bands] + [f"ratio_{b}" for b in bands] + ["tilt"]
            + [f"res_{b}" for b in bands] + ["rolloff_95", "rolloff_99", "rolloff_99_out"]
            + ["flatness", "hf_ratio", "crest", "skew", "skew_abs", "peak_asym", "crest_loud", "crest_loud_out"]
            + ["dyn_std", "dyn_corr", "dyn_memory", "dyn_onset_0", "dyn_onset_1", "dyn_onset_2"])


def _excerpt(x: np.ndarray, y: np.ndarray, sr: int, max_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    limit = int(max_seconds * sr)
    if x.size <= limit:
        return x, y
    chunk = int(2.0 * sr)
    starts = np.linspace(0, x.size - chunk, max(1, limit // chunk)).astype(int)
    return (np.concatenate([x[s:s + chunk] for s in starts]), np.concatenate([y[s:s + chunk] for s in starts]))


def _frames(a: np.ndarray) -> np.ndarray:
    if a.size < N_FFT:
        a = np.pad(a, (0, N_FFT - a.size))
    return np.lib.stride_tricks.sliding_window_view(a, N_FFT)[::HOP]


def _db(p: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.asarray(p) + EPS)


def _tercile_means(values: np.ndarray, order: np.ndarray) -> list[float]:
    parts = np.array_split(values[order], 3)
    return [float(np.mean(p)) if p.size else 0.0 for p in parts]


def _dynamics(x: np.ndarray, y: np.ndarray, sr: int) -> list[float]:
    hop = max(int(ENV_SECONDS * sr), 1)
    n = x.size // hop
    ex = _db(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1))
    ey = _db(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1))
    active = ex > ex.max() - 35.0
    g = ey - ex
    if active.sum() < 20:
        return [0.0] * 6
    ga, xa = g[active], ex[active]
    std = float(np.std(ga))
    corr = float(np.corrcoef(ga, xa)[0, 1]) if np.std(xa) > 0 and std > 0 else 0.0
    # memory: after removing what the present level explains, does the gain follow the level 100 ms ago?
    lag = max(int(0.1 / ENV_SECONDS), 1)
    both = active[lag:] & active[:-lag]
    memory = 0.0
    if both.sum() > 20:
        g_now, x_now, x_past = g[lag:][both], ex[lag:][both], ex[:-lag][both]
        coef = np.polyfit(x_now, g_now, 1)
        res = g_now - np.polyval(coef, x_now)
        dx = x_past - x_now
        if np.std(res) > 1e-6 and np.std(dx) > 1e-6:
            memory = float(np.corrcoef(res, dx)[0, 1])
    # course of the gain after onsets (input rising by > 9 dB within 20 ms), relative to 200-300 ms later
    rise = ex[4:] - ex[:-4]
    onsets = np.flatnonzero((rise > 9.0) & active[4:]) + 4
    onsets = onsets[np.diff(np.concatenate([[-10 ** 9], onsets])) > int(0.3 / ENV_SECONDS)]
    onsets = onsets[onsets + int(0.3 / ENV_SECONDS) < n]
    prof = [0.0, 0.0, 0.0]
    if onsets.size >= 3:
        ref = np.array([g[o + int(0.2 / ENV_SECONDS): o + int(0.3 / ENV_SECONDS)].mean() for o in onsets])
        for i, (a, b) in enumerate(((0.0, 0.01), (0.01, 0.04), (0.04, 0.12))):
            seg = np.array([g[o + int(a / ENV_SECONDS): o + max(int(b / ENV_SECONDS), int(a / ENV_SECONDS) + 1)].mean()
                            for o in onsets])
            prof[i] = float(np.clip(np.median(seg - ref), -30.0, 30.0))
    return [std, corr, memory, *prof]


def features(x: np.ndarray, y: np.ndarray, sample_rate: int, *, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Behaviour features of the device that turned ``x`` into ``y`` (see the module docstring).

    Parameters
    ----------
    x, y : np.ndarray [shape=(n,)]
        Aligned input (DI) and output, at least 0.5 s.
    sample_rate : int
        In Hz (>= 16000); every feature is defined in Hz and seconds.
    max_seconds : float
        At most this much audio is analysed (2 s chunks spread over the capture).

    Returns
    -------
    np.ndarray [shape=(len(feature_names()),), dtype=float64]

    Raises
    ------
    CaptureError
        Mismatched or too short arrays, non-finite samples, a silent input or output.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise CaptureError(f"features need mono input and output of one length; got {x.shape} and {y.shape}")
    if isinstance(sample_rate, bool) or int(sample_rate) < 16000:
        raise ConfigError(f"sample_rate must be an integer >= 16000 Hz, got {sample_rate!r}")
    sr = int(sample_rate)
    if x.size < sr // 2:
        raise CaptureError(f"device classification needs at least 0.5 s of audio, got {x.size / sr:.2f} s")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise CaptureError("the capture contains NaN or Inf samples")
    if np.max(np.abs(x)) < 1e-4 or np.max(np.abs(y)) < 1e-6:
        raise CaptureError("the input or the output is silent; classification needs the DI and the device's output")
    x, y = _excerpt(x, y, sr, max_seconds)
    win = np.hanning(N_FFT)
    fx, fy = _frames(x), _frames(y)
    X, Y = np.fft.rfft(fx * win, axis=1), np.fft.rfft(fy * win, axis=1)
    px_f, py_f = np.mean(fx ** 2, axis=1), np.mean(fy ** 2, axis=1)
    in_db, out_db = _db(px_f), _db(py_f)
    active = in_db > in_db.max() - ACTIVE_DB
    if active.sum() < 4:
        active = np.ones_like(active)
    Xa, Ya = X[active], Y[active]
    ia, oa = in_db[active], out_db[active]
    # level behaviour: the fit of output level on input level over the frames, and its two halves
    if np.std(ia) > 1e-3:
        c2, c1, _ = np.polyfit(ia - ia.mean(), oa, 2)
        spread = float(np.std(oa) / np.std(ia))
        p10, p90 = np.percentile(ia, [10, 90])
        o10, o90 = np.percentile(oa, [10, 90])
        level_range = float((o90 - o10) / max(p90 - p10, 1e-3))
    else:
        c2, c1, spread, level_range = 0.0, 1.0, 1.0, 1.0
    halves = []
    below = ia <= np.median(ia)
    for part in (below, ~below):
        ok = part.sum() >= 3 and np.std(ia[part]) > 1e-3
        halves.append(float(np.polyfit(ia[part], oa[part], 1)[0]) if ok else float(c1))
    level_in = float(in_db.max())
    # linear transfer and its residual, per level tercile
    sxx = np.sum(np.abs(Xa) ** 2, axis=0) + EPS
    h = np.sum(Ya * np.conj(Xa), axis=0) / sxx
    resid = np.abs(Ya - h[None] * Xa) ** 2
    r_frame = _db(resid.sum(axis=1) / (np.abs(Ya) ** 2).sum(axis=1).clip(EPS))
    gain_frame = oa - ia
    order = np.argsort(ia)
    gains = _tercile_means(gain_frame, order)
    gains = [g - gains[2] for g in gains[:2]]                  # quiet/mid gain relative to the loud gain
    resids = _tercile_means(r_frame, order)
    r_all = float(_db(resid.sum() / (np.abs(Ya) ** 2).sum().clip(EPS)))
    # spectra in octave bands
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    syy = np.sum(np.abs(Ya) ** 2, axis=0) + EPS
    srr = np.sum(resid, axis=0)
    lin, ratio, res = [], [], []
    for lo, hi in zip(OCTAVES[:-1], OCTAVES[1:]):
        sel = (freqs >= lo) & (freqs < min(hi, 0.48 * sr))
        if not sel.any():
            lin.append(-60.0)
            ratio.append(-60.0)
            res.append(-80.0)
            continue
        lin.append(float(_db(np.sum(np.abs(h[sel]) ** 2 * sxx[sel]) / np.sum(sxx[sel]))))
        ratio.append(float(_db(np.sum(syy[sel]) / np.sum(sxx[sel]))))
        res.append(float(_db(np.sum(srr[sel]) / np.sum(syy))))
    ref_bands = slice(2, 6)                                  # 250 Hz - 4 kHz: the broadband reference
    lin = np.clip(np.array(lin) - np.mean(lin[ref_bands]), -60.0, 40.0)
    ratio = np.clip(np.array(ratio) - np.mean(ratio[ref_bands]), -60.0, 60.0)
    res = np.clip(np.array(res), -80.0, 0.0)
    tilt = float(np.polyfit(np.arange(1, 7), lin[1:7], 1)[0])
    # band limits: where 95 % / 99 % of the power lies (octaves), output against input
    def rolloff(spec: np.ndarray, share: float) -> float:
        c = np.cumsum(spec)
        return float(freqs[min(int(np.searchsorted(c, share * c[-1])), freqs.size - 1)]) + 20.0
    sxx_raw = np.sum(np.abs(Xa) ** 2, axis=0)
    limits = [float(np.log2(rolloff(syy, q) / rolloff(sxx_raw + EPS, q))) for q in (0.95, 0.99)]
    limits.append(float(np.log2(rolloff(syy, 0.99) / 1000.0)))
    # spectral shape and waveform
    mag_x, mag_y = np.abs(Xa) + 1e-9, np.abs(Ya) + 1e-9
    flat = lambda m: float(np.mean(np.exp(np.mean(np.log(m), axis=1)) / np.mean(m, axis=1)))  # noqa: E731
    hf = lambda m: float(np.sum(m[:, freqs > 4000.0] ** 2) / np.sum(m ** 2))                 # noqa: E731
    crest = lambda a: float(_db(np.max(a ** 2) / (np.mean(a ** 2) + EPS)))                    # noqa: E731
    skew = lambda a: float(np.mean((a - a.mean()) ** 3) / (np.std(a) ** 3 + EPS))             # noqa: E731
    hp = signal.butter(2, 150.0, "highpass", fs=sr, output="sos")
    y_hp, x_hp = signal.sosfilt(hp, y), signal.sosfilt(hp, x)
    asym = lambda a: abs(float(_db(np.percentile(a, 99.5) ** 2 + EPS) - _db(np.percentile(-a, 99.5) ** 2 + EPS)))  # noqa: E731
    loud = order[-max(len(order) // 3, 1):]
    fr_crest = lambda f: float(np.mean(_db(np.max(f ** 2, axis=1) / (np.mean(f ** 2, axis=1) + EPS))))  # noqa: E731
    cl_y, cl_x = fr_crest(fy[active][loud]), fr_crest(fx[active][loud])
    shape = [flat(mag_y) - flat(mag_x), float(_db(hf(mag_y)) - _db(hf(mag_x))), crest(y) - crest(x),
             skew(y_hp) - skew(x), abs(skew(y_hp)), asym(y_hp) - asym(x_hp), cl_y - cl_x, cl_y]
    out = np.concatenate([[level_in, c1, c2 * 100.0, spread, *halves, level_range], gains, resids, [r_all], lin,
                          ratio, [tilt], res, limits, shape, _dynamics(x, y, sr)])
    return np.nan_to_num(np.clip(out, -200.0, 200.0), nan=0.0)


def probe_pair(model: "Model", *, knobs: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """``(x, y, sample_rate)``: a fixed synthetic DI (peak 0.5) played through ``model`` (for files without audio)."""
    from .signals import synth_di
    sr = int(model.config.sample_rate)
    x = np.asarray(synth_di(PROBE_SECONDS, sr, seed=PROBE_SEED, peak=PROBE_PEAK), np.float32)
    kv = None
    if model.config.knobs:
        kv = {k: 0.5 for k in model.config.knobs}
        kv.update({k: float(v) for k, v in (model.metadata.get("knob_values") or {}).items() if k in kv})
        kv.update(knobs or {})
    return x, np.asarray(model.process(x, kv, check_level=False), np.float32), sr


@dataclass
class CategoryGuess:
    """A device category with the classifier's confidence (its probability, 0-1) and every class's probability."""

    category: str
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable categories with their probabilities."""
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "confidence": self.confidence, "probabilities": dict(self.probabilities)}


Network = tuple[tuple[np.ndarray, np.ndarray], ...]
"""One multilayer perceptron: its layers as ``(weights [shape=(n_in, n_out)], bias [shape=(n_out,)])``."""


def _rounded(a: np.ndarray) -> list:
    """Nested lists of the values to 6 significant digits (keeps the file small; probabilities move by < 1e-5)."""
    return np.vectorize(lambda v: float(f"{v:.6g}"), otypes=[float])(a).tolist()


def _forward(a: np.ndarray, net: Network) -> np.ndarray:
    for i, (w, b) in enumerate(net):
        a = a @ w + b
        if i < len(net) - 1:
            a = np.maximum(a, 0.0)
    a = a - a.max(axis=1, keepdims=True)
    p = np.exp(a)
    return p / p.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Classifier:
    """Standardised-feature multilayer perceptrons (ReLU hidden layers, softmax output), held as arrays.

    An ensemble of one or more networks on the same features; its probabilities are the mean of
    the members' softmax outputs.

    Parameters
    ----------
    classes : tuple of str
        Output classes (device categories).
    mean, scale : np.ndarray [shape=(n_features,)]
        Feature standardisation.
    networks : tuple of Network
        The members; layer ``i`` of a member maps ``(n_in,) -> (n_out,)`` as ``a @ weights + bias``.
    inputs : tuple of str or None
        The names of the :func:`features` the networks read, in order (None: all of them); ``mean``
        and ``scale`` have one entry per input.
    metadata : dict
        Training summary (families, counts, validation accuracy).
    """

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    networks: tuple[Network, ...]
    inputs: tuple[str, ...] | None = None
    metadata: dict = field(default_factory=dict, hash=False, compare=False)

    def _columns(self) -> np.ndarray:
        names = feature_names()
        return np.arange(len(names)) if self.inputs is None else np.array([names.index(n) for n in self.inputs])

    def predict_proba(self, feats: np.ndarray) -> np.ndarray:
        """Class probabilities [shape=(n, n_classes)] for features [shape=(n, n_features)] or (n_features,)
        (all of :func:`feature_names`; the classifier picks its ``inputs``)."""
        a = np.atleast_2d(np.asarray(feats, np.float64))[:, self._columns()]
        a = (a - self.mean) / self.scale
        return np.mean([_forward(a, net) for net in self.networks], axis=0)

    def with_metadata(self, metadata: dict) -> "Classifier":
        """The same classifier with other metadata."""
        return Classifier(self.classes, self.mean, self.scale, self.networks, self.inputs, dict(metadata))

    def classify(self, x: np.ndarray, y: np.ndarray, sample_rate: int) -> CategoryGuess:
        """The category of the device that turned ``x`` into ``y`` (see :func:`features` for the inputs)."""
        p = self.predict_proba(features(x, y, sample_rate))[0]
        best = int(np.argmax(p))
        return CategoryGuess(self.classes[best], float(p[best]), {c: float(v) for c, v in zip(self.classes, p)})

    def classify_capture(self, capture: "Capture") -> CategoryGuess:
        """The category of a capture's device, from its whole ``x``/``y`` (up to 12 s analysed)."""
        return self.classify(capture.x, capture.y, capture.sample_rate)

    def classify_model(self, model: "Model") -> CategoryGuess:
        """The category of the device a model captures, from its output on a fixed synthetic DI."""
        return self.classify(*probe_pair(model))

    # -- storage -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": 2, "feature_version": FEATURE_VERSION,
                "feature_names": feature_names(), "classes": list(self.classes),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "inputs": list(self.inputs) if self.inputs is not None else feature_names(),
                "members": [[{"weights": _rounded(w), "bias": _rounded(b)} for w, b in net] for net in self.networks],
                "metadata": self.metadata}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the classifier as JSON (atomically)."""
        from .modelfile import atomic_write

        text = json.dumps(self.to_dict(), separators=(",", ":")) + "\n"
        return atomic_write(path, lambda tmp: tmp.write_text(text))

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "classifier") -> "Classifier":
        """Read a classifier document (the inverse of :meth:`to_dict`).

        Raises
        ------
        ModelFileError
            A document of another format, feature version or with inconsistent shapes.
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ModelFileError(f"{where}: not a tonezoo classifier (format {d.get('format') if isinstance(d, dict) else None!r})")
        if d.get("feature_version") != FEATURE_VERSION or d.get("feature_names") != feature_names():
            raise ModelFileError(f"{where}: made for classifier features version {d.get('feature_version')}, this "
                                 f"tonezoo computes version {FEATURE_VERSION}; rebuild it with "
                                 "benchmarks/train_classifier.py")
        try:
            mean, scale = np.asarray(d["mean"], np.float64), np.asarray(d["scale"], np.float64)
            members = d["members"] if "members" in d else [d["layers"]]      # format 1: a single network
            networks = tuple(tuple((np.asarray(layer["weights"], np.float64), np.asarray(layer["bias"], np.float64))
                                   for layer in member) for member in members)
            classes = tuple(str(c) for c in d["classes"])
            inputs = tuple(str(c) for c in d.get("inputs") or feature_names())
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{where}: malformed classifier document ({e}); rebuild it") from None
        unknown = sorted(set(inputs) - set(feature_names()))
        if unknown:
            raise ModelFileError(f"{where}: reads features this tonezoo does not compute ({unknown}); rebuild it "
                                 "with benchmarks/train_classifier.py")
        n = len(inputs)

        def chains(net: Network) -> bool:
            dims = [n] + [w.shape[1] if w.ndim == 2 else -1 for w, _ in net]
            return bool(net) and dims[-1] == len(classes) and all(
                w.ndim == 2 and w.shape[0] == dims[i] and b.shape == (w.shape[1],) for i, (w, b) in enumerate(net))
        if not (mean.shape == scale.shape == (n,) and networks and all(chains(net) for net in networks)):
            raise ModelFileError(f"{where}: layer shapes do not chain from {n} features to {len(classes)} classes")
        return cls(classes, mean, scale, networks, None if list(inputs) == feature_names() else inputs,
                   dict(d.get("metadata") or {}))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Classifier":
        """Read a classifier JSON file (:class:`ModelFileError` if missing or invalid)."""
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except OSError as e:
            raise ModelFileError(f"cannot read classifier {path}: {e}; rebuild it with "
                                 "benchmarks/train_classifier.py") from None
        except json.JSONDecodeError as e:
            raise ModelFileError(f"{path}: not valid JSON ({e}); rebuild it with benchmarks/train_classifier.py") from None
        return cls.from_dict(d, where=str(path))

    @classmethod
    def default(cls) -> "Classifier":
        """The classifier bundled with the default zoo (``zoo_index/classifier.json``)."""
        from importlib.resources import files
        return cls.load(Path(str(files("tonezoo.zoo_index"))) / CLASSIFIER_NAME)

    @classmethod
    def from_sklearn(cls, mlp: Any, scaler: Any, *, inputs: Sequence[str] | None = None,
                     metadata: dict | None = None) -> "Classifier":
        """From fitted :class:`sklearn.neural_network.MLPClassifier` s (ReLU; one, or a list of members
        trained on the same classes) and the :class:`~sklearn.preprocessing.StandardScaler` before them,
        fitted on the feature columns named ``inputs`` (None: all of :func:`feature_names`)."""
        mlps = list(mlp) if isinstance(mlp, (list, tuple)) else [mlp]
        networks = []
        for m in mlps:
            if getattr(m, "activation", "relu") != "relu":
                raise ConfigError("only ReLU multilayer perceptrons are supported")
            if list(m.classes_) != list(mlps[0].classes_):
                raise ConfigError("the members of an ensemble must share their classes")
            weights = [np.asarray(w, np.float64) for w in m.coefs_]
            biases = [np.asarray(b, np.float64) for b in m.intercepts_]
            if weights[-1].shape[1] == 1:             # two classes: one logistic unit = softmax over (0, z)
                weights[-1] = np.concatenate([np.zeros_like(weights[-1]), weights[-1]], axis=1)
                biases[-1] = np.concatenate([[0.0], biases[-1]])
            networks.append(tuple(zip(weights, biases)))
        scale = np.where(np.asarray(scaler.scale_) > 0, scaler.scale_, 1.0)
        if inputs is not None:
            unknown = sorted(set(inputs) - set(feature_names()))
            if unknown:
                raise ConfigError(f"unknown feature names {unknown}; valid: tonezoo.classify.feature_names()")
        return cls(tuple(str(c) for c in mlps[0].classes_), np.asarray(scaler.mean_, np.float64),
                   np.asarray(scale, np.float64), tuple(networks), None if inputs is None else tuple(inputs),
                   dict(metadata or {}))


def classify_many(clf: Classifier, feats: Sequence[np.ndarray]) -> list[CategoryGuess]:
    """Guesses for precomputed feature vectors."""
    p = clf.predict_proba(np.stack(list(feats)))
    return [CategoryGuess(clf.classes[int(np.argmax(r))], float(r.max()), {c: float(v) for c, v in zip(clf.classes, r)})
            for r in p]


def classify_capture(capture: "Capture", classifier: Classifier | None = None) -> CategoryGuess:
    """The device category of a capture, from ``classifier`` (default: the bundled one, :meth:`Classifier.default`).

    Raises
    ------
    ModelFileError
        When no classifier is given and the bundled one is missing or made for other features.
    """
    return (classifier or Classifier.default()).classify_capture(capture)


def classify_model(model: "Model", classifier: Classifier | None = None) -> CategoryGuess:
    """The device category of a model (e.g. an imported third-party file), from its output on a fixed DI."""
    return (classifier or Classifier.default()).classify_model(model)
