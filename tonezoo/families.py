"""Device families: seeded generators of randomised pedal and amp designs, several per category.

A *family* is a generator: ``draw(category, family, seed)`` samples a topology and its
parameters (clipping curves and the number of stages, pre/post EQ and tone stacks, power-amp
sag, cabinet/microphone responses, compressor detectors and knees, fuzz biasing) and returns a
:class:`tonezoo.devices.Device` that :func:`tonezoo.devices.render` plays like any bench device.
One seed gives one device, bit for bit; a different seed gives another member of the family.

Families are the unit of holding out: whole generators can be left out of the zoo and of the
device-kind classifier (:data:`HELD_OUT_FAMILIES`) so that benchmarks measure selection on
*designs* never seen, not on other settings of seen ones. Each category has

* ``bench-*``: a design of :mod:`tonezoo.devices` at uniformly random knob values;
* two independently written generators of their own;
* one more generator held out of the zoo and of the classifier's training;
* ``*-chain``: a random chain that draws the *topology* too (how many stages, which clipping
  curves, which kind of tone control, feed-forward or feedback detector, where the stack sits,
  which cabinet), from the category's building blocks. These train the device-kind classifier
  only (``Family.zoo`` is false; :func:`list_families` leaves them out unless ``zoo_only=False``).

The families (see ``docs/devices.md`` for the circuits they follow):

=====================  =============  ======================================================================
family                 category       model
=====================  =============  ======================================================================
od-hump                overdrive      TS-style: high-passed gain into a diode pair, summed with the dry path
od-blend               overdrive      Klon-style: clean path blended with a hard-clipped (diodes to ground) one
od-stack*              overdrive      amp-in-a-box: two asymmetric triode-like stages and a 3-band stack
dist-rat               distortion     op-amp gain with gain-bandwidth roll-off, hard diodes to ground, filter
dist-cascade           distortion     two stages (soft, then hard), fixed scoop, shelves and a swept mid
dist-ds*               distortion     transistor booster, op-amp, asymmetric hard clip, LP/HP blend tone
fuzz-muff              fuzz           cascaded clipping stages with bias shift, passive LP/HP blend
fuzz-face              fuzz           one very high-gain biased stage: asymmetric clip, sputter, even harmonics
fuzz-gated*            fuzz           rectifier (octave-up) blend, starved gain with a gate, hard clip
boost-clean            boost          clean gain, tilt EQ, soft headroom
boost-treble           boost          first-order high-pass booster with asymmetric saturation
boost-eq*              boost          graphic-EQ pedal: random bells, gain, op-amp headroom
comp-vca               compressor     feed-forward, peak or RMS detector, soft or hard knee
comp-opto              compressor     optical: program-dependent two-stage release, wide knee
comp-feedback*         compressor     feedback detector (on the output), hard knee, parallel blend
clean-blackface        amp-clean      two triodes, scooped Fender stack, push-pull with sag, open cabinet
clean-solidstate       amp-clean      linear preamp, bright EQ, transistor power amp, closed cabinet
clean-tweed*           amp-clean      one triode, treble-cut tone, single-ended power amp with sag, open cab
crunch-plexi           amp-crunch     three triodes with blocking, mid-forward stack, sag, closed 4x12
crunch-ac              amp-crunch     top-boost stack, class-A power amp clipping, cut control, alnico 2x12
crunch-tweed*          amp-crunch     two triodes cranked, no stack before a saggy power amp, open 4x10
hg-modern              amp-highgain   tight input, four or five triodes, scooped stack, closed 4x12
hg-rect                amp-highgain   four triodes, deep post-stack scoop, rectifier sag, depth resonance
hg-boosted*            amp-highgain   a TS-style overdrive into a three-triode crunch amp
od-chain               overdrive      pre-filter, one or two clippers of any curve, optional dry blend, tone
dist-chain             distortion     one to three biased hard stages (26-54 dB in all), tone of any kind
fuzz-chain             fuzz           34-62 dB of biased stages, sputter, optional gate and octave, tone
boost-chain            boost          -4..20 dB gain, zero to four EQ bands, optional high-pass, headroom
comp-chain             compressor     feed-forward or feedback, peak or RMS, knee, blend, colour, tilt
clean-chain            amp-clean      1-2 triodes, stack before or after a power amp, any cabinet
crunch-chain           amp-crunch     2-3 triodes, stack, driven power amp, any cabinet
hg-chain               amp-highgain   3-5 triodes, stack, power amp, any cabinet
=====================  =============  ======================================================================

(``*``: held out, :data:`HELD_OUT_FAMILIES`.) Amps are drawn with a random cabinet/microphone
response, or (:data:`DIRECT_OUT_SHARE` of the draws) without one, as from a direct out. Every drawn device's output level is calibrated at
draw time (``trim_db``) so that a synthetic DI at a typical level comes out between -26 and -10
dBFS RMS with its peaks at most -6 dBFS.

Examples
--------
>>> from tonezoo.families import draw
>>> from tonezoo.devices import render
>>> dev = draw("overdrive", "od-blend", seed=3)
>>> dev.category, dev.design
('overdrive', 'family:od-blend')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from . import _dsp as dsp
from ._family_blocks import (_CURVES, _apply_cab, _apply_clip, _clip_params, _curve, _eq, _gain_computer, _logu,  # noqa: F401
                             _power_amp, _random_cab, _run_triodes, _stack, _triode_stages, _u)
from ._family_chains import (_amp_chain_sampler, _p_amp_chain, _p_boost_chain, _p_comp_chain, _p_dist_chain,
                             _p_fuzz_chain, _p_od_chain, _s_boost_chain, _s_comp_chain, _s_dist_chain, _s_fuzz_chain,
                             _s_od_chain)
from .devices import CATEGORIES, Design, Device, get_design, get_device, register_design, render
from .errors import ConfigError

__all__ = ["Family", "FAMILIES", "HELD_OUT_FAMILIES", "list_families", "draw", "draw_many", "LEVEL_RANGE_DB"]

LEVEL_RANGE_DB = (-26.0, -10.0)
"""Output RMS (dBFS) a drawn device is calibrated to, for a synthetic DI peaking at 0.5."""
_CAL_SECONDS, _CAL_RATE, _CAL_SEED = 2.0, 44100, 77
_PEAK_DB = -6.0
DIRECT_OUT_SHARE = 0.3
"""Share of amp draws recorded without a cabinet (direct out, load box): real amp captures come both ways."""


@dataclass(frozen=True)
class Family:
    """A generator of devices of one category.

    Parameters
    ----------
    name : str
        Family name, e.g. ``"od-blend"``; its devices render with the design ``"family:<name>"``.
    category : str
        One of :data:`tonezoo.devices.CATEGORIES`.
    description : str
        One line for tables.
    sample : callable
        ``sample(rng) -> dict``: the JSON-serialisable parameters of one member.
    process : callable
        ``process(x, sample_rate, params) -> y`` with float64 arrays [shape=(n,)].
    base : str or None
        For ``bench-*`` families, the :mod:`tonezoo.devices` design whose knobs are drawn.
    zoo : bool
        Whether the default zoo draws from it; the random-chain families (``*-chain``) train the
        device-kind classifier only.
    """

    name: str
    category: str
    description: str
    sample: Callable[[np.random.Generator], dict] | None
    process: Callable[[np.ndarray, int, Mapping[str, Any]], np.ndarray] | None
    base: str | None = None
    zoo: bool = True


# ----------------------------------------------------------------------------------------------
# Overdrive


def _s_od_hump(rng):
    return {"hp": _u(rng, 450.0, 1000.0), "gain_db": _u(rng, 14.0, 42.0), "fb_lp": _u(rng, 3000.0, 9000.0),
            "clip": _clip_params(rng, ("diode", "tanh", "atan"), level=(0.45, 0.65)),
            "tone": _logu(rng, 900.0, 7000.0)}


def _p_od_hump(x, sr, p):
    def clipping(u, fs):
        v = dsp.db(p["gain_db"]) * dsp.filt(u, dsp.highpass1(p["hp"], fs), dsp.lowpass1(p["fb_lp"], fs))
        return u + _apply_clip(v, p["clip"])
    y = dsp.oversample(clipping, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    return dsp.filt(y, dsp.lowpass1(p["tone"], sr), dsp.highpass1(30.0, sr))


def _s_od_blend(rng):
    return {"clean": _u(rng, 0.2, 1.0), "hp": _u(rng, 120.0, 450.0), "gain_db": _u(rng, 12.0, 36.0),
            "clip": _clip_params(rng, ("hard", "diode"), level=(0.25, 0.45)), "lp": _u(rng, 3000.0, 8000.0),
            "treble_db": _u(rng, -6.0, 8.0), "treble_f": _u(rng, 900.0, 3000.0)}


def _p_od_blend(x, sr, p):
    def drive(u, fs):
        v = dsp.db(p["gain_db"]) * dsp.filt(u, dsp.highpass1(p["hp"], fs), dsp.lowpass1(p["lp"], fs))
        return _apply_clip(v, p["clip"])
    x = dsp.filt(x, dsp.highpass1(25.0, sr))
    y = p["clean"] * x + dsp.oversample(drive, x, sr)
    return dsp.filt(y, dsp.high_shelf(p["treble_f"], p["treble_db"], sr))


def _s_od_stack(rng):
    return {"stages": _triode_stages(rng, int(rng.integers(2, 4)), (6.0, 16.0), lp=(3000.0, 9000.0),
                                     hp=(40.0, 250.0)),
            "in_db": _u(rng, -2.0, 8.0), "stack": _stack(rng, mid=(400.0, 1400.0), mid_db=(-4.0, 8.0), spread=7.0)}


def _p_od_stack(x, sr, p):
    y = dsp.oversample(lambda u, fs: _run_triodes(u * dsp.db(p["in_db"]), fs, p["stages"], 0.1), x, sr)
    return _eq(dsp.filt(y, dsp.highpass1(40.0, sr)), p["stack"], sr)


# ----------------------------------------------------------------------------------------------
# Distortion


def _s_dist_rat(rng):
    return {"gain_db": _u(rng, 24.0, 48.0), "hp": _u(rng, 60.0, 250.0), "gbw": _logu(rng, 4e5, 2e6),
            "clip": _clip_params(rng, ("hard", "tanh"), asym=0.1, level=(0.3, 0.55)),
            "filter": _logu(rng, 1200.0, 8000.0), "two_pole": bool(rng.random() < 0.5)}


def _p_dist_rat(x, sr, p):
    gain = dsp.db(p["gain_db"])
    fc = p["gbw"] / gain

    def clipping(u, fs):
        v = gain * dsp.filt(u, dsp.highpass1(p["hp"], fs), dsp.lowpass1(fc, fs))
        return _apply_clip(v, p["clip"])
    y = dsp.oversample(clipping, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    tone = dsp.lowpass(p["filter"], sr) if p["two_pole"] else dsp.lowpass1(p["filter"], sr)
    return dsp.filt(y, tone, dsp.highpass1(30.0, sr))


def _s_dist_cascade(rng):
    return {"g1": _u(rng, 8.0, 30.0), "g2": _u(rng, 10.0, 28.0), "hp1": _u(rng, 80.0, 300.0),
            "hp2": _u(rng, 150.0, 400.0), "clip1": _clip_params(rng, ("tanh", "atan", "cubic"), level=(0.8, 1.3)),
            "clip2": _clip_params(rng, ("hard", "diode"), asym=0.05, level=(0.4, 0.6)),
            "scoop_f": _logu(rng, 450.0, 1100.0), "scoop_db": _u(rng, -12.0, -3.0),
            "eq": _stack(rng, mid=(250.0, 4000.0), mid_db=(-10.0, 10.0), spread=10.0), "lp": _u(rng, 5000.0, 8000.0)}


def _p_dist_cascade(x, sr, p):
    def clipping(u, fs):
        u = _apply_clip(dsp.db(p["g1"]) * dsp.filt(u, dsp.highpass1(p["hp1"], fs)), p["clip1"])
        u = dsp.filt(u, dsp.highpass1(p["hp2"], fs), dsp.lowpass1(7000.0, fs))
        return _apply_clip(dsp.db(p["g2"]) * u, p["clip2"])
    y = dsp.oversample(clipping, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    y = dsp.filt(y, dsp.lowpass(p["lp"], sr), dsp.peaking(p["scoop_f"], p["scoop_db"], 0.8, sr))
    return _eq(y, p["eq"], sr)


def _s_dist_ds(rng):
    return {"boost_db": _u(rng, 6.0, 16.0), "gain_db": _u(rng, 18.0, 36.0), "hp": _u(rng, 80.0, 300.0),
            "pos": _u(rng, 0.3, 0.5), "neg": _u(rng, 0.5, 0.9), "lp_f": _u(rng, 200.0, 700.0),
            "hp_f": _u(rng, 700.0, 2500.0), "blend": _u(rng, 0.25, 0.75)}


def _p_dist_ds(x, sr, p):
    def clipping(u, fs):
        u = -dsp.triode(dsp.db(p["boost_db"]) * dsp.filt(u, dsp.highpass1(p["hp"], fs)), 0.3)
        v = dsp.db(p["gain_db"]) * dsp.filt(u, dsp.highpass1(150.0, fs), dsp.lowpass1(9000.0, fs))
        return np.where(v >= 0, dsp.hard_clip(v, p["pos"], knee=8.0), dsp.hard_clip(v, p["neg"], knee=3.0))
    y = dsp.oversample(clipping, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    y = (1 - p["blend"]) * dsp.filt(y, dsp.lowpass1(p["lp_f"], sr)) * 2.0 + p["blend"] * dsp.filt(
        y, dsp.highpass1(p["hp_f"], sr))
    return dsp.filt(y, dsp.highpass1(40.0, sr))


# ----------------------------------------------------------------------------------------------
# Fuzz


def _s_fuzz_muff(rng):
    return {"pre_db": _u(rng, 20.0, 44.0), "stage_db": _u(rng, 16.0, 28.0), "n": int(rng.integers(2, 4)),
            "shift": _u(rng, 0.05, 0.3), "stage_lp": _u(rng, 2000.0, 5000.0), "tone": _u(rng, 0.1, 0.9),
            "lp": _u(rng, 250.0, 600.0), "hpf": _u(rng, 800.0, 1800.0)}


def _p_fuzz_muff(x, sr, p):
    def stages(u, fs):
        u = dsp.triode(dsp.filt(u, dsp.highpass1(90.0, fs)) * 2.0, 0.1)
        for i in range(p["n"]):
            v = dsp.db(p["pre_db"] if i == 0 else p["stage_db"]) * dsp.filt(u, dsp.highpass1(110.0, fs))
            shift = dsp.one_pole(np.maximum(v, 0.0), 0.03, fs)
            u = dsp.filt(dsp.diode_clip(v - p["shift"] * shift, 0.5, 0.45), dsp.lowpass1(p["stage_lp"], fs))
        return u
    y = dsp.oversample(stages, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    y = (1 - p["tone"]) * dsp.filt(y, dsp.lowpass1(p["lp"], sr)) + p["tone"] * dsp.filt(y, dsp.highpass1(p["hpf"], sr))
    return dsp.filt(y, dsp.highpass1(40.0, sr))


def _s_fuzz_face(rng):
    return {"gain_db": _u(rng, 30.0, 52.0), "in_hp": _u(rng, 20.0, 120.0), "bias": _u(rng, -0.4, 0.4),
            "pos": _u(rng, 0.15, 0.4), "neg": _u(rng, 0.6, 1.4), "sputter": _u(rng, 0.0, 0.6),
            "lp": _u(rng, 3500.0, 9000.0), "germanium": bool(rng.random() < 0.5)}


def _p_fuzz_face(x, sr, p):
    def stage(u, fs):
        v = dsp.db(p["gain_db"]) * dsp.filt(u, dsp.highpass1(p["in_hp"], fs), dsp.lowpass1(12000.0, fs))
        shift = p["sputter"] * dsp.one_pole(np.abs(v) * 0.05, 0.05, fs)
        w = v + p["bias"] - shift
        curve = "tanh" if p["germanium"] else "hard"
        return _curve(curve, w, p["pos"], p["neg"]) - _curve(curve, np.float64(p["bias"]), p["pos"], p["neg"])
    y = dsp.oversample(stage, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    return dsp.filt(y, dsp.lowpass1(p["lp"], sr), dsp.highpass1(30.0, sr))


def _s_fuzz_gated(rng):
    return {"octave": _u(rng, 0.0, 0.7), "gain_db": _u(rng, 28.0, 46.0), "gate_db": _u(rng, -42.0, -24.0),
            "level": _u(rng, 0.3, 0.6), "lp": _u(rng, 2500.0, 7000.0), "hp": _u(rng, 80.0, 300.0)}


def _p_fuzz_gated(x, sr, p):
    env = dsp.envelope(x, sr, attack=0.002, release=0.05)
    gate = 1.0 / (1.0 + np.exp(-(20.0 * np.log10(np.maximum(env, 1e-6)) - p["gate_db"]) / 2.0))

    def stage(u, fs):
        u = dsp.filt(u, dsp.highpass1(p["hp"], fs))
        u = (1 - p["octave"]) * u + p["octave"] * (np.abs(u) - dsp.one_pole(np.abs(u), 0.02, fs))
        return dsp.hard_clip(dsp.db(p["gain_db"]) * u, p["level"], knee=10.0)
    y = dsp.oversample(stage, x, sr) * gate
    return dsp.filt(y, dsp.lowpass(p["lp"], sr), dsp.highpass1(40.0, sr))


# ----------------------------------------------------------------------------------------------
# Boost


def _s_boost_clean(rng):
    return {"gain_db": _u(rng, -3.0, 16.0), "low_db": _u(rng, -6.0, 4.0), "high_db": _u(rng, -4.0, 8.0),
            "head": _u(rng, 0.9, 1.6), "asym": _u(rng, 0.0, 0.2)}


def _p_boost_clean(x, sr, p):
    u = dsp.filt(x, dsp.highpass1(25.0, sr), dsp.low_shelf(200.0, p["low_db"], sr),
                 dsp.high_shelf(2000.0, p["high_db"], sr)) * dsp.db(p["gain_db"])
    return dsp.oversample(lambda v, fs: p["head"] * dsp.triode(v / p["head"], p["asym"], cutoff=1.4), u, sr)


def _s_boost_treble(rng):
    return {"hp": _logu(rng, 250.0, 1500.0), "gain_db": _u(rng, 6.0, 22.0), "shelf_db": _u(rng, 0.0, 8.0),
            "head": _u(rng, 0.6, 1.2)}


def _p_boost_treble(x, sr, p):
    u = dsp.filt(x, dsp.highpass1(p["hp"], sr), dsp.high_shelf(3000.0, p["shelf_db"], sr)) * dsp.db(p["gain_db"])
    return dsp.oversample(lambda v, fs: p["head"] * dsp.triode(v / p["head"], 0.3, cutoff=2.0), u, sr)


def _s_boost_eq(rng):
    n = int(rng.integers(3, 6))
    bands = [["peak", _logu(rng, 100.0, 6400.0), _u(rng, -9.0, 9.0), _u(rng, 0.8, 2.0)] for _ in range(n)]
    return {"bands": bands, "gain_db": _u(rng, 0.0, 12.0), "rail": _u(rng, 1.0, 2.0)}


def _p_boost_eq(x, sr, p):
    u = _eq(dsp.filt(x, dsp.highpass1(20.0, sr)), p["bands"], sr) * dsp.db(p["gain_db"])
    return dsp.oversample(lambda v, fs: dsp.hard_clip(v, p["rail"], knee=8.0), u, sr)


# ----------------------------------------------------------------------------------------------
# Compressor


def _s_comp_vca(rng):
    return {"threshold": _u(rng, -40.0, -12.0), "ratio": _logu(rng, 2.0, 20.0), "knee": _u(rng, 0.0, 8.0),
            "attack": _logu(rng, 0.0003, 0.03), "release": _logu(rng, 0.04, 1.0), "rms": bool(rng.random() < 0.5),
            "makeup_db": _u(rng, 0.0, 12.0), "lp": _u(rng, 7000.0, 16000.0)}


def _p_comp_vca(x, sr, p):
    det = x if not p["rms"] else np.sqrt(dsp.one_pole(x * x, 0.01, sr))
    env = dsp.envelope(det, sr, attack=p["attack"], release=p["release"])
    g = _gain_computer(20.0 * np.log10(np.maximum(env, 1e-6)), p["threshold"], p["ratio"], p["knee"])
    y = dsp.soft_clip(x * dsp.db(g + p["makeup_db"]), 1.2)
    return dsp.filt(y, dsp.lowpass1(p["lp"], sr))


def _s_comp_opto(rng):
    return {"threshold": _u(rng, -36.0, -14.0), "ratio": _logu(rng, 2.0, 8.0), "knee": _u(rng, 6.0, 14.0),
            "attack": _logu(rng, 0.005, 0.04), "release": _logu(rng, 0.1, 0.8), "slow": _u(rng, 0.2, 0.6),
            "makeup_db": _u(rng, 0.0, 10.0), "color": _u(rng, 0.0, 0.3)}


def _p_comp_opto(x, sr, p):
    fast = dsp.envelope(x, sr, attack=p["attack"], release=p["release"])
    slow = dsp.envelope(x, sr, attack=p["attack"] * 5, release=p["release"] * 6)
    env = (1 - p["slow"]) * fast + p["slow"] * slow
    g = _gain_computer(20.0 * np.log10(np.maximum(env, 1e-6)), p["threshold"], p["ratio"], p["knee"])
    y = x * dsp.db(g + p["makeup_db"])
    return (1 - p["color"]) * y + p["color"] * dsp.triode(y, 0.2)


def _s_comp_feedback(rng):
    return {"threshold": _u(rng, -36.0, -14.0), "ratio": _logu(rng, 3.0, 30.0),
            "attack": _logu(rng, 0.001, 0.02), "release": _logu(rng, 0.05, 0.6), "blend": _u(rng, 0.0, 0.5),
            "makeup_db": _u(rng, 2.0, 14.0), "sidechain_hp": _u(rng, 20.0, 200.0)}


def _p_comp_feedback(x, sr, p):
    y = x
    for _ in range(3):                                       # fixed-point iterations of the feedback loop
        det = dsp.filt(y, dsp.highpass1(p["sidechain_hp"], sr))
        env = dsp.envelope(det, sr, attack=p["attack"], release=p["release"])
        level = 20.0 * np.log10(np.maximum(env, 1e-6))
        # a feedback detector sees the already-reduced level: ratio r at the output is ratio (r - 1) + 1 at the input
        g = _gain_computer(level, p["threshold"], p["ratio"], 0.0)
        y = x * dsp.db(g)
    y = (1 - p["blend"]) * y + p["blend"] * x
    return dsp.soft_clip(y * dsp.db(p["makeup_db"]), 1.3)


# ----------------------------------------------------------------------------------------------
# Amps


def _s_clean_blackface(rng):
    return {"stages": _triode_stages(rng, 2, (4.0, 14.0)), "in_db": _u(rng, -14.0, 0.0),
            "stack": _stack(rng, mid=(350.0, 600.0), mid_db=(-9.0, -2.0), spread=8.0),
            "power_db": _u(rng, -10.0, 2.0), "sag": _u(rng, 0.1, 0.4), "cab": _random_cab(rng, "open")}


def _p_clean_blackface(x, sr, p):
    def pre(u, fs):
        u = _run_triodes(dsp.filt(u, dsp.highpass1(40.0, fs)) * dsp.db(p["in_db"]), fs, p["stages"], 0.0)
        return _power_amp(_eq(u, p["stack"], fs), fs, drive_db=p["power_db"], sag=p["sag"])
    return _apply_cab(dsp.oversample(pre, x, sr), sr, p["cab"])


def _s_clean_solidstate(rng):
    return {"pre_db": _u(rng, 0.0, 12.0), "bright_db": _u(rng, 0.0, 9.0), "bright_f": _u(rng, 1500.0, 4000.0),
            "stack": _stack(rng, mid=(300.0, 1500.0), mid_db=(-6.0, 4.0), spread=6.0),
            "rail": _u(rng, 0.8, 1.6), "cab": _random_cab(rng, str(rng.choice(["closed", "open"])))}


def _p_clean_solidstate(x, sr, p):
    u = dsp.filt(x, dsp.highpass1(50.0, sr), dsp.high_shelf(p["bright_f"], p["bright_db"], sr)) * dsp.db(p["pre_db"])
    u = _eq(u, p["stack"], sr)
    y = dsp.oversample(lambda v, fs: dsp.hard_clip(v, p["rail"], knee=5.0), u, sr)
    return _apply_cab(y, sr, p["cab"])


def _s_clean_tweed(rng):
    return {"stages": _triode_stages(rng, 1, (10.0, 20.0), lp=(5000.0, 10000.0)), "in_db": _u(rng, -12.0, 0.0),
            "tone": _logu(rng, 1500.0, 6000.0), "power_db": _u(rng, -8.0, 2.0), "sag": _u(rng, 0.2, 0.6),
            "asym": _u(rng, 0.2, 0.45), "cab": _random_cab(rng, "open")}


def _p_clean_tweed(x, sr, p):
    def pre(u, fs):
        u = _run_triodes(dsp.filt(u, dsp.highpass1(60.0, fs)) * dsp.db(p["in_db"]), fs, p["stages"], 0.0)
        u = dsp.filt(u, dsp.lowpass1(p["tone"], fs))
        return _power_amp(u, fs, drive_db=p["power_db"], sag=p["sag"], asym=p["asym"], tau=0.15)
    return _apply_cab(dsp.oversample(pre, x, sr), sr, p["cab"])


def _s_crunch_plexi(rng):
    return {"stages": _triode_stages(rng, 3, (8.0, 16.0), lp=(7000.0, 12000.0), hp=(20.0, 100.0)),
            "in_db": _u(rng, -10.0, 6.0), "blocking": _u(rng, 0.1, 0.5),
            "stack": _stack(rng, mid=(500.0, 900.0), mid_db=(-3.0, 5.0), spread=7.0),
            "power_db": _u(rng, -6.0, 6.0), "sag": _u(rng, 0.2, 0.5), "cab": _random_cab(rng, "closed")}


def _p_crunch_plexi(x, sr, p):
    def pre(u, fs):
        u = _run_triodes(dsp.filt(u, dsp.highpass1(70.0, fs)) * dsp.db(p["in_db"]), fs, p["stages"], p["blocking"])
        return _power_amp(_eq(u, p["stack"], fs), fs, drive_db=p["power_db"], sag=p["sag"])
    return _apply_cab(dsp.oversample(pre, x, sr), sr, p["cab"])


def _s_crunch_ac(rng):
    return {"stages": _triode_stages(rng, 2, (10.0, 18.0), lp=(8000.0, 14000.0)), "in_db": _u(rng, -6.0, 8.0),
            "bass_db": _u(rng, -8.0, 4.0), "treble_db": _u(rng, 0.0, 10.0), "power_db": _u(rng, 0.0, 10.0),
            "sag": _u(rng, 0.2, 0.5), "asym": _u(rng, 0.15, 0.4), "cut": _logu(rng, 3000.0, 9000.0),
            "cab": _random_cab(rng, str(rng.choice(["open", "mic"])))}


def _p_crunch_ac(x, sr, p):
    def pre(u, fs):
        u = _run_triodes(dsp.filt(u, dsp.highpass1(60.0, fs)) * dsp.db(p["in_db"]), fs, p["stages"], 0.2)
        u = dsp.filt(u, dsp.low_shelf(150.0, p["bass_db"], fs), dsp.high_shelf(1500.0, p["treble_db"], fs))
        u = _power_amp(u, fs, drive_db=p["power_db"], sag=p["sag"], asym=p["asym"])
        return dsp.filt(u, dsp.lowpass1(p["cut"], fs))
    return _apply_cab(dsp.oversample(pre, x, sr), sr, p["cab"])


def _s_crunch_tweed(rng):
    return {"stages": _triode_stages(rng, 2, (14.0, 22.0), lp=(6000.0, 12000.0), hp=(15.0, 60.0)),
            "in_db": _u(rng, -6.0, 6.0), "power_db": _u(rng, 4.0, 12.0), "sag": _u(rng, 0.4, 0.9),
            "presence": _u(rng, 0.0, 6.0), "cab": _random_cab(rng, "open")}


def _p_crunch_tweed(x, sr, p):
    def pre(u, fs):
        u = _run_triodes(dsp.filt(u, dsp.highpass1(30.0, fs)) * dsp.db(p["in_db"]), fs, p["stages"], 0.3)
        u = _power_amp(u, fs, drive_db=p["power_db"], sag=p["sag"], tau=0.2)
        return dsp.filt(u, dsp.high_shelf(3000.0, p["presence"], fs))
    return _apply_cab(dsp.oversample(pre, x, sr), sr, p["cab"])


def _s_hg_modern(rng):
    n = int(rng.integers(4, 6))
    return {"stages": _triode_stages(rng, n, (10.0, 16.0), lp=(6000.0, 11000.0), hp=(60.0, 200.0)),
            "in_hp": _u(rng, 120.0, 300.0), "in_db": _u(rng, -6.0, 8.0), "blocking": _u(rng, 0.2, 0.6),
            "stack": _stack(rng, mid=(500.0, 900.0), mid_db=(-12.0, -3.0), spread=7.0),
            "power_db": _u(rng, -6.0, 6.0), "sag": _u(rng, 0.2, 0.4), "cab": _random_cab(rng, "closed")}


def _p_hg_modern(x, sr, p):
    def pre(u, fs):
        u = dsp.filt(u, dsp.highpass1(p["in_hp"], fs)) * dsp.db(p["in_db"])
        u = _run_triodes(u, fs, p["stages"], p["blocking"])
        return _power_amp(_eq(u, p["stack"], fs), fs, drive_db=p["power_db"], sag=p["sag"])
    return _apply_cab(dsp.oversample(pre, x, sr), sr, p["cab"])


def _s_hg_rect(rng):
    return {"stages": _triode_stages(rng, 4, (12.0, 18.0), lp=(5000.0, 10000.0), hp=(40.0, 160.0)),
            "in_db": _u(rng, -4.0, 8.0), "scoop_f": _logu(rng, 400.0, 1000.0), "scoop_db": _u(rng, -16.0, -6.0),
            "depth_f": _u(rng, 70.0, 130.0), "depth_db": _u(rng, 2.0, 9.0), "power_db": _u(rng, -2.0, 8.0),
            "sag": _u(rng, 0.5, 1.0), "cab": _random_cab(rng, str(rng.choice(["closed", "mic"])))}


def _p_hg_rect(x, sr, p):
    def pre(u, fs):
        u = _run_triodes(dsp.filt(u, dsp.highpass1(90.0, fs)) * dsp.db(p["in_db"]), fs, p["stages"], 0.3)
        u = dsp.filt(u, dsp.peaking(p["scoop_f"], p["scoop_db"], 0.7, fs))
        u = _power_amp(u, fs, drive_db=p["power_db"], sag=p["sag"], tau=0.05)
        return dsp.filt(u, dsp.peaking(p["depth_f"], p["depth_db"], 1.2, fs))
    return _apply_cab(dsp.oversample(pre, x, sr), sr, p["cab"])


def _s_hg_boosted(rng):
    return {"od": _s_od_hump(rng), "od_level_db": _u(rng, 0.0, 10.0), "amp": _s_crunch_plexi(rng)}


def _p_hg_boosted(x, sr, p):
    u = _p_od_hump(x, sr, p["od"]) * dsp.db(p["od_level_db"])
    return _p_crunch_plexi(u, sr, p["amp"])


# ----------------------------------------------------------------------------------------------
# Registry of families


def _bench(name: str, category: str, base: str) -> Family:
    return Family(name, category, f"the bench design {base!r} at random knob values", None, None, base=base)


FAMILIES: tuple[Family, ...] = (
    _bench("bench-screamer", "overdrive", "screamer"),
    Family("od-hump", "overdrive", "TS-style mid-hump clipper summed with the dry path", _s_od_hump, _p_od_hump),
    Family("od-blend", "overdrive", "Klon-style clean/clipped blend, diodes to ground", _s_od_blend, _p_od_blend),
    Family("od-stack", "overdrive", "amp-in-a-box: asymmetric triode stages and a 3-band stack", _s_od_stack,
           _p_od_stack),
    _bench("bench-metal", "distortion", "metal"),
    Family("dist-rat", "distortion", "op-amp gain with GBW roll-off, hard diodes, filter", _s_dist_rat, _p_dist_rat),
    Family("dist-cascade", "distortion", "soft then hard stage, scoop, shelves and swept mid", _s_dist_cascade,
           _p_dist_cascade),
    Family("dist-ds", "distortion", "transistor booster, op-amp, asymmetric hard clip, LP/HP blend", _s_dist_ds,
           _p_dist_ds),
    _bench("bench-muff", "fuzz", "muff"),
    Family("fuzz-muff", "fuzz", "cascaded clipping stages with bias shift, LP/HP blend", _s_fuzz_muff, _p_fuzz_muff),
    Family("fuzz-face", "fuzz", "one very high-gain biased stage, sputter", _s_fuzz_face, _p_fuzz_face),
    Family("fuzz-gated", "fuzz", "octave-up rectifier blend, starved gain with a gate", _s_fuzz_gated,
           _p_fuzz_gated),
    _bench("bench-boost", "boost", "boost"),
    Family("boost-clean", "boost", "clean gain, tilt EQ, soft headroom", _s_boost_clean, _p_boost_clean),
    Family("boost-treble", "boost", "high-pass treble booster, asymmetric saturation", _s_boost_treble,
           _p_boost_treble),
    Family("boost-eq", "boost", "graphic-EQ pedal with gain and op-amp headroom", _s_boost_eq, _p_boost_eq),
    _bench("bench-compressor", "compressor", "compressor"),
    Family("comp-vca", "compressor", "feed-forward VCA, peak or RMS detector", _s_comp_vca, _p_comp_vca),
    Family("comp-opto", "compressor", "optical, two-stage program-dependent release", _s_comp_opto, _p_comp_opto),
    Family("comp-feedback", "compressor", "feedback detector, hard knee, parallel blend", _s_comp_feedback,
           _p_comp_feedback),
    _bench("bench-clean-amp", "amp-clean", "clean-amp"),
    Family("clean-blackface", "amp-clean", "two triodes, scooped stack, push-pull with sag, open cab",
           _s_clean_blackface, _p_clean_blackface),
    Family("clean-solidstate", "amp-clean", "linear preamp, bright EQ, transistor power amp", _s_clean_solidstate,
           _p_clean_solidstate),
    Family("clean-tweed", "amp-clean", "one triode, treble cut, single-ended power amp, open cab", _s_clean_tweed,
           _p_clean_tweed),
    _bench("bench-crunch-amp", "amp-crunch", "crunch-amp"),
    Family("crunch-plexi", "amp-crunch", "three triodes with blocking, mid-forward stack, closed 4x12",
           _s_crunch_plexi, _p_crunch_plexi),
    Family("crunch-ac", "amp-crunch", "top-boost stack, class-A power amp, cut, alnico 2x12", _s_crunch_ac,
           _p_crunch_ac),
    Family("crunch-tweed", "amp-crunch", "two cranked triodes into a saggy power amp, open 4x10", _s_crunch_tweed,
           _p_crunch_tweed),
    _bench("bench-lead-amp", "amp-highgain", "lead-amp"),
    Family("hg-modern", "amp-highgain", "tight input, four or five triodes, scooped stack", _s_hg_modern,
           _p_hg_modern),
    Family("hg-rect", "amp-highgain", "four triodes, deep scoop, rectifier sag, depth", _s_hg_rect, _p_hg_rect),
    Family("hg-boosted", "amp-highgain", "TS-style overdrive into a three-triode crunch amp", _s_hg_boosted,
           _p_hg_boosted),
    Family("od-chain", "overdrive", "random chain: pre-filter, one or two clippers, dry blend, tone", _s_od_chain,
           _p_od_chain, zoo=False),
    Family("dist-chain", "distortion", "random chain: one to three biased hard stages, tone", _s_dist_chain,
           _p_dist_chain, zoo=False),
    Family("fuzz-chain", "fuzz", "random chain: extreme biased stages, sputter, gate, octave, tone", _s_fuzz_chain,
           _p_fuzz_chain, zoo=False),
    Family("boost-chain", "boost", "random chain: gain, random EQ, headroom", _s_boost_chain, _p_boost_chain,
           zoo=False),
    Family("comp-chain", "compressor", "random chain: feed-forward or feedback detector, blend, colour",
           _s_comp_chain, _p_comp_chain, zoo=False),
    Family("clean-chain", "amp-clean", "random amp: 1-2 triodes, stack, power amp, cabinet",
           _amp_chain_sampler("amp-clean"), _p_amp_chain, zoo=False),
    Family("crunch-chain", "amp-crunch", "random amp: 2-3 triodes, stack, driven power amp, cabinet",
           _amp_chain_sampler("amp-crunch"), _p_amp_chain, zoo=False),
    Family("hg-chain", "amp-highgain", "random amp: 3-5 triodes, stack, power amp, cabinet",
           _amp_chain_sampler("amp-highgain"), _p_amp_chain, zoo=False),
)
"""Every family: four per category for the zoo (one of them held out), one random chain per category."""

HELD_OUT_FAMILIES: tuple[str, ...] = ("od-stack", "dist-ds", "fuzz-gated", "boost-eq", "comp-feedback",
                                      "clean-tweed", "crunch-tweed", "hg-boosted")
"""One family per category, never in the default zoo nor in the classifier's training."""

