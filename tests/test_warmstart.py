"""Warm starts: the least-squares output refit (transfer's policy is tested in test_transfer.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tonezoo.devices import render_capture
from tonezoo.train import esr
from tonezoo.warmstart import hidden_states, refit_output
from tonezoo.zoo import Zoo


@pytest.fixture(scope="module")
def zoo() -> Zoo:
    return Zoo.default()


@pytest.fixture(scope="module")
def cap():
    return render_capture("ht40-like", seconds=4.0, seed=3)


def test_hidden_states_reproduce_the_output(zoo: Zoo, cap) -> None:
    m = zoo.start_model(zoo.list()[0].id, cap)
    x = cap.train_x[:4000]
    h = hidden_states(m, x, m.knob_vector(cap.knobs))          # the capture's knobs are model inputs
    assert h.shape == (4000, m.config.hidden_size)
    w, b = np.asarray(m.params["dense"]["w"]), float(np.asarray(m.params["dense"]["b"]))
    y = h @ w + b + (x if m.config.skip else 0.0)
    np.testing.assert_allclose(y, m.process(x, cap.knobs), atol=2e-4)


def test_refit_output_fixes_level_and_polarity(zoo: Zoo, cap) -> None:
    m = zoo.start_model("boost", cap)
    # a start with the wrong polarity and level: the refit must undo both before any training
    flipped = type(m)(m.config, dict(m.params, dense={"w": -3.0 * np.asarray(m.params["dense"]["w"]),
                                                      "b": np.asarray(m.params["dense"]["b"])}), dict(m.metadata))
    before = esr(cap.val_y, flipped.process(cap.val_x, cap.knobs))
    r = refit_output(flipped, cap)
    after = esr(cap.val_y, r.process(cap.val_x, cap.knobs))      # validation audio: not what was fitted
    assert after < 0.5 * before
    md = r.metadata["output_refit"]
    assert md["esr_after"] < md["esr_before"] and md["seconds"] <= 3.0 + 1e-9
    np.testing.assert_array_equal(np.asarray(r.params["layers"][0]["w_hh"]),   # only the output layer changes
                                  np.asarray(m.params["layers"][0]["w_hh"]))
    assert refit_output(r, cap).metadata["output_refit"]["esr_after"] <= md["esr_after"] * 1.0001


def test_a_refit_the_validation_audio_rejects_is_not_kept(zoo: Zoo, cap) -> None:
    from tonezoo.capture import Capture
    m = zoo.start_model("boost", cap)
    x = np.concatenate([cap.train_x, cap.val_x])
    y = 0.5 * np.asarray(m.process(x, cap.knobs), np.float64)     # (this boost peaks above full scale)
    n_tr = len(cap.train_x)
    # the fitted audio is the model's output inverted, the validation audio is not: least
    # squares flips the output layer, which fits the training audio and misses validation
    c = Capture.from_arrays(x, np.concatenate([-y[:n_tr], y[n_tr:]]).astype(np.float32), cap.sample_rate,
                            knobs=cap.knobs, align=False, val_start=n_tr)
    assert refit_output(m, c) is m
    inverted = Capture.from_arrays(x, (-y).astype(np.float32), cap.sample_rate, knobs=cap.knobs, align=False,
                                   val_start=n_tr)
    r = refit_output(m, inverted)                       # validation agrees with the fit: kept
    md = r.metadata["output_refit"]
    assert r is not m and md["val_esr_after"] < 0.1 * md["val_esr_before"]


def test_when_the_fit_follows_the_fitted_audio_the_level_alone_is_kept(zoo: Zoo, cap) -> None:
    from tonezoo.capture import Capture
    m = zoo.start_model("boost", cap)
    kv = m.knob_vector(cap.knobs) if m.config.knobs else None
    x = np.concatenate([cap.train_x, cap.val_x]).astype(np.float32)
    n_tr = len(cap.train_x)
    skip = x.astype(np.float64) if m.config.skip else 0.0
    w, b = np.asarray(m.params["dense"]["w"], np.float64), float(np.asarray(m.params["dense"]["b"]))
    h = hidden_states(m, x, kv).astype(np.float64)
    part = h @ w + b                                     # the output layer's share of the output
    # the fitted audio: the model 6 dB down plus one hidden unit's activation, made orthogonal to the
    # model's output there (so the best single gain is exactly 0.5) and loud; validation: the model
    # 6 dB down. Least squares fits the unit, which is not in the validation audio
    unit = h[:, int(np.argmax(np.var(h[:n_tr], axis=0)))]
    tr = slice(0, n_tr)
    unit = unit - (unit[tr] @ part[tr]) / (part[tr] @ part[tr]) * part
    unit *= 3.0 * np.linalg.norm(0.5 * part[tr]) / np.linalg.norm(unit[tr])
    y = skip + 0.5 * part + np.where(np.arange(len(x)) < n_tr, unit, 0.0)
    c = Capture.from_arrays(x, y.astype(np.float32), cap.sample_rate, knobs=cap.knobs, align=False, val_start=n_tr)
    r = refit_output(m, c, seconds=len(cap.train_x) / cap.sample_rate)
    md = r.metadata["output_refit"]
    assert md["fit"] == "gain" and md["gain"] == pytest.approx(0.5, rel=1e-3)
    assert md["val_esr_after"] < 1e-3 < md["val_esr_before"]
    np.testing.assert_allclose(np.asarray(r.params["dense"]["w"]), 0.5 * w, rtol=1e-3)
