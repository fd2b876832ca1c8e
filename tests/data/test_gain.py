"""Gray levels standardised to the chest wall (lusfeat.data._gain)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat._errors import InputError
from lusfeat.data import open_cohort, simulate_cohort
from lusfeat.data._gain import chest_wall_level, reference_level, scale_to_level, standardize_gray


def _frame(wall: int = 60, lung: int = 120) -> tuple[np.ndarray, np.ndarray]:
    img = np.zeros((50, 40), dtype=np.uint8)
    region = np.zeros_like(img, dtype=bool)
    region[5:45, 4:36] = True
    img[region] = lung
    img[5:9, 4:36] = wall  # the top 10 % of the region (4 of 40 rows)
    return img, region


def test_level_and_scaling_by_hand() -> None:
    img, region = _frame()
    assert chest_wall_level(img, region=region) == 60.0
    out = scale_to_level(img, 30.0, region=region)
    assert out[6, 10] == 30 and out[30, 10] == 60 and out[0, 0] == 0   # one factor; outside stays 0
    assert scale_to_level(img, 200.0, region=region)[30, 10] == 255     # clipped
    black, _ = _frame(wall=0)
    np.testing.assert_array_equal(scale_to_level(black, 50.0, region=region), black)
    assert np.isnan(chest_wall_level(img, region=np.zeros_like(region)))
    with pytest.raises(InputError):
        chest_wall_level(img, band=0.0)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(10, 200), st.integers(0, 255), st.floats(10, 120))
def test_scaled_frame_has_the_target_level(wall: int, lung: int, target: float) -> None:
    img, region = _frame(wall, lung)
    out = scale_to_level(img, target, region=region)
    assert abs(chest_wall_level(out, region=region) - target) <= 0.5 + 1e-9
    # order of gray levels inside the region is kept (monotone scaling)
    assert (out[30, 10] >= out[6, 10]) == (lung >= wall) or out[30, 10] == 255


def test_standardize_gray_copies_the_cohort(tmp_path) -> None:
    src = simulate_cohort(tmp_path / "c", patients=2, exams=1, zones=6, frames=1, size=48, seed=3, progress=False)
    target = reference_level(src)
    assert 0 < target < 255
    out = standardize_gray(src, tmp_path / "g", target * 0.5)
    a, b = open_cohort(src), open_cohort(out)
    assert b.meta["gray_standardized"]["target"] == pytest.approx(target * 0.5)
    assert b.n_frames == a.n_frames and b.frames.equals(a.frames)
    np.testing.assert_array_equal(np.asarray(b.truth[:]), np.asarray(a.truth[:]))
    np.testing.assert_array_equal(np.asarray(b.confidence[:]), np.asarray(a.confidence[:]))
    assert np.asarray(b.images[:]).mean() < np.asarray(a.images[:]).mean()
    again = standardize_gray(src, tmp_path / "g2", target * 0.5)
    np.testing.assert_array_equal(np.asarray(open_cohort(again).images[:]), np.asarray(b.images[:]))
    with pytest.raises(InputError):
        standardize_gray(src, tmp_path / "g3", 0.0)


def test_standardize_gray_command_end_to_end(tiny_cohort, tmp_path):
    """`lusfeat standardize-gray` (the console script) matches a cohort's chest wall, also through a run
    or pretrain folder; masks and tables are copied unchanged."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("lusfeat")
    if not exe.exists():
        pytest.skip(f"console script {exe} is not installed")
    target = reference_level(tiny_cohort)
    bright = standardize_gray(tiny_cohort, tmp_path / "bright", min(255.0, 1.6 * target))
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"cohort": {"path": str(tiny_cohort)}}))
    for like in (str(tiny_cohort), str(run)):
        out = tmp_path / f"out-{Path(like).name}"
        proc = subprocess.run([str(exe), "standardize-gray", str(bright), "--out", str(out), "--like", like,
                               "--no-progress"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert f"chest-wall level {target:.1f}" in proc.stdout
        assert abs(reference_level(out) - target) <= 2.0
        a, b = open_cohort(bright), open_cohort(out)
        np.testing.assert_array_equal(np.asarray(a.confidence[:]), np.asarray(b.confidence[:]))
        assert a.frames.equals(b.frames)
        shutil.rmtree(out)
    pre = tmp_path / "pre"
    (pre / "cohort").mkdir(parents=True)
    (pre / "pretrain.json").write_text("{}")
    shutil.copytree(tiny_cohort, pre / "cohort", dirs_exist_ok=True)
    from lusfeat.data._gain import training_cohort

    assert training_cohort(pre) == pre / "cohort"
    with pytest.raises(InputError, match="not a cohort, run or pretrain folder"):
        training_cohort(tmp_path)


def test_unlabelled_cohort_stays_unlabelled(tmp_path) -> None:
    """A cohort ingested without masks holds no labels, also after gray standardisation."""
    from lusfeat.data.ingest import ingest

    from .ingest_helpers import fan_frame, manifest_row, write_manifest, write_png

    for i in range(2):
        write_png(tmp_path / f"f{i}.png", fan_frame(seed=i)[0])
    m = write_manifest(tmp_path / "m.csv", [manifest_row(f"f{i}.png", clip_id=f"c{i}") for i in range(2)])
    real = open_cohort(ingest(m, tmp_path / "real", size=32))
    assert not real.is_labelled
    with pytest.raises(InputError, match=r"^train: cohort .* has no annotator labels .* `lusfeat ingest`"):
        real.require_labels("train")
    gray = open_cohort(standardize_gray(real, tmp_path / "gray", 40.0))
    assert not gray.is_labelled
    sim = open_cohort(simulate_cohort(tmp_path / "s", patients=1, exams=1, zones=6, frames=1, size=32, seed=0,
                                      progress=False))
    assert sim.is_labelled
    sim.require_labels("train")  # nothing to say
