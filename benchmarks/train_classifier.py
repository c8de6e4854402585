"""Train the device-kind classifier (``zoo_index/classifier.json``) and validate it on unseen designs.

Usage::

    python benchmarks/train_classifier.py [--per-family 50] [--heldout-per-family 25] [--zoo-renders 8]
                                          [--out zoo_index/classifier.json]
                                          [--audio-cache /tmp/tonezoo_clf_audio] [--cv] [--quick]

1. **Training set**: ``--per-family`` draws of every training family of :mod:`tonezoo.families`
   (:data:`~tonezoo.families.HELD_OUT_FAMILIES` never; the classifier-only ``*-chain`` families too
   unless ``--no-chains``), each played from a synthetic DI of its own
   (:func:`augmented_di`: random performance, peak level log-uniform in 0.1-0.95, a random pickup
   and cable colour, 44.1 or 48 kHz): thousands of renders, DSP only.
   :func:`tonezoo.classify.features` of each. With them, ``--zoo-renders`` renders of every
   bundled zoo model (:func:`zoo_model_pairs`): neural models of draws of the same families, as the
   captures people share are models of their devices.
2. A scikit-learn :class:`~sklearn.neural_network.MLPClassifier` on standardised features, or an
   ensemble of them (``--members``, averaged probabilities); stored as data (JSON arrays) with
   :meth:`tonezoo.classify.Classifier.save`.
3. **Model selection** (``--cv``): leave-one-family-out cross-validation over the *training*
   families only -- each training generator left out in turn (its zoo models with it), the classifier
   trained on the rest and scored on the left-out one's device renders, and apart on its zoo models.
   Features and hyperparameters are decided on these figures, never on the held-out families or the
   real fixtures.
4. **Validation** on what it never saw: ``--heldout-per-family`` draws of every held-out family
   (whole generators left out), and the real third-party fixture models (``benchmarks/_targets.py``)
   played on each real DI recording. Top-1 / top-3 accuracy per target group, per family and per
   real model, written to ``benchmarks/results/classifier.json``.

Rendered audio is kept in ``--audio-cache`` (one ``.npz`` per render, keyed by the family, the
seed and :data:`RENDER_VERSION`), and so are the features of each set (keyed by a digest of the
feature code), so a change of the model re-reads features and a change of features re-reads audio
instead of rendering it again. The script runs one BLAS thread (the matrices are small).

``--quick``: a few draws per family; the classifier and the report go to a scratch folder unless
``--out`` / ``--report`` are given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _library import LIBRARY_COMMIT  # noqa: E402
from _targets import FIXTURES, REAL_DI, REAL_MODELS, load_real_model, real_di, real_name, render_real  # noqa: E402

from tonezoo import _dsp as dsp  # noqa: E402
from tonezoo.classify import FEATURE_VERSION, Classifier, features, feature_names  # noqa: E402
from tonezoo.devices import CATEGORIES, render  # noqa: E402
from tonezoo.families import HELD_OUT_FAMILIES, draw, list_families  # noqa: E402
from tonezoo.signals import synth_di  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RENDER_VERSION = "r3"
"""Changes whenever :func:`augmented_di` or the families' renders change (invalidates the audio cache)."""

Log = Callable[[str], None]


def augmented_di(rng: np.random.Generator, seconds: float, sample_rate: int) -> np.ndarray:
    """A synthetic DI performance with a random level and colour (float32 [shape=(n,)]).

    The level (peak log-uniform in 0.1-0.95) and the spectrum vary as real DI recordings do:
    a low shelf at 150-300 Hz of -4..+8 dB (pickup position and output), a high shelf at
    2-4 kHz of -10..+3 dB, and in half the draws a first-order low-pass at 3-9 kHz (cable
    capacitance into a high-impedance input).
    """
    peak = float(np.exp(rng.uniform(np.log(0.1), np.log(0.95))))
    x = synth_di(seconds, sample_rate, seed=int(rng.integers(1 << 30)), peak=0.5).astype(np.float64)
    sections = [dsp.low_shelf(rng.uniform(150.0, 300.0), rng.uniform(-4.0, 8.0), sample_rate),
                dsp.high_shelf(rng.uniform(2000.0, 4000.0), rng.uniform(-10.0, 3.0), sample_rate)]
    if rng.random() < 0.5:
        sections.append(dsp.lowpass1(float(np.exp(rng.uniform(np.log(3000.0), np.log(9000.0)))), sample_rate))
    x = dsp.filt(x, *sections)
    return (x * (peak / np.max(np.abs(x)))).astype(np.float32)


