"""Build the bundled default zoo (``zoo_index/``) from the virtual devices.

Usage::

    python benchmarks/build_zoo.py [--out zoo_index] [--seconds 10] [--epochs 30]

Same as ``tonezoo zoo build --from-devices DIR``. The plan (devices, settings, held-out devices)
is :data:`tonezoo.zoo.ZOO_PLAN` / :data:`tonezoo.zoo.HELD_OUT`. An interrupted build resumes:
models already in the output zoo are kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tonezoo.zoo import ZOO_PLAN, build_from_devices


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "zoo_index"))
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per device (seconds)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs per model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    print(f"building {len(ZOO_PLAN)} models into {args.out} ({args.seconds:g} s audio, {args.epochs} epochs each)",
          flush=True)
    zoo = build_from_devices(args.out, seconds=args.seconds, epochs=args.epochs, seed=args.seed,
                             log=lambda m: print(m, flush=True))
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(f"{len(zoo)} models, {size / 1024:.0f} KiB, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
