"""Building a zoo from the virtual devices: the recipe of the bundled default zoo.

:data:`ZOO_PLAN` lists the entries (every device category at several settings);
:data:`HELD_OUT` the devices that are never in the zoo (the demo's and the selection
benchmark's unseen targets). :func:`build_from_devices` trains one LSTM per planned entry, many
side by side in one vmapped program (:func:`tonezoo.train.train_many`, one capture per model),
and indexes them; :func:`refine` gives the weak ones a second, longer run.
:func:`build_wavenets` adds NAM WaveNets of one preset (:func:`wavenet_plan`: one device per
category), trained side by side the same way, so ``--from auto --arch nam-feather`` has starts.
:func:`retune` fine-tunes every entry of a zoo on a new render of its own device, e.g. after the
synthetic DI (:func:`tonezoo.signals.synth_di`) changed.
"""

from __future__ import annotations

import os
import time
import zlib
from typing import TYPE_CHECKING, Callable, Sequence

from .._progress import count_text
from ..model import Model, ModelConfig

if TYPE_CHECKING:  # pragma: no cover
    from . import Zoo

__all__ = ["ZOO_PLAN", "HELD_OUT", "build_from_devices", "refine", "merge_zoos", "drop_failed", "wavenet_plan",
           "build_wavenets", "entry_device", "retune"]

# (id, device, knob overrides): every category at several settings.
ZOO_PLAN: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("screamer", "screamer", {}),
    ("ts9-like", "ts9-like", {}),
    ("screamer-d30-t40", "screamer", {"drive": 0.3, "tone": 0.4}),
    ("screamer-d75-t70", "screamer", {"drive": 0.75, "tone": 0.7}),
    ("metal", "metal", {}),
    ("metal-scooped", "metal-scooped", {}),
    ("metal-d60-mid70", "metal", {"dist": 0.6, "mid": 0.7}),
    ("muff", "muff", {}),
    ("bigmuff-like", "bigmuff-like", {}),
    ("muff-s40-t75", "muff", {"sustain": 0.4, "tone": 0.75}),
    ("boost", "boost", {}),
    ("boost-g90-t30", "boost", {"gain": 0.9, "tone": 0.3}),
    ("boost-g20-t60", "boost", {"gain": 0.2, "tone": 0.6}),
    ("compressor", "compressor", {}),
    ("dynacomp-like", "dynacomp-like", {}),
    ("compressor-s25-a60", "compressor", {"sustain": 0.25, "attack": 0.6}),
    ("clean-amp", "clean-amp", {}),
    ("clean-amp-g15-t70", "clean-amp", {"gain": 0.15, "treble": 0.7}),
    ("clean-amp-fat-g50", "clean-amp", {"gain": 0.5, "fat": 1.0}),
    ("crunch-amp", "crunch-amp", {}),
    ("bluesjr-like", "bluesjr-like", {}),
    ("plexi-crunch", "plexi-crunch", {}),
    ("crunch-amp-g35", "crunch-amp", {"gain": 0.35}),
    ("lead-amp", "lead-amp", {}),
    ("5150-like", "5150-like", {}),
    ("lead-amp-g90-mid60", "lead-amp", {"gain": 0.9, "mid": 0.6}),
)
HELD_OUT: tuple[str, ...] = ("ts-light", "mt2-like", "fuzz-dark", "treble-booster", "opto-like", "twin-clean",
                             "ht40-like", "lead-amp-tight")

Log = Callable[[str], None]
EpochCallback = Callable[[int, list[dict]], None]


def _side_by_side(n: int, noun: str) -> str:
    """``"1 model"``, ``"13 models together"``: how many train in one vmapped program."""
    return count_text(n, noun) + (" together" if n > 1 else "")


def _entry_seed(seed: int, entry_id: str, attempt: int = 0) -> int:
    """Seed of an entry's synthetic input: fixed per entry, whatever the grouping or the plan."""
    return seed + zlib.crc32(f"{entry_id}#{attempt}".encode() if attempt else entry_id.encode()) % 100_000


