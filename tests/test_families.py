"""Device families: seeded draws, every family renders sane audio, categories differ measurably."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from tonezoo.devices import CATEGORIES, render
from tonezoo.errors import ConfigError
from tonezoo.families import FAMILIES, HELD_OUT_FAMILIES, LEVEL_RANGE_DB, draw, draw_many, list_families
from tonezoo.signals import synth_di

SR = 44100


@pytest.fixture(scope="module")
def di() -> np.ndarray:
    return synth_di(1.5, SR, seed=11, peak=0.5)


@pytest.fixture(scope="module")
def renders(di: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    out = {}
    for fam in FAMILIES:
        for seed in (0, 1):
            dev = draw(fam.category, fam.name, seed)
            out[dev.name] = (fam.category, render(dev, di, SR).astype(np.float64))
    return out


def _nonlinear_fraction(x: np.ndarray, y: np.ndarray) -> float:
    _, coh = ss.coherence(x, y, SR, nperseg=2048)
    _, pyy = ss.welch(y, SR, nperseg=2048)
    return float(1.0 - np.sum(coh * pyy) / np.sum(pyy))


def _hf_share(y: np.ndarray) -> float:
    f, p = ss.welch(y, SR, nperseg=2048)
    return float(p[f > 6000].sum() / p.sum())


def test_structure() -> None:
    assert {f.category for f in FAMILIES} == set(CATEGORIES)
    for cat in CATEGORIES:
        fams = list_families(cat)
        assert len(fams) >= 3
        held = list_families(cat, held_out=True)
        assert len(held) == 1 and held[0].base is None        # a whole generator of its own is held out
        assert len(list_families(cat, held_out=False)) == len(fams) - 1
    assert len(set(HELD_OUT_FAMILIES)) == len(CATEGORIES)
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)
    # the random-chain families train the classifier only: never the zoo's, never held out
    chains = [f for f in list_families(zoo_only=False) if not f.zoo]
    assert {f.category for f in chains} == set(CATEGORIES) and not set(HELD_OUT_FAMILIES) & {f.name for f in chains}
    assert all(f.zoo for f in list_families()) and all(f.zoo for f in list_families(held_out=False))


def test_draw_is_deterministic_by_seed(di: np.ndarray) -> None:
    a, b, c = draw("fuzz", "fuzz-face", 4), draw("fuzz", "fuzz-face", 4), draw("fuzz", "fuzz-face", 5)
    assert a == b and a.options == b.options
    assert a.options != c.options
    ya, yb, yc = (render(d, di, SR) for d in (a, b, c))
    np.testing.assert_array_equal(ya, yb)
    assert np.max(np.abs(ya - yc)) > 1e-3
    bench = draw("amp-crunch", "bench-crunch-amp", 2)
    assert bench.design == "crunch-amp" and bench.knobs == draw("amp-crunch", "bench-crunch-amp", 2).knobs


def test_draw_many_covers_training_families_only() -> None:
    devs = draw_many(1, categories=("boost", "compressor"))
    assert [d.name for d in devs] == ["bench-boost-s0", "boost-clean-s0", "boost-treble-s0",
                                      "bench-compressor-s0", "comp-vca-s0", "comp-opto-s0"]
    held = draw_many(1, held_out=True)
    assert sorted(d.name.rsplit("-s", 1)[0] for d in held) == sorted(HELD_OUT_FAMILIES)


def test_bad_draws_raise() -> None:
    with pytest.raises(ConfigError, match="unknown family"):
        draw("fuzz", "fuzz-nope", 0)
    with pytest.raises(ConfigError, match="category 'fuzz'"):
        draw("boost", "fuzz-face", 0)
    with pytest.raises(ConfigError, match="seed"):
        draw("fuzz", "fuzz-face", -1)
    with pytest.raises(ConfigError, match="unknown category"):
        list_families("synth")


def test_every_family_renders_finite_audio_at_level(renders, di: np.ndarray) -> None:
    lo, hi = LEVEL_RANGE_DB
    for name, (_, y) in renders.items():
        assert y.shape == di.shape, name
        assert np.all(np.isfinite(y)), name
        assert np.max(np.abs(y)) < 1.0, name
        rms_db = 10 * np.log10(np.mean(y ** 2))
        assert lo - 8.0 < rms_db < hi + 6.0, (name, rms_db)


def test_categories_differ_measurably(renders, di: np.ndarray) -> None:
    x = di.astype(np.float64)
    nl = {c: [] for c in CATEGORIES}
    hf = {c: [] for c in CATEGORIES}
    for cat, y in renders.values():
        nl[cat].append(_nonlinear_fraction(x, y))
        hf[cat].append(_hf_share(y))
    med = {c: float(np.median(v)) for c, v in nl.items()}
    # clean devices add little the input does not explain; drives, fuzzes and high-gain amps add a lot
    for clean in ("boost", "compressor", "amp-clean"):
        for dirty in ("distortion", "fuzz", "amp-highgain"):
            assert med[clean] < med[dirty], (clean, dirty, med)
    assert med["overdrive"] < med["fuzz"]
    # a cabinet rolls off the top: amps keep less above 6 kHz than distortion pedals
    for amp in ("amp-clean", "amp-crunch", "amp-highgain"):
        assert np.median(hf[amp]) < np.median(hf["distortion"]), (amp, hf)
