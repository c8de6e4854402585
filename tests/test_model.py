"""tonezoo.model and the model directory format."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tonezoo.errors import ConfigError, ModelFileError
from tonezoo.model import (Model, ModelConfig, RecurrentModel, apply, init, initial_state, param_count,
                           stack_params, unstack_params)
from tonezoo.signals import synth_di


def _x(n=3000, seed=0):
    return (0.3 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_lstm20_has_agam_parameter_count():
    assert param_count(ModelConfig()) == 1861  # 4*20*(1+20) + 2*80 + 20 + 1


@pytest.mark.parametrize("kw", [dict(hidden_size=0), dict(cell="rnn"), dict(num_layers=0), dict(sample_rate=100),
                                dict(knobs=("a", "a")), dict(skip="yes")])
def test_config_rejects_bad_values(kw):
    with pytest.raises(ConfigError):
        ModelConfig(**kw)


def test_config_dict_round_trip_and_unknown_key():
    cfg = ModelConfig(hidden_size=12, knobs=("gain", "tone"), cell="gru", num_layers=2, skip=False, sample_rate=48000)
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_dict({"hidden": 3})


def test_flax_module_and_pure_apply_agree():
    cfg = ModelConfig(hidden_size=6)
    params = init(cfg, 3)
    x = jnp.asarray(_x(200))[None]
    variables = RecurrentModel(cfg).init(jax.random.PRNGKey(3), x)
    y_mod, _ = RecurrentModel(cfg).apply(variables, x)
    y_fn, _ = apply(params, x, config=cfg)
    np.testing.assert_array_equal(np.asarray(y_mod), np.asarray(y_fn))


@pytest.mark.parametrize("cfg", [ModelConfig(hidden_size=8), ModelConfig(hidden_size=5, cell="gru", num_layers=2),
                                 ModelConfig(hidden_size=4, knobs=("gain",), skip=False)])
def test_streaming_equals_whole_file(cfg):
    m = Model.create(cfg, seed=1, knob_values={"gain": 0.3} if cfg.knobs else {})
    x = _x(5000)
    whole = m.process(x)
    parts, state = [], None
    for start in range(0, 5000, 1237):
        y, state = m.process(x[start:start + 1237], state=state, return_state=True)
        parts.append(y)
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)
    np.testing.assert_allclose(m.process(x, block_size=777), whole, atol=1e-6)


def test_skip_connection_adds_input():
    cfg = ModelConfig(hidden_size=4)
    m = Model.create(cfg)
    m.params["dense"]["w"] = jnp.zeros(4)
    m.params["dense"]["b"] = jnp.asarray(0.1)
    x = _x(100)
    np.testing.assert_allclose(m.process(x), x + 0.1, atol=1e-6)


def test_vmap_over_two_models_equals_separate_runs():
    cfg = ModelConfig(hidden_size=8)
    p1, p2 = init(cfg, 1), init(cfg, 2)
    x = jnp.asarray(_x(1000))[None]
    ys, _ = jax.vmap(lambda p: apply(p, x, config=cfg))(stack_params([p1, p2]))
    y1, _ = apply(p1, x, config=cfg)
    y2, _ = apply(p2, x, config=cfg)
    np.testing.assert_allclose(np.asarray(ys[0]), np.asarray(y1), atol=1e-6)
    np.testing.assert_allclose(np.asarray(ys[1]), np.asarray(y2), atol=1e-6)
    back = unstack_params(stack_params([p1, p2]))
    np.testing.assert_array_equal(np.asarray(back[1]["dense"]["w"]), np.asarray(p2["dense"]["w"]))


def test_batched_segments_are_independent():
    cfg = ModelConfig(hidden_size=8)
    p = init(cfg, 0)
    xb = jnp.asarray(np.stack([_x(500, 1), _x(500, 2)]))
    yb, state = apply(p, xb, config=cfg)
    y1, _ = apply(p, xb[1:], config=cfg)
    np.testing.assert_allclose(np.asarray(yb[1]), np.asarray(y1[0]), atol=1e-6)
    assert state["h"].shape == (1, 2, 8)


def test_knob_model_requires_knobs():
    m = Model.create(ModelConfig(hidden_size=4, knobs=("gain",)))
    with pytest.raises(ConfigError, match="gain"):
        m.process(_x(10))
    lo, hi = m.process(_x(300), {"gain": 0.0}), m.process(_x(300), {"gain": 1.0})
    assert not np.allclose(lo, hi)
    with pytest.raises(ConfigError, match="unknown"):
        m.process(_x(10), {"drive": 0.1, "gain": 0.2})


def test_save_load_round_trip_is_bit_exact(tmp_path):
    cfg = ModelConfig(hidden_size=8, knobs=("gain",), cell="gru", num_layers=2, sample_rate=48000)
    m = Model.create(cfg, seed=4, name="bit", category="overdrive", knob_values={"gain": 0.7}, val_esr=0.01)
    m.params["h0"] = m.params["h0"] + 0.25  # a non-zero initial state survives too
    out = m.save(tmp_path / "model")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    m2 = Model.load(out)
    assert m2.config == cfg and m2.metadata == m.metadata
    for a, b in zip(jax.tree.leaves(m.params), jax.tree.leaves(m2.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    x = _x(2000)
    np.testing.assert_array_equal(m.process(x), m2.process(x))
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: tonezoo" in card


def test_save_replaces_atomically_and_leaves_no_temp(tmp_path):
    m = Model.create(ModelConfig(hidden_size=4), name="a")
    m.save(tmp_path / "m")
    m.copy(name="b").save(tmp_path / "m")
    assert Model.load(tmp_path / "m").name == "b"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_load_refuses_bad_directories(tmp_path):
    with pytest.raises(ModelFileError, match="no such"):
        Model.load(tmp_path / "missing")
    m = Model.create(ModelConfig(hidden_size=4))
    d = m.save(tmp_path / "m")
    # a pickle instead of safetensors is refused, never loaded
    (d / "model.safetensors").unlink()
    (d / "pytorch_model.bin").write_bytes(b"\x80\x04\x95 not really a pickle")
    with pytest.raises(ModelFileError, match="pickled checkpoints are never loaded"):
        Model.load(d)
    # tampered config: shapes no longer match
    d = m.save(tmp_path / "m2")
    cfg = json.loads((d / "config.json").read_text())
    cfg["model"]["hidden_size"] = 5
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="shape"):
        Model.load(d)
    # damaged JSON and damaged weights
    d = m.save(tmp_path / "m3")
    (d / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        Model.load(d)
    d = m.save(tmp_path / "m4")
    (d / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="safetensors"):
        Model.load(d)


def test_load_refuses_nan_weights(tmp_path):
    m = Model.create(ModelConfig(hidden_size=4))
    m.params["dense"]["w"] = m.params["dense"]["w"].at[0].set(jnp.nan)
    d = m.save(tmp_path / "nan")
    with pytest.raises(ModelFileError, match="NaN"):
        Model.load(d)


def test_prewarm_starts_a_recurrent_model_at_rest():
    from tonezoo.zoo import Zoo
    zoo = Zoo.default()
    model = zoo.get("dist-cascade-s1")              # its zero state answers silence with a loud click
    sr = model.sample_rate
    silence = np.zeros(sr // 10, np.float32)
    cold = model.process(silence, check_level=False)
    warm = model.process(silence, check_level=False, prewarm=True)
    rest = model.process(np.zeros(sr, np.float32), check_level=False)[-1]      # where it settles
    assert np.max(np.abs(cold - rest)) > 0.1
    assert np.max(np.abs(warm - rest)) < 1e-4
    # on audio the two starts agree once the zero state has settled; a given state wins over prewarm
    x = synth_di(0.5, sr, seed=2)
    a, b = model.process(x, check_level=False), model.process(x, check_level=False, prewarm=True, block_size=4096)
    np.testing.assert_allclose(a[sr // 5:], b[sr // 5:], atol=1e-4)
    s0 = initial_state(model.params, config=model.config)
    np.testing.assert_array_equal(model.process(x, state=s0, prewarm=True, check_level=False), a)
