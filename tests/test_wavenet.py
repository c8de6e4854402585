"""NAM's WaveNet: exact import against NAM's own outputs, round trips, bad files, blocks, training."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from tonezoo.architectures import wavenet as wn
from tonezoo.errors import FormatError, UnsupportedArchitectureError
from tonezoo.formats import export_model, import_model
from tonezoo.model import Model, init

FIXTURES = Path(__file__).parents[1].parent / "shared" / "fixtures"
NAM_DIR = FIXTURES / "models" / "nam"
REF_DIR = FIXTURES / "reference"
WAVENETS = ("namcore_standard", "t3k_dumble_feather", "namcore_wavenet")
needs_fixtures = pytest.mark.skipif(not NAM_DIR.is_dir(), reason="shared fixtures not found")


def _doc(name: str) -> dict:
    return json.loads((NAM_DIR / f"{name}.nam").read_text())


def _write(tmp_path: Path, doc: dict, name: str = "bad.nam") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _leaves_equal(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


# -- exact import --------------------------------------------------------------------------------

@needs_fixtures
@pytest.mark.parametrize("name", WAVENETS)
def test_fixture_wavenet_matches_nam_reference(name: str) -> None:
    """NAM's own output (neural-amp-modeler, pad_start=True) to 1e-5 on the shared reference input."""
    model = import_model(NAM_DIR / f"{name}.nam")
    assert model.config.arch == "wavenet"
    x = np.load(REF_DIR / "input.npy").astype(np.float32)
    ref = np.load(REF_DIR / f"nam_{name}.npy")
    y = model.process(x)
    assert y.shape == ref.shape
    assert np.max(np.abs(y - ref)) <= 1e-5
    assert np.max(np.abs(ref)) > 0.1  # the reference is real sound, not silence


@needs_fixtures
def test_presets_are_recognised_and_sized_as_nam() -> None:
    standard = import_model(NAM_DIR / "namcore_standard.nam")
    feather = import_model(NAM_DIR / "t3k_dumble_feather.nam")
    assert wn.preset_name(standard.config) == "nam-standard"
    assert wn.preset_name(feather.config) == "nam-feather"
    # NAM's parameter counts: all weights in the file but the trailing head_scale
    assert standard.num_params() == len(_doc("namcore_standard")["weights"]) - 1 == 13801
    assert feather.num_params() == len(_doc("t3k_dumble_feather")["weights"]) - 1
    assert wn.receptive_field(standard.config) == 4093
    assert standard.sample_rate == 48000 and standard.metadata["sample_rate_assumed"]


# -- export and round trips -----------------------------------------------------------------------

@needs_fixtures
@pytest.mark.parametrize("name", WAVENETS)
def test_round_trip_is_exact(name: str, tmp_path: Path) -> None:
    original = _doc(name)
    model = import_model(NAM_DIR / f"{name}.nam")
    out = json.loads(export_model(model, tmp_path / "out.nam", format="nam").read_text())
    assert out["architecture"] == "WaveNet"
    assert out["weights"] == original["weights"]  # every float32 value, in NAM's order
    assert out["config"]["head_scale"] == original["config"]["head_scale"]
    for mine, theirs in zip(out["config"]["layers"], original["config"]["layers"]):
        assert {k: mine[k] for k in theirs} == theirs  # the 0.5.x keys exactly as written
        assert mine["head"] == {"out_channels": theirs["head_size"], "kernel_size": 1, "bias": theirs["head_bias"]}
    if original.get("metadata"):
        assert out["metadata"]["gear_model"] == original["metadata"]["gear_model"]
        assert out["metadata"]["loudness"] == original["metadata"]["loudness"]  # weights unchanged: still true
    again = import_model(tmp_path / "out.nam")
    assert again.config == model.config
    assert _leaves_equal(again.params, model.params)


