"""Progress reporting: a rich bar (cells done / total, trials per second, time left) or, with
``quiet``, plain log lines on stderr.

Examples
--------
>>> import io
>>> from msbayes.grid.progress import make_reporter
>>> buf = io.StringIO()
>>> with make_reporter(total_cells=2, done_cells=0, quiet=True, stream=buf) as rep:
...     rep.advance(trials=100, cells=1)
>>> "cells 1/2" in buf.getvalue()
True
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["make_reporter", "LogReporter", "RichReporter"]


def _fmt_time(s: float) -> str:
    if s != s or s == float("inf"):
        return "?"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}"


class _Base:
    def __init__(self, total_cells: int, done_cells: int, total_trials: int, stream: TextIO):
        self.total_cells = total_cells
        self.done_cells = done_cells
        self.total_trials = max(total_trials, 0)
        self.trials = 0
        self.t0 = time.perf_counter()
        self.stream = stream

    @property
    def rate(self) -> float:
        dt = time.perf_counter() - self.t0
        return self.trials / dt if dt > 0 else 0.0

    @property
    def eta(self) -> float:
        r = self.rate
        return (self.total_trials - self.trials) / r if r > 0 else float("nan")

    def log(self, msg: str) -> None:
        print(f"[msbayes simulate] {msg}", file=self.stream, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class LogReporter(_Base):
    """Plain lines: one per completed cell, at most every ``every`` seconds (and the last)."""

    def __init__(self, *a: Any, every: float = 2.0, **k: Any):
        super().__init__(*a, **k)
        self.every = every
        self._last = -1e9

    def advance(self, *, trials: int, cells: int = 0) -> None:
        self.trials += trials
        self.done_cells += cells
        now = time.perf_counter()
        if cells and (now - self._last >= self.every or self.done_cells == self.total_cells):
            self._last = now
            self.log(f"cells {self.done_cells}/{self.total_cells}, {self.rate:,.0f} trials/s, "
                     f"time left {_fmt_time(self.eta)}")


class RichReporter(_Base):
    """A rich progress bar on stderr."""

    def __init__(self, *a: Any, **k: Any):
        super().__init__(*a, **k)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("[bold]simulate"),
            BarColumn(),
            TextColumn("cells {task.completed:.0f}/{task.total:.0f}"),
            TextColumn("{task.fields[rate]} trials/s"),
            TextColumn("time left {task.fields[eta]}"),
            console=Console(file=self.stream),
            transient=False,
        )
        self._task = self._progress.add_task("cells", total=self.total_cells, completed=self.done_cells,
                                             rate="-", eta="?")

    def log(self, msg: str) -> None:
        self._progress.console.print(f"[msbayes simulate] {msg}", markup=False, highlight=False)

    def advance(self, *, trials: int, cells: int = 0) -> None:
        self.trials += trials
        self.done_cells += cells
        self._progress.update(self._task, completed=self.done_cells, rate=f"{self.rate:,.0f}",
                              eta=_fmt_time(self.eta))

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()


def make_reporter(*, total_cells: int, done_cells: int, total_trials: int = 0, quiet: bool = False,
                  stream: TextIO | None = None) -> _Base:
    """Progress reporter: :class:`RichReporter` unless ``quiet`` (then :class:`LogReporter`)."""
    stream = stream or sys.stderr
    cls = LogReporter if quiet else RichReporter
    return cls(total_cells, done_cells, total_trials, stream)
