"""Ingest of each input format, masks and DICOM de-identification."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import tifffile

from lusfeat.data import open_cohort
from lusfeat.data.ingest import DICOM_IDENTIFYING_TAGS, ingest, read_source

from .ingest_helpers import (
    fan_frame,
    rect_frame,
    write_dicom,
    write_manifest,
    write_png,
    write_video,
)
from .ingest_helpers import (
    manifest_row as _row,
)


def test_png_gray_and_rgb(tmp_path):
    g, _ = fan_frame(seed=1)
    c, _ = fan_frame(seed=2, rgb=True)
    write_png(tmp_path / "g.png", g)
    write_png(tmp_path / "c.png", c)
    m = write_manifest(tmp_path / "m.csv", [
        _row("g.png", pixel_spacing_mm=0.3), _row("c.png", zone="L1", clip_id="clipC", frame_index=7),
    ])
    out = ingest(m, tmp_path / "coh", size=64)
    coh = open_cohort(out)
    assert coh.n_frames == 2 and coh.shape == (64, 64) and coh.truth is None
    assert coh.meta["source"]["kind"] == "ingested"
    assert len(coh.meta["source"]["manifest_fingerprint"]) == 16
    f = coh.frames
    assert f.loc[0, "frame_id"] == "g#0" and f.loc[1, "frame_id"] == "clipC#7"
    assert f.loc[0, "pixel_spacing_mm"] == pytest.approx(0.3 / f.loc[0, "scale"])
    assert np.isnan(f.loc[1, "pixel_spacing_mm"])
    assert f.loc[0, "probe"] == "convex" and f.loc[0, "probe_source"] == "detected"
    assert f.loc[1, "colour_pixels"] > 0
    assert coh.images[0][0, 0] == 0 and coh.images[0].max() > 100
    assert int(coh.confidence[:].max()) == 0  # no masks: nothing labelled
    assert list(coh.clinical["exam_id"]) == ["E1"] and np.isnan(coh.clinical.loc[0, "spo2"])


def test_multipage_tiff_and_every(tmp_path):
    stack = np.stack([rect_frame(seed=s) for s in range(5)])
    tifffile.imwrite(tmp_path / "s.tif", stack)
    m = write_manifest(tmp_path / "m.csv", [_row("s.tif")])
    coh = open_cohort(ingest(m, tmp_path / "coh", size=32, every=2))
    assert list(coh.frames["frame_index"]) == [0, 2, 4]
    assert (coh.frames["region_kind"] == "rectangle").all()
    assert (coh.frames["probe"] == "linear").all()


def test_dicom_multiframe_spacing(tmp_path):
    frames = np.stack([fan_frame(seed=s)[0] for s in range(3)])
    write_dicom(tmp_path / "cine.dcm", frames, spacing_cm=0.025)
    src = read_source(tmp_path / "cine.dcm")
    assert src.frames.shape == (3, 120, 160) and src.kind == "dicom"
    assert src.spacing_mm == pytest.approx(0.25) and src.spacing_source == "dicom_ultrasound_region"
    m = write_manifest(tmp_path / "m.csv", [_row("cine.dcm")])
    coh = open_cohort(ingest(m, tmp_path / "coh", size=64))
    f = coh.frames
    assert len(f) == 3 and (f["spacing_source"] == "dicom_ultrasound_region").all()
    assert np.allclose(f["pixel_spacing_mm"], 0.25 / f["scale"])
    assert coh.meta["ingest"]["dicom_headers"]["cine.dcm"]["Manufacturer"] == "ExampleSonics"


def test_dicom_deidentified_and_source_untouched(tmp_path):
    frames = np.stack([fan_frame(seed=s)[0] for s in range(2)])
    p = write_dicom(tmp_path / "cine.dcm", frames)
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    m = write_manifest(tmp_path / "m.csv", [_row("cine.dcm")])
    out = ingest(m, tmp_path / "coh", size=32)
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before
    header = open_cohort(out).meta["ingest"]["dicom_headers"]["cine.dcm"]
    assert not set(header) & set(DICOM_IDENTIFYING_TAGS)
    for secret in (b"DOE^JANE", b"PID-0042", b"19491231", b"Saint Example", b"ACC77881", b"20250102"):
        for f in out.rglob("*"):
            if f.is_file():
                assert secret not in f.read_bytes(), (secret, f)
    # opting out keeps them
    out2 = ingest(m, tmp_path / "coh2", size=32, deidentify=False)
    assert open_cohort(out2).meta["ingest"]["dicom_headers"]["cine.dcm"]["PatientID"] == "PID-0042"


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".gif"])
def test_video_every(tmp_path, suffix):
    frames = np.stack([fan_frame(seed=s)[0] for s in range(6)])
    write_video(tmp_path / f"v{suffix}", frames)
    m = write_manifest(tmp_path / "m.csv", [_row(f"v{suffix}")])
    coh = open_cohort(ingest(m, tmp_path / "coh", size=48, every=2))
    assert list(coh.frames["frame_index"]) == [0, 2, 4]
    assert (coh.frames["source_kind"] == "video").all()
    assert coh.images[1].max() > 50


def test_video_single_frame_index(tmp_path):
    frames = np.stack([fan_frame(seed=s)[0] for s in range(4)])
    write_video(tmp_path / "v.mp4", frames)
    src = read_source(tmp_path / "v.mp4", frame_index=2)
    assert src.frames.shape[0] == 1 and list(src.indices) == [2]
    ref = frames[2].astype(float)
    assert np.abs(src.frames[0].astype(float) - ref).mean() < 12  # lossy codec, same frame


def _masks_setup(tmp_path):
    img = rect_frame(100, 140, (0, 100, 0, 140))  # whole frame is image: geometry = resize only
    write_png(tmp_path / "f.png", img)
    a = np.zeros((100, 140), np.uint8)
    a[20:40, 30:60] = 80
    b = np.zeros((100, 140), np.uint8)
    b[50:70, 70:100] = 255
    return a, b


def test_masks_per_class_template_and_annotators(tmp_path):
    a, b = _masks_setup(tmp_path)
    write_png(tmp_path / "a1_b_line.png", a)
    write_png(tmp_path / "a2_consolidation.png", a)
    write_png(tmp_path / "a2_b_line.png", a // 2)
    m = write_manifest(tmp_path / "m.csv", [
        _row("f.png", annotator="ann1", mask_b_line="a1_b_line.png"),
        _row("f.png", annotator="ann2", mask_path="a2_{class}.png"),
    ])
    coh = open_cohort(ingest(m, tmp_path / "coh", size=70))
    assert coh.n_frames == 1 and coh.n_annotators == 2
    assert coh.meta["annotators"] == ["ann1", "ann2"]
    conf = coh.confidence[0]  # (A, C, H, W)
    bl, co = 2, 3
    assert conf[0, bl].max() == 80 and conf[0, co].max() == 0
    assert conf[1, co].max() == 80 and conf[1, bl].max() == 40
    f = coh.frames.iloc[0]  # stored = (orig - crop + pad) * scale: orig (30, 45) -> (25, 22)
    y = round((30 - f["crop_y0"] + f["pad_top"]) * f["scale"])
    x = round((45 - f["crop_x0"] + f["pad_left"]) * f["scale"])
    assert (y, x) == (25, 22)
    assert conf[0, bl][y, x] == 80 and conf[0, bl][5, 5] == 0


def test_mask_byte_scale_detected(tmp_path):
    a, b = _masks_setup(tmp_path)
    write_png(tmp_path / "b.png", b)
    m = write_manifest(tmp_path / "m.csv", [_row("f.png", mask_effusion="b.png")])
    coh = open_cohort(ingest(m, tmp_path / "coh", size=70))
    assert coh.confidence[0, 0, 4].max() == 100
    assert coh.meta["ingest"]["options"]["confidence_scale_used"] == "byte"


def test_mask_stack_npy_and_region_table(tmp_path):
    _masks_setup(tmp_path)
    stack = np.zeros((5, 100, 140), np.uint8)
    stack[2, 10:20, 10:20] = 1
    stack[2, 60:80, 100:120] = 1
    np.save(tmp_path / "stack.npy", stack)
    (tmp_path / "t.csv").write_text("class,region,confidence\nb_line,1,30\nb_line,2,90\n")
    m = write_manifest(tmp_path / "m.csv", [_row("f.png", mask_path="stack.npy", confidence_table="t.csv")])
    coh = open_cohort(ingest(m, tmp_path / "coh", size=140))
    c = coh.confidence[0, 0, 2]
    assert coh.frames.loc[0, "pad_top"] == 20  # 100 x 140 padded to 140 x 140
    assert c[35, 15] == 30 and c[90, 110] == 90 and c[70, 50] == 0


def test_palette_mask_reads_stored_values(tmp_path):
    from PIL import Image

    _masks_setup(tmp_path)
    idx = np.zeros((100, 140), np.uint8)
    idx[20:40, 30:60] = 70
    im = Image.frombytes("P", (140, 100), idx.tobytes())
    im.putpalette([0, 0, 0] * 70 + [255, 0, 0] + [0, 0, 0] * 185)
    im.save(tmp_path / "p.png")
    m = write_manifest(tmp_path / "m.csv", [_row("f.png", mask_a_line="p.png")])
    coh = open_cohort(ingest(m, tmp_path / "coh", size=140))
    assert coh.confidence[0, 0, 1].max() == 70


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".mov"])
def test_more_formats_decode(tmp_path, suffix):
    img = fan_frame(seed=4)[0]
    if suffix == ".mov":
        write_video(tmp_path / f"x{suffix}", np.stack([img, img]))
    else:
        write_png(tmp_path / f"x{suffix}", img)  # imageio picks the format from the suffix
    src = read_source(tmp_path / f"x{suffix}")
    assert src.frames.shape[1:3] == img.shape
    assert np.abs(src.frames[0].astype(float) - img).mean() < 15


def test_single_frame_dicom_pixel_spacing_fallback(tmp_path):
    write_dicom(tmp_path / "one.dcm", fan_frame()[0][None], spacing_cm=None, pixel_spacing_mm=0.3)
    src = read_source(tmp_path / "one.dcm")
    assert src.frames.shape == (1, 120, 160)
    assert src.spacing_mm == pytest.approx(0.3) and src.spacing_source == "dicom_pixel_spacing"


def test_not_an_image_is_reported(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    (tmp_path / "junk.dcm").write_bytes(b"\x00" * 300)
    m = write_manifest(tmp_path / "m.csv", [_row("junk.png"), _row("junk.dcm", exam_id="E2")])
    from lusfeat import ValidationError

    with pytest.raises(ValidationError) as info:
        ingest(m, tmp_path / "coh", size=32)
    text = str(info.value)
    assert "m.csv line 2: cannot read junk.png" in text and "m.csv line 3: cannot read junk.dcm" in text


def test_one_region_per_clip_of_images(tmp_path):
    a, fan = fan_frame(seed=5)
    b = a.copy()
    a[:, : a.shape[1] // 2] = 0  # left half dark in one frame, right half in the other
    b[:, a.shape[1] // 2 :] = 0
    write_png(tmp_path / "a.png", a)
    write_png(tmp_path / "b.png", b)
    m = write_manifest(tmp_path / "m.csv", [_row("a.png", clip_id="c"), _row("b.png", clip_id="c")])
    f = open_cohort(ingest(m, tmp_path / "coh", size=64)).frames
    assert list(f["frame_id"]) == ["c#0", "c#1"]
    boxes = f[["crop_y0", "crop_y1", "crop_x0", "crop_x1"]].drop_duplicates()
    assert len(boxes) == 1  # the same crop for the whole clip
    assert f.loc[0, "crop_x1"] - f.loc[0, "crop_x0"] > 0.9 * fan.any(axis=0).sum()


def test_fingerprints_follow_file_contents(tmp_path):
    write_png(tmp_path / "f.png", rect_frame(seed=1))
    m = write_manifest(tmp_path / "m.csv", [_row("f.png")])
    a = open_cohort(ingest(m, tmp_path / "a", size=32)).meta["source"]
    b = open_cohort(ingest(m, tmp_path / "b", size=32)).meta["source"]
    write_png(tmp_path / "f.png", rect_frame(seed=2))  # same name, new pixels
    c = open_cohort(ingest(m, tmp_path / "c", size=32)).meta["source"]
    assert a["sources_fingerprint"] == b["sources_fingerprint"] != c["sources_fingerprint"]
    assert a["manifest_fingerprint"] == c["manifest_fingerprint"]
    assert a["clinical"] is None
