"""Loading, validating, aligning and splitting captures; the capture commands."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

from tonezoo.capture import (ALIGN_MARGIN, alignment_shift, AudioFileNotFoundError, Capture, CaptureWarning, ChannelError,
                             ClippedTargetError, HotTargetWarning, IdenticalAudioError,
                             EmptyAudioError, LatencyTooLargeError, LengthMismatchError, NonFiniteAudioError,
                             SampleRateMismatchError, SilentAudioError, SplitError, StereoInputError,
                             UnreadableAudioError, UnsupportedSampleRateError, estimate_latency, load_capture,
                             read_audio)
from tonezoo.cli import main
from tonezoo.errors import CaptureError
from tonezoo.signals import capture_signal, signal_layout, synth_di

SR = 44100


@pytest.fixture(scope="module")
def di() -> np.ndarray:
    return synth_di(4.0, SR, seed=11)


def device(x: np.ndarray, sr: int = SR, *, zero_phase: bool = False) -> np.ndarray:
    """Nonlinear device: tanh(4x) through a 5 kHz low-pass."""
    b, a = ss.butter(2, 5000.0, fs=sr)
    filt = ss.filtfilt if zero_phase else ss.lfilter
    return (0.5 * filt(b, a, np.tanh(4.0 * x))).astype(np.float32)


def delayed(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` delayed by n samples, same length."""
    return np.concatenate([np.zeros(n, y.dtype), y])[: y.size]


def write(path: Path, audio: np.ndarray, sr: int = SR, subtype: str = "PCM_24", **kw) -> Path:
    sf.write(str(path), audio, sr, subtype=subtype, **kw)
    return path


@pytest.fixture
def pair(tmp_path, di):
    """A valid input/target pair on disk, target delayed by 137 samples."""
    x = write(tmp_path / "di.wav", di)
    y = write(tmp_path / "amp.wav", delayed(device(di), 137))
    return x, y


# ---- a good capture --------------------------------------------------------------------------

def test_load_good_capture(pair):
    cap = load_capture(*pair)
    assert isinstance(cap, Capture)
    assert cap.x.dtype == np.float32 and cap.y.dtype == np.float32 and cap.x.shape == cap.y.shape
    assert cap.sample_rate == SR and cap.name == "amp"
    assert cap.metadata["alignment"] == "correlation"
    assert 137 - ALIGN_MARGIN <= cap.metadata["latency_samples"] <= 137
    assert alignment_shift(cap.metadata["latency_estimate"]) == cap.metadata["latency_samples"]
    assert cap.metadata["input_file"]["subtype"] == "PCM_24"
    assert cap.duration == pytest.approx(4.0 - cap.metadata["latency_samples"] / SR)


@pytest.mark.parametrize("ext,subtype", [("flac", "PCM_16"), ("aiff", "PCM_24"), ("wav", "FLOAT"), ("wav", "PCM_32")])
def test_reads_formats_and_bit_depths(tmp_path, di, ext, subtype):
    x = write(tmp_path / f"di.{ext}", di, subtype=subtype)
    y = write(tmp_path / f"amp.{ext}", device(di), subtype=subtype)
    cap = load_capture(x, y, align=False)
    assert cap.x.dtype == np.float32
    tol = 2.0 ** -15 if subtype == "PCM_16" else 1e-6
    np.testing.assert_allclose(cap.x, di, atol=tol)


@pytest.mark.parametrize("zero_phase", [False, True])
def test_alignment_through_nonlinear_device(tmp_path, di, zero_phase):
    clean = device(di, zero_phase=zero_phase)
    x = write(tmp_path / "di.wav", di, subtype="FLOAT")
    y = write(tmp_path / "amp.wav", delayed(clean, 137), subtype="FLOAT")
    cap = load_capture(x, y)
    lag = cap.metadata["latency_samples"]
    assert 137 - ALIGN_MARGIN <= lag <= 137       # never past the delay, whatever the device's phase delay
    # the aligned target lags the device's own output by the margin left
    np.testing.assert_allclose(cap.y[137 - lag:], clean[: cap.y.size - (137 - lag)], atol=1e-6)
    assert cap.metadata["trimmed_samples"] == lag


