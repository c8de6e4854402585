"""The article's transfer-learning experiment (its Table 1 and Figures 1-4), plus tonezoo's automatic pick.

For each device pair the target is trained three ways with the same recipe (AGAM, validation every
2 epochs, patience 25) and the same validation audio:

* ``scratch``  -- from a random initialisation;
* ``transfer`` -- from the *source* model the article used (the manual pick);
* ``auto``     -- what :meth:`tonezoo.Zoo.transfer` does by itself (``tonezoo train --from auto``: the top 3
  suggestions race for 2 epochs and the winner carries on, inside the same epoch budget).

and with two amounts of training audio: ``full`` (the article: 150 s and 3'20") and ``short``
(30 s; 40 s for the amp pair).

Every capture goes the user's way: input and target are written as 24-bit WAV files and read back
with :func:`tonezoo.load_capture` (alignment on, as ``tonezoo train`` does). Besides the validation
loss, every trained model is scored on **fresh audio** (another performance, rendered separately
through the target device) against the device's raw output (``fresh_esr``), advanced by the latency
``load_capture`` removed (``latency_samples``: 0 for every virtual pair, whose recordings have no
delay, so a model that plays ahead of or behind its device pays for it there; the NeuralPi HT40
carries a learned delay of its own, which alignment removes), and unshifted (``fresh_esr_raw``). Two versions of the pairs:

(a) ``virtual``: tonezoo's virtual devices, ``ts9-like -> mt2-like`` and ``bluesjr-like -> ht40-like``.
    The source model is first trained on a capture of the source device (another performance).
    The automatic pick searches the bundled default zoo (which never holds the targets).
(b) ``real``: real DI recordings (``<fixtures>/di/*.wav``, 48 kHz, resampled to 44.1 kHz) played
    through the article's own captured devices, the NeuralPi models ``neuralpi_mt2_highgain`` and
    ``neuralpi_ht40_overdrive`` (targets), with ``neuralpi_ts9_fulld`` and ``neuralpi_bluesjr`` as
    the sources. The HT40 and Blues Jr models have a second input (a gain knob), held at 0.5; the
    target models take the source's architecture (so the Blues Jr can initialise them). The
    automatic pick searches a copy of the default zoo with both source models added.

Usage::

    python benchmarks/transfer_table.py                       # everything, article sizes (hours on 2 cores)
    python benchmarks/transfer_table.py --full-seconds 100 --max-epochs 150
    python benchmarks/transfer_table.py --pairs virtual-ts9-mt2 --data short
    python benchmarks/transfer_table.py --quick --out /tmp/tt  # seconds of audio, a few epochs (CI)

Writes ``benchmarks/results/transfer_table.json`` (``transfer_table_quick.json`` with ``--quick``),
after every finished configuration, and one figure per configuration,
``docs/figures/transfer_<pair>_<data>.png`` (with ``--quick``: next to the JSON). ``--resume``
keeps the configurations a previous run with the same settings already wrote.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "figures"
SAMPLE_RATE = 44100
KNOB_VALUE = 0.5          # the gain knob of the 2-input NeuralPi models

# What the article reported (DESIGN.md section 1), for the printed table and the docs.
ARTICLE = {
    ("ts9-mt2", "full"): "first loss 0.37 -> 0.06; best loss improved by 0.004",
    ("ts9-mt2", "short"): "first loss much lower; best loss improved by 0.023; transfer ran to epoch 263",
    ("bluesjr-ht40", "full"): "first loss much lower; best loss 0.078 -> 0.036",
    ("bluesjr-ht40", "short"): "scratch never below 0.74 (stopped at epoch 68); transfer converged",
}


@dataclass(frozen=True)
class Pair:
    """One source -> target experiment.

    Attributes
    ----------
    name : str
        ``"<kind>-<article pair>"``, e.g. ``"virtual-ts9-mt2"``.
    kind : {"virtual", "real"}
    article : str
        The article's pair (``"ts9-mt2"`` or ``"bluesjr-ht40"``), the key of :data:`ARTICLE`.
    source, target : str
        Virtual device names, or NeuralPi fixture file stems (``models/agam/<stem>.json``).
    short_seconds : float
        Training audio of the ``short`` runs (the article: 30 s for the pedal pair, 40 s for the amps).
    """

    name: str
    kind: str
    article: str
    source: str
    target: str
    short_seconds: float


PAIRS = (
    Pair("virtual-ts9-mt2", "virtual", "ts9-mt2", "ts9-like", "mt2-like", 30.0),
    Pair("virtual-bluesjr-ht40", "virtual", "bluesjr-ht40", "bluesjr-like", "ht40-like", 40.0),
    Pair("real-ts9-mt2", "real", "ts9-mt2", "neuralpi_ts9_fulld", "neuralpi_mt2_highgain", 30.0),
    Pair("real-bluesjr-ht40", "real", "bluesjr-ht40", "neuralpi_bluesjr", "neuralpi_ht40_overdrive", 40.0),
)

# --quick covers both code paths with two pairs: a trained source without knobs, a 2-input real model
QUICK_PAIRS = ("virtual-ts9-mt2", "real-bluesjr-ht40")


# ------------------------------------------------------------------------------------------------
# captures
# ------------------------------------------------------------------------------------------------
def _capture(x: np.ndarray, y: np.ndarray, train_samples: int, val_samples: int, *, name: str,
             knobs: dict[str, float], metadata: dict[str, Any], folder: Path):
    """A capture holding ``train_samples`` of training audio followed by the validation audio.

    Parameters
    ----------
    x, y : np.ndarray [shape=(n,)]
        Input and target; the validation audio is their last ``val_samples``.
    train_samples, val_samples : int
    folder : Path
        Where the two 24-bit WAV files are written; they are read back with
        :func:`tonezoo.load_capture`, as ``tonezoo train`` does.

    Only what a user with that much audio would have is kept, so the zoo's fingerprint and
    zero-shot ranking see the same data as the training.
    """
    import soundfile as sf
    from tonezoo.capture import load_capture
    xs = np.concatenate([x[:train_samples], x[-val_samples:]])
    ys = np.concatenate([y[:train_samples], y[-val_samples:]])
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(str(folder / "input.wav"), xs, SAMPLE_RATE, subtype="PCM_24")
    sf.write(str(folder / "target.wav"), ys, SAMPLE_RATE, subtype="PCM_24")
    cap = load_capture(folder / "input.wav", folder / "target.wav", knobs=knobs or None, name=name,
                       val_fraction=val_samples / (train_samples + val_samples))
    cap.metadata.update(metadata)
    return cap


def fresh_esr(model, capture, fresh: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """ESR of ``model`` on fresh input against the device's raw output for it: (advanced, unshifted).

    The first is scored against the raw output advanced by the latency ``load_capture`` removed
    from the capture (``latency_samples``): a delay at the start of the device's response is taken
    for the recording chain's, so every model trained on the capture plays that far ahead of the
    device by design (``docs/captures.md``; as ``benchmarks/selection.py`` scores). The second is
    the raw output as it is. For captures without delay (every virtual pair) they are equal, and a
    model that plays ahead of or behind its device pays for it in both.
    """
    from _targets import advanced_esr
    x, y = fresh
    knobs = {k: capture.knobs[k] for k in model.config.knobs if k in capture.knobs}
    y_hat = np.asarray(model.process(x, knobs or None, check_level=False))
    shift = int(capture.metadata.get("latency_samples", 0))
    return advanced_esr(y, y_hat, shift), advanced_esr(y, y_hat, 0)


def virtual_audio(device: str, seconds: float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic guitar performance and a virtual device's output for it, [shape=(n,)] each."""
    from tonezoo.devices import render_pair
    x, y, _ = render_pair(device, seconds=seconds, sample_rate=SAMPLE_RATE, seed=seed, signal="di")
    return x, y


