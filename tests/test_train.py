"""tonezoo.train: the AGAM recipe, fine-tuning, multi-model training, checkpoints."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from tonezoo.capture import Capture
from tonezoo.errors import ConfigError, TrainingError
from tonezoo.model import Model, ModelConfig, split_params
from tonezoo.train import TrainConfig, esr, esr_dc_loss, plot_history, train, train_many

SMALL = dict(segment_length=4410, batch_size=8, warmup=100, tbptt=500, progress=False)


@pytest.fixture(scope="module")
def capture(od_arrays):
    x, y, sr = od_arrays
    return Capture.from_arrays(x, y, sr, name="od", align=False)


@pytest.fixture(scope="module")
def trained(capture):
    return train(capture, model_config=ModelConfig(hidden_size=8, sample_rate=capture.sample_rate),
                 max_epochs=16, **SMALL)


def test_esr_matches_definition():
    rng = np.random.default_rng(0)
    y, yh = rng.standard_normal(1000), rng.standard_normal(1000)
    assert esr(y, yh) == pytest.approx(np.mean((y - yh) ** 2) / (np.mean(y ** 2) + 1e-5))
    py, pyh = y[1:] - 0.85 * y[:-1], yh[1:] - 0.85 * yh[:-1]
    assert esr(y, yh, pre_emphasis=0.85) == pytest.approx(np.mean((py - pyh) ** 2) / (np.mean(py ** 2) + 1e-5))
    assert esr(y, y) == 0.0


def test_masked_loss_ignores_padding():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((2, 50)).astype(np.float32)
    yh = rng.standard_normal((2, 50)).astype(np.float32)
    mask = np.ones((2, 50), np.float32)
    full, plain = esr_dc_loss(y, yh, mask, pre_emphasis=None, esr_weight=0.75, dc_weight=0.25)
    y2 = np.concatenate([y, 9 * np.ones((2, 10), np.float32)], 1)
    yh2 = np.concatenate([yh, -9 * np.ones((2, 10), np.float32)], 1)
    m2 = np.concatenate([mask, np.zeros((2, 10), np.float32)], 1)
    padded, plain2 = esr_dc_loss(y2, yh2, m2, pre_emphasis=None, esr_weight=0.75, dc_weight=0.25)
    assert float(full) == pytest.approx(float(padded), rel=1e-5)
    assert float(plain) == pytest.approx(esr(y, yh), rel=1e-4)


def test_train_config_validates():
    with pytest.raises(ConfigError):
        TrainConfig(warmup=30000)
    with pytest.raises(ConfigError):
        TrainConfig(lr=-1.0)
    with pytest.raises(ConfigError, match="unknown"):
        TrainConfig().replace(epochs=3)


def test_validation_esr_falls(trained, capture):
    r = trained
    assert r.best_val_esr < 0.5 * r.first_val_esr
    assert r.epochs == 16 and r.stop_reason == "max_epochs"
    vals = [h["val_esr"] for h in r.history if h["val_esr"] is not None]
    assert len(vals) == 1 + 16 // 2
    assert r.model.metadata["val_esr"] == pytest.approx(r.best_val_esr, rel=1e-5)
    # the kept model really has the reported validation ESR
    # the training audio the user gave, as the CLI prints it (not the samples of the segments)
    assert r.model.metadata["training_seconds"] == pytest.approx(capture.train_seconds, abs=1e-3)


def test_best_model_reproduces_reported_esr(trained, capture):
    y_hat = trained.model.process(capture.val_x)
    assert esr(capture.val_y, y_hat) == pytest.approx(trained.best_val_esr, rel=1e-3)


def test_one_epoch_updates_every_weight_but_not_initial_state(capture):
    m = Model.create(ModelConfig(hidden_size=6, sample_rate=capture.sample_rate), seed=2)
    m.params["h0"] = m.params["h0"] + 0.1
    r = train(capture, init=m, max_epochs=1, val_every=1, **SMALL)
    before, after = m.params, r.model.params
    for path in (("layers", 0, "w_ih"), ("layers", 0, "w_hh"), ("layers", 0, "b_ih"), ("layers", 0, "b_hh"),
                 ("dense", "w"), ("dense", "b")):
        a, b = before, after
        for k in path:
            a, b = a[k], b[k]
        assert np.all(np.asarray(a) != np.asarray(b)), path
    np.testing.assert_array_equal(np.asarray(before["h0"]), np.asarray(after["h0"]))


def test_fine_tuning_starts_at_the_source_models_loss(trained, capture):
    r = train(capture, init=trained.model, max_epochs=2, **SMALL)
    assert r.first_val_esr == pytest.approx(trained.best_val_esr, rel=1e-4)
    assert r.source == "od"
    assert r.model.metadata["base_model"] == "od"
    assert r.best_val_esr <= r.first_val_esr


def test_transfer_needs_matching_architecture(trained, capture):
    with pytest.raises(ConfigError, match="same architecture"):
        train(capture, init=trained.model, model_config=ModelConfig(hidden_size=20), max_epochs=1, **SMALL)
    other_rate = Model(ModelConfig(hidden_size=8, sample_rate=48000), trained.model.params, {"name": "x"})
    with pytest.raises(ConfigError, match="48000 Hz"):
        train(capture, init=other_rate, max_epochs=1, **SMALL)


def test_training_is_deterministic(capture):
    cfg = ModelConfig(hidden_size=4, sample_rate=capture.sample_rate)
    a = train(capture, model_config=cfg, max_epochs=2, seed=7, **SMALL)
    b = train(capture, model_config=cfg, max_epochs=2, seed=7, **SMALL)
    for x, y in zip(jax.tree.leaves(a.model.params), jax.tree.leaves(b.model.params)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_train_many_matches_separate_runs(capture):
    cfg = ModelConfig(hidden_size=4, sample_rate=capture.sample_rate)
    inits = [Model.create(cfg, seed=s, name=f"m{s}") for s in (1, 2)]
    many = train_many(capture, inits, max_epochs=2, **SMALL)
    for m, res in zip(inits, many):
        single = train(capture, init=m, max_epochs=2, **SMALL)
        assert res.best_val_esr == pytest.approx(single.best_val_esr, rel=1e-3)
        assert res.source == m.name


def test_checkpoint_resume_continues(capture, tmp_path):
    cfg = ModelConfig(hidden_size=4, sample_rate=capture.sample_rate)
    straight = train(capture, model_config=cfg, max_epochs=4, **SMALL)
    train(capture, model_config=cfg, max_epochs=2, checkpoint_dir=tmp_path / "ck", **SMALL)
    resumed = train(capture, model_config=cfg, max_epochs=4, checkpoint_dir=tmp_path / "ck", resume=True, **SMALL)
    assert resumed.epochs == 4 and len(resumed.history) == 5
    assert resumed.best_val_esr == pytest.approx(straight.best_val_esr, rel=1e-4)
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(capture, model_config=cfg, max_epochs=2, checkpoint_dir=tmp_path / "none", resume=True, **SMALL)


def test_interrupt_keeps_best_model(capture):
    def stop(epoch, rows):
        if epoch == 3:
            raise KeyboardInterrupt

    r = train(capture, model_config=ModelConfig(hidden_size=4, sample_rate=capture.sample_rate),
              max_epochs=50, epoch_callback=stop, **SMALL)
    assert r.stop_reason == "interrupted" and r.epochs == 3
    assert r.best_val_esr <= r.first_val_esr


def test_plot_history(trained, tmp_path):
    out = plot_history({"scratch": trained}, tmp_path / "loss.png", title="t")
    assert out.stat().st_size > 5000


def test_train_many_with_one_capture_per_model(od_arrays):
    x, y, sr = od_arrays
    caps = [Capture.from_arrays(x, y, sr, name="od", align=False),
            Capture.from_arrays(x, 0.5 * x, sr, name="quiet", align=False)]
    cfg = ModelConfig(hidden_size=4, sample_rate=sr)
    inits = [Model.create(cfg, seed=3, name="a"), Model.create(cfg, seed=3, name="b")]
    many = train_many(caps, inits, max_epochs=2, **SMALL)
    for cap, m, res in zip(caps, inits, many):
        single = train(cap, init=m, max_epochs=2, **SMALL)
        assert res.best_val_esr == pytest.approx(single.best_val_esr, rel=1e-3)
        assert res.model.metadata["capture_name"] == cap.name
    with pytest.raises(ConfigError, match="one sample rate"):
        train_many([caps[0], Capture.from_arrays(x[:-sr], y[:-sr], sr, align=False)], n_models=2, **SMALL)


def test_runtime_options_reuse_the_compiled_epoch(capture):
    """Seed, epoch limit, patience, learning rate and its warm-up do not recompile; a loss weight does."""
    from tonezoo import train as train_mod
    cfg = ModelConfig(hidden_size=3, sample_rate=capture.sample_rate)
    train(capture, model_config=cfg, max_epochs=1, seed=1, **SMALL)
    size = train_mod._epoch_single._cache_size()
    train(capture, model_config=cfg, max_epochs=2, seed=2, patience=3, lr=1e-3, lr_patience=1, **SMALL)
    # a fine-tune (warmed up) and the from-scratch contender it races share the program
    train(capture, init=Model.create(cfg, seed=4), max_epochs=1, **SMALL)
    assert train_mod._epoch_single._cache_size() == size
    train(capture, model_config=cfg, max_epochs=1, dc_weight=0.5, **SMALL)
    assert train_mod._epoch_single._cache_size() == size + 1


def test_continue_from_carries_on_as_if_never_stopped(capture):
    cfg = ModelConfig(hidden_size=4, sample_rate=capture.sample_rate)
    start = Model.create(cfg, seed=3, name="start")
    whole = train(capture, init=start, max_epochs=4, val_every=1, **SMALL)
    half = train(capture, init=start, max_epochs=2, val_every=1, **SMALL)
    rest = train(capture, continue_from=half, max_epochs=4, val_every=1, **SMALL)
    assert rest.epochs == 4 and [h["epoch"] for h in rest.history] == [0, 1, 2, 3, 4]
    assert [h["val_esr"] for h in rest.history] == pytest.approx([h["val_esr"] for h in whole.history], rel=1e-5)
    assert rest.best_val_esr == pytest.approx(whole.best_val_esr, rel=1e-5)
    # one model of a vmapped race continues on its own like the uninterrupted single run
    raced = train_many(capture, [Model.create(cfg, seed=9), start], max_epochs=2, val_every=1, **SMALL)[1]
    winner = train(capture, continue_from=raced, max_epochs=4, val_every=1, **SMALL)
    assert winner.best_val_esr == pytest.approx(whole.best_val_esr, rel=1e-3)
    with pytest.raises(ConfigError, match="continue_from"):
        train(capture, continue_from=half, init=start, **SMALL)


def test_the_last_epoch_is_always_validated(capture, tmp_path):
    cfg = ModelConfig(hidden_size=4, sample_rate=capture.sample_rate)
    res = train(capture, model_config=cfg, max_epochs=3, val_every=2, checkpoint_dir=tmp_path, **SMALL)
    assert [h["val_esr"] is not None for h in res.history] == [True, False, True, True]
    assert res.best_val_esr == min(h["val_esr"] for h in res.history if h["val_esr"] is not None)
    # the checkpoint holds the last epoch, so a continued run starts from it
    assert train(capture, model_config=cfg, max_epochs=4, val_every=2, checkpoint_dir=tmp_path, resume=True,
                 **SMALL).history[-1]["epoch"] == 4


def test_fine_tuning_warms_the_learning_rate_up(capture):
    from tonezoo.train import FINE_TUNE_WARMUP_STEPS
    cfg = ModelConfig(hidden_size=4, sample_rate=capture.sample_rate)
    start = Model.create(cfg, seed=3, name="start")
    # one optimizer update: one mini-batch of whole segments, one TBPTT chunk each
    one_step = dict(SMALL, batch_size=1000, tbptt=SMALL["segment_length"] - SMALL["warmup"], max_epochs=1,
                    val_every=1, lr=1e-3)

    def largest_move(result, origin) -> float:
        moved = jax.tree.map(lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)))),
                             result.resume_state["trainable"], split_params(origin.params, origin.config)[0])
        return max(jax.tree.leaves(moved))

    # Adam's first step moves every weight by about lr whatever its gradient's size; warmed up, by lr / W
    tuned = train(capture, init=start, **one_step)
    assert largest_move(tuned, start) == pytest.approx(1e-3 / FINE_TUNE_WARMUP_STEPS, rel=0.05)
    assert tuned.resume_state["lr_warmup_steps"] == FINE_TUNE_WARMUP_STEPS
    plain = train(capture, init=start, lr_warmup_steps=0, **one_step)
    assert largest_move(plain, start) == pytest.approx(1e-3, rel=0.05)
    scratch = train(capture, model_config=cfg, **one_step)            # from scratch: no warm-up
    assert scratch.resume_state["lr_warmup_steps"] == 0
    # a carried-on run keeps its own (the optimizer state counts the steps)
    with pytest.raises(ConfigError, match="lr_warmup_steps"):
        train(capture, continue_from=tuned, lr_warmup_steps=0, **dict(one_step, max_epochs=2))
    assert train(capture, continue_from=tuned, **dict(one_step, max_epochs=2)).epochs == 2
    with pytest.raises(ConfigError, match="lr_warmup_steps"):
        TrainConfig(lr_warmup_steps=-1)


def test_the_model_records_its_training_level_and_warns_beyond_it(trained, capture):
    import warnings

    from tonezoo.audio import peak_dbfs
    from tonezoo.errors import InputLevelWarning
    from tonezoo.model import LEVEL_MARGIN_DB
    model = trained.model
    trained_db = model.metadata["input_peak_dbfs"]
    assert trained_db == pytest.approx(peak_dbfs(capture.train_x), abs=0.01)
    x = capture.val_x[:4410] / np.max(np.abs(capture.val_x[:4410])) * 10 ** (trained_db / 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.process(x)                                             # as loud as the capture: no warning
        model.process(x * 10 ** ((LEVEL_MARGIN_DB - 1) / 20))       # within the margin
        model.process(x * 10 ** ((LEVEL_MARGIN_DB + 3) / 20), check_level=False)
        Model(model.config, model.params, {"name": "imported"}).process(x * 10)   # no level recorded
    with pytest.warns(InputLevelWarning, match=r"dB above the loudest DI"):
        model.process(x * 10 ** ((LEVEL_MARGIN_DB + 3) / 20))
    assert model.level_excess_db(x * 10 ** (7 / 20)) == pytest.approx(7.0, abs=0.05)
    assert model.level_excess_db(np.zeros(100, np.float32)) is None
