"""Learning-rate warm-up for fine-tuning: does it help, and over how many optimizer steps?

For each target of one half of the selection benchmark (``benchmarks/selection.py``: held-out
families and real third-party captures, none in the zoo), through WAV files and
:func:`tonezoo.load_capture` as the CLI reads them:

1. ``Zoo.suggest``'s top ``--top`` starts of one architecture (``--arch``: ``lstm`` or a NAM
   WaveNet preset; other zoo entries are excluded as ``tonezoo train --from auto --arch`` does),
   each started as ``Zoo.transfer`` starts its contenders (output layer refit by least squares);
2. each fine-tuned with the architecture's recipe (AGAM's for the LSTM, NAM's for the WaveNet) for
   ``--epochs`` epochs, once per ``--steps`` value of ``lr_warmup_steps`` (the starts side by side in
   one ``train_many`` run per value; everything else equal, seeds included);
3. every model scored on *fresh* audio (another DI through the same device) against the device's
   raw output, advanced by any latency ``load_capture`` removed.

Printed and written: per target and start the fresh ESR and best validation ESR for each value, and
per value against the first one (the reference, normally 0): the geometric mean of the fresh-ESR
ratios, how many runs got better, the worst ratio, the geometric mean of the validation-ESR ratios,
and the same for each target's best start (what a race that keeps the best start hands the user).
Decide on half A (``--half A``), report on half B.

Usage::

    python benchmarks/warmup.py --arch nam-feather --half A --out /tmp/warmup_a.json
    python benchmarks/warmup.py --arch lstm --half B --steps 0,10 --targets 4
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _targets import advanced_esr  # noqa: E402
from selection import _audio, capture_through_wav, targets  # noqa: E402

from tonezoo._cli.train import arch_name  # noqa: E402  (the --arch name of a zoo entry)
from tonezoo.train import train_many  # noqa: E402
from tonezoo.warmstart import refit_output  # noqa: E402
from tonezoo.zoo import Zoo  # noqa: E402


def geomean(ratios) -> float:
    """Geometric mean of positive ratios."""
    return float(np.exp(np.mean(np.log(np.asarray(ratios, np.float64)))))


def run_target(zoo: Zoo, t: dict, *, arch: str, steps: list[int], top: int, seconds: float, epochs: int,
               workdir: Path) -> dict | None:
    """Every start of ``t`` fine-tuned once per warm-up length; fresh and validation ESR of each run."""
    cap = capture_through_wav(t, seconds, workdir)
    if cap is None:
        return None
    fx, fy, _ = _audio(t, min(seconds, 10.0), part="fresh")
    shift = int(cap.metadata.get("latency_samples", 0))
    exclude = [e.id for e in zoo.list() if arch_name(e.config) != arch]
    sugg = zoo.suggest(cap, top=top, exclude=exclude)
    inits = [refit_output(zoo.start_model(s.id, cap), cap) for s in sugg]
    row: dict = {"name": t["name"], "kind": t["kind"], "half": t["half"], "latency_samples": shift,
                 "starts": [s.id for s in sugg], "runs": {}}
    for w in steps:
        t0 = time.perf_counter()
        results = train_many(cap, inits, max_epochs=epochs, patience=epochs + 1, val_every=1, progress=False,
                             lr_warmup_steps=w)
        fresh = [advanced_esr(fy, np.asarray(r.model.process(fx, check_level=False)), shift) for r in results]
        row["runs"][str(w)] = {"fresh_esr": [float(v) for v in fresh],
                               "val_esr": [float(r.best_val_esr) for r in results],
                               "first_val_esr": [float(r.first_val_esr) for r in results],
                               "seconds": round(time.perf_counter() - t0, 1)}
    return row


def summarize(rows: list[dict], steps: list[int]) -> dict:
    """Per warm-up length against the first: geometric mean ratios, runs better, worst ratio."""
    ref = str(steps[0])
    out = {}
    for w in steps[1:]:
        fr = np.array([a / b for r in rows for a, b in zip(r["runs"][str(w)]["fresh_esr"], r["runs"][ref]["fresh_esr"])])
        vr = np.array([a / b for r in rows for a, b in zip(r["runs"][str(w)]["val_esr"], r["runs"][ref]["val_esr"])])
        # what a user gets is about the best start's run (the race keeps one): the best of each target's starts
        br = np.array([min(r["runs"][str(w)]["fresh_esr"]) / min(r["runs"][ref]["fresh_esr"]) for r in rows])
        out[str(w)] = {"runs": int(fr.size), "fresh_ratio_geomean": geomean(fr),
                       "better": int(np.sum(fr < 1.0)), "worst_ratio": float(fr.max()),
                       "val_ratio_geomean": geomean(vr),
                       "best_start_ratio_geomean": geomean(br),
                       "best_start_better": int(np.sum(br < 1.0)), "best_start_ratios": [float(v) for v in br]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="nam-feather", help="lstm or a NAM WaveNet preset (default nam-feather)")
    ap.add_argument("--half", choices=("A", "B"), required=True)
    ap.add_argument("--steps", default="0,10", help="comma-separated lr_warmup_steps; the first is the reference")
    ap.add_argument("--targets", type=int, default=6, help="targets of the half, in the benchmark's order")
    ap.add_argument("--top", type=int, default=3, help="starts per target")
    ap.add_argument("--seconds", type=float, default=6.0, help="capture length (s)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default=None, help="JSON file (written after every target)")
    args = ap.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    zoo = Zoo.default()
    if not any(arch_name(e.config) == args.arch for e in zoo.list()):
        ap.error(f"--arch {args.arch}: the zoo has no model of that architecture")
    todo = [t for t in targets(quick=False) if t["half"] == args.half][:args.targets]
    rows: list[dict] = []
    summary: dict = {}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, t in enumerate(todo):
            row = run_target(zoo, t, arch=args.arch, steps=steps, top=args.top, seconds=args.seconds,
                             epochs=args.epochs, workdir=Path(tmp))
            if row is None:
                print(f"[{i + 1}/{len(todo)}] {t['name']}: skipped (this tonezoo cannot play its model file)")
                continue
            rows.append(row)
            cells = "  ".join(f"{w}: " + " ".join(f"{v:.4f}" for v in row["runs"][str(w)]["fresh_esr"]) for w in steps)
            print(f"[{i + 1}/{len(todo)}] {t['name']:<40} fresh ESR per start  {cells}", flush=True)
            summary = summarize(rows, steps)
            if args.out:
                Path(args.out).write_text(json.dumps({"benchmark": "warmup", "settings": vars(args), "rows": rows,
                                                      "summary": summary,
                                                      "seconds": round(time.perf_counter() - t_start, 1)}, indent=1))
    print(f"\n| warm-up steps | fresh ESR against {steps[0]}, geometric mean | better | worst | validation ESR, "
          "geometric mean | best start per target: fresh ESR against the same | better |\n|---|---|---|---|---|---|---|")
    for w, s in summary.items():
        print(f"| {w} | {s['fresh_ratio_geomean']:.2f} | {s['better']} of {s['runs']} | {s['worst_ratio']:.2f} | "
              f"{s['val_ratio_geomean']:.2f} | {s['best_start_ratio_geomean']:.2f} | {s['best_start_better']} of "
              f"{len(s['best_start_ratios'])} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
