"""Build the bundled default zoo (``zoo_index/``) from the virtual devices.

Usage::

    python benchmarks/build_zoo.py [--out zoo_index] [--seconds 15] [--epochs 200] [--group 13] [--only ID ...]

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
    parser.add_argument("--seconds", type=float, default=15.0, help="audio per device (seconds)")
    parser.add_argument("--epochs", type=int, default=200, help="maximum training epochs per model")
    parser.add_argument("--group", type=int, default=13, help="models trained side by side in one vmapped run")
    parser.add_argument("--only", nargs="*", default=None, metavar="ID", help="build only these plan entries")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    print(f"building {len(ZOO_PLAN) if args.only is None else len(args.only)} models into {args.out} ({args.seconds:g} s audio, {args.epochs} epochs each)",
          flush=True)
    plan = [p for p in ZOO_PLAN if args.only is None or p[0] in args.only]
    zoo = build_from_devices(args.out, seconds=args.seconds, epochs=args.epochs, seed=args.seed, plan=plan,
                             group=args.group,
                             log=lambda m: print(m, flush=True))
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(f"{len(zoo)} models, {size / 1024:.0f} KiB, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
