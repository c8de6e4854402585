"""Virtual guitar pedals and amps: the device bench behind the default zoo, the demo and the tests.

Each *design* is a deterministic DSP model of a real circuit's behaviour, with named knobs in
[0, 1]; a :class:`Device` is a design at fixed knob values (the design itself at its defaults,
or a named *preset* such as ``"ts9-like"``), so one design at many settings gives a family of
related devices. Every device has a ``category`` from :data:`CATEGORIES`.

The designs (see ``docs/devices.md`` for the circuits they follow):

==============  ==============  ===================================================================
design          category        model
==============  ==============  ===================================================================
screamer        overdrive       mid-hump (720 Hz high-pass) gain into feedback diodes, added to the
                                dry signal; tone low-pass; level
metal           distortion      two cascaded high-gain op-amp stages, hard diodes to ground,
                                fixed mid scoop plus low / semi-parametric mid / high EQ
muff            fuzz            booster, two cascaded clipping stages with bias shift (sputter),
                                passive low-pass/high-pass blend tone stack, recovery stage
boost           boost           clean discrete gain stage with headroom saturation and tilt EQ
compressor      compressor      feed-forward VCA or optical compressor: attack/release envelope,
                                soft-knee gain computer, make-up gain
clean-amp       amp-clean       two coupled triode stages, Fender-style tone stack with a "fat"
                                mid boost, push-pull power amp with sag, open-back 1x12 cabinet
crunch-amp      amp-crunch      three triode stages with grid-conduction bias shift, Marshall-style
                                tone stack, power amp with sag, closed-back 4x12 cabinet
lead-amp        amp-highgain    tight input high-pass, four cascaded triode stages, scooped tone
                                stack, power amp with sag, closed-back 4x12 cabinet
==============  ==============  ===================================================================

Nonlinear stages run at twice the sample rate (polyphase resampling) to keep aliases out of the
audio band; filters are designed from the sample rate at render time, so any rate from 22.05 to
192 kHz works. Every output passes an output-stage headroom model, so peaks stay below 0 dBFS.

Examples
--------
>>> import numpy as np
>>> from tonezoo.devices import get_device, render
>>> x = 0.5 * np.sin(2 * np.pi * 220 * np.arange(44100) / 44100)
>>> y = render("ts9-like", x, 44100)
>>> y = render("screamer", x, 44100, knobs={"drive": 0.3, "tone": 0.7})
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from . import _dsp as dsp
from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .capture import Capture

__all__ = [
    "CATEGORIES",
    "Device",
    "Design",
    "list_devices",
    "list_designs",
    "get_device",
    "get_design",
    "register_design",
    "register_device",
    "render",
    "render_capture",
    "render_pair",
]

CATEGORIES = ("overdrive", "distortion", "fuzz", "boost", "compressor", "amp-clean", "amp-crunch", "amp-highgain")
"""The device categories every zoo entry and device carries."""

_MIN_RATE, _MAX_RATE = 22050, 192000
_COMMON_OPTIONS = {"trim_db": 0.0}
"""Options every design takes: ``trim_db``, the recording level of the device output (dB)."""
ProcessFn = Callable[[np.ndarray, int, Mapping[str, float], Mapping[str, Any]], np.ndarray]


# ----------------------------------------------------------------------------------------------
# Data types and registry


@dataclass(frozen=True)
class Design:
    """A device circuit: a pure function of audio, sample rate, knobs and options.

    Parameters
    ----------
    name : str
        Registry name (also the name of the device at default knobs).
    category : str
        One of :data:`CATEGORIES`.
    knobs : Mapping[str, float]
        Knob names and their defaults, each in [0, 1].
    description : str
        One line for tables.
    process : callable
        ``process(x, sample_rate, knobs, options) -> y`` with ``x``, ``y`` float64 [shape=(n,)].
    options : Mapping[str, Any]
        Knob-less settings and their defaults (e.g. ``{"cab": "closed-4x12", "ir": None}``).
    """

    name: str
    category: str
    knobs: Mapping[str, float] = field(hash=False)
    description: str
    process: ProcessFn = field(repr=False, compare=False)
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Device:
    """A design at fixed knob values: what gets rendered and captured.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"ts9-like"``.
    category : str
        One of :data:`CATEGORIES`.
    knobs : dict[str, float]
        Every knob of the design with this device's value in [0, 1].
    description : str
        One line for tables.
    design : str
        Name of the registered :class:`Design` that renders it.
    options : dict[str, Any]
        Knob-less settings passed to the design (cabinet type, impulse response file, ...).
    """

    name: str
    category: str
    knobs: dict[str, float] = field(hash=False)
    description: str
    design: str
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def derive(self, name: str, *, knobs: Mapping[str, float] | None = None,
               options: Mapping[str, Any] | None = None, category: str | None = None,
               description: str | None = None) -> "Device":
        """A new (unregistered) device from this one with some knobs or options changed.

        Examples
        --------
        >>> amp = get_device("crunch-amp").derive("my-amp", options={"ir": "cab.wav"})
        """
        design = get_design(self.design)
        new_knobs = _check_knobs(design, {**self.knobs, **dict(knobs or {})}, where=f"device {name!r}")
        new_options = _check_options(design, {**self.options, **dict(options or {})}, where=f"device {name!r}")
        return dataclasses.replace(self, name=name, knobs=new_knobs, options=new_options,
                                   category=category or self.category,
                                   description=description or self.description)


def _new_registry() -> tuple[dict[str, Design], dict[str, Device]]:
    return {}, {}


_DESIGNS, _DEVICES = _new_registry()


def _check_knobs(design: Design, knobs: Mapping[str, Any], *, where: str) -> dict[str, float]:
    unknown = sorted(set(knobs) - set(design.knobs))
    if unknown:
        raise ConfigError(f"{where}: unknown knob(s) {', '.join(unknown)} for design {design.name!r}; "
                          f"valid knobs: {', '.join(design.knobs)}")
    out = dict(design.knobs)
    for key, value in knobs.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: knob {key!r} must be a number in [0, 1], got {value!r}") from None
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"{where}: knob {key!r} must be in [0, 1], got {v}; valid knobs of "
                              f"{design.name!r}: {list(design.knobs)}, each in [0, 1]")
        out[key] = v
    return out


def _check_options(design: Design, options: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    valid = {*design.options, *_COMMON_OPTIONS}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {unknown} for design {design.name!r}; "
                          f"valid options: {sorted(valid)}")
    trim = options.get("trim_db", 0.0)
    if not isinstance(trim, (int, float)) or not -40.0 <= trim <= 20.0:
        raise ConfigError(f"{where}: option 'trim_db' must be a number of dB in [-40, 20], got {trim!r}")
    cab = options.get("cab")
    if cab is not None and cab not in ("none", *dsp.CABINETS):
        raise ConfigError(f"{where}: unknown cabinet {cab!r}; valid: {['none', *dsp.CABINETS]}")
    return {**design.options, **options}


def register_design(design: Design, *, overwrite: bool = False, device: bool = True) -> Device | None:
    """Register a design, and (``device=True``) a device of the same name at the design's default knobs.

    Designs whose devices come from a generator (:mod:`tonezoo.families`) register with
    ``device=False``: they have no meaningful default, and their devices are drawn instead.

    Raises
    ------
    ConfigError
        When the name is taken (and not ``overwrite``), the category is unknown or a default
        knob value lies outside [0, 1].
    """
    if design.category not in CATEGORIES:
        raise ConfigError(f"design {design.name!r}: category must be one of {CATEGORIES}, got {design.category!r}")
    if not overwrite and (design.name in _DESIGNS or design.name in _DEVICES):
        raise ConfigError(f"a design or device named {design.name!r} is already registered; "
                          "pass overwrite=True to replace it")
    for key, value in design.knobs.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"design {design.name!r}: default of knob {key!r} must be in [0, 1], got {value}")
    _DESIGNS[design.name] = design
    if not device:
        return None
    default = Device(design.name, design.category, dict(design.knobs), design.description, design.name,
                     dict(design.options))
    _DEVICES[design.name] = default
    return default


def register_device(name: str, design: str, *, knobs: Mapping[str, float] | None = None,
                    options: Mapping[str, Any] | None = None, category: str | None = None,
                    description: str = "", overwrite: bool = False) -> Device:
    """Register a named preset: ``design`` at fixed ``knobs`` (others at their defaults).

    Returns
    -------
    device : Device
        The registered device, with every knob of the design filled in.
    """
    base = get_design(design)
    category = category or base.category
    if category not in CATEGORIES:
        raise ConfigError(f"device {name!r}: category must be one of {CATEGORIES}, got {category!r}")
    if not overwrite and name in _DEVICES:
        raise ConfigError(f"a device named {name!r} is already registered; pass overwrite=True to replace it")
    device = Device(name, category, _check_knobs(base, knobs or {}, where=f"device {name!r}"),
                    description or base.description, base.name,
                    _check_options(base, options or {}, where=f"device {name!r}"))
    _DEVICES[name] = device
    return device


def list_devices() -> list[Device]:
    """Every registered device: the designs at their defaults, then the named presets."""
    return list(_DEVICES.values())


def list_designs() -> list[Design]:
    """Every registered design."""
    return list(_DESIGNS.values())


def get_design(name: str) -> Design:
    """The registered design called ``name`` (:class:`ConfigError` listing the valid names if none)."""
    try:
        return _DESIGNS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown design {name!r}; valid designs: {sorted(_DESIGNS)}") from None


def get_device(name: str | Device) -> Device:
    """The registered device called ``name`` (:class:`ConfigError` listing the valid names if none)."""
    if isinstance(name, Device):
        return name
    try:
        return _DEVICES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown device {name!r}; valid devices: {', '.join(sorted(_DEVICES))} "
                          "(run `tonezoo devices` for the table)") from None


# ----------------------------------------------------------------------------------------------
# Rendering


def render(device: Device | str, x: np.ndarray, sample_rate: int, knobs: Mapping[str, float] | None = None
           ) -> np.ndarray:
    """Play ``x`` through a virtual device.

    Parameters
    ----------
    device : Device or str
        A device or a registered device name (``tonezoo devices`` lists them).
    x : np.ndarray [shape=(n,)]
        Mono input audio (a DI), float, nominally within [-1, 1].
    sample_rate : int
        Sample rate of ``x`` in Hz, 22050 to 192000; filters are designed for it.
    knobs : dict[str, float], optional
        Knob values in [0, 1] overriding the device's own.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        The device output, peak below 1.0.

    Raises
    ------
    ConfigError
        Unknown device or knob, knob outside [0, 1], unsupported sample rate, or audio that is
        not a finite 1-D array.
    """
    dev = get_device(device)
    design = get_design(dev.design)
    settings = _check_knobs(design, {**dev.knobs, **dict(knobs or {})}, where=f"render {dev.name!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or not _MIN_RATE <= sample_rate <= _MAX_RATE:
        raise ConfigError(f"sample_rate must be an integer in [{_MIN_RATE}, {_MAX_RATE}] Hz, got {sample_rate!r}")
    audio = np.asarray(x)
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.number):
        raise ConfigError(f"render expects mono audio of shape (n,), got shape {audio.shape} and dtype "
                          f"{audio.dtype}; mix or pick one channel first")
    audio = audio.astype(np.float64)
    if not np.all(np.isfinite(audio)):
        raise ConfigError("render input contains NaN or infinite samples")
    if audio.size == 0:
        return np.zeros(0, np.float32)
    options = {**_COMMON_OPTIONS, **design.options, **dev.options}
    y = design.process(audio, int(sample_rate), settings, options) * dsp.db(options["trim_db"])
    return dsp.rail(np.nan_to_num(y)).astype(np.float32)


def render_pair(device: Device | str, *, seconds: float = 30.0, sample_rate: int = 44100, seed: int = 0,
                knobs: Mapping[str, float] | None = None, signal: str = "di"
                ) -> tuple[np.ndarray, np.ndarray, int | None]:
    """A synthetic input and the device's output for it (what :func:`render_capture` wraps).

    Parameters are those of :func:`render_capture`.

    Returns
    -------
    x, y : np.ndarray [shape=(n,), dtype=float32]
        Input and sample-aligned device output.
    val_start : int or None
        Start of the standard signal's validation section (``signal="standard"``), else None.
    """
    from .signals import capture_signal, signal_layout, synth_di

    dev = get_device(device)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ConfigError(f"seconds must be a number > 0, got {seconds!r}")
    val_start = None
    if signal == "di":
        x = synth_di(seconds, sample_rate, seed=seed)
    elif signal == "standard":
        x = capture_signal(sample_rate, seconds, seed=seed)
        starts = [s.start for s in signal_layout(sample_rate, seconds) if s.name == "validation"]
        val_start = starts[0] if starts else None
    else:
        raise ConfigError(f"signal must be 'di' or 'standard', got {signal!r}")
    x = np.asarray(x, np.float32)
    return x, render(dev, x, sample_rate, knobs), val_start


def render_capture(device: Device | str, *, seconds: float = 30.0, sample_rate: int = 44100, seed: int = 0,
                   knobs: Mapping[str, float] | None = None, signal: str = "di") -> "Capture":
    """A ready-made capture: a synthetic input played through a virtual device.

    Parameters
    ----------
    device : Device or str
    seconds : float > 0
        Length of the input.
    sample_rate : int
    seed : int
        Seed of the synthetic input (the device itself is deterministic).
    knobs : dict[str, float], optional
        Knob overrides; the capture records every knob value of the device.
    signal : {"di", "standard"}
        ``"di"``: a synthetic guitar performance (:func:`tonezoo.signals.synth_di`), last 20 %
        for validation; ``"standard"``: the standard re-amp signal
        (:func:`tonezoo.signals.capture_signal`) with its own validation section.

    Returns
    -------
    capture : tonezoo.capture.Capture
        ``x`` the input, ``y`` the device output (sample-aligned), ``knobs`` every knob value,
        ``name`` the device name, ``metadata`` device, design, category, signal, seed, options.

    Examples
    --------
    >>> cap = render_capture("ts9-like", seconds=20.0)
    >>> cap.knobs["drive"]
    1.0
    """
    from .capture import Capture

    dev = get_device(device)
    settings = _check_knobs(get_design(dev.design), {**dev.knobs, **dict(knobs or {})},
                            where=f"render_capture {dev.name!r}")
    x, y, val_start = render_pair(dev, seconds=seconds, sample_rate=sample_rate, seed=seed, knobs=settings,
                                  signal=signal)
    split = {} if val_start is None else {"val_start": val_start}
    metadata = {"device": dev.name, "design": dev.design, "category": dev.category, "signal": signal,
                "seed": seed, "options": {k: v for k, v in dev.options.items() if v is not None}}
    return Capture.from_arrays(x, y, sample_rate, knobs=settings, name=dev.name, align=False,
                               metadata=metadata, **split)


# ----------------------------------------------------------------------------------------------
# Pedal circuits. Units: 1.0 full scale ~ 1 V at the pedal input; silicon diodes clip near 0.55.


def _screamer(x: np.ndarray, sr: int, k: Mapping[str, float], opt: Mapping[str, Any]) -> np.ndarray:
    """Tube-Screamer-style overdrive.

    Clipping stage: a non-inverting op-amp whose feedback holds the drive pot, a 51 pF cap and
    two antiparallel diodes; its gain only applies above the 720 Hz corner of the 4.7 kOhm /
    47 nF leg, so lows pass clean and the mids are pushed (the "mid hump")::

        out = x + D(G * LP_fc(HP_720(x))),   G = 1 + (51k + 500k * drive) / 4.7k,
        fc = 1 / (2 pi (51k + 500k * drive) 51 pF)
    """
    r = 51e3 + 500e3 * dsp.audio_taper(k["drive"], decades=1.5)
    gain, f_cap = 1.0 + r / 4.7e3, 1.0 / (2 * np.pi * r * 51e-12)

    def clipping(u: np.ndarray, fs: int) -> np.ndarray:
        v = gain * dsp.filt(u, dsp.highpass1(720.0, fs), dsp.lowpass1(f_cap, fs))
        return u + dsp.diode_clip(v, 0.55, 0.6)

    x = dsp.filt(x, dsp.highpass1(20.0, sr))
    y = dsp.oversample(clipping, x, sr)
    tone = dsp.lowpass1(500.0 * 16.0 ** k["tone"], sr)           # 500 Hz .. 8 kHz, 2 kHz at noon
    return dsp.filt(y, tone, dsp.highpass1(30.0, sr)) * dsp.db(-22.0 + 24.0 * k["level"])


def _metal(x: np.ndarray, sr: int, k: Mapping[str, float], opt: Mapping[str, Any]) -> np.ndarray:
    """MT-2-style high-gain distortion: two op-amp gain stages (the first into its rails, the
    second into hard diodes to ground), a fixed post-clip mid scoop, then the pedal's EQ:
    low and high shelves +-15 dB and a semi-parametric mid (200 Hz - 5 kHz, +-15 dB)."""
    d = k["dist"]

    def clipping(u: np.ndarray, fs: int) -> np.ndarray:
        u = dsp.filt(u, dsp.highpass1(120.0, fs), dsp.peaking(900.0, 6.0, 0.7, fs))
        u = dsp.soft_clip(dsp.db(-4.0 + 36.0 * d) * u, 1.2)
        u = dsp.filt(u, dsp.highpass1(250.0, fs), dsp.lowpass1(7000.0, fs))
        return dsp.hard_clip(dsp.db(2.0 + 24.0 * d) * u, 0.5)

    y = dsp.oversample(clipping, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    mid_freq = 200.0 * 25.0 ** k["mid_freq"]
    y = dsp.filt(y, dsp.lowpass(6500.0, sr), dsp.peaking(750.0, -7.0, 0.8, sr),
                 dsp.low_shelf(120.0, 30.0 * (k["low"] - 0.5), sr),
                 dsp.peaking(mid_freq, 30.0 * (k["mid"] - 0.5), 0.9, sr),
                 dsp.high_shelf(3500.0, 30.0 * (k["high"] - 0.5), sr))
    return y * dsp.db(-18.0 + 24.0 * k["level"])


def _muff(x: np.ndarray, sr: int, k: Mapping[str, float], opt: Mapping[str, Any]) -> np.ndarray:
    """Big-Muff-style fuzz: input booster, two cascaded transistor clipping stages (diodes in
    feedback, coupling caps between stages, a grid-/base-charge bias shift that makes decays
    sputter), the passive tone stack (a 400 Hz low-pass blended with a 1.1 kHz high-pass, so
    noon scoops the mids) and a recovery stage."""
    pre_gain = dsp.db(12.0 + 30.0 * k["sustain"])

    def stages(u: np.ndarray, fs: int) -> np.ndarray:
        u = dsp.triode(dsp.filt(u, dsp.highpass1(90.0, fs)) * 2.0, 0.1)       # input booster
        for gain in (pre_gain, dsp.db(22.0)):
            v = gain * dsp.filt(u, dsp.highpass1(110.0, fs))
            shift = dsp.one_pole(np.maximum(v, 0.0), 0.03, fs)            # charge on the coupling cap
            u = dsp.filt(dsp.diode_clip(v - 0.15 * shift, 0.5, 0.45), dsp.lowpass1(3200.0, fs))
        return u

    y = dsp.oversample(stages, dsp.filt(x, dsp.highpass1(20.0, sr)), sr)
    tone = k["tone"]
    y = (1.0 - tone) * dsp.filt(y, dsp.lowpass1(400.0, sr)) + tone * dsp.filt(y, dsp.highpass1(1100.0, sr))
    return dsp.filt(y, dsp.highpass1(40.0, sr)) * dsp.db(-14.0 + 24.0 * k["volume"])


def _boost(x: np.ndarray, sr: int, k: Mapping[str, float], opt: Mapping[str, Any]) -> np.ndarray:
    """Clean boost: a discrete (JFET/transistor) gain stage, -6 to +14 dB, with a tilt EQ
    (bass cut / treble lift, a treble booster at the top) and soft, slightly asymmetric
    saturation only when it runs out of headroom."""
    tilt = k["tone"] - 0.5
    gain = dsp.db(-6.0 + 20.0 * k["gain"])
    u = dsp.filt(x, dsp.highpass1(25.0, sr), dsp.low_shelf(250.0, -10.0 * max(tilt, 0.0), sr),
                 dsp.high_shelf(1800.0, 14.0 * tilt, sr)) * gain
    # the output buffer sits 4 dB down, so full gain saturates in the stage, not at the output rails
    return dsp.oversample(lambda v, fs: 1.1 * dsp.triode(v / 1.1, 0.15, cutoff=1.3), u, sr) * dsp.db(-4.0)


def _compressor(x: np.ndarray, sr: int, k: Mapping[str, float], opt: Mapping[str, Any]) -> np.ndarray:
    """Feed-forward compressor with a soft-knee gain computer.

    The detector follows ``|x|`` with the attack/release peak detector of
    :func:`tonezoo._dsp.envelope`. ``detector="vca"`` is an OTA/VCA pedal: fast, one release
    time. ``detector="opto"`` models an optical cell: slower attack and a two-stage release
    (a fast part and a slow part that grows with sustained gain reduction)::

        over = 20 log10(env) - threshold
        gain_dB = -(1 - 1/ratio) * w * log(1 + exp(over / w)) + makeup     (knee width w = 4 dB)
    """
    threshold = -8.0 - 30.0 * k["sustain"]                 # dBFS
    ratio = 2.0 + 10.0 * k["sustain"]
    attack = 0.0005 * 60.0 ** k["attack"]                  # 0.5 ms .. 30 ms
    release = 0.04 * 30.0 ** k["release"]                  # 40 ms .. 1.2 s
    if opt.get("detector", "vca") == "opto":
        fast = dsp.envelope(x, sr, attack=attack + 0.008, release=release * 0.5)
        slow = dsp.envelope(x, sr, attack=attack + 0.05, release=release * 5.0)
        env = 0.6 * fast + 0.4 * slow
    else:
        env = dsp.envelope(x, sr, attack=attack, release=release)
    slope, width = 1.0 - 1.0 / ratio, 4.0

    def reduction(level_db: np.ndarray | float) -> np.ndarray:
        return -slope * width * np.logaddexp(0.0, (np.asarray(level_db) - threshold) / width)

    makeup = -float(reduction(-14.0))                     # a -14 dBFS peak level comes out unchanged
    g = dsp.db(reduction(20.0 * np.log10(np.maximum(env, 1e-6))) + makeup - 10.0 + 20.0 * k["level"])
    y = dsp.soft_clip(x * g, 1.2)                          # the OTA/VCA running out of headroom
    return dsp.filt(y, dsp.lowpass1(9000.0 if opt.get("detector", "vca") == "vca" else 16000.0, sr))


# ----------------------------------------------------------------------------------------------
# Tube amps: coupled triode stages, tone stack, push-pull power amp with sag, cabinet.


@dataclass(frozen=True)
class _AmpSpec:
    """Topology of a tube amp design (see :func:`_amp`)."""

    input_hp: float                                     # Hz: input coupling; high-gain amps cut lows early
    stages: tuple[tuple[float, float, float, float], ...]  # per triode: (gain dB, coupling HP Hz, Miller LP Hz, bias)
    gain_at: int                                        # the gain pot sits before this stage
    gain_db: tuple[float, float]                        # gain pot range, knob 0 -> 1
    stack_at: int                                       # the tone stack follows this stage
    stack: tuple[float, float, float, float]            # bass Hz, mid Hz, treble Hz, the stack's own mid dB
    blocking: float                                     # grid-conduction bias shift per unit of overdrive
    sag: float                                          # supply drop per unit of smoothed current draw
    power_db: tuple[float, float]                       # master range into the power amp, knob 0 -> 1
    out_db: float                                       # output trim (speaker level -> line level)


def _lerp(lo_hi: tuple[float, float], t: float) -> float:
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * t


def _tone_stack(u: np.ndarray, fs: int, spec: _AmpSpec, k: Mapping[str, float]) -> np.ndarray:
    bass_f, mid_f, treble_f, mid_db = spec.stack
    fat = k.get("fat", 0.0)
    return dsp.filt(u, dsp.low_shelf(bass_f, 24.0 * (k["bass"] - 0.5), fs),
                    dsp.peaking(mid_f, mid_db + 20.0 * (k["mid"] - 0.5) + 7.0 * fat, 0.7, fs),
                    dsp.high_shelf(treble_f, 24.0 * (k["treble"] - 0.5), fs)) * dsp.db(3.0 * fat)


def _amp(spec: _AmpSpec, x: np.ndarray, sr: int, k: Mapping[str, float], opt: Mapping[str, Any]) -> np.ndarray:
    """Tube amp: triode stages -> tone stack -> power amp with sag -> cabinet.

    Each stage is a coupling high-pass (DC blocking), a Miller-capacitance low-pass, gain and
    the asymmetric :func:`tonezoo._dsp.triode` curve with polarity inversion, so successive
    stages clip alternate half-waves. Grid current charges the coupling cap, shifting the bias
    for tens of milliseconds after loud notes (``blocking``). The push-pull power amp clips
    symmetrically to a supply that sags with the smoothed current draw::

        supply[n] = 1 / (1 + sag * LP_100ms(|tanh(u)|)[n]),   y = supply * tanh(u / supply)
    """
    def preamp_and_power(u: np.ndarray, fs: int) -> np.ndarray:
        u = dsp.filt(u, dsp.highpass1(spec.input_hp, fs))
        for i, (gain_db, hp, lp, bias) in enumerate(spec.stages):
            if i == spec.gain_at:
                u = u * dsp.db(_lerp(spec.gain_db, k["gain"]))
            v = dsp.db(gain_db) * dsp.filt(u, dsp.highpass1(hp, fs), dsp.lowpass1(lp, fs))
            shift = spec.blocking * dsp.one_pole(np.maximum(v - 0.5, 0.0), 0.04, fs) if spec.blocking else None
            u = -dsp.triode(v, bias, shift=shift)
            if i == spec.stack_at:
                u = _tone_stack(u, fs, spec, k)
        u = dsp.filt(u, dsp.highpass1(30.0, fs)) * dsp.db(_lerp(spec.power_db, k["master"]))
        supply = 1.0 / (1.0 + spec.sag * dsp.one_pole(np.abs(np.tanh(u)), 0.1, fs))
        return supply * np.tanh(u / supply)

    y = dsp.oversample(preamp_and_power, x, sr)
    if opt.get("ir"):
        y = dsp.convolve_ir(y, dsp.load_ir(opt["ir"], sr))
    else:
        y = dsp.cabinet(y, sr, opt.get("cab", "closed-4x12"))
    return y * dsp.db(spec.out_db)


_CLEAN_AMP = _AmpSpec(input_hp=40.0, stages=((4.0, 20.0, 14000.0, 0.3), (12.0, 30.0, 12000.0, 0.3)),
                      gain_at=1, gain_db=(-24.0, 0.0), stack_at=1, stack=(100.0, 450.0, 2500.0, -5.0),
                      blocking=0.0, sag=0.25, power_db=(-14.0, 2.0), out_db=4.0)
_CRUNCH_AMP = _AmpSpec(input_hp=70.0,
                       stages=((8.0, 20.0, 14000.0, 0.3), (14.0, 60.0, 10000.0, 0.4), (10.0, 80.0, 9000.0, 0.35)),
                       gain_at=1, gain_db=(-22.0, 8.0), stack_at=2, stack=(100.0, 650.0, 2200.0, -3.0),
                       blocking=0.3, sag=0.35, power_db=(-10.0, 6.0), out_db=-7.0)
_LEAD_AMP = _AmpSpec(input_hp=180.0,
                     stages=((10.0, 20.0, 12000.0, 0.3), (16.0, 120.0, 9000.0, 0.4), (14.0, 150.0, 8000.0, 0.4),
                             (10.0, 100.0, 7000.0, 0.35)),
                     gain_at=1, gain_db=(-24.0, 10.0), stack_at=3, stack=(90.0, 700.0, 2500.0, -8.0),
                     blocking=0.4, sag=0.3, power_db=(-10.0, 6.0), out_db=-12.0)


# ----------------------------------------------------------------------------------------------
# Built-in designs and presets


def _amp_design(spec: _AmpSpec) -> ProcessFn:
    def process(x: np.ndarray, sr: int, k: Mapping[str, float], opt: Mapping[str, Any]) -> np.ndarray:
        return _amp(spec, x, sr, k, opt)
    return process


_AMP_KNOBS = {"gain": 0.5, "bass": 0.5, "mid": 0.5, "treble": 0.5, "master": 0.5}


def _register_builtins() -> None:
    """Fill the registry with the built-in designs and presets (runs once, at import)."""
    designs = [
        Design("screamer", "overdrive", {"drive": 0.5, "tone": 0.5, "level": 0.5},
               "mid-hump soft clipper: gain above 720 Hz into feedback diodes, added to the dry signal", _screamer),
        Design("metal", "distortion", {"dist": 0.5, "low": 0.5, "high": 0.5, "mid": 0.5, "mid_freq": 0.5,
                                       "level": 0.5},
               "high-gain distortion: two op-amp stages, hard diodes, mid scoop, 3-band EQ with swept mid", _metal),
        Design("muff", "fuzz", {"sustain": 0.6, "tone": 0.5, "volume": 0.5},
               "cascaded two-stage fuzz with sputtering bias shift and a scooped low/high-pass blend tone",
               _muff),
        Design("boost", "boost", {"gain": 0.5, "tone": 0.5},
               "clean boost -6 to +14 dB with tilt EQ and soft headroom saturation", _boost),
        Design("compressor", "compressor", {"sustain": 0.5, "attack": 0.3, "release": 0.4, "level": 0.5},
               "feed-forward compressor: attack/release envelope, soft knee, make-up gain", _compressor,
               {"detector": "vca"}),
        Design("clean-amp", "amp-clean", {**_AMP_KNOBS, "gain": 0.4, "fat": 0.0},
               "Fender-style clean amp: two triodes, scooped stack with fat boost, push-pull with sag, open 1x12",
               _amp_design(_CLEAN_AMP), {"cab": "open-1x12", "ir": None}),
        Design("crunch-amp", "amp-crunch", dict(_AMP_KNOBS),
               "British crunch amp: three triodes with bias shift, mid-forward stack, sag, closed 4x12",
               _amp_design(_CRUNCH_AMP), {"cab": "closed-4x12", "ir": None}),
        Design("lead-amp", "amp-highgain", {**_AMP_KNOBS, "gain": 0.6},
               "high-gain amp: tight input, four cascaded triodes, scooped stack, sag, closed 4x12",
               _amp_design(_LEAD_AMP), {"cab": "closed-4x12", "ir": None}),
    ]
    for design in designs:
        register_design(design)
    presets: list[tuple[str, str, dict[str, float], dict[str, Any], str | None, str]] = [
        ("ts9-like", "screamer", {"drive": 1.0, "tone": 0.5, "level": 0.5}, {}, None,
         "Tube-Screamer-style overdrive at full drive"),
        ("ts-light", "screamer", {"drive": 0.15, "tone": 0.65, "level": 0.6}, {}, None,
         "Tube-Screamer-style overdrive, low drive, brighter (a transparent push)"),
        # dist backed off so its harmonic content matches ts9-like (checked in tests/test_devices.py)
        ("mt2-like", "metal", {"dist": 0.28, "low": 0.6, "high": 0.55, "mid": 0.4}, {}, None,
         "MT-2-style distortion with the dist backed off to the TS9's distortion level"),
        ("metal-scooped", "metal", {"dist": 0.9, "low": 0.75, "high": 0.7, "mid": 0.15, "mid_freq": 0.45}, {}, None,
         "MT-2-style distortion, dist high, deep mid scoop"),
        ("bigmuff-like", "muff", {"sustain": 0.7, "tone": 0.5, "volume": 0.5}, {}, None,
         "Big-Muff-style fuzz, sustain high, tone at noon"),
        ("fuzz-dark", "muff", {"sustain": 0.9, "tone": 0.2, "volume": 0.55}, {}, None,
         "Big-Muff-style fuzz, full sustain, dark tone"),
        ("treble-booster", "boost", {"gain": 0.6, "tone": 1.0}, {}, None,
         "Rangemaster-style treble booster: lows cut, highs lifted"),
        ("dynacomp-like", "compressor", {"sustain": 0.75, "attack": 0.1, "release": 0.35, "level": 0.5},
         {"detector": "vca"}, None, "OTA pedal compressor: fast attack, lots of sustain"),
        ("opto-like", "compressor", {"sustain": 0.5, "attack": 0.5, "release": 0.6, "level": 0.5},
         {"detector": "opto"}, None, "optical leveling compressor: slow attack, program-dependent release"),
        ("bluesjr-like", "clean-amp", {"gain": 1.0, "fat": 1.0, "master": 0.3}, {"trim_db": -8.0}, "amp-crunch",
         "Blues-Junior-style combo with the drive at max and the fat switch on"),
        ("twin-clean", "clean-amp", {"gain": 0.25, "bass": 0.45, "treble": 0.65, "master": 0.7},
         {"cab": "open-2x12"}, None, "big Fender-style clean, sparkly, open 2x12"),
        ("ht40-like", "crunch-amp", {"gain": 0.25, "master": 0.5}, {"cab": "mic-1x12"}, None,
         "British-voiced combo, overdrive channel at 25 % gain, close-mic'd cabinet"),
        ("plexi-crunch", "crunch-amp", {"gain": 0.7, "mid": 0.6, "treble": 0.6, "master": 0.5}, {"trim_db": -4.0},
         None,
         "plexi-style crunch, gain high, mids and treble up"),
        ("5150-like", "lead-amp", {"gain": 0.8, "bass": 0.6, "mid": 0.35, "treble": 0.6}, {}, None,
         "high-gain lead channel, scooped, 4x12"),
        ("lead-amp-tight", "lead-amp", {"gain": 0.45, "bass": 0.4, "mid": 0.6, "treble": 0.55}, {}, None,
         "high-gain amp at moderate gain, mids forward"),
    ]
    for name, design, knobs, options, category, description in presets:
        register_device(name, design, knobs=knobs, options=options, category=category, description=description)


_register_builtins()
