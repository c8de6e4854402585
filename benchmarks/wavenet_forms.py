"""Where a WaveNet training step spends its time on JAX's default backend, per convolution form.

For NAM's presets (feather and standard by default): one training epoch of 11 mini-batches (16
windows of 8,192 scored samples plus the receptive field, NAM's loss or ``--loss mse``, a plain
gradient step) compiled as one ``lax.scan``, timed per step (best of 3), and the forward pass of one
mini-batch (best of 5), for each form (``--forms``):

* ``tonezoo``: the library's own choice (:func:`tonezoo.architectures._conv1d.conv`: on the CPU
  broadcast products for narrow layers and XLA's convolution with a hand-written gradient for wide
  ones, on an accelerator one product per tap);
* ``xla``: XLA's convolution with XLA's own gradient;
* ``taps``: one product per tap with JAX's own gradient;
* ``cpu-form``: the CPU's form on any backend (what the library ran everywhere before it chose
  tap products on accelerators);
* ``cpu-form-no-broadcast``: the same with XLA's convolution for narrow layers too.

Every product asks for full float32 precision, as the library does; ``--tf32`` also times each
form with the precision left to the backend (TensorFloat-32 products on a recent NVIDIA GPU; no
change on a CPU). Then the shared fixtures' NAM WaveNets (``../shared/fixtures``, skipped when
absent) play the reference input, and the largest difference to NAM's own output is printed.

Usage::

    python benchmarks/wavenet_forms.py [--presets feather standard] [--forms ...] [--tf32]
                                       [--loss nam|mse] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np

from tonezoo.architectures import _conv1d
from tonezoo.architectures import wavenet as wn

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
_NWC = ("NWC", "WIO", "NWC")


def _xla(h, w, b, d):
    if w.shape[0] == 1:
        return _conv1d.matmul(h, w[0]) + b
    lead = h.shape[:-2]
    z = jax.lax.conv_general_dilated(h.reshape((-1, *h.shape[-2:])), w, (1,), "VALID", rhs_dilation=(d,),
                                     dimension_numbers=_NWC, precision=_conv1d.PRECISION)
    return z.reshape((*lead, *z.shape[-2:])) + b


# Each form is the library's own code with some of its module settings replaced while the programs are
# traced and run: which backend's form ``_conv1d.conv`` takes, the channel count up to which narrow
# layers are broadcast products, and (``xla``) the WaveNet's convolution itself.
FORMS: dict[str, dict] = {
    "tonezoo": {},
    "xla": {"conv": _xla},
    "taps": {"_on_cpu": lambda: False},
    "cpu-form": {"_on_cpu": lambda: True},
    "cpu-form-no-broadcast": {"_on_cpu": lambda: True, "BROADCAST_MAX_CHANNELS": 0},
}


def time_form(preset: str, form: str, precision: str, batches: int = 11, loss_kind: str = "nam") -> dict:
    """Milliseconds per training step and per forward pass of one mini-batch.

    ``precision``: ``"highest"`` (the library's) or ``"default"`` (left to the backend).
    """
    net = wn.preset(preset)
    params = jax.tree.map(jnp.asarray, wn.init_net(net, 0))
    n = 8192 + net.receptive_field - 1
    rng = np.random.default_rng(0)
    xb = jnp.asarray(rng.standard_normal((batches, 16, n)).astype(np.float32) * 0.3)
    yb = jnp.tanh(3.0 * xb)
    settings = {k: v for k, v in FORMS[form].items() if k != "conv"}
    if precision != "highest":
        settings["PRECISION"] = None                                   # the backend's default
    with contextlib.ExitStack() as patched:
        for name, value in settings.items():
            patched.enter_context(mock.patch.object(_conv1d, name, value))
        patched.enter_context(mock.patch.object(wn, "_conv", FORMS[form].get("conv", wn._conv)))
        def loss(p, x, y):
            y_hat = wn.apply_valid(p, x, net=net)
            if loss_kind == "mse":
                return jnp.mean((y[:, -y_hat.shape[1]:] - y_hat) ** 2)
            return wn.nam_loss(y[:, -y_hat.shape[1]:], y_hat, jnp.ones_like(y_hat))[0]

        grad = jax.value_and_grad(loss)

        @jax.jit
        def epoch(p, xb, yb):
            def step(p, b):
                value, g = grad(p, *b)
                return jax.tree.map(lambda a, c: a - 1e-4 * c, p, g), value
            return jax.lax.scan(step, p, (xb, yb))

        forward = jax.jit(lambda p, x: wn.apply_valid(p, x, net=net))
        t = time.perf_counter()
        jax.block_until_ready(epoch(params, xb, yb))
        compile_s = time.perf_counter() - t
        steps = []
        for _ in range(3):
            t = time.perf_counter()
            jax.block_until_ready(epoch(params, xb, yb))
            steps.append((time.perf_counter() - t) / batches)
        jax.block_until_ready(forward(params, xb[0]))
        fwd = []
        for _ in range(5):
            t = time.perf_counter()
            jax.block_until_ready(forward(params, xb[0]))
            fwd.append(time.perf_counter() - t)
    return {"preset": preset, "form": form, "precision": precision, "loss": loss_kind,
            "compile_s": round(compile_s, 2), "step_ms": round(min(steps) * 1000, 2),
            "forward_ms": round(min(fwd) * 1000, 2)}


def fixture_exactness() -> list[dict]:
    """Largest |tonezoo - NAM| on the reference input for each shared-fixture WaveNet (if present)."""
    from tonezoo.formats import import_model
    rows = []
    ref_dir = FIXTURES / "reference"
    if not ref_dir.is_dir():
        print(f"shared fixtures not found at {FIXTURES}: exactness skipped", file=sys.stderr)
        return rows
    x = np.load(ref_dir / "input.npy").astype(np.float32)
    for name in ("namcore_standard", "t3k_dumble_feather", "namcore_wavenet"):
        model = import_model(FIXTURES / "models" / "nam" / f"{name}.nam")
        diff = float(np.max(np.abs(model.process(x) - np.load(ref_dir / f"nam_{name}.npy"))))
        rows.append({"model": f"{name}.nam", "max_abs_diff": diff})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    presets = [name.removeprefix("nam-") for name in wn.PRESETS]
    ap.add_argument("--presets", nargs="+", default=["feather", "standard"], choices=presets,
                    help="NAM presets to time (default: feather standard)")
    ap.add_argument("--forms", nargs="+", default=list(FORMS)[:4], choices=list(FORMS),
                    help="convolution forms (default: tonezoo xla taps cpu-form): tonezoo = the library's "
                         "choice for the backend; xla = XLA's convolution and gradient; taps = one product per "
                         "tap; cpu-form = the CPU's form on any backend; cpu-form-no-broadcast = the same with "
                         "XLA's convolution for narrow layers too")
    ap.add_argument("--tf32", action="store_true",
                    help="also time each form with the precision left to the backend (TensorFloat-32 on a recent "
                         "NVIDIA GPU; the library asks for full float32)")
    ap.add_argument("--loss", choices=["nam", "mse"], default="nam",
                    help="NAM's loss (MSE + pre-emphasised multi-resolution STFT; default) or MSE alone")
    ap.add_argument("--json", default=None, metavar="FILE", help="write the rows and the exactness figures here")
    args = ap.parse_args(argv)
    dev = jax.devices()[0]
    print(f"JAX {jax.__version__} on {dev.platform} ({dev.device_kind})", flush=True)
    rows = []
    for preset in args.presets:
        for form in args.forms:
            for precision in ("highest", "default") if args.tf32 else ("highest",):
                row = time_form(f"nam-{preset}", form, precision, loss_kind=args.loss)
                rows.append(row)
                print(f"{preset:9s} {form:21s} {precision:8s} step {row['step_ms']:8.2f} ms  forward "
                      f"{row['forward_ms']:7.2f} ms  (compile {row['compile_s']:.1f} s)", flush=True)
    exact = fixture_exactness()
    for row in exact:
        print(f"{row['model']:24s} max |tonezoo - NAM| {row['max_abs_diff']:.1e}")
    if args.json:
        Path(args.json).write_text(json.dumps({"jax": jax.__version__, "backend": dev.platform,
                                               "device": dev.device_kind, "forms": rows, "exactness": exact},
                                              indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
