"""Ctrl-C on the command line: stop the current phase, keep what was trained, exit 130.

The training loop already turns a ``KeyboardInterrupt`` into a clean stop that returns the best
model so far. A run has several phases though (loading, the ``--from auto`` race, the winner's run,
a zoo build): :class:`Interrupts` remembers that Ctrl-C was pressed, so that a later phase does not
start anyway, and so that the command exits 130 rather than 0 (scripts can tell an interrupted run
from a finished one).
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

__all__ = ["Interrupts"]


class Interrupts:
    """Context manager: a SIGINT handler that records each Ctrl-C and raises ``KeyboardInterrupt``.

    Attributes
    ----------
    count : int
        Ctrl-C presses seen inside the block.
    """

    def __init__(self) -> None:
        self.count = 0
        self.defer = False
        self._previous: Any = None
        self._installed = False

    @property
    def seen(self) -> bool:
        return self.count > 0

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.defer and self.count == 1:
            # inside a training run: stop at the end of the running epoch (the epoch program donates its
            # buffers, so an exception in the middle of it would lose the weights); a second Ctrl-C
            # stops at once
            import sys
            print("stopping at the end of this epoch (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)
            return
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed (call between phases and epochs)."""
        if self.count:
            raise KeyboardInterrupt

    def deferred(self) -> "_Deferred":
        """``with stop.deferred():`` a first Ctrl-C is only recorded; :meth:`check` raises it later."""
        return _Deferred(self)

    def epoch_callback(self, then: Callable[[int, list[dict]], None] | None = None
                       ) -> Callable[[int, list[dict]], None]:
        """An ``epoch_callback`` for :func:`tonezoo.train` that stops a phase started after a Ctrl-C."""
        def callback(epoch: int, rows: list[dict]) -> None:
            self.check()
            if then is not None:
                then(epoch, rows)
        return callback

    def __enter__(self) -> "Interrupts":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: Any) -> bool:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
        if exc[0] is KeyboardInterrupt:
            self.count = max(self.count, 1)
        return False


class _Deferred:
    def __init__(self, owner: Interrupts):
        self.owner = owner

    def __enter__(self) -> Interrupts:
        self.owner.defer = True
        return self.owner

    def __exit__(self, *exc: Any) -> bool:
        self.owner.defer = False
        return False
