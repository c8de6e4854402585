"""Reading and checking audio: files, channels, sample rates, resampling, clipping, DC.

The first stage of loading a capture. :func:`read_audio` reads one mono signal from a file
(any format and bit depth libsndfile reads; a channel chosen, or found when the file's channels
are identical or only one is live); the checks refuse what no model should be trained on
(rates below :data:`MIN_SAMPLE_RATE`, NaN/Inf, silence, identical input and target, a clipped
target) and fix what can be fixed with a warning (a hot float target, a DC offset). Every
problem raises a specific :class:`~tonezoo.errors.CaptureError` subclass naming the file, what
is wrong and what to do. :func:`tonezoo.capture.load_capture` and
:meth:`tonezoo.capture.Capture.from_arrays` run these checks.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (AudioFileNotFoundError, CaptureError, ChannelChoiceWarning, ChannelError, ClippedTargetError,
                     DCOffsetWarning, EmptyAudioError, HotTargetWarning, IdenticalAudioError, NonFiniteAudioError,
                     SampleRateMismatchError, SilentAudioError, StereoInputError, UnreadableAudioError,
                     UnsupportedSampleRateError, _error)

__all__ = ["read_audio", "read_frames", "peak_dbfs", "level_text", "MIN_SAMPLE_RATE", "SILENCE_DBFS", "LEVEL_MARGIN_DB"]

MIN_SAMPLE_RATE = 16000
SILENCE_DBFS = -70.0          # RMS below this is "silent"
_CLIP_RUN = 3                 # this many consecutive samples at the peak value mean clipping (flat tops)
_DC_WARN = 0.01               # a target mean beyond this (-40 dBFS) is a DC offset, removed with a warning
_SILENT_CHANNEL = 1e-7        # a channel whose peak is below this is digitally silent

LEVEL_MARGIN_DB = 6.0
"""How far (dB) input may peak above the loudest training DI before :meth:`tonezoo.model.Model.process` warns.

