"""Speed of tonezoo against a PyTorch reference, side by side in one run on one machine.

Measures
  1. training seconds/epoch of the AGAM recipe (LSTM-20, 30 s at 44.1 kHz, segments of 22,050,
     mini-batches of up to 50 balanced over the epoch, warm-up 200, TBPTT 1,000, Adam 5e-3 +
     weight decay 1e-4, ESR + DC loss) in tonezoo (JAX) and in PyTorch ``nn.LSTM``;
  2. batch-1 inference real-time factor of 10 s at 48 kHz (tonezoo vs PyTorch, 1 thread);
  3. the zoo's stage-2 re-rank: zero-shot ESR of 64 LSTM-20 models over 5 s, vmapped, against
     a PyTorch loop over the models;
  4. ``tonezoo suggest`` wall time on a 60 s capture, cold (new process) and warm (when the zoo exists).

Usage::

    python benchmarks/speed.py            # full
    python benchmarks/speed.py --quick    # smaller sizes, for CI (< 1 min)

Writes ``benchmarks/results/speed.json`` (``speed_quick.json`` with --quick) and prints ratios.
PyTorch is an optional extra (``pip install torch==2.13.0``); without it the reference columns are
skipped and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def make_data(seconds: float, sr: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A DI-like signal through a soft clipper (content does not matter for speed)."""
    import scipy.signal as ss
    try:
        from tonezoo.signals import synth_di
        x = synth_di(seconds, sr, seed=seed)
    except Exception:  # pragma: no cover - older trees
        rng = np.random.default_rng(seed)
        x = (0.3 * rng.standard_normal(int(seconds * sr))).astype(np.float32)
    b, a = ss.butter(2, [300 / (sr / 2), 3000 / (sr / 2)], "band")
    y = (np.tanh(5 * ss.lfilter(b, a, x)) * 0.5 + 0.3 * x).astype(np.float32)
    return x.astype(np.float32), y


