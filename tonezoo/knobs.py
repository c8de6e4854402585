"""Knob values: one resolver for every place that needs them, and folding knobs into a model.

A conditioned model takes knob values (gain, tone, ...; each in [0, 1]) as extra inputs held
constant over time. Their values come from several places in order of precedence (explicit
arguments, the capture, the model's ``metadata["knob_values"]``, a default); :func:`resolve_knobs`
is the one place that merges them. :func:`fold_knobs` gives an equivalent model with other knob
inputs (the architecture's ``set_knobs``): dropped knobs are folded in at fixed values, added
knobs start with zero weight.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from . import architectures
from .errors import ConfigError

__all__ = ["resolve_knobs", "knob_array", "fold_knobs", "DEFAULT_KNOB"]

DEFAULT_KNOB = 0.5      # the middle of a knob's travel: the value assumed when nothing says otherwise


def resolve_knobs(names: Sequence[str], *sources: Mapping[str, Any] | None,
                  default: float | None = None) -> tuple[dict[str, float], list[str]]:
    """Values for the knobs ``names``: the first source that has a knob wins, ``default`` fills the rest.

    Parameters
    ----------
    names : sequence of str
        The model's knobs, in its input order.
    *sources : mapping name -> value, or None
        In order of precedence (e.g. explicit values, the capture's, the model's metadata).
        Keys that are not in ``names`` are ignored.
    default : float or None
        The value of a knob no source gives (None: leave it missing).

    Returns
    -------
    values : dict name -> float, in ``names`` order
    missing : list of str, the knobs without a value (empty when ``default`` is given)
    """
    values: dict[str, float] = {}
    for name in names:
        for src in sources:
            if src and name in src:
                values[name] = float(src[name])
                break
        else:
            if default is not None:
                values[name] = float(default)
    return values, [n for n in names if n not in values]


def knob_array(names: Sequence[str], values: Mapping[str, float]) -> np.ndarray | None:
    """``values`` as a float32 vector [shape=(K,)] in ``names`` order; None for a model without knobs."""
    if not names:
        return None
    return np.asarray([float(values[n]) for n in names], np.float32)


def fold_knobs(model: Any, knobs: Sequence[str] = (), values: Mapping[str, float] | None = None) -> Any:
    """An equivalent :class:`~tonezoo.model.Model` whose knob inputs are ``knobs``.

    Knobs the model has but ``knobs`` lacks are folded into its parameters at ``values`` (default
    the model's ``metadata["knob_values"]``, else 0.5): the output is unchanged. Knobs ``knobs``
    adds get zero weights: the output is unchanged until fine-tuning learns to use them. Metadata
    is copied; ``knob_values`` keeps the values of the remaining knobs.

    Raises
    ------
    ConfigError
        The model's architecture cannot change its knob inputs.
    """
    cfg = model.config
    knobs = tuple(knobs)
    vals, _ = resolve_knobs(cfg.knobs, values, model.metadata.get("knob_values"), default=DEFAULT_KNOB)
    if knobs == cfg.knobs:
        params = dict(model.params)
    else:
        arch = architectures.get(cfg.arch)
        if arch.set_knobs is None:
            raise ConfigError(f"model {model.name!r} ({cfg.describe()}) cannot change its knob inputs "
                              f"{list(cfg.knobs)} to {list(knobs)}")
        params = arch.set_knobs(model.params, cfg, knobs, vals)
    md = dict(model.metadata)
    md["knob_values"] = {k: v for k, v in vals.items() if k in knobs} or md.get("knob_values", {})
    if not knobs:
        md.pop("knob_values", None)
    return dataclasses.replace(model, config=dataclasses.replace(cfg, knobs=knobs), params=params, metadata=md)
