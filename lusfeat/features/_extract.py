"""Feature extraction for a whole cohort and the reader of its output folder."""

from __future__ import annotations

import functools
import logging
import os
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._config import FeatureConfig
from .._errors import CohortError, InputError
from .._io import (
    ParquetStream,
    atomic_dir,
    check_fingerprint,
    fingerprint,
    read_json,
    write_json,
    write_parquet,
)
from .._masks import MaskSource, MaskSourceKind, parse_mask_source
from .._progress import progress_bar
from .._summary import Summary
from ..data._format import CLASS_NAMES, Cohort, open_cohort
from ..labels import fit_staple_table, fused_masks
from ._aggregate import (
    CLIP_KEYS,
    EXAM_KEYS,
    LEVEL_KEYS,
    ZONE_KEYS,
    ClipAggregator,
    wide_levels,
    write_long,
)
from ._compute import FRAME_NAMES, Backend, components_frame, resolve_backend, run_backend
from ._dictionary import DICTIONARY, LUS_PARAMETERS

__all__ = ["extract", "read_features", "open_features", "FeatureSet", "FeatureSink", "describe_masks", "compute_batch", "write_tables", "LEVELS", "FILES"]

log = logging.getLogger(__name__)

#: Output files of a feature folder, by level and form.
FILES: dict[tuple[str, str], str] = {
    ("component", "wide"): "components.parquet",
    ("frame", "long"): "frame.parquet",
    ("frame", "wide"): "frame_wide.parquet",
    ("clip", "long"): "clip.parquet",
    ("zone", "long"): "zone.parquet",
    ("exam", "long"): "exam.parquet",
    ("exam", "wide"): "exam_wide.parquet",
    ("patient", "long"): "patient.parquet",
}
LEVELS: tuple[str, ...] = ("component", "frame", "clip", "zone", "exam", "patient")
META_FILE = "features.json"
DICTIONARY_FILE = "dictionary.csv"
FRAME_ID_COLUMNS = ["frame_id", "patient_id", "exam_id", "zone", "clip_id", "frame_index",
                    "array_index", "pixel_spacing_mm"]
_LONG_KEYS = {
    "frame": ["frame_id", "patient_id", "exam_id", "zone", "clip_id", "frame_index"],
    "clip": CLIP_KEYS,
    "zone": ZONE_KEYS,
    "exam": EXAM_KEYS,
    "patient": ["patient_id", "first_exam_id", "last_exam_id", "n_exams"],
}


