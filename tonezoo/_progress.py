"""Progress displays: a training run (epoch, loss, best validation ESR, learning rate, time left), counted items."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "Counter", "duration_text", "count_text"]


def _terminal_bar(label: str, total: int, *, info: bool, transient: bool):
    """A started-later rich bar and its task on stderr when it is a terminal, else ``(None, None)``."""
    from rich.console import Console
    console = Console(stderr=True)
    if not console.is_terminal:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn("{task.fields[info]}")] if info else []
    bar = Progress(*columns, TimeRemainingColumn(), transient=transient, console=console)
    return bar, bar.add_task(label, total=total, **({"info": ""} if info else {}))


def count_text(n: int, noun: str, word: str = "") -> str:
    """A count with its noun in the number it takes: ``"1 epoch"``, ``"3 epochs"``, ``"1 model"``;
    with ``word`` between them, ``"3 more epochs"``. ``noun`` is the singular; its plural adds an s."""
    return f"{n} {word + ' ' if word else ''}{noun}{'s' * (n != 1)}"


def duration_text(seconds: float) -> str:
    """A time as a person reads it: "0.4 s", "40 s", "2.5 min", "1.8 h"."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class Progress:
    """Progress of a training run: a rich bar on a terminal, plain lines otherwise (logs, CI).

    Shows epoch, training loss, best validation ESR, learning rate and the estimated time left.
    """

    def __init__(self, enabled: bool, total: int, label: str, every: int = 10):
        self.enabled, self.total, self.label, self.every = enabled, total, label, every
        if not enabled:
            return
        self.t0 = time.perf_counter()
        self.start_epoch: int | None = None
        self.bar, self.task = _terminal_bar(label, total, info=True, transient=False)
        self.live = self.bar is not None
        if self.live:
            self.bar.start()

    def update(self, epoch: int, info: str) -> None:
        if not self.enabled:
            return
        if self.start_epoch is None:
            self.start_epoch, self.t0 = epoch, time.perf_counter()
        if self.live:
            self.bar.update(self.task, completed=epoch, info=info)
        elif info and (epoch % self.every == 0 or epoch == self.total):
            done = epoch - self.start_epoch
            rate = (time.perf_counter() - self.t0) / max(done, 1)
            left = (f"at most {duration_text(rate * (self.total - epoch))} left" if epoch < self.total
                    else f"{duration_text(time.perf_counter() - self.t0)} in all")
            print(f"{self.label}: epoch {epoch}/{self.total}  {info}  ({rate:.2f} s/epoch, {left})",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled and self.live:
            self.bar.stop()


class Counter:
    """Progress of work counted in items (models fingerprinted): a rich bar on a terminal, lines otherwise.

    Use as a context manager; call it with the number of items just done.
    """

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label, self.done = enabled and total > 0, total, label, 0
        self.bar, self.task = _terminal_bar(label, total, info=False, transient=True) if self.enabled else (None, None)

    def __enter__(self) -> "Counter":
        if self.bar is not None:
            self.bar.start()
        return self

    def __call__(self, n: int) -> None:
        if not self.enabled:
            return
        self.done += n
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)
        else:
            print(f"{self.label}: {self.done}/{self.total}", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
