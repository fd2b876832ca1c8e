"""COCO 1.0 instance segmentation and LabelMe readers, on files written here after the
published format descriptions (cocodataset.org "Data format"; LabelMe's JSON files)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np

from lusfeat.data.annotations import (
    AnnotationOptions,
    coco_rle_encode,
    frame_planes,
    group_shapes,
    parse_label_map,
    read_annotations,
)
from lusfeat.data.ingest import Problems


def planes_of(files, size, options=None, problems=None):
    problems = problems or Problems()
    options = options or AnnotationOptions()
    groups = group_shapes(files, options, problems)
    return {k: frame_planes(v, size, options.line_width, problems) for k, v in groups.items()}, problems


def coco_file(path: Path, annotations: list[dict]) -> Path:
    data = {
        "info": {"description": "lus"}, "licenses": [],
        "images": [{"id": 1, "file_name": "f1.png", "width": 6, "height": 4},
                   {"id": 2, "file_name": "f2.png", "width": 6, "height": 4}],
        "categories": [{"id": 1, "name": "B-line", "supercategory": ""},
                       {"id": 2, "name": "consolidation", "supercategory": ""},
                       {"id": 3, "name": "lungsliding", "supercategory": ""}],
        "annotations": annotations,
    }
    path.write_text(json.dumps(data))
    return path


def test_coco_polygons_rle_bbox_scores_and_attributes(tmp_path):
    crowd = np.zeros((4, 6), bool)
    crowd[1:3, 4] = True
    compressed = np.zeros((4, 6), bool)
    compressed[3, :] = True
    anns = [
        # two polygons of one annotation: union of the boxes [0,2]x[0,2] and [4,6]x[0,1]
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 6, "bbox": [0, 0, 6, 2],
         "segmentation": [[0, 0, 2, 0, 2, 2, 0, 2], [4, 0, 6, 0, 6, 1, 4, 1]], "attributes": {"confidence": 55}},
        {"id": 2, "image_id": 1, "category_id": 2, "iscrowd": 1, "area": 2, "bbox": [4, 1, 1, 2],
         "segmentation": coco_rle_encode(crowd, compressed=False), "score": 0.25},
        {"id": 3, "image_id": 1, "category_id": 2, "iscrowd": 1, "area": 6, "bbox": [0, 3, 6, 1],
         "segmentation": coco_rle_encode(compressed, compressed=True), "attributes": {"annotator": "bob"}},
        {"id": 4, "image_id": 2, "category_id": 2, "iscrowd": 0, "area": 1, "bbox": [1, 1, 1, 1], "segmentation": []},
        {"id": 5, "image_id": 2, "category_id": 3, "iscrowd": 0, "bbox": [1, 1, 1, 1], "segmentation": []},
    ]
    files = read_annotations(coco_file(tmp_path / "alice.json", anns))
    opts = AnnotationOptions(label_map=parse_label_map(["lungsliding=pleural_line"]))
    planes, problems = planes_of(files, (4, 6), opts)
    assert not problems.errors and not problems.warnings
    f1 = planes[("f1.png", 0, "alice")]
    assert np.argwhere(f1[2] == 55).tolist() == [[0, 0], [0, 1], [0, 4], [0, 5], [1, 0], [1, 1]]
    assert np.array_equal(f1[3] == 25, crowd)  # score 0.25 -> 25 percent
    assert np.array_equal(planes[("f1.png", 0, "bob")][3] == 100, compressed)
    f2 = planes[("f2.png", 0, "alice")]
    assert np.argwhere(f2[3]).tolist() == [[1, 1]] and np.argwhere(f2[0]).tolist() == [[1, 1]]


def test_coco_errors_name_the_annotation(tmp_path):
    anns = [
        {"id": 8, "image_id": 9, "category_id": 1, "segmentation": []},
        {"id": 9, "image_id": 1, "category_id": 1, "segmentation": {"size": [4, 6], "counts": [3, 2]}},
        {"id": 10, "image_id": 1, "category_id": 1, "segmentation": {"size": [5, 6], "counts": [30]}},
    ]
    problems = Problems()
    read_annotations(coco_file(tmp_path / "c.json", anns), "coco", problems=problems)
    assert problems.errors == [
        "c.json annotation 8: refers to missing 9 (image_id/category_id not listed); fix the file",
        "c.json annotation 9 (image 'f1.png', B-line): malformed segmentation (RLE counts sum to 5 pixels, "
        "but the mask has 24); export the annotation again",
        "c.json annotation 10 (image 'f1.png', B-line): malformed segmentation (RLE size [5, 6] differs from "
        "the image's [4, 6]); export the annotation again",
    ]
    problems = Problems()
    (tmp_path / "x.json").write_text('{"images": []')
    read_annotations(tmp_path / "x.json", "coco", problems=problems)
    assert len(problems.errors) == 1 and "not a readable COCO file" in problems.errors[0]


def _png_b64(mask: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def labelme_file(path: Path, shapes: list[dict], image: str = "img/f1.png") -> Path:
    path.write_text(json.dumps({"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image,
                                "imageData": None, "imageHeight": 5, "imageWidth": 6}))
    return path


def shp(label, kind, points, **kw):
    return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": kind, "flags": {}, **kw}


def test_labelme_every_shape_type(tmp_path):
    m = np.array([[1, 0], [1, 1]], bool)
    shapes = [
        shp("b_line_30", "polygon", [[0, 0], [2, 0], [2, 2], [0, 2]]),
        shp("consolidation", "rectangle", [[6, 5], [4, 3]], description="confidence=65"),
        shp("effusion", "circle", [[3.5, 3.5], [4.5, 3.5]]),
        shp("pleural_line", "linestrip", [[0.5, 4.5], [2.5, 4.5]]),
        shp("pleural_line", "line", [[5.5, 0.5], [5.5, 1.5]]),
        shp("a_line", "mask", [[3, 0], [4, 1]], mask=_png_b64(m)),
        shp("b_line", "point", [[0.2, 4.9]]),
    ]
    files = read_annotations(labelme_file(tmp_path / "f1.json", shapes))
    assert files[0].sources["img/f1.png"].size == (5, 6)
    planes, problems = planes_of(files, (5, 6), AnnotationOptions(line_width=1.0))
    assert not problems.errors
    pl, al, bl, co, ef = planes[("img/f1.png", 0, "f1")]
    assert np.argwhere(bl == 30).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert np.argwhere(bl == 100).tolist() == [[4, 0]]
    assert np.argwhere(co == 65).tolist() == [[3, 4], [3, 5], [4, 4], [4, 5]]
    assert np.argwhere(ef).tolist() == [[2, 3], [3, 2], [3, 3], [3, 4], [4, 3]]
    assert np.argwhere(pl).tolist() == [[0, 5], [1, 5], [4, 0], [4, 1], [4, 2]]
    assert np.argwhere(al).tolist() == [[0, 3], [1, 3], [1, 4]]


def test_labelme_folder_is_one_annotator_and_bad_shapes_are_errors(tmp_path):
    folder = tmp_path / "dana"
    folder.mkdir()
    labelme_file(folder / "a.json", [shp("b_line", "polygon", [[0, 0], [1, 1]]),
                                     shp("b_line", "cuboid", [[0, 0], [1, 1]])], image="a.png")
    labelme_file(folder / "b.json", [shp("b_line", "rectangle", [[0, 0], [1, 1]])], image="b.png")
    problems = Problems()
    files = read_annotations(folder, problems=problems)
    assert [f.annotator for f in files] == ["dana", "dana"]
    assert problems.errors == [
        "a.json shape 1 (polygon 'b_line'): malformed shape (ValueError: polygon has 2 point(s); it needs at "
        "least 3); fix it in LabelMe and save again",
        "a.json shape 2 (cuboid 'b_line'): shape type 'cuboid' is not one of ['circle', 'line', 'linestrip', "
        "'mask', 'point', 'points', 'polygon', 'rectangle']",
    ]
