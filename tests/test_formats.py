"""Import/export of AGAM, AIDA-X and NAM model files (tonezoo.formats) and the import/export CLI."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from tonezoo.cli import main
from tonezoo.errors import FormatError, UnsupportedArchitectureError
from tonezoo.formats import detect_format, export_model, import_model, list_formats, register_format
from tonezoo.formats._common import MAX_FILE_BYTES, bake_knobs, probe_signal
from tonezoo.model import Model, ModelConfig, unflatten_params

FIXTURES = Path(__file__).parents[1].parent / "shared" / "fixtures"
needs_fixtures = pytest.mark.skipif(
    not (FIXTURES / "models").is_dir(),
    reason=f"third-party fixtures not found at {FIXTURES} (CI keeps ../shared beside the checkout)")

AGAM_FILES = sorted((FIXTURES / "models" / "agam").glob("*.json")) if FIXTURES.is_dir() else []
AIDAX_FILES = sorted((FIXTURES / "models" / "aidax").glob("*.json")) if FIXTURES.is_dir() else []
NAM_LSTM = FIXTURES / "models" / "nam" / "namcore_lstm.nam"
NAM_WAVENET = FIXTURES / "models" / "nam" / "namcore_wavenet.nam"
TOL = 1e-4


def _half(model: Model) -> list[float] | None:
    """Every knob at 0.5, as the reference outputs were made."""
    return [0.5] * len(model.config.knobs) if model.config.knobs else None


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _random_model(seed: int = 0, **cfg) -> Model:
    """A small model with every parameter non-trivial (including b_hh and the initial state).

    Built with numpy from the config's parameter shapes (no Flax init: fast for many configs).
    """
    base = dict(hidden_size=8, sample_rate=48000)
    base.update(cfg)
    config = ModelConfig(**base)
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(config.hidden_size)
    flat = {name: rng.uniform(-bound, bound, shape).astype(np.float32)
            for name, shape in config.param_shapes().items()}
    flat["h0"] *= 0.1
    flat["c0"] *= 0.1
    return Model(config, unflatten_params(flat, config), {"name": f"test-{seed}"})


# -- fixtures reproduce their reference outputs ------------------------------------------------

@needs_fixtures
@pytest.mark.parametrize("path", AGAM_FILES, ids=lambda p: p.stem)
def test_agam_fixture_matches_reference(path: Path) -> None:
    x = np.load(FIXTURES / "reference" / "input.npy")
    ref = np.load(FIXTURES / "reference" / f"{path.stem}.npy").reshape(-1)
    model = import_model(path)
    assert detect_format(path) == "agam"
    assert model.config.skip and model.config.sample_rate == 44100
    assert model.metadata["sample_rate_assumed"] is True
    assert "knob_values" not in model.metadata  # the files carry none; nothing is invented
    y = model.process(x, _half(model))
    assert np.max(np.abs(y - ref)) < TOL


@needs_fixtures
@pytest.mark.parametrize("path", AIDAX_FILES, ids=lambda p: p.stem)
def test_aidax_fixture_reproduces_its_batch(path: Path) -> None:
    doc = _load(path)
    model = import_model(path)
    assert detect_format(path) == "aidax"
    assert model.config.sample_rate == 48000 and not model.config.skip  # samplerate given as the string "48000"
    assert model.metadata["author"] == doc["metadata"]["author"]
    assert model.metadata["val_esr"] == pytest.approx(doc["metadata"]["esr"])
    y = model.process(np.asarray(doc["input_batch"], np.float32))
    assert np.max(np.abs(y - np.asarray(doc["output_batch"]))) < TOL


def _nam_numpy(doc: dict, x: np.ndarray) -> np.ndarray:
    """Independent reimplementation of NAM's LSTM from the flat weight list (sample by sample)."""
    cfg, w = doc["config"], np.asarray(doc["weights"], np.float64)
    hs, n_layers, n_in = cfg["hidden_size"], cfg["num_layers"], cfg["input_size"]
    pos, cells = 0, []
    for i in range(n_layers):
        d = (n_in if i == 0 else hs) + hs
        mat = w[pos:pos + 4 * hs * d].reshape(4 * hs, d)
        pos += 4 * hs * d
        bias, h, c = w[pos:pos + 4 * hs], w[pos + 4 * hs:pos + 5 * hs], w[pos + 5 * hs:pos + 6 * hs]
        pos += 6 * hs
        cells.append([mat, bias, h.copy(), c.copy()])
    head_w, head_b = w[pos:pos + hs], w[pos + hs]
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    out = np.empty(len(x))
    for t, xt in enumerate(x):
        u = np.array([xt])
        for cell in cells:
            mat, bias, h, c = cell
            z = mat @ np.concatenate([u, h]) + bias
            i_, f, g, o = sig(z[:hs]), sig(z[hs:2 * hs]), np.tanh(z[2 * hs:3 * hs]), sig(z[3 * hs:])
            cell[3] = f * c + i_ * g
            cell[2] = o * np.tanh(cell[3])
            u = cell[2]
        out[t] = head_w @ u + head_b
    return out


