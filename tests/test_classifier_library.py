"""The classifier's real training captures (benchmarks/_library.py): no fixture device ever enters them."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
sys.path.insert(0, str(ROOT / "benchmarks"))

pytestmark = pytest.mark.skipif(not (FIXTURES / "models" / "agam").is_dir(), reason="no shared fixtures")


def _library(tmp_path: Path) -> Path:
    """A folder laid out as GuitarML/ToneLibrary, from fixture files under other names."""
    src = FIXTURES / "models" / "agam"
    for sub in ("NeuralPi", "Proteus"):
        (tmp_path / sub).mkdir()
    # a fixture's weights under a labelled name: refused by its weights, whatever the name says
    shutil.copy(src / "neuralpi_procorat.json", tmp_path / "NeuralPi" / "WamplerTumnus_highGain.json")
    # another capture of a fixture's device: refused by the device in its name
    doc = json.loads((src / "neuralpi_princeton_clean.json").read_text())
    doc["state_dict"]["lin.bias"] = [float(b) + 0.01 for b in doc["state_dict"]["lin.bias"]]
    (tmp_path / "NeuralPi" / "FenderPrinceton_highLevel.json").write_text(json.dumps(doc))
    # other weights under labelled names: used, with the table's category and device
    (tmp_path / "NeuralPi" / "BossDistortionDs1_highGain.json").write_text(json.dumps(doc))
    doc["state_dict"]["lin.bias"] = [float(b) + 0.02 for b in doc["state_dict"]["lin.bias"]]
    (tmp_path / "Proteus" / "DS1_fromVideo.json").write_text(json.dumps(doc))
    (tmp_path / "Proteus" / "RockmanAcoustic_Pedal.json").write_text(json.dumps(doc))
    (tmp_path / "Proteus" / "SomethingNew.json").write_text(json.dumps(doc))
    return tmp_path


def test_fixture_devices_are_never_used(tmp_path: Path) -> None:
    from _library import library_models
    used, skipped = library_models(_library(tmp_path))
    assert used == [("NeuralPi/BossDistortionDs1_highGain.json", "distortion", "boss-ds1"),
                    ("Proteus/DS1_fromVideo.json", "distortion", "boss-ds1")]
    assert "neuralpi_procorat.json" in skipped["NeuralPi/WamplerTumnus_highGain.json"]
    assert "Princeton" in skipped["NeuralPi/FenderPrinceton_highLevel.json"]
    assert skipped["Proteus/RockmanAcoustic_Pedal.json"].startswith("no category")
    assert skipped["Proteus/SomethingNew.json"] == "not in the label table"


def test_the_label_table_names_no_fixture_device() -> None:
    from _library import FIXTURE_DEVICES, LABELLED, UNLABELLED
    for rel in list(LABELLED) + list(UNLABELLED):
        name = Path(rel).stem.lower().replace("_", "")
        assert not any(key in name for key in FIXTURE_DEVICES), rel
    assert not set(LABELLED) & set(UNLABELLED)


def test_library_renders_carry_category_and_device(tmp_path: Path) -> None:
    from train_classifier import library_pairs
    rows = list(library_pairs(_library(tmp_path), 2, seconds=0.5, log=None))
    assert [(r[3], r[4]) for r in rows] == [("distortion", "boss-ds1")] * 4
    x, y, sr = rows[0][:3]
    assert x.shape == y.shape == (int(0.5 * sr),) and np.all(np.isfinite(y)) and np.std(y) > 0


def test_not_a_library_is_refused(tmp_path: Path) -> None:
    from _library import library_models
    with pytest.raises(FileNotFoundError, match="ToneLibrary"):
        library_models(tmp_path)


def _more_captures(root: Path) -> None:
    """A file at every path of MORE_LABELLED under ``root``: a fixture's model with other weights (no fixture's)."""
    from _library import MORE_LABELLED
    doc = json.loads((FIXTURES / "models" / "agam" / "neuralpi_princeton_clean.json").read_text())
    doc["state_dict"]["lin.bias"] = [float(b) + 0.03 for b in doc["state_dict"]["lin.bias"]]
    for rel in MORE_LABELLED:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(json.dumps(doc))


def test_more_captures_are_checked_like_the_library(tmp_path: Path) -> None:
    from _library import FIXTURE_DEVICES, MORE_LABELLED, more_models
    from train_classifier import library_pairs
    src = FIXTURES / "models" / "agam"
    _more_captures(tmp_path)                     # other weights under the table's paths: used as labelled
    used = more_models(tmp_path)
    assert [(r, c, d) for r, (_, c, d) in MORE_LABELLED.items()] == used
    from tonezoo.devices import CATEGORIES
    assert {c for _, c, _ in used} <= set(CATEGORIES)
    rows = list(library_pairs(tmp_path, 1, seconds=0.5, log=None, models=used[:1], first_index=1000))
    assert [(r[3], r[4]) for r in rows] == [used[0][1:]]
    # a fixture's weights under a table path are refused, and so is a missing file
    first = next(iter(MORE_LABELLED))
    shutil.copy(src / "neuralpi_procorat.json", tmp_path / first)
    with pytest.raises(ValueError, match="neuralpi_procorat"):
        more_models(tmp_path)
    (tmp_path / first).unlink()
    with pytest.raises(FileNotFoundError, match="commit"):
        more_models(tmp_path)
    for rel in MORE_LABELLED:
        assert not any(key in Path(rel).stem.lower().replace("_", "").replace("-", "") for key in FIXTURE_DEVICES)


def test_a_fixture_nam_capture_is_refused_by_its_weights(tmp_path: Path) -> None:
    """A NAM WaveNet fixture's weights under a NAM_models path of the table are refused, whatever its metadata."""
    from _library import MORE_LABELLED, NAM_MODELS, more_models
    _more_captures(tmp_path)
    assert len(more_models(tmp_path)) == len(MORE_LABELLED)
    nam = json.loads((FIXTURES / "models" / "nam" / "t3k_dumble_feather.nam").read_text())
    nam["metadata"] = {"name": "renamed"}
    rel = next(r for r in MORE_LABELLED if r.endswith(next(iter(NAM_MODELS))))
    (tmp_path / rel).write_text(json.dumps(nam))
    with pytest.raises(ValueError, match="t3k_dumble_feather"):
        more_models(tmp_path)
