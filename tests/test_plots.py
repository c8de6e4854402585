"""tonezoo.plots: figures are written without touching the process's matplotlib backend."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from tonezoo.plots import plot_history, plot_transfer_curves


class _Run:
    def __init__(self, values):
        self.history = [{"epoch": i, "val_loss": v, "val_esr": v} for i, v in enumerate(values)]
        self.best_epoch = int(np.argmin(values))
        self.best_val_loss = self.best_val_esr = float(min(values))


def test_plots_write_images(tmp_path):
    out = plot_history({"scratch": _Run([0.5, 0.2, 0.3]), "transfer": _Run([0.1, 0.05])}, tmp_path / "a" / "l.png",
                       title="t", metric="val_esr")
    assert out.read_bytes()[:4] == b"\x89PNG"
    f = np.geomspace(50, 15000, 20)
    out = plot_transfer_curves(f, ("capture", np.zeros(20)), [("#1 m", np.ones(20))], tmp_path / "t.png")
    assert out.stat().st_size > 1000


def test_library_plotting_leaves_the_backend_alone(tmp_path):
    code = ("import matplotlib; matplotlib.use('svg'); from tonezoo.plots import plot_history; "
            "import numpy as np\n"
            "class R:\n history=[{'epoch': 0, 'val_loss': 1.0}, {'epoch': 1, 'val_loss': 0.5}]; best_epoch=1; "
            "best_val_loss=0.5\n"
            f"plot_history(R(), {str(tmp_path / 'x.png')!r}); print(matplotlib.get_backend())")
    env_out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert env_out.returncode == 0, env_out.stderr
    assert env_out.stdout.strip() == "svg" and (tmp_path / "x.png").is_file()
