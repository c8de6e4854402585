"""How the epoch budget changes transfer against scratch on one held-out target of ``selection.py``.

The top 3 suggestions (refit starts, as ``Zoo.transfer`` races them) and two from-scratch LSTMs
(seeds 0 and 1) of the same architecture are fine-tuned side by side (one vmapped run) for each
budget; every run is scored on the capture's validation audio, on its training audio and on
*fresh* audio (another performance through the device, against its raw output), the capture going
through 24-bit WAV files and ``load_capture`` as in ``selection.py``.

Usage::

    python benchmarks/selection_budget.py boost-eq-s500 --epochs 6 40 [--seconds 6]

writes ``benchmarks/results/selection_budget.json``; ``docs/zoo.md`` quotes it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selection import _audio, capture_through_wav, targets  # noqa: E402

from tonezoo.model import Model  # noqa: E402
from tonezoo.train import esr, train_many  # noqa: E402
from tonezoo.warmstart import refit_output  # noqa: E402
from tonezoo.zoo import Zoo  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", help="a target name of selection.py (e.g. boost-eq-s500)")
    ap.add_argument("--epochs", type=int, nargs="+", default=[6, 40])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "selection_budget.json"))
    args = ap.parse_args(argv)
    found = [t for t in targets(quick=False) if t["name"] == args.target]
    if not found:
        ap.error(f"no target {args.target!r}; the names are those selection.py prints")
    t = found[0]
    zoo = Zoo.default()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cap = capture_through_wav(t, args.seconds, Path(tmp))
    fx, fy, _ = _audio(t, min(args.seconds, 10.0), part="fresh")
    ids = [s.id for s in zoo.suggest(cap, top=5)[:3]]
    inits = [refit_output(zoo.start_model(i, cap), cap) for i in ids]
    inits += [Model.create(inits[0].config, seed=s, name=f"scratch{s}") for s in (0, 1)]
    names = ids + ["scratch (seed 0)", "scratch (seed 1)"]
    for epochs in args.epochs:
        t0 = time.perf_counter()
        results = train_many(cap, inits, max_epochs=epochs, patience=epochs + 1, val_every=1, progress=False)
        for name, r in zip(names, results):
            vals = [h["val_esr"] for h in r.history if h.get("val_esr") is not None]
            row = {"target": t["name"], "epochs": epochs, "start": name, "val_esr": float(r.best_val_esr),
                   "best_epoch": int(r.best_epoch), "fresh_esr": float(esr(fy, r.model.process(fx))),
                   "train_esr": float(esr(cap.train_y, r.model.process(cap.train_x))),
                   "val_esr_epoch_2": float(vals[2]) if len(vals) > 2 else None}
            rows.append(row)
            print(f"{epochs:4d} epochs  {name:24s} validation {row['val_esr']:.4f}  fresh {row['fresh_esr']:.4f}  "
                  f"training audio {row['train_esr']:.4f}", flush=True)
        print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    Path(args.out).write_text(json.dumps({"target": t["name"], "seconds": args.seconds, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
