"""Train the device-kind classifier (``zoo_index/classifier.json``) and validate it on unseen designs.

Usage::

    python benchmarks/train_classifier.py [--per-family 90] [--heldout-per-family 25] [--out zoo_index/classifier.json]
                                          [--cache /tmp/clf_features.npz] [--quick]

1. **Training set**: ``--per-family`` draws of every training family of :mod:`tonezoo.families`
   (:data:`~tonezoo.families.HELD_OUT_FAMILIES` never), each played from a synthetic DI of its own
   (random seed, 6 s, peak level log-uniform in 0.12-0.9, 44.1 or 48 kHz): thousands of renders,
   DSP only. :func:`tonezoo.classify.features` of each.
2. A scikit-learn :class:`~sklearn.neural_network.MLPClassifier` on standardised features; stored as
   data (JSON arrays) with :meth:`tonezoo.classify.Classifier.save`.
3. **Validation** on what it never saw: ``--heldout-per-family`` draws of every held-out family
   (whole generators left out), and the real third-party fixture models (``benchmarks/_targets.py``)
   played on each real DI recording. Top-1 / top-3 accuracy per target group, per family and per
   real model, written to ``benchmarks/results/classifier.json``.

``--quick`` (CI): a few draws per family, no file written outside ``--out``/``--report``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _targets import FIXTURES, REAL_DI, REAL_MODELS, load_real_model, real_di, real_name, render_real  # noqa: E402

from tonezoo.classify import FEATURE_VERSION, Classifier, features, feature_names  # noqa: E402
from tonezoo.devices import CATEGORIES, render  # noqa: E402
from tonezoo.families import HELD_OUT_FAMILIES, draw, list_families  # noqa: E402
from tonezoo.signals import synth_di  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def family_rows(held_out: bool, per_family: int, *, seed: int, seconds: float, log) -> tuple[np.ndarray, list, list]:
    """Features, categories and family names of ``per_family`` random renders of each (held-out) family."""
    feats, cats, fams = [], [], []
    t0 = time.perf_counter()
    families = list_families(held_out=held_out)
    for i in range(per_family):
        for fam in families:
            s = seed + i
            rng = np.random.default_rng([s, len(fam.name), 17])
            sr = int(rng.choice([44100, 48000]))
            peak = float(np.exp(rng.uniform(np.log(0.12), np.log(0.9))))
            x = synth_di(seconds, sr, seed=int(rng.integers(1 << 30)), peak=peak)
            y = render(draw(fam.category, fam.name, s), x, sr)
            feats.append(features(x, y, sr))
            cats.append(fam.category)
            fams.append(fam.name)
        if log and (i + 1) % 10 == 0:
            log(f"  {'held-out' if held_out else 'training'} renders: {len(feats)} ({time.perf_counter() - t0:.0f} s)")
    return np.array(feats), cats, fams


def real_rows(seconds: float, log) -> tuple[np.ndarray, list, list, list]:
    """Features of every readable real fixture model on every real DI (first ``seconds`` of each)."""
    feats, accepted, names, dis = [], [], [], []
    if not (FIXTURES / "models").is_dir():
        log(f"no fixtures at {FIXTURES}: real targets skipped")
        return np.zeros((0, len(feature_names()))), [], [], []
    for rel, cats in REAL_MODELS:
        model = load_real_model(rel)
        if model is None:
            log(f"  {rel}: this tonezoo cannot run its architecture; skipped")
            continue
        for di in REAL_DI:
            x = real_di(di, model.config.sample_rate, seconds=seconds)
            y = render_real(model, x)
            feats.append(features(x, y, model.config.sample_rate))
            accepted.append(cats)
            names.append(real_name(rel))
            dis.append(di)
    return np.array(feats), accepted, names, dis


def fit(X: np.ndarray, y: list, *, seed: int, hidden: tuple[int, ...], alpha: float):
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(X)
    mlp = MLPClassifier(hidden_layer_sizes=hidden, alpha=alpha, max_iter=800, random_state=seed,
                        early_stopping=True, validation_fraction=0.15, n_iter_no_change=30)
    mlp.fit(scaler.transform(X), y)
    return mlp, scaler


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-family", type=int, default=90)
    ap.add_argument("--heldout-per-family", type=int, default=25)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--real-seconds", type=float, default=12.0)
    ap.add_argument("--hidden", type=int, nargs="+", default=[64, 32])
    ap.add_argument("--alpha", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "zoo_index" / "classifier.json"))
    ap.add_argument("--report", default=str(ROOT / "benchmarks" / "results" / "classifier.json"))
    ap.add_argument("--cache", default=None, help="npz of computed features (reused when it exists)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.per_family, args.heldout_per_family, args.seconds, args.real_seconds = 6, 2, 3.0, 4.0
    log = lambda m: print(m, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        d = np.load(cache, allow_pickle=False)
        Xt, ct, ft = d["Xt"], list(d["ct"]), list(d["ft"])
        Xh, ch, fh = d["Xh"], list(d["ch"]), list(d["fh"])
        log(f"features from {cache}: {len(Xt)} training, {len(Xh)} held-out")
    else:
        log(f"rendering {args.per_family} x {len(list_families(held_out=False))} training devices")
        Xt, ct, ft = family_rows(False, args.per_family, seed=args.seed, seconds=args.seconds, log=log)
        log(f"rendering {args.heldout_per_family} x {len(HELD_OUT_FAMILIES)} held-out devices")
        Xh, ch, fh = family_rows(True, args.heldout_per_family, seed=10_000 + args.seed, seconds=args.seconds,
                                 log=log)
        if cache is not None:
            np.savez(cache, Xt=Xt, ct=np.array(ct), ft=np.array(ft), Xh=Xh, ch=np.array(ch), fh=np.array(fh))
    t_render = time.perf_counter() - t0
    log("real fixture models on real DI")
    Xr, accepted, rnames, rdis = real_rows(args.real_seconds, log)
    mlp, scaler = fit(Xt, ct, seed=args.seed, hidden=tuple(args.hidden), alpha=args.alpha)
    meta = {"training_families": sorted(set(ft)), "held_out_families": list(HELD_OUT_FAMILIES),
            "training_renders": int(len(Xt)), "feature_version": FEATURE_VERSION,
            "hidden": list(args.hidden), "alpha": args.alpha, "seconds": args.seconds,
            "recipe": "benchmarks/train_classifier.py"}
    clf = Classifier.from_sklearn(mlp, scaler, metadata=meta)
    train_acc = score(clf, Xt, [(c,) for c in ct])
    held = score(clf, Xh, [(c,) for c in ch])
    real = score(clf, Xr, accepted)
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
    clf = Classifier(clf.classes, clf.mean, clf.scale, clf.weights, clf.biases,
                     dict(meta, held_out_top1=held.get("top1"), real_top1=real.get("top1")))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    clf.save(args.out)
    report = {"benchmark": "classifier", "settings": vars(args), "seconds": round(time.perf_counter() - t0, 1),
              "render_seconds": round(t_render, 1), "n_features": len(feature_names()),
              "training": {"n": train_acc["n"], "top1": train_acc["top1"]},
              "held_out_families": {"n": held["n"], "top1": held.get("top1"), "top3": held.get("top3"),
                                    "per_family": per_family},
              "real_fixtures": {"n": real["n"], "top1": real.get("top1"), "top3": real.get("top3"),
                                "per_model": per_real}}
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=1) + "\n")
    log(f"\ntraining renders {len(Xt)} (top-1 on them {train_acc['top1']:.3f}); {time.perf_counter() - t0:.0f} s")
    log(f"held-out families: top-1 {held.get('top1', float('nan')):.3f}, top-3 {held.get('top3', float('nan')):.3f} "
        f"over {held['n']} renders")
    for fam, r in per_family.items():
        log(f"  {fam:16s} top-1 {r['top1']:.2f} top-3 {r['top3']:.2f}  {r['predicted']}")
    if real["n"]:
        log(f"real fixtures on real DI: top-1 {real['top1']:.3f}, top-3 {real['top3']:.3f} over {real['n']} renders")
        for name, r in per_real.items():
            log(f"  {name:48s} {'/'.join(r['accepted']):22s} top-1 {r['top1']:.2f}  {r['predicted']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
