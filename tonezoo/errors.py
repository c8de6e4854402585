"""Exceptions raised by tonezoo.

Every error tonezoo raises on purpose derives from :class:`TonezooError` and from the
matching built-in (``ValueError``, ``FileNotFoundError``, ...), so callers can catch either.
Messages say what was expected, what was found, and what to do about it.
"""

from __future__ import annotations

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
