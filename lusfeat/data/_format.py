"""The on-disk cohort format (version 1) and its lazy reader/streaming writer.

A cohort is one folder::

    COHORT/
      cohort.json        metadata (format version, classes, sizes, provenance)
      frames.parquet     one row per frame (IDs, array index, probe, spacing)
      clinical.parquet   one row per exam (SpO2, FiO2, S/F, device, patient columns)
      arrays.zarr/       Zarr v3 group, chunked by frames, zstd-compressed
        images           (N, H, W) uint8
        confidence       (N, A, C, H, W) uint8, percent 0-100, 0 = not labelled
        truth            (N, C, H, W) bool, simulated cohorts only

The class axis ``C`` always follows :data:`CLASS_NAMES`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import CohortError, InputError
from .._io import atomic_dir, file_digest, fingerprint, read_json, write_json
from .._summary import Summary, fmt, natural_key
from ._chunks import FrameArray, verify_chunks, write_chunk_manifest

__all__ = [
    "CLASS_NAMES",
    "FORMAT_VERSION",
    "FRAME_COLUMNS",
    "CLINICAL_COLUMNS",
    "Cohort",
    "AtomicFolderWriter",
    "CohortWriter",
    "open_cohort",
]

#: Class order of every class axis in lusfeat.
CLASS_NAMES: tuple[str, ...] = ("pleural_line", "a_line", "b_line", "consolidation", "effusion")
#: Current cohort format version.
FORMAT_VERSION: int = 1
FORMAT_NAME = "lusfeat-cohort"

#: Required columns of ``frames.parquet``.
FRAME_COLUMNS: tuple[str, ...] = (
    "frame_id",
    "patient_id",
    "exam_id",
    "zone",
    "clip_id",
    "frame_index",
    "array_index",
    "probe",
    "pixel_spacing_mm",
)
#: Required columns of ``clinical.parquet``.
CLINICAL_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "exam_id",
    "day",
    "spo2",
    "fio2",
    "sf_ratio",
    "o2_device",
    "age",
    "sex",
    "etiology",
    "readmit_30d",
    "discharge_exam_id",
)

META_FILE = "cohort.json"
FRAMES_FILE = "frames.parquet"
CLINICAL_FILE = "clinical.parquet"
ARRAYS_DIR = "arrays.zarr"


def _lusfeat_version() -> str:
    from .._version import __version__

    return __version__


def _range(v: pd.Series) -> str:
    """``lo-hi`` of integer counts (``lo`` when equal, ``n/a`` when empty)."""
    if not len(v):
        return "n/a"
    lo, hi = int(v.min()), int(v.max())
    return str(lo) if lo == hi else f"{lo}-{hi}"


@dataclass
class Cohort:
    """A cohort opened lazily: tables in memory, arrays read on slicing.

    Attributes
    ----------
    path : Path
        The cohort folder.
    meta : dict
        Parsed ``cohort.json``.
    frames : pandas.DataFrame
        One row per frame, ordered by ``array_index``.
    clinical : pandas.DataFrame
        One row per exam.
    images : FrameArray
        ``(N, H, W) uint8``; slicing returns NumPy arrays (a corrupt chunk raises
        :class:`lusfeat.CohortError` naming the array and frames).
    confidence : FrameArray
        ``(N, A, C, H, W) uint8`` in percent.
    truth : FrameArray or None
        ``(N, C, H, W) bool`` for simulated cohorts, else ``None``.
    """

    path: Path
    meta: dict[str, Any]
    frames: pd.DataFrame
    clinical: pd.DataFrame
    images: Any
    confidence: Any
    truth: Any = None
    class_names: tuple[str, ...] = field(default=CLASS_NAMES)

    @property
    def n_frames(self) -> int:
        """Number of frames ``N``."""
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """Frame size ``(H, W)`` in pixels."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def n_annotators(self) -> int:
        """Number of annotators ``A``."""
        return int(self.confidence.shape[1])

    @property
    def is_labelled(self) -> bool:
        """False for a cohort ingested without masks or annotations: its confidence
        array is all zero and holds no annotator's labels."""
        return list(self.meta.get("annotators") or []) != ["none"]

    def require_labels(self, use: str) -> None:
        """Raise :class:`InputError` naming ``use`` when the cohort holds no annotator labels.

        Everything that turns confidence into labels calls this first, so that a
        cohort ingested without masks is not silently treated as all background.
        """
        if not self.is_labelled:
            raise InputError(
                f"{use}: cohort {self.path} has no annotator labels (it was ingested without masks or "
                "annotations); add mask columns or --annotations to `lusfeat ingest`, or segment it with a "
                "trained run instead"
            )

    @property
    def is_simulated(self) -> bool:
        """True when the cohort was made by :func:`lusfeat.data.simulate_cohort`."""
        return self.meta.get("source", {}).get("kind") == "simulated"

    @functools.cached_property
    def fingerprint(self) -> str:
        """Content fingerprint (16 hex chars) of ``cohort.json`` and the frame and
        clinical tables; the arrays are covered by ``cohort.json``, which records
        how they were made."""
        return fingerprint(*(file_digest(self.path / name) for name in (META_FILE, FRAMES_FILE, CLINICAL_FILE)))

    @property
    def spacing(self) -> np.ndarray:
        """Pixel spacing per frame in mm, ``(N,) float64`` (NaN when unknown)."""
        return self.frames["pixel_spacing_mm"].to_numpy(dtype=np.float64)

    def latent_severity(self) -> pd.Series | None:
        """Simulator's latent severity per exam (``None`` for real cohorts)."""
        sev = self.meta.get("simulation", {}).get("exam_severity")
        if sev is None:
            return None
        return pd.Series(sev, name="severity").rename_axis("exam_id")

    def summary(self) -> Summary:
        """Counts of the cohort (patients, exams, zones, clips, frames, size, annotators,
        probes, pixel spacing, truth, source) as a :class:`~lusfeat._summary.Summary`.

        Examples
        --------
        >>> print(open_cohort("cohort").summary())  # doctest: +SKIP
        Cohort cohort
        patients: 40
        ...
        """
        f = self.frames
        per_patient = f.groupby("patient_id")["exam_id"].nunique()
        per_clip = f.groupby("clip_id").size()
        zones = sorted(f["zone"].astype(str).unique(), key=natural_key)
        probes = f["probe"].astype(str).value_counts()
        spacing = pd.to_numeric(f["pixel_spacing_mm"], errors="coerce")
        h, w = self.shape
        rows: list[tuple[str, Any]] = [
            ("patients", int(f["patient_id"].nunique())),
            ("exams", int(f["exam_id"].nunique())),
            ("exams per patient", _range(per_patient)),
            ("zones", f"{len(zones)} ({', '.join(zones)})"),
            ("clips", int(f["clip_id"].nunique())),
            ("frames", self.n_frames),
            ("frames per clip", _range(per_clip)),
            ("frame size", f"{h} x {w} px"),
            ("annotators", self.n_annotators),
            ("probes", ", ".join(f"{k} ({v} frames)" for k, v in probes.items())),
            ("pixel spacing", f"{fmt(spacing.min())}-{fmt(spacing.max())} mm" if spacing.notna().any() else "unknown"),
            ("true masks", "yes (simulated cohort)" if self.truth is not None else "no"),
            ("source", str(self.meta.get("source", {}).get("kind", "unknown"))),
        ]
        return Summary(title=f"Cohort {self.path}", info=rows)

    def __repr__(self) -> str:
        h, w = self.shape
        return (
            f"Cohort({str(self.path)!r}, frames={self.n_frames}, size={h}x{w}, "
            f"annotators={self.n_annotators}, patients={self.frames['patient_id'].nunique()}, "
            f"exams={self.frames['exam_id'].nunique()}, truth={self.truth is not None})"
        )


