"""tonezoo.card: how a trained model's start was picked, why training stopped, its DI level, and how to play it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tonezoo.audio import level_text
from tonezoo.card import STOP_TEXT, base_model_source, render_card
from tonezoo.embed import input_level_db, input_levels
from tonezoo.model import Model, ModelConfig

SUGGESTED = ["crunch-a", "crunch-b", "crunch-c", "crunch-d"]
RACE = [{"id": "crunch-a", "val_esr": 0.0452, "epochs": 6}, {"id": "crunch-b", "val_esr": 0.0311, "epochs": 6},
        {"id": "crunch-c", "val_esr": 0.0527, "epochs": 6}]
REFIT = {"esr_before": 0.61, "esr_after": 0.12, "seconds": 10.0, "val_esr_before": 0.52, "val_esr_after": 0.093,
         "val_seconds": 6.0, "fit": "least squares"}


def _made(text: str) -> str:
    return text[text.index("## How it was made"):text.index("## How to play it")]


def _play(text: str) -> str:
    return text[text.index("## How to play it"):]


def _trained(**metadata) -> Model:
    """A model with the metadata ``tonezoo train`` writes, plus ``metadata``."""
    md = {"name": "mine", "val_esr": 0.02, "training_seconds": 24.0, "epochs": 40, "best_epoch": 32,
          "capture_name": "wet", "stop_reason": "patience", "category": "amp-crunch", "category_source": "user",
          **metadata}
    return Model.create(ModelConfig(hidden_size=4), seed=0, **md)


def _auto(**metadata) -> Model:
    """A model as ``tonezoo train --from auto`` records it: crunch-b won a race of three, then the final."""
    md = {"base_model": "crunch-b", "base_model_name": "Crunch B", "suggest_level_db": -24.31,
          "suggestions": [{"rank": i + 1, "id": sid, "name": sid, "category": "amp-crunch", "distance": 5.0 + i,
                           "zero_shot_esr": 0.4 + i / 10, "reason": ""} for i, sid in enumerate(SUGGESTED)],
          "race": RACE, "output_refit": REFIT,
          "final": {"transfer_val_esr": 0.0204, "scratch_val_esr": 0.0337, "winner": "crunch-b",
                    "decided_on": "validation", "validation_seconds": 6.0}}
    md.update(metadata)
    return _trained(**{k: v for k, v in md.items() if v is not ...})


# -- 1. how --from auto picked the start ----------------------------------------------------------------
def test_an_auto_start_tells_the_ranking_race_refit_and_final():
    made = _made(render_card(_auto()))
    assert "from the zoo model `crunch-b`" in made and "picked from the zoo (`tonezoo train --from auto`)" in made
    ranking = next(ln for ln in made.splitlines() if ln.startswith("- **Ranking**"))
    assert "at the DI level of the whole capture (RMS -24.3 dBFS over its active frames)" in ranking
    assert "`crunch-a`, `crunch-b`, `crunch-c`, `crunch-d`" in ranking and "zero-shot ESR" in ranking
    race = next(ln for ln in made.splitlines() if ln.startswith("- **Race**"))
    assert "the top 3 were fine-tuned side by side for 6 epochs" in race
    assert "`crunch-a` 0.0452, `crunch-b` 0.0311 (won), `crunch-c` 0.0527" in race
    assert "- **Output layer**: refit to the capture by least squares before training; ESR 0.52 -> 0.093 on 6.0 s " \
           "of validation audio" in made
    final = next(ln for ln in made.splitlines() if ln.startswith("- **Against scratch**"))
    assert "from scratch with the same recipe and budget reached a validation ESR of 0.0337, the fine-tuned one " \
           "0.0204" in final and "the fine-tuned model was kept" in final


def test_an_auto_start_whose_scratch_contender_won_says_so():
    made = _made(render_card(_auto(base_model=None, base_model_name=None, output_refit=...,
                                   final={"transfer_val_esr": 0.05, "scratch_val_esr": 0.03, "winner": "scratch"})))
    assert made.startswith("## How it was made\n\nTrained from scratch") and "Fine-tuned" not in made
    assert "- **Race**" in made and "the from-scratch model was kept: these are its weights" in made
    assert "**Output layer**" not in made                # the refit was the losing start's


def test_an_auto_start_without_race_final_or_level_says_only_what_is_recorded():
    made = _made(render_card(_auto(base_model="crunch-a", race=..., final=..., suggest_level_db=...,
                                   output_refit={"fit": "none"})))
    assert "- **Race**: none; the top suggestion, `crunch-a`, was fine-tuned directly." in made
    assert "no from-scratch contender was trained against it" in made
    assert "DI level" not in made and "RMS" not in made
    assert "kept as it was: neither a least-squares refit to the capture nor a single gain" in made
    gain = _made(render_card(_auto(output_refit={**REFIT, "fit": "gain", "gain": -0.5, "val_esr_after": 0.3})))
    assert "scaled by a single gain (-6.0 dB, polarity inverted) to the capture's level and polarity" in gain
    assert "ESR 0.52 -> 0.3 on 6.0 s of validation audio" in gain
    unranked = [{"rank": 1, "id": "crunch-a", "zero_shot_esr": None}]          # stage 2 skipped (shortlist=0)
    assert "by fingerprint distance to the capture" in render_card(_auto(base_model="crunch-a", suggestions=unranked))


def test_a_ranking_that_is_not_this_models_start_is_not_told(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "--from auto" not in render_card(_auto(base_model="my-earlier-model"))      # not among the suggestions
    (tmp_path / "mydir").mkdir()                                                       # a --from DIR start
    folder = _auto(base_model="crunch-b", base_model_source=base_model_source("mydir", "crunch-b"))
    assert "--from auto" not in render_card(folder) and "**Race**" not in render_card(folder)
    assert "--from auto" not in render_card(_trained())


def test_train_drops_a_starts_ranking_race_and_refit(tmp_path):
    """A model fine-tuned from an ``--from auto`` model must not carry that model's account as its own."""
    from tonezoo.devices import render_capture
    from tonezoo.train import train
    cap = render_capture("ts9-like", seconds=3.0, seed=1)
    start = Model.create(ModelConfig(hidden_size=4, knobs=tuple(sorted(cap.knobs))), seed=0, name="earlier",
                         suggestions=[{"id": "x"}], race=RACE, output_refit=REFIT, suggest_level_db=-20.0)
    md = train(cap, init=start, max_epochs=1, progress=False).model.metadata
    assert not {"suggestions", "race", "output_refit", "suggest_level_db"} & set(md)
    assert md["stop_reason"] == "max_epochs" and md["base_model"] == "earlier"
    peak, rms = input_levels(cap.train_x)
    assert md["input_peak_dbfs"] == round(peak, 2) and md["input_rms_dbfs"] == round(rms, 2)
    assert "--from auto" not in render_card(Model(start.config, start.params, md))


