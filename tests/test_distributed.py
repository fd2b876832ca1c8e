"""Chunked execution on a Dask LocalCluster: equality with the in-process run, resume, killed workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lusfeat import InputError
from lusfeat._scheduler import PartStore, SchedulerSpec, dask_client, frame_spans, parse_scheduler
from lusfeat.data import open_masks
from lusfeat.features import extract
from lusfeat.features._extract import FILES
from lusfeat.seg import UNetConfig, segment, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, shared by the tests of this module."""
    with dask_client(SchedulerSpec("local", workers=2)) as c:
        yield c


def assert_same_tables(a: Path, b: Path) -> None:
    for name in FILES.values():
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name))


@pytest.mark.parametrize(("text", "expected"), [
    (None, None), ("", None), ("local", SchedulerSpec("local")), ("local:3", SchedulerSpec("local", 3)),
    ("tcp://10.0.0.5:8786", SchedulerSpec("tcp", address="tcp://10.0.0.5:8786")),
])
def test_parse_scheduler(text, expected):
    assert parse_scheduler(text) == expected


@pytest.mark.parametrize("text", ["locl", "local:0", "local:x", "tcp://host", "tcp://host:99999", "http://h:1"])
def test_parse_scheduler_rejects(text):
    with pytest.raises(InputError, match="--scheduler"):
        parse_scheduler(text)


def test_unreachable_scheduler_is_one_clear_error():
    with pytest.raises(InputError, match="no Dask scheduler answered"), dask_client(parse_scheduler("tcp://127.0.0.1:9")):
        pass


def test_local_workers_reuse_freed_memory_and_decode_in_their_thread(client):
    """Dask's MALLOC_TRIM_THRESHOLD_=65536 doubled a feature task's CPU time; lusfeat's own
    workers keep freed buffers in the heap (lusfeat._memory), decode Zarr chunks in the
    task's thread and run numba on one thread."""
    from lusfeat._memory import MALLOC_ENV

    def _worker_settings() -> dict:  # pickled by value (a local function)
        import os

        import zarr

        return {"malloc": {k: os.environ.get(k) for k in MALLOC_ENV},
                "zarr_threads": zarr.config.get("threading.max_workers"),
                "numba_threads": os.environ.get("NUMBA_NUM_THREADS")}

    settings = client.run(_worker_settings)
    assert len(settings) == 2
    for s in settings.values():
        assert s == {"malloc": MALLOC_ENV, "zarr_threads": 1, "numba_threads": "1"}, s


def test_frame_spans_are_whole_chunks():
    assert frame_spans(100, 32, 64) == [(0, 64), (64, 100)]
    assert frame_spans(5, 4, 3) == [(0, 5)]


@pytest.fixture(scope="module")
def truth_in_process(tiny_cohort, tmp_path_factory):
    return extract(tiny_cohort, "truth", tmp_path_factory.mktemp("f") / "inproc", backend="cpu", batch=48,
                   progress=False)


def test_features_on_a_cluster_equal_in_process(tiny_cohort, truth_in_process, client, tmp_path):
    out = extract(tiny_cohort, "truth", tmp_path / "dask", backend="cpu", batch=16, scheduler=client,
                  progress=False)
    assert_same_tables(truth_in_process, out)
    meta = json.loads((out / "features.json").read_text())["scheduler"]
    assert meta["parts"] > 2 and meta["reused_parts"] == 0
    assert max(meta["peak_rss_mb_per_worker"].values()) < 2000
    assert not (tmp_path / ".dask.parts").exists()


def test_labels_on_a_cluster_equal_in_process(tiny_cohort, client, tmp_path):
    a = extract(tiny_cohort, "labels:50", tmp_path / "a", backend="cpu", progress=False)
    b = extract(tiny_cohort, "labels:50", tmp_path / "b", backend="cpu", batch=32, scheduler=client, progress=False)
    assert_same_tables(a, b)


