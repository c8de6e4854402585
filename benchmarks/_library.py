"""Real third-party captures with a category, for the classifier's training: GuitarML's ToneLibrary.

The classifier's held-out figures show the gap between tonezoo's generators and real devices
(docs/fingerprint.md). Real captures of devices with a known kind close it only if they are *not*
the devices it is validated on, so this table draws from `GuitarML/ToneLibrary
<https://github.com/GuitarML/ToneLibrary>`_ (``NeuralPi/`` and ``Proteus/``: LSTM-20 and
LSTM-40 models in Automated-GuitarAmpModelling JSON, GPL-3.0; commit ``d32a73f``) and leaves out
every device of which a real fixture (``benchmarks/_targets.py``) is a capture:

* by weights: a file whose ``state_dict`` equals a fixture's (:func:`fixture_digests`; the
  library's ``BluesJR-FullD.json`` holds the weights of the fixture ``neuralpi_ts9_fulld``);
* by device (:data:`FIXTURE_DEVICES`): every other capture of a fixture's pedal or amp, and of its
  own line (Mesa's Mark II C+ beside the fixture Mark IIB, the Mooer "Cali MkIV" of the Mark IV
  beside the fixture "California crunch"), so the fixtures stay devices the classifier never heard.

The category of each remaining file was set from its name and the device it names, as for the
fixtures, before any classifier was scored on it; a file whose device's kind the name does not
settle (a pedal of an amp, an acoustic simulator, a preamp sold as both) is in :data:`UNLABELLED`
with the reason and not used. Files are read from a local copy of the library (``--library DIR``
of ``train_classifier.py``); nothing is downloaded, and nothing of the library is bundled.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from _targets import FIXTURES

LIBRARY_COMMIT = "d32a73f59501713923a6e28cca3343db3470a9b8"

# file -> (category, device): captures of one device share the device name, so cross-validation
# leaves them out together
LABELLED: dict[str, tuple[str, str]] = {
    "NeuralPi/BossDistortionDs1_highGain.json": ("distortion", "boss-ds1"),
    "Proteus/DS1_fromVideo.json": ("distortion", "boss-ds1"),
    "NeuralPi/Goat_DistortionGen_highDist.json": ("distortion", "goat"),
    "NeuralPi/Goat_DistortionGen_lowDist.json": ("distortion", "goat"),
    "Proteus/GoatPedal_HighGain.json": ("distortion", "goat"),
    "NeuralPi/MIAudio_Crunchbox_highGain.json": ("distortion", "mi-crunchbox"),
    "NeuralPi/MIAudio_Crunchbox_midGain.json": ("distortion", "mi-crunchbox"),
    "NeuralPi/PAiA_AxeGrinder_highDist.json": ("distortion", "paia-axegrinder"),
    "Proteus/MXR78_pedal_DistKnob.json": ("distortion", "mxr-78"),
    "Proteus/RevvG4_Red_DriveKnob.json": ("distortion", "revv-g4"),
    "NeuralPi/WamplerTumnus_highGain.json": ("overdrive", "wampler-tumnus"),
    "Proteus/Barber_GC_GainKnob.json": ("overdrive", "barber-gc"),
    "Proteus/Benson_Chimaira_pedal_GainKnob.json": ("overdrive", "benson-chimaira"),
    "Proteus/Bogner_EcstasyBlue_GainKnob.json": ("overdrive", "bogner-ecstasy-blue"),
    "Proteus/EthosLeadChan_GainKnob.json": ("overdrive", "ethos"),
    "Proteus/ProteinBlue_pedal_DriveKnob.json": ("overdrive", "protein"),
    "Proteus/ProteinGreen_pedal_DriveKnob.json": ("overdrive", "protein"),
    "Proteus/XoticBB_pedal_GainKnob.json": ("overdrive", "xotic-bb"),
    "NeuralPi/EH_CockFight_highDrive.json": ("fuzz", "ehx-cockfight"),
    "Proteus/XComp_Pedal.json": ("compressor", "xcomp"),
    "NeuralPi/MesaBoogie_Studio22_Clean.json": ("amp-clean", "mesa-studio22"),
    "NeuralPi/MesaBoogie_Studio22_highGain.json": ("amp-highgain", "mesa-studio22"),
    "NeuralPi/RockmanXPR_Clean.json": ("amp-clean", "rockman-xpr"),
    "NeuralPi/RockmanXPR_Distortion.json": ("amp-highgain", "rockman-xpr"),
    "Proteus/RockmanXPR_HighGain.json": ("amp-highgain", "rockman-xpr"),
    "Proteus/FriedmanSmallBox_GainKnob.json": ("amp-crunch", "friedman-smallbox"),
    "Proteus/6505Plus_Red_DirectOut.json": ("amp-highgain", "peavey-6505"),
    "Proteus/MesaMiniRec_HighGain_DirectOut.json": ("amp-highgain", "mesa-minirec"),
    "Proteus/Splawn_OD_FractalFM3_HighGain.json": ("amp-highgain", "splawn-od"),
}

# substrings of a file name (lower case) naming a device of which a real fixture is a capture
FIXTURE_DEVICES: dict[str, str] = {
    "ts9": "Ibanez TS9 (neuralpi_ts9_*, proteus_ts9_driveknob, tsm1n3_ts9_cond2)",
    "mt2": "Boss MT-2 (neuralpi_mt2_highgain)", "metalzone": "Boss MT-2 (neuralpi_mt2_highgain)",
    "procorat": "ProCo RAT (neuralpi_procorat)",
    "littlebigmuff": "Little Big Muff (neuralpi_littlebigmuff)",
    "xoticcompsp": "Xotic SP compressor (neuralpi_xotic_compsp)",
    "princeton": "Fender Princeton (neuralpi_princeton_clean)",
    "bluesjr": "Fender Blues Jr (neuralpi_bluesjr)",
    "ht40": "Blackstar HT40 (neuralpi_ht40_overdrive, proteus_ht40_gainknob_sm57)",
    "soldano": "Soldano (neuralpi_soldano_crunch)",
    "mk2b": "Mesa Mark IIB (neuralpi_mesamk2b_highgain)", "iicplus": "Mesa Mark II C+, the Mark IIB's line",
    "calimkiv": "a Mesa Mark IV clone, beside the fixture 'California crunch'",
    "dumble": "Dumble (t3k_dumble_feather)",
    "tubescreamer": "an Ibanez Tube Screamer, the TS9's circuit", "808": "a TS808 circuit (Maxon OD808), the TS9's",
    "markiv": "a Mesa Mark IV, the Mark IIB's line",
}

UNLABELLED: dict[str, str] = {
    "NeuralPi/Rockman_Acoustic.json": "an acoustic-guitar simulator: none of the eight categories",
    "Proteus/RockmanAcoustic_Pedal.json": "an acoustic-guitar simulator: none of the eight categories",
    "NeuralPi/Rockman_Ultimatum_highGain.json": "a rack distortion generator with a speaker simulator: pedal or amp",
    "Proteus/MatchlessSC30_Ch1_DirectOut.json": "a clean amp that breaks up early: clean or crunch",
    "Proteus/PlexiBreed_JTM_pedal.json": "a pedal of an amp (a JTM): overdrive, distortion or crunch",
    "Proteus/UA_RubyKC_BoostKnob.json": "a pedal of an amp (a top-boost combo): clean or crunch",
    "Proteus/Victory_CountessOD_GainKnob.json": "a preamp pedal of an amp: overdrive or an amp",
    "Proteus/Supro_Bold_DriveKnob.json": "the name does not say whether it is the amp or the pedal",
    "Proteus/SweetCream_pedal_GainKnob.json": "the name does not say what kind of pedal it is",
}


# Captures from other public repositories, under ``--more-captures DIR`` as ``owner+repo/path`` (a copy of each
# file at the commit named): relative path -> (commit, category, device). The category is what the author
# states: Chameleon's README names its three models "Red (high gain), Gold (crunchy), and Green (crisp and
# clean)" channels of one amp head; AIDA-X's "US Double Nrm" is the Normal (clean) channel of a Fender Twin-style
# amp. AIDA-X's ``deerinkstudios-tw40-ac-clean.json`` at 07f2615 is not valid JSON and is not used.
# pelennor2170/NAM_models (GPL-3.0) is a community collection of NAM WaveNet captures named by device and setting:
# see :data:`NAM_MODELS`.
MORE_LABELLED: dict[str, tuple[str, str, str]] = {
    "GuitarML+Chameleon/models/red.json": ("bf0b03b4ebead33c84432e3beabe199ff0fa847e", "amp-highgain", "chameleon"),
    "GuitarML+Chameleon/models/gold.json": ("bf0b03b4ebead33c84432e3beabe199ff0fa847e", "amp-crunch", "chameleon"),
    "GuitarML+Chameleon/models/green.json": ("bf0b03b4ebead33c84432e3beabe199ff0fa847e", "amp-clean", "chameleon"),
    "AidaDSP+AIDA-X/files/US-Double-Nrm-Model.json": ("56e454948464a945b0b94a6934f9927a7feb1823", "amp-clean",
                                                      "us-double"),
}

NAM_MODELS_COMMIT = "944ca6718581c60cc5365586d2f378d740e181f3"

# pelennor2170/NAM_models at NAM_MODELS_COMMIT: file -> (category, device). Taken only where the name settles the
# kind: a pedal's own kind (an HM-2, a DS-1 or an Ubermetal is a distortion; a Klon clone, an SD-1, an M77, a
# Precision Drive or an 805 an overdrive; the Demonfx Dual Boost a boost), and an amp's channel or gain as the
# name states it ("Clean", "Crunch", "Lead", "after break-up" on the low channel, a high-gain amp's lead channel,
# a JCM900's channel B). An amp captured with a boost pedal in front keeps the amp's category. Left out: every TS
# circuit (TS9, TS Mini, OD808, a Plumes clone, "TS engaged"), the Soldano pedal and the Mesa Mark IV (fixture
# devices, FIXTURE_DEVICES); captures whose name does not settle the kind (an amp's channel A, a gear 1, a "clean
# ish", "low drive" or "low gain" at a gain the name does not place; pedals of amps: KSR Ceres and Vesta, Driftwood
# Nightmare; power amps alone; a bass preamp; pedals the name does not describe: PP Rot, Wendigo, Jugendstil, Dirty
# Tree, the OS-2's drive/distortion blend; a modeller's amps); and further copies of one capture at another preset
# size (one of feather / lite / standard is kept), with at most six captures of one device.
NAM_MODELS: dict[str, tuple[str, str]] = {
    # pedals
    "Jason Z Boss HM2 v1 kinda bass heavy with medium distortion pure everything turned all the way up tone.nam":
        ("distortion", "boss-hm2"),
    "Jason Z Boss HM2BTFO heavy distortion meant to be standalone less bass more honk.nam": ("distortion", "boss-hm2"),
    "Peter N HM-2_SWEDE_Feather_ESR-0.0097.nam": ("distortion", "boss-hm2"),
    "Peter N HM-2_V5_L8_H4_D0_Feather_ESR-0.0025.nam": ("distortion", "boss-hm2"),
    "Jason Z Line 6 UBERMETAL INSANE droom metal at its best.nam": ("distortion", "line6-ubermetal"),
    "Keith B DS1_g6_t5.nam": ("distortion", "boss-ds1"),
    "Keith B DS1_maxg_t5.nam": ("distortion", "boss-ds1"),
    "Keith B klone_g6_t6_o5.nam": ("overdrive", "klon-clone"),
    "Keith B klone_maxG_t6_o5.nam": ("overdrive", "klon-clone"),
    "Keith B Klone_plus_BB_lowgain.nam": ("overdrive", "klon-clone-bluesbreaker"),
    "Keith B Klone_plus_BB_highGain.nam": ("overdrive", "klon-clone-bluesbreaker"),
    "Phillipe P BOSS-SD1-Feather-ESR0,001.nam": ("overdrive", "boss-sd1"),
    "Phillipe P MXR-M77-Feather-ESR0,001.nam": ("overdrive", "mxr-m77"),
    "Tudor N MXR M77 Custom Badass Modified OD Tone@5_Output@10_Gain@0_100HZ@2_Bump@off ESR_0.0018_lite.nam":
        ("overdrive", "mxr-m77"),
    "Tudor N MXR M77 Custom Badass Modified OD Tone@6.5_Output@10_Gain@1_100HZ@2_Bump@on ESR_0.0018_lite.nam":
        ("overdrive", "mxr-m77"),
    "Phillipe P Precision-Drive-Feather-ESR0,001.nam": ("overdrive", "horizon-precision-drive"),
    "Tudor N Precision Drive (pedalPCB) Vol@6_Drv@0_Brgt@5.5_Atk@4_ESR_0.0004_lite.nam":
        ("overdrive", "horizon-precision-drive"),
    "Tim R Seymour Duncan 805.nam": ("overdrive", "seymour-duncan-805"),
    "Tudor N Demonfx Dual Boost - Fortin 33 side Knob@5 ESR_0.0017_lite.nam": ("boost", "demonfx-dual-boost"),
    "Tudor N Demonfx Dual Boost - Xotic EP boost side Knob@5_SW1@down_SW2@down ESR_0.0013_lite.nam":
        ("boost", "demonfx-dual-boost"),
    "Tudor N Demonfx Dual Boost - Xotic EP boost side Knob@5_SW1@up_SW2@up ESR_0.0023_lite.nam":
        ("boost", "demonfx-dual-boost"),
    # amps: the channel or gain the name states
    "Helga B 5150 BlockLetter - NoBoost.nam": ("amp-highgain", "peavey-6505"),
    "Helga B 5150 BlockLetter - Boosted.nam": ("amp-highgain", "peavey-6505"),
    "Helga B 6505+ Red ch - NoBoost.nam": ("amp-highgain", "peavey-6505"),
    "Helga B 6505+ Red ch - MXR Drive.nam": ("amp-highgain", "peavey-6505"),
    "Helga B 6534+ No Boost.nam": ("amp-highgain", "peavey-6534"),
    "Helga B 6534+ MXR M77.nam": ("amp-highgain", "peavey-6534"),
    "Helga B JSX Ultra - No Boost.nam": ("amp-highgain", "peavey-jsx"),
    "Helga B JSX Ultra - M77(FIXED).nam": ("amp-highgain", "peavey-jsx"),
    "Helga B JSX-Crunch-NoBoost-0,004.nam": ("amp-crunch", "peavey-jsx"),
    "Helga B XXX-KT77-NoBoost.nam": ("amp-highgain", "peavey-xxx"),
    "Helga B XXX-KT77-M77.nam": ("amp-highgain", "peavey-xxx"),
    "Helga B XXX-6L6-M77-ESR0015.nam": ("amp-highgain", "peavey-xxx"),
    "Phillipe P Bug1990-Lead-NoDrive-ESR0,004.nam": ("amp-highgain", "bugera-1990"),
    "Phillipe P Bug1990-Lead-NoDrive-Cab-ESR0,011.nam": ("amp-highgain", "bugera-1990"),
    "Phillipe P Bug333-Clean-ESR0,002.nam": ("amp-clean", "bugera-333"),
    "Phillipe P Bug333-Clean-Cab-ESR0,007.nam": ("amp-clean", "bugera-333"),
    "Phillipe P Bug333-Crunch-NoDrive-ESR0,002.nam": ("amp-crunch", "bugera-333"),
    "Phillipe P Bug333-Crunch-NoDrive-Cab-ESR0,005.nam": ("amp-crunch", "bugera-333"),
    "Phillipe P Bug333-Lead-NoDrive-ESR0,004.nam": ("amp-highgain", "bugera-333"),
    "Phillipe P Bug333-Lead-NoDrive-Cab-ESR0,007.nam": ("amp-highgain", "bugera-333"),
    "Phillipe P Bugera6262-Crunch-NoDrive-ESR0,002.nam": ("amp-crunch", "bugera-6262"),
    "Phillipe P Bug6262-Crunch-NoDrive-Cab-ESR0,004.nam": ("amp-crunch", "bugera-6262"),
    "Phillipe P Bugera6262-Lead-NoDrive-ESR0,009.nam": ("amp-highgain", "bugera-6262"),
    "Phillipe P Bugera6262-Lead-NoDrive-Cab-ESR0,009.nam": ("amp-highgain", "bugera-6262"),
    "Phillipe P JVM-CL-GR-NoDrive-ESR0,005.nam": ("amp-clean", "marshall-jvm"),
    "Phillipe P JVM-CL-GR-NoDrive-Cab-ESR0,007.nam": ("amp-clean", "marshall-jvm"),
    "Phillipe P JVM-CR-OR-NoDrive-ESR0,017.nam": ("amp-crunch", "marshall-jvm"),
    "Phillipe P JVM-OD1-GR-NoDrive-ESR0,015.nam": ("amp-highgain", "marshall-jvm"),
    "Phillipe P JVM-OD2-RD-NoDrive-ESR0,003.nam": ("amp-highgain", "marshall-jvm"),
    "Phillipe P JVM-OD2-RD-NoDrive-Cab-ESR0,006.nam": ("amp-highgain", "marshall-jvm"),
    "Phillipe P LaneyGH100S-Lo-AfterBreakUp-ESR0,001.nam": ("amp-crunch", "laney-gh100s"),
    "Phillipe P LaneyGH100S-Lo-CrunchGain-ESR0,024.nam": ("amp-crunch", "laney-gh100s"),
    "Phillipe P LaneyGH100S-Hi-HiNoon-ESR0,024.nam": ("amp-highgain", "laney-gh100s"),
    "Roman A YERASOV_MESHUGGAH.nam": ("amp-highgain", "yerasov"),
    "Sascha S DirtyShirleyMini_Clean_B1_M6_T7_MV10_G4.nam": ("amp-clean", "friedman-dirty-shirley"),
    "Sascha S DirtyShirleyMini_crunch_G6.nam": ("amp-crunch", "friedman-dirty-shirley"),
    "Sascha S DirtyShirleyMini_crunch_G8.nam": ("amp-crunch", "friedman-dirty-shirley"),
    "Sascha S DirtyShirleyCrunch_G4_BuxBoostTight.nam": ("amp-crunch", "friedman-dirty-shirley"),
    "Tim R 5152 Crunch No Boost.nam": ("amp-crunch", "peavey-5150-ii"),
    "Tim R 5152 Lead No Boost.nam": ("amp-highgain", "peavey-5150-ii"),
    "Tim R Fender TwinVerb Norm Bright.nam": ("amp-clean", "fender-twin-reverb"),
    "Tim R Fender TwinVerb Vibrato Bright.nam": ("amp-clean", "fender-twin-reverb"),
    "Tim R JCM2000 Clean.nam": ("amp-clean", "marshall-jcm2000"),
    "Tim R JCM2000 Crunch.nam": ("amp-crunch", "marshall-jcm2000"),
    "Tim R JCM2000 L2 G6.nam": ("amp-highgain", "marshall-jcm2000"),
    "Tim R JCM2000 L2 G8.nam": ("amp-highgain", "marshall-jcm2000"),
    "Tim R JCM90050WDualVerbChBG12.nam": ("amp-highgain", "marshall-jcm900"),
    "Tim R JCM90050WDualVerbChBG20.nam": ("amp-highgain", "marshall-jcm900"),
    "Tim R Splawn Pro Mod 2nd Gear - G12.nam": ("amp-highgain", "splawn-pro-mod"),
    "Tim R Splawn Pro Mod 3rd Gear - G12.nam": ("amp-highgain", "splawn-pro-mod"),
    "Tom C Engl e530 preamp & 840 power amp with Boss DS1 Overdrive.nam": ("amp-highgain", "engl-e530"),
}

MORE_LABELLED.update({f"pelennor2170+NAM_models/{name}": (NAM_MODELS_COMMIT, cat, device)
                      for name, (cat, device) in NAM_MODELS.items()})


def more_models(root: Path) -> list[tuple[str, str, str]]:
    """The files of :data:`MORE_LABELLED` under ``root``, as ``(relative path, category, device)``.

    Raises
    ------
    FileNotFoundError
        A file of the table is missing under ``root``.
    ValueError
        A file is a fixture's device or holds a fixture's weights (the table must never name one).
    """
    root = Path(root)
    digests = fixture_digests()
    used = []
    for rel, (commit, cat, device) in MORE_LABELLED.items():
        if not (root / rel).is_file():
            raise FileNotFoundError(f"{root / rel}: missing; copy it from its repository at the commit "
                                    f"{commit[:7]} (benchmarks/_library.py)")
        why = excluded_as_fixture(rel, digests, root)
        if why:
            raise ValueError(f"{rel}: {why}")
        used.append((rel, cat, device))
    return used


def _digest(path: Path) -> str:
    """Digest of a model file's weights (AGAM ``state_dict``, ``.nam`` ``weights``), whatever its metadata."""
    doc = json.loads(path.read_text())
    weights = doc.get("state_dict", doc.get("weights", doc))
    return hashlib.sha1(json.dumps(weights, sort_keys=True).encode()).hexdigest()


