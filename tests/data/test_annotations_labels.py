"""Label maps and the confidence of a shape: attribute, label suffix, score, default."""

from __future__ import annotations

import pytest

from lusfeat import InputError
from lusfeat.data.annotations import (
    AnnotationOptions,
    Shape,
    normalise_label,
    parse_label_map,
    resolve,
)


def test_label_map_from_pairs_yaml_and_json(tmp_path):
    (tmp_path / "m.yaml").write_text("A-line: a_line\nLung sliding: pleural_line\nrib: '-'\n")
    (tmp_path / "m.json").write_text('{"bline": "B line"}')
    got = parse_label_map(["consol=consolidation", str(tmp_path / "m.yaml"), str(tmp_path / "m.json")])
    assert got == {"consol": "consolidation", "a_line": "a_line", "lung_sliding": "pleural_line", "rib": "-",
                   "bline": "b_line"}
    assert normalise_label("  Pleural - Line ") == "pleural_line"


@pytest.mark.parametrize(("items", "message"), [
    (["aline"], "expected TOOL_LABEL=CLASS"),
    (["aline=aline"], "'aline' is not a lusfeat class"),
    (["=a_line"], "expected TOOL_LABEL=CLASS"),
])
def test_bad_label_maps(items, message):
    with pytest.raises(InputError, match=message):
        parse_label_map(items)


def test_label_map_file_errors(tmp_path):
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(InputError, match="expected a mapping TOOL_LABEL: CLASS, got list"):
        parse_label_map([str(tmp_path / "list.yaml")])
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match=r"bad.json: cannot read it \(JSONDecodeError"):
        parse_label_map([str(tmp_path / "bad.json")])


def s(label, attributes=None, score=None):
    return Shape(kind="box", label=label, source="f.png", frame=0, annotator="a", where="f.xml box 1",
                 points=[[0, 0], [1, 1]], attributes=attributes or {}, score=score)


OPTS = AnnotationOptions(label_map={"bline": "b_line", "rib": "-"}, default_confidence=80)


@pytest.mark.parametrize(("shape", "expected"), [
    (s("b_line"), ("b_line", 80.0, None)),                                  # default
    (s("B-line_70"), ("b_line", 70.0, None)),                               # label suffix
    (s("bline 30"), ("b_line", 30.0, None)),                                # mapped label + suffix
    (s("b_line_70", {"confidence": "90"}), ("b_line", 90.0, None)),         # attribute wins
    (s("b_line", {"confidence": "55%"}), ("b_line", 55.0, None)),
    (s("b_line", {"confidence": ""}, score=0.4), ("b_line", 40.0, None)),   # empty attribute: score
    (s("b_line", score=0.25), ("b_line", 25.0, None)),
    (s("rib"), ("-", None, None)),                                          # skipped on purpose
    (s("heart"), (None, None, None)),                                       # unknown
    (s("b_line", {"confidence": "-5"}), ("b_line", None, "f.xml box 1: attribute 'confidence' is -5, outside 0..100 percent")),
    (s("b_line", score=3.0), ("b_line", None, "f.xml box 1: score 3 is outside 0..1")),
    (s("b_line_170"), ("b_line", None, "f.xml box 1: label 'b_line_170' ends in 170, above 100 percent; use 0..100")),
])
def test_resolve(shape, expected):
    assert resolve(shape, OPTS) == expected


def test_options_are_checked():
    with pytest.raises(InputError, match="--default-confidence must be in 1..100"):
        AnnotationOptions(default_confidence=0)
    with pytest.raises(InputError, match="--line-width must be a positive number"):
        AnnotationOptions(line_width=0)
    assert resolve(s("b_line", {"confidence": "20"}), AnnotationOptions(confidence_attribute=None))[1] == 100.0