def test_interrupted_features_resume_from_trusted_parts(tiny_cohort, truth_in_process, client, tmp_path,
                                                        monkeypatch):
    from lusfeat.features._extract import FeatureSink

    out = tmp_path / "resume"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(FeatureSink, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract(tiny_cohort, "truth", out, backend="cpu", batch=16, scheduler=client, progress=False)
    monkeypatch.undo()
    parts = tmp_path / ".resume.parts"
    entries = sorted((parts / "manifest").glob("part-*.json"))
    n = len(entries)
    assert n > 3 and not out.exists()
    entries[0].unlink()  # a part whose entry was never written
    (parts / "part-000001.frames.parquet").write_bytes(b"truncated")  # a part changed after its entry
    out2 = extract(tiny_cohort, "truth", out, backend="cpu", batch=16, scheduler=client, progress=False)
    assert json.loads((out2 / "features.json").read_text())["scheduler"]["reused_parts"] == n - 2
    assert_same_tables(truth_in_process, out2)
    assert not parts.exists()


def test_parts_of_other_options_are_discarded(tmp_path):
    store = PartStore(tmp_path / "out", "key-a")
    store.open()
    path = store.write_parquet(0, "frames.parquet", pd.DataFrame({"x": [1.0]}))
    store.commit(0, [path])
    assert PartStore(tmp_path / "out", "key-a").open() == {0}
    assert PartStore(tmp_path / "out", "key-b").open() == set()


def _kill_once_plugin(marker: str, prefix: str):
    """Worker plugin: the first worker to start a task of ``prefix`` dies at once (``os._exit``)."""
    from distributed import WorkerPlugin

    class KillOnce(WorkerPlugin):
        name = "lusfeat-kill-once"

        def __init__(self) -> None:
            self.marker, self.prefix = marker, prefix

        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and str(key).startswith(self.prefix):
                try:
                    fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return
                os.close(fd)
                os._exit(1)

    return KillOnce()


def test_killed_worker_chunks_are_recomputed(tiny_cohort, truth_in_process, client, tmp_path):
    marker = tmp_path / "killed"
    client.register_plugin(_kill_once_plugin(str(marker), "features"))
    try:
        out = extract(tiny_cohort, "truth", tmp_path / "k", backend="cpu", batch=16, scheduler=client,
                      progress=False)
    finally:
        client.unregister_worker_plugin("lusfeat-kill-once")
    assert marker.exists()  # a worker did die mid-run
    assert_same_tables(truth_in_process, out)


def test_in_memory_masks_need_the_in_process_path(tiny_cohort, client, tmp_path):
    masks = np.zeros((3, 5, 8, 8), bool)
    with pytest.raises(InputError):
        extract(tiny_cohort, masks, tmp_path / "x", scheduler=client, progress=False)


# --- segment ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seg_run(tmp_path_factory):
    pytest.importorskip("zarr", reason="the cohort is a Zarr store")
    from tests.seg.conftest import write_cohort

    root = tmp_path_factory.mktemp("segd")
    cohort = write_cohort(root / "cohort", patients=4, frames_per_patient=20)
    run = train(cohort, root / "run", "threshold:60", folds=2, epochs=1, batch_size=4,
                model=UNetConfig(depth=2, width=4), size=16, progress=False)
    masks = segment(cohort, run, root / "inproc", batch_size=8, threads=1, progress=False)
    return cohort, run, masks


def assert_same_masks(a: Path, b: Path) -> None:
    ma, mb = open_masks(a), open_masks(b, verify=True)
    np.testing.assert_array_equal(ma.probabilities[:], mb.probabilities[:])
    np.testing.assert_array_equal(ma.masks[:], mb.masks[:])


def test_segment_on_a_cluster_equals_in_process(seg_run, client, tmp_path):
    cohort, run, inproc = seg_run
    out = segment(cohort, run, tmp_path / "m", batch_size=8, threads=1, scheduler=client, progress=False)
    assert_same_masks(inproc, out)
    meta = open_masks(out).meta
    assert meta["scheduler"]["parts"] == 3 and meta["out_of_fold"] is True
    assert max(meta["scheduler"]["peak_rss_mb_per_worker"].values()) < 2000


def test_foreign_cohort_on_a_cluster_gets_the_fold_ensemble_as_in_process(seg_run, client, tmp_path):
    from tests.seg.conftest import write_cohort

    _, run, _ = seg_run
    other = write_cohort(tmp_path / "other", patients=2, frames_per_patient=20, seed=5)
    here = segment(other, run, tmp_path / "here", batch_size=8, threads=1, allow_foreign=True, progress=False)
    there = segment(other, run, tmp_path / "there", batch_size=8, threads=1, allow_foreign=True, scheduler=client,
                    progress=False)
    assert_same_masks(here, there)
    assert open_masks(there).meta["frames_unknown_to_run"] == 40


def test_interrupted_segment_resumes(seg_run, client, tmp_path, monkeypatch):
    from lusfeat.seg import _segment_dask

    cohort, run, inproc = seg_run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_segment_dask, "_finish", interrupted)
    with pytest.raises(KeyboardInterrupt):
        segment(cohort, run, tmp_path / "m", batch_size=8, threads=1, scheduler=client, progress=False)
    monkeypatch.undo()
    parts = tmp_path / ".m.parts"
    chunk = parts / "masks.zarr" / "probabilities" / "c" / "0" / "0" / "0" / "0"
    assert chunk.is_file()
    chunk.write_bytes(b"half a chunk")  # damaged after its entry was written: recomputed
    out = segment(cohort, run, tmp_path / "m", batch_size=8, threads=1, scheduler=client, progress=False)
    assert open_masks(out).meta["scheduler"]["reused_parts"] == 2
    assert_same_masks(inproc, out)


