"""Shared test fixtures: small synthetic captures, the shared fixtures folder, quiet JAX."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TONEZOO_CACHE", "off")  # CLI calls made in-process leave JAX's process-wide settings alone

import numpy as np
import pytest
import scipy.signal as ss

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES


def soft_clipper(x: np.ndarray, sr: int, drive: float = 5.0) -> np.ndarray:
    """A small overdrive: band-pass, tanh soft clip, mixed with the dry signal."""
    b, a = ss.butter(2, [300 / (sr / 2), 3000 / (sr / 2)], "band")
    return (np.tanh(drive * ss.lfilter(b, a, x)) * 0.5 + 0.3 * x).astype(np.float32)


def test_signal(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Decaying harmonic notes with some noise: a cheap guitar-like stand-in."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    note_len = int(0.25 * sr)
    f0 = rng.choice([82.4, 110.0, 146.8, 196.0, 246.9, 329.6], size=n // note_len + 1)
    f = np.repeat(f0, note_len)[:n]
    phase = 2 * np.pi * np.cumsum(f) / sr
    env = np.exp(-4.0 * (np.arange(n) % note_len) / sr) * rng.uniform(0.3, 0.8, size=n // note_len + 1).repeat(note_len)[:n]
    x = env * (np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)) * 0.5
    return (x + 0.003 * rng.standard_normal(n)).astype(np.float32)


@pytest.fixture(scope="session")
def od_arrays():
    """(x, y, sr): 6 s of a soft-clipping overdrive at 22.05 kHz."""
    sr = 22050
    x = test_signal(6.0, sr)
    return x, soft_clipper(x, sr), sr