def _train_group(chunk: Sequence[tuple[str, str, dict[str, float]]], *, seconds: float, epochs: int,
                 sample_rate: int, hidden_size: int, seed: int, patience: int, attempt: int, progress: bool,
                 log: Log, epoch_callback: EpochCallback | None = None):
    """Render one capture per entry and train them side by side; returns (devices, captures, results)."""
    from ..devices import get_device, render_capture
    from ..train import train_many
    devices = [get_device(device) for _, device, _ in chunk]
    captures = [render_capture(dev, seconds=seconds, sample_rate=sample_rate, knobs=knobs,
                               seed=_entry_seed(seed, mid, attempt))
                for dev, (mid, _, knobs) in zip(devices, chunk)]
    if progress:
        log(f"training {_side_by_side(len(chunk), 'model')} ({seconds:g} s each): "
            f"{', '.join(p[0] for p in chunk)}")
    results = train_many(captures, n_models=len(chunk), model_config=ModelConfig(hidden_size=hidden_size,
                                                                                 sample_rate=sample_rate),
                         progress=progress, max_epochs=epochs, patience=patience, seed=seed + attempt,
                         epoch_callback=epoch_callback)
    return devices, captures, results


def _metadata(result, dev, cap, mid: str, sample_rate: int, **extra) -> dict:
    return dict(result.model.metadata, name=mid, category=dev.category, knob_values=dict(cap.knobs),
                device=dev.name, design=dev.design, description=dev.description,
                training_seconds=round(len(cap.train_x) / sample_rate, 3),
                val_esr=float(result.best_val_esr), best_epoch=result.best_epoch, **extra)


def build_from_devices(directory: str | os.PathLike, *, seconds: float = 15.0, epochs: int = 200,
                       sample_rate: int = 44100, hidden_size: int = 20, seed: int = 0,
                       plan: Sequence[tuple[str, str, dict[str, float]]] | None = None,
                       group: int = 13, patience: int = 25, retry_above: float | None = None,
                       retry_seconds: float = 24.0, retry_epochs: int = 250, max_esr: float = 0.5,
                       progress: bool = True, log: Log = print,
                       epoch_callback: EpochCallback | None = None) -> "Zoo":
    """Train one model per planned virtual device and setting and index them in a zoo.

    Each entry renders ``seconds`` of synthetic guitar (:func:`tonezoo.devices.render_capture`,
    a seed of its own; the last 20 % validates) and an LSTM-``hidden_size`` trains on it with the
    AGAM recipe for at most ``epochs`` epochs (early stopping after ``patience`` validations
    without improvement). Up to ``group`` entries train side by side in one vmapped program
    (:func:`tonezoo.train.train_many` with one capture per model), each with its own
    learning-rate schedule, early stopping and best weights. Fingerprints are computed on the
    standard probe. Entries already in ``directory`` are kept (an interrupted build resumes).
    With ``retry_above``, entries whose validation ESR is above it then go through :func:`refine`.
    An entry whose validation ESR is still above ``max_esr`` failed to learn its device and is left
    out (and logged): a starting point that does not sound like its device would mislead the ranking.
    ``epoch_callback`` goes to every :func:`~tonezoo.train.train_many` run (a ``KeyboardInterrupt``
    raised there stops the build at an epoch's end, as Ctrl-C does anywhere).

    Returns
    -------
    Zoo (writable) in ``directory``.
    """
    from . import Zoo
    zoo = Zoo.open(directory, create=True)
    plan = list(plan if plan is not None else ZOO_PLAN)
    todo = [p for p in plan if p[0] not in zoo]
    step = max(int(group), 1)
    t0 = time.perf_counter()
    for g in range(0, len(todo), step):
        chunk = todo[g:g + step]
        devices, captures, results = _train_group(
            chunk, seconds=seconds, epochs=epochs, sample_rate=sample_rate, hidden_size=hidden_size, seed=seed,
            patience=patience, attempt=0, progress=progress, log=log, epoch_callback=epoch_callback)
        if any(r.stop_reason == "interrupted" for r in results):
            # Ctrl-C: half-trained models stay out of the zoo; the same call resumes after the finished ones
            raise KeyboardInterrupt
        for (mid, _, _), dev, cap, result in zip(chunk, devices, captures, results):
            zoo.add(Model(result.model.config, result.model.params, _metadata(result, dev, cap, mid, sample_rate)),
                    id=mid, category=dev.category, source=f"tonezoo virtual device {dev.name} ({dev.design})")
            if progress:
                log(f"{mid:22s} {dev.category:13s} val ESR {result.best_val_esr:.4f} (best epoch "
                    f"{result.best_epoch} of {result.epochs}; {time.perf_counter() - t0:.0f} s so far)")
    if retry_above is not None:
        weak = [p for p in plan if (zoo.entry(p[0]).val_esr or 0.0) > retry_above]
        if weak:
            refine(zoo, weak, seconds=retry_seconds, epochs=retry_epochs, sample_rate=sample_rate,
                   hidden_size=hidden_size, seed=seed, group=group, patience=patience, progress=progress, log=log,
                   epoch_callback=epoch_callback)
    drop_failed(zoo, max_esr=max_esr, log=log)
    return zoo


