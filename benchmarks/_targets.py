"""Held-out targets shared by the classifier and selection benchmarks.

* **Real fixtures**: third-party captures of real pedals and amps (``../shared/fixtures/models``:
  NeuralPi/Proteus/TS-M1N3 LSTMs, AIDA-X LSTMs, a NAM WaveNet), played on the real DI recordings
  in ``../shared/fixtures/di``. Their category is evident from the file name (a TS9 is an
  overdrive, a ProCo RAT a distortion, a Princeton a clean amp); the table below says which, and
  where a name allows two (a Fender Blues Deluxe is a clean amp that breaks up) both are accepted.
  None of them is in the default zoo or in the classifier's training.
* **Held-out families**: draws of :data:`tonezoo.families.HELD_OUT_FAMILIES`, generators never
  used for the zoo or the classifier.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"

# (file under models/, accepted categories) -- knob inputs are held at 0.5
REAL_MODELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("agam/neuralpi_ts9_fulld.json", ("overdrive",)),
    ("agam/neuralpi_ts9_cond.json", ("overdrive",)),
    ("agam/proteus_ts9_driveknob.json", ("overdrive",)),
    ("agam/tsm1n3_ts9_cond2.json", ("overdrive",)),
    ("agam/neuralpi_mt2_highgain.json", ("distortion",)),
    ("agam/neuralpi_procorat.json", ("distortion",)),
    ("agam/neuralpi_littlebigmuff.json", ("fuzz",)),
    ("agam/neuralpi_xotic_compsp.json", ("compressor",)),
    ("agam/neuralpi_princeton_clean.json", ("amp-clean",)),
    ("agam/neuralpi_bluesjr.json", ("amp-clean", "amp-crunch")),
    ("agam/neuralpi_ht40_overdrive.json", ("amp-crunch",)),
    ("agam/proteus_ht40_gainknob_sm57.json", ("amp-crunch",)),
    ("agam/neuralpi_soldano_crunch.json", ("amp-crunch",)),
    ("agam/neuralpi_mesamk2b_highgain.json", ("amp-highgain",)),
    ("aidax/aidadsp_tw40_blues_deluxe_deerinkstudios.json", ("amp-clean", "amp-crunch")),
    ("aidax/aidadsp_tw40_california_crunch_deerinkstudios.json", ("amp-crunch",)),
    ("nam/t3k_dumble_feather.nam", ("amp-clean",)),
)
REAL_DI = ("celestial", "fear", "hammer_lead", "jazz_hop", "john", "mayer", "pop_punk", "power")


def real_di(name: str, sample_rate: int, *, seconds: float | None = None) -> np.ndarray:
    """A real DI recording from the fixtures, mono float32, resampled to ``sample_rate``."""
    import soundfile as sf
    from scipy.signal import resample_poly
    x, sr = sf.read(str(FIXTURES / "di" / f"{name}.wav"), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if seconds is not None:
        x = x[: int(seconds * sr)]
    if sr != sample_rate:
        g = np.gcd(int(sr), int(sample_rate))
        x = resample_poly(x, sample_rate // g, sr // g).astype(np.float32)
    return x


def load_real_model(rel: str):
    """Import a fixture model file (``None`` when this tonezoo cannot read its architecture)."""
    from tonezoo.formats import import_model
    try:
        return import_model(FIXTURES / "models" / rel)
    except Exception:                  # an architecture this tonezoo does not run (yet): the target is skipped
        return None


RECORD_GAIN = 0.5
"""Recording level of the real targets' outputs (-6 dB): some fixture models put out peaks above full
scale on hot DI, which a careful recording (and ``load_capture``'s clipping check) would not have."""


def render_real(model, x: np.ndarray) -> np.ndarray:
    """The model's output for ``x`` (knob inputs at 0.5), recorded at :data:`RECORD_GAIN`."""
    kv = {k: 0.5 for k in model.config.knobs} if model.config.knobs else None
    return RECORD_GAIN * np.asarray(model.process(x, kv), np.float32)


def real_name(rel: str) -> str:
    return Path(rel).stem


def advanced_esr(y: np.ndarray, y_hat: np.ndarray, advance: int) -> float:
    """ESR of ``y_hat`` against the device's raw output ``y`` advanced by ``advance`` samples.

    ``advance`` is the latency ``load_capture`` removed from the capture the model was trained on
    (``latency_samples``): such a model plays that far ahead of the device by design, so the raw
    output is advanced by it before scoring (0: scored as it is). Both arrays have shape (n,).
    """
    from tonezoo.losses import esr
    return float(esr(y[advance:], y_hat[: y_hat.size - advance]) if advance > 0 else esr(y, y_hat))

