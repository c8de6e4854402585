"""How well a zoo's models of virtual devices play real DI: each against its own device.

Every zoo entry whose virtual device :func:`tonezoo.zoo.build.entry_device` can rebuild plays the
eight real DI recordings of ``../shared/fixtures/di`` (read from their WAV files, first
``--seconds`` of each, resampled to the model's rate as ``tonezoo process`` does) and one fresh
synthetic performance (:func:`tonezoo.signals.synth_di`, a seed no entry trained on); the device
plays the same audio, and the ESR of model against device is reported per entry, and as medians
per category and over all entries. Several ``--zoo`` folders are scored side by side (e.g. a zoo
before and after :func:`tonezoo.zoo.build.retune`), with the ratio of their medians.

Usage::

    python benchmarks/zoo_real_di.py --zoo zoo_index [--zoo OTHER] [--seconds 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _targets import FIXTURES, REAL_DI, real_di  # noqa: E402

from tonezoo.devices import render  # noqa: E402
from tonezoo.signals import synth_di  # noqa: E402
from tonezoo.train import esr  # noqa: E402
from tonezoo.zoo import Zoo  # noqa: E402
from tonezoo.zoo.build import entry_device  # noqa: E402

FRESH_SEED = 424_242


def score_zoo(directory: str, seconds: float, log) -> dict[str, dict]:
    """entry id -> {"category", "real": {di: ESR}, "synthetic": ESR} for every re-renderable entry."""
    zoo = Zoo.open(directory)
    out: dict[str, dict] = {}
    inputs: dict[int, dict[str, np.ndarray]] = {}
    t0 = time.perf_counter()
    for e in zoo.list():
        model = zoo.get(e.id)
        found = entry_device(model.metadata)
        if found is None:
            continue
        dev, knobs = found
        sr = model.sample_rate
        if sr not in inputs:
            inputs[sr] = {name: real_di(name, sr, seconds=seconds) for name in REAL_DI}
            inputs[sr]["synthetic"] = synth_di(seconds, sr, seed=FRESH_SEED)
        row = {"category": e.category, "real": {}}
        for name, x in inputs[sr].items():
            y = render(dev, x, sr, knobs or None)
            value = float(esr(y, model.process(x)))
            if name == "synthetic":
                row["synthetic"] = value
            else:
                row["real"][name] = value
        row["real_median"] = float(np.median(list(row["real"].values())))
        out[e.id] = row
        log(f"{e.id:24s} {e.category:13s} real DI median ESR {row['real_median']:.4f}, synthetic "
            f"{row['synthetic']:.4f} ({time.perf_counter() - t0:.0f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", action="append", required=True, help="zoo folder (repeat to compare)")
    ap.add_argument("--seconds", type=float, default=8.0, help="seconds of each DI recording")
    ap.add_argument("--json", default=None, help="write the per-entry figures here")
    args = ap.parse_args(argv)
    if not (FIXTURES / "di").is_dir():
        print(f"no DI recordings at {FIXTURES / 'di'}", file=sys.stderr)
        return 2
    log = lambda m: print(m, flush=True)  # noqa: E731
    scores = {z: score_zoo(z, args.seconds, log) for z in args.zoo}
    ids = [i for i in scores[args.zoo[0]] if all(i in s for s in scores.values())]
    cats = sorted({scores[args.zoo[0]][i]["category"] for i in ids})
    print(f"\nmedian ESR against the device, {len(ids)} entries ({args.seconds:g} s of each of {len(REAL_DI)} real DI "
          "recordings; one fresh synthetic performance)")
    head = "".join(f" | {Path(z).name or z}: real | synthetic" for z in args.zoo)
    print(f"{'category':13s}{head}")
    summary = {}
    for cat in cats + ["all"]:
        sel = [i for i in ids if cat == "all" or scores[args.zoo[0]][i]["category"] == cat]
        row = {z: (float(np.median([scores[z][i]["real_median"] for i in sel])),
                   float(np.median([scores[z][i]["synthetic"] for i in sel]))) for z in args.zoo}
        summary[cat] = {"n": len(sel), **{z: {"real": r, "synthetic": s} for z, (r, s) in row.items()}}
        print(f"{cat:13s}" + "".join(f" | {r:.4f} | {s:.4f}" for r, s in row.values()) + f"   (n={len(sel)})")
    if len(args.zoo) > 1:
        a, b = args.zoo[0], args.zoo[-1]
        better = sum(scores[b][i]["real_median"] < scores[a][i]["real_median"] for i in ids)
        print(f"{b} plays real DI better than {a} for {better} of {len(ids)} entries; median real-DI ESR ratio "
              f"{summary['all'][b]['real'] / summary['all'][a]['real']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"benchmark": "zoo_real_di", "seconds": args.seconds,
                                               "summary": summary, "entries": scores}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
