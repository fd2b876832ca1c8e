"""Small I/O helpers: atomic writes, JSON, fingerprints.

Outputs are always written to a temporary sibling path and renamed into place,
so an interrupted command never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import InputError, LusfeatError

logger = logging.getLogger(__name__)

__all__ = [
    "ParquetStream",
    "atomic_dir",
    "atomic_file",
    "clean_stale_temporaries",
    "discard_on_error",
    "check_fingerprint",
    "write_json",
    "read_json",
    "read_csv",
    "write_parquet",
    "fingerprint",
    "file_digest",
    "to_jsonable",
]


def _tmp_sibling(path: Path) -> Path:
    """``.NAME.tmp-PID-HEX``: the writer's process id tells stale siblings from live ones."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


#: When this module was imported: temporaries with this process's id but older than
#: this belong to an earlier process that had the same id.
_IMPORTED_AT = time.time()


def _writer_alive(pid: int, created: float) -> bool:
    if pid == os.getpid():
        return created >= _IMPORTED_AT - 1.0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporary siblings of ``path`` left behind by a killed run.

    A temporary sibling is ``.NAME.tmp-*`` beside ``path`` (see :func:`atomic_dir`).
    Those of a process that is still running (including this one) are kept;
    the others are deleted and a message says how many and how large.

    Parameters
    ----------
    path : path-like
        The final output path.

    Returns
    -------
    list of Path
        The removed siblings.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed, size = [], 0
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        tag = tmp.name.rsplit(".tmp-", 1)[1]
        pid_text = tag.split("-", 1)[0]
        try:
            created = tmp.stat().st_mtime
        except FileNotFoundError:
            continue
        if "-" in tag and pid_text.isdigit() and _writer_alive(int(pid_text), created):
            continue
        if tmp.is_dir():
            size += sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            size += tmp.stat().st_size
            tmp.unlink(missing_ok=True)
        removed.append(tmp)
    if removed:
        logger.info("removed %d stale temporary output(s) of %s (%.1f MB) left by an interrupted run",
                    len(removed), path, size / 1e6)
    return removed