def coloured_output(rng: np.random.Generator, y: np.ndarray, sample_rate: int) -> np.ndarray:
    """The device's output as another recording chain or tone setting would give it (float32 [shape=(n,)]).

    A low shelf at 80-250 Hz of -6..+4 dB, a high shelf at 1.5-5 kHz of -9..+3 dB (a tone knob, a
    darker or brighter recording), in a third of the draws a first-order low-pass at 3-12 kHz (the
    capture's own bandwidth), and white noise 50-80 dB below the output's RMS (the recording's floor).
    The level is the recording's and is left as it is.
    """
    sections = [dsp.low_shelf(rng.uniform(80.0, 250.0), rng.uniform(-6.0, 4.0), sample_rate),
                dsp.high_shelf(rng.uniform(1500.0, 5000.0), rng.uniform(-9.0, 3.0), sample_rate)]
    if rng.random() < 1 / 3:
        sections.append(dsp.lowpass1(float(np.exp(rng.uniform(np.log(3000.0), np.log(12000.0)))), sample_rate))
    out = dsp.filt(np.asarray(y, np.float64), *sections)
    rms = float(np.sqrt(np.mean(out ** 2)))
    out = out + rng.standard_normal(out.size) * rms * 10.0 ** (-rng.uniform(50.0, 80.0) / 20.0)
    return out.astype(np.float32)


def with_coloured_copies(pairs, copies: int, seed: int):
    """Each pair, then ``copies`` copies of it with :func:`coloured_output` (same category and family)."""
    rng = np.random.default_rng([seed, 9931])
    for x, y, sr, *rest in pairs:
        yield (x, y, sr, *rest)
        for _ in range(copies):
            yield (x, coloured_output(rng, y, sr), sr, *rest)


def _store(path: Path, x: np.ndarray, y: np.ndarray, sr: int) -> None:
    """Write one render to the audio cache (whole or not at all: a stopped run leaves no broken file)."""
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.savez(f, x=x, y=y, sr=sr)
    tmp.replace(path)


def family_pairs(held_out: bool, per_family: int, *, seed: int, seconds: float, cache: Path | None,
                 log: Log | None, chains: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray, int, str, str]]:
    """``(x, y, sample_rate, category, family)`` of ``per_family`` random renders of each (held-out) family;
    ``chains``: with the classifier-only random-chain families."""
    families = list_families(held_out=held_out, zoo_only=not chains)
    t0, n = time.perf_counter(), 0
    for i in range(per_family):
        for fam in families:
            s = seed + i
            path = None if cache is None else cache / f"{RENDER_VERSION}-{fam.name}-{s}-{seconds:g}.npz"
            if path is not None and path.exists():
                d = np.load(path, allow_pickle=False)
                x, y, sr = d["x"], d["y"], int(d["sr"])
            else:
                rng = np.random.default_rng([s, len(fam.name), 17])
                sr = int(rng.choice([44100, 48000]))
                x = augmented_di(rng, seconds, sr)
                y = render(draw(fam.category, fam.name, s), x, sr)
                if path is not None:
                    _store(path, x, y, sr)
            n += 1
            yield x, y, sr, fam.category, fam.name
        if log and (i + 1) % 10 == 0:
            log(f"  {'held-out' if held_out else 'training'} renders: {n} ({time.perf_counter() - t0:.0f} s)")