def test_segment_with_features_in_memory_equals_features_of_written_masks(seg_run, tmp_path):
    from lusfeat.pipeline._handoff import segment_with_features

    cohort, run, inproc = seg_run
    masks = segment_with_features(cohort, run, tmp_path / "m", tmp_path / "f", backend="cpu", batch_size=8,
                                  threads=1, progress=False)
    assert_same_masks(inproc, masks)
    ref = extract(cohort, masks, tmp_path / "ref", backend="cpu", progress=False)
    assert_same_tables(ref, tmp_path / "f")
    meta = json.loads((tmp_path / "f" / "features.json").read_text())
    assert meta["masks"] == json.loads((ref / "features.json").read_text())["masks"]


def test_segment_with_features_refuses_an_existing_folder_before_work(seg_run, tmp_path):
    from lusfeat.pipeline._handoff import segment_with_features

    cohort, run, _ = seg_run
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x").write_text("x")
    with pytest.raises(InputError, match="--features"):
        segment_with_features(cohort, run, tmp_path / "m", tmp_path / "f", progress=False)
    assert not (tmp_path / "m").exists()


@pytest.mark.gpu
def test_segment_with_features_on_the_gpu(seg_run, tmp_path):
    """CUDA: masks handed to the CuPy kernels on the device give the cpu tables."""
    from lusfeat.pipeline._handoff import segment_with_features

    cohort, run, _ = seg_run
    masks = segment_with_features(cohort, run, tmp_path / "m", tmp_path / "f", backend="cuda", device="cuda",
                                  batch_size=8, progress=False)
    ref = extract(cohort, masks, tmp_path / "ref", backend="cpu", progress=False)
    for name in ("frame_wide.parquet", "exam_wide.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(ref / name), pd.read_parquet(tmp_path / "f" / name))


# --- the console entry point -----------------------------------------------------------


def _lusfeat(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "lusfeat", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_features_on_a_local_cluster(tiny_cohort, truth_in_process, tmp_path):
    proc = _lusfeat("features", str(tiny_cohort), "--masks", "truth", "--out", "feats", "--backend", "cpu",
                    "--batch", "32", "--scheduler", "local:2", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_same_tables(truth_in_process, tmp_path / "feats")


def test_cli_bad_scheduler_is_one_line(tiny_cohort, tmp_path):
    # (an unreachable tcp:// address is a row of tests/test_bad_inputs.py)
    proc = _lusfeat("features", str(tiny_cohort), "--out", "feats", "--scheduler", "local:zero", cwd=tmp_path)
    assert proc.returncode == 1
    assert "--scheduler" in proc.stderr and "Traceback" not in proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if "error" in ln]) == 1
    assert not (tmp_path / "feats").exists() and not list(tmp_path.glob(".feats*"))


def test_peak_memory_is_the_worker_s_own_not_its_parent_s():
    """A process started by a large parent reports its own peak (``ru_maxrss`` would carry the
    parent's size across ``exec``)."""
    from lusfeat._scheduler import peak_rss_mb

    big = np.ones(300_000_000, np.uint8)  # 300 MB held by this process while the child starts
    code = "from lusfeat._scheduler import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 cwd=ROOT).stdout)
    assert peak_rss_mb() > 300
    assert child < 250, child  # numpy and lusfeat's scheduler module: well under the parent's 300 MB array
    del big
