"""Chunk integrity of cohorts and mask sets: a manifest of chunk digests and
array readers whose decode failures name the array and the frames.

The writers (:class:`lusfeat.data.CohortWriter`, :class:`lusfeat.data.MaskWriter`)
end by writing ``chunks.json`` beside their Zarr group: for every array, the
frames per chunk and the SHA-256 digest (16 hex characters) of each stored,
compressed chunk file, hashed as written (no decoding)::

    {"format": "lusfeat-chunks", "format_version": 1, "digest": "sha256/16",
     "arrays": {"images": {"chunk_frames": 16, "n_frames": 96,
                           "chunks": {"c/0/0/0": "5f1c...", ...}}, ...}}

A chunk that only holds the fill value (0) is not stored by Zarr and not listed;
reading it gives zeros, as it should. A listed chunk that is missing would
silently read as zeros too, which is why readers check that every listed chunk
is present (cheap: a directory walk) and :func:`verify_chunks` also compares
digests (reads every chunk file once). Folders written before the manifest
existed have no ``chunks.json``: they open, and ``lusfeat validate`` says the
manifest is absent (a warning, an error with ``--strict``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import CohortError
from .._io import read_json, write_json

__all__ = ["CHUNKS_FILE", "FrameArray", "write_chunk_manifest", "read_chunk_manifest", "verify_chunks"]

CHUNKS_FILE = "chunks.json"
CHUNKS_FORMAT = "lusfeat-chunks"
CHUNKS_VERSION = 1


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


def _chunk_files(array_dir: Path) -> dict[str, Path]:
    """Stored chunk files of one Zarr v3 array: ``{"c/0/0/0": path}``."""
    root = array_dir / "c"
    if not root.is_dir():
        return {}
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[p.relative_to(array_dir).as_posix()] = p
    return out


def _frames_of(key: str, chunk_frames: int, n_frames: int) -> str:
    """``"frames 16-31"`` for chunk key ``c/1/...`` with 16 frames per chunk."""
    try:
        i = int(key.split("/")[1])
    except (IndexError, ValueError):
        return "unknown frames"
    lo = i * chunk_frames
    return f"frames {lo}-{min(n_frames, lo + chunk_frames) - 1}"


def write_chunk_manifest(folder: str | os.PathLike, arrays_dir: str, arrays: Iterable[tuple[str, Any]]) -> None:
    """Write ``folder/chunks.json`` for the named arrays of ``folder/arrays_dir``.

    Parameters
    ----------
    folder : path-like
        The (temporary) cohort or mask-set folder.
    arrays_dir : str
        Name of the Zarr group folder inside ``folder``, e.g. ``"arrays.zarr"``.
    arrays : iterable of (str, zarr.Array)
        The arrays to list, by name; ``None`` arrays are skipped.
    """
    folder = Path(folder)
    entry: dict[str, Any] = {}
    for name, arr in arrays:
        if arr is None:
            continue
        files = _chunk_files(folder / arrays_dir / name)
        entry[name] = {
            "chunk_frames": int(arr.chunks[0]),
            "n_frames": int(arr.shape[0]),
            "chunks": {key: _digest(p) for key, p in sorted(files.items())},
        }
    write_json(folder / CHUNKS_FILE, {
        "format": CHUNKS_FORMAT, "format_version": CHUNKS_VERSION, "digest": "sha256/16", "arrays": entry,
    })


def read_chunk_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The parsed ``chunks.json`` of a folder, or ``None`` when it has none.

    Raises
    ------
    CohortError
        When the manifest exists but is unreadable or of an unknown format.
    """
    path = Path(folder) / CHUNKS_FILE
    if not path.exists():
        return None
    try:
        man = read_json(path)
    except Exception as exc:
        raise CohortError(f"{path} is unreadable ({exc}); re-create the folder or delete {path.name}") from None
    if not isinstance(man, dict) or man.get("format") != CHUNKS_FORMAT or man.get("format_version") != CHUNKS_VERSION:
        raise CohortError(f"{path}: not a lusfeat chunk manifest v{CHUNKS_VERSION}; re-create the folder")
    return man


