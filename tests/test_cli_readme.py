"""The README's "Use it" commands, run as written, top to bottom, on a rendered capture.

The only additions are budget options that keep the test short (a 12 s re-amp signal, 2 epochs);
push goes to the local Hub server of tests/hub_server.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from hub_server import HubServer

README = Path(__file__).resolve().parents[1] / "README.md"
SHORT = {"capture-signal": ["--seconds", "12"], "train": ["--epochs", "2", "--race-epochs", "1"]}


def use_it_commands() -> list[list[str]]:
    text = README.read_text()
    block = re.search(r"## Use it\s+```bash\n(.*?)```", text, re.S).group(1)
    return [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.strip()]


def test_readme_use_it_sequence_runs_as_written(tmp_path):
    cmds = use_it_commands()
    assert [c[1] for c in cmds] == ["capture-signal", "suggest", "train", "process", "export", "push"]
    server = HubServer(token="hf_dummy_readme_token").start()
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": server.token,
           "HF_HUB_DISABLE_TELEMETRY": "1", "COLUMNS": "100",
           "TONEZOO_CACHE": str(tmp_path / "compile-cache")}   # a user's later commands reuse compiled programs
    env.pop("HF_HUB_OFFLINE", None)
    try:
        for cmd in cmds:
            assert cmd[0] == "tonezoo"
            args = [sys.executable, "-m", "tonezoo.cli", *cmd[1:], *SHORT.get(cmd[1], [])]
            r = subprocess.run(args, cwd=tmp_path, env=env, text=True, capture_output=True, timeout=600)
            assert r.returncode == 0, (cmd, r.stdout[-2000:], r.stderr[-2000:])
            if cmd[1] == "capture-signal":          # the user re-amps the signal through a device
                assert subprocess.run([sys.executable, "-m", "tonezoo.cli", "render", "mt2-like", "reamp.wav",
                                       "amp.wav"], cwd=tmp_path, env=env).returncode == 0
                (tmp_path / "di.wav").write_bytes((tmp_path / "reamp.wav").read_bytes())
                x, sr = sf.read(tmp_path / "reamp.wav")
                sf.write(tmp_path / "guitar.wav", x[: 3 * sr], sr)
            if cmd[1] == "suggest":                  # one line per model, sorted by the ESR it shows
                rows = [ln for ln in r.stdout.splitlines() if re.match(r"^│ +\d+ │", ln)]
                assert len(rows) >= 3 and all(len(ln) <= 100 for ln in r.stdout.splitlines())
                matched = [float(ln.split("│")[5]) for ln in rows]
                assert matched == sorted(matched)
            if cmd[1] == "train":
                assert "starting from" in r.stdout and "race:" in r.stdout
    finally:
        server.stop()
    assert (tmp_path / "loss.png").stat().st_size > 1000
    wet, sr = sf.read(tmp_path / "wet.wav")
    assert sr == 48000 and len(wet) == 3 * sr and np.isfinite(wet).all()
    assert (tmp_path / "my-amp.nam").stat().st_size > 1000
    md = json.loads((tmp_path / "my-amp" / "config.json").read_text())["metadata"]
    assert md["name"] == "my-amp" and md["best_epoch"] <= md["epochs"] == 2
    assert md.get("base_model") or md.get("final", {}).get("winner") == "scratch"   # the lineage
    assert "device" not in md and "description" not in md            # the start model's identity is gone
    if md.get("category_source") == "guess":                          # nobody named the device kind
        assert "classifier's guess" in (tmp_path / "my-amp" / "README.md").read_text()
    assert "me/my-amp" in server.repos
    assert not server.errors, server.errors[0]
