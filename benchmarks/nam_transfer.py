"""Transfer between NAM WaveNet captures, through WAV files: ``--from auto --arch`` against scratch.

1. **A zoo of WaveNet captures**: ``--presets`` models (feather by default) trained by tonezoo on
   virtual amps (``--devices``, ``--zoo-seconds`` of synthetic DI, ``--zoo-epochs`` epochs, all in
   one vmapped run), plus the shared fixture WaveNets other than the target (added as ``.nam``
   files, as ``tonezoo zoo add`` does).
2. **A target not in the zoo**: a real ``.nam`` capture (default the Tone3000 "Dumble" feather in
   ``../shared/fixtures/models/nam``) plays real DI (``../shared/fixtures/di``): ``--seconds`` of
   it for training, written as WAV files; other DI recordings, rendered separately, are the
   fresh audio.
3. ``tonezoo train DI.wav AMP.wav --arch nam-feather --from auto --zoo ZOO`` and the same with no
   ``--from`` (scratch), the same ``--epochs``, through the command line.
4. ESR of both models on the fresh audio (loaded with ``load_capture`` like the command line does)
   against the target's own output; as a diagnostic also the ESR after the best whole-sample shift
   of the model's output (within +-12 samples), which shows how much of the error is the delay the
   capture's alignment put into the training pair (``latency_samples`` of the training capture).
   ``--score-only`` scores the models already in ``--out`` again.

Usage::

    python benchmarks/nam_transfer.py --out /tmp/nam_transfer       # ~15 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
TRAIN_DI = ("celestial", "john", "power")
FRESH_DI = ("mayer", "pop_punk")
AMPS = ("bluesjr-like", "twin-clean", "plexi-crunch", "ht40-like")


def _di(names: tuple[str, ...], seconds: float | None = None) -> np.ndarray:
    x = np.concatenate([sf.read(SHARED / "di" / f"{n}.wav", dtype="float32")[0] for n in names])
    return x if seconds is None else x[: int(seconds * 48000)]


def _cli(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "tonezoo.cli", *args, "--quiet", "--json"], capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise RuntimeError(f"tonezoo {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def build_zoo(directory: Path, *, preset: str, devices: tuple[str, ...], seconds: float, epochs: int,
              extra_files: list[Path]) -> None:
    """WaveNets of ``preset`` trained on virtual ``devices`` (one vmapped run), plus ``extra_files``.

    The models are built as the default zoo's WaveNet entries are
    (:func:`tonezoo.zoo.build.build_wavenets`), here with NAM's batch of 16 windows and every model kept.
    """
    from tonezoo.zoo import Zoo
    from tonezoo.zoo.build import build_wavenets
    t = time.perf_counter()
    build_wavenets(directory, preset=preset, plan=[(f"{d}-{preset}", d, {}) for d in devices], seconds=seconds,
                   epochs=epochs, batch_size=16, seed=11, max_esr=float("inf"),
                   log=lambda m: print(f"zoo: {m}", flush=True))
    print(f"zoo: {len(devices)} {preset} models in {time.perf_counter() - t:.0f} s", flush=True)
    if extra_files:
        Zoo.open(directory).add_many(list(extra_files))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="working folder (zoo, WAV files, models, result.json)")
    p.add_argument("--target", default=str(SHARED / "models" / "nam" / "t3k_dumble_feather.nam"))
    p.add_argument("--preset", default="nam-feather")
    p.add_argument("--devices", nargs="+", default=list(AMPS))
    p.add_argument("--zoo-seconds", type=float, default=20.0)
    p.add_argument("--zoo-epochs", type=int, default=6)
    p.add_argument("--seconds", type=float, default=30.0, help="seconds of real DI the target is captured on")
    p.add_argument("--epochs", type=int, default=10, help="epochs of both runs (auto and scratch)")
    p.add_argument("--score-only", action="store_true", help="score the models already in --out")
    args = p.parse_args(argv)
    from tonezoo.capture import load_capture
    from tonezoo.formats import import_model
    from tonezoo.model import Model
    from tonezoo.train import esr

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = import_model(args.target)
    zoo_dir = out / "zoo"
    if not args.score_only and not (zoo_dir / "index.json").exists():
        extra = [f for f in sorted((SHARED / "models" / "nam").glob("*.nam"))
                 if f.resolve() != Path(args.target).resolve()]
        build_zoo(zoo_dir, preset=args.preset, devices=tuple(args.devices), seconds=args.zoo_seconds,
                  epochs=args.zoo_epochs, extra_files=extra)
    # the target's capture and the fresh audio, rendered separately, as WAV files
    x = _di(TRAIN_DI, args.seconds)
    fresh = _di(FRESH_DI)
    for name, sig in (("di", x), ("fresh_di", fresh)):
        if not args.score_only:
            sf.write(out / f"{name}.wav", sig, 48000, subtype="FLOAT")
            sf.write(out / f"{name}_target.wav", target.process(sig), 48000, subtype="FLOAT")
    old = json.loads((out / "result.json").read_text())["runs"] if args.score_only else {}
    cap = load_capture(out / "fresh_di.wav", out / "fresh_di_target.wav", align=False, val_fraction=0.5)
    fx = np.concatenate([cap.train_x, cap.val_x])
    fy = np.concatenate([cap.train_y, cap.val_y])
    rows = {}
    for label, extra in (("auto", ["--from", "auto", "--zoo", str(zoo_dir)]), ("scratch", [])):
        t = time.perf_counter()
        if args.score_only:
            row = dict(old[label])
        else:
            summary = _cli("train", str(out / "di.wav"), str(out / "di_target.wav"), "-o", str(out / label),
                           "--overwrite", "--arch", args.preset, "--epochs", str(args.epochs), *extra)
            row = {"val_esr": summary["best_val_esr"], "first_val_esr": summary["first_val_esr"],
                   "from": summary.get("from"), "epochs": summary["epochs"],
                   "seconds": round(time.perf_counter() - t, 1)}
        y_hat = Model.load(out / label).process(fx)
        shifts = {k: esr(fy[12:-12], np.roll(y_hat, -k)[12:-12]) for k in range(-12, 13)}
        best = min(shifts, key=shifts.get)
        row.update({"fresh_esr": esr(fy, y_hat), "fresh_esr_best_shift": shifts[best], "best_shift": best})
        rows[label] = row
        print(f"{label:8s} from {row['from']}: validation ESR {row['first_val_esr']:.4f} -> {row['val_esr']:.4f}; "
              f"fresh-audio ESR {row['fresh_esr']:.4f} (after the best shift, {best:+d} samples: "
              f"{row['fresh_esr_best_shift']:.4f}; {row['epochs']} epochs, {row['seconds']} s)", flush=True)
    latency = load_capture(out / "di.wav", out / "di_target.wav").metadata.get("latency_samples")
    print(f"the training capture's alignment moved the target by {latency} samples", flush=True)
    (out / "result.json").write_text(json.dumps({"target": args.target, "seconds": args.seconds,
                                                 "epochs": args.epochs, "alignment_latency_samples": latency,
                                                 "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
