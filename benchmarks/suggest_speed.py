"""Speed of model selection: ``tonezoo suggest`` cold and warm, and the stage-2 re-rank.

* cold: ``tonezoo suggest DI.wav OUT.wav`` on a 60 s capture in a fresh process (imports, index,
  fingerprint, compiles, ranking), timed from outside;
* warm: the same ``Zoo.suggest`` call again in one process;
* stage 2: zero-shot ESR of 64 LSTM-20 models over 5 s of audio (one vmapped program), warm.

Usage::  python benchmarks/suggest_speed.py     (writes benchmarks/results/suggest_speed.json)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tonezoo.devices import render_capture
from tonezoo.model import Model, ModelConfig
from tonezoo.zoo import Zoo, zero_shot_esr


def timed(fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def main() -> int:
    cap = render_capture("ht40-like", seconds=60.0, seed=1)
    with tempfile.TemporaryDirectory() as d:
        sf.write(f"{d}/di.wav", cap.x, cap.sample_rate, subtype="FLOAT")
        sf.write(f"{d}/out.wav", cap.y, cap.sample_rate, subtype="FLOAT")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tonezoo.cli", "suggest", f"{d}/di.wav", f"{d}/out.wav"],
                       check=True, capture_output=True)
        cold = time.perf_counter() - t0
    zoo = Zoo.default()
    t0 = time.perf_counter()
    zoo.suggest(cap)
    first_in_process = time.perf_counter() - t0
    warm = timed(lambda: zoo.suggest(cap))
    models = [Model.create(ModelConfig(), seed=i) for i in range(64)]
    x, y = cap.x[: 5 * cap.sample_rate], cap.y[: 5 * cap.sample_rate]
    stage2_first = timed(lambda: zero_shot_esr(models, x, y, sample_rate=cap.sample_rate, seconds=5.0), repeat=1)
    stage2 = timed(lambda: zero_shot_esr(models, x, y, sample_rate=cap.sample_rate, seconds=5.0))
    result = {"capture_seconds": 60.0, "zoo_models": len(zoo), "cold_cli_seconds": round(cold, 2),
              "first_call_in_process_seconds": round(first_in_process, 2), "warm_seconds": round(warm, 3),
              "stage2_64_models_5s_first_seconds": round(stage2_first, 2),
              "stage2_64_models_5s_warm_seconds": round(stage2, 3)}
    out = Path(__file__).parent / "results" / "suggest_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