@needs_fixtures
def test_nam_lstm_fixture_matches_numpy_reimplementation() -> None:
    doc = _load(NAM_LSTM)
    model = import_model(NAM_LSTM)
    assert detect_format(NAM_LSTM) == "nam"
    assert (model.config.hidden_size, model.config.skip, model.config.sample_rate) == (3, False, 48000)
    md = model.metadata
    assert (md["name"], md["author"], md["category"]) == ("Test LSTM", "Steve", "amp-clean")
    assert md["device"] == "Darkglass Electronics Microtubes 900 v2"
    x = np.load(FIXTURES / "reference" / "input.npy")[:3000]
    y = model.process(x)
    assert np.max(np.abs(y - _nam_numpy(doc, x))) < TOL
    assert np.max(np.abs(y)) > 1e-3  # the model does produce sound


@needs_fixtures
def test_nam_wavenet_is_read() -> None:
    assert detect_format(NAM_WAVENET) == "nam"
    assert import_model(NAM_WAVENET).config.arch == "wavenet"  # exactness and refusals: tests/test_wavenet.py


# -- exports match the fixtures' layouts; round trips are exact --------------------------------

@needs_fixtures
@pytest.mark.parametrize("path", AGAM_FILES, ids=lambda p: p.stem)
def test_agam_fixture_export_is_identical(path: Path, tmp_path: Path) -> None:
    out = export_model(import_model(path), tmp_path / "out.json", format="agam")
    assert _load(out) == _load(path)  # keys, key order, shapes and every float32 value
    assert list(_load(out)["state_dict"]) == list(_load(path)["state_dict"])


@needs_fixtures
@pytest.mark.parametrize("path", AIDAX_FILES, ids=lambda p: p.stem)
def test_aidax_fixture_export_layout_and_selftest(path: Path, tmp_path: Path) -> None:
    original = _load(path)
    model = import_model(path)
    out = _load(export_model(model, tmp_path / "out.json", format="aidax", player="aida-x"))
    assert list(out) == list(original)  # no skip: exactly the fixture's keys, in order
    assert out["layers"] == original["layers"]
    assert set(original["metadata"]) <= set(out["metadata"])
    assert out["metadata"]["esr"] == original["metadata"]["esr"]  # weights unchanged: its ESR still holds
    assert len(out["input_batch"]) == len(out["output_batch"]) == 2048
    again = import_model(tmp_path / "out.json")
    y = again.process(np.asarray(out["input_batch"], np.float32))
    assert np.max(np.abs(y - np.asarray(out["output_batch"]))) < 1e-6


@needs_fixtures
def test_nam_fixture_export_is_exact(tmp_path: Path) -> None:
    original = _load(NAM_LSTM)
    model = import_model(NAM_LSTM)
    model.save(tmp_path / "m")  # through a tonezoo model directory
    out = _load(export_model(Model.load(tmp_path / "m"), tmp_path / "out.nam", format="nam"))
    assert list(out) == list(original)
    assert out["weights"] == original["weights"]  # includes the (already settled) initial state
    assert out["config"] == original["config"] and out["sample_rate"] == 48000
    for key in ("name", "modeled_by", "gear_type", "gear_make", "gear_model", "tone_type", "loudness", "gain"):
        assert out["metadata"][key] == original["metadata"][key]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_agam_round_trip_exact(cell: str, layers: int, tmp_path: Path) -> None:
    model = _random_model(1, cell=cell, num_layers=layers, knobs=("gain",))
    model = Model(model.config, dict(model.params, h0=jnp.zeros_like(model.params["h0"]),
                                     c0=jnp.zeros_like(model.params["c0"])), model.metadata)
    back = import_model(export_model(model, tmp_path / "m.json", format="agam"), sample_rate=48000)
    assert back.config == ModelConfig(**{**model.config.to_dict(), "knobs": ("knob1",)})
    assert back.metadata["sample_rate_assumed"] is False
    for a, b in zip(_leaves(model), _leaves(back)):
        np.testing.assert_array_equal(a, b)


