"""Zoo.transfer's policy: the race, and a from-scratch contender that is a plain scratch run of the same budget."""

from __future__ import annotations

import pytest

from tonezoo.devices import render_capture
from tonezoo.model import Model, ModelConfig
from tonezoo.train import train
from tonezoo.zoo import Zoo


def test_transfer_is_never_worse_than_the_same_budget_from_scratch_on_validation(tmp_path) -> None:
    # three untrained hidden-4 models as the zoo: poor starts, so the final between them and scratch is close
    zoo = Zoo.open(tmp_path / "zoo", create=True)
    zoo.add_many([Model.create(ModelConfig(hidden_size=4), seed=i, name=f"tiny{i}", category=c)
                  for i, c in enumerate(["boost", "fuzz", "overdrive"])])
    cap = render_capture("ts9-like", seconds=3.0, seed=1)
    budget = dict(max_epochs=2, patience=10, progress=False)
    tr = zoo.transfer(cap, race=2, race_epochs=1, **budget)
    md = tr.model.metadata
    assert len(md["race"]) == 2 and tr.epochs <= 2                 # the race is part of the budget
    final = md["final"]
    # the contender is exactly what `tonezoo train` from scratch gives with the same architecture and budget
    assert tr.model.config.hidden_size == 4 and tr.model.config.knobs == tuple(sorted(cap.knobs))
    scratch = train(cap, model_config=tr.model.config, **budget)
    assert final["scratch_val_esr"] == pytest.approx(float(scratch.best_val_esr), rel=1e-5)
    assert tr.best_val_esr == pytest.approx(min(final["transfer_val_esr"], final["scratch_val_esr"]))
    assert tr.best_val_esr <= scratch.best_val_esr * (1 + 1e-5)
    assert (tr.source == "scratch") == (final["scratch_val_esr"] < final["transfer_val_esr"])
    assert final["winner"] == tr.source and md["base_model"] == (None if tr.source == "scratch" else tr.source)
    assert final["decided_on"] == "validation" and final["validation_seconds"] == pytest.approx(cap.val_seconds)
    # what the model card tells: the DI level stage 1 compared at, and the kept start's output-layer refit
    from tonezoo.embed import input_level_db
    assert md["suggest_level_db"] == pytest.approx(input_level_db(cap.x), abs=0.006)
    assert ("output_refit" in md) == (tr.source != "scratch") and md["stop_reason"] == tr.stop_reason
    assert tr.source == "scratch" or md["output_refit"]["fit"] in ("least squares", "gain", "none")
    # without the final and the refit: the first suggestion fine-tuned as it is
    plain = zoo.transfer(cap, race=0, scratch=False, refit=False, **budget)
    assert "final" not in plain.model.metadata and "race" not in plain.model.metadata
    assert "output_refit" not in plain.model.metadata
    assert plain.source == plain.model.metadata["suggestions"][0]["id"]


def test_default_race_is_the_top_5_for_a_quarter_of_the_budget_up_to_eight_epochs(tmp_path) -> None:
    import inspect

    from tonezoo._cli.train import DEFAULT_RACE
    from tonezoo.zoo.transfer import RACE, RACE_EPOCHS, race_length, transfer
    assert RACE_EPOCHS == 8 and RACE == 5
    assert [race_length(n) for n in (1, 2, 5, 10, 25, 30, 100)] == [1, 1, 2, 3, 7, RACE_EPOCHS, RACE_EPOCHS]
    for f in (Zoo.transfer, transfer):                       # the library's and the command's defaults agree
        assert inspect.signature(f).parameters["race"].default == RACE == DEFAULT_RACE
    assert race_length(100, 2) == 2                          # a given length is kept
    zoo = Zoo.open(tmp_path / "zoo", create=True)
    zoo.add_many([Model.create(ModelConfig(hidden_size=4), seed=i, name=f"tiny{i}") for i in range(2)])
    cap = render_capture("ts9-like", seconds=3.0, seed=2)
    tr = zoo.transfer(cap, race=2, scratch=False, max_epochs=10, patience=20, progress=False)
    assert [r["epochs"] for r in tr.model.metadata["race"]] == [3, 3] and tr.epochs == 10


def test_wavenet_contenders_train_with_nams_recipe(tmp_path) -> None:
    # without a config, transfer trains each architecture with its own recipe (NAM's for a WaveNet),
    # as `train` does, and the scratch contender is `train`'s own run
    from tonezoo.architectures.wavenet import model_config
    from tonezoo.train import recipe
    cfg = model_config("nam-nano", sample_rate=48000)
    zoo = Zoo.open(tmp_path / "zoo", create=True)
    zoo.add_many([Model.create(cfg, seed=i, name=f"nano{i}", category="overdrive") for i in range(2)])
    from tonezoo.capture import Capture
    knobbed = render_capture("ts9-like", seconds=2.6, seed=3, sample_rate=48000)
    cap = Capture.from_arrays(knobbed.x, knobbed.y, 48000, name="ts9 at one setting", align=False)  # a WaveNet has no knobs
    budget = dict(max_epochs=1, patience=10, progress=False)
    tr = zoo.transfer(cap, race=0, **budget)          # the race's groups take their recipe the same way
    nam = recipe(cfg)
    assert nam.lr != recipe(ModelConfig()).lr
    assert tr.history[0]["lr"] == pytest.approx(nam.lr) and tr.model.config.arch == "wavenet"
    scratch = train(cap, model_config=tr.model.config, **budget)
    assert tr.model.metadata["final"]["scratch_val_esr"] == pytest.approx(float(scratch.best_val_esr), rel=1e-5)


def test_an_unknown_option_is_refused_before_any_training(tmp_path, monkeypatch) -> None:
    from tonezoo.errors import ConfigError
    zoo = Zoo.open(tmp_path / "zoo", create=True)
    zoo.add_many([Model.create(ModelConfig(hidden_size=4), seed=i, name=f"tiny{i}") for i in range(2)])
    cap = render_capture("ts9-like", seconds=2.0, seed=3)
    monkeypatch.setattr(Zoo, "suggest", lambda *a, **k: pytest.fail("ranked before the options were checked"))
    with pytest.raises(ConfigError, match=r"'epochs' \(did you mean 'max_epochs'\?\)"):
        zoo.transfer(cap, epochs=4, progress=False)
