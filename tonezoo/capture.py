"""Captures: a dry input and a device's output, validated, aligned and split.

A capture is two mono signals at one sample rate: ``x``, the dry guitar re-amped into a device,
and ``y``, what the device put out. :func:`load_capture` reads them from two audio files,
:meth:`Capture.from_arrays` takes them from memory (virtual devices); both run the same checks and
raise a specific :class:`~tonezoo.errors.CaptureError` subclass for every problem, naming the
file, what is wrong and what to do.

The stages live in their own modules: reading and checking audio in :mod:`tonezoo.audio`
(:func:`read_audio`), alignment in :mod:`tonezoo.align` (:func:`estimate_latency`,
:func:`alignment_shift`, :data:`ALIGN_MARGIN`: the delay is read from where the device's response
*starts*, and an estimate between 0 and ``ALIGN_MARGIN`` is a capture without recording delay,
not shifted), the error and warning classes in :mod:`tonezoo.errors`. This module puts them
together and re-exports their public names. ``metadata["latency_samples"]`` is the shift applied,
``latency_estimate`` and ``latency_margin`` stand beside it.

Split. The last ``val_fraction`` of the audio (or everything from ``val_start``: the standard
signal's validation section) is validation; ``limit_seconds`` keeps only the first N seconds of
the rest for training, leaving the validation audio as it is.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .align import ALIGN_MARGIN, _align, alignment_shift, estimate_latency
from .audio import (MIN_SAMPLE_RATE, SILENCE_DBFS, _as_mono_array, _check_clipping, _check_identical, _check_samples,
                    _is_float, _lsb, _match_rate, _read, _remove_dc, read_audio)
from .errors import (  # noqa: F401  (re-exported: the capture errors and warnings, and the flags their advice names)
    _CLI_FLAGS, AudioFileNotFoundError, CaptureError, CaptureWarning, ChannelChoiceWarning, ChannelError,
    ClippedTargetError, DCOffsetWarning, EchoWarning, EmptyAudioError, HotTargetWarning, IdenticalAudioError,
    LatencyTooLargeError, LengthMismatchError, NonFiniteAudioError, SampleRateMismatchError, SilentAudioError,
    SplitError, StereoInputError, SwappedFilesWarning, UnreadableAudioError, UnsupportedSampleRateError, _error)

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
    "SWAP_CREST_DB",
    "SwappedFilesWarning",
    "crest_factor_db",
    "MIN_TRAIN_SECONDS",
    "MIN_VAL_SECONDS",
]

MAX_TRIM_SECONDS = 1.0        # longer length differences are an error, shorter ones are trimmed
SWAP_CREST_DB = 3.0
"""A target whose crest factor exceeds the input's by more than this (dB) draws a
:class:`SwappedFilesWarning`. Clipping, compression and cabinets lower a signal's crest factor or
leave it: over 188 renders (3 draws of every device family, 17 third-party models of real devices
on 4 real DI recordings) the output's crest factor was at most 1.3 dB above the input's, and a
cabinet IR on real DI at most 0.2 dB; swapped, 121 of the 188 exceed 3 dB (docs/captures.md)."""
MIN_TRAIN_SECONDS = 1.0
MIN_VAL_SECONDS = 0.5


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
                         f"training, at least {MIN_TRAIN_SECONDS:g} s is needed: use longer audio"
                         + (", a smaller <<val_fraction>> or a larger <<limit_seconds>>" if limit
                            else " or a smaller <<val_fraction>>"))
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



def crest_factor_db(a: np.ndarray, *, max_samples: int = 48000 * 60) -> float:
    """Crest factor of a signal: its 99.9th percentile of ``|a|`` over its RMS, in dB.

    The percentile instead of the peak keeps a single click from deciding it. ``a`` has shape
    (n,); at most the first ``max_samples`` are read; the mean is removed first.
    Returns ``nan`` for a silent signal.
    """
    a = np.asarray(a[:max_samples], np.float64)
    a = a - a.mean()
    rms = float(np.sqrt(np.mean(a * a))) if a.size else 0.0
    if rms <= 0.0:
        return float("nan")
    return float(20.0 * np.log10(np.percentile(np.abs(a), 99.9) / rms))


def _check_swapped(x: np.ndarray, y: np.ndarray, x_label: str, y_label: str, meta: dict[str, Any]) -> None:
    """Warn when the target is much peakier than the input: a device's output is not (:data:`SWAP_CREST_DB`)."""
    cx, cy = crest_factor_db(x), crest_factor_db(y)
    if not (math.isfinite(cx) and math.isfinite(cy)):
        return
    meta["crest_factor_db"] = {"input": round(cx, 2), "target": round(cy, 2)}
    if cy - cx <= SWAP_CREST_DB:
        return
    lead = int(meta.get("latency_estimate", 0))
    leads = (f"; the target also leads the input by {-lead} samples, as a DI recorded after its device's output "
             f"would" if lead < -ALIGN_MARGIN else "")
    warnings.warn(
        f"{x_label} looks like a device's output and {y_label} like a dry DI: the target's crest factor (peak over "
        f"RMS) is {cy:.1f} dB against the input's {cx:.1f} dB, while a pedal or amp (clipping, compression, a "
        f"cabinet) lowers a signal's crest factor or leaves it as it is{leads}. Are the two files swapped? The "
        f"input is the dry signal played into the device and comes first; the target is the device's recording",
        SwappedFilesWarning, stacklevel=4)


