"""Feature extraction for a whole cohort and the reader of its output folder."""

from __future__ import annotations

import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import CohortError, InputError
from .._io import atomic_dir, check_fingerprint, fingerprint, read_json, write_json, write_parquet
from .._progress import progress_bar
from ..data._format import Cohort, open_cohort
from ._aggregate import CLIP_KEYS, EXAM_KEYS, ZONE_KEYS, aggregate_levels
from ._compute import FRAME_NAMES, components_frame, resolve_backend, run_backend
from ._dictionary import DICTIONARY, LUS_PARAMETERS

__all__ = ["extract", "read_features", "LEVELS", "FILES"]

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


def _fused_mean(conf: np.ndarray) -> np.ndarray:
    """Mean confidence over annotators in percent, (N, A, C, H, W) -> (N, C, H, W) float32."""
    try:
        from ..labels import fuse
    except ImportError:
        return conf.astype(np.float32).mean(axis=1)
    return fuse(conf, "mean")


class _MaskSource:
    """Batches of (N, C, H, W) bool masks from truth, labels:T, a mask set or an array."""

    def __init__(self, cohort: Cohort, masks: Any, allow_foreign: bool = False) -> None:
        n, (h, w) = cohort.n_frames, cohort.shape
        self.threshold: float | None = None
        self.array: Any = None
        self.foreign = False
        self.meta: dict[str, Any] = {}
        if isinstance(masks, str) and masks == "truth":
            if cohort.truth is None:
                raise InputError(f"--masks truth: cohort {cohort.path} has no truth masks "
                                 "(only simulated cohorts do); use labels:T or a mask set")
            self.array, self.kind, self.desc = cohort.truth, "truth", "truth"
        elif isinstance(masks, str) and masks.startswith("labels:"):
            try:
                self.threshold = float(masks.split(":", 1)[1])
            except ValueError:
                raise InputError(f"--masks {masks!r}: T must be a number in percent, e.g. labels:60") from None
            if not 0 <= self.threshold <= 100:
                raise InputError(f"--masks {masks!r}: T must be in [0, 100] percent")
            self.array, self.kind, self.desc = cohort.confidence, "labels", masks
        elif isinstance(masks, (str, os.PathLike)) and (Path(masks) / "dataset.json").is_file():
            from ..data.export import read_predictions  # an nnU-Net prediction folder

            self.array, self.foreign = read_predictions(masks, cohort, allow_foreign=allow_foreign)
            self.kind, self.desc = "array", str(Path(masks))
        elif isinstance(masks, (str, os.PathLike)):
            from ..data._masks import open_masks

            ms = open_masks(masks)
            self.array, self.kind, self.desc = ms.masks, "mask_set", str(Path(masks))
            self.meta = ms.meta
            self.foreign = check_fingerprint(
                f"--masks {ms.path}", ms.meta.get("cohort", {}).get("fingerprint"), cohort.fingerprint,
                source=f"cohort {cohort.path}", allow_foreign=allow_foreign)
        elif hasattr(masks, "shape") and hasattr(masks, "dtype"):
            if masks.dtype != bool:
                raise InputError(f"masks array must be bool, got dtype {masks.dtype}")
            self.array, self.kind, self.desc = masks, "array", f"array{tuple(masks.shape)}"
        else:
            raise InputError(f"masks must be 'truth', 'labels:T', a mask-set path or an "
                             f"(N, 5, H, W) bool array; got {masks!r}")
        shape = tuple(self.array.shape)
        if self.kind != "labels" and (len(shape) != 4 or shape[0] != n or shape[1] != 5
                                      or shape[2:] != (h, w)):
            raise InputError(f"masks {self.desc} have shape {shape}; the cohort needs "
                             f"({n}, 5, {h}, {w})")

    def batch(self, start: int, stop: int) -> Any:
        if self.kind == "labels":
            fused = _fused_mean(np.asarray(self.array[start:stop]))
            return fused >= self.threshold
        if self.kind == "array":
            return self.array[start:stop]
        return np.asarray(self.array[start:stop]).astype(bool, copy=False)

    def fingerprint(self) -> str:
        if self.kind == "mask_set":
            return fingerprint(self.meta)
        return fingerprint(self.desc)


def _versions() -> dict[str, str]:
    import numba
    import scipy
    import skimage

    from .. import __version__

    return {"lusfeat": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-image": skimage.__version__, "pandas": pd.__version__,
            "numba": numba.__version__, "python": platform.python_version()}