def load_di(fixtures: Path, seconds: float) -> np.ndarray:
    """The real DI recordings, resampled to 44.1 kHz, joined with 0.1 s gaps, first ``seconds`` of them.

    Returns
    -------
    x : np.ndarray [shape=(n,), dtype=float32], n <= seconds * 44100

    Raises
    ------
    FileNotFoundError
        When ``<fixtures>/di`` holds no WAV file.
    """
    import librosa
    import soundfile as sf
    files = sorted((fixtures / "di").glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"{fixtures / 'di'}: no DI recordings (*.wav) found")
    parts, total, gap = [], 0, np.zeros(int(0.1 * SAMPLE_RATE), np.float32)
    for f in files:
        audio, sr = sf.read(f, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if sr != SAMPLE_RATE:
            audio = librosa.resample(audio, orig_sr=sr, target_sr=SAMPLE_RATE)
        parts += [audio.astype(np.float32), gap]
        total += audio.size + gap.size
        if total >= seconds * SAMPLE_RATE:
            break
    return np.concatenate(parts)[: int(seconds * SAMPLE_RATE)]


def import_fixture(fixtures: Path, stem: str):
    """A NeuralPi model from ``<fixtures>/models/agam/<stem>.json`` (tonezoo.formats.import_model)."""
    from tonezoo.formats import import_model
    return import_model(fixtures / "models" / "agam" / f"{stem}.json", sample_rate=SAMPLE_RATE)


# ------------------------------------------------------------------------------------------------
# runs
# ------------------------------------------------------------------------------------------------
def _compact_history(result) -> list[list[float]]:
    """``[epoch, train_loss, val_loss]`` of every validation (train_loss None at epoch 0)."""
    return [[h["epoch"], h["train_loss"], h["val_loss"]] for h in result.history if h.get("val_loss") is not None]


def run_row(label: str, start: str | None, result, fresh: tuple[float, float] | None = None,
            **extra: Any) -> dict[str, Any]:
    """The table row of one training run (the article's Table 1 columns, fresh-audio ESR and a little more)."""
    row = {
        "run": label, "start": start, "fresh_esr": None if fresh is None else fresh[0],
        "fresh_esr_raw": None if fresh is None else fresh[1],
        "first_val_loss": result.first_val_loss, "best_val_loss": result.best_val_loss,
        "first_val_esr": result.first_val_esr, "best_val_esr": result.best_val_esr,
        "best_epoch": result.best_epoch, "epochs": result.epochs, "seconds": round(result.seconds, 2),
        "seconds_per_epoch": round(result.seconds_per_epoch, 3), "stop_reason": result.stop_reason,
        "history": _compact_history(result),
    }
    row.update(extra)
    return row


def _same_params(a, b) -> bool:
    import jax
    if a.config != b.config:
        return False
    return all(np.array_equal(np.asarray(u), np.asarray(v))
               for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)))


