"""Realism statistics and the classifier two-sample test (:mod:`lusfeat.data._realism`)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from lusfeat import InputError
from lusfeat.data._realism import (
    classifier_two_sample_test,
    frame_statistics,
    frame_table,
    kept_sources,
    load_frames,
    patch_features,
    realism_table,
    sample_patches,
    source_reference,
    synthetic_frames,
)


def _frames(n: int, size: int = 48, sigma: float = 0.0, seed: int = 0) -> np.ndarray:
    """Speckle-like frames: a disc-shaped region of exponential noise, optionally blurred."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    region = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (0.45 * size) ** 2
    out = []
    for _ in range(n):
        f = rng.exponential(60.0, (size, size))
        if sigma:
            f = gaussian_filter(f, sigma)
        out.append(np.clip(f + 20, 1, 255).astype(np.uint8) * region)
    return np.stack(out).astype(np.uint8)


def test_statistics_of_a_flat_frame():
    f = np.zeros((1, 32, 32), np.uint8)
    f[0, 4:28, 4:28] = 100
    s = frame_statistics(f)
    assert s["mean"][0] == pytest.approx(100, abs=1) and s["sd"][0] < 5
    assert s["local_contrast"][0] < 0.05 and s["dark_fraction"][0] < 0.05
    assert s["histogram"][0].sum() == pytest.approx(1.0) and s["histogram"].shape == (1, 32)
    assert s["depth_profile"].shape == (1, 10) and s["spectrum"].shape == (1, 16)


def test_identical_sets_are_at_distance_zero_and_blur_is_seen():
    a = frame_statistics(_frames(4))
    rows = {r["statistic"]: r for r in realism_table(a, a)}
    assert all(r["distance"] == pytest.approx(0.0, abs=1e-12) for r in rows.values())
    b = frame_statistics(_frames(4, sigma=2.0, seed=1))
    rows = {r["statistic"]: r for r in realism_table(b, a)}
    assert rows["local_contrast"]["distance_sd"] > 1 and rows["grain_axial"]["synthetic"] > rows["grain_axial"]["real"]


def test_patches_lie_inside_the_region():
    frames = _frames(3)
    p, owner, depth = sample_patches(frames, per_frame=5, patch=12, rng=np.random.default_rng(0))
    assert p.shape == (15, 12, 12) and (p > 0).all() and set(owner) == {0, 1, 2}
    assert ((0 <= depth) & (depth <= 1)).all()
    assert patch_features(p, depth).shape[0] == 15
    with pytest.raises(InputError, match="no patch fits"):
        sample_patches(frames, per_frame=2, patch=47, rng=np.random.default_rng(0))


def test_two_sample_test_separates_different_and_not_alike():
    same = classifier_two_sample_test(_frames(12, seed=1), _frames(12, seed=2), per_frame=10, patch=12, folds=3)
    assert 0.3 < same["auc"] < 0.7
    diff = classifier_two_sample_test(_frames(12, seed=1), _frames(12, sigma=2.0, seed=2), per_frame=10, patch=12,
                                      folds=3)
    assert diff["auc"] > 0.9 and diff["n_synthetic"] == diff["n_real"] == 120


def test_synthetic_frames_and_real_folder(tmp_path, real_lus_dir):
    frames, probes = synthetic_frames(3, size=64, seed=4)
    again, _ = synthetic_frames(3, size=64, seed=4)
    assert frames.shape == (3, 64, 64) and np.array_equal(frames, again) and set(probes) <= {"convex", "linear"}
    real, names = load_frames(real_lus_dir / "frames", size=64, limit=2)
    assert real.shape == (2, 64, 64) and len(names) == 2
    with pytest.raises(InputError, match="does not exist"):
        load_frames(tmp_path / "nowhere")
    # frames in subfolders (one per patient or source) are read too; hidden ones are not
    src = sorted((real_lus_dir / "frames").glob("*.png"))[:3]
    for sub, f in zip(("", "p1/", "p2/deep/"), src, strict=True):
        (tmp_path / "nested" / sub).mkdir(parents=True, exist_ok=True)
        (tmp_path / "nested" / sub / f.name).write_bytes(f.read_bytes())
    (tmp_path / "nested" / ".cache").mkdir()
    (tmp_path / "nested" / ".cache" / "x.png").write_bytes(src[0].read_bytes())
    nested, names = load_frames(tmp_path / "nested", size=32)
    assert names == sorted([src[0].name, f"p1/{src[1].name}", f"p2/deep/{src[2].name}"]) and nested.shape[0] == 3
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match="holds no PNG"):
        load_frames(tmp_path / "empty")