def real_pairs(seconds: float, cache: Path | None, log: Log) -> Iterator[tuple[np.ndarray, np.ndarray, int, tuple, str, str]]:
    """``(x, y, sample_rate, accepted, model, di)``: every readable real fixture model on every real DI."""
    if not (FIXTURES / "models").is_dir():
        log(f"no fixtures at {FIXTURES}: real targets skipped")
        return
    for rel, cats in REAL_MODELS:
        model = None
        for di in REAL_DI:
            path = None if cache is None else cache / f"real-{real_name(rel)}-{di}-{seconds:g}.npz"
            if path is not None and path.exists():
                d = np.load(path, allow_pickle=False)
                x, y, sr = d["x"], d["y"], int(d["sr"])
            else:
                model = model or load_real_model(rel)
                if model is None:
                    log(f"  {rel}: this tonezoo cannot run its architecture; skipped")
                    break
                sr = int(model.config.sample_rate)
                x = real_di(di, sr, seconds=seconds)
                y = render_real(model, x)
                if path is not None:
                    _store(path, x, y, sr)
            yield x, y, sr, cats, real_name(rel), di


LIBRARY_KNOBS = (0.25, 1.0)
"""Range of a library model's knob inputs (uniform): a device is captured at the settings people play it at."""


def library_pairs(root: Path, per_model: int, *, seconds: float, log: Log | None,
                  models: list[tuple[str, str, str]] | None = None, first_index: int = 0
                  ) -> Iterator[tuple[np.ndarray, np.ndarray, int, str, str]]:
    """``(x, y, sample_rate, category, device)``: every labelled library model (:mod:`_library`) on
    ``per_model`` augmented DIs, its knob inputs drawn from :data:`LIBRARY_KNOBS`. ``models`` (``(path
    under root, category, device)``) replaces the library's table; model ``i`` draws its DIs from the seed
    ``first_index + i``."""
    from _library import library_models

    from tonezoo.formats import import_model
    if models is None:
        used, skipped = library_models(root)
        if log:
            log(f"  library: {len(used)} labelled models of {len({d for _, _, d in used})} devices; "
                f"{len(skipped)} files not used ({sum(v.startswith('fixture') for v in skipped.values())} of fixture "
                "devices)")
    else:
        used = models
    t0 = time.perf_counter()
    for i, (rel, cat, device) in enumerate(used):
        model = import_model(Path(root) / rel)
        sr = int(model.config.sample_rate)
        for j in range(per_model):
            rng = np.random.default_rng([first_index + i, j, 7331])
            x = augmented_di(rng, seconds, sr)
            knobs = {k: float(rng.uniform(*LIBRARY_KNOBS)) for k in model.config.knobs} or None
            yield x, np.asarray(model.process(x, knobs), np.float32), sr, cat, device
        if log and (i + 1) % 10 == 0:
            log(f"  library renders: {(i + 1) * per_model} ({time.perf_counter() - t0:.0f} s)")


def zoo_family(entry) -> str:
    """The generator family a bundled zoo model was trained on, from its ``source``.

    ``"tonezoo family NAME (seed N)..."`` is a draw of family NAME; ``"tonezoo virtual device X (DESIGN)..."``
    a setting of the bench design DESIGN, whose family is the ``bench-*`` one drawing its knobs.

    Raises
    ------
    ValueError
        A source that names neither (a model this script cannot assign to a family for cross-validation).
    """
    import re
    m = re.match(r"tonezoo family (\S+) \(seed", entry.source)
    if m and m.group(1) in {f.name for f in list_families(zoo_only=False)}:
        return m.group(1)
    m = re.match(r"tonezoo virtual device \S+ \((\S+)\)", entry.source)
    bench = {f.base: f.name for f in list_families() if f.base is not None}
    if m and m.group(1) in bench:
        return bench[m.group(1)]
    raise ValueError(f"zoo model {entry.id!r}: no generator family in its source {entry.source!r}")


