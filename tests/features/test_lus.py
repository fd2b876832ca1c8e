"""Frame-level features: hand-computed values and cpu == reference on simulated masks."""

from __future__ import annotations

import numpy as np
import pytest

from lusfeat.data import open_cohort
from lusfeat.features import compute
from lusfeat.features._compute import run_backend
from lusfeat.testing import assert_parity


def _scene(h=60, w=40):
    m = np.zeros((1, 5, h, w), bool)
    m[0, 0, 10:12, 0:15] = True   # pleura, gap of 5 columns, pleura
    m[0, 0, 10:12, 20:40] = True
    for x0 in (5, 25, 30):         # three B-lines from the pleura down
        m[0, 2, 12:60, x0:x0 + 2] = True
    m[0, 3, 30:40, 5:15] = True    # one consolidation
    m[0, 1, 20:21, 0:40] = True    # A-lines at rows 20 and 31 -> not needed exact
    m[0, 4, 50:58, 10:12] = True   # effusion 8 px thick
    return m


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_hand_computed_values(backend):
    df = compute(_scene(), spacing=0.5, backend=backend)
    row = df.iloc[0]
    assert row["pleural_line_coverage"] == pytest.approx(35 / 40)
    assert row["pleural_line_breaks"] == 1  # gap 5 px >= round(2 mm / 0.5) = 4 px
    assert row["pleural_line_thickness_mean"] == pytest.approx(2 * 0.5)
    assert row["pleural_line_thickness_sd"] == 0
    assert row["pleural_line_depth"] == pytest.approx(10 * 0.5)
    assert row["pleural_line_roughness"] == pytest.approx(0, abs=1e-9)
    assert row["b_line_count"] == 3 and row["b_line_count_band"] == 3
    # reference row 12 + 20 px = 32: three 2-px B-lines over 35 pleural columns
    assert row["b_line_width_ref"] == pytest.approx(6 * 0.5)
    assert row["b_line_pleural_fraction"] == pytest.approx(6 / 35)
    assert row["b_line_confluent"] == pytest.approx(60 / 35)
    assert row["b_line_blas"] == pytest.approx(6 * 48 / (35 * 48))
    assert row["consolidation_count"] == 1
    assert row["consolidation_area"] == pytest.approx(100 * 0.25)
    assert row["consolidation_depth_max"] == pytest.approx((40 - 12) * 0.5)
    assert row["consolidation_solidity"] == pytest.approx(1.0)
    assert row["effusion_thickness_max"] == pytest.approx(8 * 0.5)
    assert row["lus_score"] == 3
    assert np.isnan(row["b_line_intensity_ratio"])  # no images


def test_nan_only_where_undefined():
    m = np.zeros((2, 5, 16, 16), bool)
    m[1, 0, 3, :] = True
    df = compute(m, backend="cpu")
    assert np.isnan(df.loc[0, "pleural_line_depth"])
    assert df.loc[0, "b_line_count"] == 0 and df.loc[0, "b_line_blas"] == 0
    assert np.isnan(df.loc[0, "consolidation_depth_max"])
    assert df.loc[1, "pleural_line_coverage"] == 1.0
    assert df.loc[1, "pleural_line_roughness"] == pytest.approx(0, abs=1e-12)
    always = [c for c in df.columns if c.endswith(("_count", "_area", "_blas", "_score"))]
    assert not df[always].isna().any().any()


def test_pixels_when_spacing_unknown():
    m = _scene()
    px = compute(m, backend="cpu").iloc[0]
    mm = compute(m, spacing=0.5, backend="cpu").iloc[0]
    assert px["consolidation_area"] == 100
    assert mm["consolidation_area"] == pytest.approx(25)


def test_simulated_truth_cpu_equals_reference(tiny_cohort):
    c = open_cohort(tiny_cohort)
    masks = np.asarray(c.truth[:24])
    images = np.asarray(c.images[:24])
    sp = c.spacing[:24]
    ref = run_backend(masks, images, sp, "reference")
    cpu = run_backend(masks, images, sp, "cpu")
    assert_parity(ref, cpu)
    assert np.isfinite(cpu[0]["b_line_intensity_ratio"]).any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_array_pixel_stats_equal_numba_twin(seed):
    """The whole-array pixel statistics (run with CuPy by the cuda backend) equal numba's."""
    from lusfeat.features._lus import pixel_stats
    from lusfeat.features._profiles import pixel_stats_numba
    from lusfeat.testing import random_masks

    rng = np.random.default_rng(seed)
    m = random_masks(rng, 6, 37, 29)
    m[0] = False
    m[1, 0] = True
    img = rng.integers(0, 256, (6, 37, 29), dtype=np.uint8)
    sp = np.array([np.nan, 0.1, 0.3, 1.0, 2.5, np.nan])
    for images in (img, None):
        a = pixel_stats(m, images, sp)
        b = pixel_stats_numba(m, images, sp)
        assert set(a) == set(b)
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=k)