def run_config(capture, source_model, zoo, tcfg, *, scratch_config, log, fresh) -> tuple[list[dict], dict]:
    """Train the target from scratch, from the source, and from the zoo's automatic pick.

    Returns
    -------
    rows : list of dict
        One :func:`run_row` per run (``auto`` is missing when there is no zoo).
    results : dict label -> TrainResult (for the figure)
    """
    from tonezoo.train import train
    results, rows = {}, []
    log(f"  scratch ({scratch_config.cell.upper()}-{scratch_config.hidden_size}, knobs "
        f"{list(scratch_config.knobs)}) ...")
    r = train(capture, model_config=scratch_config, config=tcfg, progress=False)
    results["scratch"] = r
    rows.append(run_row("scratch", None, r, fresh_esr(r.model, capture, fresh)))
    log(f"    first {r.first_val_loss:.4f} best {r.best_val_loss:.4f} @ {r.best_epoch}/{r.epochs} "
        f"({r.seconds:.0f} s); best val ESR {r.best_val_esr:.4f}, fresh-audio ESR {rows[-1]['fresh_esr']:.4f}")
    log(f"  transfer from {source_model.name} ...")
    r = train(capture, init=source_model, config=tcfg, progress=False)
    results[f"transfer ({source_model.name})"] = r
    rows.append(run_row("transfer", source_model.name, r, fresh_esr(r.model, capture, fresh)))
    log(f"    first {r.first_val_loss:.4f} best {r.best_val_loss:.4f} @ {r.best_epoch}/{r.epochs} "
        f"({r.seconds:.0f} s); best val ESR {r.best_val_esr:.4f}, fresh-audio ESR {rows[-1]['fresh_esr']:.4f}")
    if zoo is None:
        return rows, results
    t0 = time.perf_counter()
    sugg = zoo.suggest(capture, top=5)
    suggest_s = time.perf_counter() - t0
    pick = sugg[0]
    ranking = [{"rank": s.rank, "id": s.id, "category": s.category, "distance": round(s.distance, 3),
                "zero_shot_esr": s.zero_shot_esr} for s in sugg]
    log(f"  auto: zoo ranked {pick.id} first ({pick.category}, zero-shot ESR {pick.zero_shot_esr}) "
        f"in {suggest_s:.1f} s")
    r = zoo.transfer(capture, suggestions=sugg, progress=False, config=tcfg)   # races the top 3 (the default)
    # the final may keep its from-scratch contender (source "scratch"): then no zoo model was the start
    chosen = next((s for s in sugg if s.id == r.source), None)
    same = chosen is not None and _same_params(zoo.start_model(chosen.id, capture), source_model)
    fresh_auto = fresh_esr(r.model, capture, fresh)
    log(f"    race won by {r.source}; first {r.first_val_loss:.4f} best {r.best_val_loss:.4f} @ "
        f"{r.best_epoch}/{r.epochs} ({r.seconds:.0f} s); best val ESR {r.best_val_esr:.4f}, fresh-audio ESR "
        f"{fresh_auto[0]:.4f}")
    results[f"auto ({r.source})"] = r
    rows.append(run_row("auto", r.source, r, fresh_auto, pick_category=chosen.category if chosen else None,
                        pick_zero_shot_esr=chosen.zero_shot_esr if chosen else None,
                        ranked_first=pick.id, race=r.model.metadata.get("race", []),
                        suggest_seconds=round(suggest_s, 2), same_start_as_transfer=same, ranking=ranking))
    return rows, results


