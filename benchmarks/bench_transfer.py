"""Transfer of a simulator-trained U-Net to real LUS frames, scored against clip labels.

Usage::

    python benchmarks/bench_transfer.py [--real ../shared/data/real_lus] [--model PRETRAINED_OR_RUN]
        [--patients 60 --frames 2 --epochs 8 --size 128 --seed 0] [--work /tmp/lusfeat-transfer]
        [--figure docs/figures/transfer_overlays.png] [--threads N] [--gray]

Without ``--model`` it first pretrains the default U-Net on a simulated cohort
(``lusfeat pretrain``; resumable, reused on a rerun with the same options). It
then ingests the real frames of ``REAL/labels.csv`` (as ``lusfeat ingest``
would), segments them, extracts the features and prints the measures of
:mod:`lusfeat.pipeline._transfer` with bootstrap 95 % CIs, the targets, and
one JSON line; when the labels table names several sources (column
``source``), also the same measures within each source. ``--gray`` scores the frames a second time with every real
frame's gray levels scaled so that its chest wall matches the training
cohort's (:mod:`lusfeat.data._gain`). ``--figure`` saves overlays of the
predicted masks (with ``--gray``, those of the standardised frames) on the
frames whose licence allows it (CC BY, not NC/ND).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

from lusfeat._errors import LusfeatError  # noqa: E402
from lusfeat._io import read_json  # noqa: E402
from lusfeat.data._gain import reference_level  # noqa: E402
from lusfeat.pipeline._transfer import overlay_figure, read_labels, transfer  # noqa: E402
from lusfeat.seg import UNetConfig, pretrain  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"pleural_found": 0.90, "bline_auc": 0.85, "bline_spearman": 0.60, "lus_spearman": 0.60,
           "no_consolidation": 0.80}


def training_cohort(model: Path) -> Path:
    """The cohort a pretrain folder or run folder was trained on."""
    model = Path(model)
    if (model / "pretrain.json").is_file():
        return model / "cohort"
    return Path(read_json(model / "run.json")["cohort"]["path"])


def report(scores: dict, title: str) -> None:
    """Print the measures of one scoring with their CIs and targets."""
    print(title)
    print(f"{'measure':<20}{'value':>8}  {'95% CI':<16}{'n':>4}  target")

    def line(name: str, value: float, ci=None, n=None) -> None:
        ci_txt = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        tgt = TARGETS.get(name)
        mark = "" if tgt is None else (f">= {tgt:.2f} " + ("met" if value >= tgt else "missed"))
        print(f"{name:<20}{value:>8.3f}  {ci_txt:<16}{'' if n is None else n:>4}  {mark}")

    line("pleural_found", scores["pleural_found"], n=scores["n_frames"])
    for key in ("bline_auc", "bline_auc_blas", "bline_auc_area", "bline_spearman", "lus_spearman"):
        s = scores[key]
        line(key, s["value"], s["ci"], s["n"])
    line("no_consolidation", scores["no_consolidation"]["value"], n=scores["no_consolidation"]["n"])
    agree = scores["label_agreement"]
    print(f"(the labels themselves: Spearman of the B-line label with severity {agree['spearman']:.3f} "
          f"[{agree['ci'][0]:.2f}, {agree['ci'][1]:.2f}], AUC of severity for the B-line label "
          f"{agree['auc']:.3f}, n {agree['n']})")
    by = scores.get("by_source")
    if by:
        print("within each source (pooled over sources, a measure also scores how the datasets differ):")
        print(f"{'source':<32}{'n':>4}{'pleura':>8}{'B AUC (pos)':>13}{'B rho':>8}{'LUS rho':>9}{'no cons':>9}"
              f"{'label rho':>11}")
        for name, sc in by.items():
            print(f"{name[:31]:<32}{sc['n_frames']:>4}{sc['pleural_found']:>8.3f}{sc['bline_auc']['value']:>8.3f} ({sc['bline_auc']['positives']:>2})"
                  f"{sc['bline_spearman']['value']:>8.3f}{sc['lus_spearman']['value']:>9.3f}"
                  f"{sc['no_consolidation']['value']:>9.3f}{sc['label_agreement']['spearman']:>11.3f}")


def main() -> None:
    """Run the benchmark; a bad input (labels table, model folder) ends it with a one-line error."""
    try:
        _main()
    except LusfeatError as exc:
        sys.exit(f"error: {exc}")


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared" / "data" / "real_lus")
    ap.add_argument("--model", type=Path, default=None, help="run or pretrain folder (default: pretrain one)")
    ap.add_argument("--patients", type=int, default=60)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lusfeat-transfer"))
    ap.add_argument("--figure", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N real frames")
    ap.add_argument("--gray", action="store_true",
                    help="also score with the real frames' gray levels standardised to the training cohort's chest wall")
    args = ap.parse_args()
    t0 = time.perf_counter()
    model = args.model
    if model is None:
        model = pretrain(args.work / "pretrained", patients=args.patients, frames=args.frames, size=args.size,
                         epochs=args.epochs, model=UNetConfig(), seed=args.seed, threads=args.threads,
                         progress=True)
    t_train = time.perf_counter() - t0
    scores, table = transfer(args.real / "labels.csv", model, args.work / "real", size=args.size,
                             limit=args.limit, threads=args.threads)
    print(f"transfer to {scores['n_frames']} real frames ({args.real}), model {model}")
    report(scores, "masks as predicted")
    masks_dir = args.work / "real" / "masks"
    cohort_dir = args.work / "real" / "cohort"
    result = {"scores": scores}
    gray_target = None
    if args.gray:
        gray_target = reference_level(training_cohort(model))
        g_scores, g_table = transfer(args.real / "labels.csv", model, args.work / "real", size=args.size,
                                     limit=args.limit, threads=args.threads, gray_target=gray_target)
        report(g_scores, f"gray levels standardised to the training cohort's chest wall (level {gray_target:.1f})")
        cohort_dir = args.work / "real" / "cohort_gray"
        result["gray_scores"] = g_scores
        result["gray_target"] = gray_target
        table = table.merge(g_table[["frame_id", "b_line_pleural_fraction", "lus_score", "consolidation_area"]],
                            on="frame_id", suffixes=("", "_gray"))
    if args.figure is not None:
        labels = read_labels(args.real / "labels.csv")
        free = labels[labels["license"].str.startswith("CC BY") & ~labels["license"].str.contains("NC|ND")]
        clips = [Path(f).stem for f in free["filename"] if Path(f).stem in set(table["clip_id"])]
        sev = dict(zip(labels["filename"].map(lambda f: Path(f).stem), labels["severity"], strict=True))
        titles = [f"{c[7:35]}\nseverity {sev.get(c)}" for c in clips]
        overlay_figure(cohort_dir, masks_dir, clips, args.figure, titles)
        print(f"overlays of {len(clips)} CC-BY frames -> {args.figure}")
    table.to_csv(args.work / "real" / "frames_scored.csv", index=False)
    print(json.dumps({**result, "train_s": round(t_train, 1),
                      "total_s": round(time.perf_counter() - t0, 1)}, default=float))


if __name__ == "__main__":
    main()