def verify_chunks(folder: str | os.PathLike, arrays_dir: str, *, digests: bool = True) -> list[str]:
    """Compare the stored chunks of a folder with its manifest.

    Parameters
    ----------
    folder : path-like
        Cohort or mask-set folder holding ``chunks.json``.
    arrays_dir : str
        Its Zarr group folder, e.g. ``"arrays.zarr"``.
    digests : bool
        Also hash every chunk file and compare digests (reads each file once);
        without it only presence is checked.

    Returns
    -------
    list of str
        One problem per missing, unexpected or changed chunk, naming the array,
        the chunk and its frames; empty when everything matches. A folder
        without a manifest gives an empty list (see :func:`read_chunk_manifest`).
    """
    folder = Path(folder)
    man = read_chunk_manifest(folder)
    if man is None:
        return []
    problems: list[str] = []
    fix = "restore the folder from a backup or re-create it"
    for name, entry in man["arrays"].items():
        cf, n = int(entry["chunk_frames"]), int(entry["n_frames"])
        files = _chunk_files(folder / arrays_dir / name)
        listed: dict[str, str] = entry["chunks"]
        where = f"{folder / arrays_dir / name}"
        for key in sorted(set(listed) - set(files)):
            problems.append(f"{where}: chunk {key} ({_frames_of(key, cf, n)}) is missing; {fix}")
        for key in sorted(set(files) - set(listed)):
            problems.append(f"{where}: chunk {key} ({_frames_of(key, cf, n)}) is not in {CHUNKS_FILE} "
                            f"(written after the folder was made); {fix}")
        if digests:
            for key in sorted(set(files) & set(listed)):
                if _digest(files[key]) != listed[key]:
                    problems.append(f"{where}: chunk {key} ({_frames_of(key, cf, n)}) differs from what was "
                                    f"written (digest mismatch: changed or corrupt); {fix}")
    return problems


class FrameArray:
    """A frames-first Zarr array whose read errors name the array and the frames.

    Slicing (``a[i]``, ``a[i:j]``, ``a.oindex[idx]``) returns NumPy arrays like
    the Zarr array it wraps; a chunk that cannot be decoded raises
    :class:`lusfeat.CohortError` instead of a codec error.

    Parameters
    ----------
    array : zarr.Array
        The stored array, frames on axis 0.
    label : str
        Path shown in messages, e.g. ``"cohort/arrays.zarr/images"``.

    Attributes
    ----------
    zarr : zarr.Array
        The wrapped array.
    """

    def __init__(self, array: Any, label: str) -> None:
        self.zarr = array
        self.label = label

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape, frames first."""
        return tuple(self.zarr.shape)

    @property
    def dtype(self) -> np.dtype:
        """Element type."""
        return self.zarr.dtype

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return int(self.zarr.ndim)

    @property
    def chunks(self) -> tuple[int, ...]:
        """Chunk shape (frames per chunk first)."""
        return tuple(self.zarr.chunks)

    def __len__(self) -> int:
        return int(self.zarr.shape[0])

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = self[...]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"FrameArray({self.label!r}, shape={self.shape}, dtype={self.dtype})"

    def _requested(self, key: Any) -> np.ndarray:
        """Frame indices a key reads (all frames when it cannot tell)."""
        n = self.shape[0]
        first = key[0] if isinstance(key, tuple) and key else key
        if isinstance(first, slice):
            return np.arange(*first.indices(n))
        if isinstance(first, (int, np.integer)):
            return np.array([int(first) % max(n, 1)])
        idx = np.asarray(first)
        if idx.size and idx.dtype.kind in "iu":
            return np.unique(idx % max(n, 1))
        return np.arange(n)

    def _bad_frames(self, key: Any) -> str:
        """The frame ranges of the chunks among those ``key`` reads that fail to decode."""
        cf = max(1, self.chunks[0])
        n = self.shape[0]
        bad = []
        for c in np.unique(self._requested(key) // cf):
            lo, hi = int(c) * cf, min(n, (int(c) + 1) * cf)
            try:
                np.asarray(self.zarr[lo:hi])
            except Exception:
                bad.append(f"{lo}-{hi - 1}")
        if not bad:
            frames = self._requested(key)
            return f"frames {int(frames.min())}-{int(frames.max())}" if frames.size else "frames"
        return f"frames {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"

    def _read(self, getter: Any, key: Any) -> np.ndarray:
        try:
            return np.asarray(getter[key])
        except (IndexError, TypeError):
            raise
        except Exception as exc:
            raise CohortError(
                f"{self.label}: {self._bad_frames(key)} cannot be decoded ({type(exc).__name__}: {exc}); a chunk "
                "is corrupt or truncated: run `lusfeat validate` on the folder, then restore or re-create it"
            ) from None

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._read(self.zarr, key)

    @property
    def oindex(self) -> _OIndex:
        """Orthogonal indexing (``a.oindex[idx]``) with the same error handling."""
        return _OIndex(self)


class _OIndex:
    def __init__(self, parent: FrameArray) -> None:
        self._parent = parent

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._parent._read(self._parent.zarr.oindex, key)
