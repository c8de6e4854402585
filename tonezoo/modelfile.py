"""The tonezoo model directory: ``config.json`` + ``model.safetensors`` + ``README.md``; atomic writes.

Below :mod:`tonezoo.model` (it reads and writes the parts of a model, never imports it): the
directory format and its version, flatten/unflatten of parameters through the architecture
registry, the one atomic file writer (:func:`atomic_write`) and directory writer
(:func:`write_dir_atomically`) of tonezoo, and training checkpoints.

The layout is the same as a Hugging Face Hub repo snapshot, so a directory can be pushed as is.

``config.json``::

    {"format": "tonezoo-model", "format_version": 1,
     "model": {"hidden_size": 20, "num_layers": 1, "cell": "lstm", "knobs": [], "skip": true,
               "sample_rate": 44100},
     "metadata": {"name": ..., "category": ..., "val_esr": ..., "base_model": ..., ...}}

``model.safetensors`` holds float32 tensors named by :meth:`ModelConfig.param_shapes`
(``layers.0.w_ih`` (in, G*H), ``layers.0.w_hh`` (H, G*H), ``layers.0.b_ih``, ``layers.0.b_hh``,
``dense.w`` (H,), ``dense.b`` (), ``h0`` (L, H), ``c0`` (L, H)). Gate order is PyTorch's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from . import architectures
from .architectures import ModelConfig
from .errors import ConfigError, ModelFileError, TrainingError

__all__ = ["save_model_dir", "read_model_dir", "ModelParts", "read_config", "flatten_params", "unflatten_params",
           "FORMAT_VERSION", "PICKLE_SUFFIXES", "read_versioned_json", "atomic_write",
           "write_dir_atomically", "save_checkpoint", "load_checkpoint", "CONFIG_NAME", "WEIGHTS_NAME", "CARD_NAME"]

FORMAT_VERSION = 1
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")   # never loaded, named in refusals
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
MAX_CONFIG_BYTES = 1 << 20
MAX_WEIGHTS_BYTES = 64 << 20

Params = Any


class ModelParts(NamedTuple):
    """What a model directory holds: ``Model(*parts)`` builds the :class:`~tonezoo.model.Model`."""

    config: ModelConfig
    params: Any
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", "unnamed"))


def flatten_params(params: Params) -> dict[str, np.ndarray]:
    """``params`` as a flat ``name -> float32 array`` dict (the safetensors keys; :func:`tonezoo.architectures.flatten`)."""
    return architectures.flatten(params)


def unflatten_params(flat: Mapping[str, np.ndarray], config: ModelConfig, *, where: str = "params") -> Params:
    """Check ``flat`` against ``config`` (names, shapes, finiteness) and build the pytree."""
    expected = config.param_shapes()
    missing = sorted(set(expected) - set(flat))
    extra = sorted(set(flat) - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"{where}: tensors do not match the config ({config.describe()}, {config.input_size} input(s)); "
            f"missing {missing}, unexpected {extra}")
    out: dict[str, np.ndarray] = {}
    for name, shape in expected.items():
        arr = np.asarray(flat[name])
        if arr.shape != shape:
            raise ModelFileError(f"{where}: tensor {name!r} has shape {arr.shape}, the config needs {shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise ModelFileError(f"{where}: tensor {name!r} has dtype {arr.dtype}, expected floating point")
        if not np.all(np.isfinite(arr)):
            raise ModelFileError(f"{where}: tensor {name!r} contains NaN or Inf; the model file is damaged")
        out[name] = arr.astype(np.float32)
    return architectures.unflatten(out)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def config_dict(model: Any) -> dict[str, Any]:
    """The ``config.json`` content of ``model``."""
    return {
        "format": "tonezoo-model",
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "metadata": _jsonable(model.metadata),
    }


def write_model_files(model: Any, directory: Path, *, card: bool = True) -> None:
    """Write the three files into an existing (temporary) directory."""
    from safetensors.numpy import save_file
    (directory / CONFIG_NAME).write_text(json.dumps(config_dict(model), indent=2, sort_keys=True) + "\n")
    save_file(flatten_params(model.params), str(directory / WEIGHTS_NAME), metadata={"format": "tonezoo"})
    if card:
        from .card import render_card
        (directory / CARD_NAME).write_text(render_card(model))


def save_model_dir(model: Any, directory: str | os.PathLike, *, card: bool = True) -> Path:
    """Save ``model`` to ``directory`` atomically (temp dir + rename); returns the path."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_dir():
        raise ModelFileError(f"{target}: exists and is not a directory; choose another output path")
    return write_dir_atomically(target, lambda tmp: write_model_files(model, tmp, card=card))


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, mode: int = 0o666) -> Path:
    """Write one file atomically: ``write(tmp)`` fills a temporary file beside ``path``, then ``os.replace``.

    The one file writer of tonezoo (model configs, zoo index files, exported formats,
    checkpoints, the classifier, WAV files the command line writes): a crash or an error leaves
    ``path`` as it was and no temporary file behind. Directories: :func:`write_dir_atomically`.

    ``mode``: the new file's permissions less the process's umask, as ``open`` would give them
    (default ``0o666``: a model, a WAV or an index is read by other programs and users, as any
    file the user writes; the temporary file itself is created ``0o600``).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_dir_atomically(target: Path, fill) -> Path:
    """Fill a temporary directory beside ``target`` with ``fill(tmp)``, then rename it into place.

    An existing ``target`` is replaced only once the new directory is complete; on any error the
    temporary directory is removed and ``target`` is left as it was. The directory and its files get
    the permissions ``mkdir`` and ``open`` would give them (``0o777`` / ``0o666`` less the umask), not
    the temporary folder's ``0o700`` or a writer's private ``0o600``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        fill(tmp)
        mask = _umask()
        for f in tmp.rglob("*"):      # some writers (safetensors) create their files 0o600
            if f.is_file() and not f.is_symlink():
                os.chmod(f, 0o666 & ~mask)
        os.chmod(tmp, 0o777 & ~mask)
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_versioned_json(path: Path, *, fmt: str, version: int, error: type[Exception], what: str,
                        remedy: str, max_bytes: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    """Read a tonezoo JSON document and check its ``format`` and ``format_version``.

    Parameters
    ----------
    path : Path
    fmt : str
        The expected ``"format"`` value (``"tonezoo-model"``, ``"tonezoo-zoo"``).
    version : int
        The ``format_version`` this tonezoo reads.
    error : Exception subclass
        Raised with the file name and what is wrong (ModelFileError, ZooError, ...).
    what : str
        What the document is, for messages ("model config", "zoo index").
    remedy : str
        What to do about a damaged file.
    max_bytes : int
        Larger files are refused before they are read.

    Returns
    -------
    dict, the parsed document.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise error(f"{path}: {size} bytes is too large for a {what}")
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not valid JSON, the {what} is corrupt ({e}); {remedy}") from None
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise error(f"{path}: not a tonezoo {what} (missing \"format\": \"{fmt}\")")
    if d.get("format_version") != version:
        raise error(f"{path}: {what} format_version {d.get('format_version')!r} is not supported "
                    f"(this tonezoo reads version {version}); upgrade tonezoo")
    return d


def read_config(directory: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any]]:
    """Read and validate ``config.json`` of a model directory: (config, metadata)."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise ModelFileError(f"{Path(directory)}: not a tonezoo model directory (no {CONFIG_NAME}); "
                             "import third-party files with `tonezoo import`")
    d = read_versioned_json(path, fmt="tonezoo-model", version=FORMAT_VERSION, error=ModelFileError,
                            what="model config", remedy="the file is damaged: save or pull the model again")
    try:
        config = ModelConfig.from_dict(d.get("model", {}))
    except (ConfigError, TypeError) as e:
        raise ModelFileError(f"{path}: invalid model config: {e}") from None
    metadata = d.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: \"metadata\" must be a JSON object")
    return config, metadata


