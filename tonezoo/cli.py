"""The ``tonezoo`` command: a thin layer over the library.

Each group of sub-commands lives in ``tonezoo/_cli/<area>.py`` and exposes
``register(subparsers)``; a sub-command's handler takes the parsed ``argparse.Namespace`` and
returns an exit code. Exit codes: 0 ok, 2 bad input (a :class:`~tonezoo.errors.TonezooError`
or a usage error, with its message), 1 an unexpected bug, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

__all__ = ["main", "build_parser", "enable_compile_cache"]

_COMMAND_MODULES = ("train", "capture", "devices", "formats", "zoo", "hub")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="tonezoo",
        description="Neural captures of guitar pedals and amps, started from the closest pretrained model.")
    parser.add_argument("--version", action="version", version=f"tonezoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"._cli.{name}", __package__)
        except ModuleNotFoundError as e:
            if e.name and e.name.endswith(f"_cli.{name}"):
                continue  # that group is not built yet
            raise
        module.register(sub)
    return parser


def enable_compile_cache() -> str | None:
    """Persist compiled XLA programs between CLI calls (cuts the cold-start cost of every command).

    The one compile-cache switch of tonezoo; only the command line calls it (the library leaves
    JAX's configuration alone). ``TONEZOO_CACHE`` is the cache directory, or ``off`` (also ``0``,
    ``no``, ``false``) to compile afresh every time; unset, an explicit ``JAX_COMPILATION_CACHE_DIR``
    is used, else ``$XDG_CACHE_HOME/tonezoo/jax`` (``~/.cache/tonezoo/jax``).

    Returns
    -------
    str or None
        The cache directory in use, None when the cache is off or cannot be used (a read-only
        home: then everything compiles as usual).
    """
    import os
    where = os.environ.get("TONEZOO_CACHE", "").strip()
    if where.lower() in ("off", "0", "no", "false"):
        return None
    where = where or os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "tonezoo", "jax")
    try:
        os.makedirs(where, exist_ok=True)
    except OSError:
        return None
    if "jax" in sys.modules:             # already imported (tonezoo.cli.main called in-process)
        import jax
        jax.config.update("jax_compilation_cache_dir", where)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    else:                                # read by jax when it is imported
        os.environ["JAX_COMPILATION_CACHE_DIR"] = where
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
    return where


class _PipeSafeStdout:
    """``sys.stdout`` that keeps a command running when its reader goes away (``tonezoo ... | head``).

    Lines go out as they are printed (line-buffered, also into a pipe). On a broken pipe the rest of
    the output goes to ``os.devnull``: the command finishes its work (a training run, a file being
    written) instead of ending in a ``BrokenPipeError`` traceback.
    """

    def __init__(self, stream):
        self._stream = stream
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass

    def _detach(self) -> None:
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._detach()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._detach()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import TonezooError
    if not isinstance(sys.stdout, _PipeSafeStdout) and hasattr(sys.stdout, "fileno"):
        try:
            sys.stdout.fileno()
            sys.stdout = _PipeSafeStdout(sys.stdout)
        except (OSError, ValueError, AttributeError):       # no real file behind stdout (captured in tests)
            pass
    enable_compile_cache()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TonezooError as e:
        print(f"tonezoo {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
