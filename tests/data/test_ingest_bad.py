"""Bad inputs: every problem is named with its file/line and fix, all in one report,
and nothing is left in OUT."""

from __future__ import annotations

import numpy as np
import pytest

from lusfeat import ValidationError
from lusfeat.data.ingest import ingest

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


def _fails(tmp_path, manifest, **kw) -> list[str]:
    out = tmp_path / "out"
    with pytest.raises(ValidationError) as info:
        ingest(manifest, out, size=32, **kw)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]
    return info.value.problems


@pytest.fixture()
def good(tmp_path):
    write_png(tmp_path / "f.png", rect_frame())
    return tmp_path


def test_all_problems_in_one_report(good):
    tmp = good
    (tmp / "trunc.png").write_bytes((tmp / "f.png").read_bytes()[:200])
    write_dicom(tmp / "c.dcm", np.stack([fan_frame()[0]] * 2))
    (tmp / "trunc.dcm").write_bytes((tmp / "c.dcm").read_bytes()[:-5000])
    write_video(tmp / "v.mp4", np.stack([fan_frame(seed=s)[0] for s in range(4)]))
    (tmp / "trunc.mp4").write_bytes((tmp / "v.mp4").read_bytes()[:300])
    write_png(tmp / "small.png", np.zeros((50, 50), np.uint8))
    m = write_manifest(tmp / "m.csv", [
        _row("missing.png"),                                     # line 2
        _row("trunc.png"),                                       # line 3
        _row("trunc.dcm"),                                       # line 4
        _row("trunc.mp4"),                                       # line 5
        _row("f.png", mask_b_line="small.png"),                  # line 6: size mismatch
        _row("f.png", clip_id="f", frame_index=0, zone="R1", annotator="x"),  # duplicate frame id via same key
    ])
    problems = _fails(tmp, m)
    text = "\n".join(problems)
    assert "m.csv line 2" in text and "missing.png does not exist" in text
    assert "m.csv line 3: cannot read trunc.png" in text
    assert "m.csv line 4: cannot read trunc.dcm" in text
    assert "m.csv line 5: cannot read trunc.mp4" in text
    assert "m.csv line 6: mask small.png (b_line) is (50, 50) (W x H) but its image is 140 x 100" in text
    assert "m.csv line 7: duplicate frame ID 'f#0'" in text
    assert len(problems) == 6


