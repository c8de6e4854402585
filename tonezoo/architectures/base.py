"""The :class:`Architecture` record and the registry behind :mod:`tonezoo.architectures` (protocol there)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ConfigError

__all__ = ["Architecture", "register", "get", "names", "flatten", "unflatten", "generic_zero_shot_sums"]

Params = Any
ModelConfig = Any  # tonezoo.model.ModelConfig (not imported: model imports this package)
State = Any


def _no_options(options: Mapping[str, Any]) -> dict[str, Any]:
    if options:
        raise ConfigError(f"this architecture takes no options, got {sorted(options)}")
    return {}


def _unbounded(config: ModelConfig) -> int:
    return 0


@partial(jax.jit, static_argnames=("config",))
def generic_zero_shot_sums(stacked: Params, knobs: jax.Array | None, xs: jax.Array, ys: jax.Array,
                           mask: jax.Array, *, config: ModelConfig):
    """Stage-2 error sums of ``M`` stacked models through ``jax.vmap`` of the architecture's ``apply``.

    Parameters
    ----------
    stacked : params pytree with a leading model axis M
    knobs : jax.Array [shape=(M, K)] or None
    xs, ys, mask : jax.Array [shape=(S, T)]
        Input, target and scoring mask (0 over warm-up and padding).

    Returns
    -------
    (err, cross, power, ref) : each jax.Array [shape=(M,)]
        Masked sums of ``(y - y_hat)^2``, ``y y_hat``, ``y_hat^2`` and ``y^2``.
    """
    apply = get(config.arch).apply

    def one(p, k):
        y_hat, _ = apply(p, xs, None, k, config=config)
        return (jnp.sum(mask * (ys - y_hat) ** 2), jnp.sum(mask * ys * y_hat), jnp.sum(mask * y_hat ** 2),
                jnp.sum(mask * ys ** 2))
    return jax.vmap(one)(stacked, knobs)


@dataclass(frozen=True)
class Architecture:
    """One model family: the callables of the protocol in this module's docstring.

    Only ``name``, ``init``, ``apply``, ``initial_state``, ``param_shapes``, ``train_epoch``,
    ``describe`` and ``summary`` are required; the rest have generic defaults.
    """

    name: str
    init: Callable[..., Params]
    apply: Callable[..., tuple[jax.Array, State]]
    initial_state: Callable[..., State]
    param_shapes: Callable[[ModelConfig], dict[str, tuple[int, ...]]]
    train_epoch: Callable[..., tuple[Any, Any, jax.Array]]
    describe: Callable[[ModelConfig], str]
    summary: Callable[[ModelConfig], dict[str, Any]]
    check_options: Callable[[Mapping[str, Any]], dict[str, Any]] = _no_options
    receptive_field: Callable[[ModelConfig], int] = _unbounded
    frozen: tuple[str, ...] = ()
    zero_shot_sums: Callable[..., Any] = generic_zero_shot_sums
    set_knobs: Callable[..., Params] | None = None


_REGISTRY: dict[str, Architecture] = {}


def register(name: str, architecture: Architecture, *, overwrite: bool = False) -> None:
    """Add ``architecture`` under ``name`` (the value of ``ModelConfig.arch`` that selects it).

    Raises
    ------
    ConfigError
        ``name`` is taken (pass ``overwrite=True`` to replace it) or does not match
        ``architecture.name``.
    """
    if not isinstance(architecture, Architecture):
        raise ConfigError(f"register({name!r}, ...) needs an Architecture, got {type(architecture).__name__}")
    if architecture.name != name:
        raise ConfigError(f"register({name!r}, ...): the architecture calls itself {architecture.name!r}")
    if name in _REGISTRY and not overwrite:
        raise ConfigError(f"architecture {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = architecture


def get(name: str) -> Architecture:
    """The registered architecture ``name``; ``ConfigError`` listing the known ones otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown architecture {name!r}; known: {names()}") from None


def names() -> list[str]:
    """Registered architecture names, sorted."""
    return sorted(_REGISTRY)


def flatten(params: Params) -> dict[str, np.ndarray]:
    """A params pytree as ``{"a.0.b": float32 array}`` (dict keys and list indices joined by ``.``)."""
    flat: dict[str, np.ndarray] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, f"{prefix}{i}.")
        else:
            flat[prefix[:-1]] = np.asarray(node, np.float32)
    walk(params, "")
    return flat


def unflatten(flat: Mapping[str, Any]) -> Params:
    """Inverse of :func:`flatten`: levels whose keys are all ``0..n-1`` become lists, values ``jax.Array``."""
    root: dict[str, Any] = {}
    for name, arr in flat.items():
        node = root
        parts = name.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = jnp.asarray(arr, jnp.float32)

    def listify(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        out = {k: listify(v) for k, v in node.items()}
        if out and all(k.isdigit() for k in out) and sorted(int(k) for k in out) == list(range(len(out))):
            return [out[str(i)] for i in range(len(out))]
        return out
    return listify(root)