def drop_failed(zoo: "Zoo", *, max_esr: float = 0.5, log: Log = print) -> list[str]:
    """Remove entries whose validation ESR is above ``max_esr`` (models that did not learn); returns their ids."""
    failed = [e.id for e in zoo.list() if e.val_esr is not None and e.val_esr > max_esr]
    for mid in failed:
        log(f"{mid}: left out, validation ESR {zoo.entry(mid).val_esr:.4f} > {max_esr}")
        zoo.remove(mid)
    return failed


def refine(zoo: "Zoo", entries: Sequence[tuple[str, str, dict[str, float]]], *, seconds: float = 24.0,
           epochs: int = 250, sample_rate: int = 44100, hidden_size: int = 20, seed: int = 0, group: int = 13,
           patience: int = 25, progress: bool = True, log: Log = print,
           epoch_callback: EpochCallback | None = None) -> dict[str, dict[str, float]]:
    """Second pass for weak entries: a longer capture with new audio, a fresh model, keep the better.

    Each entry renders ``seconds`` of new synthetic guitar (another seed) and a fresh model trains
    on it (side by side, as in :func:`build_from_devices`). The zoo's current model and the new
    one are then both scored on the new capture's validation section, which neither trained on,
    and the better one is kept; ``val_esr`` records its ESR there.

    Returns
    -------
    dict entry id -> {"old": ESR of the current model, "new": ESR of the new one} on that section.
    """
    from ..train import esr
    out: dict[str, dict[str, float]] = {}
    step = max(int(group), 1)
    for g in range(0, len(entries), step):
        chunk = list(entries[g:g + step])
        devices, captures, results = _train_group(
            chunk, seconds=seconds, epochs=epochs, sample_rate=sample_rate, hidden_size=hidden_size, seed=seed,
            patience=patience, attempt=1, progress=progress, log=log, epoch_callback=epoch_callback)
        if any(r.stop_reason == "interrupted" for r in results):
            raise KeyboardInterrupt          # the zoo keeps its current models
        for (mid, _, _), dev, cap, result in zip(chunk, devices, captures, results):
            old = zoo.get(mid)
            old_esr = esr(cap.val_y, old.process(cap.val_x))
            new_esr = float(result.best_val_esr)
            out[mid] = {"old": float(old_esr), "new": new_esr}
            if progress:
                log(f"{mid:22s} on new validation audio: current model ESR {old_esr:.4f}, retrained {new_esr:.4f} "
                    f"(best epoch {result.best_epoch} of {result.epochs})")
            entry = zoo.entry(mid)
            if new_esr < old_esr:
                model = Model(result.model.config, result.model.params,
                              _metadata(result, dev, cap, mid, sample_rate))
            else:
                model = Model(old.config, old.params, dict(old.metadata, val_esr=float(old_esr)))
            zoo.remove(mid)
            zoo.add(model, id=mid, category=entry.category, source=entry.source)
    return out


