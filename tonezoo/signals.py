"""The standard re-amp signal and synthetic guitar DI.

Two things live here:

* :func:`synth_di` - realistic guitar-like DI performances (strummed and picked chords, single
  note lines, palm-muted riffs, dynamics and rests) from a plucked-string model, deterministic per
  seed, at any length and sample rate. It feeds the virtual devices, the demo, the default zoo and
  the tests when no real DI is at hand.
* :func:`capture_signal` - the *standard re-amp signal*: what a user plays through a real device.
  It opens with a sync marker, then sine sweeps and noise bursts at several levels, then guitar
  phrases, and ends with a validation section announced by a second marker. :func:`signal_layout`
  gives its sections in samples and :func:`find_sync_marker` finds either marker in a recording
  (a matched filter), which :func:`tonezoo.capture.load_capture` uses to align the two files and to
  set the validation split. ``docs/capture-signal.md`` documents the layout.

The string model is Karplus-Strong evaluated in the frequency domain: a note is an excitation
(the pick) fed through a delay loop whose loop gain sets the decay time of every frequency::

    H(f) = 1 / (1 - g(f) exp(-j phi(f)))
    g(f) = 10 ** (-3 * D / (sr * T60(f)))        # -60 dB after T60(f) seconds
    phi(f) = 2 pi f D(f) / sr,  D(f) = (sr / f0) / sqrt(1 + B (f / f0) ** 2)   # B: stiffness

so the k-th partial sits at ``k f0 sqrt(1 + B k^2)``. One FFT per note replaces a per-sample loop;
an exponential window (evaluate at ``z / a``, undo with ``a ** -n``) keeps the infinitely ringing
loop from wrapping around the FFT. Pick position and pickup position are feed-forward combs on the
excitation; a resonant pickup low-pass and a small body resonance shape the whole performance.

An impulse through the loop gives every partial the same amplitude; a plucked string's displacement
partials fall as ``sin(k pi beta) / k**2`` (``beta``: the pick's place along the string) and a
magnetic pickup senses velocity, one factor ``k`` back, so a DI's partials fall about as ``1 / k``
above the fundamental (N. H. Fletcher and T. D. Rossing, *The Physics of Musical Instruments*,
2nd ed., 1998, sections 2.7 and 9.2). A first-order low-pass on the excitation at ``rolloff * f0``
gives that slope; ``rolloff`` is drawn per performance (0.3-3, log-uniform: darker and brighter
instruments, pickups and tone-knob settings). Without it the synthetic DI had under 1 % of its
power below 120 Hz and a spectral centroid near 800 Hz, where real DI recordings have 2-16 % and
260-980 Hz, and models trained on it played real DI much worse than synthetic (see docs/devices.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.fft
import scipy.signal

from .errors import CaptureError

__all__ = [
    "Section",
    "capture_signal",
    "signal_layout",
    "find_sync_marker",
    "marker_template",
    "synth_di",
    "DEFAULT_SECONDS",
    "MIN_SECONDS",
    "MAX_SECONDS",
    "MARKER_THRESHOLD",
]

DEFAULT_SECONDS = 120.0
MIN_SECONDS = 10.0
MAX_SECONDS = 3600.0
"""Longest standard signal (an hour: far more than any re-amp session needs; the bound keeps a typo
from asking for terabytes)."""
MARKER_THRESHOLD = 0.35
"""Normalised matched-filter score above which a sync marker counts as found."""

_OPEN_STRINGS = np.array([40, 45, 50, 55, 59, 64])  # MIDI: E2 A2 D3 G3 B3 E4
_MAX_FRET = 17
_ROLLOFF = (0.3, 3.0)
"""Range of a performance's partial roll-off corner, in multiples of each note's f0 (log-uniform)."""


class Section(NamedTuple):
    """One section of the standard re-amp signal, in samples: ``audio[start:stop]``."""

    name: str
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


# --------------------------------------------------------------------------------------------
# plucked-string synthesis
# --------------------------------------------------------------------------------------------

class _Note(NamedTuple):
    onset: float      # seconds
    midi: float       # pitch
    velocity: float   # 0..1
    hold: float       # seconds until the string is damped
    mute: bool        # palm mute
    string: int       # 0 (low E) .. 5 (high E)


def _pluck(note: _Note, sample_rate: int, rng: np.random.Generator, rolloff: float = 1.0) -> np.ndarray:
    """Render one plucked note, shape (n,) float64, peak near ``velocity``.

    ``rolloff``: the partials fall at 6 dB per octave above ``rolloff * f0`` (a first-order
    low-pass on the excitation), as the velocity a magnetic pickup senses does on a plucked string.
    """
    sr = sample_rate
    f0 = 440.0 * 2.0 ** ((note.midi - 69.0) / 12.0)
    release = 0.012 if note.mute else rng.uniform(0.03, 0.09)
    n = int(np.ceil((note.hold + 6 * release) * sr)) + 64
    # half again as long: the fractional delays' sinc tails run backwards in time and must wrap
    # into the discarded half, not onto the note
    nfft = scipy.fft.next_fast_len(int(1.5 * n), real=True)
    f_lo, f_hi = min(9000.0, 0.35 * sr), min(15000.0, 0.5 * sr)   # band limit: short sinc tails
    f = np.fft.rfftfreq(nfft, 1.0 / sr)
    f = f[f < f_hi]                                                 # nothing above f_hi is computed

    # decay times: low partials ring, highs die fast; palm mutes kill everything quickly
    if note.mute:
        t60 = rng.uniform(0.12, 0.3) / (1.0 + (f / 700.0) ** 2)
    else:
        t60_low = rng.uniform(2.5, 5.0) * (82.0 / f0) ** 0.35
        t60 = t60_low / (1.0 + (f / rng.uniform(2500.0, 4000.0)) ** 2)
    t60 = np.maximum(t60, 0.004)
    stiffness = 1e-4 * (f0 / 82.0) ** 0.5
    period = sr / f0
    delay = period / np.sqrt(1.0 + stiffness * (f / f0) ** 2)           # dispersive loop delay

    # excitation: a short pick pulse, harder (shorter) for louder notes, plus a little pick noise,
    # through the pick-position and pickup-position combs (reflections along the string)
    width = max(2, int(sr * (0.0012 - 0.0008 * note.velocity) * (1.8 if note.mute else 1.0)))
    pulse = np.hanning(width + 2)[1:-1]
    pulse = pulse / pulse.sum() + rng.standard_normal(width) * np.hanning(width) * 0.15 / pulse.sum()
    pick = int(round((rng.uniform(0.05, 0.1) if note.mute else rng.uniform(0.08, 0.22)) * period))
    pickup = int(round(0.18 * period))
    excitation = np.zeros(width + pick + pickup + 1)
    excitation[:width] += pulse
    excitation[pick: pick + width] -= pulse
    excitation[pickup:] -= 0.85 * excitation[: excitation.size - pickup].copy()

    # exponential window a**n: the ringing loop must decay below -100 dB within the FFT length.
    # On the radius-a circle z**-d = exp(-d * s) with s = -log(a) + j w (w: radians per sample);
    # the loop gain 10**(-3 d / (sr T60)) joins the same exponent.
    log_a = np.log(1e-5) / nfft
    s = (-log_a + 3.0 * np.log(10.0) / (sr * t60)) + 2j * np.pi * f / sr
    e = scipy.fft.rfft(excitation * np.exp(log_a * np.arange(excitation.size)), nfft)[: f.size]
    e = e / (1.0 + 1j * f / (rolloff * f0))
    taper = 0.5 + 0.5 * np.cos(np.pi * np.clip((f - f_lo) / (f_hi - f_lo), 0.0, 1.0))
    spectrum = np.zeros(nfft // 2 + 1, dtype=complex)
    spectrum[: f.size] = e * taper / (1.0 - np.exp(-s * delay))

    # undo the window; damping: the finger lifts (or the palm stays) after ``hold`` seconds
    t = np.arange(n) / sr
    y = scipy.fft.irfft(spectrum, nfft)[:n] * np.exp(-log_a * np.arange(n) - np.maximum(t - note.hold, 0.0) / release)
    peak = np.max(np.abs(y))
    return y * (note.velocity / peak) if peak > 0 else y


def _fret_position(midi: int, rng: np.random.Generator, low: int = 0, high: int = 5) -> tuple[int, int] | None:
    """A (string, fret) that plays ``midi``, preferring strings in [low, high]."""
    frets = midi - _OPEN_STRINGS
    ok = np.flatnonzero((frets >= 0) & (frets <= _MAX_FRET))
    ok = ok[(ok >= low) & (ok <= high)] if np.any((ok >= low) & (ok <= high)) else ok
    if ok.size == 0:
        return None
    s = int(rng.choice(ok))
    return s, int(frets[s])


# chord shapes as frets per string (low E..high E), -1 = not played; moved along the neck
_OPEN_CHORDS = [
    (0, 2, 2, 1, 0, 0),      # E
    (0, 2, 2, 0, 0, 0),      # Em
    (-1, 0, 2, 2, 2, 0),     # A
    (-1, 0, 2, 2, 1, 0),     # Am
    (-1, -1, 0, 2, 3, 2),    # D
    (3, 2, 0, 0, 0, 3),      # G
    (-1, 3, 2, 0, 1, 0),     # C
]
_BARRE_SHAPES = [
    (0, 2, 2, 1, 0, 0),      # E-shape major
    (0, 2, 2, 0, 0, 0),      # E-shape minor
    (-1, 0, 2, 2, 2, 0),     # A-shape major
]
_PENTATONIC = np.array([0, 3, 5, 7, 10])


def _chord_frets(rng: np.random.Generator, kind: str) -> np.ndarray:
    """Frets for a chord voicing, shape (6,), -1 = string not played."""
    if kind == "open":
        return np.array(_OPEN_CHORDS[rng.integers(len(_OPEN_CHORDS))])
    if kind == "power":
        root_string = int(rng.integers(0, 2))
        fret = int(rng.integers(0, 10))
        frets = -np.ones(6, dtype=int)
        frets[root_string: root_string + 2] = (fret, fret + 2)
        if rng.random() < 0.5:
            frets[root_string + 2] = fret + 2
        return frets
    shape = np.array(_BARRE_SHAPES[rng.integers(len(_BARRE_SHAPES))])
    fret = int(rng.integers(1, 10))
    return np.where(shape >= 0, shape + fret, -1)


def _strum(t: float, frets: np.ndarray, velocity: float, hold: float, mute: bool, up: bool,
           rng: np.random.Generator) -> list[_Note]:
    strings = np.flatnonzero(frets >= 0)
    if up:
        strings = strings[::-1][: int(rng.integers(3, strings.size + 1))]
    spread = rng.uniform(0.004, 0.012 if mute else 0.025)
    notes = []
    for i, s in enumerate(strings):
        v = velocity * rng.uniform(0.75, 1.0) * (0.8 if up else 1.0)
        notes.append(_Note(t + i * spread, float(_OPEN_STRINGS[s] + frets[s]), v, hold, mute, int(s)))
    return notes


def _phrase(kind: str, t0: float, seconds: float, rng: np.random.Generator) -> list[_Note]:
    """Note events of one phrase of the given kind, starting at ``t0``, about ``seconds`` long."""
    bpm = rng.uniform(75.0, 160.0)
    beat = 60.0 / bpm
    base = rng.uniform(0.35, 1.0)                 # phrase dynamics
    swell = rng.uniform(-0.5, 0.5)                # crescendo / diminuendo over the phrase
    notes: list[_Note] = []
    t = t0
    end = t0 + seconds

    def level(time: float) -> float:
        return float(np.clip(base * (1.0 + swell * (time - t0) / seconds), 0.08, 1.0))

    if kind == "strum":
        frets = _chord_frets(rng, rng.choice(["open", "barre"]))
        step = beat / 2
        i = 0
        while t < end:
            if i % 4 == 0 and rng.random() < 0.3:
                frets = _chord_frets(rng, rng.choice(["open", "barre"]))
            if rng.random() < 0.85:
                up = i % 2 == 1
                accent = 1.0 if i % 4 == 0 else 0.8
                notes += _strum(t, frets, level(t) * accent, rng.uniform(0.6, 2.5) * beat, False, up, rng)
            t += step
            i += 1
    elif kind == "riff":
        frets = _chord_frets(rng, "power")
        step = beat / (4 if bpm < 120 else 2)
        i = 0
        while t < end:
            if i % 8 == 0 and rng.random() < 0.5:
                frets = _chord_frets(rng, "power")
            accent = rng.random() < 0.2
            if rng.random() < 0.9:
                if accent:
                    notes += _strum(t, frets, level(t), rng.uniform(1.0, 3.0) * step, False, False, rng)
                else:
                    chug = frets.copy()                       # palm-muted chug: root (+ fifth)
                    chug[np.flatnonzero(chug >= 0)[1 if rng.random() < 0.4 else 2:]] = -1
                    notes += _strum(t, chug, level(t) * 0.8, step * 0.9, True, False, rng)
            t += step
            i += 1
    elif kind == "lead":
        root = int(rng.integers(45, 57))
        scale = (root + _PENTATONIC[None, :] + 12 * np.arange(3)[:, None]).ravel()
        idx = int(rng.integers(3, 8))
        while t < end:
            dur = beat * float(rng.choice([0.25, 0.5, 0.5, 1.0, 1.5, 2.0]))
            if rng.random() < 0.88:
                idx = int(np.clip(idx + rng.choice([-2, -1, -1, 1, 1, 2, 3]), 0, scale.size - 1))
                pos = _fret_position(int(scale[idx]), rng, 2, 5)
                if pos is not None:
                    s, fret = pos
                    hold = dur * rng.uniform(0.7, 1.6)
                    mute = rng.random() < 0.1
                    notes.append(_Note(t, float(_OPEN_STRINGS[s] + fret), level(t) * rng.uniform(0.7, 1.0),
                                       hold, mute, s))
            t += dur
    else:  # arpeggio: chord tones one at a time, let ring
        frets = _chord_frets(rng, rng.choice(["open", "barre"]))
        step = beat / 2
        while t < end:
            strings = np.flatnonzero(frets >= 0)
            order = np.concatenate([strings, strings[-2:0:-1]])
            for s in order:
                if t >= end:
                    break
                notes.append(_Note(t, float(_OPEN_STRINGS[s] + frets[s]), level(t) * rng.uniform(0.6, 1.0),
                                   rng.uniform(2.0, 6.0) * step, False, int(s)))
                t += step
            frets = _chord_frets(rng, rng.choice(["open", "barre"]))
    return [n for n in notes if n.onset < end]


def _performance(seconds: float, rng: np.random.Generator) -> list[_Note]:
    """Phrases of every kind separated by rests, filling ``seconds``."""
    kinds = ["strum", "riff", "lead", "arpeggio"]
    notes: list[_Note] = []
    t = rng.uniform(0.0, min(0.2, 0.25 * seconds))
    order = list(rng.permutation(kinds))
    while t < seconds:
        if not order:
            order = list(rng.permutation(kinds))
        kind = order.pop()
        length = rng.uniform(2.0, 6.0)
        notes += _phrase(kind, t, length, rng)
        t += length + rng.uniform(0.1, 0.8)        # rest
    if not any(n.onset < seconds for n in notes):  # very short: at least one strummed chord
        notes = _strum(0.0, _chord_frets(rng, "open"), 0.8, seconds, False, False, rng)
    # a string sounds one note at a time: a new note on a string damps the previous one
    notes.sort(key=lambda n: n.onset)
    last: dict[int, int] = {}
    for i, n in enumerate(notes):
        j = last.get(n.string)
        if j is not None and notes[j].onset + notes[j].hold > n.onset:
            notes[j] = notes[j]._replace(hold=max(n.onset - notes[j].onset, 0.005))
        last[n.string] = i
    return [n for n in notes if n.onset < seconds]


def _pickup_filter(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Pickup resonance (loaded coil: a resonant 2nd-order low-pass), body bump and DC block."""
    sr = sample_rate
    f_res = min(rng.uniform(2800.0, 4500.0), 0.4 * sr)
    sos = [scipy.signal.butter(1, 40.0, "highpass", fs=sr, output="sos")[0]]
    b, a = _biquad_lowpass(f_res, rng.uniform(1.2, 2.2), sr)
    sos.append(np.concatenate([b, a]))
    b, a = _biquad_peak(rng.uniform(90.0, 160.0), 1.5, rng.uniform(1.5, 3.5), sr)
    sos.append(np.concatenate([b, a]))
    return scipy.signal.sosfilt(np.array(sos), audio)


