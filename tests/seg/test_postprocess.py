"""B-line masks held to the consensus definition (lusfeat.seg._postprocess)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat._errors import InputError
from lusfeat.seg._postprocess import (
    BLineCriteria,
    apply_b_line_criteria,
    b_line_criteria,
    pleural_rows,
    scan_bottom,
)

H, W, PL = 64, 64, 10


def frame(depth_decay: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Masks with a flat pleural line at row PL and an image whose lung fades with depth."""
    m = np.zeros((5, H, W), dtype=bool)
    m[0, PL - 1 : PL + 1] = True
    rows = np.arange(H, dtype=float)[:, None]
    img = 120.0 * (1 - depth_decay * np.clip((rows - PL) / (H - PL), 0, 1)) * np.ones((1, W))
    return m, img


def add_b(m: np.ndarray, img: np.ndarray, c0: int, c1: int, r0: int, r1: int, value: float | None = 200.0) -> None:
    m[2, r0:r1, c0:c1] = True
    if value is not None:
        img[r0:r1, c0:c1] = value


def test_laser_like_b_line_is_kept_and_the_rest_removed() -> None:
    m, img = frame()
    add_b(m, img, 5, 9, PL + 1, H)            # from the pleura to the bottom, no fading: a B-line
    add_b(m, img, 20, 24, PL + 25, H)         # starts deep below the pleura
    add_b(m, img, 35, 39, PL + 1, PL + 15)    # a short comet tail
    add_b(m, img, 50, 54, PL + 1, H)          # crossed by an A-line
    m[1, 2 * PL : 2 * PL + 2, 48:58] = True
    out, table = apply_b_line_criteria(m, img.astype(np.uint8))
    row = table.set_index("col0")
    assert list(row.loc[[5, 20, 35, 50], "kept"]) == [True, False, False, False]
    assert out[2, :, 5:9].any() and not out[2, :, 15:].any()
    np.testing.assert_array_equal(out[[0, 1, 3, 4]], m[[0, 1, 3, 4]])
    assert row.loc[5, "origin"] == 0.0 and row.loc[5, "reach"] == pytest.approx(1.0)
    assert row.loc[20, "origin"] > 0.3
    assert row.loc[35, "reach"] < 0.5
    assert row.loc[50, "a_line"] == 1.0


def test_fading_component_is_removed() -> None:
    m, img = frame(depth_decay=0.2)
    add_b(m, img, 10, 20, PL + 1, H, value=None)
    rows = np.arange(PL + 1, H, dtype=float)
    img[PL + 1 : H, 10:20] = (220 * (1 - 0.9 * (rows - PL) / (H - PL)))[:, None]  # haze that fades away
    table = b_line_criteria(m, img.astype(np.uint8))
    assert table.loc[0, "fading"] < 0.6
    out, t = apply_b_line_criteria(m, img.astype(np.uint8))
    assert not t.loc[0, "kept"] and not out[2].any()
    # without the image, fading is not checked and the component stays
    out2, t2 = apply_b_line_criteria(m, None)
    assert np.isnan(t2.loc[0, "fading"]) and out2[2].any()


def test_no_pleura_keeps_the_b_line_mask() -> None:
    m, img = frame()
    m[0] = False
    add_b(m, img, 20, 24, 40, 50)
    out, table = apply_b_line_criteria(m, img.astype(np.uint8))
    np.testing.assert_array_equal(out, m)
    assert table["origin"].isna().all() and table["kept"].all()


def test_empty_b_line_mask() -> None:
    m, img = frame()
    out, table = apply_b_line_criteria(m, img.astype(np.uint8))
    assert len(table) == 0 and "kept" in table.columns
    np.testing.assert_array_equal(out, m)


def test_region_sets_the_bottom() -> None:
    m, img = frame()
    add_b(m, img, 20, 24, PL + 1, 40)
    region = np.zeros((H, W), dtype=bool)
    region[:40] = True                        # the scan region ends at row 39, as the component does
    t = b_line_criteria(m, img.astype(np.uint8), region=region)
    assert t.loc[0, "reach"] == pytest.approx(1.0)
    assert b_line_criteria(m, img.astype(np.uint8), region=np.ones((H, W), bool)).loc[0, "reach"] < 0.6


def test_helpers() -> None:
    p = np.zeros((8, 6), dtype=bool)
    p[2, 0] = p[4, 4] = True
    np.testing.assert_allclose(pleural_rows(p), [2, 2.5, 3, 3.5, 4, 4])
    assert pleural_rows(np.zeros((4, 4), bool)) is None
    r = np.zeros((8, 3), dtype=bool)
    r[:5, 0] = r[:8, 1] = True
    np.testing.assert_array_equal(scan_bottom(r), [4, 7, -1])


def test_bad_inputs() -> None:
    with pytest.raises(InputError):
        BLineCriteria(reach=1.5)
    with pytest.raises(InputError):
        BLineCriteria(fading=-1)
    with pytest.raises(InputError):
        b_line_criteria(np.zeros((2, 4, 4), bool))


@st.composite
def random_frames(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    m, img = frame(depth_decay=float(rng.uniform(0, 0.8)))
    if draw(st.booleans()):
        m[0] = False
    for _ in range(int(rng.integers(0, 6))):
        c0 = int(rng.integers(0, W - 4))
        r0 = int(rng.integers(0, H - 4))
        add_b(m, img, c0, c0 + int(rng.integers(1, 8)), r0, int(rng.integers(r0 + 1, H + 1)),
              value=float(rng.uniform(40, 250)))
    for _ in range(int(rng.integers(0, 3))):
        r = int(rng.integers(PL, H - 2))
        c0 = int(rng.integers(0, W - 10))
        m[1, r : r + 2, c0 : c0 + 10] = True
    img = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
    return m, img


@settings(max_examples=40, deadline=None, derandomize=True)
@given(random_frames())
def test_properties(fr: tuple[np.ndarray, np.ndarray]) -> None:
    m, img = fr
    out, table = apply_b_line_criteria(m, img)
    assert not (out[2] & ~m[2]).any()                       # only removes B-line pixels
    np.testing.assert_array_equal(out[[0, 1, 3, 4]], m[[0, 1, 3, 4]])
    assert int(table["area"].sum()) == int(m[2].sum())
    assert int(out[2].sum()) == int(table.loc[table["kept"], "area"].sum())
    again, _ = apply_b_line_criteria(out, img)               # idempotent
    np.testing.assert_array_equal(again, out)
    loose, _ = apply_b_line_criteria(m, img, criteria=BLineCriteria(origin=1, reach=0, fading=0, a_line=1))
    np.testing.assert_array_equal(loose, m)                  # the loosest criteria keep everything
    strict, _ = apply_b_line_criteria(m, img, criteria=BLineCriteria(origin=0.05, reach=0.9, fading=1.2,
                                                                     a_line=0.1))
    assert not (strict[2] & ~out[2]).any()                  # stricter criteria keep a subset
