"""Selection on devices the zoo has never seen: held-out families and real third-party captures.

Targets (``benchmarks/_targets.py``), none of which is in the zoo or in the classifier's training:

* **held-out families**: two draws of each generator of :data:`tonezoo.families.HELD_OUT_FAMILIES`
  (designs written apart from every zoo entry's), played from a synthetic DI;
* **real fixtures**: every third-party model under ``../shared/fixtures/models`` that this tonezoo
  runs, played on one of the real DI recordings of ``../shared/fixtures/di`` (a different one each).

Every capture goes through WAV files (24-bit PCM) and :func:`tonezoo.load_capture`, as the CLI
reads a user's files (alignment included). Every ESR is measured on *fresh* audio: another DI
(another synthetic performance / another real recording) through the same device, scored against
the device's raw output -- never on the audio a model trained or was selected on. Where
``load_capture`` removed a latency (``latency_samples``: the start of the device's response, less
the margin, taken for the recording chain's), every model trained on the capture plays that far
ahead of the raw output by design, so the raw output is advanced by it before scoring; the
unshifted figures are kept (``transfer_esr_raw``, ``scratch_esr_raw``). This touches mainly real
targets whose makers' models carry a learned delay (3-22 samples here; 1 on two synthetic targets,
0 on the other 25).

Per target:

* **category**: the classifier's top-1 / top-3 (:class:`tonezoo.classify.Classifier`), and the
  category of ``Zoo.suggest``'s first pick;
* **oracle**: fine-tuning from every zoo model is too expensive with a large zoo, so the oracle is
  the best of a *large shortlist*: ``Zoo.suggest``'s top ``--pool`` plus ``--random`` entries drawn
  uniformly from the rest (seeded), all fine-tuned with the same budget, each started as
  ``Zoo.transfer`` starts its contenders (output layer refit) and trained as it trains its winner:
  together (one vmapped run) for the race's epochs, then each carried on alone, so the pool's run
  of transfer's winner *is* transfer's run (``transfer_is_pool_run``). It is an upper bound on
  what the ranking could pick from that pool, not from the whole zoo. Each pool run's validation
  ESR per epoch is kept, so races of other sizes and lengths are simulated on them
  (:func:`race_policies`); the top 3 also run from plain starts (does the refit help?);
* **pick**: the first suggestion's row of that run; **random**: the mean over the uniformly drawn
  rows (the expectation of a random pick);
* **scratch**: a fresh model of the pick's architecture (LSTM-20 unless a WaveNet leads) with the
  same budget; **transfer**: ``Zoo.transfer`` as a user gets it (``tonezoo train --from auto``),
  same epoch budget. As ``--from auto``, the pool, the race and scratch keep to the architecture
  of the first suggestion (the zoo holds LSTM-20s and NAM feather WaveNets);
* **at the capture's level**: transfer and scratch also play the fresh DI turned so that its peak is
  the capture DI's (``*_esr_capture_level``): where the fresh audio is hotter than anything the capture
  held, every model extrapolates (``tonezoo process`` warns there), and this says how each does at the
  level it was captured at. The headline figures stay those of the fresh audio at its own level;
* **noise floor**: the oracle's start fine-tuned with the same budget on a *second* capture of the
  same device (other audio; a short capture is one mini-batch, so reshuffling alone changes
  nothing): how far apart two runs that should tie land.

Targets are split into two halves by position (A: even, B: odd): defaults are decided on half A
and reported on half B; both halves' figures are printed and written.

Usage::

    python benchmarks/selection.py [--quick] [--zoo DIR] [--half A|B|all] [--only NAME ...] [--epochs 30] [--seconds 6]
    python benchmarks/selection.py --categories --out CATEGORIES.json      # the category columns alone, cheap
    python benchmarks/selection.py --report RUN1.json RUN2.json ... [--category-file CATEGORIES.json]

Defaults: 6 s captures (4.8 s training), 30 epochs per run, an oracle pool of the top 5 suggestions
+ 2 random entries. Much fewer epochs measure the first minute of training, not its result (``tonezoo
train --from auto`` trains up to 100); more did not fit on the shared 2-core machine (``docs/zoo.md``).

writes ``benchmarks/results/selection.json`` (``selection_quick.json`` with ``--quick``) and
prints markdown tables (``docs/zoo.md``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import zlib
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _targets import (FIXTURES, REAL_DI, REAL_MODELS, advanced_esr, load_real_model, real_di, real_name,  # noqa: E402
                      render_real)

from tonezoo.audio import LEVEL_MARGIN_DB, peak_dbfs  # noqa: E402
from tonezoo.capture import load_capture  # noqa: E402
from tonezoo.devices import render  # noqa: E402
from tonezoo.families import HELD_OUT_FAMILIES, draw, list_families  # noqa: E402
from tonezoo.signals import synth_di  # noqa: E402
from tonezoo.train import train, train_many  # noqa: E402
from tonezoo.warmstart import refit_output  # noqa: E402
from tonezoo.zoo import Zoo  # noqa: E402
from tonezoo.zoo.transfer import race_length  # noqa: E402

SR = 44100


def targets(*, quick: bool) -> list[dict]:
    """Every target in a fixed order: held-out family draws and real fixtures interleaved."""
    fams = [f for f in list_families(held_out=True)]
    synth = [{"kind": "family", "name": f"{f.name}-s{s}", "family": f.name, "category": f.category, "seed": s,
              "accepted": [f.category]} for s in (500, 501) for f in fams]
    real = []
    if (FIXTURES / "models").is_dir():
        for i, (rel, cats) in enumerate(REAL_MODELS):
            real.append({"kind": "real", "name": real_name(rel), "file": rel, "category": cats[0],
                         "accepted": list(cats), "di": REAL_DI[i % len(REAL_DI)],
                         "fresh_di": REAL_DI[(i + 3) % len(REAL_DI)], "second_di": REAL_DI[(i + 5) % len(REAL_DI)]})
    out = [t for pair in zip(synth, real) for t in pair] + synth[len(real):] + real[len(synth):]
    for i, t in enumerate(out):
        t["half"] = "A" if i % 2 == 0 else "B"
    if quick:
        quick_rows = [t for t in out if t["kind"] == "family"][:1] + [t for t in out if t["kind"] == "real"][:1]
        return quick_rows
    return out


def _audio(t: dict, seconds: float, *, part: str = "capture"):
    """(x, y, sample_rate) of a target: ``part`` "capture", "fresh" (never trained or selected on) or
    "second" (a second capture of the same device on other audio: the noise floor's)."""
    if t["kind"] == "family":
        seed = zlib.crc32(f"{t['name']}#{part}".encode()) % 100_000
        x = synth_di(seconds, SR, seed=seed, peak=0.5)
        return x, play_device(t, x), SR
    model = load_real_model(t["file"])
    if model is None:
        return None
    sr = int(model.config.sample_rate)
    x = real_di(t[{"capture": "di", "fresh": "fresh_di", "second": "second_di"}[part]], sr)
    x = x[: int(seconds * sr)]
    return x, render_real(model, x), sr


def play_device(t: dict, x: np.ndarray) -> np.ndarray:
    """The target device's raw output for the DI ``x`` (at the target's own rate)."""
    if t["kind"] == "family":
        return render(draw(t["category"], t["family"], t["seed"]), x, SR)
    return render_real(load_real_model(t["file"]), x)


def capture_through_wav(t: dict, seconds: float, workdir: Path, *, part: str = "capture"):
    """Write the capture as 24-bit WAV files and read it back with :func:`load_capture`."""
    import soundfile as sf
    got = _audio(t, seconds, part=part)
    if got is None:
        return None
    x, y, sr = got
    d = workdir / t["name"] / part
    d.mkdir(parents=True, exist_ok=True)
    sf.write(d / "input.wav", x, sr, subtype="PCM_24")
    sf.write(d / "target.wav", np.clip(y, -1.0, 1.0), sr, subtype="PCM_24")
    return load_capture(d / "input.wav", d / "target.wav", name=t["name"])


def _arch_key(config) -> tuple:
    """What models trained together must share, once adapted to a capture (knobs folded, rate relabelled)."""
    return (config.arch, config.cell, config.hidden_size, config.num_layers, config.skip, repr(config.options))


def evaluate(zoo: Zoo, clf, t: dict, *, seconds: float, epochs: int, pool: int, n_random: int,
             race: int, race_epochs: int, workdir: Path) -> dict | None:
    cap = capture_through_wav(t, seconds, workdir)
    if cap is None:
        return None
    fx, fy, _ = _audio(t, min(seconds, 10.0), part="fresh")
    row = {k: t[k] for k in ("kind", "name", "category", "accepted", "half")}
    # samples load_capture trimmed as recording latency: every model trained on the capture plays that far
    # ahead of the device's raw output, by design (a delay at the start of the response is taken for the
    # recording chain's, as NAM's own calibration does); fresh ESR is scored against the raw output advanced
    # by it, and also without (``*_raw``)
    shift = row["latency_samples"] = int(cap.metadata.get("latency_samples", 0))
    row.update(levels(cap, fx))

    def played(model, x: np.ndarray = fx) -> np.ndarray:
        kv = {k: 0.5 for k in model.config.knobs} if model.config.knobs else None
        return np.asarray(model.process(x, kv, check_level=False))      # the level columns record it

    def scored(p: np.ndarray, advance: int = shift) -> float:
        return advanced_esr(fy, p, advance)

    def fresh(model, *, advance: int = shift) -> float:
        return scored(played(model), advance)

    t0 = time.perf_counter()
    if clf is not None:
        guess = clf.classify_capture(cap)
        top3 = [c for c, _ in guess.top(3)]
        row.update(classifier=guess.category, classifier_confidence=round(guess.confidence, 3),
                   classifier_top1_ok=guess.category in t["accepted"],
                   classifier_top3_ok=any(c in t["accepted"] for c in top3))
    sugg = zoo.suggest(cap, top=max(pool, 3) + 8)
    row["suggest_seconds"] = round(time.perf_counter() - t0, 2)
    # as `tonezoo train --from auto`, everything keeps to the first suggestion's architecture (the
    # models of one run are trained together, and the scratch contender is of that architecture)
    group = _arch_key(zoo.entry(sugg[0].id).config)
    sugg = [s for s in sugg if _arch_key(zoo.entry(s.id).config) == group][:max(pool, 3)]
    ids = [e.id for e in zoo.list()]
    rng = np.random.default_rng(zlib.crc32(t["name"].encode()))
    rest = [i for i in ids if i not in {s.id for s in sugg}]
    randoms = [str(i) for i in rng.choice(rest, size=min(n_random, len(rest)), replace=False)]
    same = [i for i in rest if i not in randoms and _arch_key(zoo.entry(i).config) == group]
    for k, i in enumerate(randoms):          # a draw of another architecture is replaced by a draw of this one
        if _arch_key(zoo.entry(i).config) != group:
            randoms[k] = str(same.pop(int(rng.integers(len(same)))))
    pool_ids = [s.id for s in sugg[:pool]] + randoms
    budget = dict(max_epochs=epochs, patience=epochs + 1, val_every=1, progress=False)
    # the pool starts as Zoo.transfer starts its contenders (output layer refit by least squares), so the
    # oracle is the best start under transfer's own recipe; the top 3 once more from their plain starts
    # (does the refit help?)
    plain_ids = [s.id for s in sugg[:3]]
    inits = [refit_output(zoo.start_model(i, cap), cap) for i in pool_ids] + \
        [zoo.start_model(i, cap) for i in plain_ids]
    # as Zoo.transfer trains: together for the race, then each carried on alone (protocol 3), so that
    # transfer's run of its winner is this pool's run of that start, rounding included
    raced = train_many(cap, inits, **dict(budget, max_epochs=race_epochs, patience=race_epochs + 1)) \
        if epochs > race_epochs else None
    results = [train(cap, continue_from=r, **budget) for r in raced] if raced else train_many(cap, inits, **budget)
    scores = {i: fresh(r.model) for i, r in zip(pool_ids, results)}
    plain_scores = {i: fresh(r.model) for i, r in zip(plain_ids, results[len(pool_ids):])}
    first = {i: float(r.first_val_esr) for i, r in zip(pool_ids + [f"{i}+plain" for i in plain_ids], results)}
    # each pool run's validation ESR per epoch (epoch 0 first, before any update): a race of any length
    # among any top k is read off these
    curves = {i: [float(f"{h['val_esr']:.4g}") for h in r.history] for i, r in zip(pool_ids, results)}
    loss_curves = {i: [float(f"{h['val_loss']:.4g}") for h in r.history] for i, r in zip(pool_ids, results)}
    oracle_id = min(scores, key=scores.get)
    # scratch of the pick's architecture (LSTM-20 for the LSTM zoo; a WaveNet preset when a WaveNet leads),
    # as the scratch contender of Zoo.transfer
    scratch = train(cap, model_config=inits[0].config, **budget)
    # the noise floor: the oracle's start fine-tuned on a second capture of the same device (other audio)
    cap2 = capture_through_wav(t, seconds, workdir, part="second")
    rerun = train(cap2, init=refit_output(zoo.start_model(oracle_id, cap2), cap2), **budget)
    t1 = time.perf_counter()
    tr = zoo.transfer(cap, suggestions=sugg, race=race, race_epochs=race_epochs, **budget)
    p_scratch, p_transfer = played(scratch.model), played(tr.model)       # each scored advanced and raw
    # the same fresh DI turned to the capture's level (its peak at the capture DI's): where the fresh audio is
    # hotter than the capture, every model extrapolates, and these say how each does where it was captured
    gain = 10.0 ** ((row["capture_peak_dbfs"] - row["fresh_peak_dbfs"]) / 20.0)
    lx = (fx * gain).astype(np.float32)
    ly = play_device(t, lx)
    at_level = {k: advanced_esr(ly, played(m, lx), shift)
                for k, m in (("transfer", tr.model), ("scratch", scratch.model))}
    row.update(
        pick=sugg[0].id, pick_category=sugg[0].category, pick_category_ok=sugg[0].category in t["accepted"],
        top3=[s.id for s in sugg[:3]], pick_esr=scores[sugg[0].id],
        best_of_top3_esr=min(scores[s.id] for s in sugg[:3]), oracle_esr=scores[oracle_id], oracle_id=oracle_id,
        oracle_rerun_esr=fresh(rerun.model, advance=int(cap2.metadata.get("latency_samples", 0))),
        random_esr=float(np.mean([scores[i] for i in randoms])),
        scratch_esr=scored(p_scratch), transfer_esr=scored(p_transfer), transfer_id=tr.source,
        # the pool's run of transfer's winner is the same run (protocol 3): equal to the last bit
        transfer_is_pool_run=bool(tr.source in scores and scored(p_transfer) == scores[tr.source]),
        scratch_esr_raw=scored(p_scratch, 0), transfer_esr_raw=scored(p_transfer, 0),
        transfer_esr_capture_level=at_level["transfer"], scratch_esr_capture_level=at_level["scratch"],
        scratch_val_esr=float(scratch.best_val_esr), transfer_val_esr=float(tr.best_val_esr),
        transfer_final=tr.model.metadata.get("final", {}), transfer_epochs=tr.epochs,
        transfer_seconds=round(time.perf_counter() - t1, 1), race=tr.model.metadata.get("race", []),
        pool=scores, pool_size=len(pool_ids), n_random=len(randoms), pool_val_curves=curves,
        pool_val_loss_curves=loss_curves,
        plain=plain_scores, first_val_esr=first,
        pick_plain_esr=plain_scores[sugg[0].id], best_of_top3_plain_esr=min(plain_scores.values()),
        zero_shot_pick=sugg[0].matched_esr)
    return row


LEVEL_COLUMNS = ("capture_peak_dbfs", "fresh_peak_dbfs", "fresh_level_excess_db")


def levels(cap, fx: np.ndarray) -> dict:
    """How loud the capture's training DI and the fresh DI peak (dBFS), and by how much the fresh one exceeds it.

    A fresh peak more than ``tonezoo.audio.LEVEL_MARGIN_DB`` above the capture's is audio every model
    trained on this capture plays with an :class:`~tonezoo.errors.InputLevelWarning`.
    """
    c, f = peak_dbfs(cap.train_x), peak_dbfs(fx)
    return {"capture_peak_dbfs": round(c, 2), "fresh_peak_dbfs": round(f, 2), "fresh_level_excess_db": round(f - c, 2)}


def categorize(zoo: Zoo, clf, t: dict, *, seconds: float, workdir: Path) -> dict | None:
    """The cheap part alone: the classifier's category and ``Zoo.suggest``'s top-3 categories."""
    cap = capture_through_wav(t, seconds, workdir)
    if cap is None:
        return None
    row = {k: t[k] for k in ("kind", "name", "category", "accepted", "half")}
    row.update(levels(cap, _audio(t, min(seconds, 10.0), part="fresh")[0]))
    t0 = time.perf_counter()
    guess = clf.classify_capture(cap)
    row.update(classifier=guess.category, classifier_confidence=round(guess.confidence, 3),
               classifier_top3=[c for c, _ in guess.top(3)], classify_seconds=round(time.perf_counter() - t0, 2))
    row["classifier_top1_ok"] = guess.category in t["accepted"]
    row["classifier_top3_ok"] = any(c in t["accepted"] for c in row["classifier_top3"])
    sugg = zoo.suggest(cap, top=3)
    row.update(pick=sugg[0].id, pick_category=sugg[0].category, top3=[s.id for s in sugg],
               pick_category_ok=sugg[0].category in t["accepted"],
               top3_category_ok=any(s.category in t["accepted"] for s in sugg))
    return row


def summarize_categories(rows: list[dict]) -> dict:
    out: dict = {}
    for kind in ("family", "real", "all"):
        sub = [x for x in rows if kind == "all" or x["kind"] == kind]
        if sub:
            out[kind] = {"targets": len(sub),
                         "classifier_top1": float(np.mean([x["classifier_top1_ok"] for x in sub])),
                         "classifier_top3": float(np.mean([x["classifier_top3_ok"] for x in sub])),
                         "suggest_pick_category_top1": float(np.mean([x["pick_category_ok"] for x in sub])),
                         "suggest_top3_category": float(np.mean([x["top3_category_ok"] for x in sub]))}
    return out


MISS_CAUSES = ("candidates", "final", "race", "start")


def miss_cause(x: dict) -> str:
    """Where a transfer more than 10 % behind the oracle pool lost it; ``""`` when it is within 10 %.

    ``"candidates"``: the oracle's model was not among the contenders of the race (the first ``race``
    suggestions), so no race or final could reach it; ``"final"``: the final kept the scratch contender;
    ``"race"``: the oracle's model raced but another won; ``"start"``: the race kept the oracle's model and
    its run still ended behind the pool's run of the same start (two runs of one start and recipe, trained
    in batches of different sizes: rounding that training amplifies).
    """
    if x["transfer_esr"] <= 1.10 * x["oracle_esr"]:
        return ""
    raced = [c["id"] for c in x.get("race", [])] or [x["pick"]]
    if x["oracle_id"] not in raced:
        return "candidates"
    if x["transfer_id"] == "scratch":
        return "final"
    return "race" if x["transfer_id"] != x["oracle_id"] else "start"


def noise_spread(x: dict) -> float:
    """How far apart the oracle's start lands fine-tuned on two captures of the device (a ratio >= 1)."""
    return max(x["oracle_rerun_esr"], x["oracle_esr"]) / min(x["oracle_rerun_esr"], x["oracle_esr"])


def categories_markdown(summary: dict) -> str:
    """The category table of ``docs/zoo.md`` from :func:`summarize_categories` per half."""
    lines = ["| targets | classifier top-1 | classifier top-3 | `suggest`'s pick in the right category "
             "| right category in its top 3 |", "|---|---|---|---|---|"]
    names = {"family": "held-out families", "real": "real captures on real DI", "all": "all"}
    for h in ("A", "B", "all"):
        for kind, v in summary.get(h, {}).items():
            if h != "all" and kind == "all":
                continue
            lines.append(f"| {'' if h == 'all' else f'half {h}: '}{names[kind]} ({v['targets']}) "
                         f"| {v['classifier_top1']:.0%} | {v['classifier_top3']:.0%} "
                         f"| {v['suggest_pick_category_top1']:.0%} | {v['suggest_top3_category']:.0%} |")
    return "\n".join(lines)


RACE_SIZES = (1, 2, 3, 4, 5)
RACE_EPOCHS = (1, 2, 3, 4, 6, 8, 10)


def simulate_transfer(x: dict, race: int, race_epochs: int) -> float:
    """Fresh ESR ``Zoo.transfer(race=race, race_epochs=race_epochs)`` would reach, read off the pool run.

    The pool's first rows are the suggestions in order, started as transfer starts them and trained
    with its recipe, validated every epoch: the race's winner is the contender with the lowest
    validation ESR up to epoch ``race_epochs`` (epoch 0: its start; as in training, the ESR of the epoch
    with the lowest validation loss), its run to the end is that pool row, and the
    final keeps the scratch contender when its validation ESR is lower. A pool with fewer than
    ``race`` suggestions (few zoo models of the pick's architecture) races them all, as
    ``Zoo.transfer`` does.
    """
    ids = list(x["pool"])[: x["pool_size"] - x["n_random"]]
    esr_curves = x["pool_val_curves"]
    # train keeps the epoch of the lowest validation *loss* and reports its ESR; rows without the loss
    # curves (older runs) take the lowest ESR instead, which picked the same race winner on all 33 targets
    loss_curves = x.get("pool_val_loss_curves", esr_curves)

    def best(i: str, upto: int | None = None) -> float:
        losses = loss_curves[i][: None if upto is None else upto + 1]
        return esr_curves[i][int(np.argmin(losses))]

    won = min(ids[:race], key=lambda i: best(i, race_epochs)) if race > 1 else ids[0]
    return x["scratch_esr"] if x["scratch_val_esr"] < best(won) else x["pool"][won]


def race_policies(rows: list[dict]) -> list[dict]:
    """Every race size and length of :data:`RACE_SIZES` x :data:`RACE_EPOCHS`, simulated on the pool runs.

    Per policy: targets within 10 % of the oracle, the median transfer / oracle, targets more than
    10 % worse than scratch, and the cost in model-epochs on top of the winner's and scratch's runs
    (``race x race_epochs``, the race's vmapped runs; ``race_epochs`` of them are the winner's own).
    Under protocol 3 the pool's runs were carried on alone after the race the run used, so only that
    length is read off exactly; another length differs from its real run by that rounding.
    """
    out = []
    for k in RACE_SIZES:
        for e in RACE_EPOCHS if k > 1 else (1,):
            sim = [simulate_transfer(x, k, e) for x in rows]
            t_o = np.array([v / x["oracle_esr"] for v, x in zip(sim, rows)])
            t_s = np.array([v / x["scratch_esr"] for v, x in zip(sim, rows)])
            out.append({"race": k, "race_epochs": e if k > 1 else 0, "extra_model_epochs": k * e - e if k > 1 else 0,
                        "within_10pct_of_oracle": int(np.sum(t_o <= 1.10)),
                        "median_transfer_over_oracle": float(np.median(t_o)),
                        "over_10pct_worse_than_scratch": int(np.sum(t_s > 1.10))})
    return out


def summarize(rows: list[dict]) -> dict:
    if not rows:
        return {"targets": 0}
    r = rows
    t_o = np.array([x["transfer_esr"] / x["oracle_esr"] for x in r])
    t_s = np.array([x["transfer_esr"] / x["scratch_esr"] for x in r])
    noise = np.array([noise_spread(x) for x in r])
    causes = [miss_cause(x) for x in r]
    out = {
        "targets": len(r),
        "pick_category_top1": float(np.mean([x["pick_category_ok"] for x in r])),
        "median_pick_over_oracle": float(np.median([x["pick_esr"] / x["oracle_esr"] for x in r])),
        "median_transfer_over_oracle": float(np.median(t_o)),
        "transfer_within_10pct_of_oracle": float(np.mean(t_o <= 1.10)),
        "median_transfer_over_scratch": float(np.median(t_s)),
        "worst_transfer_over_scratch": float(np.max(t_s)),
        "transfer_over_10pct_worse_than_scratch": int(np.sum(t_s > 1.10)),
        "transfer_beats_scratch": float(np.mean(t_s < 1.0)),
        "transfer_beats_random": float(np.mean([x["transfer_esr"] < x["random_esr"] for x in r])),
        "pick_beats_random": float(np.mean([x["pick_esr"] < x["random_esr"] for x in r])),
        "median_oracle_rerun_spread": float(np.median(noise)),
        # a miss smaller than the oracle's own re-run spread is not resolved by one capture
        "transfer_within_noise_floor_of_oracle": float(np.mean(t_o <= np.maximum(noise, 1.10))),
        "misses": {c: causes.count(c) for c in MISS_CAUSES},
        # the first suggestion fine-tuned from its start (refit, no race): its row of the pool run
        "pick_within_10pct_of_oracle": float(np.mean([x["pick_esr"] <= 1.10 * x["oracle_esr"] for x in r])),
    }
    if all("pick_plain_esr" in x for x in r):
        # the pool starts as transfer does (output layer refit); the top 3 also ran from plain starts
        rf = np.array([x["pick_esr"] / x["pick_plain_esr"] for x in r])
        out["median_pick_refit_over_plain"] = float(np.median(rf))
        out["pick_refit_better"] = float(np.mean(rf < 1.0))
        out["median_first_val_refit_over_plain"] = float(np.median(
            [x["first_val_esr"][x["pick"]] / x["first_val_esr"][f"{x['pick']}+plain"] for x in r]))
        # the pool's rows of the race's contenders are those contenders run to the end: did the race keep
        # the best of them?
        kept = [x for x in r if x["transfer_id"] in x["pool"] and x.get("race")]
        out["race_kept_best_contender"] = float(np.mean(
            [x["pool"][x["transfer_id"]] <= 1.10 * min(x["pool"][c["id"]] for c in x["race"]) for x in kept])) \
            if kept else None
    if all("pool_val_curves" in x for x in r):
        out["race_policies"] = race_policies(r)
    if all("transfer_is_pool_run" in x for x in r):
        kept = [x for x in r if x["transfer_id"] in x["pool"]]
        out["transfer_is_pool_run"] = f"{sum(x['transfer_is_pool_run'] for x in kept)} of {len(kept)}"
    if all("fresh_level_excess_db" in x for x in r):
        # fresh audio louder than anything the capture's DI reached: every model extrapolates there
        hot = [x for x in r if x["fresh_level_excess_db"] > LEVEL_MARGIN_DB]
        out["fresh_above_capture_level"] = [x["name"] for x in hot]
        out["transfer_over_10pct_worse_than_scratch_within_level"] = int(sum(
            x["transfer_esr"] / x["scratch_esr"] > 1.10 for x in r if x not in hot))
    lv = [x["transfer_esr_capture_level"] / x["scratch_esr_capture_level"] for x in r
          if "transfer_esr_capture_level" in x]        # rows of runs before these columns have none
    if lv:
        # the fresh DI played at the capture's level: no model extrapolates past what it was trained on
        out["capture_level_targets"] = len(lv)
        out["transfer_over_10pct_worse_than_scratch_at_capture_level"] = int(np.sum(np.array(lv) > 1.10))
        out["median_transfer_over_scratch_at_capture_level"] = float(np.median(lv))
    if all("classifier_top1_ok" in x for x in r):
        out["classifier_top1"] = float(np.mean([x["classifier_top1_ok"] for x in r]))
        out["classifier_top3"] = float(np.mean([x["classifier_top3_ok"] for x in r]))
    for kind in ("family", "real"):
        sub = [x for x in r if x["kind"] == kind and "classifier_top1_ok" in x]
        if sub:
            out[f"classifier_top1_{kind}"] = float(np.mean([x["classifier_top1_ok"] for x in sub]))
    return out


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def markdown(rows: list[dict], summaries: dict[str, dict], setup: str) -> str:
    lines = [f"Setup: {setup}.", "",
             "| half | target | category | classifier (conf.) | pick (category) | pick | transfer | oracle (model) "
             "| re-run | random | scratch | transfer / oracle | miss | noise floor | transfer / scratch |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for x in rows:
        cl = "-" if "classifier" not in x else f"{x['classifier']} ({x['classifier_confidence']:.2f})" + \
             ("" if x["classifier_top1_ok"] else " ✗")
        lines.append(f"| {x['half']} | {x['name']} | {'/'.join(x['accepted'])} | {cl} | {x['pick']} "
                     f"({x['pick_category']}) | {x['pick_esr']:.4f} | {x['transfer_esr']:.4f} | {x['oracle_esr']:.4f} "
                     f"({x['oracle_id']}) | {x['oracle_rerun_esr']:.4f} | {x['random_esr']:.4f} | "
                     f"{x['scratch_esr']:.4f} | {x['transfer_esr'] / x['oracle_esr']:.2f} | {miss_cause(x) or '-'} "
                     f"| {noise_spread(x):.2f} | {x['transfer_esr'] / x['scratch_esr']:.2f} |")
    lines += ["", "| half | targets | classifier top-1 (families / real) | top-3 | pick category | pick / oracle "
                  "| transfer / oracle | transfer ≤ 1.1 × oracle | within the noise floor "
                  "| misses: candidates / final / race / start | transfer / scratch (median, worst) "
                  "| > 10 % worse than scratch | transfer beats random | noise floor |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    races = {x["half"]: x["race_policy"] for x in rows if x.get("race_policy")}
    for half, s in summaries.items():
        if not s.get("targets"):
            continue
        n = s["targets"]
        label = f"{half} (race {races[half]})" if half in races else half
        lines.append(
            f"| {label} | {n} | {_pct(s.get('classifier_top1'))} "
            f"({_pct(s.get('classifier_top1_family'))} / {_pct(s.get('classifier_top1_real'))}) "
            f"| {_pct(s.get('classifier_top3'))} | {s['pick_category_top1']:.0%} "
            f"| {s['median_pick_over_oracle']:.2f} | {s['median_transfer_over_oracle']:.2f} "
            f"| {round(s['transfer_within_10pct_of_oracle'] * n)} of {n} "
            f"| {round(s['transfer_within_noise_floor_of_oracle'] * n)} of {n} "
            f"| {' / '.join(str(s['misses'][c]) for c in MISS_CAUSES)} "
            f"| {s['median_transfer_over_scratch']:.2f}, {s['worst_transfer_over_scratch']:.2f} "
            f"| {s['transfer_over_10pct_worse_than_scratch']} of {n} "
            f"| {round(s['transfer_beats_random'] * n)} of {n} | {s['median_oracle_rerun_spread']:.2f} |")
    for half, s in summaries.items():
        if "fresh_above_capture_level" not in s:
            continue
        hot = [x for x in rows if x["name"] in s["fresh_above_capture_level"]]
        lines += ["", f"Half {half}: fresh audio peaks more than {LEVEL_MARGIN_DB:g} dB above the capture's DI on "
                  f"{len(hot)} of {s['targets']} targets"
                  + "".join(f"; {x['name']} ({x['capture_peak_dbfs']:.1f} → {x['fresh_peak_dbfs']:.1f} dBFS, "
                            f"transfer / scratch {x['transfer_esr'] / x['scratch_esr']:.2f}"
                            + (f", {x['transfer_esr_capture_level'] / x['scratch_esr_capture_level']:.2f} with the "
                               "fresh DI at the capture's level" if "transfer_esr_capture_level" in x else "")
                            + ")" for x in hot)
                  + f". Without them, transfer is more than 10 % worse than scratch on "
                  f"{s['transfer_over_10pct_worse_than_scratch_within_level']} of {s['targets'] - len(hot)}."
                  + (f" With the fresh DI played at its capture's level, on "
                     f"{s['transfer_over_10pct_worse_than_scratch_at_capture_level']} of the "
                     f"{s['capture_level_targets']} targets measured so (median "
                     f"transfer / scratch {s['median_transfer_over_scratch_at_capture_level']:.2f})."
                     if "transfer_over_10pct_worse_than_scratch_at_capture_level" in s else "")]
    for half, s in summaries.items():
        pol = s.get("race_policies") if half != "all" else None
        if not pol:
            continue
        lines += ["", f"Race policies simulated on the pool runs, half {half} ({s['targets']} targets):", "",
                  "| race | race epochs | extra model-epochs | transfer ≤ 1.1 × oracle | median transfer / oracle "
                  "| > 10 % worse than scratch |", "|---|---|---|---|---|---|"]
        lines += [f"| {p['race']} | {p['race_epochs']} | {p['extra_model_epochs']} | {p['within_10pct_of_oracle']} "
                  f"of {s['targets']} | {p['median_transfer_over_oracle']:.2f} | {p['over_10pct_worse_than_scratch']} |"
                  for p in pol]
    return "\n".join(lines)


SETTINGS = ("seconds", "epochs", "pool", "random", "race", "race_epochs", "protocol")
PROTOCOL = 3
"""3: the pool trains as ``Zoo.transfer`` trains its winner: all together for the race's epochs, then each
carried on alone to the budget, so transfer's run of a start is the pool's run of it to the last bit (before,
the pool ran the whole budget together, and a run carried on alone rounds differently: the same start ended
up to 18 % apart). 2: the pool starts as ``Zoo.transfer`` does (refit), fresh ESR is scored against the raw
output advanced by the latency the capture removed, the pool's validation curves are kept. 1: plain-start
pool, unshifted."""


def default_budget(quick: bool) -> dict:
    """The budget of a run not given ``--seconds`` / ``--epochs`` / ``--pool`` / ``--random`` / ``--race`` /
    ``--race-epochs``: the race is ``Zoo.transfer``'s default."""
    import inspect
    epochs = 2 if quick else 30
    return {"seconds": 4.0 if quick else 6.0, "epochs": epochs, "pool": 5, "random": 2,
            "race": inspect.signature(Zoo.transfer).parameters["race"].default, "race_epochs": race_length(epochs),
            "protocol": PROTOCOL}


def _settings(data: dict) -> dict:
    """A result file's budget and protocol (files of protocol 1 recorded only what was given)."""
    s = data.get("settings", {})
    if "protocol" not in s:
        old = {"seconds": 4.0 if s.get("quick") else 6.0, "epochs": 2 if s.get("quick") else 30, "pool": 4,
               "random": 2, "race": 3, "race_epochs": 2, "protocol": 1}
        return {k: float(s[k]) if s.get(k) is not None else float(old[k]) for k in SETTINGS}
    return {k: float(s[k]) for k in SETTINGS}


def merge_results(paths: list[Path], *, categories: Path | None = None) -> dict:
    """Rows of several result files of one budget, in target order, summarised per half.

    A later file's row of a target replaces an earlier one's. Each row keeps the size of the zoo it
    ran on (``zoo_models``) and the race it ran (``race_policy``, e.g. ``"3x6"``). The halves may
    differ in their race (half A runs the default being decided, half B the one decided); within
    a half it must be one, and the summary over both halves is left out when they differ. With
    ``categories`` (a ``--categories`` file), every row's classifier columns are replaced by that
    file's, so the category figures come from one classifier.

    Raises
    ------
    ValueError
        When the files' ``--seconds`` / ``--epochs`` / ``--pool`` / ``--random`` or protocol differ,
        when one half holds rows of two races, or when the category file lacks a target.
    """
    datas = [json.loads(Path(p).read_text()) for p in paths]
    budget_keys = [k for k in SETTINGS if k not in ("race", "race_epochs")]
    ref = {k: _settings(datas[0])[k] for k in budget_keys}
    by_name: dict[str, dict] = {}
    for p, d in zip(paths, datas):
        got = _settings(d)
        if {k: got[k] for k in budget_keys} != ref:
            raise ValueError(f"{p}: ran with {got}, {paths[0]} with {_settings(datas[0])}; merge only runs of one "
                             f"--seconds / --epochs / --pool / --random and protocol")
        size = re.match(r"(\d+)-model zoo", d["setup"])
        for x in d["rows"]:
            x.setdefault("zoo_models", int(size.group(1)) if size else None)
            # a merged file's rows already say which race they ran; its settings hold only the first file's
            x.setdefault("race_policy", f"{int(got['race'])}x{int(got['race_epochs'])}")
            by_name[x["name"]] = x
    policies: dict[str, str] = {}
    for x in by_name.values():
        if policies.setdefault(x["half"], x["race_policy"]) != x["race_policy"]:
            raise ValueError(f"half {x['half']} holds rows of races {policies[x['half']]} and {x['race_policy']} "
                             f"({x['name']}); merge one race per half")
    order = {t["name"]: i for i, t in enumerate(targets(quick=False))}
    rows = sorted(by_name.values(), key=lambda x: order.get(x["name"], len(order)))
    data = dict(datas[0])
    sizes = sorted({x["zoo_models"] for x in rows if x["zoo_models"]}, reverse=True)
    zoo_txt = "; ".join(f"{k}-model zoo for {sum(x['zoo_models'] == k for x in rows)} targets" for k in sizes) \
        if len(sizes) > 1 else f"{sizes[0] if sizes else '?'}-model zoo"
    data["setup"] = re.sub(r"^.*?\d+ held-out targets", f"{zoo_txt}; {len(rows)} held-out targets", data["setup"])
    data["setup"] = re.sub(r"transfer races the top \d+ for \d+ epochs", "transfer's race (contenders x epochs) "
                           + ", ".join(f"{p} on half {h}" for h, p in sorted(policies.items())), data["setup"])
    data["sources"] = [{"file": Path(p).name, "targets": len(d["rows"]), "setup": d["setup"]}
                       for p, d in zip(paths, datas)]
    if categories is not None:
        cat = {x["name"]: x for x in json.loads(Path(categories).read_text())["rows"]}
        missing = [x["name"] for x in rows if x["name"] not in cat]
        if missing:
            raise ValueError(f"{categories}: no category row for {', '.join(missing)}; run selection.py "
                             f"--categories over every target first")
        for x in rows:
            c = cat[x["name"]]
            x.update({k: c[k] for k in ("classifier", "classifier_confidence", "classifier_top3",
                                        "classifier_top1_ok", "classifier_top3_ok", *LEVEL_COLUMNS) if k in c})
        data["categories_from"] = Path(categories).name
    data["rows"] = rows
    data["race_policies"] = policies
    halves = ("A", "B", "all") if len(set(policies.values())) <= 1 else ("A", "B")
    data["summary"] = {h: summarize([x for x in rows if h == "all" or x["half"] == h]) for h in halves}
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 targets, 4 s, 2 epochs, a 4 + 2 pool (CI)")
    ap.add_argument("--zoo", default=None, help="zoo directory (default: the bundled zoo)")
    ap.add_argument("--half", choices=("A", "B", "all"), default="all")
    ap.add_argument("--only", nargs="*", default=None, metavar="NAME", help="run only these targets")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--pool", type=int, default=None, help="suggestions in the oracle's shortlist")
    ap.add_argument("--random", type=int, default=None, help="uniformly drawn entries added to it")
    ap.add_argument("--race", type=int, default=None, help="transfer's race size (default: Zoo.transfer's)")
    ap.add_argument("--race-epochs", type=int, default=None, help="transfer's race length (default: Zoo.transfer's)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--categories", action="store_true",
                    help="only the category columns (classifier, suggest's pick) for every target: cheap")
    ap.add_argument("--report", nargs="*", default=None, metavar="JSON",
                    help="merge and re-summarise result files of one budget without training (a later file's "
                         "row of a target replaces an earlier one's); the merge is written to --out only "
                         "when it is given")
    ap.add_argument("--category-file", default=None, metavar="JSON",
                    help="with --report: take every row's classifier columns from this --categories file")
    args = ap.parse_args(argv)
    out = Path(args.out or Path(__file__).parent / "results" / ("selection_quick.json" if args.quick
                                                                   else "selection.json"))
    if args.report is not None:
        try:
            data = merge_results([Path(p) for p in args.report or [out]],
                                 categories=Path(args.category_file) if args.category_file else None)
        except ValueError as e:
            ap.error(str(e))
        if args.out:            # a merge is written only where asked: never over a results file by default
            out.write_text(json.dumps(data, indent=1) + "\n")
        print(markdown(data["rows"], data["summary"], data["setup"]))
        return 0
    if args.category_file:
        ap.error("--category-file goes with --report")
    zoo = Zoo.open(args.zoo) if args.zoo else Zoo.default()
    try:
        from tonezoo.classify import Classifier
        clf = Classifier.default() if args.zoo is None or not (Path(args.zoo) / "classifier.json").is_file() \
            else Classifier.load(Path(args.zoo) / "classifier.json")
    except Exception as e:                                   # no bundled classifier: category columns left out
        if args.categories:
            ap.error(f"--categories needs a classifier: {e}")
        print(f"no classifier ({e}); category columns left out", flush=True)
        clf = None
    budget = default_budget(args.quick)
    seconds = args.seconds or budget["seconds"]
    epochs = args.epochs or budget["epochs"]
    pool = args.pool or budget["pool"]
    n_random = args.random if args.random is not None else budget["random"]
    race = args.race if args.race is not None else budget["race"]
    race_epochs = args.race_epochs or race_length(epochs)
    if race > pool:
        ap.error(f"--race {race} is larger than the oracle's shortlist (--pool {pool}): transfer's run of its winner "
                 f"must be one of the pool's runs; give --pool {race} or more")
    settings = dict(vars(args), seconds=seconds, epochs=epochs, pool=pool, random=n_random, race=race,
                    race_epochs=race_epochs, protocol=PROTOCOL)
    todo = [t for t in targets(quick=args.quick) if (args.half == "all" or t["half"] == args.half)
            and (args.only is None or t["name"] in args.only)]
    assert not any(t.get("family") not in (None, *HELD_OUT_FAMILIES) for t in todo)
    setup = (f"{len(zoo)}-model zoo; {len(todo)} held-out targets (families never in the zoo or the classifier's "
             f"training, and real third-party captures on real DI); {seconds:g} s captures through WAV and "
             f"load_capture (80 % training); {epochs} epochs per run, validated every epoch; ESR on fresh audio; "
             f"oracle = best of the top {pool} suggestions + {n_random} random entries, fine-tuned together from "
             f"transfer's starts (output layer refit); transfer races the top {race} for {race_epochs} epochs; "
             f"fresh ESR against the raw output advanced by the latency the capture removed")
    t0 = time.perf_counter()
    rows: list[dict] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.categories:
        if args.out is None:
            out = out.with_name("selection_categories.json")
        with tempfile.TemporaryDirectory() as tmp:
            for t in todo:
                row = categorize(zoo, clf, t, seconds=seconds, workdir=Path(tmp))
                if row is not None:
                    rows.append(row)
                    print(f"[{row['half']}] {row['name']:44s} {'/'.join(row['accepted']):24s} classifier "
                          f"{row['classifier']:12s} ({row['classifier_confidence']:.2f}) pick {row['pick']} "
                          f"({row['pick_category']})", flush=True)
        summary = {h: summarize_categories([x for x in rows if h == "all" or x["half"] == h]) for h in ("A", "B", "all")}
        out.write_text(json.dumps({"setup": setup, "summary": summary, "rows": rows}, indent=1) + "\n")
        print(categories_markdown(summary))
        print(f"wrote {out} ({time.perf_counter() - t0:.0f} s)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for t in todo:
            row = evaluate(zoo, clf, t, seconds=seconds, epochs=epochs, pool=pool, n_random=n_random,
                           race=race, race_epochs=race_epochs, workdir=Path(tmp))
            if row is None:
                print(f"{t['name']}: this tonezoo cannot run the fixture model; skipped", flush=True)
                continue
            rows.append(row)
            # every target's captures have their own lengths, so its programs are compiled for it alone;
            # dropping them keeps a long run's memory flat (a half ran out of memory without it)
            jax.clear_caches()
            print(f"[{row['half']}] {row['name']:44s} cls {row.get('classifier', '-'):12s} pick {row['pick']:22s} "
                  f"pick {row['pick_esr']:.4f} transfer {row['transfer_esr']:.4f} oracle {row['oracle_esr']:.4f} "
                  f"scratch {row['scratch_esr']:.4f} random {row['random_esr']:.4f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
            summaries = {h: summarize([x for x in rows if h == "all" or x["half"] == h]) for h in ("A", "B", "all")}
            out.write_text(json.dumps({"setup": setup, "settings": settings, "summary": summaries, "rows": rows,
                                       "seconds": round(time.perf_counter() - t0, 1)}, indent=1) + "\n")
    if rows:
        print(markdown(rows, summaries, setup))
    print(f"wrote {out} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
