"""Report sections of results tables: segmentation, downstream and seed spread."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .._errors import InputError
from .._io import read_json
from .._summary import Summary
from ..data import CLASS_NAMES
from ._doc import (
    Block,
    Cell,
    Details,
    Heading,
    Note,
    Para,
    Section,
    best_flags,
    ci_cell,
    fmt,
    fmt_p,
    table,
)
from ._study import StudyInputs

__all__ = ["segmentation_section", "downstream_section", "seeds_section", "downstream_metrics",
           "task_kind", "KEY_METRICS", "HIGHER_IS_BETTER"]

#: Segmentation metrics shown, with their label.
SEG_METRICS: dict[str, str] = {"dice": "Dice", "iou": "IoU", "hd95": "HD95 (pixels)"}
#: Direction of each metric (None: neither, e.g. calibration slope).
HIGHER_IS_BETTER: dict[str, bool | None] = {
    "dice": True, "iou": True, "precision": True, "recall": True, "hd95": False, "ece": False,
    "mae": False, "rmse": False, "r2": True, "pearson_r": True, "spearman_r": True,
    "auc": True, "auprc": True, "balanced_accuracy": True, "f1": True, "brier": False,
    "calibration_slope": None, "calibration_intercept": None, "auc_ovr": True, "f1_macro": True,
}
#: Key metrics per task kind (shown in the comparison summary and the curves).
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("mae", "r2"), "binary": ("auc", "brier"), "multiclass": ("auc_ovr", "balanced_accuracy"),
}
_CI_NAMES = {"bca": "BCa", "percentile": "percentile"}
#: Significance level used to emphasise adjusted p-values.
ALPHA = 0.05


def _ref_sort(ref: str) -> tuple:
    m = re.match(r"labels:(\d+)$", ref)
    return (0, 0) if ref == "truth" else (1, int(m.group(1))) if m else (2, ref)


def _ref_title(ref: str) -> str:
    m = re.match(r"labels:(\d+)$", ref)
    return "against the true masks" if ref == "truth" else (
        f"against fused labels >= {m.group(1)} %" if m else f"against {ref}")


def _pivot_table(study: StudyInputs, d: pd.DataFrame, metric: str, caption: str) -> Summary:
    """Pipelines as rows, classes as columns, ``estimate [low, high]`` cells and a mean column."""
    classes = [c for c in CLASS_NAMES if c in set(d["class"])] + sorted(set(d["class"]) - set(CLASS_NAMES))
    pipes = study.order(d["pipeline"].unique())
    cell = {(r.pipeline, r["class"]): r for _, r in d.iterrows()}
    direction = HIGHER_IS_BETTER.get(metric)
    flags = {c: dict(zip(pipes, best_flags([cell[(p, c)]["estimate"] if (p, c) in cell else None
                                            for p in pipes], direction), strict=True)) for c in classes}
    rows = []
    for p in pipes:
        row: list[Cell] = [Cell(p)]
        ests = []
        for c in classes:
            r = cell.get((p, c))
            if r is None:
                row.append(Cell("n/a"))
                continue
            row.append(ci_cell(r["estimate"], r["ci_low"], r["ci_high"], strong=flags[c][p]))
            ests.append(float(r["estimate"]))
        mean = float(np.nanmean(ests)) if ests and np.isfinite(ests).any() else np.nan
        row.append(Cell(fmt(mean), sort=mean if np.isfinite(mean) else None))
        rows.append(row)
    return table(["pipeline", *classes, "mean over classes"], rows, caption=caption)


def segmentation_section(study: StudyInputs) -> Section:
    """Section 3: Dice, IoU and HD95 per class with CIs, one table per reference and metric."""
    sec = Section("segmentation", "Segmentation")
    seg = study.table("segmentation")
    if seg is None:
        sec.blocks.append(Note(f"No segmentation results: {study.missing.get('segmentation')}."))
        return sec
    if "segmentation" in study.assembled:
        sec.blocks.append(Note(study.assembled["segmentation"]))
    sec.blocks.append(Para(
        "Out-of-fold masks of each strategy compared with each reference, frame means with 95 % "
        "patient-bootstrap CIs in brackets; the best value per class is in bold. HD95 is in pixels "
        "(lower is better)."))
    refs = sorted((r for r in seg["reference"].astype(str).unique() if r != "confidence"), key=_ref_sort)
    for i, ref in enumerate(refs):
        blocks: list[Block] = []
        for metric, label in SEG_METRICS.items():
            d = seg[(seg["reference"] == ref) & (seg["metric"] == metric)]
            if d.empty:
                blocks.append(Note(f"{label} {_ref_title(ref)} is not in the segmentation table."))
                continue
            blocks.append(_pivot_table(study, d, metric, f"{label} {_ref_title(ref)}"))
        if i == 0:
            sec.blocks += [Heading(f"{_ref_title(ref).capitalize()}"), *blocks]
        else:
            sec.blocks.append(Details(f"{_ref_title(ref).capitalize()}", blocks))
    if "truth" not in refs:
        sec.blocks.insert(1, Note("No true masks in this cohort: tables compare with fused labels only."))
    ece = seg[(seg["reference"] == "confidence") & (seg["metric"] == "ece")]
    if not ece.empty:
        sec.blocks += [Heading("Calibration of probabilities against fused confidence"),
                       _pivot_table(study, ece, "ece", "Expected calibration error (lower is better)")]
    return sec


def task_kind(metrics: set[str]) -> str:
    """Task kind from its metric names (``regression``, ``binary``, ``multiclass``)."""
    return "regression" if "mae" in metrics else "multiclass" if "auc_ovr" in metrics else "binary"


def downstream_metrics(down: pd.DataFrame) -> pd.DataFrame:
    """Metric rows, one per (task, model, pipeline, metric): BCa CIs where present, first analysis wins."""
    m = down[down["kind"] == "metric"].copy()
    rank = m["ci_method"].map({"bca": 0, "percentile": 1}).fillna(2)
    m = m.assign(_rank=rank).sort_values("_rank", kind="stable")
    return m.drop_duplicates(["task", "model", "pipeline", "metric"]).drop(columns="_rank")


def _skipped(study: StudyInputs) -> list[tuple[str, str]]:
    """(key, reason) of the tasks, pipelines or models an analysis skipped, without repeats."""
    out: list[tuple[str, str]] = []
    root = study.path / "analysis"
    for a in sorted(root.glob("*/analysis.json")) if root.is_dir() else []:
        try:
            meta = read_json(a)
        except InputError:
            continue
        for key, why in (meta.get("skipped") or {}).items():
            if (str(key), str(why)) not in out:
                out.append((str(key), str(why)))
    return out


def _metric_tables(study: StudyInputs, m: pd.DataFrame) -> list[Block]:
    blocks: list[Block] = []
    for (task, model), g in m.groupby(["task", "model"], sort=False):
        metrics = list(dict.fromkeys(g["metric"]))
        pipes = study.order(g["pipeline"].unique())
        cell = {(r.pipeline, r.metric): r for r in g.itertuples()}
        flags = {mt: dict(zip(pipes, best_flags([getattr(cell.get((p, mt)), "estimate", None) for p in pipes],
                                                HIGHER_IS_BETTER.get(mt)), strict=True)) for mt in metrics}
        rows = []
        for p in pipes:
            row = [Cell(p)]
            for mt in metrics:
                r = cell.get((p, mt))
                row.append(Cell("n/a") if r is None else ci_cell(r.estimate, r.ci_low, r.ci_high, flags[mt][p]))
            rows.append(row)
        n = g["n"].dropna() if "n" in g.columns else pd.Series(dtype=float)
        npat = g["n_patients"].dropna() if "n_patients" in g.columns else pd.Series(dtype=float)
        ci = "/".join(sorted(_CI_NAMES.get(c, c) for c in g["ci_method"].astype(str).unique()))
        size = f"; {int(n.iloc[0])} rows, {int(npat.iloc[0])} patients" if len(n) and len(npat) else ""
        blocks.append(table(["pipeline", *metrics], rows, caption=(
            f"Task {task} ({task_kind(set(metrics))}), model {model}: out-of-fold estimate [95 % {ci} CI]{size}")))
    return blocks


def _comparison_table(g: pd.DataFrame, study: StudyInputs, caption: str) -> Summary:
    rows = []
    order = {p: i for i, p in enumerate(study.order(g["pipeline"].unique()))}
    g = g.assign(_o=g["pipeline"].map(order)).sort_values(["_o", "metric", "ci_method"], kind="stable")
    for r in g.itertuples():
        holm = _num(r.p_holm)
        sig = holm is not None and holm < ALPHA
        family = str(getattr(r, "family", "") or "")  # analyses before the comparison plan lack it
        rows.append([Cell(str(r.pipeline)), Cell(str(r.metric)), Cell(family if family != "nan" else ""),
                     Cell(fmt(r.estimate), sort=_num(r.estimate)),
                     ci_cell(r.difference, r.ci_low, r.ci_high), Cell(str(r.ci_method)),
                     Cell(fmt_p(r.p), sort=_num(r.p)), Cell(fmt_p(r.p_holm), sort=_num(r.p_holm), strong=sig),
                     Cell(fmt_p(r.p_bh), sort=_num(r.p_bh))])
    return table(["pipeline", "metric", "family", "estimate", "difference [95 % CI]", "CI method", "p",
                  "p Holm", "p BH"], rows, caption=caption)


def _key_comparison_table(g: pd.DataFrame, study: StudyInputs, metrics: list[str], caption: str) -> Summary:
    """Pipelines as rows; per key metric the difference [CI] and the Holm p (raw and BH p below)."""
    pipes = study.order(g["pipeline"].unique())
    # One row per (pipeline, metric): the confirmatory test where the analysis has a plan (DeLong
    # for a primary AUC), else the bootstrap comparison; secondary metrics are exploratory.
    if "family" in g.columns:
        g = g.assign(_d=(g["family"] != "confirmatory").astype(int)).sort_values("_d", kind="stable")
    else:
        g = g.assign(_d=g["ci_method"].astype(str).str.contains("delong").astype(int)).sort_values(
            "_d", kind="stable")
    cell = {(r.pipeline, r.metric): r for r in g.drop_duplicates(["pipeline", "metric"]).itertuples()}
    header = ["pipeline"]
    for mt in metrics:
        header += [f"{mt} difference [95 % CI]", f"{mt} p Holm"]
    rows = []
    for p in pipes:
        row = [Cell(p)]
        for mt in metrics:
            r = cell.get((p, mt))
            if r is None:
                row += [Cell("n/a"), Cell("n/a")]
                continue
            holm = _num(r.p_holm)
            tag = "exploratory: " if getattr(r, "family", None) == "exploratory" else ""
            row += [ci_cell(r.difference, r.ci_low, r.ci_high),
                    Cell(fmt_p(r.p_holm), sub=f"{tag}p {fmt_p(r.p)}, BH {fmt_p(r.p_bh)}", sort=holm,
                         strong=holm is not None and holm < ALPHA)]
        rows.append(row)
    methods = ", ".join(sorted(g["ci_method"].astype(str).unique()))
    return table(header, rows, caption=f"{caption} (CIs: {methods})")


def _num(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def downstream_section(study: StudyInputs) -> Section:
    """Section 4: per task and model, each pipeline's metrics and the paired comparisons."""
    sec = Section("downstream", "Downstream clinical tasks")
    down = study.table("downstream")
    skipped = _skipped(study)
    for key, why in skipped:
        sec.blocks.append(Note(f"Skipped: {why}" if key in why else f"Skipped {key}: {why}"))
    if down is None:
        sec.blocks.append(Note(f"No downstream results: {study.missing.get('downstream')}."))
        return sec
    if "downstream" in study.assembled:
        sec.blocks.append(Note(study.assembled["downstream"]))
    planned = study.meta.get("config", {}).get("tasks") or []
    for t in planned:
        if t not in set(down["task"].astype(str)) and not any(t in key for key, _ in skipped):
            sec.blocks.append(Note(f"Task {t} was planned but has no results."))
    m = downstream_metrics(down)
    sec.blocks.append(Heading("Metrics"))
    sec.blocks.append(Para("Out-of-fold predictions of patient-grouped repeated cross-validation; 95 % "
                           "patient-bootstrap CIs in brackets; the best value per metric is in bold."))
    sec.blocks += _metric_tables(study, m) if not m.empty else [Note("No metric rows in the downstream table.")]
    comp = down[down["kind"] == "comparison"]
    sec.blocks.append(Heading("Comparisons"))
    if comp.empty:
        sec.blocks.append(Note("No paired comparisons (only one pipeline was analysed)."))
        return sec
    sec.blocks.append(Para(
        "Difference = pipeline - reference on the same bootstrap resamples (or DeLong for AUC). "
        "Confirmatory family (planned before fitting): each pipeline vs the reference on the task's primary "
        f"metric, Holm-adjusted, Holm p < {ALPHA} in bold; every other comparison (secondary metrics) is "
        "exploratory, Benjamini-Hochberg (BH) adjusted within that family. Key metrics are shown first, "
        "every metric and CI method in the collapsed tables."))
    has_analysis = "analysis" in comp.columns
    groups = comp.groupby("analysis", sort=False) if has_analysis else [("all", comp)]
    for analysis, ga in groups:
        refs = ", ".join(sorted(ga["reference"].astype(str).unique()))
        sec.blocks.append(Heading(f"Compared with {refs}" + (f" ({analysis})" if has_analysis else ""), 4))
        for (task, model), g in ga.groupby(["task", "model"], sort=False):
            kind = task_kind(set(m.loc[m["task"] == task, "metric"]))
            key = [mt for mt in KEY_METRICS[kind] if mt in set(g["metric"])]
            if key:
                sec.blocks.append(_key_comparison_table(g[g["metric"].isin(key)], study, key,
                                                        f"Task {task}, model {model}: key metrics"))
            sec.blocks.append(Details(f"All comparisons: task {task}, model {model} ({len(g)} rows)",
                                      [_comparison_table(g, study, f"Task {task}, model {model}")]))
    return sec