def merge_zoos(directory: str | os.PathLike, parts: Sequence[str | os.PathLike], *,
               plan: Sequence[tuple[str, str, dict[str, float]]] | None = None) -> "Zoo":
    """Collect the planned entries of zoos built in parts (e.g. in parallel processes) into one zoo.

    Entries are added in plan order with their models, metadata and fingerprints unchanged;
    entries already in ``directory`` are kept. A planned entry found in no part raises
    :class:`~tonezoo.errors.ZooError`.
    """
    from ..errors import ZooError
    from . import Zoo
    zoo = Zoo.open(directory, create=True)
    sources = [Zoo.open(p) for p in parts]
    for mid, _, _ in (plan if plan is not None else ZOO_PLAN):
        if mid in zoo:
            continue
        src = next((z for z in sources if mid in z), None)
        if src is None:
            raise ZooError(f"plan entry {mid!r} is in none of {[str(p) for p in parts]}; build it first")
        entry = src.entry(mid)
        row = [e.id for e in src.list()].index(mid)
        zoo.add(src.get(mid), id=mid, category=entry.category, source=entry.source,
                fingerprint=src.level_fingerprints[row])
    return zoo



def wavenet_plan(per_category: int = 1, *, preset: str = "nam-feather",
                 plan: Sequence[tuple[str, str, dict[str, float]]] | None = None
                 ) -> list[tuple[str, str, dict[str, float]]]:
    """(entry id, device, knobs) of WaveNet entries: the first ``per_category`` entries of each category.

    Entries are taken from ``plan`` (default :data:`ZOO_PLAN`) in plan order, for every category
    of :data:`tonezoo.devices.CATEGORIES`; an entry's id is the plan id with the preset's short
    name appended (``screamer-feather``).
    """
    from ..devices import CATEGORIES, get_device
    short = preset.removeprefix("nam-")
    rows = list(plan if plan is not None else ZOO_PLAN)
    out = []
    for cat in CATEGORIES:
        mine = [p for p in rows if get_device(p[1]).category == cat][:max(int(per_category), 0)]
        out.extend((f"{mid}-{short}", device, dict(knobs)) for mid, device, knobs in mine)
    return out


