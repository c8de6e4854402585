"""Build the bundled default zoo (``zoo_index/``) from the virtual devices.

Usage::

    python benchmarks/build_zoo.py [--out DIR] [--seconds 15] [--epochs 200] [--group 13] [--only ID ...]
                                   [--retry-above 0.05 --retry-seconds 24 --retry-epochs 250]
    python benchmarks/build_zoo.py --out DIR --merge PART_DIR ... [--retry-above 0.05 ...]

Same as ``tonezoo zoo build --from-devices DIR``. The plan (devices, settings, held-out devices)
is :data:`tonezoo.zoo.build.ZOO_PLAN` / :data:`tonezoo.zoo.build.HELD_OUT`. An interrupted build
resumes: models already in the output zoo are kept. ``--merge`` collects zoos built in parts (two
processes side by side use both cores of a 2-core machine better than one) in plan order; with
``--retry-above`` the weak entries then get a second, longer run (:func:`tonezoo.zoo.build.refine`).
The recipe of the bundled zoo is in ``docs/zoo.md``.

Family entries (``--families N``): N draws of every training family of :mod:`tonezoo.families`
(:data:`tonezoo.families.HELD_OUT_FAMILIES` never enter) join the zoo in ``--out``. Each draw
renders ``--family-seconds`` of synthetic guitar (a seed of its own), starts from the zoo model that
fits it best zero-shot (``Zoo.suggest`` against the zoo as it was before the family entries), and
``--family-group`` of them fine-tune side by side in one vmapped run for at most
``--family-epochs`` epochs. An interrupted build resumes (entries already in ``--out`` are kept)::

    python benchmarks/build_zoo.py --out zoo_index --families 4 --family-seconds 8 --family-epochs 30

WaveNet entries (``--wavenet PRESET``): ``--wavenet-per-category`` NAM WaveNets of PRESET per device
category (the first plan entries of each category, :func:`tonezoo.zoo.build.wavenet_plan`), trained
side by side in one vmapped run on ``--wavenet-seconds`` of synthetic guitar at 48 kHz for
``--wavenet-epochs`` epochs (:func:`tonezoo.zoo.build.build_wavenets`), join the zoo in ``--out``
(only these; entries already there are kept)::

    python benchmarks/build_zoo.py --out zoo_index --wavenet nam-feather --wavenet-per-category 1 \
        --wavenet-seconds 12 --wavenet-epochs 10 --wavenet-batch-size 4

Retuning (``--retune``): every entry of ``--out`` whose virtual device can be rendered again fine-tunes
on ``--retune-seconds`` of new synthetic guitar, and the better of its current and its fine-tuned
model is kept (:func:`tonezoo.zoo.build.retune`; ``--only`` restricts it to some ids); entries
still above ``--max-esr`` on the new audio are then left out, as in a build::

    python benchmarks/build_zoo.py --out zoo_index --retune --retune-seconds 12 --retune-epochs 40
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tonezoo.zoo.build import ZOO_PLAN, build_from_devices, build_wavenets, drop_failed, merge_zoos, refine, retune


def family_plan(n_per_family: int, *, seed: int = 0) -> list[tuple[str, str, str, int]]:
    """(entry id, category, family, draw seed) for ``n_per_family`` draws of every training family."""
    from tonezoo.families import list_families
    return [(f"{f.name}-s{seed + i}", f.category, f.name, seed + i)
            for i in range(n_per_family) for f in list_families(held_out=False)]


def build_families(out: str, n_per_family: int, *, seconds: float, epochs: int, group: int, seed: int,
                   patience: int, max_esr: float, log) -> None:
    """Add family draws to the zoo in ``out``, each fine-tuned from the best zero-shot start of that zoo."""
    import zlib

    from tonezoo.capture import Capture
    from tonezoo.devices import render_pair
    from tonezoo.families import HELD_OUT_FAMILIES, draw
    from tonezoo.model import Model
    from tonezoo.train import train_many
    from tonezoo.zoo import Zoo

    zoo = Zoo.open(out, create=True)
    base_ids = [e.id for e in zoo.list() if not e.source.startswith("tonezoo family ")]
    plan = [p for p in family_plan(n_per_family, seed=seed) if p[0] not in zoo]
    assert not any(p[2] in HELD_OUT_FAMILIES for p in plan)
    t0 = time.perf_counter()
    log(f"{len(plan)} family entries to build into {out} (starting points: {len(base_ids)} models)")
    for g in range(0, len(plan), group):
        chunk = plan[g:g + group]
        devices = [draw(cat, fam, s) for _, cat, fam, s in chunk]
        caps = []
        for dev, (mid, *_) in zip(devices, chunk):       # zoo entries take no knob inputs
            x, y, _ = render_pair(dev, seconds=seconds, seed=1000 + zlib.crc32(mid.encode()) % 100_000)
            caps.append(Capture.from_arrays(x, y, 44100, name=mid, align=False))
        starts = []
        for cap in caps:
            best = zoo.suggest(cap, top=1, exclude=[e.id for e in zoo.list() if e.id not in base_ids])[0]
            starts.append(best.id)
        inits = [zoo.start_model(sid, cap) for sid, cap in zip(starts, caps)]
        log(f"training {len(chunk)} family models together ({seconds:g} s each, at most {epochs} epochs)")
        results = train_many(caps, inits, max_epochs=epochs, patience=patience, progress=False, seed=seed)
        models, ids, cats, srcs = [], [], [], []
        for (mid, cat, fam, s), dev, cap, sid, r in zip(chunk, devices, caps, starts, results):
            log(f"{mid:24s} {cat:13s} from {sid:22s} val ESR {r.best_val_esr:.4f} (best epoch {r.best_epoch} "
                f"of {r.epochs}; {time.perf_counter() - t0:.0f} s so far)")
            if not r.best_val_esr <= max_esr:
                log(f"{mid}: left out, validation ESR {r.best_val_esr:.4f} > {max_esr}")
                continue
            if r.best_epoch == 0:
                # no epoch improved on the start: the best weights are the start model's own, which
                # would enter the zoo a second time under this device's name and category
                log(f"{mid}: left out, fine-tuning never improved on its start {sid} (best epoch 0)")
                continue
            md = dict(r.model.metadata, name=mid, category=cat, device=dev.name, design=dev.design, family=fam,
                      family_seed=s, description=dev.description, started_from=sid,
                      training_seconds=round(len(cap.train_x) / cap.sample_rate, 3),
                      val_esr=float(r.best_val_esr), best_epoch=r.best_epoch)
            models.append(Model(r.model.config, r.model.params, md))
            ids.append(mid)
            cats.append(cat)
            srcs.append(f"tonezoo family {fam} (seed {s})")
        if models:
            zoo.add_many(models, ids=ids, categories=cats, sources=srcs)


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
    parser.add_argument("--families", type=int, default=0, metavar="N",
                        help="add N draws of every training family (only these, into --out)")
    parser.add_argument("--family-seconds", type=float, default=8.0)
    parser.add_argument("--family-epochs", type=int, default=30)
    parser.add_argument("--family-group", type=int, default=16)
    parser.add_argument("--family-patience", type=int, default=6)
    parser.add_argument("--wavenet", default=None, metavar="PRESET",
                        help="add NAM WaveNets of this preset (nam-feather, nam-nano, ...; only these, into --out)")
    parser.add_argument("--wavenet-per-category", type=int, default=1)
    parser.add_argument("--wavenet-seconds", type=float, default=12.0)
    parser.add_argument("--wavenet-epochs", type=int, default=10)
    parser.add_argument("--wavenet-batch-size", type=int, default=4)
    parser.add_argument("--wavenet-sr", type=int, default=48000)
    parser.add_argument("--retune", action="store_true",
                        help="fine-tune every entry of --out on new audio of its own device, keep the better")
    parser.add_argument("--retune-seconds", type=float, default=12.0)
    parser.add_argument("--retune-epochs", type=int, default=40)
    parser.add_argument("--retune-patience", type=int, default=10)
    parser.add_argument("--retune-group", type=int, default=48)
    parser.add_argument("--retune-lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    log = lambda m: print(m, flush=True)  # noqa: E731
    if args.retune:
        from tonezoo.zoo import Zoo
        zoo = Zoo.open(args.out)
        res = retune(zoo, args.only, seconds=args.retune_seconds, epochs=args.retune_epochs,
                     patience=args.retune_patience, group=args.retune_group, lr=args.retune_lr, seed=args.seed,
                     log=log)
        better = sum(zoo.get(i).metadata["retuned"]["kept"] == "fine-tuned" for i in res)
        print(f"{len(res)} entries retuned, {better} kept their fine-tuned model, {time.perf_counter() - t0:.0f} s")
        drop_failed(zoo, max_esr=args.max_esr, log=log)      # the build's rule, on the new audio
        return 0
    if args.wavenet:
        command = (f"python benchmarks/build_zoo.py --wavenet {args.wavenet} --wavenet-per-category "
                   f"{args.wavenet_per_category} --wavenet-seconds {args.wavenet_seconds:g} --wavenet-epochs "
                   f"{args.wavenet_epochs} --wavenet-batch-size {args.wavenet_batch_size} --wavenet-sr "
                   f"{args.wavenet_sr} --seed {args.seed}")
        zoo = build_wavenets(args.out, preset=args.wavenet, per_category=args.wavenet_per_category,
                             seconds=args.wavenet_seconds, epochs=args.wavenet_epochs,
                             batch_size=args.wavenet_batch_size, sample_rate=args.wavenet_sr, seed=args.seed,
                             max_esr=args.max_esr, recipe=command, progress=True, log=log)
        size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
        print(f"{len(zoo)} models, {size / 1024:.0f} KiB, {time.perf_counter() - t0:.0f} s")
        return 0
    if args.families:
        build_families(args.out, args.families, seconds=args.family_seconds, epochs=args.family_epochs,
                       group=args.family_group, seed=args.seed, patience=args.family_patience,
                       max_esr=args.max_esr, log=log)
        from tonezoo.zoo import Zoo
        zoo = Zoo.open(args.out)
        size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
        print(f"{len(zoo)} models, {size / 1024:.0f} KiB, {time.perf_counter() - t0:.0f} s")
        return 0
    plan = [p for p in ZOO_PLAN if args.only is None or p[0] in args.only]
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
