"""Retuning a zoo: every entry of a virtual device fine-tunes on new audio of it, the better model is kept."""

from __future__ import annotations

import numpy as np
import pytest

from tonezoo.errors import ZooError
from tonezoo.model import Model, ModelConfig
from tonezoo.zoo import Zoo
from tonezoo.zoo.build import build_from_devices, entry_device, retune


def test_entry_device_rebuilds_design_and_family_devices():
    dev, knobs = entry_device({"device": "screamer", "knob_values": {"drive": 0.3}})
    assert dev.name == "screamer" and knobs == {"drive": 0.3}
    dev, knobs = entry_device({"family": "boost-clean", "family_seed": 2, "category": "boost", "device": "x"})
    assert dev.name == "boost-clean-s2" and knobs == {}
    assert entry_device({"name": "a NeuralPi file"}) is None
    assert entry_device({"device": "no-such-device"}) is None


def test_retune_fine_tunes_in_place_and_keeps_the_better(tmp_path):
    zoo = build_from_devices(tmp_path / "z", plan=[("boost", "boost", {})], seconds=3.0, epochs=1, progress=False)
    fam = Model.create(ModelConfig(hidden_size=4), seed=1, name="boost-clean-s0", category="boost",
                       family="boost-clean", family_seed=0, device="boost-clean-s0")
    real = Model.create(ModelConfig(hidden_size=4), seed=2, name="a real pedal", category="overdrive")
    zoo.add_many([fam, real], ids=["boost-clean-s0", "real-pedal"])
    before = {e.id: (zoo.get(e.id).params, zoo.fingerprints[i].copy()) for i, e in enumerate(zoo.list())}
    lines: list[str] = []
    res = retune(zoo, seconds=3.0, epochs=2, patience=5, progress=False, log=lines.append)
    assert sorted(res) == ["boost", "boost-clean-s0"]
    assert any("real-pedal: skipped" in m for m in lines)
    again = Zoo.open(tmp_path / "z")
    assert [e.id for e in again.list()] == ["boost", "boost-clean-s0", "real-pedal"]       # order kept
    for i, e in enumerate(again.list()):
        model = again.get(e.id)
        if e.id == "real-pedal":
            assert "retuned" not in model.metadata
            np.testing.assert_array_equal(again.fingerprints[i], before[e.id][1])
            continue
        rec = model.metadata["retuned"]
        assert e.val_esr == pytest.approx(min(res[e.id]["before"], res[e.id]["after"]))
        assert rec["kept"] == ("fine-tuned" if res[e.id]["after"] < res[e.id]["before"] else "current")
        changed = not np.array_equal(np.asarray(model.params["dense"]["w"]),
                                     np.asarray(before[e.id][0]["dense"]["w"]))
        assert changed == (rec["kept"] == "fine-tuned")
        assert changed == (not np.array_equal(again.fingerprints[i], before[e.id][1]))
    with pytest.raises(ZooError, match="architecture differs"):
        again.replace_models({"real-pedal": Model.create(ModelConfig(hidden_size=6), seed=0)})