def _biquad_lowpass(f: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    w = 2 * np.pi * f / sr
    alpha = np.sin(w) / (2 * q)
    b = np.array([(1 - np.cos(w)) / 2, 1 - np.cos(w), (1 - np.cos(w)) / 2])
    a = np.array([1 + alpha, -2 * np.cos(w), 1 - alpha])
    return b / a[0], a / a[0]


def _biquad_peak(f: float, q: float, gain_db: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    w = 2 * np.pi * f / sr
    big_a = 10 ** (gain_db / 40)
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * big_a, -2 * np.cos(w), 1 - alpha * big_a])
    a = np.array([1 + alpha / big_a, -2 * np.cos(w), 1 - alpha / big_a])
    return b / a[0], a / a[0]


def synth_di(seconds: float, sample_rate: int = 44100, *, seed: int = 0, peak: float = 0.7,
             noise_db: float = -90.0) -> np.ndarray:
    """A synthetic guitar DI performance.

    Strummed open and barre chords, palm-muted power-chord riffs, single-note pentatonic lines and
    arpeggios, with phrase dynamics (crescendi, accents) and rests between phrases, from the
    plucked-string model described in the module docstring.

    Parameters
    ----------
    seconds : float > 0
        Length of the performance.
    sample_rate : int >= 16000
        Sample rate in Hz (44100 and 48000 are typical).
    seed : int
        The same seed, length and rate give the same audio, bit for bit.
    peak : float in (0, 1)
        Peak absolute value of the result.
    noise_db : float
        Level of the pickup/interface hiss added underneath, in dBFS RMS (``-inf`` for none).

    Returns
    -------
    np.ndarray [shape=(round(seconds * sample_rate),), dtype=float32]

    Examples
    --------
    >>> di = synth_di(2.0, 48000, seed=3)
    >>> di.shape, di.dtype
    ((96000,), dtype('float32'))
    """
    if not seconds > 0:
        raise ValueError(f"synth_di needs seconds > 0, got {seconds}")
    if sample_rate < 16000:
        raise ValueError(f"synth_di needs sample_rate >= 16000 Hz, got {sample_rate}")
    if not 0 < peak < 1:
        raise ValueError(f"synth_di needs 0 < peak < 1, got {peak}")
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    out = np.zeros(n + 1)
    # the instrument's brightness (pickup, strings, tone knob): where the partials start to fall
    rolloff = float(np.exp(rng.uniform(np.log(_ROLLOFF[0]), np.log(_ROLLOFF[1]))))
    for note in _performance(seconds, rng):
        start = int(round(note.onset * sample_rate))
        y = _pluck(note, sample_rate, rng, rolloff)[: n - start]
        out[start: start + y.size] += y
    out = _pickup_filter(out[:n], sample_rate, rng)
    out *= peak / max(np.max(np.abs(out)), 1e-12)
    if np.isfinite(noise_db):
        out += rng.standard_normal(n) * 10 ** (noise_db / 20)
        out *= peak / np.max(np.abs(out))
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------
# the standard re-amp signal
# --------------------------------------------------------------------------------------------