# -- 2. why training stopped ------------------------------------------------------------------------------
@pytest.mark.parametrize("reason", sorted(STOP_TEXT))
def test_the_card_says_why_training_stopped_in_the_commands_words(reason):
    made = _made(render_card(_trained(stop_reason=reason)))
    assert f"Training stopped after 40 epochs, by {STOP_TEXT[reason]}; the weights kept are the best on " \
           "validation, those of epoch 32." in made


def test_the_stop_words_are_the_train_commands_own():
    from tonezoo._cli import train as cli_train
    assert cli_train.STOP_TEXT is STOP_TEXT
    assert "--patience validations" in STOP_TEXT["patience"]          # patience counts validations, not epochs
    assert "Training stopped" not in render_card(_trained(stop_reason=None))


# -- 3. how to play it: the Hub only when the model is on it ----------------------------------------------
def test_a_local_model_is_played_from_its_folder_not_pulled():
    play = _play(render_card(_trained()))
    assert "tonezoo pull" not in play and "REPO_ID" not in play and "from_pretrained" not in play
    assert 'tonezoo.Model.load("path/to/this/model")' in play
    assert "`tonezoo process MODEL_DIR guitar.wav wet.wav`" in play and "tonezoo export MODEL_DIR" in play
    knobbed = Model.create(ModelConfig(hidden_size=4, knobs=("gain",)), seed=0, name="k", knob_values={"gain": 0.3})
    assert "`tonezoo process MODEL_DIR guitar.wav wet.wav --knob gain=0.3`" in render_card(knobbed)


def test_a_model_on_the_hub_is_pulled_from_its_repo():
    play = _play(render_card(_trained(), "me/mine"))
    assert "`tonezoo pull me/mine -o my-model`" in play and 'from_pretrained("me/mine")' in play
    assert "tonezoo process my-model guitar.wav wet.wav" in play and "MODEL_DIR" not in play
    loaded = _play(render_card(_trained(hub_repo="alice/amp", hub_revision="abc")))   # a copy loaded from the Hub
    assert "`tonezoo pull alice/amp -o my-model`" in loaded


# -- 4. the DI level: a peak and an RMS figure, each named ---------------------------------------------------
def test_level_text_names_each_measure():
    assert level_text(-6.14, -24.33) == "peak -6.1 dBFS, RMS -24.3 dBFS over its active frames"
    assert level_text(-6.14, None) == "peak -6.1 dBFS"
    assert level_text(None, -20.0) == "RMS -20.0 dBFS over its active frames"
    x = (0.5 * np.sin(2 * np.pi * 220 * np.arange(44100) / 44100)).astype(np.float32)
    peak, rms = input_levels(x)
    assert peak == pytest.approx(20 * np.log10(0.5), abs=1e-3) and rms == input_level_db(x)


