"""The command line as a user runs it (subprocesses): outputs checked before any work, nothing of the
user's destroyed, Ctrl-C keeps the best model and exits 130, honest metadata, pipes, rates, no-network."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

CLI = [sys.executable, "-m", "tonezoo.cli"]


def tz(*args, cwd=None, env=None, timeout=300):
    """Run ``tonezoo ARGS`` as a user does; returns the CompletedProcess (text)."""
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, env={**os.environ, **(env or {})}, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, od_arrays):
    """A folder the user recorded into: a DI and the device's output (6 s, 22.05 kHz)."""
    x, y, sr = od_arrays
    d = tmp_path_factory.mktemp("rec") / "c"
    d.mkdir()
    sf.write(d / "di.wav", x, sr, subtype="PCM_24")
    sf.write(d / "amp.wav", y, sr, subtype="PCM_24")
    return d


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_output_paths_are_checked_before_any_work(recordings, tmp_path):
    before = _snapshot(recordings)
    di, amp = recordings / "di.wav", recordings / "amp.wav"
    (tmp_path / "a_directory").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "take.wav").write_bytes(b"RIFF-mine")
    cases = [
        (["train", di, amp, "-o", recordings], "holds other files"),
        (["train", di, amp, "-o", recordings, "--overwrite"], "holds other files"),
        (["train", di, amp, "-o", "."], "current folder"),
        (["train", di, amp, "-o", "some_file.wav"], "audio file"),
        (["train", di, amp, "-o", "notes.txt"], "is a file"),
        (["train", di, amp, "-o", "m", "--plot", "a_directory"], "is a folder"),
        (["process", "any-model", di, "a_directory"], "is a folder"),
        (["process", "any-model", di, "missing_dir/out.wav"], "does not exist"),
        (["export", "any-model", "--format", "nam", "-o", "a_directory"], "is a folder"),
        (["export", "any-model", "--format", "nam", "-o", "missing_dir/x.nam"], "does not exist"),
        (["export", "any-model", "--format", "nam", "-o", "notes.txt"], "ending in"),
        (["process", "any-model", di, "notes.txt"], "ending in"),
        (["render", "screamer", di, "a_directory"], "is a folder"),
        (["capture-signal", "a_directory"], "is a folder"),
        (["capture-signal", "notes.txt"], "ending in"),
        (["render", "screamer", "--capture", recordings], "holds other files"),
        (["render", "screamer", di, "take.wav"], "already exists; pass --overwrite"),
        (["capture-signal", "take.wav"], "already exists; pass --overwrite"),
        (["process", "any-model", di, "take.wav"], "already exists; pass --overwrite"),
        (["suggest", di, amp, "--plot", "ranking.txt"], "ending in .png"),
        (["train", di, amp, "-o", "m", "--checkpoint", "notes.txt"], "is a file"),
        (["train", di, amp, "-o", "m", "--checkpoint", recordings], "holds other files"),
    ]
    for args, why in cases:
        t0 = time.perf_counter()
        r = tz(*args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert why in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert time.perf_counter() - t0 < 20, args                 # refused up front, not after training
    assert _snapshot(recordings) == before                           # the recordings survive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_directory", "notes.txt", "take.wav"]  # nothing half-written
    assert (tmp_path / "take.wav").read_bytes() == b"RIFF-mine"
    assert list((tmp_path / "a_directory").iterdir()) == []


def test_overwrite_replaces_only_a_model(recordings, tmp_path):
    out = tmp_path / "m"
    args = ["train", recordings / "di.wav", recordings / "amp.wav", "-o", out, "--epochs", "1", "--hidden", "4",
            "--quiet"]
    _model_dir(out, hidden=4, sample_rate=22050)                         # an earlier model
    r = tz(*args)
    assert r.returncode == 2 and "--overwrite" in r.stderr
    r = tz(*args, "--overwrite", "--category", "overdrive")
    assert r.returncode == 0, r.stderr
    md = json.loads((out / "config.json").read_text())["metadata"]
    assert md["category"] == "overdrive" and md["category_source"] == "user" and md["best_epoch"] <= md["epochs"]
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    (out / "take2.wav").write_bytes(b"RIFF")                          # the user put a file in it
    r = tz(*args, "--overwrite")
    assert r.returncode == 2 and "take2.wav" in r.stderr and (out / "take2.wav").exists()


def _run_until(cmd, marker: str, *, then: float, env=None):
    """Start ``cmd``, read stdout line by line (the run must print as it goes, into a pipe) until a
    line holds ``marker``, wait ``then`` s, send SIGINT; returns (returncode, seconds after SIGINT, output)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, **(env or {})})
    lines = []
    for line in p.stdout:
        lines.append(line)
        if marker in line:
            break
    else:
        p.wait()
        pytest.fail("never saw " + repr(marker) + ":\n" + "".join(lines))
    time.sleep(then)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    rest, _ = p.communicate(timeout=120)
    return p.returncode, time.perf_counter() - t0, "".join(lines) + rest


def test_ctrl_c_during_training_keeps_the_best_model_and_exits_130(recordings, tmp_path):
    out = tmp_path / "m"
    cmd = [*CLI, "train", str(recordings / "di.wav"), str(recordings / "amp.wav"), "-o", str(out),
           "--epochs", "500", "--hidden", "4", "--quiet"]
    rc, after, text = _run_until(cmd, "s/epoch", then=0.5)        # the timing line: past compiling
    assert rc == 130, text
    assert after < 5, after
    assert "interrupted" in text and "Traceback" not in text
    md = json.loads((out / "config.json").read_text())["metadata"]
    assert md["stop_reason"] == "interrupted" and 2 <= md["epochs"] < 500


def test_ctrl_c_during_the_race_stops_the_run(recordings, tmp_path):
    out = tmp_path / "m"
    cmd = [*CLI, "train", str(recordings / "di.wav"), str(recordings / "amp.wav"), "-o", str(out),
           "--from", "auto", "--epochs", "60"]
    rc, after, text = _run_until(cmd, "starting from", then=1.0)
    assert rc == 130, text
    assert "Traceback" not in text
    if out.exists():                       # interrupted after the race's first epoch: its best is kept
        md = json.loads((out / "config.json").read_text())["metadata"]
        assert md["stop_reason"] == "interrupted" and md["epochs"] < 10
        assert md["base_model"] and "device" not in md and "description" not in md


def test_zoo_pull_without_network_fails_fast(tmp_path):
    import socket
    with socket.socket() as s:                                 # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0"}
    for args in (["zoo", "pull", "--zoo", tmp_path / "z"], ["pull", "me/amp", "-o", tmp_path / "m"]):
        t0 = time.perf_counter()
        r = tz(*args, env=env)
        assert r.returncode == 2 and "cannot reach the Hugging Face Hub" in r.stderr, r.stderr
        assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "z").exists() and not (tmp_path / "m").exists()
    # a malformed repo id is the user's mistake, said before any network error
    m = _model_dir(tmp_path / "amp", hidden=4, sample_rate=44100)
    for args in (["push", m, "me/amp/v2"], ["pull", "me//amp", "-o", tmp_path / "m"]):
        r = tz(*args, env=env)
        assert r.returncode == 2 and "is not a Hub repo id" in r.stderr, r.stderr


def _model_dir(path: Path, *, hidden: int, sample_rate: int) -> Path:
    import jax
    from tonezoo.model import Model, ModelConfig, init
    cfg = ModelConfig(hidden_size=hidden, sample_rate=sample_rate)
    return Model(cfg, init(cfg, jax.random.PRNGKey(0)), {"name": path.name}).save(path)


def test_export_for_a_player_at_another_rate_is_refused_or_forced(tmp_path):
    m48 = _model_dir(tmp_path / "amp48", hidden=40, sample_rate=48000)
    r = tz("export", m48, "--format", "agam", "--player", "proteus", "-o", tmp_path / "p.json")
    assert r.returncode == 2 and "44100 Hz" in r.stderr and "48000 Hz" in r.stderr and "--any-rate" in r.stderr
    assert not (tmp_path / "p.json").exists()
    r = tz("export", m48, "--format", "agam", "--player", "proteus", "-o", tmp_path / "p.json", "--any-rate")
    assert r.returncode == 0 and "48000 Hz" in r.stdout and "will not sound as trained" in r.stderr
    assert "records no sample rate" in r.stderr
    r = tz("export", m48, "--format", "agam", "--player", "proteus", "-o", tmp_path / "p.json", "--force",
           "--overwrite")                                             # the earlier name still works
    assert r.returncode == 0 and "will not sound as trained" in r.stderr
    assert "--force" not in tz("export", "--help").stdout and "--force" not in tz("import", "--help").stdout
    m44 = _model_dir(tmp_path / "amp44", hidden=16, sample_rate=44100)
    r = tz("export", m44, "--format", "aidax", "--player", "aida-x", "-o", tmp_path / "a.json")
    assert r.returncode == 2 and "48000 Hz" in r.stderr and not (tmp_path / "a.json").exists()
    r = tz("export", m48, "--format", "aidax", "-o", tmp_path / "a.json")      # the file records its rate
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "a.json").read_text())["metadata"]["samplerate"] == "48000"


def test_process_runs_the_model_at_its_own_rate(tmp_path):
    m = _model_dir(tmp_path / "m", hidden=4, sample_rate=22050)
    sr = 44100
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)).astype(np.float32)
    sf.write(tmp_path / "gtr.wav", x, sr)
    r = tz("process", m, tmp_path / "gtr.wav", tmp_path / "wet2.wav")          # resampled by default
    assert r.returncode == 0 and "resampled 44100 -> 22050 -> 44100 Hz" in r.stdout, r.stderr
    assert "warning" not in r.stderr
    y, ysr = sf.read(tmp_path / "wet2.wav")
    assert ysr == sr and len(y) == len(x)
    r = tz("process", m, tmp_path / "gtr.wav", tmp_path / "wet3.wav", "--no-resample")
    assert r.returncode == 0 and "resampled" not in r.stdout and "--no-resample runs it at 44100 Hz" in r.stderr
    y3, _ = sf.read(tmp_path / "wet3.wav")
    assert len(y3) == len(x) and not np.allclose(y3, y, atol=1e-4)
    r = tz("process", m, tmp_path / "gtr.wav", tmp_path / "wet2.wav")
    assert r.returncode == 2 and "--overwrite" in r.stderr
    # a missing input is reported as such, even where the output name is taken
    r = tz("process", m, tmp_path / "typo.wav", tmp_path / "wet2.wav")
    assert r.returncode == 2 and "typo.wav" in r.stderr and "--overwrite" not in r.stderr, r.stderr


def test_process_takes_a_channel_of_a_stereo_input(tmp_path):
    m = _model_dir(tmp_path / "m", hidden=4, sample_rate=44100)
    sr = 44100
    t = np.arange(sr) / sr
    st = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], axis=1)
    sf.write(tmp_path / "st.wav", st.astype(np.float32), sr)
    r = tz("process", m, tmp_path / "st.wav", tmp_path / "wet.wav")
    # the advice names this command's own option, not the library's keyword
    assert r.returncode == 2 and "--channel 0" in r.stderr and "channel=" not in r.stderr, r.stderr
    assert not (tmp_path / "wet.wav").exists()
    r = tz("process", m, tmp_path / "st.wav", tmp_path / "wet.wav", "--channel", "1")
    assert r.returncode == 0, r.stderr
    from tonezoo.model import Model
    model = Model.load(m)
    got = sf.read(tmp_path / "wet.wav")[0]
    assert np.max(np.abs(got - model.process(st[:, 1].astype(np.float32), prewarm=True))) < 1e-3   # the right channel
    assert np.max(np.abs(got - model.process(st[:, 0].astype(np.float32), prewarm=True))) > 1e-2


def test_a_reader_that_goes_away_is_no_error(tmp_path):
    p = subprocess.Popen([*CLI, "capture-signal", str(tmp_path / "reamp.wav"), "--seconds", "10"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.readline()                    # `| head -1`
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=60) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err
    assert sf.info(str(tmp_path / "reamp.wav")).duration == pytest.approx(10, abs=0.01)
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "reamp.wav").stat().st_mode & 0o777 == 0o666 & ~mask   # the user's usual permissions


def test_ctrl_c_during_a_zoo_build_keeps_finished_models_only(tmp_path):
    cmd = [*CLI, "zoo", "build", "--from-devices", str(tmp_path / "z"), "--only", "boost", "--seconds", "4",
           "--epochs", "500"]
    rc, after, text = _run_until(cmd, "training 1 model (4 s each)", then=4.0)
    assert rc == 130 and "resumes" in text and "Traceback" not in text, text
    assert after < 10
    from tonezoo.zoo import Zoo
    assert len(Zoo.open(tmp_path / "z")) == 0                 # the half-trained model is not in the zoo


def test_a_bare_model_name_is_a_zoo_id_or_a_clear_error(recordings, tmp_path):
    """``suggest`` prints zoo ids: ``process``/``--from`` take them; an unknown bare name is not sent to the Hub."""
    di = recordings / "di.wav"
    bad = tz("process", "no-such-model", di, tmp_path / "wet.wav", timeout=120)
    assert bad.returncode == 2, bad.stderr
    assert "'no-such-model' is not a model folder" in bad.stderr and "tonezoo zoo list" in bad.stderr
    assert "Hub" not in bad.stderr.split("error:")[0]            # no Hub round trip before the error
    assert not (tmp_path / "wet.wav").exists()
    ok = tz("process", "plexi-crunch", di, tmp_path / "wet.wav", "--resample", timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert sf.info(str(tmp_path / "wet.wav")).frames > 0


def test_process_warns_about_input_louder_than_the_capture(tmp_path):
    import jax
    from tonezoo.model import LEVEL_MARGIN_DB, Model, ModelConfig, init
    cfg = ModelConfig(hidden_size=4, sample_rate=44100)
    m = Model(cfg, init(cfg, jax.random.PRNGKey(0)), {"name": "quiet-di", "input_peak_dbfs": -20.0}).save(tmp_path / "m")
    sr = 44100
    t = np.arange(sr) / sr
    for name, peak_db in (("hot.wav", -20.0 + LEVEL_MARGIN_DB + 4.0), ("ok.wav", -20.0 + LEVEL_MARGIN_DB - 2.0)):
        sf.write(tmp_path / name, (10 ** (peak_db / 20) * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    r = tz("process", m, tmp_path / "hot.wav", tmp_path / "wet_hot.wav")
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "-10.0 dBFS" in r.stderr and "10.0 dB above" in r.stderr, r.stderr
    assert "-20.0 dBFS" in r.stderr and (tmp_path / "wet_hot.wav").exists()
    r = tz("process", m, tmp_path / "ok.wav", tmp_path / "wet_ok.wav")
    assert r.returncode == 0 and "dB above" not in r.stderr, r.stderr


def test_an_output_that_is_the_input_is_refused(tmp_path):
    import soundfile as sf
    from tonezoo.signals import synth_di
    wav = tmp_path / "di.wav"
    sf.write(wav, synth_di(0.5, 44100, seed=1), 44100, subtype="PCM_24")
    before = wav.read_bytes()
    m = _model_dir(tmp_path / "amp", hidden=4, sample_rate=44100)
    for args in (["process", m, wav, wav, "--overwrite"], ["render", "ts9-like", wav, wav, "--overwrite"]):
        r = tz(*args)
        assert r.returncode == 2, r.stderr
        assert f"the output file {wav} (OUT.wav) is the input file too" in r.stderr, r.stderr
        assert f"give the output another name, e.g. {tmp_path / 'di-out.wav'}" in r.stderr, r.stderr
    assert wav.read_bytes() == before


def test_an_export_into_its_own_model_folder_suggests_a_file_beside_it(tmp_path):
    m = _model_dir(tmp_path / "my-amp", hidden=4, sample_rate=48000)
    before = sorted(p.name for p in m.iterdir())
    r = tz("export", "my-amp", "--format", "nam", "-o", "my-amp", cwd=tmp_path)
    assert r.returncode == 2 and "-o my-amp: is a model folder; give a file name, e.g. my-amp.nam" in r.stderr, r.stderr
    (tmp_path / "exports").mkdir()
    r = tz("export", str(m), "--format", "nam", "-o", "exports", cwd=tmp_path)
    assert r.returncode == 2 and "is a folder; give a file name, e.g. exports/out.nam" in r.stderr, r.stderr
    assert sorted(p.name for p in m.iterdir()) == before                  # nothing written into the model
    assert not any((tmp_path / "exports").iterdir())