MARKER_SECONDS = 1.0
_CHIRP_SECONDS = 0.08
_MARKERS = {
    # chirp onsets (seconds) and sweep direction: an irregular pattern has one clear match
    "start": ((0.0, 0.23, 0.53), "up"),
    "validation": ((0.0, 0.31, 0.47), "down"),
}
_SWEEP_LEVELS_DB = {"low": -24.0, "mid": -12.0, "high": -3.0}   # peak, dBFS
_NOISE_LEVELS_DB = {"low": -36.0, "mid": -24.0, "high": -15.0}  # RMS, dBFS
_HEAD_SECONDS = {"lead-in": 0.5, "sync-marker": MARKER_SECONDS, "silence": 0.5}
_SWEEP_SECONDS = 4.0      # each, at the default length; shorter signals scale these down
_NOISE_SECONDS = 2.0


def marker_template(sample_rate: int, which: str = "start") -> np.ndarray:
    """The sync marker: three 80 ms chirps in an irregular rhythm, shape (m,) float64.

    ``which="start"`` (rising chirps) opens the standard signal; ``which="validation"`` (falling
    chirps, another rhythm) announces its validation section. The two barely correlate.
    """
    if which not in _MARKERS:
        raise ValueError(f"marker must be one of {sorted(_MARKERS)}, got {which!r}")
    onsets, direction = _MARKERS[which]
    n_chirp = int(round(_CHIRP_SECONDS * sample_rate))
    t = np.arange(n_chirp) / sample_rate
    f_lo, f_hi = 150.0, min(6000.0, 0.4 * sample_rate)
    f0, f1 = (f_lo, f_hi) if direction == "up" else (f_hi, f_lo)
    chirp = scipy.signal.chirp(t, f0, _CHIRP_SECONDS, f1, method="logarithmic")
    chirp *= scipy.signal.windows.tukey(n_chirp, 0.2) * 0.5
    out = np.zeros(int(round(onsets[-1] * sample_rate)) + n_chirp)
    for onset in onsets:
        start = int(round(onset * sample_rate))
        out[start: start + n_chirp] += chirp
    return out


