"""MONAI datalist and COCO exports; the cohort -> COCO -> cohort round trip."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from lusfeat import InputError
from lusfeat.data import CLASS_NAMES, open_cohort, open_masks
from lusfeat.data._masks import MaskWriter
from lusfeat.data.annotations import AnnotationOptions, frame_planes, group_shapes, read_annotations
from lusfeat.data.export import export
from lusfeat.data.ingest import Problems, ingest
from lusfeat.labels import fuse, parse_strategy

from .ingest_helpers import manifest_row, write_manifest, write_png
from .test_annotations_ingest import SIDE, cvat_images, full_frame


def test_monai_datalist_folds_by_patient_and_weights(tiny_cohort, tmp_path):
    out = export(tiny_cohort, tmp_path / "monai", "monai", strategy="ignore:30-60", folds=3, seed=2)
    c = open_cohort(tiny_cohort)
    dl = json.loads((out / "datalist.json").read_text())
    items = dl["training"]
    assert dl["numTraining"] == len(items) == c.n_frames
    assert dl["labels"] == {str(k): n for k, n in enumerate(CLASS_NAMES)}
    by_patient = pd.DataFrame(items).groupby("patient_id")["fold"].nunique()
    assert (by_patient == 1).all() and sorted(pd.DataFrame(items)["fold"].unique()) == [0, 1, 2]
    fused = fuse(np.asarray(c.confidence[:]), "mean")
    target, weight = parse_strategy("ignore:30-60").targets_from_fused(fused)
    frames = c.frames.set_index("frame_id")
    for item in items[:10]:
        i = int(frames.loc[item["frame_id"], "array_index"])
        lab, w = np.load(out / item["label"]), np.load(out / item["weight"])
        assert lab.shape == (5, *c.shape) and lab.dtype == np.uint8
        assert np.array_equal(lab, target[i].astype(np.uint8)) and np.array_equal(w, weight[i])
        assert np.array_equal(np.load(out / item["image"])[0], np.asarray(c.images[i]))


def test_monai_soft_labels_are_float(tiny_cohort, tmp_path):
    out = export(tiny_cohort, tmp_path / "soft", "monai", strategy="soft", folds=2)
    item = json.loads((out / "datalist.json").read_text())["training"][0]
    lab = np.load(out / item["label"])
    assert lab.dtype == np.float32 and 0 <= lab.min() and lab.max() <= 1 and "weight" not in item


def test_monai_loads_the_datalist(tiny_cohort, tmp_path):
    with warnings.catch_warnings():  # MONAI warns at import about optional GPU decoders
        warnings.simplefilter("ignore")
        monai_data = pytest.importorskip("monai.data")
        from monai.transforms import LoadImage
    out = export(tiny_cohort, tmp_path / "m", "monai", strategy="threshold:60", folds=2)
    items = monai_data.load_decathlon_datalist(str(out / "datalist.json"), is_segmentation=True,
                                               data_list_key="training")
    assert len(items) == open_cohort(tiny_cohort).n_frames
    assert all(str(out) in it["image"] and str(out) in it["label"] for it in items)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lab = LoadImage(image_only=True)(items[0]["label"])
    assert tuple(lab.shape) == (5, *open_cohort(tiny_cohort).shape)


def test_cohort_to_coco_to_confidence_is_lossless(tiny_cohort, tmp_path):
    out = export(tiny_cohort, tmp_path / "coco", "coco")
    c = open_cohort(tiny_cohort)
    problems = Problems()
    files = read_annotations(out / "annotations.json", "coco", problems)
    groups = group_shapes(files, AnnotationOptions(), problems)
    assert not problems.errors and not problems.warnings
    conf = np.asarray(c.confidence[:])
    names = c.meta.get("annotators") or [f"annotator_{a + 1}" for a in range(c.n_annotators)]
    got = np.zeros_like(conf)
    for (source, _, who), items in groups.items():
        i = int(source.removeprefix("lus_").removesuffix(".png"))
        got[i, names.index(who)] = frame_planes(items, c.shape, 3.0, problems)
    assert np.array_equal(got, conf)
    man = pd.read_csv(out / "manifest.csv")
    assert len(man) == c.n_frames and (out / man["path"][0]).is_file()


def test_round_trip_through_ingest_gives_the_same_masks(tmp_path):
    for k in (1, 2):
        write_png(tmp_path / f"f{k}.png", full_frame(k))
    write_manifest(tmp_path / "m.csv", [manifest_row("f1.png"), manifest_row("f2.png", clip_id="c2")])
    a = cvat_images(tmp_path / "a.xml", "alice", {
        "f1.png": '<box label="b_line_70" xtl="2" ytl="0" xbr="6" ybr="16"/>'
                  '<ellipse label="effusion" cx="9" cy="9" rx="3" ry="2"/>',
        "f2.png": '<polygon label="consolidation_40" points="6,6;12,6;12,12;6,12"/>'})
    b = cvat_images(tmp_path / "b.xml", "bob", {"f1.png": '<box label="b_line" xtl="4" ytl="0" xbr="8" ybr="16"/>'})
    from lusfeat.data.ingest._annotations import parse_annotation_specs

    first = ingest(tmp_path / "m.csv", tmp_path / "c1", size=SIDE, annotations=parse_annotation_specs([a, b]))
    coco = export(first, tmp_path / "coco", "coco")
    again = ingest(coco / "manifest.csv", tmp_path / "c2", size=SIDE,
                   annotations=parse_annotation_specs([coco / "annotations.json"]))
    c1, c2 = open_cohort(first), open_cohort(again)
    assert c2.meta["annotators"] == c1.meta["annotators"] == ["alice", "bob"]
    assert np.array_equal(np.asarray(c2.confidence[:]), np.asarray(c1.confidence[:]))
    assert np.array_equal(np.asarray(c2.images[:]), np.asarray(c1.images[:]))
    assert c2.frames["frame_id"].tolist() == c1.frames["frame_id"].tolist()


def test_predicted_masks_with_scores_for_cvat(tiny_cohort, tmp_path):
    c = open_cohort(tiny_cohort)
    fused = fuse(np.asarray(c.confidence[:]), "mean")
    masks = fused >= 50
    probs = np.where(masks, 0.8, 0.1).astype(np.float32)
    with MaskWriter(tmp_path / "masks", c.n_frames, *c.shape, with_probabilities=True) as w:
        w.write(0, masks, probs)
        w.finish({"cohort": {"path": str(c.path), "fingerprint": c.fingerprint}, "producer": "test"})
    out = export(tiny_cohort, tmp_path / "pre", "coco", masks=tmp_path / "masks")
    data = json.loads((out / "annotations.json").read_text())
    scores = {a["score"] for a in data["annotations"]}
    assert scores == {round(204 / 255, 4)}  # probabilities are stored as round(255 p)
    assert {a["attributes"]["confidence"] for a in data["annotations"]} == {80}
    assert all(a["iscrowd"] == 1 and isinstance(a["segmentation"]["counts"], list) for a in data["annotations"])
    problems = Problems()
    groups = group_shapes(read_annotations(out / "annotations.json", problems=problems), AnnotationOptions(), problems)
    got = np.zeros_like(masks)
    for (source, _, _), items in groups.items():
        i = int(source.removeprefix("lus_").removesuffix(".png"))
        got[i] = frame_planes(items, c.shape, 3.0, problems) > 0
    assert np.array_equal(got, masks)
    assert np.array_equal(np.asarray(open_masks(tmp_path / "masks").masks[:]), masks)


def test_coco_options_are_checked(tiny_cohort, tmp_path):
    with pytest.raises(InputError, match="--masks and --strategy exclude each other"):
        export(tiny_cohort, tmp_path / "x", "coco", masks=tmp_path, strategy="threshold:60")
    with pytest.raises(InputError, match="--masks is for --format coco"):
        export(tiny_cohort, tmp_path / "y", "monai", masks=tmp_path)
    with pytest.raises(InputError, match="--format 'yolo' is not one of"):
        export(tiny_cohort, tmp_path / "z", "yolo")
