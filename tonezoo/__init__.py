"""tonezoo: neural captures of guitar pedals and amps that start from the closest pretrained model.

The public API, imported lazily so ``import tonezoo`` stays cheap::

    capture = tonezoo.load_capture("di.wav", "amp.wav")
    zoo = tonezoo.Zoo.default()
    zoo.suggest(capture)                 # ranked starting models, with reasons
    result = zoo.transfer(capture)       # fine-tune from the pick
    result.model.process(audio)
    result.model.push_to_hub("me/my-amp")
    tonezoo.Model.from_pretrained("me/my-amp")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    # errors
    "TonezooError": "errors", "CaptureError": "errors", "ConfigError": "errors", "ModelFileError": "errors",
    "FormatError": "errors", "UnsupportedArchitectureError": "errors", "ZooError": "errors",
    "HubError": "errors", "TrainingError": "errors", "InputLevelWarning": "errors",
    # model
    "Model": "model", "ModelConfig": "model",
    # capture
    "Capture": "capture", "load_capture": "capture",
    # training
    "train": "train", "TrainConfig": "train", "TrainResult": "train", "esr": "train",
    # devices and signals
    "get_device": "devices", "list_devices": "devices", "render": "devices", "render_capture": "devices",
    "capture_signal": "signals", "synth_di": "signals",
    # zoo
    "Zoo": "zoo", "Suggestion": "zoo", "fingerprint": "embed",
    # formats
    "import_model": "formats", "export_model": "formats",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tonezoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
