"""Which selection-benchmark targets does the level-matched stage 1 change?

For every target of ``benchmarks/selection.py`` (the same capture, through WAV files and
``load_capture``), ``Zoo.suggest`` runs twice: stage 1 at the capture's DI level (the default)
and at the standard probe's own level (``at_level=False``, as before zoo fingerprints had levels).
Both keep, as the benchmark does, the first suggestion's architecture and the top 5 (the oracle
pool's suggestions; transfer races the top 3). A target whose top 5 is the same in both runs
trains exactly as before, so only the others need the benchmark again
(``selection.py --half X --only NAME ...``). No training here: about 20 s per target.

Usage::

    python benchmarks/selection_stage1.py [--out benchmarks/results/selection_levels_replay.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import selection as S  # noqa: E402

from tonezoo import embed  # noqa: E402
from tonezoo.zoo import Zoo  # noqa: E402


def top_ids(zoo: Zoo, cap, *, at_level: bool, pool: int = 5) -> list[str]:
    """The pool's suggestions as ``selection.evaluate`` takes them (the first suggestion's architecture)."""
    sugg = zoo.suggest(cap, top=pool + 8, at_level=at_level)
    group = S._arch_key(zoo.entry(sugg[0].id).config)
    return [s.id for s in sugg if S._arch_key(zoo.entry(s.id).config) == group][:pool]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "selection_levels_replay.json"))
    ap.add_argument("--seconds", type=float, default=S.default_budget(False)["seconds"])
    args = ap.parse_args(argv)
    zoo = Zoo.default()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in S.targets(quick=False):
            cap = S.capture_through_wav(t, args.seconds, Path(tmp))
            if cap is None:
                continue
            old, new = top_ids(zoo, cap, at_level=False), top_ids(zoo, cap, at_level=True)
            row = dict(name=t["name"], half=t["half"], level=round(embed.input_level_db(cap.x), 1), old=old,
                       new=new, top3_changed=old[:3] != new[:3], top5_changed=old != new)
            rows.append(row)
            print(f"[{t['half']}] {t['name']:<45} DI {row['level']:6.1f} dBFS  "
                  f"{'top 5 changed' if row['top5_changed'] else 'same'}", flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    for h in ("A", "B"):
        changed = [r["name"] for r in rows if r["half"] == h and r["top5_changed"]]
        print(f"half {h}: top 5 changed on {len(changed)} of {sum(r['half'] == h for r in rows)}: {' '.join(changed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
