"""`tonezoo train` and `tonezoo process` end to end on real WAV files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tonezoo.cli import main
from tonezoo.model import Model


@pytest.fixture(scope="module")
def wavs(tmp_path_factory, od_arrays):
    x, y, sr = od_arrays
    d = tmp_path_factory.mktemp("wavs")
    sf.write(d / "in.wav", x, sr, subtype="PCM_24")
    sf.write(d / "out.wav", y, sr, subtype="PCM_24")
    return d / "in.wav", d / "out.wav"


@pytest.fixture(scope="module")
def trained_dir(wavs, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "od"
    rc = main(["train", str(wavs[0]), str(wavs[1]), "-o", str(out), "--epochs", "4", "--hidden", "6", "--quiet"])
    assert rc == 0
    return out


def test_train_writes_a_model_and_json_summary(wavs, tmp_path, capsys):
    out = tmp_path / "m"
    rc = main(["train", str(wavs[0]), str(wavs[1]), "-o", str(out), "--epochs", "2", "--hidden", "6",
               "--json", "--quiet", "--plot", str(tmp_path / "loss.png")])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("first_val_esr", "best_val_esr", "epochs", "seconds", "stop_reason", "model", "from"):
        assert key in summary
    assert summary["epochs"] == 2 and summary["from"] is None and summary["model"] == str(out)
    assert summary["best_val_esr"] <= summary["first_val_esr"]
    m = Model.load(out)
    assert m.config.hidden_size == 6 and m.metadata["val_esr"] == pytest.approx(summary["best_val_esr"], rel=1e-4)
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_fine_tune_from_a_model_directory(wavs, trained_dir, tmp_path, capsys):
    src = Model.load(trained_dir)
    rc = main(["train", str(wavs[0]), str(wavs[1]), "-o", str(tmp_path / "ft"), "--from", str(trained_dir),
               "--epochs", "2", "--json", "--quiet"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["from"] == str(trained_dir)
    assert summary["first_val_esr"] == pytest.approx(src.metadata["val_esr"], rel=1e-3)
    assert Model.load(tmp_path / "ft").metadata["base_model"]
    # the fine-tune warmed its learning rate up; --lr-warmup 0 takes full steps from the first
    rc = main(["train", str(wavs[0]), str(wavs[1]), "-o", str(tmp_path / "ft0"), "--from", str(trained_dir),
               "--epochs", "2", "--json", "--quiet", "--lr-warmup", "0"])
    assert rc == 0
    cold = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cold["first_val_esr"] == summary["first_val_esr"] and cold["best_val_esr"] != summary["best_val_esr"]


def test_bad_inputs_exit_2_with_a_message(wavs, trained_dir, tmp_path, capsys):
    rc = main(["train", str(tmp_path / "nope.wav"), str(wavs[1]), "-o", str(tmp_path / "x"), "--quiet"])
    assert rc == 2
    assert "nope.wav" in capsys.readouterr().err
    rc = main(["train", str(wavs[0]), str(wavs[1]), "-o", str(tmp_path / "x"), "--from", str(trained_dir),
               "--hidden", "20", "--quiet"])
    assert rc == 2
    assert "same architecture" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    rc = main(["train", str(wavs[0]), str(wavs[1]), "-o", str(tmp_path / "x"), "--knob", "gain=7", "--quiet"])
    assert rc == 2
    rc = main(["train", str(wavs[0]), str(wavs[1]), "-o", str(tmp_path / "x"), "--lr-warmup", "-1", "--quiet"])
    assert rc == 2 and "--lr-warmup must be 0" in capsys.readouterr().err
    for extra, said in ((["--race", "2"], "--race goes with --from auto"),
                        (["--zoo", str(tmp_path)], "--zoo goes with --from auto or --from ZOO_ID"),
                        (["--from", str(trained_dir), "--race-epochs", "2"], "--race-epochs goes with --from auto")):
        assert main(["train", str(wavs[0]), str(wavs[1]), "-o", str(tmp_path / "x"), *extra, "--quiet"]) == 2
        assert said in capsys.readouterr().err, extra
    assert not (tmp_path / "x").exists()


def test_process_runs_the_model(wavs, trained_dir, tmp_path, capsys):
    out = tmp_path / "wet.wav"
    assert main(["process", str(trained_dir), str(wavs[0]), str(out)]) == 0
    y, sr = sf.read(out, dtype="float32")
    x, _ = sf.read(wavs[0], dtype="float32")
    model = Model.load(trained_dir)
    np.testing.assert_allclose(y, model.process(x, prewarm=True), atol=1e-6)      # started at rest
    # the CLI's model keeps the training DI's peak: hot input warns
    assert model.metadata["input_peak_dbfs"] <= 20 * np.log10(np.max(np.abs(x))) + 0.01
    assert main(["process", str(tmp_path / "missing"), str(wavs[0]), str(out)]) == 2


def test_expected_time_line_counts_the_from_scratch_contender(capsys):
    """``--from auto`` trains a from-scratch contender after the fine-tuning run: the one timing
    line adds its budget, or names it when only the contender's run was long enough to time."""
    from tonezoo._cli.train import _Timing
    race, one = [{}, {}, {}], [{}]
    timing = _Timing(5, False, contender=True)
    for epoch, rows in [(1, race), (2, one), (3, one), (4, one), (1, one), (2, one)]:
        timing(epoch, rows)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "at most 2 more epochs" in lines[0]
    assert "then the from-scratch contender: at most 5 epochs" in lines[0]
    timing = _Timing(3, False, contender=True)            # the fine-tuning run ends before it is timed
    for epoch, rows in [(1, race), (2, one), (3, one), (1, one), (2, one), (3, one)]:
        timing(epoch, rows)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("the from-scratch contender: about")
    assert "at most 1 more epoch," in lines[0]
    timing = _Timing(4, False)                              # no contender: the plain line
    for epoch in (1, 2, 3):
        timing(epoch, one)
    (line,) = capsys.readouterr().out.splitlines()
    assert "contender" not in line and "at most 2 more epochs" in line


