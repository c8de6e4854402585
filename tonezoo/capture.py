"""Captures: a dry input and a device's output, validated, aligned and split.

A capture is two mono signals at one sample rate: ``x``, the dry guitar re-amped into a device,
and ``y``, what the device put out. :func:`load_capture` reads them from two audio files,
:meth:`Capture.from_arrays` takes them from memory (virtual devices); both run the same checks and
raise a specific :class:`~tonezoo.errors.CaptureError` subclass for every problem, naming the
file, what is wrong and what to do.

Alignment. The audio interface's round trip (and a DAW's offsets) delay ``y``; the device's own
filters add phase delay *inside* its response. Only the former may be removed: an LSTM can learn
a short delay, it cannot predict the future. When ``x`` is tonezoo's standard re-amp signal, its
sync marker is found in both files (a matched filter) and gives a coarse delay; otherwise the
whole first 30 s are searched. Either way the delay is read from the device's best linear
approximation ``h`` (the whitened cross-correlation)::

    H(f) = Y(f) X*(f) / (smooth(|X(f)|^2) + lambda),   h = irfft(H)

not at the peak of ``|h|`` (which includes the device's phase delay) but where the response
*starts* (:func:`estimate_latency`: the first arrival's leading edge, corrected for the input's
time resolution), and the shift applied is that estimate less :data:`ALIGN_MARGIN` samples
(:func:`alignment_shift`). A recording delay ``d`` thus gives a shift in ``[d - ALIGN_MARGIN, d]``:
the aligned target lags the input by 0 to ``ALIGN_MARGIN`` samples on top of the device's own
response. Causality decides the one case the margin cannot: a response cannot start before its
input, so an estimate between 0 and ``ALIGN_MARGIN`` is a capture without recording delay (a
plug-in render, a DAW that compensated the round trip) and is not shifted at all, rather than
teaching the model to play up to ``ALIGN_MARGIN`` samples behind its device.
``metadata["latency_samples"]`` is the shift applied, ``latency_estimate`` and ``latency_margin``
stand beside it. ``|h|`` makes this immune to polarity inversion.

Split. The last ``val_fraction`` of the audio (or everything from ``val_start``: the standard
signal's validation section) is validation; ``limit_seconds`` keeps only the first N seconds of
the rest for training, leaving the validation audio as it is.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import scipy.fft
import scipy.ndimage

from . import signals
from .errors import CaptureError

__all__ = [
    "Capture",
    "load_capture",
    "read_audio",
    "estimate_latency",
    "CaptureWarning",
    "EchoWarning",
    "HotTargetWarning",
    "DCOffsetWarning",
    "ChannelChoiceWarning",
    "IdenticalAudioError",
    "ALIGN_MARGIN",
    "alignment_shift",
    "UnreadableAudioError",
    "AudioFileNotFoundError",
    "EmptyAudioError",
    "StereoInputError",
    "ChannelError",
    "UnsupportedSampleRateError",
    "SampleRateMismatchError",
    "NonFiniteAudioError",
    "SilentAudioError",
    "ClippedTargetError",
    "LengthMismatchError",
    "LatencyTooLargeError",
    "SplitError",
    "MIN_SAMPLE_RATE",
    "SILENCE_DBFS",
    "MAX_TRIM_SECONDS",
    "MIN_TRAIN_SECONDS",
    "MIN_VAL_SECONDS",
]

MIN_SAMPLE_RATE = 16000
SILENCE_DBFS = -70.0          # RMS below this is "silent"
MAX_TRIM_SECONDS = 1.0        # longer length differences are an error, shorter ones are trimmed
MIN_TRAIN_SECONDS = 1.0
MIN_VAL_SECONDS = 0.5
_CLIP_RUN = 3                 # this many consecutive samples at the peak value mean clipping (flat tops)
_DC_WARN = 0.01               # a target mean beyond this (-40 dBFS) is a DC offset, removed with a warning
_SILENT_CHANNEL = 1e-7        # a channel whose peak is below this is digitally silent
_LATENCY_SECONDS_ANALYSED = 30.0
ALIGN_MARGIN = 10             # samples: the aligned target lags the estimated start of the response by this much
_FIRST_ARRIVAL_MS = 60.0      # an earlier arrival this far before the strongest peak is the direct sound
_ARRIVAL_FRACTION = 0.5
_KERNEL_BASE = 0.2
_SECOND_ARRIVAL_MS = 200.0
_EDGE_WINDOW_MS = 1.0
_EDGE_LEVEL = 0.5
_SECOND_ARRIVAL_GAP_MS = 3.0
_SECOND_ARRIVAL_RATIO = 0.4
_SECOND_ARRIVAL_SHAPE = 0.8   # correlation of |h| around both arrivals: an echo repeats the first one's shape
_LOW_CONFIDENCE = 8.0         # peak / RMS of the lag function below this: no clear delay
_DRIFT_WARN_MS = 0.5


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------

# Advice names options as <<name=value>>: the library's message reads ``name=value`` (the keyword
# argument), the command line's (``err.cli_message``) the flag of the shared capture options.
_CLI_FLAGS = {"channel": "--channel", "input_channel": "--input-channel", "target_channel": "--target-channel",
              "resample": "--resample", "align": "--no-align", "max_latency_ms": "--max-latency-ms",
              "val_fraction": "--val-fraction", "limit_seconds": "--seconds"}
_OPTION = re.compile(r"<<(\w+)(?:=([^>]*))?>>")


def _cli_flag(m: re.Match) -> str:
    name, value = m.group(1), m.group(2)
    flag = _CLI_FLAGS[name]
    if value is None or value in ("True", "False"):
        return flag
    return f"{flag} {value}"


def _error(cls: type[CaptureError], message: str) -> CaptureError:
    """``cls(message)`` for the library, with ``cli_message`` naming command-line flags instead."""
    err = cls(_OPTION.sub(lambda m: m.group(1) + ("" if m.group(2) is None else f"={m.group(2)}"), message))
    err.cli_message = _OPTION.sub(_cli_flag, message)     # type: ignore[attr-defined]
    return err


class CaptureWarning(UserWarning):
    """Something about a capture was fixed up (trimmed, low alignment confidence, clock drift)."""


class EchoWarning(CaptureWarning):
    """The target holds a second arrival as strong as the first: an echo, delay or reverb."""


class HotTargetWarning(CaptureWarning):
    """A float target peaks above 0 dBFS (not clipped: float holds it)."""


class DCOffsetWarning(CaptureWarning):
    """The target carries a DC offset (the interface's); it was removed."""


class ChannelChoiceWarning(CaptureWarning):
    """A multi-channel file with one non-silent channel: that channel was taken."""


class IdenticalAudioError(CaptureError):
    """Input and target are the same audio (the same file and channel, or equal samples)."""

    cli_options = ("--input-channel", "--target-channel")


class UnreadableAudioError(CaptureError):
    """An audio file is corrupt, truncated, or in a format libsndfile does not read."""


class AudioFileNotFoundError(UnreadableAudioError, FileNotFoundError):
    """An audio file does not exist."""


class EmptyAudioError(CaptureError):
    """An audio file holds no samples."""


class StereoInputError(CaptureError):
    """A file has several different channels and no ``channel`` was chosen."""

    cli_options = ("--channel", "--input-channel", "--target-channel")


class ChannelError(CaptureError):
    """The chosen ``channel`` does not exist in a file."""

    cli_options = ("--channel", "--input-channel", "--target-channel")


class UnsupportedSampleRateError(CaptureError):
    """A sample rate below 16 kHz."""


class SampleRateMismatchError(CaptureError):
    """Input and target have different sample rates and ``resample`` is off."""

    cli_options = ("--resample",)


class NonFiniteAudioError(CaptureError):
    """NaN or infinite samples."""


class SilentAudioError(CaptureError):
    """The input or the target is (nearly) silent."""


class ClippedTargetError(CaptureError):
    """The target has flat tops (runs of samples at its peak value): the recording clipped."""


class LengthMismatchError(CaptureError):
    """Input and target lengths differ by more than one second."""


class LatencyTooLargeError(CaptureError):
    """The target lags (or leads) the input by more than ``max_latency_ms``."""

    cli_options = ("--max-latency-ms",)


class SplitError(CaptureError):
    """The train/validation split leaves too little audio on one side."""

    cli_options = ("--val-fraction", "--seconds")


# --------------------------------------------------------------------------------------------
# the Capture
# --------------------------------------------------------------------------------------------

class _Unset:
    def __repr__(self) -> str:
        return "<unchanged>"


_UNSET: Any = _Unset()


@dataclass(eq=False)
class Capture:
    """An aligned input/target pair with its train/validation split.

    Parameters
    ----------
    x : np.ndarray [shape=(n,), dtype=float32]
        The dry input, aligned with ``y``.
    y : np.ndarray [shape=(n,), dtype=float32]
        The device output.
    sample_rate : int
        Hz.
    knobs : dict of str to float
        Knob settings of the captured device (conditioning inputs of a model).
    name : str
        A label (default: the target file's name).
    metadata : dict
        What loading found and did: source files, ``latency_samples`` shifted, ``trimmed_samples``...
    val_fraction : float in (0, 1)
        The last ``val_fraction`` of the audio is validation, unless ``val_start`` is set.
    val_start : int, optional
        Explicit first validation sample (the standard signal's validation section).
    limit_seconds : float, optional
        Train on only the first N seconds of the training part; validation is unchanged.

    The constructor checks shapes and parameters; the split sizes are checked when a split is
    used (``train_x``, ``val_x``, ... raise :class:`SplitError`) and at once by :func:`load_capture`
    and :meth:`with_split`.
    """

    x: np.ndarray
    y: np.ndarray
    sample_rate: int
    knobs: dict[str, float] = field(default_factory=dict)
    name: str = "capture"
    metadata: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.2
    val_start: int | None = None
    limit_seconds: float | None = None

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.y = np.ascontiguousarray(self.y, dtype=np.float32)
        if self.x.ndim != 1 or self.y.ndim != 1:
            raise CaptureError(f"capture {self.name!r}: x and y must be 1-D (mono) arrays, "
                               f"got shapes {self.x.shape} and {self.y.shape}")
        if self.x.shape != self.y.shape:
            raise CaptureError(f"capture {self.name!r}: x and y must have the same length, "
                               f"got {self.x.size} and {self.y.size} samples")
        self.sample_rate = int(self.sample_rate)
        if self.sample_rate <= 0:
            raise CaptureError(f"capture {self.name!r}: sample_rate must be positive, got {self.sample_rate}")
        self.knobs = {str(k): float(v) for k, v in (self.knobs or {}).items()}
        if not 0.0 < float(self.val_fraction) < 1.0:
            raise _error(SplitError,
                         f"capture {self.name!r}: <<val_fraction>> must be in (0, 1), got {self.val_fraction}")
        if self.val_start is not None:
            self.val_start = int(self.val_start)
            if not 0 < self.val_start < self.x.size:
                raise SplitError(f"capture {self.name!r}: val_start={self.val_start} is outside the audio "
                                 f"(1..{self.x.size - 1} samples)")
        if self.limit_seconds is not None and not float(self.limit_seconds) > 0:
            raise _error(SplitError,
                         f"capture {self.name!r}: <<limit_seconds>> must be > 0, got {self.limit_seconds}")

    # ---- split ---------------------------------------------------------------------------
    def split_points(self) -> tuple[int, int]:
        """``(train_stop, val_start)`` in samples: train is ``[0, train_stop)``, validation ``[val_start, n)``.

        Raises
        ------
        SplitError
            If training would get less than 1 s or validation less than 0.5 s.
        """
        n, sr = self.x.size, self.sample_rate
        val_start = self.val_start if self.val_start is not None else int(round(n * (1.0 - self.val_fraction)))
        train_stop = val_start
        if self.limit_seconds is not None:
            train_stop = min(val_start, int(round(self.limit_seconds * sr)))
        how = (f"validation from sample {self.val_start}" if self.val_start is not None
               else f"<<val_fraction={self.val_fraction:g}>>")
        if train_stop < MIN_TRAIN_SECONDS * sr:
            limit = (f", <<limit_seconds={self.limit_seconds:g}>>" if self.limit_seconds is not None else "")
            raise _error(SplitError,
                         f"capture {self.name!r}: the split ({how}{limit}) leaves {train_stop / sr:.2f} s for "
                         f"training, at least {MIN_TRAIN_SECONDS:g} s is needed: use longer audio, a smaller "
                         f"<<val_fraction>> or a larger <<limit_seconds>>")
        if n - val_start < MIN_VAL_SECONDS * sr:
            raise _error(SplitError,
                         f"capture {self.name!r}: the split ({how}) leaves {(n - val_start) / sr:.2f} s for "
                         f"validation, at least {MIN_VAL_SECONDS:g} s is needed: use longer audio or a larger "
                         f"<<val_fraction>>")
        return train_stop, val_start

    @property
    def train_x(self) -> np.ndarray:
        """Training input, shape (n_train,) float32."""
        return self.x[: self.split_points()[0]]

    @property
    def train_y(self) -> np.ndarray:
        """Training target, shape (n_train,) float32."""
        return self.y[: self.split_points()[0]]

    @property
    def val_x(self) -> np.ndarray:
        """Validation input, shape (n_val,) float32."""
        return self.x[self.split_points()[1]:]

    @property
    def val_y(self) -> np.ndarray:
        """Validation target, shape (n_val,) float32."""
        return self.y[self.split_points()[1]:]

    @property
    def duration(self) -> float:
        """Length of the whole capture in seconds."""
        return self.x.size / self.sample_rate

    @property
    def train_seconds(self) -> float:
        return self.split_points()[0] / self.sample_rate

    @property
    def val_seconds(self) -> float:
        return (self.x.size - self.split_points()[1]) / self.sample_rate

    def with_split(self, *, val_fraction: float = _UNSET, val_start: int | None = _UNSET,
                   limit_seconds: float | None = _UNSET) -> "Capture":
        """A copy with another split (checked at once); the audio arrays are shared, not copied.

        Giving ``val_fraction`` alone clears ``val_start``, so the fraction takes effect.

        Examples
        --------
        >>> short = capture.with_split(limit_seconds=30.0)     # doctest: +SKIP
        """
        changes: dict[str, Any] = {}
        if val_fraction is not _UNSET:
            changes["val_fraction"] = val_fraction
            changes["val_start"] = None
        if val_start is not _UNSET:
            changes["val_start"] = val_start
        if limit_seconds is not _UNSET:
            changes["limit_seconds"] = limit_seconds
        out = dataclasses.replace(self, metadata=dict(self.metadata), **changes)
        out.split_points()
        return out

    def __repr__(self) -> str:
        return (f"Capture(name={self.name!r}, sample_rate={self.sample_rate}, seconds={self.duration:.2f}, "
                f"knobs={self.knobs}, val_fraction={self.val_fraction}, val_start={self.val_start}, "
                f"limit_seconds={self.limit_seconds})")

    @classmethod
    def from_arrays(cls, x: np.ndarray, y: np.ndarray, sample_rate: int, *, knobs: Mapping[str, float] | None = None,
                    name: str = "capture", align: bool = True, max_latency_ms: float = 100.0,
                    metadata: Mapping[str, Any] | None = None, **split: Any) -> "Capture":
        """A validated capture from arrays in memory (e.g. a virtual device's output).

        Runs the checks of :func:`load_capture` (rate, finite, silent, identical, clipped target,
        lengths) and aligns ``y`` to ``x`` unless ``align=False``. A DC offset is left as it is:
        it comes from an audio interface, which arrays from memory did not pass through.

        Parameters
        ----------
        x, y : np.ndarray [shape=(n,)]
            Input and device output; float, full scale 1.0.
        sample_rate : int >= 16000
        knobs, name, metadata
            Stored on the capture.
        align : bool
            Estimate and remove the delay of ``y`` (standard signal markers are used when found).
        max_latency_ms : float
            Refuse a larger delay.
        **split
            ``val_fraction``, ``val_start``, ``limit_seconds``.
        """
        xa, ya = (_as_mono_array(a, f"<array {label}>") for a, label in ((x, "x"), (y, "y")))
        for a, label in ((xa, "x"), (ya, "y")):
            _check_samples(a, f"<array {label}>", sample_rate)
        _check_identical(xa, ya, "<array x>", "<array y>")
        _check_clipping(ya, "<array y>", is_float=True)
        meta = dict(metadata or {})
        meta.update(input_rate=int(sample_rate), target_rate=int(sample_rate), resampled=False)

        return _assemble(xa, ya, int(sample_rate), "<array x>", "<array y>", align=align,
                         max_latency_ms=max_latency_ms, knobs=knobs, name=name, metadata=meta, split=split)


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
    """Read one mono signal from an audio file, with the file checks of :func:`load_capture`.

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


def _read(path: Path, label: str, channel: int | None, option: str = "channel"
          ) -> tuple[np.ndarray, int, dict[str, Any]]:
    import soundfile as sf

    if not path.exists():
        raise AudioFileNotFoundError(f"{label} file {str(path)!r} does not exist: check the path")
    if path.is_dir():
        raise UnreadableAudioError(f"{label} file {str(path)!r} is a directory, not an audio file")
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
    name = f"{label} file {str(path)!r}"
    if data.shape[0] == 0:
        raise EmptyAudioError(f"{name} holds no samples (0 frames): the recording or export failed; export it again")
    info: dict[str, Any] = {"format": fmt, "subtype": subtype, "channels": channels}
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


# --------------------------------------------------------------------------------------------
# latency
# --------------------------------------------------------------------------------------------

def _lag_function(x: np.ndarray, y: np.ndarray, sample_rate: int, max_lag: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whitened cross-correlation (the device's best linear impulse response) at lags -max_lag..max_lag.

    Returns ``(lags, h, kernel)``, each of shape (2 max_lag + 1,): ``kernel`` is what a pure,
    delay-free device would give, i.e. the time resolution the input's spectrum allows (a
    narrow peak at lag 0 whose width grows as the input's top octaves get quieter).
    """
    n = min(x.size, y.size)
    nfft = scipy.fft.next_fast_len(n + max_lag + 1, real=True)
    xf = scipy.fft.rfft(x[:n].astype(np.float64), nfft)
    yf = scipy.fft.rfft(y[:n].astype(np.float64), nfft)
    df = sample_rate / nfft
    power = scipy.ndimage.uniform_filter1d(np.abs(xf) ** 2, size=max(3, int(20.0 / df) | 1), mode="nearest")
    f = np.arange(xf.size) * df
    band = np.clip((f - 30.0) / 30.0, 0.0, 1.0)          # ignore DC and rumble below ~60 Hz
    weight = band / (power + 1e-3 * np.mean(power) + 1e-30)
    h = scipy.fft.irfft(yf * np.conj(xf) * weight, nfft)
    kernel = scipy.fft.irfft(np.abs(xf) ** 2 * weight, nfft)
    lags = np.arange(-max_lag, max_lag + 1)
    return lags, h[lags], kernel[lags]


def _leading_edge(mag: np.ndarray, top: int, window: int, level: float) -> int:
    """Earliest index in ``[top - window, top]`` where ``mag`` reaches ``level * mag[top]``."""
    lo = max(0, top - window)
    return lo + int(np.flatnonzero(mag[lo: top + 1] >= level * mag[top])[0])


def estimate_latency(x: np.ndarray, y: np.ndarray, sample_rate: int, *, max_lag: int | None = None,
                     around: int | None = None, tolerance: int | None = None) -> tuple[int, dict[str, Any]]:
    """Where the device's response starts in ``y``, in samples after ``x`` (negative: ``y`` leads).

    The whitened cross-correlation ``h`` is the device's best linear impulse response, delayed
    by the recording chain. Its *peak* also holds the device's own phase delay (a few samples
    for a pedal, up to ~16 for an amp and cabinet), which a model must keep, so the delay is
    read from where the response starts, in three steps:

    1. the first arrival: the earliest lag, up to 60 ms before the strongest peak of ``|h|``,
       reaching 30 % of that peak (and 6 noise deviations), and the local peak within 2 ms
       after it (an echo or a delay pedal's repeat may be stronger than the dry sound);
    2. its leading edge: the earliest lag within 1 ms before that peak at half its height;
    3. the input's own time resolution: how far before lag 0 a delay-free device's response
       (``kernel`` of the whitened correlation) still reaches 20 % of its peak, one to three
       samples, is added back, so a pure delay ``d`` gives ``d`` to ``d + 2``.

    The start of a real device's response is soft (an amp and cabinet rise over ~8 samples);
    the estimate lands between the true start and ``ALIGN_MARGIN`` samples after it, which
    ``tests/test_alignment.py`` checks over every virtual device and several real models.
    ``|h|`` makes this immune to polarity inversion; distortion adds uncorrelated harmonics,
    and with strong distortion of tonal input it smears ``h`` *earlier*, the safe direction.

    Parameters
    ----------
    x, y : np.ndarray [shape=(n,)]
        Input and device output; only the first 30 s are analysed.
    sample_rate : int
    max_lag : int, optional
        Largest delay searched, either way (default: 2 s, or less for short audio).
    around, tolerance : int, optional
        Search only ``around +- tolerance`` (a coarse delay from the sync markers).

    Returns
    -------
    start : int
        The estimated start of the device's response (the recording chain's delay).
    info : dict
        ``confidence`` (peak over RMS of ``|h|`` in the searched range; below 8 means no clear
        delay), ``polarity`` (+1 or -1), ``peak_lag`` (the first arrival's peak),
        ``strongest_lag``, and ``second_arrival``: None, or ``{"lag", "ratio"}`` for a later
        arrival at least 40 % as strong as the first (an echo, delay or reverb).
    """
    n = min(x.size, y.size, int(_LATENCY_SECONDS_ANALYSED * sample_rate))
    if around is not None:
        tol = tolerance if tolerance is not None else int(0.005 * sample_rate)
        max_lag = max(abs(int(around)) + tol, int(0.1 * sample_rate))   # wide enough to judge the peak
    elif max_lag is None:
        max_lag = int(2.0 * sample_rate)
    max_lag = max(1, min(int(max_lag), n - 1))
    # the analysed windows start together; a large delay just moves the peak
    lags, h, kernel = _lag_function(x[:n], y[:n], sample_rate, max_lag)
    mag = np.abs(h)
    rms = np.sqrt(np.mean(mag ** 2)) + 1e-30
    noise = np.median(mag) / 0.674 + 1e-30              # |h| away from the response: half-normal
    lo_i, hi_i = 0, mag.size
    if around is not None:
        keep = np.flatnonzero(np.abs(lags - around) <= tol)
        lo_i, hi_i = int(keep[0]), int(keep[-1]) + 1
    p = lo_i + int(np.argmax(mag[lo_i:hi_i]))
    confidence = float(mag[p] / rms)
    ms = sample_rate * 1e-3
    # 1. the first arrival
    first_lo = max(lo_i, p - int(round(_FIRST_ARRIVAL_MS * ms)))
    level = min(mag[p], max(_ARRIVAL_FRACTION * mag[p], 6.0 * noise))
    q = p
    w = int(round(ms))
    for first in first_lo + np.flatnonzero(mag[first_lo: p + 1] >= level):
        a = int(first) + int(np.argmax(mag[first: min(hi_i, first + 2 * w + 1)]))
        if a >= p - 2 * w:
            break                                   # the strongest peak's own cluster
        # an echo has nothing before the direct sound; a periodic input (a steady riff) repeats
        # its correlation peak at the same spacing on both sides
        before = a - (p - a)
        if before - w < 0 or np.max(mag[max(0, before - w): before + w + 1]) < _ARRIVAL_FRACTION * mag[a]:
            q = a
            break
    # 2. its leading edge, 3. less the input's own resolution at the same level
    edge_window = int(round(_EDGE_WINDOW_MS * ms))
    edge = _leading_edge(mag, q, min(edge_window, q - lo_i), _EDGE_LEVEL)
    kmag = np.abs(kernel)
    centre = int(np.flatnonzero(lags == 0)[0])
    spread = centre - _leading_edge(kmag, centre, min(edge_window, centre), _KERNEL_BASE)
    start = int(lags[edge]) + spread
    # a later arrival as strong as the first: a time-based effect
    second = None
    after = q + int(round(_SECOND_ARRIVAL_GAP_MS * ms))
    stop = min(hi_i, q + int(round(_SECOND_ARRIVAL_MS * ms)))
    if after < stop:
        r = after + int(np.argmax(mag[after:stop]))
        ratio = float(mag[r] / mag[q])
        shape = (np.corrcoef(mag[q - w: q + w + 1], mag[r - w: r + w + 1])[0, 1]
                 if q - w >= 0 and r + w < mag.size else 0.0)
        if ratio >= _SECOND_ARRIVAL_RATIO and mag[r] >= 6.0 * noise and shape >= _SECOND_ARRIVAL_SHAPE:
            second = {"lag": int(lags[r]), "ratio": round(ratio, 3)}
    return start, {"confidence": confidence, "polarity": 1 if h[q] >= 0 else -1, "peak_lag": int(lags[q]),
                   "strongest_lag": int(lags[p]), "second_arrival": second}


def _align(x: np.ndarray, y: np.ndarray, sample_rate: int, y_label: str, max_latency_ms: float,
           meta: dict[str, Any]) -> tuple[int, int | None]:
    """Find the delay (markers first, else correlation) and the validation start, in x's samples."""
    sr = sample_rate
    val_start = None
    mx = signals.find_sync_marker(x, sr, search=(0, int(30 * sr)))
    my = None
    if mx is not None:
        meta["signal"] = "standard"
        meta["marker_input"] = mx
        my = signals.find_sync_marker(y, sr, search=(max(0, mx - sr), mx + 5 * sr))
        if my is None:
            warnings.warn(f"{y_label}: the input is tonezoo's standard signal but its sync marker was not found in "
                          f"the target; aligning by cross-correlation instead", CaptureWarning, stacklevel=3)
    if my is not None:
        meta["marker_target"] = my
        lag, info = estimate_latency(x, y, sr, around=my - mx, tolerance=int(0.005 * sr))
        meta["alignment"] = "marker"
        vx = signals.find_sync_marker(x, sr, which="validation", search=(mx, x.size))
        if vx is not None:
            val_start = vx + int(round(signals.MARKER_SECONDS * sr))
            meta["validation_marker_input"] = vx
            vy = signals.find_sync_marker(y, sr, which="validation",
                                          search=(vx + my - mx - int(0.1 * sr), vx + my - mx + int(0.1 * sr)))
            if vy is not None:
                drift = (vy - vx) - (my - mx)
                meta["drift_samples"] = int(drift)
                if abs(drift) > _DRIFT_WARN_MS * 1e-3 * sr:
                    warnings.warn(
                        f"{y_label}: the target drifts by {drift} samples against the input between the start and "
                        f"validation markers: playback and recording ran on different clocks; record through one "
                        f"audio interface", CaptureWarning, stacklevel=3)
    else:
        lag, info = estimate_latency(x, y, sr)
        meta["alignment"] = "correlation"
    meta["latency_confidence"] = round(info["confidence"], 2)
    meta["polarity"] = "inverted" if info["polarity"] < 0 else "normal"
    max_lag = int(max_latency_ms * 1e-3 * sr)
    if abs(lag) > max_lag:
        low = info["confidence"] < _LOW_CONFIDENCE
        raise _error(
            LatencyTooLargeError,
            f"{y_label}: the target {'lags' if lag > 0 else 'leads'} the input by {abs(lag)} samples "
            f"({abs(lag) / sr * 1e3:.1f} ms), more than the {max_latency_ms:g} ms allowed"
            + (" (and no clear delay was found: are these two files one re-amp take?)" if low else "")
            + ": export both files from the same start point, bypass latency-adding plug-ins, or allow a "
              f"larger delay if it is real: <<max_latency_ms={_suggest_ms(abs(lag), sr)}>>")
    if info["confidence"] < _LOW_CONFIDENCE and meta["alignment"] == "correlation":
        warnings.warn(f"{y_label}: no clear delay between input and target (confidence {info['confidence']:.1f}); "
                      f"shifted by {alignment_shift(lag)} samples anyway: check that the files are one re-amp take",
                      CaptureWarning, stacklevel=3)
    second = info.get("second_arrival")
    if second is not None:
        meta["second_arrival"] = dict(second, ms=round((second["lag"] - info["peak_lag"]) / sr * 1e3, 1))
        warnings.warn(
            f"{y_label}: a second arrival {second['ratio']:.0%} as strong as the first comes "
            f"{(second['lag'] - info['peak_lag']) / sr * 1e3:.1f} ms after it: the target holds a time-based effect "
            f"(echo, delay or reverb), which a capture of a pedal or amp does not model; aligned on the first "
            f"arrival ({lag} samples); record again with time-based effects off, or place them after the captured "
            f"device in your rig", EchoWarning, stacklevel=3)
    return lag, val_start


def alignment_shift(start: int) -> int:
    """The shift applied to a target whose device response starts ``start`` samples after the input.

    ``start - ALIGN_MARGIN`` (the estimate may land up to the margin after the true start, never
    before it), except that an estimate in ``[0, ALIGN_MARGIN]`` gives 0: a response cannot start
    before its input, so such a capture has no recording delay to remove, and shifting it by a
    negative amount would only make the model play behind its device. For a true delay ``d >= 0``
    the result stays in ``[d - ALIGN_MARGIN, d]``; a target that leads its input (``start < 0``) is
    shifted by ``start - ALIGN_MARGIN``.

    Parameters
    ----------
    start : int
        Where the device's response starts in the target, in samples after the input
        (:func:`estimate_latency`; negative when the target leads).

    Returns
    -------
    int
        Samples to drop from the start of the target (negative: from the start of the input).
    """
    start = int(start)
    return 0 if 0 <= start <= ALIGN_MARGIN else start - ALIGN_MARGIN


def _suggest_ms(lag: int, sample_rate: int) -> int:
    """A round ``max_latency_ms`` that admits ``lag`` samples."""
    return int(np.ceil((lag / sample_rate * 1e3 + 1.0) / 50.0) * 50)


def _assemble(x: np.ndarray, y: np.ndarray, sample_rate: int, x_label: str, y_label: str, *, align: bool,
              max_latency_ms: float, knobs: Mapping[str, float] | None, name: str,
              metadata: dict[str, Any], split: Mapping[str, Any]) -> Capture:
    """Length check, alignment, trimming, split: the part shared by files and arrays."""
    unknown = set(split) - {"val_fraction", "val_start", "limit_seconds"}
    if unknown:
        raise TypeError(f"unexpected split arguments {sorted(unknown)}: use val_fraction, val_start, limit_seconds")
    sr = sample_rate
    diff = abs(x.size - y.size)
    if diff > MAX_TRIM_SECONDS * sr:
        raise LengthMismatchError(
            f"{x_label} has {x.size / sr:.2f} s and {y_label} has {y.size / sr:.2f} s ({diff / sr:.2f} s apart, more "
            f"than {MAX_TRIM_SECONDS:g} s): the target must be the recording of this input; export both over the "
            f"same time range")
    meta = dict(metadata)
    lag, val_start = 0, None
    if align:
        start, val_start = _align(x, y, sr, y_label, max_latency_ms, meta)
        lag = alignment_shift(start)
        meta["latency_estimate"] = int(start)
        meta["latency_margin"] = ALIGN_MARGIN
    else:
        meta["alignment"] = "none"
    if lag >= 0:
        y = y[lag:]
    else:
        x = x[-lag:]
        val_start = None if val_start is None else val_start + lag
    n = min(x.size, y.size)
    meta["latency_samples"] = int(lag)
    meta["latency_ms"] = round(lag / sr * 1e3, 3)
    meta["trimmed_samples"] = int(max(x.size, y.size) - n)
    if diff and abs(x.size - y.size) > 0.002 * sr:     # more than the delay explains
        warnings.warn(f"{x_label} and {y_label} differ in length by {diff} samples ({diff / sr * 1e3:.0f} ms); "
                      f"trimmed to the common {n / sr:.2f} s", CaptureWarning, stacklevel=3)
    split = dict(split)
    if val_start is not None and "val_start" not in split and "val_fraction" not in split and 0 < val_start < n:
        split["val_start"] = val_start
    return Capture(x[:n], y[:n], sr, knobs=dict(knobs or {}), name=name, metadata=meta, **split)


# --------------------------------------------------------------------------------------------
# load_capture
# --------------------------------------------------------------------------------------------

def load_capture(input_path: str | os.PathLike, target_path: str | os.PathLike, *, resample: bool = False,
                 channel: int | None = None, input_channel: int | None = None, target_channel: int | None = None,
                 align: bool = True, max_latency_ms: float = 100.0,
                 val_fraction: float | None = None, limit_seconds: float | None = None,
                 knobs: Mapping[str, float] | None = None, name: str | None = None) -> Capture:
    """Read, check, align and split a capture from two audio files.

    Parameters
    ----------
    input_path : path
        The dry input that was played into the device: any file libsndfile reads (WAV, FLAC,
        AIFF, OGG, MP3), any bit depth.
    target_path : path
        The recording of the device's output, same format rules. Float files may peak above
        0 dBFS (:class:`HotTargetWarning`); flat tops (runs at one peak value) in any format are
        clipping (:class:`ClippedTargetError`); a DC offset is removed (:class:`DCOffsetWarning`).
    resample : bool
        If the rates differ, resample the target to the input's rate (librosa) instead of failing.
    channel : int, optional
        Channel to use from multi-channel files (0 = left), for both files. Files whose channels
        are all identical are accepted as mono without it, and so is a file with only one
        channel that is not digitally silent (that channel is taken, with a
        :class:`ChannelChoiceWarning`).
    input_channel, target_channel : int, optional
        The channel of one file, overriding ``channel``: one stereo file with the DI on the left
        and the device on the right is a capture with the same path twice, ``input_channel=0,
        target_channel=1``.
    align : bool
        Remove the target's delay (sync markers of the standard signal, else cross-correlation).
    max_latency_ms : float
        Refuse a larger delay.
    val_fraction : float in (0, 1), optional
        The last fraction of the audio is validation. Default: the standard signal's validation
        section when the input is tonezoo's standard signal, else 0.2. Giving it overrides both.
    limit_seconds : float, optional
        Train on only the first N seconds (validation unchanged).
    knobs : dict, optional
        Knob settings of the device during the recording.
    name : str, optional
        Default: the target file's stem.

    Returns
    -------
    Capture
        ``metadata`` records the files, rates, ``latency_samples`` (the shift applied),
        ``latency_estimate`` (where the device's response starts) and ``latency_margin``,
        ``trimmed_samples``, ``alignment`` ("marker", "correlation" or "none"), ``signal``
        ("standard" if recognised), ``dc_offset_removed`` and ``second_arrival`` when found.

    Raises
    ------
    CaptureError
        One of the subclasses in this module, naming the file, the problem and the fix; its
        ``cli_message`` (when set) names the command-line flags instead of keyword arguments.

    Examples
    --------
    >>> cap = load_capture("di.wav", "amp.wav", limit_seconds=30)      # doctest: +SKIP
    >>> cap.metadata["latency_samples"], cap.train_seconds, cap.val_seconds  # doctest: +SKIP
    (112, 30.0, 24.0)
    """
    xp, yp = Path(input_path), Path(target_path)
    in_ch = input_channel if input_channel is not None else channel
    out_ch = target_channel if target_channel is not None else channel
    x_label, y_label = f"input file {str(xp)!r}", f"target file {str(yp)!r}"
    if xp.exists() and yp.exists() and xp.resolve() == yp.resolve() and in_ch == out_ch:
        which = "" if in_ch is None else f" (channel {in_ch} of both)"
        raise _error(IdenticalAudioError,
                     f"the input and the target are the same file{which}, {str(xp)!r}: the target must be the "
                     f"device's recording of the input; you exported the DI twice? For one stereo file with the DI "
                     f"on one channel and the device on the other, name them: <<input_channel=0>> "
                     f"<<target_channel=1>>")
    per_file = input_channel is not None or target_channel is not None
    x, sr_x, x_info = _read(xp, "input", in_ch, "input_channel" if per_file else "channel")
    y, sr_y, y_info = _read(yp, "target", out_ch, "target_channel" if per_file else "channel")
    _check_samples(x, x_label, sr_x)
    _check_samples(y, y_label, sr_y)
    _check_identical(x, y, x_label, y_label)
    _check_clipping(y, y_label, is_float=_is_float(y_info["subtype"]), lsb=_lsb(y_info["subtype"]))
    resampled = False
    if sr_x != sr_y:
        if not resample:
            raise _error(SampleRateMismatchError,
                         f"{x_label} is {sr_x} Hz but {y_label} is {sr_y} Hz: resample the target to {sr_x} Hz "
                         f"with <<resample=True>>, or record the target at {sr_x} Hz")
        import librosa

        y = librosa.resample(y, orig_sr=sr_y, target_sr=sr_x).astype(np.float32)
        resampled = True
    meta = {"input_path": str(xp), "target_path": str(yp), "input_rate": sr_x, "target_rate": sr_y,
            "resampled": resampled, "input_file": x_info, "target_file": y_info,
            "input_samples": int(x.size), "target_samples": int(y.size)}
    y = _remove_dc(y, sr_x, y_label, meta)
    split: dict[str, Any] = {} if val_fraction is None else {"val_fraction": val_fraction}
    if limit_seconds is not None:
        split["limit_seconds"] = limit_seconds
    capture = _assemble(x, y, sr_x, x_label, y_label, align=align, max_latency_ms=max_latency_ms, knobs=knobs,
                        name=name if name is not None else yp.stem, metadata=meta, split=split)
    capture.split_points()
    return capture
