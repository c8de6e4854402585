"""tonezoo's WaveNet against Neural Amp Modeler's own, side by side in one run.

For each preset (standard and feather by default), on the same 30 s of 48 kHz audio (a synthetic
DI through a virtual overdrive):

* **training**: seconds per epoch of NAM's recipe, windows of 8,192 scored samples plus the
  receptive field's context, batch 16, Adam (lr 4e-3), loss MSE + 2e-4 x pre-emphasised
  multi-resolution STFT. NAM: a plain loop over its own PyTorch module and loss functions (one
  thread, as its defaults run on a CPU), the windows cut as NAM's dataset cuts them (one every
  8,192 samples, the last incomplete batch dropped). tonezoo: :func:`tonezoo.train` with its
  WaveNet recipe (the same windows, every sample scored once per epoch), timed over the epochs
  after the first (which compiles);
* **inference**: x real time playing the 30 s (NAM ``model(x, pad_start=True)`` under
  ``torch.no_grad()``; tonezoo ``Model.process``, blocks of 65,536 samples);
* **file check**: the tonezoo model is exported to ``.nam``, NAM loads the file with
  ``init_from_nam`` and plays the audio; the largest difference to tonezoo's output is printed.

Needs the ``bench`` extra (``pip install ".[bench]"``: torch 2.13.0 and neural-amp-modeler
0.13.0). Prints one table and the ratios tonezoo / NAM; ``--json FILE`` writes the numbers.

Usage::

    python benchmarks/nam_speed.py                       # standard and feather, 3 epochs each
    python benchmarks/nam_speed.py --presets nano --epochs 2 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _audio(seconds: float, sr: int = 48000) -> tuple[np.ndarray, np.ndarray]:
    from tonezoo.devices import render_pair
    x, y = render_pair("ts9-like", seconds=seconds, sample_rate=sr, seed=7)[:2]
    return np.asarray(x, np.float32), np.asarray(y, np.float32)


def _nam_windows(x: np.ndarray, y: np.ndarray, nx: int, ny: int, batch: int):
    """NAM's dataset: window i takes x[i ny : i ny + nx - 1 + ny] and scores y[i ny + nx - 1 : ... + ny]."""
    n = (len(x) - nx + 1) // ny
    xs = np.stack([x[i * ny:i * ny + nx - 1 + ny] for i in range(n)])
    ys = np.stack([y[i * ny + nx - 1:i * ny + nx - 1 + ny] for i in range(n)])
    return [(xs[i:i + batch], ys[i:i + batch]) for i in range(0, n - batch + 1, batch)]


def _nam_side(doc: dict, x: np.ndarray, y: np.ndarray, epochs: int, ny: int, batch: int,
              device: str = "cpu") -> dict:
    import torch
    from nam.models._from_nam import init_from_nam
    from nam.models.losses import apply_pre_emphasis_filter, multi_resolution_stft_loss
    from nam._dependencies.auraloss.freq import MultiResolutionSTFTLoss

    if device == "cpu":
        torch.set_num_threads(1)

    def sync() -> None:
        if device != "cpu":
            torch.cuda.synchronize()

    torch.manual_seed(0)
    net = init_from_nam(json.loads(json.dumps(doc))).to(device)
    # inference first, from the file's weights: the same output as tonezoo's?
    net.eval()
    xt = torch.from_numpy(x).to(device)
    with torch.no_grad():
        net(xt[:48000], pad_start=True)                             # warm-up
        sync()
        t = time.perf_counter()
        y_nam = net(xt, pad_start=True)
        sync()
        infer_s = time.perf_counter() - t
        y_nam = y_nam.cpu().numpy()
    net.train()
    batches = _nam_windows(x, y, net.receptive_field, ny, batch)
    opt = torch.optim.Adam(net.parameters(), lr=4e-3)
    mrstft = MultiResolutionSTFTLoss()
    times = []
    for _ in range(epochs):
        sync()
        t = time.perf_counter()
        for xb, yb in batches:
            xb, yb = torch.from_numpy(xb).to(device), torch.from_numpy(yb).to(device)
            preds = net(xb, pad_start=False)
            loss = torch.nn.functional.mse_loss(preds, yb) + 2e-4 * multi_resolution_stft_loss(
                apply_pre_emphasis_filter(preds, 0.85), apply_pre_emphasis_filter(yb, 0.85), loss_func=mrstft)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync()
        times.append(time.perf_counter() - t)
    return {"epoch_s": float(np.median(times)), "epoch_times": times, "infer_s": infer_s,
            "x_realtime": len(x) / 48000 / infer_s, "windows": len(batches) * batch, "y": y_nam}


