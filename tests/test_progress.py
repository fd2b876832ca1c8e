"""The shared progress display: periodic plain lines when stderr is not a terminal."""

from __future__ import annotations

import io

from lusfeat._progress import LineProgress, progress_bar


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_lines_every_interval_and_at_the_end():
    out, clock = io.StringIO(), Clock()
    with LineProgress(interval=10.0, stream=out, clock=clock) as bar:
        task = bar.add_task("segment", total=100)
        for _ in range(10):
            clock.t += 4.0
            bar.advance(task, 10)
    lines = out.getvalue().splitlines()
    # t=12 (30 done), t=24 (60 done), t=36 (90 done), then completion at t=40
    assert lines == ["segment: 30/100 (30%), 12 s", "segment: 60/100 (60%), 24 s",
                     "segment: 90/100 (90%), 36 s", "segment: 100/100 (100%), 40 s"]


def test_description_updates_and_removed_tasks():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(interval=0.0, stream=out, clock=clock)
    task = bar.add_task("fold 0", total=4)
    bar.update(task, advance=1, description="fold 0 epoch 1/4 loss 0.5")
    bar.remove_task(task)
    bar.remove_task(task)  # removing twice is harmless
    assert out.getvalue().splitlines() == ["fold 0 epoch 1/4 loss 0.5: 1/4 (25%), 0 s",
                                           "fold 0 epoch 1/4 loss 0.5: 1/4 (25%), 0 s"]


def test_quiet_when_disabled_or_empty():
    out = io.StringIO()
    with LineProgress(enabled=False, interval=0.0, stream=out) as bar:
        bar.advance(bar.add_task("x", total=3), 3)
    with LineProgress(interval=0.0, stream=out) as bar:
        bar.add_task("nothing to do", total=0)
    assert out.getvalue() == ""


def test_progress_bar_falls_back_to_lines_off_a_terminal(capsys):
    bar = progress_bar(enabled=True)  # pytest captures stderr: not a terminal
    assert isinstance(bar, LineProgress)
    with bar:
        bar.advance(bar.add_task("features", total=2), 2)
    assert "features: 2/2 (100%)" in capsys.readouterr().err


def test_set_quiet_hides_every_progress_display(capsys):
    from lusfeat._progress import set_quiet

    set_quiet(True)
    try:
        with progress_bar(enabled=True) as bar:
            bar.advance(bar.add_task("features", total=2), 2)
    finally:
        set_quiet(False)
    assert capsys.readouterr().err == ""
    with progress_bar(enabled=True) as bar:  # and it can be turned back on
        bar.advance(bar.add_task("features", total=2), 2)
    assert "features: 2/2 (100%)" in capsys.readouterr().err


def test_console_quiet_shows_no_progress_but_the_result(tmp_path):
    """``lusfeat --quiet simulate``: no progress lines and no info log; the cohort is written."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("lusfeat") or str(Path(sys.executable).with_name("lusfeat"))

    def run(*pre: str, out: str) -> subprocess.CompletedProcess:
        cmd = [exe, *pre, "simulate", str(tmp_path / out), "--patients", "1",
               "--exams", "1", "--frames", "1", "--size", "32"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    loud, quiet = run(out="a"), run("--quiet", out="b")
    assert loud.returncode == 0 and quiet.returncode == 0, loud.stderr + quiet.stderr
    assert "simulate: 6/6 (100%)" in loud.stderr  # off a terminal: one plain line at the end
    assert "simulate" not in quiet.stderr and "INFO" not in quiet.stderr
    assert (tmp_path / "b" / "frames.parquet").exists()