def read_model_dir(directory: str | os.PathLike) -> ModelParts:
    """Read and validate a model directory: its config, params and metadata (``Model(*parts)``).

    Only JSON and safetensors are read; pickled checkpoints are never loaded.

    Raises
    ------
    ModelFileError
        Missing or damaged files, tensors that do not match the config, an unsupported version.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    directory = Path(directory)
    if not directory.exists():
        raise ModelFileError(f"{directory}: no such model directory")
    config, metadata = read_config(directory)
    wpath = directory / WEIGHTS_NAME
    if not wpath.is_file():
        pickles = [p.name for p in directory.iterdir() if p.suffix in PICKLE_SUFFIXES]
        hint = f" (found {pickles}: pickled checkpoints are never loaded)" if pickles else ""
        raise ModelFileError(f"{directory}: missing {WEIGHTS_NAME}{hint}")
    if wpath.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ModelFileError(f"{wpath}: {wpath.stat().st_size} bytes exceeds the {MAX_WEIGHTS_BYTES} byte limit")
    try:
        flat = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFileError(f"{wpath}: not a readable safetensors file ({e}); the file is damaged: save or pull the "
                             "model again") from None
    params = unflatten_params(flat, config, where=str(wpath))
    return ModelParts(config, params, metadata)


# -- training checkpoints (safetensors + JSON; never pickled) --------------------------------------------
def save_checkpoint(path: str | os.PathLike, arrays: Any, meta: dict[str, Any]) -> None:
    """Write a training checkpoint: the leaves of pytree ``arrays`` and the JSON ``meta``, each atomically."""
    import jax
    from safetensors.numpy import save_file
    path = Path(path)
    leaves = jax.tree.leaves(arrays)
    path.mkdir(parents=True, exist_ok=True)
    atomic_write(path / "state.safetensors",
                 lambda tmp: save_file({f"{i:05d}": np.asarray(a) for i, a in enumerate(leaves)}, str(tmp)))
    atomic_write(path / "state.json", lambda tmp: tmp.write_text(json.dumps(meta, indent=1)))


def load_checkpoint(path: str | os.PathLike, like: Any) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint` into the structure of pytree ``like``.

    Raises
    ------
    TrainingError
        Unreadable, or made for another run (array count or shapes differ).
    """
    import jax
    import jax.numpy as jnp
    from safetensors.numpy import load_file
    path = Path(path)
    try:
        meta = json.loads((path / "state.json").read_text())
        flat = load_file(str(path / "state.safetensors"))
    except (OSError, ValueError) as e:
        raise TrainingError(f"{path}: cannot read the training checkpoint ({e}); start without resume") from None
    leaves, treedef = jax.tree.flatten(like)
    if len(flat) != len(leaves):
        raise TrainingError(f"{path}: the checkpoint holds {len(flat)} arrays, this run needs {len(leaves)}; "
                            "it was made with other settings; start without resume")
    new = []
    for i, ref in enumerate(leaves):
        a = flat[f"{i:05d}"]
        if a.shape != np.shape(ref):
            raise TrainingError(f"{path}: checkpoint array {i} has shape {a.shape}, expected {np.shape(ref)}")
        new.append(jnp.asarray(a, dtype=jnp.asarray(ref).dtype))
    return jax.tree.unflatten(treedef, new), meta