class _MaskReader:
    """Batches of (N, C, H, W) bool masks of a :class:`~lusfeat._masks.MaskSource` or an array.

    Parameters
    ----------
    cohort : Cohort
    masks : str, path-like, MaskSource or array
        A mask source (parsed with :func:`~lusfeat._masks.parse_mask_source`)
        or an ``(N, 5, H, W)`` bool array.
    allow_foreign : bool
    staple_table : ndarray, optional
        For ``labels:T@staple``: the STAPLE table over the whole cohort (fitted
        here when not given).
    """

    def __init__(self, cohort: Cohort, masks: Any, allow_foreign: bool = False,
                 staple_table: np.ndarray | None = None) -> None:
        self.source: MaskSource | None = None
        self.staple_table: np.ndarray | None = None
        self.array: Any = None
        self.foreign = False
        self.meta: dict[str, Any] = {}
        if hasattr(masks, "shape") and hasattr(masks, "dtype"):
            if masks.dtype != bool:
                raise InputError(f"masks array must be bool, got dtype {masks.dtype}")
            self.array, self.kind, self.desc = masks, "array", f"array{tuple(masks.shape)}"
        else:
            self._open(cohort, parse_mask_source(masks), allow_foreign, staple_table)
        n, (h, w) = cohort.n_frames, cohort.shape
        shape = tuple(self.array.shape)
        if self.kind != "labels" and (len(shape) != 4 or shape[0] != n or shape[1] != 5
                                      or shape[2:] != (h, w)):
            raise InputError(f"masks {self.desc} have shape {shape}; the cohort needs "
                             f"({n}, 5, {h}, {w})")

    def _open(self, cohort: Cohort, src: MaskSource, allow_foreign: bool,
              staple_table: np.ndarray | None) -> None:
        self.source, self.desc = src, src.text
        if src.kind is MaskSourceKind.TRUTH:
            if cohort.truth is None:
                raise InputError(f"--masks truth: cohort {cohort.path} has no truth masks "
                                 "(only simulated cohorts do); use labels:T or a mask set")
            self.array, self.kind = cohort.truth, "truth"
        elif src.kind is MaskSourceKind.LABELS:
            cohort.require_labels(f"--masks {src.text}")
            self.array, self.kind = cohort.confidence, "labels"
            self.staple_table = (staple_table if staple_table is not None
                                 else fit_staple_table(cohort.confidence, src.fusion))
        elif src.kind is MaskSourceKind.PREDICTIONS:
            from ..data.export import read_predictions

            self.array, self.foreign = read_predictions(src.path, cohort, allow_foreign=allow_foreign)
            self.kind = "array"
        else:
            from ..data._masks import open_masks

            ms = open_masks(src.path)
            self.array, self.kind, self.meta = ms.masks, "mask_set", ms.meta
            self.foreign = check_fingerprint(
                f"--masks {ms.path}", ms.meta.get("cohort", {}).get("fingerprint"), cohort.fingerprint,
                source=f"cohort {cohort.path}", allow_foreign=allow_foreign)

    def batch(self, start: int, stop: int) -> Any:
        """Masks of frames ``start:stop``."""
        if self.kind == "labels":
            return fused_masks(np.asarray(self.array[start:stop]), self.source.threshold, self.source.fusion,
                               staple_table=self.staple_table)
        if self.kind == "array":
            return self.array[start:stop]
        return np.asarray(self.array[start:stop]).astype(bool, copy=False)

    def fingerprint(self) -> str:
        """Fingerprint of the source: its metadata for a mask set, else its text."""
        if self.kind == "mask_set":
            return fingerprint(self.meta)
        return fingerprint(self.desc)

    def describe(self) -> dict[str, Any]:
        """The ``masks`` entry of ``features.json``."""
        return {"source": self.kind, "spec": self.desc, "fingerprint": self.fingerprint(),
                "foreign": self.foreign or bool(self.meta.get("foreign", False))}


#: The reader's former name (kept for callers that import it).
_MaskSource = _MaskReader


def describe_masks(cohort: Cohort, masks: Any, allow_foreign: bool = False) -> dict[str, Any]:
    """The ``masks`` entry of ``features.json`` for a mask source (as :func:`extract` writes it)."""
    return _MaskReader(cohort, masks, allow_foreign=allow_foreign).describe()


def _versions() -> dict[str, str]:
    import numba
    import scipy
    import skimage

    from .._version import __version__

    return {"lusfeat": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-image": skimage.__version__, "pandas": pd.__version__,
            "numba": numba.__version__, "python": platform.python_version()}


def _calibrated(cohort: Cohort) -> np.ndarray:
    """``(N,) bool``: frames whose pixel spacing is known (lengths in mm, else px)."""
    spacing = cohort.spacing
    return np.isfinite(spacing) & (spacing > 0)


def _warn_mixed_units(cohort: Cohort) -> None:
    """Warn when some frames have a pixel spacing and others not: their lengths and areas
    come in mm and in px in the same columns, and exam and patient means mix the two."""
    known = _calibrated(cohort)
    if known.any() and not known.all():
        log.warning(
            "features: %d of %d frames have no pixel spacing, so their lengths and areas are in px while the "
            "others' are in mm (same columns; exam and patient means mix both); give pixel_spacing_mm in the "
            "ingest manifest, or compare only counts, fractions and ratios", int((~known).sum()), len(known))