_BY_NAME = {f.name: f for f in FAMILIES}


def list_families(category: str | None = None, *, held_out: bool | None = None, zoo_only: bool = True
                  ) -> list[Family]:
    """Families, optionally of one category and only held-out (``True``) or only training (``False``) ones.

    ``zoo_only=False`` adds the random-chain families that train the device-kind classifier only.
    """
    if category is not None and category not in CATEGORIES:
        raise ConfigError(f"unknown category {category!r}; valid: {', '.join(CATEGORIES)}")
    out = [f for f in FAMILIES if (category is None or f.category == category) and (f.zoo or not zoo_only)]
    if held_out is not None:
        out = [f for f in out if (f.name in HELD_OUT_FAMILIES) == held_out]
    return out


def _family(category: str, family: str) -> Family:
    fam = _BY_NAME.get(family)
    if fam is None:
        raise ConfigError(f"unknown family {family!r}; valid families: {sorted(_BY_NAME)}")
    if fam.category != category:
        raise ConfigError(f"family {family!r} is of category {fam.category!r}, not {category!r}")
    return fam


def _make_process(fam: Family):
    def process(x: np.ndarray, sr: int, k: Mapping[str, float], opt: Mapping[str, Any]) -> np.ndarray:
        params = opt.get("params") or fam.sample(np.random.default_rng(0))
        return fam.process(x, sr, params)
    return process


