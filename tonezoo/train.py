"""Training and fine-tuning with the Automated-GuitarAmpModelling (AGAM) recipe.

The recipe (every number is a :class:`TrainConfig` field):

* the training audio is cut into segments of 22,050 samples, shuffled each epoch and grouped into
  mini-batches of up to 50 segments;
* truncated backpropagation through time: the first 200 samples of each segment warm the state up
  without gradient, then the rest is stepped through in chunks of 1,000 samples with one Adam update
  per chunk (lr 5e-3, L2 weight decay 1e-4), the state carried across chunks and detached;
* the loss is ``0.75 * ESR + 0.25 * DC`` (optionally with a pre-emphasis filter on the ESR term)::

      ESR = sum((y - y_hat)^2) / (sum(y^2) + 1e-5 * n)       DC = (mean(y) - mean(y_hat))^2 / (mean(y^2) + 1e-5)

* the whole validation audio is evaluated every 2 epochs; the learning rate is halved after 5
  validations without improvement (``optax.contrib.reduce_on_plateau``); training stops after more
  than 25 validations in a row without improvement or at the epoch limit; the best model by
  validation loss is kept.

Transfer learning is training with ``init=`` a pretrained :class:`~tonezoo.model.Model` of the
same architecture. :func:`train_many` trains several models of one architecture on the same
capture in one vmapped program (races between candidate starting points, zoo building).

One compiled program runs a whole epoch (a ``lax.scan`` over mini-batches, each a ``lax.scan``
over TBPTT chunks with the optimizer inside), so an epoch is a single call whatever its length.
Segments are balanced over the mini-batches and the last one padded with masked segments so every
epoch has the same shapes.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import architectures
from ._progress import Progress
from .embed import input_levels
from .errors import ConfigError, TrainingError
from .knobs import knob_array, resolve_knobs
from .losses import esr, esr_dc_loss
from .model import Model, ModelConfig, apply, init, split_params, stack_params, unstack_params
from .modelfile import load_checkpoint, save_checkpoint
from .optim import FINE_TUNE_WARMUP_STEPS
from .optim import optimizer as _optimizer
from .optim import plateau as _plateau
from .optim import warmup_steps as _warmup_steps
from .plots import plot_history  # noqa: F401  (tonezoo.train.plot_history, its home before plots.py)

__all__ = ["TrainConfig", "TrainResult", "train", "train_many", "recipe", "FINE_TUNE_WARMUP_STEPS", "esr",
           "esr_dc_loss", "plot_history"]



@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of the AGAM recipe (defaults are AGAM's ``dist_model_recnet.py``).

    Parameters
    ----------
    segment_length : int
        Samples per training segment (22,050 = 0.5 s at 44.1 kHz).
    batch_size : int
        Segments per mini-batch (at most; segments are balanced over batches).
    warmup : int
        Samples at the start of each segment run without gradient to warm the state up.
    tbptt : int
        Samples per truncated-BPTT chunk; one optimizer update per chunk.
    lr, weight_decay : float
        Adam learning rate and L2 weight decay (added to the gradient, as ``torch.optim.Adam``).
    val_every : int
        Epochs between validations; the last epoch (``max_epochs``) is always validated, so its
        training is never thrown away.
    patience : int
        Stop after more than this many validations in a row without improvement.
    lr_patience, lr_factor : int, float
        Reduce-on-plateau: multiply the learning rate by ``lr_factor`` after ``lr_patience``
        validations without improvement.
    max_epochs : int
        Epoch limit.
    pre_emphasis : float or None
        Coefficient ``a`` of the pre-emphasis filter ``p[n] = s[n] - a s[n-1]`` applied before the
        ESR term (AGAM's ``ESRPre`` uses 0.85); None for plain ESR.
    esr_weight, dc_weight : float
        Loss weights.
    seed : int
        Seeds initialisation (when training from scratch) and the shuffling.
    lr_decay : float in [0, 1)
        Exponential decay per epoch: epoch ``e`` trains at ``lr * (1 - lr_decay) ** (e - 1)`` (times
        the plateau factor). 0 for AGAM; NAM's WaveNet recipe uses 0.007 (``ExponentialLR``).
    lr_warmup_steps : int or None
        Optimizer steps over which the learning rate rises linearly, step ``k`` (from 1) at
        ``lr * min(1, k / lr_warmup_steps)`` (:func:`tonezoo.optim.scale_by_warmup` on Adam's update, counted
        in the optimizer state, so a run carried on keeps counting); 0 for none. None (the
        default): :data:`FINE_TUNE_WARMUP_STEPS` when the run starts from a model (``init``,
        ``inits``), 0 from scratch, and a carried-on run keeps its own. Adam's first step moves
        every weight by about ``lr`` whatever its gradient's size, which throws a good start away
        (measured: a pretrained start's validation ESR 2-8x worse after one step, recovered only
        epochs later). NAM's WaveNet recipe sets 0: measured, it did not help (``benchmarks/warmup.py``).
    loss : {"esr_dc", "nam"}
        ``"esr_dc"``: the ESR + DC loss above, validated by it. ``"nam"``: NAM's WaveNet loss, MSE +
        2e-4 x multi-resolution STFT of the pre-emphasised signals
        (:func:`tonezoo.architectures.wavenet.nam_loss`), validated and checkpointed by ESR.
    """

    segment_length: int = 22050
    batch_size: int = 50
    warmup: int = 200
    tbptt: int = 1000
    lr: float = 5e-3
    weight_decay: float = 1e-4
    val_every: int = 2
    patience: int = 25
    lr_patience: int = 5
    lr_factor: float = 0.5
    max_epochs: int = 2000
    pre_emphasis: float | None = None
    esr_weight: float = 0.75
    dc_weight: float = 0.25
    seed: int = 0
    lr_decay: float = 0.0
    loss: str = "esr_dc"
    lr_warmup_steps: int | None = None

    def __post_init__(self) -> None:
        ints = {"segment_length": 1, "batch_size": 1, "warmup": 0, "tbptt": 1, "val_every": 1, "patience": 0,
                "lr_patience": 0, "max_epochs": 1, "seed": 0}
        for name, lo in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, got {v!r}")
        if self.warmup >= self.segment_length:
            raise ConfigError(f"warmup ({self.warmup}) must be shorter than segment_length ({self.segment_length})")
        for name in ("lr", "weight_decay", "esr_weight", "dc_weight"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not 0 < self.lr_factor < 1:
            raise ConfigError(f"lr_factor must be in (0, 1), got {self.lr_factor}")
        if not isinstance(self.lr_decay, (int, float)) or not 0 <= self.lr_decay < 1:
            raise ConfigError(f"lr_decay must be in [0, 1), got {self.lr_decay!r}")
        w = self.lr_warmup_steps
        if w is not None and (isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0):
            raise ConfigError(f"lr_warmup_steps must be an integer >= 0 or None, got {w!r}")
        if self.loss not in ("esr_dc", "nam"):
            raise ConfigError(f"loss must be 'esr_dc' or 'nam', got {self.loss!r}")
        if self.pre_emphasis is not None and not 0 <= self.pre_emphasis < 1:
            raise ConfigError(f"pre_emphasis must be in [0, 1) or None, got {self.pre_emphasis}")

    def replace(self, **overrides: Any) -> "TrainConfig":
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown training options {sorted(unknown)}")
        return dataclasses.replace(self, **overrides)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : Model
        The best model by validation loss (metadata filled in: ``val_esr``, ``training_seconds``, ...).
    history : list of dict
        One row per epoch: ``epoch``, ``train_loss``, ``val_loss`` and ``val_esr`` (None between
        validations), ``lr``, ``seconds`` (wall time since the start).
    first_val_esr, best_val_esr : float
        Validation ESR before any update (epoch 0) and of the kept model.
    first_val_loss, best_val_loss : float
        The same for the training loss function (what the article's tables report).
    best_epoch, epochs : int
    seconds : float
        Wall time of the training loop.
    stop_reason : str
        ``"patience"``, ``"max_epochs"``, ``"interrupted"`` or ``"target"``.
    source : str or None
        Name of the model training started from (transfer learning), None from scratch.
    resume_state : dict or None
        Where the run stopped (the last weights, optimizer and learning-rate-schedule state,
        patience counter): ``train(capture, continue_from=result, max_epochs=N)`` carries on
        exactly as if the run had not stopped.
    """

    model: Model
    history: list[dict[str, Any]]
    first_val_esr: float
    best_val_esr: float
    first_val_loss: float
    best_val_loss: float
    best_epoch: int
    epochs: int
    seconds: float
    stop_reason: str
    source: str | None = None
    resume_state: dict[str, Any] | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(self.epochs, 1)

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly summary the CLI prints."""
        return {
            "first_val_esr": self.first_val_esr, "best_val_esr": self.best_val_esr,
            "first_val_loss": self.first_val_loss, "best_val_loss": self.best_val_loss,
            "best_epoch": self.best_epoch, "epochs": self.epochs, "seconds": round(self.seconds, 3),
            "seconds_per_epoch": round(self.seconds_per_epoch, 4), "stop_reason": self.stop_reason,
            "from": self.source,
        }


# --------------------------------------------------------------------------------------------
# compiled programs (pure; config objects are static arguments)
# --------------------------------------------------------------------------------------------
def _merge(trainable: dict, frozen: dict) -> dict:
    """Params from the trainable and frozen halves of :func:`tonezoo.model.split_params`."""
    return {**trainable, **frozen}


_RUNTIME_FIELDS = ("lr", "val_every", "patience", "lr_patience", "lr_factor", "max_epochs", "seed", "lr_decay",
                   "lr_warmup_steps")


def _program_config(tcfg: TrainConfig) -> TrainConfig:
    """``tcfg`` with the fields that never reach a compiled program set to their defaults.

    The compiled epoch and validation programs take the config as a static argument; values that
    only the Python loop uses (learning rate, which enters as an array, seeds, stopping rules)
    are normalised here so that changing them reuses the compiled program instead of recompiling.
    """
    default = TrainConfig()
    return tcfg.replace(**{name: getattr(default, name) for name in _RUNTIME_FIELDS})


def _loss(tcfg: TrainConfig) -> Callable:
    if tcfg.loss == "nam":
        from .architectures.wavenet import nam_loss
        return nam_loss
    return partial(esr_dc_loss, pre_emphasis=tcfg.pre_emphasis, esr_weight=tcfg.esr_weight, dc_weight=tcfg.dc_weight)


def _epoch_fn(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, *, mcfg: ModelConfig, tcfg: TrainConfig):
    """One epoch: the architecture's ``train_epoch`` with this recipe's optimizer and loss.

    xb, yb : (n_batches, B, S) ; mb : (n_batches, B) segment mask ; knobs : (K,) or None.
    """
    return architectures.get(mcfg.arch).train_epoch(trainable, frozen, opt_state, xb, yb, mb, knobs, lr,
                                                     config=mcfg, tcfg=tcfg, optimizer=_optimizer(tcfg),
                                                     loss=_loss(tcfg))


def _val_fn(params, x, y, knobs, *, mcfg: ModelConfig, tcfg: TrainConfig):
    """Validation loss and ESR of the whole validation audio (one sequence from the initial state)."""
    y_hat, _ = apply(params, x[None], None, knobs, config=mcfg)
    value, plain = _loss(tcfg)(y[None], y_hat, jnp.ones_like(y[None]))
    return (plain, plain) if tcfg.loss == "nam" else (value, plain)   # NAM keeps the best model by ESR


@partial(jax.jit, static_argnames=("mcfg", "tcfg"), donate_argnums=(0, 2))
def _epoch_single(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, *, mcfg, tcfg):
    return _epoch_fn(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, mcfg=mcfg, tcfg=tcfg)


@partial(jax.jit, static_argnames=("mcfg", "tcfg", "per_model_data"), donate_argnums=(0, 2))
def _epoch_many(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, *, mcfg, tcfg, per_model_data=False):
    fn = partial(_epoch_fn, mcfg=mcfg, tcfg=tcfg)
    d = 0 if per_model_data else None
    k = d if knobs is not None else None
    return jax.vmap(fn, in_axes=(0, 0, 0, d, d, None, k, 0))(
        trainable, frozen, opt_state, xb, yb, mb, knobs, lr)


@partial(jax.jit, static_argnames=("mcfg", "tcfg"))
def _val_single(params, x, y, knobs, *, mcfg, tcfg):
    return _val_fn(params, x, y, knobs, mcfg=mcfg, tcfg=tcfg)


@partial(jax.jit, static_argnames=("mcfg", "tcfg", "per_model_data"))
def _val_many(params, x, y, knobs, *, mcfg, tcfg, per_model_data=False):
    d = 0 if per_model_data else None
    k = d if knobs is not None else None
    return jax.vmap(partial(_val_fn, mcfg=mcfg, tcfg=tcfg), in_axes=(0, d, d, k))(params, x, y, knobs)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def _segments(x: np.ndarray, y: np.ndarray, seg: int, hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Segments of ``seg`` samples every ``hop`` (default ``seg``: back to back).

    Models with a finite receptive field take ``hop = seg - warmup``: each window's context is the
    audio before it, so every sample is scored once per epoch (NAM's dataset).
    """
    hop = hop or seg
    if len(x) < seg:
        raise ConfigError(f"the training audio has {len(x)} samples, shorter than one segment ({seg}); "
                          "use more audio or a shorter segment_length")
    if hop == seg:
        n = len(x) // seg
        return x[: n * seg].reshape(n, seg), y[: n * seg].reshape(n, seg)
    idx = np.arange((len(x) - seg) // hop + 1)[:, None] * hop + np.arange(seg)[None, :]
    return x[idx], y[idx]


def _batches(xs: np.ndarray, ys: np.ndarray, batch_size: int, key: jax.Array) -> tuple[np.ndarray, ...]:
    """Shuffle segments and group them into balanced, padded mini-batches (fixed shapes).

    ``xs``, ``ys`` are (n_segments, S), or (n_models, n_segments, S) for per-model data (the same
    shuffle is applied to every model's segments).
    """
    n, seg = xs.shape[-2:]
    n_batches = -(-n // batch_size)
    per = -(-n // n_batches)
    order = np.asarray(jax.random.permutation(key, n))
    idx = np.full(n_batches * per, -1, np.int64)
    idx[:n] = order
    idx = idx.reshape(per, n_batches).T  # deal round-robin so padding spreads over batches
    mask = (idx >= 0).astype(np.float32)
    safe = np.where(idx >= 0, idx, 0)
    return xs[..., safe, :] * mask[..., None], ys[..., safe, :] * mask[..., None], mask


def _knob_vector(capture, mcfg: ModelConfig) -> np.ndarray | None:
    if not mcfg.knobs:
        return None
    values, missing = resolve_knobs(mcfg.knobs, getattr(capture, "knobs", None))
    if missing:
        raise ConfigError(f"the model is conditioned on knobs {list(mcfg.knobs)} but the capture "
                          f"{getattr(capture, 'name', '')!r} gives no value for {missing}; pass knobs=... to load_capture")
    return knob_array(mcfg.knobs, values)


def _resolve_config(capture, init_models: Sequence[Model] | None, model_config: ModelConfig | None) -> ModelConfig:
    sr = int(capture.sample_rate)
    if init_models:
        cfg = init_models[0].config
        for m in init_models[1:]:
            if m.config != cfg:
                raise ConfigError(f"models trained together must share one architecture: {m.config} != {cfg}")
        if model_config is not None and model_config != cfg:
            raise ConfigError(
                f"the starting model {init_models[0].name!r} is {cfg.describe()} "
                f"({cfg.num_layers} layer(s), knobs {list(cfg.knobs)}, skip {cfg.skip}) but "
                f"{model_config.describe()} (knobs {list(model_config.knobs)}, "
                f"skip {model_config.skip}) was asked for; transfer learning needs the same architecture")
        if cfg.sample_rate != sr:
            raise ConfigError(
                f"the starting model {init_models[0].name!r} was trained at {cfg.sample_rate} Hz but the capture is at "
                f"{sr} Hz; load the capture with resample=True at {cfg.sample_rate} Hz or pick a model at {sr} Hz")
        return cfg
    cfg = model_config or ModelConfig(sample_rate=sr)
    if cfg.sample_rate != sr:
        cfg = dataclasses.replace(cfg, sample_rate=sr)
    return cfg


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------
@dataclass
class _Run:
    """Everything one training run carries from setup through the loop to its results."""

    captures: list
    per_model_data: bool
    init_models: list[Model] | None
    mcfg: ModelConfig
    tcfg: TrainConfig
    pcfg: TrainConfig                 # the static part: runtime-only changes reuse compiled programs
    xs: np.ndarray
    ys: np.ndarray
    vx: jax.Array
    vy: jax.Array
    kj: jax.Array | None
    many: bool
    key: jax.Array
    n_models: int
    plateau: Any
    trainable: Any
    frozen: Any
    opt_state: Any
    rop_state: Any
    train_seconds: float
    histories: list[list[dict]] = dataclasses.field(default_factory=list)
    start_epoch: int = 0
    first_loss: np.ndarray | None = None
    first_esr: np.ndarray | None = None
    best_loss: np.ndarray | None = None
    best_esr: np.ndarray | None = None
    best_epoch: np.ndarray | None = None
    since_best: np.ndarray | None = None
    best_tr: Any = None

    def validate(self, tr: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validation loss and ESR per model, each (n_models,)."""
        if self.many:
            loss, e = _val_many(_merge(tr, self.frozen), self.vx, self.vy, self.kj, mcfg=self.mcfg, tcfg=self.pcfg,
                                per_model_data=self.per_model_data)
        else:
            loss, e = _val_single(_merge(tr, self.frozen), self.vx, self.vy, self.kj, mcfg=self.mcfg, tcfg=self.pcfg)
        return np.atleast_1d(np.asarray(loss, np.float64)), np.atleast_1d(np.asarray(e, np.float64))


def _host(tree: Any) -> Any:
    return jax.tree.map(lambda a: np.array(a), tree)


def _setup(capture, init_models: list[Model] | None, model_config: ModelConfig | None, tcfg: TrainConfig,
           n_models: int) -> _Run:
    """Data (segments, validation audio, knobs), starting parameters and optimizer states."""
    captures = list(capture) if isinstance(capture, (list, tuple)) else [capture]
    per_model_data = len(captures) > 1
    capture = captures[0]
    mcfg = _resolve_config(capture, init_models, model_config)
    hop = tcfg.segment_length - tcfg.warmup if architectures.get(mcfg.arch).receptive_field(mcfg) > 0 else None
    data = [_segments(np.asarray(c.train_x, np.float32), np.asarray(c.train_y, np.float32), tcfg.segment_length,
                      hop)
            for c in captures]
    knob_list = [_knob_vector(c, mcfg) for c in captures]
    if per_model_data:
        rates = {int(c.sample_rate) for c in captures}
        shapes = {(d[0].shape, len(c.val_x)) for d, c in zip(data, captures)}
        if len(rates) > 1 or len(shapes) > 1:
            raise ConfigError("captures trained side by side must share one sample rate and the same training and "
                              f"validation lengths; got rates {sorted(rates)} and (segments, validation samples) "
                              f"{sorted((s[0][0], s[1]) for s in shapes)}; render or cut them to equal lengths")
        xs, ys = np.stack([d[0] for d in data]), np.stack([d[1] for d in data])
        vx = jnp.asarray(np.stack([c.val_x for c in captures]), jnp.float32)
        vy = jnp.asarray(np.stack([c.val_y for c in captures]), jnp.float32)
        kj = None if knob_list[0] is None else jnp.asarray(np.stack(knob_list))
    else:
        xs, ys = data[0]
        vx = jnp.asarray(capture.val_x, jnp.float32)
        vy = jnp.asarray(capture.val_y, jnp.float32)
        kj = None if knob_list[0] is None else jnp.asarray(knob_list[0])
    many = n_models > 1 or init_models is not None and len(init_models) > 1
    key = jax.random.PRNGKey(tcfg.seed)
    if init_models:
        params_list = [m.params for m in init_models]
    else:
        params_list = [init(mcfg, jax.random.fold_in(key, 1000 + i)) for i in range(n_models)]
    tx = _optimizer(tcfg)
    plateau = _plateau(tcfg)
    splits = [split_params(jax.tree.map(jnp.array, p), mcfg) for p in params_list]  # copies: the epoch program donates
    if many:
        trainable = stack_params([s[0] for s in splits])
        frozen = stack_params([s[1] for s in splits])
        opt_state, rop_state = jax.vmap(tx.init)(trainable), jax.vmap(plateau.init)(trainable)
    else:
        trainable, frozen = splits[0]
        opt_state, rop_state = tx.init(trainable), plateau.init(trainable)
    return _Run(captures=captures, per_model_data=per_model_data, init_models=init_models, mcfg=mcfg, tcfg=tcfg,
                pcfg=_program_config(tcfg), xs=xs, ys=ys, vx=vx, vy=vy, kj=kj, many=many, key=key,
                n_models=len(params_list), plateau=plateau, trainable=trainable, frozen=frozen, opt_state=opt_state,
                rop_state=rop_state, train_seconds=round(len(capture.train_x) / capture.sample_rate, 3),
                histories=[[] for _ in params_list])


def _resume(run: _Run, *, continue_from: "TrainResult | None", ckpt: Path | None, resume: bool) -> None:
    """Where the run starts: a finished run carried on, a checkpoint, or epoch 0 (validated once)."""
    if continue_from is not None:
        st = continue_from.resume_state
        run.trainable = jax.tree.map(jnp.asarray, st["trainable"])
        run.opt_state = jax.tree.map(jnp.asarray, st["opt"])
        run.rop_state = jax.tree.map(jnp.asarray, st["rop"])
        run.histories = [[dict(row) for row in continue_from.history]]
        run.start_epoch = int(st["epoch"])
        run.first_loss = np.array([continue_from.first_val_loss])
        run.first_esr = np.array([continue_from.first_val_esr])
        run.best_loss, run.best_esr = np.array([continue_from.best_val_loss]), np.array([continue_from.best_val_esr])
        run.best_epoch, run.since_best = np.array([continue_from.best_epoch]), np.array([int(st["since_best"])])
        run.best_tr = _host(split_params(continue_from.model.params, run.mcfg)[0])
    elif resume and ckpt and (ckpt / "state.json").exists():
        bundle = {"trainable": run.trainable, "opt": run.opt_state, "rop": run.rop_state, "best": run.trainable}
        loaded, meta = load_checkpoint(ckpt, bundle)
        run.trainable, run.opt_state, run.rop_state = loaded["trainable"], loaded["opt"], loaded["rop"]
        run.histories = meta["histories"]
        run.start_epoch = int(meta["epoch"])
        run.first_loss, run.first_esr = np.asarray(meta["first_loss"]), np.asarray(meta["first_esr"])
        run.best_loss, run.best_esr = np.asarray(meta["best_loss"]), np.asarray(meta["best_esr"])
        run.best_epoch, run.since_best = np.asarray(meta["best_epoch"]), np.asarray(meta["since_best"])
        run.best_tr = _host(loaded["best"])
    else:
        if resume and ckpt:
            raise TrainingError(f"{ckpt}: no checkpoint to resume from; run without --resume first")
        run.first_loss, run.first_esr = run.validate(run.trainable)
        run.best_loss, run.best_esr = run.first_loss.copy(), run.first_esr.copy()
        run.best_epoch = np.zeros(run.n_models, np.int64)
        run.since_best = np.zeros(run.n_models, np.int64)
        run.best_tr = _host(run.trainable)
        for i in range(run.n_models):
            run.histories[i].append({"epoch": 0, "train_loss": None, "val_loss": float(run.first_loss[i]),
                                     "val_esr": float(run.first_esr[i]), "lr": run.tcfg.lr, "seconds": 0.0})
    if not np.all(np.isfinite(run.first_loss)):
        raise TrainingError("the validation loss of the starting model is not finite; check the capture")


def _validation_step(run: _Run, epoch: int, done: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate, step the learning-rate schedule, keep each model's best weights; returns (vloss, vesr, done)."""
    vloss, vesr = run.validate(run.trainable)
    if run.many:
        run.rop_state = _rop_many(run.plateau, run.rop_state, run.trainable, vloss)
    else:
        _, run.rop_state = run.plateau.update(updates=run.trainable, state=run.rop_state, value=jnp.float32(vloss[0]))
    improved = vloss < run.best_loss
    tr_host = None
    for i in range(run.n_models):
        if done[i]:
            continue
        if improved[i]:
            tr_host = tr_host or _host(run.trainable)
            run.best_tr = tr_host if not run.many else _set_slice(run.best_tr, tr_host, i)
            run.best_loss[i], run.best_esr[i], run.best_epoch[i] = vloss[i], vesr[i], epoch
            run.since_best[i] = 0
        else:
            run.since_best[i] += 1
    return vloss, vesr, done | (run.since_best > run.tcfg.patience)


def _loop(run: _Run, *, progress: bool, label: str, ckpt: Path | None, target_esr: float | None,
          epoch_callback: Callable[[int, list[dict]], None] | None) -> tuple[str, int, float]:
    """Epochs until patience, the epoch limit, the target ESR or Ctrl-C; returns (stop_reason, epochs, seconds)."""
    tcfg = run.tcfg
    done = run.since_best > tcfg.patience
    stop_reason = "max_epochs"
    bar = Progress(progress, tcfg.max_epochs, label)
    bar.update(run.start_epoch, "")
    t0 = time.perf_counter() - (run.histories[0][-1]["seconds"] if run.histories[0] else 0.0)
    epoch = run.start_epoch
    try:
        for epoch in range(run.start_epoch + 1, tcfg.max_epochs + 1):
            xb, yb, mb = _batches(run.xs, run.ys, tcfg.batch_size, jax.random.fold_in(run.key, epoch))
            scale = np.atleast_1d(np.asarray(run.rop_state.scale, np.float32))
            lr0 = tcfg.lr * (1.0 - tcfg.lr_decay) ** (epoch - 1)
            lr = jnp.asarray(lr0 * scale, jnp.float32)
            if run.many:
                run.trainable, run.opt_state, tl = _epoch_many(
                    run.trainable, run.frozen, run.opt_state, xb, yb, mb, run.kj, lr, mcfg=run.mcfg, tcfg=run.pcfg,
                    per_model_data=run.per_model_data)
            else:
                run.trainable, run.opt_state, tl = _epoch_single(
                    run.trainable, run.frozen, run.opt_state, xb, yb, mb, run.kj, lr[0], mcfg=run.mcfg, tcfg=run.pcfg)
            tl = np.atleast_1d(np.asarray(tl, np.float64))
            if not np.all(np.isfinite(tl)):
                raise TrainingError(f"training diverged at epoch {epoch} (loss {tl}); try a lower lr")
            vloss = vesr = None
            if epoch % tcfg.val_every == 0 or epoch == tcfg.max_epochs:
                vloss, vesr, done = _validation_step(run, epoch, done)
                if target_esr is not None and np.all(run.best_esr <= target_esr):
                    stop_reason = "target"
            elapsed = time.perf_counter() - t0
            for i in range(run.n_models):
                run.histories[i].append({
                    "epoch": epoch, "train_loss": float(tl[i]),
                    "val_loss": None if vloss is None else float(vloss[i]),
                    "val_esr": None if vesr is None else float(vesr[i]),
                    "lr": float(lr0 * scale[min(i, len(scale) - 1)]), "seconds": round(elapsed, 4)})
            bar.update(epoch, f"loss {tl.min():.4f}  best val ESR {run.best_esr.min():.4f}  lr {lr0 * scale.min():.1e}")
            if vloss is not None and ckpt is not None:
                save_checkpoint(ckpt, {"trainable": run.trainable, "opt": run.opt_state, "rop": run.rop_state,
                                       "best": run.best_tr},
                                {"epoch": epoch, "histories": run.histories, "first_loss": run.first_loss.tolist(),
                                 "first_esr": run.first_esr.tolist(), "best_loss": run.best_loss.tolist(),
                                 "best_esr": run.best_esr.tolist(), "best_epoch": run.best_epoch.tolist(),
                                 "since_best": run.since_best.tolist()})
            if epoch_callback is not None:
                epoch_callback(epoch, [h[-1] for h in run.histories])
            if stop_reason == "target":
                break
            if np.all(done):
                stop_reason = "patience"
                break
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    finally:
        bar.close()
    return stop_reason, max(epoch, run.start_epoch), time.perf_counter() - t0


# metadata of a starting model that describes its own device and run, not the capture it is tuned on
_START_MODEL_ONLY = frozenset({
    "val_esr", "training_seconds", "history_file", "hub_repo", "hub_revision", "epochs", "best_epoch", "device",
    "design", "description", "category", "category_source", "category_confidence", "knob_values", "candidates",
    "options", "author", "date", "stop_reason", "first_val_esr", "capture_name", "source_format", "suggest_level_db",
    "sample_rate_assumed", "final", "input_peak_dbfs", "input_rms_dbfs", "race", "suggestions", "output_refit"})


def _results(run: _Run, stop_reason: str, epochs_run: int, seconds: float) -> list[TrainResult]:
    """One :class:`TrainResult` per model: its best weights, metadata, history and where it stopped."""
    best_list = unstack_params(jax.tree.map(jnp.asarray, run.best_tr)) if run.many else [run.best_tr]
    frozen_list = unstack_params(run.frozen) if run.many else [run.frozen]
    try:
        last = _host({"trainable": run.trainable, "opt": run.opt_state, "rop": run.rop_state})   # where the run stopped
    except RuntimeError:    # Ctrl-C inside an epoch program, whose donated buffers are gone: the best weights
        last = None         # (on the host) are kept, the run cannot be carried on
    results = []
    for i in range(run.n_models):
        capture = run.captures[i] if run.per_model_data else run.captures[0]
        src = run.init_models[i] if run.init_models else None
        # the start model's lineage and licence stay; what described its own device and run goes
        md: dict[str, Any] = {k: v for k, v in src.metadata.items() if k not in _START_MODEL_ONLY} \
            if src is not None else {}
        md.update({
            "name": getattr(capture, "name", None) or md.get("name", "model"),
            "val_esr": round(float(run.best_esr[i]), 6),
            "training_seconds": run.train_seconds,
            "epochs": int(epochs_run),
            "best_epoch": int(run.best_epoch[i]), "stop_reason": stop_reason,
            "capture_name": getattr(capture, "name", None),
        })
        train_x = getattr(capture, "train_x", None)
        if train_x is not None and np.size(train_x):
            # the DI the model learned from: its peak (Model.process warns about input far above it) and RMS
            md["input_peak_dbfs"], md["input_rms_dbfs"] = (round(v, 2) for v in input_levels(train_x))
        if getattr(capture, "knobs", None):
            md["knob_values"] = {k: float(v) for k, v in capture.knobs.items()}
        if capture.metadata.get("category") if hasattr(capture, "metadata") else False:
            md["category"] = capture.metadata["category"]
        if src is not None:
            md["base_model"] = src.metadata.get("hub_repo") or src.metadata.get("zoo_id") or src.name
        else:
            md.pop("base_model", None)
        params = _merge(jax.tree.map(jnp.asarray, best_list[i]), frozen_list[i])
        state = None if last is None else {**(jax.tree.map(lambda a, i=i: a[i], last) if run.many else last),
                                           "epoch": int(epochs_run), "since_best": int(run.since_best[i]),
                                           "lr_warmup_steps": int(run.tcfg.lr_warmup_steps or 0)}
        results.append(TrainResult(
            model=Model(run.mcfg, params, md), history=run.histories[i], first_val_esr=float(run.first_esr[i]),
            best_val_esr=float(run.best_esr[i]), first_val_loss=float(run.first_loss[i]),
            best_val_loss=float(run.best_loss[i]), best_epoch=int(run.best_epoch[i]), epochs=int(epochs_run),
            seconds=seconds, stop_reason=stop_reason, source=None if src is None else md["base_model"],
            resume_state=state))
    return results


def _run(capture, init_models: list[Model] | None, model_config: ModelConfig | None, config: TrainConfig,
         n_models: int, *, progress: bool, checkpoint_dir: str | os.PathLike | None, resume: bool,
         target_esr: float | None, label: str, epoch_callback: Callable[[int, list[dict]], None] | None,
         continue_from: "TrainResult | None" = None) -> list[TrainResult]:
    """A training run in four steps: setup, resume (or start), the epoch loop, the results."""
    run = _setup(capture, init_models, model_config, config, n_models)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    _resume(run, continue_from=continue_from, ckpt=ckpt, resume=resume)
    stop_reason, epochs_run, seconds = _loop(run, progress=progress, label=label, ckpt=ckpt, target_esr=target_esr,
                                             epoch_callback=epoch_callback)
    return _results(run, stop_reason, epochs_run, seconds)


def _rop_many(plateau, rop_state, trainable, vloss):
    return jax.vmap(lambda s, u, v: plateau.update(updates=u, state=s, value=v)[1])(
        rop_state, trainable, jnp.asarray(vloss, jnp.float32))


def _set_slice(stacked_host: Any, new_host: Any, i: int) -> Any:
    def put(a, b):
        a = np.array(a)
        a[i] = b[i]
        return a
    return jax.tree.map(put, stacked_host, new_host)


def recipe(model_config: ModelConfig | None = None) -> TrainConfig:
    """The default recipe of an architecture: AGAM's for the LSTM/GRU, NAM's for the WaveNet.

    NAM's WaveNet recipe (:func:`tonezoo.architectures.wavenet.nam_recipe`): windows of 8,192
    scored samples after ``receptive_field - 1`` samples of context, batch 16, Adam lr 4e-3 decayed
    by 0.7 % per epoch, loss ``"nam"``, 100 epochs, validation every epoch.
    """
    if model_config is not None and model_config.arch == "wavenet":
        from .architectures.wavenet import nam_recipe
        return TrainConfig(**nam_recipe(model_config), lr_patience=1_000_000, lr_warmup_steps=0)  # docs/training.md
    return TrainConfig()


def train(capture, *, init: Model | None = None, model_config: ModelConfig | None = None,
          config: TrainConfig | None = None, progress: bool = True,
          checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
          target_esr: float | None = None,
          epoch_callback: Callable[[int, list[dict]], None] | None = None,
          continue_from: TrainResult | None = None, label: str | None = None,
          **overrides: Any) -> TrainResult:
    """Train a model on a capture, from scratch or from a pretrained model (transfer learning).

    Parameters
    ----------
    capture : Capture
        Uses ``train_x``, ``train_y``, ``val_x``, ``val_y``, ``sample_rate``, ``knobs``, ``name``.
    init : Model, optional
        Start from this model's weights (same architecture and sample rate, else ``ConfigError``).
    model_config : ModelConfig, optional
        Architecture when training from scratch (default LSTM-20 with skip at the capture's rate).
    config : TrainConfig, optional
        The recipe (default :func:`recipe` of the architecture); keyword ``overrides`` replace
        single fields (``max_epochs=100``, ``patience=10``).
    progress : bool
        Show a progress bar (epoch, loss, best validation ESR, learning rate, ETA).
    checkpoint_dir : path, optional
        Write a checkpoint there at every validation; with ``resume=True`` continue from it.
    target_esr : float, optional
        Stop as soon as the best validation ESR reaches this value.
    epoch_callback : callable(epoch, [history row]), optional
    label : str, optional
        What the progress lines call this run (default ``"train"``, ``"fine-tune from NAME"`` or
        ``"continue"``).
    continue_from : TrainResult, optional
        Carry on a finished run on the same capture (its last weights, optimizer state, learning
        rate and patience counter) up to ``max_epochs`` epochs in all, exactly as if it had never
        stopped; one model of a :func:`train_many` run can be continued on its own this way.

    Returns
    -------
    TrainResult
        Ctrl-C stops training cleanly and returns the best model so far (``stop_reason="interrupted"``).

    Examples
    --------
    >>> result = train(capture, max_epochs=50)                    # doctest: +SKIP
    >>> result = train(capture, init=tonezoo.Model.load("ts9"))   # doctest: +SKIP
    """
    base = config or recipe(init.config if init is not None else
                            continue_from.model.config if continue_from is not None else model_config)
    tcfg = base.replace(**overrides) if overrides else base
    default_label = f"fine-tune from {init.name}" if init is not None else "train"
    if continue_from is not None:
        if init is not None or model_config is not None or resume:
            raise ConfigError("continue_from carries on a run: do not also give init, model_config or resume")
        if continue_from.resume_state is None:
            raise ConfigError("this TrainResult has no resume_state (it was not returned by train/train_many)")
        init, default_label = continue_from.model, "continue"
        kept = int(continue_from.resume_state.get("lr_warmup_steps", 0))
        if tcfg.lr_warmup_steps not in (None, kept):
            raise ConfigError(f"continue_from carries on a run with lr_warmup_steps={kept} (its optimizer state "
                              f"counts them); got {tcfg.lr_warmup_steps}: leave it unset")
        tcfg = tcfg.replace(lr_warmup_steps=kept)
    else:
        tcfg = tcfg.replace(lr_warmup_steps=_warmup_steps(tcfg, from_model=init is not None))
    return _run(capture, [init] if init is not None else None, model_config, tcfg, 1, progress=progress,
                checkpoint_dir=checkpoint_dir, resume=resume, target_esr=target_esr, label=label or default_label,
                epoch_callback=epoch_callback, continue_from=continue_from)[0]


def train_many(capture, inits: Sequence[Model] | None = None, *, n_models: int | None = None,
               model_config: ModelConfig | None = None, config: TrainConfig | None = None,
               progress: bool = True, epoch_callback: Callable[[int, list[dict]], None] | None = None,
               **overrides: Any) -> list[TrainResult]:
    """Train several models of one architecture in a single vmapped program.

    Parameters
    ----------
    capture : Capture or sequence of Capture
        One capture shared by every model (a race between starting points), or one capture per
        model (building a zoo: one device each). Per-model captures must have the same sample
        rate and the same training and validation lengths.
    inits : sequence of Model, optional
        Starting points; all must share one :class:`ModelConfig`.
    n_models : int, optional
        Without ``inits``: train this many models from scratch with different seeds (default: one
        per capture).
    model_config, config, progress, epoch_callback, **overrides
        As for :func:`train`. Each model keeps its own learning-rate schedule, best weights and
        early stopping; the loop ends when every model has stopped.

    Returns
    -------
    list of TrainResult, in the order of ``inits`` (or of the captures).
    """
    base = config or recipe(inits[0].config if inits else model_config)
    tcfg = base.replace(**overrides) if overrides else base
    tcfg = tcfg.replace(lr_warmup_steps=_warmup_steps(tcfg, from_model=bool(inits)))
    captures = list(capture) if isinstance(capture, (list, tuple)) else None
    if captures is not None and not captures:
        raise ConfigError("train_many needs at least one capture")
    if inits is not None and len(inits) == 0:
        raise ConfigError("train_many needs at least one starting model")
    n = len(inits) if inits is not None else int(n_models or (len(captures) if captures else 0))
    if n == 0:
        raise ConfigError("train_many needs inits=[...], n_models=N or a list of captures")
    if captures is not None and len(captures) != n:
        raise ConfigError(f"train_many got {len(captures)} captures for {n} models; give one capture per model "
                          "or a single capture for all")
    if captures is not None and len(captures) == 1:
        capture, captures = captures[0], None
    if n == 1:
        init0 = inits[0] if inits is not None else None
        return [train(capture, init=init0, model_config=None if init0 else model_config, config=tcfg,
                      progress=progress, epoch_callback=epoch_callback)]
    return _run(captures if captures is not None else capture, list(inits) if inits is not None else None,
                model_config, tcfg, n, progress=progress, checkpoint_dir=None, resume=False, target_esr=None,
                label=f"train {n} models", epoch_callback=epoch_callback)
