"""``tonezoo capture-signal`` and ``tonezoo check-capture``: make the re-amp signal, check a recording."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import capture_options, load_capture_args

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("capture-signal", help="write the standard re-amp signal to play through a device",
                       description="Write tonezoo's standard re-amp signal (sync marker, sweeps, noise bursts, "
                                   "guitar phrases, validation section) as a 24-bit WAV, and print its layout. "
                                   "Play it through the device, record the output at the same rate, then run "
                                   "'tonezoo check-capture' or 'tonezoo train' on the two files.")
    p.add_argument("output", metavar="OUT.wav", help="WAV file to write")
    p.add_argument("--sr", type=int, choices=(44100, 48000), default=44100, help="sample rate (default 44100)")
    p.add_argument("--seconds", type=float, default=None, metavar="N",
                   help="total length in seconds (default 120, at least 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the guitar phrases and noise (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.wav if it exists")
    p.set_defaults(func=run_capture_signal)

    q = sub.add_parser("check-capture", parents=[capture_options()],
                       help="load a capture (input + recorded output) and report what was found",
                       description="Run every check of load_capture on an input/target pair and print the sample "
                                   "rate, lengths, latency shift and train/validation split. Exit 2 with the "
                                   "reason if the pair is unusable.")
    q.add_argument("input", metavar="IN.wav", help="the dry input that was played into the device")
    q.add_argument("target", metavar="OUT.wav", help="the recording of the device's output")
    q.set_defaults(func=run_check_capture)


def _write_wav_atomic(path: Path, audio, sample_rate: int) -> None:
    import soundfile as sf

    from ..modelfile import atomic_write
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: sf.write(str(tmp), audio, sample_rate, subtype="PCM_24", format="WAV"))


def run_capture_signal(args: argparse.Namespace) -> int:
    from ..signals import capture_signal, signal_layout

    from ._outputs import check_file_output
    out = check_file_output(args.output, "OUT.wav", suffixes=(".wav",), create_parent=True,
                            overwrite=args.overwrite)
    layout = signal_layout(args.sr, args.seconds)        # validates the length first
    audio = capture_signal(args.sr, args.seconds, seed=args.seed)
    _write_wav_atomic(out, audio, args.sr)
    print(f"wrote {out} ({audio.size / args.sr:.2f} s, {args.sr} Hz, 24-bit, seed {args.seed})")
    print(f"{'section':<18} {'start':>9} {'stop':>9} {'start s':>8} {'length s':>9}")
    for s in layout:
        print(f"{s.name:<18} {s.start:>9} {s.stop:>9} {s.start / args.sr:>8.2f} {s.length / args.sr:>9.2f}")
    return 0


def run_check_capture(args: argparse.Namespace) -> int:
    cap = load_capture_args(args, command="check-capture")
    m = cap.metadata
    sr = cap.sample_rate
    train_stop, val_start = cap.split_points()
    rate = f"{sr} Hz" + (f" (target resampled from {m['target_rate']} Hz)" if m.get("resampled") else "")
    print(f"capture      {cap.name}")
    print(f"sample rate  {rate}")
    print(f"input        {m['input_samples']} samples ({m['input_samples'] / m['input_rate']:.2f} s), "
          f"{m['input_file']['subtype']}")
    print(f"target       {m['target_samples']} samples ({m['target_samples'] / m['target_rate']:.2f} s), "
          f"{m['target_file']['subtype']}")
    signal = "tonezoo standard re-amp signal" if m.get("signal") == "standard" else "other (no sync marker)"
    print(f"signal       {signal}")
    print(f"alignment    {m['alignment']}: target shifted by {m['latency_samples']} samples "
          f"({m['latency_ms']:.2f} ms)"
          + (f" (response starts at {m['latency_estimate']}, less a margin of {m['latency_margin']})"
             if "latency_estimate" in m else "")
          + (f", confidence {m['latency_confidence']:.1f}" if "latency_confidence" in m else "")
          + (", polarity inverted" if m.get("polarity") == "inverted" else ""))
    if "drift_samples" in m:
        print(f"clock drift  {m['drift_samples']} samples between the start and validation markers")
    if "second_arrival" in m:
        sa = m["second_arrival"]
        print(f"echo         a second arrival {sa['ratio']:.0%} as strong, {sa['ms']:.1f} ms after the first")
    if "dc_offset_removed" in m:
        print(f"dc offset    {m['dc_offset_removed']:+.4f} removed from the target")
    print(f"trimmed      {m['trimmed_samples']} samples")
    print(f"aligned      {cap.x.size} samples ({cap.duration:.2f} s)")
    print(f"train        samples 0..{train_stop} ({cap.train_seconds:.2f} s)")
    print(f"validation   samples {val_start}..{cap.x.size} ({cap.val_seconds:.2f} s)")
    return 0