def _tonezoo_side(preset: str, x: np.ndarray, y: np.ndarray, epochs: int, ny: int, batch: int):
    from tonezoo.architectures import wavenet as wn
    from tonezoo.capture import Capture
    from tonezoo.model import Model, init
    from tonezoo.train import train

    config = wn.model_config(preset)
    model = Model(config, init(config, 0), {"name": f"bench-{preset}"})
    model.process(x[:65536])                                            # compile
    t = time.perf_counter()
    y_tz = model.process(x)
    infer_s = time.perf_counter() - t
    r1 = wn.receptive_field(config) - 1
    n = len(x)
    # the whole audio trains (a small validation tail only, so both sides see the same windows)
    cap = Capture.from_arrays(np.concatenate([x, x[:48000]]), np.concatenate([y, y[:48000]]), 48000,
                              name="bench", align=False, val_fraction=48000 / (n + 48000))
    # one epoch more than timed on either side: the first compiles, and the last is validated (a run
    # always validates its last epoch), so neither is timed
    result = train(cap, init=model, max_epochs=epochs + 2, val_every=10_000, progress=False,
                   segment_length=ny + r1, warmup=r1, batch_size=batch)
    secs = [row["seconds"] for row in result.history]                   # row 0: before training
    times = list(np.diff(secs[1:-1]))                                    # epochs 2 .. epochs + 1
    return model, y_tz, {"epoch_s": float(np.median(times)), "epoch_times": [float(t) for t in times],
                         "first_epoch_s": float(secs[1] - secs[0]), "infer_s": infer_s,
                         "x_realtime": n / 48000 / infer_s}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] + " Needs the bench extra: "
                                "pip install '.[bench]' (torch and neural-amp-modeler).")
    p.add_argument("--presets", nargs="+", default=["standard", "feather"],
                   choices=["standard", "lite", "feather", "nano"], help="NAM presets (default: standard feather)")
    p.add_argument("--seconds", type=float, default=30.0, help="audio at 48 kHz (default 30)")
    p.add_argument("--epochs", type=int, default=3,
                   help="timed epochs per side (default 3; tonezoo runs two more: one compiles, the last is validated)")
    p.add_argument("--window", type=int, default=8192,
                   help="scored samples per training window, after the receptive field's context (default 8192)")
    p.add_argument("--batch", type=int, default=16, help="windows per mini-batch (default 16)")
    p.add_argument("--nam-device", default="cpu", choices=["cpu", "cuda"],
                   help="where NAM's PyTorch side runs (default cpu: one thread, NAM's CPU default); tonezoo runs on "
                        "JAX's default backend")
    p.add_argument("--json", default=None, metavar="FILE", help="write the figures (and each epoch's time) here")
    args = p.parse_args(argv)
    try:
        import nam  # noqa: F401
        import torch
    except ImportError:
        print("needs the bench extra: pip install '.[bench]' (torch 2.13.0, neural-amp-modeler 0.13.0)",
              file=sys.stderr)
        return 2
    import jax
    from tonezoo.formats import export_model

    x, y = _audio(args.seconds)
    print(f"{args.seconds:g} s at 48 kHz; windows {args.window} + receptive field, batch {args.batch}, Adam; "
          f"NAM {nam.__version__} / torch {torch.__version__} "
          f"({'1 thread' if args.nam_device == 'cpu' else torch.cuda.get_device_name()}) vs tonezoo on JAX {jax.__version__} "
          f"({jax.devices()[0].platform}, {os.cpu_count()} CPU cores)", flush=True)
    rows = []
    for preset in args.presets:
        model, y_tz, tz = _tonezoo_side(f"nam-{preset}", x, y, args.epochs, args.window, args.batch)
        with tempfile.TemporaryDirectory() as tmp:
            path = export_model(model, Path(tmp) / "bench.nam", format="nam")
            doc = json.loads(path.read_text())
        nm = _nam_side(doc, x, y, args.epochs, args.window, args.batch, args.nam_device)
        diff = float(np.max(np.abs(nm.pop("y") - y_tz)))
        row = {"preset": preset, "tonezoo": tz, "nam": nm, "file_max_abs_diff": diff,
               "train_speedup": nm["epoch_s"] / tz["epoch_s"], "infer_speedup": tz["x_realtime"] / nm["x_realtime"]}
        rows.append(row)
        print(f"{preset:9s} train s/epoch: NAM {nm['epoch_s']:7.2f}  tonezoo {tz['epoch_s']:6.2f}  "
              f"-> {row['train_speedup']:.2f}x | inference x real time: NAM {nm['x_realtime']:6.1f}  "
              f"tonezoo {tz['x_realtime']:6.1f}  -> {row['infer_speedup']:.2f}x | exported .nam in NAM: "
              f"max |diff| {diff:.1e} | tonezoo first epoch (compiling) {tz['first_epoch_s']:.1f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"seconds": args.seconds, "nam_device": args.nam_device,
                                               "tonezoo_backend": jax.devices()[0].platform,
                                               "tonezoo_device": str(jax.devices()[0].device_kind),
                                               "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