def summarise(rows: list[dict]) -> dict[str, Any]:
    """Ratios the article's claims are about (scratch / transfer; auto against the manual source)."""
    by = {r["run"]: r for r in rows}
    s, t, a = by.get("scratch"), by.get("transfer"), by.get("auto")
    out: dict[str, Any] = {}
    if s and t:
        out["first_loss_ratio_scratch_over_transfer"] = s["first_val_loss"] / max(t["first_val_loss"], 1e-12)
        if len(s["history"]) > 1 and len(t["history"]) > 1:  # the first validation after training starts
            out["second_loss_ratio_scratch_over_transfer"] = s["history"][1][2] / max(t["history"][1][2], 1e-12)
        out["best_loss_ratio_scratch_over_transfer"] = s["best_val_loss"] / max(t["best_val_loss"], 1e-12)
        out["best_loss_improvement"] = s["best_val_loss"] - t["best_val_loss"]
    if t and a:
        out["auto_over_manual_best_loss"] = a["best_val_loss"] / max(t["best_val_loss"], 1e-12)
        out["auto_within_10_percent"] = bool(a["best_val_loss"] <= 1.1 * t["best_val_loss"])
    if s and a:
        out["auto_beats_scratch"] = bool(a["best_val_loss"] < s["best_val_loss"])
    return out


# ------------------------------------------------------------------------------------------------
# the pairs
# ------------------------------------------------------------------------------------------------
def prepare_virtual(pair: Pair, args, tcfg, log, tmp: Path) -> dict[str, Any]:
    """Captures (through WAV files), fresh audio and the trained source model of a virtual pair."""
    from tonezoo.devices import get_device
    from tonezoo.model import Model, ModelConfig
    from tonezoo.train import train
    n_full, n_val = int(args.full_seconds * SAMPLE_RATE), int(args.val_seconds * SAMPLE_RATE)
    seconds = args.full_seconds + args.val_seconds
    x, y = virtual_audio(pair.target, seconds, seed=args.seed + 11)
    md = {"device": pair.target, "category": get_device(pair.target).category}
    # a user's capture of a pedal carries no knob values: the target models are plain LSTM-20s
    caps = {"full": _capture(x, y, n_full, n_val, name=pair.target, knobs={}, metadata=md,
                             folder=tmp / pair.name / "full")}
    n_short = int(min(args.short_seconds or pair.short_seconds, args.full_seconds) * SAMPLE_RATE)
    caps["short"] = _capture(x, y, n_short, n_val, name=pair.target, knobs={}, metadata=md,
                             folder=tmp / pair.name / "short")
    fresh = virtual_audio(pair.target, args.fresh_seconds, seed=args.seed + 33)
    sx, sy = virtual_audio(pair.source, seconds, seed=args.seed + 22)
    src_cap = _capture(sx, sy, n_full, n_val, name=pair.source, knobs={},
                       metadata={"device": pair.source, "category": get_device(pair.source).category},
                       folder=tmp / pair.name / "source")
    cfg = ModelConfig(hidden_size=20, sample_rate=SAMPLE_RATE)
    log(f"  training the source model on {pair.source} ({args.full_seconds:g} s, at most {args.source_epochs} epochs)")
    r = train(src_cap, model_config=cfg, config=tcfg.replace(max_epochs=args.source_epochs), progress=False)
    log(f"    source best val ESR {r.best_val_esr:.4f} after {r.epochs} epochs ({r.seconds:.0f} s)")
    source = Model(r.model.config, r.model.params, dict(r.model.metadata, name=f"{pair.source} (trained)"))
    return {"captures": caps, "source": source, "scratch_config": cfg, "fresh": fresh,
            "source_training": {"best_val_esr": r.best_val_esr, "best_val_loss": r.best_val_loss,
                                "epochs": r.epochs, "best_epoch": r.best_epoch, "seconds": round(r.seconds, 2)}}


