"""``benchmarks/bench_transfer.py`` end to end, as a subprocess, on four real frames of two sources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lusfeat.pipeline._transfer import headline_values

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "bench_transfer.py"


def _strict_json(text: str):
    """Parse the benchmark's JSON line, refusing NaN and Infinity (not JSON)."""
    def _refuse(name: str):
        raise AssertionError(f"{name} in the benchmark's JSON")
    return json.loads(text, parse_constant=_refuse)


def _subset(real_lus_dir: Path, tmp_path: Path) -> Path:
    """Two frames of each of the first two sources of the shared set, with their labels."""
    lab = pd.read_csv(real_lus_dir / "labels.csv")
    pick = pd.concat([g.head(2) for _, g in lab.groupby("source")][:2])
    out = tmp_path / "real"
    (out / "frames").mkdir(parents=True)
    for f in pick["filename"]:
        shutil.copy(real_lus_dir / f, out / f)
    pick.to_csv(out / "labels.csv", index=False)
    return out


def test_bench_transfer_scores_each_source_and_the_spread_over_seeds(real_lus_dir, tmp_path):
    real = _subset(real_lus_dir, tmp_path)
    r = subprocess.run(
        [sys.executable, str(BENCH), "--real", str(real), "--work", str(tmp_path / "work"), "--patients", "3",
         "--frames", "1", "--epochs", "1", "--size", "32", "--threads", "1", "--seeds", "0", "2",
         "--members", "2"],
        capture_output=True, text=True, cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "within each source" in r.stdout and "spread over 2 networks" in r.stdout
    result = _strict_json(r.stdout.strip().splitlines()[-1])
    by = result["scores"]["by_source"]
    assert len(by) == 2 and all(s["n_frames"] == 2 for s in by.values())
    assert result["scores"]["n_frames"] == 4
    nets = result["networks"]
    assert [Path(n["model"]).name for n in nets] == ["pretrained_s0", "pretrained_s2"]
    for seed in (0, 2):  # each network an ensemble of two members, seeds SEED and SEED + 1
        ens = json.loads((tmp_path / "work" / f"pretrained_s{seed}" / "ensemble" / "run.json").read_text())
        assert [m["seed"] for m in ens["members"]] == [seed, seed + 1]
    assert result["scores"] == nets[0]["scores"]
    spread = result["across_networks"]["scores"]
    for name, s in spread.items():
        got = [np.nan if v is None else v for v in s["values"]]  # undefined: null in the JSON
        assert got == pytest.approx([headline_values(n["scores"])[name] for n in nets], nan_ok=True)
    table = pd.read_csv(tmp_path / "work" / "real" / "frames_scored.csv")
    assert len(table) == 8 and table["network"].nunique() == 2


def test_bench_transfer_bad_input_is_one_line(tmp_path):
    model = tmp_path / "nothing"
    model.mkdir()
    r = subprocess.run([sys.executable, str(BENCH), "--real", str(tmp_path / "absent"), "--model", str(model),
                        "--work", str(tmp_path / "work")], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode != 0
    assert r.stderr.strip().startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "labels.csv" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(BENCH), "--model", str(model), "--seeds", "0", "1"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode != 0 and r.stderr.strip().startswith("error: ") and "--seeds" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    for args, says in ((["--model", str(model), "--members", "3"], "lusfeat ensemble"),
                       (["--seeds", "0", "1", "--members", "2"], "space --seeds at least 2 apart")):
        r = subprocess.run([sys.executable, str(BENCH), *args, "--work", str(tmp_path / "w2")],
                           capture_output=True, text=True, cwd=REPO, timeout=300)
        assert r.returncode != 0 and r.stderr.strip().startswith("error: ") and says in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "w2").exists()


def test_bench_transfer_reads_the_real_frames_from_the_environment(tmp_path):
    """Without ``--real`` the frames come from ``$LUSFEAT_REAL_LUS`` (here a folder that is not there)."""
    import os

    model = tmp_path / "nothing"
    model.mkdir()
    absent = tmp_path / "elsewhere"
    r = subprocess.run([sys.executable, str(BENCH), "--model", str(model), "--work", str(tmp_path / "work")],
                       capture_output=True, text=True, cwd=REPO, timeout=300,
                       env={**os.environ, "LUSFEAT_REAL_LUS": str(absent)})
    assert r.returncode != 0 and str(absent / "labels.csv") in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
