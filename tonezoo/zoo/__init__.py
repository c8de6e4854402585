"""The model zoo: a library of pretrained models, ranked against a new capture.

A zoo is a directory::

    index.json          {"format": "tonezoo-zoo", "format_version": 1, "feature_version": 2,
                         "feature_names": [...], "probe_gains_db": [-24, -16, -8, 0, 8],
                         "entries": [{"id", "name", "category", "knob_values",
                         "source", "sample_rate", "architecture", "val_esr", "path", "added"}, ...]}
    fingerprints.npy    float32 (n_entries, n_gains, n_features); row i belongs to entries[i], its
                        fingerprints on the standard probe at each of ``probe_gains_db``
    models/<id>/        one tonezoo model directory per entry, loaded only when needed

Both files are written atomically (temporary file + ``os.replace``), fingerprints first; a row
count mismatch or unreadable file raises :class:`~tonezoo.errors.ZooError`.

Choosing a starting model (:meth:`Zoo.suggest`) has two stages:

1. *fingerprint neighbours*: the capture's fingerprint (:mod:`tonezoo.embed`) is compared with the
   zoo's fingerprints at the capture's DI level (interpolated between the stored probe gains). It is
   standardised with
   the zoo's scaler (scikit-learn ``StandardScaler``), optionally weighted per feature, and the
   ``shortlist`` nearest zoo entries are found with scikit-learn ``NearestNeighbors``;
2. *zero-shot re-rank*: every shortlisted model runs on up to ``stage2_seconds`` of the capture's
   own input (:func:`tonezoo.batched.zero_shot_esr`: all models of one architecture in one compiled
   program, the audio cut into segments processed side by side after a short warm-up) and is
   ranked by its level-matched error-to-signal ratio against the capture's output.

The package, one way (each module imports only those above it):

* ``tonezoo/zoo/__init__.py`` (here): :class:`Zoo`, the store: entries, the index files, adding,
  removing, refreshing fingerprints; its ranking and transfer methods call the modules below;
* :mod:`tonezoo.zoo.select`: :class:`~tonezoo.zoo.select.Suggestion`, the fitted fingerprint
  index (stage 1) and the zero-shot scores (stage 2);
* :mod:`tonezoo.zoo.transfer`: the race between the top suggestions, the start model;
* :mod:`tonezoo.zoo.build`: the recipe of the bundled zoo (plan, held-out devices, building);
* :mod:`tonezoo.zoo.hub`: filling a zoo from the Hugging Face Hub.

:meth:`Zoo.transfer` races the top 5 for a quarter of the budget (at most 8 epochs) and fine-tunes the
winner (``race=0``: the first suggestion).

A zoo of fewer than :data:`MIN_ZOO_FOR_OWN_SCALER` models standardises its features with the
bundled zoo's fingerprints added to its own (its own spread is too noisy to scale by); the index
reports it (``Zoo.index().n_reference_``); ``Zoo.index(reference="own")`` fits
on the zoo's own fingerprints only.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .. import embed
from .._progress import count_text
from ..errors import ConfigError, ModelFileError, ZooError
from ..model import Model, ModelConfig
from ..modelfile import atomic_write, read_versioned_json
from .select import FingerprintIndex, Suggestion
from .select import suggest as _suggest

if TYPE_CHECKING:  # pragma: no cover
    from ..capture import Capture
    from ..train import TrainResult

__all__ = ["Zoo", "ZooEntry", "Suggestion", "FingerprintIndex", "entries_table",
           "INDEX_NAME", "FINGERPRINTS_NAME", "ZOO_FORMAT_VERSION", "MIN_ZOO_FOR_OWN_SCALER"]

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
    category_confidence: float | None = None   # set when the category was inferred by the device-kind classifier
    probe_level_db: float | None = None        # the standard probe's level at sample_rate (embed.probe_level_db)

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


def _infer_category(model: Model) -> Any:
    """The device-kind classifier's guess for a model without a category (None when no classifier is bundled)."""
    from ..classify import classify_model
    try:
        return classify_model(model)
    except ModelFileError:
        return None