def open_cohort(path: str | os.PathLike, *, verify: bool = False) -> Cohort:
    """Open a cohort folder lazily.

    Parameters
    ----------
    path : path-like
        Cohort folder written by ``lusfeat simulate`` or ``lusfeat ingest``.
    verify : bool
        Also compare every stored chunk with the digest in ``chunks.json``
        (reads each compressed chunk once). Without it only the presence of
        every listed chunk is checked.

    Returns
    -------
    Cohort
        Tables loaded, arrays as lazy Zarr views (slice them to read).

    Raises
    ------
    CohortError
        When the folder, a table, an array or a listed chunk is missing or
        unreadable, or the format version is unknown. Run ``lusfeat validate PATH``
        for a full check.

    Examples
    --------
    >>> import lusfeat  # doctest: +SKIP
    >>> c = lusfeat.open_cohort("cohort")  # doctest: +SKIP
    >>> c.images[:4].shape  # doctest: +SKIP
    (4, 128, 128)
    """
    return _open_cohort(path, "digests" if verify else "presence")


def _open_cohort(path: str | os.PathLike, chunks: str) -> Cohort:
    """:func:`open_cohort` with the chunk check ``"skip"``, ``"presence"`` or ``"digests"``."""
    import zarr

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CohortError(f"{path} is a file, not a cohort folder; give the folder written by "
                          "`lusfeat simulate` or `lusfeat ingest`")
    if not path.is_dir():
        raise CohortError(f"cohort folder {path} does not exist; create one with `lusfeat simulate {path}`")
    meta_path = path / META_FILE
    if not meta_path.exists():
        raise CohortError(f"{meta_path} is missing: {path} is not a lusfeat cohort")
    try:
        meta = read_json(meta_path)
    except InputError as exc:
        raise CohortError(str(exc)) from None
    if meta.get("format") != FORMAT_NAME:
        raise CohortError(f"{meta_path}: 'format' is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CohortError(
            f"{meta_path}: unknown format_version {version!r}; this lusfeat reads version "
            f"{FORMAT_VERSION} (upgrade lusfeat or re-create the cohort)"
        )
    tables = {}
    for name in (FRAMES_FILE, CLINICAL_FILE):
        p = path / name
        try:
            tables[name] = pd.read_parquet(p)
        except FileNotFoundError:
            raise CohortError(f"{p} is missing; re-create the cohort") from None
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise CohortError(f"{p} is unreadable ({type(exc).__name__}: {exc}); re-create it") from None
    arrays_path = path / ARRAYS_DIR
    try:
        group = zarr.open_group(str(arrays_path), mode="r")
    except Exception as exc:
        raise CohortError(f"{arrays_path} is missing or unreadable ({exc}); re-create the cohort") from None
    arrays = {}
    for name in ("images", "confidence", "truth"):
        try:
            arrays[name] = FrameArray(group[name], str(arrays_path / name))
        except KeyError:
            if name == "truth":
                arrays[name] = None
            else:
                raise CohortError(f"array {arrays_path / name} is missing; re-create the cohort") from None
        except Exception as exc:
            raise CohortError(f"array {arrays_path / name} is unreadable ({exc})") from None
    chunk_problems = [] if chunks == "skip" else verify_chunks(path, ARRAYS_DIR, digests=chunks == "digests")
    if chunk_problems:
        more = f" (and {len(chunk_problems) - 1} more)" if len(chunk_problems) > 1 else ""
        raise CohortError(chunk_problems[0] + more)
    frames = tables[FRAMES_FILE]
    if "array_index" in frames.columns:
        frames = frames.sort_values("array_index", kind="stable").reset_index(drop=True)
    return Cohort(
        path=path,
        meta=meta,
        frames=frames,
        clinical=tables[CLINICAL_FILE],
        images=arrays["images"],
        confidence=arrays["confidence"],
        truth=arrays["truth"],
        class_names=tuple(meta.get("classes", CLASS_NAMES)),
    )


