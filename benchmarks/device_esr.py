"""How well an LSTM-20 learns each category of virtual device, and the spectrogram figure of the bench.

Usage::

    python benchmarks/device_esr.py [--seconds 20] [--epochs 50] [--devices ts9-like,mt2-like,...]
    python benchmarks/device_esr.py --figures        # only docs/figures/devices_spectrograms.png
    python benchmarks/device_esr.py --table          # only the per-device character table

For one device per category (default :data:`DEFAULT_DEVICES`), render ``--seconds`` of synthetic
guitar DI at 44.1 kHz through it (last 20 % for validation), train an LSTM-20 with skip from scratch
with the AGAM recipe for at most ``--epochs`` epochs, and report the validation ESR. Also reports
each device's *nonlinear fraction* (the share of output power no linear filter of the input
explains, ``1 - coherence`` weighted by the output spectrum) as a measure of how hard it is.
Writes ``benchmarks/results/device_esr.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal as ss

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEVICES = ("ts9-like", "mt2-like", "bigmuff-like", "boost", "dynacomp-like", "clean-amp", "ht40-like",
                   "bluesjr-like", "lead-amp")
FIGURE = ROOT / "docs" / "figures" / "devices_spectrograms.png"


def nonlinear_fraction(x: np.ndarray, y: np.ndarray, sample_rate: int) -> float:
    """Share of ``y``'s power not explained by any linear filter of ``x`` (0 for a linear device)."""
    _, coh = ss.coherence(x, y, sample_rate, nperseg=4096)
    _, pyy = ss.welch(y, sample_rate, nperseg=4096)
    return float(1.0 - np.sum(coh * pyy) / np.sum(pyy))


def make_figure(path: Path = FIGURE, *, seconds: float = 4.0, sample_rate: int = 44100, seed: int = 7) -> Path:
    """One grid figure: the DI's spectrogram, then every registered device's for the same DI."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tonezoo.devices import list_devices, render
    from tonezoo.signals import synth_di

    x = synth_di(seconds, sample_rate, seed=seed)
    panels = [("DI (input)", "", x)] + [(d.name, d.category, render(d, x, sample_rate)) for d in list_devices()]
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.6, rows * 1.35), sharex=True, sharey=True,
                             constrained_layout=True)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (name, category, audio) in zip(axes.flat, panels):
        f, t, s = ss.spectrogram(audio, sample_rate, nperseg=2048, noverlap=1536)
        keep = (f >= 40) & (f <= 16000)
        level = 10 * np.log10(s[keep] + 1e-12)
        ax.pcolormesh(t, f[keep], level, vmin=level.max() - 80, vmax=level.max(), shading="auto",
                      cmap="magma", rasterized=True)
        ax.set_yscale("log")
        ax.set_title(f"{name}  ({category})" if category else name, fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[:, 0]:
        ax.set_ylabel("Hz", fontsize=6)
    for ax in axes[-1, :]:
        ax.set_xlabel("s", fontsize=6)
    fig.suptitle(f"Virtual devices: spectrograms for the same synthetic DI (seed {seed}, {sample_rate} Hz)",
                 fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    plt.close(fig)
    from PIL import Image  # matplotlib's own dependency; a 48-colour palette keeps the PNG small
    Image.open(buffer).convert("RGB").quantize(colors=48).save(path, optimize=True)
    return path


def thd(device: str, *, amp: float = 0.3, freq: float = 220.0, sample_rate: int = 44100) -> float:
    """Harmonic-to-fundamental amplitude ratio of a steady ``amp`` sine at ``freq`` Hz."""
    from tonezoo.devices import render

    t = np.arange(int(1.25 * sample_rate)) / sample_rate
    y = render(device, amp * np.sin(2 * np.pi * freq * t), sample_rate)[-sample_rate:].astype(np.float64)
    spec = np.abs(np.fft.rfft(y * np.hanning(sample_rate)))
    bins = np.arange(freq, min(20 * freq, 0.45 * sample_rate), freq).astype(int)
    power = np.array([spec[b - 1:b + 2].max() ** 2 for b in bins])
    return float(np.sqrt(power[1:].sum() / power[0]))


def character_table(*, seconds: float = 60.0, sample_rate: int = 44100) -> str:
    """Markdown table: per device THD, nonlinear fraction, output level and render time."""
    from tonezoo.devices import list_devices, render
    from tonezoo.signals import synth_di

    x = synth_di(seconds, sample_rate, seed=11)
    x_rms = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    x9 = 0.9 * x / np.max(np.abs(x))
    lines = ["| device | THD, 0.3 sine | nonlinear fraction | level vs input | peak, input at 0.9 | "
             f"render {seconds:g} s |", "|---|---|---|---|---|---|"]
    for d in list_devices():
        t0 = time.perf_counter()
        y = render(d, x, sample_rate)
        dt = time.perf_counter() - t0
        level = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) / x_rms)
        lines.append(f"| {d.name} | {thd(d.name):.3f} | {nonlinear_fraction(x, y, sample_rate):.3f} | "
                     f"{level:+.1f} dB | {np.max(np.abs(render(d, x9, sample_rate))):.2f} | {dt:.2f} s |")
    return "\n".join(lines)


def run(devices: list[str], *, seconds: float, epochs: int, seed: int) -> list[dict]:
    """Train one LSTM-20 per device; one result row per device."""
    from tonezoo.devices import get_device, render_capture
    from tonezoo.train import train

    rows = []
    for i, name in enumerate(devices):
        device = get_device(name)
        capture = render_capture(device, seconds=seconds, sample_rate=44100, seed=seed + i)
        t0 = time.perf_counter()
        result = train(capture, max_epochs=epochs, progress=False, seed=seed)
        row = {"device": name, "category": device.category, "design": device.design,
               "nonlinear_fraction": round(nonlinear_fraction(capture.x, capture.y, capture.sample_rate), 4),
               "first_val_esr": round(result.first_val_esr, 5), "best_val_esr": round(result.best_val_esr, 5),
               "best_epoch": result.best_epoch, "epochs": result.epochs, "stop_reason": result.stop_reason,
               "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| device | category | nonlinear fraction | first val ESR | best val ESR | best epoch / epochs | time |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['device']} | {r['category']} | {r['nonlinear_fraction']:.3f} | {r['first_val_esr']:.3f} "
                     f"| **{r['best_val_esr']:.4f}** | {r['best_epoch']} / {r['epochs']} | {r['seconds']:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default=",".join(DEFAULT_DEVICES), help="comma-separated device names")
    parser.add_argument("--seconds", type=float, default=20.0, help="DI length per device (default 20)")
    parser.add_argument("--epochs", type=int, default=50, help="maximum epochs per device (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figures", action="store_true", help="only write the spectrogram figure")
    parser.add_argument("--table", action="store_true", help="only print the device character table")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "device_esr.json"))
    args = parser.parse_args(argv)
    if args.figures:
        path = make_figure()
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
        return 0
    if args.table:
        print(character_table())
        return 0
    rows = run([d.strip() for d in args.devices.split(",") if d.strip()], seconds=args.seconds,
               epochs=args.epochs, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seconds": args.seconds, "sample_rate": 44100, "epochs": args.epochs,
                               "model": "LSTM-20 with skip, from scratch, AGAM recipe", "seed": args.seed,
                               "machine": f"{platform.machine()}, {platform.python_version()}",
                               "results": rows}, indent=2) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
