"""The standard re-amp signal, its sync markers and synthetic guitar DI."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.signal as ss

from tonezoo.errors import CaptureError
from tonezoo.signals import (DEFAULT_SECONDS, MIN_SECONDS, capture_signal, find_sync_marker, marker_template,
                             signal_layout, synth_di)

SR = 44100


@pytest.fixture(scope="module")
def standard() -> np.ndarray:
    return capture_signal(SR, 12.0, seed=3)


def _device(x: np.ndarray, sr: int) -> np.ndarray:
    """A nonlinear device with memory: drive, band-pass 'cabinet', inverted polarity."""
    b, a = ss.butter(2, [120.0, 3500.0], "bandpass", fs=sr)
    return -0.4 * ss.lfilter(b, a, np.tanh(6.0 * x))


# ---- synth_di --------------------------------------------------------------------------------

def test_synth_di_is_deterministic_per_seed():
    a = synth_di(3.0, SR, seed=7)
    b = synth_di(3.0, SR, seed=7)
    c = synth_di(3.0, SR, seed=8)
    assert a.dtype == np.float32 and a.shape == (3 * SR,)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("sr", [44100, 48000])
def test_synth_di_level_and_length(sr):
    di = synth_di(2.5, sr, seed=1, peak=0.6)
    assert di.shape == (int(round(2.5 * sr)),)
    assert np.all(np.isfinite(di))
    assert np.max(np.abs(di)) == pytest.approx(0.6, abs=1e-4)
    assert abs(np.mean(di)) < 0.01


def test_synth_di_sounds_like_a_guitar():
    di = synth_di(20.0, SR, seed=0).astype(np.float64)
    f, t, s = ss.spectrogram(di, SR, nperseg=4096, noverlap=2048)
    # the energy lies in a guitar's range: the spectral centroid is a few hundred Hz to ~2 kHz
    centroid = np.sum(f[:, None] * s, axis=0) / (np.sum(s, axis=0) + 1e-20)
    loud = np.sum(s, axis=0) > 1e-3 * np.max(np.sum(s, axis=0))
    assert 150 < np.median(centroid[loud]) < 2500
    # notes start and decay: there are dynamics (loud and quiet frames) and rests
    frame_db = 10 * np.log10(np.sum(s, axis=0) + 1e-20)
    assert np.percentile(frame_db, 95) - np.percentile(frame_db, 10) > 20
    # many note onsets, not one drone: count rises of more than 6 dB between 46 ms frames
    assert np.sum(np.diff(frame_db) > 6) > 15


def test_synth_di_partials_fall_like_a_plucked_string():
    # a magnetic pickup senses the string's velocity: the partials of a plucked note fall about as
    # 1/k (6 dB per octave) against an impulse through the delay loop, whose partials come out flat
    from tonezoo.signals import _Note, _pluck
    f0, k = 110.0, np.arange(1, 16)
    note = _Note(0.0, 45.0, 0.8, 1.0, False, 1)

    def slope(rolloff: float) -> float:
        y = _pluck(note, SR, np.random.default_rng(0), rolloff=rolloff)[: SR // 5]
        spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
        f = np.fft.rfftfreq(y.size, 1.0 / SR)
        amp = [spec[np.abs(f - i * f0) < 0.3 * f0].max() for i in k]
        return float(np.polyfit(np.log(k), np.log(amp), 1)[0])

    assert -1.3 < slope(1.0) - slope(1e6) < -0.7


def test_synth_di_has_the_low_end_of_a_real_di():
    # real DI recordings put most of their power below 1 kHz and much of it below 400 Hz (the eight
    # fixture recordings: 18-91 %); a DI without it trains models that miss the low strings
    shares = []
    for seed in range(4):
        f, p = ss.welch(synth_di(10.0, SR, seed=seed).astype(np.float64), SR, nperseg=8192)
        shares.append([p[f < 400].sum() / p.sum(), p[f < 1000].sum() / p.sum()])
    low, mid = np.median(shares, axis=0)
    assert low > 0.25 and mid > 0.75


def test_synth_di_is_fast():
    start = time.perf_counter()
    synth_di(30.0, SR, seed=2)
    assert time.perf_counter() - start < 5.0      # about 0.4 s here; loose for busy machines


def test_synth_di_rejects_bad_arguments():
    with pytest.raises(ValueError, match="seconds"):
        synth_di(0.0)
    with pytest.raises(ValueError, match="16000"):
        synth_di(1.0, 8000)
    with pytest.raises(ValueError, match="peak"):
        synth_di(1.0, peak=1.5)


# ---- layout ----------------------------------------------------------------------------------

def test_default_layout_positions():
    layout = signal_layout(SR)
    names = [s.name for s in layout]
    assert names == ["lead-in", "sync-marker", "silence", "sweep-low", "sweep-mid", "sweep-high", "noise-low",
                     "noise-mid", "noise-high", "phrases", "validation-marker", "validation"]
    by_name = {s.name: s for s in layout}
    assert by_name["sync-marker"].start == 22050
    assert by_name["validation"].start == int((DEFAULT_SECONDS - 20) * SR)
    assert by_name["validation"].length == 20 * SR
    assert layout[-1].stop == int(DEFAULT_SECONDS * SR)
    for a, b in zip(layout, layout[1:]):
        assert a.stop == b.start and a.length > 0


@pytest.mark.parametrize("seconds", [MIN_SECONDS, 37.3, 300.0])
def test_layout_is_contiguous_at_any_length(seconds):
    layout = signal_layout(48000, seconds)
    assert layout[0].start == 0 and layout[-1].stop == int(round(seconds * 48000))
    assert all(a.stop == b.start for a, b in zip(layout, layout[1:]))
    assert all(s.length > 0 for s in layout)
    assert layout[-1].length <= 30 * 48000


def test_layout_refuses_too_short():
    with pytest.raises(CaptureError, match="at least"):
        signal_layout(SR, MIN_SECONDS - 1)


# ---- the signal ------------------------------------------------------------------------------

def test_capture_signal_sections(standard):
    layout = {s.name: s for s in signal_layout(SR, 12.0)}
    assert standard.dtype == np.float32 and standard.size == 12 * SR
    assert np.max(np.abs(standard)) < 0.75
    assert np.max(np.abs(standard[: layout["lead-in"].stop])) == 0.0
    sweep = standard[layout["sweep-high"].start: layout["sweep-high"].stop]
    assert 20 * np.log10(np.max(np.abs(sweep))) == pytest.approx(-3.0, abs=0.1)
    sweep = standard[layout["sweep-low"].start: layout["sweep-low"].stop]
    assert 20 * np.log10(np.max(np.abs(sweep))) == pytest.approx(-24.0, abs=0.1)
    levels = [20 * np.log10(np.sqrt(np.mean(standard[s.start: s.start + int(0.8 * s.length)] ** 2)))
              for s in (layout["noise-low"], layout["noise-mid"], layout["noise-high"])]
    assert levels == pytest.approx([-36.0, -24.0, -15.0], abs=0.7)
    assert np.sqrt(np.mean(standard[layout["validation"].start:] ** 2)) > 0.01


def test_capture_signal_is_deterministic():
    a = capture_signal(48000, 10.0, seed=1)
    assert np.array_equal(a, capture_signal(48000, 10.0, seed=1))
    assert a.size == 480000


def test_markers_found_where_the_layout_puts_them(standard):
    layout = {s.name: s for s in signal_layout(SR, 12.0)}
    assert find_sync_marker(standard, SR) == layout["sync-marker"].start
    assert find_sync_marker(standard, SR, which="validation") == layout["validation-marker"].start


@pytest.mark.parametrize("delay", [137, 4410])
def test_marker_found_after_known_delay_through_a_device(standard, delay):
    y = np.concatenate([np.zeros(delay), _device(standard, SR)])
    start = signal_layout(SR, 12.0)[1].start
    found = find_sync_marker(y, SR)
    # the band-pass adds a few samples of group delay, never less than the pure delay
    assert start + delay <= found <= start + delay + 8
    found_val = find_sync_marker(y, SR, which="validation")
    assert found_val - found == find_sync_marker(standard, SR, which="validation") - start


def test_marker_search_window(standard):
    start = signal_layout(SR, 12.0)[1].start
    assert find_sync_marker(standard, SR, search=(start - 100, start + 100)) == start
    assert find_sync_marker(standard, SR, search=(start + 5000, start + 9000)) is None


def test_no_marker_in_music_or_noise():
    assert find_sync_marker(synth_di(8.0, SR, seed=4), SR) is None
    assert find_sync_marker(np.random.default_rng(0).standard_normal(3 * SR) * 0.1, SR) is None
    assert find_sync_marker(np.zeros(100), SR) is None
    # the two markers do not mistake each other
    assert find_sync_marker(marker_template(SR, "validation"), SR, which="start") is None


def test_marker_template_names():
    assert marker_template(48000, "start").size > 0.6 * 48000
    with pytest.raises(ValueError, match="marker"):
        marker_template(SR, "middle")


@pytest.mark.parametrize("seconds", [0.02, 0.2])
def test_synth_di_very_short_still_plays_a_note(seconds):
    di = synth_di(seconds, SR, seed=5)
    assert di.size == int(round(seconds * SR))
    assert np.max(np.abs(di)) == pytest.approx(0.7, abs=1e-4)
    assert np.sqrt(np.mean(di.astype(np.float64) ** 2)) > 0.03      # a pluck, not normalised hiss


def test_the_standard_signal_has_an_upper_bound() -> None:
    from tonezoo.errors import CaptureError
    from tonezoo.signals import MAX_SECONDS, signal_layout
    assert signal_layout(44100, MAX_SECONDS)[-1].stop == int(round(MAX_SECONDS * 44100))
    with pytest.raises(CaptureError, match="at most 3600 s"):
        signal_layout(44100, 1e7)
