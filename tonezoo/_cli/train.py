"""``tonezoo train`` and ``tonezoo process``.

Both check every output path before any work starts (``_outputs``), and ``train`` never replaces a
folder that holds anything but a tonezoo model. Ctrl-C stops whatever phase is running (loading,
the ``--from auto`` race, the winner's run), writes the best model so far with
``stop_reason: interrupted`` and exits 130.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import (as_cli_error, capture_options, epochs_text, load_capture_args, parse_knobs, printed_warnings,
                      race_line, zoo_text)
from .._progress import duration_text
from ..card import STOP_TEXT
from ._interrupt import Interrupts
from ._outputs import (CHECKPOINT_FILES, PLOT_SUFFIXES, check_file_output, check_model_dir_output,
                       check_own_dir_output)

__all__ = ["register", "describe_trained_model", "start_note", "DEFAULT_EPOCHS_TRANSFER", "DEFAULT_EPOCHS_SCRATCH"]

# Transfer starts near the answer and needs few epochs (the article's transfer runs peaked within a
# few hundred epochs on 30 s, most of the gain in the first tens); from scratch needs more. NAM's
# trainer defaults to 100 epochs. Early stopping (--patience) usually ends a run sooner.
DEFAULT_EPOCHS_TRANSFER = 100
DEFAULT_EPOCHS_SCRATCH = 300
DEFAULT_RACE = 5                 # tonezoo.zoo.transfer.RACE (not imported here: it loads JAX)
"""Contenders in the race of --from auto (Zoo.transfer's default)."""

# metadata keys that describe the trained capture or its lineage; everything else a starting
# model carried (its device, description, design, author, best epoch, ...) is about another device
_KEEP_KEYS = ("val_esr", "training_seconds", "epochs", "capture_name", "base_model", "base_model_name",
              "base_model_repo", "suggestions", "suggest_level_db", "race", "final", "output_refit", "license",
              "license_name", "input_peak_dbfs", "input_rms_dbfs")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", parents=[capture_options()],
                       help="train a model on a capture (from scratch, a model, or the zoo's pick)",
                       description="Train a model on a capture with its architecture's recipe (an LSTM: Automated-"
                                   "GuitarAmpModelling's, as NeuralPi and Proteus train; a WaveNet: NAM's). With --from, fine-tune a "
                                   "pretrained model (a model directory, a Hub repo id, or 'auto' for the zoo's pick). "
                                   f"At most {DEFAULT_EPOCHS_TRANSFER} epochs when fine-tuning and "
                                   f"{DEFAULT_EPOCHS_SCRATCH} from scratch unless --epochs says otherwise; a run "
                                   "stops earlier once the validation ESR stops improving (--patience). Ctrl-C stops "
                                   "the run, writes the best model so far and exits 130.")
    p.add_argument("input", help="dry input WAV (the DI signal sent into the device)")
    p.add_argument("target", help="device output WAV")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="model folder to write (a new folder, or an existing model with --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing model folder at -o (never a folder holding other files)")
    p.add_argument("--from", dest="source", default=None,
                   help="starting model: a model directory, a model file (.nam, AGAM or AIDA-X JSON), a Hub repo "
                        "id, or 'auto' (pick from the zoo: the top --race suggestions race, the winner is "
                        "fine-tuned, and a model trained from scratch on the same budget is kept if it does "
                        "better, so the run takes about twice a plain one)")
    p.add_argument("--arch", default=None, choices=ARCHS,
                   help="architecture from scratch: lstm (the default, LSTM-20) or NAM's WaveNet presets; with "
                        "--from auto, only zoo models of this architecture are candidates (without it, the "
                        "architecture of the zoo's best suggestion)")
    p.add_argument("--zoo", default=None, help="zoo directory for --from auto or --from ZOO_ID (default: the "
                   "bundled zoo)")
    p.add_argument("--race", type=int, default=None, metavar="K",
                   help="with --from auto: fine-tune the top K suggestions together for --race-epochs epochs and "
                        "continue the best (default 5). 0 or 1: no race, start from the first suggestion; there is "
                        "no race either when --epochs is not longer than --race-epochs")
    p.add_argument("--race-epochs", type=int, default=None, metavar="E",
                   help="epochs of the race (default: a quarter of --epochs, at most 8; part of --epochs)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"maximum epochs (default {DEFAULT_EPOCHS_TRANSFER} with --from, "
                        f"{DEFAULT_EPOCHS_SCRATCH} from scratch)")
    p.add_argument("--patience", type=int, default=25,
                   help="stop after this many validations (every 2 epochs) without improvement (default 25)")
    p.add_argument("--hidden", type=int, default=None, help="hidden size when training from scratch (default 20)")
    p.add_argument("--cell", choices=["lstm", "gru"], default=None, help="recurrent cell from scratch (default lstm)")
    p.add_argument("--no-skip", action="store_true",
                   help="no input-to-output skip connection (NAM-exportable); with --from auto only skip-free zoo "
                        "models are candidates")
    p.add_argument("--category", default=None, metavar="KIND",
                   help="what kind of device the capture is (written to the model and its card): overdrive, "
                        "distortion, fuzz, boost, compressor, amp-clean, amp-crunch or amp-highgain (default: "
                        "the bundled classifier's guess, recorded as a guess)")
    p.add_argument("--pre-emphasis", type=float, default=None, help="pre-emphasis coefficient of the LSTM's ESR loss, in [0, 1) (default none; 0.85 is usual)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the architecture's recipe, 5e-3 LSTM, 4e-3 WaveNet)")
    p.add_argument("--lr-warmup", type=int, default=None, metavar="STEPS",
                   help="optimizer steps over which the learning rate rises from lr/STEPS to lr (default: 10 when "
                        "fine-tuning an LSTM; 0 from scratch and for NAM's WaveNet recipe; 0 turns it off; a number "
                        "applies to every run, the from-scratch contender of --from auto included)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="segments per mini-batch (default: the recipe's, 50 LSTM, 16 WaveNet)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of a from-scratch model's initial weights and of the batch order (default 0)")
    p.add_argument("--checkpoint", default=None, help="checkpoint directory (written at every validation)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="write the validation-ESR curve here (png, svg or pdf)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

    q = sub.add_parser("process", help="run a model over a WAV file",
                       description="Play a WAV file through a model and write the result; warns when the input "
                                   "peaks more than 6 dB above the loudest DI the model was trained on. The model "
                                   "starts at rest (0.5 s of silence first), so the output starts without a click.")
    q.add_argument("model", help="a model directory, a zoo id (as `tonezoo suggest` prints), a .nam / NeuralPi / "
                                 "AIDA-X file, or a Hub repo id (owner/name)")
    q.add_argument("input", metavar="IN.wav", help="input WAV")
    q.add_argument("output", metavar="OUT.wav", help="output WAV to write (32-bit float: a model's output may "
                                                   "exceed 0 dBFS)")
    q.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="a knob setting of a model with knob inputs (0 to 1; repeat for each knob)")
    q.add_argument("--channel", type=int, default=None, metavar="N",
                   help="channel of a multi-channel input (0 = left); files whose channels are identical need none")
    q.add_argument("--resample", action=argparse.BooleanOptionalAction, default=True,
                   help="run the model at its own sample rate when the input's differs: the input is resampled to "
                        "it and the output back to the input's rate (the default, as Neural Amp Modeler's plugin "
                        "does); --no-resample runs it at the input's rate")
    q.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    q.add_argument("--zoo", default=None, help="zoo directory a zoo id is looked up in (default: the bundled zoo)")
    q.set_defaults(func=run_process)


def load_model_arg(source: str, zoo_dir: str | None = None):
    """A model directory, a model file of another tool (``.nam``, AGAM, AIDA-X), a zoo model id or a Hub repo id.

    A bare name (no ``/``) that is neither a file nor a folder is looked up in the zoo (``zoo_dir``,
    default the bundled one): the ids ``tonezoo suggest`` prints. Anything else with an owner is a
    Hub repo id (``owner/name``).

    Raises
    ------
    ModelFileError
        A bare name that is no folder, no file and no zoo model.
    """
    from ..card import source_kind
    from ..model import Model
    kind = source_kind(source)
    if kind == "file":
        from ..formats import import_model
        return import_model(source)
    if kind == "folder":
        return Model.load(source)
    if kind == "zoo":
        from ..errors import ModelFileError
        from ..zoo import Zoo
        zoo = Zoo.open(zoo_dir) if zoo_dir else Zoo.default()
        if source in zoo:
            return zoo.get(source)
        raise ModelFileError(
            f"{source!r} is not a model folder, a model file (.nam, .json) or a model of the zoo "
            f"({'--zoo ' + zoo_dir if zoo_dir else 'the bundled zoo'}; "
            f"`tonezoo zoo list{' --zoo ' + zoo_dir if zoo_dir else ''}` shows its ids); "
            f"for a Hugging Face Hub model give its owner/name")
    return Model.from_pretrained(source)


ARCHS = ("lstm", "nam-standard", "nam-lite", "nam-feather", "nam-nano")


def arch_name(config) -> str:
    """The ``--arch`` name of a model config (``"lstm"``, ``"nam-feather"``; ``"wavenet"`` for other shapes)."""
    if config.arch == "lstm":
        return "lstm"
    from ..architectures.wavenet import preset_name
    return (preset_name(config) if config.arch == "wavenet" else None) or config.arch


def _recipe(config, args: argparse.Namespace, epochs: int):
    """The architecture's recipe (``tonezoo.train.recipe``) with the command line's settings."""
    from ..train import recipe
    over = {"max_epochs": epochs, "patience": args.patience, "seed": args.seed}
    for key, value in (("lr", args.lr), ("batch_size", args.batch_size), ("pre_emphasis", args.pre_emphasis),
                       ("lr_warmup_steps", args.lr_warmup)):
        if value is not None:
            over[key] = value
    return recipe(config).replace(**over)


# -- messages ------------------------------------------------------------------------------------
def start_note(model, capture, *, seconds: float = 10.0) -> dict[str, float]:
    """How a starting model does on the capture's validation audio before any training.

    Returns ``{"esr", "matched_esr", "gain_db", "inverted"}``: the ESR as is, after the best output
    gain (level and polarity matched), that gain in dB and whether it is negative. A starting ESR
    above 1 (worse than silence) nearly always means another output level or the opposite polarity,
    which fine-tuning corrects in its first epochs.
    """
    import numpy as np
    n = min(len(capture.val_x), int(seconds * capture.sample_rate))
    x, y = np.asarray(capture.val_x[:n], np.float32), np.asarray(capture.val_y[:n], np.float64)
    knobs = dict(capture.knobs) if getattr(capture, "knobs", None) and model.config.knobs else None
    y_hat = np.asarray(model.process(x, knobs, check_level=False), np.float64)
    from ..train import recipe
    # the ESR training will report for this model: NAM's (no epsilon) for a WaveNet, AGAM's (+1e-5) else
    den = float(np.mean(y ** 2)) + (0.0 if recipe(model.config).loss == "nam" else 1e-5)
    g = float(np.dot(y, y_hat) / max(float(np.dot(y_hat, y_hat)), 1e-12))
    return {"esr": float(np.mean((y - y_hat) ** 2)) / den,
            "matched_esr": float(np.mean((y - g * y_hat) ** 2)) / den,
            "gain_db": float(20 * np.log10(max(abs(g), 1e-12))), "inverted": g < 0}


def start_line(name: str, note: dict[str, float], refit: dict[str, Any] | None = None) -> str:
    """One line explaining a starting model's validation ESR (level and polarity against the capture's).

    ``refit``: the ``output_refit`` record of :func:`tonezoo.warmstart.refit_output` (what ``--from
    auto`` trains from, and what the model card reports), when it has one. Its figures are then the
    ones printed, both "as it is" and after the refit, so that this line and the card say the same:
    ESR with the 1e-5 denominator term on the first ``val_seconds`` of the validation audio.
    """
    level, inv = note["gain_db"], note["inverted"]
    parts = []
    if abs(level) >= 1.0:
        parts.append(f"{abs(level):.1f} dB {'quieter' if level > 0 else 'louder'} than the capture")
    if inv:
        parts.append("of the opposite polarity")
    why = ""
    if parts and note["esr"] > 1.5 * note["matched_esr"]:
        why = f" ({'worse than silence: ' if note['esr'] > 1 else ''}its output is {' and '.join(parts)})"
    record = refit or {}
    before, after, on = record.get("val_esr_before"), record.get("val_esr_after"), record.get("val_seconds")
    if None not in (before, after, on) and after < before:
        how = "turned to the capture's level and polarity" if record.get("fit") == "gain" else \
            "once its output layer is refit to the capture"
        return (f"starting from {name}: validation ESR {before:.4g} as it is{why}; {after:.4g} {how}, where "
                f"training starts (on {on:.1f} s of validation audio)")
    line = f"starting from {name}: validation ESR {note['esr']:.4g} as it is{why}"
    if why:
        line += (f"; {note['matched_esr']:.4g} with level and polarity matched, which fine-tuning does in its "
                 "first epochs")
    return line


def describe_trained_model(result, capture, *, name: str, category: str | None = None,
                           category_source: str | None = None) -> dict[str, Any]:
    """Metadata that describes the capture that was trained, keeping only the lineage of a start model.

    A fine-tuned model starts as a copy of another device's model; its device, description, design,
    author and best epoch are about that device and are dropped. Kept: ``base_model`` (and its name
    or Hub repo, as Hub cards record it), what ``--from auto`` recorded (the suggestions and stage 1's
    DI level, the race, the start's output refit, the final), the training DI's peak and RMS levels,
    the licence; set: ``name``,
    ``best_epoch`` (this run's), ``stop_reason``, ``knob_values`` (the capture's), and ``category`` with
    ``category_source`` (``"user"``, ``"guess"`` from the device-kind classifier, or the rendered
    device's) — absent, with ``category_source: "unknown"``, when nobody said.
    """
    src = result.model.metadata
    md: dict[str, Any] = {k: src[k] for k in _KEEP_KEYS if k in src}
    md["name"] = name
    md["best_epoch"] = int(result.best_epoch)
    md["first_val_esr"] = round(float(result.first_val_esr), 6)
    md["stop_reason"] = result.stop_reason
    if getattr(capture, "knobs", None):
        md["knob_values"] = {k: float(v) for k, v in capture.knobs.items()}
    if category:
        md["category"] = category
        md["category_source"] = category_source or "user"
    else:
        md["category_source"] = "unknown"
    return md


def guess_category(capture) -> tuple[str | None, str | None, float | None]:
    """(category, "guess", confidence) from the device-kind classifier, or (None, None, None) without one."""
    from ..errors import TonezooError
    try:
        from ..classify import classify_capture
        guess = classify_capture(capture)
    except (ImportError, TonezooError):          # no bundled classifier: the category stays unknown
        return None, None, None
    return str(guess.category), "guess", float(guess.confidence)


class _Timing:
    """Prints the expected time once, from the wall time between two epochs of a one-model run.

    With ``contender`` (``--from auto``) a from-scratch run of the same budget follows the
    fine-tuning run: the line adds its time, or, when only that second run lasts long enough to
    be timed, says that it is the contender's.
    """

    def __init__(self, max_epochs: int, quiet: bool, contender: bool = False):
        self.max_epochs, self.quiet, self.contender = max_epochs, quiet, contender
        self.last: tuple[int, float] | None = None
        self.runs = 0                                      # one-model runs seen so far
        self.done = False

    def __call__(self, epoch: int, rows: list[dict]) -> None:
        import time
        if self.done or self.quiet or len(rows) != 1:      # the race (several rows) is short: not timed
            self.last = None
            return
        now = time.perf_counter()
        if self.last is None or epoch <= self.last[0]:     # a run starts; its first epoch includes compiling
            self.runs += 1
            self.last = (epoch, now)
            return
        rate = (now - self.last[1]) / (epoch - self.last[0])
        left = self.max_epochs - epoch
        if left <= 0:                                      # the run's last epoch: nothing left to time
            self.done = not (self.contender and self.runs == 1)
            self.last = None
            return
        self.done = True
        who = "the from-scratch contender: " if self.contender and self.runs > 1 else ""
        then = (f", then the from-scratch contender: at most {epochs_text(self.max_epochs)}, "
                f"{duration_text(rate * self.max_epochs)}") if self.contender and self.runs == 1 else ""
        print(f"{who}about {rate:.2f} s/epoch: at most {epochs_text(left, 'more')}, "
              f"{duration_text(rate * left)}{then} "
              "(early stopping usually ends a run sooner; Ctrl-C keeps the best model so far)", flush=True)


# -- train ---------------------------------------------------------------------------------------
def _check_train_args(args: argparse.Namespace) -> None:
    from ..errors import ConfigError
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {args.epochs}")
    if args.patience < 0:
        raise ConfigError(f"--patience must be 0 or more, got {args.patience}")
    import math
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise ConfigError(f"--lr must be a positive number, got {args.lr}")
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.lr_warmup is not None and args.lr_warmup < 0:
        raise ConfigError(f"--lr-warmup must be 0 (none) or more steps, got {args.lr_warmup}")
    if args.pre_emphasis is not None and not 0.0 <= args.pre_emphasis < 1.0:
        raise ConfigError(f"--pre-emphasis must be in [0, 1) (0.85 is usual), got {args.pre_emphasis}")
    if args.hidden is not None and args.hidden < 1:
        raise ConfigError(f"--hidden must be at least 1, got {args.hidden}")
    if args.source != "auto":
        given = [flag for flag, value in (("--race", args.race), ("--race-epochs", args.race_epochs)) if value is not None]
        if args.zoo is not None and args.source is None:
            given.append("--zoo")
        if given:
            raise ConfigError(f"{' and '.join(given)} go{'es' if len(given) == 1 else ''} with --from auto"
                              f"{'' if '--zoo' not in given else ' or --from ZOO_ID'}; add it or drop "
                              f"{'it' if len(given) == 1 else 'them'}")
    if args.race is None:
        args.race = DEFAULT_RACE
    if args.race < 0 or (args.race_epochs is not None and args.race_epochs < 1):
        raise ConfigError("--race must be 0 or more and --race-epochs at least 1")
    if args.seconds is not None and args.seconds <= 0:
        raise ConfigError(f"--seconds must be positive, got {args.seconds}")
    if args.source == "auto" and (args.hidden is not None or args.cell is not None):
        raise ConfigError("--from auto picks a zoo model and keeps its architecture; drop --hidden/--cell")
    if args.arch not in (None, "lstm") and (args.hidden is not None or args.cell is not None or args.knob):
        raise ConfigError(f"--arch {args.arch} is NAM's WaveNet preset: it takes no --hidden, --cell or --knob "
                          "(use --arch lstm for those)")
    if args.category is not None:
        from ..devices import CATEGORIES
        if args.category not in CATEGORIES:
            raise ConfigError(f"--category {args.category!r}: expected one of {', '.join(CATEGORIES)}")
    if args.resume and not args.checkpoint:
        raise ConfigError("--resume continues from --checkpoint DIR; give --checkpoint too")
    for flag, value in (("input", args.input), ("target", args.target)):
        if Path(value).resolve() == Path(args.output).resolve():
            raise ConfigError(f"-o {args.output} is the {flag} file: -o names a new folder for the model, and "
                              "tonezoo never writes over a recording; give another name, e.g. -o my-amp")


def _skip_free_zoo(zoo, ids: list[str]):
    """A temporary zoo holding the entries ``ids`` of ``zoo`` without their skip connection.

    For ``--from auto --no-skip`` when the zoo holds no skip-free model (NAM's LSTM has none): the
    LSTM and dense weights of a similar device are still a far better start than random ones (the
    dry path is relearned in the first epochs; docs/training.md has the measured difference). The
    entries keep their ids, names, categories and fingerprints; the folder goes when the run ends.
    """
    import dataclasses
    import tempfile
    from ..model import Model
    from ..zoo import Zoo
    tmp = tempfile.TemporaryDirectory(prefix="tonezoo-skipfree-")
    out = Zoo.open(Path(tmp.name) / "zoo", create=True)
    rows = {e.id: i for i, e in enumerate(zoo.list())}
    models = []
    for i in ids:
        m = zoo.get(i)
        models.append(Model(dataclasses.replace(m.config, skip=False), m.params, dict(m.metadata)))
    entries = {e.id: e for e in zoo.list()}
    out.add_many(models, ids=list(ids), names=[entries[i].name for i in ids],
                 categories=[entries[i].category for i in ids],
                 fingerprints=zoo.level_fingerprints[[rows[i] for i in ids]])
    out._skip_free_tmp = tmp                # removed with the zoo object
    return out


def _auto_start(zoo, capture, args: argparse.Namespace):
    """(zoo to start from, its ranking, the candidates' restriction) for --from auto.

    With ``--arch`` only models of that architecture are candidates; without it the best suggestion
    decides, and the zoo's models of its architecture are ranked again on their own so that the race
    has its contenders. With --no-skip, NAM-exportable starts only. The restriction (``None`` when
    every model was a candidate) is a dict ``{"architecture", "chosen_by", "left_out"}`` for the
    model's metadata (``candidates``) and card.
    """
    from ..errors import ConfigError
    exclude: list[str] = []
    candidates: dict[str, Any] | None = None
    if args.arch is not None:
        exclude = [e.id for e in zoo.list() if arch_name(e.config) != args.arch]
        if len(exclude) == len(zoo):
            found = sorted({arch_name(e.config) for e in zoo.list()})
            raise ConfigError(f"--arch {args.arch}: the zoo {zoo.directory} has no model of that architecture "
                              f"(it has {', '.join(found) or 'none'}); drop --arch, or add such models with "
                              "`tonezoo zoo add`")
        top = max(5, args.race)
        return (zoo, zoo.suggest(capture, top=min(top, len(zoo) - len(exclude)), exclude=exclude),
                {"architecture": args.arch, "chosen_by": "--arch"} if exclude else None)
    strip = False
    if args.no_skip:
        exclude = [e.id for e in zoo.list() if e.architecture.get("skip", False)]
        if len(exclude) == len(zoo):
            print(f"--no-skip: no model of {zoo_text(zoo)} is skip-free; starting from the best suggestions without "
                  "their skip connection (the network relearns the dry path)", flush=True)
            exclude, strip = [], True
    top = max(5, args.race)
    sugg = zoo.suggest(capture, top=min(top, len(zoo) - len(exclude)), exclude=exclude)
    if sugg:
        group = arch_name(zoo.entry(sugg[0].id).config)
        other = [s.id for s in sugg if arch_name(zoo.entry(s.id).config) != group]
        if other:
            # the race keeps to one architecture (train_many trains one kind side by side): rank that
            # architecture's models alone, so that the race still has its contenders
            exclude = sorted(set(exclude) | {e.id for e in zoo.list() if arch_name(e.config) != group})
            sugg = zoo.suggest(capture, top=min(top, len(zoo) - len(exclude)), exclude=exclude)
            print(f"the best suggestion is of architecture {group}: the race keeps to {group} models "
                  f"({', '.join(s.id for s in sugg[:max(1, args.race)])}), leaving out {', '.join(other)} "
                  "(--arch ARCH picks the architecture)", flush=True)
            candidates = {"architecture": group, "chosen_by": "the best suggestion", "left_out": other}
    if strip:
        zoo = _skip_free_zoo(zoo, [s.id for s in sugg])
    return zoo, sugg, candidates


def run_train(args: argparse.Namespace) -> int:
    import time
    from ..errors import ConfigError
    started = time.perf_counter()
    _check_train_args(args)
    out = check_model_dir_output(args.output, "-o", overwrite=args.overwrite)
    plot_path = check_file_output(args.plot, "--plot", suffixes=PLOT_SUFFIXES, create_parent=True) \
        if args.plot else None
    if args.checkpoint:
        check_own_dir_output(args.checkpoint, "--checkpoint", CHECKPOINT_FILES, command="a checkpoint")
        if Path(args.checkpoint).resolve() == out.resolve():
            raise ConfigError(f"--checkpoint {args.checkpoint}: is the model folder (-o); give the checkpoint a "
                              "folder of its own")

    from ..audio import level_text
    from ..embed import input_levels
    from ..model import ModelConfig
    from ..train import plot_history, train
    knobs = parse_knobs(args.knob)
    transfer = args.source is not None
    epochs = args.epochs or (DEFAULT_EPOCHS_TRANSFER if transfer else DEFAULT_EPOCHS_SCRATCH)
    progress = not args.quiet
    extra: dict[str, Any] = {}
    candidates: dict[str, Any] | None = None       # --from auto: the architecture its candidates kept to
    with Interrupts() as stop:
        capture = load_capture_args(args, command="train")
        timing = _Timing(epochs, False, contender=args.source == "auto")
        callback = stop.epoch_callback(timing)
        arch_given = args.hidden is not None or args.cell is not None or args.no_skip
        model_config = None
        if args.arch not in (None, "lstm") and args.source != "auto":
            from ..architectures.wavenet import model_config as wavenet_config
            model_config = wavenet_config(args.arch, sample_rate=capture.sample_rate)
        elif args.source is None or (arch_given and args.source != "auto"):
            model_config = ModelConfig(hidden_size=args.hidden or 20, cell=args.cell or "lstm",
                                       skip=not args.no_skip, knobs=tuple(knobs), sample_rate=capture.sample_rate)
        tcfg = _recipe(model_config, args, epochs)
        stops = f"stops after {args.patience} validations without improvement; " if args.patience < epochs else ""
        print(f"training at most {epochs_text(epochs)} on {capture.train_seconds:.1f} s of audio at {capture.sample_rate} Hz "
              f"(DI: {level_text(*(round(v, 2) for v in input_levels(capture.train_x)))}; "   # as the card gives it
              f"validation {capture.val_seconds:.1f} s); "
              f"{stops}--epochs N trains longer", flush=True)
        if args.source == "auto":
            zoo, sugg, candidates = _auto_start(_open_zoo(args.zoo), capture, args)
            if sugg:
                tcfg = _recipe(zoo.entry(sugg[0].id).config, args, epochs)
            stop.check()
            with stop.deferred():     # each start is made once, by Zoo.transfer, which says where it starts
                result = zoo.transfer(capture, race=args.race, race_epochs=args.race_epochs, config=tcfg,
                                      progress=progress, suggestions=sugg, epoch_callback=callback,
                                      on_race=lambda rows, winner: print(race_line(rows, winner), flush=True),
                                      on_start=lambda sid, m, rec: print(start_line(sid, start_note(m, capture), rec),
                                                                         flush=True))
            source = result.source
            final = result.model.metadata.get("final")
            if final:
                kept = "the from-scratch model" if final["winner"] == "scratch" else f"the fine-tuned {final['winner']}"
                print(f"final: fine-tuned {final['transfer_val_esr']:.4g} against the from-scratch contender's "
                      f"{final['scratch_val_esr']:.4g} (validation ESR); keeping {kept}", flush=True)
            if result.model.metadata.get("race"):
                extra["race"] = result.model.metadata["race"]
        elif args.source:
            init = load_model_arg(args.source, args.zoo)
            if args.arch is not None and arch_name(init.config) != args.arch:
                raise ConfigError(f"--from {args.source} is a {init.config.describe()} ({arch_name(init.config)}), "
                                  f"not --arch {args.arch}; drop --arch to fine-tune it as it is")
            if args.arch not in (None, "lstm"):
                model_config = None                       # --arch named the file's own WaveNet preset
            if init.config.sample_rate != capture.sample_rate:
                # as --from auto starts zoo models: the weights are kept and fine-tuning adapts them to the rate
                from ..zoo.transfer import adapt_model
                print(f"--from {args.source}: trained at {init.config.sample_rate} Hz, the capture is at "
                      f"{capture.sample_rate} Hz: it is fine-tuned at {capture.sample_rate} Hz, as --from auto does "
                      "with zoo models (its first epochs adapt it to the rate)", flush=True)
                init = adapt_model(init, knobs=init.config.knobs, sample_rate=capture.sample_rate)
            tcfg = _recipe(init.config, args, epochs)
            print(start_line(init.name, start_note(init, capture)), flush=True)
            stop.check()
            with stop.deferred():
                result = train(capture, init=init, model_config=model_config, config=tcfg, progress=progress,
                               checkpoint_dir=args.checkpoint, resume=args.resume, epoch_callback=callback)
            source = args.source
        else:
            with stop.deferred():
                result = train(capture, model_config=model_config, config=tcfg, progress=progress,
                               checkpoint_dir=args.checkpoint, resume=args.resume, epoch_callback=callback)
            source = None
    interrupted = stop.seen or result.stop_reason == "interrupted"
    if interrupted:
        result.stop_reason = "interrupted"
    category, category_source, confidence = (args.category, "user", None) if args.category else \
        guess_category(capture)
    result.model.metadata = describe_trained_model(result, capture, name=out.name, category=category,
                                                   category_source=category_source)
    if args.source not in (None, "auto") and result.model.metadata.get("base_model"):   # for the model card
        from ..card import base_model_source
        result.model.metadata["base_model_source"] = base_model_source(args.source, result.model.metadata["base_model"])
    if args.source == "auto" and candidates:                        # for the model card
        result.model.metadata["candidates"] = candidates
    if confidence is not None:
        result.model.metadata["category_confidence"] = round(confidence, 3)
        print(f"category: {category} (a guess of the device-kind classifier, confidence {confidence:.2f}; "
              "--category sets it)", flush=True)
    # a second Ctrl-C while writing must not leave half a model: the save is atomic, and so is the plot
    written = result.model.save(out)
    if plot_path is not None:
        label = "scratch" if not source else \
            "scratch (beat the fine-tuned model)" if source == "scratch" else "transfer from " + source
        plot_history({label: result}, plot_path,
                     title=f"{capture.name}: validation ESR", metric="val_esr")
        extra["plot"] = str(plot_path)
    summary = {**result.summary(), "model": str(written), "from": source, **extra}
    if interrupted:
        print(f"interrupted after {epochs_text(result.epochs)}: the best model so far "
              f"(validation ESR {result.best_val_esr:.4f}, epoch {result.best_epoch}) was written to {written}",
              flush=True)
    else:
        print(f"trained {epochs_text(result.epochs)}, stopped by {STOP_TEXT.get(result.stop_reason, result.stop_reason)}"
              f"; {duration_text(time.perf_counter() - started)} in all; "
              f"validation ESR {result.first_val_esr:.4f} -> {result.best_val_esr:.4f} (best at epoch "
              f"{result.best_epoch}); model written to {written}", flush=True)
    if args.json:
        print(json.dumps(summary), flush=True)
    return 130 if interrupted else 0


def _open_zoo(path: str | None):
    from ..zoo import Zoo
    return Zoo.open(path) if path else Zoo.default()


# -- process -------------------------------------------------------------------------------------
def run_process(args: argparse.Namespace) -> int:
    import numpy as np
    from ..capture import read_audio
    from ..errors import CaptureError, ConfigError, InputLevelWarning
    try:            # the input first: a missing or unreadable input is the error to report, not the output's
        x, sr, _ = read_audio(args.input, channel=args.channel, label="input")
    except CaptureError as e:
        raise as_cli_error(e) from None
    out = check_file_output(args.output, "OUT.wav", suffixes=(".wav",), overwrite=args.overwrite,
                            not_input=args.input)
    knobs = parse_knobs(args.knob) or None
    model = load_model_arg(args.model, args.zoo)
    rate = model.sample_rate
    if sr != rate and not args.resample:
        print(f"tonezoo process: warning: {args.input} is at {sr} Hz but the model was trained at {rate} Hz, and "
              f"--no-resample runs it at {sr} Hz, where its filters sit at other frequencies; without "
              f"--no-resample it runs at {rate} Hz (the output is written at {sr} Hz either way)", file=sys.stderr)
    # InputLevelWarning: the input is hotter than the capture's DI
    with printed_warnings("process", about={InputLevelWarning: args.input}):
        if sr != rate and args.resample:
            import librosa
            y = model.process(librosa.resample(np.asarray(x, np.float32), orig_sr=sr, target_sr=rate), knobs, prewarm=True)
            y = librosa.resample(np.asarray(y, np.float32), orig_sr=rate, target_sr=sr)[: len(x)]
        else:
            y = model.process(x, knobs, prewarm=True)
    _write_wav(out, np.asarray(y, np.float32), sr)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    note = f", resampled {sr} -> {rate} -> {sr} Hz" if sr != rate and args.resample else ""
    print(f"wrote {out} ({len(y) / sr:.2f} s, peak {peak:.3f}{note})")
    if peak > 1.0:
        print(f"tonezoo process: warning: the output peaks at {20 * np.log10(peak):+.1f} dBFS; the float WAV keeps "
              "it, but a player or a 16/24-bit conversion clips above 0 dBFS: lower the level in your player or "
              "editor", file=sys.stderr)
    return 0


def _write_wav(path: Path, audio, sample_rate: int) -> None:
    """Write a float WAV atomically (:func:`tonezoo.modelfile.atomic_write`), with the user's usual permissions."""
    import soundfile as sf

    from ..modelfile import atomic_write
    atomic_write(path, lambda tmp: sf.write(str(tmp), audio, sample_rate, subtype="FLOAT", format="WAV"))
