"""Training speed of the custom-VJP LSTM (:mod:`tonezoo.architectures.lstm`) against JAX autodiff of ``model.apply``.

Measures, for LSTM-20 with skip (the AGAM recipe):

1. one TBPTT chunk update: ``jax.value_and_grad`` of the ESR + DC loss over 1,000 samples x 30
   segments (one jitted call; best of several repeats);
2. a whole epoch: ``tonezoo.architectures.training.tbptt_epoch`` with either model function (one program per epoch, scan over
   mini-batches, scan over TBPTT chunks, one Adam update per chunk) on 30 s at 44.1 kHz
   (60 segments, 2 balanced batches of 30), single model and vmapped over 8 models;
3. batch-1 inference of 10 s at 48 kHz (forward only);
4. the PyTorch ``nn.LSTM`` epoch of the same recipe (``benchmarks/speed.py``), when torch is installed.

Usage::

    python benchmarks/fused_speed.py            # full
    python benchmarks/fused_speed.py --quick    # fewer repeats, 8 s of training audio

Writes ``benchmarks/results/fused_speed.json``. Times are the best of ``--repeats`` runs because
the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from tonezoo.architectures.lstm import apply_generic, apply_single_lstm
from tonezoo.architectures.training import tbptt_epoch
from tonezoo.model import ModelConfig, init, initial_state, split_params, stack_params
from tonezoo.train import TrainConfig, _batches, _loss, _merge, _optimizer, _segments, esr_dc_loss

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(RESULTS.parent))  # benchmarks/speed.py holds the PyTorch reference
APPLIES = {"autodiff": apply_generic, "fused": apply_single_lstm}


def make_data(seconds: float, sr: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise through a band-passed soft clipper (content does not matter for speed)."""
    import scipy.signal as ss
    rng = np.random.default_rng(seed)
    x = (0.3 * rng.standard_normal(int(seconds * sr))).astype(np.float32)
    b, a = ss.butter(2, [300 / (sr / 2), 3000 / (sr / 2)], "band")
    y = (np.tanh(5 * ss.lfilter(b, a, x)) * 0.5 + 0.3 * x).astype(np.float32)
    return x, y


