"""Captures as users record them: WAV files loaded with ``load_capture`` exactly as the CLI does.

The inputs are made the way real users' files come out of a DAW (stereo with a silent channel,
dry-left/wet-right in one file, normalised and hot float targets, a DC offset, large delays), from
excerpts of the real DI fixtures played through tonezoo's virtual devices. The end-to-end test
trains on such a file and scores the model on *fresh* audio rendered separately, against the
device's raw output.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tonezoo import devices
from tonezoo.capture import (ALIGN_MARGIN, ChannelChoiceWarning, ClippedTargetError, DCOffsetWarning,
                             HotTargetWarning, IdenticalAudioError, LatencyTooLargeError, StereoInputError,
                             SwappedFilesWarning, crest_factor_db, load_capture)
from tonezoo.cli import main

DI_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "di"
pytestmark = pytest.mark.skipif(not DI_DIR.is_dir(), reason="the shared DI fixtures are not beside the checkout")


def di(seconds: float = 8.0, sr: int = 48000, name: str = "john.wav", start: float = 1.0) -> np.ndarray:
    """A mono excerpt of a real DI fixture (48 kHz), resampled to ``sr`` if needed, peak 0.5."""
    x, fs = sf.read(str(DI_DIR / name), dtype="float32", always_2d=True)
    x = x[int(start * fs): int((start + seconds) * fs), 0]
    if sr != fs:
        import librosa
        x = librosa.resample(x, orig_sr=fs, target_sr=sr).astype(np.float32)
    return (x / (np.max(np.abs(x)) + 1e-9) * 0.5).astype(np.float32)


def wet(x: np.ndarray, sr: int, device: str = "screamer", delay: int = 0) -> np.ndarray:
    """``x`` through a virtual device (peak at most 0.7), delayed by ``delay`` samples, same length."""
    y = np.asarray(devices.render(device, x, sr), np.float32)
    peak = np.max(np.abs(y))
    if peak > 0.7:
        y = y / peak * 0.7
    if delay > 0:
        y = np.concatenate([np.zeros(delay, np.float32), y[:-delay]])
    elif delay < 0:
        y = np.concatenate([y[-delay:], np.zeros(-delay, np.float32)])
    return y.astype(np.float32)


def norm(a: np.ndarray) -> np.ndarray:
    return (a / np.max(np.abs(a))).astype(np.float32)


def assert_shift(cap, delay: int) -> None:
    assert delay - ALIGN_MARGIN <= cap.metadata["latency_samples"] <= delay


# ---- one file, several channels ----------------------------------------------------------------

def test_stereo_target_with_one_silent_channel_takes_the_other(tmp_path):
    sr = 48000
    x = di(8, sr)
    y = wet(x, sr, "crunch-amp", delay=50)
    sf.write(str(tmp_path / "in.wav"), x, sr, subtype="PCM_24")
    for name, stereo, live in (("L", np.stack([y, np.zeros_like(y)], 1), 0),
                               ("R", np.stack([np.zeros_like(y), y], 1), 1)):
        path = tmp_path / f"out_{name}.wav"
        sf.write(str(path), stereo, sr, subtype="PCM_24")
        with pytest.warns(ChannelChoiceWarning, match=f"only channel {live} .* is not silent"):
            cap = load_capture(tmp_path / "in.wav", path)
        assert cap.metadata["target_file"]["channel"] == live
        assert_shift(cap, 50)
        assert main(["check-capture", str(tmp_path / "in.wav"), str(path)]) == 0


def test_dry_left_wet_right_in_one_file_is_a_capture(tmp_path, capsys):
    sr = 44100
    x = di(8, sr)
    path = tmp_path / "dry_L_wet_R.wav"
    sf.write(str(path), np.stack([x, wet(x, sr, "screamer")], 1), sr, subtype="PCM_24")
    cap = load_capture(path, path, input_channel=0, target_channel=1)
    assert_shift(cap, 0)
    with pytest.raises(StereoInputError, match=r"dry_L_wet_R\.wav.*target_channel=0.*target_channel=1"):
        load_capture(path, path, input_channel=0)         # the target's channel is still unnamed
    assert main(["check-capture", str(path), str(path), "--input-channel", "0", "--target-channel", "1"]) == 0
    assert "shifted by" in capsys.readouterr().out
    # the same channel of the same file twice is refused
    with pytest.raises(IdenticalAudioError, match="exported the DI twice"):
        load_capture(path, path, channel=0)
    assert main(["check-capture", str(path), str(path), "--channel", "1"]) == 2
    err = capsys.readouterr().err
    assert "exported the DI twice" in err and "--input-channel 0 --target-channel 1" in err
    assert "input_channel" not in err


def test_identical_input_and_target_files_are_refused(tmp_path):
    sr = 48000
    x = di(4, sr)
    sf.write(str(tmp_path / "di.wav"), x, sr, subtype="PCM_24")
    sf.write(str(tmp_path / "di_copy.wav"), x, sr, subtype="PCM_24")
    for target in ("di.wav", "di_copy.wav"):
        with pytest.raises(IdenticalAudioError, match="you exported the DI twice"):
            load_capture(tmp_path / "di.wav", tmp_path / target)


def test_swapped_input_and_target_files_are_named(tmp_path, capsys):
    sr = 48000
    x = di(10, sr)
    sf.write(str(tmp_path / "di.wav"), x, sr, subtype="PCM_24")
    for device in ("muff", "crunch-amp", "screamer", "boost", "compressor", "clean-amp"):
        y = wet(x, sr, device, delay=25)
        sf.write(str(tmp_path / f"{device}.wav"), y, sr, subtype="PCM_24")
        # in the right order no device draws the warning: its output is never much peakier than its DI
        with warnings.catch_warnings():
            warnings.simplefilter("error", SwappedFilesWarning)
            cap = load_capture(tmp_path / "di.wav", tmp_path / f"{device}.wav")
        crest = cap.metadata["crest_factor_db"]
        assert crest["target"] - crest["input"] <= 1.5, (device, crest)
    # swapped, a distorting device's output is named, and the delay it shows is told too
    with pytest.warns(SwappedFilesWarning, match=r"input file '.*muff\.wav' looks like a device's output.*"
                                                 r"leads the input by \d+ samples.*swapped"):
        load_capture(tmp_path / "muff.wav", tmp_path / "di.wav")
    assert main(["train", str(tmp_path / "crunch-amp.wav"), str(tmp_path / "di.wav"), "-o", str(tmp_path / "m"),
                 "--epochs", "1", "--arch", "lstm"]) == 0
    assert "Are the two files swapped?" in capsys.readouterr().err
    assert np.isnan(crest_factor_db(np.zeros(100)))


# ---- levels: normalised, hot, clipped, DC --------------------------------------------------------

def test_normalised_and_hot_targets_load_only_flat_tops_are_refused(tmp_path):
    sr = 48000
    x = di(8, sr)
    sf.write(str(tmp_path / "in.wav"), x, sr, subtype="PCM_24")
    y = wet(x, sr, "crunch-amp", delay=40)
    fuzz = wet(x, sr, "muff", delay=40)
    ok = {"norm24_pos.wav": (norm(y) * (8388607 / 8388608), "PCM_24"), "norm24_neg.wav": (-norm(y), "PCM_24"),
          "norm16.wav": (norm(y) * (32767 / 32768), "PCM_16"), "normf32.wav": (norm(y), "FLOAT"),
          "fuzz_norm24.wav": (norm(fuzz) * (8388607 / 8388608), "PCM_24"),
          "fuzz_norm16.wav": (norm(fuzz) * (32767 / 32768), "PCM_16"),
          "fuzz_minus1dB24.wav": (norm(fuzz) * 10 ** (-1 / 20), "PCM_24")}
    for name, (audio, subtype) in ok.items():
        sf.write(str(tmp_path / name), audio, sr, subtype=subtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error", HotTargetWarning)
            assert_shift(load_capture(tmp_path / "in.wav", tmp_path / name), 40)
    # a float render at +3 dBFS: nothing clipped, a warning that it is hot
    sf.write(str(tmp_path / "hot.wav"), norm(y) * 10 ** (3 / 20), sr, subtype="FLOAT")
    with pytest.warns(HotTargetWarning, match=r"\+3\.0 dBFS"):
        assert_shift(load_capture(tmp_path / "in.wav", tmp_path / "hot.wav"), 40)
    # a 24-bit take that clipped: flat tops at full scale
    sf.write(str(tmp_path / "clipped.wav"), np.clip(3.0 * y, -1.0, 1.0), sr, subtype="PCM_24")
    with pytest.raises(ClippedTargetError, match=r"clipped\.wav.*flat top"):
        load_capture(tmp_path / "in.wav", tmp_path / "clipped.wav")


def test_dc_offset_is_named_and_removed(tmp_path):
    sr = 48000
    x = di(8, sr)
    y = wet(x, sr, "crunch-amp", delay=30)
    sf.write(str(tmp_path / "in.wav"), x, sr, subtype="PCM_24")
    sf.write(str(tmp_path / "out_dc.wav"), y * 0.9 + 0.05, sr, subtype="PCM_24")
    sf.write(str(tmp_path / "out_clean.wav"), y, sr, subtype="PCM_24")
    with pytest.warns(DCOffsetWarning, match=r"DC offset of \+0\.05"):
        cap = load_capture(tmp_path / "in.wav", tmp_path / "out_dc.wav")
    assert cap.metadata["dc_offset_removed"] == pytest.approx(0.05, abs=1e-3)
    assert_shift(cap, 30)
    # where the input is silent, the target the model learns is silent too (no offset to put out)
    quiet = np.abs(cap.x) < 1e-4
    assert quiet.sum() > 1000 and abs(float(np.median(cap.y[quiet]))) < 2e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error", DCOffsetWarning)
        clean = load_capture(tmp_path / "in.wav", tmp_path / "out_clean.wav")
    assert "dc_offset_removed" not in clean.metadata


# ---- large delays -----------------------------------------------------------------------------------

def test_large_delays_are_found_and_the_cli_can_allow_them(tmp_path, capsys):
    sr = 48000
    x = di(10, sr)
    sf.write(str(tmp_path / "in.wav"), x, sr, subtype="PCM_24")
    sf.write(str(tmp_path / "lead.wav"), wet(x, sr, "crunch-amp", delay=-1377), sr, subtype="PCM_24")
    sf.write(str(tmp_path / "lag.wav"), wet(x, sr, "crunch-amp", delay=7200), sr, subtype="PCM_24")
    assert_shift(load_capture(tmp_path / "in.wav", tmp_path / "lead.wav"), -1377)
    with pytest.raises(LatencyTooLargeError, match=r"150\.\d ms.*max_latency_ms=200"):
        load_capture(tmp_path / "in.wav", tmp_path / "lag.wav")
    assert main(["check-capture", str(tmp_path / "in.wav"), str(tmp_path / "lag.wav")]) == 2
    err = capsys.readouterr().err
    assert "--max-latency-ms 200" in err and "max_latency_ms" not in err
    assert_shift(load_capture(tmp_path / "in.wav", tmp_path / "lag.wav", max_latency_ms=200), 7200)
    assert main(["check-capture", str(tmp_path / "in.wav"), str(tmp_path / "lag.wav"),
                 "--max-latency-ms", "200"]) == 0


# ---- every figure through files ----------------------------------------------------------------------

FRESH, FRESH_START = "john.wav", 9.5      # after the 8 s the capture is cut from: audio the model never saw


def fresh_esr(model, device: str, sr: int) -> float:
    """ESR of ``model`` on fresh DI (another recording) against ``device``'s raw output, unshifted."""
    from tonezoo.train import esr
    x = di(4, sr, FRESH, start=FRESH_START)
    return esr(devices.render(device, x, sr), model.process(x))