@needs_fixtures
def test_newer_spelling_reads_the_same(tmp_path: Path) -> None:
    """The 0.6+ spelling (head object, kernel_sizes, per-layer activations, gating_mode) is the same model."""
    doc = _doc("namcore_wavenet")
    for la in doc["config"]["layers"]:
        n = len(la["dilations"])
        la["head"] = {"out_channels": la.pop("head_size"), "kernel_size": 1, "bias": la.pop("head_bias")}
        la["kernel_sizes"] = [la.pop("kernel_size")] * n
        la["activation"] = [{"type": la["activation"]}] * n
        la["gating_mode"] = ["none"] * n
        la.pop("gated")
        la["layer1x1"] = {"active": True, "groups": 1}
        la["head1x1"] = {"active": False, "out_channels": 1, "groups": 1}
        la["conv_pre_film"] = {"active": False, "shift": True, "groups": 1}
    newer = import_model(_write(tmp_path, doc, "newer.nam"))
    older = import_model(NAM_DIR / "namcore_wavenet.nam")
    assert newer.config == older.config and _leaves_equal(newer.params, older.params)


def _tiny(gated: bool = False, activation: str = "Tanh") -> wn.WaveNetConfig:
    """Two layer arrays, three layers: the shape of NAM's test network (fast to compile)."""
    return wn.WaveNetConfig(layers=(
        wn.LayerArrayConfig(input_size=1, condition_size=1, channels=3, kernel_sizes=(3, 3), dilations=(1, 2),
                            activations=(activation,) * 2, gated=gated, head_size=2, head_bias=False),
        wn.LayerArrayConfig(input_size=3, condition_size=1, channels=2, kernel_sizes=(3,), dilations=(8,),
                            activations=("Tanh",), gated=False, head_size=1, head_bias=True)), head_scale=0.02)


def test_gated_wavenet_round_trips(tmp_path: Path) -> None:
    config = wn.model_config(_tiny(gated=True, activation="ReLU"))
    model = Model(config, init(config, 3), {"name": "gated"})
    doc = json.loads(export_model(model, tmp_path / "g.nam", format="nam").read_text())
    assert doc["config"]["layers"][0]["gated"] is True
    assert doc["config"]["layers"][0]["gating_mode"] == ["gated"] * 2
    back = import_model(tmp_path / "g.nam")
    assert back.config == config and _leaves_equal(back.params, model.params)
    x = np.random.default_rng(0).standard_normal(3000).astype(np.float32) * 0.3
    np.testing.assert_array_equal(back.process(x), model.process(x))


# -- bad and unsupported files ---------------------------------------------------------------------

@needs_fixtures
def test_bad_files_name_the_file_and_the_field(tmp_path: Path) -> None:
    doc = _doc("namcore_wavenet")
    short = copy.deepcopy(doc)
    short["weights"] = short["weights"][:-1]
    with pytest.raises(FormatError, match=r"short\.nam.*weights has 130 values.*has 131"):
        import_model(_write(tmp_path, short, "short.nam"))
    act = copy.deepcopy(doc)
    act["config"]["layers"][1]["activation"] = "Swishy"
    with pytest.raises(FormatError, match=r"act\.nam.*config\.layers\[1\]\.activation.*'Swishy'.*Tanh"):
        import_model(_write(tmp_path, act, "act.nam"))
    missing = copy.deepcopy(doc)
    del missing["config"]["layers"][0]["dilations"]
    with pytest.raises(FormatError, match=r"missing\.nam.*config\.layers\[0\] lacks \"dilations\""):
        import_model(_write(tmp_path, missing, "missing.nam"))
    no_scale = copy.deepcopy(doc)
    del no_scale["config"]["head_scale"]
    with pytest.raises(FormatError, match=r"noscale\.nam.*head_scale"):
        import_model(_write(tmp_path, no_scale, "noscale.nam"))
    text = copy.deepcopy(doc)
    text["weights"][5] = "0.1"
    with pytest.raises(FormatError, match=r"text\.nam.*weights"):
        import_model(_write(tmp_path, text, "text.nam"))


