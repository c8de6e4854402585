"""Helpers shared by the sub-command groups."""

from __future__ import annotations

__all__ = ["parse_knobs", "race_line"]


def parse_knobs(items: list[str]) -> dict[str, float]:
    """``["gain=0.5", ...]`` (repeated ``--knob`` options) -> ``{"gain": 0.5}``.

    Raises
    ------
    ConfigError
        An item is not ``NAME=VALUE`` or the value is not a number in [0, 1].
    """
    from ..errors import ConfigError
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            v = float(value)
        except ValueError:
            v = float("nan")
        if not sep or not name or not 0.0 <= v <= 1.0:
            raise ConfigError(f"--knob {item!r}: expected NAME=VALUE with VALUE in [0, 1], e.g. --knob gain=0.5")
        out[name] = v
    return out


def race_line(race: list[dict], winner: str) -> str:
    """One line for the ``race`` metadata :meth:`tonezoo.Zoo.transfer` records: contenders and the winner."""
    epochs = race[0]["epochs"] if race else 0
    return ("race: " + ", ".join(f"{r['id']} {r['val_esr']:.4f}" for r in race)
            + f" (best validation ESR after {epochs} epochs); continuing {winner}")