def test_alignment_survives_polarity_inversion(tmp_path, di):
    x = write(tmp_path / "di.wav", di)
    y = write(tmp_path / "amp.wav", delayed(-device(di, zero_phase=True), 137))
    cap = load_capture(x, y)
    assert 137 - ALIGN_MARGIN <= cap.metadata["latency_samples"] <= 137
    assert cap.metadata["polarity"] == "inverted"


def test_target_leading_input_shifts_the_input(di):
    y = device(di, zero_phase=True)
    cap = Capture.from_arrays(di, np.concatenate([y[50:], np.zeros(50, np.float32)]), SR)
    lag = cap.metadata["latency_samples"]
    assert -50 - ALIGN_MARGIN <= lag <= -50
    np.testing.assert_allclose(cap.x[:1000], di[-lag:1000 - lag])


def test_latency_too_large(tmp_path, di):
    x = write(tmp_path / "di.wav", di)
    y = write(tmp_path / "amp.wav", delayed(device(di, zero_phase=True), 8820))     # 200 ms
    with pytest.raises(LatencyTooLargeError, match=r"200\.0 ms.*100 ms allowed.*max_latency_ms=250") as info:
        load_capture(x, y)
    assert info.value.cli_message.endswith("--max-latency-ms 250") and "=" not in info.value.cli_message
    assert 8820 - ALIGN_MARGIN <= load_capture(x, y, max_latency_ms=300).metadata["latency_samples"] <= 8820


def test_align_false_keeps_the_files_as_they_are(pair):
    cap = load_capture(*pair, align=False)
    assert cap.metadata["latency_samples"] == 0 and cap.metadata["alignment"] == "none"
    assert cap.x.size == 4 * SR


def test_estimate_latency_reports_confidence(di):
    lag, info = estimate_latency(di, delayed(device(di, zero_phase=True), 300), SR)
    assert 300 <= lag <= 300 + ALIGN_MARGIN and info["confidence"] > 20 and info["polarity"] == 1
    assert info["peak_lag"] == 300 and info["second_arrival"] is None
    rng = np.random.default_rng(0)
    _, info = estimate_latency(di, rng.standard_normal(di.size).astype(np.float32), SR)
    assert info["confidence"] < 8


# ---- the standard signal ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def standard() -> np.ndarray:
    return capture_signal(SR, 12.0, seed=5)


def test_standard_signal_uses_markers_and_validation_section(tmp_path, standard):
    x = write(tmp_path / "sig.wav", standard)
    y = write(tmp_path / "amp.wav", np.concatenate([np.zeros(500), device(standard)]))
    cap = load_capture(x, y)
    m = cap.metadata
    assert m["signal"] == "standard" and m["alignment"] == "marker"
    assert 500 - ALIGN_MARGIN <= m["latency_samples"] <= 500
    assert alignment_shift(m["latency_estimate"]) == m["latency_samples"]
    assert m["drift_samples"] == 0
    layout = {s.name: s for s in signal_layout(SR, 12.0)}
    assert cap.val_start == layout["validation"].start
    assert cap.val_seconds == pytest.approx((cap.x.size - layout["validation"].start) / SR)
    # an explicit fraction overrides the section
    assert load_capture(x, y, val_fraction=0.3).val_start is None


def test_clock_drift_warns(standard):
    n = standard.size
    t = np.arange(n) * (1.0 + 2e-4)                       # the target's clock runs 200 ppm fast
    y = np.interp(t, np.arange(n), device(standard)).astype(np.float32)
    with pytest.warns(CaptureWarning, match="clocks"):
        cap = Capture.from_arrays(standard, delayed(y, 300), SR)
    assert abs(cap.metadata["drift_samples"]) > 50


# ---- file errors -----------------------------------------------------------------------------

def test_stereo_needs_a_channel(tmp_path, di):
    stereo = np.stack([di, 0.5 * di[::-1]], axis=1)
    x = write(tmp_path / "di.wav", stereo)
    y = write(tmp_path / "amp.wav", device(di))
    with pytest.raises(StereoInputError, match=r"di\.wav.*2 different channels.*channel=0"):
        load_capture(x, y)
    cap = load_capture(x, y, channel=1, align=False)
    np.testing.assert_allclose(cap.x, 0.5 * di[::-1], atol=1e-6)
    assert cap.metadata["input_file"]["channel"] == 1
    with pytest.raises(ChannelError, match="channel 2 does not exist.*channel=0 to channel=1"):
        load_capture(x, y, channel=2)