def prepare_real(pair: Pair, args, log, di: np.ndarray, fresh_di: np.ndarray, tmp: Path) -> dict[str, Any]:
    """Captures (DI through the target NeuralPi model, through WAV files), fresh audio (other DI
    recordings through it) and the imported source model of a real pair."""
    target, source = import_fixture(args.fixtures, pair.target), import_fixture(args.fixtures, pair.source)
    knobs = {name: KNOB_VALUE for name in source.config.knobs}
    target_knobs = {k: KNOB_VALUE for k in target.config.knobs} or None
    y = target.process(di, target_knobs)
    fresh = (fresh_di, target.process(fresh_di, target_knobs))
    peak = float(np.max(np.abs(y)))
    if peak >= 0.999:  # a level change the device did not make would be no fairer than clipping: say so
        raise SystemExit(f"{pair.target}: output peaks at {peak:.3f} on the DI; lower the input level")
    n_val = int(args.val_seconds * SAMPLE_RATE)
    n_full = min(int(args.full_seconds * SAMPLE_RATE), di.size - n_val)
    md = {"device": pair.target, "di_seconds": di.size / SAMPLE_RATE}
    caps = {"full": _capture(di, y, n_full, n_val, name=pair.target, knobs=knobs, metadata=md,
                             folder=tmp / pair.name / "full")}
    n_short = int(min(args.short_seconds or pair.short_seconds, n_full / SAMPLE_RATE) * SAMPLE_RATE)
    caps["short"] = _capture(di, y, n_short, n_val, name=pair.target, knobs=knobs, metadata=md,
                             folder=tmp / pair.name / "short")
    log(f"  target {pair.target} (inputs {target.config.input_size}), source {pair.source} "
        f"(inputs {source.config.input_size}); knobs held at {knobs or 'none'}; output peak {peak:.2f}")
    return {"captures": caps, "source": source, "scratch_config": source.config, "source_training": None,
            "fresh": fresh}


def real_zoo(base, fixtures: Path, directory: Path, log):
    """A copy of ``base`` with the real pairs' source models added (ids ``neuralpi-*``)."""
    zoo = base.copy(directory)
    for stem, category in (("neuralpi_ts9_fulld", "overdrive"), ("neuralpi_bluesjr", "amp-crunch")):
        zoo.add(import_fixture(fixtures, stem), id=stem.replace("_", "-"), category=category,
                source=f"fixtures/models/agam/{stem}.json")
    log(f"  zoo for the real pairs: {len(zoo)} models (the default zoo + the 2 NeuralPi sources)")
    return zoo