def seeds_section(study: StudyInputs) -> Section:
    """Section 7: spread of each strategy's results over training seeds."""
    sec = Section("seeds", "Seed spread")
    n_seeds = study.meta.get("config", {}).get("seeds")
    seeds = study.table("seeds")
    if seeds is None or not pd.to_numeric(seeds["n_seeds"], errors="coerce").max() > 1:
        why = (f"the study ran {n_seeds} seed" if n_seeds is not None and int(n_seeds) <= 1
               else study.missing.get("seeds", "no strategy ran with more than one seed"))
        sec.blocks.append(Note(f"No seed spread: {why}. Run the sweep with --seeds 3 or more to see it."))
        return sec
    sec.blocks.append(Para("Each strategy trained with several seeds: mean, standard deviation, minimum and "
                           "maximum of the point estimates over seeds."))
    header = ["strategy", "task / reference", "class / model", "metric", "seeds", "mean", "sd", "min", "max"]

    def seed_table(d: pd.DataFrame, caption: str) -> Summary:
        d = d.assign(_o=d["strategy"].map({p: i for i, p in enumerate(study.order(d["strategy"].unique()))}))
        d = d.sort_values(["_o", "task", "group", "metric"], kind="stable")
        rows = [[Cell(str(r.strategy)), Cell(str(r.task)), Cell(str(r.group)), Cell(str(r.metric)),
                 r.n_seeds, r.mean, r.sd, r.min, r.max] for r in d.itertuples()]
        return table(header, rows, caption=caption)

    seg = seeds[seeds["table"] == "segmentation"]
    key_seg = seg[(seg["metric"].isin(["dice", "hd95"])) & (seg["task"] == "truth")]
    if key_seg.empty:
        key_seg = seg[seg["metric"] == "dice"]
    if not key_seg.empty:
        sec.blocks.append(seed_table(key_seg, "Segmentation: Dice and HD95 against the true masks"))
    down = seeds[seeds["table"] == "downstream"]
    keys = {k for v in KEY_METRICS.values() for k in v}
    if not down.empty:
        sec.blocks.append(seed_table(down[down["metric"].isin(keys)], "Downstream: key metrics"))
    sec.blocks.append(Details(f"All seed-spread rows ({len(seeds)})", [seed_table(seeds, "All rows")]))
    return sec
