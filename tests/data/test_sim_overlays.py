"""Elevation blur, colour overlays of the simulator, and ingest's colour-overlay fill."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter

from lusfeat.data._sim_scanner import BurnIn, apply_burn_in, burn_in, elevation_blur, make_scanner
from lusfeat.data.ingest._preprocess import _fill


def _scanner(seed: int = 0):
    return make_scanner(np.random.default_rng(seed), "convex", 256, 120.0)


def test_elevation_draws_in_documented_ranges():
    for seed in range(20):
        sc = _scanner(seed)
        assert 0.3 <= sc.elevation_focus <= 0.7
        assert 0.1 <= sc.elevation_mix[0] <= 0.3 and 0.4 <= sc.elevation_mix[1] <= 0.8
        assert sc.elevation_sigma[0] > 0 and sc.elevation_sigma[1] > 0


def test_elevation_blur_partial_volumes_thin_structures_more_away_from_focus():
    sc = replace(_scanner(3), elevation_focus=0.5, elevation_mix=(0.2, 0.7), elevation_sigma=(0.8, 2.0))
    h, w = 200, 120
    line = np.zeros((h, w), np.float32)
    line[:, 60] = 1.0  # a thin vertical structure (a narrow B-line's cross-section)
    out = elevation_blur(line, sc)
    focus_row, far_row = 100, 10  # the focus, and 0.45 depths away from it
    # the peak keeps 1 - w + w * g(0): more of it at the focus than away from it
    assert out[focus_row, 60] > out[far_row, 60] + 0.2
    assert out[far_row, 60] < 0.6
    # the echo is spread, not lost: each row keeps its sum (the lateral blur is normalised)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-4)
    # a laterally uniform layer is not changed (what is uniform across the slice stays)
    layer = np.zeros((h, w), np.float32)
    layer[80:90] = 1.0
    lay = elevation_blur(layer, replace(sc, elevation_sigma=(0.0, 2.0)))
    np.testing.assert_allclose(lay, layer, atol=1e-6)


def test_elevation_blur_off_returns_maps_unchanged():
    sc = replace(_scanner(1), elevation_mix=(0.0, 0.0))
    m = np.random.default_rng(0).random((50, 40)).astype(np.float32)
    assert elevation_blur(m, sc) is m


def _colour_overlay(seed0: int = 0) -> tuple[BurnIn, np.ndarray]:
    size = 96
    valid = np.zeros((size, size), bool)
    valid[10:80, 15:85] = True
    for seed in range(seed0, seed0 + 500):
        ov = burn_in(np.random.default_rng(seed), valid, size)
        if ov is not None and ov.colour is not None and (ov.colour & valid).any() and (ov.colour & ~valid).any():
            return ov, valid
    raise AssertionError("no clip with a colour overlay inside and outside the region in 500 draws")


def test_colour_overlays_occur_at_documented_rates():
    valid = np.ones((64, 64), bool)
    draws = [burn_in(np.random.default_rng(s), valid, 64) for s in range(600)]
    share = np.mean([d is not None and d.colour is not None for d in draws])
    # a colour box (0.15) or colour marks (0.1): 1 - 0.85 * 0.9 = 0.235
    assert 0.18 < share < 0.29


def test_colour_overlay_is_filled_inside_the_region_and_kept_as_luma_outside():
    ov, valid = _colour_overlay()
    frame = np.where(valid, 40, 0).astype(np.uint8)
    out = apply_burn_in(frame, replace(ov, gray=None))
    inside, outside = ov.colour & valid, ov.colour & ~valid
    # inside the scan region: filled from the gray neighbours (a flat 40 stays 40 away from the edge),
    # never the overlay's own luma
    core = inside.copy()
    core[:14] = core[76:] = False
    core[:, :19] = core[:, 81:] = False
    if core.any():
        assert np.all(np.abs(out[core].astype(int) - 40) <= 1)
    assert np.all(out[inside] <= 40)
    # outside it: the overlay's luma, as a gray export shows it
    np.testing.assert_array_equal(out[outside], ov.colour_luma[outside])
    assert ov.colour_luma[outside].max() > 60
    # everything else untouched
    np.testing.assert_array_equal(out[~ov.colour], frame[~ov.colour])


def test_colour_fill_matches_ingest_fill():
    ov, valid = _colour_overlay(7)
    rng = np.random.default_rng(1)
    frame = (rng.random(valid.shape) * 200 * valid).astype(np.uint8)
    out = apply_burn_in(frame, replace(ov, gray=None))
    ref = _fill(frame.astype(np.float32), ov.colour, sigma=0.75)
    inside = ov.colour & valid
    np.testing.assert_array_equal(out[inside], np.clip(np.rint(ref[inside]), 0, 255).astype(np.uint8))


def _fill_whole_frame(gray: np.ndarray, holes: np.ndarray, sigma: float) -> np.ndarray:
    valid = (~holes).astype(np.float32)
    num = gaussian_filter(gray * valid, sigma)
    den = gaussian_filter(valid, sigma)
    out = gray.copy()
    out[holes] = np.where(den[holes] > 1e-3, num[holes] / np.maximum(den[holes], 1e-3), 0.0)
    return out


@settings(max_examples=60, deadline=None)
@given(h=st.integers(8, 120), w=st.integers(8, 120), n=st.integers(0, 4), sigma=st.floats(0.5, 5.0),
       seed=st.integers(0, 10_000))
def test_windowed_fill_equals_whole_frame_fill(h, w, n, sigma, seed):
    rng = np.random.default_rng(seed)
    gray = (rng.random((h, w)) * 255).astype(np.float32)
    holes = np.zeros((h, w), bool)
    for _ in range(n):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        holes[y:y + int(rng.integers(1, 25)), x:x + int(rng.integers(1, 25))] = True
    np.testing.assert_array_equal(_fill(gray, holes, sigma), _fill_whole_frame(gray, holes, sigma))


def test_render_blurs_only_the_diffuse_maps_over_the_slice(monkeypatch):
    """Specular interfaces (pleura, fascia, A-lines) span the slice: the renderer leaves them sharp."""
    from lusfeat.data import _sim_render
    from lusfeat.data._sim_annotators import make_annotators
    from lusfeat.data._simulate import simulate_clip

    made = {"diffuse": [], "specular": []}
    blurred = []

    def recording(fn):
        def wrapper(*args, **kwargs):
            d, s = fn(*args, **kwargs)
            made["diffuse"].append(d)
            made["specular"].append(s)
            return d, s
        return wrapper

    def blur(m, *args, **kwargs):
        blurred.append(m)
        return elevation_blur(m, *args, **kwargs)

    monkeypatch.setattr(_sim_render, "tissue_echo", recording(_sim_render.tissue_echo))
    monkeypatch.setattr(_sim_render, "lung_echo", recording(_sim_render.lung_echo))
    monkeypatch.setattr(_sim_render, "elevation_blur", blur)
    anns = make_annotators(np.random.default_rng(0), 1)
    for probe in ("linear", "convex"):
        simulate_clip(np.random.default_rng(5), 2.5, probe, False, 1, 64, anns)
    assert len(made["diffuse"]) == 4 and len(blurred) == 4
    assert all(any(b is d for d in made["diffuse"]) for b in blurred)
    assert not any(b is s for b in blurred for s in made["specular"])
