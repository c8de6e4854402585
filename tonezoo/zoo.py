"""The model zoo: a library of pretrained models, ranked against a new capture.

A zoo is a directory::

    index.json          {"format": "tonezoo-zoo", "format_version": 1, "feature_version": 1,
                         "feature_names": [...], "entries": [{"id", "name", "category", "knob_values",
                         "source", "sample_rate", "architecture", "val_esr", "path", "added"}, ...]}
    fingerprints.npy    float32 (n_entries, n_features); row i belongs to entries[i]
    models/<id>/        one tonezoo model directory per entry, loaded only when needed

Both files are written atomically (temporary file + ``os.replace``), fingerprints first; a row
count mismatch or unreadable file raises :class:`~tonezoo.errors.ZooError`.

Choosing a starting model (:meth:`Zoo.suggest`) has two stages:

1. *fingerprint neighbours*: the capture's fingerprint (:mod:`tonezoo.embed`) is standardised with
   the zoo's scaler (scikit-learn ``StandardScaler``), optionally weighted per feature, and the
   ``shortlist`` nearest zoo entries are found with scikit-learn ``NearestNeighbors``;
2. *zero-shot re-rank*: every shortlisted model runs on up to ``stage2_seconds`` of the capture's
   own input (:func:`tonezoo.rank.zero_shot_esr`: all models of one architecture in one compiled
   program, the audio cut into segments processed side by side after a short warm-up) and is
   ranked by its level-matched error-to-signal ratio against the capture's output.

The recipe of the bundled zoo (plan, held-out devices, building) is :mod:`tonezoo.zoo_build`;
running and scoring many models at once is :mod:`tonezoo.rank`.

:meth:`Zoo.transfer` then races the top 3 for two epochs and fine-tunes the winner
(``race=0``: the first suggestion).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from . import embed
from .errors import ConfigError, ModelFileError, ZooError
from .model import Model, ModelConfig
from .modelfile import read_versioned_json
from .rank import _audio_at, _group_diffs, _knobs_for, adapt_model, run_models, zero_shot_esr

if TYPE_CHECKING:  # pragma: no cover
    from .capture import Capture
    from .train import TrainResult

__all__ = ["Zoo", "ZooEntry", "Suggestion", "run_models", "zero_shot_esr", "adapt_model",
           "INDEX_NAME", "FINGERPRINTS_NAME", "ZOO_FORMAT_VERSION"]

INDEX_NAME = "index.json"
FINGERPRINTS_NAME = "fingerprints.npy"
MAX_INDEX_BYTES = 64 << 20          # a zoo of tens of thousands of entries
MODELS_DIR = "models"
ZOO_FORMAT_VERSION = 1
MIN_ZOO_FOR_OWN_SCALER = 8
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


# ---------------------------------------------------------------------------------------------
# entries and suggestions
# ---------------------------------------------------------------------------------------------
@dataclass
class ZooEntry:
    """One model of a zoo (the index row; the weights load lazily with :meth:`Zoo.get`)."""

    id: str
    name: str
    category: str = "unknown"
    knob_values: dict[str, float] = field(default_factory=dict)
    source: str = ""
    sample_rate: int = 44100
    architecture: dict[str, Any] = field(default_factory=dict)
    val_esr: float | None = None
    path: str = ""
    added: str = ""
    description: str = ""
    hub_repo: str = ""

    @property
    def config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.architecture)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> "ZooEntry":
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(d, Mapping) or "id" not in d:
            raise ZooError(f"{where}: every entry must be an object with an \"id\"; got {str(d)[:80]}")
        try:
            entry = cls(**{k: v for k, v in d.items() if k in known})
            entry.config  # validates the architecture
        except (TypeError, ConfigError) as e:
            raise ZooError(f"{where}: entry {d.get('id')!r} is invalid ({e}); rebuild or re-add that model") from None
        return entry


@dataclass
class Suggestion:
    """A ranked starting model for a capture, with both stages' scores and a short reason."""

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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _categories() -> tuple[str, ...]:
    from .devices import CATEGORIES
    return tuple(CATEGORIES) + ("unknown",)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-._")
    return (s or "model")[:48]


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_index(directory: Path, entries: Sequence["ZooEntry"], fps: np.ndarray) -> None:
    """Write fingerprints.npy then index.json, each atomically."""
    d = {
        "format": "tonezoo-zoo",
        "format_version": ZOO_FORMAT_VERSION,
        "feature_version": embed.FEATURE_VERSION,
        "feature_names": embed.feature_names(),
        "entries": [e.to_dict() for e in entries],
    }

    def save_npy(p: Path) -> None:
        with open(p, "wb") as f:
            np.save(f, np.asarray(fps, np.float32), allow_pickle=False)

    _atomic_write(directory / FINGERPRINTS_NAME, save_npy)
    _atomic_write(directory / INDEX_NAME, lambda p: p.write_text(json.dumps(d, indent=1, sort_keys=True) + "\n"))