# ------------------------------------------------------------------------------------------------
# table
# ------------------------------------------------------------------------------------------------
def _rel(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def format_table(configs: list[dict]) -> str:
    head = (f"{'pair':22s} {'data':6s} {'train s':>7s} {'run':8s} {'start':28s} {'first':>8s} {'best':>8s} "
            f"{'val ESR':>8s} {'fresh':>8s} {'best@':>5s} {'epochs':>6s} {'wall s':>7s} {'s/ep':>6s}")
    lines = [head, "-" * len(head)]
    for c in configs:
        for r in c["runs"]:
            start = (r["start"] or "-")[:28]
            fresh = "-" if r.get("fresh_esr") is None else f"{r['fresh_esr']:.4f}"
            val = "-" if r.get("best_val_esr") is None else f"{r['best_val_esr']:.4f}"   # older result files
            lines.append(f"{c['pair']:22s} {c['data']:6s} {c['train_seconds']:7.1f} {r['run']:8s} {start:28s} "
                         f"{r['first_val_loss']:8.4f} {r['best_val_loss']:8.4f} {val:>8s} "
                         f"{fresh:>8s} {r['best_epoch']:5d} "
                         f"{r['epochs']:6d} {r['seconds']:7.0f} {r['seconds_per_epoch']:6.2f}")
        s = c["summary"]
        if "first_loss_ratio_scratch_over_transfer" in s:
            extra = f"   -> first loss scratch/transfer {s['first_loss_ratio_scratch_over_transfer']:.1f}x, " \
                    f"best loss scratch/transfer {s['best_loss_ratio_scratch_over_transfer']:.2f}x"
            if "auto_over_manual_best_loss" in s:
                extra += f", auto/manual best {s['auto_over_manual_best_loss']:.2f}"
            lines.append(extra)
        lines.append(f"   article: {c['article']}")
    return "\n".join(lines)


def format_markdown(configs: list[dict]) -> str:
    """The per-run table and the summary table as markdown (for docs/transfer_table.md)."""
    lines = ["| pair | data | training | run | start model | first loss | best loss | best val ESR | "
             "fresh-audio ESR | unshifted | best epoch | epochs | max epochs | wall s | s/epoch |", "|" + "---|" * 15]
    for c in configs:
        cap = c.get("settings", {}).get("max_epochs", "")
        for r in c["runs"]:
            start = r["start"] or "random init"
            if r.get("same_start_as_transfer"):
                start += " (= the manual source)"
            fresh = "-" if r.get("fresh_esr") is None else f"{r['fresh_esr']:.4f}"
            raw = "-" if r.get("fresh_esr_raw") is None else f"{r['fresh_esr_raw']:.4f}"
            val = "-" if r.get("best_val_esr") is None else f"{r['best_val_esr']:.4f}"
            lines.append(f"| {c['pair']} | {c['data']} | {c['train_seconds']:.0f} s | {r['run']} | {start} | "
                         f"{r['first_val_loss']:.4f} | {r['best_val_loss']:.4f} | {val} | {fresh} | {raw} | "
                         f"{r['best_epoch']} | {r['epochs']} | "
                         f"{cap} | {r['seconds']:.0f} | {r['seconds_per_epoch']:.2f} |")
    lines += ["", "| pair / data | first loss scratch -> transfer | best loss scratch -> transfer | auto pick | "
                  "auto best / manual best | article |", "|" + "---|" * 6]
    for c in configs:
        by = {r["run"]: r for r in c["runs"]}
        s, t, a = by.get("scratch"), by.get("transfer"), by.get("auto")
        first = f"{s['first_val_loss']:.3f} -> {t['first_val_loss']:.3f} " \
                f"({s['first_val_loss'] / t['first_val_loss']:.1f}x)" if s and t else "-"
        best = f"{s['best_val_loss']:.4f} -> {t['best_val_loss']:.4f} " \
               f"({s['best_val_loss'] / t['best_val_loss']:.2f}x)" if s and t else "-"
        auto = f"{a['start']} ({a.get('pick_category', '')})" if a else "-"
        ratio = f"{a['best_val_loss'] / t['best_val_loss']:.2f}" if a and t else "-"
        lines.append(f"| {c['pair']} / {c['data']} | {first} | {best} | {auto} | {ratio} | {c['article']} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (3 s of audio, 4 epochs) to check the script runs (CI)")
    ap.add_argument("--fixtures", type=Path, default=ROOT.parent / "shared" / "fixtures",
                    help="the shared fixture folder (models/agam/, di/); the real pairs are skipped without it")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path, or a folder for transfer_table[_quick].json (default benchmarks/results/)")
    ap.add_argument("--figures", type=Path, default=None,
                    help="folder for the figures (default docs/figures/; with --quick the JSON's folder)")
    ap.add_argument("--pairs", default=None,
                    help="comma-separated pairs (default all; with --quick " + ",".join(QUICK_PAIRS) + "): "
                         + ", ".join(p.name for p in PAIRS))
    ap.add_argument("--data", default="full,short", help="comma-separated: full, short")
    ap.add_argument("--full-seconds", type=float, default=150.0, help="training audio of the full runs")
    ap.add_argument("--val-seconds", type=float, default=30.0, help="validation audio (same for full and short)")
    ap.add_argument("--fresh-seconds", type=float, default=20.0,
                    help="fresh audio every trained model is scored on (another performance; for the real pairs "
                         "the DI recordings after the capture's)")
    ap.add_argument("--short-seconds", type=float, default=None,
                    help="training audio of the short runs (default the article's: 30 s, 40 s for the amp pair)")
    ap.add_argument("--max-epochs", type=int, default=2000)
    ap.add_argument("--patience", type=int, default=25)
    ap.add_argument("--source-epochs", type=int, default=None,
                    help="epoch limit when training the virtual pairs' source models (default --max-epochs)")
    ap.add_argument("--zoo", type=Path, default=None, help="zoo folder for the automatic pick (default: bundled)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="keep configurations already in the JSON output")
    ap.add_argument("--combine", type=Path, nargs="+", default=None, metavar="JSON",
                    help="train nothing: merge the configurations of these result files (runs made in parallel "
                         "processes) into --out and print the table")
    args = ap.parse_args(argv)
    if args.quick:
        args.full_seconds, args.val_seconds, args.short_seconds, args.fresh_seconds = 3.0, 1.0, 2.0, 2.0
        args.max_epochs, args.patience = 4, 25
        args.source_epochs = 4
    if args.source_epochs is None:
        args.source_epochs = args.max_epochs
    if args.pairs is None:
        args.pairs = ",".join(QUICK_PAIRS if args.quick else [p.name for p in PAIRS])
    name = "transfer_table_quick.json" if args.quick else "transfer_table.json"
    if args.out is None:
        args.out = RESULTS / name
    elif args.out.suffix != ".json":
        args.out = args.out / name
    if args.figures is None:
        args.figures = args.out.parent / "figures" if args.quick else FIGURES
    return args


def combine(paths: list[Path], out: Path) -> dict[str, Any]:
    """Merge result files (e.g. one process per group of pairs) into one report.

    Each configuration keeps the settings it ran with (``config["settings"]``); the same
    configuration in two files is an error.
    """
    reports = [json.loads(p.read_text()) for p in paths]
    merged = dict(reports[0], configs=[], skipped=[], sources={}, parts=[str(p) for p in paths],
                  command=[r["command"] for r in reports], seconds=max(r.get("seconds", 0.0) for r in reports),
                  settings=[])
    seen: set[tuple[str, str]] = set()
    for path, r in zip(paths, reports):
        if r["settings"] not in merged["settings"]:
            merged["settings"].append(r["settings"])
        for c in r["configs"]:
            key = (c["pair"], c["data"])
            if key in seen:
                raise SystemExit(f"{path}: {key[0]} / {key[1]} is in two of the files; keep one")
            seen.add(key)
            merged["configs"].append(dict(c, settings=c.get("settings", r["settings"]), summary=summarise(c["runs"])))
        merged["sources"].update(r.get("sources", {}))
        merged["skipped"] += [m for m in r.get("skipped", []) if m not in merged["skipped"]]
    merged["configs"].sort(key=_config_order)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged, indent=1) + "\n")
    return merged


