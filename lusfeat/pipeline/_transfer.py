"""Transfer to real frames: does a U-Net trained on simulated frames see real findings?

Real LUS frames rarely come with pixel masks, but public sets come with clip
labels: a severity score (0-3), B-lines yes/no, consolidation yes/no. The
check (:func:`transfer`) ingests such frames like any real scan, segments them
with a trained run, extracts the morphology features and scores the features
against the labels:

``pleural_found``
    share of frames whose predicted pleural line covers at least 10 % of the
    image columns at a plausible depth: its upper edge between 3 % and 50 % of
    the frame height (skin-pleura distances are 0.5-4 cm on 6-16 cm deep
    images).
``bline_auc``
    AUC of the frame's predicted B-line coverage (``b_line_pleural_fraction``:
    share of the pleural columns with B-line at the reference depth; the
    pre-specified B-line measure) for the clip's B-line yes/no label, with a
    percentile bootstrap 95 % CI; ``bline_auc_blas`` and ``bline_auc_area`` use
    ``b_line_blas`` and ``b_line_area`` instead.
``bline_spearman``, ``lus_spearman``
    Spearman correlation of B-line coverage and of ``lus_score`` (0-3) with the
    clip's severity score (0-3), bootstrap CIs. Undefined (NaN) when fewer than
    three frames carry a severity, when the severities are all equal, or when the
    prediction is the same on every frame (a network that paints no B-line
    anywhere); ``undefined`` says which (``"labels"``, ``"constant prediction"``).
``aline_auc``
    AUC of the frame's predicted A-line area (``a_line_area``) for the clip's
    A-line yes/no label, bootstrap CI (no target: A-lines are the normal
    aeration pattern, and a network that erases them wherever it paints B-line
    shows it here); only when some frame carries an A-line label.
``no_consolidation``
    among clips labelled without consolidation, the share with no predicted
    consolidation pixel.
``label_agreement``
    the clip labels against each other, no prediction involved: Spearman of the
    B-line yes/no label with the severity score (bootstrap CI) and the AUC of the
    severity score for the B-line label. A B-line measure that followed the
    B-line label perfectly would correlate with severity only this well, so it
    sets the scale for ``bline_spearman`` on a given set of frames.

With a ``source`` column naming two or more datasets, every measure is also
given within each source (``by_source``).

Two networks trained by the same recipe with other seeds (another simulated
cohort, another initialisation) can differ on a few dozen real frames by more
than a change of the simulator does. :func:`across_networks` summarises the
headline measures of several such networks (mean, SD, range), so that a change
is judged against that spread rather than against one network.

The labels table needs ``filename`` (relative to its folder) and any of
``lung_severity_score``, ``b_lines`` (``yes``/``no`` or ``1``/``0``),
``a_lines``, ``consolidation``; optional ``patient_key``, ``probe``, ``license``, ``source``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._io import read_csv

__all__ = ["HEADLINE", "real_manifest", "ingest_labelled", "transfer_scores", "headline_values", "across_networks", "transfer", "overlay_figure"]

logger = logging.getLogger(__name__)

PLEURA_COVERAGE = 0.10
PLEURA_DEPTH = (0.03, 0.50)
#: The measures with targets, in the order they are reported.
HEADLINE = ("pleural_found", "bline_auc", "bline_spearman", "lus_spearman", "no_consolidation")
_YES = {"yes": 1.0, "1": 1.0, "1.0": 1.0, "no": 0.0, "0": 0.0, "0.0": 0.0}


def _binary(v: Any) -> float:
    return _YES.get(str(v).strip().lower(), np.nan)


def read_labels(labels_csv: str | os.PathLike) -> pd.DataFrame:
    """Clip labels with ``b_lines``, ``a_lines`` and ``consolidation`` as 0/1/NaN and ``severity`` as float."""
    path = Path(labels_csv)
    if not path.is_file():
        raise InputError(f"labels table {path} does not exist; it needs a filename column and clip labels")
    lab = read_csv(path, dtype={"b_lines": str, "a_lines": str, "consolidation": str})
    if "filename" not in lab.columns:
        raise InputError(f"{path} has no filename column")
    out = pd.DataFrame({"filename": lab["filename"].astype(str)})
    out["severity"] = pd.to_numeric(lab.get("lung_severity_score"), errors="coerce")
    for col in ("b_lines", "a_lines", "consolidation"):
        out[col] = lab[col].map(_binary) if col in lab.columns else np.nan
    for col in ("patient_key", "probe", "license", "source"):
        out[col] = lab[col].astype(str) if col in lab.columns else ""
    return out


def real_manifest(labels_csv: str | os.PathLike, path: str | os.PathLike, limit: int | None = None) -> Path:
    """Write an ingest manifest for the frames of a labels table.

    One clip per frame (``clip_id`` = file stem); the patient is ``patient_key``
    (or the file stem) and one exam per patient; zones ``[LR][1-6]`` are taken from
    the file name when present, else ``R1``.
    """
    labels_csv = Path(labels_csv)
    lab = read_labels(labels_csv)
    if limit is not None:
        lab = lab.head(limit)
    rows = []
    for r in lab.itertuples():
        stem = Path(r.filename).stem
        m = re.search(r"_([LR][1-6])_", stem)
        pid = r.patient_key if r.patient_key not in ("", "nan") else stem
        rows.append({"path": str((labels_csv.parent / r.filename).resolve()), "patient_id": pid,
                     "exam_id": f"{pid}-E1", "zone": m.group(1) if m else "R1", "clip_id": stem,
                     **({"probe": r.probe} if r.probe in ("convex", "linear") else {})})
    path = Path(path)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _boot(stat, x: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    vals = []
    if len(x) < 3:  # too few frames for a resampling CI
        return float("nan"), float("nan")
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        v = stat(x[idx], y[idx])
        if np.isfinite(v):
            vals.append(v)
    if len(vals) < n_boot // 2:
        return float("nan"), float("nan")
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(set(label.tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(label, score))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def transfer_scores(table: pd.DataFrame, height: int, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Score predicted frame features against clip labels (definitions in the module docstring).

    Parameters
    ----------
    table : DataFrame
        One row per frame: the frame features (``frame_wide.parquet``) with
        ``pixel_spacing_mm`` and the labels of :func:`read_labels`.
    height : int
        Frame height in pixels.
    n_boot : int
        Bootstrap draws for the CIs (frames resampled).
    seed : int

    Returns
    -------
    dict
        Each measure with ``n`` and, where defined, ``ci``. When the table's
        ``source`` column names two or more sources, ``by_source`` holds the
        same measures within each source (``{source: {...}}``): pooled over
        datasets, a measure also scores how the scanners differ, since the
        label mix differs between sets.
    """
    rng = np.random.default_rng(seed)
    out = _scores(table, height, n_boot, rng)
    src = table["source"].astype(str) if "source" in table.columns else pd.Series("", index=table.index)
    names = sorted(set(src) - {"", "nan"})
    if len(names) >= 2:
        out["by_source"] = {name: _scores(table[src.to_numpy() == name], height, n_boot, rng) for name in names}
    return out


