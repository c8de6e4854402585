"""The benchmark scripts' --quick modes run to completion and write the JSON they promise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"

pytestmark = pytest.mark.slow


def _run(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _default_zoo_ok() -> bool:
    from tonezoo.errors import ZooError
    from tonezoo.zoo import Zoo
    try:
        return len(Zoo.default()) > 0
    except ZooError:
        return False


def test_transfer_table_quick(tmp_path: Path) -> None:
    # the short-data configurations only: the full-data ones take the same code path
    proc = _run("transfer_table.py", "--quick", "--out", str(tmp_path), "--fixtures", str(FIXTURES), "--data", "short")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "transfer_table_quick.json").read_text())
    assert {"benchmark", "settings", "train_config", "machine", "configs", "skipped", "sources"} <= set(report)
    assert report["settings"]["quick"] is True
    assert report["train_config"]["val_every"] == 2 and report["train_config"]["patience"] == 25
    pairs = {c["pair"] for c in report["configs"]}
    assert "virtual-ts9-mt2" in pairs
    assert "virtual-ts9-mt2" in report["sources"]          # the virtual source model was trained first
    if FIXTURES.is_dir():
        assert "real-bluesjr-ht40" in pairs
    else:
        assert any("real-bluesjr-ht40" in m for m in report["skipped"])
    with_zoo = _default_zoo_ok()
    for c in report["configs"]:
        assert {c["data"]} <= {"full", "short"}
        runs = {r["run"]: r for r in c["runs"]}
        assert {"scratch", "transfer"} <= set(runs)
        assert ("auto" in runs) == with_zoo
        for r in c["runs"]:
            for key in ("first_val_loss", "best_val_loss", "best_epoch", "epochs", "seconds", "seconds_per_epoch"):
                assert key in r
            assert r["best_val_loss"] <= r["first_val_loss"]
            assert 0 <= r["best_epoch"] <= r["epochs"] == report["settings"]["max_epochs"]
            seen = [h[0] for h in r["history"]]
            assert seen[0] == 0 and seen == sorted(set(seen)) and seen[-1] == r["epochs"]
            if r["run"] != "auto":                         # the auto run's race validates every epoch
                assert len(r["history"]) == r["epochs"] // 2 + 1
        assert runs["transfer"]["start"] and runs["scratch"]["start"] is None
        assert "first_loss_ratio_scratch_over_transfer" in c["summary"]
        assert (tmp_path / "figures" / f"transfer_{c['pair']}_{c['data']}.png").stat().st_size > 1000
    assert {c["data"] for c in report["configs"]} == {"short"}
    for c in report["configs"]:
        # less what alignment removed: on 3 s of a high-gain device the correlation can find a
        # delay of a few hundred samples (docs/captures.md)
        assert c["train_seconds"] == pytest.approx(report["settings"]["short_seconds"], abs=0.05)
        assert c["train_seconds"] < report["settings"]["full_seconds"]
        assert c["val_seconds"] == pytest.approx(report["settings"]["val_seconds"], abs=0.05)
    assert "scratch" in proc.stdout and "transfer" in proc.stdout   # the printed table


def test_transfer_table_combine(tmp_path: Path) -> None:
    base = {"benchmark": "transfer_table", "settings": {"quick": True}, "command": "x", "seconds": 1.0,
            "skipped": [], "sources": {}}
    row = {"run": "scratch", "start": None, "first_val_loss": 1.0, "best_val_loss": 0.5, "best_epoch": 2,
           "epochs": 4, "seconds": 1.0, "seconds_per_epoch": 0.25}
    cfg = {"train_seconds": 2.0, "runs": [row], "summary": {}, "article": "a"}
    (tmp_path / "a.json").write_text(json.dumps(dict(base, configs=[dict(cfg, pair="real-ts9-mt2", data="full")])))
    (tmp_path / "b.json").write_text(json.dumps(dict(base, configs=[dict(cfg, pair="virtual-ts9-mt2", data="short")])))
    proc = _run("transfer_table.py", "--combine", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                "--out", str(tmp_path / "all.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    merged = json.loads((tmp_path / "all.json").read_text())
    assert [(c["pair"], c["data"]) for c in merged["configs"]] == [("virtual-ts9-mt2", "short"),
                                                                    ("real-ts9-mt2", "full")]
    assert merged["configs"][0]["settings"] == {"quick": True}
    (tmp_path / "c.json").write_text(json.dumps(dict(base, configs=[dict(cfg, pair="real-ts9-mt2", data="full")])))
    proc = _run("transfer_table.py", "--combine", str(tmp_path / "a.json"), str(tmp_path / "c.json"),
                "--out", str(tmp_path / "all2.json"))
    assert proc.returncode != 0 and "two of the files" in proc.stderr


def test_speed_quick(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    proc = _run("speed.py", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert isinstance(report, dict) and report


def test_selection_quick(tmp_path: Path) -> None:
    out = tmp_path / "selection_quick.json"
    proc = _run("selection.py", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["rows"]
    from tonezoo.families import HELD_OUT_FAMILIES
    kinds = {r["kind"] for r in rows}
    assert "family" in kinds and (("real" in kinds) == (FIXTURES / "models").is_dir())
    for r in rows:
        if r["kind"] == "family":
            assert r["name"].rsplit("-s", 1)[0] in HELD_OUT_FAMILIES
        for key in ("pick_esr", "oracle_esr", "transfer_esr", "scratch_esr", "random_esr", "oracle_rerun_esr",
                    "pick_plain_esr", "transfer_esr_raw", "scratch_esr_raw", "transfer_esr_capture_level",
                    "scratch_esr_capture_level"):
            assert np.isfinite(r[key]) and r[key] >= 0.0, key
        assert r["oracle_esr"] == min(r["pool"].values()) <= r["pick_esr"]
        assert r["pool_size"] == len(r["pool"]) and r["pick"] in r["pool"]
        assert all(len(c) == report["settings"]["epochs"] + 1 for c in r["pool_val_curves"].values())
        assert r["latency_samples"] >= 0 and (r["latency_samples"] > 0 or r["transfer_esr"] == r["transfer_esr_raw"])
        assert r["half"] in ("A", "B") and r["category"] in r["accepted"]
        # the pool trains as transfer does: its run of transfer's winner is transfer's run, to the bit for an
        # LSTM (stacks of 3 and of 9 LSTMs round alike; WaveNet stacks of other sizes differ by ~1e-6)
        if r["transfer_id"] in r["pool"]:
            from tonezoo.zoo import Zoo
            lstm = Zoo.default().entry(r["transfer_id"]).config.arch == "lstm"
            assert r["transfer_is_pool_run"] or not lstm, (r["transfer_id"], r["transfer_esr"])
            assert r["transfer_esr"] == pytest.approx(r["pool"][r["transfer_id"]], rel=1e-2)
        assert {"capture_peak_dbfs", "fresh_peak_dbfs", "fresh_level_excess_db"} <= set(r)
        assert {"classifier", "classifier_confidence", "classifier_top1_ok"} <= set(r)
    assert {"A", "B", "all"} <= set(report["summary"]) and report["summary"]["all"]["targets"] == len(rows)
    assert 0 <= report["summary"]["all"]["transfer_over_10pct_worse_than_scratch_at_capture_level"] <= len(rows)
    assert "transfer / oracle" in proc.stdout
    # the race policies are read off the pool runs: the first suggestion alone is the pool's pick row
    pol = report["summary"]["all"]["race_policies"]
    alone = next(p for p in pol if p["race"] == 1)
    assert alone["within_10pct_of_oracle"] <= len(rows) and {p["race"] for p in pol} >= {1, 2, 3}
    # --report: a later file's row of a target replaces an earlier one's; another budget is refused
    import importlib.util
    spec = importlib.util.spec_from_file_location("selection", ROOT / "benchmarks" / "selection.py")
    selection = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(selection)
    merged = selection.merge_results([out, out])
    assert [r["name"] for r in merged["rows"]] == [r["name"] for r in rows]
    assert merged["summary"]["all"]["misses"] == report["summary"]["all"]["misses"]
    assert sum(merged["summary"]["all"]["misses"].values()) == sum(selection.miss_cause(r) != "" for r in rows)
    other = tmp_path / "other_budget.json"
    other.write_text(json.dumps(dict(report, settings=dict(report["settings"], epochs=5))))
    with pytest.raises(ValueError, match="other_budget.json"):
        selection.merge_results([out, other])
    # the halves may run different races (decided on A, reported on B), one half may not
    longer = tmp_path / "longer_race.json"
    longer.write_text(json.dumps(dict(report, settings=dict(report["settings"], race_epochs=9),
                                      rows=[dict(rows[0], name="another-target")])))
    with pytest.raises(ValueError, match="holds rows of races"):
        selection.merge_results([out, longer])