def _section_seconds(seconds: float) -> list[tuple[str, float]]:
    scale = min(1.0, seconds / DEFAULT_SECONDS)
    parts = list(_HEAD_SECONDS.items())
    parts += [(f"sweep-{level}", _SWEEP_SECONDS * scale) for level in _SWEEP_LEVELS_DB]
    parts += [(f"noise-{level}", _NOISE_SECONDS * scale) for level in _NOISE_LEVELS_DB]
    validation = min(seconds / 6.0, 30.0)
    phrases = seconds - sum(p[1] for p in parts) - MARKER_SECONDS - validation
    parts += [("phrases", phrases), ("validation-marker", MARKER_SECONDS), ("validation", validation)]
    return parts


def signal_layout(sample_rate: int = 44100, seconds: float | None = None) -> list[Section]:
    """Sections of the standard re-amp signal, in samples.

    Parameters
    ----------
    sample_rate : int >= 16000
    seconds : float in [MIN_SECONDS, MAX_SECONDS], optional
        Total length; default :data:`DEFAULT_SECONDS` (120 s). Below 120 s the sweeps and noise
        bursts shrink in proportion; above it only the phrases grow. The validation section is a
        sixth of the total, at most 30 s.

    Returns
    -------
    list of Section
        ``lead-in``, ``sync-marker``, ``silence``, ``sweep-low|mid|high``, ``noise-low|mid|high``,
        ``phrases``, ``validation-marker``, ``validation``; contiguous, the last ending at
        ``round(seconds * sample_rate)``.

    Examples
    --------
    >>> [s.name for s in signal_layout()][:3]
    ['lead-in', 'sync-marker', 'silence']
    """
    seconds = DEFAULT_SECONDS if seconds is None else float(seconds)
    if not seconds >= MIN_SECONDS:
        raise CaptureError(
            f"the standard re-amp signal needs at least {MIN_SECONDS:g} s, got {seconds:g} s: "
            f"ask for a longer signal (the default is {DEFAULT_SECONDS:g} s)")
    if seconds > MAX_SECONDS:
        raise CaptureError(f"the standard re-amp signal is at most {MAX_SECONDS:g} s long, got {seconds:g} s "
                           f"(the default is {DEFAULT_SECONDS:g} s)")
    if sample_rate < 16000:
        raise CaptureError(f"the standard re-amp signal needs a sample rate >= 16000 Hz, got {sample_rate}")
    sections = []
    edge = 0.0
    for name, length in _section_seconds(seconds):
        start = int(round(edge * sample_rate))
        edge += length
        sections.append(Section(name, start, int(round(edge * sample_rate))))
    return sections