def build_wavenets(directory: str | os.PathLike, *, preset: str = "nam-feather", per_category: int = 1,
                   plan: Sequence[tuple[str, str, dict[str, float]]] | None = None, seconds: float = 8.0,
                   epochs: int = 10, batch_size: int = 4, sample_rate: int = 48000, seed: int = 0,
                   max_esr: float = 0.5, recipe: str | None = None, progress: bool = False, log: Log = print) -> "Zoo":
    """Train NAM WaveNets of one ``preset`` on virtual devices, all side by side, and add them to a zoo.

    Each entry of ``plan`` (default :func:`wavenet_plan` with ``per_category`` entries per device
    category) renders ``seconds`` of synthetic guitar (:func:`tonezoo.devices.render_capture`,
    :func:`tonezoo.signals.synth_di`, a seed of its own; the last 20 % validates) at
    ``sample_rate``, and one WaveNet per entry trains on it with NAM's recipe
    (:func:`tonezoo.train.recipe`, but ``batch_size`` windows per step instead of 16, so a few seconds
    of audio give more than one step per epoch) for at most ``epochs`` epochs, all in one vmapped program
    (:func:`tonezoo.train.train_many`). The models join the zoo in ``directory`` with their
    category, device, knob values, validation ESR and the build recipe (``recipe``, a free-text
    line such as the command that built them, plus the settings) in their metadata; fingerprints
    are computed by :meth:`Zoo.add_many` as for any entry. Entries already in the zoo are kept;
    a model whose validation ESR is above ``max_esr`` is left out (and logged).
    """
    from ..devices import get_device, render_capture
    from ..train import train_many
    from ..architectures import wavenet as wn
    from . import Zoo
    zoo = Zoo.open(directory, create=True)
    plan = list(plan if plan is not None else wavenet_plan(per_category, preset=preset))
    todo = [p for p in plan if p[0] not in zoo]
    if not todo:
        return zoo
    devices = [get_device(device) for _, device, _ in todo]
    captures = [render_capture(dev, seconds=seconds, sample_rate=sample_rate, knobs=knobs,
                               seed=_entry_seed(seed, mid))
                for dev, (mid, _, knobs) in zip(devices, todo)]
    log(f"training {_side_by_side(len(todo), preset + ' WaveNet')} ({seconds:g} s each at {sample_rate} Hz, "
        f"at most {count_text(epochs, 'epoch')}, batches of {batch_size}): {', '.join(p[0] for p in todo)}")
    t0 = time.perf_counter()
    results = train_many(captures, model_config=wn.model_config(preset, sample_rate=sample_rate),
                         max_epochs=epochs, batch_size=batch_size, progress=progress, seed=seed)
    train_s = time.perf_counter() - t0
    if any(r.stop_reason == "interrupted" for r in results):
        raise KeyboardInterrupt
    build = {"preset": preset, "seconds": seconds, "epochs": epochs, "batch_size": batch_size,
             "sample_rate": sample_rate, "seed": seed,
             "models_trained_together": len(todo), "training_wall_seconds": round(train_s, 1)}
    if recipe:
        build["command"] = recipe
    models, ids, cats, srcs = [], [], [], []
    for (mid, _, _), dev, cap, r in zip(todo, devices, captures, results):
        log(f"{mid:24s} {dev.category:13s} val ESR {r.best_val_esr:.4f} (best epoch {r.best_epoch} of {r.epochs})")
        if not r.best_val_esr <= max_esr:
            log(f"{mid}: left out, validation ESR {r.best_val_esr:.4f} > {max_esr}")
            continue
        models.append(Model(r.model.config, r.model.params,
                            _metadata(r, dev, cap, mid, sample_rate, build_recipe=build)))
        ids.append(mid)
        cats.append(dev.category)
        srcs.append(f"tonezoo virtual device {dev.name} ({dev.design}), WaveNet {preset}")
    log(f"{len(todo)} WaveNets trained in {train_s:.0f} s; {len(models)} added to {directory}")
    if models:
        zoo.add_many(models, ids=ids, categories=cats, sources=srcs,
                     knob_values=[m.metadata.get("knob_values") for m in models])
    return zoo


def entry_device(metadata: dict):
    """The virtual device (and its knob values) a zoo model was trained on, from its metadata.

    Parameters
    ----------
    metadata : dict
        A model's metadata as the build scripts write it: ``device`` and ``knob_values`` for the
        virtual devices' entries, ``family``, ``family_seed`` and ``category`` for the family draws.

    Returns
    -------
    (Device, dict) or None
        ``None`` for a model of a real device (imported files, user captures) or an unknown name.
    """
    from ..devices import get_device
    from ..errors import ConfigError
    from ..families import draw
    try:
        if metadata.get("family") is not None and metadata.get("family_seed") is not None:
            return draw(str(metadata["category"]), str(metadata["family"]), int(metadata["family_seed"])), {}
        if metadata.get("device"):
            return get_device(str(metadata["device"])), dict(metadata.get("knob_values") or {})
    except (ConfigError, KeyError, ValueError):
        return None
    return None


