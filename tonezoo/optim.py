"""The optimizer of the training recipes: Adam with L2 weight decay, fine-tuning's learning-rate
warm-up, and reduce-on-plateau (used by :mod:`tonezoo.train`).

Each function reads the fields it needs from a :class:`tonezoo.train.TrainConfig`; the learning
rate itself enters the compiled epoch as an array (an update is applied as ``-lr * update``), so
changing it reuses the compiled program.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["FINE_TUNE_WARMUP_STEPS", "WarmupState", "warmup_steps", "scale_by_warmup", "optimizer", "plateau"]

FINE_TUNE_WARMUP_STEPS = 10
"""Optimizer steps of learning-rate warm-up when training starts from a model (``TrainConfig.lr_warmup_steps``
None). Decided on half A of ``benchmarks/selection.py`` (the top 3 starts of 4 held-out targets, 6 s captures,
30 epochs, fresh ESR against no warm-up, geometric mean: 10 steps 0.75x, 10 of 12 better, worst 1.12x; 5 steps
0.84x; 20 steps 0.75x, worst 1.34x; a constant lr of 2e-3 instead 0.91x) for the LSTM recipe. NAM's WaveNet recipe
keeps 0: with ``benchmarks/warmup.py`` the best start of each target ended no better with it, and a ``--from auto``
WaveNet transfer ended 1.23x worse; ``docs/training.md``."""


def warmup_steps(tcfg: Any, *, from_model: bool) -> int:
    """``tcfg.lr_warmup_steps`` resolved: None is :data:`FINE_TUNE_WARMUP_STEPS` from a model, 0 from scratch."""
    if tcfg.lr_warmup_steps is not None:
        return int(tcfg.lr_warmup_steps)
    return FINE_TUNE_WARMUP_STEPS if from_model else 0


class WarmupState(NamedTuple):
    """State of :func:`scale_by_warmup`: optimizer steps taken, and the warm-up's length (0: none)."""
    count: jax.Array
    steps: jax.Array


def scale_by_warmup(steps: int) -> Any:
    """Scale step ``k`` (from 1) by ``min(1, k / steps)``; ``steps`` 0 scales by 1 (no warm-up).

    An ``optax.GradientTransformation`` whose length lives in its state, not in its code: runs with and
    without warm-up (a fine-tune and the from-scratch contender it races) share one compiled program,
    and a run carried on keeps counting where it stopped.
    """
    import optax

    def init(params: Any) -> WarmupState:
        del params
        return WarmupState(count=jnp.zeros([], jnp.int32), steps=jnp.asarray(float(steps), jnp.float32))

    def update(updates: Any, state: WarmupState, params: Any = None) -> tuple[Any, WarmupState]:
        del params
        # steps 0 gives min(1, k) = 1 for every step k >= 1: no warm-up without a special case
        scale = jnp.minimum(1.0, (state.count + 1.0) * (1.0 / jnp.maximum(state.steps, 1.0)))
        updates = jax.tree.map(lambda u: u * scale.astype(u.dtype), updates)
        return updates, WarmupState(count=optax.safe_int32_increment(state.count), steps=state.steps)

    return optax.GradientTransformation(init, update)


def optimizer(tcfg: Any):
    """Adam with L2 weight decay added to the gradient first, as ``torch.optim.Adam(weight_decay=wd)`` does
    (AGAM's and NAM's trainers), then the warm-up's scale ``min(1, k / lr_warmup_steps)`` on step ``k``
    (:func:`scale_by_warmup`: its length and step count live in the optimizer state, so ``lr_warmup_steps``
    only decides how the state starts). An unresolved (None) ``lr_warmup_steps`` counts as 0:
    :func:`tonezoo.train.train` resolves it before it initialises a run."""
    import optax
    return optax.chain(optax.add_decayed_weights(tcfg.weight_decay), optax.scale_by_adam(),
                       scale_by_warmup(tcfg.lr_warmup_steps or 0))


def plateau(tcfg: Any):
    """Reduce-on-plateau on the validation loss: ``lr_factor`` after ``lr_patience`` validations without a
    relative improvement of 1e-4 (``optax.contrib.reduce_on_plateau``; AGAM's ``ReduceLROnPlateau``)."""
    from optax import contrib
    return contrib.reduce_on_plateau(factor=tcfg.lr_factor, patience=tcfg.lr_patience, rtol=1e-4, atol=0.0,
                                     cooldown=0, accumulation_size=1)