def _fade(audio: np.ndarray, sample_rate: int, seconds: float = 0.01) -> np.ndarray:
    n = min(int(seconds * sample_rate), audio.size // 2)
    if n > 0:
        ramp = np.sin(0.5 * np.pi * np.arange(n) / n) ** 2
        audio[:n] *= ramp
        audio[audio.size - n:] *= ramp[::-1]
    return audio


def _sweep(n: int, sample_rate: int, peak_db: float) -> np.ndarray:
    """Log sine sweep 20 Hz -> min(20 kHz, 0.45 sr) over 90 % of n samples, then silence."""
    m = int(0.9 * n)
    t = np.arange(m) / sample_rate
    sweep = scipy.signal.chirp(t, 20.0, t[-1], min(20000.0, 0.45 * sample_rate), method="logarithmic")
    out = np.zeros(n)
    out[:m] = _fade(sweep * 10 ** (peak_db / 20), sample_rate, 0.05)
    return out


def _noise_burst(n: int, sample_rate: int, rms_db: float, rng: np.random.Generator) -> np.ndarray:
    """Pink-ish noise band-limited to 60 Hz - 8 kHz (a guitar's range), 90 % of n, then silence."""
    m = int(0.9 * n)
    spectrum = np.fft.rfft(rng.standard_normal(m))
    f = np.fft.rfftfreq(m, 1.0 / sample_rate)
    shape = 1.0 / np.sqrt(np.maximum(f, 60.0))
    shape *= 1.0 / (1.0 + (f / min(8000.0, 0.4 * sample_rate)) ** 4) * (f >= 60.0)
    noise = np.fft.irfft(spectrum * shape, m)
    noise *= 10 ** (rms_db / 20) / np.sqrt(np.mean(noise ** 2))
    out = np.zeros(n)
    out[:m] = _fade(np.clip(noise, -0.95, 0.95), sample_rate)
    return out


def capture_signal(sample_rate: int = 44100, seconds: float | None = None, *, seed: int = 0) -> np.ndarray:
    """The standard re-amp signal: play it through a device and record what comes out.

    Parameters
    ----------
    sample_rate : int >= 16000
        44100 or 48000 in practice; record at the same rate.
    seconds : float in [MIN_SECONDS, MAX_SECONDS], optional
        Total length, default 120 s (see :func:`signal_layout`).
    seed : int
        Seeds the guitar phrases and the noise bursts.

    Returns
    -------
    np.ndarray [shape=(round(seconds * sample_rate),), dtype=float32]
        Peak below 0.75 (-2.5 dBFS).

    Examples
    --------
    >>> x = capture_signal(48000, 30.0)
    >>> find_sync_marker(x, 48000)
    24000
    """
    layout = signal_layout(sample_rate, seconds)
    rng = np.random.default_rng(seed)
    out = np.zeros(layout[-1].stop)
    for section in layout:
        n = section.length
        name = section.name
        if name == "sync-marker":
            piece = marker_template(sample_rate, "start")
        elif name == "validation-marker":
            piece = marker_template(sample_rate, "validation")
        elif name.startswith("sweep-"):
            piece = _sweep(n, sample_rate, _SWEEP_LEVELS_DB[name.split("-")[1]])
        elif name.startswith("noise-"):
            piece = _noise_burst(n, sample_rate, _NOISE_LEVELS_DB[name.split("-")[1]], rng)
        elif name == "phrases":
            piece = _fade(synth_di(n / sample_rate, sample_rate, seed=seed).astype(np.float64), sample_rate)
        elif name == "validation":
            piece = _fade(synth_di(n / sample_rate, sample_rate, seed=seed + 7919).astype(np.float64), sample_rate)
        else:
            continue
        out[section.start: section.start + min(n, piece.size)] = piece[:n]
    return out.astype(np.float32)


def find_sync_marker(audio: np.ndarray, sample_rate: int, *, which: str = "start",
                     threshold: float = MARKER_THRESHOLD, search: tuple[int, int] | None = None) -> int | None:
    """Find the standard signal's sync marker in a recording (a normalised matched filter).

    The score at lag k is ``|sum_i a[k+i] t[i]| / (||t|| ||a[k:k+m]||)`` for the marker template
    ``t`` of m samples: 1 for an exact copy at any level or polarity, still high after the
    filtering and saturation of a pedal or amp, low for music and noise.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)]
        The input or the recorded output.
    sample_rate : int
        Its sample rate.
    which : {"start", "validation"}
        The opening marker or the one announcing the validation section.
    threshold : float in (0, 1)
        Minimum score to accept.
    search : (int, int), optional
        Look only for a marker starting in ``audio[search[0]:search[1]]`` (faster on long files).

    Returns
    -------
    int or None
        Sample index where the marker starts (its first chirp; through a device, the device's
        delay is included), or None if no part of the audio scores above ``threshold``.

    Examples
    --------
    >>> x = capture_signal(44100, 20.0)
    >>> delayed = np.concatenate([np.zeros(137, np.float32), -x])
    >>> find_sync_marker(delayed, 44100) - find_sync_marker(x, 44100)
    137
    """
    template = marker_template(sample_rate, which)
    a = np.asarray(audio, dtype=np.float64).reshape(-1)
    m = template.size
    offset = 0
    if search is not None:
        offset = max(0, int(search[0]))
        a = a[offset: max(offset, int(search[1])) + m - 1]
    if a.size < m:
        return None
    corr = scipy.signal.oaconvolve(a, template[::-1], mode="valid")
    energy = np.concatenate([[0.0], np.cumsum(a * a)])
    window = np.maximum(energy[m:] - energy[:-m], 0.0)
    # windows 30 dB below the loudest one (silence, ring-outs) cannot fake a match by their
    # tiny energy: the floor keeps their score near zero
    floor = 1e-3 * np.max(window) + 1e-12
    score = np.abs(corr) / (np.linalg.norm(template) * np.sqrt(window + floor))
    k = int(np.argmax(score))
    return offset + k if score[k] >= threshold else None
