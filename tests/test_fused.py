"""tonezoo.architectures.lstm: the custom-VJP LSTM sequence agrees with autodiff of apply_generic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile as sf

from tonezoo.architectures.lstm import apply_single_lstm, lstm_dense_sequence
from tonezoo.errors import ConfigError
from tonezoo.model import ModelConfig, init, stack_params
from tonezoo.architectures.lstm import apply_generic as apply  # the plain scan + autodiff reference

RTOL = 1e-5


def _close(actual, expected, what: str) -> None:
    """Equal within RTOL of the array's own scale (elementwise rtol breaks down at zero crossings)."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    scale = max(float(np.max(np.abs(e))), 1e-3)
    err = float(np.max(np.abs(a - e))) if a.size else 0.0
    assert err <= RTOL * scale, f"{what}: max error {err:.3g} > {RTOL} x scale {scale:.3g}"


def _random_params(cfg: ModelConfig, seed: int):
    """init() plus noise on every leaf (non-zero dense bias and initial state too)."""
    params = init(cfg, seed)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 100), len(leaves))
    return jax.tree.unflatten(tree, [a + 0.2 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys)])


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> np.ndarray:
    """(20, 150) segments of a plucked-string-like signal, read back from a 24-bit WAV."""
    sr, n = 16000, 20 * 150
    t = np.arange(n) / sr
    x = 0.6 * np.exp(-3 * (t % 0.05) / 0.05) * np.sin(2 * np.pi * 196.0 * t)
    x += 0.01 * np.random.default_rng(0).standard_normal(n)
    path = tmp_path_factory.mktemp("fused") / "di.wav"
    sf.write(path, x.astype(np.float32), sr, subtype="PCM_24")
    data, _ = sf.read(path, dtype="float32")
    return data.reshape(20, 150)


def _loss_fns(cfg: ModelConfig, knobs, target):
    def loss(apply_fn, params, x, state):
        y, st = apply_fn(params, x, state, knobs, config=cfg)
        # weights on y and on the final state so every cotangent path is exercised
        return jnp.mean((y - target) ** 2) + 0.3 * jnp.sum(st["h"] ** 2) + 0.2 * jnp.sum(jnp.sin(st["c"]))
    return (lambda p, x, s: loss(apply, p, x, s)), (lambda p, x, s: loss(apply_single_lstm, p, x, s))


@pytest.mark.parametrize("skip, batch, knob_kind", [   # a batch of 20 is padded to 32 inside, 3 is not
    (True, 20, None), (False, 3, "shared"), (True, 20, "per_sequence"), (False, 20, "shared")])
def test_forward_and_gradients_match_autodiff(audio, skip, batch, knob_kind):
    n_knobs = 0 if knob_kind is None else 2
    cfg = ModelConfig(hidden_size=8, skip=skip, knobs=tuple(f"k{i}" for i in range(n_knobs)))
    params = _random_params(cfg, seed=batch + 7 * n_knobs + int(skip))
    x = jnp.asarray(audio[:batch])
    rng = np.random.default_rng(1)
    knobs = {None: None, "shared": jnp.asarray([0.3, 0.8]),
             "per_sequence": jnp.asarray(rng.uniform(size=(batch, 2)), jnp.float32)}[knob_kind]
    state = {"h": jnp.asarray(0.5 * rng.standard_normal((1, batch, 8)), jnp.float32),
             "c": jnp.asarray(rng.standard_normal((1, batch, 8)), jnp.float32)}
    target = jnp.tanh(3 * x)

    y_ref, st_ref = apply(params, x, state, knobs, config=cfg)
    y, st = apply_single_lstm(params, x, state, knobs, config=cfg)
    _close(y, y_ref, "y")
    _close(st["h"], st_ref["h"], "h")
    _close(st["c"], st_ref["c"], "c")

    ref_fn, fused_fn = _loss_fns(cfg, knobs, target)
    l_ref, g_ref = jax.jit(jax.value_and_grad(ref_fn, argnums=(0, 1, 2)))(params, x, state)
    l_fused, g_fused = jax.jit(jax.value_and_grad(fused_fn, argnums=(0, 1, 2)))(params, x, state)
    _close(l_fused, l_ref, "loss")
    paths = jax.tree_util.tree_leaves_with_path(g_ref)
    for (path, expected), actual in zip(paths, jax.tree.leaves(g_fused)):
        _close(actual, expected, "grad " + jax.tree_util.keystr(path))