@pytest.mark.parametrize("suffix", [".avi", ".gif"])
def test_video_cut_mid_stream(good, suffix):
    write_video(good / f"v{suffix}", np.stack([fan_frame(seed=s)[0] for s in range(6)]))
    data = (good / f"v{suffix}").read_bytes()
    (good / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    m = write_manifest(good / "m.csv", [_row(f"cut{suffix}")])
    (p,) = _fails(good, m)
    assert f"m.csv line 2: cannot read cut{suffix}" in p and "truncated or corrupt" in p


def test_duplicate_frame_ids(good):
    write_png(good / "g.png", rect_frame(seed=3))
    m = write_manifest(good / "m.csv", [
        _row("f.png", clip_id="c1", frame_index=0), _row("g.png", clip_id="c1", frame_index=0),
    ])
    (p,) = _fails(good, m)
    assert "m.csv line 3: duplicate frame ID 'c1#0' (also from m.csv line 2)" in p
    assert "distinct clip_id or frame_index" in p


def test_duplicate_annotator_row(good):
    m = write_manifest(good / "m.csv", [_row("f.png", annotator="a"), _row("f.png", annotator="a")])
    (p,) = _fails(good, m)
    assert "line 3" in p and "remove the duplicate row" in p


@pytest.mark.parametrize(
    ("value", "scale", "expect"),
    [(150, "percent", "above 100"), (300, "auto", "above 255"), (300, "byte", "above 255")],
)
def test_confidence_out_of_range(good, value, scale, expect):
    mask = np.zeros((100, 140), np.uint16)
    mask[10:20, 10:20] = value
    write_png(good / "mk.png", mask)
    m = write_manifest(good / "m.csv", [_row("f.png", mask_b_line="mk.png")])
    (p,) = _fails(good, m, confidence_scale=scale)
    assert "m.csv line 2" in p and expect in p


def test_unknown_class_column_and_table(good):
    mask = np.zeros((100, 140), np.uint8)
    mask[10:20, 10:20] = 1
    write_png(good / "mk.png", mask)
    (good / "t.csv").write_text("class,region,confidence\nbline,1,50\n")
    m = write_manifest(good / "m.csv", [_row("f.png", mask_bline="mk.png")])
    (p,) = _fails(good, m)
    assert "'mask_bline' names unknown class 'bline'" in p
    m = write_manifest(good / "m.csv", [_row("f.png", mask_b_line="mk.png", confidence_table="t.csv")])
    (p,) = _fails(good, m)
    assert "t.csv line 2: unknown class name 'bline'" in p


def test_missing_required_column(good):
    m = write_manifest(good / "m.csv", [{"path": "f.png", "patient_id": "P1", "exam_id": "E1"}])
    (p,) = _fails(good, m)
    assert "lacks the column(s) ['zone']" in p


def test_masks_on_video_need_frame_index(good):
    write_video(good / "v.mp4", np.stack([fan_frame(seed=s)[0] for s in range(2)]))
    write_png(good / "mk.png", np.zeros((120, 160), np.uint8))
    m = write_manifest(good / "m.csv", [_row("v.mp4", mask_b_line="mk.png")])
    (p,) = _fails(good, m)
    assert "need a frame_index" in p


def test_existing_output_refused(good):
    m = write_manifest(good / "m.csv", [_row("f.png")])
    ingest(m, good / "coh", size=32)
    from lusfeat import InputError

    with pytest.raises(InputError, match="--overwrite"):
        ingest(m, good / "coh", size=32)
    ingest(m, good / "coh", size=32, overwrite=True)


def test_exam_with_two_patients_and_duplicate_image_row(good):
    write_png(good / "g.png", rect_frame(seed=3))
    m = write_manifest(good / "m.csv", [
        _row("f.png"), _row("f.png"), _row("g.png", patient_id="P2"),
    ])
    problems = _fails(good, m)
    assert problems[0] == "m.csv line 3: f.png is listed twice; remove the duplicate row"
    assert problems[1].startswith("m.csv line 4: exam 'E1' belongs to patient 'P1' in m.csv line 2 but to 'P2'")
    assert len(problems) == 2


def test_odd_zone_is_a_warning(good, caplog):
    m = write_manifest(good / "m.csv", [_row("f.png", zone="anterior")])
    ingest(m, good / "coh", size=32)
    assert "zone 'anterior' is not of the form" in caplog.text
    (p,) = _fails(good, m, strict=True)
    assert "made an error by --strict" in p


def test_blank_frame_is_a_warning(good, caplog):
    """A frame with nothing on it (a failed export) is named; an ordinary dark frame is not."""
    write_png(good / "blank.png", np.zeros((60, 60), np.uint8))
    m = write_manifest(good / "m.csv", [_row("f.png"), _row("blank.png", clip_id="b")])
    ingest(m, good / "coh", size=32)
    assert "m.csv line 3: every pixel of blank.png is 0; it shows no scan" in caplog.text
    assert "f.png is" not in caplog.text
    (p,) = _fails(good, m, strict=True)
    assert "blank.png" in p and "made an error by --strict" in p


def test_sources_without_masks_beside_annotated_ones_are_a_warning(good, caplog):
    """Frames nobody annotated would be stored as all background: said, and refused with --strict."""
    write_png(good / "g.png", rect_frame(seed=1))
    mask = np.zeros((100, 140), np.uint8)
    mask[30:50, 40:80] = 80
    write_png(good / "m.png", mask)
    m = write_manifest(good / "m.csv", [_row("f.png", mask_b_line="m.png"), _row("g.png", clip_id="g")])
    ingest(m, good / "coh", size=32)
    assert "1 of 2 sources carry no masks or annotations (m.csv line 3)" in caplog.text
    (p,) = _fails(good, m, strict=True)
    assert "m.csv line 3" in p and "made an error by --strict" in p
    caplog.clear()
    both = write_manifest(good / "both.csv", [_row("f.png", mask_b_line="m.png"),
                                              _row("g.png", clip_id="g", mask_b_line="m.png")])
    ingest(both, good / "coh2", size=32)
    assert "carry no masks" not in caplog.text