A capture teaches a model the device over the levels its DI reached; a clipping stage met at a
level the capture never reached is guessed. 6 dB is twice the amplitude; in
``benchmarks/selection.py`` the one target where transfer lost to scratch on fresh audio was
played 9.8 dB above its capture's DI (``docs/captures.md``).
"""


def peak_dbfs(audio: np.ndarray) -> float:
    """Peak level of ``audio`` in dBFS (full scale 1.0): ``20 log10 max |audio|``, -inf for silence.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (..., n)], float, full scale 1.0

    Returns
    -------
    float
        dBFS; ``-inf`` for an empty or all-zero array.
    """
    a = np.asarray(audio)
    peak = float(np.max(np.abs(a))) if a.size else 0.0
    return float(20.0 * np.log10(peak)) if peak > 0.0 else float("-inf")


def level_text(peak_db: float | None, rms_db: float | None) -> str:
    """A DI level in words, naming each measure: ``"peak -6.1 dBFS, RMS -24.3 dBFS over its active frames"``.

    The one wording of a DI level wherever tonezoo prints one (``tonezoo suggest``, ``tonezoo
    train``, the model card), so that a peak and an RMS figure are never mistaken for each other.

    Parameters
    ----------
    peak_db : float or None
        Peak level, dBFS (:func:`peak_dbfs`); ``None`` leaves it out.
    rms_db : float or None
        RMS level of the active frames, dBFS (:func:`tonezoo.embed.input_level_db`, the level stage 1
        of the zoo's ranking compares at); ``None`` leaves it out.

    Returns
    -------
    str
        Empty when both are ``None``.
    """
    parts = []
    if peak_db is not None:
        parts.append(f"peak {float(peak_db):.1f} dBFS")
    if rms_db is not None:
        parts.append(f"RMS {float(rms_db):.1f} dBFS over its active frames")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------

def _as_mono_array(a: np.ndarray, label: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise StereoInputError(f"{label}: expected a mono 1-D array, got shape {a.shape}: pass one channel "
                               f"(e.g. audio[:, 0])")
    if not np.issubdtype(a.dtype, np.floating):
        raise CaptureError(f"{label}: expected float audio (full scale 1.0), got dtype {a.dtype}: convert with "
                           f"audio / np.iinfo(audio.dtype).max")
    if a.size == 0:
        raise EmptyAudioError(f"{label}: the array holds no samples")
    return a.astype(np.float32, copy=False)


def _check_rate(sample_rate: int, label: str) -> None:
    if sample_rate < MIN_SAMPLE_RATE:
        raise UnsupportedSampleRateError(
            f"{label}: sample rate {sample_rate} Hz is below the {MIN_SAMPLE_RATE} Hz tonezoo supports (guitar "
            f"tone needs the top octaves): record or export at 44100 or 48000 Hz")


def _check_samples(a: np.ndarray, label: str, sample_rate: int) -> None:
    """Rate, NaN/Inf and silence checks shared by files and arrays."""
    _check_rate(sample_rate, label)
    bad = ~np.isfinite(a)
    if bad.any():
        first = int(np.argmax(bad))
        raise NonFiniteAudioError(
            f"{label}: {int(bad.sum())} NaN or infinite sample(s) (first at {first / sample_rate:.3f} s, "
            f"sample {first}): a plug-in or export produced invalid floats; re-export as 24-bit integer WAV "
            f"or remove the offending plug-in")
    rms = float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))
    if rms < 10 ** (SILENCE_DBFS / 20):
        level = 20 * np.log10(rms) if rms > 0 else -np.inf
        raise SilentAudioError(
            f"{label}: the audio is silent (RMS {level:.1f} dBFS, below {SILENCE_DBFS:g} dBFS): check that the "
            f"right file/track was exported and that the device and interface input were actually recording")


def _check_clipping(y: np.ndarray, label: str, *, is_float: bool, lsb: float = 0.0) -> None:
    """Refuse a target with flat tops; warn about a float target above full scale.

    Clipping leaves runs of samples at one peak value (the converter's or a plug-in's ceiling),
    in any format and at any level (a clipped take normalised afterwards keeps its flat tops).
    A float file above 1.0 is not clipped: float holds it.
    """
    mag = np.abs(y)
    peak = float(np.max(mag))
    if peak <= 0.0:
        return
    tol = max(0.5 * lsb, 1e-6 * peak)
    at_peak = (mag >= peak - tol).astype(np.int8)
    # a run of _CLIP_RUN samples at the peak: a moving sum over the mask reaches _CLIP_RUN
    run_sums = np.convolve(at_peak, np.ones(_CLIP_RUN, np.int8), mode="valid")
    flat = run_sums >= _CLIP_RUN
    if flat.any():
        starts = int(np.count_nonzero(flat[1:] & ~flat[:-1]) + int(flat[0]))
        raise ClippedTargetError(
            f"{label}: the target clipped: {starts} flat top(s), runs of {_CLIP_RUN} or more samples at its "
            f"peak value ({20 * np.log10(peak):+.1f} dBFS); a model would learn the clipping of your interface "
            f"or a plug-in, not the device: record again with the device output or the interface input gain "
            f"lower (peaks below -1 dBFS), and no limiter or clipper on the recording's bus")
    if is_float and peak > 1.0:
        warnings.warn(
            f"{label}: the target peaks at {20 * np.log10(peak):+.1f} dBFS; nothing was clipped (float audio "
            f"holds it) and tonezoo trains on it as it is, but a model of it will put out levels above full "
            f"scale: normalise the target below 0 dBFS if your player needs it", HotTargetWarning, stacklevel=3)


def _dc_offset(y: np.ndarray, sample_rate: int) -> float:
    """The target's level on its quietest 20 % of 20 ms frames: what the interface adds to silence.

    A device's own asymmetry moves the mean of loud passages, not of quiet ones, so this reads
    the interface's offset rather than the device's even-order distortion.
    """
    f = max(1, int(0.02 * sample_rate))
    n = y.size // f
    if n < 5:
        return float(np.mean(y, dtype=np.float64))
    frames = y[: n * f].reshape(n, f).astype(np.float64)
    ac = frames.std(axis=1)
    return float(np.median(frames.mean(axis=1)[ac <= np.percentile(ac, 20)]))


def _remove_dc(y: np.ndarray, sample_rate: int, label: str, meta: dict[str, Any]) -> np.ndarray:
    """Remove a DC offset from the target (the interface's, not the device's), with a warning."""
    dc = _dc_offset(y, sample_rate)
    if abs(dc) < _DC_WARN:
        return y
    meta["dc_offset_removed"] = round(dc, 6)
    warnings.warn(
        f"{label}: the target carries a DC offset of {dc:+.4f} ({20 * np.log10(abs(dc)):+.1f} dBFS), the audio "
        f"interface's rather than the device's; it was removed, so the model does not put it out on silence. "
        f"Record with a DC-blocking (high-pass) input, or remove the offset in your editor", DCOffsetWarning,
        stacklevel=3)
    return (y - dc).astype(np.float32)


def _check_identical(x: np.ndarray, y: np.ndarray, x_label: str, y_label: str) -> None:
    if x.shape == y.shape and np.array_equal(x, y):
        raise _error(IdenticalAudioError,
                     f"{x_label} and {y_label} hold the same audio: the target must be the device's recording of "
                     f"the input; you exported the DI twice? Export the device's track as the target (for one "
                     f"stereo file holding both, name its channels: <<input_channel=0>> <<target_channel=1>>)")

# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------

def _lsb(subtype: str) -> float:
    """One quantisation step of an integer subtype at full scale 1.0; 0.0 for float subtypes."""
    if subtype.startswith("PCM_") and subtype[4:].isdigit():
        return 2.0 ** -(int(subtype[4:]) - 1)
    if subtype == "PCM_U8":
        return 2.0 ** -7
    return 0.0


def _is_float(subtype: str) -> bool:
    return subtype in ("FLOAT", "DOUBLE")


def read_audio(path: str | os.PathLike, *, channel: int | None = None, label: str = "audio"
               ) -> tuple[np.ndarray, int, dict[str, Any]]:
    """Read one mono signal from an audio file, with the file checks of :func:`tonezoo.capture.load_capture`.

    Parameters
    ----------
    path : path
        Anything libsndfile reads (WAV, FLAC, AIFF, OGG, MP3), any bit depth.
    channel : int, optional
        Channel of a multi-channel file; files whose channels are identical need none.
    label : str
        How messages name the file ("input", "target", ...).

    Returns
    -------
    audio : np.ndarray [shape=(n,), dtype=float32]
    sample_rate : int
    info : dict
        ``format``, ``subtype``, ``channels``, and ``channel`` / ``dual_mono`` when relevant.

    Raises
    ------
    AudioFileNotFoundError, UnreadableAudioError, EmptyAudioError, StereoInputError, ChannelError
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChannelChoiceWarning)
        audio, sr, info = _read(Path(path), label, channel)
    return audio, sr, info


