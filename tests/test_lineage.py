"""A fine-tuned model describes the capture it was tuned on and keeps only its start model's lineage."""

from __future__ import annotations

import jax
import numpy as np

from tonezoo.capture import Capture
from tonezoo.model import Model, ModelConfig, init
from tonezoo.train import train


def test_fine_tune_keeps_lineage_not_the_start_models_identity(od_arrays):
    x, y, sr = od_arrays
    cap = Capture(x=x[: 3 * sr], y=y[: 3 * sr], sample_rate=sr, name="my-amp")
    cfg = ModelConfig(hidden_size=4, sample_rate=sr)
    start = Model(cfg, init(cfg, jax.random.PRNGKey(0)), {
        "name": "screamer", "device": "screamer", "category": "overdrive", "description": "a TS-style overdrive",
        "best_epoch": 198, "epochs": 250, "knob_values": {"drive": 0.5}, "license": "mit", "author": "someone"})
    r = train(cap, init=start, max_epochs=2, progress=False)
    md = r.model.metadata
    assert md["base_model"] == "screamer" and md["license"] == "mit"
    for key in ("device", "category", "description", "knob_values", "author"):
        assert key not in md, key
    assert md["name"] == "my-amp" and md["epochs"] == 2 and md["best_epoch"] == r.best_epoch <= 2
    assert np.isfinite(md["val_esr"])
