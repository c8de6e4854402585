"""tonezoo.card: the Hub model card (YAML front matter and text) of a model."""

from __future__ import annotations

import pytest

from tonezoo.card import card_data, esr_verdict, hub_base_model, parse_card, render_card
from tonezoo.errors import ConfigError
from tonezoo.model import Model, ModelConfig, param_count


def test_card_data_describes_the_model():
    m = Model.create(ModelConfig(hidden_size=6, knobs=("gain",)), seed=1, name="my amp", category="overdrive",
                     knob_values={"gain": 0.4}, val_esr=0.02, training_seconds=30.0, base_model="alice/ts9")
    d = card_data(m, "me/my-amp")
    assert d["library_name"] == "tonezoo" and "tonezoo" in d["tags"] and "overdrive" in d["tags"]
    assert d["architecture"] == {"cell": "lstm", "hidden_size": 6, "num_layers": 1, "skip": True,
                                 "parameters": param_count(m.config)}
    assert d["base_model"] == "alice/ts9" and d["base_model_relation"] == "finetune"
    assert d["knobs"] == ["gain"] and d["knob_values"] == {"gain": 0.4}
    assert d["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.02


def test_rendered_card_parses_and_reads_well():
    m = Model.create(ModelConfig(hidden_size=4, num_layers=2, cell="gru"), seed=2, name="fuzz", val_esr=0.2)
    text = render_card(m, "me/fuzz")
    data = parse_card(text)
    assert data["library_name"] == "tonezoo" and data["architecture"]["cell"] == "gru" and "# fuzz" in text
    assert "a GRU-4 recurrent network (2 layers)" in text and "probably won't sound great" in text


def test_verdicts_and_base_model_ids():
    assert [esr_verdict(e) for e in (0.005, 0.02, 0.05, 0.2, 0.5)] == \
        ["great", "not bad", "may sound ok", "probably won't sound great", "poor"]
    assert hub_base_model({"base_model": "ts9-like"}) is None          # a zoo id, not a Hub repo
    assert hub_base_model({"base_model": "ts9-like", "base_model_repo": "bob/ts9"}) == "bob/ts9"


def test_parse_refuses_cards_without_metadata():
    with pytest.raises(ConfigError, match="front matter"):
        parse_card("# just a title\n")
