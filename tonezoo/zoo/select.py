"""Choosing starting models: the fingerprint index (stage 1) and zero-shot scores (stage 2).

Stage 1, :class:`FingerprintIndex`: fingerprints (:mod:`tonezoo.embed`) are standardised with a
scikit-learn ``StandardScaler``, optionally weighted per feature by how well it separates the
zoo's categories (:func:`tonezoo.embed.feature_weights`), and searched with ``NearestNeighbors``;
:func:`suggest` searches the zoo's fingerprints at the capture's DI level instead
(:meth:`tonezoo.zoo.Zoo.fingerprints_at`), in the same standardised space.
It follows scikit-learn's conventions: ``__init__`` only stores its settings, :meth:`fit` learns
``scaler_``, ``weights_``, ``nn_`` and ``n_samples_fit_``, queries on an unfitted index raise.

Stage 2, small functions: :func:`knobs_for` (which knob values to run a model at),
:func:`audio_at` (the capture at a model's rate), :func:`zero_shot_scores` (every candidate on
the capture's own input, one compiled program per architecture: :func:`tonezoo.batched.zero_shot_esr`)
and :func:`group_diffs` (the "why" text: closest and furthest feature groups).
:func:`suggest` runs both stages for a zoo; :meth:`tonezoo.zoo.Zoo.suggest` calls it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import embed
from ..batched import zero_shot_esr
from ..errors import ConfigError, ZooError
from ..knobs import DEFAULT_KNOB, knob_array, resolve_knobs
from ..model import Model, ModelConfig

if TYPE_CHECKING:  # pragma: no cover
    from ..capture import Capture

__all__ = ["Suggestion", "FingerprintIndex", "suggest", "knobs_for", "audio_at", "zero_shot_scores", "group_diffs",
           "transfer_curves"]


@dataclass
class Suggestion:
    """A ranked starting model for a capture, with both stages' scores and a short reason.

    ``closest`` and ``furthest`` name the fingerprint feature groups (:func:`tonezoo.embed.feature_groups`)
    in which the model is nearest to and furthest from the capture; ``notes`` say how it was run on
    the capture (resampled, knob values), as the end of ``reason`` does. ``level_db`` is the
    capture's DI level stage 1 compared the zoo's fingerprints at (dBFS RMS of its active frames,
    :func:`tonezoo.embed.input_level_db`); ``None`` when it compared at the standard probe's own level.
    """

    rank: int
    id: str
    name: str
    category: str
    distance: float
    zero_shot_esr: float | None
    score: float
    reason: str
    matched_esr: float | None = None
    fingerprint_rank: int = 0
    sample_rate: int = 44100
    resampled: bool = False
    closest: str = ""
    furthest: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)
    level_db: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FingerprintIndex:
    """Nearest zoo entries of a fingerprint in standardised, weighted feature space.

    Parameters
    ----------
    weighting : bool
        Weight features by how well they separate the categories given to :meth:`fit`.

    Attributes
    ----------
    scaler_ : sklearn.preprocessing.StandardScaler
        Fitted on the fingerprints, plus ``reference`` rows when :meth:`fit` got them.
    weights_ : np.ndarray [shape=(n_features,)]
    nn_ : sklearn.neighbors.NearestNeighbors
        Fitted on the standardised, weighted fingerprints.
    n_samples_fit_ : int
        Fingerprints indexed.
    n_reference_ : int
        Extra rows the scaler was fitted with (0: the index's own spread only).
    """

    def __init__(self, *, weighting: bool = True):
        self.weighting = weighting

    def fit(self, X: np.ndarray, labels: Sequence[str], *, reference: np.ndarray | None = None
            ) -> "FingerprintIndex":
        """Index fingerprints ``X`` [shape=(n, n_features)] with category ``labels`` (n,).

        ``reference`` [shape=(m, n_features)]: more fingerprints to fit the scaler with (a small
        zoo's own spread of features is too noisy to standardise with); they are not indexed.
        """
        from sklearn.neighbors import NearestNeighbors
        X = np.asarray(X)
        if X.ndim != 2 or len(X) != len(labels):
            raise ConfigError(f"fit needs fingerprints (n, n_features) and n labels; got {X.shape} and "
                              f"{len(labels)} labels")
        ref = X if reference is None else np.concatenate([X, np.asarray(reference, X.dtype)])
        self.scaler_ = embed.fit_scaler(ref)
        z = self.scaler_.transform(X)
        self.weights_ = embed.feature_weights(z, list(labels)) if self.weighting else np.ones(X.shape[1])
        self.nn_ = NearestNeighbors().fit(z * self.weights_)
        self.n_samples_fit_ = len(X)
        self.n_reference_ = 0 if reference is None else len(reference)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "nn_"):
            raise ZooError("this FingerprintIndex is not fitted yet; call fit(fingerprints, categories) first")

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Fingerprints [shape=(n, n_features)] in the index's standardised, weighted space."""
        self._check_fitted()
        return self.scaler_.transform(np.asarray(X, np.float64)) * self.weights_

    def kneighbors(self, fp: np.ndarray, n_neighbors: int, *, candidates: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Distances and row indices of the ``n_neighbors`` nearest fingerprints, each (n_neighbors,).

        ``candidates`` [shape=(n_samples_fit_, n_features)]: search these rows instead of the indexed
        ones (the same entries' fingerprints at another probe level), in the same standardised space.
        """
        self._check_fitted()
        z = self.transform(np.asarray(fp)[None])
        if candidates is None:
            dist, idx = self.nn_.kneighbors(z, n_neighbors=n_neighbors)
            return dist[0], idx[0]
        candidates = np.asarray(candidates)
        if candidates.shape != (self.n_samples_fit_, z.shape[1]):
            raise ConfigError(f"candidates must have shape ({self.n_samples_fit_}, {z.shape[1]}); "
                              f"got {candidates.shape}")
        d = np.linalg.norm(self.transform(candidates) - z, axis=1)
        idx = np.argsort(d, kind="stable")[:n_neighbors]
        return d[idx], idx


# -- stage 2 ----------------------------------------------------------------------------------------------
def knobs_for(model: Model, capture: "Capture") -> tuple[np.ndarray | None, str]:
    """Knob values for a zero-shot run: the capture's, else the model's metadata, else 0.5 (with a note)."""
    names = model.config.knobs
    if not names:
        return None, ""
    cap = {k: float(v) for k, v in (capture.knobs or {}).items() if k in names}
    meta = {k: float(v) for k, v in (model.metadata.get("knob_values") or {}).items() if k in names}
    values, _ = resolve_knobs(names, cap, meta, default=DEFAULT_KNOB)
    src = "capture" if len(cap) == len(names) else "model metadata" if len(meta) == len(names) and not cap \
        else "defaults (0.5 where unknown)"
    text = ", ".join(f"{k}={v:g}" for k, v in values.items())
    return knob_array(names, values), f"knobs from {src}: {text}"


def audio_at(capture: "Capture", rate: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The capture's x, y at ``rate`` (resampled with librosa when needed; only the needed span)."""
    x, y = np.asarray(capture.x, np.float32), np.asarray(capture.y, np.float32)
    if rate == capture.sample_rate:
        return x, y
    import librosa
    spans = embed.select_excerpt(x.size, capture.sample_rate, max_seconds=max(seconds * 2, 1.0))
    xs = [librosa.resample(x[s:e], orig_sr=capture.sample_rate, target_sr=rate) for s, e in spans]
    ys = [librosa.resample(y[s:e], orig_sr=capture.sample_rate, target_sr=rate) for s, e in spans]
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.float32)


def group_diffs(z: np.ndarray, zs: np.ndarray) -> list[tuple[str, str]]:
    """For each candidate row, the feature groups closest to and furthest from the target ``z``."""
    groups = embed.feature_groups()
    names = embed.feature_names()
    pos = {n: i for i, n in enumerate(names)}
    out = []
    for row in zs:
        d = {g: float(np.sqrt(np.mean([(row[pos[n]] - z[pos[n]]) ** 2 for n in ns]))) for g, ns in groups.items()}
        ranked = sorted(d, key=d.get)
        out.append((ranked[0].replace("_", " "), ranked[-1].replace("_", " ")))
    return out


def zero_shot_scores(models: Sequence[Model], capture: "Capture", seconds: float
                     ) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """Zero-shot ESR, matched ESR (each (len(models),)) and notes of each model on the capture.

    Models are grouped by config (one compiled program per architecture) and run at their own
    sample rate (the capture resampled once per rate).
    """
    k = len(models)
    esr, matched = np.full(k, np.inf), np.full(k, np.inf)
    notes: list[list[str]] = [[] for _ in range(k)]
    groups: dict[ModelConfig, list[int]] = {}
    for j, m in enumerate(models):
        groups.setdefault(m.config, []).append(j)
    audio: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for cfg, js in groups.items():
        rate = cfg.sample_rate
        if rate not in audio:
            audio[rate] = audio_at(capture, rate, seconds)
        x, y = audio[rate]
        knobs = []
        for j in js:
            kv, note = knobs_for(models[j], capture)
            knobs.append(kv)
            if note:
                notes[j].append(note)
            if rate != capture.sample_rate:
                notes[j].append(f"model runs at {rate} Hz: capture resampled from {capture.sample_rate} Hz")
        e, g = zero_shot_esr([models[j] for j in js], x, y, knobs=knobs, sample_rate=rate, seconds=seconds)
        esr[js], matched[js] = e, g
    return esr, matched, notes


def suggest(zoo: Any, capture: "Capture", top: int = 5, *, shortlist: int = 16, stage2_seconds: float = 10.0,
            weighting: bool = True, fingerprint: np.ndarray | None = None,
            exclude: Sequence[str] = (), at_level: bool = True, level_db: float | None = None) -> list[Suggestion]:
    """Both stages for ``zoo`` (a :class:`tonezoo.zoo.Zoo`); see :meth:`tonezoo.zoo.Zoo.suggest`."""
    entries = zoo.list()
    if not entries:
        raise ZooError(f"{zoo.directory}: the zoo is empty; add models first (`tonezoo zoo add`)")
    if top < 1:
        raise ConfigError(f"top must be >= 1, got {top}")
    fp = embed.fingerprint_capture(capture) if fingerprint is None else np.asarray(fingerprint)
    index = zoo.index(weighting=weighting)
    # the zoo's fingerprints as if its probe had been played as loud as this capture's DI
    if at_level and level_db is None:
        level_db = embed.input_level_db(capture.x)
    ref = zoo.fingerprints_at(level_db) if at_level else zoo.fingerprints
    skip = {i for i, e in enumerate(entries) if e.id in set(exclude)}
    if len(skip) >= len(entries):
        raise ZooError("every zoo entry is excluded; nothing left to suggest")
    k = min(len(entries), max(shortlist, top) + len(skip))
    dist, idx = index.kneighbors(fp, n_neighbors=k, candidates=ref)
    keep = [j for j in range(k) if idx[j] not in skip][:max(shortlist, top)]
    dist, idx = dist[keep], idx[keep]
    k = len(idx)
    groups = group_diffs(index.transform(np.asarray(fp)[None])[0], index.transform(ref[idx]))
    cand = [entries[i] for i in idx]
    esr = np.full(k, np.nan)
    matched = np.full(k, np.nan)
    notes: list[list[str]] = [[] for _ in range(k)]
    if shortlist > 0:
        esr, matched, notes = zero_shot_scores([zoo.get(e.id) for e in cand], capture, stage2_seconds)
    # Stage 2 ranks by the level- and polarity-matched ESR: output gain and polarity are learned in
    # the first epochs of fine-tuning, what the network does to the signal is not. The raw
    # zero-shot ESR is reported alongside.
    order = np.arange(k) if shortlist <= 0 else np.lexsort((dist, esr, matched))
    out = []
    for rank, j in enumerate(order[:top], 1):
        e = cand[j]
        reason = f"fingerprint #{j + 1} (distance {dist[j]:.2f}; closest in {groups[j][0]}, " \
                 f"furthest in {groups[j][1]})"
        if shortlist > 0:
            reason += f"; zero-shot ESR {matched[j]:.3g} after level/polarity matching (#{rank} of {k})"
            if matched[j] < 0.5 * esr[j]:
                reason += f", {esr[j]:.3g} as is"
        reason = "; ".join([reason] + notes[j])
        out.append(Suggestion(
            rank=rank, id=e.id, name=e.name, category=e.category, distance=float(dist[j]),
            zero_shot_esr=None if np.isnan(esr[j]) else float(esr[j]),
            score=float(dist[j]) if shortlist <= 0 else float(matched[j]), reason=reason,
            matched_esr=None if np.isnan(matched[j]) else float(matched[j]), fingerprint_rank=int(j + 1),
            sample_rate=e.sample_rate, resampled=e.sample_rate != capture.sample_rate, closest=groups[j][0],
            furthest=groups[j][1], notes=list(notes[j]), level_db=float(level_db) if at_level else None))
    return out


def transfer_curves(zoo: Any, capture: "Capture", suggestions: Sequence[Suggestion], *, seconds: float = 10.0
                    ) -> tuple[np.ndarray, tuple[str, np.ndarray], list[tuple[str, np.ndarray]]]:
    """Mel-band transfer (dB) of the capture and of each suggested model run on the capture's input.

    Returns ``(centres, (label, curve), [(label, curve), ...])`` for
    :func:`tonezoo.plots.plot_transfer_curves`.
    """
    import librosa
    centres = librosa.mel_frequencies(embed.N_MELS + 2, fmin=embed.FMIN,
                                      fmax=min(embed.FMAX, capture.sample_rate / 2))[1:-1]
    spans = embed.select_excerpt(len(capture.x), capture.sample_rate, max_seconds=seconds)
    x = np.concatenate([capture.x[s:e] for s, e in spans])
    y = np.concatenate([capture.y[s:e] for s, e in spans])
    curve, gain = embed.mel_transfer(x, y, capture.sample_rate)
    models = []
    for s in suggestions:
        model = zoo.get(s.id)
        xs, _ = audio_at(capture, model.sample_rate, seconds)
        kv, _ = knobs_for(model, capture)
        y_hat = model.process(xs, None if kv is None else list(kv), check_level=False)
        c, g = embed.mel_transfer(xs, y_hat, model.sample_rate)
        # the figure the ranking sorts by: the level/polarity-matched zero-shot ESR when stage 2 ran
        esr = (f"ESR matched {s.matched_esr:.3g}" if s.matched_esr is not None else
               f"ESR {s.zero_shot_esr:.3g}" if s.zero_shot_esr is not None else "ESR -")
        models.append((f"#{s.rank} {s.id} ({s.category}, {esr})", c + g))
    return centres, (f"capture ({capture.name})", curve + gain), models