def fixture_digests() -> dict[str, str]:
    """``{digest of the weights: fixture file name}`` of the real fixtures' JSON and ``.nam`` models."""
    return {_digest(p): p.name for ext in ("json", "nam") for p in sorted((FIXTURES / "models").glob(f"*/*.{ext}"))}


def excluded_as_fixture(rel: str, digests: dict[str, str], root: Path) -> str | None:
    """Why ``rel`` (a library file) is a fixture's device, or ``None``."""
    name = Path(rel).stem.lower().replace("_", "").replace("-", "")
    for key, why in FIXTURE_DEVICES.items():
        if key in name:
            return why
    d = _digest(root / rel)
    return f"the weights of the fixture {digests[d]}" if d in digests else None


def library_models(root: Path) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """The labelled library files under ``root`` and why each other file is not used.

    Returns
    -------
    used : list of (relative path, category, device)
    skipped : dict of relative path -> reason

    Raises
    ------
    FileNotFoundError
        ``root`` holds no ``NeuralPi/`` or ``Proteus/`` folder (not a copy of the library).
    """
    root = Path(root)
    files = sorted(str(p.relative_to(root)) for sub in ("NeuralPi", "Proteus") for p in (root / sub).glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{root}: no NeuralPi/*.json or Proteus/*.json; give a copy of GuitarML/ToneLibrary "
                                f"(commit {LIBRARY_COMMIT[:7]})")
    digests = fixture_digests()
    used, skipped = [], {}
    for rel in files:
        why = excluded_as_fixture(rel, digests, root)
        if why:
            skipped[rel] = f"fixture device: {why}"
        elif rel in UNLABELLED:
            skipped[rel] = f"no category: {UNLABELLED[rel]}"
        elif rel in LABELLED:
            used.append((rel, *LABELLED[rel]))
        else:
            skipped[rel] = "not in the label table"
    return used, skipped