@contextlib.contextmanager
def discard_on_error(path: str | os.PathLike) -> Iterator[None]:
    """Delete the folder ``path`` when the block raises a :class:`lusfeat.LusfeatError`.

    Other exceptions (a kill, Ctrl-C, a crash) keep it, so that an interrupted
    command can resume from it.
    """
    try:
        yield
    except LusfeatError:
        shutil.rmtree(path, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        Final folder.
    overwrite : bool
        Replace an existing folder. Without it an existing, non-empty ``path``
        is an error.

    Yields
    ------
    Path
        The temporary folder to fill. It is deleted if the block raises.
    """
    path = Path(path)
    clean_stale_temporaries(path)
    if path.exists() and not overwrite and (not path.is_dir() or any(path.iterdir())):
        raise InputError(
            f"output {path} already exists; choose another path or pass --overwrite"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = _tmp_sibling(path)
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path that is renamed to ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    tmp = _tmp_sibling(path)
    try:
        yield tmp
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy scalars/arrays, paths and tuples to plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        v = float(obj)
        return None if not np.isfinite(v) else v
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file with an error that names the file when it is broken."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); restore or regenerate it") from None


def read_csv(path: str | os.PathLike, **kwargs: Any) -> Any:
    """``pandas.read_csv`` with a one-line error naming the file when it cannot be parsed.

    The caller checks that the file exists (its message says what the table is for);
    ``kwargs`` go to :func:`pandas.read_csv`.
    """
    import pandas as pd

    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                         "save it as comma-separated UTF-8 text") from None


def write_parquet(df: Any, path: str | os.PathLike) -> None:
    """Write a pandas DataFrame to Parquet atomically (no index column)."""
    with atomic_file(path) as tmp:
        df.to_parquet(tmp, index=False)


class ParquetStream:
    """Write a Parquet file one pandas DataFrame at a time, atomically.

    Row groups are buffered up to ``rows`` rows, so a table larger than memory
    is written from its pieces; the file appears at ``path`` only when the
    ``with`` block ends without an error. Reading it back with
    :func:`pandas.read_parquet` gives the same frame as writing the
    concatenated pieces with :func:`write_parquet`.

    Parameters
    ----------
    path : path-like
    rows : int
        Rows per row group (pieces are gathered until they reach it).
    empty : pandas.DataFrame, optional
        Written (with its columns and dtypes) when no piece arrives.

    Examples
    --------
    >>> with ParquetStream(path) as out:  # doctest: +SKIP
    ...     for df in pieces:
    ...         out.write(df)
    """

    def __init__(self, path: str | os.PathLike, rows: int = 1 << 16, empty: Any = None) -> None:
        self.path, self.rows, self.empty = Path(path), int(rows), empty
        self._buffer: list[Any] = []
        self._buffered = 0
        self._writer: Any = None
        self._schema: Any = None

    def __enter__(self) -> ParquetStream:
        self._ctx = atomic_file(self.path)
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, df: Any) -> None:
        """Append the rows of a DataFrame (same columns and dtypes as the first one)."""
        if len(df) == 0 and self._buffer:
            return
        self._buffer.append(df)
        self._buffered += len(df)
        if self._buffered >= self.rows:
            self._flush()

    def _flush(self) -> None:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._buffer:
            return
        df = self._buffer[0] if len(self._buffer) == 1 else pd.concat(self._buffer, ignore_index=True)
        self._buffer, self._buffered = [], 0
        table = pa.Table.from_pandas(df, preserve_index=False, schema=self._schema)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._tmp, self._schema)
        self._writer.write_table(table)

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        try:
            if kind is None:
                if self._writer is None and not self._buffer and self.empty is not None:
                    self._buffer.append(self.empty)
                self._flush()
        finally:
            if self._writer is not None:
                self._writer.close()
        return bool(self._ctx.__exit__(kind, exc, tb))


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 hex digest (16 chars) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def fingerprint(*parts: Any) -> str:
    """Stable SHA-256 hex digest (16 chars) of JSON-able parts and arrays."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str(part.dtype).encode())
            h.update(str(part.shape).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(to_jsonable(part), sort_keys=True).encode())
    return h.hexdigest()[:16]


def check_fingerprint(
    artifact: str,
    recorded: str | None,
    expected: str,
    *,
    source: str,
    allow_foreign: bool = False,
    detail: str = "",
) -> bool:
    """Check that an artifact was made from the input it is now used with.

    The one check of every stage boundary: a run applied to a cohort, a mask
    set read with a cohort, a feature folder analysed with a cohort. Different
    fingerprints are an error unless ``allow_foreign``, in which case the
    caller goes on and records ``foreign: true`` in what it writes.

    Parameters
    ----------
    artifact : str
        What is checked, e.g. ``"run runs/t60"``; starts the message.
    recorded : str or None
        The fingerprint the artifact recorded. ``None`` (made by code that
        records none, e.g. a hand-written mask set) cannot be checked: a warning
        is logged and the artifact is taken as matching.
    expected : str
        The fingerprint of the input at hand (e.g. ``Cohort.fingerprint``).
    source : str
        The input at hand, e.g. ``"cohort study/cohort"``.
    allow_foreign : bool
        Proceed (returning True) instead of raising when they differ.
    detail : str
        Extra facts for the message, e.g. ``"frames 128x128 vs 64x64"``.

    Returns
    -------
    bool
        True when the fingerprints differ and ``allow_foreign`` let it through;
        False when they match (or none was recorded).

    Raises
    ------
    InputError
        When they differ and ``allow_foreign`` is False; the message names both
        fingerprints and the two ways out.

    Examples
    --------
    >>> check_fingerprint("run r", "ab12", "ab12", source="cohort c")
    False
    >>> check_fingerprint("run r", "ab12", "cd34", source="cohort c", allow_foreign=True)
    True
    """
    if recorded == expected:
        return False
    if recorded is None:
        logger.warning("%s records no cohort fingerprint, so it cannot be checked against %s", artifact, source)
        return False
    what = f"was made from another cohort (fingerprint {recorded}, {source} has {expected})"
    extra = f"; {detail}" if detail else ""
    if allow_foreign:
        logger.warning("%s %s%s; going on because of --allow-foreign (recorded as foreign)", artifact, what, extra)
        return True
    raise InputError(
        f"{artifact} {what}{extra}; use the matching inputs, or pass --allow-foreign to apply it "
        "anyway (the output is then marked foreign, not out of fold)"
    )
