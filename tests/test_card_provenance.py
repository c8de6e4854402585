"""tonezoo.card: the model card tells where a model came from (imported, trained with which recipe, started from what)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tonezoo.architectures.wavenet import model_config as wavenet_config
from tonezoo.card import base_model_source, card_data, hub_base_model, parse_card, render_card
from tonezoo.formats import import_model
from tonezoo.model import Model, ModelConfig

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "models"
FEATHER = FIXTURES / "nam" / "t3k_dumble_feather.nam"
AGAM_RECIPE = "Automated-GuitarAmpModelling recipe"
NAM_RECIPE = "Neural Amp Modeler's WaveNet recipe"

needs_fixtures = pytest.mark.skipif(not FEATHER.is_file(), reason="../shared/fixtures is not there")


def _made(text: str) -> str:
    """The "How it was made" section of a card."""
    return text[text.index("## How it was made"):text.index("## How to play it")]


def _trained(config: ModelConfig, **metadata) -> Model:
    """A model with the metadata ``tonezoo train`` writes (describe_trained_model) plus ``metadata``."""
    md = {"name": "mine", "val_esr": 0.02, "training_seconds": 3.0, "epochs": 2, "best_epoch": 2,
          "capture_name": "wet", "stop_reason": "max_epochs", "category": "amp-crunch", "category_source": "user",
          **metadata}
    return Model.create(config, seed=0, **md)


# -- 1. imported from another tool's file ------------------------------------------------------------
@needs_fixtures
@pytest.mark.parametrize("path", [FEATHER, FIXTURES / "nam" / "namcore_lstm.nam",
                                  FIXTURES / "agam" / "neuralpi_ts9_fulld.json",
                                  FIXTURES / "aidax" / "aidadsp_tw40_blues_deluxe_deerinkstudios.json"],
                         ids=lambda p: p.name)
def test_an_imported_model_is_not_said_to_be_trained_here(path):
    model = import_model(path)
    text = render_card(model)
    made = _made(text)
    assert "Trained from scratch" not in text and "Fine-tuned" not in text
    assert AGAM_RECIPE not in text and NAM_RECIPE not in text and "did not train it" in made
    assert made.startswith("## How it was made\n\nImported from ") and f"`{path.name}`" in made
    assert "imported into tonezoo" in text and "A tonezoo neural capture" not in text
    data = parse_card(text)
    assert data["license"] == "other" or data["license"].startswith("cc-")


@needs_fixtures
def test_an_imported_card_names_the_format_author_and_device():
    made = _made(render_card(import_model(FIXTURES / "nam" / "namcore_lstm.nam")))
    assert "a Neural Amp Modeler (`.nam`) file" in made and "file version 0.5.4" in made
    assert "made by Steve" in made and "Darkglass Electronics Microtubes 900 v2" in made
    feather = _made(render_card(import_model(FEATHER)))
    assert "does not state its sample rate; 48000 Hz is assumed" in feather
    aidax = _made(render_card(import_model(FIXTURES / "aidax" / "aidadsp_tw40_blues_deluxe_deerinkstudios.json")))
    assert "AIDA-X" in aidax and "as the file states" in aidax


@needs_fixtures
def test_the_saved_card_of_an_imported_model_says_imported(tmp_path):
    """``tonezoo import x.nam -o DIR`` saves the model; its README.md is the card."""
    out = import_model(FEATHER).save(tmp_path / "imp")
    text = (Path(out) / "README.md").read_text()
    assert "Imported from a Neural Amp Modeler" in text and "Trained from scratch" not in text
    assert AGAM_RECIPE not in text


# -- 2. the recipe follows the architecture ------------------------------------------------------------
def test_a_wavenet_trained_here_names_nams_recipe():
    made = _made(render_card(_trained(wavenet_config("nam-feather", sample_rate=48000))))
    assert "Trained from scratch" in made and NAM_RECIPE in made
    assert "sdatkinson/neural-amp-modeler" in made and "nam/train/core.py" in made
    assert AGAM_RECIPE not in made and "2 epochs" in made


def test_an_lstm_trained_here_names_agams_recipe():
    made = _made(render_card(_trained(ModelConfig(hidden_size=4), epochs=1)))
    assert AGAM_RECIPE in made and NAM_RECIPE not in made and "1 epoch)" in made


def test_a_fine_tune_no_epoch_improved_says_the_weights_are_the_start():
    kept = _made(render_card(_trained(ModelConfig(hidden_size=4), base_model="zoo:boost", epochs=4, best_epoch=0)))
    assert "Fine-tuned" in kept and "No epoch improved on the starting model" in kept
    for md in ({"base_model": "zoo:boost", "best_epoch": 3}, {"best_epoch": 0}):     # improved; from scratch
        assert "No epoch improved" not in _made(render_card(_trained(ModelConfig(hidden_size=4), **md)))


@needs_fixtures
def test_a_wavenet_fine_tuned_from_a_nam_file_is_trained_not_imported():
    # tonezoo.train keeps the start's lineage but drops ``source_format``: the result is tonezoo's own
    start = import_model(FEATHER)
    md = {k: v for k, v in start.metadata.items() if k not in ("source_format", "sample_rate_assumed")}
    model = _trained(start.config, **{**md, "name": "mine", "base_model": start.name})
    made = _made(render_card(model))
    assert "Fine-tuned" in made and NAM_RECIPE in made and AGAM_RECIPE not in made and "Imported" not in made


# -- 3. where a fine-tune started -------------------------------------------------------------------
@needs_fixtures
def test_fine_tuned_from_a_model_file_says_model_file():
    rec = base_model_source(str(FEATHER), "t3k_dumble_feather")
    assert rec == {"kind": "file", "model": "t3k_dumble_feather", "file": "t3k_dumble_feather.nam"}   # no folder
    model = _trained(wavenet_config("nam-feather"), base_model="t3k_dumble_feather", base_model_source=rec)
    text = render_card(model)
    made = _made(text)
    assert "from the model file `t3k_dumble_feather.nam`" in made and "zoo model" not in made
    assert str(FEATHER.parent) not in text
    data = parse_card(text)
    assert "base_model" not in data and data["base_model_name"] == "t3k_dumble_feather"


def test_a_file_whose_model_name_looks_like_a_hub_id_is_no_hub_base_model(tmp_path):
    f = tmp_path / "amp.nam"
    f.write_text("{}")
    md = {"base_model": "Fender/Twin", "base_model_source": base_model_source(str(f), "Fender/Twin")}
    assert hub_base_model(md) is None
    model = _trained(ModelConfig(hidden_size=4), **md)
    assert "base_model" not in card_data(model)
    assert "the model file `amp.nam` (Fender/Twin)" in _made(render_card(model))


def test_fine_tuned_from_a_zoo_id_a_folder_or_the_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # no file or folder named like the zoo id here
    zoo = _trained(ModelConfig(hidden_size=4), base_model="Boost Feather",
                   base_model_source=base_model_source("boost-feather", "Boost Feather"))
    assert "from the zoo model `boost-feather`" in _made(render_card(zoo))
    (tmp_path / "mydir").mkdir()
    folder = _trained(ModelConfig(hidden_size=4), base_model="ts9",
                      base_model_source=base_model_source("mydir", "ts9"))
    made = _made(render_card(folder))
    assert "from the local model `ts9`" in made and "zoo model" not in made and "model file" not in made
    hub = _trained(ModelConfig(hidden_size=4), base_model="alice/ts9",
                   base_model_source=base_model_source("alice/ts9", "alice/ts9"))
    assert base_model_source("alice/ts9", "alice/ts9")["kind"] == "hub"
    assert "from the Hub model `alice/ts9`" in _made(render_card(hub))
    assert card_data(hub)["base_model"] == "alice/ts9"


def test_from_auto_is_a_zoo_model_and_an_unknown_start_is_just_a_model():
    # Zoo.transfer (--from auto) records the zoo id and its name
    auto = _trained(ModelConfig(hidden_size=4), base_model="crunch-ac-s2", base_model_name="crunch-ac-s2")
    assert "from the zoo model `crunch-ac-s2`" in _made(render_card(auto))
    # tonezoo.train.train(init=...) records only the start's name: it may be a file, a folder or a zoo model
    api = _trained(ModelConfig(hidden_size=4), base_model="ts9")
    made = _made(render_card(api))
    assert "from the model `ts9`" in made and "zoo model" not in made


def test_a_record_inherited_from_an_earlier_start_is_ignored(tmp_path):
    f = tmp_path / "old.nam"
    f.write_text("{}")
    # a model trained from old.nam, then used as the start of another run that recorded only its name
    model = _trained(ModelConfig(hidden_size=4), base_model="first-finetune",
                     base_model_source=base_model_source(str(f), "t3k_dumble_feather"))
    made = _made(render_card(model))
    assert "old.nam" not in made and "from the model `first-finetune`" in made


def test_the_card_names_the_recipe_train_uses() -> None:
    from tonezoo.architectures.wavenet import model_config as wavenet_config
    from tonezoo.card import _recipe_name
    from tonezoo.model import ModelConfig
    from tonezoo.train import recipe
    for config in (ModelConfig(hidden_size=8), wavenet_config("nam-nano")):
        assert _recipe_name(config) == ("nam" if recipe(config).loss == "nam" else "agam")


def test_the_card_offers_only_export_targets_that_take_the_model():
    def play(cfg):
        text = render_card(_trained(cfg))
        return text[text.index("## How to play it"):]
    with_skip, without = play(ModelConfig(hidden_size=4, skip=True)), play(ModelConfig(hidden_size=4, skip=False))
    assert "not to Neural Amp Modeler" in with_skip and "AIDA-X" in with_skip
    assert "AIDA-X, Neural Amp Modeler)" in without and "not to Neural Amp Modeler" not in without