def compute_batch(masks: Any, images: Any, spacing: np.ndarray, start: int,
                  backend: Backend) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of frames ``start : start + len(masks)``.

    Parameters
    ----------
    masks : (B, 5, H, W) bool array (NumPy, or CuPy for ``cuda``)
    images : (B, H, W) uint8 array (NumPy or CuPy)
    spacing : (B,) float64, mm per pixel (NaN unknown)
    start : int
        Array index of the first frame (component ``frame`` numbers are offset by it).
    backend : Backend
        A resolved backend (not ``auto``).

    Returns
    -------
    frames : pandas.DataFrame
        ``B`` rows, one float64 column per frame feature.
    components : pandas.DataFrame
        One row per component, ``frame`` holding cohort array indices.
    """
    fr, comps = run_backend(masks, images, spacing, backend)
    cdf = components_frame(comps)
    cdf["frame"] += start
    return pd.DataFrame({k: np.asarray(fr[k]) for k in FRAME_NAMES}), cdf


class FeatureSink:
    """Collects batch features of one cohort and writes the feature folder at the end.

    :func:`extract` feeds it batches read from a mask source; ``lusfeat segment
    --features`` feeds it the masks it has just predicted (on the GPU, without a
    host copy, when the backend is ``cuda``).

    Parameters
    ----------
    cohort : Cohort
    backend : str
        ``auto``, ``reference``, ``cpu`` or ``cuda``.
    """

    def __init__(self, cohort: Cohort, backend: str = "auto") -> None:
        self.cohort = cohort
        self.backend = resolve_backend(backend)
        self.backend_requested = str(backend)
        self.pieces: list[Callable[[], tuple[pd.DataFrame, pd.DataFrame]]] = []
        self.compute_s = 0.0
        self.tables_s = 0.0
        self.frames_held_max = 0
        self._t0 = time.perf_counter()
        _warn_mixed_units(cohort)  # every way to feature tables (extract, segment --features) passes here

    def add(self, start: int, masks: Any, images: Any = None) -> None:
        """Add frames ``start : start + len(masks)`` (batches in increasing order).

        ``masks`` ``(B, 5, H, W) bool``: NumPy, CuPy, or a torch tensor (a CUDA
        tensor becomes a CuPy array without a copy). ``images`` default to the
        cohort's.
        """
        masks = _as_array(masks, self.backend)
        stop = start + int(masks.shape[0])
        if images is None:
            images = np.asarray(self.cohort.images[start:stop])
        if type(masks).__module__.startswith("cupy"):
            import cupy

            images = cupy.asarray(images)
        t1 = time.perf_counter()
        fr, comps = compute_batch(masks, images, self.cohort.spacing[start:stop], start, self.backend)
        self.compute_s += time.perf_counter() - t1
        self.pieces.append(functools.partial(_given, fr, comps))

    def add_part(self, frames_file: str | os.PathLike, components_file: str | os.PathLike) -> None:
        """Add the next frames from Parquet files (read only when the tables are written)."""
        self.pieces.append(functools.partial(_read_part, Path(frames_file), Path(components_file)))

    def write(self, out: str | os.PathLike, masks: dict[str, Any], *, overwrite: bool = False,
              extra: dict[str, Any] | None = None) -> Path:
        """Write the feature folder ``out`` atomically.

        Parameters
        ----------
        out : path-like
        masks : dict
            The ``masks`` entry of ``features.json`` (source, spec, fingerprint, foreign).
        overwrite : bool
        extra : dict, optional
            More ``features.json`` entries (e.g. the scheduler and its parts).
        """
        with atomic_dir(out, overwrite=overwrite) as tmp:
            t0 = time.perf_counter()
            held = write_tables(tmp, self.cohort, (load() for load in self.pieces))
            self.tables_s, self.frames_held_max = time.perf_counter() - t0, held
            wall = time.perf_counter() - self._t0
            write_json(tmp / META_FILE, self._meta(masks, wall, extra or {}))
        log.info("features: %d frames, backend %s, %.1f frames/s (compute), %.1f s wall -> %s",
                 self.cohort.n_frames, self.backend.value, self.frames_per_s, wall, out)
        return Path(out)

    @property
    def frames_per_s(self) -> float:
        """Frames per second of feature computation alone."""
        return self.cohort.n_frames / self.compute_s if self.compute_s > 0 else float("inf")

    def _meta(self, masks: dict[str, Any], wall: float, extra: dict[str, Any]) -> dict[str, Any]:
        c = self.cohort
        known = _calibrated(c)
        unit = "mm" if known.all() else "px" if not known.any() else "mm where pixel_spacing_mm is known, else px"
        return {
            "format": "lusfeat-features", "format_version": 1, "command": "lusfeat features",
            "masks": masks, "backend": self.backend.value,
            "options": {"batch": extra.pop("batch", None), "backend_requested": self.backend_requested},
            "cohort": {"path": str(c.path), "fingerprint": c.fingerprint, "n_frames": c.n_frames},
            "lengths_unit": unit, "areas_unit": unit.replace("mm", "mm^2").replace("px", "px^2"),
            "component_units": "px", "parameters": LUS_PARAMETERS,
            "files": {f"{lvl}/{form}": f for (lvl, form), f in FILES.items()},
            "timings": {"compute_s": self.compute_s, "wall_s": wall, "frames_per_s": self.frames_per_s,
                        "tables_s": self.tables_s},
            "aggregation": {"frames_held_max": self.frames_held_max},
            "versions": _versions(), **extra,
        }


def _as_array(masks: Any, backend: Backend) -> Any:
    """NumPy or CuPy view of a mask batch (torch tensors converted without a copy)."""
    if type(masks).__module__.startswith("torch"):
        if masks.device.type == "cuda" and backend is Backend.CUDA:
            import cupy

            return cupy.from_dlpack(masks.contiguous())
        return masks.cpu().numpy()
    return masks


def _given(frames: pd.DataFrame, comps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frames, comps


def _read_part(frames_file: Path, components_file: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(frames_file), pd.read_parquet(components_file)


def write_tables(folder: Path, cohort: Cohort, pieces: Iterable[tuple[pd.DataFrame, pd.DataFrame]]) -> int:
    """Write every table of a feature folder (and the dictionary) into ``folder``, out of core.

    The pieces are read one at a time: frame and component rows are streamed to
    Parquet and each clip is aggregated as soon as its last frame has arrived
    (:class:`~lusfeat.features._aggregate.ClipAggregator`); the long frame table
    is then written one feature at a time from the wide one. What is held at
    once is one piece, the open clips, one feature column of the long table and
    the clip table, never every frame's features.

    Parameters
    ----------
    folder : Path
        The (temporary) output folder.
    cohort : Cohort
    pieces : iterable of (frames, components)
        In array order: ``frames`` one row per frame and one column per frame
        feature; ``components`` with ``frame`` holding cohort array indices (see
        :func:`compute_batch`).

    Returns
    -------
    int
        The most frames whose features were held in memory at once (recorded as
        ``aggregation.frames_held_max`` in ``features.json``).

    Raises
    ------
    InputError
        The pieces do not cover the cohort's frames exactly.
    """
    ids = cohort.frames[FRAME_ID_COLUMNS].reset_index(drop=True)
    clips = ClipAggregator(ids)
    wide_file = folder / FILES[("frame", "wide")]
    with ParquetStream(wide_file) as fw, ParquetStream(folder / FILES[("component", "wide")]) as cw:
        for frames, comps in pieces:
            lo = clips.n_rows
            if lo + len(frames) > len(ids):
                raise InputError(f"features of more than {len(ids)} frames collected, the cohort has {len(ids)}")
            piece = pd.concat([ids.iloc[lo : lo + len(frames)].reset_index(drop=True),
                               frames[FRAME_NAMES].reset_index(drop=True)], axis=1)
            fw.write(piece)
            clips.add(piece)
            comp_ids = ids.iloc[comps["frame"].to_numpy()].reset_index(drop=True)
            cw.write(pd.concat([comp_ids, comps.drop(columns="frame").reset_index(drop=True)], axis=1))
        if clips.n_rows != len(ids):
            raise InputError(f"features of {clips.n_rows} frames collected, the cohort has {len(ids)}")
    _write_frame_long(folder / FILES[("frame", "long")], ids[_LONG_KEYS["frame"]], wide_file)
    for level, (wide, names) in wide_levels(*clips.result(), cohort.clinical).items():
        write_long(folder / FILES[(level, "long")], wide, LEVEL_KEYS[level], names)
        if level == "exam":
            write_parquet(wide, folder / FILES[("exam", "wide")])
    DICTIONARY.to_frame().to_csv(folder / DICTIONARY_FILE, index=False)
    return clips.held_max


def _write_frame_long(path: Path, keys: pd.DataFrame, wide_file: Path) -> None:
    """The long frame table (feature-major, as :meth:`pandas.DataFrame.melt` orders it), one feature at a time."""
    import pyarrow.parquet as pq

    wide = pq.ParquetFile(wide_file)
    step = 1 << 16
    with ParquetStream(path, rows=step) as out:
        for name in FRAME_NAMES:
            value = wide.read(columns=[name]).column(0).to_numpy().astype(np.float64, copy=False)
            for lo in range(0, max(1, len(keys)), step):
                part = keys.iloc[lo : lo + step].reset_index(drop=True)
                out.write(part.assign(feature=pd.array([name] * len(part), dtype="string"),
                                      value=value[lo : lo + step]))


# Over 80 lines only through its docstring (every option of the public entry point); the
# body is the short sequence of named steps below.
def extract(
    cohort: str | os.PathLike | Cohort,
    masks: Any,
    out: str | os.PathLike,
    *,
    backend: str = "auto",
    batch: int = 256,
    scheduler: Any = None,
    allow_foreign: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Compute every feature of a cohort and write the feature tables.

    ``backend`` and ``batch`` are the options of :class:`lusfeat.features.FeatureConfig`.

    Parameters
    ----------
    cohort : path-like or Cohort
        The cohort (frame table, images, pixel spacing).
    masks : str, path-like, MaskSource or array
        A mask source (see :mod:`lusfeat._masks`): ``"truth"`` (simulated
        cohorts), ``"labels:T[@FUSION]"`` (fused annotator confidence >= T
        percent, mean fusion by default), a mask-set folder or an nnU-Net
        prediction folder; or an ``(N, 5, H, W)`` bool array (NumPy or CuPy)
        aligned with ``array_index``.
    out : path-like
        Output folder (see the package docs for its layout).
    backend : {"auto", "reference", "cpu", "cuda"}
    batch : int
        Frames per batch (with a scheduler: frames per task, rounded up to whole
        Zarr chunks of the mask source; a worker holds about one task's masks).
    scheduler : str, SchedulerSpec or distributed.Client, optional
        ``None`` computes in this process. ``"local[:N]"`` or
        ``"tcp://HOST:PORT"`` (see :mod:`lusfeat._scheduler`) splits the frames
        into tasks that read their masks straight from the store and each write
        a Parquet part; the tables are then gathered and aggregated here. The
        tables equal the in-process ones. An interrupted run resumes from the
        parts already written (kept in ``.OUT.parts/`` until the folder is done).
    allow_foreign : bool
        Accept a mask set that records another cohort's fingerprint (an error
        without it); ``features.json`` then records ``masks.foreign: true``.
    progress : bool
        Show a progress bar.
    overwrite : bool
        Replace an existing output folder.

    Returns
    -------
    Path
        The output folder.

    Raises
    ------
    InputError
        Bad masks source, mask shape, batch size, backend or scheduler, or a
        mask set of another cohort without ``allow_foreign``.
    CohortError
        The cohort cannot be opened.
    """
    from .._scheduler import parse_scheduler

    FeatureConfig(backend=backend, batch=batch)  # the options' checks (one-line InputError)
    spec = scheduler if hasattr(scheduler, "submit") else parse_scheduler(scheduler)
    c = cohort if isinstance(cohort, Cohort) else open_cohort(cohort)
    sink = FeatureSink(c, backend)
    src = _MaskReader(c, masks, allow_foreign=allow_foreign)
    out = Path(out)
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"output {out} already exists; choose another path or pass --overwrite")
    extra: dict[str, Any] = {"batch": batch}
    if spec is not None:
        from ._extract_dask import extract_parts

        extra.update(extract_parts(c, src, sink, out, batch, spec, allow_foreign, progress))
    else:
        with progress_bar(enabled=progress, transient=True) as bar:
            task = bar.add_task(f"features ({sink.backend.value})", total=c.n_frames)
            for start in range(0, c.n_frames, batch):
                stop = min(start + batch, c.n_frames)
                sink.add(start, src.batch(start, stop), np.asarray(c.images[start:stop]))
                bar.update(task, advance=stop - start)
    path = sink.write(out, src.describe(), overwrite=overwrite, extra=extra)
    if spec is not None:
        from .._scheduler import PartStore

        PartStore(out, "").remove()
    return path


