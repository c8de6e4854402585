"""Readers and writers of the ecosystem's model files.

==========  ==============================================================  ======================
format      files                                                           players
==========  ==============================================================  ======================
``agam``    Automated-GuitarAmpModelling JSON (``model_data`` + PyTorch      NeuralPi, Proteus,
            ``state_dict``)                                                 Chameleon, TS-M1N3
``aidax``   AIDA-X / RTNeural Keras-layout JSON                             AIDA-X, RTNeural hosts
``nam``     Neural Amp Modeler ``.nam``: ``"LSTM"`` and A1 ``"WaveNet"``    NAM plugin and hosts
==========  ==============================================================  ======================

The format of a file is detected from its content, never its name. Files are only ever parsed as
JSON (pickles and PyTorch checkpoints are recognised by their magic bytes and refused).

Examples
--------
>>> model = import_model("TS9_FullD.json")                     # doctest: +SKIP
>>> export_model(model, "ts9.nam", format="nam")                # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import FormatError

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Model

__all__ = ["import_model", "export_model", "detect_format", "register_format", "list_formats", "format_spec",
           "FormatSpec"]

Detector = Callable[[Mapping[str, Any]], bool]
Reader = Callable[..., "Model"]   # reader(doc, *, where: str, sample_rate: int | None) -> Model
Writer = Callable[..., dict]      # writer(model, *, player: str | None) -> JSON document


@dataclass(frozen=True)
class FormatSpec:
    """A registered format: how to recognise, read and write its JSON documents.

    Attributes
    ----------
    name : str
    detect : callable(doc) -> bool
        True when a parsed JSON object is in this format (a cheap structural check).
    read : callable(doc, *, where, sample_rate) -> Model
    write : callable(model, *, player) -> dict
    indent : int or None
        JSON indentation of written files (as the format's own tools write them).
    players : tuple of str
        Names accepted by ``export_model(..., player=...)``.
    suffixes : tuple of str
        File name endings of the format, the first the usual one (``tonezoo export`` checks them).
    """

    name: str
    detect: Detector
    read: Reader
    write: Writer
    indent: int | None = None
    players: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = (".json",)


_FORMATS: dict[str, FormatSpec] = {}


def register_format(name: str, detector: Detector, reader: Reader, writer: Writer, *, indent: int | None = None,
                    players: tuple[str, ...] = (), suffixes: tuple[str, ...] = (".json",),
                    overwrite: bool = False) -> FormatSpec:
    """Add a format to the registry (detection tries formats in registration order).

    Parameters
    ----------
    name : str
        The ``format=`` name of :func:`export_model` and ``tonezoo export --format``.
    detector, reader, writer : callables, see :class:`FormatSpec`
    indent : int or None
    players : tuple of str
    suffixes : tuple of str
    overwrite : bool
        Replace an existing format of that name (else that is an error).
    """
    if name in _FORMATS and not overwrite:
        raise FormatError(f"format {name!r} is already registered; pass overwrite=True to replace it")
    spec = FormatSpec(name, detector, reader, writer, indent, tuple(players), tuple(suffixes))
    _FORMATS[name] = spec
    return spec


def list_formats() -> list[str]:
    """Names of the registered formats."""
    return list(_FORMATS)


def format_spec(name: str) -> FormatSpec:
    """The registered format ``name``; ``FormatError`` naming the known ones otherwise."""
    spec = _FORMATS.get(name)
    if spec is None:
        raise FormatError(f"unknown format {name!r}; choose one of {list_formats()}")
    return spec


# The built-in formats. Their modules (and with them JAX) load on first use, so the command line can
# list formats, players and file endings without that cost.
def _agam():
    from . import agam
    return agam


def _aidax():
    from . import aidax
    return aidax


def _nam():
    from . import nam
    return nam


register_format("agam", lambda doc: _agam().detect(doc), lambda doc, **kw: _agam().read(doc, **kw),
                lambda model, **kw: _agam().write(model, **kw), players=("neuralpi", "proteus", "chameleon"),
                suffixes=(".json",))
register_format("aidax", lambda doc: _aidax().detect(doc), lambda doc, **kw: _aidax().read(doc, **kw),
                lambda model, **kw: _aidax().write(model, **kw), indent=4, players=("aida-x",),
                suffixes=(".json", ".aidax"))
register_format("nam", lambda doc: _nam().detect(doc), lambda doc, **kw: _nam().read(doc, **kw),
                lambda model, **kw: _nam().write(model, **kw), suffixes=(".nam",))


def _detect_doc(doc: Mapping[str, Any], where: str) -> FormatSpec:
    for spec in _FORMATS.values():
        if spec.detect(doc):
            return spec
    keys = sorted(doc)[:12]
    raise FormatError(f"{where}: JSON, but not a model format tonezoo knows (top-level keys {keys}); expected "
                      "AGAM (model_data + state_dict), AIDA-X (in_shape + layers) or NAM (architecture + weights)")


def detect_format(path: str | os.PathLike) -> str:
    """The format of a model file, from its content.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    name : str, one of :func:`list_formats`

    Raises
    ------
    FormatError
        Unreadable, binary/pickled, not JSON, or JSON of no known format.
    """
    from ._common import read_document
    return _detect_doc(read_document(path), str(path)).name


def import_model(path: str | os.PathLike, *, sample_rate: int | None = None) -> Model:
    """Read a third-party model file into a tonezoo :class:`~tonezoo.model.Model`.

    Parameters
    ----------
    path : path-like
        An AGAM/NeuralPi/Proteus JSON, AIDA-X JSON or NAM ``.nam`` file.
    sample_rate : int or None
        The rate the model was trained at, for formats that do not record it (AGAM; default
        44100 Hz, recorded as assumed in ``metadata["sample_rate_assumed"]``). A value that
        contradicts a rate stated in the file is an error.

    Returns
    -------
    Model
        ``metadata`` holds ``name`` (the file's, else the file stem), ``source_format``,
        ``source_file`` and what the file says about author, device, category and ESR.

    Examples
    --------
    >>> m = import_model("neuralpi_ts9_fulld.json")                    # doctest: +SKIP
    >>> m.config.hidden_size, m.config.skip, m.metadata["sample_rate_assumed"]  # doctest: +SKIP
    (20, True, True)
    """
    from ._common import read_document
    p = Path(path)
    doc = read_document(p)
    spec = _detect_doc(doc, str(p))
    model = spec.read(doc, where=str(p), sample_rate=sample_rate)
    model.metadata.setdefault("name", p.stem)
    model.metadata["source_format"] = spec.name
    model.metadata["source_file"] = p.name
    return model


def export_model(model: Model, path: str | os.PathLike, *, format: str, player: str | None = None,
                 knobs: Mapping[str, float] | None = None) -> Path:
    """Write ``model`` as a third-party model file (atomically: temporary file, then rename).

    Parameters
    ----------
    model : Model
    path : path-like
        The file to write.
    format : {"agam", "aidax", "nam"}
    player : str or None
        Check the model against a player's fixed architecture and refuse if it does not fit:
        agam ``"neuralpi"`` (LSTM-20), ``"proteus"`` (LSTM-40), ``"chameleon"`` (LSTM-32), all with
        skip; aidax ``"aida-x"`` (the plugin's compiled sizes).
    knobs : mapping knob name -> value, optional
        Bake these fixed knob values into a knob-free model first (exact; for players that feed
        only the audio, e.g. NAM).

    Returns
    -------
    Path of the written file.

    Raises
    ------
    FormatError
        Unknown format or player, or a model the format/player cannot represent exactly.
    """
    from ._common import bake_knobs, write_document
    spec = format_spec(format)
    if player is not None and player not in spec.players:
        hint = f"choose one of {list(spec.players)}" if spec.players else "this format has no player variants"
        raise FormatError(f"unknown player {player!r} for format {format!r}; {hint}")
    if knobs:
        model = bake_knobs(model, knobs)
    doc = spec.write(model, player=player)
    return write_document(doc, path, indent=spec.indent)