def test_source_reference_scales_the_two_sample_auc():
    """Two sources drawn alike sit near 0.5; a blurred source separates; small sources are left out."""
    frames = np.concatenate([_frames(10, seed=1), _frames(10, seed=2), _frames(10, sigma=2.0, seed=3), _frames(3, seed=4),
                             _frames(10, seed=7), _frames(10, seed=8)])
    sources = ["a"] * 10 + ["b"] * 10 + ["c"] * 10 + ["d"] * 3 + ["e"] * 10 + [""] * 10
    patients = [f"p{k // 2}" for k in range(33)] + ["solo"] * 10 + [f"q{k}" for k in range(10)]
    # d has too few frames, e a single patient (no grouped split), "" is an unknown source
    assert kept_sources(sources, patients) == ["a", "b", "c"]
    ref = source_reference(frames, sources, patients, per_frame=10, patch=12, folds=3)
    auc = {(r["a"], r["b"]): r["auc"] for r in ref}
    assert set(auc) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert 0.3 < auc[("a", "b")] < 0.7
    assert auc[("a", "c")] > 0.9 and auc[("b", "c")] > 0.9
    assert all(r["n_a"] == r["n_b"] == 10 for r in ref)
    with pytest.raises(InputError, match="one source per frame"):
        source_reference(frames, sources[:-1])
    with pytest.raises(InputError, match="one group"):
        source_reference(frames, sources, patients[:-1])


def test_two_sample_test_needs_two_groups_a_side_and_one_group_per_frame():
    a, b = _frames(6, seed=1), _frames(6, seed=2)
    with pytest.raises(InputError, match="real side: its frames form fewer than two groups"):
        classifier_two_sample_test(a, b, per_frame=4, patch=12, groups_real=["p"] * 6)
    with pytest.raises(InputError, match="groups_synthetic: 5 groups for 6 frames"):
        classifier_two_sample_test(a, b, per_frame=4, patch=12, groups_synthetic=list(range(5)))


def test_grouped_two_sample_test_keeps_patients_on_one_side():
    """Two alike sets whose patients have four copies of one frame each: split by frame the
    copies leak and the classifier tells the sets apart; split by patient it cannot."""
    a, b = np.repeat(_frames(8, seed=5), 4, axis=0), np.repeat(_frames(8, seed=6), 4, axis=0)
    pat = np.repeat(np.arange(8), 4)
    leaky = classifier_two_sample_test(a, b, per_frame=6, patch=12, folds=4)
    grouped = classifier_two_sample_test(a, b, per_frame=6, patch=12, folds=4, groups_synthetic=pat, groups_real=pat)
    assert leaky["auc"] > 0.62
    assert grouped["auc"] < 0.58 and grouped["n_synthetic"] == grouped["n_real"] == 192


def test_frame_table_reads_sources_and_patients(tmp_path):
    t = tmp_path / "labels.csv"
    t.write_text("filename,source,patient_key\nframes/x.png,s1,p1\nframes/y.png,s2,\n")
    assert frame_table(t, ["y.png", "x.png"]) == (["s2", "s1"], ["y.png", "p1"])
    with pytest.raises(InputError, match="no row for frame 'z.png'"):
        frame_table(t, ["x.png", "z.png"])
    with pytest.raises(InputError, match="no column 'site'"):
        frame_table(t, ["x.png"], source="site")
    with pytest.raises(InputError, match="does not exist"):
        frame_table(tmp_path / "none.csv", ["x.png"])
    # without the source column: an error unless the column is optional; patients from a fallback
    t.write_text("filename,patient_key\nframes/x.png,p1\nframes/y.png,\n")
    with pytest.raises(InputError, match="no column 'source'"):
        frame_table(t, ["x.png"])
    assert frame_table(t, ["x.png", "y.png"], require_source=False, default_patients=["fx", "fy"]) == (
        ["", ""], ["p1", "fy"])
    t.write_text("filename,source\na/x.png,s1\nb/x.png,s2\n")
    with pytest.raises(InputError, match="'x.png' is named twice \\(rows 2 and 3\\)"):
        frame_table(t, ["x.png"])
    assert frame_table(t, ["a/x.png", "b/x.png"]) == (["s1", "s2"], ["a/x.png", "b/x.png"])  # told apart
    t.write_text("name,source\nx.png,s1\n")
    with pytest.raises(InputError, match="no column 'filename'"):
        frame_table(t, ["x.png"])
    t.write_bytes(b"")
    with pytest.raises(InputError, match="not a readable CSV"):
        frame_table(t, ["x.png"])