def _register_families() -> None:
    """Register one design ``family:<name>`` per generator family (runs once, at import)."""
    for fam in FAMILIES:
        if fam.base is None:
            register_design(Design(f"family:{fam.name}", fam.category, {}, fam.description, _make_process(fam),
                                   {"params": None}), overwrite=True, device=False)


def _calibrate(dev: Device, rng: np.random.Generator) -> Device:
    """Set ``trim_db`` so a synthetic DI at peak 0.5 comes out at a level drawn from :data:`LEVEL_RANGE_DB`,
    its peak no higher than -6 dBFS."""
    from .signals import synth_di
    x = synth_di(_CAL_SECONDS, _CAL_RATE, seed=_CAL_SEED, peak=0.5)
    design = get_design(dev.design)
    options = {"trim_db": 0.0, **design.options, **dev.options}
    y = design.process(x.astype(np.float64), _CAL_RATE, dev.knobs, options)
    rms_db = 10.0 * np.log10(float(np.mean(y ** 2)) + 1e-12)
    peak_db = 20.0 * np.log10(float(np.max(np.abs(y))) + 1e-12)
    target = _u(rng, *LEVEL_RANGE_DB)
    # ... and its peak at most -6 dBFS, so a hotter DI still leaves headroom (no flat tops at the rail)
    trim = float(np.clip(min(target - rms_db, _PEAK_DB - peak_db), -40.0, 20.0))
    return dev.derive(dev.name, options={"trim_db": round(trim, 3)})


