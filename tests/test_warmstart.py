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