def _compressor():
    from zarr.codecs import BloscCodec

    # zstd level 1 without shuffling: uint8/bool planes are mostly zeros; this is
    # 2x faster to write than level 3 + bitshuffle at the same size.
    return BloscCodec(cname="zstd", clevel=1, shuffle="noshuffle")


def create_frame_array(group: Any, name: str, shape: Sequence[int], dtype: Any, chunk_frames: int) -> Any:
    """Create a frames-chunked, compressed array in an open Zarr group."""
    chunks = (max(1, min(chunk_frames, int(shape[0]) or 1)),) + tuple(int(s) for s in shape[1:])
    return group.create_array(
        name=name, shape=tuple(int(s) for s in shape), chunks=chunks, dtype=dtype,
        compressors=_compressor(), fill_value=0,
    )


class AtomicFolderWriter:
    """Base of the streaming writers: a temporary folder that becomes ``path``
    only when :meth:`finish` ran and the ``with`` block exits cleanly.

    Subclasses call :meth:`_open` in ``__enter__`` (it returns a fresh Zarr
    group inside the temporary folder) and set ``self._finished = True`` at the
    end of their ``finish``.
    """

    path: Path
    overwrite: bool

    def _open(self, arrays_dir: str) -> Any:
        import zarr

        self._finished = False
        self._ctx = atomic_dir(self.path, overwrite=self.overwrite)
        self._tmp: Path = self._ctx.__enter__()
        return zarr.open_group(str(self._tmp / arrays_dir), mode="w")

    def _write_chunk_manifest(self, arrays_dir: str, arrays: dict[str, Any]) -> None:
        """List the digests of every stored chunk in ``chunks.json`` (call at the end of finish)."""
        write_chunk_manifest(self._tmp, arrays_dir, arrays.items())

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None and not self._finished:
            err = InputError(f"{type(self).__name__} closed without finish(); nothing was written")
            self._ctx.__exit__(InputError, err, None)
            raise err
        return bool(self._ctx.__exit__(exc_type, exc, tb))


