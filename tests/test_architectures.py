"""tonezoo.architectures: the registry, ModelConfig's arch/options, and a second architecture end to end.

The FIR architecture below is written from the protocol in ``tonezoo/architectures/__init__.py``
alone (one module's worth of code plus one ``register`` call): it must train with ``train``,
save and load as a model directory, stream in ``Model.process`` and score in stage 2.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile as sf

from tonezoo import architectures
from tonezoo.architectures import Architecture
from tonezoo.architectures.training import window_epoch
from tonezoo.capture import load_capture
from tonezoo.errors import ConfigError
from tonezoo.model import Model, ModelConfig, Options, apply, init, param_count
from tonezoo.batched import zero_shot_esr
from tonezoo.train import train


# -- a finite-impulse-response architecture: y[n] = sum_k w[k] x[n - k] + b -----------------------------
def _fir_options(options):
    taps = options.get("taps", 8)
    if set(options) - {"taps"}:
        raise ConfigError(f"fir options: unknown {sorted(set(options) - {'taps'})}; expected taps")
    if isinstance(taps, bool) or not isinstance(taps, int) or not 1 <= taps <= 64:
        raise ConfigError(f"fir options: taps must be an integer in [1, 64], got {taps!r}")
    return {"taps": taps}


def _fir_shapes(config):
    return {"w": (config.options["taps"],), "b": ()}


def _fir_init(config, key):
    taps = config.options["taps"]
    return {"w": 0.1 * jax.random.normal(key, (taps,)), "b": jnp.zeros(())}


def _fir_state(params, batch_shape, *, config):
    return {"history": jnp.zeros((*batch_shape, config.options["taps"] - 1), jnp.float32)}


def _fir_apply(params, x, state, knobs, *, config):
    if config.knobs:
        raise ConfigError("the fir architecture takes no knobs")
    x = jnp.asarray(x, jnp.float32)
    taps = config.options["taps"]
    if state is None:
        state = _fir_state(params, x.shape[:-1], config=config)
    full = jnp.concatenate([jnp.broadcast_to(state["history"], (*x.shape[:-1], taps - 1)), x], axis=-1)
    n = x.shape[-1]
    y = sum(params["w"][k] * full[..., taps - 1 - k:taps - 1 - k + n] for k in range(taps)) + params["b"]
    if config.skip:
        y = y + x
    return y, {"history": full[..., full.shape[-1] - (taps - 1):]}


FIR = Architecture(
    name="fir", init=_fir_init, apply=_fir_apply, initial_state=_fir_state, param_shapes=_fir_shapes,
    train_epoch=window_epoch, describe=lambda c: f"FIR-{c.options['taps']}",
    summary=lambda c: {"taps": c.options["taps"], "skip": c.skip}, check_options=_fir_options,
    receptive_field=lambda c: c.options["taps"])


@pytest.fixture(scope="module", autouse=True)
def fir_registered():
    architectures.register("fir", FIR, overwrite=True)
    yield
    architectures.base._REGISTRY.pop("fir", None)


@pytest.fixture(scope="module")
def fir_capture(tmp_path_factory, od_arrays):
    """A device that is exactly a 4-tap FIR (plus the dry signal), as WAV files read back by load_capture."""
    x, _, sr = od_arrays
    x = x[: 3 * sr]
    y = x + 0.5 * x - 0.3 * np.concatenate([[0.0], x[:-1]]) + 0.2 * np.concatenate([[0.0, 0.0, 0.0], x[:-3]])
    d = tmp_path_factory.mktemp("fir")
    sf.write(d / "in.wav", x.astype(np.float32), sr, subtype="FLOAT")
    sf.write(d / "out.wav", y.astype(np.float32), sr, subtype="FLOAT")
    return load_capture(d / "in.wav", d / "out.wav", align=False, name="fir-device")


# -- the registry ----------------------------------------------------------------------------------------
def test_registry_names_and_errors():
    assert "lstm" in architectures.names() and "fir" in architectures.names()
    assert architectures.get("lstm").name == "lstm"
    with pytest.raises(ConfigError, match="unknown architecture 'wavenet-x'.*known"):
        architectures.get("wavenet-x")
    with pytest.raises(ConfigError, match="already registered"):
        architectures.register("lstm", architectures.get("lstm"))
    with pytest.raises(ConfigError, match="calls itself 'fir'"):
        architectures.register("other", FIR)
    with pytest.raises(ConfigError, match="needs an Architecture"):
        architectures.register("thing", object())


def test_flatten_unflatten_round_trip():
    params = init(ModelConfig(hidden_size=3, num_layers=2, cell="gru"), 0)
    flat = architectures.flatten(params)
    assert set(flat) == set(ModelConfig(hidden_size=3, num_layers=2, cell="gru").param_shapes())
    back = architectures.unflatten(flat)
    assert isinstance(back["layers"], list) and len(back["layers"]) == 2
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# -- ModelConfig.arch and options --------------------------------------------------------------------------
def test_old_config_without_arch_loads_as_lstm_and_writes_unchanged():
    old = {"hidden_size": 20, "num_layers": 1, "cell": "lstm", "knobs": [], "skip": True, "sample_rate": 44100}
    cfg = ModelConfig.from_dict(old)
    assert cfg.arch == "lstm" and cfg.options == {} and cfg.to_dict() == old
    assert list(cfg.to_dict()) == list(old)   # same keys in the same order: config.json files do not change


def test_options_are_json_hashable_and_validated():
    cfg = ModelConfig(arch="fir", options={"taps": 5}, sample_rate=22050)
    assert isinstance(cfg.options, Options) and cfg.options["taps"] == 5
    assert hash(cfg) == hash(ModelConfig(arch="fir", options={"taps": 5}, sample_rate=22050))
    d = cfg.to_dict()
    assert d == {"arch": "fir", "options": {"taps": 5}, "knobs": [], "skip": True, "sample_rate": 22050}
    assert ModelConfig.from_dict(json.loads(json.dumps(d))) == cfg
    assert ModelConfig(arch="fir").options == {"taps": 8}           # defaults filled in by the architecture
    assert cfg.describe() == "FIR-5" and param_count(cfg) == 6
    with pytest.raises(ConfigError, match="taps must be an integer"):
        ModelConfig(arch="fir", options={"taps": 0})
    with pytest.raises(ConfigError, match="describe arch 'lstm'"):
        ModelConfig(arch="fir", hidden_size=8)
    with pytest.raises(ConfigError, match="takes no options"):
        ModelConfig(options={"taps": 3})
    with pytest.raises(ConfigError, match="must be JSON"):
        ModelConfig(arch="fir", options={"taps": object()})
    with pytest.raises(ConfigError, match="unknown architecture"):
        ModelConfig.from_dict({"arch": "nope"})


# -- a second architecture through the whole pipeline -------------------------------------------------------
def test_fir_streams_in_blocks_like_one_call():
    cfg = ModelConfig(arch="fir", options={"taps": 6})
    m = Model.create(cfg, seed=3)
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    whole = m.process(x)
    y1, st = m.process(x[:333], return_state=True)
    y2 = m.process(x[333:], state=st)
    np.testing.assert_allclose(np.concatenate([y1, y2]), whole, atol=1e-6)
    ref, _ = apply(m.params, jnp.asarray(x), None, None, config=cfg)
    np.testing.assert_allclose(whole, np.asarray(ref), atol=1e-6)


def test_fir_trains_saves_loads_and_scores(fir_capture, tmp_path):
    cfg = ModelConfig(arch="fir", options={"taps": 4}, sample_rate=fir_capture.sample_rate)
    result = train(fir_capture, model_config=cfg, max_epochs=40, segment_length=2048, warmup=8, batch_size=8,
                   lr=2e-2, progress=False)
    assert result.best_val_esr < 0.2 * result.first_val_esr
    model = result.model
    assert model.config == cfg
    path = model.save(tmp_path / "fir")
    cfg_json = json.loads((path / "config.json").read_text())["model"]
    assert cfg_json["arch"] == "fir" and cfg_json["options"] == {"taps": 4}
    back = Model.load(path)
    np.testing.assert_array_equal(np.asarray(back.params["w"]), np.asarray(model.params["w"]))
    esr, matched = zero_shot_esr([model, back], fir_capture.val_x, fir_capture.val_y,
                                 sample_rate=fir_capture.sample_rate, seconds=1.0)
    assert esr[0] == pytest.approx(esr[1]) and esr[0] < 0.2 * result.first_val_esr and matched[0] <= esr[0]
