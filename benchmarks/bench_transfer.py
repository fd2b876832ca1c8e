"""Transfer of a simulator-trained U-Net to real LUS frames, scored against clip labels.

Usage::

    python benchmarks/bench_transfer.py [--real ../shared/data/real_lus] [--model PRETRAINED_OR_RUN ...]
        [--patients 60 --frames 2 --epochs 8 --size 128 --seed 0 | --seeds 0 1 2] [--members 3]
        [--work /tmp/lusfeat-transfer] [--figure docs/figures/transfer_overlays.png] [--threads N] [--gray]

Without ``--model`` it first pretrains the default U-Net on a simulated cohort
(``lusfeat pretrain``; resumable, reused on a rerun with the same options), one
per seed with ``--seeds``; ``--members N`` pretrains an ensemble of N networks
instead of one (:mod:`lusfeat.seg._ensemble`), scored as one network. It then
ingests the real frames of ``REAL/labels.csv`` (as ``lusfeat ingest`` would), segments them with each network, extracts the
features and prints the measures of :mod:`lusfeat.pipeline._transfer` with
bootstrap 95 % CIs, the targets, and one JSON line; when the labels table names
several sources (column ``source``), also the same measures within each source.
With two or more networks (several ``--model`` folders or ``--seeds``) it also
prints the spread of the headline measures over the networks (mean, SD, range
and how many networks meet each target): networks of one recipe with other
seeds differ on a few dozen frames by about as much as most changes of the
simulator, so a change is only worth keeping if it moves the mean by more than
that spread. ``--gray`` scores the frames a second time with every real frame's
gray levels scaled so that its chest wall matches the training cohort's
(:mod:`lusfeat.data._gain`). ``--figure`` saves overlays of the first network's
predicted masks (with ``--gray``, those of the standardised frames) on the
frames whose licence allows it (CC BY, not NC/ND). ``WORK/real/frames_scored.csv``
holds every network's frame features and labels (column ``network``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import pandas as pd  # noqa: E402

from lusfeat._errors import LusfeatError  # noqa: E402
from lusfeat._io import to_jsonable  # noqa: E402
from lusfeat.data._gain import reference_level, training_cohort  # noqa: E402
from lusfeat.pipeline._transfer import (  # noqa: E402
    across_networks,
    ingest_labelled,
    overlay_figure,
    read_labels,
    transfer,
)
from lusfeat.seg import UNetConfig, pretrain  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: The real frames beside the repository, or where $LUSFEAT_REAL_LUS points.
REAL_LUS = Path(os.environ.get("LUSFEAT_REAL_LUS", REPO.parent / "shared" / "data" / "real_lus"))
TARGETS = {"pleural_found": 0.90, "bline_auc": 0.85, "bline_spearman": 0.60, "lus_spearman": 0.60,
           "no_consolidation": 0.80}


def report(scores: dict, title: str) -> None:
    """Print the measures of one scoring with their CIs and targets."""
    print(title)
    print(f"{'measure':<20}{'value':>8}  {'95% CI':<16}{'n':>4}  target")

    def line(name: str, value: float, ci=None, n=None, undefined=None) -> None:
        ci_txt = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        tgt = TARGETS.get(name)
        if tgt is None:
            mark = ""
        elif value != value and undefined == "constant prediction":
            mark = f">= {tgt:.2f} missed (undefined: the prediction is the same on every frame)"
        elif value != value:  # NaN: the labels table has too few (differing) labels to measure it on
            mark = f">= {tgt:.2f} not measured (too few frames labelled for it)"
        else:
            mark = f">= {tgt:.2f} " + ("met" if value >= tgt else "missed")
        print(f"{name:<20}{value:>8.3f}  {ci_txt:<16}{'' if n is None else n:>4}  {mark}")

    line("pleural_found", scores["pleural_found"], n=scores["n_frames"])
    for key in ("bline_auc", "bline_auc_blas", "bline_auc_area", "bline_spearman", "lus_spearman"):
        s = scores[key]
        line(key, s["value"], s["ci"], s["n"], s.get("undefined"))
    if "aline_auc" in scores:  # no target: how far the A-lines the network draws follow the A-line label
        s = scores["aline_auc"]
        line("aline_auc", s["value"], s["ci"], s["n"])
    line("no_consolidation", scores["no_consolidation"]["value"], n=scores["no_consolidation"]["n"])
    agree = scores["label_agreement"]
    print(f"(the labels themselves: Spearman of the B-line label with severity {agree['spearman']:.3f} "
          f"[{agree['ci'][0]:.2f}, {agree['ci'][1]:.2f}], AUC of severity for the B-line label "
          f"{agree['auc']:.3f}, n {agree['n']})")
    by = scores.get("by_source")
    if by:
        print("within each source (pooled over sources, a measure also scores how the datasets differ):")
        print(f"{'source':<32}{'n':>4}{'pleura':>8}{'B AUC (pos)':>13}{'B rho':>8}{'LUS rho':>9}{'no cons':>9}"
              f"{'label rho':>11}{'A AUC (pos)':>13}")
        for name, sc in by.items():
            print(f"{name[:31]:<32}{sc['n_frames']:>4}{sc['pleural_found']:>8.3f}{sc['bline_auc']['value']:>8.3f} ({sc['bline_auc']['positives']:>2})"
                  f"{sc['bline_spearman']['value']:>8.3f}{sc['lus_spearman']['value']:>9.3f}"
                  f"{sc['no_consolidation']['value']:>9.3f}{sc['label_agreement']['spearman']:>11.3f}"
                  + (f"{sc['aline_auc']['value']:>8.3f} ({sc['aline_auc']['positives']:>2})" if "aline_auc" in sc else ""))


def main() -> None:
    """Run the benchmark; a bad input (labels table, model folder) ends it with a one-line error."""
    try:
        _main()
    except LusfeatError as exc:
        sys.exit(f"error: {exc}")


def report_spread(spread: dict, title: str) -> None:
    """Print the spread of the headline measures over networks, with the targets."""
    print(title)
    n = len(next(iter(spread.values()))["values"])
    print(f"{'measure':<20}{'mean':>8}{'SD':>8}{'min':>8}{'max':>8}  {'per network':<{7 * n}}  target")
    for name, s in spread.items():
        per = " ".join(f"{v:6.3f}" for v in s["values"])
        tgt = TARGETS.get(name)
        mark = ""
        if tgt is not None:
            met = sum(v >= tgt for v in s["values"])
            mark = f">= {tgt:.2f}: mean {'met' if s['mean'] >= tgt else 'missed'} ({met} of {n} networks met)"
        print(f"{name:<20}{s['mean']:>8.3f}{s['sd']:>8.3f}{s['min']:>8.3f}{s['max']:>8.3f}  {per:<{7 * n}}  {mark}")


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REAL_LUS,
                    help="folder with frames/ and labels.csv (default: $LUSFEAT_REAL_LUS or ../shared/data/real_lus)")
    ap.add_argument("--model", type=Path, nargs="+", default=None,
                    help="run or pretrain folder(s) (default: pretrain one per seed)")
    ap.add_argument("--patients", type=int, default=60)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="+", default=None,
                    help="without --model: pretrain one network per seed (folders WORK/pretrained_sSEED)")
    ap.add_argument("--members", type=int, default=1,
                    help="without --model: pretrain an ensemble of this many networks per seed "
                         "(member k with seed SEED + k; `lusfeat pretrain --members`)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lusfeat-transfer"))
    ap.add_argument("--figure", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N real frames")
    ap.add_argument("--gray", action="store_true",
                    help="also score with the real frames' gray levels standardised to the training cohort's chest wall")
    args = ap.parse_args()
    if args.model is not None and args.seeds is not None:
        raise LusfeatError("--seeds pretrains networks and --model names trained ones; give one of the two")
    if args.model is not None and args.members != 1:
        raise LusfeatError("--members pretrains ensembles and --model names trained ones; give one of the two "
                           "(combine trained runs with `lusfeat ensemble`)")
    seeds = sorted(args.seeds or [args.seed])
    if args.members > 1 and any(b - a < args.members for a, b in zip(seeds, seeds[1:], strict=False)):
        raise LusfeatError(f"with --members {args.members} the ensemble of seed S has members S..S+"
                           f"{args.members - 1}; space --seeds at least {args.members} apart so that no "
                           f"two ensembles share a network (e.g. --seeds 0 {args.members} {2 * args.members})")
    t0 = time.perf_counter()
    models = args.model
    if models is None:
        models = [pretrain(args.work / ("pretrained" if args.seeds is None else f"pretrained_s{seed}"),
                           patients=args.patients, frames=args.frames, size=args.size, epochs=args.epochs,
                           model=UNetConfig(), seed=seed, members=args.members, threads=args.threads,
                           progress=True)
                  for seed in (args.seeds or [args.seed])]
    t_train = time.perf_counter() - t0
    labels = read_labels(args.real / "labels.csv")
    real = ingest_labelled(args.real / "labels.csv", args.work / "real", size=args.size, limit=args.limit)
    networks, tables = [], []
    for k, model in enumerate(models):
        name = f"network {k + 1} of {len(models)}, " if len(models) > 1 else ""
        scores, table = transfer(args.real / "labels.csv", model, args.work / "real", size=args.size,
                                 limit=args.limit, threads=args.threads, cohort=real)
        print(f"transfer to {scores['n_frames']} real frames ({args.real}), {name}model {model}")
        report(scores, "masks as predicted")
        net = {"model": str(model), "scores": scores}
        cohort_dir = real
        if args.gray:
            gray_target = reference_level(training_cohort(model))
            g_scores, g_table = transfer(args.real / "labels.csv", model, args.work / "real", size=args.size,
                                         limit=args.limit, threads=args.threads, gray_target=gray_target,
                                         cohort=real)
            report(g_scores, f"gray levels standardised to the training cohort's chest wall (level {gray_target:.1f})")
            cohort_dir = args.work / "real" / "cohort_gray"
            net.update(gray_scores=g_scores, gray_target=gray_target)
            table = table.merge(g_table[["frame_id", "b_line_pleural_fraction", "lus_score", "consolidation_area"]],
                                on="frame_id", suffixes=("", "_gray"))
        if k == 0 and args.figure is not None:  # the masks folder holds this network's masks only until the next
            overlays(labels, table, cohort_dir, args.work / "real" / "masks", args.figure)
        networks.append(net)
        tables.append(table.assign(network=str(model)))
    result = {"scores": networks[0]["scores"], "networks": networks}
    if args.gray:
        result.update(gray_scores=networks[0]["gray_scores"], gray_target=networks[0]["gray_target"])
    if len(networks) > 1:
        result["across_networks"] = {"scores": across_networks([n["scores"] for n in networks])}
        report_spread(result["across_networks"]["scores"], f"spread over {len(networks)} networks, masks as predicted")
        if args.gray:
            result["across_networks"]["gray_scores"] = across_networks([n["gray_scores"] for n in networks])
            report_spread(result["across_networks"]["gray_scores"],
                          f"spread over {len(networks)} networks, gray levels standardised")
    pd.concat(tables, ignore_index=True).to_csv(args.work / "real" / "frames_scored.csv", index=False)
    # strict JSON: an undefined measure is null, not NaN
    print(json.dumps(to_jsonable({**result, "train_s": round(t_train, 1),
                                  "total_s": round(time.perf_counter() - t0, 1)}), allow_nan=False))


def overlays(labels, table, cohort_dir: Path, masks_dir: Path, figure: Path) -> None:
    """Save the overlay figure of the CC-BY frames (not NC/ND) of ``table``."""
    free = labels[labels["license"].str.startswith("CC BY") & ~labels["license"].str.contains("NC|ND")]
    clips = [Path(f).stem for f in free["filename"] if Path(f).stem in set(table["clip_id"])]
    sev = dict(zip(labels["filename"].map(lambda f: Path(f).stem), labels["severity"], strict=True))
    titles = [f"{c[7:35]}\nseverity {sev.get(c)}" for c in clips]
    overlay_figure(cohort_dir, masks_dir, clips, figure, titles)
    print(f"overlays of {len(clips)} CC-BY frames -> {figure}")


if __name__ == "__main__":
    main()