class CohortWriter(AtomicFolderWriter):
    """Write a cohort folder atomically, streaming arrays in frame batches.

    Use as a context manager: arrays and tables go into a temporary folder
    that is renamed to ``path`` only when :meth:`finish` was called and the
    block exits cleanly. An exception leaves nothing behind.

    Parameters
    ----------
    path : path-like
        Final cohort folder.
    n_frames, height, width, n_annotators : int
        Array sizes ``N, H, W, A``.
    with_truth : bool
        Also create the ``truth`` array (simulated cohorts).
    overwrite : bool
        Replace an existing cohort at ``path``.
    chunk_frames : int
        Frames per Zarr chunk.

    Examples
    --------
    >>> with CohortWriter("c", 10, 64, 64, 1) as w:  # doctest: +SKIP
    ...     w.write(0, images, confidence)
    ...     w.finish(meta, frames, clinical)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_frames: int,
        height: int,
        width: int,
        n_annotators: int,
        with_truth: bool = False,
        overwrite: bool = False,
        chunk_frames: int = 16,
    ) -> None:
        if n_frames < 1 or height < 8 or width < 8 or n_annotators < 1:
            raise InputError(
                f"cohort needs at least 1 frame of 8x8 pixels and 1 annotator; got N={n_frames}, "
                f"{height}x{width}, A={n_annotators}"
            )
        self.path = Path(path)
        self.n_frames = int(n_frames)
        self.height = int(height)
        self.width = int(width)
        self.n_annotators = int(n_annotators)
        self.with_truth = bool(with_truth)
        self.overwrite = overwrite
        self.chunk_frames = int(chunk_frames)
        self._written = np.zeros(self.n_frames, dtype=bool)

    def __enter__(self) -> CohortWriter:
        group = self._open(ARRAYS_DIR)
        n, h, w, a, c = self.n_frames, self.height, self.width, self.n_annotators, len(CLASS_NAMES)
        self.images = create_frame_array(group, "images", (n, h, w), "uint8", self.chunk_frames)
        self.confidence = create_frame_array(group, "confidence", (n, a, c, h, w), "uint8", self.chunk_frames)
        self.truth = (
            create_frame_array(group, "truth", (n, c, h, w), "bool", self.chunk_frames)
            if self.with_truth
            else None
        )
        return self

    def write(
        self,
        start: int,
        images: np.ndarray,
        confidence: np.ndarray,
        truth: np.ndarray | None = None,
    ) -> None:
        """Write frames ``start : start + len(images)``.

        Parameters
        ----------
        start : int
            First array index.
        images : (B, H, W) uint8
        confidence : (B, A, C, H, W) uint8, percent 0-100
        truth : (B, C, H, W) bool, optional
        """
        b = images.shape[0]
        stop = start + b
        if start < 0 or stop > self.n_frames:
            raise InputError(f"frames {start}:{stop} outside 0:{self.n_frames}")
        exp_img = (b, self.height, self.width)
        exp_conf = (b, self.n_annotators, len(CLASS_NAMES), self.height, self.width)
        if images.shape != exp_img or images.dtype != np.uint8:
            raise InputError(f"images must be {exp_img} uint8, got {images.shape} {images.dtype}")
        if confidence.shape != exp_conf or confidence.dtype != np.uint8:
            raise InputError(f"confidence must be {exp_conf} uint8, got {confidence.shape} {confidence.dtype}")
        if confidence.size and int(confidence.max()) > 100:
            raise InputError(f"confidence of frames {start}:{stop} exceeds 100 (max {int(confidence.max())})")
        self.images[start:stop] = images
        self.confidence[start:stop] = confidence
        if self.truth is not None:
            if truth is None:
                raise InputError("this writer was created with_truth=True; pass truth")
            self.truth[start:stop] = truth.astype(bool, copy=False)
        self._written[start:stop] = True

    def finish(self, meta: dict[str, Any], frames: pd.DataFrame, clinical: pd.DataFrame) -> None:
        """Write the metadata and tables. Call once, after all frames."""
        if not self._written.all():
            missing = np.flatnonzero(~self._written)
            raise InputError(f"{missing.size} frame(s) never written (first: {missing[0]})")
        missing_cols = [c for c in FRAME_COLUMNS if c not in frames.columns]
        if missing_cols:
            raise InputError(f"frame table lacks columns {missing_cols}")
        missing_cols = [c for c in CLINICAL_COLUMNS if c not in clinical.columns]
        if missing_cols:
            raise InputError(f"clinical table lacks columns {missing_cols}")
        if len(frames) != self.n_frames:
            raise InputError(f"frame table has {len(frames)} rows for {self.n_frames} frames")
        full = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "classes": list(CLASS_NAMES),
            "n_frames": self.n_frames,
            "height": self.height,
            "width": self.width,
            "n_annotators": self.n_annotators,
            "has_truth": self.with_truth,
            "confidence_unit": "percent (0 = not labelled)",
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "lusfeat_version": _lusfeat_version(),
        }
        spacing = frames["pixel_spacing_mm"].to_numpy(dtype=float)
        probes = frames["probe"].astype(str).to_numpy()
        full["pixel_spacing_mm"] = (
            float(spacing[0]) if np.all(spacing == spacing[0]) else "per_frame"
        )
        full["probe"] = str(probes[0]) if np.all(probes == probes[0]) else "per_frame"
        full.update(meta)
        frames.to_parquet(self._tmp / FRAMES_FILE, index=False)
        clinical.to_parquet(self._tmp / CLINICAL_FILE, index=False)
        write_json(self._tmp / META_FILE, full)
        self._write_chunk_manifest(
            ARRAYS_DIR, {"images": self.images, "confidence": self.confidence, "truth": self.truth})
        self._finished = True
