"""Output paths of the command line, checked before any work starts.

A command that trains for minutes must not find out at the end that it cannot write its result,
and must never replace a folder that holds anything but a tonezoo model. Every sub-command that
writes calls one of these checks first; each raises :class:`~tonezoo.errors.ConfigError` (exit 2)
naming the command-line flag, what is wrong and what to do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["check_file_output", "check_model_dir_output", "check_own_dir_output", "is_model_dir", "MODEL_FILES",
           "AUDIO_SUFFIXES", "PLOT_SUFFIXES", "CHECKPOINT_FILES"]

MODEL_FILES = frozenset({"config.json", "model.safetensors", "README.md"})
AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".aif", ".aiff", ".mp3", ".ogg"})
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
"""File endings a ``--plot`` may have (the formats matplotlib writes that people open)."""
CHECKPOINT_FILES = frozenset({"state.json", "state.safetensors"})
"""What a training checkpoint folder holds (:func:`tonezoo.modelfile.save_checkpoint`)."""


def _error(message: str) -> Exception:
    from ..errors import ConfigError
    return ConfigError(message)


def _check_parent(path: Path, flag: str, *, create: bool) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        if create:
            # the nearest existing ancestor must let us create the missing folders
            anc = parent
            while not anc.exists() and anc != anc.parent:
                anc = anc.parent
            if not anc.is_dir() or not os.access(anc, os.W_OK | os.X_OK):
                raise _error(f"{flag} {path}: cannot create folder {parent} (no write permission in {anc})")
            return
        raise _error(f"{flag} {path}: folder {parent} does not exist; create it first or choose another path")
    if not parent.is_dir():
        raise _error(f"{flag} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _error(f"{flag} {path}: no write permission in {parent}")


def check_file_output(path: str | os.PathLike, flag: str, *, suffixes: tuple[str, ...] = (),
                      create_parent: bool = False, overwrite: bool | None = None,
                      not_input: str | os.PathLike | None = None) -> Path:
    """Check that ``path`` can be written as a file: not a folder, its folder exists and is writable.

    Parameters
    ----------
    path : path-like
        The output file.
    flag : str
        How the command line names it (``"--plot"``, ``"OUT.wav"``), used in messages.
    suffixes : tuple of str
        Accepted file name endings (lower case, with the dot); empty accepts any.
    create_parent : bool
        Accept a missing parent folder (the command creates it).
    overwrite : bool, optional
        For a command with an ``--overwrite`` option: its value. An existing file is refused unless
        it is true. ``None`` (the default) leaves existing files to the caller.
    not_input : path-like, optional
        The command's input file: the output must not be it, even with ``overwrite``.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        ``path`` is an existing folder, ends in a path separator, has the wrong ending, is
        ``not_input``, exists while ``overwrite`` is false, or its folder is missing (unless
        ``create_parent``) or not writable.
    """
    p = Path(path)
    if not_input is not None and p.resolve() == Path(not_input).resolve():
        other = p.with_name(f"{p.stem}-out{p.suffix}")
        raise _error(f"the output file {path} ({flag}) is the input file too, and tonezoo never writes over "
                     f"its input; give the output another name, e.g. {other}")
    if str(path).endswith((os.sep, "/")) or p.is_dir() or p.name in ("", ".", ".."):
        suffix = suffixes[0] if suffixes else ""
        from ..modelfile import WEIGHTS_NAME
        # a model folder keeps its own files only: suggest a file beside it, named after it
        beside = p.is_dir() and (p / WEIGHTS_NAME).is_file() and p.resolve().name not in ("", "/")
        example = p.resolve().with_name(p.resolve().name + suffix) if beside else p / ("out" + suffix)
        if beside and not Path(path).is_absolute():
            example = Path(os.path.relpath(example))
        raise _error(f"{flag} {path}: is a {'model ' if beside else ''}folder; give a file name, e.g. {example}")
    if suffixes and p.suffix.lower() not in suffixes:
        raise _error(f"{flag} {path}: expected a file name ending in {' or '.join(suffixes)}")
    if p.exists() and overwrite is False:
        raise _error(f"{flag} {path}: already exists; pass --overwrite to replace it, or choose another name")
    if p.exists() and not os.access(p, os.W_OK):
        raise _error(f"{flag} {path}: exists and is not writable")
    _check_parent(p, flag, create=create_parent)
    return p


def is_model_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder holding a tonezoo model and nothing else.

    A tonezoo model folder has ``config.json`` (``"format": "tonezoo-model"``) and only the files
    :meth:`tonezoo.Model.save` writes (``config.json``, ``model.safetensors``, ``README.md``).
    """
    p = Path(path)
    if not p.is_dir():
        return False
    names = {c.name for c in p.iterdir()}
    if "config.json" not in names or not names <= MODEL_FILES:
        return False
    try:
        doc = json.loads((p / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("format") == "tonezoo-model"


def check_model_dir_output(path: str | os.PathLike, flag: str = "-o", *, overwrite: bool = False,
                           overwrite_flag: str = "--overwrite") -> Path:
    """Check that a model folder can be written at ``path`` without destroying anything.

    Accepted: a path that does not exist yet (its missing parent folders are created), an empty
    folder, or, with ``overwrite``, a folder that holds a tonezoo model and nothing else (see
    :func:`is_model_dir`). Refused: an existing file, a name ending in an audio suffix, the current
    folder or one of its parents, a folder with any other content (recordings, say), or an existing
    model without ``overwrite``.

    Raises
    ------
    ConfigError
        With the reason and what to do.
    """
    p = Path(path)
    here = Path.cwd().resolve()
    resolved = p.resolve()
    if resolved == here or resolved in here.parents or resolved == Path(resolved.anchor):
        raise _error(f"{flag} {path}: that is the current folder or one above it; give a new folder name "
                     f"for the model, e.g. {flag} my-amp")
    if p.suffix.lower() in AUDIO_SUFFIXES:
        raise _error(f"{flag} {path}: looks like an audio file; {flag} names the model folder to write, "
                     f"e.g. {flag} {p.with_suffix('')}")
    if p.exists() and not p.is_dir():
        raise _error(f"{flag} {path}: exists and is a file; {flag} names a folder for the model. "
                     "Choose a new folder name")
    if p.is_dir():
        contents = list(p.iterdir())
        if contents:
            if not is_model_dir(p):
                shown = ", ".join(sorted(c.name for c in contents)[:4]) + (", ..." if len(contents) > 4 else "")
                raise _error(f"{flag} {path}: folder exists and holds other files ({shown}); tonezoo replaces "
                             f"only a folder holding a tonezoo model. Choose a new folder name")
            if not overwrite:
                raise _error(f"{flag} {path}: a model already exists there; pass {overwrite_flag} to replace it, "
                             "or choose a new folder name")
        if not os.access(p, os.W_OK | os.X_OK):
            raise _error(f"{flag} {path}: no write permission")
    _check_parent(p, flag, create=True)
    return p


def check_own_dir_output(path: str | os.PathLike, flag: str, own: frozenset[str], *, command: str,
                         overwrite: bool | None = None) -> Path:
    """Check a folder a command fills with files of fixed names (``render --capture``, ``demo --out``).

    Accepted: a new or empty folder, or one holding only names in ``own`` (what an earlier run of
    ``command`` wrote, which a new run replaces). Refused: an existing file, or a folder with
    anything else in it; and, for a command with an ``--overwrite`` option (``overwrite`` its
    value), a folder already holding any of ``own`` unless it is true (the files may be the user's
    own, e.g. recordings named ``input.wav``). ``None`` replaces them without asking.

    Raises
    ------
    ConfigError
        Naming up to four of the other files and what to do.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise _error(f"{flag} {path}: exists and is a file; give a folder name")
    if p.is_dir():
        other = sorted(c.name for c in p.iterdir() if c.name not in own)
        if other:
            names = sorted(own)
            raise _error(f"{flag} {path}: folder holds other files ({', '.join(other[:4])}"
                         f"{', ...' if len(other) > 4 else ''}); {command} replaces only "
                         f"{', '.join(names[:-1])} and {names[-1]}. Choose a new folder")
        there = sorted(c.name for c in p.iterdir())
        if there and overwrite is False:
            raise _error(f"{flag} {path}: holds {', '.join(there)} already; pass --overwrite to replace "
                         f"{'it' if len(there) == 1 else 'them'}, or choose a new folder")
    return p