def _config_order(c: dict) -> int:
    names = [p.name for p in PAIRS]
    return names.index(c["pair"]) * 2 + (c["data"] == "short")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.combine:
        report = combine(args.combine, args.out)
        print(format_table(report["configs"]))
        print()
        print(format_markdown(report["configs"]))
        print(f"\nwrote {args.out}")
        return 0
    from tonezoo.errors import ZooError
    from tonezoo.train import TrainConfig, plot_history
    from tonezoo.zoo import Zoo

    def log(msg: str) -> None:
        print(msg, flush=True)

    wanted = [p.strip() for p in args.pairs.split(",") if p.strip()]
    unknown = set(wanted) - {p.name for p in PAIRS}
    data_sizes = [d.strip() for d in args.data.split(",") if d.strip()]
    if unknown or not set(data_sizes) <= {"full", "short"}:
        log(f"unknown pairs {sorted(unknown)} or data {data_sizes}; pairs: {[p.name for p in PAIRS]}, "
            f"data: full, short")
        return 2
    tcfg = TrainConfig(val_every=2, patience=args.patience, max_epochs=args.max_epochs, seed=args.seed)
    settings = {"full_seconds": args.full_seconds, "val_seconds": args.val_seconds, "short_seconds": args.short_seconds,
                "fresh_seconds": args.fresh_seconds, "through": "wav files + load_capture",
                "max_epochs": args.max_epochs, "patience": args.patience, "source_epochs": args.source_epochs,
                "val_every": tcfg.val_every, "seed": args.seed, "sample_rate": SAMPLE_RATE, "quick": args.quick}
    report: dict[str, Any] = {
        "benchmark": "transfer_table", "settings": settings, "train_config": dataclasses.asdict(tcfg),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "command": "python benchmarks/transfer_table.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "article": {f"{k[0]}/{k[1]}": v for k, v in ARTICLE.items()},
        "configs": [], "skipped": [], "sources": {},
    }
    if args.resume and args.out.is_file():
        old = json.loads(args.out.read_text())
        if old.get("settings") == settings:
            report["configs"], report["sources"] = old.get("configs", []), old.get("sources", {})
            log(f"resuming: {len(report['configs'])} configurations kept from {args.out}")
    done = {(c["pair"], c["data"]) for c in report["configs"]}

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")

    try:
        zoo = Zoo(args.zoo) if args.zoo else Zoo.default()
        zoo.fingerprints  # noqa: B018  (raises when the fingerprints are stale)
        log(f"zoo for the automatic pick: {zoo}")
    except ZooError as e:
        zoo = None
        msg = f"no zoo, so no automatic-pick column: {e}"
        report["skipped"].append(msg)
        log(msg)

    real_ok = (args.fixtures / "di").is_dir() and (args.fixtures / "models" / "agam").is_dir()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        state: dict[str, Any] = {"di": None, "zoo_real": None}
        prepared: dict[str, dict[str, Any] | None] = {}

        def prepare(pair: Pair) -> dict[str, Any] | None:
            """Captures and source model of a pair (once), None when the pair must be skipped."""
            if pair.name in prepared:
                return prepared[pair.name]
            log(f"== {pair.name}: {pair.source} -> {pair.target}")
            prep = None
            if pair.kind == "real" and not real_ok:
                msg = (f"{pair.name}: skipped, no fixture folder at {args.fixtures} (needs di/*.wav and "
                       f"models/agam/); pass --fixtures")
                report["skipped"].append(msg)
                log(msg)
            elif pair.kind == "real":
                if state["di"] is None:
                    n_cap = int((args.full_seconds + args.val_seconds) * SAMPLE_RATE)
                    di = load_di(args.fixtures, args.full_seconds + args.val_seconds + args.fresh_seconds)
                    state["di"], state["fresh_di"] = di[:n_cap], di[n_cap:]
                    log(f"  DI: {state['di'].size / SAMPLE_RATE:.1f} s of real recordings at {SAMPLE_RATE} Hz, "
                        f"{state['fresh_di'].size / SAMPLE_RATE:.1f} s more for fresh-audio scoring")
                prep = prepare_real(pair, args, log, state["di"], state["fresh_di"], Path(tmp) / "captures")
                if zoo is not None and state["zoo_real"] is None:
                    state["zoo_real"] = real_zoo(zoo, args.fixtures, Path(tmp) / "zoo", log)
                prep["zoo"] = state["zoo_real"]
            else:
                prep = prepare_virtual(pair, args, tcfg, log, Path(tmp) / "captures")
                prep["zoo"] = zoo
                report["sources"][pair.name] = prep["source_training"]
                save()
            prepared[pair.name] = prep
            return prep

        # data is the outer loop: with --data short,full every short configuration finishes first
        for data in data_sizes:
            for pair in PAIRS:
                if pair.name not in wanted or (pair.name, data) in done:
                    continue
                prep = prepare(pair)
                if prep is None:
                    continue
                cap = prep["captures"][data]
                log(f" -- {pair.name} / {data}: {cap.train_seconds:.1f} s training, {cap.val_seconds:.1f} s validation")
                rows, results = run_config(cap, prep["source"], prep["zoo"], tcfg,
                                           scratch_config=prep["scratch_config"], log=log, fresh=prep["fresh"])
                fig = plot_history(results, args.figures / f"transfer_{pair.name}_{data}.png",
                                   title=f"{pair.name}: {pair.target}, {data} ({cap.train_seconds:.0f} s training)")
                report["configs"].append({
                    "pair": pair.name, "kind": pair.kind, "source": pair.source, "target": pair.target,
                    "data": data, "train_seconds": round(cap.train_seconds, 2),
                    "val_seconds": round(cap.val_seconds, 2), "latency_samples": cap.metadata["latency_samples"],
                    "latency_estimate": cap.metadata.get("latency_estimate"), "runs": rows, "summary": summarise(rows),
                    "article": ARTICLE[(pair.article, data)], "figure": _rel(fig), "settings": settings})
                save()
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    save()
    report["configs"].sort(key=_config_order)
    save()
    print()
    print(format_table(report["configs"]))
    for msg in report["skipped"]:
        print("skipped:", msg)
    print(f"\nwrote {args.out} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
