"""Tests for tonezoo.embed: device fingerprints."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, lfilter

from tonezoo import embed
from tonezoo.devices import render
from tonezoo.errors import CaptureError
from tonezoo.model import Model, ModelConfig
from tonezoo.signals import synth_di

SR = 44100


@pytest.fixture(scope="module")
def dis():
    return [synth_di(3.0, SR, seed=s) for s in (11, 12)]


def test_feature_names_match_fingerprint(dis):
    x = dis[0]
    fp = embed.fingerprint(x, np.tanh(3 * x), SR)
    assert fp.shape == (len(embed.feature_names()),)
    assert fp.dtype == np.float32 and np.all(np.isfinite(fp))
    assert len(set(embed.feature_names())) == len(embed.feature_names())
    assert sum(len(v) for v in embed.feature_groups().values()) == fp.size
    np.testing.assert_array_equal(fp, embed.fingerprint(x, np.tanh(3 * x), SR))   # deterministic


def test_same_device_closer_than_same_song(dis):
    devices = ["ts9-like", "bigmuff-like", "dynacomp-like", "clean-amp", "5150-like"]
    fps = {(d, i): embed.fingerprint(x, render(d, x, SR), SR) for d in devices for i, x in enumerate(dis)}
    scaler = embed.fit_scaler(np.stack(list(fps.values())))
    z = {k: scaler.transform(v[None])[0] for k, v in fps.items()}
    # two performances differ in brightness as two guitars do, and a clean amp and a compressor at
    # its default are neighbours: nearly every comparison, not all, puts the same device closer
    closer = [np.linalg.norm(z[d, 0] - z[d, 1]) < np.linalg.norm(z[d, i] - z[other, i])
              for d in devices for other in devices if other != d for i in range(2)]
    assert np.mean(closer) >= 0.95, closer
    nearest = [min((k for k in z if k != key), key=lambda k: np.linalg.norm(z[key] - z[k]))[0] == key[0] for key in z]
    assert sum(nearest) >= len(z) - 1


def test_linear_gain_gives_flat_transfer(dis):
    x = dis[0]
    curve, gain = embed.mel_transfer(x, 2.0 * x, SR)
    assert gain == pytest.approx(20 * np.log10(2.0), abs=0.05)
    assert np.max(np.abs(curve)) < 0.5
    b, a = butter(2, 1000 / (SR / 2))
    curve, _ = embed.mel_transfer(x, lfilter(b, a, x), SR)
    # a low-pass falls off above its corner (up to the bands the input hardly reaches, which read as
    # the broadband gain)
    assert np.min(curve[6:11]) < curve[0] - 15 and curve[8] < curve[4] - 8
    fp = dict(zip(embed.feature_names(), embed.fingerprint(x, 2.0 * x, SR)))
    assert fp["level_slope"] == pytest.approx(1.0, abs=0.05)
    assert fp["coherence_500-1000hz"] > 0.95
    fp_clip = dict(zip(embed.feature_names(), embed.fingerprint(x, np.clip(20 * x, -0.5, 0.5), SR)))
    assert fp_clip["coherence_500-1000hz"] < fp["coherence_500-1000hz"]
    assert fp_clip["level_slope"] < 0.5 and fp_clip["nonlinear_residual_db"] > fp["nonlinear_residual_db"] + 10


def test_bad_input_is_a_capture_error(dis):
    x = dis[0]
    with pytest.raises(CaptureError, match="silent"):
        embed.fingerprint(np.zeros_like(x), x, SR)
    with pytest.raises(CaptureError, match="lengths differ"):
        embed.fingerprint(x, x[:-5], SR)
    with pytest.raises(CaptureError, match="at least"):
        embed.fingerprint(x[:100], x[:100], SR)
    with pytest.raises(CaptureError, match="NaN"):
        embed.fingerprint(np.full_like(x, np.nan), x, SR)


def test_select_excerpt_spreads_chunks():
    assert embed.select_excerpt(1000, 100, max_seconds=20) == [(0, 1000)]
    spans = embed.select_excerpt(60 * SR, SR, max_seconds=10, chunk_seconds=2)
    assert len(spans) == 5 and spans[0][0] == 0 and spans[-1][1] == 60 * SR
    assert sum(e - s for s, e in spans) == 10 * SR


def test_fingerprint_model_matches_running_it():
    model = Model.create(ModelConfig(hidden_size=4), seed=1)
    probe = synth_di(2.0, SR, seed=3)
    fp = embed.fingerprint_model(model, probe)
    direct = embed.fingerprint(probe, model.process(probe), SR)
    np.testing.assert_allclose(fp, direct, atol=0.05 * (1 + np.abs(direct)).max())
    assert embed.standard_probe(SR).shape == (int(embed.PROBE_SECONDS * SR),)
    np.testing.assert_array_equal(embed.standard_probe(SR), embed.standard_probe(SR))


def test_feature_weights_favour_discriminative_features():
    rng = np.random.default_rng(0)
    labels = ["a"] * 10 + ["b"] * 10
    x = rng.standard_normal((20, 3))
    x[:10, 0] += 4.0                               # feature 0 separates the categories
    w = embed.feature_weights(x, labels)
    assert w[0] > w[1] and w[0] > w[2]
    np.testing.assert_array_equal(embed.feature_weights(x, ["a"] * 20), np.ones(3))


def test_input_level_db_reads_the_playing_level():
    t = np.arange(SR) / SR
    sine = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    assert embed.input_level_db(sine) == pytest.approx(-3.01, abs=0.05)
    assert embed.input_level_db(0.1 * sine) == pytest.approx(-23.01, abs=0.05)
    # leading silence and rests do not lower it; silence reads -120
    padded = np.concatenate([np.zeros(3 * SR, np.float32), sine, np.zeros(SR, np.float32), sine])
    assert embed.input_level_db(padded) == pytest.approx(-3.01, abs=0.3)
    assert embed.input_level_db(np.zeros(SR, np.float32)) == -120.0
    assert embed.probe_level_db(SR) == pytest.approx(embed.input_level_db(embed.standard_probe(SR)))


def test_interpolate_levels_is_linear_in_db_and_clamped():
    rng = np.random.default_rng(0)
    fps = rng.normal(size=(3, len(embed.PROBE_GAINS_DB), 5)).astype(np.float32)
    gains = embed.PROBE_GAINS_DB
    for g, gain in enumerate(gains):
        np.testing.assert_allclose(embed.interpolate_levels(fps, gains, gain), fps[:, g], atol=1e-6)
    mid = 0.5 * (gains[0] + gains[1])
    np.testing.assert_allclose(embed.interpolate_levels(fps, gains, mid), 0.5 * (fps[:, 0] + fps[:, 1]), atol=1e-6)
    np.testing.assert_allclose(embed.interpolate_levels(fps, gains, -100.0), fps[:, 0], atol=1e-6)
    np.testing.assert_allclose(embed.interpolate_levels(fps, gains, +100.0), fps[:, -1], atol=1e-6)
    per_model = embed.interpolate_levels(fps, gains, np.array([gains[0], gains[1], gains[-1]]))
    np.testing.assert_allclose(per_model, fps[[0, 1, 2], [0, 1, len(gains) - 1]], atol=1e-6)
    with pytest.raises(Exception, match="level fingerprints must have shape"):
        embed.interpolate_levels(fps[:, :2], gains, 0.0)


def test_probe_fingerprints_follow_the_probe_level():
    model = Model.create(ModelConfig(hidden_size=4), seed=3)
    fps = embed.probe_fingerprints([model], gains_db=(-12.0, 0.0))
    assert fps.shape == (1, 2, len(embed.feature_names()))
    np.testing.assert_allclose(fps[0, 1], embed.fingerprint_model(model), rtol=1e-5, atol=1e-5)
    quiet = embed.standard_probe(SR) * np.float32(10 ** (-12 / 20))
    np.testing.assert_allclose(fps[0, 0], embed.fingerprint_model(model, quiet), rtol=1e-5, atol=1e-5)
