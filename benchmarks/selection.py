"""How good is the zoo's pick? Held-out virtual devices against the oracle, a random pick and scratch.

For every held-out device (:data:`tonezoo.zoo.build.HELD_OUT`: designs at settings, or presets, that
are not in the zoo) a capture is rendered and

* ``Zoo.suggest`` picks a starting model: top-1 / top-3 *category* accuracy;
* the **oracle**: every zoo model is fine-tuned on the capture with the same budget, all together
  in one vmapped :func:`tonezoo.train.train_many` run; the best of them is the oracle ESR;
* the pick's ESR is its own row of that run, the **random** pick's is the mean over all rows
  (the expectation of a uniform pick), the **fingerprint-only** pick is stage 1's nearest model;
* **scratch** trains a fresh LSTM-20 with the same budget;
* **transfer** is what a user gets from ``Zoo.transfer`` / ``tonezoo train --from auto``: the top 3
  race for 2 epochs and the winner continues, inside the same epoch budget;
* the **noise floor**: the oracle's own model fine-tuned once more with another shuffling seed
  (the same start, budget and data): how far apart two runs that should tie can land.

Every run validates every epoch, so keep-best sees the same epochs in every column.

Usage::

    python benchmarks/selection.py [--quick] [--zoo DIR]

writes ``benchmarks/results/selection.json`` and prints a markdown table (``docs/zoo.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tonezoo.devices import get_device, render_capture
from tonezoo.train import train, train_many
from tonezoo.zoo import Zoo
from tonezoo.zoo.build import HELD_OUT

QUICK_TARGETS = ("mt2-like", "ht40-like", "fuzz-dark", "opto-like")


def evaluate(zoo: Zoo, device: str, *, seconds: float, epochs: int, seed: int) -> dict:
    dev = get_device(device)
    cap = render_capture(dev, seconds=seconds, seed=seed)
    t0 = time.perf_counter()
    sugg = zoo.suggest(cap, top=3)
    t_suggest = time.perf_counter() - t0
    stage1 = zoo.suggest(cap, top=1, shortlist=0)[0]
    ids = [e.id for e in zoo.list()]
    # every run validates every epoch, so keep-best sees the same epochs in every column
    budget = dict(max_epochs=epochs, patience=epochs + 1, val_every=1, progress=False)
    results = train_many(cap, [zoo.start_model(i, cap) for i in ids], **budget)
    oracle = {i: float(r.best_val_esr) for i, r in zip(ids, results)}
    scratch = train(cap, **budget)
    best_id = min(oracle, key=oracle.get)
    # the noise floor: the oracle's own model fine-tuned again, differing only in the shuffling seed
    rerun = float(train(cap, init=zoo.start_model(best_id, cap), seed=1, **budget).best_val_esr)
    t0 = time.perf_counter()
    tr = zoo.transfer(cap, suggestions=sugg, **budget)            # the default: race the top 3, continue one
    t_transfer = time.perf_counter() - t0
    pick = sugg[0].id
    return {
        "device": device, "category": dev.category,
        "pick": pick, "pick_category": sugg[0].category,
        "top1_category_ok": sugg[0].category == dev.category,
        "top3_category_ok": any(s.category == dev.category for s in sugg),
        "pick_zero_shot_esr": sugg[0].zero_shot_esr,
        "pick_esr": oracle[pick], "oracle_esr": oracle[best_id], "oracle_id": best_id,
        "oracle_rerun_esr": rerun,
        "pick_rank_in_oracle": int(sorted(oracle.values()).index(oracle[pick]) + 1),
        "transfer_id": tr.source, "transfer_esr": float(tr.best_val_esr), "transfer_seconds": round(t_transfer, 1),
        "race": tr.model.metadata.get("race", []),
        "fingerprint_pick": stage1.id, "fingerprint_pick_esr": oracle[stage1.id],
        "random_esr": float(np.mean(list(oracle.values()))), "scratch_esr": float(scratch.best_val_esr),
        "suggest_seconds": round(t_suggest, 3), "all_esr": oracle,
        "top3": [s.id for s in sugg], "best_of_top3_esr": min(oracle[s.id] for s in sugg),
    }


def add_top3(zoo: Zoo, rows: list[dict], *, seconds: float) -> None:
    """Fill ``top3`` / ``best_of_top3_esr`` in rows of an older run (suggest is deterministic)."""
    for i, r in enumerate(rows):
        if "top3" not in r:
            cap = render_capture(get_device(r["device"]), seconds=seconds, seed=1000 + i)
            r["top3"] = [s.id for s in zoo.suggest(cap, top=3)]
            r["best_of_top3_esr"] = min(r["all_esr"][mid] for mid in r["top3"])


def summarize(rows: list[dict]) -> dict:
    ratio = np.array([r["pick_esr"] / r["oracle_esr"] for r in rows])
    out = {
        "targets": len(rows),
        "top1_category_accuracy": float(np.mean([r["top1_category_ok"] for r in rows])),
        "top3_category_accuracy": float(np.mean([r["top3_category_ok"] for r in rows])),
        "pick_within_10pct_of_oracle": float(np.mean(ratio <= 1.10)),
        "median_pick_over_oracle": float(np.median(ratio)),
        "best_of_top3_within_10pct_of_oracle": float(np.mean([r["best_of_top3_esr"] <= 1.10 * r["oracle_esr"]
                                                              for r in rows])),
        "median_best_of_top3_over_oracle": float(np.median([r["best_of_top3_esr"] / r["oracle_esr"] for r in rows])),
        "pick_beats_scratch": float(np.mean([r["pick_esr"] < r["scratch_esr"] for r in rows])),
        "pick_beats_random": float(np.mean([r["pick_esr"] < r["random_esr"] for r in rows])),
        "fingerprint_pick_beats_random": float(np.mean([r["fingerprint_pick_esr"] < r["random_esr"] for r in rows])),
    }
    if all("transfer_esr" in r for r in rows):
        t = np.array([r["transfer_esr"] / r["oracle_esr"] for r in rows])
        noise = np.array([max(r["oracle_rerun_esr"], r["oracle_esr"]) / min(r["oracle_rerun_esr"], r["oracle_esr"])
                          for r in rows])
        out.update({
            "transfer_within_10pct_of_oracle": float(np.mean(t <= 1.10)),
            "median_transfer_over_oracle": float(np.median(t)),
            "transfer_beats_scratch": float(np.mean([r["transfer_esr"] < r["scratch_esr"] for r in rows])),
            "transfer_beats_random": float(np.mean([r["transfer_esr"] < r["random_esr"] for r in rows])),
            "median_oracle_rerun_spread": float(np.median(noise)),
            "oracle_rerun_spread_over_10pct": float(np.mean(noise > 1.10)),
        })
    return out


def markdown(rows: list[dict], summary: dict, setup: str) -> str:
    has_tr = all("transfer_esr" in r for r in rows) and "median_transfer_over_oracle" in summary
    lines = [f"Setup: {setup}.", "",
             "| held-out device | category | stage-2 pick (category) | pick ESR "
             + ("| `transfer` (race winner) ESR " if has_tr else "| best of top 3 ")
             + "| oracle ESR (model) " + ("| oracle re-run " if has_tr else "")
             + "| pick / oracle " + ("| transfer / oracle " if has_tr else "") + "| random pick ESR | scratch ESR |",
             "|---|---|---|---|---|---|---|" + ("---|---|" if has_tr else "") + "---|---|"]
    for r in rows:
        mid = (f"| {r['transfer_esr']:.4f} ({r['transfer_id']}) " if has_tr else f"| {r['best_of_top3_esr']:.4f} ")
        mid += f"| {r['oracle_esr']:.4f} ({r['oracle_id']}) "
        mid += f"| {r['oracle_rerun_esr']:.4f} " if has_tr else ""
        mid += f"| {r['pick_esr'] / r['oracle_esr']:.2f} "
        mid += f"| {r['transfer_esr'] / r['oracle_esr']:.2f} " if has_tr else ""
        lines.append(f"| {r['device']} | {r['category']} | {r['pick']} ({r['pick_category']}) | {r['pick_esr']:.4f} "
                     + mid + f"| {r['random_esr']:.4f} | {r['scratch_esr']:.4f} |")
    s = summary
    lines += ["", f"Top-1 category accuracy {s['top1_category_accuracy']:.0%}, top-3 {s['top3_category_accuracy']:.0%}. "
                  f"Stage-2 pick: within 10 % of the oracle for {s['pick_within_10pct_of_oracle']:.0%} of targets "
                  f"(median pick/oracle {s['median_pick_over_oracle']:.2f}), beats scratch on "
                  f"{s['pick_beats_scratch']:.0%} and a random pick on {s['pick_beats_random']:.0%} "
                  f"(fingerprint-only pick beats random on {s['fingerprint_pick_beats_random']:.0%}); the best of "
                  f"the top 3 is within 10 % for {s['best_of_top3_within_10pct_of_oracle']:.0%} "
                  f"(median {s['median_best_of_top3_over_oracle']:.2f})."]
    if has_tr:
        lines += ["", f"`Zoo.transfer` (race of the top 3 for 2 epochs, then the winner, same epoch budget): within "
                      f"10 % of the oracle for {s['transfer_within_10pct_of_oracle']:.0%} of targets (median "
                      f"transfer/oracle {s['median_transfer_over_oracle']:.2f}), beats scratch on "
                      f"{s['transfer_beats_scratch']:.0%} and a random pick on {s['transfer_beats_random']:.0%}. "
                      f"Noise floor: the oracle's own model fine-tuned again with another shuffling seed differs "
                      f"from its first run by a median factor of {s['median_oracle_rerun_spread']:.2f}, and by more "
                      f"than 10 % for {s['oracle_rerun_spread_over_10pct']:.0%} of targets."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 targets, 6 s, 4 epochs (< 2 min)")
    parser.add_argument("--zoo", default=None, help="zoo directory (default: the bundled zoo)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "selection.json"))
    parser.add_argument("--report", action="store_true", help="re-summarise the JSON in --out without training")
    args = parser.parse_args(argv)
    zoo = Zoo.open(args.zoo) if args.zoo else Zoo.default()
    if args.report:
        data = json.loads(Path(args.out).read_text())
        add_top3(zoo, data["rows"], seconds=float(data.get("capture_seconds", args.seconds or 10.0)))
        data["summary"] = summarize(data["rows"])
        Path(args.out).write_text(json.dumps(data, indent=2) + "\n")
        print(markdown(data["rows"], data["summary"], data["setup"]))
        return 0
    targets = QUICK_TARGETS if args.quick else HELD_OUT
    seconds = args.seconds or (6.0 if args.quick else 10.0)
    epochs = args.epochs or (4 if args.quick else 15)
    t0 = time.perf_counter()
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for i, device in enumerate(targets):
        rows.append(evaluate(zoo, device, seconds=seconds, epochs=epochs, seed=1000 + i))
        r = rows[-1]
        print(f"{device:15s} pick {r['pick']:20s} ESR {r['pick_esr']:.4f}  oracle {r['oracle_esr']:.4f} "
              f"({r['oracle_id']})  random {r['random_esr']:.4f}  scratch {r['scratch_esr']:.4f}", flush=True)
        summary = summarize(rows)
        setup = (f"{len(zoo)}-model zoo, {len(rows)} of {len(targets)} held-out devices, {seconds:g} s captures "
                 f"(80 % training), {epochs} epochs per run, every zoo model fine-tuned in one vmapped run "
                 f"(the oracle)")
        out.write_text(json.dumps({"setup": setup, "summary": summary, "rows": rows, "capture_seconds": seconds,
                                   "seconds": round(time.perf_counter() - t0, 1)}, indent=2) + "\n")
    print(markdown(rows, summary, setup))
    print(f"wrote {out} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
