"""Shared I/O helpers: stale temporaries, discarding on handled errors, the fingerprint check."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from lusfeat import InputError
from lusfeat._io import (
    atomic_dir,
    check_fingerprint,
    clean_stale_temporaries,
    discard_on_error,
    write_json,
)

#: Above any Linux pid_max: a process id that cannot be running.
DEAD_PID = 2**22 + 7


def test_stale_temporaries_are_removed_on_the_next_run(tmp_path, caplog):
    out = tmp_path / "features"
    stale = tmp_path / f".features.tmp-{DEAD_PID}-0badc0de"
    legacy = tmp_path / ".features.tmp-1234abcd"  # older lusfeat: no process id
    live = tmp_path / f".features.tmp-{os.getppid()}-feedbeef"  # a running writer
    other = tmp_path / f".other.tmp-{DEAD_PID}-0badc0de"  # another output's
    for d in (stale, legacy, live, other):
        d.mkdir()
        (d / "part.parquet").write_bytes(b"x" * 1000)
    with caplog.at_level(logging.INFO, logger="lusfeat"), atomic_dir(out) as tmp:
        (tmp / "done.txt").write_text("ok")
    assert (out / "done.txt").exists()
    assert not stale.exists() and not legacy.exists()
    assert live.exists() and other.exists()
    assert "removed 2 stale temporary output(s)" in caplog.text


def test_own_temporaries_of_this_process_are_kept(tmp_path):
    mine = tmp_path / f".x.tmp-{os.getpid()}-00000000"
    mine.mkdir()
    assert clean_stale_temporaries(tmp_path / "x") == []
    assert mine.exists()


def test_failed_block_leaves_nothing(tmp_path):
    with pytest.raises(InputError), atomic_dir(tmp_path / "out"):
        raise InputError("bad input")
    assert list(tmp_path.iterdir()) == []


def test_discard_on_error_only_for_handled_errors(tmp_path):
    partial = tmp_path / ".run.partial"
    partial.mkdir()
    with pytest.raises(RuntimeError), discard_on_error(partial):
        raise RuntimeError("a crash keeps the partial run for a resume")
    assert partial.exists()
    with pytest.raises(InputError), discard_on_error(partial):
        raise InputError("a handled error discards it")
    assert not partial.exists()


@pytest.mark.parametrize("recorded, allow, expected", [
    ("aa", False, False),
    ("aa", True, False),
    ("bb", True, True),
    (None, False, False),
])
def test_check_fingerprint_outcomes(recorded, allow, expected):
    assert check_fingerprint("run r", recorded, "aa", source="cohort c", allow_foreign=allow) is expected


def test_check_fingerprint_message_names_both_and_the_way_out():
    with pytest.raises(InputError) as info:
        check_fingerprint("mask set m", "bb", "aa", source="cohort c", detail="frames 64x64 vs 32x32")
    msg = str(info.value)
    assert "mask set m" in msg and "bb" in msg and "cohort c has aa" in msg
    assert "frames 64x64 vs 32x32" in msg and "--allow-foreign" in msg


def test_atomic_dir_writes_into_a_temporary_sibling_then_renames(tmp_path):
    out = tmp_path / "features"
    with atomic_dir(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(f".features.tmp-{os.getpid()}-")
        assert tmp.is_dir() and not out.exists()  # nothing at the final path while writing
        (tmp / "part.txt").write_text("complete")
    assert not tmp.exists()
    assert (out / "part.txt").read_text() == "complete"


def test_write_json_is_renamed_from_a_complete_temporary(tmp_path, monkeypatch):
    import lusfeat._io as io_mod

    seen = []
    real_replace = os.replace

    def replace(src, dst):
        src, dst = Path(src), Path(dst)
        seen.append((src.name, dst, dst.exists(), src.read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(io_mod.os, "replace", replace)
    final = tmp_path / "meta.json"
    write_json(final, {"a": 1})
    assert len(seen) == 1
    name, dst, existed, text = seen[0]
    assert name.startswith(f".meta.json.tmp-{os.getpid()}-") and dst == final and not existed
    assert text == '{\n  "a": 1\n}\n'
    assert final.read_text() == text and [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_parquet_stream_reads_back_as_the_concatenated_pieces(tmp_path):
    import pandas as pd

    from lusfeat._io import ParquetStream

    rng = np.random.default_rng(3)
    pieces = [pd.DataFrame({"id": [f"F{i}" for i in range(lo, lo + n)], "cls": pd.Categorical((["a", "b"] * n)[:n], categories=["a", "b"]),
                            "x": rng.normal(size=n), "k": np.arange(lo, lo + n)})
              for lo, n in ((0, 7), (7, 0), (7, 12), (19, 3))]
    with ParquetStream(tmp_path / "t.parquet", rows=10) as out:  # row groups of >= 10 rows
        for df in pieces:
            out.write(df)
        assert not (tmp_path / "t.parquet").exists()  # nothing at the final path while writing
    whole = pd.concat(pieces, ignore_index=True)
    whole.to_parquet(tmp_path / "ref.parquet", index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), pd.read_parquet(tmp_path / "ref.parquet"))


def test_parquet_stream_leaves_nothing_when_the_writer_fails(tmp_path):
    import pandas as pd

    from lusfeat._io import ParquetStream

    with pytest.raises(RuntimeError):
        with ParquetStream(tmp_path / "t.parquet", rows=1) as out:
            out.write(pd.DataFrame({"x": [1.0, 2.0]}))
            raise RuntimeError("killed half way")
    assert list(tmp_path.iterdir()) == []