def best_time(fn, repeats: int) -> dict:
    """Best wall and process-CPU seconds of ``fn()`` (which must block) over ``repeats`` runs.

    On a shared machine the CPU time is the steadier number: it leaves out the time this
    process waited for a core.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return {"wall_s": min(wall), "cpu_s": min(cpu)}


def bench_chunk(name: str, mcfg: ModelConfig, repeats: int, batch: int = 30, length: int = 1000) -> dict:
    """Seconds for one jitted value_and_grad of the loss over one TBPTT chunk."""
    apply_fn = APPLIES[name]
    params = init(mcfg, 0)
    tr, frozen = split_params(params, mcfg)
    rng = np.random.default_rng(0)
    x = jnp.asarray(0.3 * rng.standard_normal((batch, length)), jnp.float32)
    y = jnp.tanh(2 * x)
    m = jnp.ones_like(x)
    state = initial_state(params, (batch,), config=mcfg)

    @jax.jit
    def step(tr, state):
        def loss_fn(tr):
            yh, st = apply_fn(_merge(tr, frozen), x, state, None, config=mcfg)
            return esr_dc_loss(y, yh, m, pre_emphasis=None, esr_weight=0.75, dc_weight=0.25)[0], st
        return jax.value_and_grad(loss_fn, has_aux=True)(tr)

    jax.block_until_ready(step(tr, state))
    return best_time(lambda: jax.block_until_ready(step(tr, state)), repeats)


def bench_epoch(name: str, mcfg: ModelConfig, tcfg: TrainConfig, xs, ys, repeats: int, n_models: int = 1
                ) -> dict:
    """Compile + first epoch seconds and best steady epoch seconds for ``n_models`` models."""
    tx = _optimizer(tcfg)
    fn = partial(tbptt_epoch, config=mcfg, tcfg=tcfg, optimizer=tx, loss=_loss(tcfg), apply_fn=APPLIES[name])
    if n_models == 1:
        tr, frozen = split_params(init(mcfg, 0), mcfg)
        opt = tx.init(tr)
        lr = jnp.float32(tcfg.lr)
        run = jax.jit(fn)
    else:
        splits = [split_params(init(mcfg, i), mcfg) for i in range(n_models)]
        tr = stack_params([s[0] for s in splits])
        frozen = stack_params([s[1] for s in splits])
        opt = jax.vmap(tx.init)(tr)
        lr = jnp.full((n_models,), tcfg.lr, jnp.float32)
        run = jax.jit(jax.vmap(fn, in_axes=(0, 0, 0, None, None, None, None, 0)))
    xb, yb, mb = _batches(xs, ys, tcfg.batch_size, jax.random.PRNGKey(1))
    t0 = time.perf_counter()
    jax.block_until_ready(run(tr, frozen, opt, xb, yb, mb, None, lr))
    first = time.perf_counter() - t0
    steady = best_time(lambda: jax.block_until_ready(run(tr, frozen, opt, xb, yb, mb, None, lr)), repeats)
    return {"first_call_s": first, **steady}


def bench_infer(name: str, mcfg: ModelConfig, x: np.ndarray, repeats: int) -> dict:
    """Seconds for batch-1 forward over ``x`` (one jitted call)."""
    apply_fn = APPLIES[name]
    params = init(mcfg, 0)
    run = jax.jit(lambda p, u: apply_fn(p, u, None, None, config=mcfg)[0])
    xj = jnp.asarray(x)
    jax.block_until_ready(run(params, xj))
    return best_time(lambda: jax.block_until_ready(run(params, xj)), repeats)


def torch_epoch(x: np.ndarray, y: np.ndarray, sr: int, repeats: int) -> dict | None:
    """The same recipe in PyTorch ``nn.LSTM`` (``benchmarks/speed.py``), 1 and 2 threads, if installed."""
    try:
        import speed
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch reference skipped (pip install torch==2.13.0)")
        return None
    out = {}
    for threads in (1, 2):
        c0 = time.process_time()
        r = speed.torch_train_epoch(x, y, sr, epochs=repeats + 1, threads=threads)
        out[f"threads_{threads}"] = {"steady_wall_s": r["steady_epoch_s"],
                                     "cpu_s_per_epoch": (time.process_time() - c0) / (repeats + 1)}
        print(f"PyTorch nn.LSTM epoch, {threads} thread(s): {r['steady_epoch_s']:.4f} s wall (median of steady epochs)")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 s of training audio, fewer repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (best is kept)")
    ap.add_argument("--models", type=int, default=8, help="models in the vmapped epoch")
    ap.add_argument("--only", choices=("chunk", "epoch", "many", "infer", "torch"), action="append",
                    help="run only these parts (repeatable)")
    ap.add_argument("--out", default=None, help="JSON output path")
    args = ap.parse_args(argv)
    q = args.quick
    reps = args.repeats or (3 if q else 7)
    parts = set(args.only or ("chunk", "epoch", "many", "infer", "torch"))
    sr = 44100
    mcfg = ModelConfig(hidden_size=20, sample_rate=sr)
    tcfg = TrainConfig(batch_size=30)
    report: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "jax": jax.__version__},
                    "repeats": reps}

    def compare(key: str, label: str, fn) -> None:
        a, f = (fn(name) for name in APPLIES)
        report[key] = {"autodiff": a, "fused": f, "speedup_wall": a["wall_s"] / f["wall_s"],
                       "speedup_cpu": a["cpu_s"] / f["cpu_s"]}
        line = (f"{label}:\n   autodiff {a['wall_s']:.4f} s wall, {a['cpu_s']:.4f} s CPU"
                f"\n   fused    {f['wall_s']:.4f} s wall, {f['cpu_s']:.4f} s CPU"
                f"  -> {a['wall_s'] / f['wall_s']:.2f}x wall, {a['cpu_s'] / f['cpu_s']:.2f}x CPU")
        if "first_call_s" in a:
            line += f"\n   first call incl. compile: {a['first_call_s']:.2f} s / {f['first_call_s']:.2f} s"
        print(line)
        sys.stdout.flush()

    if "chunk" in parts:
        compare("chunk", "TBPTT chunk (1,000 x 30, value_and_grad)", lambda n: bench_chunk(n, mcfg, reps * 3))
    x, y = make_data(8.0 if q else 30.0, sr)
    xs, ys = _segments(x, y, tcfg.segment_length)
    if "epoch" in parts:
        compare("epoch", f"epoch ({len(xs)} segments, batches of <= {tcfg.batch_size})",
                lambda n: bench_epoch(n, mcfg, tcfg, xs, ys, reps))
    if "torch" in parts:
        report["epoch_torch"] = torch_epoch(x, y, sr, reps)
    if "many" in parts:
        compare("epoch_vmap", f"epoch vmapped over {args.models} models",
                lambda n: bench_epoch(n, mcfg, tcfg, xs, ys, max(2, reps // 2), n_models=args.models))
    if "infer" in parts:
        xi, _ = make_data(3.0 if q else 10.0, 48000, seed=1)
        compare("inference", f"batch-1 inference of {len(xi) / 48000:.0f} s at 48 kHz",
                lambda n: bench_infer(n, ModelConfig(hidden_size=20, sample_rate=48000), xi, reps))
        for name in APPLIES:
            report["inference"][name]["realtime_factor"] = len(xi) / 48000 / report["inference"][name]["wall_s"]
    out = Path(args.out) if args.out else RESULTS / ("fused_speed_quick.json" if q else "fused_speed.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
