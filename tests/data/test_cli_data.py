"""CLI end to end for simulate / show through the launcher's main()."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from lusfeat.cli import app
from lusfeat.data import open_cohort

ROOT = Path(__file__).resolve().parents[2]


def test_simulate_show(tmp_path):
    out = tmp_path / "c"
    r = CliRunner().invoke(
        app, ["simulate", str(out), "--patients", "2", "--exams", "2", "--frames", "1", "--size", "48", "--seed", "1"]
    )
    assert r.exit_code == 0, r.output
    c = open_cohort(out)
    assert c.n_frames == 2 * 2 * 6 * 1
    png = tmp_path / "g.png"
    r = CliRunner().invoke(app, ["show", str(out), "--out", str(png), "-n", "3"])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_launcher_reports_errors_in_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "simulate", str(tmp_path / "c"), "--zones", "5"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert r.returncode == 1
    assert "zones must be 6 or 12" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "validate", str(tmp_path / "none")], capture_output=True, text=True)
    assert r.returncode == 1 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "ingest", "--no-such-option"], capture_output=True, text=True)
    assert r.returncode == 2 and "No such option" in r.stderr and "Traceback" not in r.stderr


def test_launcher_without_dependencies_says_how_to_install(tmp_path):
    """An interpreter that cannot import lusfeat's dependencies gets one line, not a traceback."""
    fake = tmp_path / "site"
    (fake / "pandas").mkdir(parents=True)
    (fake / "pandas" / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'pandas'\")\n")
    env = {**os.environ, "PYTHONPATH": f"{fake}{os.pathsep}{ROOT}"}
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--help"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "install lusfeat first" in r.stderr and "Traceback" not in r.stderr


def test_help_lists_commands():
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("simulate", "validate", "show"):
        assert cmd in r.output


def test_show_draws_masks_beside_the_labels(tmp_path):
    """`show --masks` adds a column of masks; a cohort without labels shows no confidence column."""
    import numpy as np
    from PIL import Image

    from lusfeat.data import show_cohort, simulate_cohort
    from lusfeat.data.ingest import ingest

    from .ingest_helpers import fan_frame, manifest_row, write_manifest, write_png

    sim = simulate_cohort(tmp_path / "s", patients=1, exams=1, zones=6, frames=1, size=48, seed=2, progress=False)

    def width(png: Path) -> int:
        with Image.open(png) as im:
            return im.size[0]

    plain = show_cohort(sim, tmp_path / "plain.png", n=2)
    with_masks = show_cohort(sim, tmp_path / "masks.png", n=2, masks="labels:60")
    assert width(with_masks) > width(plain)  # image | confidence | truth | masks against three columns
    for i in range(2):
        write_png(tmp_path / f"f{i}.png", fan_frame(seed=i)[0])
    m = write_manifest(tmp_path / "m.csv", [manifest_row(f"f{i}.png", clip_id=f"c{i}") for i in range(2)])
    real = ingest(m, tmp_path / "real", size=48)
    only_image = show_cohort(real, tmp_path / "real.png", n=2)
    assert width(only_image) < width(plain)  # no confidence to show, no truth
    # a subprocess through the console script: a mask source that does not fit is one line
    lusfeat = Path(sys.executable).with_name("lusfeat")
    r = subprocess.run([str(lusfeat), "show", str(real), "--out", str(tmp_path / "x.png"), "--masks", "labels:60"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "has no annotator labels" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()
    r = subprocess.run([str(lusfeat), "show", str(real), "--out", str(tmp_path / "y.png"), "--masks",
                        str(tmp_path / "s")], capture_output=True, text=True)
    assert r.returncode == 1 and "not a lusfeat mask set" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    with Image.open(only_image) as im:
        assert np.asarray(im).ndim == 3