def retune(zoo: "Zoo", ids: Sequence[str] | None = None, *, seconds: float = 12.0, epochs: int = 40,
           patience: int = 10, group: int = 48, wavenet_batch_size: int = 4, lr: float | None = None,
           seed: int = 0, progress: bool = True, log: Log = print) -> dict[str, dict[str, float]]:
    """Fine-tune zoo entries on a new render of their own device; keep whichever model plays it better.

    Every entry whose device :func:`entry_device` can rebuild renders ``seconds`` of new synthetic
    guitar (:func:`tonezoo.devices.render_capture`, a seed of its own, last 20 % validation) at the
    entry's rate, and fine-tunes from its current weights with its architecture's recipe (an LSTM:
    AGAM's with 10 warm-up steps; a WaveNet: NAM's with ``wavenet_batch_size`` windows per step) for
    at most ``epochs`` epochs (``lr``: another peak learning rate than the recipe's), up to ``group``
    entries of one architecture side by side (:func:`tonezoo.train.train_many`). The current and the
    fine-tuned model are both scored on the new validation section, which neither trained on, and
    the better one is kept (the current one when no epoch improved on it); its ESR there
    becomes ``val_esr`` and the metadata's ``retuned`` records the pass (before/after ESR, seconds,
    epochs, best epoch). Entries are replaced in the index's order, so the zoo keeps its order; the
    zoo is written once at the end (an interrupted pass changes nothing). Entries of real devices
    are skipped.

    Returns
    -------
    dict entry id -> {"before": ESR of the current model, "after": ESR of the fine-tuned one}.
    The ids are those of the entries fine-tuned (ids given but not in the zoo are ignored).
    """
    import json

    from ..devices import render_capture
    from ..train import esr, train_many
    todo = []
    for e in zoo.list():
        if ids is not None and e.id not in ids:
            continue
        model = zoo.get(e.id)
        found = entry_device(model.metadata)
        if found is None:
            log(f"{e.id}: skipped (no virtual device to render)")
            continue
        todo.append((e, model, *found))
    groups: dict[str, list] = {}
    for row in todo:
        groups.setdefault(json.dumps(row[1].config.to_dict(), sort_keys=True), []).append(row)
    kept: dict[str, Model] = {}
    out: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    step = max(int(group), 1)
    for rows in groups.values():
        for g in range(0, len(rows), step):
            chunk = rows[g:g + step]
            sr = chunk[0][1].sample_rate
            caps = [render_capture(dev, seconds=seconds, sample_rate=sr, knobs=knobs or None,
                                   seed=_entry_seed(seed, e.id, attempt=2))
                    for e, _, dev, knobs in chunk]
            wavenet = chunk[0][1].config.arch == "wavenet"
            extra = {"batch_size": wavenet_batch_size} if wavenet else {}
            if lr is not None:
                extra["lr"] = lr
            if progress:
                names = chunk[0][0].id if len(chunk) == 1 else f"{chunk[0][0].id} ... {chunk[-1][0].id}"
                log(f"fine-tuning {_side_by_side(len(chunk), 'model')} on {seconds:g} s of new audio each "
                    f"(at most {count_text(epochs, 'epoch')}): {names}")
            results = train_many(caps, [m for _, m, _, _ in chunk], max_epochs=epochs, patience=patience,
                                 progress=progress, seed=seed, **extra)
            if any(r.stop_reason == "interrupted" for r in results):
                raise KeyboardInterrupt          # nothing written: the zoo keeps its current models
            for (e, old, dev, knobs), cap, r in zip(chunk, caps, results):
                before = float(esr(cap.val_y, old.process(cap.val_x)))
                after = float(r.best_val_esr)
                out[e.id] = {"before": before, "after": after}
                # best epoch 0: no epoch improved on the start, whose weights those are
                tuned = r.best_epoch > 0 and after < before
                record = {"seconds": seconds, "epochs": r.epochs, "best_epoch": r.best_epoch,
                          "val_esr_before": round(before, 6), "val_esr_after": round(after, 6),
                          "kept": "fine-tuned" if tuned else "current"}
                if lr is not None:
                    record["lr"] = lr
                params = r.model.params if tuned else old.params
                kept[e.id] = Model(old.config, params, dict(old.metadata, val_esr=after if tuned else before,
                                                            retuned=record))
                if progress:
                    log(f"{e.id:24s} {e.category:13s} ESR on new audio {before:.4f} -> {after:.4f} "
                        f"(best epoch {r.best_epoch} of {r.epochs}; {time.perf_counter() - t0:.0f} s so far)")
    if kept:
        zoo.replace_models(kept)
    return out
