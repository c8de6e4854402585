"""Helpers shared by the sub-command groups."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["parse_knobs", "race_line", "capture_options", "load_capture_args", "printed_warnings", "epochs_text",
           "zoo_text", "CAPTURE_COMMANDS"]

# every command that loads a capture takes capture_options() as a parent (tests check each one)
CAPTURE_COMMANDS = ("check-capture", "train", "suggest")


def capture_options() -> argparse.ArgumentParser:
    """The options of every command that loads a capture: one parent, so they cannot drift apart.

    Pass it as ``parents=[capture_options()]`` to ``add_parser``; the command's handler then calls
    :func:`load_capture_args`. Every flag a :class:`~tonezoo.errors.CaptureError` recommends
    (``cli_options`` of its class) is here.
    """
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("capture options")
    g.add_argument("--channel", type=int, default=None, metavar="N",
                   help="channel of multi-channel files, for both files (0 = left)")
    g.add_argument("--input-channel", type=int, default=None, metavar="N",
                   help="channel of the input file (overrides --channel); with --target-channel, one stereo "
                        "file holding the DI and the device's output, given twice, is a capture")
    g.add_argument("--target-channel", type=int, default=None, metavar="N",
                   help="channel of the target file (overrides --channel)")
    g.add_argument("--no-align", action="store_true",
                   help="keep the files as they are: do not estimate or remove the recording delay")
    g.add_argument("--max-latency-ms", type=float, default=100.0, metavar="MS",
                   help="refuse a larger input-to-target delay (default 100)")
    g.add_argument("--resample", action="store_true", help="resample the target to the input's rate if they differ")
    g.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="knob setting of the captured device (repeatable), a conditioning input")
    g.add_argument("--val-fraction", type=float, default=None, metavar="F",
                   help="fraction of the audio kept for validation (default: the standard signal's validation "
                        "section, else 0.2)")
    g.add_argument("--seconds", "--limit-seconds", dest="seconds", type=float, default=None, metavar="S",
                   help="keep only the first S seconds of the training audio (validation unchanged)")
    return p


def load_capture_args(args: argparse.Namespace, *, command: str | None = None, **extra: Any):
    """:func:`tonezoo.load_capture` with the options of :func:`capture_options`.

    Warnings are printed as ``tonezoo COMMAND: warning: ...``; errors carry the command line's
    wording (flags, not keyword arguments).

    Raises
    ------
    CaptureError
        As :func:`tonezoo.load_capture`, its message naming this command's flags.
    ConfigError
        A malformed ``--knob``.
    """
    from ..capture import load_capture
    from ..errors import CaptureError
    knobs = parse_knobs(args.knob)
    name = command or getattr(args, "command", None) or "tonezoo"
    try:
        with printed_warnings(name):
            return load_capture(args.input, args.target, resample=args.resample, channel=args.channel,
                                input_channel=args.input_channel, target_channel=args.target_channel,
                                align=not args.no_align, max_latency_ms=args.max_latency_ms,
                                val_fraction=args.val_fraction, limit_seconds=args.seconds,
                                knobs=knobs or None, **extra)
    except CaptureError as e:
        raise as_cli_error(e) from None


@contextlib.contextmanager
def printed_warnings(command: str, *, about: dict[type[Warning], str] | None = None) -> Iterator[None]:
    """Every warning raised inside the block, printed once it ends (also when it raises) to stderr as
    ``tonezoo COMMAND: warning: [WHAT: ]MESSAGE``, where ``about`` maps a warning class to the WHAT it is
    about (a file name)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                what = next((f"{v}: " for k, v in (about or {}).items() if issubclass(w.category, k)), "")
                print(f"tonezoo {command}: warning: {what}{w.message}", file=sys.stderr)


def as_cli_error(error: Exception) -> Exception:
    """The same error with its advice naming command-line flags (``cli_message``) where it has one."""
    message = getattr(error, "cli_message", None)
    return error if message is None else type(error)(message)


def parse_knobs(items: list[str]) -> dict[str, float]:
    """``["gain=0.5", ...]`` (repeated ``--knob`` options) -> ``{"gain": 0.5}``.

    Raises
    ------
    ConfigError
        An item is not ``NAME=VALUE`` or the value is not a number in [0, 1].
    """
    from ..errors import ConfigError
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            v = float(value)
        except ValueError:
            v = float("nan")
        if not sep or not name or not 0.0 <= v <= 1.0:
            raise ConfigError(f"--knob {item!r}: expected NAME=VALUE with VALUE in [0, 1], e.g. --knob gain=0.5")
        out[name] = v
    return out


def race_line(race: list[dict], winner: str) -> str:
    """One line for the ``race`` metadata :meth:`tonezoo.Zoo.transfer` records: contenders and the winner."""
    epochs = race[0]["epochs"] if race else 0
    return ("race: " + ", ".join(f"{r['id']} {r['val_esr']:.4f}" for r in race)
            + f" (best validation ESR after {epochs_text(epochs)}); continuing {winner}")


def epochs_text(n: int, word: str = "") -> str:
    """``"1 epoch"``, ``"3 epochs"``; with ``word``, ``"3 more epochs"``."""
    from .._progress import count_text
    return count_text(n, "epoch", word)


def zoo_text(zoo) -> str:
    """A zoo as messages name it: ``"the bundled zoo"`` (read-only, :meth:`tonezoo.Zoo.default`), else
    ``"the zoo in DIR"``."""
    return "the bundled zoo" if zoo.read_only else f"the zoo in {zoo.directory}"
