"""``tonezoo train`` and ``tonezoo process``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import parse_knobs, race_line

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on a capture (from scratch, a model, or the zoo's pick)",
                       description="Train a model on a capture with the AGAM recipe. With --from, fine-tune a "
                                   "pretrained model (a model directory, a Hub repo id, or 'auto' for the zoo's pick).")
    p.add_argument("input", help="dry input WAV (the DI signal sent into the device)")
    p.add_argument("target", help="device output WAV")
    p.add_argument("-o", "--output", required=True, help="model directory to write")
    p.add_argument("--from", dest="source", default=None,
                   help="starting model: a model directory, a Hub repo id, or 'auto' (pick from the zoo)")
    p.add_argument("--zoo", default=None, help="zoo directory for --from auto (default: the bundled zoo)")
    p.add_argument("--race", type=int, default=3,
                   help="with --from auto: fine-tune the top K suggestions together for --race-epochs epochs and "
                        "continue the best (default 3; 0 starts from the first suggestion)")
    p.add_argument("--race-epochs", type=int, default=2, help="epochs of the race (default 2; part of --epochs)")
    p.add_argument("--seconds", type=float, default=None, help="train on only the first S seconds")
    p.add_argument("--val-fraction", type=float, default=None,
                   help="fraction of the audio kept for validation (default: the standard signal's validation "
                        "section, else 0.2)")
    p.add_argument("--epochs", type=int, default=2000, help="maximum epochs (default 2000)")
    p.add_argument("--patience", type=int, default=25, help="validations without improvement before stopping")
    p.add_argument("--hidden", type=int, default=None, help="hidden size when training from scratch (default 20)")
    p.add_argument("--cell", choices=["lstm", "gru"], default=None, help="recurrent cell from scratch")
    p.add_argument("--no-skip", action="store_true", help="no input-to-output skip connection (NAM-compatible)")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="knob setting of the captured device; becomes a conditioning input")
    p.add_argument("--pre-emphasis", type=float, default=None, help="pre-emphasis coefficient for the ESR loss")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resample", action="store_true", help="resample the target to the input's rate if they differ")
    p.add_argument("--checkpoint", default=None, help="checkpoint directory (written at every validation)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--plot", default=None, help="write the loss-curve figure here (png)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

    q = sub.add_parser("process", help="run a model over a WAV file")
    q.add_argument("model", help="model directory (or Hub repo id)")
    q.add_argument("input", help="input WAV")
    q.add_argument("output", help="output WAV to write")
    q.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE")
    q.set_defaults(func=run_process)


def load_model_arg(source: str):
    """A model directory or a Hub repo id."""
    from ..model import Model
    if Path(source).exists():
        return Model.load(source)
    return Model.from_pretrained(source)


def run_train(args: argparse.Namespace) -> int:
    from ..capture import load_capture
    from ..errors import ConfigError
    from ..model import ModelConfig
    from ..train import TrainConfig, plot_history, train

    knobs = parse_knobs(args.knob)
    capture = load_capture(args.input, args.target, resample=args.resample, val_fraction=args.val_fraction,
                           limit_seconds=args.seconds, knobs=knobs or None)
    tcfg = TrainConfig(max_epochs=args.epochs, patience=args.patience, seed=args.seed, lr=args.lr,
                       batch_size=args.batch_size, pre_emphasis=args.pre_emphasis)
    progress = not args.quiet
    arch_given = args.hidden is not None or args.cell is not None or args.no_skip
    model_config = None
    if args.source is None or arch_given:
        model_config = ModelConfig(hidden_size=args.hidden or 20, cell=args.cell or "lstm", skip=not args.no_skip,
                                   knobs=tuple(knobs), sample_rate=capture.sample_rate)
    extra = {}
    if args.source == "auto":
        from ..zoo import Zoo
        if arch_given:
            raise ConfigError("--from auto picks a zoo model and keeps its architecture; drop --hidden/--cell/--no-skip")
        zoo = Zoo.open(args.zoo) if args.zoo else Zoo.default()
        result = zoo.transfer(capture, race=args.race, race_epochs=args.race_epochs, config=tcfg, progress=progress)
        source = result.source
        if result.model.metadata.get("race"):
            extra["race"] = result.model.metadata["race"]
            print(race_line(extra["race"], source))
    elif args.source:
        init = load_model_arg(args.source)
        result = train(capture, init=init, model_config=model_config, config=tcfg, progress=progress,
                       checkpoint_dir=args.checkpoint, resume=args.resume)
        source = args.source
    else:
        result = train(capture, model_config=model_config, config=tcfg, progress=progress,
                       checkpoint_dir=args.checkpoint, resume=args.resume)
        source = None
    out = result.model.save(args.output)
    if args.plot:
        plot_history({("transfer" if source else "scratch"): result}, args.plot,
                     title=f"{capture.name}: validation loss")
        extra["plot"] = str(args.plot)
    summary = {**result.summary(), "model": str(out), "from": source, **extra}
    print(f"trained {result.epochs} epochs in {result.seconds:.1f} s ({result.stop_reason}); "
          f"validation ESR {result.first_val_esr:.4f} -> {result.best_val_esr:.4f} (best at epoch "
          f"{result.best_epoch}); model written to {out}")
    if args.json:
        print(json.dumps(summary))
    return 0


def run_process(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf
    from ..capture import read_audio
    model = load_model_arg(args.model)
    x, sr, _ = read_audio(args.input, label="input")
    if sr != model.sample_rate:
        print(f"warning: {args.input} is at {sr} Hz but the model was trained at {model.sample_rate} Hz",
              file=sys.stderr)
    y = model.process(x, parse_knobs(args.knob) or None)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    out = Path(args.output)
    tmp = out.with_name(f".{out.name}.tmp")
    sf.write(str(tmp), y, sr, subtype="FLOAT", format="WAV")
    tmp.replace(out)
    print(f"wrote {out} ({len(y) / sr:.2f} s, peak {peak:.3f})")
    return 0
