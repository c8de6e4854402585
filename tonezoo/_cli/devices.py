"""``tonezoo devices`` and ``tonezoo render``: the virtual device bench from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import as_cli_error, parse_knobs
from ._outputs import check_file_output, check_own_dir_output

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list the virtual pedals and amps (designs and presets)",
                       description="List every virtual device: name, category, knobs with their values, "
                                   "description. Designs appear at their default knobs; presets are designs at "
                                   "fixed knob values.")
    p.add_argument("--category", default=None, help="only devices of this category")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_devices)

    q = sub.add_parser("render", help="play a WAV through a virtual device, or make a whole capture pair",
                       description="Render IN.wav through DEVICE into OUT.wav (same rate and subtype as the "
                                   "input; each channel separately), or with --capture DIR write a synthetic "
                                   "DI (or the standard re-amp signal) as DIR/input.wav and the device output "
                                   "as DIR/target.wav, ready for 'tonezoo train', with the device's "
                                   "settings in DIR/device.json.")
    q.add_argument("device", metavar="DEVICE", help="device name ('tonezoo devices' lists them)")
    q.add_argument("input", metavar="IN.wav", nargs="?", help="input WAV")
    q.add_argument("output", metavar="OUT.wav", nargs="?", help="output WAV to write")
    q.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="knob value in [0, 1] overriding the device's (repeatable), e.g. --knob drive=0.7")
    q.add_argument("--ir", default=None, metavar="IR.wav",
                   help="amp designs: convolve with this cabinet impulse response instead of the cabinet model")
    q.add_argument("--capture", default=None, metavar="DIR", help="write DIR/input.wav, DIR/target.wav and DIR/device.json "
                   "(the device and its settings)")
    q.add_argument("--overwrite", action="store_true", help="replace OUT.wav, or the files of an earlier "
                   "--capture in DIR, if they exist")
    q.add_argument("--seconds", type=float, default=30.0, metavar="N", help="--capture length (default 30)")
    q.add_argument("--sr", type=int, default=44100, metavar="RATE", help="--capture sample rate (default 44100)")
    q.add_argument("--seed", type=int, default=0, help="--capture seed of the synthetic input (default 0)")
    q.add_argument("--signal", choices=("di", "standard"), default="di",
                   help="--capture input: synthetic guitar DI (default) or the standard re-amp signal")
    q.set_defaults(func=run_render)


def run_devices(args: argparse.Namespace) -> int:
    from ..devices import CATEGORIES, list_devices
    from ..errors import ConfigError

    devices = list_devices()
    if args.category is not None:
        if args.category not in CATEGORIES:
            raise ConfigError(f"unknown category {args.category!r}; valid categories: {', '.join(CATEGORIES)}")
        devices = [d for d in devices if d.category == args.category]
    if args.json:
        print(json.dumps([{"name": d.name, "category": d.category, "design": d.design, "knobs": d.knobs,
                           "options": {k: v for k, v in d.options.items() if v is not None},
                           "description": d.description} for d in devices], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tonezoo virtual devices ({len(devices)})")
    for column in ("name", "category", "design", "knobs", "description"):
        table.add_column(column, overflow="fold")
    for d in devices:
        knobs = " ".join(f"{k}={v:.2f}" for k, v in d.knobs.items())
        table.add_row(d.name, d.category, d.design if d.design != d.name else "(design)", knobs, d.description)
    Console().print(table)
    return 0


#: What ``tonezoo render --capture DIR`` writes (a rerun replaces these and nothing else).
_CAPTURE_FILES = frozenset({"input.wav", "target.wav", "device.json"})


def run_render(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf

    from ..devices import get_device, render, render_pair
    from ..errors import CaptureError, ConfigError

    device = get_device(args.device)
    knobs = parse_knobs(args.knob)
    if args.ir is not None:
        if "ir" not in device.options:
            raise ConfigError(f"--ir: device {device.name!r} ({device.category}) has no cabinet; "
                              "only the amp designs take an impulse response")
        device = device.derive(device.name, options={"ir": args.ir})

    if args.capture is not None:
        if not args.seconds > 0:
            raise ConfigError(f"--seconds must be positive, got {args.seconds}")
        from ..audio import MIN_SAMPLE_RATE
        if not MIN_SAMPLE_RATE <= args.sr <= 384000:
            raise ConfigError(f"--sr must be a sample rate in [{MIN_SAMPLE_RATE}, 384000] Hz, got {args.sr}")
        if args.input or args.output:
            raise ConfigError("give either IN.wav OUT.wav or --capture DIR, not both")
        # input.wav / target.wav there may be the user's own recordings: replaced only with --overwrite
        out = check_own_dir_output(args.capture, "--capture", _CAPTURE_FILES, command="render",
                                   overwrite=args.overwrite)
        x, y, val_start = render_pair(device, seconds=args.seconds, sample_rate=args.sr, seed=args.seed,
                                      knobs=knobs, signal=args.signal)
        out.mkdir(parents=True, exist_ok=True)
        sf.write(out / "input.wav", x, args.sr, subtype="PCM_24")
        sf.write(out / "target.wav", y, args.sr, subtype="PCM_24")
        info = {"device": device.name, "design": device.design, "category": device.category,
                "knobs": {**device.knobs, **knobs}, "sample_rate": args.sr, "seconds": args.seconds,
                "seed": args.seed, "signal": args.signal, "val_start": val_start,
                "options": {k: v for k, v in device.options.items() if v is not None}}
        (out / "device.json").write_text(json.dumps(info, indent=2) + "\n")
        print(f"wrote {out / 'input.wav'}, {out / 'target.wav'} ({args.seconds:g} s at {args.sr} Hz, "
              f"{device.name}) and {out / 'device.json'} (the device, knobs, seed and signal)")
        return 0

    if not args.input or not args.output:
        raise ConfigError("render needs IN.wav and OUT.wav, or --capture DIR")
    src = Path(args.input)
    out = check_file_output(args.output, "OUT.wav", suffixes=(".wav",), overwrite=args.overwrite, not_input=src)
    from ..audio import read_frames
    from ..modelfile import atomic_write
    try:
        audio, sr, info = read_frames(src, "input")
    except CaptureError as e:
        raise as_cli_error(e) from None
    y = np.stack([render(device, audio[:, c].astype(np.float64), sr, knobs) for c in range(audio.shape[1])], axis=1)
    subtype = info["subtype"] if info["format"] == "WAV" else "PCM_24"
    atomic_write(out, lambda tmp: sf.write(str(tmp), y, sr, subtype=subtype, format="WAV"))
    print(f"wrote {args.output} ({audio.shape[0] / sr:.2f} s, {device.name})")
    return 0