def headline_values(scores: dict[str, Any]) -> dict[str, float]:
    """The value of each :data:`HEADLINE` measure of one :func:`transfer_scores` result.

    Also takes a result read back from JSON, where an undefined measure is ``null``
    (given here as NaN).
    """
    out = {}
    for name in HEADLINE:
        v = scores[name]
        v = v["value"] if isinstance(v, dict) else v
        out[name] = float("nan") if v is None else float(v)
    return out


def across_networks(scores: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Spread of the headline measures over several networks scored on the same frames.

    Parameters
    ----------
    scores : list of dict
        One :func:`transfer_scores` result per network (at least one).

    Returns
    -------
    dict
        For each :data:`HEADLINE` measure: ``values`` (one per network, in the
        order given; NaN where a network's measure is undefined), ``mean``,
        ``sd`` (sample SD, ddof 1; NaN for a single network), ``min``, ``max``
        and ``n_networks`` (networks with a defined value).

    Raises
    ------
    InputError
        When ``scores`` is empty.
    """
    if not scores:
        raise InputError("across_networks needs the scores of at least one network")
    out: dict[str, dict[str, Any]] = {}
    for name in HEADLINE:
        vals = np.array([headline_values(s)[name] for s in scores], dtype=float)
        ok = vals[np.isfinite(vals)]
        out[name] = {
            "values": vals.tolist(),
            "mean": float(ok.mean()) if ok.size else float("nan"),
            "sd": float(ok.std(ddof=1)) if ok.size >= 2 else float("nan"),
            "min": float(ok.min()) if ok.size else float("nan"),
            "max": float(ok.max()) if ok.size else float("nan"),
            "n_networks": int(ok.size),
        }
    return out


def _auc_entry(score: np.ndarray, label: np.ndarray, n_boot: int, rng: np.random.Generator) -> dict[str, Any]:
    """AUC of ``score`` for the 0/1 ``label`` over the frames where both are finite, with its CI."""
    m = np.isfinite(label) & np.isfinite(score)
    return {"value": _auc(score[m], label[m]), "ci": _boot(_auc, score[m], label[m], n_boot, rng),
            "n": int(m.sum()), "positives": int(label[m].sum())}


def _scores(t: pd.DataFrame, height: int, n_boot: int, rng: np.random.Generator) -> dict[str, Any]:
    """The measures of :func:`transfer_scores` on one set of frames."""
    px = t["pixel_spacing_mm"].to_numpy(dtype=float)
    depth_px = t["pleural_line_depth"].to_numpy(dtype=float) / np.where(np.isfinite(px), px, 1.0)
    found = (t["pleural_line_coverage"].to_numpy(dtype=float) >= PLEURA_COVERAGE) & (
        depth_px >= PLEURA_DEPTH[0] * height) & (depth_px <= PLEURA_DEPTH[1] * height)
    out: dict[str, Any] = {"n_frames": len(t), "pleural_found": float(found.mean()) if len(t) else float("nan")}
    cov = t["b_line_pleural_fraction"].to_numpy(dtype=float)
    lab = t["b_lines"].to_numpy(dtype=float)
    lab_cov = np.where(np.isfinite(cov), lab, np.nan)  # every B-line AUC on the frames with a coverage
    for name, col in (("bline_auc", "b_line_pleural_fraction"), ("bline_auc_blas", "b_line_blas"),
                      ("bline_auc_area", "b_line_area")):
        out[name] = _auc_entry(t[col].to_numpy(dtype=float), lab_cov, n_boot, rng)
    sev = t["severity"].to_numpy(dtype=float)
    for name, col in (("bline_spearman", "b_line_pleural_fraction"), ("lus_spearman", "lus_score")):
        s = t[col].to_numpy(dtype=float)
        m = np.isfinite(sev) & np.isfinite(s)
        value = _spearman(s[m], sev[m])
        undefined = None
        if not np.isfinite(value):  # why: too few or uniform labels, or a prediction that never varies
            undefined = "labels" if m.sum() < 3 or np.ptp(sev[m]) == 0 else "constant prediction"
        out[name] = {"value": value, "ci": _boot(_spearman, s[m], sev[m], n_boot, rng),
                     "n": int(m.sum()), "undefined": undefined}
    neg = t["consolidation"].to_numpy(dtype=float) == 0
    clean = t["consolidation_area"].to_numpy(dtype=float) == 0
    out["no_consolidation"] = {"value": float(clean[neg].mean()) if neg.any() else float("nan"),
                               "n": int(neg.sum())}
    both = np.isfinite(lab) & np.isfinite(sev)  # how far the two clip labels agree with each other
    out["label_agreement"] = {"spearman": _spearman(lab[both], sev[both]),
                              "ci": _boot(_spearman, lab[both], sev[both], n_boot, rng),
                              "auc": _auc(sev[both], lab[both]), "n": int(both.sum())}
    has_a = "a_lines" in t.columns and np.isfinite(t["a_lines"].to_numpy(dtype=float)).any()
    if has_a:  # last, so that the CIs above draw the same resamples as without it
        out["aline_auc"] = _auc_entry(t["a_line_area"].to_numpy(dtype=float), t["a_lines"].to_numpy(dtype=float),
                                      n_boot, rng)
    return out


def ingest_labelled(labels_csv: str | os.PathLike, out: str | os.PathLike, *, size: int = 128,
                    limit: int | None = None) -> Path:
    """Ingest the frames of a labels table as ``lusfeat ingest`` would.

    Writes ``out/manifest.csv`` (:func:`real_manifest`) and the cohort
    ``out/cohort`` (replacing an earlier one) and returns the cohort folder.
    """
    from ..data.ingest import ingest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = real_manifest(labels_csv, out / "manifest.csv", limit=limit)
    return ingest(manifest, out / "cohort", size=size, overwrite=True)


def transfer(
    labels_csv: str | os.PathLike,
    run: str | os.PathLike,
    out: str | os.PathLike,
    *,
    size: int = 128,
    limit: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    n_boot: int = 2000,
    progress: bool = False,
    gray_target: float | None = None,
    cohort: str | os.PathLike | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Ingest labelled real frames, segment them with ``run``, extract features and score them.

    Parameters
    ----------
    labels_csv : path-like
        Labels table (see the module docstring); frames are found relative to it.
    run : path-like
        A run folder (``lusfeat train``, ``lusfeat ensemble``) or a ``lusfeat pretrain``
        folder (its ensemble when it was pretrained with several members).
    out : path-like
        Work folder: ``manifest.csv``, ``cohort/``, ``masks/``, ``features/``.
    size : int
        Ingest size (the run's input size is used for the network either way).
    limit : int, optional
        Use only the first ``limit`` frames of the table.
    gray_target : float, optional
        Scale every ingested frame so that its chest-wall gray level is this
        (:func:`lusfeat.data._gain.standardize_gray`, written to ``cohort_gray/``),
        typically :func:`lusfeat.data._gain.reference_level` of the cohort the run
        was trained on; by default the frames are segmented as ingested.
    cohort : path-like, optional
        The frames of ``labels_csv`` already ingested (:func:`ingest_labelled`,
        same ``size`` and ``limit``), e.g. when several runs are scored on the
        same frames; by default they are ingested into ``out/cohort``.

    Returns
    -------
    scores : dict
        :func:`transfer_scores`.
    table : DataFrame
        Frame features joined with the labels.
    """
    from ..data import open_cohort
    from ..features import extract
    from ..seg import segment
    from ..seg._pretrain import pretrained_run

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run = pretrained_run(run)
    cohort_dir = Path(cohort) if cohort is not None else ingest_labelled(labels_csv, out, size=size, limit=limit)
    if gray_target is not None:
        from ..data._gain import standardize_gray

        cohort_dir = standardize_gray(cohort_dir, out / "cohort_gray", gray_target, overwrite=True)
    masks = segment(cohort_dir, run, out / "masks", device=device, threads=threads, progress=progress,
                    overwrite=True, allow_foreign=True)
    feats = extract(cohort_dir, masks, out / "features", backend="cpu", progress=progress, overwrite=True,
                    allow_foreign=True)
    cohort = open_cohort(cohort_dir)
    wide = pd.read_parquet(feats / "frame_wide.parquet")
    frames = cohort.frames[["frame_id", "clip_id", "pixel_spacing_mm", "source_path"]]
    wide = wide.drop(columns=[c for c in ("pixel_spacing_mm", "source_path") if c in wide.columns])
    table = wide.merge(frames, on=["frame_id", "clip_id"], how="left")
    labels = read_labels(labels_csv)
    labels["clip_id"] = [Path(f).stem for f in labels["filename"]]
    table = table.merge(labels, on="clip_id", how="left")
    return transfer_scores(table, cohort.shape[0], n_boot=n_boot), table


def overlay_figure(
    cohort_dir: str | os.PathLike, masks_dir: str | os.PathLike, clip_ids: list[str], path: str | os.PathLike,
    titles: list[str] | None = None, columns: int = 4,
) -> Path:
    """Real frames with the predicted masks outlined, one panel per clip, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._io import atomic_file
    from ..data import CLASS_NAMES, open_cohort, open_masks
    from ..data._show import CLASS_COLORS

    cohort, masks = open_cohort(cohort_dir), open_masks(masks_dir)
    rows = cohort.frames.set_index("clip_id")
    colours = {name: tuple(CLASS_COLORS[i] / 255) for i, name in enumerate(CLASS_NAMES)}  # as `lusfeat show`
    n = len(clip_ids)
    ncol = min(columns, n)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.4 * nrow), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, cid in enumerate(clip_ids):
        ax = axes.ravel()[k]
        idx = int(np.atleast_1d(rows.loc[cid, "array_index"])[0])
        ax.imshow(cohort.images[idx], cmap="gray", vmin=0, vmax=255)
        m = np.asarray(masks.masks[idx])
        for c, name in enumerate(CLASS_NAMES):
            if m[c].any():
                ax.contour(m[c].astype(float), levels=[0.5], colors=[colours[name]], linewidths=1.0)
        ax.set_title(titles[k] if titles else cid, fontsize=7)
    handles = [plt.Line2D([0], [0], color=v, lw=2, label=k) for k, v in colours.items()]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