def _pivot(long: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    col = long["feature"].astype(str) + (
        "_" + long["aggregate"].astype(str) if "aggregate" in long.columns else "")
    wide = long.assign(column=col).pivot(index=keys, columns="column", values="value")
    wide.columns.name = None
    return wide.reset_index()


def read_features(path: str | os.PathLike, level: str = "exam", form: str | None = None) -> pd.DataFrame:
    """Read a feature table written by :func:`extract` (``lusfeat features``).

    Parameters
    ----------
    path : path-like
        Feature folder.
    level : {"component", "frame", "clip", "zone", "exam", "patient"}
    form : {"long", "wide"}, optional
        Default ``"wide"`` for ``exam`` (one row per exam: ``exam_id``,
        ``patient_id`` and ``<class>_<feature>_<aggregate>`` columns) and for
        ``component`` (one row per component), ``"long"`` otherwise (keys,
        ``feature``, ``aggregate``, ``value``).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InputError
        Unknown level or form, or a folder that is not a feature folder.

    Examples
    --------
    >>> exams = read_features("features/truth", level="exam")  # doctest: +SKIP
    """
    path = Path(path)
    if level not in LEVELS:
        raise InputError(f"level {level!r} is unknown; choose one of {list(LEVELS)}")
    if form is None:
        form = "wide" if level in ("exam", "component") else "long"
    if form not in ("long", "wide"):
        raise InputError(f"form {form!r} is unknown; choose 'long' or 'wide'")
    if not (path / META_FILE).exists():
        raise CohortError(f"{path / META_FILE} is missing: {path} is not a lusfeat feature folder "
                          "(write one with `lusfeat features`)")
    read_json(path / META_FILE)
    if level == "component" and form == "long":
        raise InputError("the component table has one form only; use form='wide'")
    name = FILES.get((level, form))
    if name is not None:
        return pd.read_parquet(path / name)
    long = pd.read_parquet(path / FILES[(level, "long")])
    return _pivot(long, _LONG_KEYS[level])


@dataclass(frozen=True)
class FeatureSet:
    """An opened feature folder: its ``features.json`` record and its tables, read on first use.

    Attributes
    ----------
    path : Path
        The feature folder.
    meta : dict
        Parsed ``features.json`` (masks source, backend, cohort, units, timings).

    Examples
    --------
    >>> fs = open_features("features/truth")  # doctest: +SKIP
    >>> fs.exam.shape, fs.summary().as_frame()  # doctest: +SKIP
    """

    path: Path
    meta: dict[str, Any]

    def table(self, level: str = "exam", form: str | None = None) -> pd.DataFrame:
        """A feature table (see :func:`read_features` for the levels and forms)."""
        return read_features(self.path, level=level, form=form)

    @functools.cached_property
    def exam(self) -> pd.DataFrame:
        """The wide exam table: one row per exam, ``<class>_<feature>_<aggregate>`` columns."""
        return self.table("exam")

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The wide frame table: one row per frame."""
        return self.table("frame", "wide")

    @functools.cached_property
    def components(self) -> pd.DataFrame:
        """One row per connected component (class, area in px, shape)."""
        return self.table("component")

    def summary(self) -> Summary:
        """Masks, backend and counts, and per class the frames showing it and its components."""
        m, frame, comp = self.meta, self.frame, self.components
        masks = m.get("masks", {})
        timings = m.get("timings", {})
        info: list[tuple[str, object]] = [
            ("masks", (masks.get("spec") or masks.get("source", "?")) + (" (foreign)" if masks.get("foreign") else "")),
            ("backend", m.get("backend", "?")),
            ("cohort", m.get("cohort", {}).get("path", "?")),
            ("frames", len(frame)),
            ("exams", int(frame["exam_id"].nunique())),
            ("components", len(comp)),
        ]
        if timings.get("frames_per_s"):
            info.append(("frames/s (compute)", round(float(timings["frames_per_s"]), 1)))
        rows = []
        for name in CLASS_NAMES:
            count = frame[f"{name}_count"] if f"{name}_count" in frame else pd.Series(dtype=float)
            areas = comp.loc[comp["class"] == name, "area"]
            rows.append({"class": name, "frames with it": int((count > 0).sum()),
                         "share of frames": float((count > 0).mean()) if len(count) else float("nan"),
                         "components": int(areas.size),
                         "median area (px)": float(areas.median()) if areas.size else float("nan")})
        return Summary(title=f"Features {self.path}", info=info,
                       tables={"per class": pd.DataFrame(rows).set_index("class")})


def open_features(path: str | os.PathLike) -> FeatureSet:
    """Open a feature folder written by :func:`extract` (``lusfeat features``).

    Raises
    ------
    CohortError
        When ``path`` is not a lusfeat feature folder.
    """
    path = Path(path)
    if not (path / META_FILE).exists():
        raise CohortError(f"{path / META_FILE} is missing: {path} is not a lusfeat feature folder "
                          "(write one with `lusfeat features`)")
    return FeatureSet(path, read_json(path / META_FILE))
