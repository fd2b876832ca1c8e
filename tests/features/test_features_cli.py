"""``lusfeat features`` end to end."""

from __future__ import annotations

from typer.testing import CliRunner

from lusfeat.cli import app
from lusfeat.features import read_features

runner = CliRunner()


def test_describe_prints_dictionary():
    res = runner.invoke(app, ["features", "--describe"])
    assert res.exit_code == 0, res.output
    assert "b_line_blas" in res.output


def test_features_command_writes_tables(tiny_cohort, tmp_path):
    out = tmp_path / "f"
    res = runner.invoke(app, ["features", str(tiny_cohort), "--masks", "labels:60", "--out", str(out),
                              "--backend", "cpu", "--batch", "40", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert str(out) in res.output
    assert len(read_features(out)) > 0


def test_bad_mask_source_is_an_error(tiny_cohort, tmp_path):
    res = runner.invoke(app, ["features", str(tiny_cohort), "--masks", "labels:x", "--out",
                              str(tmp_path / "g"), "--no-progress"])
    assert res.exit_code != 0
    assert "labels:60" in str(res.exception)
