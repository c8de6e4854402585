"""The optimizer of the training recipes: Adam with L2 weight decay, fine-tuning's learning-rate
warm-up, and reduce-on-plateau (used by :mod:`tonezoo.train`).

Each function reads the fields it needs from a :class:`tonezoo.train.TrainConfig`; the learning
rate itself enters the compiled epoch as an array (an update is applied as ``-lr * update``), so
changing it reuses the compiled program.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

__all__ = ["FINE_TUNE_WARMUP_STEPS", "warmup_steps", "optimizer", "plateau"]

FINE_TUNE_WARMUP_STEPS = 10
"""Optimizer steps of learning-rate warm-up when training starts from a model (``TrainConfig.lr_warmup_steps``
None). Decided on half A of ``benchmarks/selection.py`` (the top 3 starts of 4 held-out targets, 6 s captures,
30 epochs, fresh ESR against no warm-up, geometric mean: 10 steps 0.75x, 10 of 12 better, worst 1.12x; 5 steps
0.84x; 20 steps 0.75x, worst 1.34x; a constant lr of 2e-3 instead 0.91x); ``docs/training.md``."""


def warmup_steps(tcfg: Any, *, from_model: bool) -> int:
    """``tcfg.lr_warmup_steps`` resolved: None is :data:`FINE_TUNE_WARMUP_STEPS` from a model, 0 from scratch."""
    if tcfg.lr_warmup_steps is not None:
        return int(tcfg.lr_warmup_steps)
    return FINE_TUNE_WARMUP_STEPS if from_model else 0


def optimizer(tcfg: Any):
    """Adam with L2 weight decay added to the gradient first, as ``torch.optim.Adam(weight_decay=wd)`` does
    (AGAM's and NAM's trainers), then the warm-up's scale ``min(1, k / lr_warmup_steps)`` on step ``k``
    (``optax.scale_by_schedule``: the step count lives in the optimizer state). An unresolved (None)
    ``lr_warmup_steps`` counts as 0: :func:`tonezoo.train.train` resolves it before building a program."""
    import optax
    steps = [optax.add_decayed_weights(tcfg.weight_decay), optax.scale_by_adam()]
    w = tcfg.lr_warmup_steps or 0
    if w > 0:
        steps.append(optax.scale_by_schedule(lambda count: jnp.minimum(1.0, (count + 1.0) / w)))
    return optax.chain(*steps)


def plateau(tcfg: Any):
    """Reduce-on-plateau on the validation loss: ``lr_factor`` after ``lr_patience`` validations without a
    relative improvement of 1e-4 (``optax.contrib.reduce_on_plateau``; AGAM's ``ReduceLROnPlateau``)."""
    from optax import contrib
    return contrib.reduce_on_plateau(factor=tcfg.lr_factor, patience=tcfg.lr_patience, rtol=1e-4, atol=0.0,
                                     cooldown=0, accumulation_size=1)