def test_fresh_audio_esr_agrees_with_validation_through_files(tmp_path):
    """Zero-latency pedal, 8 s written to WAV, loaded as the CLI does, a few epochs.

    The fresh audio is scored against the device's raw output with no shift at all: a model that
    learned to play ahead of (or behind) its device fails here.
    """
    from tonezoo.train import train
    sr = 48000
    x = di(8, sr)
    y = devices.render("screamer", x, sr)           # zero latency by construction, raw device output
    sf.write(str(tmp_path / "in.wav"), x, sr, subtype="FLOAT")
    sf.write(str(tmp_path / "out.wav"), y, sr, subtype="FLOAT")
    cap = load_capture(tmp_path / "in.wav", tmp_path / "out.wav")
    assert cap.metadata["latency_samples"] == 0, cap.metadata     # no recording delay: nothing to remove
    result = train(cap, max_epochs=10, patience=100, batch_size=8, progress=False)
    fresh = fresh_esr(result.model, "screamer", sr)
    assert result.best_val_esr < 0.2
    assert fresh <= 1.5 * result.best_val_esr, (fresh, result.best_val_esr)


# ---- one set of capture options on every command that loads a capture ---------------------------------

def _capture_error_classes():
    import inspect
    from tonezoo import capture
    from tonezoo.errors import CaptureError
    return [c for _, c in inspect.getmembers(capture, inspect.isclass) if issubclass(c, CaptureError)]


