"""What kind of device is this? A category classifier of its own, apart from "which zoo model is closest".

The classifier reads behaviour, not the quirks of one design: features of the pair ``(x, y)`` that
any pedal or amp of a category shares (:func:`features`, documented in ``docs/fingerprint.md``):

* ``level_*``: output level against input level over the frames of the capture (the slope of
  the fit, its curvature, the spread ratio), the input's own level (dBFS);
* ``gain_*``, ``resid_*``: gain and the share of the output no linear filter explains
  (harmonics and intermodulation), each in three input-level terciles -- a boost is linear at low
  levels and saturates at the top, a fuzz is nonlinear at every level, a compressor lowers its gain
  with level while staying nearly linear;
* ``lin_*``: the best linear filter from input to output in octave bands (spectral tilt of the
  transfer, a cabinet's roll-off), ``ratio_*`` the output/input power ratio in the same bands
  (where added harmonics land), ``tilt`` the transfer's slope in dB per octave;
* ``flatness``, ``hf_ratio``, ``crest``, ``skew``: changes in flatness, high-frequency share,
  crest factor and asymmetry from input to output;
* ``dyn_*``: attack/release behaviour of the gain envelope (5 ms frames): how much it moves, how
  it follows the present level, how it remembers past levels (a compressor's release; a
  distortion's gain depends on the present level only) and its course after note onsets.

The model is a small multilayer perceptron (scikit-learn's :class:`~sklearn.neural_network.MLPClassifier`)
on standardised features, trained on thousands of renders of randomised devices of the training
families (:mod:`tonezoo.families`) by ``benchmarks/train_classifier.py``. It is stored as data
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

FEATURE_VERSION = 1
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
    return (["level_in_db", "level_slope", "level_curve", "level_spread"]
            + ["gain_loud", "gain_quiet_rel", "gain_mid_rel"] + [f"resid_{t}" for t in ("quiet", "mid", "loud")]
            + ["resid_all"] + [f"lin_{b}" for b in bands] + [f"ratio_{b}" for b in bands] + ["tilt"]
            + ["flatness", "hf_ratio", "crest", "skew", "skew_abs"]
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
    # level behaviour
    if np.std(ia) > 1e-3:
        c2, c1, _ = np.polyfit(ia - ia.mean(), oa, 2)
        spread = float(np.std(oa) / np.std(ia))
    else:
        c2, c1, spread = 0.0, 1.0, 1.0
    level_in = float(in_db.max())
    # linear transfer and its residual, per level tercile
    sxx = np.sum(np.abs(Xa) ** 2, axis=0) + EPS
    h = np.sum(Ya * np.conj(Xa), axis=0) / sxx
    resid = np.abs(Ya - h[None] * Xa) ** 2
    r_frame = _db(resid.sum(axis=1) / (np.abs(Ya) ** 2).sum(axis=1).clip(EPS))
    gain_frame = oa - ia
    order = np.argsort(ia)
    gains = _tercile_means(gain_frame, order)
    gains = [gains[2]] + [g - gains[2] for g in gains[:2]]        # loud gain, then quiet/mid relative to it
    resids = _tercile_means(r_frame, order)
    r_all = float(_db(resid.sum() / (np.abs(Ya) ** 2).sum().clip(EPS)))
    # spectra in octave bands
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    syy = np.sum(np.abs(Ya) ** 2, axis=0) + EPS
    lin, ratio = [], []
    for lo, hi in zip(OCTAVES[:-1], OCTAVES[1:]):
        sel = (freqs >= lo) & (freqs < min(hi, 0.48 * sr))
        if not sel.any():
            lin.append(-60.0)
            ratio.append(-60.0)
            continue
        lin.append(float(_db(np.sum(np.abs(h[sel]) ** 2 * sxx[sel]) / np.sum(sxx[sel]))))
        ratio.append(float(_db(np.sum(syy[sel]) / np.sum(sxx[sel]))))
    ref_bands = slice(2, 6)                                  # 250 Hz - 4 kHz: the broadband reference
    lin = np.clip(np.array(lin) - np.mean(lin[ref_bands]), -60.0, 40.0)
    ratio = np.clip(np.array(ratio) - np.mean(ratio[ref_bands]), -60.0, 60.0)
    tilt = float(np.polyfit(np.arange(1, 7), lin[1:7], 1)[0])
    # spectral shape and waveform
    mag_x, mag_y = np.abs(Xa) + 1e-9, np.abs(Ya) + 1e-9
    flat = lambda m: float(np.mean(np.exp(np.mean(np.log(m), axis=1)) / np.mean(m, axis=1)))  # noqa: E731
    hf = lambda m: float(np.sum(m[:, freqs > 4000.0] ** 2) / np.sum(m ** 2))                 # noqa: E731
    crest = lambda a: float(_db(np.max(a ** 2) / (np.mean(a ** 2) + EPS)))                    # noqa: E731
    skew = lambda a: float(np.mean((a - a.mean()) ** 3) / (np.std(a) ** 3 + EPS))             # noqa: E731
    y_hp = signal.sosfilt(signal.butter(2, 150.0, "highpass", fs=sr, output="sos"), y)
    shape = [flat(mag_y) - flat(mag_x), float(_db(hf(mag_y)) - _db(hf(mag_x))), crest(y) - crest(x),
             skew(y_hp) - skew(x), abs(skew(y_hp))]
    out = np.concatenate([[level_in, c1, c2 * 100.0, spread], gains, resids, [r_all], lin, ratio, [tilt], shape,
                          _dynamics(x, y, sr)])
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
    return x, np.asarray(model.process(x, kv), np.float32), sr


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


@dataclass(frozen=True)
class Classifier:
    """A standardised-feature multilayer perceptron (ReLU hidden layers, softmax output), held as arrays.

    Parameters
    ----------
    classes : tuple of str
        Output classes (device categories).
    mean, scale : np.ndarray [shape=(n_features,)]
        Feature standardisation.
    weights, biases : tuple of np.ndarray
        Layer ``i`` maps ``(n_in,) -> (n_out,)`` as ``a @ weights[i] + biases[i]``.
    metadata : dict
        Training summary (families, counts, validation accuracy).
    """

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    metadata: dict = field(default_factory=dict, hash=False, compare=False)

    def predict_proba(self, feats: np.ndarray) -> np.ndarray:
        """Class probabilities [shape=(n, n_classes)] for features [shape=(n, n_features)] or (n_features,)."""
        a = (np.atleast_2d(np.asarray(feats, np.float64)) - self.mean) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            a = a @ w + b
            if i < len(self.weights) - 1:
                a = np.maximum(a, 0.0)
        a = a - a.max(axis=1, keepdims=True)
        p = np.exp(a)
        return p / p.sum(axis=1, keepdims=True)

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
        return {"format": FORMAT, "format_version": 1, "feature_version": FEATURE_VERSION,
                "feature_names": feature_names(), "classes": list(self.classes),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "layers": [{"weights": w.tolist(), "bias": b.tolist()} for w, b in zip(self.weights, self.biases)],
                "metadata": self.metadata}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the classifier as JSON (atomically)."""
        from .modelfile import atomic_write

        text = json.dumps(self.to_dict(), separators=(",", ":")) + "\n"
        return atomic_write(path, lambda tmp: tmp.write_text(text), mode=0o666)

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
            weights = tuple(np.asarray(layer["weights"], np.float64) for layer in d["layers"])
            biases = tuple(np.asarray(layer["bias"], np.float64) for layer in d["layers"])
            classes = tuple(str(c) for c in d["classes"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{where}: malformed classifier document ({e}); rebuild it") from None
        n = len(feature_names())
        dims = [n] + [w.shape[1] if w.ndim == 2 else -1 for w in weights]
        ok = mean.shape == scale.shape == (n,) and all(
            w.ndim == 2 and w.shape[0] == dims[i] and b.shape == (w.shape[1],)
            for i, (w, b) in enumerate(zip(weights, biases))) and weights and dims[-1] == len(classes)
        if not ok:
            raise ModelFileError(f"{where}: layer shapes do not chain from {n} features to {len(classes)} classes")
        return cls(classes, mean, scale, weights, biases, dict(d.get("metadata") or {}))

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
    def from_sklearn(cls, mlp: Any, scaler: Any, *, metadata: dict | None = None) -> "Classifier":
        """From a fitted :class:`sklearn.neural_network.MLPClassifier` (ReLU) and :class:`StandardScaler`."""
        if getattr(mlp, "activation", "relu") != "relu":
            raise ConfigError("only ReLU multilayer perceptrons are supported")
        scale = np.where(np.asarray(scaler.scale_) > 0, scaler.scale_, 1.0)
        weights = [np.asarray(w, np.float64) for w in mlp.coefs_]
        biases = [np.asarray(b, np.float64) for b in mlp.intercepts_]
        if weights[-1].shape[1] == 1:                 # two classes: one logistic unit = softmax over (0, z)
            weights[-1] = np.concatenate([np.zeros_like(weights[-1]), weights[-1]], axis=1)
            biases[-1] = np.concatenate([[0.0], biases[-1]])
        return cls(tuple(str(c) for c in mlp.classes_), np.asarray(scaler.mean_, np.float64),
                   np.asarray(scale, np.float64), tuple(weights), tuple(biases), dict(metadata or {}))


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
