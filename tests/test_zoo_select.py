"""tonezoo.zoo.select and tonezoo.knobs: the fitted fingerprint index, stage-2 helpers, knob resolution."""

from __future__ import annotations

import numpy as np
import pytest

from tonezoo.capture import Capture
from tonezoo.errors import ConfigError, ZooError
from tonezoo.knobs import fold_knobs, knob_array, resolve_knobs
from tonezoo.model import Model, ModelConfig
from tonezoo.signals import synth_di
from tonezoo.zoo import MIN_ZOO_FOR_OWN_SCALER, Zoo
from tonezoo.zoo.select import FingerprintIndex, audio_at, group_diffs, knobs_for
from tonezoo import embed


def _fps(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, len(embed.feature_names()))).astype(np.float32)


def test_index_learns_trailing_underscore_state_and_refuses_queries_before_fit():
    index = FingerprintIndex(weighting=False)
    assert not hasattr(index, "scaler_")
    with pytest.raises(ZooError, match="not fitted"):
        index.kneighbors(_fps(1)[0], 1)
    X = _fps(12)
    index.fit(X, ["a", "b"] * 6)
    assert index.n_samples_fit_ == 12 and index.n_reference_ == 0 and np.all(index.weights_ == 1)
    dist, idx = index.kneighbors(X[5], 3)
    assert idx[0] == 5 and dist[0] == pytest.approx(0.0, abs=1e-6) and np.all(np.diff(dist) >= 0)
    with pytest.raises(ConfigError, match="labels"):
        index.fit(X, ["a"])


def test_index_with_reference_rows_scales_by_them_but_indexes_only_its_own():
    X, ref = _fps(3, 1), 10 * _fps(40, 2)
    own = FingerprintIndex(weighting=False).fit(X, ["a", "b", "c"])
    borrowed = FingerprintIndex(weighting=False).fit(X, ["a", "b", "c"], reference=ref)
    assert borrowed.n_reference_ == 40 and borrowed.n_samples_fit_ == 3
    assert not np.allclose(own.transform(X), borrowed.transform(X))
    assert borrowed.kneighbors(X[1], 3)[1].max() < 3


def test_a_small_zoo_says_it_borrows_the_bundled_scaler(tmp_path):
    zoo = Zoo.open(tmp_path / "z", create=True)
    for i in range(2):
        zoo.add(Model.create(ModelConfig(hidden_size=4), seed=i, name=f"m{i}", category="boost"),
                fingerprint=_fps(1, i)[0])
    assert len(zoo) < MIN_ZOO_FOR_OWN_SCALER
    assert zoo.index().n_reference_ == len(Zoo.default()) and zoo.index(reference="own").n_reference_ == 0
    with pytest.raises(ConfigError, match="reference"):
        zoo.index(reference="bundled")


def test_group_diffs_names_closest_and_furthest_groups():
    names = embed.feature_names()
    groups = embed.feature_groups()
    first, last = list(groups)[0], list(groups)[-1]
    z = np.zeros(len(names))
    row = np.ones(len(names))
    for n in groups[first]:
        row[names.index(n)] = 0.0
    for n in groups[last]:
        row[names.index(n)] = 5.0
    assert group_diffs(z, row[None]) == [(first.replace("_", " "), last.replace("_", " "))]


def test_knobs_for_reports_where_values_came_from():
    x = synth_di(0.5, 44100, seed=1)
    y = np.tanh(3 * x)
    m = Model.create(ModelConfig(hidden_size=4, knobs=("gain", "tone")), seed=1, knob_values={"gain": 0.2})
    cap = Capture.from_arrays(x, y, 44100, name="c", align=False, knobs={"gain": 0.7, "tone": 0.1})
    kv, note = knobs_for(m, cap)
    assert kv.tolist() == pytest.approx([0.7, 0.1]) and "from capture" in note
    kv, note = knobs_for(m, Capture.from_arrays(x, y, 44100, name="c", align=False))
    assert kv.tolist() == pytest.approx([0.2, 0.5]) and "defaults (0.5 where unknown)" in note
    a, b = audio_at(cap, 22050, 0.2)
    assert a.size == pytest.approx(x.size / 2, rel=0.05) and a.size == b.size


def test_resolve_knobs_precedence_and_missing():
    values, missing = resolve_knobs(("a", "b", "c"), {"a": 1}, None, {"a": 0, "b": 0.25, "z": 9})
    assert values == {"a": 1.0, "b": 0.25} and missing == ["c"]
    values, missing = resolve_knobs(("a", "c"), {}, default=0.5)
    assert values == {"a": 0.5, "c": 0.5} and not missing
    assert knob_array((), {}) is None and knob_array(("b", "a"), {"a": 1, "b": 2}).tolist() == [2.0, 1.0]


def test_fold_knobs_keeps_the_output_and_adds_silent_inputs():
    x = synth_di(0.3, 44100, seed=2)
    m = Model.create(ModelConfig(hidden_size=5, knobs=("gain", "tone")), seed=3, knob_values={"gain": 0.3})
    folded = fold_knobs(m, ("tone", "level"), {"gain": 0.9})
    assert folded.config.knobs == ("tone", "level") and folded.metadata["knob_values"] == {"tone": 0.5}
    np.testing.assert_allclose(folded.process(x, {"tone": 0.4, "level": 0.8}), m.process(x, {"gain": 0.9, "tone": 0.4}),
                               atol=1e-5)
    assert m.config.knobs == ("gain", "tone")            # the original is untouched
