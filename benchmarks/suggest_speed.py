"""Speed of model selection: ``tonezoo suggest`` cold and warm, the fingerprint and the stage-2 re-rank.

* cold: ``tonezoo suggest DI.wav OUT.wav`` on a 60 s capture in a fresh process (imports, index,
  fingerprint, compiles, ranking), timed from outside, with an empty persistent compilation
  cache (first run ever) and with the cache the first run filled (every later run);
* warm: the same ``Zoo.suggest`` call again in one process;
* fingerprint: :func:`tonezoo.embed.fingerprint_capture` of the 60 s capture (20 s analysed), warm;
* stage 2: zero-shot ESR of 64 LSTM-20 models over 5 s of audio (one compiled program), warm;
* the device-kind classifier on the same capture (``tonezoo suggest`` prints its call), warm.

Each figure is the best of ``--repeat`` runs (the machine may be shared); the load average is recorded.

Usage::  python benchmarks/suggest_speed.py [--repeat 3]   (writes benchmarks/results/suggest_speed.json)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tonezoo import embed
from tonezoo.devices import render_capture
from tonezoo.model import Model, ModelConfig
from tonezoo.batched import zero_shot_esr
from tonezoo.zoo import Zoo


def timed(fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def cli_seconds(di: str, out: str, cache: str) -> float:
    env = dict(os.environ, TONEZOO_CACHE=cache)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tonezoo.cli", "suggest", di, out], check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    cap = render_capture("ht40-like", seconds=60.0, seed=1)
    with tempfile.TemporaryDirectory() as d:
        sf.write(f"{d}/di.wav", cap.x, cap.sample_rate, subtype="FLOAT")
        sf.write(f"{d}/out.wav", cap.y, cap.sample_rate, subtype="FLOAT")
        no_cache = min(cli_seconds(f"{d}/di.wav", f"{d}/out.wav", "off") for _ in range(args.repeat))
        first = cli_seconds(f"{d}/di.wav", f"{d}/out.wav", f"{d}/jax-cache")
        cached = min(cli_seconds(f"{d}/di.wav", f"{d}/out.wav", f"{d}/jax-cache") for _ in range(args.repeat))
    zoo = Zoo.default()
    t0 = time.perf_counter()
    zoo.suggest(cap)
    first_in_process = time.perf_counter() - t0
    warm = timed(lambda: zoo.suggest(cap), args.repeat)
    c0 = time.process_time()
    zoo.suggest(cap)
    warm_cpu = time.process_time() - c0                     # CPU seconds: what a loaded machine does not inflate
    from tonezoo.classify import Classifier
    clf = Classifier.default()
    classify = timed(lambda: clf.classify_capture(cap), args.repeat)
    fingerprint = timed(lambda: embed.fingerprint_capture(cap), args.repeat)
    models = [Model.create(ModelConfig(), seed=i) for i in range(64)]
    x, y = cap.x[: 5 * cap.sample_rate], cap.y[: 5 * cap.sample_rate]
    stage2_first = timed(lambda: zero_shot_esr(models, x, y, sample_rate=cap.sample_rate, seconds=5.0), repeat=1)
    stage2 = timed(lambda: zero_shot_esr(models, x, y, sample_rate=cap.sample_rate, seconds=5.0), args.repeat)
    result = {"capture_seconds": 60.0, "zoo_models": len(zoo), "repeat": args.repeat,
              "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
              "cold_cli_no_compile_cache_seconds": round(no_cache, 2),
              "cold_cli_first_run_filling_cache_seconds": round(first, 2),
              "cold_cli_seconds": round(cached, 2),
              "first_call_in_process_seconds": round(first_in_process, 2), "warm_seconds": round(warm, 3),
              "warm_cpu_seconds": round(warm_cpu, 3), "classify_warm_seconds": round(classify, 3),
              "fingerprint_60s_capture_seconds": round(fingerprint, 3),
              "stage2_64_models_5s_first_seconds": round(stage2_first, 2),
              "stage2_64_models_5s_warm_seconds": round(stage2, 3)}
    out = Path(__file__).parent / "results" / "suggest_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
