"""``tonezoo import`` and ``tonezoo export``: third-party model files in and out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._progress import count_text
from ..formats import format_spec, list_formats
from ._common import parse_knobs
from ._outputs import check_file_output

__all__ = ["register", "PLAYER_RATES"]

# from the format registry (tonezoo.formats.register_format): a registered format is a --format choice
_FORMATS = tuple(list_formats())
_PLAYERS = tuple(p for name in _FORMATS for p in format_spec(name).players)
_SUFFIXES = {name: format_spec(name).suffixes for name in _FORMATS}

# The rate each player runs its models at (none of them resamples a model): NeuralPi "processes at
# 44.1kHz" (GuitarML/NeuralPi README, Info); Proteus captures must be "44100 samplerate"
# (GuitarML/Proteus README, Troubleshooting Captures 4); Chameleon is GuitarML's 44.1 kHz too;
# AIDA-X runs the model at the host's rate (AidaDSP/AIDA-X src/aidadsp-plugin.cpp reads no rate from
# the file) and its models are trained at 48 kHz, the rate of the MOD devices it targets.
PLAYER_RATES = {"neuralpi": 44100, "proteus": 44100, "chameleon": 44100, "aida-x": 48000}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import AGAM/NeuralPi/Proteus, AIDA-X or NAM model files",
                       description="Import model files (format detected from content) into tonezoo model "
                                   "directories, one per file, named after the file.")
    p.add_argument("files", nargs="+", metavar="FILE", help="model files (.json, .nam)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to create the models in")
    p.add_argument("--sample-rate", type=int, default=None, metavar="SR",
                   help="training sample rate for files that do not state it (AGAM JSON; default 44100)")
    p.add_argument("--overwrite", dest="force", action="store_true",
                   help="replace model directories that already exist")
    p.add_argument("--force", dest="force", action="store_true", help=argparse.SUPPRESS)   # earlier name
    p.set_defaults(func=run_import)

    q = sub.add_parser("export", help="export a model for a player (NeuralPi, Proteus, Chameleon, AIDA-X, NAM)",
                       description="Write a tonezoo model directory as a third-party model file.")
    q.add_argument("model", metavar="MODEL_DIR", help="tonezoo model directory")
    q.add_argument("--format", required=True, choices=_FORMATS, help="file format to write")
    q.add_argument("--player", choices=_PLAYERS, default=None,
                   help="check the player's fixed architecture (agam: neuralpi/proteus/chameleon; aidax: aida-x)")
    q.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="bake this knob value into the exported model (repeat for each knob; needed for nam)")
    q.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write (.json, or .nam for nam)")
    q.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    q.add_argument("--any-rate", dest="force", action="store_true",
                   help="write the file even though --player runs models at another sample rate than the model's")
    q.add_argument("--force", dest="force", action="store_true", help=argparse.SUPPRESS)   # earlier name
    q.set_defaults(func=run_export)


def _describe(model) -> str:
    cfg = model.config
    rate = f"{cfg.sample_rate} Hz{' assumed' if model.metadata.get('sample_rate_assumed') else ''}"
    knobs = f", knobs {', '.join(cfg.knobs)}" if cfg.knobs else ""
    return (f"{model.metadata.get('source_format')}: {cfg.describe()}"
            f"{', skip' if cfg.skip else ''}{knobs}, {rate}")


def run_import(args: argparse.Namespace) -> int:
    from ..errors import TonezooError
    from ..formats import import_model
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        from ..errors import ConfigError
        raise ConfigError(f"-o {args.output}: exists and is a file; -o names the folder the models are created in")
    seen: dict[str, str] = {}
    failed = 0
    for name in args.files:
        path = Path(name)
        target = out_dir / path.stem
        try:
            if path.stem in seen:
                raise TonezooError(f"{path}: same name as {seen[path.stem]}; both would become {target}. "
                                   "Rename one of the files")
            seen[path.stem] = str(path)
            if target.exists() and not args.force:
                raise TonezooError(f"{target} already exists; pass --overwrite to replace it")
            model = import_model(path, sample_rate=args.sample_rate)
            model.save(target)
        except TonezooError as e:
            print(f"tonezoo import: error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"imported {path} -> {target} ({_describe(model)})")
    if failed:
        print(f"{failed} of {count_text(len(args.files), 'file')} not imported", file=sys.stderr)
        return 2
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..formats import export_model
    from ..model import Model
    out = check_file_output(args.output, "-o", suffixes=_SUFFIXES[args.format], overwrite=args.overwrite)
    model = Model.load(args.model)
    knobs = parse_knobs(args.knob) or None
    rate = model.config.sample_rate
    notes = []
    if args.player is not None and PLAYER_RATES[args.player] != rate:
        want = PLAYER_RATES[args.player]
        if not args.force:
            raise ConfigError(
                f"{args.player} runs its models at {want} Hz, but {args.model} was trained at {rate} Hz: played "
                f"there, every filter and time constant of the model would shift by a factor {want / rate:.3f} "
                f"(it would not sound like the device). Train on a capture recorded at {want} Hz for "
                f"{args.player}, or pass --any-rate to write the file anyway")
        notes.append(f"warning: written for {args.player} ({want} Hz) from a {rate} Hz model (--any-rate): it will "
                     "not sound as trained")
    if args.format == "agam":
        notes.append(f"note: the agam format records no sample rate; this model runs at {rate} Hz"
                     + ("" if rate == 44100 else " (NeuralPi, Proteus and Chameleon run at 44100 Hz)"))
    path = export_model(model, out, format=args.format, player=args.player, knobs=knobs)
    print(f"exported {args.model} -> {path} ({args.format}{', for ' + args.player if args.player else ''}, "
          f"{rate} Hz)")
    for n in notes:
        print(n, file=sys.stderr)
    return 0