def _leaves(model: Model) -> list[np.ndarray]:
    import jax
    return [np.asarray(v) for v in jax.tree.leaves(model.params)]


def _keras_gru(doc: dict, x: np.ndarray) -> np.ndarray:
    """Independent Keras GRU (reset_after=True, gates z, r, h) + dense, from an AIDA-X document."""
    (W, U, b), (dw, db) = [np.asarray(a, np.float64) for a in doc["layers"][0]["weights"]], \
        [np.asarray(a, np.float64) for a in doc["layers"][1]["weights"]]
    hs = U.shape[0]
    h = np.zeros(hs)
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    out = np.empty(len(x))
    for t, xt in enumerate(x):
        xi, hh = np.atleast_1d(xt) @ W + b[0], h @ U + b[1]
        z, r = sig(xi[:hs] + hh[:hs]), sig(xi[hs:2 * hs] + hh[hs:2 * hs])
        cand = np.tanh(xi[2 * hs:] + r * hh[2 * hs:])
        h = z * h + (1 - z) * cand
        out[t] = h @ dw[:, 0] + db[0]
    return out


def test_aidax_gru_matches_keras_semantics_and_round_trips(tmp_path: Path) -> None:
    model = _random_model(2, cell="gru", skip=False)
    model = Model(model.config, dict(model.params, h0=jnp.zeros_like(model.params["h0"]),
                                     c0=jnp.zeros_like(model.params["c0"])), model.metadata)
    doc = _load(export_model(model, tmp_path / "g.json", format="aidax"))
    assert np.asarray(doc["layers"][0]["weights"][2]).shape == (2, 24)
    x = probe_signal(400)
    assert np.max(np.abs(_keras_gru(doc, x) - model.process(x))) < 1e-5
    back = import_model(tmp_path / "g.json")
    for a, b in zip(_leaves(model), _leaves(back)):
        np.testing.assert_array_equal(a, b)


def test_aidax_lstm_round_trip(tmp_path: Path) -> None:
    model = _random_model(3, num_layers=2, skip=True, knobs=("gain", "tone"))
    model.metadata.update(author="someone", license="CC-BY-4.0", knob_values={"gain": 0.2, "tone": 0.7})
    first = export_model(model, tmp_path / "a.json", format="aidax")
    doc = _load(first)
    assert doc["in_shape"] == [None, None, 3] and doc["in_skip"] == 1
    assert np.asarray(doc["input_batch"]).shape == (2048, 3)
    assert doc["metadata"]["author"] == "someone" and doc["metadata"]["license"] == "CC-BY-4.0"
    back = import_model(first)
    assert back.config.skip and back.config.num_layers == 2 and back.config.input_size == 3
    xk = np.asarray(doc["input_batch"], np.float32)
    y = back.process(xk[:, 0], [0.2, 0.7], state=_zero_state(back))
    assert np.max(np.abs(y - np.asarray(doc["output_batch"]))) < 1e-6
    # LSTM biases are summed into Keras' single bias: a second export is identical to the first
    back.metadata["knob_values"] = {"knob1": 0.2, "knob2": 0.7}
    assert _load(export_model(back, tmp_path / "b.json", format="aidax"))["layers"] == doc["layers"]


def _zero_state(model: Model) -> dict:
    z = jnp.zeros_like(model.params["h0"])
    return {"h": z, "c": z}


def test_nam_round_trip_uses_settled_state(tmp_path: Path) -> None:
    model = _random_model(4, skip=False)
    model = Model(model.config, dict(model.params, h0=jnp.zeros_like(model.params["h0"]),
                                     c0=jnp.zeros_like(model.params["c0"])), model.metadata)
    path = export_model(model, tmp_path / "m.nam", format="nam")
    back = import_model(path)
    _, settled = model.process(np.zeros(48_000, np.float32), return_state=True)
    np.testing.assert_allclose(np.asarray(back.params["h0"]), np.asarray(settled["h"]), atol=1e-7)
    np.testing.assert_allclose(np.asarray(back.params["c0"]), np.asarray(settled["c"]), atol=1e-7)
    assert np.max(np.abs(np.asarray(back.params["h0"]))) > 1e-4  # a non-trivial state was stored
    for key in ("w_ih", "w_hh"):  # weights exact; the two biases are summed into b_ih
        np.testing.assert_array_equal(np.asarray(model.params["layers"][0][key]), back.params["layers"][0][key])
    np.testing.assert_array_equal(np.asarray(model.params["dense"]["w"]), back.params["dense"]["w"])
    # the imported file is settled: exporting again writes the same weights bit for bit
    again = _load(export_model(back, tmp_path / "n.nam", format="nam"))
    assert again["weights"] == _load(path)["weights"]
    x = probe_signal(500)
    assert np.max(np.abs(back.process(x) - _nam_numpy(again, x))) < 1e-5


