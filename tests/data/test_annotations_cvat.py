"""CVAT readers: images XML, video XML (tracks), task backups, written here after the
format descriptions in the CVAT documentation (XML annotation format 1.1, task backup)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lusfeat.data.annotations import AnnotationOptions, frame_planes, group_shapes, read_annotations
from lusfeat.data.ingest import Problems

META_IMAGES = """<meta><task><id>7</id><name>lus</name><size>2</size><mode>annotation</mode>
<owner><username>alice</username></owner></task></meta>"""


def images_xml(body: str, meta: str = META_IMAGES) -> str:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>{meta}{body}</annotations>'


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def planes_of(files, size, options=None, problems=None):
    problems = problems or Problems()
    options = options or AnnotationOptions()
    groups = group_shapes(files, options, problems)
    return {k: frame_planes(v, size, options.line_width, problems) for k, v in groups.items()}, problems


def test_images_xml_every_shape_kind(tmp_path):
    # 8 x 6 image; a_line mask: CVAT RLE over the box left=4, top=1, 2 x 2 -> pixels (1,4) (2,5)
    body = """
    <image id="0" name="scans/f0.png" width="8" height="6">
      <box label="consolidation" source="manual" occluded="0" xtl="0" ytl="0" xbr="2" ybr="2" z_order="0">
        <attribute name="confidence">40</attribute></box>
      <polygon label="b_line_70" occluded="0" points="4,2;8,2;8,6;4,6" z_order="0"/>
      <polyline label="pleural_line" occluded="0" points="0.5,5.5;3.5,5.5" z_order="0"/>
      <points label="pleural_line" occluded="0" points="7.5,0.5" z_order="0"/>
      <ellipse label="effusion" occluded="0" cx="1.5" cy="3.5" rx="0.6" ry="1.2" z_order="0"/>
      <mask label="a_line" source="manual" occluded="0" rle="0, 1, 2, 1" left="4" top="1" width="2" height="2" z_order="0"/>
      <tag label="effusion"/>
    </image>"""
    files = read_annotations(write(tmp_path / "alice.xml", images_xml(body)))
    assert files[0].annotator == "alice"
    planes, problems = planes_of(files, (6, 8), AnnotationOptions(line_width=1.0))
    assert not problems.errors
    conf = planes[("scans/f0.png", 0, "alice")]
    pl, al, bl, co, ef = conf
    assert np.argwhere(co == 40).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert (bl[2:, 4:] == 70).all() and bl.sum() == 70 * 16
    assert np.argwhere(pl == 100).tolist() == [[0, 7], [5, 0], [5, 1], [5, 2], [5, 3]]
    assert np.argwhere(ef == 100).tolist() == [[2, 1], [3, 1], [4, 1]]
    assert np.argwhere(al == 100).tolist() == [[1, 4], [2, 5]]
    assert files[0].notes == ["alice.xml: 1 <tag> element(s) not used (no mask meaning)"]


def test_unknown_label_is_reported_and_skipped_or_an_error_when_strict(tmp_path):
    body = """<image id="0" name="f.png" width="4" height="4">
      <box label="rib" xtl="0" ytl="0" xbr="2" ybr="2"/><box label="Rib" xtl="1" ytl="1" xbr="2" ybr="2"/>
      <box label="aline" xtl="0" ytl="0" xbr="4" ybr="1"/></image>"""
    files = read_annotations(write(tmp_path / "a.xml", images_xml(body)))
    planes, problems = planes_of(files, (4, 4))
    assert planes == {}
    assert len(problems.warnings) == 2 and "label 'rib' (2 shape(s)) is not a lusfeat class" in problems.warnings[0]
    strict = Problems(strict=True)
    planes_of(files, (4, 4), problems=strict)
    assert len(strict.errors) == 2 and "--strict" in strict.errors[0]
    # a label map brings them in: aline -> a_line, rib skipped on purpose without a warning
    opts = AnnotationOptions(label_map={"aline": "a_line", "rib": "-"})
    planes, problems = planes_of(files, (4, 4), opts)
    assert not problems.warnings
    assert planes[("f.png", 0, "alice")][1][0].tolist() == [100, 100, 100, 100]


def test_bad_shapes_are_one_line_errors_naming_file_and_shape(tmp_path):
    body = """<image id="0" name="f.png" width="4" height="4">
      <box label="b_line" xtl="0" ytl="0" xbr="2"/>
      <polygon label="b_line" points="0,0;1;2,2"/>
      <box label="b_line" xtl="10" ytl="10" xbr="12" ybr="12"/>
      <box label="b_line" xtl="0" ytl="0" xbr="1" ybr="1"><attribute name="confidence">high</attribute></box>
      <box label="b_line" xtl="0" ytl="0" xbr="1" ybr="1"><attribute name="confidence">140</attribute></box>
    </image>"""
    problems = Problems()
    files = read_annotations(write(tmp_path / "bad.xml", images_xml(body)), problems=problems)
    planes_of(files, (4, 4), problems=problems)
    errs = problems.errors
    assert len(errs) == 5, errs
    assert all("\n" not in e and e.startswith("bad.xml image 'f.png'") for e in errs)
    assert "box 1: malformed box (missing attribute 'ybr')" in errs[0]
    assert "polygon 2: malformed polygon" in errs[1]
    assert "attribute 'confidence' is 'high', not a number" in errs[2]
    assert "140, outside 0..100" in errs[3]
    assert "box 3: the shape covers no pixel of the 4 x 4 frame" in errs[4]


def test_malformed_file_is_one_error(tmp_path):
    problems = Problems()
    read_annotations(write(tmp_path / "broken.xml", "<annotations><image name='a'>"), problems=problems)
    assert len(problems.errors) == 1 and problems.errors[0].startswith(f"{tmp_path / 'broken.xml'}: not readable CVAT XML")
    problems = Problems()
    read_annotations(write(tmp_path / "other.xml", "<dataset/>"), "cvat", problems=problems)
    assert "root element is <dataset>, not <annotations>" in problems.errors[0]


VIDEO_META = """<meta><task><id>3</id><name>clip</name><size>6</size><mode>interpolation</mode>
<start_frame>2</start_frame><stop_frame>12</stop_frame><frame_filter>step=2</frame_filter>
<original_size><width>10</width><height>4</height></original_size><source>clip.mp4</source>
<assignee><username>bob</username></assignee><owner><username>admin</username></owner></task></meta>"""


def test_video_tracks_interpolate_between_keyframes_and_stop_when_outside(tmp_path):
    body = """
    <track id="0" label="b_line" source="manual">
      <box frame="0" keyframe="1" outside="0" occluded="0" xtl="0" ytl="0" xbr="2" ybr="2" z_order="0">
        <attribute name="confidence">60</attribute></box>
      <box frame="4" keyframe="1" outside="0" occluded="0" xtl="4" ytl="0" xbr="6" ybr="2" z_order="0">
        <attribute name="confidence">60</attribute></box>
      <box frame="5" keyframe="1" outside="1" occluded="0" xtl="4" ytl="0" xbr="6" ybr="2" z_order="0"/>
    </track>
    <track id="1" label="pleural_line" source="manual">
      <polyline frame="3" keyframe="1" outside="0" occluded="0" points="0,3.5;10,3.5" z_order="0"/>
    </track>"""
    files = read_annotations(write(tmp_path / "video.xml", images_xml(body, VIDEO_META)))
    assert files[0].annotator == "bob"
    assert files[0].sources["clip.mp4"].n_frames == 6
    planes, problems = planes_of(files, (4, 10), AnnotationOptions(line_width=1.0))
    assert not problems.errors
    # task frame f is source frame 2 + 2 f; the box moves one pixel per task frame
    b_frames = sorted(f for (_, f, _), p in planes.items() if p[2].any())
    assert b_frames == [2, 4, 6, 8, 10]
    for f in range(5):
        cols = np.flatnonzero(planes[("clip.mp4", 2 + 2 * f, "bob")][2][0])
        assert cols.tolist() == [f, f + 1], f
        assert planes[("clip.mp4", 2 + 2 * f, "bob")][2].max() == 60
    # the polyline track starts at task frame 3 and lasts to the task's last frame (5)
    pl_frames = sorted(f for (_, f, _), p in planes.items() if p[0].any())
    assert pl_frames == [8, 10, 12]


def test_video_frame_past_the_task_is_an_error(tmp_path):
    body = """<track id="4" label="b_line"><box frame="9" keyframe="1" outside="0" xtl="0" ytl="0" xbr="1" ybr="1"/></track>"""
    problems = Problems()
    read_annotations(write(tmp_path / "v.xml", images_xml(body, VIDEO_META)), problems=problems)
    assert problems.errors == ["v.xml track 4 box frame 9: malformed box (frame 9 is past the task's last frame 5); "
                               "fix the track in CVAT and export again"]


def _backup(root: Path, *, video: bool) -> Path:
    (root / "data").mkdir(parents=True)
    task = {"name": "lus", "version": "1.0", "labels": [{"name": "b_line", "attributes": []}],
            "data": {"chunk_size": 36, "image_quality": 70, "start_frame": 1 if video else 0,
                     "stop_frame": 9 if video else 1, "frame_filter": "step=4" if video else "",
                     "storage_method": "cache", "storage": "local"},
            "jobs": [{"start_frame": 0, "stop_frame": 2, "status": "annotation"}]}
    if video:
        manifest = [{"version": "1.1"}, {"type": "video"},
                    {"properties": {"name": "clip.mp4", "resolution": [6, 4], "length": 10}}]
    else:
        manifest = [{"version": "1.1"}, {"type": "images"},
                    {"name": "b", "extension": ".png", "width": 6, "height": 4},
                    {"name": "a", "extension": ".png", "width": 6, "height": 4}]
    # a_line mask over left=1, top=0, right=2, bottom=1 (2 x 2): rows "#." and ".#"
    shapes = [
        {"type": "rectangle", "occluded": False, "outside": False, "z_order": 0, "rotation": 0.0,
         "points": [0, 0, 2, 4], "frame": 1, "group": 0, "source": "manual", "label": "b_line",
         "attributes": [{"spec": "confidence", "value": "80"}]},
        {"type": "mask", "occluded": False, "z_order": 0, "rotation": 0.0, "points": [0, 1, 2, 1, 1, 0, 2, 1],
         "frame": 0, "group": 0, "source": "manual", "label": "a_line", "attributes": []},
        {"type": "ellipse", "points": [3.5, 2.5, 4.5, 1.5], "frame": 0, "label": "effusion", "attributes": []},
    ]
    tracks = [{"frame": 0, "label": "consolidation", "group": 0, "source": "manual", "attributes": [],
               "shapes": [{"type": "polygon", "points": [0, 0, 2, 0, 2, 2, 0, 2], "frame": 0, "outside": False,
                           "occluded": False, "z_order": 0, "rotation": 0.0, "attributes": []},
                          {"type": "polygon", "points": [2, 0, 4, 0, 4, 2, 2, 2], "frame": 2, "outside": False,
                           "occluded": False, "z_order": 0, "rotation": 0.0, "attributes": []}]}] if video else []
    (root / "task.json").write_text(json.dumps(task))
    (root / "annotations.json").write_text(json.dumps([{"version": 0, "tags": [], "shapes": shapes, "tracks": tracks}]))
    (root / "data" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in manifest))
    return root


def test_backup_of_a_video_task_maps_task_frames_to_source_frames(tmp_path):
    root = _backup(tmp_path / "task_3_backup", video=True)
    files = read_annotations(root, "auto", annotator="carol")
    assert files[0].format == "cvat-backup" and files[0].sources["clip.mp4"].n_frames == 3
    planes, problems = planes_of(files, (4, 6))
    assert not problems.errors
    # step 4 from frame 1: task frames 0, 1, 2 are source frames 1, 5, 9
    assert sorted({f for (_, f, _) in planes}) == [1, 5, 9]
    assert np.argwhere(planes[("clip.mp4", 1, "carol")][1]).tolist() == [[0, 1], [1, 2]]
    assert (planes[("clip.mp4", 5, "carol")][2][:, :2] == 80).all()
    assert np.argwhere(planes[("clip.mp4", 1, "carol")][4]).tolist() == [[1, 3], [2, 2], [2, 3], [2, 4], [3, 3]]
    # the track moves from columns 0-1 to 2-3 over two task frames: at task frame 1, 1-2
    assert np.flatnonzero(planes[("clip.mp4", 5, "carol")][3][0]).tolist() == [1, 2]
    assert np.flatnonzero(planes[("clip.mp4", 9, "carol")][3][0]).tolist() == [2, 3]


def test_backup_of_an_image_task_as_zip(tmp_path):
    root = _backup(tmp_path / "b", video=False)
    zpath = tmp_path / "backup.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in root.rglob("*"):
            if p.is_file():
                z.write(p, str(p.relative_to(root)))
    files = read_annotations(zpath)
    planes, problems = planes_of(files, (4, 6))
    assert not problems.errors
    # frames follow data/manifest.jsonl: frame 0 is b.png, frame 1 is a.png
    assert set(planes) == {("b.png", 0, "backup"), ("a.png", 0, "backup")}
    assert (planes[("a.png", 0, "backup")][2][:, :2] == 80).all()


def test_backup_jobs_of_two_assignees_are_two_annotators(tmp_path):
    root = _backup(tmp_path / "b", video=False)
    task = json.loads((root / "task.json").read_text())
    task["jobs"] = [{"start_frame": 0, "stop_frame": 1, "assignee": {"username": "ann"}},
                    {"start_frame": 0, "stop_frame": 1, "assignee": {"username": "ben"}}]
    (root / "task.json").write_text(json.dumps(task))
    job = json.loads((root / "annotations.json").read_text())[0]
    (root / "annotations.json").write_text(json.dumps([job, job]))
    planes, problems = planes_of(read_annotations(root), (4, 6))
    assert not problems.errors
    assert {who for (_, _, who) in planes} == {"ann", "ben"}
    assert np.array_equal(planes[("a.png", 0, "ann")], planes[("a.png", 0, "ben")])


def test_backup_missing_annotations_is_one_error(tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    (root / "task.json").write_text("{}")
    problems = Problems()
    read_annotations(root, "cvat-backup", problems=problems)
    assert problems.errors == [f"{root}: CVAT backup lacks 'annotations.json'; export the task again with 'Backup Task'"]


def test_unknown_format_option():
    from lusfeat import InputError

    with pytest.raises(InputError, match="--format 'voc' is not one of"):
        read_annotations("x.xml", "voc")