# ------------------------------------------------------------------------------------------
# tonezoo
# ------------------------------------------------------------------------------------------
def tonezoo_train_epoch(x, y, sr, epochs: int) -> dict:
    from tonezoo.capture import Capture
    from tonezoo.model import ModelConfig
    from tonezoo.train import train
    n = len(x)
    cap = Capture.from_arrays(np.concatenate([x, x[: n // 4]]), np.concatenate([y, y[: n // 4]]), sr,
                              align=False, val_fraction=0.2, name="speed")
    t0 = time.perf_counter()
    res = train(cap, model_config=ModelConfig(hidden_size=20, sample_rate=sr), max_epochs=epochs,
                val_every=10 ** 6, progress=False)
    wall = time.perf_counter() - t0
    secs = [h["seconds"] for h in res.history]
    per_epoch = np.diff(secs)  # secs[0] = 0 before the first epoch
    return {"first_epoch_s": float(per_epoch[0]), "steady_epoch_s": float(np.median(per_epoch[1:])),
            "epochs": epochs, "wall_s": wall, "train_seconds_audio": len(cap.train_x) / sr}


def tonezoo_infer_rtf(x, sr) -> dict:
    from tonezoo.model import Model, ModelConfig
    m = Model.create(ModelConfig(hidden_size=20, sample_rate=sr), seed=0)
    m.process(x[: len(x)])  # compile
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        m.process(x)
        times.append(time.perf_counter() - t0)
    t = min(times)
    return {"seconds": t, "realtime_factor": len(x) / sr / t}


def tonezoo_rerank(x, y, sr, n_models: int) -> dict:
    import jax
    import jax.numpy as jnp
    from tonezoo.model import ModelConfig, apply, init, stack_params
    cfg = ModelConfig(hidden_size=20, sample_rate=sr)
    stacked = stack_params([init(cfg, i) for i in range(n_models)])
    xj, yj = jnp.asarray(x)[None], jnp.asarray(y)

    @jax.jit
    def esrs(p):
        yh, _ = jax.vmap(lambda q: apply(q, xj, config=cfg))(p)
        err = jnp.mean((yh[:, 0] - yj) ** 2, axis=-1)
        return err / (jnp.mean(yj ** 2) + 1e-5)

    esrs(stacked).block_until_ready()
    t0 = time.perf_counter()
    esrs(stacked).block_until_ready()
    return {"seconds": time.perf_counter() - t0, "models": n_models, "audio_seconds": len(x) / sr}


# ------------------------------------------------------------------------------------------
# PyTorch reference (same recipe)
# ------------------------------------------------------------------------------------------
def torch_available() -> bool:
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def torch_train_epoch(x, y, sr, epochs: int, threads: int = 2) -> dict:
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    seg, bs, warm, chunk = 22050, 50, 200, 1000
    n_seg = len(x) // seg
    xs = torch.tensor(x[: n_seg * seg].reshape(n_seg, seg))
    ys = torch.tensor(y[: n_seg * seg].reshape(n_seg, seg))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rec = torch.nn.LSTM(1, 20)
            self.lin = torch.nn.Linear(20, 1)

        def forward(self, u, state=None):
            out, state = self.rec(u, state)
            return self.lin(out) + u[:, :, :1], state

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=5e-3, weight_decay=1e-4)

    def loss_fn(yt, yh):
        energy = torch.mean(yt ** 2) + 1e-5
        esr_ = torch.mean((yt - yh) ** 2) / energy
        dc = torch.mean((torch.mean(yt, 0) - torch.mean(yh, 0)) ** 2) / energy
        return 0.75 * esr_ + 0.25 * dc

    n_batches = -(-n_seg // bs)
    times = []
    for ep in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n_seg)
        for b in range(n_batches):
            idx = perm[b::n_batches]  # balanced batches, as tonezoo
            xb = xs[idx].T.unsqueeze(-1)  # (T, B, 1)
            yb = ys[idx].T.unsqueeze(-1)
            with torch.no_grad():
                _, state = net(xb[:warm])
            for s in range(warm, seg, chunk):
                opt.zero_grad()
                yh, state = net(xb[s:s + chunk], state)
                loss = loss_fn(yb[s:s + chunk], yh)
                loss.backward()
                opt.step()
                state = tuple(t.detach() for t in state)
        times.append(time.perf_counter() - t0)
    return {"first_epoch_s": times[0], "steady_epoch_s": float(np.median(times[1:] if len(times) > 1 else times)),
            "epochs": epochs, "threads": threads}


def torch_infer_rtf(x, sr, threads: int = 1) -> dict:
    import torch
    torch.set_num_threads(threads)
    rec, lin = torch.nn.LSTM(1, 20), torch.nn.Linear(20, 1)
    u = torch.tensor(x)[:, None, None]
    times = []
    with torch.no_grad():
        for _ in range(3):
            t0 = time.perf_counter()
            out, _ = rec(u)
            _ = lin(out) + u
            times.append(time.perf_counter() - t0)
    t = min(times)
    return {"seconds": t, "realtime_factor": len(x) / sr / t, "threads": threads}


def torch_rerank(x, y, sr, n_models: int, threads: int = 2) -> dict:
    import torch
    torch.set_num_threads(threads)
    models = [(torch.nn.LSTM(1, 20), torch.nn.Linear(20, 1)) for _ in range(n_models)]
    u = torch.tensor(x)[:, None, None]
    yt = torch.tensor(y)
    t0 = time.perf_counter()
    with torch.no_grad():
        for rec, lin in models:
            out, _ = rec(u)
            yh = (lin(out) + u)[:, 0, 0]
            _ = torch.mean((yh - yt) ** 2) / (torch.mean(yt ** 2) + 1e-5)
    return {"seconds": time.perf_counter() - t0, "models": n_models, "threads": threads}


# ------------------------------------------------------------------------------------------
def suggest_times(seconds: float) -> dict | None:
    """Wall time of `tonezoo suggest` on a capture: a cold process, then warm in-process."""
    try:
        from tonezoo.zoo import Zoo
        zoo = Zoo.default()
        if not zoo.list():
            return None
    except Exception as e:  # the zoo is optional for this benchmark
        return {"skipped": f"no default zoo ({e})"}
    import soundfile as sf
    sr = 44100
    x, y = make_data(seconds, sr, seed=3)
    with tempfile.TemporaryDirectory() as d:
        sf.write(f"{d}/in.wav", x, sr, subtype="PCM_24")
        sf.write(f"{d}/out.wav", y, sr, subtype="PCM_24")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tonezoo.cli", "suggest", f"{d}/in.wav", f"{d}/out.wav", "--json"],
                       check=True, capture_output=True)
        cold = time.perf_counter() - t0
        from tonezoo.capture import load_capture
        cap = load_capture(f"{d}/in.wav", f"{d}/out.wav")
        zoo.suggest(cap)
        t0 = time.perf_counter()
        cap = load_capture(f"{d}/in.wav", f"{d}/out.wav")
        zoo.suggest(cap)
        warm = time.perf_counter() - t0
    return {"capture_seconds": seconds, "cold_s": cold, "warm_s": warm}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (CI)")
    ap.add_argument("--out", default=None, help="JSON output path")
    args = ap.parse_args(argv)
    q = args.quick
    sr = 44100
    train_s = 8.0 if q else 30.0
    epochs = 3 if q else 5
    x, y = make_data(train_s, sr)
    have_torch = torch_available()
    report: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                "python": platform.python_version()}, "quick": q}
    import jax
    report["machine"]["jax"] = jax.__version__
    report["machine"]["jax_backend"] = jax.default_backend()
    if have_torch:
        import torch
        report["machine"]["torch"] = torch.__version__

    print(f"1. training, LSTM-20, {train_s:.0f} s at {sr} Hz, {epochs} epochs")
    tz = tonezoo_train_epoch(x, y, sr, epochs)
    report["train"] = {"tonezoo": tz}
    line = f"   tonezoo  {tz['steady_epoch_s']:.3f} s/epoch (first epoch incl. compile {tz['first_epoch_s']:.2f} s)"
    if have_torch:
        runs = [torch_train_epoch(x, y, sr, epochs, threads=t) for t in ((1,) if q else (1, 2))]
        th = min(runs, key=lambda r: r["steady_epoch_s"])  # PyTorch at its best thread count
        report["train"]["torch"] = th
        report["train"]["torch_by_threads"] = runs
        report["train"]["speedup"] = th["steady_epoch_s"] / tz["steady_epoch_s"]
        for r in runs:
            line += f"\n   PyTorch  {r['steady_epoch_s']:.3f} s/epoch ({r['threads']} thread(s))"
        line += f"\n   -> tonezoo is {report['train']['speedup']:.2f}x faster than PyTorch's best"
    print(line)

    sr48 = 48000
    xi, _ = make_data(3.0 if q else 10.0, sr48, seed=1)
    print(f"2. batch-1 inference, {len(xi) / sr48:.0f} s at 48 kHz")
    ti = tonezoo_infer_rtf(xi, sr48)
    report["inference"] = {"tonezoo": ti}
    line = f"   tonezoo  {ti['realtime_factor']:.1f}x real time"
    if have_torch:
        thi = torch_infer_rtf(xi, sr48)
        report["inference"]["torch"] = thi
        report["inference"]["speedup"] = thi["seconds"] / ti["seconds"]
        line += f"\n   PyTorch  {thi['realtime_factor']:.1f}x real time -> tonezoo is {report['inference']['speedup']:.2f}x"
    print(line)

    n_models = 16 if q else 64
    xr, yr = make_data(5.0, sr, seed=2)
    print(f"3. stage-2 re-rank: {n_models} models over 5 s")
    tr = tonezoo_rerank(xr, yr, sr, n_models)
    report["rerank"] = {"tonezoo": tr}
    line = f"   tonezoo  {tr['seconds']:.3f} s (vmap)"
    if have_torch:
        thr = torch_rerank(xr, yr, sr, n_models, threads=1 if q else 2)
        report["rerank"]["torch"] = thr
        report["rerank"]["speedup"] = thr["seconds"] / tr["seconds"]
        line += f"\n   PyTorch  {thr['seconds']:.3f} s (loop) -> tonezoo is {report['rerank']['speedup']:.2f}x"
    print(line)

    if not q:
        print("4. tonezoo suggest on a 60 s capture")
        st = suggest_times(60.0)
        report["suggest"] = st
        print(f"   {st}")
    if not have_torch:
        print("PyTorch is not installed: reference columns skipped (pip install torch==2.13.0)")
    out = Path(args.out) if args.out else RESULTS / ("speed_quick.json" if q else "speed.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
