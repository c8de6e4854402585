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
