"""Exceptions and warnings raised by tonezoo.

Every error tonezoo raises on purpose derives from :class:`TonezooError` and from the
matching built-in (``ValueError``, ``FileNotFoundError``, ...), so callers can catch either.
Messages say what was expected, what was found, and what to do about it.

The subclasses of :class:`CaptureError` and :class:`CaptureWarning` (one per problem a capture
can have) are defined here, below every stage that raises them (``tonezoo.audio``,
``tonezoo.align``, ``tonezoo.capture``), and are importable from :mod:`tonezoo.capture`.
"""

from __future__ import annotations

import re

__all__ = [
    "TonezooError",
    "CaptureError",
    "ConfigError",
    "ModelFileError",
    "FormatError",
    "UnsupportedArchitectureError",
    "ZooError",
    "HubError",
    "TrainingError",
    "InputLevelWarning",
]


class TonezooError(Exception):
    """Root of every error tonezoo raises on purpose."""


class CaptureError(TonezooError, ValueError):
    """A capture (input/target audio pair) is unusable as given."""


class ConfigError(TonezooError, ValueError):
    """A model or training configuration is invalid or does not match."""


class ModelFileError(TonezooError, ValueError):
    """A model directory or file is missing, malformed or inconsistent."""


class FormatError(ModelFileError):
    """A third-party model file (AGAM, AIDA-X, NAM) cannot be read or written."""


class UnsupportedArchitectureError(FormatError):
    """A model file uses an architecture tonezoo cannot represent (e.g. NAM A2, ConvNet or Linear)."""


class ZooError(TonezooError, ValueError):
    """A zoo directory or index is missing, corrupt or inconsistent."""


class HubError(TonezooError, RuntimeError):
    """A Hugging Face Hub operation failed (missing repo, refused file, offline)."""


class TrainingError(TonezooError, RuntimeError):
    """Training cannot proceed (diverged, bad checkpoint, mismatched resume)."""


# --------------------------------------------------------------------------------------------
# capture errors and warnings (re-exported by tonezoo.capture)
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


def _warning_text(message: str) -> str:
    """``message`` for a warning, read by the library and the command line alike: each
    ``<<name=value>>`` becomes ``--flag (name=value in Python)``."""
    def both(m: re.Match) -> str:
        keyword = m.group(1) + ("" if m.group(2) is None else f"={m.group(2)}")
        return f"{_cli_flag(m)} ({keyword} in Python)"
    return _OPTION.sub(both, message)


class CaptureWarning(UserWarning):
    """Something about a capture was fixed up (trimmed, low alignment confidence, clock drift)."""


class EchoWarning(CaptureWarning):
    """The target holds a second arrival as strong as the first: an echo, delay or reverb."""


class HotTargetWarning(CaptureWarning):
    """A float target peaks above 0 dBFS (not clipped: float holds it)."""


class DCOffsetWarning(CaptureWarning):
    """The target carries a DC offset (the interface's); it was removed."""


class SwappedFilesWarning(CaptureWarning):
    """The input looks like a device's output and the target like a dry DI: the files may be swapped."""


class ChannelChoiceWarning(CaptureWarning):
    """A multi-channel file with one non-silent channel: that channel was taken."""


class InputLevelWarning(UserWarning):
    """Audio given to a model peaks well above the loudest DI the model was trained on.

    A capture teaches a model the device only over the levels its DI reached; louder input is an
    extrapolation (see :data:`tonezoo.audio.LEVEL_MARGIN_DB`).
    """


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