def _parse_flag(command: str, flag: str):
    """Parse ``command IN OUT flag [value]`` with the real parser; the namespace."""
    from tonezoo._cli._common import capture_options
    from tonezoo.cli import build_parser
    action = next(a for a in capture_options()._actions if flag in a.option_strings)
    value = [] if action.nargs == 0 else ["1"]
    extra = ["-o", "m"] if command == "train" else []
    return build_parser().parse_args([command, "in.wav", "out.wav", flag, *value, *extra])


def test_every_capture_command_has_every_capture_option():
    from tonezoo._cli._common import CAPTURE_COMMANDS, capture_options
    flags = [f for a in capture_options()._actions for f in a.option_strings if f.startswith("--")]
    assert {"--channel", "--input-channel", "--target-channel", "--no-align", "--max-latency-ms", "--resample",
            "--knob"} <= set(flags)
    for command in CAPTURE_COMMANDS:
        for flag in flags:
            args = _parse_flag(command, flag)
            assert callable(args.func), (command, flag)


def test_every_flag_a_capture_error_recommends_exists_on_every_capture_command():
    from tonezoo._cli._common import CAPTURE_COMMANDS
    advised = {f for cls in _capture_error_classes() for f in getattr(cls, "cli_options", ())}
    assert {"--channel", "--input-channel", "--target-channel", "--resample", "--max-latency-ms",
            "--val-fraction", "--seconds"} <= advised
    for command in CAPTURE_COMMANDS:
        for flag in advised:
            _parse_flag(command, flag)