@needs_fixtures
def test_unsupported_kinds_are_refused_naming_what_is_supported(tmp_path: Path) -> None:
    for arch in ("SlimmableContainer", "ConvNet", "Linear"):
        doc = {"version": "0.7.0", "architecture": arch, "config": {}, "weights": [0.0]}
        with pytest.raises(UnsupportedArchitectureError, match=rf"{arch}.*\"LSTM\" and \"WaveNet\".*A1"):
            import_model(_write(tmp_path, doc, f"{arch}.nam"))
    film = _doc("namcore_wavenet")
    film["config"]["layers"][0]["conv_post_film"] = {"active": True, "shift": True, "groups": 1}
    with pytest.raises(UnsupportedArchitectureError, match=r"film\.nam.*conv_post_film.*FiLM.*A1"):
        import_model(_write(tmp_path, film, "film.nam"))
    post_head = _doc("namcore_wavenet")
    post_head["config"]["head"] = {"channels": 4, "activation": "Tanh", "out_channels": 1, "kernel_sizes": [1]}
    with pytest.raises(UnsupportedArchitectureError, match=r"config\.head"):
        import_model(_write(tmp_path, post_head, "head.nam"))


@needs_fixtures
@pytest.mark.parametrize("fmt", ["agam", "aidax"])
def test_wavenet_export_to_recurrent_formats_is_refused(fmt: str, tmp_path: Path) -> None:
    model = import_model(NAM_DIR / "namcore_wavenet.nam")
    target = tmp_path / "out.json"
    with pytest.raises(FormatError, match="WaveNet.*LSTM/GRU"):
        export_model(model, target, format=fmt)
    assert not target.exists()


# -- playing in blocks ---------------------------------------------------------------------------

