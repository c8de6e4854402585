"""``tonezoo suggest``, ``tonezoo zoo list|add|remove|init|build|refresh|pull`` and ``tonezoo demo``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from .._progress import count_text
from ._common import capture_options, epochs_text, load_capture_args, race_line, zoo_text
from ._outputs import check_own_dir_output

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "suggest", parents=[capture_options()], help="rank the zoo's models as starting points for a capture",
        description="Fingerprint the capture, shortlist the nearest zoo models, re-rank them by zero-shot ESR "
                    "on the capture's own audio, and print the ranking with reasons.")
    p.add_argument("input", help="dry input (DI) WAV")
    p.add_argument("target", help="device output WAV")
    p.add_argument("--zoo", default=None, help="zoo directory (default: the bundled zoo)")
    p.add_argument("--top", type=int, default=5, help="suggestions to show (default 5)")
    p.add_argument("--shortlist", type=int, default=16,
                   help="how many fingerprint neighbours (stage 1) are re-ranked by zero-shot ESR on the capture "
                        "(default 16)")
    p.add_argument("--json", action="store_true", help="end with one JSON line: {pick, candidates}")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="plot the capture's mel-band transfer against the top candidates'")
    p.set_defaults(func=run_suggest)

    z = subparsers.add_parser("zoo", help="manage a zoo directory (list, add, remove, init, build, refresh, pull)",
                              description="A zoo is a folder of models with their fingerprints (index.json, "
                                          "fingerprints.npy), which 'tonezoo suggest' and 'tonezoo train --from "
                                          "auto' search. Without --zoo, list reads the bundled zoo.")
    zs = z.add_subparsers(dest="zoo_command", metavar="ACTION")
    zl = zs.add_parser("list", help="list the models of a zoo")
    zl.add_argument("--zoo", default=None, help="zoo directory (default: the bundled zoo)")
    zl.add_argument("--category", default=None, metavar="CATEGORY",
                    help="only the entries of this category (overdrive, distortion, fuzz, boost, compressor, "
                         "amp-clean, amp-crunch, amp-highgain, or unknown)")
    zl.add_argument("--json", action="store_true", help="print the entries as one JSON array instead of the table")
    zl.set_defaults(func=run_list)
    za = zs.add_parser("add", help="add model directories or model files (AGAM/NeuralPi/Proteus, AIDA-X, NAM)")
    za.add_argument("models", nargs="+", help="model directories or files")
    za.add_argument("--zoo", required=True, help="zoo directory (created if missing)")
    za.add_argument("--id", default=None, help="entry id (one model only)")
    za.add_argument("--name", default=None, help="display name (one model only)")
    za.add_argument("--category", default=None, help="device category (default: the model's metadata)")
    za.add_argument("--sample-rate", type=int, default=None, help="sample rate for files that do not say")
    za.set_defaults(func=run_add)
    zr = zs.add_parser("remove", help="remove models from a zoo")
    zr.add_argument("ids", nargs="+", metavar="ID", help="entry ids ('tonezoo zoo list --zoo DIR' shows them)")
    zr.add_argument("--zoo", required=True, help="zoo directory")
    zr.set_defaults(func=run_remove)
    zi = zs.add_parser("init", help="create an empty zoo (or a copy of the bundled one)")
    zi.add_argument("directory", metavar="DIR", nargs="?", default=None,
                    help="folder for the new zoo (created if missing)")
    zi.add_argument("--zoo", default=None, metavar="DIR", help="the same folder, spelled as the other zoo actions "
                    "take it")
    zi.add_argument("--copy-default", action="store_true", help="start from a copy of the bundled zoo")
    zi.set_defaults(func=run_init)
    zb = zs.add_parser("build", help="train a zoo from the virtual devices (the bundled zoo's recipe)")
    zb.add_argument("--from-devices", required=True, metavar="DIR", help="output zoo directory")
    zb.add_argument("--seconds", type=float, default=15.0, help="audio per device (default 15)")
    zb.add_argument("--epochs", type=int, default=200, help="maximum epochs per model (default 200)")
    zb.add_argument("--group", type=int, default=13, help="models trained side by side (default 13)")
    zb.add_argument("--only", nargs="*", default=None, metavar="ID", help="build only these plan entries")
    zb.add_argument("--retry-above", type=float, default=None, metavar="ESR",
                    help="give entries whose validation ESR is above this a second, longer run")
    zb.add_argument("--retry-seconds", type=float, default=24.0, help="audio per device in the second run")
    zb.add_argument("--retry-epochs", type=int, default=250, help="maximum epochs in the second run")
    zb.set_defaults(func=run_build)
    zf = zs.add_parser("refresh", help="recompute every fingerprint (after upgrading tonezoo)")
    zf.add_argument("--zoo", required=True, help="zoo directory")
    zf.set_defaults(func=run_refresh)
    zp = zs.add_parser("pull", help="add the tonezoo models listed on the Hugging Face Hub")
    zp.add_argument("--zoo", required=True, help="zoo directory (created if missing)")
    zp.add_argument("--filter", action="append", default=None, help="required tag (repeatable; default tonezoo)")
    zp.add_argument("--search", default=None, help="only repositories whose name contains this text")
    zp.add_argument("--author", default=None, help="only repositories of this user or organisation")
    zp.add_argument("--limit", type=int, default=None, help="at most this many repositories")
    zp.set_defaults(func=run_pull)
    z.set_defaults(func=lambda a: (z.print_help(), 2)[1])

    d = subparsers.add_parser(
        "demo", help="suggest + fine-tune vs scratch on a virtual device that is not in the zoo",
        description="Render a capture from a virtual device the default zoo has never seen, pick a starting "
                    "model, and compare fine-tuning from it with training from scratch on the same budget.")
    d.add_argument("--device", default="mt2-like",
                   help="held-out virtual device (default mt2-like, the article's MT-2 target)")
    d.add_argument("--seconds", type=float, default=12.0, help="capture length (default 12)")
    d.add_argument("--epochs", type=int, default=25, help="epochs for each run (default 25)")
    d.add_argument("--zoo", default=None, help="zoo directory (default: the bundled zoo)")
    d.add_argument("-o", "--output", "--out", dest="out", default="tonezoo-demo", metavar="DIR",
                   help="output directory for the capture, both models, loss.png and summary.json (default "
                        "tonezoo-demo; a rerun replaces the demo's own files there, and a folder holding other "
                        "files is refused)")
    d.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=run_demo)


# -- helpers ------------------------------------------------------------------------------------
def _open_zoo(path: str | None, *, create: bool = False):
    from ..zoo import Zoo
    return Zoo.open(path, create=create) if path else Zoo.default()


class _TrimmedStdout:
    """``sys.stdout`` (looked up at each write, as pytest's capture swaps it) without the spaces rich
    leaves at the end of a line it wraps."""

    def write(self, text: str) -> int:
        import re
        sys.stdout.write(re.sub(r"[ \t]+(?=\n)", "", text))
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return sys.stdout.isatty()

    def fileno(self) -> int:
        return sys.stdout.fileno()

    @property
    def encoding(self) -> str:
        return getattr(sys.stdout, "encoding", None) or "utf-8"


def _console():
    """A rich console; off a terminal (pipes, logs) as wide as ``$COLUMNS`` says, else 100 columns.

    Every part of a command's output (titles, tables, captions, text) is laid out for this one
    width; no line ends in spaces.
    """
    import os
    from rich.console import Console
    con = Console(highlight=False, file=_TrimmedStdout())
    if con.is_terminal:
        return con
    try:
        width = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        width = 0
    return Console(highlight=False, file=_TrimmedStdout(), width=width if width >= 40 else 100)


def _fmt(v: Any, spec: str = ".4f") -> str:
    return "-" if v is None else format(v, spec)


#: Columns of the ranking that give way, in this order, when a terminal is too narrow for the ids
#: to be shown whole; what a dropped column held is then said in the row's "why" line.
_DROPPABLE = ("name", "ESR as is", "fingerprint", "category")


def _suggestion_columns(sugg: Sequence[Any], width: int) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """The ranking's columns that fit in ``width`` with every id whole, and the names of those left out.

    Returns ``([(name, justify, cells), ...], dropped)``. The id column never wraps; a narrow
    terminal drops whole columns (:data:`_DROPPABLE`) rather than break an id or a figure.
    """
    staged = any(s.matched_esr is not None for s in sugg)
    cols = [("#", "right", [str(s.rank) for s in sugg]), ("model", "left", [s.id for s in sugg])]
    if any(s.name not in ("", s.id) for s in sugg):
        cols.append(("name", "left", ["" if s.name in ("", s.id) else s.name for s in sugg]))
    cols += [("category", "left", [s.category for s in sugg]),
             ("fingerprint", "right", [f"#{s.fingerprint_rank} {s.distance:.2f}" for s in sugg])]
    if staged:
        cols += [("ESR matched", "right", [_fmt(s.matched_esr) for s in sugg]),
                 ("ESR as is", "right", [_fmt(s.zero_shot_esr) for s in sugg])]

    def needed(columns) -> int:          # content + one space each side + the rules between and around
        return sum(max([len(c) for c in cells] + [len(w) for w in _header(name).split("\n")])
                   + 3 for name, _, cells in columns) + 1

    dropped: list[str] = []
    for name in _DROPPABLE:
        if needed(cols) <= width:
            break
        if any(c[0] == name for c in cols):
            cols = [c for c in cols if c[0] != name]
            dropped.append(name)
    return cols, dropped


def _header(name: str) -> str:
    """A column's heading: the ESR columns on two lines, as narrow as their figures."""
    return name.replace("ESR ", "ESR\n")


def _suggestion_table(sugg: Sequence[Any], title: str, width: int = 100):
    """The ranking, one line per model: sorted by the score it shows (the level/polarity-matched
    zero-shot ESR when stage 2 ran, else the fingerprint distance); the raw zero-shot ESR is shown
    beside it, labelled. Reasons are printed under the table (:func:`_why`).

    The title above the table and the caption under it are plain text, wrapped at the console's
    width like every other line of the output (a table's own title and caption would wrap at the
    table's width, and be padded to it).

    Returns
    -------
    (rich.console.Group, list of str)
        Title, table and caption, and the columns left out to fit ``width`` (:func:`_suggestion_columns`).
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text
    t = Table(show_lines=False)
    staged = any(s.matched_esr is not None for s in sugg)
    cols, dropped = _suggestion_columns(sugg, width)
    for name, justify, cells in cols:
        # ids and figures are never cut or wrapped; a display name wraps in a narrow terminal
        wraps = name == "name"
        t.add_column(_header(name), justify=justify, no_wrap=not wraps, overflow="fold",
                     min_width=None if wraps else max(len(c) for c in cells),
                     style="bold" if name == "ESR matched" or (name == "fingerprint" and not staged) else None)
    for i in range(len(sugg)):
        t.add_row(*[cells[i] for _, _, cells in cols])
    caption = ("sorted by ESR matched: zero-shot ESR on the capture after matching output level and polarity "
               "(learned in the first epochs of fine-tuning); fingerprint: stage-1 rank and distance"
               if staged else "sorted by fingerprint distance (stage 1 only)")
    return Group(Text(title), t, Text(caption)), dropped


def _who(ranks: Sequence[int], n: int) -> str:
    """``"all"``, ``"all but #3"`` or ``"#1, #2"``: the rows (of ``n``) a shared remark is about."""
    if len(ranks) == n:
        return "all"
    if len(ranks) > n / 2:
        return "all but " + ", ".join(f"#{r}" for r in range(1, n + 1) if r not in ranks)
    return ", ".join(f"#{r}" for r in ranks)


def _why(sugg: Sequence[Any], dropped: Sequence[str] = (), width: int = 100):
    """The reasons under the ranking, saying per row only what differs between the rows.

    Each row names the fingerprint feature group in which the model is closest to the capture,
    what a column left out of the table held (``dropped``), and its notes (a resampled capture,
    knob values); a furthest group or a note shared by two or more rows is said once, on a line of
    its own.

    Returns
    -------
    rich.text.Text
        Two columns (who, what) as plain lines of at most ``width`` characters (:func:`_hanging`):
        wrapped text stays aligned in a narrow terminal, and no line ends in padding.
    """
    from collections import Counter
    from rich.text import Text
    n = len(sugg)
    far, far_count = Counter(s.furthest for s in sugg).most_common(1)[0] if n else ("", 0)
    far_shared = far_count >= 2
    notes = Counter(note for s in sugg for note in dict.fromkeys(s.notes))
    shared = [note for note, count in notes.items() if count >= 2]
    rows: list[tuple[str, str]] = []
    for s in sugg:
        parts = [f"closest in {s.closest}"]
        if s.furthest != far or not far_shared:
            parts.append(f"furthest in {s.furthest}")
        if "name" in dropped and s.name not in ("", s.id):
            parts.insert(0, f"name {s.name}")
        if "category" in dropped:
            parts.append(s.category)
        if "fingerprint" in dropped:
            parts.append(f"fingerprint #{s.fingerprint_rank}, distance {s.distance:.2f}")
        if "ESR as is" in dropped and s.zero_shot_esr is not None:
            parts.append(f"ESR as is {s.zero_shot_esr:.4f}")
        parts += [note for note in dict.fromkeys(s.notes) if note not in shared]
        rows.append((f"  #{s.rank} {s.id}", "; ".join(parts)))
    if far_shared:
        rows.append((f"  {_who([s.rank for s in sugg if s.furthest == far], n)}", f"furthest in {far}"))
    for note in shared:
        rows.append((f"  {_who([s.rank for s in sugg if note in s.notes], n)}", note))
    return Text("\n".join(_hanging(rows, width)))


def _hanging(rows: Sequence[tuple[str, str]], width: int, *, gap: int = 2, least: int = 20) -> list[str]:
    """Two columns as plain lines of at most ``width`` characters, none padded at its end.

    The first column (an id) is never broken; the second starts ``gap`` characters after the
    widest first cell and wraps between words (never inside one, nor at a hyphen) under its own
    first line. When that leaves fewer than ``least`` characters, the second column goes on the
    lines below the first, indented by 4.
    """
    import textwrap
    lead = max((len(who) for who, _ in rows), default=0) + gap
    beside = width - lead >= least
    out: list[str] = []
    for who, what in rows:
        lines = textwrap.wrap(what, (width - lead) if beside else (width - 4), break_long_words=False,
                              break_on_hyphens=False) or [""]
        if beside:
            out += [(who.ljust(lead) + lines[0]).rstrip(), *(" " * lead + ln for ln in lines[1:])]
        else:
            out += [who, *("    " + ln for ln in lines)]
    return out


def _parse_knobs(items: Sequence[str]) -> dict[str, float]:
    from .train import parse_knobs
    return parse_knobs(items)


# -- suggest --------------------------------------------------------------------------------------
def run_suggest(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    if args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}")
    if args.shortlist < 0:
        raise ConfigError(f"--shortlist must be 0 (fingerprint distance only) or more, got {args.shortlist}")
    plot_path = None
    if args.plot:
        from ._outputs import PLOT_SUFFIXES, check_file_output
        plot_path = check_file_output(args.plot, "--plot", suffixes=PLOT_SUFFIXES, create_parent=True)
    capture = load_capture_args(args, command="suggest")
    zoo = _open_zoo(args.zoo)
    from ..audio import level_text
    from ..embed import input_levels
    peak, level = input_levels(capture.x)     # stage 1 compares the zoo's fingerprints at the RMS level
    sugg = zoo.suggest(capture, top=args.top, shortlist=args.shortlist, level_db=level)
    con = _console()
    table, dropped = _suggestion_table(sugg, f"starting models for {Path(args.target).name} "
                                             f"({capture.duration:.1f} s, {capture.sample_rate} Hz; DI: "
                                             f"{level_text(peak, level)}) from {zoo_text(zoo)}", width=con.width)
    con.print(table)
    con.print("why (the fingerprint's feature groups):")
    con.print(_why(sugg, dropped, width=con.width))
    guess = _device_kind(capture)
    if guess is not None:
        others = ", ".join(f"{c} {p:.0%}" for c, p in guess.top(3)[1:])
        con.print(f"device kind: [bold]{guess.category}[/bold] ({guess.confidence:.0%}; then {others}) "
                  "-- the device-kind classifier's call, apart from the ranking above")
    pick = sugg[0]
    named = "" if pick.name in ("", pick.id) else f"{pick.name}, "
    from .train import DEFAULT_RACE, arch_name
    group = arch_name(zoo.entry(pick.id).config)
    mixed = any(arch_name(zoo.entry(s.id).config) != group for s in sugg[:DEFAULT_RACE])
    whom = (f"the {DEFAULT_RACE} best {group} models (the pick's architecture; --arch ARCH chooses another)" if mixed
            else f"the top {DEFAULT_RACE}")
    con.print(f"pick: [bold]{pick.id}[/bold] ({named}{pick.category}); 'tonezoo train ... --from auto' races {whom} "
              "for a quarter of its epochs (at most 8) and fine-tunes the best")
    if plot_path is not None:
        path = plot_transfer(zoo, capture, sugg[:min(3, len(sugg))], plot_path)
        con.print(f"plot written to {path}")
    if args.json:
        payload = {"pick": sugg[0].id, "device_kind": None if guess is None else guess.to_dict(), "candidates": [
            {"id": s.id, "name": s.name, "category": s.category, "distance": round(s.distance, 4),
             "zero_shot_esr": s.zero_shot_esr, "matched_esr": s.matched_esr, "score": s.score,
             "reason": s.reason} for s in sugg]}
        sys.stdout.flush()
        print(json.dumps(payload), flush=True)
    return 0


def _device_kind(capture):
    """The device-kind classifier's guess for the capture (None when no classifier is bundled)."""
    from ..classify import classify_capture
    from ..errors import ModelFileError
    try:
        return classify_capture(capture)
    except ModelFileError:
        return None


def plot_transfer(zoo, capture, suggestions: Sequence[Any], path: str | Path) -> Path:
    """Mel-band spectral transfer of the capture against each suggested model run on the same input."""
    from ..plots import plot_transfer_curves
    from ..zoo.select import transfer_curves
    return plot_transfer_curves(*transfer_curves(zoo, capture, suggestions), path)


# -- zoo management ----------------------------------------------------------------------------------
def run_list(args: argparse.Namespace) -> int:
    from rich.table import Table
    from ..zoo import entries_table
    from ..devices import CATEGORIES
    from ..errors import ConfigError
    if args.category is not None and args.category not in (*CATEGORIES, "unknown"):
        raise ConfigError(f"unknown category {args.category!r}; valid categories: {', '.join(CATEGORIES)}, unknown")
    zoo = _open_zoo(args.zoo)
    rows = entries_table(zoo.list(category=args.category))
    if args.json:
        print(json.dumps(rows))
        return 0
    kind = f"{args.category} " if args.category else ""
    title = f"{len(rows)} {kind}model{'s' * (len(rows) != 1)} in {zoo_text(zoo)}"
    cells = [[r["id"], "" if r["name"] == r["id"] else r["name"], r["category"], r["knobs"], str(r["rate"]),
              r["arch"], _fmt(r["val_esr"])] for r in rows]
    con = _console()
    names, shown, dropped = _list_columns(cells, con.width)
    t = Table()
    for i in shown:
        # the id is what other commands take, and the short fixed columns (category, rate, architecture,
        # ESR) read badly broken: never wrapped; the name and knobs wrap between words, never inside one
        wraps = names[i] in _LIST_WRAPS
        t.add_column(names[i], no_wrap=not wraps, overflow="fold",
                     min_width=_list_width(cells, i, names[i], wraps))
    for c in cells:
        t.add_row(*[c[i] for i in shown])
    from rich.text import Text
    con.print(Text(title))
    con.print(t)
    if dropped:
        con.print(Text(f"left out to fit {con.width} columns: {', '.join(dropped)} ('--json' gives every field)"))
    return 0


#: Columns of ``zoo list`` that wrap between words; the others are never broken.
_LIST_WRAPS = ("name", "knobs")
#: Columns of ``zoo list`` that give way, in this order, when a terminal is too narrow for the table;
#: the id and the architecture are always shown.
_LIST_DROPPABLE = ("knobs", "name", "rate", "val_esr", "category")


def _list_width(cells: Sequence[Sequence[str]], i: int, name: str, wraps: bool) -> int:
    """Column ``i``'s least width: its longest word when it wraps, else its widest cell (or heading)."""
    texts = [w for c in cells for w in c[i].split()] if wraps else [c[i] for c in cells]
    return max([len(x) for x in texts] + [len(name)])


def _list_columns(cells: Sequence[Sequence[str]], width: int) -> tuple[tuple[str, ...], list[int], list[str]]:
    """``zoo list``'s columns: ``(names, indices shown, names left out to fit width)``.

    The name and knobs columns are shown only when some entry has one. Columns are left out
    (:data:`_LIST_DROPPABLE`) until the table fits ``width`` with no cell broken inside a word.
    """
    names = ("id", "name", "category", "knobs", "rate", "arch", "val_esr")
    shown = [i for i, col in enumerate(names) if col not in _LIST_WRAPS or any(c[i] for c in cells)]

    def needed(cols: Sequence[int]) -> int:     # content + one space each side + the rules between and around
        return sum(_list_width(cells, i, names[i], names[i] in _LIST_WRAPS) + 3 for i in cols) + 1

    dropped: list[str] = []
    for col in _LIST_DROPPABLE:
        if needed(shown) <= width:
            break
        if names.index(col) in shown:
            shown.remove(names.index(col))
            dropped.append(col)
    return names, shown, dropped


def run_add(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    if len(args.models) > 1 and (args.id or args.name):
        raise ConfigError("--id and --name apply to a single model; add the models one at a time")
    zoo = _open_zoo(args.zoo, create=True)
    n = len(args.models)
    entries = zoo.add_many(args.models, ids=[args.id] * n, names=[args.name] * n,
                           categories=[args.category] * n, sample_rate=args.sample_rate, progress=True)
    for e in entries:
        cat = e.category if e.category_confidence is None else \
            f"{e.category}, inferred by the device-kind classifier at {e.category_confidence:.0%}"
        print(f"added {e.id} ({e.name}, {cat}, {e.sample_rate} Hz) to {zoo.directory}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    zoo = _open_zoo(args.zoo)
    for mid in args.ids:                 # every id first: an unknown one changes nothing
        zoo.entry(mid)
    for mid in dict.fromkeys(args.ids):
        e = zoo.remove(mid)
        print(f"removed {e.id} ({e.name}) from {zoo.directory}")
    return 0


def run_init(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..zoo import Zoo
    given = [d for d in (args.directory, args.zoo) if d is not None]
    if not given:
        raise ConfigError("give the folder for the new zoo: 'tonezoo zoo init DIR' "
                          "(or --zoo DIR, as 'zoo add' takes it)")
    if len(given) == 2 and Path(given[0]).resolve() != Path(given[1]).resolve():
        raise ConfigError(f"zoo init: DIR {given[0]} and --zoo {given[1]} name two folders; give one")
    folder = given[0]
    zoo = Zoo.default().copy(folder) if args.copy_default else Zoo.open(folder, create=True)
    print(f"zoo ready at {zoo.directory} ({count_text(len(zoo), 'model')})")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..zoo.build import ZOO_PLAN, build_from_devices
    for flag, value, low in (("--epochs", args.epochs, 1), ("--retry-epochs", args.retry_epochs, 1),
                             ("--group", args.group, 1)):
        if value < low:
            raise ConfigError(f"{flag} must be at least {low}, got {value}")
    for flag, value in (("--seconds", args.seconds), ("--retry-seconds", args.retry_seconds)):
        if not value > 0:
            raise ConfigError(f"{flag} must be positive, got {value}")
    plan = ZOO_PLAN
    if args.only:
        known = {p[0] for p in ZOO_PLAN}
        unknown = sorted(set(args.only) - known)
        if unknown:
            raise ConfigError(f"--only: unknown plan entries {unknown}; known: {sorted(known)}")
        plan = tuple(p for p in ZOO_PLAN if p[0] in args.only)
    print(f"building {count_text(len(plan), 'model')} into {args.from_devices} ({args.seconds:g} s of audio, "
          f"at most {epochs_text(args.epochs)} each)", flush=True)
    from ._interrupt import Interrupts
    try:
        # a first Ctrl-C stops at the end of the running epoch (the epoch program donates its buffers; the
        # process must not exit with one in flight), a second at once
        with Interrupts() as stop, stop.deferred():
            zoo = build_from_devices(args.from_devices, seconds=args.seconds, epochs=args.epochs, plan=plan,
                                     group=args.group, retry_above=args.retry_above,
                                     retry_seconds=args.retry_seconds, retry_epochs=args.retry_epochs,
                                     log=lambda m: (stop.check(), print(m, flush=True)),
                                     epoch_callback=stop.epoch_callback())
    except KeyboardInterrupt:
        from ..zoo import Zoo
        done = len(Zoo.open(args.from_devices, create=True))
        print(f"interrupted: {done} finished models in {args.from_devices}; the same command resumes after them",
              file=sys.stderr, flush=True)
        return 130
    print(f"zoo ready at {zoo.directory} ({count_text(len(zoo), 'model')})")
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    zoo = _open_zoo(args.zoo)
    zoo.refresh(progress=True)
    print(f"recomputed {count_text(len(zoo), 'fingerprint')} in {zoo.directory}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from ..errors import HubError
    from .hub import check_hub_reachable
    check_hub_reachable()               # no network: a clear error in seconds, not after the client's retries
    zoo = _open_zoo(args.zoo, create=True)
    report = zoo.pull(filter=args.filter or "tonezoo", search=args.search, author=args.author, limit=args.limit,
                      progress=True)
    for repo in report.added:
        print(f"added {repo}")
    for repo, why in report.skipped:
        print(f"skipped {repo}: {why}")
    note = " (offline: from the local cache)" if report.offline else ""
    print(f"{len(report.added)} added, {len(report.skipped)} skipped; {count_text(len(zoo), 'model')} in "
          f"{zoo.directory}{note}")
    from ..hub import is_offline
    if report.offline and not is_offline() and not report.added:
        raise HubError("the Hub did not answer and the local cache had nothing to add; check the network "
                       "connection and run 'tonezoo zoo pull' again")
    return 0


# -- demo -------------------------------------------------------------------------------------------
#: What ``tonezoo demo`` writes into its ``--out`` folder (a rerun replaces these and nothing else).
DEMO_FILES = frozenset({"capture", "transfer", "scratch", "loss.png", "summary.json"})


def run_demo(args: argparse.Namespace) -> int:
    """The demo through the user's path: the capture is written as WAV files and read back with
    ``load_capture`` (alignment on), and both models are also scored on fresh audio (another
    performance through the device) against the device's raw output."""
    import soundfile as sf
    from rich.table import Table
    from ..capture import load_capture
    from ..devices import get_device, render_capture, render_pair
    from ..errors import ConfigError
    from ..train import esr, plot_history, train
    if args.seconds < 3 or args.epochs < 1:
        raise ConfigError("the demo needs --seconds >= 3 and --epochs >= 1")
    dev = get_device(args.device)
    zoo = _open_zoo(args.zoo)
    if dev.name in {e.id for e in zoo.list()}:
        raise ConfigError(f"{dev.name!r} is in the zoo; the demo needs a device the zoo has not seen "
                          f"(e.g. ht40-like, mt2-like, fuzz-dark)")
    con = _console()
    out = check_own_dir_output(args.out, "--out", DEMO_FILES, command="the demo")
    out.mkdir(parents=True, exist_ok=True)
    rendered = render_capture(dev, seconds=args.seconds, seed=7)
    (out / "capture").mkdir(exist_ok=True)
    for name, audio in (("input.wav", rendered.x), ("target.wav", rendered.y)):
        sf.write(str(out / "capture" / name), audio, rendered.sample_rate, subtype="PCM_24")
    capture = load_capture(out / "capture" / "input.wav", out / "capture" / "target.wav", knobs=rendered.knobs,
                           name=dev.name)
    fresh_x, fresh_y, _ = render_pair(dev, seconds=min(args.seconds, 10.0), seed=8)

    def fresh_esr(model) -> float:
        knobs = {k: capture.knobs[k] for k in model.config.knobs if k in capture.knobs}
        y_hat = model.process(fresh_x, knobs or None)
        return esr(fresh_y, y_hat)                      # against the device's raw output, unshifted

    con.print(f"capture: {dev.name} ({dev.category}, {dev.description}); {args.seconds:g} s written to "
              f"{out / 'capture'} and loaded as a user's files (shifted by {capture.metadata['latency_samples']} samples), knobs "
              + ", ".join(f"{k}={v:g}" for k, v in capture.knobs.items()))
    sugg = zoo.suggest(capture, top=5)
    con.print(_suggestion_table(sugg, f"starting models for {dev.name} (not in the zoo)", width=con.width)[0])
    budget = dict(max_epochs=args.epochs, patience=max(args.epochs, 25), progress=not args.quiet)
    # the race and the winner's run; the demo's own scratch run is the comparison (``train --from auto``
    # also races a scratch contender in a final and keeps the better on validation)
    transfer = zoo.transfer(capture, suggestions=sugg, scratch=False, **budget,
                            on_race=lambda rows, winner: con.print(race_line(rows, winner)))
    race = transfer.model.metadata.get("race", [])
    scratch = train(capture, label="scratch", **budget)
    t = Table(title=f"{dev.name}: same budget ({epochs_text(args.epochs)}, {capture.train_seconds:.1f} s of training "
                    "audio)")
    for col in ("run", "first val ESR", "best val ESR", "fresh-audio ESR", "best epoch", "seconds"):
        t.add_column(col, justify="right" if col != "run" else "left")
    rows = {f"transfer from {transfer.source}": transfer, "scratch": scratch}
    fresh = {"transfer": fresh_esr(transfer.model), "scratch": fresh_esr(scratch.model)}
    for (label, r), f in zip(rows.items(), fresh.values()):
        t.add_row(label, f"{r.first_val_esr:.4f}", f"{r.best_val_esr:.4f}", f"{f:.4f}", str(r.best_epoch),
                  f"{r.seconds:.1f}")
    con.print(t)
    ratio = scratch.best_val_esr / max(transfer.best_val_esr, 1e-12)
    con.print(f"transfer reached {ratio:.1f}x lower validation ESR than scratch on the same budget "
              f"({fresh['scratch'] / max(fresh['transfer'], 1e-12):.1f}x on fresh audio)")
    # ESR, as the table above: the same numbers in both
    plot = plot_history(rows, out / "loss.png", title=f"{dev.name}: transfer vs scratch", metric="val_esr")
    from .train import describe_trained_model
    for label, r in (("transfer", transfer), ("scratch", scratch)):   # describe the rendered device, not the start
        r.model.metadata = describe_trained_model(r, capture, name=f"{dev.name}-{label}", category=dev.category,
                                                  category_source="rendered device")
        r.model.metadata["description"] = dev.description
        r.model.save(out / label)
    summary = {"device": dev.name, "category": dev.category, "pick": transfer.source, "race": race,
               "transfer": dict(transfer.summary(), fresh_esr=fresh["transfer"]),
               "scratch": dict(scratch.summary(), fresh_esr=fresh["scratch"]), "plot": str(plot),
               "latency_samples": capture.metadata["latency_samples"],
               "suggestions": [s.to_dict() for s in sugg]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    con.print(f"validation-ESR curves: {plot}; models and summary.json in {out}")
    if args.json:
        print(json.dumps({k: summary[k] for k in ("device", "pick", "transfer", "scratch", "plot")}))
    return 0