@pytest.mark.parametrize("fmt", list_formats())     # every registered format, built in or added
def test_every_format_contract(fmt: str, tmp_path: Path) -> None:
    """Shared contract: export -> detect -> import computes the same function (zero start state).

    Every format holds a one-layer LSTM, with the skip connection or (NAM) without it.
    """
    path = None
    for skip in (True, False):
        model = _random_model(5, skip=skip)
        model = Model(model.config, dict(model.params, h0=jnp.zeros_like(model.params["h0"]),
                                         c0=jnp.zeros_like(model.params["c0"])), model.metadata)
        try:
            path = export_model(model, tmp_path / "model.bin", format=fmt)  # the name says nothing
            break
        except FormatError:
            continue
    assert path is not None, f"format {fmt!r} holds neither an LSTM with skip nor one without"
    assert detect_format(path) == fmt
    back = import_model(path)
    x = probe_signal(1000)
    assert np.max(np.abs(back.process(x, state=_zero_state(back)) - model.process(x))) < 1e-5
    assert not list(tmp_path.glob(".*"))  # the atomic write left no temporary file


# -- knobs, players, refusals -------------------------------------------------------------------

def test_bake_knobs_is_exact_and_enables_nam(tmp_path: Path) -> None:
    model = _random_model(6, skip=False, knobs=("gain", "tone"))
    baked = bake_knobs(model, {"gain": 0.3, "tone": 0.9})
    x = probe_signal(600)
    assert baked.config.knobs == () and baked.metadata["knob_values"] == {"gain": 0.3, "tone": pytest.approx(0.9)}
    assert np.max(np.abs(baked.process(x) - model.process(x, {"gain": 0.3, "tone": 0.9}))) < 1e-6
    with pytest.raises(FormatError, match="--knob"):
        export_model(model, tmp_path / "k.nam", format="nam")
    doc = _load(export_model(model, tmp_path / "k.nam", format="nam", knobs={"gain": 0.3, "tone": 0.9}))
    assert doc["config"]["input_size"] == 1


def test_player_checks(tmp_path: Path) -> None:
    big = _random_model(7, hidden_size=40, knobs=("gain",))
    with pytest.raises(FormatError, match=r"hidden size 40 \(needs 20\).*--hidden 20"):
        export_model(big, tmp_path / "x.json", format="agam", player="neuralpi")
    export_model(big, tmp_path / "p.json", format="agam", player="proteus")
    with pytest.raises(FormatError, match=r"2 inputs \(needs 1"):
        export_model(_random_model(7, hidden_size=32, knobs=("gain",)), tmp_path / "c.json", format="agam",
                     player="chameleon")
    with pytest.raises(FormatError, match="no skip"):
        export_model(_random_model(7, hidden_size=20, skip=False), tmp_path / "n.json", format="agam",
                     player="neuralpi")
    with pytest.raises(FormatError, match="AIDA-X plugin.*hidden size 10"):
        export_model(_random_model(7, hidden_size=10), tmp_path / "a.json", format="aidax", player="aida-x")
    with pytest.raises(FormatError, match="unknown player"):
        export_model(big, tmp_path / "q.json", format="nam", player="neuralpi")
    with pytest.raises(FormatError, match="unknown format"):
        export_model(big, tmp_path / "q.json", format="onnx")
    assert not (tmp_path / "x.json").exists()


def test_nam_refuses_skip_and_gru(tmp_path: Path) -> None:
    target = tmp_path / "keep.nam"
    target.write_text("previous")
    with pytest.raises(FormatError, match="--no-skip"):
        export_model(_random_model(8, skip=True), target, format="nam")
    with pytest.raises(UnsupportedArchitectureError, match="GRU"):
        export_model(_random_model(8, cell="gru", skip=False), target, format="nam")
    assert target.read_text() == "previous"  # a refused export leaves the old file alone


