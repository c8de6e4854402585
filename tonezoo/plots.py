"""Figures: training loss curves and the spectral transfer of a capture against suggested models.

Library code draws on a :class:`matplotlib.figure.Figure` with the Agg canvas directly and never
calls ``matplotlib.use``: the process's plotting backend (a notebook's, a GUI's) is left alone.
Nothing here imports the rest of tonezoo: callers pass the numbers to draw.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["plot_history", "plot_transfer_curves"]


def _figure(size: tuple[float, float], dpi: int = 110):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike, dpi: int | None = None) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi) if dpi else fig.savefig(out)
    return out


def plot_history(results: Any, path: str | os.PathLike, *, title: str | None = None,
                 metric: str = "val_loss") -> Path:
    """Validation loss against epoch, one line per run (the article's Figures 1-4), log scale.

    Parameters
    ----------
    results : TrainResult or mapping label -> TrainResult
        Anything with ``history`` (rows with ``epoch`` and ``metric``) and ``best_epoch``.
    path : output image path (png, svg, pdf)
    title : str, optional
    metric : "val_loss" or "val_esr"

    Returns
    -------
    Path of the written image.
    """
    if not isinstance(results, Mapping):
        results = {"training": results}
    fig = _figure((7, 4))
    ax = fig.add_subplot()
    for label, res in results.items():
        pts = [(h["epoch"], h[metric]) for h in res.history if h.get(metric) is not None]
        if not pts:
            continue
        e, v = zip(*pts)
        line, = ax.plot(e, v, label=f"{label} (best {min(v):.4f})")
        ax.scatter([res.best_epoch], [getattr(res, "best_" + metric)], color=line.get_color(), s=18, zorder=3)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))        # epochs are whole numbers
    ax.set_ylabel("validation loss" if metric == "val_loss" else "validation ESR")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_transfer_curves(centres: np.ndarray, capture_curve: tuple[str, np.ndarray],
                         model_curves: Sequence[tuple[str, np.ndarray]], path: str | os.PathLike) -> Path:
    """Mel-band spectral transfer (dB, output over input) of a capture and of models on the same input.

    Parameters
    ----------
    centres : np.ndarray [shape=(n_bands,)]
        Band centre frequencies in Hz.
    capture_curve : (label, np.ndarray [shape=(n_bands,)])
        The capture's transfer, drawn as a solid line.
    model_curves : sequence of (label, np.ndarray [shape=(n_bands,)])
        Each model's transfer, dashed (:func:`tonezoo.zoo.select.transfer_curves` computes them).
    path : output image path

    Returns
    -------
    Path of the written image.
    """
    fig = _figure((8, 4.5))
    ax = fig.add_subplot()
    label, curve = capture_curve
    ax.semilogx(centres, curve, "k-", lw=2.5, label=label)
    for label, curve in model_curves:
        ax.semilogx(centres, curve, "--", lw=1.5, label=label)
    ax.set_xlabel("frequency (Hz, mel band centres)")
    ax.set_ylabel("output / input (dB)")
    ax.set_title("spectral transfer: capture vs suggested models")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path, dpi=110)