# ---------------------------------------------------------------------------------------------
# the zoo
# ---------------------------------------------------------------------------------------------
class Zoo:
    """A directory of models with an index of their fingerprints.

    Use :meth:`Zoo.default` (the bundled zoo, read-only) or :meth:`Zoo.open`.

    Examples
    --------
    >>> zoo = Zoo.default()                                  # doctest: +SKIP
    >>> [s.id for s in zoo.suggest(capture, top=3)]          # doctest: +SKIP
    """

    def __init__(self, directory: str | os.PathLike, *, read_only: bool = False):
        self.directory = Path(directory)
        self.read_only = read_only
        self._entries: list[ZooEntry] = []
        self._fps = np.zeros((0, len(embed.feature_names())), np.float32)
        self._models: dict[str, Model] = {}
        self._index_cache: tuple | None = None
        self._load()

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def default(cls) -> "Zoo":
        """The zoo bundled with tonezoo (read-only; copy it with :meth:`copy` to change it)."""
        from importlib.resources import files
        return cls(Path(str(files("tonezoo.zoo_index"))), read_only=True)

    @classmethod
    def open(cls, directory: str | os.PathLike, *, create: bool = False) -> "Zoo":
        """Open the zoo in ``directory``; with ``create=True`` an empty zoo is made if none is there."""
        directory = Path(directory)
        if not (directory / INDEX_NAME).is_file():
            if not create:
                raise ZooError(f"{directory}: no zoo here (no {INDEX_NAME}); create one with "
                               f"`tonezoo zoo add MODEL --zoo {directory}` or Zoo.open(dir, create=True)")
            if directory.exists() and not directory.is_dir():
                raise ZooError(f"{directory}: exists and is not a directory")
            directory.mkdir(parents=True, exist_ok=True)
            _write_index(directory, [], np.zeros((0, len(embed.feature_names())), np.float32))
        return cls(directory)

    @classmethod
    def from_hub(cls, directory: str | os.PathLike, *args: Any, **kwargs: Any) -> "Zoo":
        """Create/open a zoo in ``directory`` and pull models from the Hub into it (:meth:`pull`)."""
        zoo = cls.open(directory, create=True)
        zoo.pull(*args, **kwargs)
        return zoo

    def pull(self, *args: Any, **kwargs: Any) -> Any:
        """Add models from the Hugging Face Hub (see :func:`tonezoo.hub.pull_into_zoo`)."""
        self._check_writable()
        from .hub import pull_into_zoo
        return pull_into_zoo(self, *args, **kwargs)

    def copy(self, directory: str | os.PathLike) -> "Zoo":
        """Copy this zoo (index, fingerprints, models) into a new writable ``directory``."""
        directory = Path(directory)
        if (directory / INDEX_NAME).exists():
            raise ZooError(f"{directory}: a zoo is already there; open it with Zoo.open")
        directory.mkdir(parents=True, exist_ok=True)
        for e in self._entries:
            shutil.copytree(self.directory / e.path, directory / e.path, dirs_exist_ok=True)
        shutil.copy2(self.directory / FINGERPRINTS_NAME, directory / FINGERPRINTS_NAME)
        shutil.copy2(self.directory / INDEX_NAME, directory / INDEX_NAME)
        return Zoo(directory)

    # -- index I/O -------------------------------------------------------------------------
    def _load(self) -> None:
        ipath, fpath = self.directory / INDEX_NAME, self.directory / FINGERPRINTS_NAME
        if not ipath.is_file():
            hint = (" (the bundled zoo is missing: reinstall tonezoo or build it with "
                    "`tonezoo zoo build --from-devices DIR`)") if self.read_only else ""
            raise ZooError(f"{self.directory}: no zoo index ({INDEX_NAME}){hint}")
        d = read_versioned_json(ipath, fmt="tonezoo-zoo", version=ZOO_FORMAT_VERSION, error=ZooError,
                                what="zoo index", remedy="restore it or rebuild the zoo",
                                max_bytes=MAX_INDEX_BYTES)
        entries = d.get("entries")
        if not isinstance(entries, list):
            raise ZooError(f"{ipath}: \"entries\" must be a list")
        self._entries = [ZooEntry.from_dict(e, str(ipath)) for e in entries]
        ids = [e.id for e in self._entries]
        if len(set(ids)) != len(ids):
            raise ZooError(f"{ipath}: duplicate entry ids; the index is corrupt")
        try:
            fps = np.load(fpath, allow_pickle=False) if fpath.exists() else None
        except (OSError, ValueError) as e:
            raise ZooError(f"{fpath}: unreadable fingerprints ({e}); run `tonezoo zoo refresh --zoo "
                           f"{self.directory}`") from None
        nf = len(embed.feature_names())
        if fps is None and not self._entries:
            fps = np.zeros((0, nf), np.float32)
        if fps is None or fps.ndim != 2 or fps.shape[0] != len(self._entries):
            found = "missing" if fps is None else f"shape {fps.shape}"
            raise ZooError(f"{fpath}: {found} does not match the {len(self._entries)} index entries; the zoo is "
                           f"inconsistent: run `tonezoo zoo refresh --zoo {self.directory}`")
        self._stale = d.get("feature_version") != embed.FEATURE_VERSION or fps.shape[1] != nf
        self._fps = fps.astype(np.float32) if not self._stale else np.zeros((len(self._entries), nf), np.float32)
        self._index_cache = None

    def _write(self) -> None:
        self._check_writable()
        _write_index(self.directory, self._entries, self._fps)
        self._stale = False
        self._index_cache = None

    def _check_writable(self) -> None:
        if self.read_only:
            raise ZooError("the bundled default zoo is read-only; copy it first with "
                           "Zoo.default().copy(DIR) (or `tonezoo zoo init DIR --copy-default`) "
                           "and add to that, or open another zoo with Zoo.open(DIR, create=True)")

    # -- contents --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, model_id: str) -> bool:
        return any(e.id == model_id for e in self._entries)

    def __repr__(self) -> str:
        return f"Zoo({str(self.directory)!r}, {len(self)} models{', read-only' if self.read_only else ''})"

    def list(self, *, category: str | None = None) -> list[ZooEntry]:
        """Entries, optionally of one category."""
        return [e for e in self._entries if category is None or e.category == category]

    def entry(self, model_id: str) -> ZooEntry:
        for e in self._entries:
            if e.id == model_id:
                return e
        raise ZooError(f"no model {model_id!r} in {self.directory}; `tonezoo zoo list` shows the ids")

    def get(self, model_id: str) -> Model:
        """The model ``model_id`` (loaded from disk on first use, then cached)."""
        if model_id not in self._models:
            e = self.entry(model_id)
            try:
                self._models[model_id] = Model.load(self.directory / e.path)
            except ModelFileError as err:
                raise ZooError(f"zoo entry {model_id!r}: {err}") from None
        return self._models[model_id]

    @property
    def fingerprints(self) -> np.ndarray:
        """All fingerprints, [shape=(len(zoo), n_features)] (row i = ``list()[i]``)."""
        self._check_fresh()
        return self._fps

    def _check_fresh(self) -> None:
        if self._stale and self._entries:
            raise ZooError(f"{self.directory}: the fingerprints were computed by another tonezoo version; "
                           f"run `tonezoo zoo refresh --zoo {self.directory}` (Zoo.refresh())")

    # -- changing ----------------------------------------------------------------------------
    def add(self, model_or_path: Model | str | os.PathLike, *, id: str | None = None, name: str | None = None,
            category: str | None = None, knob_values: Mapping[str, float] | None = None,
            source: str | None = None, fingerprint: np.ndarray | None = None, sample_rate: int | None = None) -> ZooEntry:
        """Add a model (a :class:`Model`, a model directory or any file :func:`tonezoo.import_model` reads).

        The model is copied into ``models/<id>/`` and fingerprinted on the standard probe (unless
        ``fingerprint`` is given). Returns the new entry.
        """
        return self.add_many([model_or_path], ids=[id], names=[name], categories=[category],
                             knob_values=[knob_values], sources=[source],
                             fingerprints=None if fingerprint is None else np.asarray(fingerprint)[None],
                             sample_rate=sample_rate)[0]

    def add_many(self, models: Sequence[Model | str | os.PathLike], *, ids: Sequence[str | None] | None = None,
                 names: Sequence[str | None] | None = None, categories: Sequence[str | None] | None = None,
                 knob_values: Sequence[Mapping[str, float] | None] | None = None,
                 sources: Sequence[str | None] | None = None, fingerprints: np.ndarray | None = None,
                 sample_rate: int | None = None) -> list[ZooEntry]:
        """Add several models at once (fingerprinted together, one index write)."""
        self._check_writable()
        self._check_fresh()
        n = len(models)
        ids, names = list(ids or [None] * n), list(names or [None] * n)
        categories, sources = list(categories or [None] * n), list(sources or [None] * n)
        knob_values = list(knob_values or [None] * n)
        loaded: list[Model] = []
        origin: list[str] = []
        for m, src in zip(models, sources):
            if isinstance(m, Model):
                loaded.append(m)
                origin.append(src or m.metadata.get("source_format", "") or "tonezoo")
            else:
                loaded.append(_load_any(Path(m), sample_rate))
                origin.append(src or str(m))
        taken = {e.id for e in self._entries}
        entries = []
        allowed = _categories()
        for i, m in enumerate(loaded):
            label = names[i] or m.name
            mid = ids[i] or _slug(label)
            if ids[i] is not None and not _ID_RE.match(mid):
                raise ZooError(f"model id {mid!r} is invalid: use lowercase letters, digits, '.', '_' and '-'")
            if ids[i] is not None and mid in taken:
                raise ZooError(f"{self.directory}: id {mid!r} already exists; remove it first or choose another id")
            base, k = mid, 2
            while mid in taken:
                mid, k = f"{base}-{k}", k + 1
            taken.add(mid)
            cat = categories[i] or m.metadata.get("category") or "unknown"
            if categories[i] is None and cat not in allowed:
                cat = "unknown"          # a free-form category in third-party metadata
            if cat not in allowed:
                raise ZooError(f"category {cat!r} of model {label!r} is not one of {list(allowed)}")
            kv = dict(knob_values[i] or m.metadata.get("knob_values") or {})
            md = dict(m.metadata, name=label, category=cat)
            if kv:
                md["knob_values"] = kv
            loaded[i] = Model(m.config, m.params, md)
            val = m.metadata.get("val_esr")
            entries.append(ZooEntry(
                id=mid, name=label, category=cat, knob_values={k: float(v) for k, v in kv.items()},
                source=origin[i], sample_rate=m.sample_rate, architecture=m.config.to_dict(),
                val_esr=float(val) if isinstance(val, (int, float)) else None, path=f"{MODELS_DIR}/{mid}",
                added=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                description=str(m.metadata.get("description", ""))[:200],
                hub_repo=str(m.metadata.get("hub_repo", "") or "")))
        fps = np.asarray(fingerprints, np.float32) if fingerprints is not None else _fingerprint_all(loaded)
        if fps.shape != (n, len(embed.feature_names())):
            raise ZooError(f"fingerprints must have shape ({n}, {len(embed.feature_names())}), got {fps.shape}")
        for e, m in zip(entries, loaded):
            m.save(self.directory / e.path, card=False)
        self._entries.extend(entries)
        self._fps = np.concatenate([self._fps, fps]) if len(self._fps) else fps
        self._write()
        return entries

    def remove(self, model_id: str) -> ZooEntry:
        """Remove an entry and its model directory."""
        self._check_writable()
        e = self.entry(model_id)
        i = self._entries.index(e)
        self._entries.pop(i)
        self._fps = np.delete(self._fps, i, axis=0)
        self._models.pop(model_id, None)
        self._write()
        shutil.rmtree(self.directory / e.path, ignore_errors=True)
        return e

    def refresh(self) -> None:
        """Recompute every fingerprint with this tonezoo version (after an upgrade)."""
        self._check_writable()
        self._fps = _fingerprint_all([self.get(e.id) for e in self._entries])
        self._write()

    # -- ranking ---------------------------------------------------------------------------
    def _index(self, weighting: bool):
        """(scaler, weights, NearestNeighbors) fitted on this zoo's fingerprints (cached)."""
        if self._index_cache is not None and self._index_cache[0] == weighting:
            return self._index_cache[1:]
        from sklearn.neighbors import NearestNeighbors
        fps = self.fingerprints
        ref = fps
        if len(fps) < MIN_ZOO_FOR_OWN_SCALER and not self.read_only:
            try:  # a small zoo borrows the bundled zoo's spread of features
                ref = np.concatenate([fps, Zoo.default().fingerprints])
            except ZooError:
                pass
        scaler = embed.fit_scaler(ref)
        z = scaler.transform(fps)
        weights = embed.feature_weights(z, [e.category for e in self._entries]) if weighting \
            else np.ones(fps.shape[1])
        nn = NearestNeighbors().fit(z * weights)
        self._index_cache = (weighting, scaler, weights, nn)
        return scaler, weights, nn

    def distances(self, fp: np.ndarray, *, weighting: bool = True) -> np.ndarray:
        """Distance of fingerprint ``fp`` to every entry, in standardised (weighted) feature space."""
        scaler, weights, _ = self._index(weighting)
        z = scaler.transform(np.asarray(fp, np.float64)[None]) * weights
        return np.linalg.norm(scaler.transform(self.fingerprints) * weights - z, axis=1)

    def suggest(self, capture: "Capture", top: int = 5, *, shortlist: int = 16, stage2_seconds: float = 10.0,
                weighting: bool = True, fingerprint: np.ndarray | None = None,
                exclude: Sequence[str] = ()) -> list[Suggestion]:
        """Rank this zoo's models as starting points for ``capture``.

        Parameters
        ----------
        capture : Capture
        top : int
            Suggestions returned (best first).
        shortlist : int
            Stage 1 keeps this many nearest fingerprints; stage 2 re-ranks them by zero-shot ESR.
            ``shortlist=0`` skips stage 2 (fingerprint distance only).
        stage2_seconds : float
            Audio of the capture each shortlisted model is scored on.
        weighting : bool
            Weight features by how well they separate the zoo's categories (:func:`embed.feature_weights`).
        fingerprint : np.ndarray, optional
            The capture's fingerprint if already computed.
        exclude : sequence of str
            Entry ids never suggested (e.g. leave-one-out evaluation).

        Returns
        -------
        list of Suggestion, best first (``score`` = level/polarity-matched zero-shot ESR when stage 2
        ran, else the fingerprint distance).
        """
        if not self._entries:
            raise ZooError(f"{self.directory}: the zoo is empty; add models first (`tonezoo zoo add`)")
        if top < 1:
            raise ConfigError(f"top must be >= 1, got {top}")
        fp = embed.fingerprint_capture(capture) if fingerprint is None else np.asarray(fingerprint)
        scaler, weights, nn = self._index(weighting)
        z = scaler.transform(np.asarray(fp, np.float64)[None]) * weights
        skip = {i for i, e in enumerate(self._entries) if e.id in set(exclude)}
        if len(skip) >= len(self._entries):
            raise ZooError("every zoo entry is excluded; nothing left to suggest")
        k = min(len(self._entries), max(shortlist, top) + len(skip))
        dist, idx = nn.kneighbors(z, n_neighbors=k)
        keep = [j for j in range(k) if idx[0, j] not in skip][:max(shortlist, top)]
        dist, idx = dist[0, keep], idx[0, keep]
        k = len(idx)
        groups = _group_diffs(z[0], scaler.transform(self._fps[idx]) * weights)
        cand = [self._entries[i] for i in idx]
        esr = np.full(k, np.nan)
        matched = np.full(k, np.nan)
        notes: list[list[str]] = [[] for _ in range(k)]
        if shortlist > 0:
            esr, matched, notes = self._stage2(capture, cand, stage2_seconds)
        # Stage 2 ranks by the level- and polarity-matched ESR: output gain and polarity are learned in
        # the first epochs of fine-tuning, what the network does to the signal is not. The raw
        # zero-shot ESR is reported alongside.
        order = np.arange(k) if shortlist <= 0 else np.lexsort((dist, esr, matched))
        out = []
        for rank, j in enumerate(order[:top], 1):
            e = cand[j]
            ranked = f"fingerprint #{j + 1} (distance {dist[j]:.2f}; closest in {groups[j][0]}, " \
                     f"furthest in {groups[j][1]})"
            reason = ranked
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
                sample_rate=e.sample_rate, resampled=e.sample_rate != capture.sample_rate))
        return out

    def _stage2(self, capture: "Capture", cand: Sequence[ZooEntry], seconds: float):
        """Zero-shot ESR of each candidate on the capture (grouped by architecture)."""
        k = len(cand)
        esr, matched = np.full(k, np.inf), np.full(k, np.inf)
        notes: list[list[str]] = [[] for _ in range(k)]
        groups: dict[ModelConfig, list[int]] = {}
        for j, e in enumerate(cand):
            groups.setdefault(e.config, []).append(j)
        audio: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for cfg, js in groups.items():
            rate = cfg.sample_rate
            if rate not in audio:
                audio[rate] = _audio_at(capture, rate, seconds)
            x, y = audio[rate]
            models, knobs = [], []
            for j in js:
                m = self.get(cand[j].id)
                kv, note = _knobs_for(m, capture)
                models.append(m)
                knobs.append(kv)
                if note:
                    notes[j].append(note)
                if rate != capture.sample_rate:
                    notes[j].append(f"model runs at {rate} Hz: capture resampled from {capture.sample_rate} Hz")
            e, g = zero_shot_esr(models, x, y, knobs=knobs, sample_rate=rate, seconds=seconds)
            esr[js], matched[js] = e, g
        return esr, matched, notes

    # -- transfer --------------------------------------------------------------------------
    def transfer(self, capture: "Capture", *, race: int = 3, race_epochs: int = 2, top: int = 5,
                 shortlist: int = 16, progress: bool = True, suggestions: Sequence[Suggestion] | None = None,
                 **train_overrides: Any) -> "TrainResult":
        """Suggest a starting model for ``capture`` and fine-tune from it.

        By default the top 3 suggestions *race*: they are fine-tuned together (one vmapped run per
        architecture, validated every epoch) for ``race_epochs`` epochs, and the one with the best
        validation ESR so far continues. The zero-shot ranking alone is a weak predictor of how well
        a model fine-tunes (see ``docs/zoo.md``); a short race on the user's own audio is a much
        better one and costs ``race`` x ``race_epochs`` model-epochs. The race counts towards the
        epoch budget: the winner carries on from where the race left it (weights, optimizer and
        learning-rate state) up to ``max_epochs`` in all, so the result is the winner's whole run.

        Parameters
        ----------
        capture : Capture
        race : int
            Contenders in the race (the top ``race`` suggestions); 0 or 1 fine-tunes the first
            suggestion directly.
        race_epochs : int
            Epochs of the race.
        top, shortlist : see :meth:`suggest`
        progress : bool
        suggestions : sequence of Suggestion, optional
            A ranking from :meth:`suggest` to reuse (else computed here).
        **train_overrides
            Passed to :func:`tonezoo.train.train` (``max_epochs=...``, ``patience=...``, ``config=...``).

        Returns
        -------
        TrainResult; ``result.model.metadata`` records ``base_model`` (the zoo id started from),
        ``suggestions`` (the ranking table) and, after a race, ``race`` (each contender's ESR).
        """
        from .train import TrainConfig, train, train_many
        if isinstance(race, bool) or not isinstance(race, int) or race < 0:
            raise ConfigError(f"race must be an integer >= 0, got {race!r}")
        if isinstance(race_epochs, bool) or not isinstance(race_epochs, int) or race_epochs < 1:
            raise ConfigError(f"race_epochs must be an integer >= 1, got {race_epochs!r}")
        overrides = dict(train_overrides)
        tcfg = overrides.pop("config", None) or TrainConfig()
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        tcfg = tcfg.replace(**{k: overrides.pop(k) for k in list(overrides) if k in fields})
        sugg = list(suggestions) if suggestions is not None else \
            self.suggest(capture, top=max(top, race), shortlist=max(shortlist, race))
        if not sugg:
            raise ZooError("no suggestion to start from")
        chosen = sugg[0]
        race_rows: list[dict[str, Any]] = []
        contenders = sugg[:race] if race >= 2 and tcfg.max_epochs > race_epochs else []
        if len(contenders) >= 2:
            inits = {s.id: self.start_model(s.id, capture) for s in contenders}
            by_cfg: dict[ModelConfig, list[str]] = {}
            for sid, m in inits.items():
                by_cfg.setdefault(m.config, []).append(sid)
            race_cfg = tcfg.replace(max_epochs=race_epochs, val_every=1, patience=race_epochs + 1)
            for ids in by_cfg.values():
                results = train_many(capture, [inits[i] for i in ids], config=race_cfg, progress=progress,
                                     **{k: v for k, v in overrides.items() if k == "epoch_callback"})
                race_rows += [{"id": i, "val_esr": float(r.best_val_esr), "result": r}
                              for i, r in zip(ids, results)]
            best = min(race_rows, key=lambda r: r["val_esr"])
            chosen = next(s for s in sugg if s.id == best["id"])
            # the winner carries on from where the race left it (weights, optimizer, schedule)
            result = train(capture, continue_from=best["result"], config=tcfg, progress=progress, **overrides)
        else:
            result = train(capture, init=self.start_model(chosen.id, capture), config=tcfg, progress=progress,
                           **overrides)
        md = result.model.metadata
        md["base_model"] = chosen.id
        md["base_model_name"] = chosen.name
        md["suggestions"] = [{k: s.to_dict()[k] for k in ("rank", "id", "name", "category", "distance",
                                                           "zero_shot_esr", "reason")} for s in sugg]
        if race_rows:
            md["race"] = [{"id": r["id"], "val_esr": r["val_esr"], "epochs": race_epochs} for r in race_rows]
        result.source = chosen.id
        return result

    def start_model(self, model_id: str, capture: "Capture") -> Model:
        """Zoo model ``model_id`` adapted to the capture's knobs and sample rate (see :func:`adapt_model`)."""
        m = self.get(model_id)
        knobs = tuple(sorted((capture.knobs or {}).keys())) if capture.knobs else ()
        if set(knobs) == set(m.config.knobs):
            knobs = m.config.knobs
        out = adapt_model(m, knobs=knobs, sample_rate=capture.sample_rate)
        out.metadata["name"] = m.name
        return out


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _load_any(path: Path, sample_rate: int | None) -> Model:
    if not path.exists():
        raise ZooError(f"{path}: no such model file or directory")
    if path.is_dir() and (path / "config.json").is_file():
        return Model.load(path)
    from .formats import import_model
    return import_model(path, sample_rate=sample_rate)


def _fingerprint_all(models: Sequence[Model]) -> np.ndarray:
    if not models:
        return np.zeros((0, len(embed.feature_names())), np.float32)
    out = np.zeros((len(models), len(embed.feature_names())), np.float32)
    groups: dict[ModelConfig, list[int]] = {}
    for i, m in enumerate(models):
        groups.setdefault(m.config, []).append(i)
    for idx in groups.values():
        out[idx] = embed.fingerprint_models([models[i] for i in idx])
    return out


def entries_table(entries: Iterable[ZooEntry]) -> list[dict[str, Any]]:
    """Plain rows for printing a zoo listing."""
    return [{"id": e.id, "name": e.name, "category": e.category,
             "knobs": ", ".join(f"{k}={v:g}" for k, v in e.knob_values.items()),
             "rate": e.sample_rate, "arch": e.config.describe(),
             "val_esr": e.val_esr} for e in entries]


def __getattr__(name: str) -> Any:
    """The zoo-building recipe moved to :mod:`tonezoo.zoo_build`; these names still resolve here."""
    if name in ("ZOO_PLAN", "HELD_OUT", "build_from_devices", "refine"):
        from . import zoo_build
        return getattr(zoo_build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
