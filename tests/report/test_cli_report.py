"""``lusfeat report`` end to end through the Typer app."""

from __future__ import annotations

from typer.testing import CliRunner

from lusfeat import InputError
from lusfeat.cli import app


def test_report_command(tmp_path, study_dir):
    out = tmp_path / "out" / "study-report.html"
    r = CliRunner().invoke(app, ["report", str(study_dir), "--out", str(out), "--max-examples", "1",
                                 "--no-progress"])
    assert r.exit_code == 0, r.output
    assert f"report written to {out}" in r.output
    assert "study-report.md" in r.output and "study-report_files/" in r.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert out.with_suffix(".md").exists() and (out.parent / "study-report_files" / "report.json").exists()


def test_report_command_no_markdown(tmp_path, bare_study):
    out = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["report", str(bare_study), "-o", str(out), "--no-markdown",
                                 "--max-examples", "0", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    assert "markdown" not in r.output


def test_report_command_not_a_study(tmp_path):
    r = CliRunner().invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "r.html"), "--no-progress"])
    assert r.exit_code != 0
    assert isinstance(r.exception, InputError)
    assert "is not a lusfeat study: study.json is missing" in str(r.exception)
    assert not (tmp_path / "r.html").exists()


def test_report_help():
    r = CliRunner().invoke(app, ["report", "--help"])
    assert r.exit_code == 0
    for opt in ("--out", "--markdown", "--no-markdown", "--max-examples", "--no-progress"):
        assert opt in r.output
