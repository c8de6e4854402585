"""Build the bundled default zoo (``zoo_index/``) from the virtual devices.

Usage::

    python benchmarks/build_zoo.py [--out DIR] [--seconds 15] [--epochs 200] [--group 13] [--only ID ...]
                                   [--retry-above 0.05 --retry-seconds 24 --retry-epochs 250]
    python benchmarks/build_zoo.py --out DIR --merge PART_DIR ... [--retry-above 0.05 ...]

Same as ``tonezoo zoo build --from-devices DIR``. The plan (devices, settings, held-out devices)
is :data:`tonezoo.zoo_build.ZOO_PLAN` / :data:`tonezoo.zoo_build.HELD_OUT`. An interrupted build
resumes: models already in the output zoo are kept. ``--merge`` collects zoos built in parts (two
processes side by side use both cores of a 2-core machine better than one) in plan order; with
``--retry-above`` the weak entries then get a second, longer run (:func:`tonezoo.zoo_build.refine`).
The recipe of the bundled zoo is in ``docs/zoo.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tonezoo.zoo_build import ZOO_PLAN, build_from_devices, drop_failed, merge_zoos, refine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "zoo_index"))
    parser.add_argument("--seconds", type=float, default=15.0, help="audio per device (seconds)")
    parser.add_argument("--epochs", type=int, default=200, help="maximum training epochs per model")
    parser.add_argument("--group", type=int, default=13, help="models trained side by side in one vmapped run")
    parser.add_argument("--only", nargs="*", default=None, metavar="ID", help="build only these plan entries")
    parser.add_argument("--merge", nargs="*", default=None, metavar="DIR", help="merge zoos built in parts")
    parser.add_argument("--retry-above", type=float, default=None, help="retrain entries with val ESR above this")
    parser.add_argument("--retry-seconds", type=float, default=24.0)
    parser.add_argument("--retry-epochs", type=int, default=250)
    parser.add_argument("--max-esr", type=float, default=0.5, help="leave out models whose val ESR stays above this")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    plan = [p for p in ZOO_PLAN if args.only is None or p[0] in args.only]
    log = lambda m: print(m, flush=True)  # noqa: E731
    if args.merge:
        zoo = merge_zoos(args.out, args.merge, plan=plan)
        print(f"merged {len(zoo)} models from {len(args.merge)} parts into {args.out}", flush=True)
        if args.retry_above is not None:
            weak = [p for p in plan if (zoo.entry(p[0]).val_esr or 0.0) > args.retry_above]
            refine(zoo, weak, seconds=args.retry_seconds, epochs=args.retry_epochs, seed=args.seed,
                   group=args.group, log=log)
        drop_failed(zoo, max_esr=args.max_esr, log=log)
    else:
        print(f"building {len(plan)} models into {args.out} ({args.seconds:g} s audio, {args.epochs} epochs each)",
              flush=True)
        zoo = build_from_devices(args.out, seconds=args.seconds, epochs=args.epochs, seed=args.seed, plan=plan,
                                 group=args.group, retry_above=args.retry_above, retry_seconds=args.retry_seconds,
                                 retry_epochs=args.retry_epochs, max_esr=args.max_esr, log=log)
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(f"{len(zoo)} models, {size / 1024:.0f} KiB, {time.perf_counter() - t0:.0f} s")
    for e in zoo.list():
        print(f"{e.id:22s} {e.category:13s} val ESR {e.val_esr:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