@needs_fixtures
def test_blocks_carry_the_receptive_field() -> None:
    model = import_model(NAM_DIR / "namcore_wavenet.nam")  # receptive field 23
    x = np.random.default_rng(1).standard_normal(5000).astype(np.float32) * 0.3
    whole = model.process(x, block_size=len(x))
    # shorter than, equal to and longer than the receptive field; 1000 and the whole 5000 are long
    # enough to run as two halves side by side, 777 (odd) is not
    for block in (10, 23, 777, 1000):
        np.testing.assert_allclose(model.process(x, block_size=block), whole, atol=1e-6, rtol=0)
    # streaming by hand: the state is the last receptive_field - 1 input samples
    y1, state = model.process(x[:1234], block_size=777, return_state=True)
    y2 = model.process(x[1234:], block_size=777, state=state)
    np.testing.assert_allclose(np.concatenate([y1, y2]), whole, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(np.asarray(state), x[1234 - 22:1234])


# -- training, fine-tuning, stage 2 ---------------------------------------------------------------

TINY_RECIPE = dict(segment_length=22 + 600, warmup=22, batch_size=4, progress=False)


@pytest.fixture(scope="module")
def od_capture():
    from tonezoo.devices import render_capture
    return render_capture("ts9-like", seconds=3.0, sample_rate=48000, seed=3)


@pytest.mark.parametrize("dilation,k,c", [(1, 3, 5), (8, 3, 12), (4, 2, 5), (2, 5, 12)])
def test_convolution_gradient_matches_autodiff_of_the_tap_product(dilation: int, k: int, c: int) -> None:
    """The hand-written gradient of the dilated convolution equals JAX's own gradient of the same
    convolution written as one product of the shifted taps (batch and vmapped over models), for
    narrow layers (broadcast products) and wide ones (XLA's convolution)."""
    import jax.numpy as jnp
    from tonezoo.architectures import _conv1d
    assert (c <= _conv1d.BROADCAST_MAX_CHANNELS) == (c == 5)
    rng = np.random.default_rng(dilation * 10 + k)
    h = jnp.asarray(rng.standard_normal((3, 64, c)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((k, c, 4)), jnp.float32)
    g = jnp.asarray(rng.standard_normal((3, 64 - dilation * (k - 1), 4)), jnp.float32)

    def taps(h, w):
        t = h.shape[-2] - dilation * (k - 1)
        return jnp.concatenate([h[..., j * dilation:j * dilation + t, :] for j in range(k)], -1) @ w.reshape(-1, 4)

    assert np.allclose(wn._conv(h, w, 0.0, dilation), taps(h, w), atol=1e-5)
    ours = jax.grad(lambda h, w: jnp.sum(jnp.tanh(wn._conv(h, w, 0.0, dilation)) * g), argnums=(0, 1))(h, w)
    ref = jax.grad(lambda h, w: jnp.sum(jnp.tanh(taps(h, w)) * g), argnums=(0, 1))(h, w)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    ws = jnp.stack([w, 2 * w])                                          # two models, as train_many stacks them
    many = jax.vmap(lambda w: jax.grad(lambda w: jnp.sum(jnp.tanh(wn._conv(h, w, 0.0, dilation)) * g))(w))(ws)
    one = jax.grad(lambda w: jnp.sum(jnp.tanh(taps(h, w)) * g))(2 * w)
    np.testing.assert_allclose(np.asarray(many[1]), np.asarray(one), rtol=1e-4, atol=1e-5)


def _equations(jaxpr):
    """Every equation of a jaxpr, those of its sub-jaxprs (custom rules, scans) included."""
    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            for sub in value if isinstance(value, (list, tuple)) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _equations(inner)


@pytest.mark.parametrize("on_cpu", [True, False])
def test_every_product_runs_at_full_float32_precision(on_cpu: bool, monkeypatch) -> None:
    """A GPU's default precision rounds float32 products to TensorFloat-32 (imported NAM files then
    played 5e-3 away from NAM's output on an H200): every product of a WaveNet's forward and
    backward pass asks for full precision, in the CPU's form and in the accelerators' form."""
    import jax.numpy as jnp
    from tonezoo.architectures import _conv1d
    monkeypatch.setattr(_conv1d, "_on_cpu", lambda: on_cpu)
    net = wn.preset("nam-standard")                                      # wide and narrow layers
    params = wn.init_net(net, 0)
    x = jnp.zeros((2, net.receptive_field + 16), jnp.float32)
    jaxpr = jax.make_jaxpr(jax.value_and_grad(lambda p: jnp.sum(wn.apply_valid(p, x, net=net) ** 2)))(params)
    products = [e for e in _equations(jaxpr.jaxpr) if e.primitive.name in ("dot_general", "conv_general_dilated")]
    assert len(products) > 50
    for eqn in products:
        precision = eqn.params["precision"]
        assert precision is not None, eqn.primitive.name
        assert all(p == jax.lax.Precision.HIGHEST for p in (precision if isinstance(precision, tuple) else (precision,)))


def test_the_accelerator_form_plays_and_trains_as_the_cpu_form(monkeypatch) -> None:
    """On an accelerator every dilated convolution is one product per tap with JAX's own gradient
    (XLA's GPU convolution has a weight gradient 40x slower there); outputs, gradients and a
    vmap over stacked models equal the CPU form's."""
    import jax.numpy as jnp
    from tonezoo.architectures import _conv1d
    net = wn._a1(12, 4, (1, 2, 4), (1, 8))                              # a wide array (12) and a narrow one (4)
    params = jax.tree.map(jnp.asarray, wn.init_net(net, 1))
    stacked = jax.tree.map(lambda a: jnp.stack([a, 0.9 * a]), params)
    x = jnp.asarray(np.random.default_rng(2).standard_normal((2, net.receptive_field + 200)) * 0.3, jnp.float32)

    def run():
        y = wn.apply_valid(params, x, net=net)
        g = jax.grad(lambda p: jnp.sum(jnp.tanh(wn.apply_valid(p, x, net=net) * 10.0)))(params)
        many = jax.vmap(lambda p: wn.apply_valid(p, x, net=net))(stacked)
        return y, g, many

    cpu = run()
    monkeypatch.setattr(_conv1d, "_on_cpu", lambda: False)
    acc = run()
    np.testing.assert_allclose(np.asarray(acc[0]), np.asarray(cpu[0]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(acc[2]), np.asarray(cpu[2]), rtol=0, atol=1e-6)
    for a, b in zip(jax.tree.leaves(acc[1]), jax.tree.leaves(cpu[1])):
        scale = float(np.max(np.abs(np.asarray(b)))) or 1.0
        np.testing.assert_allclose(np.asarray(a) / scale, np.asarray(b) / scale, rtol=0, atol=1e-5)


def test_nam_recipe_is_nams() -> None:
    from tonezoo.train import recipe
    tcfg = recipe(wn.model_config("nam-standard"))
    assert (tcfg.segment_length, tcfg.warmup, tcfg.batch_size) == (8192 + 4092, 4092, 16)
    assert (tcfg.lr, tcfg.lr_decay, tcfg.weight_decay, tcfg.max_epochs, tcfg.loss) == (4e-3, 0.007, 0.0, 100, "nam")
    assert recipe(None).loss == "esr_dc"  # the LSTM keeps AGAM's recipe


def test_mrstft_is_zero_for_a_perfect_prediction_and_grows_with_error() -> None:
    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 4000)).astype(np.float32) * 0.1
    mask = np.ones_like(y)
    loss = jax.jit(wn.nam_loss)
    loss0, esr0 = loss(y, y, mask)
    assert float(loss0) < 1e-6 and float(esr0) == 0.0
    small = loss(y, y + 0.01 * rng.standard_normal(y.shape).astype(np.float32), mask)[0]
    large = loss(y, y + 0.05 * rng.standard_normal(y.shape).astype(np.float32), mask)[0]
    assert 0 < float(small) < float(large)


def test_one_training_step_changes_every_parameter(od_capture) -> None:
    from tonezoo.train import train
    config = wn.model_config(_tiny())
    model = Model(config, init(config, 0), {"name": "tiny"})
    result = train(od_capture, init=model, max_epochs=1, **TINY_RECIPE)
    from tonezoo.architectures import flatten
    a, b = flatten(model.params), flatten(result.model.params)
    assert set(a) == set(wn.net_param_shapes(_tiny()))
    # the last layer's residual 1x1 feeds nothing (NAM drops the last residual), and NAM does not
    # train the output scale: those stay; every other weight moves
    fixed = {"head_scale", "arrays.1.layers.0.out_w", "arrays.1.layers.0.out_b"}
    for name in a:
        if name in fixed:
            np.testing.assert_array_equal(a[name], b[name])
        else:
            assert np.all(a[name] != b[name]), name


@needs_fixtures
def test_fine_tuning_a_nam_file_lowers_the_loss(od_capture, tmp_path: Path) -> None:
    from tonezoo.train import train
    source = import_model(NAM_DIR / "namcore_wavenet.nam")
    result = train(od_capture, init=source, max_epochs=3, **TINY_RECIPE)
    assert result.best_val_esr < 0.8 * result.first_val_esr
    assert result.model.config == source.config
    rows = [h["train_loss"] for h in result.history[1:]]
    assert rows[-1] < rows[0]
    assert result.history[2]["lr"] == pytest.approx(4e-3 * 0.993)  # NAM's exponential decay per epoch
    assert result.resume_state["lr_warmup_steps"] == 0          # NAM's recipe: no warm-up (docs/training.md)
    warmed = train(od_capture, init=source, max_epochs=1, lr_warmup_steps=10, **TINY_RECIPE)
    assert warmed.resume_state["lr_warmup_steps"] == 10 and warmed.history[1]["val_esr"] != result.history[1]["val_esr"]
    # the fine-tuned model exports to a .nam whose stale loudness is dropped and that reads back exactly
    out = json.loads(export_model(result.model, tmp_path / "ft.nam", format="nam").read_text())
    assert "loudness" not in out["metadata"] and out["metadata"]["gear_make"] == "Darkglass Electronics"
    assert _leaves_equal(import_model(tmp_path / "ft.nam").params, result.model.params)


def test_train_many_and_stage_two_batch_wavenets(od_capture) -> None:
    from tonezoo.batched import zero_shot_esr
    from tonezoo.train import esr, train_many
    config = wn.model_config(_tiny())
    results = train_many(od_capture, n_models=2, model_config=config, max_epochs=1, **TINY_RECIPE)
    assert results[0].resume_state["lr_warmup_steps"] == 0                  # from scratch: NAM's recipe as it is
    models = [r.model for r in results]
    # overlapping windows share samples: the recorded training audio is the capture's, not their sum
    assert models[0].metadata["training_seconds"] == pytest.approx(od_capture.train_seconds, abs=1e-3)
    assert len({float(np.asarray(m.params["arrays"][0]["rechannel"]).sum()) for m in models}) == 2
    x, y = od_capture.val_x, od_capture.val_y
    batched, _ = zero_shot_esr(models, x, y, sample_rate=48000, seconds=60.0)
    one_by_one = [esr(y, m.process(x)) for m in models]
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-4)