def zoo_model_pairs(per_model: int, *, seconds: float, log: Log | None
                    ) -> Iterator[tuple[np.ndarray, np.ndarray, int, str, str]]:
    """``(x, y, sample_rate, category, family)``: every bundled zoo model played on ``per_model`` augmented DIs.

    A neural model of a device is not the device: it smooths some of what the device does and adds
    errors of its own, and the captures people share (and import with ``tonezoo zoo add``) are such
    models. The bundled models were trained on draws of the training families, so each render carries
    its entry's category and the family it came from (:func:`zoo_family`), and cross-validation leaves
    it out with that family. No held-out family has a zoo model.
    """
    from tonezoo.zoo import Zoo
    zoo = Zoo.default()
    t0 = time.perf_counter()
    for i, entry in enumerate(zoo.list()):
        fam = zoo_family(entry)
        if fam in HELD_OUT_FAMILIES:
            raise ValueError(f"zoo model {entry.id!r} comes from the held-out family {fam!r}")
        model = zoo.get(entry.id)
        sr = int(model.config.sample_rate)
        knobs = ({k: float(entry.knob_values.get(k, 0.5)) for k in model.config.knobs}
                 if model.config.knobs else None)
        for j in range(per_model):
            x = augmented_di(np.random.default_rng([i, j, 4242]), seconds, sr)
            yield x, np.asarray(model.process(x, knobs), np.float32), sr, entry.category, fam
        if log and (i + 1) % 20 == 0:
            log(f"  zoo model renders: {(i + 1) * per_model} ({time.perf_counter() - t0:.0f} s)")


def _zoo_key() -> str:
    """A digest of the bundled zoo's index (model renders are only reused for the same zoo)."""
    import hashlib
    return hashlib.sha1((ROOT / "zoo_index" / "index.json").read_bytes()).hexdigest()[:10]


def _feature_key() -> str:
    """A digest of the feature code (a cache of features is only reused for the same code)."""
    import hashlib
    import inspect

    import tonezoo.classify as c
    src = "".join(inspect.getsource(f) for f in (c.features, c._dynamics, c._excerpt, c._frames, c._tercile_means))
    return f"v{FEATURE_VERSION}-{hashlib.sha1(src.encode()).hexdigest()[:10]}"


def _feats(pairs, cache: Path | None = None, name: str = "") -> tuple[np.ndarray, list[list[str]]]:
    """Features and the string columns after ``(x, y, sample_rate)`` of every pair (cached by the feature code)."""
    path = None if cache is None else cache / f"features-{_feature_key()}-{RENDER_VERSION}-{name}.npz"
    if path is not None and path.exists():
        d = np.load(path, allow_pickle=False)
        return d["X"], [list(r) for r in d["meta"]]
    rows, meta = [], []
    for x, y, sr, *rest in pairs:
        rows.append(features(x, y, sr))
        meta.append(["|".join(r) if isinstance(r, tuple) else str(r) for r in rest])
    X = np.array(rows) if rows else np.zeros((0, len(feature_names())))
    if path is not None and rows:
        with open(path.with_name(path.name + ".part"), "wb") as f:
            np.savez(f, X=X, meta=np.array(meta))
        path.with_name(path.name + ".part").replace(path)
    return X, meta