@needs_fixtures
def test_metadata_crosses_formats_and_stale_fields_drop(tmp_path: Path) -> None:
    aida = import_model(AIDAX_FILES[0])
    nam_doc = _load(export_model(aida, tmp_path / "a.nam", format="nam"))
    assert nam_doc["metadata"]["modeled_by"] == "deer ink studios"
    assert nam_doc["metadata"]["name"] == aida.name
    tuned = import_model(NAM_LSTM)
    layers = [dict(tuned.params["layers"][0], b_ih=tuned.params["layers"][0]["b_ih"] + 0.01)]
    tuned = Model(tuned.config, dict(tuned.params, layers=layers), dict(tuned.metadata, val_esr=0.02))
    out = _load(export_model(tuned, tmp_path / "t.nam", format="nam"))["metadata"]
    assert "loudness" not in out and "gain" not in out  # measured on the old weights
    assert out["training"] == {"validation_esr": 0.02} and out["modeled_by"] == "Steve"


def test_sample_rate_rules(tmp_path: Path) -> None:
    model = _random_model(9, skip=False)
    agam = export_model(model, tmp_path / "m.json", format="agam")
    assert import_model(agam).config.sample_rate == 44100
    nam = export_model(model, tmp_path / "m.nam", format="nam")
    assert import_model(nam, sample_rate=48000).config.sample_rate == 48000
    with pytest.raises(FormatError, match="48000 Hz, not 44100"):
        import_model(nam, sample_rate=44100)
    doc = _load(export_model(model, tmp_path / "a.json", format="aidax"))
    doc["metadata"]["samplerate"] = 44100.0
    assert import_model(_write(tmp_path / "n.json", doc)).config.sample_rate == 44100
    del doc["metadata"]["samplerate"]
    m = import_model(_write(tmp_path / "n.json", doc))
    assert m.config.sample_rate == 48000 and m.metadata["sample_rate_assumed"] is True


@needs_fixtures
def test_aidax_gains_and_skip_are_folded_exactly(tmp_path: Path) -> None:
    doc = _load(AIDAX_FILES[0])
    plain = import_model(AIDAX_FILES[0])
    doc.update(in_skip=1, in_gain=6.0, out_gain=-3.0)
    model = import_model(_write(tmp_path / "g.json", doc))
    x = np.asarray(doc["input_batch"], np.float32)
    expected = x + 10 ** (-3 / 20) * plain.process(x * 10 ** (6 / 20))
    assert np.max(np.abs(model.process(x) - expected)) < 1e-5


# -- hostile and malformed files ---------------------------------------------------------------

def _agam_doc() -> dict:
    model = _random_model(10, hidden_size=4)
    return {"model_data": {"model": "SimpleRNN", "input_size": 1, "skip": 1, "output_size": 1, "unit_type": "LSTM",
                           "num_layers": 1, "hidden_size": 4, "bias_fl": True},
            "state_dict": {"rec.weight_ih_l0": np.asarray(model.params["layers"][0]["w_ih"]).T.tolist(),
                           "rec.weight_hh_l0": np.asarray(model.params["layers"][0]["w_hh"]).T.tolist(),
                           "rec.bias_ih_l0": [0.0] * 16, "rec.bias_hh_l0": [0.0] * 16,
                           "lin.weight": [[0.1] * 4], "lin.bias": [0.0]}}


def _nam_doc() -> dict:
    return {"version": "0.5.4", "architecture": "LSTM", "config": {"input_size": 1, "hidden_size": 2, "num_layers": 1},
            "weights": [0.1] * (8 * 3 + 8 + 4 + 3), "sample_rate": 48000}


def test_well_formed_builders_import(tmp_path: Path) -> None:
    """The malformed-file tests below start from these valid documents."""
    assert import_model(_write(tmp_path / "a.json", _agam_doc())).config.hidden_size == 4
    assert import_model(_write(tmp_path / "n.json", _nam_doc())).config.hidden_size == 2


