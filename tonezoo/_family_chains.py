"""Random-chain device families: one generator per category that draws the topology as well as the parameters.

How many stages, which clipping curves, which kind of tone control, feed-forward or feedback
detector, where the tone stack sits and which cabinet: each drawn from the category's building
blocks (:mod:`tonezoo._family_blocks`). :mod:`tonezoo.families` registers them as the ``*-chain``
families, which train the device-kind classifier only (never the zoo).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import _dsp as dsp
from ._family_blocks import (_CURVES, _apply_cab, _apply_clip, _clip_params, _curve, _eq, _gain_computer, _logu,
                             _power_amp, _random_cab, _run_triodes, _stack, _triode_stages, _u)


def _random_tone(rng: np.random.Generator) -> dict:
    """A post-clipping tone control of a random kind: 1st/2nd-order low-pass, LP/HP blend, tilt, or bells."""
    kind = str(rng.choice(["lp1", "lp2", "blend", "tilt", "bells"]))
    if kind == "lp1":
        return {"kind": kind, "f": _logu(rng, 1200.0, 9000.0)}
    if kind == "lp2":
        return {"kind": kind, "f": _logu(rng, 1500.0, 9000.0), "q": _u(rng, 0.5, 1.2)}
    if kind == "blend":
        return {"kind": kind, "lp": _logu(rng, 200.0, 900.0), "hp": _logu(rng, 600.0, 3000.0), "mix": _u(rng, 0.1, 0.9)}
    if kind == "tilt":
        return {"kind": kind, "f": _logu(rng, 500.0, 2500.0), "db": _u(rng, -10.0, 10.0)}
    return {"kind": kind, "bands": [["peak", _logu(rng, 100.0, 6000.0), _u(rng, -10.0, 10.0), _u(rng, 0.5, 2.0)]
                                    for _ in range(int(rng.integers(1, 4)))]}


def _apply_tone(y: np.ndarray, sr: int, t: Mapping[str, Any]) -> np.ndarray:
    kind = t["kind"]
    if kind == "lp1":
        return dsp.filt(y, dsp.lowpass1(t["f"], sr))
    if kind == "lp2":
        return dsp.filt(y, dsp.lowpass(t["f"], sr, q=t["q"]))
    if kind == "blend":
        return (1 - t["mix"]) * 2.0 * dsp.filt(y, dsp.lowpass1(t["lp"], sr)) + t["mix"] * dsp.filt(
            y, dsp.highpass1(t["hp"], sr))
    if kind == "tilt":
        return dsp.filt(y, dsp.low_shelf(t["f"], -t["db"] / 2, sr), dsp.high_shelf(t["f"], t["db"] / 2, sr))
    return _eq(y, t["bands"], sr)


def _s_od_chain(rng):
    n = 1 if rng.random() < 0.75 else 2
    return {"pre_hp": _logu(rng, 60.0, 900.0), "mid": [["peak", _logu(rng, 400.0, 1500.0), _u(rng, 0.0, 8.0), 0.8]]
            if rng.random() < 0.5 else [], "gains": [_u(rng, 8.0, 34.0)] + [_u(rng, 0.0, 10.0)] * (n - 1),
            "clips": [_clip_params(rng, _CURVES, asym=0.35, level=(0.3, 0.9)) for _ in range(n)],
            "dry": _u(rng, 0.0, 0.8) if rng.random() < 0.5 else 0.0, "tone": _random_tone(rng)}


def _p_od_chain(x, sr, p):
    x = dsp.filt(x, dsp.highpass1(20.0, sr))

    def drive(u, fs):
        u = _eq(dsp.filt(u, dsp.highpass1(p["pre_hp"], fs)), p["mid"], fs)
        for g, c in zip(p["gains"], p["clips"]):
            u = _apply_clip(dsp.db(g) * u, c)
        return u
    return _apply_tone(p["dry"] * x + dsp.oversample(drive, x, sr), sr, p["tone"])


def _s_dist_chain(rng):
    n = int(rng.integers(1, 4))
    total = _u(rng, 26.0, 54.0)
    split = rng.dirichlet(np.ones(n)) if n > 1 else np.ones(1)
    return {"pre_hp": _logu(rng, 60.0, 400.0), "gains": [float(total * w) for w in split],
            "clips": [_clip_params(rng, ("hard", "diode", "atan", "cubic", "tanh"), asym=0.3, level=(0.3, 0.7))
                      for _ in range(n)], "bias": _u(rng, -0.2, 0.2), "inter_lp": _logu(rng, 3000.0, 10000.0),
            "tone": _random_tone(rng)}


def _p_dist_chain(x, sr, p):
    def clipping(u, fs):
        u = dsp.filt(u, dsp.highpass1(p["pre_hp"], fs))
        for g, c in zip(p["gains"], p["clips"]):
            lvl = c["pos"]
            u = _apply_clip(dsp.db(g) * u + p["bias"] * lvl, c) - _apply_clip(np.float64(p["bias"] * lvl), c)
            u = dsp.filt(u, dsp.lowpass1(p["inter_lp"], fs))
        return u
    y = dsp.oversample(clipping, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    return dsp.filt(_apply_tone(y, sr, p["tone"]), dsp.highpass1(30.0, sr))


def _s_fuzz_chain(rng):
    n = int(rng.integers(1, 4))
    total = _u(rng, 34.0, 62.0)
    split = rng.dirichlet(np.ones(n)) if n > 1 else np.ones(1)
    return {"in_hp": _logu(rng, 20.0, 300.0), "gains": [float(total * w) for w in split],
            "curve": str(rng.choice(["hard", "tanh", "triode", "diode"])), "pos": _u(rng, 0.15, 0.6),
            "neg": _u(rng, 0.3, 1.4), "bias": _u(rng, -0.5, 0.5), "sputter": _u(rng, 0.0, 0.6),
            "gate_db": _u(rng, -50.0, -25.0) if rng.random() < 0.4 else None,
            "octave": _u(rng, 0.2, 0.7) if rng.random() < 0.3 else 0.0, "tone": _random_tone(rng)}


def _p_fuzz_chain(x, sr, p):
    def stages(u, fs):
        u = dsp.filt(u, dsp.highpass1(p["in_hp"], fs))
        if p["octave"]:
            u = (1 - p["octave"]) * u + p["octave"] * (np.abs(u) - dsp.one_pole(np.abs(u), 0.02, fs))
        for g in p["gains"]:
            v = dsp.db(g) * u
            w = v + p["bias"] * p["pos"] - p["sputter"] * dsp.one_pole(np.abs(v) * 0.05, 0.05, fs)
            u = _curve(p["curve"], w, p["pos"], p["neg"]) - _curve(p["curve"], np.float64(p["bias"] * p["pos"]),
                                                                   p["pos"], p["neg"])
            u = dsp.filt(u, dsp.highpass1(40.0, fs))
        return u
    y = dsp.oversample(stages, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    if p["gate_db"] is not None:
        env = dsp.envelope(x, sr, attack=0.002, release=0.05)
        y = y / (1.0 + np.exp(-(20.0 * np.log10(np.maximum(env, 1e-6)) - p["gate_db"]) / 2.0))
    return _apply_tone(y, sr, p["tone"])


def _s_boost_chain(rng):
    eq = [[str(rng.choice(["peak", "low", "high"])), _logu(rng, 80.0, 6000.0), _u(rng, -10.0, 10.0), _u(rng, 0.5, 2.0)]
          for _ in range(int(rng.integers(0, 5)))]
    return {"gain_db": _u(rng, -4.0, 20.0), "eq": eq, "hp": _logu(rng, 100.0, 1500.0) if rng.random() < 0.3 else 20.0,
            "head": _u(rng, 0.7, 2.0), "curve": str(rng.choice(["tanh", "triode", "hard"]))}


def _p_boost_chain(x, sr, p):
    u = _eq(dsp.filt(x, dsp.highpass1(p["hp"], sr)), p["eq"], sr) * dsp.db(p["gain_db"])
    return dsp.oversample(lambda v, fs: _curve(p["curve"], v, p["head"], p["head"]), u, sr)


def _s_comp_chain(rng):
    return {"threshold": _u(rng, -45.0, -12.0), "ratio": _logu(rng, 1.5, 20.0), "knee": _u(rng, 0.0, 12.0),
            "attack": _logu(rng, 0.0005, 0.05), "release": _logu(rng, 0.03, 1.2), "rms": bool(rng.random() < 0.5),
            "feedback": bool(rng.random() < 0.4), "sc_hp": _logu(rng, 20.0, 300.0),
            "blend": _u(rng, 0.0, 0.6) if rng.random() < 0.4 else 0.0, "makeup_db": _u(rng, 0.0, 14.0),
            "tilt_db": _u(rng, -4.0, 4.0), "color": _u(rng, 0.0, 0.3)}


def _p_comp_chain(x, sr, p):
    def gain(sig):
        det = dsp.filt(sig, dsp.highpass1(p["sc_hp"], sr))
        if p["rms"]:
            det = np.sqrt(dsp.one_pole(det * det, 0.01, sr))
        env = dsp.envelope(det, sr, attack=p["attack"], release=p["release"])
        return _gain_computer(20.0 * np.log10(np.maximum(env, 1e-6)), p["threshold"], p["ratio"], p["knee"])
    y = x * dsp.db(gain(x))
    if p["feedback"]:
        for _ in range(2):
            y = x * dsp.db(gain(y))
    y = (1 - p["blend"]) * y + p["blend"] * x
    y = (1 - p["color"]) * y + p["color"] * dsp.triode(y, 0.2)
    y = dsp.filt(y, dsp.low_shelf(800.0, -p["tilt_db"] / 2, sr), dsp.high_shelf(800.0, p["tilt_db"] / 2, sr))
    return dsp.soft_clip(y * dsp.db(p["makeup_db"]), 1.3)


_AMP_RANGES = {  # stages, stage gain dB, input dB, power-amp drive dB
    "amp-clean": ((1, 3), (2.0, 12.0), (-18.0, -2.0), (-12.0, 0.0)),
    "amp-crunch": ((2, 4), (8.0, 18.0), (-8.0, 6.0), (-4.0, 10.0)),
    "amp-highgain": ((3, 6), (10.0, 18.0), (-4.0, 8.0), (-4.0, 8.0)),
}


def _amp_chain_sampler(category: str):
    (n_lo, n_hi), gain, in_db, power = _AMP_RANGES[category]

    def sample(rng):
        n = int(rng.integers(n_lo, n_hi))
        return {"in_hp": _logu(rng, 30.0, 250.0 if category == "amp-highgain" else 120.0),
                "stages": _triode_stages(rng, n, gain, lp=(4000.0, 14000.0), hp=(20.0, 250.0)),
                "in_db": _u(rng, *in_db), "blocking": _u(rng, 0.0, 0.5), "stack_first": bool(rng.random() < 0.7),
                "stack": _stack(rng, mid=(250.0, 1500.0), mid_db=(-12.0, 8.0), spread=9.0),
                "power_db": _u(rng, *power), "sag": _u(rng, 0.05, 0.9), "asym": _u(rng, 0.0, 0.4) if rng.random() < 0.5
                else 0.0, "tau": _logu(rng, 0.03, 0.25),
                "cab": _random_cab(rng, str(rng.choice(["open", "closed", "mic"])))}
    return sample


def _p_amp_chain(x, sr, p):
    def pre(u, fs):
        u = _run_triodes(dsp.filt(u, dsp.highpass1(p["in_hp"], fs)) * dsp.db(p["in_db"]), fs, p["stages"],
                         p["blocking"])
        if p["stack_first"]:
            u = _eq(u, p["stack"], fs)
        u = _power_amp(u, fs, drive_db=p["power_db"], sag=p["sag"], asym=p["asym"], tau=p["tau"])
        return u if p["stack_first"] else _eq(u, p["stack"], fs)
    return _apply_cab(dsp.oversample(pre, x, sr), sr, p["cab"])