def fit(X: np.ndarray, y: list, *, seed: int, hidden: tuple[int, ...], alpha: float, members: int = 1,
        drop: tuple[str, ...] = (), metadata: dict | None = None) -> Classifier:
    """An MLP (or ``members`` of them, seeds ``seed, seed + 1, ...``) on standardised features
    (all of :func:`~tonezoo.classify.feature_names` but ``drop``)."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    names = feature_names()
    inputs = [n for n in names if n not in drop]
    X = X[:, [names.index(n) for n in inputs]]
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    nets = []
    for m in range(members):
        mlp = MLPClassifier(hidden_layer_sizes=hidden, alpha=alpha, max_iter=800, random_state=seed + m,
                            early_stopping=True, validation_fraction=0.15, n_iter_no_change=30)
        nets.append(mlp.fit(Z, y))
    return Classifier.from_sklearn(nets, scaler, inputs=None if not drop else inputs, metadata=metadata)


def score(clf: Classifier, X: np.ndarray, accepted: list) -> dict:
    if len(X) == 0:
        return {"n": 0}
    p = clf.predict_proba(X)
    order = np.argsort(-p, axis=1)
    top1 = [clf.classes[o[0]] in acc for o, acc in zip(order, accepted)]
    top3 = [any(clf.classes[j] in acc for j in o[:3]) for o, acc in zip(order, accepted)]
    return {"n": len(X), "top1": float(np.mean(top1)), "top3": float(np.mean(top3)),
            "predicted": [clf.classes[o[0]] for o in order], "confidence": [float(r.max()) for r in p],
            "top1_ok": top1, "top3_ok": top3}


def lofo_cv(X: np.ndarray, cats: list, fams: list, *, seed: int, hidden: tuple[int, ...], alpha: float,
            members: int, drop: tuple[str, ...] = (), log: Log | None = None,
            models: tuple[np.ndarray, list, list] | None = None,
            library: tuple[np.ndarray, list, list] | None = None) -> dict:
    """Leave-one-family-out cross-validation over the training families: top-1/top-3 per left-out family.

    ``models``: ``(X, categories, families)`` of zoo model renders (:func:`zoo_model_pairs`), trained on
    with the device renders; a left-out family's models are left out with it, and scored apart
    (``models_top1``: how well a *model* of a design never seen is recognised).
    ``library``: ``(X, categories, devices)`` of real library captures (:func:`library_pairs`), trained on
    in every family's fold; then each library *device* is left out in turn (its captures together) and
    scored (``library_top1``: the mean over devices of real captures of devices never heard).
    The summary is the mean over families (each generator weighs the same) and the worst family.
    """
    per = {}
    fams_arr = np.array(fams)
    mfams = np.array(models[2]) if models is not None else np.array([], str)
    for fam in sorted(set(fams)):
        out, mout = fams_arr == fam, mfams == fam
        Xf, yf = X[~out], [c for c, o in zip(cats, out) if not o]
        if models is not None:
            Xf = np.vstack([Xf, models[0][~mout]])
            yf = yf + [c for c, o in zip(models[1], mout) if not o]
        if library is not None:
            Xf, yf = np.vstack([Xf, library[0]]), yf + list(library[1])
        clf = fit(Xf, yf, seed=seed, hidden=hidden, alpha=alpha, members=members, drop=drop)
        s = score(clf, X[out], [(c,) for c, o in zip(cats, out) if o])
        per[fam] = {"top1": s["top1"], "top3": s["top3"],
                    "predicted": {c: s["predicted"].count(c) for c in CATEGORIES if c in s["predicted"]}}
        line = f"  cv {fam:18s} top-1 {s['top1']:.2f} top-3 {s['top3']:.2f}"
        if mout.any():
            sm = score(clf, models[0][mout], [(c,) for c, o in zip(models[1], mout) if o])
            per[fam].update(models_n=sm["n"], models_top1=sm["top1"], models_top3=sm["top3"])
            line += f" (its zoo models {sm['top1']:.2f})"
        if log:
            log(f"{line}  {per[fam]['predicted']}")
    per_device = {}
    if library is not None:
        devs = np.array(library[2])
        base_X = X if models is None else np.vstack([X, models[0]])
        base_y = list(cats) + ([] if models is None else list(models[1]))
        for dev in sorted(set(library[2])):
            out = devs == dev
            clf = fit(np.vstack([base_X, library[0][~out]]), base_y + [c for c, o in zip(library[1], out) if not o],
                      seed=seed, hidden=hidden, alpha=alpha, members=members, drop=drop)
            s = score(clf, library[0][out], [(c,) for c, o in zip(library[1], out) if o])
            cat = library[1][int(np.flatnonzero(out)[0])]
            per_device[dev] = {"categories": sorted({c for c, o in zip(library[1], out) if o}), "top1": s["top1"],
                               "top3": s["top3"],
                               "predicted": {c: s["predicted"].count(c) for c in CATEGORIES if c in s["predicted"]}}
            if log:
                log(f"  cv library {dev:20s} {cat:12s} top-1 {s['top1']:.2f} top-3 {s['top3']:.2f}  "
                    f"{per_device[dev]['predicted']}")
    top1 = [r["top1"] for r in per.values()]
    summary = {"top1": float(np.mean(top1)), "top3": float(np.mean([r["top3"] for r in per.values()])),
               "worst": min(per, key=lambda f: per[f]["top1"]), "worst_top1": float(min(top1)), "per_family": per}
    with_models = [r for r in per.values() if "models_top1" in r]
    if with_models:
        summary["models_top1"] = float(np.mean([r["models_top1"] for r in with_models]))
        summary["models_top3"] = float(np.mean([r["models_top3"] for r in with_models]))
        summary["models_families"] = len(with_models)
    if per_device:
        summary["library_top1"] = float(np.mean([r["top1"] for r in per_device.values()]))
        summary["library_top3"] = float(np.mean([r["top3"] for r in per_device.values()]))
        summary["library_devices"] = per_device
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-family", type=int, default=50)
    ap.add_argument("--heldout-per-family", type=int, default=25)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--real-seconds", type=float, default=12.0)
    ap.add_argument("--hidden", type=int, nargs="+", default=[64, 32])
    ap.add_argument("--alpha", type=float, default=1e-3)
    ap.add_argument("--members", type=int, default=5, help="MLPs in the ensemble (probabilities averaged)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="classifier file (default: the bundled zoo_index/classifier.json; "
                    "with --quick a scratch folder, so a smoke run never replaces the bundled classifier)")
    ap.add_argument("--report", default=None, help="report (default: benchmarks/results/classifier.json; with "
                    "--quick the scratch folder)")
    ap.add_argument("--audio-cache", default=None, help="folder of rendered audio (.npz), reused when present")
    ap.add_argument("--cv", action="store_true", help="leave-one-family-out cross-validation over training families")
    ap.add_argument("--cv-only", action="store_true", help="only the cross-validation: no held-out/real scoring, "
                    "nothing written")
    ap.add_argument("--no-chains", action="store_true", help="train on the zoo's families only, without the "
                    "random-chain families")
    ap.add_argument("--colour-copies", type=int, default=0, help="copies of each training render with the output "
                    "coloured and a noise floor added (coloured_output)")
    ap.add_argument("--zoo-renders", type=int, default=8, help="renders of every bundled zoo model (each on its own "
                    "augmented DI) added to the training set; 0: devices only")
    ap.add_argument("--library", default=None, metavar="DIR",
                    help="a copy of GuitarML/ToneLibrary: its labelled captures (benchmarks/_library.py) join the "
                         "training set, and cross-validation leaves each of their devices out in turn")
    ap.add_argument("--library-renders", type=int, default=24, help="renders of every labelled library model")
    ap.add_argument("--more-captures", default=None, metavar="DIR",
                    help="with --library: copies of the other public captures of benchmarks/_library.py's "
                         "MORE_LABELLED (DIR/owner+repo/path), trained on and left out in turn as the library's")
    ap.add_argument("--library-score-only", action="store_true",
                    help="score the library's captures with a classifier trained without them (the baseline)")
    ap.add_argument("--drop", nargs="*", default=[], help="feature names left out of the classifier's input")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.per_family, args.heldout_per_family, args.seconds, args.real_seconds = 6, 2, 3.0, 4.0
        args.zoo_renders = min(args.zoo_renders, 1)
    scratch = Path(tempfile.gettempdir()) / "tonezoo-classifier-quick"
    args.out = args.out or str(scratch / "classifier.json" if args.quick else ROOT / "zoo_index" / "classifier.json")
    args.report = args.report or str(scratch / "report.json" if args.quick
                                     else ROOT / "benchmarks" / "results" / "classifier.json")
    log = lambda m: print(m, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    cache = Path(args.audio_cache) if args.audio_cache else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    hidden = tuple(args.hidden)
    n_fams = len(list_families(held_out=False, zoo_only=args.no_chains))
    log(f"{args.per_family} x {n_fams} training devices")
    pairs = family_pairs(False, args.per_family, seed=args.seed, seconds=args.seconds, cache=cache, log=log,
                         chains=not args.no_chains)
    Xt, mt = _feats(with_coloured_copies(pairs, args.colour_copies, args.seed), cache,
                    f"train-{args.per_family}-{args.seconds:g}-{args.seed}-{'zoo' if args.no_chains else 'chains'}"
                    f"-c{args.colour_copies}")
    ct, ft = [m[0] for m in mt], [m[1] for m in mt]
    models = None
    if args.zoo_renders:
        log(f"{args.zoo_renders} renders of every bundled zoo model")
        Xz, mz = _feats(zoo_model_pairs(args.zoo_renders, seconds=args.seconds, log=log), cache,
                        f"zoo-{_zoo_key()}-{args.zoo_renders}-{args.seconds:g}")
        models = (Xz, [m[0] for m in mz], [m[1] for m in mz])
    library = None
    if args.library:
        log(f"{args.library_renders} renders of every labelled library capture ({args.library})")
        Xl, ml = _feats(library_pairs(Path(args.library), args.library_renders, seconds=args.seconds, log=log), cache,
                        f"library-{args.library_renders}-{args.seconds:g}")
        library = (Xl, [m[0] for m in ml], [m[1] for m in ml])
        if args.more_captures:
            import hashlib

            from _library import MORE_LABELLED, more_models
            more = more_models(Path(args.more_captures))
            key = hashlib.sha1(repr(sorted(MORE_LABELLED.items())).encode()).hexdigest()[:8]
            log(f"  more captures: {len(more)} models of {len({d for _, _, d in more})} devices ({args.more_captures})")
            Xm, mm = _feats(library_pairs(Path(args.more_captures), args.library_renders, seconds=args.seconds,
                                          log=log, models=more, first_index=1000), cache,
                            f"more-{key}-{args.library_renders}-{args.seconds:g}")
            library = (np.vstack([Xl, Xm]), library[1] + [m[0] for m in mm], library[2] + [m[1] for m in mm])
    t_train = time.perf_counter() - t0
    cv = None
    if args.cv or args.cv_only:
        log("leave-one-family-out cross-validation over the training families")
        cv = lofo_cv(Xt, ct, ft, seed=args.seed, hidden=hidden, alpha=args.alpha, members=args.members,
                     drop=tuple(args.drop), log=log, models=models,
                     library=None if args.library_score_only else library)
        log(f"cv: top-1 {cv['top1']:.3f} (mean over families), top-3 {cv['top3']:.3f}, worst {cv['worst']} "
            f"{cv['worst_top1']:.2f}" + (f"; zoo models of the left-out families top-1 {cv['models_top1']:.3f} "
                                         f"({cv['models_families']} families)" if "models_top1" in cv else "")
            + (f"; library devices left out top-1 {cv['library_top1']:.3f}" if "library_top1" in cv else ""))
        if args.cv_only:
            return 0
    log(f"{args.heldout_per_family} x {len(HELD_OUT_FAMILIES)} held-out devices")
    Xh, mh = _feats(family_pairs(True, args.heldout_per_family, seed=10_000 + args.seed, seconds=args.seconds,
                                 cache=cache, log=log), cache,
                    f"held-{args.heldout_per_family}-{args.seconds:g}-{args.seed}")
    ch, fh = [m[0] for m in mh], [m[1] for m in mh]
    log("real fixture models on real DI")
    Xr, mr = _feats(real_pairs(args.real_seconds, cache, log), cache, f"real-{args.real_seconds:g}")
    accepted, rnames = [tuple(m[0].split("|")) for m in mr], [m[1] for m in mr]
    meta = {"training_families": sorted(set(ft)), "held_out_families": list(HELD_OUT_FAMILIES),
            "training_renders": int(len(Xt)), "feature_version": FEATURE_VERSION,
            "hidden": list(hidden), "alpha": args.alpha, "members": args.members, "seconds": args.seconds,
            "dropped_features": list(args.drop), "colour_copies": args.colour_copies,
            "zoo_model_renders": 0 if models is None else int(len(models[0])),
            "library_renders": 0 if library is None or args.library_score_only else int(len(library[0])),
            "recipe": "benchmarks/train_classifier.py"}
    if library is not None and not args.library_score_only:
        meta["library"] = (f"GuitarML/ToneLibrary@{LIBRARY_COMMIT[:7]}"
                           + (" and other public captures (benchmarks/_library.py MORE_LABELLED)"
                              if args.more_captures else "") + f": {len(set(library[2]))} devices")
    if models is not None:
        Xt, ct = np.vstack([Xt, models[0]]), ct + models[1]
    if library is not None and not args.library_score_only:
        Xt, ct = np.vstack([Xt, library[0]]), ct + library[1]
    clf = fit(Xt, ct, seed=args.seed, hidden=hidden, alpha=args.alpha, members=args.members, drop=tuple(args.drop),
              metadata=meta)
    train_acc = score(clf, Xt, [(c,) for c in ct])
    held = score(clf, Xh, [(c,) for c in ch])
    real = score(clf, Xr, accepted)
    lib_scored = None
    if library is not None and args.library_score_only:
        lib_scored = score(clf, library[0], [(c,) for c in library[1]])
        lib_devices = {}
        for dev in dict.fromkeys(library[2]):
            idx = [i for i, d in enumerate(library[2]) if d == dev]
            lib_devices[dev] = float(np.mean([lib_scored["top1_ok"][i] for i in idx]))
        lib_scored = {"top1": float(np.mean(list(lib_devices.values()))), "per_device": lib_devices}
    per_family = {}
    for fam in sorted(set(fh)):
        idx = [i for i, f in enumerate(fh) if f == fam]
        per_family[fam] = {"top1": float(np.mean([held["top1_ok"][i] for i in idx])),
                           "top3": float(np.mean([held["top3_ok"][i] for i in idx])),
                           "predicted": {c: int(sum(held["predicted"][i] == c for i in idx)) for c in CATEGORIES
                                         if any(held["predicted"][i] == c for i in idx)}}
    per_real = {}
    for name in dict.fromkeys(rnames):
        idx = [i for i, n in enumerate(rnames) if n == name]
        votes = {c: int(sum(real["predicted"][i] == c for i in idx)) for c in CATEGORIES
                 if any(real["predicted"][i] == c for i in idx)}
        per_real[name] = {"accepted": list(accepted[idx[0]]), "top1": float(np.mean([real["top1_ok"][i] for i in idx])),
                          "top3": float(np.mean([real["top3_ok"][i] for i in idx])), "predicted": votes,
                          "mean_confidence": float(np.mean([real["confidence"][i] for i in idx]))}
    clf = clf.with_metadata(dict(meta, cv_top1=None if cv is None else cv["top1"], held_out_top1=held.get("top1"),
                                 real_top1=real.get("top1")))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    clf.save(args.out)
    settings = dict(vars(args), audio_cache=None if cache is None else "(a local folder)",
                    library=None if not args.library else f"a copy of GuitarML/ToneLibrary@{LIBRARY_COMMIT[:7]}",
                    more_captures=None if not args.more_captures else "copies of MORE_LABELLED's files")
    for key in ("out", "report"):
        if Path(settings[key]).resolve().is_relative_to(ROOT):
            settings[key] = str(Path(settings[key]).resolve().relative_to(ROOT))
    report = {"benchmark": "classifier", "settings": settings, "seconds": round(time.perf_counter() - t0, 1),
              "training_audio_seconds": round(t_train, 1), "n_features": len(feature_names()),
              "feature_version": FEATURE_VERSION,
              "training": {"n": train_acc["n"], "top1": train_acc["top1"]},
              "cross_validation": cv,
              "held_out_families": {"n": held["n"], "top1": held.get("top1"), "top3": held.get("top3"),
                                    "per_family": per_family},
              "real_fixtures": {"n": real["n"], "top1": real.get("top1"), "top3": real.get("top3"),
                                "per_model": per_real},
              "library_scored_without_it": lib_scored}
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=1) + "\n")
    log(f"\ntraining renders {len(Xt)} (top-1 on them {train_acc['top1']:.3f}); {time.perf_counter() - t0:.0f} s")
    if cv is not None:
        log(f"leave-one-family-out cv: top-1 {cv['top1']:.3f}, top-3 {cv['top3']:.3f}")
    log(f"held-out families: top-1 {held.get('top1', float('nan')):.3f}, top-3 {held.get('top3', float('nan')):.3f} "
        f"over {held['n']} renders")
    for fam, r in per_family.items():
        log(f"  {fam:16s} top-1 {r['top1']:.2f} top-3 {r['top3']:.2f}  {r['predicted']}")
    if lib_scored is not None:
        log(f"library devices (not trained on): top-1 {lib_scored['top1']:.3f} (mean over devices)  "
            f"{ {str(d): round(v, 2) for d, v in lib_scored['per_device'].items()} }")
    if real["n"]:
        log(f"real fixtures on real DI: top-1 {real['top1']:.3f}, top-3 {real['top3']:.3f} over {real['n']} renders")
        for name, r in per_real.items():
            log(f"  {name:48s} {'/'.join(r['accepted']):22s} top-1 {r['top1']:.2f}  {r['predicted']}")
    return 0


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):          # small matrices: one BLAS thread is faster, and far faster on a busy machine
        sys.exit(main())
