"""Annotation-tool files through ``ingest``: matching to manifest rows, several annotators,
videos with tracks, the checks, provenance and the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lusfeat import ValidationError
from lusfeat.data import open_cohort
from lusfeat.data.annotations import AnnotationOptions
from lusfeat.data.ingest import ingest
from lusfeat.data.ingest._annotations import parse_annotation_specs

from .ingest_helpers import manifest_row, rect_frame, write_manifest, write_png, write_video

LUSFEAT = Path(sys.executable).with_name("lusfeat")
SIDE = 16


def full_frame(seed: int) -> np.ndarray:
    """A frame whose scan region is the whole frame but three pixels at each corner (the
    region's convex hull), so ingest at its own size keeps every other pixel in place."""
    return rect_frame(SIDE, SIDE, box=(0, SIDE, 0, SIDE), seed=seed)


def cvat_images(path: Path, owner: str, images: dict[str, str]) -> Path:
    body = "".join(f'<image id="{i}" name="{name}" width="{SIDE}" height="{SIDE}">{shapes}</image>'
                   for i, (name, shapes) in enumerate(images.items()))
    path.write_text(f"<annotations><version>1.1</version><meta><task><size>{len(images)}</size>"
                    f"<owner><username>{owner}</username></owner></task></meta>{body}</annotations>")
    return path


@pytest.fixture()
def two_images(tmp_path):
    for k in (1, 2):
        write_png(tmp_path / f"f{k}.png", full_frame(k))
    write_manifest(tmp_path / "m.csv", [manifest_row("f1.png"), manifest_row("f2.png", clip_id="c2")])
    return tmp_path


def test_two_annotators_one_file_each(two_images):
    d = two_images
    a = cvat_images(d / "a.xml", "alice", {
        "f1.png": '<box label="b_line" xtl="2" ytl="0" xbr="6" ybr="16"><attribute name="confidence">70</attribute></box>',
        "f2.png": '<polygon label="consolidation_40" points="6,6;12,6;12,12;6,12"/>'})
    b = cvat_images(d / "b.xml", "bob", {"f1.png": '<box label="lungsliding" xtl="0" ytl="4" xbr="16" ybr="6"/>'})
    out = ingest(d / "m.csv", d / "cohort", size=SIDE,
                 annotations=parse_annotation_specs([str(a), f"robert={b}"]),
                 annotation_options=AnnotationOptions(label_map={"lungsliding": "pleural_line"}, default_confidence=90))
    c = open_cohort(out)
    assert c.meta["annotators"] == ["alice", "robert"]
    conf = np.asarray(c.confidence[:])
    f1 = int(c.frames.set_index("frame_id").loc["f1#0", "array_index"])
    f2 = int(c.frames.set_index("frame_id").loc["c2#0", "array_index"])
    assert (conf[f1, 0, 2][:, 2:6] == 70).all() and conf[f1, 0, 2].sum() == 70 * 64
    assert (conf[f2, 0, 3][6:12, 6:12] == 40).all() and conf[f2, 0, 3].sum() == 40 * 36
    assert (conf[f1, 1, 0][4:6] == 90).all() and conf[f1, 1, 0].sum() == 90 * 32
    assert not conf[f2, 1].any()
    ing = c.meta["ingest"]
    assert ing["annotation_options"]["default_confidence"] == 90
    assert [f["annotator"] for f in ing["annotation_files"]] == ["alice", "robert"]


def test_one_annotator_in_two_files_for_one_frame_is_an_error(two_images):
    d = two_images
    a = cvat_images(d / "a.xml", "alice", {"f1.png": '<box label="b_line" xtl="2" ytl="2" xbr="4" ybr="4"/>'})
    (d / "other").mkdir()
    b = cvat_images(d / "other" / "a.xml", "alice", {"f1.png": '<box label="b_line" xtl="6" ytl="2" xbr="8" ybr="4"/>'})
    with pytest.raises(ValidationError, match=r"annotator 'alice' already labelled this frame in a.xml \(f1.png frame 0\); "
                                              r"give each annotator one file"):
        ingest(d / "m.csv", d / "c", size=SIDE, annotations=parse_annotation_specs([a, b]))


def test_unknown_label_skipped_then_an_error_with_strict(two_images):
    d = two_images
    a = cvat_images(d / "a.xml", "alice", {"f1.png": '<box label="rib" xtl="0" ytl="0" xbr="4" ybr="4"/>'})
    c = open_cohort(ingest(d / "m.csv", d / "c1", size=SIDE, annotations=parse_annotation_specs([str(a)])))
    assert any("label 'rib'" in w for w in c.meta["ingest"]["warnings"])
    with pytest.raises(ValidationError, match=r"label 'rib' \(1 shape\(s\)\) is not a lusfeat class.*--strict"):
        ingest(d / "m.csv", d / "c2", size=SIDE, strict=True, annotations=parse_annotation_specs([str(a)]))
    assert not (d / "c2").exists()


def test_shape_outside_the_image_and_unmatched_images(two_images):
    d = two_images
    a = cvat_images(d / "a.xml", "alice", {"f1.png": '<box label="b_line" xtl="40" ytl="40" xbr="44" ybr="44"/>',
                                           "elsewhere.png": '<box label="b_line" xtl="0" ytl="0" xbr="4" ybr="4"/>'})
    with pytest.raises(ValidationError) as info:
        ingest(d / "m.csv", d / "c", size=SIDE, strict=True, annotations=parse_annotation_specs([str(a)]))
    errs = info.value.problems
    assert any(e.startswith("a.xml image 'f1.png' box 1: the shape covers no pixel of the 16 x 16 frame") for e in errs)
    assert any("shape(s) on 'elsewhere.png' frame 0 match no manifest row" in e for e in errs)
    assert not (d / "c").exists()


def video_xml(path: Path, source: str, tracks: str, size: int = 6) -> Path:
    path.write_text(
        f"<annotations><version>1.1</version><meta><task><size>{size}</size><mode>interpolation</mode>"
        f"<start_frame>0</start_frame><stop_frame>{size - 1}</stop_frame><frame_filter></frame_filter>"
        f"<original_size><width>{SIDE}</width><height>{SIDE}</height></original_size><source>{source}</source>"
        f"<owner><username>eve</username></owner></task></meta>{tracks}</annotations>")
    return path


TRACK = """<track id="0" label="b_line" source="manual">
  <box frame="0" keyframe="1" outside="0" occluded="0" xtl="0" ytl="4" xbr="4" ybr="12"/>
  <box frame="4" keyframe="1" outside="0" occluded="0" xtl="8" ytl="4" xbr="12" ybr="12"/>
  <box frame="5" keyframe="1" outside="1" occluded="0" xtl="8" ytl="4" xbr="12" ybr="12"/></track>"""


def test_video_track_through_ingest_and_the_manifest_column(tmp_path):
    frames = np.stack([full_frame(k) for k in range(6)])
    write_video(tmp_path / "clip.mp4", frames)
    video_xml(tmp_path / "clip.xml", "clip.mp4", TRACK)
    write_manifest(tmp_path / "m.csv", [manifest_row("clip.mp4", annotations="clip.xml", annotator="eve2")])
    c = open_cohort(ingest(tmp_path / "m.csv", tmp_path / "cohort", size=SIDE))
    assert c.n_frames == 6 and c.meta["annotators"] == ["eve2"]
    conf = np.asarray(c.confidence[:])[:, 0, 2]
    order = c.frames.sort_values("frame_index")["array_index"].to_numpy()
    for f in range(5):  # 2 px per task frame from columns 0-3 to 8-11, hidden from frame 5
        assert np.flatnonzero(conf[order[f]][4]).tolist() == list(range(2 * f, 2 * f + 4)), f
        assert conf[order[f]].sum() == 100 * 4 * 8
    assert not conf[order[5]].any()


def test_frame_past_the_end_of_the_video(tmp_path):
    write_video(tmp_path / "clip.mp4", np.stack([full_frame(k) for k in range(3)]))
    video_xml(tmp_path / "clip.xml", "clip.mp4", TRACK.replace('frame="4"', 'frame="3"'), size=10)
    write_manifest(tmp_path / "m.csv", [manifest_row("clip.mp4")])
    with pytest.raises(ValidationError, match=r"clip.xml \(clip.mp4 frame 3\): 1 shape\(s\) on frame 3, past the end "
                                              r"of clip.mp4 \(frames 0..2\)"):
        ingest(tmp_path / "m.csv", tmp_path / "c", size=SIDE, annotations=parse_annotation_specs([tmp_path / "clip.xml"]))


def test_a_file_named_on_rows_gives_each_row_its_own_shapes(two_images):
    d = two_images
    cvat_images(d / "both.xml", "alice", {
        "sub/f1.png": '<box label="b_line" xtl="2" ytl="2" xbr="4" ybr="4"/>',
        "sub/f2.png": '<box label="effusion" xtl="2" ytl="2" xbr="4" ybr="4"/>'})
    # named on f1's row only: f2's shapes match no row (a warning, an error with --strict)
    write_manifest(d / "one.csv", [manifest_row("f1.png", annotations="both.xml"), manifest_row("f2.png", clip_id="c2")])
    with pytest.raises(ValidationError, match=r"shape\(s\) on 'sub/f2.png' frame 0 match no manifest row"):
        ingest(d / "one.csv", d / "c1", size=SIDE, strict=True)
    write_manifest(d / "two.csv", [manifest_row("f1.png", annotations="both.xml"),
                                   manifest_row("f2.png", clip_id="c2", annotations="both.xml")])
    c = open_cohort(ingest(d / "two.csv", d / "c2", size=SIDE, strict=True))
    conf = np.asarray(c.confidence[:])[:, 0]
    i1, i2 = (int(c.frames.set_index("frame_id").loc[f, "array_index"]) for f in ("f1#0", "c2#0"))
    assert conf[i1, 2].sum() == 400 and not conf[i1, 4].any()
    assert conf[i2, 4].sum() == 400 and not conf[i2, 2].any()


def test_manifest_row_with_masks_and_annotations_is_an_error(two_images):
    d = two_images
    write_manifest(d / "m2.csv", [manifest_row("f1.png", annotations="a.xml", mask_b_line="f2.png")])
    cvat_images(d / "a.xml", "alice", {})
    with pytest.raises(ValidationError, match="m2.csv line 2: give either an annotations file or mask columns"):
        ingest(d / "m2.csv", d / "c", size=SIDE)


@pytest.mark.skipif(not LUSFEAT.exists(), reason="console script not installed")
def test_console_script_import_and_bad_input(two_images):
    d = two_images
    a = cvat_images(d / "a.xml", "alice", {"f1.png": '<box label="b_line" xtl="0" ytl="0" xbr="4" ybr="4"/>'})
    ok = subprocess.run([str(LUSFEAT), "ingest", "--manifest", str(d / "m.csv"), "--annotations", str(a),
                         "--format", "cvat-images", "--size", str(SIDE), "--no-progress", str(d / "cohort")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((d / "cohort" / "cohort.json").read_text())["annotators"] == ["alice"]
    bad = subprocess.run([str(LUSFEAT), "ingest", "--manifest", str(d / "m.csv"), "--annotations", str(a),
                          "--label-map", "aline", str(d / "c2")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    lines = [x for x in (bad.stdout + bad.stderr).splitlines() if x.strip()]
    assert len(lines) == 1 and "--label-map 'aline': expected TOOL_LABEL=CLASS" in lines[0]
    (d / "broken.xml").write_text("<annotations><image")
    bad = subprocess.run([str(LUSFEAT), "ingest", "--manifest", str(d / "m.csv"), "--annotations",
                          str(d / "broken.xml"), str(d / "c3")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "broken.xml: not readable CVAT XML" in bad.stderr
    assert not (d / "c2").exists() and not (d / "c3").exists()


# ---- no manifest: the files an annotation export refers to --------------------------------

PATTERN = r"(?P<patient_id>P\d+)_(?P<exam_id>E\d+)_(?P<zone>[RL]\d+)"


def test_without_a_manifest_ids_come_from_the_file_names(tmp_path):
    (tmp_path / "images").mkdir()
    for k, name in enumerate(("P1_E1_R1.png", "P1_E2_L2.png")):
        write_png(tmp_path / "images" / name, full_frame(k))
    a = cvat_images(tmp_path / "alice.xml", "alice", {
        "P1_E1_R1.png": '<box label="b_line" xtl="2" ytl="2" xbr="4" ybr="4"/>',
        "P1_E2_L2.png": '<box label="effusion" xtl="2" ytl="2" xbr="4" ybr="4"/>'})
    lm = tmp_path / "labelme" / "bob"
    lm.mkdir(parents=True)
    (lm / "one.json").write_text(json.dumps({
        "version": "5.4.1", "flags": {}, "imagePath": "../../images/P1_E1_R1.png", "imageData": None,
        "imageHeight": SIDE, "imageWidth": SIDE,
        "shapes": [{"label": "consolidation_50", "points": [[6, 6], [10, 10]], "shape_type": "rectangle",
                    "group_id": None, "description": "", "flags": {}}]}))
    c = open_cohort(ingest(None, tmp_path / "cohort", size=SIDE, id_pattern=PATTERN,
                           annotations=parse_annotation_specs([a, lm])))
    f = c.frames.set_index("exam_id")
    assert sorted(c.frames["patient_id"]) == ["P1", "P1"] and f.loc["E2", "zone"] == "L2"
    assert c.meta["annotators"] == ["alice", "bob"] and c.meta["source"]["manifest"] is None
    assert c.meta["ingest"]["id_pattern"] == PATTERN
    conf = np.asarray(c.confidence[:])
    e1, e2 = int(f.loc["E1", "array_index"]), int(f.loc["E2", "array_index"])
    assert conf[e1, 0, 2].sum() == 400 and conf[e2, 0, 4].sum() == 400
    assert conf[e1, 1, 3].sum() == 50 * 16 and not conf[e2, 1].any()


def test_without_a_manifest_a_video_backup_and_the_default_ids(tmp_path):
    root = tmp_path / "task"
    (root / "data").mkdir(parents=True)
    write_video(root / "data" / "clip.mp4", np.stack([full_frame(k) for k in range(4)]))
    (root / "task.json").write_text(json.dumps({"name": "t", "data": {"start_frame": 0, "stop_frame": 3,
                                                                      "frame_filter": ""}}))
    (root / "data" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in [
        {"version": "1.1"}, {"type": "video"},
        {"properties": {"name": "clip.mp4", "resolution": [SIDE, SIDE], "length": 4}}]))
    (root / "annotations.json").write_text(json.dumps([{"version": 0, "tags": [], "tracks": [], "shapes": [
        {"type": "rectangle", "points": [2, 2, 4, 4], "frame": 2, "label": "b_line", "attributes": [],
         "rotation": 0.0, "occluded": False, "outside": False, "z_order": 0}]}]))
    c = open_cohort(ingest(None, tmp_path / "cohort", size=SIDE, annotations=parse_annotation_specs([root])))
    assert c.n_frames == 4 and set(c.frames["patient_id"]) == {"clip"} and set(c.frames["zone"]) == {"unknown"}
    conf = np.asarray(c.confidence[:])[:, 0, 2]
    frame2 = int(c.frames.set_index("frame_index").loc[2, "array_index"])
    assert conf[frame2].sum() == 400 and conf.sum() == 400


def test_without_a_manifest_problems(tmp_path):
    a = cvat_images(tmp_path / "a.xml", "alice", {"P1_E1_R1.png": "", "other.png": ""})
    write_png(tmp_path / "other.png", full_frame(0))
    with pytest.raises(ValidationError) as info:
        ingest(None, tmp_path / "c", size=SIDE, id_pattern=PATTERN, annotations=parse_annotation_specs([a]))
    assert info.value.problems == [
        f"--annotations {a}: cannot find 'P1_E1_R1.png' of a.xml beside it (its folder, images/ or data/); "
        "unpack the export, or give a --manifest",
        f"--annotations {a}: 'other.png' does not match --id-pattern {PATTERN!r}; fix the pattern or give a --manifest",
    ]
    from lusfeat import InputError

    with pytest.raises(InputError, match="use the named groups"):
        ingest(None, tmp_path / "c", id_pattern=r"(?P<patient>P\d+)", annotations=parse_annotation_specs([a]))
    with pytest.raises(InputError, match="give --manifest M.csv, or --annotations PATH"):
        ingest(None, tmp_path / "c")
    assert not (tmp_path / "c").exists()