def test_initial_state_from_params_and_unbatched_audio(audio):
    cfg = ModelConfig(hidden_size=6)
    params = _random_params(cfg, seed=3)
    x = jnp.asarray(audio[0])                      # (T,), no batch axis
    y_ref, st_ref = jax.jit(lambda p: apply(p, x, None, config=cfg))(params)
    y, st = jax.jit(lambda p: apply_single_lstm(p, x, None, config=cfg))(params)
    assert y.shape == x.shape and st["h"].shape == (1, 6)
    _close(y, y_ref, "y")
    g_ref = jax.jit(jax.grad(lambda p: jnp.sum(apply(p, x, None, config=cfg)[0] ** 2)))(params)
    g = jax.jit(jax.grad(lambda p: jnp.sum(apply_single_lstm(p, x, None, config=cfg)[0] ** 2)))(params)
    for (path, expected), actual in zip(jax.tree_util.tree_leaves_with_path(g_ref), jax.tree.leaves(g)):
        _close(actual, expected, "grad " + jax.tree_util.keystr(path))


def test_vmap_over_stacked_models_matches_each_model(audio):
    """train_many vmaps the epoch over models: the custom VJP must batch."""
    cfg = ModelConfig(hidden_size=8)
    stacked = stack_params([_random_params(cfg, seed=s) for s in range(3)])
    x = jnp.asarray(audio[:20, :100])
    target = jnp.tanh(2 * x)

    def loss(apply_fn, p):
        y, _ = apply_fn(p, x, None, config=cfg)
        return jnp.mean((y - target) ** 2)

    fused = jax.jit(jax.vmap(jax.value_and_grad(lambda p: loss(apply_single_lstm, p))))
    losses, grads = fused(stacked)
    ref = jax.jit(jax.value_and_grad(lambda q: loss(apply, q)))
    for m in range(3):
        l_ref, g_ref = ref(jax.tree.map(lambda a, m=m: a[m], stacked))
        _close(losses[m], l_ref, f"loss of model {m}")
        for (path, expected), actual in zip(jax.tree_util.tree_leaves_with_path(g_ref), jax.tree.leaves(grads)):
            _close(actual[m], expected, f"model {m} grad " + jax.tree_util.keystr(path))


def test_sequence_function_shapes_and_input_gradient():
    h, t, b = 4, 12, 2
    rng = np.random.default_rng(5)
    args = [jnp.asarray(rng.standard_normal(s), jnp.float32) * 0.5
            for s in [(4 * h,), (4 * h,), (h, 4 * h), (h,), (), (t, b), (b, h), (b, h)]]
    y, hT, cT = lstm_dense_sequence(*args, skip=True)
    assert y.shape == (t, b) and hT.shape == cT.shape == (b, h)

    def ref(x):  # the same math written directly
        def step(carry, x_t):
            hh, cc = carry
            z = x_t[:, None] * args[0] + args[1] + hh @ args[2]
            i, f, g, o = (z[:, k * h:(k + 1) * h] for k in range(4))
            cc = jax.nn.sigmoid(f) * cc + jax.nn.sigmoid(i) * jnp.tanh(g)
            hh = jax.nn.sigmoid(o) * jnp.tanh(cc)
            return (hh, cc), hh @ args[3] + args[4] + x_t
        return jnp.sum(jnp.sin(jax.lax.scan(step, (args[6], args[7]), x)[1]))

    dx_ref = jax.grad(ref)(args[5])
    dx = jax.grad(lambda x: jnp.sum(jnp.sin(lstm_dense_sequence(*args[:5], x, *args[6:], skip=True)[0])))(args[5])
    _close(dx, dx_ref, "dx")


def test_rejects_other_architectures():
    for cfg in (ModelConfig(hidden_size=4, cell="gru"), ModelConfig(hidden_size=4, num_layers=2)):
        with pytest.raises(ConfigError, match="one-layer LSTM"):
            apply_single_lstm({}, jnp.zeros(8), config=cfg)
    with pytest.raises(ConfigError, match="knobs"):
        apply_single_lstm({}, jnp.zeros(8), config=ModelConfig(hidden_size=4, knobs=("gain",)))