def test_cli_errors_name_flags_not_keyword_arguments(tmp_path, capsys):
    import re
    from tonezoo.capture import _CLI_FLAGS
    sr = 48000
    x = di(3, sr)
    y = wet(x, sr, "screamer")
    sf.write(str(tmp_path / "di.wav"), np.stack([x, 0.5 * x], 1), sr, subtype="PCM_24")
    sf.write(str(tmp_path / "mono_di.wav"), x, sr, subtype="PCM_24")
    sf.write(str(tmp_path / "amp44.wav"), y[:44100 * 3], 44100, subtype="PCM_24")
    sf.write(str(tmp_path / "amp.wav"), y, sr, subtype="PCM_24")
    sf.write(str(tmp_path / "short.wav"), y[: int(1.1 * sr)], sr, subtype="PCM_24")
    sf.write(str(tmp_path / "short_di.wav"), x[: int(1.1 * sr)], sr, subtype="PCM_24")
    cases = [(["di.wav", "amp.wav"], "--channel 0"), (["di.wav", "amp.wav", "--channel", "3"], "--channel 0"),
             (["mono_di.wav", "amp44.wav"], "--resample"), (["short_di.wav", "short.wav"], "--val-fraction"),
             (["mono_di.wav", "mono_di.wav"], "--input-channel 0 --target-channel 1"),
             (["mono_di.wav", "amp.wav", "--val-fraction", "1.5"], "--val-fraction must be in (0, 1)"),
             (["mono_di.wav", "amp.wav", "--seconds", "-1"], "--seconds must be > 0")]
    advised = {f for cls in _capture_error_classes() for f in getattr(cls, "cli_options", ())}
    for command in ("check-capture", "suggest"):
        for argv, expected in cases:
            assert main([command, *[str(tmp_path / a) if a.endswith(".wav") else a for a in argv]]) == 2
            err = capsys.readouterr().err
            assert expected in err, (command, argv, err)
            assert not re.search(r"\b(" + "|".join(_CLI_FLAGS) + r")\b\s*=", err), err
            assert set(re.findall(r"--[a-z-]+", err)) <= advised, err