# -- command line ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def od_wavs(tmp_path_factory, od_capture):
    import soundfile as sf
    d = tmp_path_factory.mktemp("wavs")
    sf.write(d / "di.wav", od_capture.x, 48000, subtype="FLOAT")
    sf.write(d / "out.wav", od_capture.y, 48000, subtype="FLOAT")
    return d / "di.wav", d / "out.wav"


@needs_fixtures
def test_cli_fine_tunes_a_nam_file_and_exports_it(od_wavs, tmp_path: Path, capsys) -> None:
    from tonezoo.cli import main
    di, out = od_wavs
    nam = str(NAM_DIR / "namcore_wavenet.nam")
    assert main(["train", str(di), str(out), "-o", str(tmp_path / "ft"), "--from", nam, "--epochs", "2",
                 "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["from"] == nam and summary["best_val_esr"] < summary["first_val_esr"]
    model = Model.load(tmp_path / "ft")
    assert model.config.arch == "wavenet" and wn.preset_name(model.config) is None
    assert main(["export", str(tmp_path / "ft"), "--format", "nam", "-o", str(tmp_path / "ft.nam")]) == 0
    assert _leaves_equal(import_model(tmp_path / "ft.nam").params, model.params)
    # --arch must agree with the file it fine-tunes, and a WaveNet preset takes no LSTM options
    assert main(["train", str(di), str(out), "-o", str(tmp_path / "x"), "--from", nam, "--arch", "lstm"]) == 2
    assert "--arch lstm" in capsys.readouterr().err
    assert main(["train", str(di), str(out), "-o", str(tmp_path / "y"), "--arch", "nam-nano", "--hidden", "8"]) == 2
    assert "--hidden" in capsys.readouterr().err


def test_cli_trains_a_preset_from_scratch(od_wavs, tmp_path: Path, capsys) -> None:
    from tonezoo.cli import main
    di, out = od_wavs
    assert main(["train", str(di), str(out), "-o", str(tmp_path / "nano"), "--arch", "nam-nano", "--epochs", "1",
                 "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    model = Model.load(tmp_path / "nano")
    assert wn.preset_name(model.config) == "nam-nano" and model.sample_rate == 48000
    assert summary["epochs"] == 1 and np.isfinite(summary["best_val_esr"])
