"""tonezoo.modelfile: the model directory, parameter (un)flattening, atomic writes, checkpoints."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from tonezoo.errors import ModelFileError, TrainingError
from tonezoo.model import Model, ModelConfig
from tonezoo.modelfile import (CONFIG_NAME, FORMAT_VERSION, WEIGHTS_NAME, ModelParts, atomic_write, flatten_params,
                               load_checkpoint, read_config, read_model_dir, save_checkpoint, save_model_dir,
                               unflatten_params, write_dir_atomically)


def _model() -> Model:
    return Model.create(ModelConfig(hidden_size=3, num_layers=2, knobs=("gain",)), seed=4, name="m",
                        knob_values={"gain": 0.2})


def test_directory_round_trip_gives_the_parts(tmp_path):
    m = _model()
    path = save_model_dir(m, tmp_path / "m")
    doc = json.loads((path / CONFIG_NAME).read_text())
    assert doc["format"] == "tonezoo-model" and doc["format_version"] == FORMAT_VERSION
    parts = read_model_dir(path)
    assert isinstance(parts, ModelParts) and parts.name == "m" and parts.config == m.config
    for a, b in zip(flatten_params(parts.params).values(), flatten_params(m.params).values()):
        np.testing.assert_array_equal(a, b)
    assert read_config(path) == (m.config, parts.metadata)


def test_unflatten_checks_names_shapes_and_values():
    m = _model()
    flat = flatten_params(m.params)
    assert set(flat) == set(m.config.param_shapes())
    with pytest.raises(ModelFileError, match="missing"):
        unflatten_params({k: v for k, v in flat.items() if k != "dense.b"}, m.config, where="w.safetensors")
    with pytest.raises(ModelFileError, match="has shape"):
        unflatten_params({**flat, "dense.w": np.zeros(5, np.float32)}, m.config)
    with pytest.raises(ModelFileError, match="NaN or Inf"):
        unflatten_params({**flat, "h0": np.full_like(flat["h0"], np.nan)}, m.config)
    with pytest.raises(ModelFileError, match="dtype"):
        unflatten_params({**flat, "dense.b": np.array(1, np.int32)}, m.config)


def test_read_refuses_pickles_and_missing_files(tmp_path):
    path = save_model_dir(_model(), tmp_path / "m")
    (path / WEIGHTS_NAME).unlink()
    (path / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelFileError, match="pickled checkpoints are never loaded"):
        read_model_dir(path)
    with pytest.raises(ModelFileError, match="no such model directory"):
        read_model_dir(tmp_path / "nothing")
    with pytest.raises(ModelFileError, match="not a tonezoo model directory"):
        read_config(tmp_path)


def test_atomic_write_leaves_the_old_file_on_error(tmp_path):
    target = tmp_path / "a.json"
    atomic_write(target, lambda p: p.write_text("one"))
    assert target.read_text() == "one"

    def broken(p):
        p.write_text("half")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "one" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_directory_writer_replaces_only_when_complete(tmp_path):
    target = tmp_path / "d"
    write_dir_atomically(target, lambda p: (p / "x").write_text("1"))

    def broken(p):
        (p / "x").write_text("2")
        raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError):
        write_dir_atomically(target, broken)
    assert (target / "x").read_text() == "1" and [p.name for p in tmp_path.iterdir()] == ["d"]


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    tree = {"a": jnp.arange(3.0), "b": [jnp.ones((2, 2)), jnp.zeros(())]}
    save_checkpoint(tmp_path / "ck", tree, {"epoch": 7})
    back, meta = load_checkpoint(tmp_path / "ck", tree)
    assert meta == {"epoch": 7}
    np.testing.assert_array_equal(np.asarray(back["b"][0]), np.ones((2, 2)))
    with pytest.raises(TrainingError, match="holds 3 arrays, this run needs 2"):
        load_checkpoint(tmp_path / "ck", {"a": jnp.zeros(3), "b": jnp.zeros(1)})
    with pytest.raises(TrainingError, match="cannot read"):
        load_checkpoint(tmp_path / "none", tree)


def test_saved_files_get_the_users_usual_permissions(tmp_path):
    import os
    import stat
    m = _model()
    old = os.umask(0o022)
    try:
        m.save(tmp_path / "amp")
        atomic_write(tmp_path / "notes.json", lambda tmp: tmp.write_text("{}"))
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "amp") == 0o755           # as mkdir gives it, not a temporary folder's 0o700
    assert {p.name: mode(p) for p in (tmp_path / "amp").iterdir()} == {
        "config.json": 0o644, "model.safetensors": 0o644, "README.md": 0o644}
    assert mode(tmp_path / "notes.json") == 0o644