def _direct_out(fam: Family, seed: int) -> bool:
    """Amps recorded from a direct out or a load box, without a cabinet: 30 % of the draws (own stream)."""
    return fam.category.startswith("amp-") and bool(np.random.default_rng([int(seed), 7, *map(ord, fam.name)]).random() < DIRECT_OUT_SHARE)


def draw(category: str, family: str, seed: int) -> Device:
    """One device of a family: the same ``(family, seed)`` always gives the same device.

    Parameters
    ----------
    category : str
        One of :data:`tonezoo.devices.CATEGORIES`; must be the family's.
    family : str
        A family name from :data:`FAMILIES`.
    seed : int
        Seed of the draw (>= 0).

    Returns
    -------
    Device
        Named ``"<family>-s<seed>"``, with ``design`` the family's design (``bench-*``: the bench
        design with random knobs) and ``options["params"]`` the drawn parameters (JSON-friendly).

    Raises
    ------
    ConfigError
        Unknown family, a category that is not the family's, or a negative seed.
    """
    fam = _family(category, family)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    rng = np.random.default_rng([int(seed), *[ord(c) for c in fam.name]])
    name = f"{fam.name}-s{int(seed)}"
    if fam.base is not None:
        base = get_device(fam.base)
        knobs = {k: round(float(rng.uniform(0.0, 1.0)), 3) for k in base.knobs}
        options: dict[str, Any] = {}
        if fam.base == "compressor":
            options["detector"] = str(rng.choice(["vca", "opto"]))
        if "cab" in base.options:
            options["cab"] = "none" if _direct_out(fam, seed) else str(rng.choice(list(dsp.CABINETS)))
        dev = base.derive(name, knobs=knobs, options=options, description=fam.description)
    else:
        params = fam.sample(rng)
        if "cab" in params and _direct_out(fam, seed):
            params["cab"] = None
        dev = Device(name, fam.category, {}, fam.description, f"family:{fam.name}", {"params": params})
    return _calibrate(dev, rng)


def draw_many(n_per_family: int, *, held_out: bool = False, seed: int = 0,
              categories: tuple[str, ...] | None = None) -> list[Device]:
    """``n_per_family`` devices of every training family (``held_out=True``: of every held-out family).

    Seeds run ``seed, seed + 1, ...`` within each family.
    """
    fams = [f for f in list_families(held_out=held_out) if categories is None or f.category in categories]
    return [draw(f.category, f.name, seed + i) for f in fams for i in range(int(n_per_family))]


_register_families()
