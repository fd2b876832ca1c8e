"""Learning curve: fine-tuning a simulator-pretrained U-Net vs training from scratch.

Usage::

    python benchmarks/bench_pretrain.py [--pretrained DIR] [--sizes 25 50 100 200] [--steps 240]
        [--target-patients 40] [--size 128] [--seed 0] [--threads N] [--work /tmp/lusfeat-pretrain]

A *target* cohort is simulated with another seed (other patients, scanners and
annotators than the pretraining cohort). Its patients are split once into a
labelled pool and a test set. For each number of labelled frames N (drawn
from the pool, the same frames both ways) a U-Net is trained under
``threshold:60`` for the same number of optimisation steps (``--steps``,
batch 8), once from random weights and once from the pretrained checkpoint
(``--init``), with the same seed (peak learning rate 1e-2 from scratch,
3e-3 when fine-tuning, the usual lower rate that keeps the pretrained
features); then it segments the test frames and its
Dice against the simulated truth (pooled over test frames, mean over pleural
line, A-line, B-line and consolidation) is printed, with the smallest N at
which fine-tuning reaches the Dice of training from scratch on the largest N.
Without ``--pretrained`` the default U-Net is pretrained first (``lusfeat
pretrain``, 60 patients, 8 epochs; resumable).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from lusfeat.data import CLASS_NAMES, open_cohort, open_masks, simulate_cohort  # noqa: E402
from lusfeat.seg import UNetConfig, pretrain, segment, train  # noqa: E402

SCORED = ("pleural_line", "a_line", "b_line", "consolidation")


def dice(cohort, masks, rows: np.ndarray) -> dict[str, float]:
    """Pooled Dice per scored class over frames ``rows`` (truth vs predicted masks)."""
    truth = np.asarray(cohort.truth.oindex[rows])
    pred = np.asarray(open_masks(masks).masks.oindex[rows])
    out = {}
    for name in SCORED:
        c = CLASS_NAMES.index(name)
        t, p = truth[:, c], pred[:, c]
        denom = t.sum() + p.sum()
        out[name] = float(2 * (t & p).sum() / denom) if denom else float("nan")
    out["mean"] = float(np.nanmean([out[n] for n in SCORED]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pretrained", type=Path, default=None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100, 200])
    ap.add_argument("--steps", type=int, default=240)
    ap.add_argument("--target-patients", type=int, default=40)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lusfeat-pretrain"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    pre = args.pretrained or pretrain(args.work / "pretrained", patients=60, frames=2, size=args.size, epochs=8,
                                      model=UNetConfig(), seed=args.seed, threads=args.threads)
    target = args.work / f"target-{args.target_patients}-{args.size}"
    if not target.exists():
        simulate_cohort(target, patients=args.target_patients, frames=2, size=args.size, seed=args.seed + 1000)
    cohort = open_cohort(target)
    pids = np.array(sorted(cohort.frames["patient_id"].unique()))
    rng = np.random.default_rng(args.seed)
    rng.shuffle(pids)
    test_p = set(pids[: len(pids) // 3])
    patient = cohort.frames["patient_id"].to_numpy()
    test_rows = np.flatnonzero(np.isin(patient, list(test_p)))
    pool = np.flatnonzero(~np.isin(patient, list(test_p)))
    order = rng.permutation(pool)  # nested subsets: the first N frames of one draw
    results = []
    print(f"target cohort {target}: {cohort.n_frames} frames, pool {pool.size}, test {test_rows.size} frames")
    print(f"{'frames':>7} {'from scratch':>13} {'fine-tuned':>11}   (mean Dice vs truth on the test frames)")
    for n in args.sizes:
        if n > pool.size:
            print(f"{n:>7} skipped: the pool has only {pool.size} frames")
            continue
        frames = np.sort(order[:n])
        epochs = max(1, math.ceil(args.steps * 8 / n))
        row = {"frames": int(n), "epochs": epochs}
        for how, init in (("scratch", None), ("finetuned", pre)):
            run = args.work / f"run-{how}-{n}"
            if not (run / "run.json").exists():
                train(cohort, run, "threshold:60", epochs=epochs, batch_size=8, size=args.size, frames=frames,
                      val_fraction=0.0, seed=args.seed, init=init, model=None if init else UNetConfig(),
                      lr=3e-3 if init else 1e-2, threads=args.threads, progress=False, overwrite=True)
            masks = args.work / f"masks-{how}-{n}"
            if not (masks / "masks.json").exists():
                segment(cohort, run, masks, threads=args.threads, progress=False, overwrite=True)
            row[how] = dice(cohort, masks, test_rows)
        results.append(row)
        print(f"{n:>7} {row['scratch']['mean']:>13.3f} {row['finetuned']['mean']:>11.3f}")
    if results:
        goal = results[-1]["scratch"]["mean"]
        reach = next((r["frames"] for r in results if r["finetuned"]["mean"] >= goal), None)
        print(f"fine-tuning reaches the from-scratch Dice at {results[-1]['frames']} frames ({goal:.3f}) with "
              f"{reach if reach is not None else 'more than ' + str(results[-1]['frames'])} labelled frames")
    print(json.dumps({"results": results, "pretrained": str(pre), "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