def test_identical_channels_count_as_mono(tmp_path, di):
    x = write(tmp_path / "di.wav", np.stack([di, di], axis=1))
    y = write(tmp_path / "amp.wav", device(di))
    cap = load_capture(x, y, align=False)
    assert cap.metadata["input_file"]["dual_mono"] is True


def test_sample_rate_mismatch(tmp_path, di):
    x = write(tmp_path / "di.wav", di)
    y48 = ss.resample_poly(device(di), 160, 147).astype(np.float32)
    y = write(tmp_path / "amp.wav", y48, sr=48000)
    with pytest.raises(SampleRateMismatchError, match=r"44100 Hz.*48000 Hz.*resample=True"):
        load_capture(x, y)
    cap = load_capture(x, y, resample=True)
    assert cap.sample_rate == SR and cap.metadata["resampled"] is True
    assert -ALIGN_MARGIN - 3 <= cap.metadata["latency_samples"] <= 0
    assert cap.metadata["target_rate"] == 48000


def test_low_sample_rate_refused(tmp_path):
    low = synth_di(3.0, 16000, seed=1)[::2]
    x = write(tmp_path / "di.wav", low, sr=8000)
    y = write(tmp_path / "amp.wav", low, sr=8000)
    with pytest.raises(UnsupportedSampleRateError, match=r"di\.wav.*8000 Hz.*44100"):
        load_capture(x, y)


@pytest.mark.parametrize("which", ["input", "target"])
def test_silent_file(tmp_path, di, which):
    quiet = np.random.default_rng(0).standard_normal(di.size).astype(np.float32) * 1e-5
    x = write(tmp_path / "di.wav", quiet if which == "input" else di)
    y = write(tmp_path / "amp.wav", quiet if which == "target" else device(di))
    with pytest.raises(SilentAudioError, match=("di" if which == "input" else "amp") + r"\.wav.*silent"):
        load_capture(x, y)


def test_clipped_integer_target(tmp_path, di):
    x = write(tmp_path / "di.wav", di)
    y = write(tmp_path / "amp.wav", np.clip(4.0 * device(di), -1.0, 1.0), subtype="PCM_16")
    with pytest.raises(ClippedTargetError, match=r"amp\.wav.*flat top.*\+0\.0 dBFS.*-1 dBFS"):
        load_capture(x, y)


def test_float_target_over_full_scale_is_hot_not_clipped(tmp_path, di):
    x = write(tmp_path / "di.wav", di)
    y = write(tmp_path / "amp.wav", 2.5 * device(di), subtype="FLOAT")
    with pytest.warns(HotTargetWarning, match=r"peaks at \+[0-9.]+ dBFS; nothing was clipped"):
        cap = load_capture(x, y, align=False)
    assert np.max(np.abs(cap.y)) > 1.0


def test_flat_tops_below_full_scale_are_clipping_in_every_format(tmp_path, di):
    """A clipped take normalised down (or a float render through a clipper) keeps its flat tops."""
    x = write(tmp_path / "di.wav", di)
    for subtype in ("PCM_24", "FLOAT"):
        y = write(tmp_path / f"amp_{subtype}.wav", 0.7 * np.clip(4.0 * device(di), -0.9, 0.9), subtype=subtype)
        with pytest.raises(ClippedTargetError, match="flat top"):
            load_capture(x, y)


def test_target_normalised_to_full_scale_is_not_clipping(tmp_path, di):
    y = device(di)
    x = write(tmp_path / "di.wav", di)
    yp = write(tmp_path / "amp.wav", y / np.max(np.abs(y)), subtype="FLOAT")   # one sample at exactly 1.0
    load_capture(x, yp, align=False)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples(tmp_path, di, bad):
    y = device(di)
    y[1234] = bad
    x = write(tmp_path / "di.wav", di)
    yp = write(tmp_path / "amp.wav", y, subtype="FLOAT")
    with pytest.raises(NonFiniteAudioError, match=r"amp\.wav.*1 NaN or infinite sample.*sample 1234"):
        load_capture(x, yp)


