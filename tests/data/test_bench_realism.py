"""``benchmarks/bench_realism.py`` end to end, as a subprocess, on a few frames."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "bench_realism.py"


def _strict_json(text: str):
    """Parse the benchmark's JSON line, refusing NaN and Infinity (not JSON)."""
    def _refuse(name: str):
        raise AssertionError(f"{name} in the benchmark's JSON")
    return json.loads(text, parse_constant=_refuse)


def _folder(tmp_path: Path, n: int = 16) -> Path:
    """``n`` fan-shaped speckle frames in ``frames/`` and a ``labels.csv`` with two sources."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:96]
    fan = (np.abs(xx - 48) < 10 + 0.4 * yy) & (yy > 4)
    (tmp_path / "frames").mkdir()
    rows = ["filename,source,patient_key"]
    for k in range(n):
        img = np.clip(rng.exponential(50.0, (96, 96)) + 10, 0, 255).astype(np.uint8) * fan
        Image.fromarray(img.astype(np.uint8)).save(tmp_path / "frames" / f"f{k:02d}.png")
        rows.append(f"frames/f{k:02d}.png,{'s1' if k < n // 2 else 's2'},p{k // 2}")  # patients within a source
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "frames"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), "--n", "6", "--size", "64", "--baseline-rev", "", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=600)


def test_bench_realism_prints_the_real_vs_real_reference(tmp_path):
    frames = _folder(tmp_path)
    r = _run("--real", str(frames))
    assert r.returncode == 0, r.stderr
    result = _strict_json(r.stdout.strip().splitlines()[-1])
    assert "reference, real vs real: s1 (8 frames) vs s2 (8)" in r.stdout
    (ref,) = result["real_vs_real"]
    # both sources are drawn alike (0.54 measured): far below the simulator's AUC against either
    assert ref["auc"] < 0.8 and ref["n_a"] == ref["n_b"] == 8
    assert set(result["simulator_vs_source"]) == {"s1", "s2"}
    assert min(c["auc"] for c in result["simulator_vs_source"].values()) > 0.9
    # the simulator's speckle-free overlays and anatomy are told from pure speckle
    assert result["lusfeat simulator"]["c2st"]["auc"] > 0.8


def test_bench_realism_bad_table_is_one_line(tmp_path):
    frames = _folder(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("filename,site\nframes/f00.png,a\n")
    r = _run("--real", str(frames), "--table", str(bad))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "no column 'source'" in r.stderr and str(bad) in r.stderr


def test_bench_realism_table_beside_frames_may_lack_sources(tmp_path):
    frames = _folder(tmp_path)
    (tmp_path / "labels.csv").write_text("filename\n" + "".join(f"frames/f{k:02d}.png\n" for k in range(16)))
    r = _run("--real", str(frames), "--n", "3", "--size", "48")
    assert r.returncode == 0, r.stderr
    assert "real vs real" not in r.stdout and "real_vs_real" not in _strict_json(r.stdout.strip().splitlines()[-1])


def test_bench_realism_reads_the_real_frames_from_the_environment(tmp_path):
    """Without ``--real`` the frames are ``frames/`` in ``$LUSFEAT_REAL_LUS``."""
    import os

    _folder(tmp_path)
    r = subprocess.run([sys.executable, str(BENCH), "--n", "6", "--size", "64", "--baseline-rev", ""],
                       capture_output=True, text=True, cwd=REPO, timeout=600,
                       env={**os.environ, "LUSFEAT_REAL_LUS": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "reference, real vs real: s1 (8 frames) vs s2 (8)" in r.stdout, r.stdout[-2000:]
