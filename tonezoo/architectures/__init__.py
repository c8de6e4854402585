"""The architecture registry: every model family tonezoo can init, run, train, score and store.

A model is a :class:`~tonezoo.model.ModelConfig` plus a parameter pytree. ``config.arch`` names an
entry of this registry (NAM's factory style: ``register(name, architecture)``, ``get(name)``);
the entry is an :class:`Architecture`, a frozen bundle of pure functions. Everything outside this
package (``model.py``, ``train.py``, ``batched.py``, ``modelfile.py``, ``formats/``) reaches the
architecture only through it, so **adding an architecture is one module in this package plus one
``register(...)`` line at the bottom of this file** (see ``docs/architectures.md``; ``lstm.py`` is
the worked example).

The protocol
------------
Units: audio is float32 at ``config.sample_rate`` Hz, nominally in [-1, 1]; time is the **last**
axis; ``...`` is any number of leading batch axes (segments, mini-batch); knob values are in
[0, 1]. ``Params`` is a nested ``dict``/``list`` pytree of float32 ``jax.Array``; ``State`` is a
pytree whose leaves carry the batch axes (their position is the architecture's business).

``check_options(options: dict) -> dict``
    Validate and normalise ``config.options`` (the architecture's own JSON settings, e.g. a
    WaveNet's layer arrays) and return them with defaults filled in; raise
    :class:`~tonezoo.errors.ConfigError` naming the bad key. Called once by ``ModelConfig``.
    The returned dict must be JSON-able (str keys; int, float, bool, str, list, dict values).
``param_shapes(config) -> dict[str, tuple[int, ...]]``
    Every parameter tensor, named by its path in the pytree with ``.`` between keys and list
    indices (``"layers.0.w_ih"`` is ``params["layers"][0]["w_ih"]``). This is also the tensor
    layout of ``model.safetensors``; :func:`flatten`/:func:`unflatten` derive from it.
``init(config, key: jax.Array) -> Params``
    Fresh parameters for training from scratch (``key`` a ``jax.random`` key).
``initial_state(params, batch_shape: tuple[int, ...], *, config) -> State``
    The state before the first sample, broadcast to ``batch_shape``.
``apply(params, x, state, knobs, *, config) -> (y, state)``
    Run the model: ``x`` [shape=(..., T)] audio, ``state`` as from :func:`initial_state` or a
    previous call (``None``: start from the initial state), ``knobs`` [shape=(..., K)] or
    [shape=(K,)] held constant over time (``None`` when ``config.knobs`` is empty; raise
    ``ConfigError`` when knobs are needed and missing). Returns ``y`` [shape=(..., T)] and the
    state after the last sample, so that running a signal in blocks, feeding the state back,
    equals running it whole (streaming; ``Model.process`` relies on it). Must be pure, jittable
    with ``config`` static, differentiable in ``params`` and ``jax.vmap``-able over stacked
    params. Recurrent models carry their hidden state; convolutional models carry the last
    ``receptive_field - 1`` input samples.
``receptive_field(config) -> int``
    Samples of input history that one output sample depends on; ``0`` means unbounded (a
    recurrent state). Stage 2 warms each scored segment up on at least this many samples.
``frozen: tuple[str, ...]``
    Top-level parameter keys held fixed in training and not counted as parameters (the LSTM's
    learned-or-imported initial state ``h0``/``c0``); the rest is trained.
``train_epoch(trainable, frozen, opt_state, xb, yb, mb, knobs, lr, *, config, tcfg, optimizer, loss)``
    One epoch of training, traced inside one compiled program (``train.py`` jits and, for
    several models, vmaps it). ``xb``, ``yb`` [shape=(n_batches, B, S)]: shuffled segments of
    ``tcfg.segment_length`` samples; ``mb`` [shape=(n_batches, B)]: 1 for real segments, 0 for
    padding; ``knobs`` [shape=(K,)] or ``None``; ``lr`` scalar learning rate; ``optimizer`` an
    ``optax.GradientTransformation`` (its update is scaled by ``-lr`` by the caller's recipe:
    apply ``-lr * update``); ``loss(y, y_hat, mask) -> (loss, plain_esr)`` over [shape=(B, T)].
    Returns ``(trainable, opt_state, mean_loss)``. The two recipes in
    :mod:`tonezoo.architectures.training` cover the usual cases: :func:`~.training.tbptt_epoch`
    (AGAM's truncated BPTT, for recurrent models) and :func:`~.training.window_epoch` (one update
    per mini-batch of windows, the first ``tcfg.warmup`` samples of each unscored: NAM's WaveNet
    recipe with ``warmup >= receptive_field - 1``). Everything else (data, validation, learning-
    rate schedule, early stopping, checkpoints, history, races) is shared by ``train.py``.
``describe(config) -> str``
    A short human name for messages and tables: ``"LSTM-20"``, ``"2x GRU-8"``.
``summary(config) -> dict``
    The JSON block a model card and the zoo index show under ``architecture`` (add
    ``"parameters"`` yourself only if it differs from :func:`tonezoo.model.param_count`).
``zero_shot_sums(stacked, knobs, xs, ys, mask, *, config) -> (err, cross, power, ref)``
    Optional fast path of stage 2: ``M`` models (params stacked on a leading axis, ``knobs``
    [shape=(M, K)] or ``None``) on ``S`` segments ``xs``, ``ys``, ``mask`` [shape=(S, T)]; each
    result [shape=(M,)] is the masked sum of ``(y - y_hat)^2``, ``y y_hat``, ``y_hat^2`` and
    ``y^2``. The default :func:`generic_zero_shot_sums` vmaps ``apply``.
``set_knobs(params, config, knobs: tuple[str, ...], values: dict[str, float]) -> Params``
    Optional: the parameters of an equivalent model whose knob inputs are ``knobs``: knobs the
    model has but ``knobs`` lacks are folded in at ``values`` (the output is unchanged), new ones
    get zero weights (unchanged until fine-tuning). Without it, a model keeps its own knobs.
"""

from __future__ import annotations

from .base import (Architecture, ModelConfig, Options, flatten, generic_zero_shot_sums, get, names, param_count,
                   register, unflatten)

__all__ = ["Architecture", "ModelConfig", "Options", "register", "get", "names", "flatten", "unflatten", "param_count",
           "generic_zero_shot_sums"]

# -- the built-in architectures: one module and one line each ----------------------------------------
from . import lstm, wavenet  # noqa: E402

register("lstm", lstm.ARCHITECTURE)
register("wavenet", wavenet.ARCHITECTURE)