def test_empty_truncated_corrupt_missing(tmp_path, di):
    x = write(tmp_path / "di.wav", di)
    good = write(tmp_path / "good.wav", device(di))
    empty = write(tmp_path / "empty.wav", np.zeros(0, np.float32))
    with pytest.raises(EmptyAudioError, match=r"empty\.wav.*no samples"):
        load_capture(x, empty)
    nothing = tmp_path / "nothing.wav"
    nothing.write_bytes(b"")                                    # not even a header
    with pytest.raises(EmptyAudioError, match=r"nothing\.wav.*is empty \(0 bytes\)"):
        load_capture(x, nothing)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30])
    with pytest.raises(UnreadableAudioError, match=r"truncated\.wav.*cannot be read"):
        load_capture(x, truncated)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(UnreadableAudioError, match=r"corrupt\.wav"):
        load_capture(corrupt, good)
    with pytest.raises(AudioFileNotFoundError, match="does not exist") as info:
        load_capture(x, tmp_path / "missing.wav")
    assert isinstance(info.value, FileNotFoundError)


def test_data_cut_short_is_a_length_mismatch(tmp_path, di):
    x = write(tmp_path / "di.wav", di)
    good = write(tmp_path / "good.wav", device(di), subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[: 44 + 2 * SR])          # header + 1 s of the 4 s of data
    with pytest.raises(LengthMismatchError, match=r"cut\.wav"):
        load_capture(x, cut)