@pytest.mark.parametrize("content, match", [
    (pickle.dumps({"state_dict": {}}), "pickle"),
    (b"PK\x03\x04" + b"\0" * 100, "ZIP archive"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "HDF5"),
    (b"\xff\xfe\x00garbage", "not a text file"),
    (b"model_data = {}", "not valid JSON"),
    (b"[1, 2, 3]", "top level is a list"),
    (b'{"hello": "world"}', "not a model format"),
    (b"", "empty"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
], ids=["pickle", "zip", "hdf5", "binary", "non-json", "list", "unknown-json", "empty", "deep"])
def test_unreadable_files_are_refused(content: bytes, match: str, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=match):
        import_model(path)


def test_real_torch_style_zip_checkpoint_is_refused_unopened(tmp_path: Path) -> None:
    path = tmp_path / "model.json"  # a misleading name does not matter
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"rec.weight_ih_l0": [1.0]}))
    with pytest.raises(FormatError, match="never loads pickled"):
        detect_format(path)


def test_oversized_and_missing_files(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(FormatError, match="larger than"):
        import_model(big)
    with pytest.raises(FormatError, match="no such model file"):
        import_model(tmp_path / "absent.json")
    with pytest.raises(FormatError, match="is a directory"):
        import_model(tmp_path)


def _mutate(doc: dict, path: list, value) -> dict:
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize("builder, path, value, error, match", [
    (_agam_doc, ["state_dict", "lin.weight"], KeyError, FormatError, r"missing \['lin.weight'\]"),
    (_agam_doc, ["model_data", "hidden_size"], KeyError, FormatError, "lacks"),
    (_agam_doc, ["state_dict", "rec.weight_hh_l0"], [[0.0] * 4] * 15, FormatError, r"shape \(15, 4\)"),
    (_agam_doc, ["state_dict", "rec.bias_ih_l0"], [float("nan")] * 16, FormatError, "NaN"),
    (_agam_doc, ["state_dict", "lin.bias"], ["0.5"], FormatError, "only numbers"),
    (_agam_doc, ["state_dict", "lin.weight"], [[0.1, 0.2], [0.3]], FormatError, "ragged"),
    (_agam_doc, ["model_data", "hidden_size"], 10 ** 9, FormatError, "outside the supported range"),
    (_agam_doc, ["model_data", "unit_type"], "RNN", UnsupportedArchitectureError, "RNN"),
    (_agam_doc, ["model_data", "input_size"], True, FormatError, "must be an integer"),
    (_nam_doc, ["config", "hidden_size"], 1024, FormatError, "39 weights, but"),
    (_nam_doc, ["config", "hidden_size"], 10 ** 12, FormatError, "outside the supported range"),
    (_nam_doc, ["config"], KeyError, FormatError, "config"),
    (_nam_doc, ["weights", 3], float("inf"), FormatError, "NaN or Inf"),
    (_nam_doc, ["sample_rate"], "fast", FormatError, "sample_rate must be an integer"),
    (_nam_doc, ["architecture"], "ConvNet", UnsupportedArchitectureError, "ConvNet"),
], ids=["agam-missing-key", "agam-missing-size", "agam-shape", "agam-nan", "agam-string", "agam-ragged",
        "agam-huge", "agam-unit", "agam-bool", "nam-count", "nam-huge", "nam-no-config", "nam-inf",
        "nam-rate", "nam-arch"])
def test_malformed_documents(builder, path, value, error, match, tmp_path: Path) -> None:
    doc = _mutate(builder(), path, value)
    with pytest.raises(error, match=match):
        import_model(_write(tmp_path / "bad.json", doc))


@pytest.mark.parametrize("change, error, match", [
    (lambda d: d["layers"].insert(0, {"type": "conv1d", "weights": []}), UnsupportedArchitectureError, "conv1d"),
    (lambda d: d["layers"][0]["weights"].__setitem__(1, [[0.0] * 4] * 3), FormatError, r"weights\[1\] \(U\)"),
    (lambda d: d["layers"][0]["shape"].__setitem__(2, 5000), FormatError, "outside the supported range"),
    (lambda d: d["layers"][1].__setitem__("activation", "tanh"), UnsupportedArchitectureError, "activation"),
    (lambda d: d["metadata"].__setitem__("samplerate", "fast"), FormatError, "samplerate"),
    (lambda d: d.__setitem__("in_skip", 2), FormatError, "in_skip"),
], ids=["aidax-layer-type", "aidax-shape", "aidax-huge", "aidax-dense-activation", "aidax-rate", "aidax-skip"])
def test_malformed_aidax(change, error, match, tmp_path: Path) -> None:
    doc = _load(export_model(_random_model(11, hidden_size=4, skip=False), tmp_path / "ok.json", format="aidax"))
    change(doc)
    with pytest.raises(error, match=match):
        import_model(_write(tmp_path / "bad.json", doc))


def test_aidax_gru_without_reset_after_is_refused(tmp_path: Path) -> None:
    doc = _load(export_model(_random_model(12, hidden_size=4, cell="gru", skip=False), tmp_path / "g.json",
                             format="aidax"))
    doc["layers"][0]["weights"][2] = doc["layers"][0]["weights"][2][0]
    with pytest.raises(UnsupportedArchitectureError, match="reset_after"):
        import_model(_write(tmp_path / "bad.json", doc))


def test_register_format_refuses_duplicates() -> None:
    from tonezoo.formats import agam
    with pytest.raises(FormatError, match="already registered"):
        register_format("agam", agam.detect, agam.read, agam.write)


# -- CLI ----------------------------------------------------------------------------------------

def test_cli_import_and_export(tmp_path: Path, capsys) -> None:
    good = export_model(_random_model(13, hidden_size=20, knobs=("gain",)), tmp_path / "my_amp.json", format="agam")
    bad = tmp_path / "broken.nam"
    bad.write_bytes(pickle.dumps([1, 2]))
    zoo = tmp_path / "zoo"
    assert main(["import", str(good), str(bad), "-o", str(zoo), "--sample-rate", "48000"]) == 2
    out, err = capsys.readouterr()
    assert "imported" in out and "my_amp" in out and "pickle" in err
    model = Model.load(zoo / "my_amp")
    assert model.config.sample_rate == 48000 and model.metadata["source_format"] == "agam"
    assert main(["import", str(good), "-o", str(zoo)]) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err
    assert main(["import", str(good), "-o", str(zoo), "--force"]) == 0

    assert main(["export", str(zoo / "my_amp"), "--format", "agam", "--player", "neuralpi",
                 "-o", str(tmp_path / "np.json")]) == 0
    assert _load(tmp_path / "np.json")["model_data"]["hidden_size"] == 20
    assert main(["export", str(zoo / "my_amp"), "--format", "agam", "--player", "proteus",
                 "-o", str(tmp_path / "pr.json")]) == 2
    assert "needs 40" in capsys.readouterr().err
    assert main(["export", str(zoo / "my_amp"), "--format", "nam", "-o", str(tmp_path / "x.nam")]) == 2
    assert main(["export", str(zoo / "my_amp"), "--format", "aidax", "--knob", "knob1=2",
                 "-o", str(tmp_path / "x.json")]) == 2
    assert main(["export", str(zoo / "my_amp"), "--format", "aidax", "--knob", "knob1=0.4",
                 "-o", str(tmp_path / "x.json")]) == 0
    assert _load(tmp_path / "x.json")["in_shape"] == [None, None, 1]
    assert main(["export", str(tmp_path / "nowhere"), "--format", "nam", "-o", str(tmp_path / "y.nam")]) == 2


def test_non_finite_metadata_is_dropped_not_carried(tmp_path: Path) -> None:
    doc = _nam_doc()
    doc["metadata"] = {"name": "odd", "loudness": float("nan"), "training": {"validation_esr": float("inf")}}
    model = import_model(_write(tmp_path / "odd.nam", doc))
    assert "loudness" not in model.metadata["nam"] and "val_esr" not in model.metadata
    out = _load(export_model(model, tmp_path / "out.nam", format="nam"))
    assert out["metadata"]["name"] == "odd" and "loudness" not in out["metadata"]


def test_cli_format_choices_are_the_registry():
    import argparse

    from tonezoo.cli import build_parser
    from tonezoo.formats import format_spec
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = {o: a for a in sub.choices["export"]._actions for o in a.option_strings}
    assert list(options["--format"].choices) == list_formats()
    assert set(options["--player"].choices) == {p for f in list_formats() for p in format_spec(f).players}
    from tonezoo.formats import agam
    assert format_spec("agam").players == tuple(agam.PLAYERS)     # the lazy registration names the real players


@needs_fixtures
def test_cli_import_names_each_files_architecture(tmp_path: Path, capsys) -> None:
    assert main(["import", str(NAM_WAVENET), str(NAM_LSTM), "-o", str(tmp_path / "zoo")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("namcore_wavenet" in ln and "(nam: WaveNet" in ln for ln in lines), lines
    assert any("namcore_lstm" in ln and "(nam: LSTM-" in ln for ln in lines), lines
