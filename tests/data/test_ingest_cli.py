"""``lusfeat ingest`` end to end through the Typer app."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from lusfeat import ValidationError
from lusfeat.cli import app
from lusfeat.data import open_cohort

from .ingest_helpers import fan_frame, write_dicom, write_manifest, write_png

runner = CliRunner()


def test_cli_ingest(tmp_path):
    write_png(tmp_path / "f.png", fan_frame()[0])
    write_dicom(tmp_path / "c.dcm", np.stack([fan_frame(seed=s)[0] for s in range(4)]))
    m = write_manifest(tmp_path / "m.csv", [
        {"path": "f.png", "patient_id": "P1", "exam_id": "E1", "zone": "R1"},
        {"path": "c.dcm", "patient_id": "P1", "exam_id": "E2", "zone": "L1"},
    ])
    (tmp_path / "c.csv").write_text("exam,spo2,fio2\nE1,-99,40\nE2,93,0.3\n")
    out = tmp_path / "coh"
    res = runner.invoke(app, ["ingest", "--manifest", str(m), "--clinical", str(tmp_path / "c.csv"),
                              "--map", "exam_id=exam", "--na-code", "-99", "--size", "48", "--every", "2",
                              "--no-progress", str(out)])
    assert res.exit_code == 0, res.output
    assert str(out) in res.output
    coh = open_cohort(out)
    assert coh.n_frames == 3 and coh.shape == (48, 48)
    c = coh.clinical.set_index("exam_id")
    assert c.loc["E1", "fio2"] == 0.4 and np.isnan(c.loc["E1", "spo2"])
    assert coh.meta["ingest"]["options"]["na_codes"] == ["-99"]


def test_cli_reports_problems(tmp_path):
    m = write_manifest(tmp_path / "m.csv", [{"path": "nope.png", "patient_id": "P1", "exam_id": "E1", "zone": "R1"}])
    res = runner.invoke(app, ["ingest", "--manifest", str(m), "--no-progress", str(tmp_path / "coh")])
    assert res.exit_code != 0
    assert isinstance(res.exception, ValidationError)
    assert "m.csv line 2" in str(res.exception) and "nope.png does not exist" in str(res.exception)
    assert not (tmp_path / "coh").exists()


def test_cli_bad_map_option(tmp_path):
    m = write_manifest(tmp_path / "m.csv", [{"path": "x.png", "patient_id": "P1", "exam_id": "E1", "zone": "R1"}])
    res = runner.invoke(app, ["ingest", "--manifest", str(m), "--map", "spo2", str(tmp_path / "coh")])
    assert res.exit_code != 0 and "LUSFEAT_COLUMN=FILE_COLUMN" in str(res.exception)


def test_cli_confidence_scale_choices(tmp_path):
    img = fan_frame()[0]
    write_png(tmp_path / "f.png", img)
    mask = np.zeros(img.shape, np.uint8)
    mask[60:70, 70:90] = 60
    write_png(tmp_path / "mk.png", mask)
    m = write_manifest(tmp_path / "m.csv", [
        {"path": "f.png", "patient_id": "P1", "exam_id": "E1", "zone": "R1", "mask_b_line": "mk.png"},
    ])
    res = runner.invoke(app, ["ingest", "-m", str(m), "--confidence-scale", "bytes", str(tmp_path / "x")])
    assert res.exit_code == 2 and not (tmp_path / "x").exists()
    res = runner.invoke(app, ["ingest", "-m", str(m), "--confidence-scale", "byte", "--no-progress",
                              "--size", str(img.shape[1]), str(tmp_path / "coh")])
    assert res.exit_code == 0, res.output
    assert open_cohort(tmp_path / "coh").confidence[0, 0, 2].max() == round(60 * 100 / 255)