def test_the_card_gives_the_training_di_as_peak_and_rms():
    text = render_card(_trained(input_peak_dbfs=-6.12, input_rms_dbfs=-24.33))
    assert "| training DI level | peak -6.1 dBFS, RMS -24.3 dBFS over its active frames |" in text
    assert "the training DI: peak -6.1 dBFS, RMS -24.3 dBFS over its active frames;" in _play(text)
    assert "more than 6 dB above that peak" in _play(text)
    old = render_card(_trained(input_peak_dbfs=-6.12))              # a model from before the RMS was recorded
    assert "| training DI level | peak -6.1 dBFS |" in old and "RMS" not in old


def test_train_and_the_card_word_the_level_alike(tmp_path, capsys):
    import soundfile as sf

    from tonezoo.cli import main
    from tonezoo.devices import render_capture
    cap = render_capture("ts9-like", seconds=3.0, seed=2)
    sf.write(tmp_path / "di.wav", cap.x, cap.sample_rate, subtype="FLOAT")
    sf.write(tmp_path / "out.wav", cap.y, cap.sample_rate, subtype="FLOAT")
    assert main(["train", str(tmp_path / "di.wav"), str(tmp_path / "out.wav"), "-o", str(tmp_path / "m"),
                 "--epochs", "1", "--hidden", "4", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    model = Model.load(tmp_path / "m")
    level = level_text(model.metadata["input_peak_dbfs"], model.metadata["input_rms_dbfs"])
    assert f"(DI: {level}; validation" in lines[0]
    card = (tmp_path / "m" / "README.md").read_text()
    assert f"| training DI level | {level} |" in card
    assert f"stopped by {STOP_TEXT['max_epochs']}" in lines[-1] and f"by {STOP_TEXT['max_epochs']}" in _made(card)
    assert re.search(r"peak -?\d+\.\d dBFS, RMS -?\d+\.\d dBFS over its active frames", lines[0])


# -- the candidates' architecture --------------------------------------------------------------------------------
class _Entry:
    def __init__(self, eid: str, arch: str):
        from tonezoo.model import ModelConfig
        self.id, self.architecture = eid, {}
        self.config = ModelConfig() if arch == "lstm" else _wavenet_config()


def _wavenet_config():
    from tonezoo.architectures.wavenet import model_config
    return model_config("nam-feather")


class _RankedZoo:
    """Five LSTMs and three WaveNets; a WaveNet is the best suggestion, the other two rank below the LSTMs."""

    def __init__(self):
        order = ["wn-a", "lstm-1", "lstm-2", "lstm-3", "lstm-4", "lstm-5", "wn-b", "wn-c"]
        self.entries = {i: _Entry(i, "nam-feather" if i.startswith("wn") else "lstm") for i in order}
        self.order, self.calls = order, []

    def __len__(self):
        return len(self.entries)

    def list(self):
        return list(self.entries.values())

    def entry(self, eid):
        return self.entries[eid]

    def suggest(self, capture, *, top, exclude=()):
        from types import SimpleNamespace
        self.calls.append(sorted(exclude))
        return [SimpleNamespace(id=i) for i in self.order if i not in set(exclude)][:top]


def test_without_arch_the_race_is_filled_from_the_best_suggestions_architecture(capsys):
    import argparse

    from tonezoo._cli.train import _auto_start
    zoo = _RankedZoo()
    _, sugg, candidates = _auto_start(zoo, None, argparse.Namespace(arch=None, race=3, no_skip=False))
    assert [s.id for s in sugg] == ["wn-a", "wn-b", "wn-c"]      # not wn-a alone: the race keeps its contenders
    assert candidates == {"architecture": "nam-feather", "chosen_by": "the best suggestion",
                          "left_out": ["lstm-1", "lstm-2", "lstm-3", "lstm-4"]}
    assert "the race keeps to nam-feather models (wn-a, wn-b, wn-c)" in capsys.readouterr().out
    made = _made(render_card(_auto(base_model="wn-a", candidates=candidates, suggestions=[
        {"rank": i + 1, "id": s.id, "name": s.id, "category": "amp-crunch", "distance": 5.0, "zero_shot_esr": 0.4,
         "reason": ""} for i, s in enumerate(sugg)])))
    line = next(ln for ln in made.splitlines() if ln.startswith("- **Candidates**"))
    assert "nam-feather models only, the architecture of the best suggestion" in line and "`lstm-1`" in line


def test_with_arch_the_card_says_so():
    made = _made(render_card(_auto(candidates={"architecture": "lstm", "chosen_by": "--arch"})))
    assert "- **Candidates**: lstm models only, as `--arch` asked." in made
