"""WaveNet entries of the default zoo: the head refit, ``--from auto --arch nam-feather`` offline, mixed ranking."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tonezoo.architectures import wavenet as wn
from tonezoo.capture import Capture
from tonezoo.cli import main
from tonezoo.model import Model
from tonezoo.train import esr
from tonezoo.warmstart import head_features, refit_output
from tonezoo.zoo import Zoo
from tonezoo.zoo.build import wavenet_plan

SR = 48000


def _arch(entry) -> str:
    return entry.config.arch


@pytest.fixture(scope="module")
def default_zoo() -> Zoo:
    return Zoo.default()


def test_wavenet_plan_covers_every_category():
    from tonezoo.devices import CATEGORIES, get_device
    plan = wavenet_plan(1, preset="nam-feather")
    assert sorted(get_device(d).category for _, d, _ in plan) == sorted(CATEGORIES)
    assert all(mid.endswith("-feather") for mid, _, _ in plan)
    assert len(wavenet_plan(2)) == 2 * len(CATEGORIES)


def test_refit_fixes_level_and_polarity_of_a_wavenet_start():
    config = wn.model_config("nam-nano", sample_rate=SR)
    truth = Model(config, wn.init(config, 3), {"name": "truth"})
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(3 * SR)).astype(np.float32)
    y = truth.process(x).astype(np.float32)
    cap = Capture.from_arrays(x, y, SR, name="nano", align=False)
    last = truth.params["arrays"][-1]
    arr = dict(last, head_w=-2.5 * np.asarray(last["head_w"]), head_b=np.asarray(last["head_b"]) + 0.01)
    start = Model(config, dict(truth.params, arrays=[*truth.params["arrays"][:-1], arr]), {"name": "start"})
    # the head's features reproduce the output: head_scale * (s . w + b)
    s = head_features(truth, cap.train_x[:4000])
    scale = float(np.asarray(truth.params["head_scale"]))
    np.testing.assert_allclose(scale * (s @ np.asarray(last["head_w"])[:, 0] + float(np.asarray(last["head_b"])[0])),
                               truth.process(cap.train_x[:4000]), atol=1e-5)
    before = esr(cap.val_y, start.process(cap.val_x))
    fitted = refit_output(start, cap)
    after = esr(cap.val_y, fitted.process(cap.val_x))
    assert before > 5.0 and after < 0.01
    assert fitted.metadata["output_refit"]["esr_after"] < fitted.metadata["output_refit"]["esr_before"]
    assert float(np.asarray(fitted.params["arrays"][-1]["head_w"])[0, 0]) == pytest.approx(
        float(np.asarray(last["head_w"])[0, 0]), rel=0.1)
    np.testing.assert_array_equal(np.asarray(fitted.params["arrays"][0]["rechannel"]),
                                  np.asarray(truth.params["arrays"][0]["rechannel"]))


def test_default_zoo_has_feather_wavenets_for_every_category(default_zoo):
    from tonezoo.devices import CATEGORIES
    wavenets = [e for e in default_zoo.list() if _arch(e) == "wavenet"]
    assert sorted(e.category for e in wavenets) == sorted(CATEGORIES)
    for e in wavenets:
        md = default_zoo.get(e.id).metadata
        assert wn.preset_name(e.config) == "nam-feather" and e.sample_rate == SR
        assert md["device"] and md["category"] == e.category and md["build_recipe"]["preset"] == "nam-feather"
        assert "benchmarks/build_zoo.py --wavenet nam-feather" in md["build_recipe"]["command"]
        assert e.val_esr is not None and e.val_esr < 0.5


@pytest.fixture(scope="module")
def capture_wavs(tmp_path_factory):
    from tonezoo.devices import render_pair
    x, y, _ = render_pair("ts-light", seconds=3.0, sample_rate=SR, seed=5)
    d = tmp_path_factory.mktemp("wavenet_capture")
    sf.write(d / "in.wav", x, SR, subtype="FLOAT")
    sf.write(d / "out.wav", y, SR, subtype="FLOAT")
    return d / "in.wav", d / "out.wav"


def test_cli_train_from_auto_picks_a_bundled_wavenet(capture_wavs, tmp_path, capsys, default_zoo):
    out = tmp_path / "feather"
    rc = main(["train", str(capture_wavs[0]), str(capture_wavs[1]), "-o", str(out), "--arch", "nam-feather",
               "--from", "auto", "--epochs", "1", "--race", "0", "--json", "--quiet"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    start = summary["from"]
    assert start in default_zoo and _arch(default_zoo.entry(start)) == "wavenet"
    model = Model.load(out)
    assert model.config.arch == "wavenet" and wn.preset_name(model.config) == "nam-feather"
    assert np.isfinite(summary["best_val_esr"])


def test_cli_suggest_ranks_lstm_and_wavenet_entries_together(capture_wavs, capsys, default_zoo):
    n = str(len(default_zoo))
    rc = main(["suggest", str(capture_wavs[0]), str(capture_wavs[1]), "--top", n, "--shortlist", n, "--json"])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = payload["candidates"]
    assert len(rows) == len(default_zoo) and payload["pick"] == rows[0]["id"]
    assert {_arch(default_zoo.entry(r["id"])) for r in rows} == {"lstm", "wavenet"}
    assert all(np.isfinite(r["zero_shot_esr"]) for r in rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores)