def test_length_mismatch_trims_or_fails(tmp_path, di):
    x = write(tmp_path / "di.wav", di)
    longer = write(tmp_path / "long.wav", np.concatenate([device(di), np.zeros(SR // 2, np.float32)]))
    with pytest.warns(CaptureWarning, match="differ in length by 22050 samples"):
        cap = load_capture(x, longer, align=False)
    assert cap.x.size == di.size and cap.metadata["trimmed_samples"] == SR // 2
    shorter = write(tmp_path / "short.wav", device(di)[: di.size - int(1.5 * SR)])
    with pytest.raises(LengthMismatchError, match=r"4\.00 s.*2\.50 s.*more than 1 s"):
        load_capture(x, shorter)


def test_every_error_is_a_capture_error_and_value_error():
    for cls in (AudioFileNotFoundError, ChannelError, ClippedTargetError, EmptyAudioError, LatencyTooLargeError,
                LengthMismatchError, NonFiniteAudioError, SampleRateMismatchError, SilentAudioError, SplitError,
                StereoInputError, UnreadableAudioError, UnsupportedSampleRateError, IdenticalAudioError):
        assert issubclass(cls, CaptureError) and issubclass(cls, ValueError)


# ---- split -----------------------------------------------------------------------------------

def test_default_split_and_limit_seconds(di):
    cap = Capture.from_arrays(di, device(di), SR, align=False)
    assert cap.val_seconds == pytest.approx(0.8) and cap.train_seconds == pytest.approx(3.2)
    assert cap.train_x.size + cap.val_x.size == cap.x.size
    np.testing.assert_array_equal(cap.val_y, cap.y[-cap.val_y.size:])
    short = cap.with_split(limit_seconds=1.5)
    assert short.train_seconds == pytest.approx(1.5) and short.val_seconds == pytest.approx(0.8)
    assert short.train_y.size == int(1.5 * SR)
    assert cap.limit_seconds is None                         # a copy
    wider = cap.with_split(val_fraction=0.5)
    assert wider.val_seconds == pytest.approx(2.0)
    explicit = cap.with_split(val_start=3 * SR)
    assert explicit.val_seconds == pytest.approx(1.0)
    assert explicit.with_split(val_fraction=0.25).val_start is None


def test_split_too_small(tmp_path, di):
    cap = Capture.from_arrays(di, device(di), SR, align=False)
    with pytest.raises(SplitError, match=r"0\.50 s for training.*at least 1 s"):
        cap.with_split(limit_seconds=0.5)
    with pytest.raises(SplitError, match=r"0\.40 s for validation"):
        cap.with_split(val_fraction=0.1)
    tiny = Capture.from_arrays(di[: int(1.2 * SR)], device(di)[: int(1.2 * SR)], SR, align=False)
    with pytest.raises(SplitError):
        tiny.train_x
    x = write(tmp_path / "di.wav", di[: int(1.2 * SR)])
    y = write(tmp_path / "amp.wav", device(di)[: int(1.2 * SR)])
    with pytest.raises(SplitError, match="training"):
        load_capture(x, y, align=False)


# ---- arrays ----------------------------------------------------------------------------------

def test_from_arrays_validates_like_files(di):
    y = device(di)
    cap = Capture.from_arrays(di, delayed(y, 60), SR, knobs={"drive": 0.7}, name="od")
    assert cap.knobs == {"drive": 0.7} and cap.name == "od"
    assert 60 - ALIGN_MARGIN <= cap.metadata["latency_samples"] <= 60
    bad = y.copy()
    bad[10] = np.nan
    with pytest.raises(NonFiniteAudioError, match="<array y>"):
        Capture.from_arrays(di, bad, SR)
    with pytest.raises(StereoInputError, match="mono"):
        Capture.from_arrays(np.stack([di, di]), y, SR)
    with pytest.raises(ClippedTargetError):
        Capture.from_arrays(di, np.clip(5 * y, -1, 1), SR)
    with pytest.raises(UnsupportedSampleRateError):
        Capture.from_arrays(di, y, 8000)
    with pytest.raises(SilentAudioError, match="<array x>"):
        Capture.from_arrays(np.zeros_like(di), y, SR)
    with pytest.raises(CaptureError, match="dtype"):
        Capture.from_arrays((di * 32767).astype(np.int16), y, SR)
    with pytest.raises(CaptureError, match="same length"):
        Capture(di, y[:-5], SR)


# ---- CLI -------------------------------------------------------------------------------------

def test_cli_capture_signal(tmp_path, capsys):
    out = tmp_path / "signal.wav"
    assert main(["capture-signal", str(out), "--sr", "48000", "--seconds", "10", "--seed", "2"]) == 0
    info = sf.info(str(out))
    assert info.samplerate == 48000 and info.frames == 480000 and info.subtype == "PCM_24"
    text = capsys.readouterr().out
    assert "sync-marker" in text and "validation" in text and "24000" in text
    assert not list(tmp_path.glob(".signal*"))                      # no temporary left behind
    assert main(["capture-signal", str(tmp_path / "short.wav"), "--seconds", "3"]) == 2
    assert "at least 10 s" in capsys.readouterr().err


def test_cli_check_capture(tmp_path, capsys, di):
    x = write(tmp_path / "di.wav", np.stack([di, 0.9 * di], axis=1))
    y = write(tmp_path / "amp.wav", delayed(device(di, zero_phase=True), 137))
    assert main(["check-capture", str(x), str(y)]) == 2
    assert "--channel 0" in capsys.readouterr().err
    assert main(["check-capture", str(x), str(y), "--channel", "0", "--limit-seconds", "2"]) == 0
    text = capsys.readouterr().out
    shift = load_capture(x, y, channel=0).metadata["latency_samples"]
    assert f"shifted by {shift} samples" in text and "44100 Hz" in text and "(2.00 s)" in text
    assert 137 - ALIGN_MARGIN <= shift <= 137


def test_read_audio(tmp_path, di):
    path = write(tmp_path / "di.flac", np.stack([di, 0.5 * di], axis=1), subtype="PCM_24")
    audio, sr, info = read_audio(path, channel=1, label="input")
    assert sr == SR and audio.dtype == np.float32 and info["channels"] == 2
    np.testing.assert_allclose(audio, 0.5 * di, atol=1e-6)
    with pytest.raises(StereoInputError, match=r"input file .*di\.flac"):
        read_audio(path, label="input")


def test_a_negative_latency_limit_is_refused() -> None:
    from tonezoo.capture import Capture
    from tonezoo.errors import CaptureError
    x = np.random.default_rng(0).standard_normal(44100).astype(np.float32) * 0.1
    with pytest.raises(CaptureError, match="max_latency_ms must be a number of milliseconds >= 0") as e:
        Capture.from_arrays(x, 0.5 * x, 44100, max_latency_ms=-5)
    assert "--max-latency-ms" in e.value.cli_message
