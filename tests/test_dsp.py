"""tonezoo._dsp: the filters and nonlinearities the virtual devices are built from."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from tonezoo import _dsp as dsp
from tonezoo.errors import CaptureError

SR = 48000


def _gain_db(sos: np.ndarray, f: float) -> float:
    _, h = signal.sosfreqz(sos, worN=[f], fs=SR)
    return float(20 * np.log10(np.abs(h[0])))


def test_db_and_audio_taper():
    assert dsp.db(20.0) == pytest.approx(10.0) and dsp.db(-6.0) == pytest.approx(0.501, rel=1e-3)
    assert dsp.audio_taper(0.0) == 0.0 and dsp.audio_taper(1.0) == pytest.approx(1.0)
    assert dsp.audio_taper(0.5) == pytest.approx(9 / 99)


def test_filters_have_their_stated_response():
    assert _gain_db(dsp.peaking(1000, 6.0, 1.0, SR), 1000) == pytest.approx(6.0, abs=0.01)
    assert _gain_db(dsp.low_shelf(200, -9.0, SR), 20) == pytest.approx(-9.0, abs=0.2)
    assert _gain_db(dsp.high_shelf(4000, 5.0, SR), 20000) == pytest.approx(5.0, abs=0.3)
    assert _gain_db(dsp.lowpass(1000, SR), 1000) == pytest.approx(-3.0, abs=0.05)
    assert _gain_db(dsp.lowpass(1000, SR), 10000) < -35
    assert _gain_db(dsp.highpass(100, SR), 10) < -35 and _gain_db(dsp.highpass(100, SR), 5000) == pytest.approx(0, abs=0.01)
    assert _gain_db(dsp.lowpass1(1000, SR), 1000) == pytest.approx(-3.0, abs=0.1)
    assert _gain_db(dsp.highpass1(1000, SR), 1000) == pytest.approx(-3.0, abs=0.1)
    # a frequency above Nyquist is clamped, not an unstable filter
    assert np.all(np.isfinite(dsp.filt(np.random.default_rng(0).standard_normal(1000), dsp.peaking(1e6, 3, 1, SR))))


def test_cascade_and_filt_chain_sections():
    x = np.random.default_rng(1).standard_normal(4000)
    a, b = dsp.lowpass(2000, SR), dsp.highpass(200, SR)
    np.testing.assert_allclose(dsp.filt(x, a, b), signal.sosfilt(dsp.cascade(a, b), x), atol=1e-12)


def test_clippers_are_bounded_and_odd():
    x = np.linspace(-10, 10, 1001)
    for y in (dsp.soft_clip(x), dsp.hard_clip(x), dsp.diode_clip(x)):
        assert np.max(np.abs(y)) <= 1.0 + 1e-9
        np.testing.assert_allclose(y, -y[::-1], atol=1e-9)
    assert np.max(np.abs(dsp.rail(x))) <= 0.985 + 1e-9
    asym = dsp.diode_clip(x, positive=1.0, negative=0.5)
    assert asym.max() > 0.9 and asym.min() > -0.55


def test_envelope_follows_attack_and_release():
    x = np.concatenate([np.zeros(SR // 10), np.ones(SR // 10), np.zeros(SR // 10)])
    env = dsp.envelope(x, SR, attack=0.005, release=0.05)
    assert env[SR // 10 + SR // 50] > 0.9              # 4 attack times in
    assert 0.1 < env[2 * SR // 10 + SR // 20] < 0.6     # one release time after the end


def test_one_pole_and_oversample():
    x = np.ones(SR)
    y = dsp.one_pole(x, 0.01, SR)
    assert y[int(0.01 * SR)] == pytest.approx(1 - np.exp(-1), abs=0.02) and y[-1] == pytest.approx(1, abs=1e-3)
    t = np.arange(SR // 10) / SR
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    np.testing.assert_allclose(dsp.oversample(lambda v, rate: v, sine, SR)[100:-100], sine[100:-100], atol=1e-3)


def test_impulse_response_is_read_resampled_and_normalised(tmp_path):
    ir = np.zeros((2205, 2))
    ir[0], ir[10] = [1.0, 0.5], [0.5, 0.5]
    sf.write(tmp_path / "ir.wav", ir, 44100, subtype="FLOAT")
    loaded = dsp.load_ir(tmp_path / "ir.wav", SR)
    assert loaded.size == pytest.approx(2205 * SR / 44100, abs=2) and np.sum(loaded ** 2) == pytest.approx(1.0)
    x = np.random.default_rng(2).standard_normal(1000)
    assert dsp.convolve_ir(x, loaded).shape == x.shape
    sf.write(tmp_path / "silent.wav", np.zeros(100), SR)
    with pytest.raises(CaptureError, match="silent"):
        dsp.load_ir(tmp_path / "silent.wav", SR)
    with pytest.raises(CaptureError, match="cannot read"):
        dsp.load_ir(tmp_path / "missing.wav", SR)


@pytest.mark.parametrize("kind", sorted(dsp.CABINETS))
def test_cabinets_are_stable_band_limits(kind):
    x = np.random.default_rng(3).standard_normal(SR // 2)
    y = dsp.cabinet(x, SR, kind)
    assert np.all(np.isfinite(y)) and y.shape == x.shape
    np.testing.assert_array_equal(dsp.cabinet(x, SR, "none"), x)