def test_fine_tune_a_model_of_another_sample_rate(wavs, trained_dir, tmp_path, capsys):
    import dataclasses
    src = Model.load(trained_dir)                       # trained at the capture's rate; relabel it 48 kHz
    other = Model(dataclasses.replace(src.config, sample_rate=48000), src.params, dict(src.metadata))
    other.save(tmp_path / "at48k")
    rc = main(["train", str(wavs[0]), str(wavs[1]), "-o", str(tmp_path / "ft"), "--from", str(tmp_path / "at48k"),
               "--epochs", "1", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    said = capsys.readouterr().out
    assert "trained at 48000 Hz, the capture is at" in said
    assert "training at most 1 epoch on" in said and "1 epochs" not in said          # the count's number
    assert Model.load(tmp_path / "ft").config.sample_rate == src.config.sample_rate


def test_the_start_line_and_the_card_give_the_same_refit_figures():
    from tonezoo._cli.train import start_line
    from tonezoo.card import _refit_text
    # an ESR measured by start_note (float32 output, the training loss's denominator) differs in the
    # fourth digit from the record refit_output keeps: the line prints the record, as the card does
    note = {"esr": 0.50171, "matched_esr": 0.49, "gain_db": 0.2, "inverted": False}
    record = {"esr_before": 0.61, "esr_after": 0.4, "seconds": 3.0, "val_esr_before": 0.50134,
              "val_esr_after": 0.49612, "val_seconds": 10.0, "fit": "least squares"}
    line = start_line("od-hump-s1", note, record)
    assert "validation ESR 0.5013 as it is; 0.4961 once its output layer is refit" in line
    assert "on 10.0 s of validation audio" in line and "0.5017" not in line
    assert "ESR 0.5013 -> 0.4961 on 10.0 s of validation audio" in _refit_text(record)
    # no record (the layer kept as it was): the start's own figure
    assert "validation ESR 0.5017 as it is" in start_line("od-hump-s1", note, None)