def _categories() -> tuple[str, ...]:
    from ..devices import CATEGORIES
    return tuple(CATEGORIES) + ("unknown",)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-._")
    return (s or "model")[:48]


def _write_index(directory: Path, entries: Sequence["ZooEntry"], fps: np.ndarray) -> None:
    """Write fingerprints.npy [shape=(n, len(PROBE_GAINS_DB), F)] then index.json, each atomically."""
    d = {
        "format": "tonezoo-zoo",
        "format_version": ZOO_FORMAT_VERSION,
        "feature_version": embed.FEATURE_VERSION,
        "feature_names": embed.feature_names(),
        "probe_gains_db": list(embed.PROBE_GAINS_DB),
        "entries": [e.to_dict() for e in entries],
    }

    def save_npy(p: Path) -> None:
        with open(p, "wb") as f:
            np.save(f, np.asarray(fps, np.float32), allow_pickle=False)

    atomic_write(directory / FINGERPRINTS_NAME, save_npy)
    atomic_write(directory / INDEX_NAME, lambda p: p.write_text(json.dumps(d, indent=1, sort_keys=True) + "\n"))


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
        self._fps = _no_fingerprints()
        self._probe_levels: dict[int, float] = {}
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
                what = ("no such folder" if not directory.exists() else
                        "is a file, not a zoo folder" if not directory.is_dir() else f"not a zoo (no {INDEX_NAME})")
                raise ZooError(f"{directory}: {what}; give a zoo folder, or make one with `tonezoo zoo init DIR`")
            if directory.exists() and not directory.is_dir():
                raise ZooError(f"{directory}: exists and is not a directory")
            directory.mkdir(parents=True, exist_ok=True)
            _write_index(directory, [], _no_fingerprints())
        return cls(directory)

    @classmethod
    def from_hub(cls, directory: str | os.PathLike, *args: Any, **kwargs: Any) -> "Zoo":
        """Create/open a zoo in ``directory`` and pull models from the Hub into it (:meth:`pull`)."""
        zoo = cls.open(directory, create=True)
        zoo.pull(*args, **kwargs)
        return zoo

    def pull(self, *args: Any, **kwargs: Any) -> Any:
        """Add models from the Hugging Face Hub (see :func:`tonezoo.zoo.hub.pull_into_zoo`)."""
        self._check_writable()
        from .hub import pull_into_zoo
        return pull_into_zoo(self, *args, **kwargs)

    def copy(self, directory: str | os.PathLike) -> "Zoo":
        """Copy this zoo (index, fingerprints, models) into a new writable ``directory``."""
        directory = Path(directory)
        if (directory / INDEX_NAME).exists():
            raise ZooError(f"{directory}: a zoo is already there; open it with Zoo.open")
        directory.mkdir(parents=True, exist_ok=True)
        # shutil.copyfile, not copy2: the copies get the user's usual permissions, not the source's
        for e in self._entries:
            shutil.copytree(self.directory / e.path, directory / e.path, dirs_exist_ok=True,
                            copy_function=shutil.copyfile)
        shutil.copyfile(self.directory / FINGERPRINTS_NAME, directory / FINGERPRINTS_NAME)
        shutil.copyfile(self.directory / INDEX_NAME, directory / INDEX_NAME)
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
        nf, ng = len(embed.feature_names()), len(embed.PROBE_GAINS_DB)
        if fps is None and not self._entries:
            fps = _no_fingerprints()
        if fps is not None and fps.ndim == 2:      # written before fingerprints had levels
            fps = fps[:, None, :]
        if fps is None or fps.ndim != 3 or fps.shape[0] != len(self._entries):
            found = "missing" if fps is None else f"shape {fps.shape}"
            raise ZooError(f"{fpath}: {found} does not match the {len(self._entries)} index entries; the zoo is "
                           f"inconsistent: run `tonezoo zoo refresh --zoo {self.directory}`")
        self._stale = (d.get("feature_version") != embed.FEATURE_VERSION or fps.shape[1:] != (ng, nf)
                       or d.get("probe_gains_db") != list(embed.PROBE_GAINS_DB))
        self._fps = fps.astype(np.float32) if not self._stale else np.zeros((len(self._entries), ng, nf), np.float32)
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
        return f"Zoo({str(self.directory)!r}, {count_text(len(self), 'model')}{', read-only' if self.read_only else ''})"

    def list(self, *, category: str | None = None) -> list[ZooEntry]:
        """Entries, optionally of one category."""
        return [e for e in self._entries if category is None or e.category == category]

    def entry(self, model_id: str) -> ZooEntry:
        for e in self._entries:
            if e.id == model_id:
                return e
        listing = "tonezoo zoo list" if self.read_only else f"tonezoo zoo list --zoo {self.directory}"
        raise ZooError(f"no model {model_id!r} in {self.directory}; `{listing}` shows the ids")

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
        """All fingerprints on the standard probe, [shape=(len(zoo), n_features)] (row i = ``list()[i]``)."""
        self._check_fresh()
        return self._fps[:, embed.PROBE_GAINS_DB.index(0.0)]

    @property
    def level_fingerprints(self) -> np.ndarray:
        """All fingerprints at every probe gain, [shape=(len(zoo), len(embed.PROBE_GAINS_DB), n_features)]."""
        self._check_fresh()
        return self._fps

    def fingerprints_at(self, level_db: float) -> np.ndarray:
        """Fingerprints as if the probe had been played at a DI level of ``level_db`` dBFS.

        Each entry's fingerprints are interpolated between the stored probe gains
        (:func:`tonezoo.embed.interpolate_levels`), the gain being ``level_db`` minus the probe's
        own level at the entry's sample rate (:func:`tonezoo.embed.probe_level_db`).

        Returns
        -------
        fps : np.ndarray [shape=(len(zoo), n_features)]
        """
        fps = self.level_fingerprints
        offset = np.array([float(level_db) - self._probe_level(e) for e in self._entries])
        return embed.interpolate_levels(fps, embed.PROBE_GAINS_DB, offset)

    def _check_fresh(self) -> None:
        if self._stale and self._entries:
            raise ZooError(f"{self.directory}: the fingerprints were computed by another tonezoo version; "
                           f"run `tonezoo zoo refresh --zoo {self.directory}` (Zoo.refresh())")

    def _probe_level(self, e: ZooEntry) -> float:
        """The probe's level for entry ``e``: recorded when it was fingerprinted, else that of its rate."""
        return float(e.probe_level_db) if e.probe_level_db is not None else self._rate_probe_level(e.sample_rate)

    def _rate_probe_level(self, rate: int) -> float:
        """:func:`tonezoo.embed.probe_level_db` at ``rate``, rendered once per rate and zoo object."""
        if rate not in self._probe_levels:
            self._probe_levels[rate] = embed.probe_level_db(rate)
        return self._probe_levels[rate]

    # -- changing ----------------------------------------------------------------------------
    def add(self, model_or_path: Model | str | os.PathLike, *, id: str | None = None, name: str | None = None,
            category: str | None = None, knob_values: Mapping[str, float] | None = None,
            source: str | None = None, fingerprint: np.ndarray | None = None, sample_rate: int | None = None) -> ZooEntry:
        """Add a model (a :class:`Model`, a model directory or any file :func:`tonezoo.import_model` reads).

        The model is copied into ``models/<id>/`` and fingerprinted on the standard probe at each of
        :data:`tonezoo.embed.PROBE_GAINS_DB` (unless ``fingerprint`` is given: shape (n_features,),
        used at every level, or (len(PROBE_GAINS_DB), n_features)). Returns the new entry.
        """
        return self.add_many([model_or_path], ids=[id], names=[name], categories=[category],
                             knob_values=[knob_values], sources=[source],
                             fingerprints=None if fingerprint is None else np.asarray(fingerprint)[None],
                             sample_rate=sample_rate)[0]

    def add_many(self, models: Sequence[Model | str | os.PathLike], *, ids: Sequence[str | None] | None = None,
                 names: Sequence[str | None] | None = None, categories: Sequence[str | None] | None = None,
                 knob_values: Sequence[Mapping[str, float] | None] | None = None,
                 sources: Sequence[str | None] | None = None, fingerprints: np.ndarray | None = None,
                 sample_rate: int | None = None, progress: bool = False) -> list[ZooEntry]:
        """Add several models at once (fingerprinted together, one index write; ``progress``: show it).

        An entry's id, unless given, is made from the file's or folder's name (``amps/Plexi 50W.nam``
        -> ``plexi-50w``) for a path, from the model's name for a :class:`Model`; a taken id gets a
        ``-2``, ``-3``, ... suffix. Its display name is the model's own (file metadata), else the
        file's name.

        A given id that is invalid or taken is refused before any model is read, and a model whose
        weights equal those of the entry under its default id (or of the entry added from the same
        file) before any fingerprint is computed; other copies of a model already in the zoo are
        refused once fingerprinted (an identical fingerprint). Nothing is written in these cases.
        """
        self._check_writable()
        self._check_fresh()
        n = len(models)
        ids, names = list(ids or [None] * n), list(names or [None] * n)
        categories, sources = list(categories or [None] * n), list(sources or [None] * n)
        knob_values = list(knob_values or [None] * n)
        self._check_new_ids(ids)
        loaded: list[Model] = []
        origin: list[str] = []
        stems: list[str | None] = []          # a file's or folder's own name: the default id of what it holds
        for m, src in zip(models, sources):
            if isinstance(m, Model):
                loaded.append(m)
                origin.append(src or m.metadata.get("source_format", "") or "tonezoo")
                stems.append(None)
            else:
                p = Path(m)
                loaded.append(_load_any(p, sample_rate))
                origin.append(src or str(m))
                stems.append(p.resolve().name if p.is_dir() else p.stem)
        for i, m in enumerate(loaded):        # added before: found from its weights, without fingerprinting
            default_id = None if ids[i] is not None else _slug(stems[i] or names[i] or m.name)
            kv = knob_values[i] or m.metadata.get("knob_values") or {}
            # a Model object's default origin ("tonezoo", its format) names no file: not compared on
            source = origin[i] if stems[i] is not None or sources[i] else None
            twin = self._same_weights(m, kv, default_id=default_id, source=source)
            if twin is not None:
                raise ZooError(f"{origin[i]}: the same model as {twin!r}, already in {self.directory} (identical "
                               "weights); nothing was added: leave it out")
        taken = {e.id for e in self._entries}
        entries = []
        allowed = _categories()
        for i, m in enumerate(loaded):
            label = names[i] or m.name
            mid = ids[i] or _slug(stems[i] or label)
            if ids[i] is not None and mid in taken:      # the id an earlier model of this call was given
                raise ZooError(f"{self.directory}: id {mid!r} already exists; remove it first or choose another id")
            base, k = mid, 2
            while mid in taken:
                mid, k = f"{base}-{k}", k + 1
            taken.add(mid)
            cat = categories[i] or m.metadata.get("category") or "unknown"
            if categories[i] is None and cat not in allowed:
                cat = "unknown"          # a free-form category in third-party metadata
            if cat not in allowed:
                raise ZooError(f"category {cat!r} of model {label!r} is not one of {', '.join(allowed)}")
            inferred = _infer_category(m) if cat == "unknown" else None
            md = dict(m.metadata, name=label, category=cat)
            if inferred is not None:     # nobody said: the device-kind classifier's guess, marked as inferred
                cat = inferred.category
                md.update(category=cat, category_source="inferred",
                          category_confidence=round(inferred.confidence, 3))
            kv = dict(knob_values[i] or m.metadata.get("knob_values") or {})
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
                hub_repo=str(m.metadata.get("hub_repo", "") or ""),
                category_confidence=None if inferred is None else round(inferred.confidence, 3)))
        for e in entries:
            e.probe_level_db = round(self._rate_probe_level(e.sample_rate), 3)
        nf, ng = len(embed.feature_names()), len(embed.PROBE_GAINS_DB)
        fps = np.asarray(fingerprints, np.float32) if fingerprints is not None else _fingerprint_all(loaded, progress)
        if fps.shape == (n, nf):          # one fingerprint per model: used at every probe level
            fps = np.repeat(fps[:, None], ng, axis=1)
        if fps.shape != (n, ng, nf):
            raise ZooError(f"fingerprints must have shape ({n}, {nf}) or ({n}, {ng}, {nf}), got {fps.shape}")
        # the same model twice (a file added again, or twice in one call): its probe output, and so its
        # fingerprint, is identical to the bit; refused before anything is written
        known = [(e.id, fp, f"in {self.directory}") for e, fp in zip(self._entries, self._fps)]
        for i, (e, fp) in enumerate(zip(entries, fps)):
            twin = next(((kid, where) for kid, kfp, where in known if np.array_equal(kfp, fp)), None)
            if twin is not None:
                raise ZooError(f"{origin[i]}: the same model as {twin[0]!r}, already {twin[1]} (identical "
                               "fingerprint); nothing was added: leave it out")
            known.append((e.id, fp, "in this list"))
        for e, m in zip(entries, loaded):
            m.save(self.directory / e.path, card=False)
        self._entries.extend(entries)
        self._fps = np.concatenate([self._fps, fps]) if len(self._fps) else fps
        self._write()
        return entries

    def _check_new_ids(self, ids: Sequence[str | None]) -> None:
        """Refuse given ids that are invalid or taken (by an entry or an earlier id of the same call)."""
        taken = {e.id for e in self._entries}
        for mid in ids:
            if mid is None:
                continue
            if not _ID_RE.match(mid):
                raise ZooError(f"model id {mid!r} is invalid: use lowercase letters, digits, '.', '_' and '-'")
            if mid in taken:
                raise ZooError(f"{self.directory}: id {mid!r} already exists; remove it first or choose another id")
            taken.add(mid)

    def _same_weights(self, model: Model, knob_values: Mapping[str, float], *, default_id: str | None,
                      source: str | None) -> str | None:
        """The id of an entry holding ``model`` already, among the entries it would collide with.

        Looked at: the entry of ``default_id`` and its ``-2``, ``-3``, ... variants (the ids the same
        file gets when it is added again), and the entries added from ``source`` (a file, or the
        source the caller named). An entry matches when its architecture, weights and (for a model
        with knob inputs) knob values equal the model's: then its fingerprint is the model's too.

        Returns
        -------
        str or None
            The matching entry's id, None when there is none.
        """
        from ..modelfile import flatten_params
        variant = re.compile(re.escape(default_id) + r"(-\d+)?") if default_id else None
        flat = None
        for e in self._entries:
            if not ((variant is not None and variant.fullmatch(e.id)) or (source and e.source == source)):
                continue
            if e.config != model.config:
                continue
            if model.config.knobs and {k: float(v) for k, v in knob_values.items()} != e.knob_values:
                continue
            try:
                theirs = flatten_params(self.get(e.id).params)
            except ZooError:
                continue                  # an unreadable entry: the fingerprint check decides
            flat = flatten_params(model.params) if flat is None else flat
            if theirs.keys() == flat.keys() and all(np.array_equal(theirs[k], flat[k]) for k in flat):
                return e.id
        return None

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

    def replace_models(self, models: Mapping[str, Model], *, progress: bool = False) -> None:
        """Put new weights (and metadata) under existing ids, keeping each entry's place and category.

        The models must keep their entry's architecture (a retrained model of the same device);
        their fingerprints are recomputed (kept for a model that holds the entry's own weights, with
        only its metadata new) and ``val_esr`` is taken from their metadata. Each model directory is
        replaced atomically (:meth:`Model.save`), then the index once.

        Raises
        ------
        ZooError
            An id not in the zoo, or a model of another architecture than its entry's.
        """
        self._check_writable()
        rows = [(self.entry(mid), m) for mid, m in models.items()]
        for e, m in rows:
            if m.config.to_dict() != e.architecture:
                raise ZooError(f"zoo entry {e.id!r}: the new model's architecture differs from the entry's; "
                               "remove the entry and add the model instead")
        changed = [(e, m) for e, m in rows if m.params is not self.get(e.id).params]
        fps = _fingerprint_all([m for _, m in changed], progress) if changed else []
        for (e, _), fp in zip(changed, fps):
            self._fps[self._entries.index(e)] = fp
        for e, m in rows:
            m.save(self.directory / e.path, card=False)
            val = m.metadata.get("val_esr")
            e.val_esr = float(val) if isinstance(val, (int, float)) else e.val_esr
            self._models[e.id] = m
        self._write()

    def refresh(self, *, progress: bool = False) -> None:
        """Recompute every fingerprint with this tonezoo version (after an upgrade; ``progress``: show it)."""
        self._check_writable()
        self._fps = _fingerprint_all([self.get(e.id) for e in self._entries], progress)
        for e in self._entries:
            e.probe_level_db = round(self._rate_probe_level(e.sample_rate), 3)
        self._write()

    # -- ranking and transfer (tonezoo.zoo.select, tonezoo.zoo.transfer) ---------------------
    def index(self, *, weighting: bool = True, reference: str = "auto") -> FingerprintIndex:
        """The :class:`~tonezoo.zoo.select.FingerprintIndex` fitted on this zoo (cached).

        ``reference="auto"``: a writable zoo of fewer than :data:`MIN_ZOO_FOR_OWN_SCALER` models
        fits its scaler with the bundled zoo's fingerprints added to its own (``n_reference_``
        says how many); ``"own"``: only this zoo's fingerprints.
        """
        if reference not in ("auto", "own"):
            raise ConfigError(f"reference must be 'auto' or 'own', got {reference!r}")
        key = (weighting, reference)
        if self._index_cache is not None and self._index_cache[0] == key:
            return self._index_cache[1]
        fps = self.fingerprints
        extra = None
        if reference == "auto" and len(fps) < MIN_ZOO_FOR_OWN_SCALER and not self.read_only:
            try:  # a small zoo borrows the bundled zoo's spread of features
                extra = Zoo.default().fingerprints
            except ZooError:
                extra = None
        index = FingerprintIndex(weighting=weighting).fit(fps, [e.category for e in self._entries],
                                                          reference=extra)
        self._index_cache = (key, index)
        return index

    def distances(self, fp: np.ndarray, *, weighting: bool = True, level_db: float | None = None) -> np.ndarray:
        """Distance of fingerprint ``fp`` to every entry, in standardised (weighted) feature space.

        ``level_db``: compare with the entries' fingerprints at this DI level (dBFS,
        :meth:`fingerprints_at`) instead of the standard probe's.
        """
        index = self.index(weighting=weighting)
        ref = self.fingerprints if level_db is None else self.fingerprints_at(level_db)
        return np.linalg.norm(index.transform(ref) - index.transform(np.asarray(fp)[None]), axis=1)

    def suggest(self, capture: "Capture", top: int = 5, *, shortlist: int = 16, stage2_seconds: float = 10.0,
                weighting: bool = True, fingerprint: np.ndarray | None = None,
                exclude: Sequence[str] = (), at_level: bool = True, level_db: float | None = None) -> list[Suggestion]:
        """Rank this zoo's models as starting points for ``capture`` (:func:`tonezoo.zoo.select.suggest`).

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
            Entry ids never suggested (e.g. leave-one-out evaluation). For a capture with knob
            values, models whose architecture cannot take knob inputs (a WaveNet captures one
            setting) are left out too: they could not start a model of that capture.
        at_level : bool
            Stage 1 compares the capture with the zoo's fingerprints at the capture's DI level
            (:meth:`fingerprints_at`); ``False``: at the standard probe's own level, as before
            fingerprints had levels (for comparisons).
        level_db : float, optional
            The capture's DI level (:func:`tonezoo.embed.input_level_db` of ``capture.x``) if
            already computed.

        Returns
        -------
        list of Suggestion, best first (``score`` = level/polarity-matched zero-shot ESR when stage 2
        ran, else the fingerprint distance).

        Raises
        ------
        ZooError
            The zoo is empty or every entry is excluded.
        """
        if capture.knobs:
            from .. import architectures
            exclude = [*exclude, *(e.id for e in self.list()
                                   if architectures.get(e.config.arch).set_knobs is None and e.id not in exclude)]
        return _suggest(self, capture, top, shortlist=shortlist, stage2_seconds=stage2_seconds,
                        weighting=weighting, fingerprint=fingerprint, exclude=exclude, at_level=at_level,
                        level_db=level_db)

    def transfer(self, capture: "Capture", *, race: int = 5, race_epochs: int | None = None, top: int = 5,
                 shortlist: int = 16, progress: bool = True, suggestions: Sequence[Suggestion] | None = None,
                 on_race: Callable[[list[dict[str, Any]], str], None] | None = None,
                 on_start: Callable[[str, Model, dict[str, Any] | None], None] | None = None,
                 **train_overrides: Any) -> "TrainResult":
        """Suggest a starting model for ``capture`` and fine-tune from it (:func:`tonezoo.zoo.transfer.transfer`).

        By default the top 5 suggestions (:data:`tonezoo.zoo.transfer.RACE`) *race* for ``race_epochs``
        epochs (fine-tuned together; default a quarter of ``max_epochs``, at most 8:
        :func:`tonezoo.zoo.transfer.race_length`)
        and the one with the best validation ESR carries on up to ``max_epochs`` in all. ``race=0``
        or 1 fine-tunes the first suggestion directly. ``suggestions`` reuses a ranking;
        ``on_race(rows, winner_id)`` is called when the race is decided, before the winner carries
        on; ``on_start(id, model, refit_record)`` as each start is made; ``**train_overrides`` go to :func:`tonezoo.train.train`. Returns the winner's
        :class:`~tonezoo.train.TrainResult` (``metadata`` records ``base_model``, ``suggestions``
        and the ``race``).
        """
        from .transfer import transfer
        return transfer(self, capture, race=race, race_epochs=race_epochs, top=top, shortlist=shortlist,
                        progress=progress, suggestions=suggestions, on_race=on_race, on_start=on_start,
                        **train_overrides)

    def start_model(self, model_id: str, capture: "Capture") -> Model:
        """Zoo model ``model_id`` adapted to the capture's knobs and sample rate (:func:`tonezoo.zoo.transfer.adapt_model`)."""
        from .transfer import start_model
        return start_model(self, model_id, capture)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _load_any(path: Path, sample_rate: int | None) -> Model:
    if not path.exists():
        raise ZooError(f"{path}: no such model file or directory")
    if path.is_dir() and (path / "config.json").is_file():
        return Model.load(path)
    from ..formats import import_model
    return import_model(path, sample_rate=sample_rate)


def _no_fingerprints() -> np.ndarray:
    return np.zeros((0, len(embed.PROBE_GAINS_DB), len(embed.feature_names())), np.float32)


def _fingerprint_all(models: Sequence[Model], progress: bool = False) -> np.ndarray:
    """Fingerprints at every probe gain [shape=(n, len(PROBE_GAINS_DB), n_features)]."""
    if not models:
        return _no_fingerprints()
    from .._progress import Counter
    with Counter(progress, len(models) * len(embed.PROBE_GAINS_DB), "fingerprints (models x probe levels)") as counter:
        return embed.probe_fingerprints(models, progress=counter)


def entries_table(entries: Iterable[ZooEntry]) -> list[dict[str, Any]]:
    """Plain rows for printing a zoo listing."""
    return [{"id": e.id, "name": e.name, "category": e.category,
             "knobs": ", ".join(f"{k}={v:g}" for k, v in e.knob_values.items()),
             "rate": e.sample_rate, "arch": e.config.describe(),
             "val_esr": e.val_esr} for e in entries]