def extract(
    cohort: str | os.PathLike | Cohort,
    masks: Any,
    out: str | os.PathLike,
    *,
    backend: str = "auto",
    batch: int = 256,
    allow_foreign: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Compute every feature of a cohort and write the feature tables.

    Parameters
    ----------
    cohort : path-like or Cohort
        The cohort (frame table, images, pixel spacing).
    masks : str, path-like or array
        ``"truth"`` (simulated cohorts), ``"labels:T"`` (mean annotator
        confidence >= T percent), a mask-set folder, or an ``(N, 5, H, W)``
        bool array (NumPy or CuPy) aligned with ``array_index``.
    out : path-like
        Output folder (see the package docs for its layout).
    backend : {"auto", "reference", "cpu", "cuda"}
    batch : int
        Frames per batch.
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
        Bad masks source, mask shape, batch size or backend, or a mask set of
        another cohort without ``allow_foreign``.
    CohortError
        The cohort cannot be opened.
    """
    if batch < 1:
        raise InputError(f"batch must be >= 1, got {batch}")
    c = cohort if isinstance(cohort, Cohort) else open_cohort(cohort)
    b = resolve_backend(backend)
    src = _MaskSource(c, masks, allow_foreign=allow_foreign)
    frames_tab = c.frames
    n = c.n_frames
    spacing = c.spacing
    out = Path(out)
    frame_parts: list[dict] = []
    comp_parts: list[pd.DataFrame] = []
    t_compute = 0.0
    t0 = time.perf_counter()
    with atomic_dir(out, overwrite=overwrite) as tmp:
        with progress_bar(enabled=progress, transient=True) as bar:
            task = bar.add_task(f"features ({b.value})", total=n)
            for start in range(0, n, batch):
                stop = min(start + batch, n)
                m = src.batch(start, stop)
                img = np.asarray(c.images[start:stop])
                t1 = time.perf_counter()
                fr, comps = run_backend(m, img, spacing[start:stop], b)
                t_compute += time.perf_counter() - t1
                frame_parts.append(fr)
                cdf = components_frame(comps)
                cdf["frame"] += start
                comp_parts.append(cdf)
                bar.update(task, advance=stop - start)
        wall = time.perf_counter() - t0
        fps = n / t_compute if t_compute > 0 else float("inf")
        log.info("features: %d frames, backend %s, %.1f frames/s (compute), %.1f s wall",
                 n, b.value, fps, wall)
        ids = frames_tab[FRAME_ID_COLUMNS].reset_index(drop=True)
        feats = pd.DataFrame({k: np.concatenate([p[k] for p in frame_parts]) if frame_parts
                              else np.zeros(0) for k in FRAME_NAMES})
        frame_wide = pd.concat([ids, feats], axis=1)
        comps = pd.concat(comp_parts, ignore_index=True)
        comp_ids = ids.iloc[comps["frame"].to_numpy()].reset_index(drop=True)
        comps = pd.concat([comp_ids, comps.drop(columns="frame")], axis=1)
        levels = aggregate_levels(frame_wide, c.clinical)
        frame_long = frame_wide.melt(id_vars=_LONG_KEYS["frame"], value_vars=FRAME_NAMES,
                                     var_name="feature", value_name="value")
        frame_long["feature"] = frame_long["feature"].astype("string")
        tables = {
            FILES[("component", "wide")]: comps,
            FILES[("frame", "wide")]: frame_wide,
            FILES[("frame", "long")]: frame_long,
            FILES[("clip", "long")]: levels["clip"],
            FILES[("zone", "long")]: levels["zone"],
            FILES[("exam", "long")]: levels["exam"],
            FILES[("exam", "wide")]: levels["exam_wide"],
            FILES[("patient", "long")]: levels["patient"],
        }
        for name, df in tables.items():
            write_parquet(df, tmp / name)
        DICTIONARY.to_frame().to_csv(tmp / DICTIONARY_FILE, index=False)
        known = np.isfinite(spacing) & (spacing > 0)
        unit = "mm" if known.all() else "px" if not known.any() else "mm where pixel_spacing_mm is known, else px"
        write_json(tmp / META_FILE, {
            "format": "lusfeat-features",
            "format_version": 1,
            "command": "lusfeat features",
            "masks": {"source": src.kind, "spec": src.desc, "fingerprint": src.fingerprint(),
                      "foreign": src.foreign or bool(src.meta.get("foreign", False))},
            "backend": b.value,
            "options": {"batch": batch, "backend_requested": str(backend)},
            "cohort": {"path": str(c.path), "fingerprint": c.fingerprint, "n_frames": n},
            "lengths_unit": unit,
            "areas_unit": unit.replace("mm", "mm^2").replace("px", "px^2"),
            "component_units": "px",
            "parameters": LUS_PARAMETERS,
            "files": {f"{lvl}/{form}": f for (lvl, form), f in FILES.items()},
            "timings": {"compute_s": t_compute, "wall_s": time.perf_counter() - t0,
                        "frames_per_s": fps},
            "versions": _versions(),
        })
    return out


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
