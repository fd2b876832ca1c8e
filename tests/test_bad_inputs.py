"""Catalogue of bad inputs, driven through the installed ``lusfeat`` console script.

One row per input: the command line, the documented exit code (2 for usage
errors, 1 for input errors, 0 where the input is legitimate but deserves a
warning) and a phrase the message must contain. For every row the output
must hold no Python traceback and the row's working folder must be left empty
(nothing half-written, no hidden ``.NAME.tmp-*`` or ``.NAME.partial``
folders). Placeholders such as ``{tiny}`` name the small fixtures built once
for the module; rows write their outputs into their own empty working folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

#: The console script installed next to this interpreter (not ``python -m lusfeat``).
LUSFEAT = Path(sys.executable).with_name("lusfeat")

pytestmark = pytest.mark.skipif(not LUSFEAT.exists(), reason=f"console script {LUSFEAT} is not installed")


@dataclass(frozen=True)
class Row:
    """One bad input: ``lusfeat ARGS`` must exit ``code`` with ``phrase`` in its output."""

    id: str
    args: tuple[str, ...]
    code: int
    phrase: str


def row(id: str, args: str, code: int, phrase: str) -> Row:
    return Row(id, tuple(args.split()), code, phrase)


ROWS: list[Row] = [
    # --- the app itself -----------------------------------------------------------------
    row("app-unknown-option", "--no-such-option", 2, "No such option: --no-such-option"),
    row("app-unknown-command", "simulatte cohort", 2, "No such command 'simulatte'"),
    row("app-bare", "", 2, "Commands"),
    row("app-version", "--version", 0, "lusfeat 0.1.0"),
    row("app-verbose-and-unknown", "-v frobnicate", 2, "No such command 'frobnicate'"),
    # --- simulate ---------------------------------------------------------------------
    row("simulate-unknown-option", "simulate out --bogus", 2, "No such option: --bogus"),
    row("simulate-float-patients", "simulate out --patients 4.5", 2, "Invalid value for '--patients'"),
    row("simulate-missing-out", "simulate", 2, "Missing argument"),
    row("simulate-negative-seed", "simulate out --seed -1", 1, "--seed must be a non-negative integer"),
    row("simulate-no-patients", "simulate out --patients 0", 1, "--patients must be >= 1"),
    row("simulate-zones", "simulate out --zones 5", 1, "--zones must be 6 or 12"),
    row("simulate-size", "simulate out --size 16", 1, "--size must be between 32 and 1024"),
    row("simulate-probe", "simulate out --probe phased", 1, "--probe must be linear, convex or mixed"),
    row("simulate-exams-range", "simulate out --exams 3-2", 1, "--exams must be N or LO-HI"),
    row("simulate-exams-text", "simulate out --exams few", 1, "--exams must be N or LO-HI"),
    row("simulate-annotators", "simulate out --annotators 0", 1, "--annotators must be between 1 and 16"),
    row("simulate-frames", "simulate out --frames 0", 1, "--frames must be between 1 and 256"),
    row("simulate-existing", "simulate {tiny}", 1, "already exists; choose another path or pass --overwrite"),
    # --- validate ---------------------------------------------------------------------
    row("validate-missing-path", "validate", 2, "Missing argument"),
    row("validate-nowhere", "validate nowhere", 1, "cohort folder nowhere does not exist"),
    row("validate-file", "validate {afile}", 1, "is a file, not a cohort folder"),
    row("validate-empty-folder", "validate {empty}", 1, "is not a lusfeat cohort"),
    row("validate-broken-json", "validate {badjson}", 1, "is not valid JSON"),
    row("validate-lost-chunk", "validate {lost}", 1, "is missing; restore the folder"),
    row("validate-truncated-chunk", "validate {truncated}", 1, "cannot be decoded"),
    row("validate-garbled-chunk", "validate {garbled}", 1, "digest mismatch"),
    row("validate-old-cohort", "validate {old}", 0, "chunks.json is absent"),
    row("validate-old-cohort-strict", "validate {old} --strict", 1, "chunks.json is absent"),
    row("validate-unknown-option", "validate {tiny} --fast", 2, "No such option: --fast"),
    # --- show -------------------------------------------------------------------------
    row("show-nowhere", "show nowhere --out grid.png", 1, "does not exist"),
    row("show-count-text", "show {tiny} -n many --out grid.png", 2, "Invalid value for '-n'"),
    row("show-frame-out-of-range", "show {tiny} --frame 5000 --out grid.png", 1, "5000"),
    row("show-annotator-out-of-range", "show {tiny} --annotator 9 --out grid.png", 1, "annotator"),
    row("show-lost-chunk", "show {lost} --out grid.png", 1, "is missing"),
    # --- ingest -----------------------------------------------------------------------
    row("ingest-no-manifest", "ingest out", 2, "Missing option '--manifest'"),
    row("ingest-manifest-nowhere", "ingest out --manifest nowhere.csv", 1, "does not exist; check the --manifest path"),
    row("ingest-manifest-columns", "ingest out --manifest {m_columns}", 1, "lacks the column(s)"),
    row("ingest-manifest-file-missing", "ingest out --manifest {m_missing}", 1, "does not exist; fix the path"),
    row("ingest-scale", "ingest out --manifest {m_good} --confidence-scale weird", 2,
        "Invalid value for '--confidence-scale'"),
    row("ingest-map", "ingest out --manifest {m_good} --map spo2", 1, "expected LUSFEAT_COLUMN=FILE_COLUMN"),
    row("ingest-float-frame-index-strict", "ingest out --manifest {m_float} --strict", 1, "plain whole number"),
    row("ingest-sf-without-spo2-strict", "ingest out --manifest {m_good} --clinical {c_nan_spo2} --strict", 1,
        "kept without SpO2"),
    row("ingest-clinical-nowhere", "ingest out --manifest {m_good} --clinical nowhere.csv", 1,
        "clinical table nowhere.csv does not exist"),
    row("ingest-every-text", "ingest out --manifest {m_good} --every often", 2, "Invalid value for '--every'"),
    row("ingest-existing", "ingest {tiny} --manifest {m_good}", 1, "already exists"),
    row("ingest-annotations-nowhere", "ingest out --manifest {m_good} --annotations nowhere.xml", 1,
        "annotation file nowhere.xml does not exist"),
    row("ingest-annotations-broken", "ingest out --manifest {m_good} --annotations {a_broken}", 1,
        "not readable CVAT XML"),
    row("ingest-annotations-format", "ingest out --manifest {m_good} --annotations {a_broken} --format voc", 2,
        "Invalid value for '--format'"),
    row("ingest-label-map", "ingest out --manifest {m_good} --label-map aline", 1, "expected TOOL_LABEL=CLASS"),
    row("ingest-label-map-class", "ingest out --manifest {m_good} --label-map aline=aline", 1,
        "'aline' is not a lusfeat class"),
    row("ingest-default-confidence", "ingest out --manifest {m_good} --default-confidence 0", 1,
        "--default-confidence must be in 1..100"),
    row("ingest-id-pattern", "ingest out --annotations {a_broken} --id-pattern (?P<patient>P.)", 1,
        "use the named groups (?P<patient_id>...) and (?P<zone>...)"),
    row("ingest-no-sources", "ingest out --annotations {a_broken}", 1, "not readable CVAT XML"),
    # --- export -----------------------------------------------------------------------
    row("export-no-format", "export {tiny} out", 2, "Missing option '--format'"),
    row("export-format", "export {tiny} out --format yolo", 2, "Invalid value for '--format'"),
    row("export-nowhere", "export nowhere out --format monai", 1, "does not exist"),
    row("export-nnunet-name", "export {tiny} lus --format nnunet", 1, "must be named DatasetXXX_NAME"),
    row("export-nnunet-soft", "export {tiny} Dataset501_LUS --format nnunet --strategy soft", 1,
        "nnU-Net trains on hard labels"),
    row("export-strategy", "export {tiny} out --format monai --strategy bogus", 1, "cannot parse strategy 'bogus'"),
    row("export-masks-monai", "export {tiny} out --format monai --masks {masks}", 1, "--masks is for --format coco"),
    row("export-foreign-masks", "export {other} out --format coco --masks {masks}", 1, "was made from another cohort"),
    row("export-existing", "export {tiny} {tiny} --format monai", 1, "already exists"),
    # --- pretrain ---------------------------------------------------------------------
    row("pretrain-strategy", "pretrain pt --strategy bogus", 1, "cannot parse strategy 'bogus'"),
    row("pretrain-epochs", "pretrain pt --epochs 0", 1, "--epochs must be >= 1"),
    row("pretrain-device", "pretrain pt --device tpu", 1, "unknown device 'tpu'"),
    # --- train ------------------------------------------------------------------------
    row("train-init-missing", "train {tiny} --out run --init nowhere.pt", 1, "no U-Net checkpoint at nowhere.pt"),
    row("train-no-out", "train {tiny}", 2, "Missing option '--out'"),
    row("train-strategy", "train {tiny} --out run --strategy bogus", 1, "bogus"),
    row("train-size", "train {tiny} --out run --size 4", 1, "size must be an integer >= 8"),
    row("train-lr-text", "train {tiny} --out run --lr fast", 2, "Invalid value for '--lr'"),
    row("train-epochs", "train {tiny} --out run --epochs 0", 1, "--epochs must be >= 1, got 0"),
    row("train-val-fraction", "train {tiny} --out run --val-fraction 1", 1, "--val-fraction must be in [0, 1)"),
    row("train-lr-zero", "train {tiny} --out run --lr 0", 1, "--lr must be > 0"),
    row("train-existing", "train {tiny} --out {run}", 1, "already exists"),
    row("train-lost-chunk", "train {lost} --out run --epochs 1 --size 32 --no-progress", 1, "is missing"),
    row("train-truncated-chunk", "train {truncated} --out run --epochs 1 --size 32 --depth 2 --width 4 --no-progress",
        1, "cannot be decoded"),
    # --- segment ----------------------------------------------------------------------
    row("segment-missing-run", "segment {tiny}", 2, "Missing argument"),
    row("segment-run-nowhere", "segment {tiny} nowhere --out masks", 1, "is not a run folder"),
    row("segment-foreign-cohort", "segment {other} {run} --out masks --no-progress", 1,
        "was made from another cohort"),
    row("segment-foreign-frame-size", "segment {small32} {run} --out masks --no-progress", 1,
        "frames 64x64 in training, 32x32 here"),
    row("segment-existing", "segment {tiny} {run} --out {masks} --no-progress", 1, "already exists"),
    row("segment-features-backend", "segment {tiny} {run} --out masks --features f2 --backend gpu9 --no-progress", 1,
        "backend 'gpu9' is unknown"),
    row("segment-scheduler-malformed", "segment {tiny} {run} --out masks --scheduler locl --no-progress", 1,
        "--scheduler 'locl' is not understood"),
    row("segment-scheduler-unreachable", "segment {tiny} {run} --out masks --scheduler tcp://127.0.0.1:9 "
        "--no-progress", 1, "no Dask scheduler answered"),
    row("segment-features-existing", "segment {tiny} {run} --out masks --features {feats} --no-progress", 1,
        "already exists; choose another folder or pass --overwrite"),
    # --- evaluate ---------------------------------------------------------------------
    row("evaluate-masks-nowhere", "evaluate {tiny} nowhere", 1, "is not a lusfeat mask set"),
    row("evaluate-foreign-masks", "evaluate {other} {masks} --out ev --bootstrap 0 --no-progress", 1,
        "was made from another cohort"),
    row("evaluate-shape", "evaluate {small32} {masks} --out ev --no-progress", 1, "segment this cohort first"),
    row("evaluate-fusion", "evaluate {tiny} {masks} --out ev --fusion median", 1, "unknown fusion"),
    # --- features ---------------------------------------------------------------------
    row("features-no-cohort", "features --out feats", 1, "give a COHORT folder and --out DIR"),
    row("features-labels-text", "features {tiny} --out feats --masks labels:high", 1, "T must be a number"),
    row("features-labels-range", "features {tiny} --out feats --masks labels:150", 1, "T must be in [0, 100]"),
    row("features-masks-nowhere", "features {tiny} --out feats --masks nowhere", 1, "is not a lusfeat mask set"),
    row("features-foreign-masks", "features {other} --out feats --masks {masks} --no-progress", 1,
        "was made from another cohort"),
    row("features-backend", "features {tiny} --out feats --backend gpu9", 1, "gpu9"),
    row("features-batch", "features {tiny} --out feats --batch 0", 1, "--batch must be >= 1, got 0"),
    row("features-no-truth", "features {real} --out feats --masks truth", 1, "has no truth masks"),
    # a cohort ingested without masks holds no labels: nothing may treat it as all background
    row("features-unlabelled", "features {real} --out feats --masks labels:60", 1, "has no annotator labels"),
    row("train-unlabelled", "train {real} --out run --epochs 1", 1, "train: cohort"),
    row("train-ignore-class", "train {tiny} --out run --ignore-class pleura", 1,
        "--ignore-class pleura: not a class of this cohort"),
    row("evaluate-unlabelled", "evaluate {real} {masks} --out ev", 1, "evaluate: cohort"),
    row("export-unlabelled", "export {real} out --format monai", 1, "has no annotator labels"),
    row("sweep-unlabelled", "sweep {real} --out study --dry-run", 1, "sweep: cohort"),
    row("features-existing", "features {tiny} --out {feats}", 1, "already exists"),
    row("features-scheduler-workers", "features {tiny} --out feats --scheduler local:0", 1,
        "the worker count must be >= 1"),
    row("features-truncated-chunk", "features {truncated} --out feats --masks truth --backend cpu --no-progress", 1,
        "cannot be decoded"),
    # --- sweep ------------------------------------------------------------------------
    row("sweep-no-out", "sweep {tiny}", 2, "Missing option '--out'"),
    row("sweep-scheduler", "sweep {tiny} --out study --scheduler udp://h:1 --dry-run", 1,
        "--scheduler 'udp://h:1' is not understood"),
    row("sweep-strategy", "sweep {tiny} --out study --strategies bogus --dry-run", 1, "bogus"),
    row("sweep-thresholds", "sweep {tiny} --out study --thresholds a,b --dry-run", 1,
        "--thresholds must be comma-separated integers"),
    row("sweep-out-file", "sweep {tiny} --out {afile}", 1, "is a file; give a folder"),
    row("sweep-out-not-study", "sweep {tiny} --out {feats} --dry-run", 1, "is not a lusfeat study"),
    row("sweep-cohort-nowhere", "sweep nowhere --out study --dry-run", 1, "does not exist"),
    row("sweep-epochs", "sweep {tiny} --out study --epochs 0 --dry-run", 1, "--epochs must be >= 1, got 0"),
    row("sweep-batch-size", "sweep {tiny} --out study --batch-size 0 --dry-run", 1, "--batch-size must be >= 1"),
    row("sweep-seeds-text", "sweep {tiny} --out study --seeds two", 2, "Invalid value for '--seeds'"),
    row("sweep-analysis-folds", "sweep {tiny} --out study --analysis-folds 1 --dry-run", 1,
        "--analysis-folds must be an integer >= 2; got 1"),
    row("sweep-backend", "sweep {tiny} --out study --backend gpu9 --dry-run", 1, "backend 'gpu9' is unknown"),
    # --- demo and report ----------------------------------------------------------------
    row("demo-threads-text", "demo --threads all", 2, "Invalid value for '--threads'"),
    row("demo-unknown-option", "demo --fast", 2, "No such option: --fast"),
    row("report-study-nowhere", "report nowhere --out report.html", 1, "nowhere"),
    row("report-not-study", "report {feats} --out report.html", 1, "study.json"),
    row("report-examples-text", "report {feats} --max-examples some", 2, "Invalid value for '--max-examples'"),
    # --- pretrain ---------------------------------------------------------------------
    row("standardize-gray-no-reference", "standardize-gray {tiny} --out g", 1, "give exactly one of --like"),
    row("standardize-gray-like-nowhere", "standardize-gray {tiny} --out g --like nowhere", 1,
        "--like nowhere is not a cohort, run or pretrain folder"),
    row("standardize-gray-level", "standardize-gray {tiny} --out g --level 300 --no-progress", 1,
        "target must be a gray level in (0, 255]"),
    row("standardize-gray-existing", "standardize-gray {tiny} --out {feats} --level 50", 1, "already exists"),
    row("pretrain-missing-out", "pretrain", 2, "Missing argument"),
    row("pretrain-patients", "pretrain pt --patients 0 --no-progress", 1, "--patients must be >= 1"),
    row("pretrain-size", "pretrain pt --size 8 --no-progress", 1, "--size must be between 32 and 1024"),
    row("pretrain-epochs-text", "pretrain pt --epochs many", 2, "Invalid value for '--epochs'"),
    row("pretrain-members", "pretrain pt --members 0 --no-progress", 1, "--members must be >= 1, got 0"),
    row("pretrain-members-text", "pretrain pt --members few", 2, "Invalid value for '--members'"),
    # --- ensemble ---------------------------------------------------------------------
    row("ensemble-missing-members", "ensemble ens", 2, "Missing argument"),
    row("ensemble-one-member", "ensemble ens nowhere", 1, "an ensemble needs two or more members, got 1"),
    row("ensemble-member-nowhere", "ensemble ens nowhere elsewhere", 1,
        "nowhere is not a run folder or a `lusfeat pretrain` folder"),
    row("ensemble-cohort-as-member", "ensemble ens {tiny} {tiny}", 1, "is not a run folder"),
    row("ensemble-unknown-option", "ensemble ens a b --weights 1,2", 2, "No such option: --weights"),
    # --- power ------------------------------------------------------------------------
    row("power-no-out", "power", 2, "Missing option '--out'"),
    row("power-sizes-text", "power --out pw --sizes ten", 1, "ten"),
    row("power-replicates", "power --out pw --replicates 0", 1, "replicates"),
    row("power-alpha", "power --out pw --alpha 1.5", 1, "--alpha must be in (0, 1); got 1.5"),
    # --- analyze ----------------------------------------------------------------------
    row("analyze-no-out", "analyze {feats} --cohort {tiny}", 2, "Missing option '--out'"),
    row("analyze-folds-text", "analyze {feats} --cohort {tiny} --out an --folds two", 2, "Invalid value for '--folds'"),
    row("analyze-cohort-nowhere", "analyze {feats} --cohort nowhere --out an", 1, "does not exist"),
    row("analyze-foreign-features", "analyze {feats} --cohort {other} --out an --no-progress", 1, "another cohort"),
    row("analyze-no-exam-table", "analyze {feats_partial} --cohort {tiny} --out an --no-progress", 1,
        "exam_wide.parquet"),
    row("analyze-task", "analyze {feats} --cohort {tiny} --out an --task bogus", 1, "bogus"),
    row("analyze-model", "analyze {feats} --cohort {tiny} --out an --model gbm", 1, "gbm"),
    row("analyze-sf-model", "analyze {feats} --cohort {tiny} --out an --sf-model gee", 1,
        "--sf-model must be ols or mixedlm; got 'gee'"),
    row("analyze-alpha", "analyze {feats} --cohort {tiny} --out an --alpha 0", 1, "--alpha must be in (0, 1)"),
    row("analyze-min-events-tiny", "analyze {feats} --cohort {tiny} --out an --min-events 2 --bootstrap 20 "
        "--no-progress", 1, "nothing"),
]


# --- fixtures -----------------------------------------------------------------------------


def _first_chunk(cohort: Path, array: str) -> Path:
    files = sorted(p for p in (cohort / "arrays.zarr" / array / "c").rglob("*") if p.is_file())
    return files[1]  # the second chunk: frames 16-31


def _png_manifest(folder: Path, n: int) -> pd.DataFrame:
    import imageio.v3 as iio

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        img = np.zeros((80, 96), np.uint8)
        img[8:72, 10:86] = rng.integers(30, 220, (64, 76))
        iio.imwrite(folder / f"f{i}.png", img)
        rows.append({"path": f"f{i}.png", "patient_id": f"P{i % 2}", "exam_id": f"E{i % 2}",
                     "zone": f"R{i // 2 + 1}"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """The fixtures every row may name, built once: tiny cohorts (64 px, 4 patients), a
    2-fold run, its masks, truth features, damaged copies and small ingest inputs."""
    from lusfeat.data import simulate_cohort
    from lusfeat.data.ingest import ingest
    from lusfeat.features import extract
    from lusfeat.seg import UNetConfig, segment, train

    root = tmp_path_factory.mktemp("world")
    sim = {"patients": 4, "exams": (2, 2), "zones": 6, "frames": 2, "annotators": 2}
    w = {
        "tiny": simulate_cohort(root / "tiny", size=64, seed=3, **sim),
        "other": simulate_cohort(root / "other", size=64, seed=4, **sim),
        "small32": simulate_cohort(root / "small32", size=32, seed=5, **sim),
    }
    w["run"] = train(w["tiny"], root / "run", "threshold:50", folds=2, epochs=1, size=32, device="cpu",
                     model=UNetConfig(depth=2, width=4), val_fraction=0.0, threads=1, progress=False)
    w["masks"] = segment(w["tiny"], w["run"], root / "masks", device="cpu", threads=1, progress=False)
    w["feats"] = extract(w["tiny"], "truth", root / "feats", backend="cpu", progress=False)
    w["feats_partial"] = root / "feats_partial"
    shutil.copytree(w["feats"], w["feats_partial"])
    (w["feats_partial"] / "exam_wide.parquet").unlink()
    for name in ("lost", "truncated", "garbled", "old"):
        shutil.copytree(w["tiny"], root / name)
        w[name] = root / name
    _first_chunk(w["lost"], "confidence").unlink()
    chunk = _first_chunk(w["truncated"], "images")
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    chunk = _first_chunk(w["garbled"], "images")
    chunk.write_bytes(b"decodes as noise" * 8)
    (w["old"] / "chunks.json").unlink()
    w["afile"] = root / "notes.txt"
    w["afile"].write_text("not a cohort\n")
    w["empty"] = root / "empty"
    w["empty"].mkdir()
    w["badjson"] = root / "badjson"
    w["badjson"].mkdir()
    (w["badjson"] / "cohort.json").write_text("{ half a file")

    scans = root / "scans"
    good = _png_manifest(scans, 4)
    w["m_good"] = scans / "good.csv"
    good.to_csv(w["m_good"], index=False)
    w["m_columns"] = scans / "columns.csv"
    good.drop(columns=["zone"]).to_csv(w["m_columns"], index=False)
    w["m_missing"] = scans / "missing.csv"
    good.assign(path=["f0.png", "gone.png", "f2.png", "f3.png"]).to_csv(w["m_missing"], index=False)
    w["m_float"] = scans / "float.csv"
    good.assign(frame_index=["0.0", "0", "0", "0"]).to_csv(w["m_float"], index=False)
    w["c_nan_spo2"] = scans / "clinical.csv"
    pd.DataFrame({"exam_id": ["E0", "E1"], "patient_id": ["P0", "P1"], "spo2": [None, 95.0],
                  "fio2": [0.4, 0.21], "sf_ratio": [230.0, 452.4]}).to_csv(w["c_nan_spo2"], index=False)
    w["a_broken"] = scans / "broken.xml"
    w["a_broken"].write_text("<annotations><image")
    w["real"] = ingest(w["m_good"], root / "real", size=32)
    return w


def _snapshot(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def outcomes(world, tmp_path_factory) -> dict[str, tuple[int, str, list[str]]]:
    """Run every row once (two at a time): exit code, output, what was left in its folder."""
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", OMP_NUM_THREADS="1")
    subs = {k: str(v) for k, v in world.items()}

    folders = {r.id: tmp_path_factory.mktemp(f"row-{r.id}") for r in ROWS}

    def run(r: Row) -> tuple[str, tuple[int, str, list[str]]]:
        cwd = folders[r.id]
        args = [a.format(**subs) for a in r.args]
        proc = subprocess.run([str(LUSFEAT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        return r.id, (proc.returncode, proc.stdout + proc.stderr, sorted(_snapshot(cwd)))

    before = _snapshot(world["tiny"].parent)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(run, ROWS))
    results["__fixtures__"] = (0, "", sorted(_snapshot(world["tiny"].parent) - before))
    return results


def test_catalogue_is_large_and_covers_every_command():
    from lusfeat.cli import app

    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    used = {r.args[0] for r in ROWS if r.args and not r.args[0].startswith("-")}
    assert len(ROWS) >= 60
    assert len({r.id for r in ROWS}) == len(ROWS)
    assert commands - {"analyze"} <= used, sorted(commands - used)


@pytest.mark.parametrize("r", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(r: Row, outcomes):
    code, output, left = outcomes[r.id]
    assert "Traceback" not in output, output
    assert code == r.code, output
    assert r.phrase in output, output
    assert left == [], f"left behind: {left}"


def test_fixtures_untouched(outcomes):
    """No row wrote into the shared fixtures (e.g. a half-written mask set beside a run)."""
    assert outcomes["__fixtures__"][2] == []


def test_usage_errors_print_the_usage_line(outcomes):
    for r in ROWS:
        if r.code == 2 and r.args:
            assert "Usage: lusfeat" in outcomes[r.id][1], r.id


def test_allow_foreign_proceeds_and_records_it(world, tmp_path):
    """``--allow-foreign`` applies a run, masks and features of another cohort on purpose,
    and every output says so."""
    import json

    from lusfeat.data import open_masks
    from lusfeat.features import extract
    from lusfeat.seg import evaluate

    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([str(LUSFEAT), "segment", str(world["other"]), str(world["run"]), "--out", "masks",
                           "--allow-foreign", "--device", "cpu", "--threads", "1", "--no-progress"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--allow-foreign" in proc.stderr  # the warning says what was allowed
    meta = open_masks(tmp_path / "masks").meta
    assert meta["foreign"] is True and meta["out_of_fold"] is False
    assert meta["cohort"]["fingerprint"] != json.loads((world["run"] / "run.json").read_text())["cohort"]["fingerprint"]

    feats = extract(world["other"], world["masks"], tmp_path / "feats", backend="cpu", progress=False,
                    allow_foreign=True)
    assert json.loads((feats / "features.json").read_text())["masks"]["foreign"] is True
    res = evaluate(world["other"], world["masks"], tmp_path / "eval", bootstrap=0, progress=False,
                   allow_foreign=True)
    assert res is not None
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["foreign"] is True
    own = json.loads((world["feats"] / "features.json").read_text())
    assert own["masks"]["foreign"] is False


def test_killed_run_leftovers_are_cleaned_by_the_next_run(tmp_path):
    """kill -9 mid-write leaves a hidden temporary; the next run of the same output
    removes it and says so."""
    import signal
    import time

    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([str(LUSFEAT), "simulate", "cohort", "--patients", "60", "--size", "64"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".cohort.tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    if not list(tmp_path.glob(".cohort.tmp-*")):
        pytest.skip("the simulation finished before it could be killed")
    assert not (tmp_path / "cohort").exists()
    rerun = subprocess.run([str(LUSFEAT), "simulate", "cohort", "--patients", "2", "--size", "32", "--frames", "1"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "removed 1 stale temporary output(s) of cohort" in rerun.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]


def test_stale_features_temporary_is_removed(world, tmp_path):
    stale = tmp_path / ".feats.tmp-4194311-0badc0de"  # a process id above Linux's pid_max
    stale.mkdir()
    (stale / "frame.parquet").write_bytes(b"half written")
    proc = subprocess.run([str(LUSFEAT), "features", str(world["tiny"]), "--out", "feats", "--backend", "cpu",
                           "--no-progress"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "removed 1 stale temporary output(s) of feats" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feats"]