def _assemble(x: np.ndarray, y: np.ndarray, sample_rate: int, x_label: str, y_label: str, *, align: bool,
              max_latency_ms: float, knobs: Mapping[str, float] | None, name: str,
              metadata: dict[str, Any], split: Mapping[str, Any]) -> Capture:
    """Length check, alignment, trimming, split: the part shared by files and arrays."""
    unknown = set(split) - {"val_fraction", "val_start", "limit_seconds"}
    if unknown:
        raise TypeError(f"unexpected split arguments {sorted(unknown)}: use val_fraction, val_start, limit_seconds")
    if not (isinstance(max_latency_ms, (int, float)) and math.isfinite(max_latency_ms) and max_latency_ms >= 0):
        raise _error(CaptureError, f"<<max_latency_ms>> must be a number of milliseconds >= 0, got {max_latency_ms!r}")
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
        try:
            start, val_start = _align(x, y, sr, y_label, max_latency_ms, meta)
        except LatencyTooLargeError:
            # audio too short for the split is the first thing to fix: on a few seconds of a
            # distorting device the correlation's delay is unreliable, and its error would mislead
            n0 = min(x.size, y.size)
            try:
                Capture(x[:n0], y[:n0], sr, name=name, **split).split_points()
            except SplitError as short:
                raise short from None
            raise
        lag = alignment_shift(start)
        meta["latency_estimate"] = int(start)
        meta["latency_margin"] = ALIGN_MARGIN
    else:
        meta["alignment"] = "none"
    _check_swapped(x, y, x_label, y_label, meta)
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
        ("standard" if recognised), ``dc_offset_removed`` and ``second_arrival`` when found, and
        ``crest_factor_db`` (``{"input", "target"}``, dB; a target more than :data:`SWAP_CREST_DB`
        above its input draws a :class:`SwappedFilesWarning`).

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
    y_samples = int(y.size)                     # as the file holds them, at target_rate
    y, resampled = _match_rate(y, sr_y, sr_x, resample=resample, x_label=x_label, y_label=y_label)
    meta = {"input_path": str(xp), "target_path": str(yp), "input_rate": sr_x, "target_rate": sr_y,
            "resampled": resampled, "input_file": x_info, "target_file": y_info,
            "input_samples": int(x.size), "target_samples": y_samples}
    y = _remove_dc(y, sr_x, y_label, meta)
    split: dict[str, Any] = {} if val_fraction is None else {"val_fraction": val_fraction}
    if limit_seconds is not None:
        split["limit_seconds"] = limit_seconds
    capture = _assemble(x, y, sr_x, x_label, y_label, align=align, max_latency_ms=max_latency_ms, knobs=knobs,
                        name=name if name is not None else yp.stem, metadata=meta, split=split)
    capture.split_points()
    return capture
