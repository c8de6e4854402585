"""Hub integration against a local Hub-compatible server (tests/hub_server.py) with the real client.

Every test gets its own server on 127.0.0.1, a fresh HF_HOME (so a fresh cache: the client silently
falls back to cached files), a dummy token, and an HTTP client that refuses any other host.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hub_server import HubServer, point_client_at, set_offline

import tonezoo
from tonezoo import hub as tzhub
from tonezoo.card import parse_card, render_card
from tonezoo.cli import main
from tonezoo.errors import HubError, ModelFileError
from tonezoo.model import Model, ModelConfig

N = 2048  # one audio length everywhere: one compiled program per model config


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = HubServer(token="hf_dummy_test_token_123").start()
    restore = point_client_at(monkeypatch, server, tmp_path / "hf-home")
    yield server
    restore()
    server.stop()
    assert not server.errors, server.errors[0]


@pytest.fixture
def dry(tmp_path):
    """A short real WAV file (written and read back with soundfile)."""
    t = np.arange(N) / 44100
    x = (0.4 * np.sin(2 * np.pi * 196 * t) * np.exp(-3 * t)).astype(np.float32)
    path = tmp_path / "dry.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    audio, _ = sf.read(path, dtype="float32")
    return audio


def _model(seed=0, *, hidden=6, knobs=(), **md):
    md.setdefault("name", f"model-{seed}")
    return Model.create(ModelConfig(hidden_size=hidden, knobs=knobs), seed=seed, **md)


def _repo_files(model, repo_id=None):
    """The bytes of a model directory, for building odd repos directly on the server."""
    with tempfile.TemporaryDirectory() as d:
        out = model.save(Path(d) / "m", card=False)
        files = {p.name: p.read_bytes() for p in out.iterdir()}
    files["README.md"] = render_card(model, repo_id).encode()
    return files


def test_push_then_from_pretrained_reproduces_output(hub, dry):
    model = _model(1, knobs=("gain",), knob_values={"gain": 0.7}, category="overdrive", val_esr=0.02)
    url = model.push_to_hub("alice/ts-like")
    assert url == f"{hub.url}/alice/ts-like"
    loaded = tonezoo.Model.from_pretrained("alice/ts-like")
    np.testing.assert_array_equal(loaded.process(dry), model.process(dry))
    np.testing.assert_array_equal(loaded.process(dry, {"gain": 0.2}), model.process(dry, {"gain": 0.2}))
    assert loaded.metadata["hub_repo"] == "alice/ts-like"
    assert loaded.metadata["hub_revision"] == hub.repos["alice/ts-like"].branches["main"]
    # only the model files travel; writes were authenticated with the dummy token
    assert set(hub.repos["alice/ts-like"].resolve("main").files) == {
        ".gitattributes", "config.json", "model.safetensors", "README.md"}
    assert all(auth for method, path, auth in hub.requests if method == "POST" and "commit" in path)
    fetched = {p.rsplit("/", 1)[-1] for m, p, _ in hub.requests if m == "GET" and "/resolve/" in p}
    assert fetched == {"config.json", "model.safetensors"}
    # a loaded model pushed elsewhere does not carry its old Hub provenance along
    loaded.push_to_hub("alice/copy")
    assert "hub_repo" not in json.loads(hub.file("alice/copy", "config.json"))["metadata"]
    assert tonezoo.Model.from_pretrained("alice/copy").metadata["hub_repo"] == "alice/copy"


def test_push_again_adds_a_commit_and_revision_pins_the_old_one(hub, dry):
    first = _model(1, name="amp")
    first.push_to_hub("alice/amp")
    old = hub.repos["alice/amp"].branches["main"]
    second = _model(2, name="amp")
    second.push_to_hub("alice/amp", commit_message="retrained")
    assert hub.repos["alice/amp"].commits[hub.repos["alice/amp"].branches["main"]].message == "retrained"
    np.testing.assert_array_equal(tonezoo.Model.from_pretrained("alice/amp").process(dry), second.process(dry))
    pinned = tonezoo.Model.from_pretrained("alice/amp", revision=old)
    np.testing.assert_array_equal(pinned.process(dry), first.process(dry))


def test_card_yaml_has_the_hub_fields(hub):
    model = _model(3, knobs=("gain", "tone"), knob_values={"gain": 0.5, "tone": 0.25}, name="my-mt2",
                   category="distortion", val_esr=0.0123, training_seconds=30.0, base_model="bob/ts9-like",
                   epochs=120)
    model.push_to_hub("alice/my-mt2")
    text = hub.file("alice/my-mt2", "README.md").decode()
    data = parse_card(text)
    assert data["library_name"] == "tonezoo"
    assert data["tags"][:4] == ["tonezoo", "guitar-effects", "audio-to-audio", "distortion"]
    assert data["license"] == "mit"
    assert data["pipeline_tag"] == "audio-to-audio"
    assert data["sample_rate"] == 44100
    assert data["knobs"] == ["gain", "tone"] and data["knob_values"] == {"gain": 0.5, "tone": 0.25}
    assert data["training_data_seconds"] == 30.0
    assert data["base_model"] == "bob/ts9-like" and data["base_model_relation"] == "finetune"
    metric = data["model-index"][0]["results"][0]["metrics"][0]
    assert metric["type"] == "esr" and metric["value"] == pytest.approx(0.0123)
    from huggingface_hub import ModelCard
    card = ModelCard(text, ignore_metadata_errors=False)
    assert card.data.eval_results[0].metric_value == pytest.approx(0.0123)
    assert "alice/my-mt2" in card.text and "How to play it" in card.text and "Fine-tuned" in card.text
    for name in ("config.json", "README.md"):
        assert hub.token not in hub.file("alice/my-mt2", name).decode()


def test_card_local_base_model_is_not_a_hub_field():
    data = parse_card(render_card(_model(0, base_model="ts9-like", source_format="agam", license="GPL-3.0")))
    assert "base_model" not in data and data["base_model_name"] == "ts9-like"
    assert data["license"] == "gpl-3.0"
    imported = parse_card(render_card(_model(0, source_format="aidax")))
    assert imported["license"] == "other" and imported["license_name"]


def test_list_finds_pushed_models_by_tag(hub):
    hub.page_size = 1  # exercise the Link-header pagination
    _model(1, name="fuzzy", category="fuzz", val_esr=0.05).push_to_hub("alice/fuzzy")
    _model(2, name="drive", category="overdrive").push_to_hub("bob/drive")
    hub.add_repo("carol/not-tonezoo", {"README.md": b"---\nlibrary_name: other\ntags: [audio]\n---\n",
                                       "model.safetensors": b"x"})
    listed = tzhub.list_hub_models()
    assert [m.repo_id for m in listed] == ["alice/fuzzy", "bob/drive"]
    fuzzy = listed[0]
    assert fuzzy.category == "fuzz" and fuzzy.sample_rate == 44100 and fuzzy.val_esr == pytest.approx(0.05)
    assert fuzzy.sha == hub.repos["alice/fuzzy"].branches["main"] and not fuzzy.cached
    assert [m.id for m in tzhub.list_hub_models(filter=["tonezoo", "fuzz"])] == ["alice/fuzzy"]
    assert [m.id for m in tzhub.list_hub_models(author="bob")] == ["bob/drive"]
    assert [m.id for m in tzhub.list_hub_models(search="fuz")] == ["alice/fuzzy"]
    assert len(tzhub.list_hub_models(limit=1)) == 1


def test_offline_reload_from_cache_with_server_stopped(hub, dry, monkeypatch, caplog):
    model = _model(4, name="cached", category="boost")
    model.push_to_hub("alice/cached")
    _model(5).push_to_hub("alice/never-downloaded")
    expected = tonezoo.Model.from_pretrained("alice/cached").process(dry)
    hub.stop()
    with caplog.at_level(logging.WARNING, logger="tonezoo.hub"):
        # the Hub is unreachable: the cache stands in, and the log says so
        np.testing.assert_array_equal(tonezoo.Model.from_pretrained("alice/cached").process(dry), expected)
        assert "cannot reach the Hub" in caplog.text
        caplog.clear()
        set_offline(monkeypatch)
        np.testing.assert_array_equal(tonezoo.Model.from_pretrained("alice/cached").process(dry), expected)
        assert "offline mode" in caplog.text
        listed = tzhub.list_hub_models()
    assert [m.repo_id for m in listed] == ["alice/cached"] and listed[0].cached
    assert listed[0].category == "boost"
    with pytest.raises(HubError, match="not in the local Hugging Face cache"):
        tonezoo.Model.from_pretrained("alice/never-downloaded")
    with pytest.raises(HubError, match="offline"):
        model.push_to_hub("alice/cached")


def test_tampered_config_is_refused(hub, monkeypatch):
    good = _model(6, name="victim")
    files = _repo_files(good)
    config = json.loads(files["config.json"])
    config["model"]["hidden_size"] = 7  # the weights are for hidden 6
    hub.add_repo("mallory/bad-shapes", dict(files, **{"config.json": json.dumps(config).encode()}))
    with pytest.raises(HubError, match=r"refusing model 'mallory/bad-shapes'.*shape"):
        tonezoo.Model.from_pretrained("mallory/bad-shapes")
    config = json.loads(files["config.json"])
    del config["format"]
    hub.add_repo("mallory/no-format", dict(files, **{"config.json": json.dumps(config).encode()}))
    with pytest.raises(HubError, match="not a tonezoo model config"):
        tonezoo.Model.from_pretrained("mallory/no-format")
    monkeypatch.setattr(tzhub, "MAX_WEIGHTS_BYTES", 100)
    hub.add_repo("mallory/huge", files)
    with pytest.raises(HubError, match="over the 100 byte limit"):
        tonezoo.Model.from_pretrained("mallory/huge")
    assert not [p for m, p, _ in hub.requests if m == "GET" and p.startswith("/mallory/huge/resolve")]


def test_pickle_only_repo_is_refused_without_downloading(hub, tmp_path):
    files = _repo_files(_model(7))
    hub.add_repo("mallory/pickled", {"config.json": files["config.json"], "pytorch_model.bin": b"\x80\x04evil",
                                     "README.md": files["README.md"]})
    with pytest.raises(HubError, match=r"pickled weights \['pytorch_model.bin'\]"):
        tonezoo.Model.from_pretrained("mallory/pickled")
    with pytest.raises(HubError, match="pickle"):
        tzhub.pull("mallory/pickled", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for m, p, _ in hub.requests if "/resolve/" in p]


def test_missing_repo_revision_and_file_give_clear_errors(hub, tmp_path, capsys):
    with pytest.raises(HubError, match=r"no model repo 'nobody/nothing'"):
        tonezoo.Model.from_pretrained("nobody/nothing")
    _model(8).push_to_hub("alice/real")
    with pytest.raises(HubError, match=r"has no revision 'v9'"):
        tonezoo.Model.from_pretrained("alice/real", revision="v9")
    hub.add_repo("alice/half", {"config.json": _repo_files(_model(8))["config.json"]})
    with pytest.raises(HubError, match="not a tonezoo model repo: no model.safetensors"):
        tonezoo.Model.from_pretrained("alice/half")
    with pytest.raises(ModelFileError, match="no such model directory"):
        tonezoo.Model.from_pretrained(str(tmp_path / "a" / "b" / "c"))
    assert main(["pull", "nobody/nothing", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no model repo 'nobody/nothing'" in err and "Traceback" not in err


def test_local_directory_loads_without_the_hub(hub, tmp_path, dry):
    model = _model(9)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(tonezoo.Model.from_pretrained(tmp_path / "m").process(dry), model.process(dry))
    assert not hub.requests


def test_cli_push_and_pull(hub, tmp_path, capsys, dry):
    model = _model(10, name="cli-model", category="compressor")
    model.save(tmp_path / "m")
    (tmp_path / "m" / "notes.txt").write_text("not uploaded")
    assert main(["push", str(tmp_path / "m"), "alice/cli", "--private", "--message", "first"]) == 0
    assert f"{hub.url}/alice/cli" in capsys.readouterr().out
    repo = hub.repos["alice/cli"]
    assert repo.private and repo.commits[repo.branches["main"]].message == "first"
    assert "notes.txt" not in repo.resolve("main").files
    # the card save wrote plays the model from its folder; the one pushed loads it from the repo
    local = (tmp_path / "m" / "README.md").read_text()
    pushed = hub.file("alice/cli", "README.md").decode()
    assert pushed == render_card(Model.load(tmp_path / "m"), "alice/cli") and pushed != local
    assert "tonezoo pull alice/cli -o my-model" in pushed and "tonezoo pull" not in local
    assert "tonezoo process MODEL_DIR guitar.wav wet.wav" in local
    # a card the user edited is pushed as it is
    (tmp_path / "m" / "README.md").write_text(local + "\nRecorded through a 4x12 cab.\n")
    assert main(["push", str(tmp_path / "m"), "alice/cli"]) == 0
    assert hub.file("alice/cli", "README.md") == (tmp_path / "m" / "README.md").read_bytes()
    assert main(["pull", "alice/cli", "-o", str(tmp_path / "out")]) == 0
    for name in ("config.json", "model.safetensors", "README.md"):
        assert (tmp_path / "out" / name).read_bytes() == hub.file("alice/cli", name)
    np.testing.assert_array_equal(Model.load(tmp_path / "out").process(dry), model.process(dry))
    # bad input: exit code 2 with a message
    (tmp_path / "junk").mkdir()
    assert main(["push", str(tmp_path / "junk"), "alice/junk"]) == 2
    assert main(["push", str(tmp_path / "m"), "not a repo id!"]) == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["pull", "alice/cli", "-o", str(tmp_path / "full")]) == 2
    assert (tmp_path / "full" / "keep.txt").exists()
    assert "alice/junk" not in hub.repos


def test_token_is_never_printed_or_logged(hub, capsys, caplog, monkeypatch):
    with caplog.at_level(logging.DEBUG):
        _model(11).push_to_hub("alice/secret", private=True)
        tonezoo.Model.from_pretrained("alice/secret")
        tzhub.list_hub_models()
    out = capsys.readouterr()
    assert hub.token not in caplog.text + out.out + out.err
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token")
    with pytest.raises(HubError, match="not allowed to push") as info:
        _model(11).push_to_hub("alice/other")
    assert "hf_wrong_token" not in str(info.value)
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HubError, match="no model repo"):  # private: invisible without the token
        tonezoo.Model.from_pretrained("alice/secret", force_download=True)


def test_pull_into_zoo(hub, tmp_path, monkeypatch):
    zoo_mod = pytest.importorskip("tonezoo.zoo")
    from tonezoo.zoo.hub import pull_into_zoo
    _model(12, name="fuzz-one", category="fuzz").push_to_hub("alice/fuzz-one")
    _model(13, name="drive-two", category="overdrive", val_esr=0.03).push_to_hub("bob/drive-two")
    files = _repo_files(_model(14, name="broken", category="fuzz"), "mallory/broken")
    config = json.loads(files["config.json"])
    config["model"]["hidden_size"] = 9
    hub.add_repo("mallory/broken", dict(files, **{"config.json": json.dumps(config).encode()}))

    zoo = zoo_mod.Zoo.open(tmp_path / "zoo", create=True)
    report = pull_into_zoo(zoo)
    assert report.added == ["alice/fuzz-one", "bob/drive-two"] and not report.offline
    assert [r for r, _ in report.skipped] == ["mallory/broken"] and "shape" in report.skipped[0][1]
    entries = {e.hub_repo: e for e in zoo.list()}
    assert entries["bob/drive-two"].category == "overdrive" and entries["bob/drive-two"].val_esr == 0.03
    assert "skipped mallory/broken" in report.summary()

    again = zoo_mod.Zoo.open(tmp_path / "zoo").pull(author="alice")
    assert again.added == [] and again.skipped == [("alice/fuzz-one", "already in the zoo")]

    hub.stop()
    set_offline(monkeypatch)
    offline = pull_into_zoo(zoo_mod.Zoo.open(tmp_path / "zoo2", create=True), filter=["tonezoo", "fuzz"])
    assert offline.offline and offline.added == ["alice/fuzz-one"]
    assert "offline" in offline.summary()


def test_server_speaks_the_clients_protocol(hub, tmp_path):
    """The test server itself, driven by plain huggingface_hub calls (tree, snapshot, deletes, 409, YAML)."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError
    api = HfApi()
    api.create_repo("alice/raw")
    with pytest.raises(HfHubHTTPError) as info:
        api.create_repo("alice/raw")
    assert info.value.response.status_code == 409
    assert api.create_repo("alice/raw", exist_ok=True) == f"{hub.url}/alice/raw"
    api.upload_file(path_or_fileobj=b"a", path_in_repo="dir/a.txt", repo_id="alice/raw")
    api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id="alice/raw")
    assert sorted(api.list_repo_files("alice/raw")) == [".gitattributes", "b.txt", "dir/a.txt"]
    tree = {e.path: type(e).__name__ for e in api.list_repo_tree("alice/raw", recursive=True)}
    assert tree["dir"] == "RepoFolder" and tree["dir/a.txt"] == "RepoFile"
    snap = snapshot_download("alice/raw", allow_patterns=["*.txt"])
    assert (tmp_path / "hf-home" / "hub") in Path(snap).parents
    assert open(f"{snap}/dir/a.txt").read() == "a"
    api.delete_file("b.txt", repo_id="alice/raw")
    assert not api.file_exists("alice/raw", "b.txt") and api.file_exists("alice/raw", "dir/a.txt")
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download("alice/raw", "b.txt")
    with pytest.raises(ValueError, match="Invalid metadata"):
        api.upload_file(path_or_fileobj=b"---\nmodel-index: 3\n---\n", path_in_repo="README.md", repo_id="alice/raw")
