"""One progress display for every lusfeat command.

On a terminal :func:`progress_bar` returns a :class:`rich.progress.Progress`
drawing on standard error. When standard error is not a terminal (output
piped to a log file, a batch job, CI) rich draws nothing, so the same call
returns a :class:`LineProgress` instead: it prints one plain line per task
every ``interval`` seconds while the task runs and one when it ends, e.g.
``segment: 480/960 (50%), 12 s``. Both expose the subset of
the rich API that lusfeat uses (``add_task``, ``advance``, ``update``,
``remove_task``, ``start``, ``stop`` and the ``with`` block).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["LineProgress", "progress_bar", "set_quiet", "stderr_is_terminal", "PROGRESS_INTERVAL_S"]

#: Seconds between two progress lines of one task when not on a terminal.
PROGRESS_INTERVAL_S: float = 10.0

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Hide every progress display of this process (``lusfeat --quiet``)."""
    global _QUIET
    _QUIET = bool(quiet)


def stderr_is_terminal() -> bool:
    """True when standard error is an interactive terminal (as rich sees it)."""
    from rich.console import Console

    return bool(Console(stderr=True).is_terminal)


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float
    started: float
    last_line: float
    finished: bool = False


class LineProgress:
    """Plain-text progress: periodic lines instead of a live bar.

    Parameters
    ----------
    enabled : bool
        Print nothing when False.
    interval : float
        Seconds between two lines of one running task (0: a line per update).
    stream : file, optional
        Where lines go (default: ``sys.stderr`` at the time of printing).
    clock : callable, optional
        Time source in seconds (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        enabled: bool = True,
        interval: float = PROGRESS_INTERVAL_S,
        stream: TextIO | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.enabled = bool(enabled)
        self.interval = float(interval)
        self._stream = stream
        self._clock = clock if clock is not None else time.monotonic
        self._tasks: dict[int, _Task] = {}
        self._next_id = 0

    def __enter__(self) -> LineProgress:
        self.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop()

    def start(self) -> None:
        """Nothing to start; present for symmetry with rich."""

    def stop(self) -> None:
        """Print the final line of every task still open."""
        for task_id in list(self._tasks):
            self.remove_task(task_id)

    def add_task(self, description: str, total: float | None = None, completed: float = 0,
                 **_fields: Any) -> int:
        """Start a task (silently: its first line comes after ``interval``); returns its id."""
        now = self._clock()
        task_id = self._next_id
        self._next_id += 1
        self._tasks[task_id] = _Task(str(description), total, float(completed), now, now)
        return task_id

    def advance(self, task_id: int, advance: float = 1) -> None:
        """Add ``advance`` to the task's completed count."""
        self.update(task_id, advance=advance)

    def update(self, task_id: int, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None, **_fields: Any) -> None:
        """Change a task; prints a line when ``interval`` has passed or the task completed."""
        task = self._tasks.get(task_id)
        if task is None:
            return
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = float(completed)
        if advance is not None:
            task.completed += float(advance)
        if description is not None:
            task.description = str(description)
        now = self._clock()
        done = task.total is not None and task.completed >= task.total
        if done and not task.finished:
            task.finished = True
            self._line(task)
        elif not done and now - task.last_line >= self.interval:
            self._line(task)

    def remove_task(self, task_id: int) -> None:
        """End a task, printing its final line unless its completion was already shown
        (a task with nothing to do and nothing done prints nothing)."""
        task = self._tasks.pop(task_id, None)
        if task is not None and not task.finished and (task.completed or task.total):
            self._line(task)

    def _line(self, task: _Task) -> None:
        now = self._clock()
        task.last_line = now
        if not self.enabled:
            return
        done = f"{task.completed:g}"
        if task.total:
            done += f"/{task.total:g} ({100.0 * task.completed / task.total:.0f}%)"
        stream = self._stream if self._stream is not None else sys.stderr
        print(f"{task.description}: {done}, {now - task.started:.0f} s", file=stream, flush=True)


def progress_bar(*columns: Any, enabled: bool = True, transient: bool = False,
                 interval: float = PROGRESS_INTERVAL_S) -> Any:
    """The progress display of a command: a rich bar on a terminal, lines otherwise.

    Parameters
    ----------
    *columns
        rich column objects or format strings (used on a terminal only).
    enabled : bool
        False shows nothing at all (nor does anything after :func:`set_quiet`).
    transient : bool
        Remove the rich bar when it finishes (the lines stay in the log).
    interval : float
        Seconds between progress lines when not on a terminal.

    Returns
    -------
    rich.progress.Progress or LineProgress

    Examples
    --------
    >>> with progress_bar(enabled=False) as bar:
    ...     task = bar.add_task("frames", total=10)
    ...     bar.advance(task, 10)
    """
    enabled = enabled and not _QUIET
    if not enabled or not stderr_is_terminal():
        return LineProgress(enabled=enabled, interval=interval)
    from rich.console import Console
    from rich.progress import Progress

    return Progress(*columns, console=Console(stderr=True), transient=transient)
