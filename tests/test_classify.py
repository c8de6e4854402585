"""Device-kind classifier: behaviour features, the data-only model file, and the bundled classifier."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tonezoo.classify import CLASSIFIER_NAME, Classifier, feature_names, features, probe_pair
from tonezoo.devices import render
from tonezoo.errors import CaptureError, ModelFileError
from tonezoo.families import draw
from tonezoo.signals import synth_di

SR = 44100
BUNDLED = Path(__file__).resolve().parents[1] / "zoo_index" / CLASSIFIER_NAME


@pytest.fixture(scope="module")
def di() -> np.ndarray:
    return synth_di(4.0, SR, seed=21, peak=0.5)


def test_features_shape_and_determinism(di: np.ndarray) -> None:
    y = render(draw("fuzz", "fuzz-face", 0), di, SR)
    a, b = features(di, y, SR), features(di, y, SR)
    assert a.shape == (len(feature_names()),) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)


def test_features_describe_behaviour(di: np.ndarray) -> None:
    names = feature_names()
    f = {n: i for i, n in enumerate(names)}
    lin = features(di, 0.5 * di, SR)
    hard = features(di, np.tanh(20.0 * di), SR)
    assert lin[f["resid_all"]] < -40.0 < hard[f["resid_all"]]       # no linear filter explains a clipper
    assert abs(lin[f["level_slope"]] - 1.0) < 0.01 and hard[f["level_slope"]] < 0.75
    assert abs(lin[f["slope_loud"]] - 1.0) < 0.01 and hard[f["slope_loud"]] < lin[f["slope_loud"]] - 0.5
    assert abs(lin[f["rolloff_99"]]) < 0.05 < hard[f["rolloff_99"]]        # harmonics widen the band
    cab = features(di, render(draw("amp-clean", "clean-blackface", 1), di, SR), SR)
    assert cab[f["res_8000-16000"]] < hard[f["res_8000-16000"]] - 20.0      # a cabinet removes the top
    assert lin[f["peak_asym"]] == pytest.approx(0.0, abs=1e-9)
    comp = render(draw("compressor", "comp-vca", 1), di, SR)
    assert features(di, comp, SR)[f["dyn_std"]] > lin[f["dyn_std"]] + 1.0


def test_features_reject_bad_input(di: np.ndarray) -> None:
    with pytest.raises(CaptureError, match="one length"):
        features(di, di[:-1], SR)
    with pytest.raises(CaptureError, match="0.5 s"):
        features(di[:1000], di[:1000], SR)
    with pytest.raises(CaptureError, match="silent"):
        features(np.zeros_like(di), di, SR)


def _tiny_classifier() -> Classifier:
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(0)
    n = len(feature_names())
    X = rng.standard_normal((120, n)) * 3 + 1
    y = np.where(X[:, 0] + X[:, 5] > 2, "fuzz", "boost")
    scaler = StandardScaler().fit(X)
    mlps = [MLPClassifier(hidden_layer_sizes=(8,), max_iter=2000, random_state=s).fit(scaler.transform(X), y)
            for s in (0, 1)]
    one = Classifier.from_sklearn(mlps[0], scaler)
    np.testing.assert_allclose(one.predict_proba(X), mlps[0].predict_proba(scaler.transform(X)), atol=1e-10)
    clf = Classifier.from_sklearn(mlps, scaler, metadata={"note": "test"})      # an ensemble: mean probabilities
    mean = np.mean([m.predict_proba(scaler.transform(X)) for m in mlps], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X), mean, atol=1e-10)
    return clf


def test_stored_as_data_and_round_trips(tmp_path: Path) -> None:
    clf = _tiny_classifier()
    path = clf.save(tmp_path / "c.json")
    doc = json.loads(path.read_text())                         # plain JSON arrays, no pickle anywhere
    assert doc["format"] == "tonezoo-classifier" and doc["feature_names"] == feature_names()
    back = Classifier.load(path)
    x = np.random.default_rng(1).standard_normal((5, len(feature_names())))
    np.testing.assert_allclose(back.predict_proba(x), clf.predict_proba(x), rtol=1e-4, atol=1e-6)  # 6 digits stored
    assert back.classes == ("boost", "fuzz") and back.metadata == {"note": "test"} and len(back.networks) == 2
    import os
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask        # the user's usual permissions, as before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]    # written atomically, nothing left beside it


def test_bad_classifier_files(tmp_path: Path) -> None:
    doc = _tiny_classifier().to_dict()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(doc, feature_version=0)))
    with pytest.raises(ModelFileError, match="train_classifier.py"):
        Classifier.load(bad)
    doc["members"][0][0]["weights"] = doc["members"][0][0]["weights"][:-1]
    bad.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="do not chain"):
        Classifier.load(bad)
    bad.write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        Classifier.load(bad)
    with pytest.raises(ModelFileError, match="cannot read"):
        Classifier.load(tmp_path / "missing.json")


@pytest.mark.skipif(not BUNDLED.is_file(), reason="no bundled classifier (run benchmarks/train_classifier.py)")
def test_bundled_classifier_on_held_out_families(di: np.ndarray) -> None:
    clf = Classifier.default()
    assert set(clf.metadata["held_out_families"]).isdisjoint(clf.metadata["training_families"])
    # one draw of a few held-out generators (never in its training) and plain extremes
    cases = [(draw("compressor", "comp-feedback", 3), "compressor"), (draw("amp-clean", "clean-tweed", 2), None),
             (draw("fuzz", "fuzz-gated", 1), None)]
    hits = 0
    for dev, _ in cases:
        guess = clf.classify(di, render(dev, di, SR), SR)
        assert 0.0 < guess.confidence <= 1.0 and abs(sum(guess.probabilities.values()) - 1.0) < 1e-9
        assert guess.top(3)[0] == (guess.category, guess.confidence)
        hits += guess.category == dev.category
    assert hits >= 2
    assert clf.classify(di, 0.8 * di, SR).category in ("boost", "amp-clean", "compressor")


def test_probe_pair_runs_the_model() -> None:
    from tonezoo.model import Model, ModelConfig
    m = Model.create(ModelConfig(hidden_size=4), seed=0)
    x, y, sr = probe_pair(m)
    assert x.shape == y.shape and sr == 44100 and np.all(np.isfinite(y))
    np.testing.assert_allclose(y, m.process(x), atol=1e-6)


def test_zoo_add_infers_a_missing_category(tmp_path: Path) -> None:
    from tonezoo.model import Model
    from tonezoo.zoo import Zoo
    src = Zoo.default().get("ts9-like")
    anon = Model(src.config, src.params, {"name": "some third-party file"})      # no category given anywhere
    zoo = Zoo.open(tmp_path / "z", create=True)
    e = zoo.add(anon, id="anon")
    assert e.category in Classifier.default().classes and e.category_confidence is not None
    md = zoo.get("anon").metadata
    assert md["category_source"] == "inferred" and md["category"] == e.category
    told = Zoo.open(tmp_path / "z2", create=True).add(anon, id="told", category="boost")  # a given one is kept
    assert told.category == "boost" and told.category_confidence is None
    assert Zoo.open(tmp_path / "z").entry("anon").category_confidence == e.category_confidence