_CHANNEL_NAMES = {0: "left", 1: "right"}


def read_frames(path: str | os.PathLike, label: str = "input") -> tuple[np.ndarray, int, dict[str, Any]]:
    """Every channel of an audio file, after the checks every reader of tonezoo makes.

    Parameters
    ----------
    path : path-like
    label : str
        What the file is, for messages ("input", "target").

    Returns
    -------
    frames : np.ndarray [shape=(n, channels), dtype=float32]
        Full scale 1.0.
    sample_rate : int
        Hz.
    info : dict
        ``format``, ``subtype`` and ``channels``.

    Raises
    ------
    AudioFileNotFoundError, UnreadableAudioError, EmptyAudioError
        A missing file, a folder, an empty or unreadable file, or one with no samples; each names the
        file and what to do.
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioFileNotFoundError(f"{label} file {str(path)!r} does not exist: check the path")
    if path.is_dir():
        raise UnreadableAudioError(f"{label} file {str(path)!r} is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"{label} file {str(path)!r} is empty (0 bytes): the recording or export failed; "
                              f"export it again")
    try:
        with sf.SoundFile(str(path)) as f:
            sample_rate, subtype, fmt, channels = f.samplerate, f.subtype, f.format, f.channels
            data = f.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        size = path.stat().st_size
        raise UnreadableAudioError(
            f"{label} file {str(path)!r} ({size} bytes) cannot be read as audio ({e}): it is corrupt, "
            f"truncated, or in a format libsndfile does not read (it reads WAV, FLAC, AIFF, OGG and MP3); "
            f"export it again (24-bit WAV is safest)") from None
    if data.shape[0] == 0:
        raise EmptyAudioError(f"{label} file {str(path)!r} holds no samples (0 frames): the recording or export "
                              "failed; export it again")
    return data, sample_rate, {"format": fmt, "subtype": subtype, "channels": channels}


def _read(path: Path, label: str, channel: int | None, option: str = "channel"
          ) -> tuple[np.ndarray, int, dict[str, Any]]:
    data, sample_rate, info = read_frames(path, label)
    channels = info["channels"]
    name = f"{label} file {str(path)!r}"
    if channels > 1:
        if channel is None:
            live = [c for c in range(channels) if np.max(np.abs(data[:, c])) > _SILENT_CHANNEL]
            if all(np.array_equal(data[:, 0], data[:, c]) for c in range(1, channels)):
                channel = 0           # identical channels: a mono signal stored as stereo
                info["dual_mono"] = True
            elif len(live) == 1:
                channel = live[0]     # one channel recorded, the others digital silence
                info["only_live_channel"] = True
                warnings.warn(f"{name} has {channels} channels and only channel {channel} "
                              f"({_CHANNEL_NAMES.get(channel, 'channel ' + str(channel))}) is not silent: "
                              f"using it", ChannelChoiceWarning, stacklevel=4)
            else:
                raise _error(StereoInputError,
                             f"{name} has {channels} different channels; tonezoo needs one: choose it with "
                             f"<<{option}=0>> (left) or <<{option}=1>> (right), or export the file as mono")
        if not 0 <= channel < channels:
            raise _error(ChannelError, f"{name} has {channels} channels (0..{channels - 1}); channel {channel} "
                                       f"does not exist: choose one with <<{option}=0>> to "
                                       f"<<{option}={channels - 1}>>")
        info["channel"] = channel
        mono = data[:, channel]
    else:
        mono = data[:, 0]
    return np.ascontiguousarray(mono), int(sample_rate), info


def _match_rate(y: np.ndarray, sr_y: int, sr_x: int, *, resample: bool, x_label: str, y_label: str
                ) -> tuple[np.ndarray, bool]:
    """The target at the input's rate: ``(y, resampled)``; a different rate without ``resample`` is an error."""
    if sr_x == sr_y:
        return y, False
    if not resample:
        raise _error(SampleRateMismatchError,
                     f"{x_label} is {sr_x} Hz but {y_label} is {sr_y} Hz: resample the target to {sr_x} Hz "
                     f"with <<resample=True>>, or record the target at {sr_x} Hz")
    import librosa

    return librosa.resample(y, orig_sr=sr_y, target_sr=sr_x).astype(np.float32), True
