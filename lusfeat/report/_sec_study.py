"""Report sections about the sweep: threshold curves, analysis plots and run metadata."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

from .._summary import Summary
from ..data import CLASS_NAMES
from ._doc import Block, Cell, Details, Figure, Heading, Note, Para, Section, fmt, slug, table
from ._figures import Curve, Level, Panel, curve_grid
from ._sec_results import KEY_METRICS, downstream_metrics, task_kind
from ._study import StudyInputs, parse_pipeline

__all__ = ["curves_section", "plots_section", "run_section"]

#: Pipeline families drawn as curves over the threshold, with their legend labels.
_FAMILIES = {"labels": "labels-T (fused labels)", "threshold": "threshold-T (U-Net)"}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Longest value shown in the options table (longer ones are cut).
MAX_VALUE_CHARS = 160


def _curves_and_levels(d: pd.DataFrame, families: dict[str, str]) -> tuple[list[Curve], list[Level]]:
    """Average over seeds; threshold families become curves, everything else a level.

    ``d`` has columns pipeline, estimate, ci_low, ci_high.
    """
    info = d["pipeline"].astype(str).map(parse_pipeline)
    d = d.assign(family=info.str[0], t=info.str[1])
    curves, levels = [], []
    for fam, label in families.items():
        g = d[(d["family"] == fam) & d["t"].notna()]
        if g.empty:
            continue
        a = g.groupby("t")[["estimate", "ci_low", "ci_high"]].mean().sort_index()
        curves.append(Curve(label, a.index.to_numpy(float), a["estimate"].to_numpy(float),
                            a["ci_low"].to_numpy(float), a["ci_high"].to_numpy(float)))
    rest = d[~d["family"].isin(list(families)) | d["t"].isna()]
    for fam, g in rest.groupby("family", sort=False):
        levels.append(Level(str(fam), float(g["estimate"].mean()), float(g["ci_low"].mean()),
                            float(g["ci_high"].mean())))
    levels.sort(key=lambda lv: (lv.label != "truth", lv.label))
    return curves, levels


def curves_section(study: StudyInputs) -> Section:
    """Section 5: key metrics against the confidence threshold, with CI bands."""
    sec = Section("curves", "Metrics against the threshold")
    sec.blocks.append(Para(
        "Each point is one pipeline; bands are 95 % CIs (averaged over seeds when several ran). "
        "labels-T: features straight from the annotators' fused labels at threshold T; threshold-T: "
        "a U-Net trained on those labels. Dashed lines: pipelines without a threshold (truth in black)."))
    seg = study.table("segmentation")
    if seg is None:
        sec.blocks.append(Note(f"No segmentation curves: {study.missing.get('segmentation')}."))
    else:
        d = seg[(seg["reference"] == "truth") & (seg["metric"] == "dice")]
        if d.empty:
            sec.blocks.append(Note("No segmentation curves: the study has no Dice against true masks "
                                   "(real cohorts have none)."))
        else:
            panels = []
            for c in [c for c in CLASS_NAMES if c in set(d["class"])]:
                curves, levels = _curves_and_levels(d[d["class"] == c], _FAMILIES)
                panels.append(Panel(c, "Dice vs truth", curves, levels))
            if any(p.curves for p in panels):
                sec.blocks.append(Figure(curve_grid(panels), "curves-segmentation-dice.png",
                                         "Dice of the out-of-fold masks against the true masks, per class"))
            else:
                sec.blocks.append(Note("No segmentation curves: no threshold-T strategy in the study."))
    down = study.table("downstream")
    if down is None:
        sec.blocks.append(Note(f"No downstream curves: {study.missing.get('downstream')}."))
        return sec
    m = downstream_metrics(down)
    drawn = False
    for model, gm in m.groupby("model", sort=False):
        panels = []
        for task, gt in gm.groupby("task", sort=False):
            for metric in KEY_METRICS[task_kind(set(gt["metric"]))]:
                d = gt[gt["metric"] == metric]
                if d.empty:
                    continue
                curves, levels = _curves_and_levels(d, _FAMILIES)
                panels.append(Panel(f"{task}: {metric}", metric, curves, levels))
        if any(p.curves for p in panels):
            drawn = True
            sec.blocks.append(Figure(curve_grid(panels, ncols=2), f"curves-downstream-{slug(model)}.png",
                                     f"Key downstream metrics against the threshold, model {model}"))
    if not drawn:
        sec.blocks.append(Note("No downstream curves: no labels-T or threshold-T pipeline was analysed."))
    return sec


def _plot_caption(name: str, analysis: str) -> str:
    parts = name.removesuffix(".png").split("__")
    what = {"roc_calibration": "ROC and calibration curves", "pred_vs_obs": "predicted vs observed S/F"}
    if len(parts) == 3:
        return f"Task {parts[0]}, model {parts[1]}: {what.get(parts[2], parts[2])} ({analysis})"
    return f"{name} ({analysis})"


def plots_section(study: StudyInputs) -> Section:
    """Section 6: the ROC, calibration and prediction plots written by the analyses."""
    sec = Section("plots", "ROC, calibration and prediction plots")
    root = study.path / "analysis"
    files = sorted(root.glob("*/plots/*.png")) if root.is_dir() else []
    if not files:
        sec.blocks.append(Note(f"No analysis plots found under {root}/*/plots/."))
        return sec
    sec.blocks.append(Para("Out-of-fold predictions averaged over CV repeats; bands and error bars are 95 % "
                           "pointwise patient-bootstrap intervals. Identical plots of several analyses are "
                           "shown once."))
    seen: set[str] = set()
    for f in files:
        data = f.read_bytes()
        if not data.startswith(_PNG_MAGIC):
            sec.blocks.append(Note(f"{f} is not a PNG file; skipped."))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        analysis = f.parent.parent.name
        sec.blocks.append(Figure(data, f"{slug(analysis)}-{f.name}", _plot_caption(f.name, analysis)))
    return sec


def _short(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _kv(d: dict[str, Any], caption: str) -> Summary:
    return Summary(title=caption, info=[(str(k), _short(v)) for k, v in d.items()])


def _timings(study: StudyInputs) -> list[Block]:
    t = study.stage_timings()
    if t.empty or t["seconds"].notna().sum() == 0:
        return [Note("No stage timings: study.json lists no finished stage and .stages/ is empty.")]
    total = float(t["seconds"].sum())
    by_kind = (t.groupby("kind", dropna=False)["seconds"].agg(["count", "sum", "max"])
               .sort_values("sum", ascending=False))
    kind_rows = [[Cell(str(k)), int(r["count"]), float(r["sum"]), float(r["max"]),
                  Cell(f"{100 * r['sum'] / total:.1f} %", sort=float(r["sum"] / total))]
                 for k, r in by_kind.iterrows()]
    rows = []
    for r in t.itertuples():
        share = r.seconds / total if np.isfinite(r.seconds) and total > 0 else np.nan
        cached = "" if r.cached is None or pd.isna(r.cached) else ("cached" if bool(r.cached) else "ran")
        rows.append([Cell(str(r.stage)), Cell(str(r.kind)), Cell(str(r.pipeline or "")), r.seconds,
                     Cell(f"{100 * share:.1f} %" if np.isfinite(share) else "n/a",
                          sort=share if np.isfinite(share) else None), Cell(cached)])
    slowest = t.iloc[0]
    return [
        Para(f"{len(t)} stages, {fmt(total)} s of stage time in all; the slowest stage is {slowest['stage']} "
             f"({fmt(slowest['seconds'])} s). Cached stages show the time of the run that made them."),
        table(["stage kind", "stages", "seconds", "slowest (s)", "share"], kind_rows,
              caption="Time per stage kind, slowest first"),
        table(["stage", "kind", "pipeline", "seconds", "share", "this run"], rows,
              caption="Time per stage, slowest first"),
    ]


def run_section(study: StudyInputs, report_meta: dict[str, Any]) -> Section:
    """Section 8: study status, best strategy, options, versions, hardware, pipelines and timings."""
    sec = Section("run", "Run metadata")
    meta = study.meta
    overview = {k: meta[k] for k in ("status", "started", "finished", "wall_seconds", "baseline", "best",
                                     "cohort", "format", "format_version") if k in meta}
    overview["study folder"] = str(study.path)
    sec.blocks.append(_kv(overview, "Study"))
    if meta.get("status") not in (None, "complete"):
        sec.blocks.append(Note(f"The study's status is {meta.get('status')!r}: some stages may not have "
                               "finished; sections without inputs say so."))
    dice = meta.get("mean_dice")
    if isinstance(dice, dict) and dice:
        ref = "the true masks" if study.table("segmentation") is not None and (
            study.tables["segmentation"]["reference"] == "truth").any() else "the fused labels"
        rows = [[Cell(str(k)), float(v) if v is not None else np.nan, Cell("best" if k == meta.get("best") else "")]
                for k, v in sorted(dice.items(), key=lambda kv: -(kv[1] if kv[1] is not None else -np.inf))]
        sec.blocks.append(table(["strategy", "mean Dice", ""], rows,
                                caption=f"Choice of the best strategy: mean Dice over classes against {ref}"))
    sec.blocks += [Heading("Timings"), *_timings(study)]
    pipes = study.pipelines
    if pipes:
        rows = [[Cell(n), Cell(str(p.get("kind", ""))), Cell(str(p.get("strategy", p.get("source", "")))),
                 Cell(str(p.get("seed", "")))] for n, p in pipes.items()]
        sec.blocks.append(table(["pipeline", "kind", "strategy / source", "seed"], rows, caption="Pipelines"))
    for key, caption in (("config", "Sweep options"), ("versions", "Versions"), ("hardware", "Hardware")):
        value = meta.get(key)
        if isinstance(value, dict) and value:
            sec.blocks.append(_kv(value, caption))
        else:
            sec.blocks.append(Note(f"study.json has no {key!r}."))
    seeds = meta.get("config", {}).get("seeds") if isinstance(meta.get("config"), dict) else None
    if seeds is not None:
        base = meta["config"].get("seed", 0)
        sec.blocks.append(Para(f"Seeds: {', '.join(str(base + k) for k in range(int(seeds)))} "
                               f"(training; evaluation bootstrap and analysis use {base})."))
    sec.blocks.append(Details("This report", [_kv(report_meta, "How this report was made")]))
    return sec
