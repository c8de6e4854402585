"""From a ranking to a fine-tuned model: the race between the top suggestions and the start model.

:func:`transfer` (what :meth:`tonezoo.zoo.Zoo.transfer` runs) fine-tunes the top ``race``
suggestions side by side for a few epochs (:func:`tonezoo.train.train_many`), carries the
winner on, and keeps it only if it beats a from-scratch run of the same budget on validation;
:func:`start_model` / :func:`adapt_model` turn a zoo model into one that fits the capture (its
knob inputs and sample rate), with the same output.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..errors import ConfigError, ZooError
from ..knobs import fold_knobs
from ..model import Model, ModelConfig
from ..train import TrainConfig, TrainResult, recipe, train, train_many
from ..warmstart import refit_output
from .select import Suggestion

if TYPE_CHECKING:  # pragma: no cover
    from ..capture import Capture

__all__ = ["transfer", "start_model", "adapt_model"]


def adapt_model(model: Model, *, knobs: Sequence[str] = (), knob_values: Mapping[str, float] | None = None,
                sample_rate: int | None = None) -> Model:
    """An equivalent model with the capture's knob inputs and sample rate, ready to fine-tune.

    * Knobs the model has but the capture lacks are folded into the model at their
      ``knob_values`` (default the model's metadata, else 0.5): the output is unchanged.
    * Knobs the capture has but the model lacks get zero input weights: the output is unchanged
      until fine-tuning learns to use them.
    * ``sample_rate`` only relabels the model (its weights are kept; fine-tuning adapts them).

    See :func:`tonezoo.knobs.fold_knobs`.
    """
    out = fold_knobs(model, tuple(knobs), knob_values)
    rate = int(sample_rate or model.config.sample_rate)
    return Model(dataclasses.replace(out.config, sample_rate=rate), out.params, out.metadata)


RACE = 5
"""Contenders in the default race: the top 5 suggestions (:func:`race_length` says how it was decided)."""

RACE_EPOCHS = 8
"""Longest default race (epochs); the default is a quarter of the budget up to this (:func:`race_length`)."""


def race_length(max_epochs: int, race_epochs: int | None = None) -> int:
    """Epochs of the race: ``race_epochs`` when given, else a quarter of ``max_epochs`` (rounded up), 1 to
    :data:`RACE_EPOCHS`.

    Decided with the race's size (:data:`RACE`) on half A of ``benchmarks/selection.py`` (17 held-out
    targets, 30 epochs), read off the oracle pool's validation curves, on the zoo before and after its
    retuning: the top 5 racing 8 epochs kept a model within 10 % of the oracle pool on 9 and 13 of 17
    targets, more than any other size (2-5) and length (1-12) on the two runs together; the earlier
    default, the top 3 for 6 epochs, on 4 and 11 (``docs/zoo.md``). Most misses of the retuned zoo's
    half A were starts that the top 3 left out. 8 of 30 epochs cost 32 model-epochs on top of the
    winner's and scratch's 60; a transfer on 6 s of audio took 42 s against 32 s.
    """
    if race_epochs is not None:
        return int(race_epochs)
    return int(min(RACE_EPOCHS, max(1, -(-int(max_epochs) // 4))))


def _check_options(overrides: dict[str, Any], fields: set[str]) -> None:
    """Refuse keywords neither :class:`~tonezoo.train.TrainConfig` nor :func:`~tonezoo.train.train` takes,
    before any training (a typo used to surface only after the race)."""
    import difflib
    import inspect

    from ..train import train
    known = fields | {n for n, prm in inspect.signature(train).parameters.items()
                      if prm.kind is inspect.Parameter.KEYWORD_ONLY}
    unknown = sorted(set(overrides) - known)
    if unknown:
        hints = {k: difflib.get_close_matches(k, sorted(known), n=1, cutoff=0.5) for k in unknown}
        said = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
        raise ConfigError(f"unknown training options {said}: transfer takes TrainConfig's fields "
                          "(max_epochs, lr, patience, ...) and train's keywords")


def transfer(zoo: Any, capture: "Capture", *, race: int = RACE, race_epochs: int | None = None, top: int = 5,
             shortlist: int = 16, progress: bool = True, suggestions: Sequence[Suggestion] | None = None,
             scratch: bool = True, refit: bool = True,
             on_race: Callable[[list[dict[str, Any]], str], None] | None = None,
             on_start: Callable[[str, Model, dict[str, Any] | None], None] | None = None,
             **train_overrides: Any) -> TrainResult:
    """Suggest a starting model from ``zoo`` for ``capture`` and fine-tune from it (:meth:`tonezoo.zoo.Zoo.transfer`).

    The policy, in three steps:

    1. **Refit starts** (``refit``, default on): every starting model first gets its output layer
       refit to the capture's training audio by least squares
       (:func:`tonezoo.warmstart.refit_output`), so level and polarity are right from the first
       step -- the seed article's "first loss much lower", without training; a linear probe before
       fine-tuning, as in LP-FT (Kumar et al., "Fine-Tuning can Distort Pretrained Features and
       Underperform Out-of-Distribution", ICLR 2022).
    2. **Race** (``race``, default 5): the top ``race`` suggestions are fine-tuned together (one
       vmapped run per architecture, validated every epoch) for ``race_epochs`` epochs (default: a
       quarter of the budget, at most 8: :func:`race_length`), and the one
       with the best validation ESR carries on from where the race left it (weights, optimizer and
       learning-rate state) up to ``max_epochs`` in all, so the result is the winner's whole run.
       The zero-shot ranking alone is a weak predictor of how well a model fine-tunes (see
       ``docs/zoo.md``); a short race on the user's own audio is a better one and costs ``race`` x
       ``race_epochs`` model-epochs. One round of successive halving (Jamieson & Talwalkar,
       "Non-stochastic Best Arm Identification and Hyperparameter Optimization", AISTATS 2016).
    3. **Final against scratch** (``scratch``, default on): a freshly initialised model of the
       winner's architecture trains with the same recipe and budget -- exactly the run ``tonezoo
       train`` from scratch gives with that budget (same seed) -- and the one with the lower
       validation ESR is returned. On validation, transfer is therefore never worse than scratch
       at the same budget, and keeps its wins; how far that carries to new audio depends on the
       validation audio standing for it (``docs/zoo.md`` has the figures measured on fresh audio
       of held-out devices). It costs one more run of the budget; ``scratch=False`` skips it.
       The scratch contender enters only the final: after a race of a few epochs it trails the
       refit starts far (``docs/zoo.md``), so racing it from the start would drop it before it
       catches up.

    Parameters
    ----------
    capture : Capture
    race : int
        Contenders in the race (the top ``race`` suggestions); 0 or 1 fine-tunes the first
        suggestion directly.
    race_epochs : int, optional
        Epochs of the race (part of ``max_epochs``); default :func:`race_length`: a quarter of
        ``max_epochs``, 1 to 8.
    top, shortlist : see :meth:`suggest`
    progress : bool
    suggestions : sequence of Suggestion, optional
        A ranking from :meth:`suggest` to reuse (else computed here).
    scratch : bool
        Race a from-scratch model against the winner for the whole budget and keep the better.
    refit : bool
        Start every contender with its output layer refit to the capture by least squares.
    on_race : callable, optional
        Called once the race is decided, before the winner carries on, with the race's rows (as
        ``metadata["race"]`` records them: ``id``, ``val_esr``, ``epochs``) and the winner's id,
        so a caller can say who won while the winner trains.
    on_start : callable, optional
        Called for each start as it is made, before any training, with its zoo id, the start model
        as it is (adapted to the capture's knobs and rate, output layer not refit) and its
        ``output_refit`` record (``None`` when the layer was kept or ``refit`` is off), so a caller
        can say where each contender starts without making the start again.
    **train_overrides
        Passed to :func:`tonezoo.train.train` (``max_epochs=...``, ``patience=...``, ``config=...``).

    Returns
    -------
    TrainResult
        ``result.model.metadata`` records ``base_model`` (the zoo id started from, or ``None``
        when the scratch contender won), ``suggestions`` (the ranking table), ``suggest_level_db``
        (the DI level stage 1 compared at, dBFS RMS of the active frames, when it compared at the
        capture's level: :attr:`Suggestion.level_db`), after a race ``race`` (each contender's best
        validation ESR and epochs), with ``refit`` the start's ``output_refit``
        (:func:`tonezoo.warmstart.refit_output`'s record, or ``{"fit": "none"}`` when neither fit
        lowered the validation error and the layer was kept as it was; absent when the scratch
        contender won) and with ``scratch`` the final (``final``: ``transfer_val_esr``,
        ``scratch_val_esr``, ``winner``, ``decided_on`` = ``"validation"`` and
        ``validation_seconds``). ``result.source`` is the zoo id, or ``"scratch"``.

    Raises
    ------
    ConfigError
        ``race`` or ``race_epochs`` out of range, or unknown training options.
    ZooError
        No suggestion to start from (an empty zoo).
    """
    if isinstance(race, bool) or not isinstance(race, int) or race < 0:
        raise ConfigError(f"race must be an integer >= 0, got {race!r}")
    if race_epochs is not None and (isinstance(race_epochs, bool) or not isinstance(race_epochs, int)
                                    or race_epochs < 1):
        raise ConfigError(f"race_epochs must be an integer >= 1, got {race_epochs!r}")
    overrides = dict(train_overrides)
    given = overrides.pop("config", None)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    changes = {k: overrides.pop(k) for k in list(overrides) if k in fields}
    _check_options(overrides, fields)

    def recipe_for(config: ModelConfig) -> TrainConfig:
        # the caller's recipe, else the architecture's own (AGAM's for an LSTM, NAM's for a WaveNet),
        # as train and train_many choose it
        return (given or recipe(config)).replace(**changes)

    sugg = list(suggestions) if suggestions is not None else \
        zoo.suggest(capture, top=max(top, race), shortlist=max(shortlist, race))
    if not sugg:
        raise ZooError("no suggestion to start from")
    chosen = sugg[0]
    tcfg = recipe_for(zoo.entry(chosen.id).config)
    race_epochs = race_length(tcfg.max_epochs, race_epochs)
    race_rows: list[dict[str, Any]] = []
    contenders = sugg[:race] if race >= 2 and tcfg.max_epochs > race_epochs else []

    refits: dict[str, dict[str, Any]] = {}       # each start's refit, as the result's metadata records it

    def start(sid: str) -> Model:
        m = start_model(zoo, sid, capture)
        m.metadata.pop("output_refit", None)       # a record of the zoo model's own start, not of this one
        out = refit_output(m, capture) if refit else m
        if refit:
            refits[sid] = dict(out.metadata.get("output_refit") or {"fit": "none"})
        if on_start is not None:                   # refit_output returns the model itself when it keeps the layer
            on_start(sid, m, None if out is m else out.metadata.get("output_refit"))
        return out

    if len(contenders) >= 2:
        inits = {s.id: start(s.id) for s in contenders}
        by_cfg: dict[ModelConfig, list[str]] = {}
        for sid, m in inits.items():
            by_cfg.setdefault(m.config, []).append(sid)
        for cfg, ids in by_cfg.items():
            race_cfg = recipe_for(cfg).replace(max_epochs=race_epochs, val_every=1, patience=race_epochs + 1)
            results = train_many(capture, [inits[i] for i in ids], config=race_cfg, progress=progress,
                                 **{k: v for k, v in overrides.items() if k == "epoch_callback"})
            race_rows += [{"id": i, "val_esr": float(r.best_val_esr), "result": r}
                          for i, r in zip(ids, results)]
        best = min(race_rows, key=lambda r: r["val_esr"])
        chosen = next(s for s in sugg if s.id == best["id"])
        tcfg = recipe_for(best["result"].model.config)
        if on_race is not None:
            on_race(_race_metadata(race_rows), chosen.id)
    if race_rows and best["result"].stop_reason == "interrupted":
        result = best["result"]          # Ctrl-C during the race: keep its best, start nothing more
    elif race_rows:
        # the winner carries on from where the race left it (weights, optimizer, schedule)
        result = train(capture, continue_from=best["result"], config=tcfg, progress=progress, **overrides)
    else:
        result = train(capture, init=start(chosen.id), config=tcfg, progress=progress, **overrides)
    final: dict[str, Any] = {}
    scratch_won = False
    if scratch and result.stop_reason != "interrupted":
        # the from-scratch contender: same architecture, same budget, the better validation ESR is kept
        other = train(capture, model_config=result.model.config, config=tcfg, progress=progress,
                      label="scratch contender", **{k: v for k, v in overrides.items() if k == "epoch_callback"})
        final = {"transfer_val_esr": float(result.best_val_esr), "scratch_val_esr": float(other.best_val_esr),
                 "decided_on": "validation", "validation_seconds": float(capture.val_seconds)}
        if other.best_val_esr < result.best_val_esr:
            result, scratch_won = other, True
        final["winner"] = "scratch" if scratch_won else chosen.id
    md = result.model.metadata
    md["base_model"] = None if scratch_won else chosen.id
    md["base_model_name"] = None if scratch_won else chosen.name
    md["suggestions"] = [{k: s.to_dict()[k] for k in ("rank", "id", "name", "category", "distance",
                                                       "zero_shot_esr", "reason")} for s in sugg]
    if getattr(chosen, "level_db", None) is not None:
        md["suggest_level_db"] = round(float(chosen.level_db), 2)
    if not scratch_won and chosen.id in refits:
        md["output_refit"] = refits[chosen.id]
    if race_rows:
        md["race"] = _race_metadata(race_rows)
    if final:
        md["final"] = final
    result.source = "scratch" if scratch_won else chosen.id
    return result


def _race_metadata(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The race as ``metadata["race"]`` records it: each contender's id, best validation ESR and epochs."""
    return [{"id": r["id"], "val_esr": r["val_esr"], "epochs": r["result"].epochs} for r in rows]


def start_model(zoo: Any, model_id: str, capture: "Capture") -> Model:
    """Zoo model ``model_id`` adapted to the capture's knobs and sample rate (see :func:`adapt_model`)."""
    m = zoo.get(model_id)
    knobs = tuple(sorted((capture.knobs or {}).keys())) if capture.knobs else ()
    if set(knobs) == set(m.config.knobs):
        knobs = m.config.knobs
    out = adapt_model(m, knobs=knobs, sample_rate=capture.sample_rate)
    out.metadata["name"] = m.name
    return out
